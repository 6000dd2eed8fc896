/*
 * The monitor.  Every tick (kmd.conf "replmon interval") it reads what
 * PostgreSQL knows of each peer, decides each peer's status as this node
 * sees it, raises and clears alarms (one syslog message per transition,
 * a row in the node-local kmd_alarms), and writes this node's view of
 * every node into the replicated kmd_node_health.  Its row about itself
 * is its heartbeat: a peer whose heartbeat has not arrived for "replmon
 * down-after" is down, whatever the cause (PostgreSQL stopped, frozen,
 * cut off, or an apply worker stuck).  One read and one write per tick,
 * both asynchronous; a tick that finds the last one still running is
 * skipped.
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl_gen.h>

#include "cert.h"
#include "json.h"
#include "log.h"
#include "monitor.h"
#include "nodestatus.h"
#include "schema.h"
#include "replmon.h"
#include "status.h"
#include "util.h"


/*
 * This node and its peers.  A joining node (join_state set) or one not
 * ready writes nothing: its table is about to be copied from a member.
 * A pending peer (nodes create, no join yet) has no stream to watch: its
 * status is its state, and whether its credentials expired.  A joining
 * peer whose membership lease here has lapsed, or whose renewals have
 * carried the same progress for $1 seconds, is a stalled join.  A slot
 * that is neither a node's subscription's nor a join's catch-up slot
 * (stray) belongs to no one kmd knows.  The slots' lists read this node's
 * id from kmd_local of their own, not from the outer row: so they refer
 * to nothing of a peer's row and PostgreSQL computes them once a query
 * (an InitPlan), not once a peer (with every slot against every node,
 * that grew with the cube of the cluster's size: 0.95 s of a 1.08 s
 * tick on 13 nodes under load).
 */
#define SQL_READ \
	"SELECT l.node_id, coalesce(me.state, '" NS_C_UNKNOWN "')," \
	" l.node_cert, l.join_state, p.node_id, p.state, p.host," \
	" (extract(epoch FROM clock_timestamp() - ps.seen) * 1000)::bigint," \
	" (extract(epoch FROM ps.peer_clock - ps.seen) * 1000000)::bigint," \
	" ps.peer_clock::text, r.pid IS NOT NULL, coalesce(s.status, 'none')," \
	" coalesce(s.remote_lsn - '0/0', 0)::bigint," \
	" coalesce(pg_current_wal_lsn() - sl.restart_lsn, 0)::bigint," \
	" coalesce(me.rot, 'software'), (SELECT count(*) FROM kmd_nodes" \
	"  WHERE rot = 'hsm' AND state <> '" NS_C_REMOVED "')," \
	" p.state = '" NS_C_PENDING "' AND p.expires <= now()," \
	" CASE WHEN p.state NOT IN " NS_SQL_JOINING " THEN '' WHEN NOT" \
	"  EXISTS (SELECT FROM kmd_lease s WHERE s.kind = 'join' AND" \
	"  s.subject = p.node_id AND s.expires > clock_timestamp()) THEN" \
	"  'lapsed' WHEN EXISTS (SELECT FROM kmd_lease s WHERE s.kind =" \
	"  'join' AND s.subject = p.node_id AND s.progress_at <" \
	"  clock_timestamp() - $1::int * interval '1 second') THEN 'still'" \
	"  ELSE '' END AS stalled," \
	" (SELECT string_agg(x.slot_name, ' ' ORDER BY x.slot_name) FROM" \
	"  pg_replication_slots x, kmd_local k WHERE NOT EXISTS (SELECT FROM" \
	"  kmd_nodes n WHERE x.slot_name IN (kmd_slot_name(k.node_id," \
	"  n.node_id), " SQL_CU_SLOT("k.node_id", "n.node_id") "))) AS stray," \
	" (SELECT string_agg(format('%s %s %s %s %s', x.slot_name," \
	"  coalesce(o.node_id::text, '-'), coalesce(o.kind, '-')," \
	"  coalesce(pg_current_wal_lsn() - x.restart_lsn, 0)::bigint," \
	"  coalesce(x.wal_status, 'none')), ',' ORDER BY x.slot_name) FROM" \
	"  kmd_local k, pg_replication_slots x LEFT JOIN LATERAL (SELECT" \
	"  n.node_id, CASE WHEN x.slot_name = kmd_slot_name(k.node_id," \
	"  n.node_id) THEN 'peer' ELSE 'join' END AS kind FROM kmd_nodes n" \
	"  WHERE x.slot_name IN (kmd_slot_name(k.node_id, n.node_id), " \
	SQL_CU_SLOT("k.node_id", "n.node_id") ") LIMIT 1) o ON true) AS slots," \
	" coalesce(ps.beat, false) AS beat, coalesce(sl.wal_status, '') AS" \
	"  slot," \
	" (hashtext(kmd_sub_name(p.node_id, l.node_id))::bigint &" \
	"  4294967295)::text AS subid" \
	" FROM kmd_local l" \
	" LEFT JOIN kmd_nodes me ON me.node_id = l.node_id" \
	" LEFT JOIN kmd_nodes p ON p.node_id <> l.node_id" \
	" AND p.state <> '" NS_C_REMOVED "'" \
	" LEFT JOIN kmd_peer_seen ps ON ps.peer = p.node_id" \
	" LEFT JOIN pg_stat_replication r ON r.application_name =" \
	"  kmd_sub_name(l.node_id, p.node_id)" \
	" LEFT JOIN kmd_subs() s ON s.sub = kmd_sub_name(p.node_id, l.node_id)" \
	" LEFT JOIN pg_replication_slots sl ON sl.slot_name =" \
	"  kmd_slot_name(l.node_id, p.node_id)" \
	" ORDER BY p.node_id"

