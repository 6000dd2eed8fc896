/*
 * kmctl cluster verify: the replicated tables operators see (keys with
 * every version, users, nodes) compared across every ready node.
 *
 * There is no one snapshot of a multi-master cluster under writes, so
 * the comparison is made in rounds, each with a cut of its own:
 *   1. mark: every node writes a marker (kmd_peer_verify_mark); each
 *      node subscribes to every other directly, and pglogical applies a
 *      node's changes in its commit order, so a node that holds another
 *      node's marker holds every change that node committed before it;
 *   2. drain: wait until every node holds every other node's marker
 *      (VERIFY_DRAIN_MS at most; a node that does not is not compared);
 *   3. read: every node's rows, as a digest per row (md5 of the row's
 *      columns, read so that no session setting changes them), summed
 *      per part of the table (256 parts, by the md5 of the row's key);
 *      parts whose count or sum differ between nodes are read again row
 *      by row (VERIFY_PARTS_MAX parts at most), and the rows that
 *      differ, or are missing on a node, are this round's differences.
 * A round with differences is followed by another (VERIFY_ROUNDS in
 * all).  A row is reported only if it differed in every round: a row in
 * flight (written after a round's markers, so on some nodes only) is
 * the same in a later round, once it has arrived everywhere.
 *
 * So "same" proves: for every row of the three tables, there was a
 * round in which every ready node held the same contents for it (or
 * every node held none), read after each node had received every change
 * the others made before that round's markers.  It proves nothing about
 * a node that was not compared (down, cut off, or too far behind: the
 * answer names it, and is not "same").  A row written again in every
 * round can be reported though no node diverged: run it again.  The
 * per-part sums find any accidental difference; they are not a defence
 * against someone who writes a node's database by hand to hide one.
 *
 * The markers are taken back at the end (a verify that dies leaves them
 * to the next one, which clears markers older than an hour).  Peers are
 * read through dblink on links of this connection's own (kmd_repl, a
 * SELECT on the replicated tables and the two marker functions).
 */
#include <event2/event.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "joiner.h"
#include "log.h"
#include "nodestatus.h"
#include "util.h"
#include "verify.h"

#define VERIFY_ROUNDS		3
#define VERIFY_DRAIN_MS		15000	/* every marker everywhere within */
#define VERIFY_POLL_MS		100
#define VERIFY_MAX_MS		50000	/* the whole verify: kmctl waits 60 s */
#define VERIFY_PARTS_MAX	48	/* parts read row by row, a round */
#define VERIFY_LIST_MAX		100	/* differing rows listed */


static const char	verify_what[] = "cluster verify";

struct vnode {
	char		 id[KMD_NODEID_MAX];
	char		 host[KMD_HOST_MAX];
	int		 self;
	int		 ok;		/* still compared */
	int		 marked;	/* its marker of this round is in */
	long long	 seen;		/* the other markers it holds */
	char		 err[KMD_ERR_MAX - 64];
};

struct vrun {
	struct joiner		*j;
	struct pq		*c;
	unsigned		 gen;		/* this run, in callbacks */
	struct vnode		 nodes[KMD_NODES_MAX];
	int			 n;
	int			 round;
	char			 tokens[VERIFY_ROUNDS][KMD_NODEID_MAX];
	int			 waiting;	/* nodes' answers to come */
	void			(*then)(struct vrun *);
	int64_t			 started, drain_end;
	struct event		*timer;		/* the drain's polls */
	struct sbuf		 src;		/* every row's digest, SQL */
	char			 parts[VERIFY_PARTS_MAX * 12 + 4];
	int			 parts_cut;	/* more differed than read */
	struct verify_row	 tables[VERIFY_TABLES * KMD_NODES_MAX];
	int			 ntables;
	long long		 differ, inflight;
};

/*
 * A node's query's callback argument: the run's generation and the
 * node's index, so that an answer that comes after its run ended (its
 * connection is freed on the next turn of the loop) finds nothing.
 */
static struct joiner	*verify_joiner;
static unsigned		 verify_gen;

#define CALL_ARG(v, i)	((void *)(uintptr_t)(((v)->gen << 8) | (unsigned)(i)))

