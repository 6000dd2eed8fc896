/*
 * cluster join, the third step, on the joining node N.
 *
 * Checked first, changing nothing: the certificate and mkek_blob (hsm),
 * then the preflight through the member M over mutual TLS.  Then five
 * stages, each shown on N (kmd_local.join_state) and on every member
 * (kmd_nodes.state, written on the sponsor S = M and replicated):
 *
 *   creating (1/5)      N's replicated tables wiped, kmd_local written,
 *                       N registered on S
 *   bootstrapping (2/5) N's pglogical node; a catch-up subscription to S
 *                       copying S's data and forwarding every origin
 *   initial sync (3/5)  until that copy is done
 *   catching up (4/5)   direct subscriptions from every member (made
 *                       already when a large copy's indexes are built,
 *                       see direct_subscribe()); then the proof that
 *                       nothing falls between the two paths (below);
 *                       then the catch-up subscription goes
 *   completing (5/5)    every member subscribes to N; ready everywhere
 *
 * Why no write is lost.  A write committed on member X reaches N either
 * through X's direct slot (everything X commits after that slot's start
 * L_X) or through S's catch-up stream, which carries what S has applied,
 * from every origin (forward_origins all).  N waits until S has applied
 * everything X committed before L_X: it commits a marker on X after the
 * direct slot exists, waits for the marker on S, reads S's WAL position
 * W then, and waits until the catch-up subscription's replication origin
 * on N has passed W (a second marker, committed on S after W, makes sure
 * S's stream moves past W).  S's own writes before its direct slot are in
 * the copy or the catch-up stream by the same argument.  Writes that
 * arrive twice in the overlap resolve as the same row, by commit
 * timestamp (pglogical.conflict_resolution = last_update_wins).
 *
 * A failure after the wipe ends in `killed` (k), with the reason in
 * cluster info; the subscriptions made so far are dropped so that no
 * slot keeps WAL on a member.
 */
#include <sys/statvfs.h>

#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "joiner.h"
#include "log.h"
#include "status.h"
#include "util.h"

#define POLL_MS		100
#define SKEW_MAX	2.0		/* seconds */
#define DOWN_MAX	15		/* seconds a subscription may be down */
#define KICK_AFTER	1000		/* ms down before a restart */
/*
 * The initial copy goes faster into kmd_keys without its indexes, as a
 * restore does: the second index is dropped in the wipe; the primary key
 * too, just before the catch-up subscription, when the member holds at
 * least KEYS_BARE_MIN bytes (a large copy: about a fifth of its time went
 * into the key's index, inserted in random order).  Both are built again
 * in one transaction that takes kmd_keys' lock (see sync_polled), and
 * after a kill or an interrupted join, so a node never stays without
 * them.  SQL_KEYS_INDEXES_ADD may run twice at once (a kill while the
 * build waits): the lock makes the second find them there.
 */
#define KEYS_BARE_MIN	(128LL * 1024 * 1024)
#define SQL_KEYS_INDEX_DROP \
	"DROP INDEX IF EXISTS kmd_keys_name_version"
#define SQL_KEYS_PKEY_DROP \
	"ALTER TABLE kmd_keys DROP CONSTRAINT IF EXISTS kmd_keys_pkey"
#define SQL_KEYS_INDEXES_ADD \
	"DO $$BEGIN LOCK TABLE kmd_keys IN ACCESS EXCLUSIVE MODE; PERFORM" \
	" set_config('maintenance_work_mem', '256MB', true); IF NOT EXISTS" \
	" (SELECT FROM pg_constraint WHERE conrelid = 'kmd_keys'::regclass" \
	" AND contype = 'p') THEN ALTER TABLE kmd_keys ADD CONSTRAINT" \
	" kmd_keys_pkey PRIMARY KEY (key_id); END IF; CREATE INDEX IF NOT" \
	" EXISTS kmd_keys_name_version ON kmd_keys (name, version); END$$"
#define SQL_SUBS_STOP \
	"SELECT pglogical.alter_subscription_disable(sub_name, true) FROM" \
	" pglogical.subscription"
/* Workers still running for the subscriptions named like $1. */
#define SQL_SUBS_WORKERS \
	"SELECT count(*) FROM pg_stat_activity a, pglogical.subscription s" \
	" WHERE s.sub_name LIKE $1 AND a.backend_type LIKE 'pglogical %:'" \
	" || s.sub_id"
/*
 * A dead peer is noticed from both ends: keepalives and a TCP user
 * timeout here, wal_sender_timeout and the server's keepalives there.
 */
#define PEER_DSN \
	"host=%s port=5432 dbname=kmd user=kmd_repl sslmode=verify-full" \
	" connect_timeout=3 keepalives=1 keepalives_idle=2" \
	" keepalives_interval=1 keepalives_count=2 tcp_user_timeout=5000"
#define PEER_DSN_MAX	(KMD_HOST_MAX + 256)

struct member {
	char	 id[KMD_NODEID_MAX];
	char	 host[KMD_HOST_MAX];
};

struct join {
	struct joiner		*j;
	uint32_t		 reqid;		/* 0 once the client has its answer */
	struct cluster_join	 req;
	char			 node_id[KMD_NODEID_MAX];
	char			 cluster_id[KMD_NODEID_MAX];
	char			 sponsor[KMD_NODEID_MAX];	/* S's id */
	char			 dsn[PEER_DSN_MAX];	/* to S */
	char			 cu_sub[64];	/* the catch-up subscription */
	char			 wal[32];	/* W on S */
	long long		 size;		/* S's database, bytes */
	long long		 copied;	/* at the last progress note */
	int64_t			 copied_at;	/* ms */
	struct hsm_join_open	*open;
	struct hsm_join_opened	 opened;
	int			 tls_new;	/* we installed TLS files */
	int			 retry;		/* of a killed join */
	int64_t			 kicked_at;	/* ms */
	struct member		 members[KMD_NODES_MAX];
	int			 nmembers;
	int			 polls;
	int64_t			 down_since;	/* ms */
	struct pq		*idb;		/* kmd_keys copied bare: builds
						   its indexes (sync_polled) */
	int			 queued;	/* that build is sent */
	int			 direct;	/* direct subscriptions made */
	int			 indexed;	/* 1 built, -1 failed */
	char			 index_err[KMD_ERR_MAX];
	void			(*poll_fn)(struct join *);
	struct event		*timer;
};