/* PostgreSQL's NAMEDATALEN: a slot's name is at most 63 bytes. */
#define NAMEDATALEN_KMD	64

/* A join whose progress stood this long (s) raises join-stalled. */
#define STALL_WARN(cw)	((cw)->join_stall / 2)

/*
 * A lag as an interval, to the millisecond: the walsender's while the
 * peer is connected; while it is not and this node has changes it has not
 * had (pos behind), the time since the peer was last heard from, which
 * those changes have waited at most since it left.
 */
#define SQL_LAG(lag, pos) \
	"date_trunc('milliseconds', CASE WHEN r.pid IS NOT NULL THEN" \
	" coalesce(" lag ", '0') WHEN pg_current_wal_lsn() > " pos " THEN" \
	" clock_timestamp() - coalesce(ps.seen, clock_timestamp()) ELSE '0'" \
	" END)::text"

#define LAG(col, lsn) \
	" '" col "LSN', x." lsn "::text," \
	" '" col "Lag', " SQL_LAG("r." lsn "_lag", "x." lsn) "," \
	" '" col "LagBytes', pg_current_wal_lsn() - x." lsn "," \
	" '" col "LagSize', pg_size_pretty(pg_current_wal_lsn() - x." lsn "),"
#define LAG_SENT \
	" 'sentLSN', x.sent::text," \
	" 'sentLagBytes', pg_current_wal_lsn() - x.sent," \
	" 'sentLagSize', pg_size_pretty(pg_current_wal_lsn() - x.sent),"

/*
 * $1: this tick's decisions, one per node (this node included); $2 the
 * alarms raised, $3 those cleared.  This node's rows about nodes no
 * longer in kmd_nodes go.  The view of a peer is the summary's
 * nodeInfo: the walsender's figures when the peer is connected, the
 * slot's confirmed position when not (connectTime and uptime then left
 * out, as the reference does); a pending peer's, what this node's own
 * shows and when its credentials expire.
 */