static struct vrun *
run_of(void *arg, int *idx)
{
	struct joiner	*j = verify_joiner;
	struct vrun	*v;

	if (j == NULL || j->op == NULL || j->op->what != verify_what ||
	    (v = j->op->reply) == NULL || v->gen != (uintptr_t)arg >> 8)
		return NULL;
	if (idx != NULL)
		*idx = (int)((uintptr_t)arg & 0xff);
	return v;
}

static void	round_start(struct vrun *);
static void	finish(struct vrun *);

static void
vrun_release(struct jop *op)
{
	struct vrun	*v = op->reply;

	if (v == NULL)
		return;
	if (v->timer != NULL)
		event_free(v->timer);
	if (v->c != NULL)
		pq_free_later(v->j->w->base, v->c);
	free(v->src.s);
}

/* The compared nodes' ids as an SQL array, and how many. */
static int
compared(struct vrun *v, char *buf, size_t len)
{
	size_t	 at = 1;
	int	 i, n = 0;

	kmd_strlcpy(buf, "{", len);
	for (i = 0; i < v->n; i++)
		if (v->nodes[i].ok && at < len)
			at += snprintf(buf + at, len - at, "%s%s", n++ ? "," :
			    "", v->nodes[i].id);
	if (at < len)
		snprintf(buf + at, len - at, "}");
	return n;
}

static void
node_failed(struct vnode *nd, const char *what, const char *why)
{
	if (!nd->ok)
		return;
	nd->ok = 0;
	snprintf(nd->err, sizeof(nd->err), "%s: %s", what, why);
	nd->err[strcspn(nd->err, "\n")] = '\0';
	log_warnx("%s: %s (%s): %s", verify_what, nd->host, nd->id, nd->err);
}

/*
 * A node's answer to a query of the run (arg): its run, or NULL when the
 * run is gone; *ok whether it answered, the node left out when not.
 */
static struct vrun *
node_answer(void *arg, PGresult *res, enum peer_call what, int *i, int *ok)
{
	struct vrun	*v;

	if ((v = run_of(arg, i)) == NULL)
		return NULL;
	if (!(*ok = pq_ok(res)))
		node_failed(&v->nodes[*i], peer_call_what(what), res != NULL ?
		    pq_why(v->c, res) : pq_error(v->c));
	return v;
}

/* One node's answer is in; the last one moves the run on. */
static void
answered(struct vrun *v)
{
	if (--v->waiting == 0)
		v->then(v);
}

/*
 * Run inner (one SQL statement) on node i: here, or on a peer through
 * its link, into the temporary table `into' with the node's id first
 * (coldef: inner's columns), or as a row (node, x) when into is NULL.
 */
static void
node_q(struct vrun *v, int i, const char *into, const char *coldef,
    const char *inner, pq_cb cb)
{
	struct sbuf	 b = { NULL, 0, 0 };
	char		 link[24];
	const char	*p[3] = { v->nodes[i].id, link, inner };

	snprintf(link, sizeof(link), "kmd_v%d", i);
	if (into != NULL)
		sbuf_add(&b, "INSERT INTO pg_temp.%s ", into);
	if (v->nodes[i].self)
		sbuf_add(&b, "SELECT $1::text, t.* FROM (%s) t", inner);
	else
		sbuf_add(&b, "SELECT $1::text, t.* FROM dblink($2, $3) AS"
		    " t(%s)", coldef);
	v->waiting++;
	pq_query(v->c, b.s, v->nodes[i].self ? 1 : 3, p, cb, CALL_ARG(v, i));
	free(b.s);
}

/* Each compared node runs inner; then `then'. */
static void
on_nodes(struct vrun *v, const char *into, const char *coldef,
    const char *inner, pq_cb cb, void (*then)(struct vrun *))
{
	int	 i;

	v->then = then;
	v->waiting = 1;		/* until every query is queued */
	for (i = 0; i < v->n; i++)
		if (v->nodes[i].ok)
			node_q(v, i, into, coldef, inner, cb);
	answered(v);
}

/* A query of the run's own: -1 (the run is ended) when it failed. */
static int
run_ok(struct vrun *v, PGresult *res)
{
	if (pq_ok(res))
		return 0;
	op_fail(v->j, "%s; nothing was changed", res != NULL ?
	    pq_why(v->c, res) : pq_error(v->c));
	return -1;
}