static void	join_kill(struct join *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	stage_bootstrap(struct join *);
static void	stage_sync(struct join *);
static void	stage_catchup(struct join *);
static void	stage_complete(struct join *);

/* A node id without dashes, shortened, for pglogical names. */
static void
short_id(const char *id, char *out, size_t len, size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; id[i] != '\0' && k + 1 < len && k < n; i++)
		if (id[i] != '-')
			out[k++] = id[i];
	out[k] = '\0';
}

static void
sub_name(const char *provider, const char *subscriber, char *out,
    size_t len)
{
	char	 a[16], b[16];

	short_id(provider, a, sizeof(a), 12);
	short_id(subscriber, b, sizeof(b), 12);
	snprintf(out, len, "kmd_%s_%s", a, b);
}

static void
peer_dsn(const char *host, char *out, size_t len)
{
	snprintf(out, len, PEER_DSN, host);
}

static int
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

/* The catch-up subscription's name, once the node id is known. */
static void
join_names(struct join *jn)
{
	char	 a[16];

	short_id(jn->node_id, a, sizeof(a), 12);
	snprintf(jn->cu_sub, sizeof(jn->cu_sub), "kmd_cu_%s", a);
}

static void
join_free(struct join *jn)
{
	if (jn->timer != NULL)
		event_free(jn->timer);
	if (jn->open != NULL) {
		explicit_bzero(jn->open, sizeof(*jn->open));
		free(jn->open);
	}
	explicit_bzero(&jn->opened, sizeof(jn->opened));
	pq_free(jn->idb);
	if (jn->j->join == jn)
		jn->j->join = NULL;
	free(jn);
}

/* ---- running SQL, locally and on peers through dblink --------------- */

typedef void	(*step_fn)(struct join *, PGresult *);

struct jq {
	struct join	*jn;
	step_fn		 next;
	const char	*what;
};

static void
jq_done(struct pq *db, PGresult *res, void *arg)
{
	struct jq	*q = arg;
	struct join	*jn = q->jn;

	(void)db;
	if (!pq_ok(res))
		join_kill(jn, "%s: %s", q->what, res != NULL ?
		    PQresultErrorMessage(res) : pq_error(jn->j->jdb));
	else if (q->next != NULL)
		q->next(jn, res);
	free(q);
}

/* Run sql; on success call next with the result, else kill the join. */
static void
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
		join_kill(jn, "%s: bad query", what);
	}
}

static void
poll_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct join	*jn = arg;

	(void)fd;
	(void)ev;
	jn->polls++;
	jn->poll_fn(jn);
}

