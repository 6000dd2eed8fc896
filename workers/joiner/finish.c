/*
 * kmctl cluster upgrade finish: the cluster part of the schema step every
 * node's kmd now knows (C + 1), taken on every node at once.
 *
 * In this mesh each node subscribes to every other with forward_origins
 * '{}', so a DDL queued by one node (pglogical.replicate_ddl_command)
 * reaches each other node straight from it, at that node's own moment;
 * a row with a new column written by a node that has it would fail to
 * apply on one that has not.  So, under the membership lease (every
 * voter's grant: every ready node takes part):
 *   1. check: every ready node runs this kmd, which knows C + 1;
 *   2. pause: on every node, writes wait (kmd_peer_pause(): at most
 *      PAUSE_S, so a finish that dies leaves no node paused for good),
 *      those under way are waited for, and a marker is written;
 *   3. drain: every node has every other node's marker, so every write
 *      made before the pause has arrived everywhere;
 *   4. apply: in one transaction here, the step's DDL and C + 1 in
 *      kmd_schema queued to the mesh's replication set and run here,
 *      and kmd_cluster.schema_version moved on: each node applies the
 *      three together, in the order of this node's stream;
 *   5. wait until every node's kmd_schema is C + 1, then resume.
 * A failure before 4 resumes the writes and changes nothing.  After 4
 * the step is committed: a node that has not applied it when the wait
 * ends (down, or far behind) applies it as its replication catches up,
 * before any row of this node's written after it.
 */
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "joiner.h"
#include "lease.h"
#include "log.h"
#include "schema.h"
#include "util.h"

#define PAUSE_S		"20"	/* a node's writes wait this long at most */
#define DRAIN_MS	10000	/* every marker everywhere within */
#define APPLY_MS	12000	/* every node at C + 1 within */
#define FINISH_POLL_MS	100
static const char	finish_what[] = "cluster upgrade finish";

/*
 * The refusals' facts: the committed schema, this node's state, and the
 * ready nodes that run another kmd than this one ($1).
 */
#define SQL_FINISH_CHECK \
	"SELECT c.schema_version, me.state, (SELECT string_agg(n.host ||" \
	" ' (kmd ' || coalesce(n.version, 'unknown') || ')', ', ' ORDER BY" \
	" n.joined_at) FROM kmd_nodes n WHERE n.state = '" NS_C_READY "' AND" \
	" n.version IS DISTINCT FROM $1) AS behind FROM kmd_local l JOIN" \
	" kmd_cluster c USING (cluster_id) JOIN kmd_nodes me ON me.node_id =" \
	" l.node_id"

/* What a finish that died left: markers of no node's join or beat. */
#define SQL_OLD_MARKERS \
	"DELETE FROM kmd_join_markers m WHERE NOT EXISTS (SELECT FROM" \
	" kmd_nodes n WHERE n.node_id = m.join_id) AND m.join_id <>" \
	" kmd_beat_id(m.origin)"

static void	finish_checked(struct pq *, PGresult *, void *);
static void	finish_paused(struct pq *, PGresult *, void *);
static void	finish_drain(evutil_socket_t, short, void *);
static void	finish_drained(struct pq *, PGresult *, void *);
static void	finish_applied(struct pq *, PGresult *, void *);
static void	finish_wait(evutil_socket_t, short, void *);
static void	finish_waited(struct pq *, PGresult *, void *);
static void	finish_reply(struct joiner *);

/* The operation under way is this finish, still holding its lease. */
static int
finishing(struct joiner *j)
{
	return j->op != NULL && j->op->what == finish_what &&
	    j->op->lease != NULL;
}

/*
 * One SQL statement that runs call (a format() of the token, %L) on every
 * voter through dblink, a row (id, x) each, x of type type.
 */
static void
on_voters(struct jop *op, struct sbuf *b, const char *call, const char *type)
{
	struct lease	*l = op->lease;
	int		 i;

	for (i = 0; i < l->nvoters; i++)
		sbuf_add(b, "%sSELECT '%s' AS id, x FROM dblink('%s', format('%s',"
		    " '%s')) AS t(x %s)", i ? " UNION ALL " : "",
		    l->voters[i].id, l->voters[i].dsn, call, op->lease->token,
		    type);
}