#define SQL_WRITE \
	"WITH me AS (SELECT node_id FROM kmd_local)," \
	" raised AS (INSERT INTO kmd_alarms (kind, subject, message, raised)" \
	"  SELECT a.kind, a.subject, a.message, a.raised FROM" \
	"  jsonb_to_recordset($2::jsonb) AS a(kind text, subject text," \
	"  message text, raised timestamptz) RETURNING 1)," \
	" cleared AS (UPDATE kmd_alarms k SET cleared = now() FROM" \
	"  jsonb_to_recordset($3::jsonb) AS c(kind text, subject text)" \
	"  WHERE k.kind = c.kind AND k.subject = c.subject AND" \
	"  k.cleared IS NULL RETURNING 1)," \
	" gone AS (DELETE FROM kmd_node_health h USING me WHERE" \
	"  h.reporter = me.node_id AND h.peer NOT IN" \
	"  (SELECT node_id FROM kmd_nodes) RETURNING 1)," \
	" d AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(peer uuid," \
	"  code text, descr text, errors jsonb, summary text, rate bigint," \
	"  skew bigint, blocked boolean))" \
	" INSERT INTO kmd_node_health (reporter, peer, view, last_updated)" \
	" SELECT me.node_id, d.peer, jsonb_build_object(" \
	"  'clusterErrors', d.errors, 'summary', d.summary, 'nodeInfo'," \
	"  CASE WHEN d.peer = me.node_id THEN jsonb_build_object(" \
	"   'host', n.host, 'isThisNode', true, 'kmdVersion', n.version," \
	"   'nodeID', n.node_id, 'port', n.port, 'publicAddress'," \
	"   n.public_address, 'schemaVersion', " SQL_NODE_SCHEMA "," \
	"   'status', jsonb_build_object('code', d.code, 'description'," \
	"   d.descr))" \
	"  WHEN n.state = '" NS_C_PENDING "' THEN jsonb_build_object(" \
	"   'expires', " SQL_ISO("n.expires") ", 'host', n.host," \
	"   'isThisNode', false, 'nodeID', n.node_id, 'port', n.port," \
	"   'publicAddress', n.public_address, 'status', jsonb_build_object(" \
	"   'code', d.code, 'description', d.descr))" \
	"  ELSE jsonb_strip_nulls(jsonb_build_object(" \
	"   'applyRate', d.rate," \
	"   'catchupInterval', " SQL_LAG("r.replay_lag", "x.replay") "," \
	"   'clockSkewMs', d.skew," \
	"   'connectTime', " SQL_ISO("r.backend_start") "," \
	"   'connected', r.pid IS NOT NULL," \
	LAG("flush", "flush") \
	"   'host', n.host, 'isThisNode', false, 'kmdVersion', n.version," \
	"   'nodeID', n.node_id, 'port', n.port, 'publicAddress'," \
	"   n.public_address, 'schemaVersion', " SQL_NODE_SCHEMA "," \
	LAG("replay", "replay") \
	"   'replicationBlocked', d.blocked," \
	"   'retainedWALBytes', pg_current_wal_lsn() - sl.restart_lsn," \
	"   'retainedWALSize', pg_size_pretty(pg_current_wal_lsn() -" \
	"    sl.restart_lsn)," \
	LAG_SENT \
	"   'state', coalesce(r.state, 'disconnected')," \
	"   'status', jsonb_build_object('code', d.code, 'description'," \
	"    d.descr)," \
	LAG("write", "write") \
	"   'uptime', (now() - r.backend_start)::text)) END), now()" \
	" FROM d CROSS JOIN me JOIN kmd_nodes n ON n.node_id = d.peer" \
	" LEFT JOIN pg_stat_replication r ON r.application_name =" \
	"  kmd_sub_name(me.node_id, d.peer)" \
	" LEFT JOIN pg_replication_slots sl ON sl.slot_name =" \
	"  kmd_slot_name(me.node_id, d.peer)" \
	" LEFT JOIN kmd_peer_seen ps ON ps.peer = d.peer" \
	" LEFT JOIN LATERAL (SELECT" \
	"  coalesce(r.sent_lsn, sl.confirmed_flush_lsn, '0/0') AS sent," \
	"  coalesce(r.write_lsn, sl.confirmed_flush_lsn, '0/0') AS write," \
	"  coalesce(r.flush_lsn, sl.confirmed_flush_lsn, '0/0') AS flush," \
	"  coalesce(r.replay_lsn, sl.confirmed_flush_lsn, '0/0') AS replay" \
	" ) x ON true" \
	" ON CONFLICT (reporter, peer) DO UPDATE SET view = EXCLUDED.view," \
	" last_updated = EXCLUDED.last_updated"

#define SQL_ALARMS_ACTIVE \
	"SELECT kind, subject, message, " SQL_ISO("raised") \
	" FROM kmd_alarms WHERE cleared IS NULL ORDER BY alarm_id"


static struct peer *
peer_find(struct monitor *m, const char *id)
{
	size_t	 i;

	for (i = 0; i < m->npeers; i++)
		if (strcmp(m->peers[i].id, id) == 0)
			return &m->peers[i];
	if (m->npeers == PEERS_MAX)
		return NULL;
	memset(&m->peers[m->npeers], 0, sizeof(m->peers[0]));
	kmd_strlcpy(m->peers[m->npeers].id, id, sizeof(m->peers[0].id));
	return &m->peers[m->npeers++];
}

