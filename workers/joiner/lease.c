/*
 * The membership lease: nodes create, a join and nodes delete run one at
 * a time across the cluster, whichever member they start on.
 *
 * The protocol.  A change has a holder (the node that runs it: the
 * member asked, or the joining node for a join), a random token, and the
 * membership epoch of the holder's view: how many membership changes its
 * data holds (the replicated kmd_cluster.epoch, which a change's commit
 * moves on in the same transaction as its rows).  A voter compares it
 * with the most it has seen (kmd_epoch(): its data's, or what a change's
 * release told it), so a holder whose data lags a change is refused
 * until replication has brought it.  The voters are the ready members,
 * in one order (oldest first).  The holder asks each voter, over the
 * mutual-TLS link (dblink through its own PostgreSQL, with its own
 * certificate: a voter grants and renews only to the node the
 * certificate names, kmd_lease_caller()), to grant it the lease:
 * kmd_lease_take() on the voter keeps at most one grant, in the
 * node-local kmd_lease, and grants only when it holds no live grant of
 * another token (but one of the same holder, kind and subject: the same
 * change started again after its process died, whose old token then
 * fails every check) and its own epoch equals the request's.  The change
 * goes on only with grants from a quorum (a majority of the voters; a join:
 * every voter, since every member must accept the new node anyway), the
 * holder's own among them when it is a voter (its change commits on its
 * own database, under kmd_lease_check()); else
 * it gives back what it got and is refused at once with the first reason
 * a voter gave ("busy: join of node X is under way ...").  The holder
 * renews every LEASE_RENEW_MS; a voter's grant lapses LEASE_TTL_S after
 * the last renewal it saw and a lapsed grant is never renewed.  The
 * holder counts its lease from before it sent the round, and stops
 * (a join is killed) LEASE_MARGIN_MS before a grant could lapse on any
 * voter that did not hear a renewal.  Every step the change takes on a
 * member carries the token: kmd_lease_check() in the same transaction
 * raises unless the member's live grant is this token.  A change that
 * commits moves the epoch on (the replicated kmd_cluster.epoch, and each
 * voter's kmd_local.epoch as the lease is given back).
 *
 * Why two changes never both proceed.  Each needs a live grant from a
 * majority of its voters, and a voter holds one live grant at a time, so
 * two changes with the same voters share a voter and cannot both hold.
 * Their voters differ only when their views differ, and the views differ
 * by at most the one change between them (changes are serialized), that
 * is by one node added or taken away; a majority of n and a majority of
 * n + 1 of which n are the same nodes still share one (a majority of n is
 * more than n/2 of them; a majority of n + 1 holds more than (n - 1)/2
 * of the n).  The stale holder is refused outright by every voter that
 * has seen the newer epoch.  A holder frozen past its lease (SIGSTOP)
 * cannot act on a voter that granted another since: its token fails
 * kmd_lease_check() there; and it stops when it wakes, as its renewals
 * fail.  Readiness and kill of a join are both decided on its sponsor,
 * under kmd_lease's lock (PEER_READY checks the token; kmd_join_reap()
 * kills only a join whose grant lapsed), so one of them happens.
 *
 * With no quorum (two nodes, one gone for good), nothing changes, with
 * one exception: nodes delete in a cluster of two voters may go on with
 * the grant of the oldest voter alone (LEASE_MAJORITY_OR_TIE); its own
 * checks then refuse to remove a node that is down without --force.
 * The younger one can never remove the older one on its own, so the two
 * halves of a split cannot remove each other.  That rule holds within
 * one view only (a lone oldest voter and a majority of a view one node
 * larger need not meet), which is why it serves nothing but a forced
 * removal when two voters are all there is.  regress/unit/test_join.c
 * checks every rule against every pair of disjoint grant sets.
 */
#include <event2/event.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "lease.h"
#include "log.h"
#include "util.h"


static void	lease_tick(evutil_socket_t, short, void *);