/* Call fn again in POLL_MS. */
static void
poll_again(struct join *jn, void (*fn)(struct join *))
{
	struct timeval	 tv = { 0, POLL_MS * 1000 };

	jn->poll_fn = fn;
	if (jn->timer == NULL &&
	    (jn->timer = evtimer_new(jn->j->w->base, poll_cb, jn)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	evtimer_add(jn->timer, &tv);
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

/*
 * A subscription that stays down too long kills the join.  sub: this
 * node's subscription; member: otherwise, the index of the member whose
 * subscription to this node it is (-1: neither, nothing to kick).
 * Disabled counts as down: a kick disables, then enables in a second
 * statement, which may not reach a member; the next kick enables it,
 * where the join would otherwise wait for ever.
 */
static int
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
	 * A kick then would stop the worker as it starts (measured: a
	 * catch-up stage 1 s longer), so it waits KICK_AFTER.
	 */
	if ((sub != NULL || member >= 0) &&
	    mono_ms() - jn->down_since >= KICK_AFTER)
		kick(jn, sub, member);
	if (mono_ms() - jn->down_since < DOWN_MAX * 1000)
		return 0;
	join_kill(jn, "%s: the connection has been down for %d s", what,
	    DOWN_MAX);
	return 1;
}

/* ---- the answer to the client ----------------------------------------- */

static void
send_check(struct join *jn, const char *item, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
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

/* Refuse before anything changed: the client hears why, nothing is kept. */
static void
join_refuse(struct join *jn, const char *msg)
{
	log_warnx("cluster join: %s", msg);
	/* A node out of any cluster had no TLS before this join's. */
	if (jn->tls_new)
		kchan_send(jn->j->w->parent, IMSG_TLS_REMOVE, 0, -1, NULL, 0);
	if (jn->reqid != 0)
		kchan_senderr(jn->j->w->parent, jn->reqid, "cluster join: %s;"
		    " nothing was changed", msg);
	join_free(jn);
}

static void
answer_started(struct join *jn, const char *code)
{
	struct cluster_info	 ci;

	if (jn->reqid == 0)
		return;
	memset(&ci, 0, sizeof(ci));
	kmd_strlcpy(ci.nodeid, jn->node_id, sizeof(ci.nodeid));
	kmd_strlcpy(ci.code, code, sizeof(ci.code));
	kmd_strlcpy(ci.desc, status_desc(code), sizeof(ci.desc));
	ci.nodecount = -1;		/* as the reference shows it */
	kchan_send(jn->j->w->parent, IMSG_CLUSTER_INFO_REPLY, jn->reqid, -1,
	    &ci, sizeof(ci));
	kchan_send(jn->j->w->parent, IMSG_CTL_END, jn->reqid, -1, NULL, 0);
	jn->reqid = 0;
}

/* ---- killed ----------------------------------------------------------- */

static void
kill_done(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)res;
	(void)arg;
}

/*
 * After a kill: stop this node's subscriptions now, drop them (and their
 * slots on the members) once their workers are gone; see stage_wipe().
 * It outlives the join, so it has its own little state.
 */
struct subs_drop {
	struct joiner	*j;
	struct event	*timer;
	int		 polls;
};

static void	subs_drop_poll(evutil_socket_t, short, void *);

static void
subs_drop_polled(struct pq *db, PGresult *res, void *arg)
{
	struct subs_drop	*sd = arg;
	struct timeval		 tv = { 0, POLL_MS * 1000 };

	(void)db;
	if (pq_ok(res) && atoi(PQgetvalue(res, 0, 0)) > 0 &&
	    ++sd->polls < 300) {
		evtimer_add(sd->timer, &tv);
		return;
	}
	if (pq_ok(res) && atoi(PQgetvalue(res, 0, 0)) == 0)
		pq_query(sd->j->jdb, "SELECT pglogical.drop_subscription("
		    "sub_name, true) FROM pglogical.subscription", 0, NULL,
		    kill_done, NULL);
	else
		log_warnx("the subscriptions of a killed join did not stop;"
		    " they stay, disabled, until the next join or reset");
	subs_drop_free(sd->j);
}

/* At the end of a kill's cleanup, or at exit. */
void
subs_drop_free(struct joiner *j)
{
	struct subs_drop	*sd = j->subs_drop;

	if (sd == NULL)
		return;
	event_free(sd->timer);
	free(sd);
	j->subs_drop = NULL;
}

static void
subs_drop_poll(evutil_socket_t fd, short ev, void *arg)
{
	struct subs_drop	*sd = arg;
	const char		*p[1] = { "%" };

	(void)fd;
	(void)ev;
	pq_query(sd->j->jdb, SQL_SUBS_WORKERS, 1, p, subs_drop_polled, sd);
}

static void
subs_drop_later(struct joiner *j)
{
	struct subs_drop	*sd;

	if (j->subs_drop != NULL)	/* one under way drops them all */
		return;
	if ((sd = calloc(1, sizeof(*sd))) == NULL ||
	    (sd->timer = evtimer_new(j->w->base, subs_drop_poll, sd)) == NULL)
		fatal("%s", __func__);
	sd->j = j;
	j->subs_drop = sd;
	pq_query(j->jdb, SQL_SUBS_STOP, 0, NULL, kill_done, NULL);
	subs_drop_poll(-1, 0, sd);
}

static void
join_kill(struct join *jn, const char *fmt, ...)
{
	char		 why[KMD_ERR_MAX], sub[64], dsn[PEER_DSN_MAX];
	const char	*p[4];
	va_list		 ap;
	int		 i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	why[strcspn(why, "\n")] = '\0';
	log_warnx("cluster join of node %s killed: %s", jn->node_id, why);
	if (jn->reqid != 0)
		kchan_senderr(jn->j->w->parent, jn->reqid, "cluster join: %s",
		    why);
	jn->reqid = 0;
	p[0] = why;
	/* Best effort, each on its own: the member may be the one gone. */
	pq_query(jn->j->jdb, SQL_KEYS_INDEXES_ADD, 0, NULL, kill_done, NULL);
	pq_query(jn->j->jdb, "UPDATE kmd_local SET join_state = 'k',"
	    " join_error = $1, join_progress = NULL", 1, p, kill_done, NULL);
	subs_drop_later(jn->j);
	p[0] = jn->dsn;
	p[1] = jn->node_id;
	pq_query(jn->j->jdb, "SELECT dblink_exec($1, format('UPDATE kmd_nodes"
	    " SET state = ''k'' WHERE node_id = %L', $2::text))", 2, p,
	    kill_done, NULL);
	for (i = 0; i < jn->nmembers; i++) {
		sub_name(jn->node_id, jn->members[i].id, sub, sizeof(sub));
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		p[0] = dsn;
		p[1] = sub;
		pq_query(jn->j->jdb, "SELECT x FROM dblink($1, format('SELECT"
		    " pglogical.drop_subscription(%L, true)::text', $2::text))"
		    " AS t(x text)", 2, p, kill_done, NULL);
	}
	join_free(jn);
}

/* ---- stage bookkeeping ------------------------------------------------ */

struct stage_next {
	void	(*fn)(struct join *);
};

static void
stage_remote_set(struct join *jn, PGresult *res)
{
	(void)res;
	jn->polls = 0;
	jn->down_since = 0;
	jn->poll_fn(jn);
}

static void
stage_local_set(struct join *jn, PGresult *res)
{
	const char	*p[3] = { jn->dsn, jn->node_id, PQgetvalue(res, 0, 0) };

	jq(jn, "recording the stage on the member", "SELECT dblink_exec($1,"
	    " format('UPDATE kmd_nodes SET state = %L WHERE node_id = %L',"
	    " $3::text, $2::text))", 3, p, stage_remote_set);
}

/* Record the stage here and on S, then run fn. */
static void
stage_set(struct join *jn, const char *code, void (*fn)(struct join *))
{
	const char	*p[1] = { code };

	log_info("join of node %s: %s", jn->node_id, status_desc(code));
	jn->poll_fn = fn;
	jq(jn, "recording the stage", "UPDATE kmd_local SET join_state = $1,"
	    " join_progress = NULL RETURNING join_state", 1, p,
	    stage_local_set);
}

/* ---- 5/5 completing ------------------------------------------------------ */

static void	complete_wait(struct join *);

static void
complete_done(struct join *jn, PGresult *res)
{
	(void)res;
	log_info("node %s joined cluster %s: ready", jn->node_id,
	    jn->cluster_id);
	join_free(jn);
}

static void
complete_local(struct join *jn, PGresult *res)
{
	(void)res;
	jq(jn, "marking the node ready here", "UPDATE kmd_local SET"
	    " join_state = NULL, join_error = NULL, join_member = NULL,"
	    " join_progress = NULL;"
	    " DELETE FROM kmd_join_pending", 0, NULL, complete_done);
}

static void
complete_ready(struct join *jn, PGresult *res)
{
	const char	*p[2] = { jn->dsn, jn->node_id };

	(void)res;
	jq(jn, "marking the node ready", "SELECT dblink_exec($1, format("
	    "'UPDATE kmd_nodes SET state = ''r'', joined_at = now() WHERE"
	    " node_id = %L; DELETE FROM kmd_join_markers WHERE join_id = %L',"
	    " $2::text, $2::text))", 2, p, complete_local);
}

static void	complete_local_wait(struct join *);

/* This node's own subscriptions all replicate (a race may have hit one). */
static void
complete_local_polled(struct join *jn, PGresult *res)
{
	int	 i;

	for (i = 0; i < PQntuples(res); i++) {
		if (still_down(jn, "a subscription to a member",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), -1))
			return;
		if (strcmp(PQgetvalue(res, i, 0), "replicating") != 0) {
			poll_again(jn, complete_local_wait);
			return;
		}
	}
	complete_ready(jn, NULL);
}

static void
complete_local_wait(struct join *jn)
{
	jq(jn, "watching this node's subscriptions", "SELECT s.status,"
	    " u.sub_name FROM pglogical.subscription u,"
	    " pglogical.show_subscription_status(u.sub_name) s", 0, NULL,
	    complete_local_polled);
}

static void
complete_polled(struct join *jn, PGresult *res)
{
	int	 i;

	for (i = 0; i < PQntuples(res); i++) {
		if (still_down(jn, "a member's subscription to this node",
		    PQgetvalue(res, i, 0), NULL, atoi(PQgetvalue(res, i, 1))))
			return;
		if (strcmp(PQgetvalue(res, i, 0), "replicating") != 0) {
			poll_again(jn, complete_wait);
			return;
		}
	}
	complete_local_wait(jn);
}

/*
 * SQL built from one clause per member: up to 19 of them, each with a
 * DSN, so it grows as needed (a fixed buffer once cut a 14th member's
 * clause in half).
 */
struct sbuf {
	char	*s;
	size_t	 len, cap;
};

static void	sbuf_add(struct sbuf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
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

/* Every member's subscription to N, seen from the member. */
static void
complete_wait(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX], sub[64];
	int		 i;

	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sub_name(jn->node_id, jn->members[i].id, sub, sizeof(sub));
		sbuf_add(&sql, "%sSELECT s, %d FROM dblink('%s', 'SELECT"
		    " status FROM pglogical.show_subscription_status(''%s'')')"
		    " AS t(s text)", i ? " UNION ALL " : "", i, dsn, sub);
	}
	jq(jn, "watching the members' subscriptions", sql.s, 0, NULL,
	    complete_polled);
	free(sql.s);
}

