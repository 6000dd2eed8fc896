/*
 * The one list of message types and the typed payloads that travel with
 * them.  Payloads are fixed-width structs of plain integers and
 * NUL-terminated character arrays: never a pointer.  Names say direction
 * and verb: IMSG_CTL_* come from kmctl (or the api worker, later),
 * IMSG_*_REPLY go back.
 */
#ifndef KMD_PROTO_H
#define KMD_PROTO_H

#include <stdint.h>

#define KMD_VERSION		"0.1.0"
#define KMD_USER_MAX		32
#define KMD_ROLE_MAX		16
#define KMD_PATH_MAX		256
#define KMD_ERR_MAX		512
#define KMD_NODEID_MAX		40
#define KMD_STATUS_CODE_MAX	16
#define KMD_STATUS_DESC_MAX	64

/* Who is on the other end of a channel; handler tables allow by mask. */
enum proc_id {
	PROC_PARENT = 0,
	PROC_REPLMON,
	PROC_JOINER,
	PROC_HSM,
	PROC_API,
	PROC_POSTGRES,		/* supervised, no channel */
	PROC_CTL,		/* a kmctl client on the control socket */
	PROC_MAX
};
#define FROM(p)		(1u << (p))

enum imsg_type {
	IMSG_NONE = 0,

	/* parent -> worker */
	IMSG_CONF_WORKER,	/* struct conf_worker: first frame, once */
	IMSG_CONF_VERBOSE,	/* int32 level, after SIGHUP */

	/* kmctl -> parent */
	IMSG_CTL_STATUS,	/* empty */
	IMSG_CTL_CLUSTER_INFO,	/* empty */

	/* parent -> kmctl */
	IMSG_CTL_PROC,		/* struct ctl_proc, one per process */
	IMSG_CTL_END,		/* empty: the reply is complete */
	IMSG_CTL_ERROR,		/* NUL-terminated message, < KMD_ERR_MAX */

	/* parent <-> replmon */
	IMSG_CLUSTER_INFO,	/* empty */
	IMSG_CLUSTER_INFO_REPLY, /* struct cluster_info */

	IMSG_MAX
};

struct conf_worker {
	uint32_t	 uid;
	uint32_t	 gid;
	int32_t		 verbose;
	int32_t		 chroot;		/* 1: chroot into dir */
	char		 chrootdir[KMD_PATH_MAX];
	char		 pgsock[KMD_PATH_MAX];	/* as the worker sees it */
};

struct ctl_proc {
	char		 role[KMD_ROLE_MAX];
	char		 user[KMD_USER_MAX];
	int32_t		 pid;			/* 0 while restarting */
	uint32_t	 restarts;
	int64_t		 uptime;		/* seconds */
};

struct cluster_info {
	char		 nodeid[KMD_NODEID_MAX];
	char		 code[KMD_STATUS_CODE_MAX];
	char		 desc[KMD_STATUS_DESC_MAX];
	int32_t		 nodecount;		/* -1: not clustered */
};

const char	*imsg_type_name(uint16_t);
const char	*proc_name(enum proc_id);

#endif
