/*
 * kmctl's command parser (ctl/parser.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "parser.h"

#define MAXARGS	24

static struct parse_result	 res;
static char			 err[512];

/* parse() on "kmctl" and the NULL-terminated words that follow. */
static int
run(const char *first, ...)
{
	char		*argv[MAXARGS + 1];
	const char	*w;
	va_list		 ap;
	int		 argc = 0;

	argv[argc++] = "kmctl";
	va_start(ap, first);
	for (w = first; w != NULL; w = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc, MAXARGS);
		argv[argc++] = (char *)w;
	}
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return parse(argc, argv, &res, err, sizeof(err));
}
#define RUN(...)	run(__VA_ARGS__, (const char *)NULL)

/* parse() accepts; res->action is a. */
#define OK(a, ...) do {							\
	ck_assert_msg(RUN(__VA_ARGS__) == 0, "refused: %s", err);	\
	ck_assert_int_eq(res.action, (a));				\
} while (0)

/* parse() refuses, and err mentions word. */
#define FAIL(word, ...) do {						\
	ck_assert_msg(RUN(__VA_ARGS__) == -1, "accepted, wanted '%s'",	\
	    (word));							\
	ck_assert_msg(strstr(err, (word)) != NULL,			\
	    "error '%s' does not mention '%s'", err, (word));		\
} while (0)

/*
 * Every leaf with exactly its required flags, and its usage line (as in
 * kmctl.8's synopses) after "usage: kmctl [options] <path>".
 */
static const struct {
	const char	*argv[MAXARGS];
	enum action	 action;
	const char	*path;
	const char	*usage;
} paths[] = {
	{ { "status" }, A_STATUS, "status", "" },
	{ { "cluster", "info" }, A_CLUSTER_INFO, "cluster info", "" },
	{ { "cluster", "new", "--host", "h1", "--url", "https://h1:8443" },
	    A_CLUSTER_NEW, "cluster new",
	    " --host=H --url=U [--public-address=A]" },
	{ { "cluster", "csr", "--host", "h1" }, A_CLUSTER_CSR,
	    "cluster csr", " --host=H [--public-address=A] [--out=FILE]" },
	/* its credentials: --credentials, or the three (kmctl checks) */
	{ { "cluster", "join", "--member", "m1", "--host", "h2" },
	    A_CLUSTER_JOIN, "cluster join",
	    " --host=H [--public-address=A] --member=M [--cert=FILE|PEM]"
	    " [--cachain=FILE|PEM] [--mkek-blob=BLOB] [--yes] [--block]"
	    " [--credentials=FILE]" },
	{ { "cluster", "fulljoin", "--member", "m1", "--newnodehost", "h3" },
	    A_CLUSTER_FULLJOIN, "cluster fulljoin",
	    " --member=M --newnodehost=H [--newnodeconfig=FILE]"
	    " [--newnodeurl=U] [--newnodeuser=NAME]"
	    " [--newnodepass=PASSWORD] [--shared-hsm-partition] [--yes]" },
	{ { "cluster", "summary" }, A_CLUSTER_SUMMARY, "cluster summary",
	    "" },
	{ { "cluster", "delete" }, A_CLUSTER_DELETE, "cluster delete",
	    " [--yes]" },
	{ { "cluster", "nodes", "list" }, A_NODES_LIST,
	    "cluster nodes list", " [--skip=N] [--limit=N]" },
	{ { "cluster", "nodes", "get", "--id", "n1" }, A_NODES_GET,
	    "cluster nodes get", " --id=ID" },
	{ { "cluster", "nodes", "create", "--csr", "r.pem", "--newnodehost",
	    "h4" }, A_NODES_CREATE, "cluster nodes create",
	    " [--public-address=A] --csr=FILE|PEM --newnodehost=H"
	    " [--shared-hsm-partition] [--out=FILE]" },
	{ { "cluster", "nodes", "delete", "--id", "n2" }, A_NODES_DELETE,
	    "cluster nodes delete", " --id=ID [--yes] [--force]"
	    " [--discard-unsent]" },
	{ { "services", "reset" }, A_SERVICES_RESET, "services reset",
	    " [--yes]" },
	{ { "rot-keys", "list" }, A_ROTKEYS_LIST, "rot-keys list", "" },
	{ { "alarms", "list" }, A_ALARMS_LIST, "alarms list",
	    " [--skip=N] [--limit=N] [--all]" },
	{ { "rot-keys", "rotate" }, A_ROTKEYS_ROTATE, "rot-keys rotate",
	    " [--id=ID]" },
	{ { "users", "set-password", "--name", "admin" }, A_USERS_SETPW,
	    "users set-password", " --name=NAME" },
	{ { "rot-keys", "delete", "--id", "k1" }, A_ROTKEYS_DELETE,
	    "rot-keys delete", " --id=ID [--yes]" },
	{ { "keys", "create", "--name", "k" }, A_KEYS_CREATE, "keys create",
	    " --name=NAME [--algorithm=aes] [--size=BITS]" },
	{ { "keys", "list" }, A_KEYS_LIST, "keys list",
	    " [--skip=N] [--limit=N]" },
	{ { "keys", "encrypt", "--name", "k", "--plaintext", "x" },
	    A_KEYS_ENCRYPT, "keys encrypt", " --name=NAME --plaintext=TEXT" },
	{ { "keys", "decrypt", "--name", "k", "--ciphertext", "x" },
	    A_KEYS_DECRYPT, "keys decrypt",
	    " --name=NAME --ciphertext=BASE64" },
	{ { "keys", "delete", "--name", "k" }, A_KEYS_DELETE, "keys delete",
	    " [--yes] --name=NAME" },
};
#define NPATHS	((int)(sizeof(paths) / sizeof(paths[0])))

