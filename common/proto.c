#include <stddef.h>
#include <string.h>

#include "proto.h"

#define NAME_MSG(n)			[IMSG_##n] = #n,
#define NAME_LOCAL(n, len, from, fn)	[IMSG_CTL_##n] = "CTL_" #n,
#define NAME_REQ(w, n, len, from, fn)	[IMSG_CTL_##n] = "CTL_" #n, \
					[IMSG_##n] = #n,
#define NAME_REPLY(n, len, from)	[IMSG_##n] = #n,
#define NAME_HSM(q, ql, a, al, fn)	[IMSG_##q] = #q, [IMSG_##a] = #a,

/* A message type's name; NULL: no such type. */
static const char *
type_name(uint16_t type)
{
	static const char *names[IMSG_MAX] = {
		MESSAGES_FIRST(NAME_MSG)
		LOCAL(NAME_LOCAL)
		MESSAGES(NAME_MSG)
		REQUESTS(NAME_REQ)
		REPLIES(NAME_REPLY)
		HSM_CALLS(NAME_HSM)
	};

	return type < IMSG_MAX ? names[type] : NULL;
}

const char *
imsg_type_name(uint16_t type)
{
	const char	*n = type_name(type);

	return n != NULL ? n : "unknown";
}

int
imsg_type_known(uint16_t type)
{
	return type_name(type) != NULL;
}

#define PEER_NAME(n, by, on, what)	[n] = #n,
#define PEER_WHAT(n, by, on, what)	[n] = what,

const char *
peer_call_name(enum peer_call c)
{
	static const char *names[PEER_MAX] = { PEER_CALLS(PEER_NAME) };

	return (unsigned)c < PEER_MAX ? names[c] : "unknown";
}

/* What a call between nodes does, as its errors say it. */
const char *
peer_call_what(enum peer_call c)
{
	static const char *what[PEER_MAX] = { PEER_CALLS(PEER_WHAT) };

	return (unsigned)c < PEER_MAX ? what[c] : "a call to another node";
}

const char *
proc_name(enum proc_id p)
{
	static const char *names[PROC_MAX] = {
		"parent", "replmon", "joiner", "hsm", "api", "postgres", "kmctl"
	};

	return (unsigned)p < PROC_MAX ? names[p] : "unknown";
}

/*
 * The strings of the fixed-width payloads: for a message type, where
 * each NUL-terminated char array of its struct lies.  Every frame is
 * checked against it on arrival, once, before any handler runs: by
 * kchan (kmsg_lookup) in the processes, by reply.c in kmctl.  So a
 * handler may use the strings of its payload as they are.  Not here:
 * the payloads whose handler wipes a secret whatever happens (USER_SET,
 * AUTH_CHECK, HSM_CONF, API_LISTEN), the TLS files (the parent answers
 * malformed ones with an error), and arrays under a count (HSM_ROT_KEYS,
 * PEERS_DENY), which their handlers check.
 */
struct pstr {
	size_t		 off;
	size_t		 len;		/* 0: the end of the list */
};
#define S(st, f)	{ offsetof(struct st, f), sizeof(((struct st *)0)->f) }
#define S_END		{ 0, 0 }

static const struct pstr s_cluster_new[] = {
	S(cluster_new, host), S(cluster_new, url), S(cluster_new, pubaddr),
	S_END
};
static const struct pstr s_cluster_csr[] = {
	S(cluster_csr, host), S(cluster_csr, pubaddr), S_END
};
static const struct pstr s_nodes_create[] = {
	S(nodes_create, csr), S(nodes_create, host), S(nodes_create, pubaddr),
	S_END
};
static const struct pstr s_cluster_join[] = {
	S(cluster_join, member), S(cluster_join, host),
	S(cluster_join, pubaddr), S(cluster_join, cert),
	S(cluster_join, cachain), S(cluster_join, mkek_blob), S_END
};
static const struct pstr s_nodes_query[] = { S(nodes_query, id), S_END };
static const struct pstr s_nodes_delete[] = { S(nodes_delete, id), S_END };
static const struct pstr s_rotkeys_req[] = { S(rotkeys_req, id), S_END };
static const struct pstr s_keys_req[] = {
	S(keys_req, name), S(keys_req, algorithm), S(keys_req, data), S_END
};
static const struct pstr s_bkey_req[] = {
	S(bkey_req, id), S(bkey_req, description), S(bkey_req, passphrase),
	S(bkey_req, file), S_END
};
static const struct pstr s_bkey_info[] = {
	S(bkey_info, id), S(bkey_info, description), S(bkey_info, origin),
	S(bkey_info, created), S(bkey_info, exported), S(bkey_info, file),
	S_END
};
static const struct pstr s_hsm_bk[] = {
	S(hsm_bk, id), S(hsm_bk, sealed), S(hsm_bk, passphrase),
	S(hsm_bk, file), S_END
};
static const struct pstr s_backup_req[] = {
	S(backup_req, id), S(backup_req, backup_key),
	S(backup_req, description), S_END
};
static const struct pstr s_backup_info[] = {
	S(backup_info, id), S(backup_info, created),
	S(backup_info, description), S(backup_info, backup_key),
	S(backup_info, origin), S(backup_info, node),
	S(backup_info, kmd_version), S_END
};
static const struct pstr s_verify_row[] = {
	S(verify_row, table), S(verify_row, nodeid), S(verify_row, host),
	S(verify_row, key), S(verify_row, hash), S(verify_row, text), S_END
};
static const struct pstr s_backup_progress[] = {
	S(backup_progress, what), S_END
};
static const struct pstr s_hsm_backup[] = {
	S(hsm_backup, backup_id), S(hsm_backup, bk_id),
	S(hsm_backup, bk_sealed), S(hsm_backup, node_id),
	S(hsm_backup, cluster_id), S(hsm_backup, kek_wrapped),
	S(hsm_backup, kek_sealed), S(hsm_backup, filekey_sealed),
	S(hsm_backup, ca_key_sealed), S(hsm_backup, node_key_sealed), S_END
};
static const struct pstr s_cluster_info[] = {
	S(cluster_info, nodeid), S(cluster_info, code), S(cluster_info, desc),
	S(cluster_info, error), S(cluster_info, progress), S_END
};
static const struct pstr s_node_info[] = {
	S(node_info, nodeid), S(node_info, code), S(node_info, desc),
	S(node_info, host), S(node_info, pubaddr), S(node_info, expires),
	S(node_info, kmd_version), S_END
};
static const struct pstr s_summary_row[] = {
	S(summary_row, reporter), S(summary_row, node),
	S(summary_row, updated), S(summary_row, view), S_END
};
static const struct pstr s_alarm_info[] = {
	S(alarm_info, kind), S(alarm_info, subject), S(alarm_info, message),
	S(alarm_info, raised), S(alarm_info, cleared), S_END
};
static const struct pstr s_csr_reply[] = { S(csr_reply, csr), S_END };
static const struct pstr s_node_credentials[] = {
	S(node_credentials, cert), S(node_credentials, cachain),
	S(node_credentials, mkek_blob), S_END
};
static const struct pstr s_join_check[] = {
	S(join_check, item), S(join_check, detail), S_END
};
static const struct pstr s_rotkey_info[] = {
	S(rotkey_info, id), S(rotkey_info, kind), S_END
};
static const struct pstr s_key_info[] = {
	S(key_info, id), S(key_info, name), S(key_info, algorithm),
	S(key_info, kcv), S(key_info, created), S(key_info, updated), S_END
};
static const struct pstr s_key_crypt[] = {
	S(key_crypt, id), S(key_crypt, name), S(key_crypt, data), S_END
};
static const struct pstr s_upgrade_info[] = {
	S(upgrade_info, kmd_version), S(upgrade_info, next), S_END
};
static const struct pstr s_version_info[] = {
	S(version_info, kmd_version), S_END
};
static const struct pstr s_ctl_proc[] = {
	S(ctl_proc, role), S(ctl_proc, user), S_END
};
static const struct pstr s_hsm_create[] = {
	S(hsm_create, cluster_id), S(hsm_create, node_id), S(hsm_create, host),
	S(hsm_create, restored_kek), S_END
};
static const struct pstr s_hsm_created[] = {
	S(hsm_created, ca_cert), S(hsm_created, node_cert),
	S(hsm_created, ca_key_sealed), S(hsm_created, node_key_sealed),
	S(hsm_created, kek_wrapped), S_END
};
static const struct pstr s_hsm_csr_make[] = {
	S(hsm_csr_make, node_id), S(hsm_csr_make, host), S_END
};
static const struct pstr s_hsm_csr_made[] = {
	S(hsm_csr_made, csr), S(hsm_csr_made, node_key_sealed),
	S(hsm_csr_made, box_sk_sealed), S_END
};
static const struct pstr s_hsm_node_sign[] = {
	S(hsm_node_sign, csr), S(hsm_node_sign, host),
	S(hsm_node_sign, cluster_id), S(hsm_node_sign, my_node_id),
	S(hsm_node_sign, kek_wrapped), S(hsm_node_sign, ca_key_sealed),
	S(hsm_node_sign, ca_cert), S_END
};
static const struct pstr s_hsm_node_signed[] = {
	S(hsm_node_signed, node_id), S(hsm_node_signed, cert),
	S(hsm_node_signed, mkek_blob), S_END
};
static const struct pstr s_hsm_join_open[] = {
	S(hsm_join_open, node_id), S(hsm_join_open, csr),
	S(hsm_join_open, cert), S(hsm_join_open, cachain),
	S(hsm_join_open, mkek_blob), S(hsm_join_open, box_sk_sealed),
	S(hsm_join_open, node_key_sealed), S_END
};
static const struct pstr s_hsm_join_opened[] = {
	S(hsm_join_opened, cluster_id), S(hsm_join_opened, kek_wrapped),
	S(hsm_join_opened, node_key_sealed), S_END
};
static const struct pstr s_hsm_rewrap[] = {
	S(hsm_rewrap, node_id), S(hsm_rewrap, to), S(hsm_rewrap, kek_wrapped),
	S_END
};
static const struct pstr s_hsm_key_make[] = {
	S(hsm_key_make, node_id), S(hsm_key_make, kek_wrapped),
	S(hsm_key_make, key_id), S_END
};
static const struct pstr s_hsm_key_made[] = {
	S(hsm_key_made, key_id), S(hsm_key_made, sealed), S(hsm_key_made, kcv),
	S_END
};
static const struct pstr s_hsm_key_crypt[] = {
	S(hsm_key_crypt, node_id), S(hsm_key_crypt, kek_wrapped),
	S(hsm_key_crypt, key_id), S(hsm_key_crypt, sealed),
	S(hsm_key_crypt, data), S_END
};
static const struct pstr s_hsm_tls_install[] = {
	S(hsm_tls_install, node_id), S(hsm_tls_install, kek_wrapped),
	S(hsm_tls_install, node_key_sealed), S(hsm_tls_install, node_cert),
	S(hsm_tls_install, ca_cert), S_END
};
static const struct pstr s_tls_result[] = { S(tls_result, err), S_END };
static const struct pstr s_hsm_status[] = { S(hsm_status, msg), S_END };
static const struct pstr s_health_info[] = {
	S(health_info, code), S(health_info, error), S_END
};
static const struct pstr s_rot_slot[] = { S(rot_slot, id), S_END };
static const struct pstr s_auth_result[] = {
	S(auth_result, role), S(auth_result, token), S_END
};
static const struct pstr s_user_info[] = {
	S(user_info, name), S(user_info, role), S(user_info, created), S_END
};
static const struct pstr s_user_changed[] = { S(user_changed, name), S_END };
static const struct pstr s_api_auth[] = { S(api_auth, token), S_END };
static const struct pstr s_apply_error[] = {
	S(apply_error, when), S(apply_error, msg), S_END
};

static const struct pstr *const payload_strings[IMSG_MAX] = {
	[IMSG_NODES] = s_nodes_query,
	[IMSG_CLUSTER_NEW] = s_cluster_new,
	[IMSG_CLUSTER_CSR] = s_cluster_csr,
	[IMSG_NODES_CREATE] = s_nodes_create,
	[IMSG_CLUSTER_JOIN] = s_cluster_join,
	[IMSG_NODES_DELETE] = s_nodes_delete,
	[IMSG_ROTKEYS] = s_rotkeys_req,
	[IMSG_KEYS] = s_keys_req,
	[IMSG_BACKUP_KEYS] = s_bkey_req,
	[IMSG_BACKUPS] = s_backup_req,
	[IMSG_BKEY_INFO] = s_bkey_info,
	[IMSG_BACKUP_INFO] = s_backup_info,
	[IMSG_BACKUP_PROGRESS] = s_backup_progress,
	[IMSG_VERIFY_ROW] = s_verify_row,
	[IMSG_HSM_BK_MAKE] = s_hsm_bk,
	[IMSG_HSM_BK_MADE] = s_hsm_bk,
	[IMSG_HSM_BK_EXPORT] = s_hsm_bk,
	[IMSG_HSM_BK_EXPORTED] = s_hsm_bk,
	[IMSG_HSM_BK_IMPORT] = s_hsm_bk,
	[IMSG_HSM_BK_IMPORTED] = s_hsm_bk,
	[IMSG_HSM_BACKUP_SEAL] = s_hsm_backup,
	[IMSG_HSM_BACKUP_SEALED] = s_hsm_backup,
	[IMSG_HSM_BACKUP_OPEN] = s_hsm_backup,
	[IMSG_HSM_BACKUP_OPENED] = s_hsm_backup,
	[IMSG_CLUSTER_INFO_REPLY] = s_cluster_info,
	[IMSG_NODE_INFO] = s_node_info,
	[IMSG_SUMMARY_ROW] = s_summary_row,
	[IMSG_ALARM_INFO] = s_alarm_info,
	[IMSG_CSR_REPLY] = s_csr_reply,
	[IMSG_NODE_CREDENTIALS] = s_node_credentials,
	[IMSG_JOIN_CHECK] = s_join_check,
	[IMSG_ROTKEY_INFO] = s_rotkey_info,
	[IMSG_KEY_INFO] = s_key_info,
	[IMSG_KEY_CRYPT] = s_key_crypt,
	[IMSG_VERSION_INFO] = s_version_info,
	[IMSG_UPGRADE_INFO] = s_upgrade_info,
	[IMSG_CTL_PROC] = s_ctl_proc,
	[IMSG_HSM_CLUSTER_CREATE] = s_hsm_create,
	[IMSG_HSM_CLUSTER_CREATED] = s_hsm_created,
	[IMSG_HSM_CSR_MAKE] = s_hsm_csr_make,
	[IMSG_HSM_CSR_MADE] = s_hsm_csr_made,
	[IMSG_HSM_NODE_SIGN] = s_hsm_node_sign,
	[IMSG_HSM_NODE_SIGNED] = s_hsm_node_signed,
	[IMSG_HSM_JOIN_OPEN] = s_hsm_join_open,
	[IMSG_HSM_JOIN_OPENED] = s_hsm_join_opened,
	[IMSG_HSM_REWRAP] = s_hsm_rewrap,
	[IMSG_HSM_REWRAPPED] = s_hsm_rewrap,
	[IMSG_HSM_ROT_DELETE] = s_rotkeys_req,
	[IMSG_HSM_ROT_DELETED] = s_rotkeys_req,
	[IMSG_HSM_KEY_MAKE] = s_hsm_key_make,
	[IMSG_HSM_KEY_MADE] = s_hsm_key_made,
	[IMSG_HSM_KEY_CRYPT] = s_hsm_key_crypt,
	[IMSG_HSM_KEY_DONE] = s_key_crypt,
	[IMSG_HSM_TLS_INSTALL] = s_hsm_tls_install,
	[IMSG_TLS_INSTALLED] = s_tls_result,
	[IMSG_HSM_STATUS] = s_hsm_status,
	[IMSG_HSM_PROBED] = s_hsm_status,
	[IMSG_HEALTH_INFO] = s_health_info,
	[IMSG_ROT_ZERO] = s_rot_slot,
	[IMSG_ROT_GROW] = s_hsm_rewrap,
	[IMSG_HSM_ROT_GROWN] = s_hsm_rewrap,
	[IMSG_AUTH_RESULT] = s_auth_result,
	[IMSG_USER_INFO] = s_user_info,
	[IMSG_USER_CHANGED] = s_user_changed,
	[IMSG_API_AUTH] = s_api_auth,
	[IMSG_APPLY_ERROR] = s_apply_error,
};

/*
 * Does every string of a payload of this type end inside its array?  A
 * type with no strings listed: yes.  len is the payload's size, checked
 * exact already; a string past it is not terminated.
 */
int
payload_terminated(uint16_t type, const void *data, size_t len)
{
	const struct pstr	*s;
	const char		*d = data;

	if (type >= IMSG_MAX || (s = payload_strings[type]) == NULL)
		return 1;
	for (; s->len != 0; s++)
		if (s->off + s->len > len ||
		    memchr(d + s->off, '\0', s->len) == NULL)
			return 0;
	return 1;
}

/*
 * Whether a reply frame ends its request: END and ERROR; and a reply
 * that always comes alone (an API login's result, an encrypt's or a
 * decrypt's), which needs no END behind it: one frame fewer each way
 * through the parent on the hottest path.
 */
int
reply_last(uint16_t type)
{
	return type == IMSG_CTL_END || type == IMSG_CTL_ERROR ||
	    type == IMSG_AUTH_RESULT || type == IMSG_KEY_CRYPT;
}