static void
complete_subscribed(struct join *jn, PGresult *res)
{
	(void)res;
	complete_wait(jn);
}

static void
stage_complete(struct join *jn)
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
	jq(jn, "subscribing the members to this node", sql.s, 0, NULL,
	    complete_subscribed);
	free(sql.s);
}

/* ---- 4/5 catching up ------------------------------------------------------ */

static void	catchup_direct_wait(struct join *);
static void	catchup_markers_wait(struct join *);
static void	catchup_origin_wait(struct join *);

static void
catchup_dropped(struct join *jn, PGresult *res)
{
	(void)res;
	stage_set(jn, "o", stage_complete);
}

static void	catchup_stop_wait(struct join *);

static void
catchup_stop_polled(struct join *jn, PGresult *res)
{
	const char	*p[1] = { jn->cu_sub };

	if (atoi(PQgetvalue(res, 0, 0)) > 0) {
		poll_again(jn, catchup_stop_wait);
		return;
	}
	jq(jn, "dropping the catch-up subscription", "SELECT"
	    " pglogical.drop_subscription($1)", 1, p, catchup_dropped);
}

/* Its worker is gone: see stage_wipe() for why that matters. */
static void
catchup_stop_wait(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "waiting for the catch-up subscription to stop",
	    SQL_SUBS_WORKERS, 1, p, catchup_stop_polled);
}

static void
catchup_stopped(struct join *jn, PGresult *res)
{
	(void)res;
	catchup_stop_wait(jn);
}

static void
catchup_origin_polled(struct join *jn, PGresult *res)
{
	const char	*p[1] = { jn->cu_sub };

	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		if (still_down(jn, "the catch-up subscription",
		    PQgetvalue(res, 0, 1), jn->cu_sub, -1))
			return;
		poll_again(jn, catchup_origin_wait);
		return;
	}
	log_info("join of node %s: caught up with the member past %s",
	    jn->node_id, jn->wal);
	jq(jn, "stopping the catch-up subscription", "SELECT"
	    " pglogical.alter_subscription_disable($1, true)", 1, p,
	    catchup_stopped);
}

/* N has applied S's stream past W. */
static void
catchup_origin_wait(struct join *jn)
{
	const char	*p[2] = { jn->cu_sub, jn->wal };

	jq(jn, "watching the catch-up", "SELECT coalesce((SELECT o.remote_lsn"
	    " >= $2::pg_lsn FROM pg_replication_origin_status o JOIN"
	    " pg_replication_origin r ON r.roident = o.local_id JOIN"
	    " pglogical.subscription s ON r.roname = s.sub_slot_name WHERE"
	    " s.sub_name = $1), false), (SELECT status FROM"
	    " pglogical.show_subscription_status($1))", 2, p,
	    catchup_origin_polled);
}

static void
catchup_last_marker(struct join *jn, PGresult *res)
{
	(void)res;
	catchup_origin_wait(jn);
}

static void
catchup_wal_read(struct join *jn, PGresult *res)
{
	const char	*p[3] = { jn->dsn, jn->node_id, jn->sponsor };

	kmd_strlcpy(jn->wal, PQgetvalue(res, 0, 0), sizeof(jn->wal));
	/* A commit on S after W, so that S's stream moves past it. */
	jq(jn, "the marker on the member", "SELECT dblink_exec($1, format("
	    "'INSERT INTO kmd_join_markers (join_id, origin) VALUES (%L, %L)"
	    " ON CONFLICT DO NOTHING', $2::text, $3::text))", 3, p,
	    catchup_last_marker);
}

static void
catchup_markers_polled(struct join *jn, PGresult *res)
{
	const char	*p[1] = { jn->dsn };

	if (atoi(PQgetvalue(res, 0, 0)) < jn->nmembers - 1) {
		poll_again(jn, catchup_markers_wait);
		return;
	}
	jq(jn, "reading the member's WAL position", "SELECT w FROM dblink($1,"
	    " 'SELECT pg_current_wal_lsn()::text') AS t(w text)", 1, p,
	    catchup_wal_read);
}

/* S has applied every other member's marker. */
static void
catchup_markers_wait(struct join *jn)
{
	const char	*p[2] = { jn->dsn, jn->node_id };

	jq(jn, "watching the markers on the member", "SELECT n FROM"
	    " dblink($1, format('SELECT count(*) FROM kmd_join_markers WHERE"
	    " join_id = %L AND origin <> (SELECT node_id FROM kmd_local)',"
	    " $2::text)) AS t(n bigint)", 2, p, catchup_markers_polled);
}

static void
catchup_markers_made(struct join *jn, PGresult *res)
{
	(void)res;
	catchup_markers_wait(jn);
}

/* A marker on every member but S, each after its direct slot exists. */
static void
catchup_markers(struct join *jn)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX];
	int		 i;

	sbuf_add(&sql, "SELECT 1;");
	for (i = 0; i < jn->nmembers; i++) {
		if (strcmp(jn->members[i].id, jn->sponsor) == 0)
			continue;
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sbuf_add(&sql, "SELECT dblink_exec('%s', 'INSERT INTO"
		    " kmd_join_markers (join_id, origin) VALUES (''%s'',"
		    " ''%s'') ON CONFLICT DO NOTHING');", dsn, jn->node_id,
		    jn->members[i].id);
	}
	jq(jn, "the markers on the members", sql.s, 0, NULL,
	    catchup_markers_made);
	free(sql.s);
}

