/*
 * op: what every joiner operation shares -- the one operation under way
 * (struct jop: start, refuse, fail, end), its calls to the hsm worker,
 * the node database's connections and DSN, and restarting a
 * subscription.  Below every other file of the joiner: it calls none of
 * them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "joiner.h"
#include "log.h"
#include "schema.h"
#include "status.h"
#include "util.h"

/* End the operation (its answer is sent); a call it waits on is dropped. */
void
op_end(struct joiner *j)
{
	if (j->op == NULL)
		return;
	kchan_cancel(j->w->parent, j->op->call);
	if (j->op->release != NULL)
		j->op->release(j->op);
	free(j->op->reply);
	free(j->op);
	j->op = NULL;
}

/* The hsm refused the operation's request (or the joiner is stopping). */
void
op_hsm_failed(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	(void)end;
	j->op->call = 0;
	op_fail(j, "%s; nothing was changed", why);
}

/* The list of root-of-trust keys: a count in range, strings ended. */
static int
rot_keys_terminated(const struct hsm_rot_keys *rk)
{
	int	 i;

	if (rk->n < 0 || rk->n > KMD_ROTKEYS_MAX)
		return 0;
	for (i = 0; i < rk->n; i++)
		if (!TERMINATED(rk->keys[i].id) || !TERMINATED(rk->keys[i].kind))
			return 0;
	return 1;
}

/*
 * Every answer to the joiner's calls (joiner.c's tables, made from
 * HSM_CALLS), and the parent's TLS result: its size and strings were
 * checked on arrival (kchan), but for the list of root-of-trust keys,
 * whose strings stand under a count; then the channel hands it to the
 * call that waits for it.
 */
int
joiner_hsm_answer(struct kchan *ch, struct kmsg *m, void *arg)
{
	if (m->hdr.type == IMSG_HSM_ROT_KEYS &&
	    !rot_keys_terminated((const void *)m->data))
		return -1;
	return kchan_reply(ch, m, arg);
}

/* The hsm answered the operation's call: on to the operation's step. */
static void
op_answered(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	j->op->call = 0;
	j->op->answer(j, m);
}

/* Each relayed call of the hsm: its answer's type, for kchan_call. */
static const struct {
	uint16_t		 type;
	struct kchan_exchange	 ex;
} op_exchanges[] = {
#define OP_EXCHANGE(q, ql, a, al, fn) \
	{ IMSG_##q, { IMSG_##a, 0, op_answered, op_hsm_failed } },
	HSM_RELAY_CALLS(OP_EXCHANGE)
};

/*
 * The operation's request to the hsm worker (through the parent): its
 * answer goes to answer(), a refusal fails the operation
 * (op_hsm_failed).  -1: it could not go, the operation has failed.
 */
int
op_call(struct joiner *j, uint16_t type, const void *data, size_t len,
    op_answer_fn answer)
{
	const struct kchan_exchange	*ex = NULL;
	size_t				 i;

	for (i = 0; i < nitems(op_exchanges); i++)
		if (op_exchanges[i].type == type)
			ex = &op_exchanges[i].ex;
	if (ex == NULL)
		fatalx("%s: %s is no call of the hsm", __func__,
		    imsg_type_name(type));
	j->op->answer = answer;
	if ((j->op->call = kchan_call(j->w->parent, type, -1, data, len, ex,
	    j)) == 0) {
		op_fail(j, "cannot reach the hsm worker; nothing was changed");
		return -1;
	}
	return 0;
}

/* A connection of its own to the node database, named for pg_stat_activity. */
struct pq *
joiner_conn(struct joiner *j, const char *name, void (*cb)(struct pq *, void *),
    void *arg)
{
	char	 ci[512];

	snprintf(ci, sizeof(ci), "host=%s dbname=%s user=kmd"
	    " application_name=%s", j->w->conf.pgsock, SCHEMA_DB, name);
	return pq_new(j->w->base, ci, cb, arg);
}

/* Tell the client why the operation failed; end it when `end`. */
void
op_error(struct joiner *j, int end, const char *fmt, ...)
{
	char		 msg[KMD_ERR_MAX];
	const char	*what = j->op != NULL ? j->op->what : "cluster";
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("%s: %s", what, msg);
	if (j->op == NULL)
		return;
	kchan_senderr(j->w->parent, j->op->reqid, "%s: %s", what, msg);
	j->op->failed = 1;
	if (end)
		op_end(j);
}

/*
 * The DSN this node's pglogical node is made with: the local socket.
 * pglogical connects to its own node through it (the initial copy goes
 * in that way); peers use their own DSN for this node, over TLS.
 */
void
local_dsn(struct joiner *j, char *buf, size_t len)
{
	snprintf(buf, len, "host=%s dbname=%s user=kmd", j->w->conf.pgsock,
	    SCHEMA_DB);
}

/*
 * The answer to "SELECT (SELECT node_id FROM kmd_local), ...": go on
 * (0) only if the operation is still wanted and this node is in no
 * cluster; otherwise the client has its error (-1).
 */
int
op_unclustered(struct joiner *j, PGresult *res, const char *what_then)
{
	if (j->op == NULL)
		return -1;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		op_fail(j, "%s", pq_msg(j, res));
		return -1;
	}
	if (!PQgetisnull(res, 0, 0)) {
		op_fail(j, "this node is already in a cluster (node %s); %s"
		    HOW_TO_LEAVE, PQgetvalue(res, 0, 0), what_then);
		return -1;
	}
	return 0;
}

