/*
 * The REST API's request bodies (workers/api/body.c): what is accepted,
 * and that every refusal names the field at fault.
 */
#include <string.h>

#include <check.h>

#include "body.h"

static struct user_set		u;
static struct cluster_new	cn;
static char			err[256];

#define LOGIN(s)	body_login((s), strlen(s), &u, err, sizeof(err))
#define NEW(s)		body_cluster_new((s), strlen(s), &cn, err, sizeof(err))
#define REFUSED(call, word) do {					\
	ck_assert_int_eq((call), -1);					\
	ck_assert_msg(strstr(err, (word)) != NULL,			\
	    "error '%s' does not mention '%s'", err, (word));		\
} while (0)

START_TEST(t_login)
{
	ck_assert_int_eq(LOGIN("{\"username\":\"admin\",\"password\":"
	    "\"p\\u00e9\\\"x\"}"), 0);
	ck_assert_str_eq(u.name, "admin");
	ck_assert_str_eq(u.password, "p\xc3\xa9\"x");
	REFUSED(LOGIN("{\"username\":\"admin\"}"), "'password' is required");
	REFUSED(LOGIN("{\"username\":1,\"password\":\"p\"}"),
	    "'username' must be a string");
	REFUSED(LOGIN("{\"username\":\"a\",\"password\":\"p\",\"x\":\"\"}"),
	    "unknown field 'x'");
	REFUSED(LOGIN("{\"username\":\"a\",\"username\":\"b\","
	    "\"password\":\"p\"}"), "'username' is given twice");
	REFUSED(LOGIN("[\"admin\"]"), "must be a JSON object");
	REFUSED(LOGIN("{\"username\":"), "not JSON");
	REFUSED(LOGIN(""), "not JSON");
	REFUSED(body_login("{\"a\0\":1}", 9, &u, err, sizeof(err)),
	    "NUL");
}
END_TEST

START_TEST(t_sizes)
{
	static char	 big[BODY_MAX + 64];
	size_t		 n;

	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"username\":\"", 13);
	n = 13 + KMD_NAME_MAX;
	memcpy(big + n, "\",\"password\":\"p\"}", 17);
	REFUSED(body_login(big, n + 17, &u, err, sizeof(err)),
	    "'username' is longer than 63 bytes");
	REFUSED(body_login(big, BODY_MAX + 1, &u, err, sizeof(err)),
	    "larger than");
}
END_TEST

START_TEST(t_cluster_new)
{
	ck_assert_int_eq(NEW("{\"host\":\"10.0.0.1\",\"url\":"
	    "\"https://10.0.0.1:8443\"}"), 0);
	ck_assert_str_eq(cn.host, "10.0.0.1");
	ck_assert_str_eq(cn.pubaddr, "");
	ck_assert_int_eq(NEW("{\"publicAddress\":\"1.2.3.4\",\"host\":\"h\","
	    "\"url\":\"https://h\"}"), 0);
	ck_assert_str_eq(cn.pubaddr, "1.2.3.4");
	REFUSED(NEW("{\"host\":\"h\",\"url\":\"http://h\"}"),
	    "'url' must be an https:// URL");
	REFUSED(NEW("{\"url\":\"https://h\"}"), "'host' is required");
	REFUSED(NEW("{\"host\":\"h\",\"url\":\"https://h\",\"port\":5432}"),
	    "unknown field 'port'");
	REFUSED(NEW("{\"host\":null,\"url\":\"https://h\"}"),
	    "'host' must be a string");
}
END_TEST

START_TEST(t_keys)
{
	static struct keys_req	 rq;

#define KEY(s)	body_key_create((s), strlen(s), &rq, err, sizeof(err))
#define CRYPT(s, d) body_crypt((s), strlen(s), (d), &rq, err, sizeof(err))
	ck_assert_int_eq(KEY("{\"name\":\"k1\",\"size\":128}"), 0);
	ck_assert_int_eq(rq.op, KEYS_CREATE);
	ck_assert_str_eq(rq.name, "k1");
	ck_assert_int_eq(rq.size, 128);
	ck_assert_int_eq(KEY("{\"name\":\"k1\",\"algorithm\":\"aes\"}"), 0);
	ck_assert_int_eq(rq.size, 0);
	ck_assert_str_eq(rq.algorithm, "aes");
	REFUSED(KEY("{\"name\":\"k\",\"size\":\"256\"}"),
	    "'size' must be a whole number");
	REFUSED(KEY("{\"name\":\"k\",\"size\":2.5}"),
	    "'size' must be a whole number");
	REFUSED(KEY("{\"name\":\"k\",\"size\":-1}"),
	    "'size' must be a whole number");
	REFUSED(KEY("{\"name\":\"k\",\"size\":99999999999}"),
	    "'size' must be a whole number");
	REFUSED(KEY("{\"size\":256}"), "'name' is required");
	ck_assert_int_eq(CRYPT("{\"id\":\"k\",\"plaintext\":\"aGk=\"}", 0),
	    0);
	ck_assert_int_eq(rq.op, KEYS_ENCRYPT);
	ck_assert_str_eq(rq.data, "aGk=");
	ck_assert_int_eq(CRYPT("{\"id\":\"k\",\"ciphertext\":\"AAAA\"}", 1),
	    0);
	ck_assert_int_eq(rq.op, KEYS_DECRYPT);
	REFUSED(CRYPT("{\"id\":\"k\",\"ciphertext\":\"AAAA\"}", 0),
	    "unknown field 'ciphertext'");
	REFUSED(CRYPT("{\"id\":\"k\"}", 1), "'ciphertext' is required");
}
END_TEST

Suite	*body_suite(void);

Suite *
body_suite(void)
{
	Suite	*s = suite_create("body");
	TCase	*tc = tcase_create("body");

	tcase_add_test(tc, t_login);
	tcase_add_test(tc, t_sizes);
	tcase_add_test(tc, t_cluster_new);
	tcase_add_test(tc, t_keys);
	suite_add_tcase(s, tc);
	return s;
}
