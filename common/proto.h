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

#include "ops.h"

#ifdef KMD_NEXT
#define KMD_VERSION		"0.3.0-next"	/* make next: the release after */
#else
/*
 * A release per schema: nodes in an upgrade window are told apart by the
 * kmd version each runs, so a new schema step comes with a new version
 * (and moves make prev's PREV, GNUmakefile).  0.2.1: schema 18.
 */
#define KMD_VERSION		"0.2.1"
#endif

/*
 * A worker's exit status that stops kmd: it cannot run on this node as
 * it is (a database newer than it knows); it has logged why.  EX_CONFIG.
 */
#define KMD_EXIT_REFUSED	78
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

/*
 * The messages that are not client requests nor their replies (those are
 * in the operation catalogue, common/ops.h): a worker's configuration,
 * what a worker asks the parent, and the calls the joiner makes of the
 * hsm worker through the parent.
 */
#define MESSAGES_FIRST(M) \
	M(NONE) \
	M(CONF_WORKER)		/* struct conf_worker: first frame, once */ \
	M(CONF_VERBOSE)		/* struct conf_reload, after SIGHUP */
#define MESSAGES(M) \
	M(CTL_PROC)		/* struct ctl_proc, one per process */ \
	M(HSM_ERROR)		/* hsm -> joiner, relayed: a message */ \
	M(HSM_TLS_INSTALL)	/* joiner -> hsm: struct hsm_tls_install */ \
	M(HSM_ROT_FD)		/* parent -> hsm: the RoT key file (fd) */ \
	M(TLS_WRITE)		/* hsm -> parent: struct tls_files */ \
	M(TLS_INSTALLED)	/* parent -> joiner: struct tls_result */ \
	M(TLS_REMOVE)		/* joiner -> parent: a refused join's TLS */ \
	M(API_LISTEN)		/* parent -> api: struct api_conf, fd */ \
	M(PEERS_ALLOW)		/* joiner -> parent: struct peers_allow */ \
	M(PEERS_ALLOWED)	/* parent -> joiner: struct peers_allowed */ \
	M(HSM_CONF)		/* parent -> hsm: struct hsm_conf (PIN) */ \
	M(HSM_STATUS)		/* hsm -> parent -> replmon */ \
	M(ROT_ZERO)		/* hsm -> parent: struct rot_slot */ \
	M(ROT_GROW)		/* hsm -> parent: struct hsm_rewrap */ \
	M(HSM_ROT_GROWN)	/* parent -> hsm: struct hsm_rewrap, fd */ \
	M(USER_CHANGED)		/* joiner -> parent -> api: struct user_changed */ \
	M(TOKEN_KEY)		/* joiner -> parent: struct token_key */ \
	M(API_AUTH)		/* api -> parent: struct api_auth */ \
	M(APPLY_ERROR)		/* parent -> replmon: struct apply_error */ \
	M(HSM_LINK)		/* parent -> joiner, hsm: an end of their link (fd) */

/*
 * The joiner's calls of the hsm worker:
 * X(request, its payload size, reply, its payload size, hsm's handler).
 * An error comes back as HSM_ERROR instead of the reply.  The keys' calls
 * (HSM_LINK_CALLS: a key made, an encrypt or decrypt, the cache's
 * eviction) go over the joiner's own link to the hsm, a socketpair the
 * parent hands both ends of (HSM_LINK) whenever either starts: they are
 * what every crypto request waits for, and the parent's two relays of
 * each were half of its cost.  The rest are relayed unchanged by the
 * parent (HSM_RELAY_CALLS); some of them make the hsm ask the parent
 * for more (the TLS files, the root-of-trust file) on the way.
 */
