/*
 * What the join's stage files share: how a stage reports its end, SQL run
 * locally and on peers through dblink, the poll timer, subscriptions
 * watched while they may be down, and the pglogical names.  A stage
 * reports to the driver through jn->step, so that no stage file knows the
 * table or the stages around it.
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"

#define KICK_AFTER	1000		/* ms down before a restart */
#define SPONSOR_ARGS_MAX 8		/* jq_sponsor()'s */

/* ---- how a stage ends ------------------------------------------------ */

void
join_done(struct join *jn)
{
	jn->step(jn, JE_DONE);
}

/* The client asked for no more than this stage gave. */
void
join_enough(struct join *jn)
{
	jn->step(jn, JE_ENOUGH);
}

/*
 * The stage ends by a failure or its timeout (join_fail(),
 * join_timeout()), for the reason given.
 */
void
join_end(struct join *jn, enum join_event ev, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(jn->why, sizeof(jn->why), fmt, ap);
	va_end(ap);
	jn->step(jn, ev);
}

void
join_free(struct join *jn)
{
	kchan_cancel(jn->j->w->parent, jn->call);
	if (jn->timer != NULL)
		event_free(jn->timer);
	if (jn->watch != NULL)
		event_free(jn->watch);
	if (jn->open != NULL) {
		explicit_bzero(jn->open, sizeof(*jn->open));
		free(jn->open);
	}
	explicit_bzero(&jn->opened, sizeof(jn->opened));
	pq_free(jn->idb);
	lease_end(jn->lease, jn->epoch);
	if (jn->j->join == jn) {
		jn->j->join = NULL;
		users_watch_soon(jn->j);
	}
	free(jn);
}

/* ---- progress and the stall watch ------------------------------------ */

/* The join is at one of its ends (its row leads nowhere else). */
static int
join_over(const struct join *jn)
{
	return jn->at->failed == jn->stage;
}

/*
 * What the join has got to: the stage, and in a long stage what moves
 * (bytes copied, a stream's position, subscriptions up).  A change is
 * progress; the lease's renewals carry it to the members, where the
 * sponsor ends a join whose progress stands (kmd_join_reap).
 */
void
join_mark(struct join *jn, const char *fmt, ...)
{
	char	 mark[sizeof(jn->mark)];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(mark, sizeof(mark), fmt, ap);
	va_end(ap);
	if (strcmp(mark, jn->mark) == 0)
		return;
	kmd_strlcpy(jn->mark, mark, sizeof(jn->mark));
	jn->mark_at = mono_ms();
	if (jn->lease != NULL)
		kmd_strlcpy(jn->lease->progress, mark,
		    sizeof(jn->lease->progress));
}

/* Rows with a status: how many replicate is the progress. */
void
join_mark_subs(struct join *jn, const PGresult *res)
{
	int	 i, up = 0;

	for (i = 0; i < PQntuples(res); i++)
		up += strcmp(pq_get(res, i, "status"), "replicating") == 0;
	join_mark(jn, "%s: %d of %d replicate", jn->at->desc, up,
	    PQntuples(res));
}

static void	watch_cb(evutil_socket_t, short, void *);

/*
 * Each second: a join whose progress has stood for `join stall-after'
 * ends.  Its query under way, which may wait for ever (a lock, a peer
 * that stopped answering on an open connection), is cancelled; the
 * next answer the join gets fails its stage (jq_done): killed once
 * anything has changed, refused before.
 */
void
join_watch(struct join *jn)
{
	struct timeval	 tv = { 1, 0 };

	if (jn->watch == NULL && (jn->watch = event_new(jn->j->w->base, -1,
	    EV_PERSIST, watch_cb, jn)) == NULL)
		fatalx("%s: event_new", __func__);
	jn->mark_at = mono_ms();
	evtimer_add(jn->watch, &tv);
}

static void
watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct join	*jn = arg;
	int		 stall = jn->j->w->conf.join_stall;

	(void)fd;
	(void)ev;
	if (join_over(jn) || jn->lost[0] != '\0' ||
	    mono_ms() - jn->mark_at < stall * 1000LL)
		return;
	snprintf(jn->lost, sizeof(jn->lost), "no progress for %d s (at: %s);"
	    " the limit is join stall-after in kmd.conf", stall, jn->mark);
	log_warnx("join of node %s: %s", jn->node_id, jn->lost);
	pq_cancel(jn->j->jdb);
}

