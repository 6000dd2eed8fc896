/*
 * The operation catalogue: every request a client can make of kmd, every
 * frame that answers one, and every call one node makes on another's
 * database, each listed once.  The tables the processes dispatch through
 * are made from these lists, so that a new command is a row here, one
 * request builder (kmctl, and the api's reader of its REST body) and one
 * handler in the worker that serves it; a handler named here and not
 * written is a link error, not a worker killed at run time.
 *
 * Lists are X-macros: a list takes the macro to apply to each row.
 *
 * LOCAL(X): requests the parent answers itself.
 *   X(NAME, payload size, who may send, handler in master/)
 *   makes IMSG_CTL_<NAME>.
 * REQ_REPLMON(X), REQ_JOINER(X): requests the parent forwards to a worker.
 *   X(worker, NAME, payload size, who may send, handler in the worker)
 *   makes IMSG_CTL_<NAME> (client -> parent) and IMSG_<NAME> (parent ->
 *   worker, under the parent's own request id), the parent's route, its
 *   handler rows for kmctl's socket and the api's channel, and the
 *   worker's handler row.
 * REPLIES(X): frames a worker sends back towards the client.
 *   X(NAME, payload size, which workers send it)
 *   makes IMSG_<NAME>, the parent's relay rows and the api's reader rows.
 * OPS(X): the commands: one row per kmctl command or REST call.
 *   X(action, request message, reply shape, role, class, method, path,
 *     kmctl builder, kmctl REST form, confirm prompt)
 *   action: kmctl's A_* (A_NONE: REST only); reply shape: kmctl's P_*;
 *   role: the least role of an API user that may run it (the api
 *   worker refuses others, and the parent checks the caller's signed
 *   token again: op_request_role()); root on the control socket is admin;
 *   class: OPC_MEMBERSHIP for the changes of the cluster's membership
 *   or of the whole cluster, which are serialized cluster-wide,
 *   OPC_NODE for the rest; method, path: the REST call under /api/v1/
 *   ("{x}" is one path segment; NULL: over the socket only); builder:
 *   the typed request from kmctl's arguments (NULL: no payload); REST
 *   form: the path and body of the same typed request (NULL: the path
 *   as it is); prompt: the question asked before it runs (NULL: none;
 *   -y answers it).
 * PEER_CALLS(X): what one node's joiner runs on another node's database
 *   through dblink.  The SQL stays where the call is made, which names
 *   its row (peer_call_what() is the wording of its errors), so that
 *   grep PEER_ lists every call between nodes.
 *   X(NAME, who calls, on whom, what it does)
 */
#ifndef KMD_OPS_H
#define KMD_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Who may send a client request: kmctl on the socket, the api worker. */
#define FROM_CTL	FROM(PROC_CTL)
#define FROM_API	FROM(PROC_API)
#define FROM_CA		(FROM(PROC_CTL) | FROM(PROC_API))
#define FROM_WORKERS	(FROM(PROC_REPLMON) | FROM(PROC_JOINER) | \
			    FROM(PROC_HSM) | FROM(PROC_API))

/* The role an operation needs. */
enum op_role {
	ROLE_NONE = 0,		/* no login: health, the login itself */
	ROLE_VIEWER,		/* reads */
	ROLE_KEYS,		/* the served keys: create, use, rotate */
	ROLE_ADMIN		/* the cluster, the node, users */
};

/* What an operation changes. */
enum op_class {
	OPC_NODE = 0,		/* one node, or nothing cluster-wide */
	OPC_MEMBERSHIP		/* membership or the whole cluster */
};

#define LOCAL(X) \
	X(STATUS, 0, FROM_CA, ctl_status) \
	X(RESET, 0, FROM_CA, ctl_reset)

#define REQ_REPLMON(X) \
	X(PROC_REPLMON, CLUSTER_INFO, 0, FROM_CA, replmon_cluster_info) \
	X(PROC_REPLMON, NODES, sizeof(struct nodes_query), FROM_CA, \
	    replmon_nodes) \
	X(PROC_REPLMON, SUMMARY, 0, FROM_CA, replmon_summary) \
	X(PROC_REPLMON, ALARMS, sizeof(struct alarms_query), FROM_CA, \
	    replmon_alarms) \
	X(PROC_REPLMON, METRICS, 0, FROM_CA, replmon_metrics)