static void
catchup_direct_polled(struct join *jn, PGresult *res)
{
	int	 i;

	for (i = 0; i < PQntuples(res); i++) {
		if (still_down(jn, "a direct subscription to a member",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), -1))
			return;
		if (strcmp(PQgetvalue(res, i, 0), "replicating") != 0) {
			poll_again(jn, catchup_direct_wait);
			return;
		}
	}
	catchup_markers(jn);
}

static void
catchup_direct_wait(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "watching the direct subscriptions", "SELECT s.status,"
	    " u.sub_name FROM pglogical.subscription u,"
	    " pglogical.show_subscription_status(u.sub_name) s WHERE"
	    " u.sub_name <> $1", 1, p, catchup_direct_polled);
}

/*
 * Direct subscriptions from every member, S included; no copy.  Made
 * when stage_catchup() begins, or earlier, while kmd_keys' indexes are
 * built after a large copy (sync_polled): pglogical's manager starts
 * their workers holding its node lock for up to a second (it waits that
 * long for a new worker to attach), and the catch-up subscription cannot
 * be disabled until it lets go.  Made during the build, that second
 * passes while the build runs.  Then the stage that made them goes on.
 */
static void
direct_subscribed(struct join *jn, PGresult *res)
{
	(void)res;
	jn->direct = 1;
	jn->poll_fn(jn);
}

static void
direct_members(struct join *jn, PGresult *res)
{
	struct sbuf	 sql = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX], sub[64];
	int		 i;

	jn->nmembers = 0;
	for (i = 0; i < PQntuples(res) && i < KMD_NODES_MAX; i++) {
		kmd_strlcpy(jn->members[i].id, PQgetvalue(res, i, 0),
		    sizeof(jn->members[i].id));
		kmd_strlcpy(jn->members[i].host, PQgetvalue(res, i, 1),
		    sizeof(jn->members[i].host));
		if (!valid_host(jn->members[i].host)) {
			join_kill(jn, "member %s has an unusable host",
			    jn->members[i].id);
			return;
		}
		jn->nmembers++;
	}
	if (jn->nmembers == 0) {
		join_kill(jn, "the copy from the member holds no ready node");
		return;
	}
	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		sub_name(jn->members[i].id, jn->node_id, sub, sizeof(sub));
		sbuf_add(&sql, "SELECT pglogical.create_subscription("
		    "subscription_name := '%s', provider_dsn := '%s',"
		    " replication_sets := '{default}', synchronize_structure"
		    " := false, synchronize_data := false, forward_origins :="
		    " '{}');", sub, dsn);
	}
	jq(jn, "subscribing to every member", sql.s, 0, NULL,
	    direct_subscribed);
	free(sql.s);
}

static void
direct_subscribe(struct join *jn)
{
	const char	*p[1] = { jn->node_id };

	jq(jn, "reading the members", "SELECT node_id::text, host FROM"
	    " kmd_nodes WHERE state = 'r' AND node_id <> $1::uuid ORDER BY"
	    " node_id", 1, p, direct_members);
}

static void
stage_catchup(struct join *jn)
{
	if (jn->direct)
		catchup_direct_wait(jn);
	else
		direct_subscribe(jn);
}

/* ---- 3/5 initial sync ----------------------------------------------------- */

static void
progress_done(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)res;
	(void)arg;
}

/* About once a second: bytes copied so far, of how many, how fast. */
static void
sync_progress(struct join *jn, long long bytes)
{
	char		 text[128];
	const char	*p[1] = { text };
	int64_t		 now = mono_ms();
	double		 rate;

	if (jn->copied_at != 0 && now - jn->copied_at < 1000)
		return;
	rate = jn->copied_at == 0 ? 0 : (double)(bytes - jn->copied) /
	    1048576.0 / ((now - jn->copied_at) / 1000.0);
	snprintf(text, sizeof(text), "%lld of %lld MB copied, %.1f MB/s",
	    bytes / 1048576, jn->size / 1048576, rate < 0 ? 0 : rate);
	jn->copied = bytes;
	jn->copied_at = now;
	pq_query(jn->j->jdb, "UPDATE kmd_local SET join_progress = $1", 1, p,
	    progress_done, NULL);
}

static void
sync_indexed(struct join *jn, PGresult *res)
{
	(void)res;
	stage_set(jn, "c", stage_catchup);
}

static void
indexes_built(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;

	if (pq_ok(res)) {
		jn->indexed = 1;
		return;
	}
	jn->indexed = -1;
	kmd_strlcpy(jn->index_err, res != NULL ? PQresultErrorMessage(res) :
	    pq_error(db), sizeof(jn->index_err));
}

/*
 * The copy into a bare kmd_keys holds the table's lock until it commits,
 * and pglogical's apply worker starts the catch-up stream right after.
 * So the index build is queued for the lock while the copy holds it:
 * PostgreSQL grants locks in order, so the build runs as soon as the copy
 * has committed, and any change the stream brings for kmd_keys (an
 * update or delete needs the key's index) waits until it is done.
 */
static void
indexes_queue(struct join *jn)
{
	jn->queued = 1;
	if (pq_query(jn->idb, SQL_KEYS_INDEXES_ADD, 0, NULL, indexes_built,
	    jn) == -1)
		fatalx("%s", __func__);
	log_info("join of node %s: kmd_keys' indexes will be built as soon as"
	    " the copy commits", jn->node_id);
}

static void
sync_polled(struct join *jn, PGresult *res)
{
	const char	*status = PQgetvalue(res, 0, 0);
	int		 copying = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	int		 copied = atoi(PQgetvalue(res, 0, 1)) == 0;

	sync_progress(jn, atoll(PQgetvalue(res, 0, 3)));
	/* (Copied already: a copy too quick to be seen holding the lock.) */
	if (jn->idb != NULL && !jn->queued && (copying || copied))
		indexes_queue(jn);
	if (jn->indexed == -1) {
		join_kill(jn, "building kmd_keys' indexes: %s", jn->index_err);
		return;
	}
	/*
	 * Once copied and indexed, a subscription down is its apply worker
	 * dead (an update that came before the index, say): restart it
	 * (kick).  Before, a restart would copy again.
	 */
	if (still_down(jn, "the copy from the member", status, copied &&
	    (jn->idb == NULL || jn->indexed == 1) ? jn->cu_sub : NULL, -1))
		return;
	/* Copied, the build under way: see direct_subscribe(). */
	if (copied && jn->queued && jn->indexed == 0 && !jn->direct &&
	    strcmp(status, "replicating") == 0) {
		log_info("join of node %s: copied; subscribing to every member"
		    " while kmd_keys' indexes are built", jn->node_id);
		direct_subscribe(jn);
		return;
	}
	if (strcmp(status, "replicating") != 0 || !copied ||
	    (jn->idb != NULL && jn->indexed != 1)) {
		if (jn->polls % 20 == 0)
			log_info("join of node %s: initial sync: %s, %lld MB"
			    " so far", jn->node_id, copied ? "indexing" :
			    status, atoll(PQgetvalue(res, 0, 3)) / 1048576);
		poll_again(jn, stage_sync);
		return;
	}
	log_info("join of node %s: initial sync done (%lld MB)", jn->node_id,
	    atoll(PQgetvalue(res, 0, 3)) / 1048576);
	/* The second index, when the key was kept; else a check. */
	jq(jn, "building kmd_keys' indexes", SQL_KEYS_INDEXES_ADD, 0, NULL,
	    sync_indexed);
}