/* ---- running SQL, locally and on peers through dblink ---------------- */

struct jq {
	struct join	*jn;
	step_fn		 next;
	const char	*what;
};

static void	jq_done(struct pq *, PGresult *, void *);

/* Run sql; on success call next with the result, else fail the stage. */
void
jq(struct join *jn, const char *what, const char *sql, int n,
    const char *const *p, step_fn next)
{
	struct jq	*q;

	if ((q = malloc(sizeof(*q))) == NULL)
		fatal("%s", __func__);
	q->jn = jn;
	q->next = next;
	q->what = what;
	if (pq_query(jn->j->jdb, sql, n, p, jq_done, q) == -1) {
		free(q);
		join_fail(jn, "%s: bad query", what);
	}
}

static void
jq_done(struct pq *db, PGresult *res, void *arg)
{
	struct jq	*q = arg;
	struct join	*jn = q->jn;

	(void)db;
	if (jn->lost[0] != '\0' && !join_over(jn))
		join_fail(jn, "%s", jn->lost);
	else if (!pq_ok(res))
		join_fail(jn, "%s: %s", q->what, res != NULL ?
		    PQresultErrorMessage(res) : pq_error(jn->j->jdb));
	else if (q->next != NULL)
		q->next(jn, res);
	free(q);
}

/* A step whose query was the stage's last: the stage is done. */
void
jq_stage_done(struct join *jn, PGresult *res)
{
	(void)res;
	join_done(jn);
}

/*
 * A step of the join on its sponsor, under the join's lease: the SQL
 * function fn there, called with the lease's token and then the n
 * arguments args, through dblink.
 */
void
jq_sponsor(struct join *jn, const char *what, const char *fn, int n,
    const char *const *args, step_fn next)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	const char	*p[SPONSOR_ARGS_MAX + 2];
	int		 i;

	if (n > SPONSOR_ARGS_MAX)
		fatalx("%s: %s: %d arguments", __func__, fn, n);
	p[0] = jn->dsn;
	p[1] = jn->lease->token;
	sbuf_add(&sql, "SELECT x FROM dblink($1, format('SELECT %s(%%L", fn);
	for (i = 0; i < n; i++) {
		sbuf_add(&sql, ", %%L");
		p[i + 2] = args[i];
	}
	sbuf_add(&sql, ")'");
	for (i = 1; i < n + 2; i++)
		sbuf_add(&sql, ", $%d::text", i + 1);
	sbuf_add(&sql, ")) AS t(x text)");
	jq(jn, what, sql.s, i, p, next);
	free(sql.s);
}

/* A call of the join's (to the hsm, or the parent) failed: so does it. */
void
join_call_failed(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	struct join	*jn = arg;

	(void)ch;
	(void)end;
	jn->call = 0;
	peers_forget(jn->j);	/* a list it sent may not have been taken */
	join_fail(jn, "%s: %s", jn->at->desc, why);
}

/* For a query whose answer changes nothing: best effort. */
void
jq_ignore(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)res;
	(void)arg;
}

/* ---- the poll timer -------------------------------------------------- */

static void	poll_cb(evutil_socket_t, short, void *);

