/*
 * joiner: the join coordinator (cluster new, csr, join and its five stages,
 * node removal).  Its operations arrive with the node-database and join issues.
 */
#include "worker.h"

static const struct kmsg_handler joiner_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
};

const struct worker_def joiner_worker = {
	PROC_JOINER, joiner_handlers,
	sizeof(joiner_handlers) / sizeof(joiner_handlers[0]), NULL
};
