/*
 * replmon: the replication monitor.  For now it answers cluster info from
 * what it knows (nothing yet: "not clustered"); the node-database issue
 * gives it a libpq connection and the replicated node table.
 */
#include <string.h>

#include "log.h"
#include "util.h"
#include "worker.h"

static int
replmon_cluster_info(struct kchan *ch, struct kmsg *m, void *arg)
{
	struct cluster_info	 ci;

	(void)arg;
	memset(&ci, 0, sizeof(ci));
	kmd_strlcpy(ci.code, "none", sizeof(ci.code));
	kmd_strlcpy(ci.desc, "not clustered", sizeof(ci.desc));
	ci.nodecount = -1;
	if (kchan_send(ch, IMSG_CLUSTER_INFO_REPLY, m->hdr.reqid, -1, &ci,
	    sizeof(ci)) == -1)
		return -1;
	return kchan_send(ch, IMSG_CTL_END, m->hdr.reqid, -1, NULL, 0);
}

static const struct kmsg_handler replmon_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
	{ IMSG_CLUSTER_INFO, 0, FROM(PROC_PARENT), replmon_cluster_info },
};

const struct worker_def replmon_worker = {
	PROC_REPLMON, replmon_handlers,
	sizeof(replmon_handlers) / sizeof(replmon_handlers[0]), NULL
};
