#include <stddef.h>

#include "proto.h"

const char *
imsg_type_name(uint16_t type)
{
	static const char *names[IMSG_MAX] = {
		[IMSG_NONE] = "NONE",
		[IMSG_CONF_WORKER] = "CONF_WORKER",
		[IMSG_CONF_VERBOSE] = "CONF_VERBOSE",
		[IMSG_CTL_STATUS] = "CTL_STATUS",
		[IMSG_CTL_CLUSTER_INFO] = "CTL_CLUSTER_INFO",
		[IMSG_CTL_PROC] = "CTL_PROC",
		[IMSG_CTL_END] = "CTL_END",
		[IMSG_CTL_ERROR] = "CTL_ERROR",
		[IMSG_CLUSTER_INFO] = "CLUSTER_INFO",
		[IMSG_CLUSTER_INFO_REPLY] = "CLUSTER_INFO_REPLY",
		[IMSG_CTL_CLUSTER_NEW] = "CTL_CLUSTER_NEW",
		[IMSG_CLUSTER_NEW] = "CLUSTER_NEW",
		[IMSG_CTL_NODES] = "CTL_NODES",
		[IMSG_NODES] = "NODES",
		[IMSG_NODES_PAGE] = "NODES_PAGE",
		[IMSG_NODE_INFO] = "NODE_INFO",
		[IMSG_HSM_CLUSTER_CREATE] = "HSM_CLUSTER_CREATE",
		[IMSG_HSM_CLUSTER_CREATED] = "HSM_CLUSTER_CREATED",
		[IMSG_HSM_TLS_INSTALL] = "HSM_TLS_INSTALL",
		[IMSG_HSM_ERROR] = "HSM_ERROR",
		[IMSG_HSM_ROT_FD] = "HSM_ROT_FD",
		[IMSG_TLS_WRITE] = "TLS_WRITE",
		[IMSG_TLS_INSTALLED] = "TLS_INSTALLED",
		[IMSG_CTL_USER_SET] = "CTL_USER_SET",
		[IMSG_USER_SET] = "USER_SET",
		[IMSG_AUTH_CHECK] = "AUTH_CHECK",
		[IMSG_AUTH_RESULT] = "AUTH_RESULT",
		[IMSG_API_LISTEN] = "API_LISTEN",
	};

	if (type >= IMSG_MAX || names[type] == NULL)
		return "unknown";
	return names[type];
}

const char *
proc_name(enum proc_id p)
{
	static const char *names[PROC_MAX] = {
		"parent", "replmon", "joiner", "hsm", "api", "postgres", "kmctl"
	};

	return (unsigned)p < PROC_MAX ? names[p] : "unknown";
}
