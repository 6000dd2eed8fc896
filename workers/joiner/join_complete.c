/*
 * Stage 5/5, completing: this node's PostgreSQL accepts the members
 * (their ids came with the initial sync), then every member subscribes
 * to this node, until those subscriptions replicate (JOIN_COMPLETE), and
 * this node's own (JOIN_LOCAL); then the node is ready on the member and
 * here (JOIN_READY), and the join is over (JOIN_JOINED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"

static void	complete_allow(struct join *, PGresult *);
static void	complete_allowed(struct kchan *, struct kmsg *, void *);
static void	complete_subscribe(struct join *);
static void	complete_subscribed(struct join *, PGresult *);
static void	complete_polled(struct join *, PGresult *);

static const struct kchan_exchange allow_ex = {
	IMSG_PEERS_ALLOWED, PEERS_TIMEOUT, complete_allowed, join_call_failed
};

/*
 * The reconciler, which keeps pg_ident.conf's peers, waits while a join
 * runs: the members' certificates are allowed here now, and the parent
 * answers once PostgreSQL was told, before any member connects.
 */
void
complete_enter(struct join *jn)
{
	jq(jn, "the members this node accepts", SQL_PEERS_ALLOWED, 0, NULL,
	    complete_allow);
}

static void
complete_allow(struct join *jn, PGresult *res)
{
	if ((jn->call = peers_allow(jn->j, PQgetvalue(res, 0, 0), &allow_ex,
	    jn)) == 0)
		join_fail(jn, "cannot reach the parent to accept the members");
}

static void
complete_allowed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct join	*jn = arg;

	(void)ch;
	jn->call = 0;
	if (!peers_allowed(jn->j, m)) {
		join_fail(jn, "this node's PostgreSQL could not be told to"
		    " accept the members (pg_ident.conf); see kmd's log");
		return;
	}
	complete_subscribe(jn);
}

/* Every member subscribes to this node. */
static void
complete_subscribe(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX];
	int		 i;

	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sbuf_add(&sql, "SELECT x FROM dblink('%s', 'SELECT"
		    " kmd_peer_subscribe(''%s'')') AS t(x text);", dsn,
		    jn->lease->token);
	}
	jq(jn, peer_call_what(PEER_SUBSCRIBE), sql.s, 0, NULL,
	    complete_subscribed);
	free(sql.s);
}

static void
complete_subscribed(struct join *jn, PGresult *res)
{
	(void)res;
	complete_poll(jn);
}

/* Every member's subscription to N, seen from the member. */
void
complete_poll(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX];
	int		 i;

	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sbuf_add(&sql, "%sSELECT s AS status, %d AS member FROM"
		    " dblink('%s', 'SELECT kmd_peer_sub_status()') AS t(s"
		    " text)", i ? " UNION ALL " : "", i, dsn);
	}
	jq(jn, peer_call_what(PEER_SUB_STATUS), sql.s, 0, NULL,
	    complete_polled);
	free(sql.s);
}

static void
complete_polled(struct join *jn, PGresult *res)
{
	int	 i;

	join_mark_subs(jn, res);
	for (i = 0; i < PQntuples(res); i++) {
		if (still_down(jn, "a member's subscription to this node",
		    pq_get(res, i, "status"), NULL, atoi(pq_get(res, i,
		    "member"))))
			return;
		if (strcmp(pq_get(res, i, "status"), "replicating") != 0) {
			poll_again(jn);
			return;
		}
	}
	join_done(jn);
}

static void	local_polled(struct join *, PGresult *);

/* This node's own subscriptions all replicate (a race may have hit one). */
void
local_poll(struct join *jn)
{
	jq(jn, "watching this node's subscriptions", "SELECT s.status,"
	    " u.sub_name FROM pglogical.subscription u,"
	    " pglogical.show_subscription_status(u.sub_name) s", 0, NULL,
	    local_polled);
}

static void
local_polled(struct join *jn, PGresult *res)
{
	subs_replicating(jn, res, "a subscription to a member");
}

static void	ready_local(struct join *, PGresult *);
static void	ready_released(void *);

void
ready_enter(struct join *jn)
{
	char		 e[24];
	const char	*p[2] = { jn->node_id, e };

	snprintf(e, sizeof(e), "%lld", jn->epoch + 1);
	jq_sponsor(jn, peer_call_what(PEER_READY), "kmd_join_ready", 2, p,
	    ready_local);
}

/*
 * Ready on the sponsor: the membership moved on.  The lease goes back
 * before this node says it is ready, so that a change started on that
 * finds it free.
 */
static void
ready_local(struct join *jn, PGresult *res)
{
	(void)res;
	jn->epoch++;
	lease_release(jn->lease, jn->epoch, ready_released, jn);
}

static void
ready_released(void *arg)
{
	struct join	*jn = arg;
	char		 e[24];
	const char	*p[1] = { e };

	snprintf(e, sizeof(e), "%lld", jn->epoch);
	jq(jn, "marking the node ready here", "WITH d AS (DELETE FROM"
	    " kmd_join_pending) UPDATE kmd_local SET join_state = NULL,"
	    " join_error = NULL, join_member = NULL, join_progress = NULL,"
	    " epoch = greatest(epoch, $1::bigint)", 1, p, jq_stage_done);
}

void
joined_enter(struct join *jn)
{
	log_info("node %s joined cluster %s: ready", jn->node_id,
	    jn->cluster_id);
	join_free(jn);
}
