/*
 * Stage 3/5, initial sync: the catch-up subscription copies the member's
 * data; the stage ends once the copy is done and kmd_keys has its
 * indexes.  Also the direct subscriptions to every member, made here
 * while a large copy's indexes are built, or when 4/5 begins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "log.h"
#include "util.h"

static void	sync_polled(struct join *, PGresult *);
static void	sync_progress(struct join *, long long);
static void	indexes_queue(struct join *);
static void	indexes_built(struct pq *, PGresult *, void *);

void
sync_poll(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "watching the initial sync", "SELECT coalesce((SELECT status"
	    " FROM pglogical.show_subscription_status($1)), 'initializing')"
	    " AS status, (SELECT count(*) FROM pglogical.local_sync_status l"
	    " JOIN pglogical.subscription s ON s.sub_id = l.sync_subid WHERE"
	    " s.sub_name = $1 AND l.sync_status <> 'r') AS unsynced,"
	    " pg_database_size('kmd') AS bytes, EXISTS (SELECT FROM pg_locks"
	    " l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.relation ="
	    " 'kmd_keys'::regclass AND l.granted AND l.mode ="
	    " 'RowExclusiveLock' AND a.application_name LIKE '%\\_copy') AS"
	    " copying", 1, p, sync_polled);
}

static void
sync_polled(struct join *jn, PGresult *res)
{
	const char	*status = pq_get(res, 0, "status");
	int		 copying = strcmp(pq_get(res, 0, "copying"), "t") == 0;
	int		 copied = atoi(pq_get(res, 0, "unsynced")) == 0;
	long long	 bytes = atoll(pq_get(res, 0, "bytes"));

	sync_progress(jn, bytes);
	join_mark(jn, "%s: %lld bytes, %s%s", jn->at->desc, bytes, status,
	    copied ? jn->indexed == 1 ? ", indexed" : ", copied" : "");
	/* (Copied already: a copy too quick to be seen holding the lock.) */
	if (jn->idb != NULL && !jn->queued && (copying || copied))
		indexes_queue(jn);
	if (jn->indexed == -1) {
		join_fail(jn, "building kmd_keys' indexes: %s", jn->index_err);
		return;
	}
	/*
	 * Once copied and indexed, a subscription down is its apply worker
	 * dead (an update that came before the index, say): restart it
	 * (kick).  Before, a restart would copy again.
	 */
	if (still_down(jn, "the copy from the member", status, copied &&
	    (jn->idb == NULL || jn->indexed == 1) ? jn->cu_sub : NULL, -1))
		return;
	/* Copied, the build under way: see direct_subscribe(). */
	if (copied && jn->queued && jn->indexed == 0 && !jn->direct &&
	    strcmp(status, "replicating") == 0) {
		log_info("join of node %s: copied; subscribing to every member"
		    " while kmd_keys' indexes are built", jn->node_id);
		direct_subscribe(jn);
		return;
	}
	if (strcmp(status, "replicating") != 0 || !copied ||
	    (jn->idb != NULL && jn->indexed != 1)) {
		if (jn->polls % 20 == 0)
			log_info("join of node %s: initial sync: %s, %lld MB"
			    " so far", jn->node_id, copied ? "indexing" :
			    status, bytes / 1048576);
		poll_again(jn);
		return;
	}
	log_info("join of node %s: initial sync done (%lld MB)", jn->node_id,
	    bytes / 1048576);
	/* The second index, when the key was kept; else a check. */
	jq(jn, "building kmd_keys' indexes", SQL_KEYS_INDEXES_ADD, 0, NULL,
	    jq_stage_done);
}

