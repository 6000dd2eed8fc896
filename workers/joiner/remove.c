/*
 * Removal: `cluster nodes delete` (on any node but the one removed),
 * `cluster delete` (on the removed node), and the reconciler that makes
 * every node, one that was down at the time included, act on a removal
 * it learns of through replication: a node marked removed ('v') in
 * kmd_nodes loses its subscriptions, the slots it consumed and its health
 * rows on every node, and its certificate is refused by every remaining
 * PostgreSQL (the parent's pg_ident.conf allows only the ids the tick
 * sends, see peers.c).  The same tick
 * restarts subscriptions whose apply worker died (down), each at most
 * every RESTART_MS: pglogical's manager may notice only minutes later.
 */
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "lease.h"
#include "log.h"
#include "nodestatus.h"
#include "schema.h"
#include "status.h"
#include "util.h"

#define RECONCILE_MS	2000
#define RESTART_MS	15000
#define RESTART_MAX	32
#define DRAIN_MAX	"300 s"		/* a removed node out of reach */

/* Enabled subscriptions whose apply worker is not running. */
#define SQL_SUBS_DOWN \
	"SELECT s.subscription_name FROM pglogical.show_subscription_status()" \
	" s JOIN pglogical.subscription p ON p.sub_name = s.subscription_name" \
	" WHERE s.status = 'down' AND p.sub_enabled"

/* The removed ones' subscriptions, or all of them on a removed node. */
#define GONE_SUBS \
	" FROM pglogical.subscription s, kmd_local l, kmd_nodes n" \
	" WHERE ((n.state = '" NS_C_REMOVED "' AND (s.sub_name =" \
	" kmd_sub_name(n.node_id, l.node_id) OR n.node_id = l.node_id)) OR" \
	" (n.state = '" NS_C_KILLED "' AND n.node_id <> l.node_id AND" \
	" s.sub_name = kmd_sub_name(n.node_id, l.node_id)))"
/*
 * The slots removed nodes consumed; on a removed node, its own slots once
 * the node left that consumed one has taken its writes up to its fence
 * and dropped its subscription (its walsender gone: it confirmed the
 * drain, see DRAINED; a slot dropped before would leave that node unable
 * to confirm it once this one is wiped, and keeping its subscription for
 * DRAIN_MAX).
 */
/* The slot of a join's catch-up subscription on its sponsor (join_names). */
#define CU_SLOT	SQL_CU_SLOT("l.node_id", "n.node_id")
#define GONE_SLOTS \
	" FROM pg_replication_slots sl, kmd_local l, kmd_nodes n" \
	" WHERE (n.state = '" NS_C_REMOVED "' AND (sl.slot_name =" \
	" kmd_slot_name(l.node_id, n.node_id) OR (n.node_id = l.node_id AND" \
	" sl.plugin = 'pglogical_output' AND (NOT n.drain OR (NOT sl.active" \
	" AND sl.confirmed_flush_lsn >= l.fence_lsn) OR " DRAIN_OVER ")))) OR" \
	" (n.state = '" NS_C_KILLED "' AND n.node_id <> l.node_id AND" \
	" sl.slot_name IN (kmd_slot_name(l.node_id, n.node_id), " CU_SLOT "))"
/*
 * A subscription from a removed node may go: the node's stream is drained
 * (kmd_drained, PEER_DRAINED: this node confirmed the removed node's
 * fence, or the slot is gone there), or it need not be (a removal with
 * --force, or this node is the removed one), or the removed node stayed
 * out of reach for DRAIN_MAX.  Until then every node left keeps taking
 * its last writes, so all of them end at the same point of its stream.
 */
#define DRAIN_OVER \
	"n.removed_at < now() - interval '" DRAIN_MAX "'"
#define DRAINED \
	" AND (n.node_id = l.node_id OR NOT n.drain OR " DRAIN_OVER \
	" OR kmd_drained(s.sub_name))"
/*
 * One pass, idempotent, each step its own transaction (pglogical wants
 * alter_subscription_disable alone, and a failed step must not stop the
 * rest): on a sponsor, kill the joins whose lease lapsed or that made
 * no progress for the stall time and a lease's length more
 * (SQL_JOIN_REAP: the joining node ends a stalled join itself, at the
 * stall time; this is for when it does not);
 * on a removed node, fence it; stop the subscriptions from removed
 * nodes once drained (a worker is stopped before its subscription goes:
 * dropping one whose worker runs waits on it), drop those stopped, end
 * the WAL senders of the slots removed nodes consumed and drop the slots,
 * forget their health rows; last, the ids PostgreSQL accepts (peers.c).
 * A killed join's node (not this one) loses the same here: the
 * subscriptions from it, and its slots, the catch-up one included.
 */
