/*
 * The operation catalogue (common/ops.h, common/ops.c): every message has
 * one name, every command a coherent row, the rows that change
 * membership are exactly those, and a REST path finds its one row (a
 * literal path before one through a segment).
 */
#include <string.h>

#include <check.h>

#include "kchan.h"
#include "ops.h"

/* Every message type has a name, and no two the same. */
START_TEST(t_names)
{
	uint16_t	 t, u;

	for (t = 0; t < IMSG_MAX; t++) {
		ck_assert_str_ne(imsg_type_name(t), "unknown");
		for (u = t + 1; u < IMSG_MAX; u++)
			ck_assert_str_ne(imsg_type_name(t), imsg_type_name(u));
	}
	ck_assert_str_eq(imsg_type_name(IMSG_MAX), "unknown");
	ck_assert_str_eq(imsg_type_name(IMSG_CTL_VERSION), "CTL_VERSION");
	ck_assert_str_eq(imsg_type_name(IMSG_VERSION), "VERSION");
	ck_assert_str_eq(imsg_type_name(IMSG_HSM_KEY_DONE), "HSM_KEY_DONE");
	/* the first numbers stay put: older clients are told they are wrong */
	ck_assert_int_eq(IMSG_CONF_WORKER, 1);
	ck_assert_int_eq(IMSG_CTL_STATUS, 3);
	for (t = 0; t < PEER_MAX; t++) {
		ck_assert_str_ne(peer_call_name(t), "unknown");
		ck_assert_str_ne(peer_call_what(t), "a call to another node");
		for (u = t + 1; u < PEER_MAX; u++)
			ck_assert_str_ne(peer_call_what(t), peer_call_what(u));
	}
	ck_assert_str_eq(peer_call_what(PEER_MAX), "a call to another node");
}
END_TEST

#define IS_REQ(w, n, len, from, fn)	|| type == IMSG_CTL_##n
#define IS_LOCAL(n, len, from, fn)	|| type == IMSG_CTL_##n

/* A command's message is a request the parent takes from clients. */
static int
client_request(uint16_t type)
{
	return 0 REQUESTS(IS_REQ) LOCAL(IS_LOCAL);
}

START_TEST(t_rows)
{
	size_t	 i, k;

	for (i = 0; i < op_nrows; i++) {
		const struct op_row *r = &op_rows[i];

		if (r->type != IMSG_NONE)
			ck_assert_msg(client_request(r->type), "%s", r->name);
		/* a REST route has both halves, and one row per route */
		ck_assert_int_eq(r->method == NULL, r->path == NULL);
		for (k = 0; r->method != NULL && k < i; k++)
			ck_assert_msg(op_rows[k].method == NULL ||
			    strcmp(op_rows[k].method, r->method) != 0 ||
			    strcmp(op_rows[k].path, r->path) != 0, "%s %s twice",
			    r->method, r->path);
		/* only the login and health need no login */
		if (r->role == ROLE_NONE)
			ck_assert(r->type == IMSG_CTL_AUTH_CHECK ||
			    strcmp(r->path, "system/health") == 0);
		/* what destroys asks first; a logout ends the caller's token */
		if (r->method != NULL && strcmp(r->method, "DELETE") == 0 &&
		    strcmp(r->path, "auth/tokens") != 0)
			ck_assert_msg(r->prompt != NULL, "%s", r->name);
	}
}
END_TEST

/*
 * The membership class is join, nodes create/delete, cluster new/delete,
 * upgrade finish and backups restore (it replaces the cluster's data).
 */
START_TEST(t_membership)
{
	static const char *const want[] = { "A_CLUSTER_NEW",
	    "A_NODES_CREATE", "A_CLUSTER_JOIN", "A_CLUSTER_FULLJOIN",
	    "A_NODES_DELETE", "A_CLUSTER_DELETE", "A_UPGRADE_FINISH",
	    "A_BACKUPS_RESTORE" };
	size_t	 i, k, n = 0;

	for (i = 0; i < op_nrows; i++) {
		int	 listed = 0;

		for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			listed |= strcmp(op_rows[i].name, want[k]) == 0;
		ck_assert_msg((op_rows[i].cls == OPC_MEMBERSHIP) == listed, "%s",
		    op_rows[i].name);
		n += listed;
	}
	ck_assert_int_eq(n, sizeof(want) / sizeof(want[0]));
}
END_TEST

#define FROM_OF(w, n, len, from, fn)	type == IMSG_CTL_##n ? (from) :
#define FROM_OF_LOCAL(n, len, from, fn)	type == IMSG_CTL_##n ? (from) :