/* Writes resumed on every node (best effort: a pause lapses anyway). */
static void
finish_resume(struct joiner *j)
{
	struct sbuf	 b = { NULL, 0, 0 };
	const char	*p[1] = { j->op->lease->token };

	on_voters(j->op, &b, "SELECT kmd_peer_pause(%L, 0)", "text");
	pq_query(j->jdb, b.s, 0, NULL, jq_ignore, NULL);
	free(b.s);
	pq_query(j->jdb, "DELETE FROM kmd_join_markers WHERE join_id = $1",
	    1, p, jq_ignore, NULL);
}

/*
 * Refused or failed before the step was committed: nothing changed.  A
 * database error comes as pq_why() gives it, its primary message alone:
 * its CONTEXT lines (a dblink's whole query) would push "nothing was
 * changed" past the message's end.
 */
static void
finish_abort(struct joiner *j, const char *why, const char *detail)
{
	if (j->op->paused != 0)
		finish_resume(j);
	op_fail(j, "%s%s%s; writes resumed; nothing was changed", why,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

static void
finish_check(struct joiner *j)
{
	const char	*p[1] = { KMD_VERSION };

	pq_query(j->jdb, SQL_FINISH_CHECK, 1, p, finish_checked, j);
}

static void
finish_checked(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	struct sbuf	 b = { NULL, 0, 0 };
	int		 committed;

	(void)db;
	if (op_result(j, res) == -1)
		return;
	if (PQntuples(res) != 1) {
		op_fail(j, "this node is in no cluster: a node alone takes"
		    " every schema step its kmd knows at start; nothing to"
		    " finish");
		return;
	}
	committed = atoi(PQgetvalue(res, 0, 0));
	op->target = committed + 1;
	if (committed >= schema_latest()) {
		op_fail(j, "no upgrade to finish: the cluster is at schema %d,"
		    " the newest this kmd (%s) knows; nothing was changed",
		    committed, KMD_VERSION);
		return;
	}
	if (ns_parse(PQgetvalue(res, 0, 1)) != NS_READY) {
		op_fail(j, "this node is not ready; run it on a ready member");
		return;
	}
	if (!PQgetisnull(res, 0, 2)) {
		op_fail(j, "not every node runs kmd %s (schema %d): %s; restart"
		    " each of those on kmd %s, one at a time, then finish;"
		    " nothing was changed", KMD_VERSION, op->target,
		    PQgetvalue(res, 0, 2), KMD_VERSION);
		return;
	}
	if (op->lease == NULL) {
		op_fail(j, "this node holds no membership lease");
		return;
	}
	log_info("upgrade finish: pausing the writes of %d node(s) for schema"
	    " %d", op->lease->nvoters, op->target);
	pq_query(j->jdb, SQL_OLD_MARKERS, 0, NULL, jq_ignore, NULL);
	op->paused = mono_ms();
	sbuf_add(&b, "SELECT count(*) FROM (");
	on_voters(op, &b, "SELECT kmd_peer_pause(%L, " PAUSE_S ")",
	    "text");
	sbuf_add(&b, ") v");
	pq_query(j->jdb, b.s, 0, NULL, finish_paused, j);
	free(b.s);
}

/*
 * A step's answer: 1 to go on; 0 when the finish is gone, or the step
 * failed (rollback: its transaction left open) and the finish is ended.
 */
static int
finish_step(struct joiner *j, PGresult *res, const char *what, int rollback)
{
	if (!finishing(j))
		return 0;
	if (pq_ok(res))
		return 1;
	if (rollback)
		pq_query(j->jdb, "ROLLBACK", 0, NULL, jq_ignore, NULL);
	finish_abort(j, what, pq_why(j->jdb, res));
	return 0;
}

static void
finish_paused(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	if (finish_step(arg, res, "pausing the writes", 0))
		finish_drain(-1, 0, arg);
}

static void
finish_later(struct joiner *j, event_callback_fn fn)
{
	struct timeval	 tv = { 0, FINISH_POLL_MS * 1000 };

	event_base_once(j->w->base, -1, EV_TIMEOUT, fn, j, &tv);
}

/*
 * A poll of every voter: call there answers x (of type type); cb gets the
 * ids of those whose x is below want, or NULL when none is.
 */
static void
finish_poll(struct joiner *j, const char *call, const char *type, int want,
    pq_cb cb)
{
	struct sbuf	 b = { NULL, 0, 0 };

	sbuf_add(&b, "SELECT string_agg(id, ', ') FILTER (WHERE x < %d) FROM"
	    " (", want);
	on_voters(j->op, &b, call, type);
	sbuf_add(&b, ") v");
	pq_query(j->jdb, b.s, 0, NULL, cb, j);
	free(b.s);
}

/* Every node has every other node's marker of this pause. */
static void
finish_drain(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	if (finishing(j))
		finish_poll(j, "SELECT kmd_peer_pause_marks(%L)", "bigint",
		    j->op->lease->nvoters - 1, finish_drained);
}

static void
finish_drained(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	struct sbuf	 b = { NULL, 0, 0 };
	const struct migration *m;

	if (!finishing(j))
		return;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		finish_abort(j, "waiting for every node's last writes",
		    pq_why(db, res));
		return;
	}
	if (!PQgetisnull(res, 0, 0)) {
		if (mono_ms() - op->paused < DRAIN_MS) {
			finish_later(j, finish_drain);
			return;
		}
		finish_abort(j, "some node has not received every other node's"
		    " writes in time (a node out of reach, or replication"
		    " behind); lagging", PQgetvalue(res, 0, 0));
		return;
	}
	if (schema_pending(op->target - 1, &m) <= 0 || m->version !=
	    op->target) {
		finish_abort(j, "this kmd has no schema step to take", NULL);
		return;
	}
	/* the step and the committed schema, in one transaction */
	sbuf_add(&b, "BEGIN; SET LOCAL kmd.finishing = 'on'; SELECT"
	    " kmd_lease_check('%s'); SELECT pglogical.replicate_ddl_command("
	    "$kmd_step$%sUPDATE public.kmd_schema SET version = %d;$kmd_step$,"
	    " '{default}'); UPDATE kmd_cluster SET schema_version = %d,"
	    " kmd_version = '%s'; COMMIT", op->lease->token, m->cluster != NULL
	    ? m->cluster : "", op->target, op->target, KMD_VERSION);
	log_info("upgrade finish: every node's writes drained in %lld ms;"
	    " taking schema %d", (long long)(mono_ms() - op->paused),
	    op->target);
	pq_query(j->jdb, b.s, 0, NULL, finish_applied, j);
	free(b.s);
}

static void
finish_applied(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	if (finish_step(arg, res, "taking the step", 1))
		finish_wait(-1, 0, arg);
}

/* Every node's kmd_schema at the step. */
static void
finish_wait(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	if (finishing(j))
		finish_poll(j, "SELECT kmd_peer_schema()", "int", j->op->target,
		    finish_waited);
}

static void
finish_waited(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	int64_t		 now = mono_ms();
	char		 msg[KMD_ERR_MAX], lag[KMD_ERR_MAX];
	int		 answered;

	if (!finishing(j))
		return;
	/* a node out of reach fails the whole query: it may come back */
	answered = pq_ok(res) && PQntuples(res) == 1;
	if ((!answered || !PQgetisnull(res, 0, 0)) &&
	    now - op->paused < APPLY_MS) {
		finish_later(j, finish_wait);
		return;
	}
	finish_resume(j);
	if (!answered || !PQgetisnull(res, 0, 0)) {
		if (answered)
			snprintf(lag, sizeof(lag), "node(s) %s",
			    PQgetvalue(res, 0, 0));
		else
			snprintf(lag, sizeof(lag), "a node out of reach: %s",
			    pq_why(db, res));
		op_fail(j, "schema %d is committed, but not every node has"
		    " applied it within %d ms (%s): each does as its"
		    " replication catches up; cluster upgrade status shows"
		    " them; writes resumed", op->target, APPLY_MS, lag);
		return;
	}
	snprintf(msg, sizeof(msg), "upgrade finished: the cluster is at"
	    " schema %d on its %d node(s); writes were paused for %lld ms;"
	    " %lld ms in all", op->target, op->lease->nvoters,
	    (long long)(now - op->paused), (long long)(now - op->started));
	log_info("%s", msg);
	op->reply = strdup(msg);
	op_lease_end(j, finish_reply);
}

/* The lease given back: the answer is the upgrade status, with the account. */
static void
finish_reply(struct joiner *j)
{
	upgrade_status(j, j->op->reqid, j->op->reply);
	op_end(j);
}

int
joiner_upgrade_finish(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	if (op_start(j, ch, m->hdr.reqid, finish_what) == NULL)
		return 0;
	j->op->started = mono_ms();
	op_lease(j, FINISH_KIND, NULL, LEASE_ALL, finish_check);
	return 0;
}
