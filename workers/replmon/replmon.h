#ifndef KMD_REPLMON_H
#define KMD_REPLMON_H

#include "pq.h"
#include "worker.h"

/* A timestamp in SQL as the summary and alarms show them, UTC, ISO 8601. */
#define SQL_ISO(x) \
	"to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

struct monitor;

struct replmon {
	struct worker	*w;
	struct pq	*db;
	struct monitor	*mon;
	char		 hsm_err[KMD_ERR_MAX];	/* "": the HSM, if any, works */
};

/* monitor.c: the tick, peers' status, alarms */
struct monitor	*monitor_new(struct replmon *);
void		 monitor_free(struct monitor *);

#endif