static void
gen_decision(yajl_gen g, const struct monitor *m, const char *id,
    const char *code, const char *desc, const char *summary, long long rate,
    const long long *skew, int blocked, const char *why,
    const struct apply_seen *ae)
{
	yajl_gen_map_open(g);
	json_str(g, "peer");
	json_str(g, id);
	json_str(g, "code");
	json_str(g, code);
	json_str(g, "descr");
	json_str(g, desc);
	json_str(g, "errors");
	gen_errors(g, m, id, why, ae);
	json_str(g, "summary");
	json_str(g, summary);
	json_str(g, "rate");
	yajl_gen_integer(g, rate);
	json_str(g, "skew");
	if (skew != NULL)
		yajl_gen_integer(g, *skew);
	else
		yajl_gen_null(g);
	json_str(g, "blocked");
	yajl_gen_bool(g, blocked);
	yajl_gen_map_close(g);
}

static const char *
gen_text(yajl_gen g)
{
	const unsigned char	*buf;
	size_t			 len;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return "[]";
	return (const char *)buf;
}

static void
mon_write_done(struct pq *db, PGresult *res, void *arg)
{
	struct monitor	*m = arg;
	size_t		 i;

	(void)db;
	m->busy = 0;
	if (!pq_ok(res)) {
		log_warnx("node health not written: %s", res ?
		    PQresultErrorMessage(res) : pq_error(m->rm->db));
		return;
	}
	for (i = 0; i < m->nalarms; i++) {
		if (m->alarms[i].state == AL_NEW)
			m->alarms[i].state = AL_ACTIVE;
		else if (m->alarms[i].state == AL_CLEARING) {
			m->alarms[i--] = m->alarms[--m->nalarms];
		}
	}
}

/* This node's own certificate: an alarm when it ends soon. */
static void
check_cert(struct monitor *m, const char *me, const char *pem,
    int *days_left)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	char	 date[16];
	int	 days;

	*days_left = -1;
	if (cert_days_left(pem, &days, date, sizeof(date)) == -1)
		return;
	*days_left = days;
	if (days < cw->alarm_cert_days)
		alarm_want(m, "cert-expiry", me, "this node's certificate"
		    " expires on %s (in %d days); to renew it, delete the node"
		    " from another node (kmctl cluster nodes delete) and join"
		    " it again", date, days);
}

/*
 * This node's view of a peer is written when it changes, or when it is
 * older than the refresh: the tick's interval times a quarter of the
 * cluster's size, at least the interval (every tick up to 4 nodes, 5 s
 * at 20).  Every row written is decoded by every walsender of every
 * node, so writing all views every tick costs N^3: at 20 nodes on two
 * CPUs that alone kept them busy.  The heartbeat, this node's row about
 * itself, is written every tick; a change of status, summary or alarms
 * is written at once.
 */
static int
view_due(struct monitor *m, struct peer *p, const char *desc,
    const char *summary, int blocked, const struct apply_seen *ae)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	char		 now_view[sizeof(p->sent)];
	int64_t		 now = mono_ms(), refresh;

	refresh = (int64_t)cw->rm_interval * (int64_t)(m->npeers + 1) / 4;
	if (refresh < cw->rm_interval)
		refresh = cw->rm_interval;
	snprintf(now_view, sizeof(now_view), "%s|%s|%d|%zu|%s", desc, summary,
	    blocked, m->nalarms, ae != NULL ? ae->when : "");
	if (strcmp(now_view, p->sent) == 0 && now - p->sent_at < refresh)
		return 0;
	kmd_strlcpy(p->sent, now_view, sizeof(p->sent));
	p->sent_at = now;
	return 1;
}

/* The rate at which the peer's WAL is applied here, smoothed. */
static void
peer_rate(struct peer *p, long long origin, int64_t now)
{
	if (p->origin_at != 0 && origin >= p->origin && now > p->origin_at)
		p->rate = 0.8 * p->rate + 0.2 * (double)(origin - p->origin) *
		    1000.0 / (double)(now - p->origin_at);
	p->origin = origin;
	p->origin_at = now;
}

/*
 * How long a peer may be silent: down-after for one that beats (beat.c);
 * one of an older kmd is heard from only at its ticks, every interval,
 * so it gets two and a half of them at least.
 */