#define REQ_JOINER(X) \
	X(PROC_JOINER, CLUSTER_NEW, sizeof(struct cluster_new), FROM_CA, \
	    joiner_cluster_new) \
	X(PROC_JOINER, CLUSTER_CSR, sizeof(struct cluster_csr), FROM_CA, \
	    joiner_cluster_csr) \
	X(PROC_JOINER, NODES_CREATE, sizeof(struct nodes_create), FROM_CA, \
	    joiner_nodes_create) \
	X(PROC_JOINER, CLUSTER_JOIN, sizeof(struct cluster_join), FROM_CA, \
	    joiner_cluster_join) \
	X(PROC_JOINER, USER_SET, sizeof(struct user_set), FROM_CA, \
	    joiner_user_set) \
	X(PROC_JOINER, AUTH_CHECK, sizeof(struct user_set), FROM_API, \
	    joiner_auth_check) \
	X(PROC_JOINER, NODES_DELETE, sizeof(struct nodes_delete), FROM_CA, \
	    joiner_nodes_delete) \
	X(PROC_JOINER, CLUSTER_DELETE, 0, FROM_CA, joiner_cluster_delete) \
	X(PROC_JOINER, ROTKEYS, sizeof(struct rotkeys_req), FROM_CA, \
	    joiner_rotkeys) \
	X(PROC_JOINER, KEYS, sizeof(struct keys_req), FROM_CA, joiner_keys) \
	X(PROC_JOINER, VERSION, 0, FROM_CA, joiner_version_info) \
	X(PROC_JOINER, UPGRADE, 0, FROM_CA, joiner_upgrade_status) \
	X(PROC_JOINER, UPGRADE_FINISH, 0, FROM_CA, joiner_upgrade_finish) \
	X(PROC_JOINER, HEALTH, 0, FROM_CA, joiner_health) \
	X(PROC_JOINER, BACKUP_KEYS, sizeof(struct bkey_req), FROM_CA, \
	    joiner_bkeys) \
	X(PROC_JOINER, BACKUPS, sizeof(struct backup_req), FROM_CA, \
	    joiner_backups) \
	X(PROC_JOINER, VERIFY, 0, FROM_CA, joiner_verify)

#define REQUESTS(X)	REQ_REPLMON(X) REQ_JOINER(X)

#define REPLIES(X) \
	X(CLUSTER_INFO_REPLY, sizeof(struct cluster_info), \
	    FROM(PROC_REPLMON) | FROM(PROC_JOINER)) \
	X(NODES_PAGE, sizeof(struct nodes_page), FROM(PROC_REPLMON)) \
	X(NODE_INFO, sizeof(struct node_info), \
	    FROM(PROC_REPLMON) | FROM(PROC_JOINER)) \
	X(SUMMARY_ROW, sizeof(struct summary_row), FROM(PROC_REPLMON)) \
	X(ALARMS_PAGE, sizeof(struct nodes_page), FROM(PROC_REPLMON)) \
	X(ALARM_INFO, sizeof(struct alarm_info), FROM(PROC_REPLMON)) \
	X(AUTH_RESULT, sizeof(struct auth_result), FROM(PROC_JOINER)) \
	X(USER_INFO, sizeof(struct user_info), FROM(PROC_JOINER)) \
	X(CSR_REPLY, sizeof(struct csr_reply), FROM(PROC_JOINER)) \
	X(NODE_CREDENTIALS, sizeof(struct node_credentials), \
	    FROM(PROC_JOINER)) \
	X(JOIN_CHECK, sizeof(struct join_check), FROM(PROC_JOINER)) \
	X(ROTKEY_INFO, sizeof(struct rotkey_info), FROM(PROC_JOINER)) \
	X(KEYS_PAGE, sizeof(struct nodes_page), FROM(PROC_JOINER)) \
	X(KEY_INFO, sizeof(struct key_info), FROM(PROC_JOINER)) \
	X(KEY_CRYPT, sizeof(struct key_crypt), FROM(PROC_JOINER)) \
	X(VERSION_INFO, sizeof(struct version_info), FROM(PROC_JOINER)) \
	X(UPGRADE_INFO, sizeof(struct upgrade_info), FROM(PROC_JOINER)) \
	X(HEALTH_INFO, sizeof(struct health_info), FROM(PROC_JOINER)) \
	X(METRICS_TEXT, KMSG_VARLEN, FROM(PROC_REPLMON)) \
	X(BKEY_INFO, sizeof(struct bkey_info), FROM(PROC_JOINER)) \
	X(BACKUP_INFO, sizeof(struct backup_info), FROM(PROC_JOINER)) \
	X(BACKUP_PROGRESS, sizeof(struct backup_progress), FROM(PROC_JOINER)) \
	X(VERIFY_ROW, sizeof(struct verify_row), FROM(PROC_JOINER)) \
	X(CTL_END, 0, FROM_WORKERS) \
	X(CTL_ERROR, KMSG_VARLEN, FROM_WORKERS)