#define SQL_JOIN_REAP	"SELECT kmd_join_reap($1)"
static const char *const reconcile_steps[] = {
	"SELECT kmd_fence() FROM kmd_local l JOIN kmd_nodes n USING"
	    " (node_id) WHERE n.state = '" NS_C_REMOVED "' AND l.fence_lsn IS"
	    " NULL",
	"SELECT pglogical.alter_subscription_disable(s.sub_name, true)"
	    GONE_SUBS " AND s.sub_enabled" DRAINED,
	"SELECT pglogical.drop_subscription(s.sub_name, true)" GONE_SUBS
	    " AND NOT s.sub_enabled AND NOT EXISTS (SELECT FROM"
	    " pg_stat_activity a WHERE a.backend_type LIKE 'pglogical %:' ||"
	    " s.sub_id)",
	"SELECT pg_terminate_backend(sl.active_pid, 5000)" GONE_SLOTS
	    " AND sl.active",
	"DO $$ DECLARE s record; BEGIN FOR s IN SELECT sl.slot_name"
	    GONE_SLOTS " AND NOT sl.active LOOP BEGIN PERFORM"
	    " pg_drop_replication_slot(s.slot_name); EXCEPTION WHEN OTHERS"
	    " THEN RAISE WARNING '%', SQLERRM; END; END LOOP; END $$",
	"DELETE FROM kmd_node_health h USING kmd_nodes n, kmd_local l"
	    " WHERE n.state = '" NS_C_REMOVED "' AND n.node_id <> l.node_id AND"
	    " (h.reporter = n.node_id OR h.peer = n.node_id)",
	SQL_PEERS_ALLOWED,
};
#define NSTEPS	(sizeof(reconcile_steps) / sizeof(reconcile_steps[0]))

struct reconciler {
	struct event	*ev;
	int		 busy;		/* steps under way */
	uint32_t	 call;		/* the parent's answer awaited */
	struct {
		char	 sub[64];
		int64_t	 at;		/* ms */
	}		 restarts[RESTART_MAX];
};

static void	reconcile(evutil_socket_t, short, void *);

static void
step_done(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;

	(void)db;
	j->rec->busy--;
	if (!pq_ok(res))
		log_debug("reconcile: %s", pq_msg(j, res));
}

static void	peers_told(struct kchan *, struct kmsg *, void *);
static void	peers_untold(struct kchan *, enum kchan_end, const char *,
		    void *);

static const struct kchan_exchange peers_ex = {
	IMSG_PEERS_ALLOWED, PEERS_TIMEOUT, peers_told, peers_untold
};

/* The ids PostgreSQL accepts: sent to the parent when they change. */
static void
reconciled(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct reconciler	*rc = j->rec;
	const char		*ids;

	(void)db;
	rc->busy--;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		log_debug("reconcile: %s", pq_msg(j, res));
		return;
	}
	ids = PQgetvalue(res, 0, 0);
	if (rc->call != 0 || peers_sent(j, ids))
		return;
	rc->call = peers_allow(j, ids, &peers_ex, j);
}

static void
peers_told(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	j->rec->call = 0;
	(void)peers_answered(j, m, "reconcile");
}

static void
peers_untold(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	(void)end;
	j->rec->call = 0;
	peers_unanswered(j, "reconcile", why);
}

/* Down subscriptions: restart each, unless it was restarted lately. */
static void
subs_down(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct reconciler	*rc = j->rec;
	const char		*sub;
	int64_t			 now = mono_ms();
	int			 i, k, old;

	(void)db;
	rc->busy--;
	if (!pq_ok(res))
		return;
	for (i = 0; i < PQntuples(res); i++) {
		sub = PQgetvalue(res, i, 0);
		for (k = 0, old = 0; k < RESTART_MAX; k++) {
			if (strcmp(rc->restarts[k].sub, sub) == 0)
				break;
			if (rc->restarts[k].at < rc->restarts[old].at)
				old = k;
		}
		if (k == RESTART_MAX) {
			k = old;
			kmd_strlcpy(rc->restarts[k].sub, sub,
			    sizeof(rc->restarts[k].sub));
			rc->restarts[k].at = 0;
		}
		if (rc->restarts[k].at != 0 &&
		    now - rc->restarts[k].at < RESTART_MS)
			continue;
		rc->restarts[k].at = now;
		log_info("subscription %s is down (its apply worker stopped):"
		    " restarting it", sub);
		sub_restart(j->db, sub, NULL, 0);
	}
}

