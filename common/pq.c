#include <sys/queue.h>

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pq.h"
#include "util.h"

#define PQ_PARAMS_MAX	16
#define PQ_RETRY_MAX	4
/*
 * A write refused while cluster upgrade finish pauses the node's writes
 * (kmd_write_pause(): SQLSTATE 40001, nothing done) is sent again every
 * PQ_PAUSE_MS, for PQ_PAUSE_MAX_MS at most (a pause lasts 20 s at most):
 * to kmd's clients the pause is a wait.  Only a statement with
 * parameters, one statement of its own, is sent again.
 */
#define PQ_PAUSE_MS	50
#define PQ_PAUSE_MAX_MS	30000
/*
 * pq_prepared()'s statements are parsed and planned once a connection (a
 * statement with parameters: once the planner finds its generic plan as
 * good), not at every sending; PQ_STMTS_MAX of them, then as pq_query().
 */
#define PQ_STMTS_MAX	16

struct pq_req {
	TAILQ_ENTRY(pq_req)	 entry;
	char			*sql;
	int			 nparams;
	char			*params[PQ_PARAMS_MAX];
	pq_cb			 cb;
	pq_row_cb		 row;		/* COPY TO STDOUT's rows */
	pq_feed_cb		 feed;		/* COPY FROM STDIN's data */
	void			*arg;
	int64_t			 paused;	/* ms: first refused, or 0 */
	int			 prep;		/* pq_prepared()'s */
	int			 replanned;	/* sent again once, see pq_stale */
};

struct pq_stmt {
	char			*sql;		/* NULL: a free place */
	char			 name[16];
	int			 ready;		/* prepared on this connection */
};

struct pq {
	struct event_base	*base;
	char			*conninfo;
	PGconn			*conn;
	int			 connected;
	struct event		*ev;		/* on PQsocket() */
	struct event		*retry;
	struct event		*resend;	/* a paused write's */
	int			 held;		/* ... is due */
	int			 backoff;
	char			 err[256];
	TAILQ_HEAD(, pq_req)	 queue;
	struct pq_req		*inflight;
	int			 copying;	/* PGRES_COPY_OUT|IN, or 0 */
	int			 fed;		/* the feed gave or ended */
	int			 dead;		/* pq_free_later'd: silent */
	PGresult		*last;
	void			(*on_connect)(struct pq *, void *);
	void			*arg;
	pq_notify_cb		 on_notify;	/* LISTEN's notifications */
	void			*notify_arg;
	struct pq_stmt		 stmts[PQ_STMTS_MAX];
	unsigned		 stmt_seq;	/* names statements */
	struct pq_stmt		*preparing;	/* its Parse is in flight */
};

static void	pq_connect(struct pq *);
static void	pq_next(struct pq *);
static int	pq_hold(struct pq *, struct pq_req *);
static void	pq_io(evutil_socket_t, short, void *);