/* The reference's wording for the questions asked before a change. */
#define ASK_NODES_DELETE "The node is removed from the cluster: every" \
	" other node stops replicating with it and refuses its certificate." \
	" Are you sure want to remove it?"
#define ASK_CLUSTER_DELETE "This node's cluster configuration is deleted;" \
	" it keeps its users. Are you sure want to delete it?"
#define ASK_ROTKEYS_DELETE "The root-of-trust key is destroyed: anything" \
	" still sealed under it cannot be opened again. If other nodes share" \
	" this HSM token (--shared-hsm-partition), check with rot-keys list" \
	" on each that none keeps its KEK under it. Are you sure want to" \
	" delete it?"
#define ASK_USERS_DELETE "The user is deleted on every node, and its" \
	" API tokens end. Are you sure want to delete it?"
#define ASK_KEYS_DELETE "The key and all its versions are deleted on every" \
	" node: what was encrypted with it can no longer be decrypted. Are" \
	" you sure want to delete it?"
#define ASK_RESET "WARNING: services reset wipes this node to its factory" \
	" state: its database, its keys and its cluster configuration are" \
	" deleted and cannot be recovered. Are you sure want to reset?"
#define ASK_FINISH "The replicated tables change on every node at once:" \
	" writes pause on every node for a few seconds, and no node can go" \
	" back to the older kmd afterwards. Are you sure want to finish the" \
	" upgrade?"
#define ASK_BKEYS_DELETE "The backup key is destroyed on this node:" \
	" backups made with it can be restored only where an exported copy of" \
	" it is imported. Are you sure want to delete it?"
#define ASK_BACKUPS_DELETE "The backup file is deleted from this node. Are" \
	" you sure want to delete it?"
#define ASK_RESTORE "The restore replaces this node's keys and users with" \
	" the backup's, and its KEK with the backup's; what was made since" \
	" the backup is lost. Are you sure want to restore?"
#define ASK_JOIN "When you add a node to a cluster, the existing data of" \
	" the node is deleted. Are you sure want to join?"