static void
reconcile(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner		*j = arg;
	struct reconciler	*rc = j->rec;
	char			 stall[16];
	const char		*p[1] = { stall };
	size_t			 i;

	(void)fd;
	(void)ev;
	/* a join or another operation has the subscriptions in hand */
	if (rc->busy || !j->ready || j->join != NULL || j->op != NULL ||
	    j->subs_drop != NULL)
		return;
	snprintf(stall, sizeof(stall), "%d", j->w->conf.join_stall +
	    LEASE_TTL_S);
	if (pq_query(j->db, SQL_JOIN_REAP, 1, p, step_done, j) == 0)
		rc->busy++;
	for (i = 0; i < NSTEPS; i++)
		if (pq_query(j->db, reconcile_steps[i], 0, NULL, i + 1 ==
		    NSTEPS ? reconciled : step_done, j) == 0)
			rc->busy++;
	if (pq_query(j->db, SQL_SUBS_DOWN, 0, NULL, subs_down, j) == 0)
		rc->busy++;
}

/* Now rather than at the next tick: a removal was just recorded. */
void
reconcile_soon(struct joiner *j)
{
	if (j->rec != NULL)
		event_active(j->rec->ev, EV_TIMEOUT, 0);
}

void
reconcile_start(struct joiner *j)
{
	if ((j->rec = calloc(1, sizeof(*j->rec))) == NULL)
		fatal("%s", __func__);
	j->rec->ev = worker_every(j->w, RECONCILE_MS, reconcile, j);
}

void
reconcile_free(struct joiner *j)
{
	if (j->rec == NULL)
		return;
	event_free(j->rec->ev);
	kchan_cancel(j->w->parent, j->rec->call);
	free(j->rec);
	j->rec = NULL;
}

/* ---- cluster nodes delete --------------------------------------------- */

#define SQL_DELETE_CHECK \
	"SELECT l.node_id, me.state, n.node_id, n.state," \
	" coalesce(st.code, n.state), n.host, (SELECT count(*) FROM" \
	" kmd_nodes WHERE state NOT IN ('" NS_C_REMOVING "', '" \
	NS_C_REMOVED "', '" NS_C_PENDING "')), EXISTS (SELECT FROM" \
	" pg_replication_slots sl WHERE sl.slot_name = kmd_slot_name(" \
	" l.node_id, n.node_id) AND sl.wal_status = 'lost')" \
	" FROM kmd_local l JOIN kmd_nodes me ON me.node_id = l.node_id" \
	" LEFT JOIN kmd_nodes n ON n.node_id::text = $1" \
	" LEFT JOIN kmd_node_status st ON st.node_id = n.node_id"
/* Under the lease ($3, its token): the epoch moves on to $4. */
#define SQL_DELETE \
	"WITH h AS (DELETE FROM kmd_node_health WHERE reporter = $1::uuid" \
	" OR peer = $1::uuid), c AS (SELECT kmd_lease_commit($3::uuid," \
	" $4::bigint) AS e) UPDATE kmd_nodes SET state = '" NS_C_REMOVED \
	"', removed_at = now(), drain = $2::boolean WHERE node_id =" \
	" $1::uuid AND state <> '" NS_C_REMOVED "' AND (SELECT e FROM c)" \
	" IS NOT NULL RETURNING node_id"

static void	delete_reply(struct joiner *);
static void	delete_refused(struct joiner *);
static void	delete_commit(struct joiner *);

static void
deleted(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct jop		*op = j->op;

	(void)db;
	if (op == NULL)
		return;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		op_fail(j, "%s", pq_ok(res) ? "the node was removed meanwhile"
		    : pq_msg(j, res));
		return;
	}
	op->epoch++;
	if (op->pending)
		log_info("revoked the credentials of pending node %s: no node"
		    " accepts its certificate", op->node_id);
	else
		log_info("removed node %s from the cluster; every node drops"
		    " its subscriptions and slots", op->node_id);
	op_peers(j, delete_refused);	/* this node refuses it now */
}