/* lease_end's second half, once the callback under way has returned. */
static void
lease_free(evutil_socket_t fd, short ev, void *arg)
{
	struct lease	*l = arg;

	(void)fd;
	(void)ev;
	event_free(l->timer);
	pq_free(l->db);
	free(l);
}


/* A round whose answers change nothing here: a release. */
static void
lease_ignore(struct pq *db, PGresult *res, void *arg)
{
	(void)db;
	(void)res;
	(void)arg;
}

struct lease *
lease_new(struct joiner *j, const char *kind, const char *holder,
    const char *subject, enum lease_need need, lease_cb taken,
    lease_cb lost, void *arg)
{
	struct lease	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("%s", __func__);
	l->j = j;
	random_uuid(l->token, sizeof(l->token));
	kmd_strlcpy(l->kind, kind, sizeof(l->kind));
	kmd_strlcpy(l->holder, holder, sizeof(l->holder));
	if (subject != NULL)
		kmd_strlcpy(l->subject, subject, sizeof(l->subject));
	l->need = need;
	l->taken = taken;
	l->lost = lost;
	l->arg = arg;
	if ((l->timer = evtimer_new(j->w->base, lease_tick, l)) == NULL)
		fatal("%s", __func__);
	return l;
}

/*
 * The voters and the epoch, from SQL_VOTERS' result (read on the holder,
 * or by a joining node on its member).  -1 with why when unusable.
 */
int
lease_voters(struct lease *l, PGresult *res, char *why, size_t len)
{
	int	 i;

	l->nvoters = 0;
	l->self = -1;
	for (i = 0; i < PQntuples(res); i++) {
		if (l->nvoters == KMD_NODES_MAX || !valid_host(pq_get(res, i,
		    "host"))) {
			snprintf(why, len, "the member list is unusable (node"
			    " %s)", pq_get(res, i, "id"));
			return -1;
		}
		kmd_strlcpy(l->voters[i].id, pq_get(res, i, "id"),
		    sizeof(l->voters[i].id));
		/* the holder's own grant: its socket, not TLS to itself */
		if (strcmp(l->voters[i].id, l->holder) == 0) {
			l->self = i;
			local_dsn(l->j, l->voters[i].dsn,
			    sizeof(l->voters[i].dsn));
		} else
			peer_dsn(pq_get(res, i, "host"), l->voters[i].dsn,
			    sizeof(l->voters[i].dsn));
		l->epoch = strtoll(pq_get(res, i, "epoch"), NULL, 10);
		l->nvoters++;
	}
	if (l->nvoters == 0) {
		snprintf(why, len, "the cluster has no ready member");
		return -1;
	}
	return 0;
}

/* "{a,b}" of the voters' ids or DSNs, for the round's arrays. */
static char *
lease_array(const struct lease *l, int dsns)
{
	struct sbuf	 sb = { NULL, 0, 0 };
	const char	*s;
	int		 i;

	sbuf_add(&sb, "{");
	for (i = 0; i < l->nvoters; i++) {
		sbuf_add(&sb, "%s\"", i ? "," : "");
		for (s = dsns ? l->voters[i].dsn : l->voters[i].id; *s; s++)
			sbuf_add(&sb, "%s%c", *s == '"' || *s == '\\' ?
			    "\\" : "", *s);
		sbuf_add(&sb, "\"");
	}
	sbuf_add(&sb, "}");
	return sb.s;
}

static void	lease_answers(struct pq *, PGresult *, void *);

/* One round to every voter (PEER_LEASE): take or renew, or release. */
static void
lease_round(struct lease *l, struct pq *db, const char *mode,
    long long epoch, pq_cb cb, void *arg)
{
	char		*ids = lease_array(l, 0), *dsns = lease_array(l, 1);
	char		 e[24], ttl[16];
	const char	*p[10] = { mode, ids, dsns, l->token,
			    l->holder, l->kind, l->subject[0] ? l->subject :
			    NULL, e, ttl, l->progress };

	snprintf(e, sizeof(e), "%lld", epoch);
	snprintf(ttl, sizeof(ttl), "%d", LEASE_TTL_S);
	l->sent = mono_ms();
	pq_query(db, "SELECT node::text AS node, answer FROM"
	    " kmd_lease_round($1, $2::uuid[], $3::text[], $4::uuid,"
	    " $5::uuid, $6, $7::uuid, $8::bigint, $9::float8, $10)", 10, p,
	    cb, arg);
	free(ids);
	free(dsns);
}

