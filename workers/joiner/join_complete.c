/*
 * Stage 5/5, completing: every member subscribes to this node, until
 * those subscriptions replicate (JOIN_COMPLETE), and this node's own
 * (JOIN_LOCAL); then the node is ready on the member and here
 * (JOIN_READY), and the join is over (JOIN_JOINED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "log.h"
#include "util.h"

static void	complete_subscribed(struct join *, PGresult *);
static void	complete_polled(struct join *, PGresult *);

void
complete_enter(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX], mine[PEER_DSN_MAX], sub[64];
	int		 i;

	peer_dsn(jn->req.host, mine, sizeof(mine));
	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sub_name(jn->node_id, jn->members[i].id, sub, sizeof(sub));
		sbuf_add(&sql, "SELECT x FROM dblink('%s', 'SELECT"
		    " pglogical.create_subscription(subscription_name :="
		    " ''%s'', provider_dsn := ''%s'', replication_sets :="
		    " ''{default}'', synchronize_structure := false,"
		    " synchronize_data := false, forward_origins :="
		    " ''{}'')::text') AS t(x text);", dsn, sub, mine);
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
	char		 dsn[PEER_DSN_MAX], sub[64];
	int		 i;

	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sub_name(jn->node_id, jn->members[i].id, sub, sizeof(sub));
		sbuf_add(&sql, "%sSELECT s AS status, %d AS member FROM"
		    " dblink('%s', 'SELECT status FROM"
		    " pglogical.show_subscription_status(''%s'')') AS t(s"
		    " text)", i ? " UNION ALL " : "", i, dsn, sub);
	}
	jq(jn, peer_call_what(PEER_SUB_STATUS), sql.s, 0, NULL,
	    complete_polled);
	free(sql.s);
}

static void
complete_polled(struct join *jn, PGresult *res)
{
	int	 i;

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

void
ready_enter(struct join *jn)
{
	const char	*p[2] = { jn->dsn, jn->node_id };

	jq(jn, peer_call_what(PEER_READY), "SELECT dblink_exec($1, format("
	    "'UPDATE kmd_nodes SET state = ''" NS_C_READY "'', joined_at ="
	    " now() WHERE node_id = %L; DELETE FROM kmd_join_markers WHERE"
	    " join_id = %L', $2::text, $2::text))", 2, p, ready_local);
}

static void
ready_local(struct join *jn, PGresult *res)
{
	(void)res;
	jq(jn, "marking the node ready here", "UPDATE kmd_local SET"
	    " join_state = NULL, join_error = NULL, join_member = NULL,"
	    " join_progress = NULL;"
	    " DELETE FROM kmd_join_pending", 0, NULL, jq_stage_done);
}

void
joined_enter(struct join *jn)
{
	log_info("node %s joined cluster %s: ready", jn->node_id,
	    jn->cluster_id);
	join_free(jn);
}