#define HSM_RELAY_CALLS(X) \
	X(HSM_CLUSTER_CREATE, sizeof(struct hsm_create), \
	    HSM_CLUSTER_CREATED, sizeof(struct hsm_created), hsm_create) \
	X(HSM_CSR_MAKE, sizeof(struct hsm_csr_make), HSM_CSR_MADE, \
	    sizeof(struct hsm_csr_made), hsm_csr_make) \
	X(HSM_NODE_SIGN, sizeof(struct hsm_node_sign), HSM_NODE_SIGNED, \
	    sizeof(struct hsm_node_signed), hsm_node_sign) \
	X(HSM_JOIN_OPEN, sizeof(struct hsm_join_open), HSM_JOIN_OPENED, \
	    sizeof(struct hsm_join_opened), hsm_join_open) \
	X(HSM_ROT_LIST, 0, HSM_ROT_KEYS, sizeof(struct hsm_rot_keys), \
	    hsm_rot_list) \
	X(HSM_REWRAP, sizeof(struct hsm_rewrap), HSM_REWRAPPED, \
	    sizeof(struct hsm_rewrap), hsm_rewrap) \
	X(HSM_ROT_DELETE, sizeof(struct rotkeys_req), HSM_ROT_DELETED, \
	    sizeof(struct rotkeys_req), hsm_rot_delete) \
	X(HSM_PROBE, 0, HSM_PROBED, sizeof(struct hsm_status), hsm_probe) \
	X(HSM_BK_MAKE, sizeof(struct hsm_bk), HSM_BK_MADE, \
	    sizeof(struct hsm_bk), hsm_bk_make) \
	X(HSM_BK_EXPORT, sizeof(struct hsm_bk), HSM_BK_EXPORTED, \
	    sizeof(struct hsm_bk), hsm_bk_export) \
	X(HSM_BK_IMPORT, sizeof(struct hsm_bk), HSM_BK_IMPORTED, \
	    sizeof(struct hsm_bk), hsm_bk_import) \
	X(HSM_BACKUP_SEAL, sizeof(struct hsm_backup), HSM_BACKUP_SEALED, \
	    sizeof(struct hsm_backup), hsm_backup_seal) \
	X(HSM_BACKUP_OPEN, sizeof(struct hsm_backup), HSM_BACKUP_OPENED, \
	    sizeof(struct hsm_backup), hsm_backup_open)
#define HSM_LINK_CALLS(X) \
	X(HSM_KEY_MAKE, sizeof(struct hsm_key_make), HSM_KEY_MADE, \
	    sizeof(struct hsm_key_made), hsm_key_make) \
	X(HSM_KEY_CRYPT, sizeof(struct hsm_key_crypt), HSM_KEY_DONE, \
	    sizeof(struct key_crypt), hsm_key_crypt) \
	X(HSM_KEY_FORGET, 0, HSM_KEY_FORGOTTEN, 0, hsm_key_forget)
#define HSM_CALLS(X)	HSM_RELAY_CALLS(X) HSM_LINK_CALLS(X)

#define IMSG_E_MSG(n)			IMSG_##n,
#define IMSG_E_LOCAL(n, len, from, fn)	IMSG_CTL_##n,
#define IMSG_E_REQ(w, n, len, from, fn)	IMSG_CTL_##n, IMSG_##n,
#define IMSG_E_REPLY(n, len, from)	IMSG_##n,
#define IMSG_E_HSM(q, ql, a, al, fn)	IMSG_##q, IMSG_##a,

/*
 * IMSG_CTL_<X>: kmctl or the api -> parent; IMSG_<X>: onwards.  The
 * first numbers stay put (CTL_STATUS is 3): a client that speaks another
 * version can still be told it is wrong (regress/e2e/t_frames.sh sends
 * them raw).
 */
enum imsg_type {
	MESSAGES_FIRST(IMSG_E_MSG)
	LOCAL(IMSG_E_LOCAL)
	MESSAGES(IMSG_E_MSG)
	REQUESTS(IMSG_E_REQ)
	REPLIES(IMSG_E_REPLY)
	HSM_CALLS(IMSG_E_HSM)
	IMSG_MAX
};

#define KMD_NAME_MAX		64
#define KMD_PASSWORD_MAX	256
#define KMD_TIME_MAX	40

/* A user whose password changed, or who is gone: its tokens end. */
struct user_changed {
	char		 name[KMD_NAME_MAX];
};

#define KMD_TOKEN_MAX		256	/* common/token.c */

/* kmctl users ...: what a USER_SET asks (AUTH_CHECK: name, password) */
enum user_op { USER_SETPW = 0, USER_CREATE, USER_SETROLE, USER_DELETE,
	USER_LIST, USER_GET, USER_OPS };