/* This node refuses the node's certificate: the lease goes back. */
static void
delete_refused(struct joiner *j)
{
	op_lease_end(j, delete_reply);
}

/* The lease given back: the answer. */
static void
delete_reply(struct joiner *j)
{
	op_info_done(j, j->op->me, NS_C_READY, j->op->count);
}

/*
 * A node removed without --force although it is not ready: a killed
 * join, or a pending node (nodes create, no join yet), whose credentials
 * are revoked so: no stream of it to drain, no PostgreSQL accepts its
 * certificate any more.  An expired pending node too.
 */
static int
delete_unforced(const char *state)
{
	return ns_parse(state) == NS_KILLED || ns_parse(state) == NS_PENDING;
}

static void
delete_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	const char	*x, *state, *status, *host;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		op_fail(j, "this node is not in a cluster");
		return;
	}
	x = op->node_id;
	state = PQgetvalue(res, 0, 3);
	status = PQgetvalue(res, 0, 4);
	host = PQgetvalue(res, 0, 5);
	if (strcmp(PQgetvalue(res, 0, 0), x) == 0) {
		op_fail(j, "A node cannot remove itself: run cluster nodes"
		    " delete --id=%s on another node of the cluster, then"
		    " cluster delete here", x);
		return;
	}
	if (ns_parse(PQgetvalue(res, 0, 1)) != NS_READY) {
		op_fail(j, "this node is not ready (%s); run it on a ready"
		    " member", status_desc(PQgetvalue(res, 0, 1)));
		return;
	}
	if (PQgetisnull(res, 0, 2)) {
		op_fail(j, "no node %s in this cluster; see cluster nodes"
		    " list", x);
		return;
	}
	if (ns_parse(state) == NS_REMOVED) {
		op_fail(j, "node %s (%s) was removed already", x, host);
		return;
	}
	if (ns_joining(ns_parse(state)) && !op->force) {
		op_fail(j, "node %s (%s) is joining; wait until its join ends"
		    " (ready or killed), then delete it; to remove it now, as"
		    " when its join died, add --force", x, host);
		return;
	}
	if (ns_parse(status) == NS_LOST && !op->force) {
		op_fail(j, "node %s (%s) cannot catch up: its replication slot"
		    " on this node was lost.  Stop writing through it, then"
		    " remove it with --force (its writes this node lacks are"
		    " named first), run services reset on it and join it"
		    " again", x, host);
		return;
	}
	if (ns_parse(status) != NS_READY && !delete_unforced(state) &&
	    !op->force) {
		op_fail(j, "node %s (%s) is not ready (its status: %s): to"
		    " remove it anyway, as when it is gone for good, add"
		    " --force", x, host, status_desc(status));
		return;
	}
	if (op->lease == NULL) {
		op_fail(j, "this node holds no membership lease");
		return;
	}
	op->pending = ns_parse(state) == NS_PENDING;
	/* the nodes left, as cluster info counts them: no pending one */
	op->count = atoi(PQgetvalue(res, 0, 6)) - (op->pending ? 0 : 1);
	kmd_strlcpy(op->me, PQgetvalue(res, 0, 0), sizeof(op->me));
	/* a ready node's last writes are drained; one that is down, not */
	op->drain = ns_parse(status) == NS_READY;
	/* its slot here lost, whatever its status says now (down too) */
	if ((ns_parse(status) == NS_LOST || strcmp(PQgetvalue(res, 0, 7), "t")
	    == 0) && !op->discard)
		unsent_check(j, host, delete_commit);
	else
		delete_commit(j);
}

/* Under the lease, every check passed: the node is marked removed. */
static void
delete_commit(struct joiner *j)
{
	struct jop	*op = j->op;
	const char	*p[4];
	char		 e[24];

	p[0] = op->node_id;
	p[1] = op->drain ? "true" : "false";
	p[2] = op->lease->token;
	snprintf(e, sizeof(e), "%lld", op->epoch + 1);
	p[3] = e;
	pq_query(j->db, SQL_DELETE, 4, p, deleted, j);
}

/* Under the lease: the node's state, and whether this one may act. */
static void
delete_check(struct joiner *j)
{
	const char	*p[1] = { j->op->node_id };

	pq_query(j->db, SQL_DELETE_CHECK, 1, p, delete_checked, j);
}

