/*
 * A join killed after the wipe (JOIN_KILLED): the client hears why, the
 * reason is kept for cluster info (kmd_local.join_error), the node shows
 * killed here and on the member, kmd_keys gets its indexes back, and the
 * subscriptions made so far go, here and on the members, so that no
 * slot keeps WAL on a member.  Each statement is best effort, on its
 * own: the member may be the one gone.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "log.h"
#include "util.h"

#define DROP_POLLS	300	/* polls for the stopped workers to go */

static void	subs_drop_later(struct joiner *);

void
killed_enter(struct join *jn)
{
	char		 dsn[PEER_DSN_MAX];
	const char	*p[4];
	int		 i;

	jn->why[strcspn(jn->why, "\n")] = '\0';
	log_warnx("cluster join of node %s killed: %s", jn->node_id, jn->why);
	if (jn->reqid != 0)
		kchan_senderr(jn->j->w->parent, jn->reqid, "cluster join: %s",
		    jn->why);
	jn->reqid = 0;
	p[0] = jn->why;
	pq_query(jn->j->jdb, "UPDATE kmd_local SET join_state = '"
	    NS_C_KILLED "', join_error = $1, join_progress = NULL", 1, p,
	    jq_ignore, NULL);
	/* the copy ended first: the indexes' build would wait for it */
	subs_drop_later(jn->j);
	pq_query(jn->j->jdb, SQL_KEYS_INDEXES_ADD, 0, NULL, jq_ignore, NULL);
	/* PEER_KILL: the member's row, each member's subscription here. */
	p[0] = jn->dsn;
	p[1] = jn->why;
	pq_query(jn->j->jdb, "SELECT x FROM dblink($1, format('SELECT"
	    " kmd_peer_kill(%L)', $2::text)) AS t(x text)", 2, p, jq_ignore,
	    NULL);
	for (i = 0; i < jn->nmembers; i++) {
		peer_dsn(jn->members[i].host, dsn, sizeof(dsn));
		p[0] = dsn;
		pq_query(jn->j->jdb, "SELECT x FROM dblink($1, 'SELECT"
		    " kmd_peer_unsubscribe()') AS t(x text)", 1, p, jq_ignore,
		    NULL);
	}
	join_free(jn);
}

/*
 * This node's subscriptions: stopped now, dropped once their workers are
 * gone (see wipe_enter()).  The cleanup outlives the join, so it has its
 * own little state; one under way drops them all.
 */
struct subs_drop {
	struct joiner	*j;
	struct event	*timer;
	int		 polls;
};

static void	subs_drop_poll(evutil_socket_t, short, void *);
static void	subs_drop_polled(struct pq *, PGresult *, void *);

static void
subs_drop_later(struct joiner *j)
{
	struct subs_drop	*sd;

	if (j->subs_drop != NULL)
		return;
	if ((sd = calloc(1, sizeof(*sd))) == NULL ||
	    (sd->timer = evtimer_new(j->w->base, subs_drop_poll, sd)) == NULL)
		fatal("%s", __func__);
	sd->j = j;
	j->subs_drop = sd;
	pq_query(j->jdb, SQL_SUBS_STOP, 0, NULL, jq_ignore, NULL);
	pq_query(j->jdb, SQL_COPY_END, 0, NULL, jq_ignore, NULL);
	subs_drop_poll(-1, 0, sd);
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
subs_drop_polled(struct pq *db, PGresult *res, void *arg)
{
	struct subs_drop	*sd = arg;
	struct timeval		 tv = { 0, POLL_MS * 1000 };

	(void)db;
	if (pq_ok(res) && atoi(pq_get(res, 0, "workers")) > 0 &&
	    ++sd->polls < DROP_POLLS) {
		evtimer_add(sd->timer, &tv);
		return;
	}
	if (pq_ok(res) && atoi(pq_get(res, 0, "workers")) == 0)
		pq_query(sd->j->jdb, "SELECT pglogical.drop_subscription("
		    "sub_name, true) FROM pglogical.subscription", 0, NULL,
		    jq_ignore, NULL);
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
