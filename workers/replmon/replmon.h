#ifndef KMD_REPLMON_H
#define KMD_REPLMON_H

#include "pq.h"
#include "worker.h"

struct monitor;

struct replmon {
	struct worker	*w;
	struct pq	*db;
	struct monitor	*mon;
};

/* monitor.c: the tick, peers' status, alarms */
struct monitor	*monitor_new(struct replmon *);
void		 monitor_free(struct monitor *);

#endif