int
joiner_nodes_delete(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner			*j = arg;
	const struct nodes_delete	*nd = (const void *)m->data;

	if (op_start(j, ch, m->hdr.reqid, "cluster nodes delete") == NULL)
		return 0;
	kmd_strlcpy(j->op->node_id, nd->id, sizeof(j->op->node_id));
	j->op->force = nd->force != 0;
	j->op->discard = nd->discard != 0;
	/* An id that is no UUID is refused by the checks, named. */
	op_lease(j, "nodes delete", strlen(nd->id) == 36 && strspn(nd->id,
	    "0123456789abcdef-") == 36 ? nd->id : NULL, LEASE_MAJORITY_OR_TIE,
	    delete_check);
	return 0;
}

/* ---- cluster delete ------------------------------------------------------ */

/*
 * On a removed node: stop and drop every subscription, end the WAL
 * senders, drop the pglogical node and every slot, then the cluster's
 * rows.  The users stay (the API keeps working), as do the alarms'
 * history and everything node-local; PostgreSQL's TLS files go.
 */
static const char *const wipe_steps[] = {
	"SELECT pg_terminate_backend(active_pid, 5000) FROM"
	    " pg_replication_slots WHERE active AND plugin = 'pglogical_output'",
	"SELECT pglogical.drop_subscription(sub_name, true) FROM"
	    " pglogical.subscription",
	"SELECT pglogical.drop_node(n.node_name, true) FROM pglogical.node n"
	    " JOIN pglogical.local_node l ON l.node_id = n.node_id",
	"DO $$ DECLARE s record; BEGIN FOR s IN SELECT slot_name FROM"
	    " pg_replication_slots WHERE plugin = 'pglogical_output' LOOP"
	    " BEGIN PERFORM pg_drop_replication_slot(s.slot_name); EXCEPTION"
	    " WHEN OTHERS THEN RAISE WARNING '%', SQLERRM; END; END LOOP;"
	    " END $$",
	"BEGIN; TRUNCATE kmd_cluster, kmd_nodes, kmd_node_health, kmd_keys,"
	    " kmd_join_markers, kmd_peer_seen; DELETE FROM kmd_local;"
	    " DELETE FROM kmd_join_pending; UPDATE kmd_alarms SET cleared ="
	    " now() WHERE cleared IS NULL; COMMIT",
};
#define NWIPE	(sizeof(wipe_steps) / sizeof(wipe_steps[0]))
#define SQL_SUBS_RUNNING \
	"SELECT count(*) FROM pg_stat_activity a, pglogical.subscription s" \
	" WHERE a.backend_type LIKE 'pglogical %:' || s.sub_id"

static void	cd_wait(struct joiner *);

/* A step of the wipe: the first failure is kept for the end. */
static void
cd_step(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (j->op != NULL && !pq_ok(res) && j->op->reply == NULL &&
	    (j->op->reply = strdup(pq_msg(j, res))) == NULL)
		fatal("%s", __func__);
}

static void
cd_wiped(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	struct jop		*op = j->op;

	cd_step(db, res, arg);
	if (op == NULL)
		return;
	if (op->reply != NULL) {
		op_fail(j, "%s; run it again, or services reset to wipe the"
		    " node", (char *)op->reply);
		return;
	}
	kchan_send(j->w->parent, IMSG_TLS_REMOVE, 0, -1, NULL, 0);
	log_info("cluster delete: this node left cluster %s; it can join a"
	    " cluster again or make a new one", op->cluster_id);
	op_info_done(j, "", NS_C_NONE, -1);
	reconcile_soon(j);
}

static void
cd_polled(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	size_t		 i;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (atoi(PQgetvalue(res, 0, 0)) > 0 && ++op->count < 300) {
		cd_wait(j);
		return;
	}
	for (i = 0; i < NWIPE; i++)
		pq_query(j->db, wipe_steps[i], 0, NULL, i + 1 == NWIPE ?
		    cd_wiped : cd_step, j);
}

/* cluster delete's polls: one query, run again after a pause */
static struct {
	const char	*sql;
	pq_cb		 cb;
} cd_next;

static void
cd_poll(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	if (j->op != NULL)
		pq_query(j->db, cd_next.sql, 0, NULL, cd_next.cb, j);
}

static void
cd_later(struct joiner *j, const char *sql, pq_cb cb, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	cd_next.sql = sql;
	cd_next.cb = cb;
	event_base_once(j->w->base, -1, EV_TIMEOUT, cd_poll, j, &tv);
}