/* ---- 3. read: digests per part, then the rows of parts that differ ---- */

static void
read_done(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	int		 i, ok;

	(void)db;
	if ((v = node_answer(arg, res, PEER_VERIFY_READ, &i, &ok)) != NULL)
		answered(v);
}

static void
rows_diffed(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	if (atoll(PQcmdTuples(res)) > 0 && v->round < VERIFY_ROUNDS)
		round_start(v);
	else
		finish(v);
}

static void
rows_read(struct vrun *v)
{
	char		 ids[KMD_NODES_MAX * KMD_NODEID_MAX + 4], n[16], r[16];
	const char	*p[3] = { ids, n, r };

	snprintf(n, sizeof(n), "%d", compared(v, ids, sizeof(ids)));
	snprintf(r, sizeof(r), "%d", v->round);
	pq_query(v->c, SQL_VERIFY_ROWS, 3, p, rows_diffed, CALL_ARG(v, 0));
}

static void
parts_read(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	struct sbuf	 q = { NULL, 0, 0 };
	size_t		 at;
	int		 i, n;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	if ((n = PQntuples(res)) == 0) {
		finish(v);
		return;
	}
	v->parts_cut = n > VERIFY_PARTS_MAX;
	v->parts[0] = '\0';
	for (i = 0, at = 0; i < n && i < VERIFY_PARTS_MAX; i++) {
		if (!verify_valid_part(PQgetvalue(res, i, 0))) {
			op_fail(v->j, "a node answered a malformed part name;"
			    " nothing was changed");
			return;
		}
		at += snprintf(v->parts + at, sizeof(v->parts) - at, "%s%s",
		    i ? "," : "", PQgetvalue(res, i, 0));
	}
	sbuf_add(&q, "SELECT tbl, k, h FROM (%s) r WHERE tbl || ':' ||"
	    " substr(md5(k), 1, 2) = ANY ('{%s}'::text[])", v->src.s, v->parts);
	pq_query(v->c, "TRUNCATE pg_temp.kv_r", 0, NULL, jq_ignore,
	    NULL);
	on_nodes(v, "kv_r", "tbl text, k text, h text", q.s, read_done,
	    rows_read);
	free(q.s);
}

static void
parts(struct vrun *v)
{
	char		 ids[KMD_NODES_MAX * KMD_NODEID_MAX + 4], n[16];
	const char	*p[2] = { ids, n };

	snprintf(n, sizeof(n), "%d", compared(v, ids, sizeof(ids)));
	pq_query(v->c, SQL_VERIFY_PARTS, 2, p, parts_read, CALL_ARG(v, 0));
}

static void
read_start(struct vrun *v)
{
	struct sbuf	 q = { NULL, 0, 0 };

	sbuf_add(&q, "SELECT tbl, substr(md5(k), 1, 2) AS b, count(*) AS n,"
	    " sum(('x' || substr(h, 1, 15))::bit(60)::bigint)::text AS s FROM"
	    " (%s) r GROUP BY 1, 2", v->src.s);
	pq_query(v->c, "TRUNCATE pg_temp.kv_b", 0, NULL, jq_ignore,
	    NULL);
	on_nodes(v, "kv_b", "tbl text, b text, n bigint, s text", q.s,
	    read_done, parts);
	free(q.s);
}

/* ---- 1. and 2. mark, drain -------------------------------------------- */

static void	drain_poll(struct vrun *);

static int
marked_count(struct vrun *v)
{
	int	 i, m = 0;

	for (i = 0; i < v->n; i++)
		m += v->nodes[i].ok && v->nodes[i].marked;
	return m;
}

static void
drain_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct vrun	*v;

	(void)fd;
	(void)ev;
	if ((v = run_of(arg, NULL)) != NULL)
		drain_poll(v);
}