int
pq_ok(const PGresult *r)
{
	ExecStatusType	 s;

	if (r == NULL)
		return 0;
	s = PQresultStatus(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/*
 * A field of a result by its column's name, so that a query and the code
 * that reads it agree on names rather than on positions.  A column or
 * row that is not there is the caller's bug: logged, read as "" (as
 * libpq reads NULL), never a NULL pointer.
 */
const char *
pq_get(const PGresult *r, int row, const char *col)
{
	int	 c;

	if (r == NULL || (c = PQfnumber(r, col)) < 0 || row < 0 ||
	    row >= PQntuples(r)) {
		log_warnx("%s: no field %s in row %d", __func__, col, row);
		return "";
	}
	return PQgetvalue(r, row, c);
}

/* Whether a field is NULL; one that is not there counts as NULL. */
int
pq_null(const PGresult *r, int row, const char *col)
{
	int	 c;

	if (r == NULL || (c = PQfnumber(r, col)) < 0 || row < 0 ||
	    row >= PQntuples(r)) {
		log_warnx("%s: no field %s in row %d", __func__, col, row);
		return 1;
	}
	return PQgetisnull(r, row, c);
}

static void
pq_free_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	pq_free(arg);
}

/*
 * Free db once the callback under way has returned: a query's callback
 * may end the connection its answer came on.  From now on no callback
 * of db's is called (their argument may be freed with the caller's
 * state), not even for what comes in the loop under way.
 */
void
pq_free_later(struct event_base *base, struct pq *db)
{
	if (db == NULL)
		return;
	db->dead = 1;
	if (db->ev != NULL)
		event_del(db->ev);
	evtimer_del(db->retry);
	evtimer_del(db->resend);
	if (event_base_once(base, -1, EV_TIMEOUT, pq_free_cb, db, NULL) == -1)
		fatalx("%s: event_base_once", __func__);
}

int
pq_connected(const struct pq *db)
{
	return db->connected;
}

const char *
pq_error(const struct pq *db)
{
	return db->err;
}

/*
 * Why a query failed, on one line for a log: its result's primary
 * message (no CONTEXT of the function that raised it), else what the
 * connection said.
 */
const char *
pq_why(const struct pq *db, const PGresult *res)
{
	const char	*m;

	if (res != NULL &&
	    (m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) != NULL)
		return m;
	return db->err;
}

static void
pq_req_free(struct pq_req *r)
{
	int	 i;

	for (i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r->sql);
	free(r);
}

/*
 * Watch the socket for what libpq waits for.  The event is kept while
 * nothing changes: a query costs no event_new/event_free.
 */
static void
pq_watch(struct pq *db, short what, event_callback_fn fn)
{
	if (db->ev != NULL && event_get_events(db->ev) == what &&
	    event_get_callback(db->ev) == fn &&
	    event_get_fd(db->ev) == PQsocket(db->conn))
		return;
	if (db->ev != NULL)
		event_free(db->ev);
	db->ev = event_new(db->base, PQsocket(db->conn), what, fn, db);
	if (db->ev == NULL || event_add(db->ev, NULL) == -1)
		fatalx("%s: event_new", __func__);
}

/* sql's prepared statement on db: found, or (make) made; else NULL. */
static struct pq_stmt *
pq_stmt(struct pq *db, const char *sql, int make)
{
	struct pq_stmt	*free_st = NULL;
	int		 i;

	for (i = 0; i < PQ_STMTS_MAX; i++) {
		if (db->stmts[i].sql == NULL) {
			if (free_st == NULL)
				free_st = &db->stmts[i];
		} else if (strcmp(db->stmts[i].sql, sql) == 0)
			return &db->stmts[i];
	}
	if (!make || free_st == NULL)
		return NULL;
	if ((free_st->sql = strdup(sql)) == NULL)
		fatal("%s", __func__);
	snprintf(free_st->name, sizeof(free_st->name), "kmd_%u",
	    db->stmt_seq++);
	free_st->ready = 0;
	return free_st;
}

/*
 * Forget st: prepared again, under a new name, when next used (the old
 * one, if the server still has it, goes with the connection).
 */
static void
pq_stmt_forget(struct pq_stmt *st)
{
	free(st->sql);
	st->sql = NULL;
	st->ready = 0;
}

/* r goes out again, first in the queue; its last answer is dropped. */
static int
pq_again(struct pq *db, struct pq_req *r)
{
	PQclear(db->last);
	db->last = NULL;
	TAILQ_INSERT_HEAD(&db->queue, r, entry);
	pq_next(db);
	return 1;
}

/*
 * r's prepared statement no longer fits ("cached plan must not change
 * result type", 0A000) or is gone (26000): prepared again, r sent once
 * more (1).  Anything else is r's answer (0).
 */
static int
pq_stale(struct pq *db, struct pq_req *r)
{
	struct pq_stmt	*st;
	const char	*state;

	state = db->last != NULL ? PQresultErrorField(db->last,
	    PG_DIAG_SQLSTATE) : NULL;
	if (!r->prep || r->replanned || state == NULL ||
	    (strcmp(state, "0A000") != 0 && strcmp(state, "26000") != 0) ||
	    (st = pq_stmt(db, r->sql, 0)) == NULL)
		return 0;
	pq_stmt_forget(st);
	r->replanned = 1;
	return pq_again(db, r);
}

/*
 * The Parse of r's statement was answered: prepared, r goes out by name
 * (1); refused, the refusal is r's answer (0).
 */
static int
pq_parsed(struct pq *db, struct pq_req *r)
{
	struct pq_stmt	*st = db->preparing;

	db->preparing = NULL;
	if (!pq_ok(db->last)) {
		pq_stmt_forget(st);
		return 0;
	}
	st->ready = 1;
	return pq_again(db, r);
}

/* The connection is gone: answer everything with NULL, try again later. */
static void
pq_lost(struct pq *db)
{
	struct timeval	 tv = { db->backoff, 0 };
	struct pq_req	*r;
	int		 i;

	kmd_strlcpy(db->err, PQerrorMessage(db->conn), sizeof(db->err));
	db->err[strcspn(db->err, "\n")] = '\0';
	if (db->connected || db->backoff == PQ_RETRY_MAX)
		log_warnx("database: %s", db->err);
	db->connected = 0;
	if (db->ev != NULL) {
		event_free(db->ev);
		db->ev = NULL;
	}
	PQfinish(db->conn);
	db->conn = NULL;
	db->copying = 0;
	db->preparing = NULL;		/* a new connection has none ready */
	for (i = 0; i < PQ_STMTS_MAX; i++)
		db->stmts[i].ready = 0;
	PQclear(db->last);
	db->last = NULL;
	if ((r = db->inflight) != NULL) {
		db->inflight = NULL;
		r->cb(db, NULL, r->arg);
		pq_req_free(r);
	}
	while (!db->dead && (r = TAILQ_FIRST(&db->queue)) != NULL) {
		TAILQ_REMOVE(&db->queue, r, entry);
		r->cb(db, NULL, r->arg);
		pq_req_free(r);
	}
	if (db->dead)
		return;
	evtimer_del(db->resend);
	db->held = 0;
	evtimer_add(db->retry, &tv);
	if (db->backoff < PQ_RETRY_MAX)
		db->backoff *= 2;
}

/* The notifications that came (an idle connection is read too). */
static void
pq_notified(struct pq *db)
{
	PGnotify	*n;

	while ((n = PQnotifies(db->conn)) != NULL) {
		if (db->on_notify != NULL && !db->dead)
			db->on_notify(db, n->relname, n->extra, db->notify_arg);
		PQfreemem(n);
	}
}

/*
 * fn gets each notification of the channels this connection LISTENs to
 * (the caller sends LISTEN, again from its on_connect: a new connection
 * listens to nothing, and what was notified while it was down is lost).
 */
void
pq_on_notify(struct pq *db, pq_notify_cb fn, void *arg)
{
	db->on_notify = fn;
	db->notify_arg = arg;
}

/*
 * COPY FROM STDIN under way: once libpq has sent all it holds, the feed
 * gives more or ends the copy.  -1: the connection was lost.
 */
static int
pq_feed(struct pq *db)
{
	struct pq_req	*r = db->inflight;
	int		 f;

	while (db->copying == PGRES_COPY_IN) {
		if ((f = PQflush(db->conn)) == -1) {
			pq_lost(db);
			return -1;
		}
		if (f == 1) {
			pq_watch(db, EV_READ | EV_WRITE | EV_PERSIST, pq_io);
			return 0;
		}
		db->fed = 0;
		if (r != NULL && r->feed != NULL)
			r->feed(db, r->arg);
		if (db->dead)
			return -1;
		if (!db->fed)		/* a feed that gives nothing ends it */
			pq_copy_end(db, "kmd had no more data for the copy");
	}
	if ((f = PQflush(db->conn)) == -1) {
		pq_lost(db);
		return -1;
	}
	pq_watch(db, f == 1 ? EV_READ | EV_WRITE | EV_PERSIST :
	    EV_READ | EV_PERSIST, pq_io);
	return 0;
}

/* Data for the COPY FROM STDIN under way; -1 when it is not (any more). */
int
pq_copy_put(struct pq *db, const void *buf, size_t len)
{
	db->fed = 1;
	if (db->copying != PGRES_COPY_IN)
		return -1;
	if (len > INT_MAX || PQputCopyData(db->conn, buf, (int)len) != 1) {
		/* the server ended it (its error is the result) */
		db->copying = 0;
		return -1;
	}
	return 0;
}

/* The COPY FROM STDIN's end: NULL when all was given, else why not. */
void
pq_copy_end(struct pq *db, const char *why)
{
	db->fed = 1;
	if (db->copying != PGRES_COPY_IN)
		return;
	db->copying = 0;
	(void)PQputCopyEnd(db->conn, why);	/* a failure is a lost link */
}

static void
pq_io(evutil_socket_t fd, short what, void *arg)
{
	struct pq	*db = arg;
	struct pq_req	*r = db->inflight;
	PGresult	*res;
	char		*buf;
	int		 n;

	(void)fd;
	if (what & EV_WRITE) {
		/* Watch for writing only while libpq has unsent data. */
		switch (PQflush(db->conn)) {
		case 1:
			return;
		case 0:
			pq_watch(db, EV_READ | EV_PERSIST, pq_io);
			break;
		default:
			pq_lost(db);
			return;
		}
	}
	if (PQconsumeInput(db->conn) == 0) {
		pq_lost(db);
		return;
	}
	pq_notified(db);
	if (db->dead)
		return;
	for (;;) {
		if (db->copying == PGRES_COPY_OUT) {
			if ((n = PQgetCopyData(db->conn, &buf, 1)) > 0) {
				if (r != NULL && r->row != NULL)
					r->row(db, buf, (size_t)n, r->arg);
				PQfreemem(buf);
				if (db->dead)
					return;
				continue;
			}
			if (n == 0)
				break;
			db->copying = 0;	/* -1: done; -2: the result says */
			continue;
		}
		if (db->copying == PGRES_COPY_IN) {
			if (pq_feed(db) == -1 || db->copying == PGRES_COPY_IN)
				return;
			continue;
		}
		if (PQisBusy(db->conn))
			break;
		if ((res = PQgetResult(db->conn)) == NULL) {
			db->inflight = NULL;
			if (r != NULL && db->preparing != NULL &&
			    pq_parsed(db, r))
				return;
			if (r != NULL && (pq_hold(db, r) || pq_stale(db, r)))
				return;
			if (r != NULL) {
				r->cb(db, db->last, r->arg);
				pq_req_free(r);
			}
			PQclear(db->last);
			db->last = NULL;
			if (!db->dead)
				pq_next(db);
			return;
		}
		if (PQresultStatus(res) == PGRES_COPY_OUT ||
		    PQresultStatus(res) == PGRES_COPY_IN) {
			db->copying = PQresultStatus(res);
			PQclear(res);
			continue;
		}
		PQclear(db->last);	/* keep the last result of a batch */
		db->last = res;
	}
	if (PQstatus(db->conn) == CONNECTION_BAD)
		pq_lost(db);
}

/* Send the next queued query if the connection is idle. */
static void
pq_next(struct pq *db)
{
	struct pq_req	*r;
	struct pq_stmt	*st;
	int		 ok = 0;

	if (!db->connected || db->inflight != NULL || db->held ||
	    (r = TAILQ_FIRST(&db->queue)) == NULL) {
		/*
		 * A query sent from a callback may still have bytes to go (a
		 * large parameter): keep watching for writing until they do.
		 */
		if (db->connected && (ok = PQflush(db->conn)) == -1)
			pq_lost(db);
		else if (db->connected)
			pq_watch(db, ok == 1 ? EV_READ | EV_WRITE | EV_PERSIST :
			    EV_READ | EV_PERSIST, pq_io);
		return;
	}
	TAILQ_REMOVE(&db->queue, r, entry);
	db->inflight = r;
	if (r->prep && (st = pq_stmt(db, r->sql, 1)) != NULL) {
		if (!st->ready) {
			db->preparing = st;
			ok = PQsendPrepare(db->conn, st->name, r->sql,
			    r->nparams, NULL);
		} else
			ok = PQsendQueryPrepared(db->conn, st->name,
			    r->nparams, (const char *const *)r->params, NULL,
			    NULL, 0);
	} else if (r->nparams == 0)
		ok = PQsendQuery(db->conn, r->sql);
	else
		ok = PQsendQueryParams(db->conn, r->sql, r->nparams, NULL,
		    (const char *const *)r->params, NULL, NULL, 0);
	if (!ok || (ok = PQflush(db->conn)) == -1) {
		pq_lost(db);
		return;
	}
	pq_watch(db, ok == 1 ? EV_READ | EV_WRITE | EV_PERSIST :
	    EV_READ | EV_PERSIST, pq_io);
}

static void
pq_poll(evutil_socket_t fd, short what, void *arg)
{
	struct pq	*db = arg;

	(void)fd;
	(void)what;
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		pq_watch(db, EV_READ, pq_poll);
		break;
	case PGRES_POLLING_WRITING:
		pq_watch(db, EV_WRITE, pq_poll);
		break;
	case PGRES_POLLING_OK:
		db->connected = 1;
		db->backoff = 1;
		db->err[0] = '\0';
		log_debug("database: connected");
		if (db->on_connect != NULL)
			db->on_connect(db, db->arg);
		if (!db->dead)
			pq_next(db);
		break;
	default:
		pq_lost(db);
		break;
	}
}

