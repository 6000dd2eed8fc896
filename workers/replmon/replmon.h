#ifndef KMD_REPLMON_H
#define KMD_REPLMON_H

#include "pq.h"
#include "schema.h"
#include "worker.h"

struct monitor;
struct beat;

struct replmon {
	struct worker	*w;
	struct pq	*db;
	struct monitor	*mon;
	struct beat	*beat;
	char		 hsm_err[KMD_ERR_MAX];	/* "": the HSM, if any, works */
};

/* monitor.c: the tick, peers' status, alarms */
struct monitor	*monitor_new(struct replmon *);
void		 monitor_free(struct monitor *);
void		 monitor_tick_now(struct monitor *);
void		 monitor_apply_error(struct monitor *,
		    const struct apply_error *);
int		 monitor_clustered(const struct monitor *);
int		 monitor_overdue(const struct monitor *, const char *,
		    long long);

/* beat.c: the heartbeat */
struct beat	*beat_new(struct replmon *);
void		 beat_free(struct beat *);

/* metrics.c: GET /metrics, the monitor's part */
int		 replmon_metrics(struct kchan *, struct kmsg *, void *);

#endif