/* Every compared node holds every other's marker: read; else again. */
static void
drained(struct vrun *v)
{
	struct timeval	 tv = { 0, VERIFY_POLL_MS * 1000 };
	long long	 want = marked_count(v) - 1;
	int		 i, behind = 0;

	for (i = 0; i < v->n; i++)
		if (v->nodes[i].ok && v->nodes[i].seen < want)
			behind++;
	if (behind == 0) {
		read_start(v);
		return;
	}
	if (mono_ms() < v->drain_end) {
		evtimer_add(v->timer, &tv);
		return;
	}
	for (i = 0; i < v->n; i++)
		if (v->nodes[i].ok && v->nodes[i].seen < want)
			node_failed(&v->nodes[i], peer_call_what(
			    PEER_VERIFY_MARKS), "it had not"
			    " received every other node's changes within 15 s"
			    " (see cluster summary)");
	read_start(v);
}

static void
seen_read(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	int		 i, ok;

	(void)db;
	if ((v = node_answer(arg, res, PEER_VERIFY_MARKS, &i, &ok)) == NULL)
		return;
	if (ok && PQntuples(res) == 1)
		v->nodes[i].seen = atoll(PQgetvalue(res, 0, 1));
	answered(v);
}

static void
drain_poll(struct vrun *v)
{
	char	 q[128];

	snprintf(q, sizeof(q), "SELECT kmd_peer_verify_marks('%s')",
	    v->tokens[v->round - 1]);
	on_nodes(v, NULL, "x bigint", q, seen_read, drained);
}

static void
mark_done(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	int		 i, ok;

	(void)db;
	if ((v = node_answer(arg, res, PEER_VERIFY_MARK, &i, &ok)) == NULL)
		return;
	v->nodes[i].marked = ok;
	answered(v);
}

static void
marks_in(struct vrun *v)
{
	v->drain_end = mono_ms() + VERIFY_DRAIN_MS;
	drain_poll(v);
}

static void
round_start(struct vrun *v)
{
	char	 q[128];
	int	 i;

	if (mono_ms() - v->started > VERIFY_MAX_MS - VERIFY_DRAIN_MS) {
		finish(v);	/* no time for another round: as it stands */
		return;
	}
	random_uuid(v->tokens[v->round], sizeof(v->tokens[v->round]));
	snprintf(q, sizeof(q), "SELECT kmd_peer_verify_mark('%s', true)",
	    v->tokens[v->round]);
	v->round++;
	for (i = 0; i < v->n; i++) {
		v->nodes[i].marked = 0;
		v->nodes[i].seen = 0;
	}
	on_nodes(v, NULL, "x text", q, mark_done, marks_in);
}

/* ---- the answer ------------------------------------------------------- */

static void
send_row(struct vrun *v, struct verify_row *r)
{
	kchan_send(v->j->w->parent, IMSG_VERIFY_ROW, v->j->op->reqid, -1, r,
	    sizeof(*r));
}

/* The verdict, in words, and whether it is "same". */
static int
verdict(struct vrun *v, char *buf, size_t len)
{
	char	 missing[256] = "";
	int	 i, ncompared = 0;

	for (i = 0; i < v->n; i++) {
		if (v->nodes[i].ok) {
			ncompared++;
			continue;
		}
		if (strlen(missing) + strlen(v->nodes[i].host) + 3 <
		    sizeof(missing))
			snprintf(missing + strlen(missing), sizeof(missing) -
			    strlen(missing), "%s%s", missing[0] ? ", " : "",
			    v->nodes[i].host);
	}
	if (v->differ > 0)
		snprintf(buf, len, "%lld row(s) differ across the nodes, in"
		    " each of %d round(s) of reading (see differences)",
		    v->differ, v->round);
	else if (v->parts_cut)
		snprintf(buf, len, "more than %d parts of the tables differ;"
		    " the first %d were read row by row", VERIFY_PARTS_MAX,
		    VERIFY_PARTS_MAX);
	else
		snprintf(buf, len, "the keys, users and nodes are the same on"
		    " the %d node(s) compared (%d round(s) of reading)",
		    ncompared, v->round);
	if (missing[0] != '\0')
		snprintf(buf + strlen(buf), len - strlen(buf), "; not compared:"
		    " %s (see nodes)", missing);
	return v->differ == 0 && !v->parts_cut && missing[0] == '\0';
}