#define OPS(X) \
	X(A_STATUS, IMSG_CTL_STATUS, P_STATUS, ROLE_VIEWER, OPC_NODE, \
	    "GET", "system/processes", NULL, NULL, NULL) \
	X(A_VERSION, IMSG_CTL_VERSION, P_VERSION, ROLE_VIEWER, OPC_NODE, \
	    "GET", "system/version", NULL, NULL, NULL) \
	X(A_HEALTH, IMSG_CTL_HEALTH, P_HEALTH, ROLE_NONE, OPC_NODE, \
	    "GET", "system/health", NULL, rest_health, NULL) \
	X(A_NONE, IMSG_CTL_HEALTH, P_HEALTH, ROLE_NONE, OPC_NODE, \
	    "HEAD", "system/health", NULL, NULL, NULL) \
	X(A_NONE, IMSG_CTL_METRICS, P_METRICS, ROLE_VIEWER, OPC_NODE, \
	    "GET", "metrics", NULL, NULL, NULL) \
	X(A_NONE, IMSG_CTL_AUTH_CHECK, P_NONE, ROLE_NONE, OPC_NODE, \
	    "POST", "auth/tokens", NULL, NULL, NULL) \
	X(A_NONE, IMSG_NONE, P_NONE, ROLE_VIEWER, OPC_NODE, \
	    "DELETE", "auth/tokens", NULL, NULL, NULL) \
	X(A_CLUSTER_INFO, IMSG_CTL_CLUSTER_INFO, P_INFO, ROLE_VIEWER, \
	    OPC_NODE, "GET", "cluster", NULL, NULL, NULL) \
	X(A_CLUSTER_NEW, IMSG_CTL_CLUSTER_NEW, P_INFO, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "POST", "cluster/new", build_new, rest_new, NULL) \
	X(A_CLUSTER_SUMMARY, IMSG_CTL_SUMMARY, P_SUMMARY, ROLE_VIEWER, \
	    OPC_NODE, "GET", "cluster/summary", NULL, NULL, NULL) \
	X(A_CLUSTER_CSR, IMSG_CTL_CLUSTER_CSR, P_CSR, ROLE_ADMIN, OPC_NODE, \
	    "POST", "cluster/csr", build_csr, rest_csr, NULL) \
	X(A_NODES_CREATE, IMSG_CTL_NODES_CREATE, P_CRED, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "POST", "nodes", build_create, rest_create, NULL) \
	X(A_CLUSTER_JOIN, IMSG_CTL_CLUSTER_JOIN, P_INFO, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "POST", "cluster/join", build_join, rest_join, \
	    ASK_JOIN) \
	X(A_CLUSTER_FULLJOIN, IMSG_NONE, P_NONE, ROLE_ADMIN, OPC_MEMBERSHIP, \
	    NULL, NULL, NULL, NULL, NULL) \
	X(A_CLUSTER_VERIFY, IMSG_CTL_VERIFY, P_VERIFY, ROLE_ADMIN, OPC_NODE, \
	    "POST", "cluster/verify", NULL, NULL, NULL) \
	X(A_UPGRADE_STATUS, IMSG_CTL_UPGRADE, P_UPGRADE, ROLE_VIEWER, \
	    OPC_NODE, "GET", "cluster/upgrade", NULL, NULL, NULL) \
	X(A_UPGRADE_FINISH, IMSG_CTL_UPGRADE_FINISH, P_UPGRADE, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "POST", "cluster/upgrade/finish", NULL, NULL, \
	    ASK_FINISH) \
	X(A_NODES_LIST, IMSG_CTL_NODES, P_NODES, ROLE_VIEWER, OPC_NODE, \
	    "GET", "nodes", build_nodes, rest_nodes, NULL) \
	X(A_NODES_GET, IMSG_CTL_NODES, P_NODE, ROLE_VIEWER, OPC_NODE, \
	    "GET", "nodes/{id}", build_nodes, rest_nodes, NULL) \
	X(A_NODES_DELETE, IMSG_CTL_NODES_DELETE, P_INFO, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "DELETE", "nodes/{id}", build_delete, rest_delete, \
	    ASK_NODES_DELETE) \
	X(A_CLUSTER_DELETE, IMSG_CTL_CLUSTER_DELETE, P_INFO, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "DELETE", "cluster", NULL, NULL, \
	    ASK_CLUSTER_DELETE) \
	X(A_SERVICES_RESET, IMSG_CTL_RESET, P_INFO, ROLE_ADMIN, OPC_NODE, \
	    "POST", "system/services/reset", NULL, NULL, ASK_RESET) \
	X(A_ALARMS_LIST, IMSG_CTL_ALARMS, P_ALARMS, ROLE_VIEWER, OPC_NODE, \
	    "GET", "alarms", build_alarms, rest_alarms, NULL) \
	X(A_ROTKEYS_LIST, IMSG_CTL_ROTKEYS, P_ROTKEYS, ROLE_ADMIN, OPC_NODE, \
	    "GET", "system/rot-keys", build_rotkeys, NULL, NULL) \
	X(A_ROTKEYS_ROTATE, IMSG_CTL_ROTKEYS, P_ROTKEYS, ROLE_ADMIN, \
	    OPC_NODE, "POST", "system/rot-keys/rotate", build_rotkeys, \
	    rest_rotate, NULL) \
	X(A_ROTKEYS_DELETE, IMSG_CTL_ROTKEYS, P_ROTKEYS, ROLE_ADMIN, \
	    OPC_NODE, "DELETE", "system/rot-keys/{id}", build_rotkeys, \
	    rest_rotate, ASK_ROTKEYS_DELETE) \
	X(A_USERS_SETPW, IMSG_CTL_USER_SET, P_NONE, ROLE_ADMIN, OPC_NODE, \
	    "PUT", "users/{name}/password", build_user, rest_user, NULL) \
	X(A_USERS_CREATE, IMSG_CTL_USER_SET, P_USER, ROLE_ADMIN, OPC_NODE, \
	    "POST", "users", build_user, rest_user, NULL) \
	X(A_USERS_SETROLE, IMSG_CTL_USER_SET, P_USER, ROLE_ADMIN, OPC_NODE, \
	    "PUT", "users/{name}/role", build_user, rest_user, NULL) \
	X(A_USERS_DELETE, IMSG_CTL_USER_SET, P_NONE, ROLE_ADMIN, OPC_NODE, \
	    "DELETE", "users/{name}", build_user, rest_user, ASK_USERS_DELETE) \
	X(A_USERS_LIST, IMSG_CTL_USER_SET, P_USERS, ROLE_ADMIN, OPC_NODE, \
	    "GET", "users", build_user, rest_user, NULL) \
	X(A_USERS_GET, IMSG_CTL_USER_SET, P_USER, ROLE_ADMIN, OPC_NODE, \
	    "GET", "users/{name}", build_user, rest_user, NULL) \
	X(A_KEYS_CREATE, IMSG_CTL_KEYS, P_KEY, ROLE_KEYS, OPC_NODE, \
	    "POST", "vault/keys2", build_keys, rest_keys, NULL) \
	X(A_KEYS_LIST, IMSG_CTL_KEYS, P_KEYS, ROLE_VIEWER, OPC_NODE, \
	    "GET", "vault/keys2", build_keys, rest_keys, NULL) \
	X(A_KEYS_GET, IMSG_CTL_KEYS, P_KEY, ROLE_VIEWER, OPC_NODE, \
	    "GET", "vault/keys2/{key}", build_keys, rest_keys, NULL) \
	X(A_KEYS_DELETE, IMSG_CTL_KEYS, P_KEY, ROLE_KEYS, OPC_NODE, \
	    "DELETE", "vault/keys2/{key}", build_keys, rest_keys, \
	    ASK_KEYS_DELETE) \
	X(A_KEYS_ROTATE, IMSG_CTL_KEYS, P_KEY, ROLE_KEYS, OPC_NODE, \
	    "POST", "vault/keys2/{key}/versions", build_keys, rest_keys, NULL) \
	X(A_KEYS_ENCRYPT, IMSG_CTL_KEYS, P_CRYPT, ROLE_KEYS, OPC_NODE, \
	    "POST", "crypto/encrypt", build_keys, rest_keys, NULL) \
	X(A_KEYS_DECRYPT, IMSG_CTL_KEYS, P_CRYPT, ROLE_KEYS, OPC_NODE, \
	    "POST", "crypto/decrypt", build_keys, rest_keys, NULL) \
	X(A_BKEYS_CREATE, IMSG_CTL_BACKUP_KEYS, P_BKEY, ROLE_ADMIN, OPC_NODE, \
	    "POST", "backup-keys", build_bkeys, rest_bkeys, NULL) \
	X(A_BKEYS_LIST, IMSG_CTL_BACKUP_KEYS, P_BKEYS, ROLE_ADMIN, OPC_NODE, \
	    "GET", "backup-keys", build_bkeys, rest_bkeys, NULL) \
	X(A_BKEYS_GET, IMSG_CTL_BACKUP_KEYS, P_BKEY, ROLE_ADMIN, OPC_NODE, \
	    "GET", "backup-keys/{id}", build_bkeys, rest_bkeys, NULL) \
	X(A_BKEYS_DELETE, IMSG_CTL_BACKUP_KEYS, P_NONE, ROLE_ADMIN, OPC_NODE, \
	    "DELETE", "backup-keys/{id}", build_bkeys, rest_bkeys, \
	    ASK_BKEYS_DELETE) \
	X(A_BKEYS_EXPORT, IMSG_CTL_BACKUP_KEYS, P_BKEY_FILE, ROLE_ADMIN, \
	    OPC_NODE, "POST", "backup-keys/{id}/export", build_bkeys, \
	    rest_bkeys, NULL) \
	X(A_BKEYS_IMPORT, IMSG_CTL_BACKUP_KEYS, P_BKEY, ROLE_ADMIN, OPC_NODE, \
	    "POST", "backup-keys/import", build_bkeys, rest_bkeys, NULL) \
	X(A_BACKUPS_CREATE, IMSG_CTL_BACKUPS, P_BACKUP, ROLE_ADMIN, OPC_NODE, \
	    "POST", "backups", build_backups, rest_backups, NULL) \
	X(A_BACKUPS_LIST, IMSG_CTL_BACKUPS, P_BACKUPS, ROLE_ADMIN, OPC_NODE, \
	    "GET", "backups", build_backups, rest_backups, NULL) \
	X(A_BACKUPS_GET, IMSG_CTL_BACKUPS, P_BACKUP, ROLE_ADMIN, OPC_NODE, \
	    "GET", "backups/{id}", build_backups, rest_backups, NULL) \
	X(A_BACKUPS_DELETE, IMSG_CTL_BACKUPS, P_NONE, ROLE_ADMIN, OPC_NODE, \
	    "DELETE", "backups/{id}", build_backups, rest_backups, \
	    ASK_BACKUPS_DELETE) \
	X(A_BACKUPS_DOWNLOAD, IMSG_CTL_BACKUPS, P_BACKUP, ROLE_ADMIN, \
	    OPC_NODE, "GET", "backups/{id}/file", build_backups, \
	    rest_backups, NULL) \
	X(A_BACKUPS_UPLOAD, IMSG_CTL_BACKUPS, P_BACKUP, ROLE_ADMIN, OPC_NODE, \
	    "POST", "backups/upload", build_backups, rest_backups, NULL) \
	X(A_BACKUPS_RESTORE, IMSG_CTL_BACKUPS, P_BACKUP, ROLE_ADMIN, \
	    OPC_MEMBERSHIP, "POST", "backups/{id}/restore", build_backups, \
	    rest_backups, ASK_RESTORE)

