/*
 * cluster nodes delete of a node whose slot here was lost: its writes
 * this node lacks, named before it goes (remove.c calls it under the
 * membership lease; `then' goes on when there are none).
 */
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"
#include "verify.h"

/*
 * A node whose slot on this node was lost cannot catch up, and goes.
 * Its own stream to this node may have stopped too (its slot for this
 * node lost as well, or cut off), so what it wrote after the last of its
 * writes this node applied may exist there only.  Read there over
 * mutual TLS (verify_unsent_sql) on a connection of its own, so that a
 * node that answers slowly holds up neither this node's main connection
 * nor its lease's renewals.  Rows found: the removal is refused, the
 * first UNSENT_NAMED named, unless --discard-unsent.  The node out of
 * reach: nothing can be read, and it is refused as well, saying so; a
 * node gone for good is removed with --discard-unsent.
 */
#define UNSENT_S	20
#define UNSENT_NAMED	5

struct unsent {
	struct joiner	*j;
	struct pq	*c;
	struct event	*timer;
	void		(*then)(struct joiner *);	/* none lacking */
	char		 host[KMD_HOST_MAX];
};

static void
unsent_release(struct jop *op)
{
	struct unsent	*u = op->reply;

	if (u == NULL)
		return;
	if (u->timer != NULL)
		event_free(u->timer);
	if (u->c != NULL)
		pq_free_later(u->j->w->base, u->c);
}

/* The node did not answer, or could not: refused, saying what to do. */
static void
unsent_unchecked(struct joiner *j, const char *why)
{
	struct unsent	*u = j->op->reply;

	op_fail(j, "node %s (%s) could not be asked for the writes made there"
	    " that this node lacks (%s).  If it is gone for good, remove it"
	    " with --force --discard-unsent: what it wrote after its stream"
	    " here stopped is lost with it", j->op->node_id, u->host, why);
}

static void
unsent_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;
	char		 why[64];

	(void)fd;
	(void)ev;
	snprintf(why, sizeof(why), "no answer within %d s", UNSENT_S);
	unsent_unchecked(j, why);
}

static void
unsent_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	struct unsent	*u;
	char		 list[200];
	size_t		 at = 0;
	int		 i, n;

	(void)db;
	if (op == NULL || (u = op->reply) == NULL)
		return;
	if (!pq_ok(res)) {
		unsent_unchecked(j, pq_why(u->c, res));
		return;
	}
	if ((n = PQntuples(res)) == 0) {
		log_info("cluster nodes delete: node %s (%s) holds no write"
		    " this node lacks", op->node_id, u->host);
		/* the connection goes with the operation (unsent_release) */
		evtimer_del(u->timer);
		u->then(j);
		return;
	}
	list[0] = '\0';
	for (i = 0; i < n && at < sizeof(list); i++)
		at += snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " :
		    "", PQgetvalue(res, i, 0));
	if (at >= sizeof(list))
		kmd_strlcpy(list + sizeof(list) - 4, "...", 4);
	op_fail(j, "node %s (%s) holds %s write(s) made there after its"
	    " stream here stopped, which this node lacks (%s%s): removing it"
	    " loses them.  While it runs, move what depends on them (decrypt"
	    " there, encrypt again here), then remove it with --force"
	    " --discard-unsent", op->node_id, u->host,
	    PQgetvalue(res, 0, 1), list, atoi(PQgetvalue(res, 0, 1)) > n ?
	    ", ..." : "");
}

/* The connection is open: the query, the peer's last write here in it. */
static void
unsent_query(struct joiner *j)
{
	struct unsent	*u = j->op->reply;
	struct sbuf	 remote = { NULL, 0, 0 }, local = { NULL, 0, 0 };
	struct sbuf	 q = { NULL, 0, 0 };
	char		 dsn[PEER_DSN_MAX];
	const char	*p[3] = { dsn, NULL, j->op->node_id };

	peer_dsn(u->host, dsn, sizeof(dsn));
	verify_unsent_sql(&remote, &local);
	p[1] = remote.s;
	sbuf_add(&q, "SELECT r.label, count(*) OVER () FROM dblink($1, $2 ||"
	    " quote_literal(extract(epoch FROM coalesce((SELECT peer_clock"
	    " FROM kmd_peer_seen WHERE peer = $3::uuid), '-infinity'))::text)"
	    " || '::float8)') AS r(tbl text, k text, label text, h text, ts"
	    " timestamptz)%s ORDER BY r.ts LIMIT %d", local.s, UNSENT_NAMED);
	pq_query(u->c, q.s, 3, p, unsent_read, j);
	free(remote.s);
	free(local.s);
	free(q.s);
}

void
unsent_check(struct joiner *j, const char *host, void (*then)(struct joiner *))
{
	struct unsent	*u;
	struct timeval	 tv = { UNSENT_S, 0 };

	if ((u = calloc(1, sizeof(*u))) == NULL)
		fatal("%s", __func__);
	u->j = j;
	u->then = then;
	kmd_strlcpy(u->host, host, sizeof(u->host));
	j->op->reply = u;
	j->op->release = unsent_release;
	if (!valid_host(host)) {
		unsent_unchecked(j, "its host is not an address kmd can reach");
		return;
	}
	if ((u->timer = evtimer_new(j->w->base, unsent_timeout, j)) == NULL ||
	    evtimer_add(u->timer, &tv) == -1)
		fatal("%s", __func__);
	log_info("cluster nodes delete: node %s (%s) is lost here; asking it"
	    " for the writes this node lacks", j->op->node_id, host);
	u->c = joiner_conn(j, "kmd-unsent", NULL, NULL);
	unsent_query(j);
}