static int
peer_down_after(const struct conf_worker *cw, const struct peer *p)
{
	int	 ticks = cw->rm_interval * 5 / 2;

	return p->beats || ticks < cw->rm_down_after ? cw->rm_down_after :
	    ticks;
}

/*
 * The peer's alarms: down (silent for silent_ms), too much WAL retained
 * for it, its clock off ours (when sampled, skew_us), its join stalled
 * ("lapsed" or "still", else "").
 */
static void
peer_alarms(struct monitor *m, const struct peer *p, int down,
    long long silent_ms, long long retained, int sampled, long long skew_us,
    const char *stalled)
{
	const struct conf_worker *cw = &m->rm->w->conf;

	if (down && silent_ms >= peer_down_after(cw, p))
		alarm_want(m, "node-down", p->id, "node %s (%s) is down: nothing"
		    " received from it for %.1f s; it catches up when it"
		    " returns. If it is gone for good, run: kmctl cluster nodes"
		    " delete --id=%s", p->id, p->host,
		    (double)silent_ms / 1000.0, p->id);
	else if (down)		/* heard from, but no stream either way */
		alarm_want(m, "node-down", p->id, "node %s (%s) is down: no"
		    " replication connection with it; it catches up when it"
		    " returns. If it is gone for good, run: kmctl cluster nodes"
		    " delete --id=%s", p->id, p->host, p->id);
	if (retained > wal_alarm_mb(cw) * 1024 * 1024)
		alarm_want(m, "wal-retained", p->id, "this node keeps %lld MB"
		    " of WAL for node %s (%s), above %lld MB (at %d MB, the"
		    " bound, its slot is let go and it must join again); if"
		    " that node is gone for good, run: kmctl cluster nodes"
		    " delete --id=%s", retained / (1024 * 1024), p->id,
		    p->host, wal_alarm_mb(cw), cw->wal_max_mb, p->id);
	if (sampled && !down && (skew_us > cw->alarm_skew_ms * 1000LL ||
	    -skew_us > cw->alarm_skew_ms * 1000LL))
		alarm_want(m, "clock-skew", p->id, "the clock of node %s (%s)"
		    " is %.3f ms off this node's, more than %d ms; configure"
		    " the same NTP server on every node", p->id, p->host,
		    (double)skew_us / 1000.0,
		    cw->alarm_skew_ms);
	if (strcmp(stalled, "lapsed") == 0)
		alarm_want(m, "join-stalled", p->id, "the join of node %s (%s)"
		    " is stalled: its membership lease here lapsed (the node"
		    " died, stopped or was cut off); the member it joins"
		    " through ends it as killed. If that member is gone too,"
		    " run: kmctl cluster nodes delete --force --id=%s", p->id,
		    p->host, p->id);
	else if (strcmp(stalled, "still") == 0)
		alarm_want(m, "join-stalled", p->id, "the join of node %s (%s)"
		    " is stalled: no progress for %d s; it is killed once it"
		    " has made none for %d s (join stall-after). If it is not,"
		    " run: kmctl cluster nodes delete --force --id=%s", p->id,
		    p->host, STALL_WARN(cw), cw->join_stall, p->id);
}

/* The tick's figures of a peer, for GET /metrics (metrics.c). */
static void
peer_note(struct peer *p, const char *code, int connected, long long retained,
    long long hb_age, long long skew_us, int skew_ok)
{
	kmd_strlcpy(p->code, code, sizeof(p->code));
	p->connected = connected;
	p->retained = retained;
	p->hb_age = hb_age;
	p->skew_us = skew_us;
	p->skew_ok = skew_ok;
}

/*
 * A new heartbeat is one more sample of the peer's clock; the delay only
 * adds, so the largest sample is the closest.  0: no sample yet.
 */
static int
peer_skew(struct peer *p, PGresult *res, int i, long long *skew_us)
{
	int	 k;

	if (!PQgetisnull(res, i, 9) &&
	    strcmp(PQgetvalue(res, i, 9), p->clock) != 0) {
		kmd_strlcpy(p->clock, PQgetvalue(res, i, 9), sizeof(p->clock));
		p->skew[p->iskew] = atoll(PQgetvalue(res, i, 8));
		p->iskew = (p->iskew + 1) % SKEW_SAMPLES;
		if (p->nskew < SKEW_SAMPLES)
			p->nskew++;
	}
	if (p->nskew == 0)
		return 0;
	*skew_us = p->skew[0];
	for (k = 1; k < p->nskew; k++)
		if (p->skew[k] > *skew_us)
			*skew_us = p->skew[k];
	return 1;
}

