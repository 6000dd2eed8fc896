/*
 * Health, for load balancers and monitors (GET /api/v1/system/health,
 * kmctl health): whether this node serves.  Nothing is assumed from
 * memory: each check reads the node's state from its database and has
 * the hsm worker seal and open a value under the root of trust, each
 * within HEALTH_WAIT_S.  A frozen database or a hung token is therefore
 * "unavailable" within seconds, not a request that never ends.
 *
 * Checks that arrive while one runs share its answer, and while a query
 * is still out on the database no other is sent, so that a load
 * balancer polling a frozen node piles nothing up on it.  The probe's
 * answer is kept for HEALTH_PROBE_MS: a poll storm does not become a
 * storm of token operations.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joiner.h"
#include "log.h"
#include "nodestatus.h"
#include "util.h"

#define HEALTH_WAIT_S		3
#define HEALTH_PROBE_MS		1000
#define HEALTH_WAITERS		64

/* This node's state: no row when it is in no cluster. */
#define SQL_HEALTH \
	"SELECT l.fence_lsn IS NOT NULL, coalesce(l.join_state, n.code, '" \
	NS_C_UNKNOWN "') FROM kmd_local l LEFT JOIN kmd_node_status n ON" \
	" n.node_id = l.node_id"

struct health {
	struct joiner		*j;
	uint32_t		 waiters[HEALTH_WAITERS];
	int			 nwaiters;
	struct event		*timer;
	uint32_t		 call;		/* the hsm's probe */
	int			 db_done;
	int			 hsm_done;
	int			 answered;
	int64_t			 sent;		/* ms: its query went */
	struct health_info	 hi;
	char			 db_err[KMD_ERR_MAX];
};

static void
health_send(struct joiner *j, uint32_t reqid, const struct health_info *hi)
{
	if (kchan_send(j->w->parent, IMSG_HEALTH_INFO, reqid, -1, hi,
	    sizeof(*hi)) == 0)
		kchan_send(j->w->parent, IMSG_CTL_END, reqid, -1, NULL, 0);
}

static void
health_free(struct health *h)
{
	if (h->timer != NULL)
		event_free(h->timer);
	free(h);
}

/* Every waiter gets the answer; the check lives on while its query is out. */
static void
health_answer(struct health *h)
{
	struct joiner	*j = h->j;
	int		 i;

	if (h->answered)
		return;
	h->answered = 1;
	if (j->health == h)
		j->health = NULL;
	evtimer_del(h->timer);
	kchan_cancel(j->w->parent, h->call);
	h->call = 0;
	if (!h->db_done) {
		h->hi.state = HEALTH_UNAVAILABLE;
		h->hi.code[0] = '\0';
		snprintf(h->hi.error, sizeof(h->hi.error), "the node database"
		    " did not answer within %d s", HEALTH_WAIT_S);
	} else if (h->db_err[0] != '\0') {
		h->hi.state = HEALTH_UNAVAILABLE;
		kmd_strlcpy(h->hi.error, h->db_err, sizeof(h->hi.error));
	} else if (!h->hsm_done || !h->hi.hsm_ok) {
		h->hi.state = HEALTH_UNAVAILABLE;
		if (!h->hsm_done)
			snprintf(h->hi.error, sizeof(h->hi.error), "the hsm"
			    " worker did not answer its probe within %d s",
			    HEALTH_WAIT_S);
		else
			kmd_strlcpy(h->hi.error, j->probe_msg,
			    sizeof(h->hi.error));
	}
	if (!h->hsm_done)
		h->hi.hsm_ok = -1;
	for (i = 0; i < h->nwaiters; i++)
		health_send(j, h->waiters[i], &h->hi);
	if (h->db_done)
		health_free(h);
}

static void
health_maybe(struct health *h)
{
	if (h->db_done && h->hsm_done)
		health_answer(h);
}

static void
health_timeout(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	health_answer(arg);
}

static void
health_read(struct pq *db, PGresult *res, void *arg)
{
	struct health		*h = arg;
	struct joiner		*j = h->j;
	enum node_status	 ns;

	j->health_q = NULL;
	h->db_done = 1;
	if (h->answered) {		/* too late: answered as unavailable */
		health_free(h);
		return;
	}
	if (!pq_ok(res) || PQnfields(res) != 2) {
		snprintf(h->db_err, sizeof(h->db_err), "the node database: %s",
		    pq_why(db, res));
	} else if (PQntuples(res) == 0) {
		h->hi.state = HEALTH_NOTCLUSTERED;
		kmd_strlcpy(h->hi.code, NS_C_NONE, sizeof(h->hi.code));
	} else {
		kmd_strlcpy(h->hi.code, PQgetvalue(res, 0, 1),
		    sizeof(h->hi.code));
		ns = ns_parse(h->hi.code);
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0 ||
		    ns == NS_REMOVING || ns == NS_REMOVED)
			h->hi.state = HEALTH_REMOVED;
		else if (ns_joining(ns) || ns == NS_KILLED)
			h->hi.state = HEALTH_JOINING;
		else if (ns == NS_NONE)
			h->hi.state = HEALTH_NOTCLUSTERED;
		else
			h->hi.state = HEALTH_READY;
	}
	health_maybe(h);
}