/* Server notices ("already exists, skipping") are debug output. */
static void
pq_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("database: %.*s", (int)strcspn(msg, "\n"), msg);
}

static void
pq_connect(struct pq *db)
{
	if ((db->conn = PQconnectStart(db->conninfo)) == NULL)
		fatalx("%s: out of memory", __func__);
	PQsetNoticeProcessor(db->conn, pq_notice, db);
	if (PQstatus(db->conn) == CONNECTION_BAD ||
	    PQsetnonblocking(db->conn, 1) == -1) {
		pq_lost(db);
		return;
	}
	pq_watch(db, EV_WRITE, pq_poll);
}

/* The paused write is due again. */
static void
pq_resend(evutil_socket_t fd, short what, void *arg)
{
	struct pq	*db = arg;

	(void)fd;
	(void)what;
	db->held = 0;
	pq_next(db);
}

/*
 * r was refused because writes are paused: queued first again, sent in
 * PQ_PAUSE_MS (1), unless it has waited long enough (0: answer it).
 */
static int
pq_hold(struct pq *db, struct pq_req *r)
{
	struct timeval	 tv = { 0, PQ_PAUSE_MS * 1000 };
	const char	*state;

	state = db->last != NULL ? PQresultErrorField(db->last,
	    PG_DIAG_SQLSTATE) : NULL;
	if (r->nparams == 0 || state == NULL || strcmp(state, "40001") != 0 ||
	    strstr(PQresultErrorMessage(db->last), "writes are paused") ==
	    NULL)
		return 0;
	if (r->paused == 0)
		r->paused = mono_ms();
	else if (mono_ms() - r->paused > PQ_PAUSE_MAX_MS)
		return 0;
	PQclear(db->last);
	db->last = NULL;
	TAILQ_INSERT_HEAD(&db->queue, r, entry);
	db->held = 1;
	evtimer_add(db->resend, &tv);
	pq_watch(db, EV_READ | EV_PERSIST, pq_io);
	return 1;
}

