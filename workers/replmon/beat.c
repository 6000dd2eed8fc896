/*
 * The heartbeat.  Every fifth of "replmon down-after" (at least 100 ms,
 * at most the tick's interval) kmd_beat() stamps this node's small row
 * in the replicated kmd_join_markers and answers how long each peer that
 * beats has been silent here (schema step 17).  A peer silent past
 * down-after while the monitor still holds it up has the monitor tick at
 * once: a peer is down in this node's view within down-after and a beat,
 * where waiting for the tick could add a whole interval.  The tick
 * decides, as ever; the beat only wakes it.  Beats share the monitor's
 * connection and are skipped while one is still out.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitor.h"
#include "pq.h"
#include "replmon.h"
#include "util.h"
#include "worker.h"

struct beat {
	struct replmon	*rm;
	struct event	*ev;
	int		 busy;
	int		 ms;		/* the period now */
	int		 failed;	/* the last beat failed (logged once) */
};

static int
beat_period(const struct conf_worker *cw)
{
	int	 ms = cw->rm_down_after / 5;

	if (ms > cw->rm_interval)
		ms = cw->rm_interval;
	return ms < 100 ? 100 : ms;
}

static void
beat_done(struct pq *db, PGresult *res, void *arg)
{
	struct beat	*b = arg;
	int		 i;

	b->busy = 0;
	if (!pq_ok(res)) {
		if (!b->failed)
			log_warnx("replmon: heartbeat: %s", pq_why(db, res));
		b->failed = 1;
		return;
	}
	b->failed = 0;
	for (i = 0; i < PQntuples(res); i++)
		if (monitor_overdue(b->rm->mon, PQgetvalue(res, i, 0),
		    atoll(PQgetvalue(res, i, 1)))) {
			monitor_tick_now(b->rm->mon);
			return;
		}
}

static void
beat_send(evutil_socket_t fd, short ev, void *arg)
{
	struct beat	*b = arg;
	int		 ms = beat_period(&b->rm->w->conf);
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)fd;
	(void)ev;
	if (ms != b->ms) {		/* down-after changed (SIGHUP) */
		b->ms = ms;
		event_add(b->ev, &tv);
	}
	if (b->busy || !monitor_clustered(b->rm->mon) ||
	    !pq_connected(b->rm->db))
		return;
	if (pq_prepared(b->rm->db, "SELECT peer, silent_ms FROM kmd_beat()", 0,
	    NULL, beat_done, b) == 0)
		b->busy = 1;
}

struct beat *
beat_new(struct replmon *rm)
{
	struct beat	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatal("%s", __func__);
	b->rm = rm;
	b->ms = beat_period(&rm->w->conf);
	b->ev = worker_every(rm->w, b->ms, beat_send, b);
	return b;
}

void
beat_free(struct beat *b)
{
	if (b == NULL)
		return;
	event_free(b->ev);
	free(b);
}