/* The probe's answer, kept for the checks of the next HEALTH_PROBE_MS. */
static void
health_probe_set(struct health *h, int ok, const char *msg)
{
	struct joiner	*j = h->j;

	j->probe_at = mono_ms();
	j->probe_ok = ok;
	kmd_strlcpy(j->probe_msg, msg, sizeof(j->probe_msg));
	h->hi.hsm_ok = ok;
	h->hsm_done = 1;
}

static void
health_probed(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct health			*h = arg;
	const struct hsm_status		*hs = (const void *)m->data;

	(void)ch;
	h->call = 0;
	health_probe_set(h, hs->ok != 0, hs->msg);
	health_maybe(h);
}

static void
health_probe_failed(struct kchan *ch, enum kchan_end end, const char *why,
    void *arg)
{
	struct health	*h = arg;
	char		 msg[KMD_ERR_MAX];

	(void)ch;
	(void)end;
	h->call = 0;
	snprintf(msg, sizeof(msg), "the hsm worker: %s", why);
	health_probe_set(h, 0, msg);
	health_maybe(h);
}

/* No limit of its own: the check's timer ends the wait (health_answer). */
static const struct kchan_exchange probe_ex = {
	IMSG_HSM_PROBED, 0, health_probed, health_probe_failed
};

int
joiner_health(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct joiner		*j = arg;
	struct health		*h;
	struct health_info	 hi;
	struct timeval		 tv = { HEALTH_WAIT_S, 0 };

	(void)ch;
	memset(&hi, 0, sizeof(hi));
	hi.state = HEALTH_UNAVAILABLE;
	hi.hsm_ok = -1;
	if (!j->ready) {
		kmd_strlcpy(hi.error, "the node database is not ready: kmd is"
		    " starting, or a schema step failed (see the log)",
		    sizeof(hi.error));
		health_send(j, m->hdr.reqid, &hi);
		return 0;
	}
	if ((h = j->health) != NULL) {
		if (h->nwaiters == HEALTH_WAITERS)
			return kchan_senderr(ch, m->hdr.reqid, "health: %d"
			    " checks are waiting already; try again",
			    HEALTH_WAITERS);
		h->waiters[h->nwaiters++] = m->hdr.reqid;
		return 0;
	}
	if (j->health_q != NULL) {
		snprintf(hi.error, sizeof(hi.error), "the node database has"
		    " not answered a health check for %lld s", (long long)
		    (mono_ms() - j->health_q->sent) / 1000);
		health_send(j, m->hdr.reqid, &hi);
		return 0;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->timer = evtimer_new(j->w->base, health_timeout, h)) == NULL)
		fatal("%s", __func__);
	h->j = j;
	h->waiters[h->nwaiters++] = m->hdr.reqid;
	j->health = h;
	if (pq_prepared(j->kdb, SQL_HEALTH, 0, NULL, health_read, h) == -1) {
		h->db_done = 1;
		snprintf(h->db_err, sizeof(h->db_err), "the node database: %s",
		    pq_error(j->kdb));
	} else {
		h->sent = mono_ms();
		j->health_q = h;
	}
	if (j->probe_at != 0 && mono_ms() - j->probe_at < HEALTH_PROBE_MS) {
		h->hi.hsm_ok = j->probe_ok;
		h->hsm_done = 1;
	} else if ((h->call = kchan_call(j->w->parent, IMSG_HSM_PROBE, -1,
	    NULL, 0, &probe_ex, h)) == 0)
		health_probe_set(h, 0, "cannot reach the hsm worker");
	evtimer_add(h->timer, &tv);
	health_maybe(h);
	return 0;
}

/* At the joiner's end: checks under way are dropped unanswered. */
void
health_stop(struct joiner *j)
{
	struct health	*h = j->health, *q = j->health_q;

	if (h != NULL) {
		kchan_cancel(j->w->parent, h->call);
		health_free(h);
	}
	if (q != NULL && q != h)
		health_free(q);
	j->health = j->health_q = NULL;
}
