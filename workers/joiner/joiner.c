/*
 * joiner: the join coordinator.  It owns the node database's schema: at
 * start it creates the database if needed and applies the pending
 * migrations (common/schema.c), one transaction each.  Cluster
 * operations (new, csr, join and its five stages, removal) build on it.
 */
#include <event2/event.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "status.h"
#include "schema.h"
#include "util.h"

#define SQL_VERSION \
	"CREATE TABLE IF NOT EXISTS kmd_schema (version int NOT NULL);" \
	"INSERT INTO kmd_schema SELECT 0" \
	" WHERE NOT EXISTS (SELECT FROM kmd_schema);" \
	"SELECT version FROM kmd_schema"

static void	joiner_check_schema(struct joiner *);

static void
joiner_step_done(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;

	(void)db;
	if (!pq_ok(res)) {
		log_warnx("schema migration to version %d failed: %s",
		    j->migrating, res ? PQresultErrorMessage(res) :
		    pq_error(j->db));
		return;
	}
	log_info("database schema migrated to version %d", j->migrating);
	joiner_check_schema(j);
}

static void
joiner_version(struct pq *db, PGresult *res, void *arg)
{
	struct joiner		*j = arg;
	const struct migration	*m;
	char			 sql[16384];
	int			 v, n;

	if (!pq_ok(res) || PQntuples(res) != 1) {
		log_warnx("cannot read the schema version: %s", res ?
		    PQresultErrorMessage(res) : pq_error(db));
		return;
	}
	v = atoi(PQgetvalue(res, 0, 0));
	if ((n = schema_pending(v, &m)) == -1) {
		log_warnx("the database schema (version %d) is newer than this"
		    " kmd knows (%d); upgrade kmd", v, schema_latest());
		return;
	}
	if (n == 0) {
		if (!j->ready) {
			log_info("database schema is at version %d", v);
			joiner_tls_reinstall(j);
			join_interrupted(j);
		}
		j->ready = 1;
		return;
	}
	j->migrating = m->version;
	if (schema_step_sql(m, sql, sizeof(sql)) == -1)
		fatalx("%s: migration %d too long", __func__, m->version);
	pq_query(db, sql, 0, NULL, joiner_step_done, j);
}

static void
joiner_check_schema(struct joiner *j)
{
	pq_query(j->db, SQL_VERSION, 0, NULL, joiner_version, j);
}

static void
joiner_db_connected(struct pq *db, void *arg)
{
	(void)db;
	joiner_check_schema(arg);
}

static void
joiner_free_admin(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	pq_free(j->admin);
	j->admin = NULL;
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

/* The database exists: connect to it, drop the bootstrap connection. */
static void
joiner_open_db(struct joiner *j)
{
	if (j->db == NULL) {
		j->db = joiner_conn(j, "kmd-joiner", joiner_db_connected, j);
		/*
		 * A join's own connection: its steps may wait seconds on a
		 * member (dblink, pglogical), and logins and the other
		 * operations should not wait behind them.
		 */
		j->jdb = joiner_conn(j, "kmd-joiner-join", NULL, NULL);
		j->kdb = joiner_conn(j, "kmd-keys", NULL, NULL);
	}
	event_base_once(j->w->base, -1, EV_TIMEOUT, joiner_free_admin, j,
	    NULL);
}

static void
joiner_created(struct pq *db, PGresult *res, void *arg)
{
	const char	*state = res ? PQresultErrorField(res,
			    PG_DIAG_SQLSTATE) : NULL;

	if (!pq_ok(res) && (state == NULL || strcmp(state, "42P04") != 0)) {
		log_warnx("cannot create the database: %s", res ?
		    PQresultErrorMessage(res) : pq_error(db));
		return;
	}
	log_info("created the database %s", SCHEMA_DB);
	joiner_open_db(arg);
}

static void
joiner_db_exists(struct pq *db, PGresult *res, void *arg)
{
	if (!pq_ok(res)) {
		log_warnx("cannot look for the database: %s", res ?
		    PQresultErrorMessage(res) : pq_error(db));
		return;
	}
	if (PQntuples(res) == 1)
		joiner_open_db(arg);
	else
		pq_query(db, "CREATE DATABASE " SCHEMA_DB, 0, NULL,
		    joiner_created, arg);
}

static void
joiner_admin_connected(struct pq *db, void *arg)
{
	const char	*params[1] = { SCHEMA_DB };

	pq_query(db, "SELECT 1 FROM pg_database WHERE datname = $1", 1,
	    params, joiner_db_exists, arg);
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
	if (end) {
		free(j->op->reply);
		free(j->op);
		j->op = NULL;
	}
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
	free(op->reply);
	free(op);
	j->op = NULL;
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
 *     worker dies on a row that came both ways and its retry succeeds
 *     (a completing stage took 5.3 s, the 5 s of the crash).  Where the
 *     new worker fails too, the manager misses the notice of its exit
 *     while it waits for the worker to start, and sleeps 10 s or more:
 *     as the reconciler's way, check-faults (seed 1796471742, episodes 1
 *     and 2) had every node ready again 18.9 and 16.3 s after the fault
 *     ended, against 8.2 and 5.5 s.  A join kicks again every 2 s.
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
	}, {	/* on the peer $2 */
	"SELECT dblink_exec($2, format('SELECT"
	" pglogical.alter_subscription_disable(%1$L, true),"
	" pglogical.alter_subscription_enable(%1$L, true)', $1::text))",
	"SELECT dblink_exec($2, format('SELECT"
	" pglogical.alter_subscription_disable(%L, true)', $1::text))",
	"SELECT pg_sleep(" RESTART_GAP "), dblink_exec($2, format('SELECT"
	" pglogical.alter_subscription_enable(%L, true)', $1::text))"
	}
};