static void
stage_sync(struct join *jn)
{
	const char	*p[1] = { jn->cu_sub };

	jq(jn, "watching the initial sync", "SELECT coalesce((SELECT status"
	    " FROM pglogical.show_subscription_status($1)), 'initializing'),"
	    " (SELECT count(*) FROM pglogical.local_sync_status l JOIN"
	    " pglogical.subscription s ON s.sub_id = l.sync_subid WHERE"
	    " s.sub_name = $1 AND l.sync_status <> 'r'), 0,"
	    " pg_database_size('kmd'), EXISTS (SELECT FROM pg_locks l JOIN"
	    " pg_stat_activity a ON a.pid = l.pid WHERE l.relation ="
	    " 'kmd_keys'::regclass AND l.granted AND l.mode ="
	    " 'RowExclusiveLock' AND a.application_name LIKE '%\\_copy')",
	    1, p, sync_polled);
}

/* ---- 2/5 bootstrapping ---------------------------------------------------- */

static void
bootstrapped(struct join *jn, PGresult *res)
{
	(void)res;
	stage_set(jn, "i", stage_sync);
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
	    " forward_origins := '{all}')", 2, p, bootstrapped);
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
bootstrap_node(struct join *jn, PGresult *res)
{
	(void)res;
	jq(jn, "the replication sets", SQL_SETS, 0, NULL, bootstrap_sets);
}

static void
stage_bootstrap(struct join *jn)
{
	char		 name[64], mine[PEER_DSN_MAX];
	const char	*p[2] = { name, mine };

	snprintf(name, sizeof(name), "kmd_");
	short_id(jn->node_id, name + 4, sizeof(name) - 4, 32);
	local_dsn(jn->j, mine, sizeof(mine));
	jq(jn, "the pglogical node", "SELECT pglogical.create_node(node_name"
	    " := $1, dsn := $2)", 2, p, bootstrap_node);
}

/* ---- 1/5 creating ------------------------------------------------------------ */

static void
created_remote(struct join *jn, PGresult *res)
{
	(void)res;
	answer_started(jn, "creating");
	stage_set(jn, "b", stage_bootstrap);
}

static void
created_local(struct join *jn, PGresult *res)
{
	char		 port[8];
	const char	*p[8] = { jn->dsn, jn->node_id, jn->req.host, port,
			    jn->req.pubaddr, KMD_VERSION, jn->req.cert,
			    jn->j->w->conf.hsm ? "hsm" : "software" };

	(void)res;
	snprintf(port, sizeof(port), "%d", 5432);
	jq(jn, "registering with the member", "SELECT dblink_exec($1, format("
	    "'INSERT INTO kmd_nodes (node_id, host, port, public_address,"
	    " state, version, cert, rot) VALUES (%L, %L, %L, %L, ''creating'',"
	    " %L, %L, %L) ON CONFLICT (node_id) DO UPDATE SET state ="
	    " ''creating''', $2::text, $3::text, $4::text, $5::text, $6::text,"
	    " $7::text, $8::text))", 8, p, created_remote);
}

static void
stage_wiped(struct join *jn, PGresult *res)
{
	const char	*p[6] = { jn->node_id, jn->cluster_id,
			    jn->opened.kek_wrapped, jn->opened.node_key_sealed,
			    jn->req.cert, jn->req.member };

	(void)res;
	jq(jn, "recording this node", "INSERT INTO kmd_local (node_id,"
	    " cluster_id, kek_wrapped, node_key_sealed, node_cert,"
	    " join_state, join_member) VALUES ($1, $2, decode($3, 'hex'),"
	    " decode($4, 'hex'), $5, 'creating', $6)", 6, p, created_local);
}

/* The rest of the wipe, once the old subscriptions' workers are stopped. */
static void	wipe_wait(struct join *);

static void
wipe_polled(struct join *jn, PGresult *res)
{
	if (atoi(PQgetvalue(res, 0, 0)) > 0) {
		if (jn->polls > 300) {
			join_kill(jn, "the old subscriptions' workers did not"
			    " stop within 30 s");
			return;
		}
		poll_again(jn, wipe_wait);
		return;
	}
	jq(jn, "wiping this node", "SELECT pglogical.drop_subscription("
	    "sub_name, true) FROM pglogical.subscription; SELECT"
	    " pglogical.drop_node(n.node_name, true) FROM pglogical.node n JOIN"
	    " pglogical.local_node l ON l.node_id = n.node_id; BEGIN; TRUNCATE"
	    " kmd_cluster, kmd_nodes, kmd_node_health, kmd_users, kmd_keys,"
	    " kmd_join_markers; " SQL_KEYS_INDEX_DROP "; DELETE FROM"
	    " kmd_local; COMMIT", 0, NULL, stage_wiped);
}

static void
wipe_wait(struct join *jn)
{
	const char	*p[1] = { "%" };

	jq(jn, "waiting for the old subscriptions to stop", SQL_SUBS_WORKERS,
	    1, p, wipe_polled);
}

static void
wipe_disabled(struct join *jn, PGresult *res)
{
	(void)res;
	jn->polls = 0;
	wipe_wait(jn);
}

/*
 * What an earlier, killed join left goes first; then the data.  A
 * subscription is disabled (its workers stopped, committed) before it is
 * dropped: dropping one whose worker is still copying waits for that
 * worker, which waits for the dropping transaction.
 */
static void
stage_wipe(struct join *jn)
{
	log_info("join of node %s: %s (the node's data is wiped)",
	    jn->node_id, status_desc("creating"));
	jq(jn, "stopping old subscriptions", SQL_SUBS_STOP, 0, NULL,
	    wipe_disabled);
}

/* ---- preflight ---------------------------------------------------------------- */