/* Take the lease; l->taken hears the outcome (why NULL: held). */
void
lease_take(struct lease *l)
{
	if (l->db == NULL)
		l->db = joiner_conn(l->j, "kmd-joiner-lease", NULL, NULL);
	lease_round(l, l->db, "take", l->epoch, lease_answers, l);
}

/*
 * The reason a round fell short: a change under way first, then a view
 * of another epoch, then the voters out of reach.
 */
static void
lease_why(struct lease *l, PGresult *res, int granted, int n, char *why,
    size_t len)
{
	static const char *const kinds[] = { "busy: ", "lapsed: ", "epoch: " };
	const char	*a;
	size_t		 k;
	int		 i;

	for (k = 0; k < nitems(kinds); k++)
		for (i = 0; i < PQntuples(res); i++) {
			a = pq_get(res, i, "answer");
			if (strncmp(a, kinds[k], strlen(kinds[k])) != 0)
				continue;
			l->busy = k == 0;
			l->epoch_off = k == 2;
			if (k == 0)
				snprintf(why, len, "another membership change"
				    " holds the lease: %s; one at a time: wait"
				    " until it ends", a + strlen(kinds[k]));
			else if (k == 1)
				snprintf(why, len, "the membership lease"
				    " lapsed on node %s: %s", pq_get(res, i,
				    "node"), a + strlen(kinds[k]));
			else
				snprintf(why, len, "node %s's view of the"
				    " membership differs (%s); try again in a"
				    " few seconds", pq_get(res, i, "node"),
				    a + strlen(kinds[k]));
			return;
		}
	for (i = 0; i < PQntuples(res); i++) {
		a = pq_get(res, i, "answer");
		if (*a != '\0') {
			snprintf(why, len, "only %d of %d members granted the"
			    " membership lease; node %s: %s", granted, n,
			    pq_get(res, i, "node"), a);
			return;
		}
	}
	snprintf(why, len, "no quorum of members");
}

/* A round's answers: held (and renewed from now on), or why not. */
static void
lease_answers(struct pq *db, PGresult *res, void *arg)
{
	struct lease	*l = arg;
	struct timeval	 tv = { LEASE_RENEW_MS / 1000,
			    (LEASE_RENEW_MS % 1000) * 1000 };
	char		 why[KMD_ERR_MAX];
	int		 granted[KMD_NODES_MAX] = { 0 }, i, g = 0, was;

	(void)db;
	/* after lease_end, or a renewal's answer after lease_release */
	if (l->dead || (l->renewing && !l->held)) {
		l->renewing = 0;
		return;
	}
	was = l->renewing;
	l->renewing = 0;
	if (!pq_ok(res) || PQntuples(res) != l->nvoters) {
		snprintf(why, sizeof(why), "the membership lease: %s",
		    res != NULL ? PQresultErrorMessage(res) : pq_error(l->db));
		why[strcspn(why, "\n")] = '\0';
	} else {
		for (i = 0; i < l->nvoters; i++)
			g += granted[i] = *pq_get(res, i, "answer") == '\0';
		if (lease_quorum(l->nvoters, granted, l->need, l->self)) {
			l->until = l->sent + LEASE_TTL_S * 1000 -
			    LEASE_MARGIN_MS;
			if (!l->held) {
				l->held = 1;
				evtimer_add(l->timer, &tv);
				l->taken(l, NULL, l->arg);
			}
			return;
		}
		lease_why(l, res, g, l->nvoters, why, sizeof(why));
	}
	if (was) {		/* a renewal fell short: the tick decides */
		kmd_strlcpy(l->why, why, sizeof(l->why));
		return;
	}
	/* Not taken: give back what was granted, then say why. */
	lease_round(l, l->j->db, "release", l->epoch, lease_ignore,
	    NULL);
	/*
	 * Granted by some and refused by others as busy: another change
	 * started at the same moment and holds the rest, and both would be
	 * refused.  Back off a random while and take again, under a new
	 * token (the release above may reach a voter after the new take):
	 * the one that comes back first wins, and the other then meets its
	 * live grant on every voter and is refused with its name.
	 */
	if (l->busy && g > 0 && l->contended < LEASE_CONTENDED) {
		struct timeval	 back = { 0, 0 };
		uint32_t	 ms = 50 + randombytes_uniform(LEASE_BACKOFF_MS);

		l->contended++;
		back.tv_usec = ms * 1000;
		log_debug("membership lease: a tie with another change;"
		    " taking again in %u ms", ms);
		random_uuid(l->token, sizeof(l->token));
		l->retake = 1;
		evtimer_add(l->timer, &back);
		return;
	}
	l->taken(l, why, l->arg);
}