struct user_set {
	char		 name[KMD_NAME_MAX];
	char		 password[KMD_PASSWORD_MAX];
	char		 role[KMD_ROLE_MAX];	/* "admin", "keys", "viewer" */
	int32_t		 op;			/* enum user_op */
	int32_t		 lifetime;		/* AUTH_CHECK: the token's, s */
};

struct user_info {
	char		 name[KMD_NAME_MAX];
	char		 role[KMD_ROLE_MAX];
	char		 created[KMD_TIME_MAX];
};

/* A login: on success, its role and a token the joiner signed. */
struct auth_result {
	int32_t		 ok;		/* 1: the password matches */
	char		 role[KMD_ROLE_MAX];
	char		 token[KMD_TOKEN_MAX];
};

/* joiner -> parent: the key its tokens verify under, at each start */
struct token_key {
	unsigned char	 pk[32];
};

/* api -> parent, before a request of the same id: its caller's token */
struct api_auth {
	char		 token[KMD_TOKEN_MAX];
};

struct api_conf {
	char		 key[KMD_PEM_MAX];	/* PEM, the interface key */
	char		 cert[2 * KMD_PEM_MAX];	/* PEM, leaf first */
	int32_t		 token_lifetime;	/* seconds */
	int32_t		 max_conn;		/* connections at once */
	int32_t		 read_timeout;		/* s to send a request */
	int32_t		 login_rate;		/* logins checked a second */
};


#define KMD_BLOB_MAX	512		/* mkek_blob, base64 */

struct cluster_csr {
	char		 host[KMD_HOST_MAX];
	char		 pubaddr[KMD_HOST_MAX];	/* "" : same as host */
};

struct csr_reply {
	char		 csr[KMD_PEM_MAX];
};

struct nodes_create {
	char		 csr[KMD_PEM_MAX];
	char		 host[KMD_HOST_MAX];	/* --newnodehost */
	char		 pubaddr[KMD_HOST_MAX];
	int32_t		 shared_hsm;
};

struct node_credentials {
	char		 cert[KMD_PEM_MAX];
	char		 cachain[KMD_PEM_MAX];
	char		 mkek_blob[KMD_BLOB_MAX];
};

struct cluster_join {
	char		 member[KMD_HOST_MAX];
	char		 host[KMD_HOST_MAX];
	char		 pubaddr[KMD_HOST_MAX];
	char		 cert[KMD_PEM_MAX];
	char		 cachain[KMD_PEM_MAX];
	char		 mkek_blob[KMD_BLOB_MAX];
	int32_t		 preflight_only;	/* check, change nothing */
};

struct join_check {
	char		 item[32];
	int32_t		 ok;
	char		 detail[256];
};

struct hsm_join_open {
	char		 node_id[KMD_NODEID_MAX];
	char		 csr[KMD_PEM_MAX];
	char		 cert[KMD_PEM_MAX];
	char		 cachain[KMD_PEM_MAX];
	char		 mkek_blob[KMD_BLOB_MAX];
	char		 box_sk_sealed[KMD_SEALED_MAX];		/* under RoT */
	char		 node_key_sealed[KMD_SEALED_MAX];	/* under RoT */
};

struct hsm_join_opened {
	char		 cluster_id[KMD_NODEID_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];		/* under RoT */
	char		 node_key_sealed[KMD_SEALED_MAX];	/* under KEK */
};

struct hsm_csr_make {
	char		 node_id[KMD_NODEID_MAX];
	char		 host[KMD_HOST_MAX];
};

struct hsm_csr_made {
	char		 csr[KMD_PEM_MAX];
	char		 node_key_sealed[KMD_SEALED_MAX];	/* under RoT */
	char		 box_sk_sealed[KMD_SEALED_MAX];		/* under RoT */
};

struct hsm_node_sign {
	char		 csr[KMD_PEM_MAX];
	char		 host[KMD_HOST_MAX];
	char		 cluster_id[KMD_NODEID_MAX];
	char		 my_node_id[KMD_NODEID_MAX];	/* the signer */
	char		 kek_wrapped[KMD_WRAPPED_MAX];
	char		 ca_key_sealed[KMD_SEALED_MAX];
	char		 ca_cert[KMD_PEM_MAX];
	int32_t		 shared_hsm;	/* wrap under the shared token key */
};

