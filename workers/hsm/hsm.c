/*
 * hsm: the HSM/root-of-trust agent, the only process that will touch key
 * material (PKCS#11 via SoftHSM2, or a software RoT key).  Its operations
 * arrive with the root-of-trust issue.
 */
#include "worker.h"

static const struct kmsg_handler hsm_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
};

const struct worker_def hsm_worker = {
	PROC_HSM, hsm_handlers,
	sizeof(hsm_handlers) / sizeof(hsm_handlers[0]), NULL, NULL
};
