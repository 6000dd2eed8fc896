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

int
hsm_main(int foreground, int verbose)
{
	static const struct worker_def def = {
		PROC_HSM, hsm_handlers,
		sizeof(hsm_handlers) / sizeof(hsm_handlers[0]), NULL
	};

	return worker_run(&def, foreground, verbose);
}