struct hsm_node_signed {
	char		 node_id[KMD_NODEID_MAX];	/* the CSR's CN */
	char		 cert[KMD_PEM_MAX];
	char		 mkek_blob[KMD_BLOB_MAX];
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

#define KMD_VIEW_MAX	4096

struct node_info {
	char		 nodeid[KMD_NODEID_MAX];
	char		 code[KMD_STATUS_CODE_MAX];
	char		 desc[KMD_STATUS_DESC_MAX];
	char		 host[KMD_HOST_MAX];
	char		 pubaddr[KMD_HOST_MAX];
	int32_t		 port;
	int32_t		 this_node;
	char		 expires[KMD_TIME_MAX];	/* a pending node's; else "" */
	char		 kmd_version[32];	/* the kmd it runs */
	int32_t		 schema;		/* its database's; 0: unknown */
};

/* One reporter's view of one node, as kmd_node_health holds it. */
struct summary_row {
	char		 reporter[KMD_NODEID_MAX];
	char		 node[KMD_NODEID_MAX];
	char		 updated[KMD_TIME_MAX];	/* the reporter's last write */
	char		 view[KMD_VIEW_MAX];	/* JSON object */
};

struct hsm_conf {
	char		 module[KMD_PATH_MAX];
	char		 token[64];
	char		 key[64];		/* the RoT key's label */
	char		 pin[KMD_PASSWORD_MAX];
};

struct hsm_status {
	int32_t		 ok;
	char		 msg[KMD_ERR_MAX];	/* why not, when not ok */
};

/*
 * What PostgreSQL logged when a pglogical apply worker failed: its
 * subscription's id (pglogical.subscription.sub_id), when (ISO 8601,
 * UTC) and the ERROR's text (master/pglog.c).
 */
struct apply_error {
	uint32_t	 subid;
	char		 when[32];
	char		 msg[KMD_ERR_MAX];
};

/*
 * GET /api/v1/system/health, kmctl health: whether the node serves, for a
 * load balancer (each state has its HTTP code, see health_code()).
 */
enum health_state {
	HEALTH_READY = 0,	/* clustered, serving */
	HEALTH_JOINING,		/* a join under way, or one that failed */
	HEALTH_REMOVED,		/* removed from its cluster, or fenced */
	HEALTH_NOTCLUSTERED,	/* no cluster yet */
	HEALTH_UNAVAILABLE,	/* its database or its HSM does not answer */
	HEALTH_STATES
};

struct health_info {
	int32_t		 state;		/* enum health_state */
	int32_t		 hsm_ok;	/* the root of trust answered a probe */
	char		 code[16];	/* the node's status code, "": unknown */
	char		 error[KMD_ERR_MAX];	/* why not serving */
};

#define KMD_ROTKEYS_MAX	32
#define ROTKEYS_LIST	0
#define ROTKEYS_ROTATE	1
#define ROTKEYS_DELETE	2
struct rotkeys_req {
	int32_t		 rotate;	/* ROTKEYS_* */
	char		 id[64];	/* rotate to ("": a new key); delete */
};

/* The software root-of-trust keys: 32-byte slots of one file, slot 0
 * "software", slot N "software-N"; a deleted slot is zeroed. */
#define ROT_SOFT_MAX	16
struct rot_slot {
	int32_t		 index;
	char		 id[64];
};

struct rotkey_info {
	char		 id[64];
	char		 kind[16];	/* "hsm" or "software" */
	int32_t		 in_use;	/* the KEK is wrapped under it */
};

struct hsm_rot_keys {
	int32_t		 n;
	struct rotkey_info keys[KMD_ROTKEYS_MAX];
};

struct hsm_rewrap {
	char		 node_id[KMD_NODEID_MAX];
	char		 to[64];
	char		 kek_wrapped[KMD_WRAPPED_MAX];
};

/*
 * Keys: a name, versions 0, 1, ... (a rotation adds one), each its own
 * row and id.  Encrypt and decrypt take at most KMD_CRYPT_MAX bytes; the
 * data travels base64 (a ciphertext carries its version, IV and tag).
 */
#define KMD_KEYNAME_MAX	64
#define KMD_CRYPT_MAX	4096
#define KMD_CRYPT_B64	(4 * ((KMD_CRYPT_MAX + 4 + 12 + 16 + 2) / 3) + 1)
#define KMD_MATERIAL_MAX	256	/* hex of the sealed material */

enum keys_op { KEYS_CREATE, KEYS_LIST, KEYS_GET, KEYS_DELETE, KEYS_ROTATE,
	KEYS_ENCRYPT, KEYS_DECRYPT, KEYS_OPS };

struct keys_req {
	int32_t		 op;		/* enum keys_op */
	char		 name[KMD_KEYNAME_MAX];	/* or an id */
	char		 algorithm[16];	/* create: "aes" */
	int32_t		 size;		/* create: bits */
	int32_t		 skip;		/* list */
	int32_t		 limit;
	char		 data[KMD_CRYPT_B64];	/* base64 */
};

struct key_info {
	char		 id[KMD_NODEID_MAX];	/* version 0's */
	char		 name[KMD_KEYNAME_MAX];
	int32_t		 version;		/* the latest */
	char		 algorithm[16];
	int32_t		 size;
	char		 kcv[8];		/* the latest version's */
	char		 created[KMD_TIME_MAX];
	char		 updated[KMD_TIME_MAX];	/* the latest version */
};

struct key_crypt {
	char		 id[KMD_NODEID_MAX];	/* the version's */
	char		 name[KMD_KEYNAME_MAX];
	int32_t		 version;
	int32_t		 decrypt;		/* data is plaintext */
	char		 data[KMD_CRYPT_B64];	/* base64 */
};

struct hsm_key_make {
	char		 node_id[KMD_NODEID_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];
	char		 key_id[KMD_NODEID_MAX];
	int32_t		 size;			/* bits */
};

struct hsm_key_made {
	char		 key_id[KMD_NODEID_MAX];
	char		 sealed[KMD_MATERIAL_MAX];	/* hex */
	char		 kcv[8];
};

struct hsm_key_crypt {
	int32_t		 decrypt;
	int32_t		 version;
	char		 node_id[KMD_NODEID_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];
	char		 key_id[KMD_NODEID_MAX];
	char		 sealed[KMD_MATERIAL_MAX];
	char		 data[KMD_CRYPT_B64];	/* base64 */
};

/*
 * Backups and backup keys: node-local (workers/joiner/backup.c says
 * how a backup is made and what it holds).  A backup key is 32 random
 * bytes made in the hsm worker, kept sealed under the root of trust,
 * exported as a file under a passphrase (argon2id, XChaCha20-Poly1305).
 */
#define KMD_DESC_MAX		256
#define KMD_PASSPHRASE_MAX	256
#define KMD_BKFILE_MAX		1024	/* an exported backup key */
#define KMD_BKFILE_MIN_PASS	8

enum bkey_op { BKEY_CREATE, BKEY_LIST, BKEY_GET, BKEY_DELETE, BKEY_EXPORT,
	BKEY_IMPORT, BKEY_OPS };

struct bkey_req {
	int32_t		 op;		/* enum bkey_op */
	int32_t		 force;		/* delete: even the last unexported */
	char		 id[KMD_NODEID_MAX];
	char		 description[KMD_DESC_MAX];
	char		 passphrase[KMD_PASSPHRASE_MAX];	/* export, import */
	char		 file[KMD_BKFILE_MAX];		/* import */
};

struct bkey_info {
	char		 id[KMD_NODEID_MAX];
	char		 description[KMD_DESC_MAX];
	char		 origin[16];		/* "made" or "imported" */
	char		 created[KMD_TIME_MAX];
	char		 exported[KMD_TIME_MAX];	/* "": never */
	int32_t		 is_default;
	char		 file[KMD_BKFILE_MAX];	/* export's answer */
};

/* hsm: make (id -> sealed), export (id, sealed, passphrase -> file),
 * import (file, passphrase -> id, sealed). */
struct hsm_bk {
	char		 id[KMD_NODEID_MAX];
	char		 sealed[KMD_WRAPPED_MAX];	/* under the RoT, hex */
	char		 passphrase[KMD_PASSPHRASE_MAX];
	char		 file[KMD_BKFILE_MAX];
};

/*
 * The largest backup file REST takes (POST backups/upload): libevent
 * 2.1's evhttp holds a whole request body in memory before its handler
 * runs.  kmctl on the node itself passes the open file instead, of any
 * size.
 */
#define BACKUP_UPLOAD_MAX	(256 * 1024 * 1024)

enum backup_op { BACKUP_CREATE, BACKUP_LIST, BACKUP_GET, BACKUP_DELETE,
	BACKUP_DOWNLOAD, BACKUP_UPLOAD, BACKUP_RESTORE, BACKUP_OPS };

struct backup_req {
	int32_t		 op;		/* enum backup_op */
	char		 id[KMD_NODEID_MAX];
	char		 backup_key[KMD_NODEID_MAX];	/* create; "": default */
	char		 description[KMD_DESC_MAX];
};

struct backup_info {
	char		 id[KMD_NODEID_MAX];
	char		 created[KMD_TIME_MAX];
	char		 description[KMD_DESC_MAX];
	char		 backup_key[KMD_NODEID_MAX];
	char		 origin[16];		/* "made" or "uploaded" */
	char		 node[KMD_NODEID_MAX];	/* the node that made it */
	char		 kmd_version[32];
	int32_t		 schema;
	int64_t		 size;			/* bytes */
	int64_t		 keys;			/* key versions */
	int64_t		 users;
};

/*
 * cluster verify's answer, a frame per row of it, in this order: the
 * result; each node; each table on each node; each row that differs, on
 * each node.
 */
enum verify_kind { VERIFY_RESULT, VERIFY_NODE, VERIFY_TABLE, VERIFY_DIFF };
#define KMD_VKEY_MAX	128
#define KMD_VTABLE_MAX	16
struct verify_row {
	int32_t		 kind;			/* enum verify_kind */
	int32_t		 ok;	/* RESULT: the same on every node; NODE:
				   compared; TABLE: the same on every node */
	int32_t		 rounds;		/* RESULT */
	int32_t		 truncated;	/* RESULT: more differ than listed */
	int64_t		 rows;	/* TABLE: on the node; RESULT: that differ */
	int64_t		 inflight;	/* RESULT: rows in flight, not counted */
	char		 table[KMD_VTABLE_MAX];	/* TABLE, DIFF */
	char		 nodeid[KMD_NODEID_MAX];	/* NODE, TABLE, DIFF */
	char		 host[KMD_HOST_MAX];		/* NODE */
	char		 key[KMD_VKEY_MAX];	/* DIFF: the row's key */
	char		 hash[48];	/* TABLE, DIFF: ""; DIFF: row absent */
	char		 text[KMD_ERR_MAX];	/* RESULT: the verdict; NODE:
						   why it was not compared */
};

/* A long backup or restore: how far it is. */
struct backup_progress {
	char		 what[16];		/* "backup", "restore" */
	int64_t		 rows;
	int64_t		 total;
};

/*
 * hsm: seal (the KEK and a new file key under the backup key) and open
 * (the file key out; the backup's KEK adopted: under this node's RoT,
 * the CA and node keys sealed again under it).
 */
#define BACKUP_FILEKEY	32
struct hsm_backup {
	char		 backup_id[KMD_NODEID_MAX];
	char		 bk_id[KMD_NODEID_MAX];
	char		 bk_sealed[KMD_WRAPPED_MAX];	/* under the RoT */
	char		 node_id[KMD_NODEID_MAX];
	char		 cluster_id[KMD_NODEID_MAX];
	char		 kek_wrapped[KMD_WRAPPED_MAX];	/* this node's */
	char		 kek_sealed[KMD_WRAPPED_MAX];	/* under the backup key */
	char		 filekey_sealed[KMD_WRAPPED_MAX];
	char		 ca_key_sealed[KMD_SEALED_MAX];	/* under the KEK */
	char		 node_key_sealed[KMD_SEALED_MAX];
	uint8_t		 filekey[BACKUP_FILEKEY];	/* answers only */
};

struct nodes_delete {
	char		 id[KMD_NODEID_MAX];
	int32_t		 force;		/* 1: even when the node is down */
	int32_t		 discard;	/* 1: and its writes this node lacks */
};

/*
 * The nodes whose certificates this node's PostgreSQL accepts: those
 * recorded and not removed, at most 20 that count toward the cluster's
 * size, with room beside them for those being removed.  A call: the
 * parent answers PEERS_ALLOWED once PostgreSQL was told.
 */
#define KMD_ALLOW_MAX	64
struct peers_allow {
	int32_t		 n;
	char		 ids[KMD_ALLOW_MAX][KMD_NODEID_MAX];
};

struct peers_allowed {
	int32_t		 ok;		/* 0: pg_ident.conf not written */
	int32_t		 n;
};

struct alarms_query {
	int32_t		 skip;
	int32_t		 limit;
	int32_t		 all;		/* 1: cleared ones too */
};

struct alarm_info {
	int64_t		 id;
	char		 kind[16];
	char		 subject[KMD_NODEID_MAX];
	char		 message[KMD_ERR_MAX];
	char		 raised[KMD_TIME_MAX];
	char		 cleared[KMD_TIME_MAX];	/* "": still active */
};

struct hsm_create {
	char		 cluster_id[KMD_NODEID_MAX];
	char		 node_id[KMD_NODEID_MAX];
	char		 host[KMD_HOST_MAX];
	char		 restored_kek[KMD_WRAPPED_MAX];	/* "": a new KEK */
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
	int32_t		 rm_interval;		/* replmon: ms per tick */
	int32_t		 rm_down_after;		/* ms without a heartbeat */
	int32_t		 alarm_wal_mb;
	int32_t		 alarm_skew_ms;
	int32_t		 alarm_cert_days;
	int32_t		 alarm_disk_pct;
	int32_t		 wal_max_mb;		/* max_slot_wal_keep_size */
	int32_t		 pending_lifetime;	/* joiner: s, nodes create */
	int32_t		 join_stall;		/* joiner: s, no progress */
	int32_t		 hsm;			/* an HSM root of trust */
	char		 hsm_key[64];		/* its key's label */
	int32_t		 backup_keep;		/* joiner: backups kept */
	char		 backups[KMD_PATH_MAX];	/* joiner: their directory */
};

/*
 * After SIGHUP, to every worker: the level of its log and the settings
 * it reads where it uses them (conf_worker's), which apply at once.
 */
struct conf_reload {
	int32_t		 verbose;
	int32_t		 rm_interval;
	int32_t		 rm_down_after;
	int32_t		 alarm_wal_mb;
	int32_t		 alarm_skew_ms;
	int32_t		 alarm_cert_days;
	int32_t		 alarm_disk_pct;
	int32_t		 wal_max_mb;		/* max_slot_wal_keep_size */
	int32_t		 pending_lifetime;
	int32_t		 join_stall;
	int32_t		 backup_keep;
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
	char		 error[256];		/* why a join failed, or "" */
	char		 progress[128];		/* a join's copy, or "" */
};

/* kmctl version: this node's binary and database schema. */
struct version_info {
	char		 kmd_version[32];
	int32_t		 schema_version;	/* -1: the database is down */
};

/*
 * kmctl cluster upgrade status: the cluster's committed schema, this
 * node's kmd and the schema it knows, whether a window is open and what
 * to do next; then a NODE_INFO for each node.
 */
struct upgrade_info {
	int32_t		 committed;		/* -1: not clustered */
	int32_t		 knows;			/* this kmd's latest */
	int32_t		 window;		/* 1: an upgrade is open */
	char		 kmd_version[32];	/* this node's kmd */
	char		 next[KMD_ERR_MAX];	/* what to do now */
};

const char	*imsg_type_name(uint16_t);
int		 imsg_type_known(uint16_t);
const char	*peer_call_name(enum peer_call);
const char	*peer_call_what(enum peer_call);
const char	*proc_name(enum proc_id);
int		 payload_terminated(uint16_t, const void *, size_t);
int		 reply_last(uint16_t);

#endif
