/*
 * Stage 4/5, catching up: the direct subscriptions replicate
 * (JOIN_DIRECT), then the proof that nothing falls between them and the
 * catch-up stream (join_run.c): a marker on every other member, seen on
 * the member S (JOIN_MARKERS); S's WAL position W, passed by this node's
 * catch-up origin (JOIN_ORIGIN); then the catch-up subscription goes
 * (JOIN_CU_DROP).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "log.h"
#include "util.h"

static void	direct_polled(struct join *, PGresult *);

/* The direct subscriptions, unless 3/5 made them already. */
void
direct_enter(struct join *jn)
{
	if (jn->direct)
		direct_poll(jn);
	else
		direct_subscribe(jn);
}

void
direct_poll(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "watching the direct subscriptions", "SELECT s.status,"
	    " u.sub_name FROM pglogical.subscription u,"
	    " pglogical.show_subscription_status(u.sub_name) s WHERE"
	    " u.sub_name <> $1", 1, p, direct_polled);
}

static void
direct_polled(struct join *jn, PGresult *res)
{
	subs_replicating(jn, res, "a direct subscription to a member");
}

static void	markers_made(struct join *, PGresult *);
static void	markers_polled(struct join *, PGresult *);

/* A marker on every member but S, each after its direct slot exists. */
void
markers_enter(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX];
	int		 i;

	sbuf_add(&sql, "SELECT 1;");
	for (i = 0; i < jn->nmembers; i++) {
		if (strcmp(jn->members[i].id, jn->sponsor) == 0)
			continue;
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sbuf_add(&sql, "SELECT x FROM dblink('%s', 'SELECT"
		    " kmd_peer_marker()') AS t(x text);", dsn);
	}
	jq(jn, peer_call_what(PEER_MARKERS_ADD), sql.s, 0, NULL, markers_made);
	free(sql.s);
}

static void
markers_made(struct join *jn, PGresult *res)
{
	(void)res;
	markers_poll(jn);
}

/* S has applied every other member's marker. */
void
markers_poll(struct join *jn)
{
	const char	*p[1] = { jn->dsn };

	jq(jn, peer_call_what(PEER_MARKERS_COUNT), "SELECT markers FROM"
	    " dblink($1, 'SELECT kmd_peer_markers()') AS t(markers bigint)",
	    1, p, markers_polled);
}

static void
markers_polled(struct join *jn, PGresult *res)
{
	join_mark(jn, "%s: %s of %d", jn->at->desc, pq_get(res, 0,
	    "markers"), jn->nmembers - 1);
	if (atoi(pq_get(res, 0, "markers")) < jn->nmembers - 1) {
		poll_again(jn);
		return;
	}
	join_done(jn);
}

static void	wal_read(struct join *, PGresult *);
static void	last_marker(struct join *, PGresult *);
static void	origin_polled(struct join *, PGresult *);

void
origin_enter(struct join *jn)
{
	const char	*p[1] = { jn->dsn };

	jq(jn, peer_call_what(PEER_WAL), "SELECT wal FROM"
	    " dblink($1, 'SELECT pg_current_wal_lsn()::text') AS t(wal text)",
	    1, p, wal_read);
}

static void
wal_read(struct join *jn, PGresult *res)
{
	const char	*p[1] = { jn->dsn };

	kmd_strlcpy(jn->wal, pq_get(res, 0, "wal"), sizeof(jn->wal));
	/* A commit on S after W, so that S's stream moves past it. */
	jq(jn, peer_call_what(PEER_MARKER_ADD), "SELECT x FROM dblink($1,"
	    " 'SELECT kmd_peer_marker()') AS t(x text)", 1, p, last_marker);
}

static void
last_marker(struct join *jn, PGresult *res)
{
	(void)res;
	origin_poll(jn);
}

/* N has applied S's stream past W. */
void
origin_poll(struct join *jn)
{
	const char	*p[2] = { jn->cu_sub, jn->wal };

	jq(jn, "watching the catch-up", "SELECT coalesce(o.remote_lsn >="
	    " $2::pg_lsn, false) AS passed, coalesce(o.remote_lsn::text, '')"
	    " AS at, (SELECT status FROM pglogical.show_subscription_status($1))"
	    " AS status FROM (SELECT 1) one LEFT JOIN (SELECT o.remote_lsn FROM"
	    " pg_replication_origin_status o JOIN pg_replication_origin r ON"
	    " r.roident = o.local_id JOIN pglogical.subscription s ON r.roname"
	    " = s.sub_slot_name WHERE s.sub_name = $1) o ON true", 2, p,
	    origin_polled);
}

static void
origin_polled(struct join *jn, PGresult *res)
{
	join_mark(jn, "%s: at %s, W %s", jn->at->desc, pq_get(res, 0, "at"),
	    jn->wal);
	if (strcmp(pq_get(res, 0, "passed"), "t") != 0) {
		if (still_down(jn, "the catch-up subscription",
		    pq_get(res, 0, "status"), jn->cu_sub, -1))
			return;
		poll_again(jn);
		return;
	}
	log_info("join of node %s: caught up with the member past %s",
	    jn->node_id, jn->wal);
	join_done(jn);
}

static void	cu_stopped(struct join *, PGresult *);
static void	cu_drop_polled(struct join *, PGresult *);

void
cu_drop_enter(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "stopping the catch-up subscription", "SELECT"
	    " pglogical.alter_subscription_disable($1, true)", 1, p,
	    cu_stopped);
}

static void
cu_stopped(struct join *jn, PGresult *res)
{
	(void)res;
	cu_drop_poll(jn);
}

/* Its worker is gone: see wipe_enter() for why that matters. */
void
cu_drop_poll(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "waiting for the catch-up subscription to stop",
	    SQL_SUBS_WORKERS, 1, p, cu_drop_polled);
}

static void
cu_drop_polled(struct join *jn, PGresult *res)
{
	const char	*p[1] = { jn->cu_sub };

	join_mark(jn, "%s: %s worker(s)", jn->at->desc, pq_get(res, 0,
	    "workers"));
	if (atoi(pq_get(res, 0, "workers")) > 0) {
		poll_again(jn);
		return;
	}
	jq(jn, "dropping the catch-up subscription", "SELECT"
	    " pglogical.drop_subscription($1)", 1, p, jq_stage_done);
}