/*
 * parse() on paths[i]'s words, leaving out the words skip and skip + 1,
 * then extra if not NULL.
 */
static int
run_path(int i, int skip, const char *extra)
{
	char	*argv[MAXARGS + 2];
	int	 argc = 0, j;

	argv[argc++] = "kmctl";
	for (j = 0; paths[i].argv[j] != NULL; j++)
		if (j != skip && j != skip + 1)
			argv[argc++] = (char *)paths[i].argv[j];
	if (extra != NULL)
		argv[argc++] = (char *)extra;
	argv[argc] = NULL;
	err[0] = '\0';
	return parse(argc, argv, &res, err, sizeof(err));
}

static const char *
last_word(const char *path)
{
	const char	*p = strrchr(path, ' ');

	return p != NULL ? p + 1 : path;
}

START_TEST(t_paths)
{
	int	 j, f;

	ck_assert_msg(run_path(_i, -2, NULL) == 0, "%s: %s", paths[_i].path,
	    err);
	ck_assert_int_eq(res.action, paths[_i].action);
	ck_assert_str_eq(res.path, paths[_i].path);
	ck_assert_ptr_nonnull(res.leaf);
	ck_assert_str_eq(res.leaf->keyword, last_word(paths[_i].path));
	ck_assert_int_eq(res.help, 0);
	ck_assert_ptr_null(res.socket);
	for (f = 0; f < F_MAX; f++)
		if (res.leaf->required & FM(f))
			ck_assert_msg(res.flag[f] != NULL, "--%s not set",
			    flag_name(f));
	/* The values are the words that followed the flags. */
	for (j = 0; paths[_i].argv[j] != NULL; j++)
		if (strncmp(paths[_i].argv[j], "--", 2) == 0) {
			f = F_MAX;
			while (--f >= 0 &&
			    strcmp(flag_name(f), paths[_i].argv[j] + 2) != 0)
				;
			ck_assert_int_ge(f, 0);
			ck_assert_str_eq(res.flag[f], paths[_i].argv[j + 1]);
		}
}
END_TEST