static void
preflight_read(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;
	struct statvfs	 sv;
	double		 skew;
	long long	 need, avail;
	int		 ok = 1, nodes, joining, hsm_nodes;
	char		 msg[KMD_ERR_MAX] = "";

	(void)db;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		snprintf(msg, sizeof(msg), "member %s:5432 is not reachable"
		    " with mutual TLS (%s)", jn->req.member, res != NULL ?
		    PQresultErrorMessage(res) : pq_error(jn->j->jdb));
		msg[strcspn(msg, "\n")] = '\0';
		send_check(jn, "member", 0, "%s", msg);
		join_refuse(jn, msg);
		return;
	}
	send_check(jn, "member", 1, "%s:5432 answers over mutual TLS as node"
	    " %s", jn->req.member, PQgetvalue(res, 0, 6));
	kmd_strlcpy(jn->sponsor, PQgetvalue(res, 0, 6), sizeof(jn->sponsor));
#define CHECK(cond, item, ...) do {					\
	send_check(jn, item, (cond) ? 1 : 0, __VA_ARGS__);		\
	if (!(cond) && ok) {						\
		ok = 0;							\
		snprintf(msg, sizeof(msg), __VA_ARGS__);		\
	}								\
} while (0)
	CHECK(strcmp(PQgetvalue(res, 0, 0), jn->cluster_id) == 0, "cluster",
	    "the member is in cluster %s; the credentials are for %s",
	    PQgetvalue(res, 0, 0), jn->cluster_id);
	CHECK(strcmp(PQgetvalue(res, 0, 1), KMD_VERSION) == 0 &&
	    strcmp(PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 11)) == 0,
	    "version", "kmd %s schema %s here, kmd %s schema %s on the"
	    " member", KMD_VERSION, PQgetvalue(res, 0, 11),
	    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	skew = fabs(atof(PQgetvalue(res, 0, 3)) - atof(PQgetvalue(res, 0,
	    10)));
	CHECK(skew < SKEW_MAX, "clock", "clock skew with the member %.3f s"
	    " (at most %.0f s; check NTP)", skew, SKEW_MAX);
	send_check(jn, "certificate", 1, "this node's certificate verifies"
	    " under the cluster CA");
	nodes = atoi(PQgetvalue(res, 0, 4));
	CHECK(nodes < KMD_NODES_MAX, "size", "the cluster has %d nodes, at"
	    " most %d", nodes, KMD_NODES_MAX);
	joining = atoi(PQgetvalue(res, 0, 5));
	CHECK(joining == 0, "joins", "%d node(s) joining now; one join at a"
	    " time: wait until it is ready", joining);
	CHECK(strcmp(PQgetvalue(res, 0, 8), "r") == 0, "member state",
	    "the member is %s; join through a ready member",
	    status_desc(PQgetvalue(res, 0, 8)));
	jn->size = atoll(PQgetvalue(res, 0, 7));
	need = 2 * jn->size + 64 * 1024 * 1024;
	avail = statvfs(jn->j->w->conf.pgsock, &sv) == 0 ?
	    (long long)sv.f_bavail * (long long)sv.f_frsize : -1;
	CHECK(avail < 0 || avail >= need, "disk", "%lld MB free here for a"
	    " %lld MB database (twice its size is needed)",
	    avail / 1048576, need / 1048576 / 2);
#undef CHECK
	hsm_nodes = atoi(PQgetvalue(res, 0, 9));
	if (ok && hsm_nodes > 0 && !jn->j->w->conf.hsm) {
		send_check(jn, "root of trust", 1, "WARNING: %d node(s) keep"
		    " the cluster's KEK in an HSM and this node does not: it"
		    " becomes the weakest point in the key hierarchy",
		    hsm_nodes);
		log_warnx("cluster join: %d node(s) of the cluster keep the"
		    " KEK in an HSM and this node does not: it becomes the"
		    " weakest point in the key hierarchy", hsm_nodes);
	}
	if (!ok) {
		join_refuse(jn, msg);
		return;
	}
	if (jn->req.preflight_only) {
		/* Only a look: what the preflight installed goes too. */
		if (jn->tls_new)
			kchan_send(jn->j->w->parent, IMSG_TLS_REMOVE, 0, -1,
			    NULL, 0);
		if (jn->reqid != 0)
			kchan_send(jn->j->w->parent, IMSG_CTL_END, jn->reqid,
			    -1, NULL, 0);
		jn->reqid = 0;
		join_free(jn);
		return;
	}
	jn->tls_new = 0;	/* past the preflight: the files stay */
	stage_wipe(jn);
}

/* TLS is installed with the new certificate: ask the member. */
void
join_tls_installed(struct joiner *j, const struct tls_result *tr)
{
	struct join	*jn = j->join;
	const char	*p[2];

	if (jn == NULL)
		return;
	if (!tr->ok) {
		join_refuse(jn, tr->err);
		return;
	}
	p[0] = jn->dsn;
	jn->tls_new = !jn->retry;
	p[1] = jn->node_id;
	/* This node's own row may be left joining by a killed attempt. */
	pq_query(j->jdb, "SELECT t.*, extract(epoch FROM clock_timestamp()),"
	    " (SELECT version FROM kmd_schema)::text FROM dblink($1, format("
	    "'SELECT"
	    " c.cluster_id::text, c.kmd_version, (SELECT version FROM"
	    " kmd_schema)::text, extract(epoch FROM clock_timestamp()),"
	    " (SELECT count(*) FROM kmd_nodes WHERE state NOT IN (''m'','"
	    "'v'',''k'') AND node_id <> %L), (SELECT count(*) FROM kmd_nodes"
	    " WHERE state IN (''creating'',''b'',''i'',''c'',''o'') AND"
	    " node_id <> %L), l.node_id::text, pg_database_size(''kmd''),"
	    " (SELECT state FROM kmd_nodes WHERE node_id = l.node_id),"
	    " (SELECT count(*) FROM kmd_nodes WHERE rot = ''hsm'' AND state"
	    " <> ''v'') FROM"
	    " kmd_cluster c JOIN kmd_local l USING (cluster_id)', $2::text,"
	    " $2::text)) AS t(cluster_id text, ver text, schema text, now"
	    " float8, nodes bigint, joining bigint, member text, size bigint,"
	    " state text, hsm bigint)", 2, p, preflight_read, jn);
}

