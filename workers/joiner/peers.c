/*
 * Which peers this node's PostgreSQL accepts.  A certificate of the
 * cluster CA is not enough: the node id in its CN must be allowed, that
 * is recorded in kmd_nodes and not removed, and if pending, not expired
 * (SQL_PEERS_ALLOWED).  The joiner sends the list to the parent, which
 * writes pg_ident.conf from it, reloads PostgreSQL and answers
 * (PEERS_ALLOWED).  The reconciler (remove.c) sends it whenever it
 * changes; a join sends it before the members subscribe to the new node
 * (join_complete.c), whose kmd_nodes the initial sync has just filled;
 * nodes create and nodes delete send it before they answer (op_peers),
 * so that the node they ran on accepts a node's new credentials, or
 * refuses revoked ones, by the time the operator has the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "util.h"

/*
 * Send ids (SQL_PEERS_ALLOWED's answer) to the parent: the call's id, 0
 * when it cannot go.  Its answer goes to ex's reply(), which hands it to
 * peers_allowed(); a failure to ex's fail(), which calls peers_forget().
 */
uint32_t
peers_allow(struct joiner *j, const char *ids, const struct kchan_exchange *ex,
    void *arg)
{
	struct peers_allow	*pa;
	char			*list, *id, *save = NULL;
	uint32_t		 call;

	if ((pa = calloc(1, sizeof(*pa))) == NULL ||
	    (list = strdup(ids)) == NULL)
		fatal("%s", __func__);
	for (id = strtok_r(list, " ", &save); id != NULL;
	    id = strtok_r(NULL, " ", &save)) {
		if (pa->n == KMD_ALLOW_MAX) {
			log_warnx("%s: more than %d nodes to accept; the"
			    " others are refused", __func__, KMD_ALLOW_MAX);
			break;
		}
		kmd_strlcpy(pa->ids[pa->n++], id, KMD_NODEID_MAX);
	}
	free(list);
	call = kchan_call(j->w->parent, IMSG_PEERS_ALLOW, -1, pa, sizeof(*pa),
	    ex, arg);
	free(pa);
	free(j->peers);
	j->peers = NULL;
	if (call != 0 && (j->peers = strdup(ids)) == NULL)
		fatal("%s", __func__);
	return call;
}

/* The parent's answer: 1 when PostgreSQL was told. */
int
peers_allowed(struct joiner *j, const struct kmsg *m)
{
	const struct peers_allowed *pa = (const void *)m->data;

	if (pa->ok) {
		log_info("PostgreSQL accepts the certificates of %d node(s): %s",
		    pa->n, j->peers != NULL && j->peers[0] != '\0' ?
		    j->peers : "none");
		return 1;
	}
	peers_forget(j);
	return 0;
}

/*
 * The parent's answer to a list who sent: 1 when PostgreSQL was told;
 * else logged, and the list is sent again.
 */
int
peers_answered(struct joiner *j, const struct kmsg *m, const char *who)
{
	if (peers_allowed(j, m))
		return 1;
	log_warnx("%s: PostgreSQL's accepted peers were not written; trying"
	    " again", who);
	return 0;
}

/* No answer from the parent (why): logged, the list is sent again. */
void
peers_unanswered(struct joiner *j, const char *who, const char *why)
{
	peers_forget(j);
	log_warnx("%s: the parent did not take the accepted peers (%s); trying"
	    " again", who, why);
}

/* The parent may not have the list last sent: send it again. */
void
peers_forget(struct joiner *j)
{
	free(j->peers);
	j->peers = NULL;
}

/* Whether ids is the list last sent (and not failed). */
int
peers_sent(const struct joiner *j, const char *ids)
{
	return j->peers != NULL && strcmp(j->peers, ids) == 0;
}

void
peers_free(struct joiner *j)
{
	peers_forget(j);
}

static void	op_peers_read(struct pq *, PGresult *, void *);
static void	op_peers_told(struct kchan *, struct kmsg *, void *);
static void	op_peers_untold(struct kchan *, enum kchan_end, const char *,
		    void *);

static const struct kchan_exchange op_peers_ex = {
	IMSG_PEERS_ALLOWED, PEERS_TIMEOUT, op_peers_told, op_peers_untold
};

/*
 * The membership change the operation has just committed, in this node's
 * pg_ident.conf before then(j) goes on to answer.  then(j) goes on
 * either way: a failure is logged, and the reconciler sends the list
 * again within its period.
 */
void
op_peers(struct joiner *j, void (*then)(struct joiner *))
{
	j->op->then = then;
	if (pq_query(j->db, SQL_PEERS_ALLOWED, 0, NULL, op_peers_read, j) ==
	    -1)
		then(j);
}

static void
op_peers_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	const char	*ids;

	if (j->op == NULL)
		return;
	if (!pq_ok(res) || PQntuples(res) != 1) {
		log_warnx("%s: the accepted peers not read: %s", j->op->what,
		    pq_why(db, res));
		j->op->then(j);
		return;
	}
	ids = PQgetvalue(res, 0, 0);
	if (peers_sent(j, ids) ||
	    (j->op->call = peers_allow(j, ids, &op_peers_ex, j)) == 0)
		j->op->then(j);
}

static void
op_peers_told(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	j->op->call = 0;
	(void)peers_answered(j, m, j->op->what);
	j->op->then(j);
}

static void
op_peers_untold(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	struct joiner	*j = arg;

	(void)ch;
	(void)end;
	j->op->call = 0;
	peers_unanswered(j, j->op->what, why);
	j->op->then(j);
}