/* Renew; past our deadline the lease is lost (l->lost says so). */
static void
lease_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct lease	*l = arg;
	struct timeval	 tv = { 0, 250 * 1000 };
	char		 why[KMD_ERR_MAX];

	(void)fd;
	(void)ev;
	if (l->retake) {
		l->retake = 0;
		lease_take(l);
		return;
	}
	if (mono_ms() >= l->until) {
		l->held = 0;
		snprintf(why, sizeof(why), "the membership lease lapsed: it"
		    " could not be renewed for %d s (%.400s)", LEASE_TTL_S -
		    LEASE_MARGIN_MS / 1000, l->why[0] ? l->why : "no answer");
		l->lost(l, why, l->arg);
		return;
	}
	if (!l->renewing && mono_ms() - l->sent >= LEASE_RENEW_MS) {
		l->renewing = 1;
		lease_round(l, l->db, "renew", l->epoch, lease_answers, l);
	}
	evtimer_add(l->timer, &tv);
}

static void
lease_released(struct pq *db, PGresult *res, void *arg)
{
	struct lease	*l = arg;

	(void)db;
	(void)res;
	if (!l->dead)
		l->given_back(l->arg);
}

/*
 * Give the lease back now, telling the voters the epoch; done(arg) once
 * they have answered (or could not be reached: their grant lapses), so
 * that a change that follows at once does not find it still held.
 */
void
lease_release(struct lease *l, long long epoch, void (*done)(void *),
    void *arg)
{
	if (!l->held) {
		done(arg);
		return;
	}
	l->held = 0;
	evtimer_del(l->timer);
	l->given_back = done;
	l->arg = arg;
	lease_round(l, l->db, "release", epoch, lease_released, l);
}

/*
 * Give the lease back on every voter (on the joiner's main connection,
 * so that it outlives this one), telling them the epoch now; and free.
 */
void
lease_end(struct lease *l, long long epoch)
{
	if (l == NULL)
		return;
	if (l->nvoters > 0 && l->held)
		lease_round(l, l->j->db, "release", epoch, lease_ignore,
		    NULL);
	evtimer_del(l->timer);
	l->dead = 1;
	/* Often called from the lease's own answer: freed after it returns. */
	if (event_base_once(l->j->w->base, -1, EV_TIMEOUT, lease_free, l,
	    NULL) == -1)
		fatalx("%s: event_base_once", __func__);
}

/* ---- a member's operation as the holder (nodes create, delete) ------- */

static void
op_lease_release(struct jop *op)
{
	lease_end(op->lease, op->epoch);
	op->lease = NULL;
}

static void	op_lease_retry(evutil_socket_t, short, void *);
static void	op_voters_read(struct pq *, PGresult *, void *);

/*
 * Held: the operation goes on; else it is refused, nothing changed.  A
 * view of another epoch is this node's or a voter's data behind the
 * last change, which replication brings in a moment: asked again.
 */