/* About once a second: bytes copied so far, of how many, how fast. */
static void
sync_progress(struct join *jn, long long bytes)
{
	char		 text[128];
	const char	*p[1] = { text };
	int64_t		 now = mono_ms();
	double		 rate;

	if (jn->copied_at != 0 && now - jn->copied_at < 1000)
		return;
	rate = jn->copied_at == 0 ? 0 : (double)(bytes - jn->copied) /
	    1048576.0 / ((now - jn->copied_at) / 1000.0);
	snprintf(text, sizeof(text), "%lld of %lld MB copied, %.1f MB/s",
	    bytes / 1048576, jn->size / 1048576, rate < 0 ? 0 : rate);
	jn->copied = bytes;
	jn->copied_at = now;
	pq_query(jn->j->jdb, "UPDATE kmd_local SET join_progress = $1", 1, p,
	    jq_ignore, NULL);
}

/*
 * The copy into a bare kmd_keys holds the table's lock until it commits,
 * and pglogical's apply worker starts the catch-up stream right after.
 * So the index build is queued for the lock while the copy holds it:
 * PostgreSQL grants locks in order, so the build runs as soon as the copy
 * has committed, and any change the stream brings for kmd_keys (an
 * update or delete needs the key's index) waits until it is done.
 */
static void
indexes_queue(struct join *jn)
{
	jn->queued = 1;
	if (pq_query(jn->idb, SQL_KEYS_INDEXES_ADD, 0, NULL, indexes_built,
	    jn) == -1)
		fatalx("%s", __func__);
	log_info("join of node %s: kmd_keys' indexes will be built as soon as"
	    " the copy commits", jn->node_id);
}

static void
indexes_built(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;

	if (pq_ok(res)) {
		jn->indexed = 1;
		return;
	}
	jn->indexed = -1;
	kmd_strlcpy(jn->index_err, res != NULL ? PQresultErrorMessage(res) :
	    pq_error(db), sizeof(jn->index_err));
}

static void	direct_members(struct join *, PGresult *);
static void	direct_subscribed(struct join *, PGresult *);

/*
 * Direct subscriptions from every member, S included; no copy.  Made
 * when 4/5 begins, or earlier, while kmd_keys' indexes are built after a
 * large copy (sync_polled): pglogical's manager starts their workers
 * holding its node lock for up to a second (it waits that long for a new
 * worker to attach), and the catch-up subscription cannot be disabled
 * until it lets go.  Made during the build, that second passes while the
 * build runs.  Then the stage that made them enters again.
 */
void
direct_subscribe(struct join *jn)
{
	const char	*p[1] = { jn->node_id };

	jq(jn, "reading the members", "SELECT node_id::text AS node_id, host"
	    " FROM kmd_nodes WHERE state = '" NS_C_READY "' AND node_id <>"
	    " $1::uuid ORDER BY node_id", 1, p, direct_members);
}

static void
direct_members(struct join *jn, PGresult *res)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX], sub[64];
	int		 i;

	jn->nmembers = 0;
	for (i = 0; i < PQntuples(res) && i < KMD_NODES_MAX; i++) {
		kmd_strlcpy(jn->members[i].id, pq_get(res, i, "node_id"),
		    sizeof(jn->members[i].id));
		kmd_strlcpy(jn->members[i].host, pq_get(res, i, "host"),
		    sizeof(jn->members[i].host));
		if (!valid_host(jn->members[i].host)) {
			join_fail(jn, "member %s has an unusable host",
			    jn->members[i].id);
			return;
		}
		jn->nmembers++;
	}
	if (jn->nmembers == 0) {
		join_fail(jn, "the copy from the member holds no ready node");
		return;
	}
	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sub_name(jn->members[i].id, jn->node_id, sub, sizeof(sub));
		sbuf_add(&sql, "SELECT pglogical.create_subscription("
		    "subscription_name := '%s', provider_dsn := '%s',"
		    " replication_sets := '{default}', synchronize_structure"
		    " := false, synchronize_data := false, forward_origins :="
		    " '{}');", sub, dsn);
	}
	jq(jn, "subscribing to every member", sql.s, 0, NULL,
	    direct_subscribed);
	free(sql.s);
}

static void
direct_subscribed(struct join *jn, PGresult *res)
{
	(void)res;
	jn->direct = 1;
	jn->at->enter(jn);
}