#define PEER_CALLS(X) \
	X(PEER_READ_MEMBER, "joining node", "member", \
	    "the member's checks") \
	X(PEER_VOTERS, "joining node", "member", \
	    "reading the member's voters for the membership lease") \
	X(PEER_LEASE, "any node", "every member", \
	    "kmd_lease_round(): the membership lease taken, renewed, given" \
	    " back") \
	X(PEER_REGISTER, "joining node", "member", \
	    "registering with the member") \
	X(PEER_STAGE, "joining node", "member", \
	    "recording the stage on the member") \
	X(PEER_SUBSCRIBE, "joining node", "every member", \
	    "subscribing the members to this node") \
	X(PEER_SUB_STATUS, "joining node", "every member", \
	    "watching the members' subscriptions") \
	X(PEER_SUB_RESTART, "joining node", "every member", \
	    "restarting a member's subscription to this node") \
	X(PEER_MARKERS_ADD, "joining node", "every member", \
	    "the markers on the members") \
	X(PEER_MARKER_ADD, "joining node", "member", \
	    "the marker on the member") \
	X(PEER_MARKERS_COUNT, "joining node", "member", \
	    "watching the markers on the member") \
	X(PEER_WAL, "joining node", "member", \
	    "reading the member's WAL position") \
	X(PEER_READY, "joining node", "member", \
	    "marking the node ready") \
	X(PEER_KILL, "joining node", "member", \
	    "marking the join killed on the member") \
	X(PEER_DRAINED, "node left", "removed node", \
	    "kmd_drained(): the removed node fenced, and its stream drained" \
	    " here") \
	X(PEER_PAUSE, "node finishing an upgrade", "every member", \
	    "pausing the member's writes (or ending the pause)") \
	X(PEER_PAUSE_MARKS, "node finishing an upgrade", "every member", \
	    "watching the markers of the pause on the member") \
	X(PEER_SCHEMA, "node finishing an upgrade", "every member", \
	    "reading the member's schema") \
	X(PEER_VERIFY_LINK, "node verifying", "every member", \
	    "connecting to the member") \
	X(PEER_VERIFY_MARK, "node verifying", "every member", \
	    "kmd_peer_verify_mark(): the member's marker added or taken back") \
	X(PEER_VERIFY_MARKS, "node verifying", "every member", \
	    "kmd_peer_verify_marks(): watching the other markers on the member") \
	X(PEER_VERIFY_READ, "node verifying", "every member", \
	    "reading the digests of the member's keys, users and nodes")

/* A worker's handler row for a request the parent forwards to it. */
#define OP_WORKER_ROW(w, n, len, from, fn) \
	{ IMSG_##n, len, FROM(PROC_PARENT), fn },

/* A command's row as the processes use it at run time (ops.c). */
struct op_row {
	const char	*name;		/* kmctl's action, "A_..." */
	uint16_t	 type;		/* the request message */
	enum op_role	 role;
	enum op_class	 cls;
	const char	*method;	/* REST; NULL: the socket only */
	const char	*path;		/* under /api/v1/ */
	const char	*prompt;
};
extern const struct op_row	 op_rows[];
extern const size_t		 op_nrows;
int	op_path_fits(const char *, const char *);
const char *role_name(enum op_role);
int	role_parse(const char *);
enum op_role op_request_role(uint16_t, const void *, size_t);
const struct op_row *op_route(const char *, const char *, char *, size_t);

#define PEER_ENUM(n, by, on, what)	n,
enum peer_call {
	PEER_CALLS(PEER_ENUM)
	PEER_MAX
};

#endif