static void
answer(struct pq *db, PGresult *res, void *arg)
{
	struct vrun		*v;
	struct verify_row	 r;
	int			 i;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	memset(&r, 0, sizeof(r));
	r.kind = VERIFY_RESULT;
	r.rounds = v->round;
	r.rows = v->differ;
	r.inflight = v->inflight;
	r.truncated = v->differ > VERIFY_LIST_MAX || v->parts_cut;
	r.ok = verdict(v, r.text, sizeof(r.text));
	send_row(v, &r);
	for (i = 0; i < v->n; i++) {
		memset(&r, 0, sizeof(r));
		r.kind = VERIFY_NODE;
		r.ok = v->nodes[i].ok;
		kmd_strlcpy(r.nodeid, v->nodes[i].id, sizeof(r.nodeid));
		kmd_strlcpy(r.host, v->nodes[i].host, sizeof(r.host));
		kmd_strlcpy(r.text, v->nodes[i].err, sizeof(r.text));
		send_row(v, &r);
	}
	for (i = 0; i < v->ntables; i++)
		send_row(v, &v->tables[i]);
	for (i = 0; i < PQntuples(res); i++) {
		memset(&r, 0, sizeof(r));
		r.kind = VERIFY_DIFF;
		kmd_strlcpy(r.table, PQgetvalue(res, i, 0), sizeof(r.table));
		kmd_strlcpy(r.key, PQgetvalue(res, i, 1), sizeof(r.key));
		kmd_strlcpy(r.nodeid, PQgetvalue(res, i, 2), sizeof(r.nodeid));
		kmd_strlcpy(r.hash, PQgetvalue(res, i, 3), sizeof(r.hash));
		send_row(v, &r);
	}
	log_info("%s: %s", verify_what, v->differ ? "rows differ" : "done");
	kchan_send(v->j->w->parent, IMSG_CTL_END, v->j->op->reqid, -1, NULL,
	    0);
	op_end(v->j);
}

static void
counts_read(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	char		 ids[KMD_NODES_MAX * KMD_NODEID_MAX + 4], n[16];
	const char	*p[2] = { ids, n };

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	v->differ = atoll(PQgetvalue(res, 0, 0));
	v->inflight = atoll(PQgetvalue(res, 0, 1));
	compared(v, ids, sizeof(ids));
	snprintf(n, sizeof(n), "%d", v->round);
	pq_query(v->c, SQL_VERIFY_DIFFS, 2, p, answer, CALL_ARG(v, 0));
}

/* Each table on each node; a table is the same when its digests are. */
static void
tables_read(struct pq *db, PGresult *res, void *arg)
{
	struct vrun		*v;
	struct verify_row	*t;
	char			 n[16];
	const char		*p[1] = { n };
	int			 i, k, same;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	for (i = 0; i < PQntuples(res) && i < (int)nitems(v->tables); i++) {
		t = &v->tables[v->ntables++];
		memset(t, 0, sizeof(*t));
		t->kind = VERIFY_TABLE;
		kmd_strlcpy(t->table, PQgetvalue(res, i, 0), sizeof(t->table));
		kmd_strlcpy(t->nodeid, PQgetvalue(res, i, 1),
		    sizeof(t->nodeid));
		t->rows = atoll(PQgetvalue(res, i, 2));
		kmd_strlcpy(t->hash, PQgetvalue(res, i, 3), sizeof(t->hash));
	}
	for (i = 0; i < v->ntables; i++) {
		same = 1;
		for (k = 0; k < v->ntables; k++)
			if (strcmp(v->tables[k].table, v->tables[i].table) ==
			    0 && strcmp(v->tables[k].hash, v->tables[i].hash) !=
			    0)
				same = 0;
		v->tables[i].ok = same;
	}
	snprintf(n, sizeof(n), "%d", v->round);
	pq_query(v->c, SQL_VERIFY_COUNTS, 1, p, counts_read, CALL_ARG(v, 0));
}

static void
unmarked(struct vrun *v)
{
	char		 ids[KMD_NODES_MAX * KMD_NODEID_MAX + 4];
	const char	*p[1] = { ids };

	compared(v, ids, sizeof(ids));
	pq_query(v->c, SQL_VERIFY_TABLES, 1, p, tables_read, CALL_ARG(v, 0));
}

static void
unmark_done(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;

	(void)db;
	(void)res;		/* best effort: the next verify clears them */
	if ((v = run_of(arg, NULL)) != NULL)
		answered(v);
}

