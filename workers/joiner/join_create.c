/*
 * Stages 1/5 and 2/5: creating, then bootstrapping.  What an earlier,
 * killed join left goes first, then the replicated data (JOIN_WIPE);
 * kmd_local is written and the node registered on the member
 * (JOIN_CREATE), which answers the client; then this node's pglogical
 * node, its replication sets and the catch-up subscription to the member
 * (JOIN_BOOTSTRAP).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"

static void	wipe_disabled(struct join *, PGresult *);
static void	wipe_polled(struct join *, PGresult *);

/*
 * A subscription is disabled (its workers stopped, committed) before it
 * is dropped: dropping one whose worker is still copying waits for that
 * worker, which waits for the dropping transaction.
 */
void
wipe_enter(struct join *jn)
{
	log_info("join of node %s: %s (the node's data is wiped)",
	    jn->node_id, ns_desc(NS_CREATING));
	jq(jn, "stopping old subscriptions", SQL_SUBS_STOP, 0, NULL,
	    wipe_disabled);
}

static void
wipe_disabled(struct join *jn, PGresult *res)
{
	(void)res;
	jn->polls = 0;
	wipe_poll(jn);
}

/* The rest of the wipe, once the old subscriptions' workers are gone. */
void
wipe_poll(struct join *jn)
{
	const char	*p[1] = { "%" };

	jq(jn, "waiting for the old subscriptions to stop", SQL_SUBS_WORKERS,
	    1, p, wipe_polled);
}

static void
wipe_polled(struct join *jn, PGresult *res)
{
	join_mark(jn, "%s: %s worker(s)", jn->at->desc, pq_get(res, 0,
	    "workers"));
	if (atoi(pq_get(res, 0, "workers")) > 0) {
		if (join_overdue(jn)) {
			join_timeout(jn, "the old subscriptions' workers did"
			    " not stop within 30 s");
			return;
		}
		poll_again(jn);
		return;
	}
	jq(jn, "wiping this node", "SELECT pglogical.drop_subscription("
	    "sub_name, true) FROM pglogical.subscription; SELECT"
	    " pglogical.drop_node(n.node_name, true) FROM pglogical.node n JOIN"
	    " pglogical.local_node l ON l.node_id = n.node_id; BEGIN; TRUNCATE"
	    " kmd_cluster, kmd_nodes, kmd_node_health, kmd_users, kmd_keys,"
	    " kmd_join_markers, kmd_restored_kek; " SQL_KEYS_INDEX_DROP "; "
	    SQL_KEYS_NOTIFY_OFF ";"
	    " DELETE FROM kmd_local; COMMIT", 0, NULL, jq_stage_done);
}

static void	created_local(struct join *, PGresult *);
static void	created_remote(struct join *, PGresult *);
static void	answer_started(struct join *, enum node_status);

void
create_enter(struct join *jn)
{
	const char	*p[6] = { jn->node_id, jn->cluster_id,
			    jn->opened.kek_wrapped, jn->opened.node_key_sealed,
			    jn->req.cert, jn->req.member };

	jq(jn, "recording this node", "INSERT INTO kmd_local (node_id,"
	    " cluster_id, kek_wrapped, node_key_sealed, node_cert,"
	    " join_state, join_member) VALUES ($1, $2, decode($3, 'hex'),"
	    " decode($4, 'hex'), $5, '" NS_C_CREATING "', $6)", 6, p,
	    created_local);
}

static void
created_local(struct join *jn, PGresult *res)
{
	const char	*p[6] = { jn->node_id, jn->req.host, jn->req.pubaddr,
			    KMD_VERSION, jn->req.cert, jn->j->w->conf.hsm ?
			    "hsm" : "software" };

	(void)res;
	jq_sponsor(jn, peer_call_what(PEER_REGISTER), "kmd_join_register", 6,
	    p, created_remote);
}

static void
created_remote(struct join *jn, PGresult *res)
{
	(void)res;
	answer_started(jn, NS_CREATING);
	join_done(jn);
}

/* The client's answer: the join has started; the stages go on. */
static void
answer_started(struct join *jn, enum node_status s)
{
	struct cluster_info	 ci;

	if (jn->reqid == 0)
		return;
	memset(&ci, 0, sizeof(ci));
	kmd_strlcpy(ci.nodeid, jn->node_id, sizeof(ci.nodeid));
	kmd_strlcpy(ci.code, ns_code(s), sizeof(ci.code));
	kmd_strlcpy(ci.desc, ns_desc(s), sizeof(ci.desc));
	ci.nodecount = -1;		/* as the reference shows it */
	kchan_send(jn->j->w->parent, IMSG_CLUSTER_INFO_REPLY, jn->reqid, -1,
	    &ci, sizeof(ci));
	kchan_send(jn->j->w->parent, IMSG_CTL_END, jn->reqid, -1, NULL, 0);
	jn->reqid = 0;
}

static void	bootstrap_node(struct join *, PGresult *);
static void	bootstrap_sets(struct join *, PGresult *);
static void	bootstrap_subscribe(struct join *, PGresult *);

void
bootstrap_enter(struct join *jn)
{
	char		 name[64], mine[PEER_DSN_MAX];
	const char	*p[2] = { name, mine };

	snprintf(name, sizeof(name), "kmd_");
	short_id(jn->node_id, name + 4, sizeof(name) - 4, 32);
	local_dsn(jn->j, mine, sizeof(mine));
	jq(jn, "the pglogical node", "SELECT pglogical.create_node(node_name"
	    " := $1, dsn := $2)", 2, p, bootstrap_node);
}

static void
bootstrap_node(struct join *jn, PGresult *res)
{
	(void)res;
	jq(jn, "the replication sets", SQL_SETS, 0, NULL, bootstrap_sets);
}

/* After the sets: pglogical adds a table to them only with its key. */
static void
bootstrap_sets(struct join *jn, PGresult *res)
{
	if (jn->size < KEYS_BARE_MIN) {
		bootstrap_subscribe(jn, res);
		return;
	}
	/* Connected now, so that the build is queued without delay. */
	jn->idb = joiner_conn(jn->j, "kmd-joiner-index", NULL, NULL);
	jq(jn, "dropping kmd_keys' primary key for the copy",
	    SQL_KEYS_PKEY_DROP, 0, NULL, bootstrap_subscribe);
}

static void
bootstrap_subscribe(struct join *jn, PGresult *res)
{
	const char	*p[2] = { jn->cu_sub, jn->dsn };

	(void)res;
	jq(jn, "subscribing to the member", "SELECT"
	    " pglogical.create_subscription(subscription_name := $1,"
	    " provider_dsn := $2, replication_sets := '{" JOIN_SET "}',"
	    " synchronize_structure := false, synchronize_data := true,"
	    " forward_origins := '{all}')", 2, p, jq_stage_done);
}