/* One peer's row: its status as seen from here, and its alarms. */
static void
check_peer(struct monitor *m, PGresult *res, int i, yajl_gen g)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	struct peer	*p;
	const char	*state = PQgetvalue(res, i, 5), *sub, *code, *desc;
	char		 summary[128], why[1024];
	long long	 hb_age = -1, retained, origin, skew = 0, skew_us = 0;
	long long	*skewp = NULL;
	int64_t		 now = mono_ms(), known;
	const struct apply_seen *ae;
	int		 connected, down, blocked, lost, da;

	if ((p = peer_find(m, PQgetvalue(res, i, 4))) == NULL)
		return;
	p->present = 1;
	kmd_strlcpy(p->host, PQgetvalue(res, i, 6), sizeof(p->host));
	/*
	 * A heartbeat that arrived "later than now" is this node's clock
	 * stepped back: it arrived just now, not never (-1).
	 */
	if (!PQgetisnull(res, i, 7) &&
	    (hb_age = atoll(PQgetvalue(res, i, 7))) < 0)
		hb_age = 0;
	connected = strcmp(PQgetvalue(res, i, 10), "t") == 0;
	sub = PQgetvalue(res, i, 11);
	origin = atoll(PQgetvalue(res, i, 12));
	retained = atoll(PQgetvalue(res, i, 13));

	if (peer_skew(p, res, i, &skew_us)) {
		skew = skew_us / 1000;
		skewp = &skew;
	}
	peer_rate(p, origin, now);

	/*
	 * Down: no heartbeat for down-after, counted from when this monitor
	 * first knew the node ready; or, once known ready that long, no
	 * connection either way.
	 */
	if (ns_parse(state) == NS_READY) {
		if (p->ready_since == 0)
			p->ready_since = now;
	} else
		p->ready_since = 0;
	known = p->ready_since ? now - p->ready_since : 0;
	p->beats = strcmp(pq_get(res, i, "beat"), "t") == 0;
	da = peer_down_after(cw, p);
	down = peer_watch(&p->watch, p->ready_since != 0, peer_down(hb_age,
	    known, connected, sub, da), now, da);
	blocked = p->ready_since != 0 && connected &&
	    (strcmp(sub, "down") == 0 || strcmp(sub, "disabled") == 0);
	lost = p->ready_since != 0 && strcmp(pq_get(res, i, "slot"), "lost") ==
	    0;
	/* a lost slot's alarm is slot-lost's (slots.c): no node-down too */
	peer_alarms(m, p, down && !lost, (long long)(hb_age < 0 ? known :
	    hb_age), retained, skewp != NULL, skew_us, pq_get(res, i,
	    "stalled"));

	code = p->ready_since == 0 ? state : lost ? NS_C_LOST : down ?
	    NS_C_DOWN : NS_C_READY;
	peer_note(p, code, connected, retained, hb_age, skew_us, skewp != NULL);
	desc = ns_node_desc(ns_parse(code), strcmp(PQgetvalue(res, i, 16),
	    "t") == 0);
	peer_summary(m, p, down, blocked, lost, summary, sizeof(summary));
	peer_why(p, sub, blocked, lost, why, sizeof(why));
	ae = apply_seen_of(m, down || blocked || lost, pq_get(res, i, "subid"));
	if (!view_due(m, p, desc, summary, blocked, ae))
		return;
	gen_decision(g, m, p->id, code, desc, summary, (long long)p->rate,
	    skewp, blocked, why[0] != '\0' ? why : NULL, ae);
}


/*
 * When this node itself was held up (its PostgreSQL frozen, the machine
 * suspended), silence from the peers says nothing about them: their
 * down-after counts again from now.
 */
static void
held_up(struct monitor *m)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	int64_t		 now = mono_ms(), gap;
	size_t		 i;

	gap = now - m->sent_at;
	if (m->last_done != 0 && now - m->last_done - cw->rm_interval > gap)
		gap = now - m->last_done - cw->rm_interval;
	m->last_done = now;
	if (gap <= cw->rm_down_after / 2)
		return;
	log_info("this node was held up for %lld ms; its peers get"
	    " %d ms from now before they count as down", (long long)gap,
	    cw->rm_down_after);
	for (i = 0; i < m->npeers; i++)
		if (m->peers[i].ready_since != 0)
			m->peers[i].ready_since = now;
}