/* The rounds are over: markers taken back, then the answer. */
static void
finish(struct vrun *v)
{
	char	 q[128];
	int	 i, r;

	v->then = unmarked;
	v->waiting = 1;
	for (r = 0; r < v->round; r++) {
		snprintf(q, sizeof(q), "SELECT kmd_peer_verify_mark('%s',"
		    " false)", v->tokens[r]);
		for (i = 0; i < v->n; i++)
			if (v->nodes[i].ok || v->nodes[i].marked)
				node_q(v, i, NULL, "x text", q, unmark_done);
	}
	answered(v);
}

/* ---- start ------------------------------------------------------------ */

static void
linked(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	int		 i, ok;

	(void)db;
	if ((v = node_answer(arg, res, PEER_VERIFY_LINK, &i, &ok)) != NULL)
		answered(v);
}

static void
temp_made(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	char		 link[24], dsn[PEER_DSN_MAX];
	const char	*p[2] = { link, dsn };
	int		 i;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	v->then = round_start;
	v->waiting = 1;
	for (i = 0; i < v->n; i++) {
		if (v->nodes[i].self)
			continue;
		snprintf(link, sizeof(link), "kmd_v%d", i);
		peer_dsn(v->nodes[i].host, dsn, sizeof(dsn));
		v->waiting++;
		pq_query(v->c, "SELECT dblink_connect($1, $2)", 2, p, linked,
		    CALL_ARG(v, i));
	}
	answered(v);
}

static void
nodes_read(struct pq *db, PGresult *res, void *arg)
{
	struct vrun	*v;
	struct vnode	*nd;
	int		 i;

	(void)db;
	if ((v = run_of(arg, NULL)) == NULL || run_ok(v, res) == -1)
		return;
	if (PQntuples(res) == 0) {
		op_fail(v->j, "this node is in no cluster, or not ready: run"
		    " it on a ready member");
		return;
	}
	if (strcmp(pq_get(res, 0, "my_state"), NS_C_READY) != 0) {
		op_fail(v->j, "this node is not ready; run it on a ready"
		    " member");
		return;
	}
	for (i = 0; i < PQntuples(res) && i < KMD_NODES_MAX; i++) {
		nd = &v->nodes[v->n++];
		kmd_strlcpy(nd->id, pq_get(res, i, "node_id"), sizeof(nd->id));
		kmd_strlcpy(nd->host, pq_get(res, i, "host"), sizeof(nd->host));
		nd->self = strcmp(pq_get(res, i, "self"), "t") == 0;
		nd->ok = nd->self || valid_host(nd->host);
		if (!nd->ok)
			snprintf(nd->err, sizeof(nd->err), "its host is not"
			    " an address kmd can reach");
	}
	log_info("%s: comparing %d node(s)", verify_what, v->n);
	pq_query(v->c, SQL_VERIFY_TEMP, 0, NULL, temp_made, CALL_ARG(v, 0));
}

static void
verify_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct vrun	*v;

	(void)fd;
	(void)ev;
	if ((v = run_of(arg, NULL)) != NULL)
		op_fail(v->j, "did not finish within %d s (a node's database"
		    " does not answer?); nothing was changed",
		    VERIFY_MAX_MS / 1000);
}

int
joiner_verify(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;
	struct vrun	*v;
	struct timeval	 tv = { VERIFY_MAX_MS / 1000, 0 };

	if (op_start(j, ch, m->hdr.reqid, verify_what) == NULL)
		return 0;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	verify_joiner = j;
	j->op->reply = v;
	j->op->release = vrun_release;
	v->j = j;
	v->gen = ++verify_gen & 0xffffff;
	v->started = mono_ms();
	verify_digest_sql(&v->src);
	if ((v->timer = evtimer_new(j->w->base, drain_tick,
	    CALL_ARG(v, 0))) == NULL)
		fatal("%s", __func__);
	if (event_base_once(j->w->base, -1, EV_TIMEOUT, verify_timeout,
	    CALL_ARG(v, 0), &tv) == -1)
		fatalx("%s: event_base_once", __func__);
	v->c = joiner_conn(j, "kmd-verify", NULL, NULL);
	pq_query(v->c, SQL_VERIFY_NODES, 0, NULL, nodes_read, CALL_ARG(v, 0));
	return 0;
}
