/*
 * The parent's check of the api worker's requests (master/auth.c), as a
 * compromised api worker would try it: no token, a token it signed
 * itself, one whose claims it edited, one replayed for a second request,
 * an expired one, one too long-lived, one from before its user changed,
 * one of a role below the request's, a keys request that names a
 * reading row but asks to encrypt.
 */
#include <string.h>

#include <check.h>
#include <sodium.h>

#include "kmd.h"
#include "token.h"
#include "util.h"

static struct parent	 p;
static struct child	 c;
static unsigned char	 sk[crypto_sign_SECRETKEYBYTES];

static void
setup(void)
{
	struct token_key	 tk;
	struct kmsg		 m;

	ck_assert_int_ge(sodium_init(), 0);
	memset(&p, 0, sizeof(p));
	p.conf.token_lifetime = 3600;
	auth_init(&p);
	c.p = &p;
	crypto_sign_keypair(tk.pk, sk);
	memset(&m, 0, sizeof(m));
	m.hdr.type = IMSG_TOKEN_KEY;
	m.data = (const uint8_t *)&tk;
	m.datalen = sizeof(tk);
	auth_token_key(NULL, &m, &c);
}

static void
teardown(void)
{
	free(p.auth);
}

/* A token of user/role, issued `ago' ms ago for `life' ms, under key. */
static void
mint(char *out, const char *user, int role, int64_t ago, int64_t life,
    const unsigned char *key)
{
	struct token_claims	 tc;

	memset(&tc, 0, sizeof(tc));
	kmd_strlcpy(tc.user, user, sizeof(tc.user));
	tc.role = role;
	tc.issued = mono_ms() - ago;
	tc.expires = tc.issued + life;
	ck_assert_int_eq(token_sign(&tc, key, out, KMD_TOKEN_MAX), 0);
}

static void
send_token(uint32_t id, const char *tok)
{
	struct api_auth	 aa;
	struct kmsg	 m;

	memset(&aa, 0, sizeof(aa));
	kmd_strlcpy(aa.token, tok, sizeof(aa.token));
	memset(&m, 0, sizeof(m));
	m.hdr.type = IMSG_API_AUTH;
	m.hdr.reqid = id;
	m.data = (const uint8_t *)&aa;
	m.datalen = sizeof(aa);
	auth_api_token(NULL, &m, &c);
}

/* Whether the parent lets request id of type (payload data) through. */
static int
allows(uint32_t id, uint16_t type, const void *data, size_t len, char *why)
{
	struct kmsg	 m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.reqid = id;
	m.data = data;
	m.datalen = len;
	why[0] = '\0';
	return auth_api_allows(&p, &m, why, 160);
}

static int
keys(uint32_t id, int op, char *why)
{
	struct keys_req	 kr;

	memset(&kr, 0, sizeof(kr));
	kr.op = op;
	return allows(id, IMSG_CTL_KEYS, &kr, sizeof(kr), why);
}

START_TEST(t_no_token)
{
	char	 why[160];

	ck_assert(!allows(1, IMSG_CTL_NODES_DELETE, NULL, 0, why));
	ck_assert_ptr_nonnull(strstr(why, "no token came"));
	/* the login and health need none */
	ck_assert(allows(2, IMSG_CTL_AUTH_CHECK, NULL, 0, why));
	ck_assert(allows(3, IMSG_CTL_HEALTH, NULL, 0, why));
	/* GET cluster needs one: health has its own request, not this */
	ck_assert(!allows(4, IMSG_CTL_CLUSTER_INFO, NULL, 0, why));
	ck_assert_ptr_nonnull(strstr(why, "no token came"));
}
END_TEST