static void
cd_wait(struct joiner *j)
{
	cd_later(j, SQL_SUBS_RUNNING, cd_polled, 100);
}

static void
cd_disabled(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	j->op->count = 0;
	cd_wait(j);
}

static void
cd_disable(struct joiner *j)
{
	pq_query(j->db, "SELECT pglogical.alter_subscription_disable("
	    "sub_name, true) FROM pglogical.subscription", 0, NULL,
	    cd_disabled, j);
}

/*
 * A removed node's last writes: before its slots go, the nodes left take
 * its stream up to its fence, each confirming it and dropping its
 * subscription (see DRAINED), which ends its walsender here.  The ones
 * that have not after DRAIN_POLLS x 0.5 s are named, and nothing is
 * wiped: wiping would leave them without writes the other nodes have, or
 * unable to confirm them.  A node that is down and has taken them all
 * counts as done.  When no node that still lacks them is connected (no
 * slot of theirs active) for DRAIN_IDLE_POLLS x 0.5 s, longer than
 * pglogical takes to reconnect a live one, the answer comes then: those
 * nodes are down, and waiting longer changes nothing.
 */
#define DRAIN_POLLS		80
#define DRAIN_IDLE_POLLS	24
#define SQL_UNDRAINED \
	"SELECT count(*), coalesce(string_agg(n.host, ', ' ORDER BY n.host)," \
	" ''), count(*) FILTER (WHERE sl.active)" \
	" FROM pg_replication_slots sl, kmd_local l, kmd_nodes n WHERE" \
	" n.state <> '" NS_C_REMOVED "' AND sl.slot_name =" \
	" kmd_slot_name(l.node_id, n.node_id) AND (sl.active OR NOT" \
	" coalesce(sl.confirmed_flush_lsn >= l.fence_lsn, false))"

static void
cd_drain_polled(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (atoi(PQgetvalue(res, 0, 0)) == 0) {
		cd_disable(j);
		return;
	}
	j->op->idle = atoi(PQgetvalue(res, 0, 2)) > 0 ? 0 : j->op->idle + 1;
	if (++j->op->count < DRAIN_POLLS && j->op->idle < DRAIN_IDLE_POLLS) {
		cd_later(j, SQL_UNDRAINED, cd_drain_polled, 500);
		return;
	}
	op_fail(j, "node(s) %s have not taken this node's last writes yet;"
	    " deleting the cluster here now would leave them without writes"
	    " the other nodes have.  Bring them back and run cluster delete"
	    " again, or wipe this node anyway with services reset",
	    PQgetvalue(res, 0, 1));
}

static void
cd_fenced(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	log_info("cluster delete: this node is fenced; waiting for the nodes"
	    " left to take its last writes");
	j->op->count = 0;
	j->op->idle = 0;
	cd_later(j, SQL_UNDRAINED, cd_drain_polled, 0);
}

static void
cd_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	const char	*state;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		op_fail(j, "this node is in no cluster; there is nothing to"
		    " delete");
		return;
	}
	state = PQgetvalue(res, 0, 1);
	if (ns_parse(state) != NS_REMOVED && ns_parse(state) != NS_KILLED) {
		op_fail(j, "this node is still a member of cluster %s (node"
		    " %s, %s): remove it first with kmctl cluster nodes delete"
		    " --id=%s on another node, then run cluster delete here"
		    " (or wipe it with services reset)", PQgetvalue(res, 0, 2),
		    PQgetvalue(res, 0, 0), status_desc(state),
		    PQgetvalue(res, 0, 0));
		return;
	}
	kmd_strlcpy(j->op->cluster_id, PQgetvalue(res, 0, 2),
	    sizeof(j->op->cluster_id));
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
		pq_query(j->db, "SELECT kmd_fence()", 0, NULL, cd_fenced, j);
	else
		cd_disable(j);
}

int
joiner_cluster_delete(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	if (op_start(j, ch, m->hdr.reqid, "cluster delete") == NULL)
		return 0;
	return pq_query(j->db, "SELECT l.node_id, coalesce(l.join_state,"
	    " n.state, '" NS_C_UNKNOWN "'), l.cluster_id, coalesce(n.state ="
	    " '" NS_C_REMOVED "' AND"
	    " n.drain, false) FROM kmd_local l LEFT JOIN kmd_nodes n USING"
	    " (node_id)", 0, NULL, cd_checked, j);
}