/* Run the stage's poll again in POLL_MS. */
void
poll_again(struct join *jn)
{
	struct timeval	 tv = { 0, POLL_MS * 1000 };

	if (jn->timer == NULL &&
	    (jn->timer = evtimer_new(jn->j->w->base, poll_cb, jn)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(jn->timer, &tv);
}

static void
poll_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct join	*jn = arg;

	(void)fd;
	(void)ev;
	jn->polls++;
	jn->at->poll(jn);
}

/* The stage has polled more often than its row allows. */
int
join_overdue(const struct join *jn)
{
	return jn->at->max_polls != 0 && jn->polls > jn->at->max_polls;
}

/* ---- subscriptions that may be down ---------------------------------- */

static void	kick(struct join *, const char *, int);

/*
 * A subscription that stays down longer than the stage's down_max times
 * the stage out.  sub: this node's subscription; member: otherwise, the
 * index of the member whose subscription to this node it is (-1:
 * neither, nothing to kick).  Disabled counts as down: a kick disables,
 * then enables in a second statement, which may not reach a member; the
 * next kick enables it, where the join would otherwise wait for ever.
 */
int
still_down(struct join *jn, const char *what, const char *status,
    const char *sub, int member)
{
	if (strcmp(status, "down") != 0 && strcmp(status, "disabled") != 0) {
		jn->down_since = 0;
		return 0;
	}
	if (jn->down_since == 0)
		jn->down_since = mono_ms();
	/*
	 * A subscription just made shows down until pglogical's manager,
	 * woken by its commit, has started its worker: some milliseconds.
	 * A kick then would stop the worker as it starts and slow the
	 * stage down, so it waits KICK_AFTER.
	 */
	if ((sub != NULL || member >= 0) &&
	    mono_ms() - jn->down_since >= KICK_AFTER)
		kick(jn, sub, member);
	if (mono_ms() - jn->down_since < jn->at->down_max * 1000)
		return 0;
	join_timeout(jn, "%s: the connection has been down for %d s", what,
	    jn->at->down_max);
	return 1;
}

/*
 * Rows of (status, sub_name): done when every one replicates; one down
 * too long fails the stage (still_down); else poll again.
 */
void
subs_replicating(struct join *jn, PGresult *res, const char *what)
{
	int	 i;

	join_mark_subs(jn, res);
	for (i = 0; i < PQntuples(res); i++) {
		if (still_down(jn, what, pq_get(res, i, "status"),
		    pq_get(res, i, "sub_name"), -1))
			return;
		if (strcmp(pq_get(res, i, "status"), "replicating") != 0) {
			poll_again(jn);
			return;
		}
	}
	join_done(jn);
}

/*
 * A local subscription is down: its apply worker died.  In the overlap
 * of a join the same row can come through two subscriptions at the same
 * moment; one of them then fails on the unique index and pglogical would
 * restart it only 5 s after, or later.  Restart it now, clearing the
 * crashed worker (sub_restart): the retry finds the row and resolves the
 * conflict.
 */
static void
kick(struct join *jn, const char *sub, int member)
{
	char	 dsn[PEER_DSN_MAX], msub[64];

	if (jn->kicked_at != 0 && mono_ms() - jn->kicked_at < 2000)
		return;
	jn->kicked_at = mono_ms();
	if (member >= 0 && member < jn->nmembers) {
		peer_dsn(jn->members[member].host, dsn, sizeof(dsn));
		sub_name(jn->node_id, jn->members[member].id, msub,
		    sizeof(msub));
		log_info("join of node %s: restarting subscription %s on"
		    " member %s", jn->node_id, msub, jn->members[member].host);
		sub_restart(jn->j->jdb, msub, dsn, 1);
		return;
	}
	log_info("join of node %s: restarting subscription %s", jn->node_id,
	    sub);
	sub_restart(jn->j->jdb, sub, NULL, 1);
}

/* ---- the answer to the client ---------------------------------------- */

void
send_check(struct join *jn, const char *item, int ok, const char *fmt, ...)
{
	struct join_check	 c;
	va_list			 ap;

	memset(&c, 0, sizeof(c));
	kmd_strlcpy(c.item, item, sizeof(c.item));
	c.ok = ok;
	va_start(ap, fmt);
	vsnprintf(c.detail, sizeof(c.detail), fmt, ap);
	va_end(ap);
	if (jn->reqid != 0)
		kchan_send(jn->j->w->parent, IMSG_JOIN_CHECK, jn->reqid, -1,
		    &c, sizeof(c));
}

/* ---- names ----------------------------------------------------------- */

/* A node id without dashes, shortened, for pglogical names. */
void
short_id(const char *id, char *out, size_t len, size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; id[i] != '\0' && k + 1 < len && k < n; i++)
		if (id[i] != '-')
			out[k++] = id[i];
	out[k] = '\0';
}

void
sub_name(const char *provider, const char *subscriber, char *out,
    size_t len)
{
	char	 a[16], b[16];

	short_id(provider, a, sizeof(a), 12);
	short_id(subscriber, b, sizeof(b), 12);
	snprintf(out, len, "kmd_%s_%s", a, b);
}

/* The catch-up subscription's name, once the node id is known. */
void
join_names(struct join *jn)
{
	char	 a[16];

	short_id(jn->node_id, a, sizeof(a), 12);
	snprintf(jn->cu_sub, sizeof(jn->cu_sub), "kmd_cu_%s", a);
}