/* Who may send a client request, as the parent's tables are made. */
static uint32_t
senders(uint16_t type)
{
	return REQUESTS(FROM_OF) LOCAL(FROM_OF_LOCAL) 0;
}

/*
 * The senders the parent's tables allow, tried as the other party: a
 * kmctl client may not ask for a login check (the api's); users are
 * managed from both (over the api with an admin's token, which the
 * parent checks); and a REST route only names a request the api may
 * send.
 */
START_TEST(t_senders)
{
	size_t	 i;

	ck_assert_uint_eq(senders(IMSG_CTL_AUTH_CHECK), FROM(PROC_API));
	ck_assert_uint_eq(senders(IMSG_CTL_USER_SET), FROM_CA);
	ck_assert_uint_eq(senders(IMSG_CTL_KEYS), FROM_CA);
	ck_assert_uint_eq(senders(IMSG_CTL_NODES_CREATE), FROM_CA);
	for (i = 0; i < op_nrows; i++) {
		uint32_t	 from = senders(op_rows[i].type);

		/* no worker and no other process sends a client request */
		ck_assert_msg((from & ~FROM_CA) == 0, "%s", op_rows[i].name);
		/* a route of IMSG_NONE is the api's own (logout) */
		if (op_rows[i].method != NULL && op_rows[i].type != IMSG_NONE)
			ck_assert_msg(from & FROM(PROC_API), "%s %s",
			    op_rows[i].method, op_rows[i].path);
		else if (op_rows[i].type != IMSG_NONE)
			ck_assert_msg(from & FROM(PROC_CTL), "%s",
			    op_rows[i].name);
	}
}
END_TEST

START_TEST(t_path_fits)
{
	ck_assert_int_eq(op_path_fits("nodes", "nodes"), 2);
	ck_assert_int_eq(op_path_fits("nodes/{id}", "nodes/abc"), 1);
	ck_assert_int_eq(op_path_fits("nodes/{id}", "nodes/"), 0);
	ck_assert_int_eq(op_path_fits("nodes/{id}", "nodes"), 0);
	ck_assert_int_eq(op_path_fits("nodes/{id}", "nodes/a/b"), 0);
	ck_assert_int_eq(op_path_fits("nodes", "nodesx"), 0);
	ck_assert_int_eq(op_path_fits("vault/keys2/{key}/versions",
	    "vault/keys2/k1/versions"), 1);
	ck_assert_int_eq(op_path_fits("vault/keys2/{key}/versions",
	    "vault/keys2//versions"), 0);
}
END_TEST

START_TEST(t_route)
{
	const struct op_row	*r;
	char			 allow[32];

	r = op_route("system/version", "GET", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, IMSG_CTL_VERSION);
	ck_assert_ptr_null(op_route("system/version", "POST", allow,
	    sizeof(allow)));
	ck_assert_str_eq(allow, "GET");
	/* not a key named "rotate": the literal route, POST only */
	ck_assert_ptr_null(op_route("system/rot-keys/rotate", "DELETE",
	    allow, sizeof(allow)));
	ck_assert_str_eq(allow, "POST");
	r = op_route("system/rot-keys/k1", "DELETE", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "A_ROTKEYS_DELETE");
	r = op_route("cluster", "DELETE", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, IMSG_CTL_CLUSTER_DELETE);
	ck_assert_str_eq(allow, "GET, DELETE");
	ck_assert_ptr_null(op_route("no/such", "GET", allow, sizeof(allow)));
	ck_assert_str_eq(allow, "");
	/* users: an admin's, each of its routes */
	r = op_route("users", "POST", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "A_USERS_CREATE");
	ck_assert_int_eq(r->role, ROLE_ADMIN);
	ck_assert_str_eq(allow, "POST, GET");
	r = op_route("users/vic/role", "PUT", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "A_USERS_SETROLE");
	ck_assert_ptr_null(op_route("users/vic", "PUT", allow, sizeof(allow)));
	ck_assert_str_eq(allow, "DELETE, GET");
	ck_assert_int_eq(op_request_role(IMSG_CTL_USER_SET, NULL, 0),
	    ROLE_ADMIN);
	r = op_route("auth/tokens", "POST", allow, sizeof(allow));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->role, ROLE_NONE);
}
END_TEST

Suite *
ops_suite(void)
{
	Suite	*s = suite_create("ops");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, t_names);
	tcase_add_test(tc, t_rows);
	tcase_add_test(tc, t_membership);
	tcase_add_test(tc, t_senders);
	tcase_add_test(tc, t_path_fits);
	tcase_add_test(tc, t_route);
	suite_add_tcase(s, tc);
	return s;
}