static void
pq_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pq_connect(arg);
}

struct pq *
pq_new(struct event_base *base, const char *conninfo,
    void (*on_connect)(struct pq *, void *), void *arg)
{
	struct pq	*db;

	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conninfo = strdup(conninfo)) == NULL)
		fatal("%s", __func__);
	db->base = base;
	db->backoff = 1;
	db->on_connect = on_connect;
	db->arg = arg;
	TAILQ_INIT(&db->queue);
	if ((db->retry = evtimer_new(base, pq_retry, db)) == NULL ||
	    (db->resend = evtimer_new(base, pq_resend, db)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	pq_connect(db);
	return db;
}

void
pq_free(struct pq *db)
{
	struct pq_req	*r;
	int		 i;

	if (db == NULL)
		return;
	if (db->inflight != NULL)
		pq_req_free(db->inflight);
	while ((r = TAILQ_FIRST(&db->queue)) != NULL) {
		TAILQ_REMOVE(&db->queue, r, entry);
		pq_req_free(r);
	}
	if (db->ev != NULL)
		event_free(db->ev);
	event_free(db->retry);
	event_free(db->resend);
	PQclear(db->last);
	PQfinish(db->conn);
	for (i = 0; i < PQ_STMTS_MAX; i++)
		free(db->stmts[i].sql);
	free(db->conninfo);
	free(db);
}

/*
 * Ask the server to cancel the query under way, if any: its callback
 * then gets the error.  Blocks for the round trip: meant for a local
 * server's socket.
 */
void
pq_cancel(struct pq *db)
{
	PGcancel	*c;
	char		 err[256];

	if (db == NULL || db->inflight == NULL || db->conn == NULL ||
	    (c = PQgetCancel(db->conn)) == NULL)
		return;
	if (!PQcancel(c, err, sizeof(err)))
		log_warnx("%s: %s", __func__, err);
	PQfreeCancel(c);
}

/*
 * Queue a query.  Without parameters it may hold several statements
 * (simple protocol); the callback then sees the last result, or the
 * first error.  Returns -1 (the callback is not called) on bad input.
 */
static struct pq_req *
pq_req_new(const char *sql, int nparams, const char *const *params,
    pq_cb cb, void *arg)
{
	struct pq_req	*r;
	int		 i;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->sql = strdup(sql)) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < nparams; i++)
		if (params[i] != NULL && (r->params[i] = strdup(params[i])) ==
		    NULL)
			fatal("%s", __func__);
	r->nparams = nparams;
	r->cb = cb;
	r->arg = arg;
	return r;
}