/*
 * A replication slot of no node's: it keeps WAL, and whoever connects to
 * it reads every change made here (a replication connection reaches any
 * slot).  Named, not dropped: it may be an operator's own.
 */
static void
stray_slots(struct monitor *m, const char *names)
{
	char	 name[NAMEDATALEN_KMD], subject[KMD_NODEID_MAX];
	int	 used;

	while (sscanf(names, " %63s%n", name, &used) == 1) {
		names += used;
		/* the alarm's subject holds a node id's length: cut alike */
		kmd_strlcpy(subject, name, sizeof(subject));
		alarm_want(m, "unknown-slot", subject, "replication slot %s on"
		    " this node belongs to no node of the cluster: it keeps"
		    " WAL, and a replication connection to it reads every"
		    " change made here. If nothing of yours uses it, drop it:"
		    " SELECT pg_drop_replication_slot('%s')", name, name);
	}
}

static void
mon_read_done(struct pq *db, PGresult *res, void *arg)
{
	struct monitor	*m = arg;
	yajl_gen	 d = NULL, up = NULL, off = NULL;
	const char	*me, *params[3];
	char		 summary[128];
	size_t		 i;
	int		 n, days;

	if (res != NULL && !pq_ok(res) && !m->read_failed)
		log_warnx("replmon: reading this node's view: %s",
		    pq_why(db, res));
	m->read_failed = res != NULL && !pq_ok(res);
	if (!pq_ok(res) || PQntuples(res) == 0 ||
	    !PQgetisnull(res, 0, 3) ||
	    ns_parse(PQgetvalue(res, 0, 1)) != NS_READY) {
		m->busy = 0;		/* not clustered, or joining */
		m->clustered = 0;
		if (!pq_ok(res) && m->me[0] != '\0')
			disk_check(m, m->me);
		return;
	}
	me = PQgetvalue(res, 0, 0);
	m->clustered = 1;
	kmd_strlcpy(m->me, me, sizeof(m->me));
	days = -1;
	held_up(m);
	for (i = 0; i < m->nalarms; i++)
		m->alarms[i].live = 0;
	for (i = 0; i < m->npeers; i++)
		m->peers[i].present = 0;
	if ((d = yajl_gen_alloc(NULL)) == NULL ||
	    (up = yajl_gen_alloc(NULL)) == NULL ||
	    (off = yajl_gen_alloc(NULL)) == NULL)
		fatal("%s", __func__);
	yajl_gen_array_open(d);
	n = PQntuples(res);
	for (i = 0; i < (size_t)n; i++)
		if (!PQgetisnull(res, i, 4))
			check_peer(m, res, i, d);
	check_cert(m, me, PQgetvalue(res, 0, 2), &days);
	m->cert_days = days;
	if (m->rm->hsm_err[0] != '\0')
		alarm_want(m, "hsm", me, "%s", m->rm->hsm_err);
	if (strcmp(PQgetvalue(res, 0, 14), "software") == 0 &&
	    atoi(PQgetvalue(res, 0, 15)) > 0)
		alarm_want(m, "weak-rot", me, "this node keeps the cluster's"
		    " KEK under a software key while %s node(s) use an HSM: it"
		    " is the weakest point in the key hierarchy; configure hsm"
		    " in kmd.conf", PQgetvalue(res, 0, 15));
	stray_slots(m, PQgetisnull(res, 0, 18) ? "" : PQgetvalue(res, 0, 18));
	slots_check(m, PQgetisnull(res, 0, 19) ? "" : PQgetvalue(res, 0, 19));
	disk_check(m, me);
	alarms_settle(m);
	if (alarm_up(m, "hsm", me))
		kmd_strlcpy(summary, "BAD:the HSM is unavailable",
		    sizeof(summary));
	else if (alarm_up(m, "cert-expiry", me))
		snprintf(summary, sizeof(summary), "BAD:certificate expires in"
		    " %d days", days);
	else
		kmd_strlcpy(summary, "GOOD", sizeof(summary));
	gen_decision(d, m, me, NS_C_READY, ns_desc(NS_READY), summary, 0,
	    NULL, 0, NULL, NULL);
	yajl_gen_array_close(d);

	/* nodes gone from kmd_nodes are forgotten */
	for (i = 0; i < m->npeers; i++)
		if (!m->peers[i].present)
			m->peers[i--] = m->peers[--m->npeers];

	gen_alarms(up, m, AL_NEW);
	gen_alarms(off, m, AL_CLEARING);
	params[0] = gen_text(d);
	params[1] = gen_text(up);
	params[2] = gen_text(off);
	if (pq_prepared(m->rm->db, SQL_WRITE, 3, params, mon_write_done,
	    m) == -1)
		m->busy = 0;
	yajl_gen_free(d);
	yajl_gen_free(up);
	yajl_gen_free(off);
}

