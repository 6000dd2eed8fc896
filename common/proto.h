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
#define KMD_HOST_MAX	254
#define KMD_URL_MAX	512
#define KMD_PEM_MAX	4096
#define KMD_SEALED_MAX	2048		/* hex of nonce|ciphertext|tag */
#define KMD_WRAPPED_MAX	256

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

	/* kmctl -> parent -> joiner: cluster new; replies CLUSTER_INFO_REPLY */
	IMSG_CTL_CLUSTER_NEW,	/* struct cluster_new */
	IMSG_CLUSTER_NEW,	/* struct cluster_new */

	/* kmctl -> parent -> replmon: nodes list/get */
	IMSG_CTL_NODES,		/* struct nodes_query */
	IMSG_NODES,		/* struct nodes_query */
	IMSG_NODES_PAGE,	/* struct nodes_page, then NODE_INFO frames */
	IMSG_NODE_INFO,		/* struct node_info */

	/* joiner <-> hsm, relayed by the parent */
	IMSG_HSM_CLUSTER_CREATE,	/* struct hsm_create */
	IMSG_HSM_CLUSTER_CREATED,	/* struct hsm_created */
	IMSG_HSM_TLS_INSTALL,		/* struct hsm_tls_install */
	IMSG_HSM_ERROR,			/* NUL-terminated message */

	/* parent -> hsm: the root-of-trust key file, as a passed fd */
	IMSG_HSM_ROT_FD,	/* empty, with fd */
	/* hsm -> parent: PostgreSQL's TLS files (holds a private key) */
	IMSG_TLS_WRITE,		/* struct tls_files */
	/* parent -> joiner: the outcome of TLS_WRITE */
	IMSG_TLS_INSTALLED,	/* struct tls_result */

	/* kmctl (local only) -> parent -> joiner: set a user's password */
	IMSG_CTL_USER_SET,	/* struct user_set; reply END or ERROR */
	IMSG_USER_SET,		/* struct user_set */

	/* api -> parent -> joiner: check a login; reply AUTH_RESULT */
	IMSG_AUTH_CHECK,	/* struct user_set */
	IMSG_AUTH_RESULT,	/* struct auth_result */

	/* parent -> api: the listening socket (fd) and its TLS files */
	IMSG_API_LISTEN,	/* struct api_conf, with the fd */

	IMSG_MAX
};

#define KMD_NAME_MAX		64
#define KMD_PASSWORD_MAX	256

struct user_set {
	char		 name[KMD_NAME_MAX];
	char		 password[KMD_PASSWORD_MAX];
};

struct auth_result {
	int32_t		 ok;		/* 1: the password matches */
};

struct api_conf {
	char		 key[KMD_PEM_MAX];	/* PEM, the interface key */
	char		 cert[2 * KMD_PEM_MAX];	/* PEM, leaf first */
	int32_t		 token_lifetime;	/* seconds */
};


struct cluster_new {
	char		 host[KMD_HOST_MAX];
	char		 url[KMD_URL_MAX];
	char		 pubaddr[KMD_HOST_MAX];	/* "" : same as host */
};

struct nodes_query {
	int32_t		 skip;
	int32_t		 limit;
	char		 id[KMD_NODEID_MAX];	/* "" : list */
};

struct nodes_page {
	int32_t		 skip;
	int32_t		 limit;
	int32_t		 total;
};

struct node_info {
	char		 nodeid[KMD_NODEID_MAX];
	char		 code[KMD_STATUS_CODE_MAX];
	char		 desc[KMD_STATUS_DESC_MAX];
	char		 host[KMD_HOST_MAX];
	char		 pubaddr[KMD_HOST_MAX];
	int32_t		 port;
	int32_t		 this_node;
};

struct hsm_create {
	char		 cluster_id[KMD_NODEID_MAX];
	char		 node_id[KMD_NODEID_MAX];
	char		 host[KMD_HOST_MAX];
};

struct hsm_created {
	char		 ca_cert[KMD_PEM_MAX];
	char		 node_cert[KMD_PEM_MAX];
	char		 ca_key_sealed[KMD_SEALED_MAX];
	char		 node_key_sealed[KMD_SEALED_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];
};

struct hsm_tls_install {
	char		 node_id[KMD_NODEID_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];
	char		 node_key_sealed[KMD_SEALED_MAX];
	char		 node_cert[KMD_PEM_MAX];
	char		 ca_cert[KMD_PEM_MAX];
};

struct tls_files {
	char		 key[KMD_SEALED_MAX];
	char		 cert[KMD_PEM_MAX];
	char		 ca[KMD_PEM_MAX];
};

struct tls_result {
	int32_t		 ok;
	char		 err[KMD_ERR_MAX];
};

struct conf_worker {
	uint32_t	 uid;
	uint32_t	 gid;
	int32_t		 verbose;
	int32_t		 chroot;		/* 1: chroot into dir */
	char		 chrootdir[KMD_PATH_MAX];
	char		 pgsock[KMD_PATH_MAX];	/* as the worker sees it */
	char		 host[KMD_HOST_MAX];	/* kmd.conf host */
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