int
joiner_join_opened(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker			*w = arg;
	struct joiner			*j = w->ctx;
	const struct hsm_join_opened	*o = (const void *)m->data;
	struct join			*jn = j->join;

	(void)ch;
	if (!TERMINATED(o->cluster_id) || !TERMINATED(o->kek_wrapped) ||
	    !TERMINATED(o->node_key_sealed))
		return -1;
	if (jn == NULL || jn->reqid != m->hdr.reqid)
		return 0;
	memcpy(&jn->opened, o, sizeof(*o));
	kmd_strlcpy(jn->cluster_id, o->cluster_id, sizeof(jn->cluster_id));
	joiner_tls_install(j, jn->reqid, jn->node_id, o->kek_wrapped,
	    o->node_key_sealed, jn->req.cert, jn->req.cachain);
	return 0;
}

/* The pending csr's keys; the node must not be in a cluster. */
static void
pending_read(struct pq *db, PGresult *res, void *arg)
{
	struct join	*jn = arg;

	(void)db;
	if (!pq_ok(res)) {
		join_refuse(jn, res != NULL ? PQresultErrorMessage(res) :
		    pq_error(jn->j->jdb));
		return;
	}
	if (PQntuples(res) != 1 || (!PQgetisnull(res, 0, 4) &&
	    (PQgetisnull(res, 0, 5) || strcmp(PQgetvalue(res, 0, 5), "k") !=
	    0))) {
		join_refuse(jn, "this node is already in a cluster; "
		    HOW_TO_LEAVE);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		join_refuse(jn, "this node has made no certificate request:"
		    " run cluster csr here, then cluster nodes create on a"
		    " member");
		return;
	}
	if ((jn->open = calloc(1, sizeof(*jn->open))) == NULL)
		fatal("%s", __func__);
	jn->retry = !PQgetisnull(res, 0, 4);	/* killed before */
	kmd_strlcpy(jn->node_id, PQgetvalue(res, 0, 0), sizeof(jn->node_id));
	join_names(jn);
	kmd_strlcpy(jn->open->node_id, jn->node_id,
	    sizeof(jn->open->node_id));
	kmd_strlcpy(jn->open->csr, PQgetvalue(res, 0, 1),
	    sizeof(jn->open->csr));
	kmd_strlcpy(jn->open->node_key_sealed, PQgetvalue(res, 0, 2),
	    sizeof(jn->open->node_key_sealed));
	kmd_strlcpy(jn->open->box_sk_sealed, PQgetvalue(res, 0, 3),
	    sizeof(jn->open->box_sk_sealed));
	kmd_strlcpy(jn->open->cert, jn->req.cert, sizeof(jn->open->cert));
	kmd_strlcpy(jn->open->cachain, jn->req.cachain,
	    sizeof(jn->open->cachain));
	kmd_strlcpy(jn->open->mkek_blob, jn->req.mkek_blob,
	    sizeof(jn->open->mkek_blob));
	kchan_send(jn->j->w->parent, IMSG_HSM_JOIN_OPEN, jn->reqid, -1,
	    jn->open, sizeof(*jn->open));
}

int
joiner_cluster_join(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct worker		*w = arg;
	struct joiner		*j = w->ctx;
	const struct cluster_join *cj = (const void *)m->data;
	struct join		*jn;

	if (!TERMINATED(cj->member) || !TERMINATED(cj->host) ||
	    !TERMINATED(cj->pubaddr) || !TERMINATED(cj->cert) ||
	    !TERMINATED(cj->cachain) || !TERMINATED(cj->mkek_blob))
		return -1;
	if (!valid_host(cj->member) || strcmp(cj->member, cj->host) == 0)
		return kchan_senderr(ch, m->hdr.reqid, "cluster join:"
		    " --member=%s is not another node's address", cj->member);
	if ((jn = calloc(1, sizeof(*jn))) == NULL)
		fatal("%s", __func__);
	jn->j = j;
	jn->reqid = m->hdr.reqid;
	memcpy(&jn->req, cj, sizeof(*cj));
	if (op_busy(j, ch, jn->reqid, "cluster join") == -1 ||
	    own_host(j, ch, jn->reqid, "cluster join", jn->req.host,
	    jn->req.pubaddr, sizeof(jn->req.pubaddr)) == -1) {
		free(jn);
		return 0;
	}
	peer_dsn(jn->req.member, jn->dsn, sizeof(jn->dsn));
	j->join = jn;
	return pq_query(j->jdb, "SELECT p.node_id::text, p.csr,"
	    " encode(p.node_key_sealed, 'hex'), encode(p.box_sk_sealed,"
	    " 'hex'), (SELECT node_id FROM kmd_local), (SELECT join_state FROM"
	    " kmd_local) FROM (SELECT 1) one LEFT JOIN kmd_join_pending p ON"
	    " true", 0, NULL, pending_read, jn);
}


uint32_t
join_reqid(const struct join *jn)
{
	return jn->reqid;
}

void
join_hsm_refused(struct joiner *j, const char *msg)
{
	join_refuse(j->join, msg);
}

/* At exit: a join under way is lost with the process. */
void
join_abandon(struct joiner *j)
{
	log_warnx("cluster join of node %s abandoned: kmd is stopping",
	    j->join->node_id);
	join_free(j->join);
}

static void
interrupted_done(struct pq *db, PGresult *res, void *arg)
{
	(void)arg;
	if (!pq_ok(res))
		log_warnx("cannot mark an interrupted join: %s", res ?
		    PQresultErrorMessage(res) : pq_error(db));
	else if (PQntuples(res) == 1)
		log_warnx("the join of node %s was interrupted (kmd or its"
		    " joiner restarted): it is killed; run cluster join again",
		    PQgetvalue(res, 0, 0));
}

/*
 * At start: a join that was under way when the joiner went is over; say
 * so rather than show a stage nothing drives any more.
 */
void
join_interrupted(struct joiner *j)
{
	pq_query(j->jdb, "UPDATE kmd_local SET join_state = 'k', join_error ="
	    " 'the join was interrupted: kmd or its joiner restarted; run"
	    " cluster join again', join_progress = NULL WHERE join_state IN "
	    NS_SQL_JOINING " RETURNING node_id", 0, NULL, interrupted_done,
	    NULL);
	/* Its copy would go on, holding a slot on the member: stop it. */
	pq_query(j->jdb, "SELECT pglogical.alter_subscription_disable(sub_name,"
	    " true) FROM pglogical.subscription, kmd_local WHERE join_state ="
	    " 'k'", 0, NULL, kill_done, NULL);
	pq_query(j->jdb, SQL_KEYS_INDEXES_ADD, 0, NULL, kill_done, NULL);
}