/*
 * A query's answer for the operation under way: 0 to go on; -1 when the
 * operation is gone or the query failed (the client has its error).
 */
int
op_result(struct joiner *j, PGresult *res)
{
	if (j->op == NULL)
		return -1;
	if (!pq_ok(res)) {
		op_fail(j, "%s", pq_msg(j, res));
		return -1;
	}
	return 0;
}

/* End the operation: its answer is this node's cluster info. */
void
op_info_done(struct joiner *j, const char *nodeid, const char *code,
    int count)
{
	struct cluster_info	 ci;
	struct jop		*op = j->op;

	memset(&ci, 0, sizeof(ci));
	kmd_strlcpy(ci.nodeid, nodeid, sizeof(ci.nodeid));
	kmd_strlcpy(ci.code, code, sizeof(ci.code));
	kmd_strlcpy(ci.desc, status_desc(code), sizeof(ci.desc));
	ci.nodecount = count;
	kchan_send(j->w->parent, IMSG_CLUSTER_INFO_REPLY, op->reqid, -1, &ci,
	    sizeof(ci));
	kchan_send(j->w->parent, IMSG_CTL_END, op->reqid, -1, NULL, 0);
	op_end(j);
}

const char *
pq_msg(struct joiner *j, PGresult *res)
{
	return res != NULL ? PQresultErrorMessage(res) : pq_error(j->db);
}

/*
 * Start an operation, or say why not: the database is not ready, or
 * another operation is under way (they are serialized).  NULL: refused,
 * the client has its error.
 */
int
op_busy(struct joiner *j, struct kchan *ch, uint32_t reqid, const char *what)
{
	if (!j->ready) {
		kchan_senderr(ch, reqid, "%s: the node database is not ready"
		    " yet; try again in a few seconds", what);
		return -1;
	}
	if (j->join != NULL) {
		kchan_senderr(ch, reqid, "%s: a cluster join is under way on"
		    " this node; try again when it has finished", what);
		return -1;
	}
	if (j->op != NULL) {
		kchan_senderr(ch, reqid, "%s: another cluster operation (%s)"
		    " is under way on this node; try again when it has"
		    " finished", what, j->op->what);
		return -1;
	}
	return 0;
}

/*
 * --host must be this node's kmd.conf host, the address peers reach its
 * PostgreSQL at; pubaddr (len bytes) defaults to it.  -1: refused.
 */
int
own_host(struct joiner *j, struct kchan *ch, uint32_t reqid,
    const char *what, const char *host, char *pubaddr, size_t len)
{
	if (strcmp(host, j->w->conf.host) != 0) {
		kchan_senderr(ch, reqid, "%s: --host=%s is not this node's"
		    " address; peers reach it at %s (host in kmd.conf)", what,
		    host, j->w->conf.host);
		return -1;
	}
	if (pubaddr[0] == '\0')
		kmd_strlcpy(pubaddr, host, len);
	return 0;
}