/* At start: the alarms still up in kmd_alarms are this monitor's. */
static void
mon_loaded(struct pq *db, PGresult *res, void *arg)
{
	struct monitor	*m = arg;
	struct alarm	*a;
	int		 i;

	(void)db;
	m->busy = 0;
	if (!pq_ok(res))
		return;
	m->nalarms = 0;
	for (i = 0; i < PQntuples(res) && m->nalarms < ALARMS_MAX; i++) {
		a = &m->alarms[m->nalarms++];
		memset(a, 0, sizeof(*a));
		kmd_strlcpy(a->kind, PQgetvalue(res, i, 0), sizeof(a->kind));
		kmd_strlcpy(a->subject, PQgetvalue(res, i, 1),
		    sizeof(a->subject));
		kmd_strlcpy(a->message, PQgetvalue(res, i, 2),
		    sizeof(a->message));
		kmd_strlcpy(a->raised, PQgetvalue(res, i, 3),
		    sizeof(a->raised));
		a->state = AL_ACTIVE;
	}
	m->loaded = 1;
}

/* The interval from kmd.conf, again after SIGHUP (at least 100 ms). */
static void
tick_interval(struct monitor *m)
{
	int		 ms = m->rm->w->conf.rm_interval;
	struct timeval	 tv;

	if (ms < 100)
		ms = 100;
	if (ms == m->ms)
		return;
	m->ms = ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (m->tick != NULL)
		event_add(m->tick, &tv);
}

static void
mon_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct monitor	*m = arg;
	char		 still[16];
	const char	*p[1] = { still };
	int		 r;

	(void)fd;
	(void)ev;
	tick_interval(m);
	/* the database out of reach (its disk full?): the disk still watched */
	if (!pq_connected(m->rm->db) && m->me[0] != '\0')
		disk_check(m, m->me);
	if (m->busy || !pq_connected(m->rm->db))
		return;
	m->busy = 1;
	if (!m->loaded)
		r = pq_query(m->rm->db, SQL_ALARMS_ACTIVE, 0, NULL, mon_loaded,
		    m);
	else {
		m->sent_at = mono_ms();
		snprintf(still, sizeof(still), "%d",
		    STALL_WARN(&m->rm->w->conf));
		r = pq_prepared(m->rm->db, SQL_READ, 1, p, mon_read_done, m);
	}
	if (r == -1)
		m->busy = 0;
}

struct monitor *
monitor_new(struct replmon *rm)
{
	struct monitor	*m;
	int		 ms = rm->w->conf.rm_interval;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatal("%s", __func__);
	m->rm = rm;
	if (ms < 100)
		ms = 100;
	m->ms = ms;
	m->tick = worker_every(rm->w, ms, mon_tick, m);
	return m;
}

void
monitor_free(struct monitor *m)
{
	if (m == NULL)
		return;
	event_free(m->tick);
	free(m);
}

/* A tick now, unless one is under way (the heartbeat's wake-up). */
void
monitor_tick_now(struct monitor *m)
{
	mon_tick(-1, 0, m);
}

int
monitor_clustered(const struct monitor *m)
{
	return m->clustered;
}

/*
 * Whether a peer that beats, silent here for silent_ms, is past
 * down-after while the last tick still held it up.
 */
int
monitor_overdue(const struct monitor *m, const char *id, long long silent_ms)
{
	const struct conf_worker *cw = &m->rm->w->conf;
	const struct peer	*p;
	size_t			 i;

	for (i = 0; i < m->npeers; i++) {
		p = &m->peers[i];
		if (strcmp(p->id, id) != 0)
			continue;
		return p->ready_since != 0 && !p->watch.down &&
		    silent_ms > cw->rm_down_after &&
		    mono_ms() - p->ready_since > cw->rm_down_after;
	}
	return 0;
}