/* Queue r, and send it if the connection is idle. */
static int
pq_enqueue(struct pq *db, struct pq_req *r)
{
	TAILQ_INSERT_TAIL(&db->queue, r, entry);
	pq_next(db);
	return 0;
}

static int
pq_send(struct pq *db, const char *sql, int nparams,
    const char *const *params, pq_cb cb, void *arg, int prep)
{
	struct pq_req	*r;

	if (nparams < 0 || nparams > PQ_PARAMS_MAX) {
		errno = EINVAL;
		return -1;
	}
	r = pq_req_new(sql, nparams, params, cb, arg);
	r->prep = prep;
	return pq_enqueue(db, r);
}

int
pq_query(struct pq *db, const char *sql, int nparams,
    const char *const *params, pq_cb cb, void *arg)
{
	return pq_send(db, sql, nparams, params, cb, arg, 0);
}

/* As pq_query(), for one statement sent again and again (see pq.h). */
int
pq_prepared(struct pq *db, const char *sql, int nparams,
    const char *const *params, pq_cb cb, void *arg)
{
	return pq_send(db, sql, nparams, params, cb, arg, 1);
}

/*
 * A COPY: TO STDOUT gives row each row as it comes, FROM STDIN asks feed
 * for its data (the other NULL); then cb gets the result.
 */
int
pq_copy(struct pq *db, const char *sql, pq_row_cb row, pq_feed_cb feed,
    pq_cb cb, void *arg)
{
	struct pq_req	*r = pq_req_new(sql, 0, NULL, cb, arg);

	r->row = row;
	r->feed = feed;
	return pq_enqueue(db, r);
}