START_TEST(t_roles)
{
	char	 tok[KMD_TOKEN_MAX], why[160];

	mint(tok, "vic", ROLE_VIEWER, 0, 60000, sk);
	send_token(10, tok);
	ck_assert(keys(10, KEYS_LIST, why));
	send_token(11, tok);
	ck_assert(!keys(11, KEYS_ENCRYPT, why));
	ck_assert_ptr_nonnull(strstr(why, "role viewer is below keys"));
	send_token(12, tok);
	ck_assert(!allows(12, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	mint(tok, "kim", ROLE_KEYS, 0, 60000, sk);
	send_token(13, tok);
	ck_assert(keys(13, KEYS_DECRYPT, why));
	send_token(14, tok);
	ck_assert(!allows(14, IMSG_CTL_ROTKEYS, NULL, 0, why));
	mint(tok, "admin", ROLE_ADMIN, 0, 60000, sk);
	send_token(15, tok);
	ck_assert(allows(15, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	/* a keys request whose op is out of range needs admin */
	send_token(16, tok);
	ck_assert(keys(16, KEYS_OPS, why));
	mint(tok, "kim", ROLE_KEYS, 0, 60000, sk);
	send_token(17, tok);
	ck_assert(!keys(17, KEYS_OPS, why));
}
END_TEST

START_TEST(t_forged)
{
	unsigned char	 pk2[crypto_sign_PUBLICKEYBYTES];
	unsigned char	 sk2[crypto_sign_SECRETKEYBYTES];
	unsigned char	 raw[KMD_TOKEN_MAX];
	char		 tok[KMD_TOKEN_MAX], why[160];
	size_t		 n;

	/* signed by a key of the api's own */
	crypto_sign_keypair(pk2, sk2);
	mint(tok, "admin", ROLE_ADMIN, 0, 60000, sk2);
	send_token(20, tok);
	ck_assert(!allows(20, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	ck_assert_ptr_nonnull(strstr(why, "not one this node issued"));
	/* a viewer's token with its role byte raised to admin */
	mint(tok, "vic", ROLE_VIEWER, 0, 60000, sk);
	ck_assert_int_eq(sodium_base642bin(raw, sizeof(raw), tok, strlen(tok),
	    NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	raw[crypto_sign_BYTES + 1] = ROLE_ADMIN;
	sodium_bin2base64(tok, sizeof(tok), raw, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	send_token(21, tok);
	ck_assert(!allows(21, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	/* garbage, and the empty string */
	send_token(22, "not-a-token");
	ck_assert(!allows(22, IMSG_CTL_NODES, NULL, 0, why));
	send_token(23, "");
	ck_assert(!allows(23, IMSG_CTL_NODES, NULL, 0, why));
}
END_TEST

START_TEST(t_replay_and_ids)
{
	char	 tok[KMD_TOKEN_MAX], why[160];

	mint(tok, "admin", ROLE_ADMIN, 0, 60000, sk);
	send_token(30, tok);
	ck_assert(allows(30, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	/* one token, one request: the same id again has none */
	ck_assert(!allows(30, IMSG_CTL_NODES_CREATE, NULL, 0, why));
	/* a token sent for another request id does not cover this one */
	send_token(31, tok);
	ck_assert(!allows(32, IMSG_CTL_NODES_CREATE, NULL, 0, why));
}
END_TEST

START_TEST(t_time)
{
	char	 tok[KMD_TOKEN_MAX], why[160];

	mint(tok, "admin", ROLE_ADMIN, 10000, 5000, sk);
	send_token(40, tok);
	ck_assert(!allows(40, IMSG_CTL_NODES, NULL, 0, why));
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	/* longer-lived than api token-lifetime */
	mint(tok, "admin", ROLE_ADMIN, 0, 3600 * 1000 * 2, sk);
	send_token(41, tok);
	ck_assert(!allows(41, IMSG_CTL_NODES, NULL, 0, why));
}
END_TEST

START_TEST(t_user_changed)
{
	char	 tok[KMD_TOKEN_MAX], fresh[KMD_TOKEN_MAX], why[160];
	int	 i;

	mint(tok, "vic", ROLE_ADMIN, 5, 60000, sk);
	auth_user_ended(&p, "vic");
	send_token(50, tok);
	ck_assert(!allows(50, IMSG_CTL_NODES, NULL, 0, why));
	ck_assert_ptr_nonnull(strstr(why, "changed after"));
	mint(fresh, "vic", ROLE_ADMIN, -5, 60000, sk);
	send_token(51, fresh);
	ck_assert(allows(51, IMSG_CTL_NODES, NULL, 0, why));
	/* another user's change leaves it */
	mint(tok, "kim", ROLE_ADMIN, 5, 60000, sk);
	send_token(52, tok);
	ck_assert(allows(52, IMSG_CTL_NODES, NULL, 0, why));
	/* more changed users than the table holds: older tokens all end */
	for (i = 0; i < 300; i++) {
		char	 name[16];

		snprintf(name, sizeof(name), "u%d", i);
		auth_user_ended(&p, name);
	}
	send_token(53, tok);
	ck_assert(!allows(53, IMSG_CTL_NODES, NULL, 0, why));
	/* a new joiner key: tokens of the old one are refused */
	mint(tok, "kim", ROLE_ADMIN, -5, 60000, sk);
	free(p.auth);
	setup();
	send_token(54, tok);
	ck_assert(!allows(54, IMSG_CTL_NODES, NULL, 0, why));
}
END_TEST

Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, t_no_token);
	tcase_add_test(tc, t_roles);
	tcase_add_test(tc, t_forged);
	tcase_add_test(tc, t_replay_and_ids);
	tcase_add_test(tc, t_time);
	tcase_add_test(tc, t_user_changed);
	suite_add_tcase(s, tc);
	return s;
}
