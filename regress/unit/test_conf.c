/*
 * kmd.conf parser (master/config.c): golden files in conf/ (run from
 * regress/), bad configs from strings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"

#define FNAME	"t.conf"

static const char *golden[] = {
	"minimal", "full", "escapes", "crlf", "limits"
};
#define NGOLDEN	((int)(sizeof(golden) / sizeof(golden[0])))

/* The whole file, NUL-terminated; *len excludes the NUL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	ck_assert_msg((f = fopen(path, "r")) != NULL, "%s: %s", path,
	    strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	ck_assert_int_ge(n = ftell(f), 0);
	rewind(f);
	ck_assert_ptr_nonnull(buf = malloc(n + 1));
	ck_assert_int_eq(fread(buf, 1, n, f), n);
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return buf;
}

/* conf_print's output, NUL-terminated. */
static char *
printed(const struct kmd_conf *c, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;

	ck_assert_ptr_nonnull(f = open_memstream(&buf, len));
	conf_print(f, c);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static void
assert_conf_eq(const struct kmd_conf *a, const struct kmd_conf *b)
{
	ck_assert_str_eq(a->socket, b->socket);
	ck_assert_str_eq(a->sockgroup, b->sockgroup);
	ck_assert_str_eq(a->user, b->user);
	ck_assert_str_eq(a->datadir, b->datadir);
	ck_assert_str_eq(a->host, b->host);
	ck_assert_str_eq(a->api_addr, b->api_addr);
	ck_assert_uint_eq(a->api_port, b->api_port);
}

static int
parse(const char *buf, size_t len, struct kmd_conf *c, char *err,
    size_t errlen)
{
	return conf_parse_buf(FNAME, buf, len, c, err, errlen);
}

/* Parses, and to the defaults. */
static void
good_defaults(const char *buf, size_t len)
{
	struct kmd_conf	 c, d;
	char		 err[512];

	memset(&c, 0x5a, sizeof(c));
	ck_assert_msg(parse(buf, len, &c, err, sizeof(err)) == 0, "%s", err);
	conf_defaults(&d);
	assert_conf_eq(&c, &d);
}

/*
 * Fails with exactly one error, "t.conf:LINE: ..." mentioning word, and
 * leaves the output alone.
 */
static void
bad(const char *buf, size_t len, int line, const char *word)
{
	struct kmd_conf	 c, saved;
	char		 err[1024], prefix[32];

	memset(&c, 0xa5, sizeof(c));
	saved = c;
	ck_assert_msg(parse(buf, len, &c, err, sizeof(err)) == -1,
	    "accepted (expected an error about '%s')", word);
	snprintf(prefix, sizeof(prefix), FNAME ":%d: ", line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error '%s' does not start with '%s'", err, prefix);
	ck_assert_msg(strstr(err, word) != NULL,
	    "error '%s' does not mention '%s'", err, word);
	ck_assert_msg(strchr(err, '\n') == NULL, "more than one error: '%s'",
	    err);
	ck_assert(memcmp(&c, &saved, sizeof(c)) == 0);
}
#define BAD(s, line, word)	bad((s), sizeof(s) - 1, (line), (word))

static int
count_lines(const char *s)
{
	int	 n = 1;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

START_TEST(t_golden)
{
	struct kmd_conf	 c, again;
	char		 path[256], err[1024], *out, *ok;
	size_t		 outlen, oklen;

	snprintf(path, sizeof(path), "conf/%s.conf", golden[_i]);
	ck_assert_msg(conf_load(path, &c, err, sizeof(err)) == 0, "%s", err);
	out = printed(&c, &outlen);
	snprintf(path, sizeof(path), "conf/%s.ok", golden[_i]);
	ok = slurp(path, &oklen);
	ck_assert_msg(outlen == oklen && memcmp(out, ok, oklen) == 0,
	    "%s: conf_print gave\n%s--- expected\n%s", path, out, ok);

	/* What conf_print wrote parses back to the same config. */
	ck_assert_msg(parse(out, outlen, &again, err, sizeof(err)) == 0,
	    "%s", err);
	assert_conf_eq(&c, &again);
	free(out);
	free(ok);
}
END_TEST

START_TEST(t_defaults)
{
	struct kmd_conf	 c;

	memset(&c, 0x5a, sizeof(c));
	conf_defaults(&c);
	ck_assert_str_eq(c.socket, "/run/kmd/kmd.sock");
	ck_assert_str_eq(c.sockgroup, "");
	ck_assert_str_eq(c.user, "_kmd");
	ck_assert_str_eq(c.datadir, "/var/lib/kmd");
	ck_assert_str_eq(c.host, "127.0.0.1");
	ck_assert_str_eq(c.api_addr, "127.0.0.1");
	ck_assert_uint_eq(c.api_port, 8443);
}
END_TEST

START_TEST(t_empty)
{
	good_defaults("", 0);
	good_defaults("\n", 1);
	good_defaults("\n\n \t \r\n", 7);
}
END_TEST

START_TEST(t_comments_only)
{
	static const char	 s[] = "# one\n   # two \"unterminated\n\t#\n#";

	good_defaults(s, sizeof(s) - 1);
}
END_TEST

START_TEST(t_unknown_keyword)
{
	BAD("user a\nfoo bar\n", 2, "unknown keyword 'foo'");
	BAD("Socket \"/x\"\n", 1, "unknown keyword");
	BAD("\"user\" a\n", 1, "expected a keyword");
	BAD("1234 a\n", 1, "expected a keyword");
}
END_TEST

START_TEST(t_duplicate)
{
	BAD("user a\n\nuser b\n", 3, "already set at line 1");
	BAD("# c\nhost h1\nhost h2\n", 3, "'host' is already set at line 2");
	BAD("socket group root\nsocket group root\n", 2,
	    "'socket group' is already set at line 1");
	BAD("socket \"/a\"\nuser u\nsocket \"/b\"\n", 3,
	    "'socket' is already set at line 1");
	BAD("datadir /a\ndatadir /a\n", 2, "'datadir' is already set");
	BAD("api listen h\napi listen h port 1\n", 2,
	    "'api listen' is already set at line 1");
}
END_TEST

START_TEST(t_unterminated)
{
	BAD("user \"abc\n", 1, "unterminated string");
	BAD("user a\nuser2 \"abc", 2, "unterminated string");
	BAD("host \"a\\\"\n", 1, "unterminated string");
}
END_TEST

START_TEST(t_port)
{
	BAD("api listen \"127.0.0.1\" port 0\n", 1, "port must be");
	BAD("api listen \"127.0.0.1\" port 65536\n", 1, "'65536'");
	BAD("api listen \"127.0.0.1\" port abc\n", 1, "'abc'");
	BAD("api listen \"127.0.0.1\" port 99999999999\n", 1, "port");
	BAD("api listen \"127.0.0.1\" port -1\n", 1, "port");
	BAD("api listen \"127.0.0.1\" port \"8443\"\n", 1, "port");
	BAD("api listen \"127.0.0.1\" bogus 8443\n", 1, "expected: api");
}
END_TEST

START_TEST(t_token_lifetime)
{
	BAD("api token lifetime 9\n", 1, "from 10 to 86400 seconds");
	BAD("api max-connections 3\n", 1, "from 4 to 65536 connections");
	BAD("api max-connections many\n", 1, "from 4 to 65536");
	BAD("api read-timeout 1\n", 1, "from 2 to 300 seconds");
	BAD("api login-rate 0\n", 1, "from 1 to 10000 logins per second");
	BAD("api read-timeout 301\n", 1, "from 2 to 300 seconds");
	BAD("api token lifetime 86401\n", 1, "from 10 to 86400 seconds");
	BAD("api token lifetime 9999999999\n", 1, "from 10 to 86400");
	BAD("api token lifetime \"60\"\n", 1, "from 10 to 86400");
	BAD("api token lifetime\n", 1, "expected: api token lifetime");
	BAD("api token life 60\n", 1, "expected: api token lifetime");
	BAD("api token lifetime 60\napi token lifetime 70\n", 2,
	    "already set at line 1");
}
END_TEST

START_TEST(t_monitor)
{
	BAD("replmon interval 99\n", 1, "from 100 to 60000 milliseconds");
	BAD("replmon interval 60001\n", 1, "from 100 to 60000");
	BAD("replmon interval\n", 1, "expected: replmon interval milli");
	BAD("replmon interval 1 2\n", 1, "expected: replmon interval");
	BAD("replmon down-after 999\n", 1, "from 1000 to 600000");
	BAD("replmon tick 5\n", 1, "expected: replmon followed by");
	BAD("alarm retained-wal 0\n", 1, "from 1 to 1048576 megabytes");
	BAD("alarm clock-skew -1\n", 1, "from 0 to 3600000");
	BAD("alarm cert-expiry 3651\n", 1, "from 0 to 3650 days");
	BAD("alarm cert-expiry x\n", 1, "from 0 to 3650 days, not 'x'");
	BAD("alarm\n", 1, "expected: alarm followed by");
	BAD("alarm clock-skew 5\nalarm clock-skew 6\n", 2,
	    "'alarm clock-skew' is already set at line 1");
	BAD("pending-node lifetime 4\n", 1, "from 5 to 604800 seconds");
	BAD("pending-node lifetime 604801\n", 1, "from 5 to 604800");
	BAD("pending-node lifetime\n", 1,
	    "expected: pending-node lifetime seconds");
	BAD("pending-node\n", 1, "expected: pending-node followed by");
	BAD("join stall-after 9\n", 1, "from 10 to 3600 seconds");
	BAD("join stall-after 3601\n", 1, "from 10 to 3600");
	BAD("join stall-after 1m\n", 1, "from 10 to 3600 seconds, not '1m'");
	BAD("join\n", 1, "expected: join followed by");
}
END_TEST

START_TEST(t_hsm)
{
	BAD("hsm module \"/usr/lib/softhsm/libsofthsm2.so\"\n", 1,
	    "hsm module, hsm token and hsm pin-file go together");
	BAD("hsm module \"/m.so\"\nhsm token kmd\n", 2, "go together");
	BAD("hsm module m.so\nhsm token kmd\nhsm pin-file /p\n", 1,
	    "hsm module must be an absolute path");
	BAD("hsm pin\n", 1, "expected: hsm module|token|pin-file|key");
	BAD("hsm token a\nhsm token b\n", 2, "already set at line 1");
	BAD("hsm key\n", 1, "expected: hsm module");
}
END_TEST

START_TEST(t_relative)
{
	BAD("datadir \"var/lib/kmd\"\n", 1, "datadir must be an absolute");
	BAD("datadir ./kmd\n", 1, "absolute path");
	BAD("\nsocket kmd.sock\n", 2, "socket path must be an absolute");
}
END_TEST

START_TEST(t_missing_value)
{
	BAD("user\n", 1, "expected: user");
	BAD("# c\ndatadir\n", 2, "expected: datadir");
	BAD("host", 1, "expected: host");
	BAD("socket\n", 1, "expected: socket");
	BAD("socket group\n", 1, "expected: socket group");
	BAD("api\n", 1, "expected: api listen");
	BAD("api listen\n", 1, "expected: api listen");
	BAD("api listen h port\n", 1, "expected: api listen");
	BAD("pgbin usr/lib/postgresql/15/bin\n", 1, "absolute path");
	BAD("dbuser\n", 1, "expected: dbuser");
	BAD("dbuser a\ndbuser b\n", 2, "already set at line 1");
	BAD("user \"\"\n", 1, "must not be empty");
	BAD("user port\n", 1, "keyword 'port'");
}
END_TEST

START_TEST(t_too_many_words)
{
	BAD("user a b c d e f g h\n", 1, "too many words");
	BAD("\n\nhost a b c d e f g h \"i\" j k\n", 3, "too many words");
	BAD("user a b c d e f g\n", 1, "expected: user");
	BAD("user a b\n", 1, "expected: user");
}
END_TEST

START_TEST(t_nul)
{
	BAD("user a\0\n", 1, "unexpected byte 0x00");
	BAD("# c\nuser \0a\n", 2, "0x00");
	BAD("\0", 1, "0x00");
	BAD("user \"a\0b\"\n", 1, "string");
}
END_TEST

START_TEST(t_other_errors)
{
	BAD("user a;\n", 1, "unexpected character ';'");
	BAD("user \x80\n", 1, "unexpected byte 0x80");
	BAD("host \"a b\"\n", 1, "not an address or host name");
	BAD("host a/b\n", 1, "not an address");
	BAD("api listen \"a b\"\n", 1, "not an address");
	BAD("user u2345678901234567890123456789012\n", 1, "longer than 31");
	BAD("socket group nosuchgroup_kmdtest\n", 1, "does not exist");
}
END_TEST

/* Tokens hold 1023 bytes: one more is refused by the lexer. */
START_TEST(t_long_token)
{
	char	 buf[2100];

	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "user ", 5);
	bad(buf, 5 + 1023, 1, "user is longer than 31");
	bad(buf, 5 + 1024, 1, "word longer than 1023");
	bad(buf, sizeof(buf), 1, "word longer than 1023");
	memcpy(buf, "user \"", 6);
	buf[6 + 1023] = '"';
	bad(buf, 6 + 1023 + 1, 1, "user is longer than 31");
	buf[6 + 1023] = 'a';
	buf[6 + 1024] = '"';
	bad(buf, 6 + 1024 + 1, 1, "string longer than 1023");
	bad(buf, sizeof(buf), 1, "string longer than 1023");
}
END_TEST

START_TEST(t_accumulate)
{
	static const char	 s[] = "foo\nuser a\nbar\n";
	struct kmd_conf		 c;
	char			 err[1024], *nl;

	ck_assert_int_eq(parse(s, sizeof(s) - 1, &c, err, sizeof(err)), -1);
	ck_assert_int_eq(count_lines(err), 2);
	ck_assert_msg(strncmp(err, FNAME ":1: ", 10) == 0, "%s", err);
	ck_assert_ptr_nonnull(nl = strchr(err, '\n'));
	ck_assert_msg(strncmp(nl + 1, FNAME ":3: ", 10) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(nl, "'bar'"));
}
END_TEST

START_TEST(t_max_errors)
{
	struct kmd_conf	 c;
	char		 buf[256], err[4096];
	int		 i;

	buf[0] = '\0';
	for (i = 0; i < 25; i++)
		strcat(buf, "foo\n");
	ck_assert_int_eq(parse(buf, strlen(buf), &c, err, sizeof(err)), -1);
	ck_assert_int_eq(count_lines(err), 10);
}
END_TEST

/* A short error buffer gets a truncated message, never an overflow. */
START_TEST(t_short_errbuf)
{
	static const char	 s[] = "foo\nbar\n";
	struct kmd_conf		 c;
	char			 err[16];

	ck_assert_int_eq(parse(s, sizeof(s) - 1, &c, err, sizeof(err)), -1);
	ck_assert_uint_lt(strlen(err), sizeof(err));
	ck_assert_msg(strncmp(err, FNAME ":1: ", 10) == 0, "%s", err);
	ck_assert_int_eq(parse(s, sizeof(s) - 1, &c, err, 1), -1);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(t_untouched)
{
	static const char	 s[] = "user changed\nhost h\nbogus\n";
	struct kmd_conf		 c, saved;
	char			 err[256];

	conf_defaults(&c);
	saved = c;
	ck_assert_int_eq(parse(s, sizeof(s) - 1, &c, err, sizeof(err)), -1);
	ck_assert(memcmp(&c, &saved, sizeof(c)) == 0);
}
END_TEST

START_TEST(t_escapes_roundtrip)
{
	static const char	 s[] = "user \"a\\\"b\\\\c\"\n"
				    "datadir \"/x\\\\\\\"y\"\n";
	struct kmd_conf		 c, again;
	char			 err[256], *out;
	size_t			 len;

	ck_assert_msg(parse(s, sizeof(s) - 1, &c, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(c.user, "a\"b\\c");
	ck_assert_str_eq(c.datadir, "/x\\\"y");
	out = printed(&c, &len);
	ck_assert_ptr_nonnull(strstr(out, "\nuser \"a\\\"b\\\\c\"\n"));
	ck_assert_ptr_nonnull(strstr(out, "\ndatadir \"/x\\\\\\\"y\"\n"));
	ck_assert_msg(parse(out, len, &again, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert(memcmp(&c, &again, sizeof(c)) == 0);
	free(out);
}
END_TEST

START_TEST(t_good_values)
{
	static const char	 s[] = "api listen ::1 port 00080\n"
				    "host h-1.example\n"
				    "user \"with space\"\n";
	struct kmd_conf		 c;
	char			 err[256];

	ck_assert_msg(parse(s, sizeof(s) - 1, &c, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(c.api_addr, "::1");
	ck_assert_uint_eq(c.api_port, 80);
	ck_assert_str_eq(c.host, "h-1.example");
	ck_assert_str_eq(c.user, "with space");
	ck_assert_str_eq(c.socket, "/run/kmd/kmd.sock");
}
END_TEST

START_TEST(t_load_errors)
{
	struct kmd_conf	 c;
	char		 err[512], path[] = "/tmp/kmd-unit-XXXXXX";
	int		 fd;

	ck_assert_int_eq(conf_load("conf/nonexistent.conf", &c, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "conf/nonexistent.conf: No such file or"
	    " directory");
	ck_assert_int_eq(conf_load("conf", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, "user a\nuser b\n", 14), 14);
	close(fd);
	ck_assert_int_eq(conf_load(path, &c, err, sizeof(err)), -1);
	unlink(path);
	ck_assert_ptr_eq(strstr(err, path), err);
	ck_assert_ptr_nonnull(strstr(err, ":2: 'user' is already set"));
}
END_TEST

/* Write len bytes of comment to a temporary file; returns its fd. */
static int
comment_file(char *path, size_t len)
{
	char	*buf;
	int	 fd;

	ck_assert_ptr_nonnull(buf = malloc(len));
	memset(buf, '#', len);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, buf, len), len);
	free(buf);
	return fd;
}

/* A file of at most CONF_FILE_MAX (65536) bytes. */
START_TEST(t_load_size)
{
	struct kmd_conf	 c;
	char		 err[512], path[] = "/tmp/kmd-unit-XXXXXX";
	int		 r;

	close(comment_file(path, CONF_FILE_MAX));
	r = conf_load(path, &c, err, sizeof(err));
	unlink(path);
	ck_assert_msg(r == 0, "%s", err);
	strcpy(path, "/tmp/kmd-unit-XXXXXX");
	close(comment_file(path, CONF_FILE_MAX + 1));
	r = conf_load(path, &c, err, sizeof(err));
	unlink(path);
	ck_assert_int_eq(r, -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file of at most"
	    " 65536 bytes"));
}
END_TEST

/* host and api listen: at most 253 bytes. */
START_TEST(t_host_length)
{
	struct kmd_conf	 c;
	char		 buf[300], err[512];

	memset(buf, 'h', sizeof(buf));
	memcpy(buf, "host ", 5);
	ck_assert_msg(parse(buf, 5 + 253, &c, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_eq(strlen(c.host), 253);
	bad(buf, 5 + 254, 1, "host is longer than 253");
	memcpy(buf, "api listen ", 11);
	ck_assert_msg(parse(buf, 11 + 253, &c, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_eq(strlen(c.api_addr), 253);
	bad(buf, 11 + 254, 1, "longer than 253");
}
END_TEST

Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("golden");
	tcase_add_loop_test(tc, t_golden, 0, NGOLDEN);
	tcase_add_test(tc, t_defaults);
	tcase_add_test(tc, t_good_values);
	tcase_add_test(tc, t_escapes_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, t_empty);
	tcase_add_test(tc, t_comments_only);
	tcase_add_test(tc, t_unknown_keyword);
	tcase_add_test(tc, t_duplicate);
	tcase_add_test(tc, t_unterminated);
	tcase_add_test(tc, t_port);
	tcase_add_test(tc, t_token_lifetime);
	tcase_add_test(tc, t_monitor);
	tcase_add_test(tc, t_hsm);
	tcase_add_test(tc, t_relative);
	tcase_add_test(tc, t_missing_value);
	tcase_add_test(tc, t_too_many_words);
	tcase_add_test(tc, t_nul);
	tcase_add_test(tc, t_other_errors);
	tcase_add_test(tc, t_long_token);
	tcase_add_test(tc, t_accumulate);
	tcase_add_test(tc, t_max_errors);
	tcase_add_test(tc, t_short_errbuf);
	tcase_add_test(tc, t_untouched);
	tcase_add_test(tc, t_load_errors);
	tcase_add_test(tc, t_load_size);
	tcase_add_test(tc, t_host_length);
	suite_add_tcase(s, tc);
	return s;
}
