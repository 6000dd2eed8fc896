/*
 * api: the HTTPS REST listener (evhttp + OpenSSL).  It receives its
 * listening socket from the parent in the HTTPS API issue.
 */
#include "worker.h"

static const struct kmsg_handler api_handlers[] = {
	{ IMSG_CONF_VERBOSE, sizeof(int32_t), FROM(PROC_PARENT),
	    worker_conf_verbose },
};

const struct worker_def api_worker = {
	PROC_API, api_handlers,
	sizeof(api_handlers) / sizeof(api_handlers[0]), NULL, NULL
};
