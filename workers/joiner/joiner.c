/*
 * joiner: the join coordinator.  It owns the node database's schema: at
 * start it creates the database if needed and applies the pending
 * migrations (common/schema.c), one transaction each.  Cluster
 * operations (new, csr, join and its five stages, removal) build on it.
 * This file is the entry point, the handler table and the context; what
 * the operations share is in op.c.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "pwhash.h"
#include "util.h"

static void
joiner_db_connected(struct pq *db, void *arg)
{
	(void)db;
	migrate_start(arg);
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
		j->kdb = joiner_conn(j, "kmd-keys", keycache_connected, j);
	}
	pq_free_later(j->w->base, j->admin);
	j->admin = NULL;
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

/*
 * The hsm refused a request (or the parent did, for it): the call that
 * waits for it hears why.  Nothing waits for one made at start (TLS).
 */
int
joiner_hsm_error(struct kchan *ch, struct kmsg *m, void *arg)
{
	if (m->datalen == 0 || m->data[m->datalen - 1] != '\0')
		return -1;
	if (!kchan_waiting(ch, m->hdr.reqid)) {
		log_warnx("hsm: %s", (const char *)m->data);
		return 0;
	}
	return kchan_reply(ch, m, arg);
}

/* The answers on the link to the hsm (HSM_LINK_CALLS). */
#define JOINER_LINK_ROW(q, ql, a, al, fn) \
	{ IMSG_##a, al, FROM(PROC_HSM), joiner_hsm_answer },
static const struct kmsg_handler joiner_link_handlers[] = {
	HSM_LINK_CALLS(JOINER_LINK_ROW)
	{ IMSG_HSM_ERROR, KMSG_VARLEN, FROM(PROC_HSM), joiner_hsm_error },
};

/* The parent's new link to the hsm (it or this process started). */
static int
joiner_hsm_link(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	if (kchan_link(&j->hsm, j->w->base, m, PROC_HSM, joiner_link_handlers,
	    nitems(joiner_link_handlers), j) == -1)
		return -1;
	/* ids never met on an earlier link: a kreq's cancel finds its own */
	kchan_calls(j->hsm, IMSG_HSM_ERROR, (uint32_t)mono_now() << 12);
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
	/*
	 * The hsm's answers find their call by id: after a restart of this
	 * process, a late answer to the one before must not meet a new
	 * call under the same id, so the ids start from the clock.
	 */
	kchan_calls(w->parent, IMSG_HSM_ERROR, (uint32_t)mono_now() << 12);
	snprintf(ci, sizeof(ci), "host=%s dbname=postgres user=kmd"
	    " application_name=kmd-joiner", w->conf.pgsock);
	j->admin = pq_new(w->base, ci, joiner_admin_connected, j);
	reconcile_start(j);
	users_watch_start(j);
	if (pwhash_attach(w) == -1)
		return -1;
	return 0;
}

static void
joiner_fini(struct worker *w)
{
	struct joiner	*j = w->ctx;

	if (j->join != NULL)
		join_abandon(j);
	health_stop(j);
	subs_drop_free(j);
	reconcile_free(j);
	users_watch_free(j);
	peers_free(j);
	kchan_free(j->hsm);
	pq_free(j->admin);
	pq_free(j->jdb);
	pq_free(j->kdb);
	keys_free(j);
	kbatch_free(j);
	keycache_free();
	pq_free(j->db);
	if (j->retry != NULL)
		event_free(j->retry);
	op_end(j);
	free(j);
}

/* The answers to the joiner's relayed calls of the hsm (op.c). */
#define JOINER_ANSWER_ROW(q, ql, a, al, fn) \
	{ IMSG_##a, al, FROM(PROC_PARENT), joiner_hsm_answer },
static const struct kmsg_handler joiner_handlers[] = {
	REQ_JOINER(OP_WORKER_ROW)
	{ IMSG_CONF_VERBOSE, sizeof(struct conf_reload), FROM(PROC_PARENT),
	    worker_conf_reload },
	HSM_RELAY_CALLS(JOINER_ANSWER_ROW)
	{ IMSG_HSM_ERROR, KMSG_VARLEN, FROM(PROC_PARENT), joiner_hsm_error },
	{ IMSG_HSM_LINK, 0, FROM(PROC_PARENT), joiner_hsm_link },
	{ IMSG_TLS_INSTALLED, sizeof(struct tls_result), FROM(PROC_PARENT),
	    joiner_hsm_answer },
	{ IMSG_PEERS_ALLOWED, sizeof(struct peers_allowed), FROM(PROC_PARENT),
	    joiner_hsm_answer },
};

const struct worker_def joiner_worker = {
	PROC_JOINER, joiner_handlers,
	sizeof(joiner_handlers) / sizeof(joiner_handlers[0]), joiner_init,
	joiner_fini, pwhash_start
};