struct jop *
op_start(struct joiner *j, struct kchan *ch, uint32_t reqid,
    const char *what)
{
	if (op_busy(j, ch, reqid, what) == -1)
		return NULL;
	if ((j->op = calloc(1, sizeof(*j->op))) == NULL)
		fatal("%s", __func__);
	j->op->reqid = reqid;
	j->op->what = what;
	return j->op;
}

static void
restarted(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)arg;
	if (!pq_ok(res))
		log_debug("restarting a subscription: %s", res ?
		    PQresultErrorMessage(res) : "no connection");
}

/*
 * Restart a subscription whose apply worker died (an error on a row that
 * came through two subscriptions, or from a local write, at the same
 * moment): pglogical's manager would notice only when it next wakes, up
 * to minutes later.  With a DSN, the subscription is a peer's, and
 * dblink carries the statements there.
 *
 * Two ways, since pglogical's manager restarts a crashed worker only 5 s
 * after the crash:
 *   - one statement, disable and enable (an immediate disable is refused
 *     in a transaction block): the manager then finds the crashed worker
 *     in place and keeps to its 5 s.  The reconciler's way: a worker
 *     that failed on a peer out of reach tries again in 5 s, and the
 *     manager is not left asleep (below);
 *   - clear: disable; the manager, woken by that commit, forgets the
 *     crashed worker while the subscription is off; the enable, after
 *     RESTART_GAP, starts a new one at once.  A join's way, where a
 *     worker dies on a row that came both ways and its retry succeeds,
 *     so that the stage does not wait out the manager's 5 s.  Where the
 *     new worker fails too, the manager misses the notice of its exit
 *     while it waits for the worker to start, and sleeps 10 s or more:
 *     so the reconciler, whose workers may fail again on a peer still
 *     out of reach, keeps the first way.  A join kicks again every 2 s.
 * Both statements of the second way go on db's queue in order, so no
 * state is kept here.
 */
#define RESTART_GAP	"0.2"		/* seconds */

static const char *const restart_sql[2][3] = {
	{	/* here: $1, the subscription */
	"SELECT pglogical.alter_subscription_disable($1, true),"
	" pglogical.alter_subscription_enable($1, true)",
	"SELECT pglogical.alter_subscription_disable($1, true)",
	"SELECT pg_sleep(" RESTART_GAP "),"
	" pglogical.alter_subscription_enable($1, true)"
	}, {	/* on the peer $1, its subscription to this node */
	"SELECT x FROM dblink($1, 'SELECT kmd_peer_sub_restart(''both'')')"
	" AS t(x text)",
	"SELECT x FROM dblink($1, 'SELECT kmd_peer_sub_restart(''disable'')')"
	" AS t(x text)",
	"SELECT pg_sleep(" RESTART_GAP "), x FROM dblink($1,"
	" 'SELECT kmd_peer_sub_restart(''enable'')') AS t(x text)"
	}
};

/*
 * sub: a subscription of this node's; or, with dsn, the peer's
 * subscription to this node (PEER_SUB_RESTART: the peer names it).
 */
void
sub_restart(struct pq *db, const char *sub, const char *dsn, int clear)
{
	const char		*p[1] = { dsn != NULL ? dsn : sub };
	const char *const	*sql = restart_sql[dsn != NULL];
	int			 n = 1;

	if (!clear) {
		pq_query(db, sql[0], n, p, restarted, NULL);
		return;
	}
	pq_query(db, sql[1], n, p, restarted, NULL);
	pq_query(db, sql[2], n, p, restarted, NULL);
}


void
peer_dsn(const char *host, char *out, size_t len)
{
	snprintf(out, len, PEER_DSN, host);
}

int
valid_host(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-:_", *s) != NULL))
			return 0;
	return 1;
}

void
sbuf_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, b->s !=
		    NULL ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatalx("%s: vsnprintf", __func__);
		if (b->s != NULL && b->len + (size_t)n < b->cap)
			break;
		b->cap = (b->len + (size_t)n + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			fatal("%s", __func__);
	}
	b->len += (size_t)n;
}

/* A random UUID (version 4): a new row's id, a lease's token. */
void
random_uuid(char *out, size_t len)
{
	uint8_t	 h[16];

	randombytes_buf(h, sizeof(h));
	h[6] = (h[6] & 0x0f) | 0x40;
	h[8] = (h[8] & 0x3f) | 0x80;
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5],
	    h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}