void
sub_restart(struct pq *db, const char *sub, const char *dsn, int clear)
{
	const char		*p[2] = { sub, dsn };
	const char *const	*sql = restart_sql[dsn != NULL];
	int			 n = dsn != NULL ? 2 : 1;

	if (!clear) {
		pq_query(db, sql[0], n, p, restarted, NULL);
		return;
	}
	pq_query(db, sql[1], n, p, restarted, NULL);
	pq_query(db, sql[2], n, p, restarted, NULL);
}

int
joiner_hsm_error(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker	*w = arg;
	struct joiner	*j = w->ctx;

	(void)ch;
	if (m->datalen == 0 || m->data[m->datalen - 1] != '\0')
		return -1;
	if (keys_hsm_error(j, m->hdr.reqid, (const char *)m->data))
		return 0;
	if (j->op != NULL && j->op->reqid == m->hdr.reqid)
		op_fail(j, "%s; nothing was changed", (const char *)m->data);
	else if (j->join != NULL && m->hdr.reqid != 0 &&
	    join_reqid(j->join) == m->hdr.reqid)
		join_hsm_refused(j, (const char *)m->data);
	else
		log_warnx("hsm: %s", (const char *)m->data);
	return 0;
}

static int
joiner_init(struct worker *w)
{
	struct joiner	*j;
	char		 ci[512];

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->w = w;
	w->ctx = j;
	TAILQ_INIT(&j->kreqs);
	snprintf(ci, sizeof(ci), "host=%s dbname=postgres user=kmd"
	    " application_name=kmd-joiner", w->conf.pgsock);
	j->admin = pq_new(w->base, ci, joiner_admin_connected, j);
	reconcile_start(j);
	return 0;
}

static void
joiner_fini(struct worker *w)
{
	struct joiner	*j = w->ctx;

	if (j->join != NULL)
		join_abandon(j);
	subs_drop_free(j);
	reconcile_free(j);
	pq_free(j->admin);
	pq_free(j->jdb);
	pq_free(j->kdb);
	keys_free(j);
	pq_free(j->db);
	free(j->op);
	free(j);
}

static const struct kmsg_handler joiner_handlers[] = {
	REQ_JOINER(OP_WORKER_ROW)
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
	{ IMSG_HSM_CLUSTER_CREATED, sizeof(struct hsm_created),
	    FROM(PROC_PARENT), joiner_hsm_created },
	{ IMSG_HSM_ERROR, KMSG_VARLEN, FROM(PROC_PARENT), joiner_hsm_error },
	{ IMSG_TLS_INSTALLED, sizeof(struct tls_result), FROM(PROC_PARENT),
	    joiner_tls_installed },
	{ IMSG_HSM_CSR_MADE, sizeof(struct hsm_csr_made), FROM(PROC_PARENT),
	    joiner_csr_made },
	{ IMSG_HSM_NODE_SIGNED, sizeof(struct hsm_node_signed),
	    FROM(PROC_PARENT), joiner_node_signed },
	{ IMSG_HSM_JOIN_OPENED, sizeof(struct hsm_join_opened),
	    FROM(PROC_PARENT), joiner_join_opened },
	{ IMSG_HSM_ROT_KEYS, sizeof(struct hsm_rot_keys), FROM(PROC_PARENT),
	    joiner_rot_keys },
	{ IMSG_HSM_REWRAPPED, sizeof(struct hsm_rewrap), FROM(PROC_PARENT),
	    joiner_rewrapped },
	{ IMSG_HSM_ROT_DELETED, sizeof(struct rotkeys_req), FROM(PROC_PARENT),
	    joiner_rot_deleted },
	{ IMSG_HSM_KEY_MADE, sizeof(struct hsm_key_made), FROM(PROC_PARENT),
	    joiner_key_made },
	{ IMSG_HSM_KEY_DONE, sizeof(struct key_crypt), FROM(PROC_PARENT),
	    joiner_key_done },
};

const struct worker_def joiner_worker = {
	PROC_JOINER, joiner_handlers,
	sizeof(joiner_handlers) / sizeof(joiner_handlers[0]), joiner_init,
	joiner_fini
};
