/*
 * GET /metrics, replmon's part: what the monitor's last tick saw, in the
 * Prometheus text format (0.0.4).  The api worker adds its own request
 * counters after it.  Each peer is labelled by its node id and host; the
 * figures are this node's view of it, as cluster summary shows them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor.h"
#include "nodestatus.h"
#include "replmon.h"
#include "util.h"

/* The largest text sent: well under a frame (KMSG_DATA_MAX). */
#define METRICS_MAX	(256 * 1024)

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: the ids and hosts kmd keeps have no quote or backslash. */
static const char *
lv(const char *s)
{
	return strpbrk(s, "\"\\\n") == NULL ? s : "invalid";
}

static void
peers(FILE *f, const struct monitor *m)
{
	const struct peer	*p;
	size_t			 i;

#define EACH(name, type, help, fmt, val) do {				\
	head(f, name, type, help);					\
	for (i = 0; i < m->npeers; i++) {				\
		p = &m->peers[i];					\
		fprintf(f, "%s{peer=\"%s\",host=\"%s\"} " fmt "\n", name, \
		    lv(p->id), lv(p->host), val);			\
	}								\
} while (0)
	EACH("kmd_peer_up", "gauge", "1 while the peer is ready as seen from"
	    " this node, 0 when down or not ready", "%d",
	    strcmp(p->code, NS_C_READY) == 0);
	EACH("kmd_peer_connected", "gauge", "1 while the peer's"
	    " subscription streams from this node", "%d", p->connected);
	EACH("kmd_peer_retained_wal_bytes", "gauge", "WAL this node keeps"
	    " for the peer: how far behind this node it is", "%lld",
	    p->retained);
	EACH("kmd_peer_heartbeat_age_seconds", "gauge", "age of the peer's"
	    " last heartbeat applied here: how far behind the peer this node"
	    " is (-1: none yet)", "%.3f", p->hb_age < 0 ? -1.0 :
	    p->hb_age / 1000.0);
	EACH("kmd_peer_apply_rate_bytes", "gauge", "bytes of the peer's WAL"
	    " applied here per second, smoothed", "%.0f", p->rate);
	head(f, "kmd_peer_clock_skew_seconds", "gauge", "the peer's clock"
	    " minus this node's, from its heartbeats (left out until one)");
	for (i = 0; i < m->npeers; i++) {
		p = &m->peers[i];
		if (p->skew_ok)
			fprintf(f, "kmd_peer_clock_skew_seconds{peer=\"%s\","
			    "host=\"%s\"} %.6f\n", lv(p->id), lv(p->host),
			    p->skew_us / 1e6);
	}
	head(f, "kmd_peer_status", "gauge", "the peer's status code as"
	    " cluster summary shows it (1 for the current one)");
	for (i = 0; i < m->npeers; i++) {
		p = &m->peers[i];
		fprintf(f, "kmd_peer_status{peer=\"%s\",host=\"%s\","
		    "code=\"%s\"} 1\n", lv(p->id), lv(p->host), lv(p->code));
	}
#undef EACH
}

/* Active alarms by kind, every kind kmd raises shown (0 when none). */
static void
alarms(FILE *f, const struct monitor *m)
{
	static const char *const kinds[] = { "node-down", "wal-retained",
	    "clock-skew", "cert-expiry", "hsm", "weak-rot", "join-stalled",
	    "unknown-slot", "slot-lost", "disk-free" };
	size_t	 i, k;
	int	 n;

	head(f, "kmd_alarms_active", "gauge", "alarms active on this node,"
	    " by kind (kmctl alarms list)");
	for (k = 0; k < nitems(kinds); k++) {
		for (i = 0, n = 0; i < m->nalarms; i++)
			if (m->alarms[i].state != AL_CLEARING &&
			    strcmp(m->alarms[i].kind, kinds[k]) == 0)
				n++;
		fprintf(f, "kmd_alarms_active{kind=\"%s\"} %d\n", kinds[k], n);
	}
	for (i = 0; i < m->nalarms; i++) {	/* a kind not listed above */
		for (k = 0; k < nitems(kinds); k++)
			if (strcmp(m->alarms[i].kind, kinds[k]) == 0)
				break;
		if (k == nitems(kinds) && m->alarms[i].state != AL_CLEARING)
			fprintf(f, "kmd_alarms_active{kind=\"%s\"} 1\n",
			    lv(m->alarms[i].kind));
	}
}

int
replmon_metrics(struct kchan *ch, struct kmsg *msg, void *arg)
{
	struct replmon		*rm = arg;
	const struct monitor	*m = rm->mon;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*f;
	int			 r;

	if ((f = open_memstream(&buf, &len)) == NULL)
		fatal("%s", __func__);
	head(f, "kmd_clustered", "gauge", "1 while this node is ready in a"
	    " cluster (the figures below are of the last monitor tick)");
	fprintf(f, "kmd_clustered %d\n", m->clustered);
	head(f, "kmd_hsm_up", "gauge", "0 while the root of trust is"
	    " unavailable (GET system/health probes it)");
	fprintf(f, "kmd_hsm_up %d\n", rm->hsm_err[0] == '\0');
	if (m->clustered && m->cert_days >= 0) {
		head(f, "kmd_cert_expiry_seconds", "gauge", "time until this"
		    " node's certificate expires (to the day)");
		fprintf(f, "kmd_cert_expiry_seconds %lld\n",
		    m->cert_days * 86400LL);
	}
	if (m->clustered && m->disk_size > 0) {
		head(f, "kmd_disk_size_bytes", "gauge", "the size of the data"
		    " directory's filesystem");
		fprintf(f, "kmd_disk_size_bytes %lld\n", m->disk_size);
		head(f, "kmd_disk_free_bytes", "gauge", "its space free to"
		    " kmd");
		fprintf(f, "kmd_disk_free_bytes %lld\n", m->disk_free);
	}
	head(f, "kmd_wal_max_retained_bytes", "gauge", "the most WAL a"
	    " replication slot may hold (wal max-retained)");
	fprintf(f, "kmd_wal_max_retained_bytes %lld\n",
	    (long long)rm->w->conf.wal_max_mb * 1024 * 1024);
	head(f, "kmd_peers", "gauge", "the other nodes this node watches");
	fprintf(f, "kmd_peers %zu\n", m->clustered ? m->npeers : 0);
	if (m->clustered)
		peers(f, m);
	alarms(f, m);
	if (fclose(f) != 0 || buf == NULL)
		fatal("%s: open_memstream", __func__);
	if (len + 1 > METRICS_MAX) {
		free(buf);
		return kchan_senderr(ch, msg->hdr.reqid, "metrics: %zu bytes,"
		    " more than the %d sent at most", len, METRICS_MAX);
	}
	r = kchan_send(ch, IMSG_METRICS_TEXT, msg->hdr.reqid, -1, buf,
	    len + 1);
	free(buf);
	if (r == 0)
		kchan_send(ch, IMSG_CTL_END, msg->hdr.reqid, -1, NULL, 0);
	return 0;
}
