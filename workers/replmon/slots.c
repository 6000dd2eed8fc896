/*
 * What a tick checks beyond the peers' streams: every replication slot
 * on this node against the WAL bound (a join's catch-up slot included,
 * and a slot PostgreSQL let go), and the free space of the filesystem
 * that holds the data directory.
 */
#include <sys/statvfs.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor.h"
#include "replmon.h"
#include "util.h"

/*
 * The WAL a slot may keep before its alarm, MB: "alarm retained-wal",
 * or four fifths of the bound (wal max-retained) when that is lower, so
 * that the alarm comes before PostgreSQL lets the slot go.
 */
long long
wal_alarm_mb(const struct conf_worker *cw)
{
	long long	 b = (long long)cw->wal_max_mb * 4 / 5;

	return cw->wal_max_mb > 0 && b < cw->alarm_wal_mb ? b :
	    cw->alarm_wal_mb;
}

/*
 * The slots, as SQL_READ's "slots" column lists them: "name owner kind
 * bytes status", comma-separated; owner is the node the slot serves and
 * kind "peer" (its stream) or "join" (its join's catch-up), "-" for both
 * when it is no node's (unknown-slot's business).  A peer's own slot over
 * the bound is peer_alarms()' (with the node's name); here, a join's
 * catch-up slot, and any slot lost.
 */
void
slots_check(struct monitor *m, const char *list)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	char	 name[64], owner[KMD_NODEID_MAX], kind[8], status[16];
	char	 subject[64];
	long long bytes, lim = wal_alarm_mb(cw) * 1024 * 1024;
	int	 used;

	while (sscanf(list, " %63s %36s %7s %lld %15[a-z]%n", name, owner,
	    kind, &bytes, status, &used) == 5) {
		list += used;
		if (*list == ',')
			list++;
		kmd_strlcpy(subject, name, sizeof(subject));
		subject[KMD_NODEID_MAX - 1] = '\0';
		if (strcmp(status, "lost") == 0)
			alarm_want(m, "slot-lost", subject, "replication slot"
			    " %s (for node %s) on this node was lost: it held"
			    " more WAL than wal max-retained (%d MB) and"
			    " PostgreSQL let it go, so that node cannot catch"
			    " up from here. Remove it (kmctl cluster nodes"
			    " delete --id=%s --force) and join it again", name,
			    owner, cw->wal_max_mb, owner);
		else if (bytes > lim && strcmp(kind, "join") == 0)
			alarm_want(m, "wal-retained", subject, "this node keeps"
			    " %lld MB of WAL for the catch-up slot %s of node"
			    " %s's join, above %lld MB (at %d MB, the bound,"
			    " PostgreSQL lets it go and the join fails); if"
			    " that join is dead, its sponsor ends it",
			    bytes / (1024 * 1024), name, owner,
			    wal_alarm_mb(cw), cw->wal_max_mb);
	}
}

/* The data directory's filesystem (replmon's chroot is inside it). */
void
disk_check(struct monitor *m, const char *me)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	struct statvfs	 sv;
	long long	 pct;

	if (statvfs("/", &sv) == -1 || sv.f_blocks == 0) {
		m->disk_size = m->disk_free = -1;
		return;
	}
	m->disk_size = (long long)sv.f_blocks * (long long)sv.f_frsize;
	m->disk_free = (long long)sv.f_bavail * (long long)sv.f_frsize;
	pct = m->disk_free * 100 / m->disk_size;
	if (pct < cw->alarm_disk_pct)
		alarm_want(m, "disk-free", me, "the data directory's"
		    " filesystem has %lld%% free (%lld MB), below %d%%: make"
		    " room before PostgreSQL stops writing (WAL kept for a"
		    " node that is down is bounded by wal max-retained)", pct,
		    m->disk_free / (1024 * 1024), cw->alarm_disk_pct);
}