static void
op_lease_taken(struct lease *l, const char *why, void *arg)
{
	struct joiner	*j = arg;
	struct timeval	 tv = { 0, LEASE_RETRY_MS * 1000 };

	if (j->op == NULL || j->op->lease != l)
		return;
	if (why != NULL && l->epoch_off && ++j->op->lease_tries <
	    LEASE_RETRIES) {
		lease_end(l, j->op->epoch);
		j->op->lease = NULL;
		j->op->lease_wait = 1;
		event_base_once(j->w->base, -1, EV_TIMEOUT, op_lease_retry, j,
		    &tv);
		return;
	}
	if (why != NULL) {
		op_fail(j, "%s; nothing was changed", why);
		return;
	}
	j->op->epoch = l->epoch;
	j->op->leased(j);
}

/* Its next step on a member fails kmd_lease_check(); the log says why. */
static void
op_lease_lost(struct lease *l, const char *why, void *arg)
{
	(void)l;
	(void)arg;
	log_warnx("%s", why);
}

static void
op_lease_retry(evutil_socket_t fd, short ev, void *arg)
{
	struct joiner	*j = arg;

	(void)fd;
	(void)ev;
	if (j->op == NULL || !j->op->lease_wait)
		return;
	j->op->lease_wait = 0;
	pq_query(j->db, SQL_VOTERS, 0, NULL, op_voters_read, j);
}

static void
op_voters_read(struct pq *db, PGresult *res, void *arg)
{
	struct joiner	*j = arg;
	struct jop	*op = j->op;
	char		 why[KMD_ERR_MAX];
	int		 i, voter = 0;

	(void)db;
	if (op == NULL || op_result(j, res) == -1)
		return;
	for (i = 0; i < PQntuples(res); i++)
		voter |= !pq_null(res, i, "me") && strcmp(pq_get(res, i, "id"),
		    pq_get(res, i, "me")) == 0;
	/* Not a ready member: the operation's own checks refuse it. */
	if (!voter) {
		op->leased(j);
		return;
	}
	kmd_strlcpy(op->me, pq_get(res, 0, "me"), sizeof(op->me));
	op->lease = lease_new(j, op->lease_kind, op->me,
	    op->lease_subject[0] ? op->lease_subject : NULL,
	    (enum lease_need)op->lease_need, op_lease_taken, op_lease_lost, j);
	op->release = op_lease_release;
	if (lease_voters(op->lease, res, why, sizeof(why)) == -1) {
		op_fail(j, "%s; nothing was changed", why);
		return;
	}
	lease_take(op->lease);
}

static void
op_lease_given_back(void *arg)
{
	struct joiner	*j = arg;

	if (j->op != NULL)
		j->op->leased(j);
}

/*
 * The change is committed: give the lease back, then `then' answers the
 * client (a second change started on that answer finds it free).
 */
void
op_lease_end(struct joiner *j, void (*then)(struct joiner *))
{
	if (j->op->lease == NULL) {
		then(j);
		return;
	}
	j->op->leased = then;
	lease_release(j->op->lease, j->op->epoch, op_lease_given_back, j);
}

/*
 * The operation under way becomes a membership change: it takes the
 * lease on the ready members this node knows, then `then' runs; the
 * lease is given back when the operation ends (op_end), with the epoch
 * in op->epoch (moved on by the step that committed).  On a node that is
 * no ready member `then' runs at once, and its checks refuse.
 */
void
op_lease(struct joiner *j, const char *kind, const char *subject,
    enum lease_need need, void (*then)(struct joiner *))
{
	struct jop	*op = j->op;

	kmd_strlcpy(op->lease_kind, kind, sizeof(op->lease_kind));
	if (subject != NULL)
		kmd_strlcpy(op->lease_subject, subject,
		    sizeof(op->lease_subject));
	op->lease_need = need;
	op->leased = then;
	pq_query(j->db, SQL_VOTERS, 0, NULL, op_voters_read, j);
}