/* Leave out each flag of each path in turn: the error names it. */
START_TEST(t_required)
{
	char	 want[64];
	int	 j;

	for (j = 0; paths[_i].argv[j] != NULL; j++) {
		if (strncmp(paths[_i].argv[j], "--", 2) != 0)
			continue;
		ck_assert_int_eq(run_path(_i, j, NULL), -1);
		snprintf(want, sizeof(want), "%s: %s is required",
		    paths[_i].path, paths[_i].argv[j]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(t_all_flags)
{
	OK(A_CLUSTER_JOIN, "cluster", "join", "--member", "m1", "--host",
	    "h2", "--cert", "c.pem", "--cachain", "ca.pem", "--mkek-blob",
	    "b64", "--public-address", "203.0.113.5", "-y", "--block");
	ck_assert_str_eq(res.flag[F_PUBADDR], "203.0.113.5");
	ck_assert_str_eq(res.flag[F_YES], "");
	ck_assert_str_eq(res.flag[F_BLOCK], "");
	ck_assert_ptr_null(res.flag[F_FORCE]);
	OK(A_CLUSTER_FULLJOIN, "cluster", "fulljoin", "--member", "m1",
	    "--newnodehost", "h3", "--newnodeconfig", "n.conf",
	    "--newnodeurl", "https://h3", "--newnodeuser", "admin",
	    "--newnodepass", "secret", "--shared-hsm-partition", "--yes");
	ck_assert_str_eq(res.flag[F_NEWNODEURL], "https://h3");
	ck_assert_str_eq(res.flag[F_NEWNODEPASS], "secret");
	ck_assert_str_eq(res.flag[F_SHAREDHSM], "");
	OK(A_NODES_LIST, "cluster", "nodes", "list", "--skip", "10",
	    "--limit=20");
	ck_assert_str_eq(res.flag[F_SKIP], "10");
	ck_assert_str_eq(res.flag[F_LIMIT], "20");
	OK(A_NODES_DELETE, "cluster", "nodes", "delete", "--force", "--id",
	    "n1", "-y");
	ck_assert_ptr_nonnull(res.flag[F_FORCE]);
	OK(A_ROTKEYS_ROTATE, "rot-keys", "rotate", "--id", "k2");
	ck_assert_str_eq(res.flag[F_ID], "k2");
}
END_TEST

START_TEST(t_prefix)
{
	OK(A_CLUSTER_INFO, "cl", "in");
	ck_assert_str_eq(res.path, "cluster info");
	OK(A_CLUSTER_INFO, "cl", "i");
	OK(A_NODES_LIST, "cl", "no", "l");
	ck_assert_str_eq(res.path, "cluster nodes list");
	FAIL("ambiguous 'c'", "c", "i");	/* cluster, completion */
	OK(A_COMPLETION, "co", "b");
	OK(A_CLUSTER_NEW, "cluster", "ne", "--host", "h", "--url",
	    "https://h");
	OK(A_CLUSTER_FULLJOIN, "clu", "f", "--member", "m", "--newnodehost",
	    "n");
	OK(A_SERVICES_RESET, "se", "r");
	OK(A_STATUS, "st");
	OK(A_ROTKEYS_ROTATE, "r", "ro");
	OK(A_ROTKEYS_LIST, "rot", "l");
	ck_assert_str_eq(res.path, "rot-keys list");
}
END_TEST

START_TEST(t_ambiguous)
{
	ck_assert_int_eq(RUN("cluster", "n"), -1);
	ck_assert_msg(strncmp(err, "cluster: ambiguous 'n'", 22) == 0, "%s",
	    err);
	ck_assert_ptr_nonnull(strstr(err, "new"));
	ck_assert_ptr_nonnull(strstr(err, "nodes"));
	FAIL("ambiguous 's'", "s");
	FAIL("services", "s");
	FAIL("status", "s");
}
END_TEST

START_TEST(t_unknown_word)
{
	ck_assert_int_eq(RUN("cluster", "bogus"), -1);
	ck_assert_str_eq(err, "cluster: unknown command 'bogus'; valid"
	    " choices: info new csr join fulljoin summary delete verify nodes"
	    " upgrade");
	ck_assert_int_eq(RUN("bogus"), -1);
	ck_assert_str_eq(err, "unknown command 'bogus'; valid choices:"
	    " cluster services rot-keys status version health users alarms"
	    " keys backups backup-keys completion");
	FAIL("valid choices: list get create delete", "cluster", "nodes",
	    "lists");
	FAIL("unknown command ''", "");
	FAIL("unknown command 'infos'", "cluster", "infos");
}
END_TEST

START_TEST(t_missing_command)
{
	ck_assert_int_eq(RUN("cluster"), -1);
	ck_assert_str_eq(err, "cluster: missing command; valid choices:"
	    " info new csr join fulljoin summary delete verify nodes"
	    " upgrade");
	ck_assert_int_eq(RUN("cluster", "nodes"), -1);
	ck_assert_str_eq(err, "cluster nodes: missing command; valid"
	    " choices: list get create delete");
	FAIL("missing command; valid choices: cluster services rot-keys"
	    " status", "-s", "/tmp/sock");
	ck_assert_int_eq(parse(1, (char *[]){ "kmctl", NULL }, &res, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "missing command"));
	ck_assert_int_eq(parse(0, (char *[]){ NULL }, &res, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(t_help_top)
{
	ck_assert_int_eq(parse(2, (char *[]){ "kmctl", "--help", NULL },
	    &res, err, sizeof(err)), 0);
	ck_assert_int_eq(res.help, 1);
	ck_assert_ptr_null(res.leaf);
	ck_assert_int_eq(res.action, A_NONE);
	ck_assert_ptr_nonnull(res.table);
	ck_assert_str_eq(res.table[0].keyword, "cluster");
	ck_assert_str_eq(res.path, "");
	OK(A_NONE, "-h");
	ck_assert_int_eq(res.help, 1);
	ck_assert_str_eq(res.table[0].keyword, "cluster");
}
END_TEST

START_TEST(t_help_inner)
{
	OK(A_NONE, "cluster", "--help");
	ck_assert_int_eq(res.help, 1);
	ck_assert_ptr_null(res.leaf);
	ck_assert_str_eq(res.path, "cluster");
	ck_assert_str_eq(res.table[0].keyword, "info");
	OK(A_NONE, "cluster", "nodes", "-h");
	ck_assert_str_eq(res.path, "cluster nodes");
	ck_assert_str_eq(res.table[0].keyword, "list");
	ck_assert_str_eq(res.table[1].keyword, "get");
	OK(A_NONE, "--help", "rot-keys");
	ck_assert_int_eq(res.help, 1);
	ck_assert_str_eq(res.table[1].keyword, "rotate");
}
END_TEST

/* --help at a leaf: the leaf, and its required flags are not asked for. */
START_TEST(t_help_leaf)
{
	OK(A_CLUSTER_NEW, "cluster", "new", "--help");
	ck_assert_int_eq(res.help, 1);
	ck_assert_ptr_nonnull(res.leaf);
	ck_assert_str_eq(res.leaf->keyword, "new");
	ck_assert_str_eq(res.path, "cluster new");
	OK(A_NODES_GET, "cluster", "nodes", "get", "-h");
	ck_assert_str_eq(res.leaf->keyword, "get");
	OK(A_CLUSTER_JOIN, "cluster", "join", "--host", "h", "--help");
	ck_assert_str_eq(res.flag[F_HOST], "h");
	OK(A_STATUS, "-h", "status");
	ck_assert_int_eq(res.help, 1);
}
END_TEST

START_TEST(t_usage)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len;

	OK(A_CLUSTER_NEW, "cluster", "new", "--help");
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	parse_usage(f, &res);
	fclose(f);
	ck_assert_str_eq(buf, "usage: kmctl [options] cluster new"
	    " --host=H --url=U [--public-address=A]\n"
	    "  create a cluster with this node\n");
	free(buf);

	OK(A_NONE, "rot-keys", "--help");
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	parse_usage(f, &res);
	fclose(f);
	ck_assert_str_eq(buf, "usage: kmctl [options] rot-keys command"
	    " [flags]\ncommands:\n"
	    "  list       list root-of-trust keys\n"
	    "  rotate     re-wrap the KEK under another root-of-trust key"
	    " (no --id: a new one)\n"
	    "  delete     delete a root-of-trust key the KEK is no longer"
	    " under\n");
	free(buf);
}
END_TEST

/* Each leaf's usage line, flags in the order and form of kmctl.8. */
START_TEST(t_usage_leaf)
{
	FILE	*f;
	char	*buf = NULL, want[512];
	size_t	 len;

	ck_assert_msg(run_path(_i, -2, "--help") == 0, "%s", err);
	ck_assert_int_eq(res.help, 1);
	ck_assert_str_eq(res.leaf->keyword, last_word(paths[_i].path));
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	parse_usage(f, &res);
	fclose(f);
	snprintf(want, sizeof(want), "usage: kmctl [options] %s%s\n  ",
	    paths[_i].path, paths[_i].usage);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0,
	    "got '%s', want '%s'", buf, want);
	ck_assert_uint_gt(len, strlen(want) + 1);
	ck_assert_int_eq(buf[len - 1], '\n');
	free(buf);
}
END_TEST

/* Global options come before the command words, in either form. */
START_TEST(t_globals)
{
	ck_assert_int_eq(RUN("--url", "https://10.0.0.1:8443", "--user=admin",
	    "--nosslverify", "--timeout", "5", "cluster", "info"), 0);
	ck_assert_int_eq(res.action, A_CLUSTER_INFO);
	ck_assert_str_eq(res.global[G_URL], "https://10.0.0.1:8443");
	ck_assert_str_eq(res.global[G_USER], "admin");
	ck_assert_str_eq(res.global[G_NOSSLVERIFY], "");
	ck_assert_str_eq(res.global[G_TIMEOUT], "5");
	ck_assert_ptr_null(res.global[G_PASSWORD]);
	FAIL("--url given twice", "--url", "a", "--url=b", "status");
	FAIL("--nosslverify takes no value", "--nosslverify=1", "status");
	FAIL("--cacert needs a value", "--cacert");
	FAIL("unknown option '--urlx'", "--urlx", "x", "status");
	/* After the command words, --url is cluster new's flag. */
	ck_assert_int_eq(RUN("cluster", "new", "--host", "h", "--url",
	    "https://h:1"), 0);
	ck_assert_ptr_null(res.global[G_URL]);
	ck_assert_str_eq(res.flag[F_URL], "https://h:1");
}
END_TEST

/*
 * Global options anywhere on the line: the reference's own form has them
 * after the command; the command's flags are matched first.
 */
START_TEST(t_globals_after)
{
	ck_assert_int_eq(RUN("cluster", "new", "--host=h", "--url=https://h:1",
	    "--user=admin", "--password=pw"), 0);
	ck_assert_int_eq(res.action, A_CLUSTER_NEW);
	ck_assert_str_eq(res.flag[F_URL], "https://h:1");
	ck_assert_ptr_null(res.global[G_URL]);
	ck_assert_str_eq(res.global[G_USER], "admin");
	ck_assert_str_eq(res.global[G_PASSWORD], "pw");
	ck_assert_int_eq(RUN("cluster", "info", "--url", "https://n:8443",
	    "--nosslverify", "-s", "/tmp/x.sock"), 0);
	ck_assert_int_eq(res.action, A_CLUSTER_INFO);
	ck_assert_str_eq(res.global[G_URL], "https://n:8443");
	ck_assert_str_eq(res.global[G_NOSSLVERIFY], "");
	ck_assert_str_eq(res.socket, "/tmp/x.sock");
	/* a global before and after is still twice */
	FAIL("--user given twice", "--user", "a", "cluster", "info",
	    "--user=b");
	FAIL("--timeout needs a value", "status", "--timeout");
	FAIL("--nosslverify takes no value", "status", "--nosslverify=1");
	/* neither the command's nor kmctl's: both lists would not help */
	FAIL("status: unknown flag '--urls'", "status", "--urls", "x");
}
END_TEST

START_TEST(t_unknown_flag)
{
	ck_assert_int_eq(RUN("cluster", "csr", "--host", "h", "--bogus"), -1);
	ck_assert_str_eq(err, "cluster csr: unknown flag '--bogus'; valid"
	    " flags: --host --public-address --out");
	FAIL("unknown flag '--id'; valid flags: (none)", "status", "--id",
	    "1");
	FAIL("unknown flag '-y'", "cluster", "info", "-y");
	FAIL("valid flags: --skip --limit", "cluster", "nodes", "list",
	    "--yes");
	FAIL("unknown flag '--'", "status", "--");
	FAIL("unknown flag '--ho'", "cluster", "csr", "--ho", "h");
	FAIL("unknown flag '--hosts=h'", "cluster", "csr", "--hosts=h");
	FAIL("unknown flag '--Host'", "cluster", "csr", "--Host", "h");
	FAIL("unknown option '-x'", "-x", "status");
}
END_TEST

/*
 * kmctl.8: "any other flag is an error that lists the command's valid
 * flags, and so is an argument that is not a flag."
 */
START_TEST(t_bad_argument)
{
	FAIL("unexpected argument 'extra'", "status", "extra");
	FAIL("unexpected argument '-'", "status", "-");
	FAIL("valid flags: (none)", "status", "extra");
	FAIL("valid flags: --host --public-address", "cluster", "csr",
	    "--host", "h", "extra");
	FAIL("valid flags: --id --yes --force", "cluster", "nodes",
	    "delete", "n1", "--id", "n1");
}
END_TEST

START_TEST(t_duplicate_flag)
{
	FAIL("cluster csr: --host given twice", "cluster", "csr", "--host",
	    "a", "--host", "b");
	FAIL("--yes given twice", "services", "reset", "-y", "-y");
	FAIL("--yes given twice", "services", "reset", "-y", "--yes");
	FAIL("--id given twice", "cluster", "nodes", "get", "--id=1",
	    "--id", "1");
}
END_TEST

START_TEST(t_flag_forms)
{
	OK(A_NODES_GET, "cluster", "nodes", "get", "--id=abc");
	ck_assert_str_eq(res.flag[F_ID], "abc");
	OK(A_NODES_GET, "cluster", "nodes", "get", "--id", "abc");
	ck_assert_str_eq(res.flag[F_ID], "abc");
	OK(A_NODES_GET, "cluster", "nodes", "get", "--id=a=b");
	ck_assert_str_eq(res.flag[F_ID], "a=b");
	OK(A_CLUSTER_NEW, "cluster", "new", "--url=https://x", "--host=h");
	ck_assert_str_eq(res.flag[F_URL], "https://x");
	ck_assert_str_eq(res.flag[F_HOST], "h");
	FAIL("--id needs a value", "cluster", "nodes", "get", "--id");
	FAIL("--id needs a value", "cluster", "nodes", "get", "--id=");
	FAIL("--id needs a value", "cluster", "nodes", "get", "--id", "");
}
END_TEST

START_TEST(t_yes)
{
	OK(A_SERVICES_RESET, "services", "reset", "-y");
	ck_assert_ptr_nonnull(res.flag[F_YES]);
	OK(A_SERVICES_RESET, "services", "reset", "--yes");
	ck_assert_ptr_nonnull(res.flag[F_YES]);
	OK(A_SERVICES_RESET, "services", "reset");
	ck_assert_ptr_null(res.flag[F_YES]);
}
END_TEST

START_TEST(t_boolean_value)
{
	FAIL("services reset: --yes takes no value", "services", "reset",
	    "--yes=1");
	FAIL("--yes takes no value", "services", "reset", "-y=yes");
	FAIL("--yes takes no value", "services", "reset", "--yes=");
	FAIL("--block takes no value", "cluster", "join", "--block=true");
}
END_TEST

START_TEST(t_numbers)
{
	FAIL("--skip takes a whole number, not 'abc'", "cluster", "nodes",
	    "list", "--skip", "abc");
	FAIL("whole number", "cluster", "nodes", "list", "--skip=-1");
	FAIL("whole number", "cluster", "nodes", "list", "--skip", "1x");
	FAIL("--limit takes a whole number", "cluster", "nodes", "list",
	    "--limit", "1234567890");
	OK(A_NODES_LIST, "cluster", "nodes", "list", "--skip", "0",
	    "--limit", "123456789");
}
END_TEST

START_TEST(t_url)
{
	FAIL("--url: 'http://h' is not an https:// URL", "cluster", "new",
	    "--host", "h", "--url", "http://h");
	FAIL("not an https:// URL", "cluster", "new", "--host", "h",
	    "--url", "https://");
	FAIL("not an https:// URL", "cluster", "new", "--host", "h",
	    "--url=h:8443");
	FAIL("--newnodeurl", "cluster", "fulljoin", "--member", "m",
	    "--newnodehost", "n", "--newnodeurl", "ftp://x");
}
END_TEST

START_TEST(t_hosts)
{
	FAIL("--host: 'a/b' is not an address or host name", "cluster",
	    "csr", "--host", "a/b");
	FAIL("--member: 'a b'", "cluster", "fulljoin", "--newnodehost", "n",
	    "--member", "a b");
	OK(A_CLUSTER_CSR, "cluster", "csr", "--host", "fe80::1",
	    "--public-address", "node_1.example-2.org");
}
END_TEST

START_TEST(t_socket)
{
	OK(A_STATUS, "-s", "/tmp/kmd.sock", "status");
	ck_assert_str_eq(res.socket, "/tmp/kmd.sock");
	OK(A_CLUSTER_INFO, "-s", "/a", "-s", "/b", "cluster", "info");
	ck_assert_str_eq(res.socket, "/b");
	OK(A_NONE, "-s", "/a", "--help");
	ck_assert_str_eq(res.socket, "/a");
	ck_assert_int_eq(res.help, 1);
	OK(A_STATUS, "status");
	ck_assert_ptr_null(res.socket);
	OK(A_STATUS, "status", "-s", "/x");	/* after the command too */
	ck_assert_str_eq(res.socket, "/x");
}
END_TEST

START_TEST(t_socket_no_value)
{
	ck_assert_int_eq(RUN("-s"), -1);
	ck_assert_str_eq(err, "-s needs a socket path");
	FAIL("-s needs a socket path", "-s", "", "status");
}
END_TEST

/* A value-taking flag does not swallow the next flag; a PEM's dashes are fine. */
START_TEST(t_flag_not_value)
{
	FAIL("--id needs a value", "cluster", "nodes", "delete", "--id",
	    "--yes");
	OK(A_NODES_CREATE, "cluster", "nodes", "create", "--newnodehost",
	    "h", "--csr", "-----BEGIN CERTIFICATE REQUEST-----");
	ck_assert_str_eq(res.flag[F_CSR],
	    "-----BEGIN CERTIFICATE REQUEST-----");
}
END_TEST

START_TEST(t_flag_name)
{
	ck_assert_str_eq(flag_name(F_HOST), "host");
	ck_assert_str_eq(flag_name(F_SHAREDHSM), "shared-hsm-partition");
	ck_assert_str_eq(flag_name(F_MAX), "?");
	ck_assert_str_eq(flag_name((enum flag)-1), "?");
}
END_TEST

Suite *
parser_suite(void)
{
	Suite	*s = suite_create("parser");
	TCase	*tc;

	tc = tcase_create("paths");
	tcase_add_loop_test(tc, t_paths, 0, NPATHS);
	tcase_add_loop_test(tc, t_required, 0, NPATHS);
	tcase_add_test(tc, t_all_flags);
	tcase_add_test(tc, t_prefix);
	tcase_add_test(tc, t_ambiguous);
	tcase_add_test(tc, t_unknown_word);
	tcase_add_test(tc, t_missing_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("help");
	tcase_add_test(tc, t_help_top);
	tcase_add_test(tc, t_help_inner);
	tcase_add_test(tc, t_help_leaf);
	tcase_add_test(tc, t_usage);
	tcase_add_loop_test(tc, t_usage_leaf, 0, NPATHS);
	suite_add_tcase(s, tc);

	tc = tcase_create("flags");
	tcase_add_test(tc, t_unknown_flag);
	tcase_add_test(tc, t_globals);
	tcase_add_test(tc, t_bad_argument);
	tcase_add_test(tc, t_duplicate_flag);
	tcase_add_test(tc, t_flag_forms);
	tcase_add_test(tc, t_yes);
	tcase_add_test(tc, t_boolean_value);
	tcase_add_test(tc, t_numbers);
	tcase_add_test(tc, t_url);
	tcase_add_test(tc, t_hosts);
	tcase_add_test(tc, t_socket);
	tcase_add_test(tc, t_globals_after);
	tcase_add_test(tc, t_socket_no_value);
	tcase_add_test(tc, t_flag_name);
	tcase_add_test(tc, t_flag_not_value);
	suite_add_tcase(s, tc);
	return s;
}
