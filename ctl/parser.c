#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

static const struct {
	const char	*name;
	int		 boolean;
	const char	*arg;		/* shown in usage */
} flags[F_MAX] = {
	[F_HOST] = { "host", 0, "H" },
	[F_URL] = { "url", 0, "U" },
	[F_PUBADDR] = { "public-address", 0, "A" },
	[F_MEMBER] = { "member", 0, "M" },
	[F_CERT] = { "cert", 0, "FILE|PEM" },
	[F_CACHAIN] = { "cachain", 0, "FILE|PEM" },
	[F_MKEK] = { "mkek-blob", 0, "BLOB" },
	[F_CSR] = { "csr", 0, "FILE|PEM" },
	[F_NEWNODEHOST] = { "newnodehost", 0, "H" },
	[F_NEWNODECONFIG] = { "newnodeconfig", 0, "FILE" },
	[F_NEWNODEURL] = { "newnodeurl", 0, "U" },
	[F_NEWNODEUSER] = { "newnodeuser", 0, "NAME" },
	[F_NEWNODEPASS] = { "newnodepass", 0, "PASSWORD" },
	[F_ID] = { "id", 0, "ID" },
	[F_SKIP] = { "skip", 0, "N" },
	[F_LIMIT] = { "limit", 0, "N" },
	[F_SHAREDHSM] = { "shared-hsm-partition", 1, NULL },
	[F_YES] = { "yes", 1, NULL },
	[F_BLOCK] = { "block", 1, NULL },
	[F_FORCE] = { "force", 1, NULL },
	[F_NAME] = { "name", 0, "NAME" },
	[F_ALL] = { "all", 1, NULL },
	[F_ALGORITHM] = { "algorithm", 0, "aes" },
	[F_SIZE] = { "size", 0, "BITS" },
	[F_PLAINTEXT] = { "plaintext", 0, "TEXT" },
	[F_CIPHERTEXT] = { "ciphertext", 0, "BASE64" },
	[F_ROLE] = { "role", 0, "admin|keys|viewer" },
	[F_OUT] = { "out", 0, "FILE" },
	[F_CREDENTIALS] = { "credentials", 0, "FILE" },
	[F_FILE] = { "file", 0, "FILE" },
	[F_DESCRIPTION] = { "description", 0, "TEXT" },
	[F_BACKUPKEY] = { "backup-key", 0, "ID" },
	[F_DISCARD] = { "discard-unsent", 1, NULL },
};

static const struct {
	const char	*name;
	int		 boolean;
} gopts[G_MAX] = {
	[G_URL] = { "url", 0 },
	[G_USER] = { "user", 0 },
	[G_PASSWORD] = { "password", 0 },
	[G_NOSSLVERIFY] = { "nosslverify", 1 },
	[G_CACERT] = { "cacert", 0 },
	[G_TIMEOUT] = { "timeout", 0 },
	[G_CONFIG] = { "config", 0 },
	[G_OUTPUT] = { "output", 0 },
};

#define GLOBAL_USAGE	"[-s socket] [--url URL [--user NAME]" \
	" [--password PASSWORD] [--cacert FILE] [--nosslverify]]" \
	" [--timeout SECONDS] [--config FILE] [-o json|table]"


static const struct token t_nodes[] = {
	{ "list", A_NODES_LIST, NULL, FM(F_SKIP) | FM(F_LIMIT), 0,
	    "list the nodes of the cluster and their status" },
	{ "get", A_NODES_GET, NULL, FM(F_ID), FM(F_ID),
	    "show one node" },
	{ "create", A_NODES_CREATE, NULL, FM(F_CSR) | FM(F_NEWNODEHOST) |
	    FM(F_PUBADDR) | FM(F_SHAREDHSM) | FM(F_OUT),
	    FM(F_CSR) | FM(F_NEWNODEHOST),
	    "sign a joining node's CSR (run on a member)" },
	{ "delete", A_NODES_DELETE, NULL, FM(F_ID) | FM(F_YES) | FM(F_FORCE) |
	    FM(F_DISCARD), FM(F_ID), "remove another node from the cluster" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_upgrade[] = {
	{ "status", A_UPGRADE_STATUS, NULL, 0, 0,
	    "the cluster's schema, each node's kmd, and whether an upgrade is"
	    " open" },
	{ "finish", A_UPGRADE_FINISH, NULL, FM(F_YES), 0,
	    "take the new schema step on every node at once, once every node"
	    " runs the new kmd" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_cluster[] = {
	{ "info", A_CLUSTER_INFO, NULL, 0, 0,
	    "show this node's cluster status" },
	{ "new", A_CLUSTER_NEW, NULL, FM(F_HOST) | FM(F_URL) | FM(F_PUBADDR),
	    FM(F_HOST) | FM(F_URL), "create a cluster with this node" },
	{ "csr", A_CLUSTER_CSR, NULL, FM(F_HOST) | FM(F_PUBADDR) | FM(F_OUT),
	    FM(F_HOST), "make this node's certificate request for a join" },
	{ "join", A_CLUSTER_JOIN, NULL, FM(F_MEMBER) | FM(F_HOST) |
	    FM(F_CERT) | FM(F_CACHAIN) | FM(F_MKEK) | FM(F_CREDENTIALS) |
	    FM(F_PUBADDR) | FM(F_YES) | FM(F_BLOCK), FM(F_MEMBER) | FM(F_HOST),
	    "join this node to a cluster" },
	{ "fulljoin", A_CLUSTER_FULLJOIN, NULL, FM(F_MEMBER) |
	    FM(F_NEWNODEHOST) | FM(F_NEWNODECONFIG) | FM(F_NEWNODEURL) |
	    FM(F_NEWNODEUSER) | FM(F_NEWNODEPASS) | FM(F_SHAREDHSM) | FM(F_YES),
	    FM(F_MEMBER) | FM(F_NEWNODEHOST),
	    "csr, nodes create and join in one step" },
	{ "summary", A_CLUSTER_SUMMARY, NULL, 0, 0,
	    "every node's view of every node" },
	{ "delete", A_CLUSTER_DELETE, NULL, FM(F_YES), 0,
	    "clear the cluster configuration of a removed node" },
	{ "verify", A_CLUSTER_VERIFY, NULL, 0, 0,
	    "compare the keys, users and nodes held on every node" },
	{ "nodes", A_NONE, t_nodes, 0, 0, "the nodes of the cluster" },
	{ "upgrade", A_NONE, t_upgrade, 0, 0, "upgrading the cluster's kmd" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_services[] = {
	{ "reset", A_SERVICES_RESET, NULL, FM(F_YES), 0,
	    "wipe this node to factory state" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_rotkeys[] = {
	{ "list", A_ROTKEYS_LIST, NULL, 0, 0, "list root-of-trust keys" },
	{ "rotate", A_ROTKEYS_ROTATE, NULL, FM(F_ID), 0,
	    "re-wrap the KEK under another root-of-trust key (no --id: a new"
	    " one)" },
	{ "delete", A_ROTKEYS_DELETE, NULL, FM(F_ID) | FM(F_YES), FM(F_ID),
	    "delete a root-of-trust key the KEK is no longer under" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_users[] = {
	{ "create", A_USERS_CREATE, NULL, FM(F_NAME) | FM(F_ROLE),
	    FM(F_NAME) | FM(F_ROLE), "add an API user with a role and a"
	    " password" },
	{ "list", A_USERS_LIST, NULL, 0, 0, "list the API users and roles" },
	{ "get", A_USERS_GET, NULL, FM(F_NAME), FM(F_NAME),
	    "show one API user" },
	{ "set-password", A_USERS_SETPW, NULL, FM(F_NAME), FM(F_NAME),
	    "set an API user's password (a new user is an admin)" },
	{ "set-role", A_USERS_SETROLE, NULL, FM(F_NAME) | FM(F_ROLE),
	    FM(F_NAME) | FM(F_ROLE), "change an API user's role" },
	{ "delete", A_USERS_DELETE, NULL, FM(F_NAME) | FM(F_YES), FM(F_NAME),
	    "delete an API user" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_alarms[] = {
	{ "list", A_ALARMS_LIST, NULL, FM(F_SKIP) | FM(F_LIMIT) | FM(F_ALL), 0,
	    "this node's active alarms (--all: cleared ones too)" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_keys[] = {
	{ "create", A_KEYS_CREATE, NULL, FM(F_NAME) | FM(F_ALGORITHM) |
	    FM(F_SIZE), FM(F_NAME), "make a key (AES, 256 bits unless --size)" },
	{ "list", A_KEYS_LIST, NULL, FM(F_SKIP) | FM(F_LIMIT), 0,
	    "list the keys, each at its latest version" },
	{ "get", A_KEYS_GET, NULL, FM(F_NAME), FM(F_NAME),
	    "show one key (--name: its name or id)" },
	{ "delete", A_KEYS_DELETE, NULL, FM(F_NAME) | FM(F_YES), FM(F_NAME),
	    "delete a key and all its versions" },
	{ "rotate", A_KEYS_ROTATE, NULL, FM(F_NAME), FM(F_NAME),
	    "add a version with new material" },
	{ "encrypt", A_KEYS_ENCRYPT, NULL, FM(F_NAME) | FM(F_PLAINTEXT),
	    FM(F_NAME) | FM(F_PLAINTEXT), "encrypt with the latest version" },
	{ "decrypt", A_KEYS_DECRYPT, NULL, FM(F_NAME) | FM(F_CIPHERTEXT),
	    FM(F_NAME) | FM(F_CIPHERTEXT),
	    "decrypt what keys encrypt made (plaintext in base64)" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_bkeys[] = {
	{ "create", A_BKEYS_CREATE, NULL, FM(F_DESCRIPTION), 0,
	    "make a backup key (the node's first is its default)" },
	{ "list", A_BKEYS_LIST, NULL, 0, 0, "this node's backup keys" },
	{ "get", A_BKEYS_GET, NULL, FM(F_ID), FM(F_ID), "show one backup key" },
	{ "delete", A_BKEYS_DELETE, NULL, FM(F_ID) | FM(F_YES) | FM(F_FORCE),
	    FM(F_ID), "destroy a backup key (--force: one never exported)" },
	{ "export", A_BKEYS_EXPORT, NULL, FM(F_ID) | FM(F_FILE),
	    FM(F_ID) | FM(F_FILE),
	    "write a backup key to FILE under a passphrase (asked twice)" },
	{ "import", A_BKEYS_IMPORT, NULL, FM(F_FILE) | FM(F_DESCRIPTION),
	    FM(F_FILE), "take an exported backup key (its passphrase asked)" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_backups[] = {
	{ "create", A_BACKUPS_CREATE, NULL, FM(F_BACKUPKEY) |
	    FM(F_DESCRIPTION), 0,
	    "back up the cluster's keys and users, here, sealed" },
	{ "list", A_BACKUPS_LIST, NULL, 0, 0, "the backups on this node" },
	{ "get", A_BACKUPS_GET, NULL, FM(F_ID), FM(F_ID), "show one backup" },
	{ "delete", A_BACKUPS_DELETE, NULL, FM(F_ID) | FM(F_YES), FM(F_ID),
	    "delete a backup file" },
	{ "download", A_BACKUPS_DOWNLOAD, NULL, FM(F_ID) | FM(F_FILE),
	    FM(F_ID) | FM(F_FILE), "copy a backup file out, to FILE" },
	{ "upload", A_BACKUPS_UPLOAD, NULL, FM(F_FILE), FM(F_FILE),
	    "add a backup file made elsewhere" },
	{ "restore", A_BACKUPS_RESTORE, NULL, FM(F_ID) | FM(F_YES), FM(F_ID),
	    "replace this node's keys and users with a backup's" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_completion[] = {
	{ "bash", A_COMPLETION, NULL, 0, 0,
	    "print bash completion for kmctl: . <(kmctl completion bash)" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

static const struct token t_main[] = {
	{ "cluster", A_NONE, t_cluster, 0, 0, "clusters and nodes" },
	{ "services", A_NONE, t_services, 0, 0, "this node's services" },
	{ "rot-keys", A_NONE, t_rotkeys, 0, 0, "root-of-trust keys" },
	{ "status", A_STATUS, NULL, 0, 0, "kmd's processes" },
	{ "version", A_VERSION, NULL, 0, 0,
	    "the versions of kmd, of its database schema and of kmctl" },
	{ "health", A_HEALTH, NULL, 0, 0,
	    "whether this node serves (exit 0), or why not (exit 2)" },
	{ "users", A_NONE, t_users, 0, 0,
	    "users of the HTTPS API (local socket only)" },
	{ "alarms", A_NONE, t_alarms, 0, 0, "this node's alarms" },
	{ "keys", A_NONE, t_keys, 0, 0, "the keys the cluster serves" },
	{ "backups", A_NONE, t_backups, 0, 0,
	    "this node's backups" },
	{ "backup-keys", A_NONE, t_bkeys, 0, 0,
	    "this node's backup keys" },
	{ "completion", A_NONE, t_completion, 0, 0,
	    "shell completion, made from these tables" },
	{ NULL, A_NONE, NULL, 0, 0, NULL }
};

const char *
flag_name(enum flag f)
{
	return (unsigned)f < F_MAX ? flags[f].name : "?";
}

const char *
gopt_name(enum gopt g)
{
	return (unsigned)g < G_MAX ? gopts[g].name : "?";
}

static int
perr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void
append(char *dst, size_t dstlen, const char *s)
{
	size_t	 used = strlen(dst);

	snprintf(dst + used, dstlen - used, "%s%s", used ? " " : "", s);
}

static void
choices(const struct token *t, char *buf, size_t len)
{
	buf[0] = '\0';
	for (; t->keyword != NULL; t++)
		append(buf, len, t->keyword);
}

/* Exact match wins; otherwise a unique prefix. */
static const struct token *
match(const struct token *table, const char *word, int *ambiguous)
{
	const struct token	*t, *found = NULL;
	size_t			 len = strlen(word);
	int			 n = 0;

	*ambiguous = 0;
	for (t = table; t->keyword != NULL; t++) {
		if (strcmp(t->keyword, word) == 0)
			return t;
		if (len > 0 && strncmp(t->keyword, word, len) == 0) {
			found = t;
			n++;
		}
	}
	if (n > 1)
		*ambiguous = 1;
	return n == 1 ? found : NULL;
}

static int
lookup_flag(const char *name)
{
	int	 f;

	if (strcmp(name, "y") == 0)
		return F_YES;
	for (f = 0; f < F_MAX; f++)
		if (strcmp(flags[f].name, name) == 0)
			return f;
	return -1;
}

static int
check_value(enum flag f, const char *v, char *err, size_t errlen)
{
	const char	*p;

	if (*v == '\0')
		return perr(err, errlen, "--%s needs a value", flags[f].name);
	switch (f) {
	case F_SKIP:
	case F_LIMIT:
		for (p = v; *p != '\0'; p++)
			if (!isdigit((unsigned char)*p))
				break;
		if (*p != '\0' || strlen(v) > 9)
			return perr(err, errlen, "--%s takes a whole number,"
			    " not '%s'", flags[f].name, v);
		break;
	case F_HOST:
	case F_NEWNODEHOST:
	case F_PUBADDR:
	case F_MEMBER:
		for (p = v; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) &&
			    strchr(".-:_", *p) == NULL)
				return perr(err, errlen, "--%s: '%s' is not an"
				    " address or host name", flags[f].name, v);
		break;
	case F_URL:
	case F_NEWNODEURL:
		if (strncmp(v, "https://", 8) != 0 || v[8] == '\0')
			return perr(err, errlen, "--%s: '%s' is not an"
			    " https:// URL", flags[f].name, v);
		break;
	default:
		break;
	}
	return 0;
}

/* "--name" or "--name=..." of a known flag (a PEM's dashes are not). */
static int
is_flag(const char *arg)
{
	char	 name[64];

	if (strncmp(arg, "--", 2) != 0)
		return 0;
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="),
	    arg + 2);
	return lookup_flag(name) != -1;
}

static void
flag_list(uint64_t mask, char *buf, size_t len)
{
	char	 one[64];
	int	 f;

	buf[0] = '\0';
	for (f = 0; f < F_MAX; f++)
		if (mask & FM(f)) {
			snprintf(one, sizeof(one), "--%s", flags[f].name);
			append(buf, len, one);
		}
	if (buf[0] == '\0')
		snprintf(buf, len, "(none)");
}

static int	parse_global(int, char *[], int *, struct parse_result *, char *,
		    size_t);

static int
parse_flags(int argc, char *argv[], int i, struct parse_result *res,
    char *err, size_t errlen)
{
	const struct token	*leaf = res->leaf;
	char			 name[64], list[512];
	const char		*arg, *eq, *val;
	int			 f, r;

	for (; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			res->help = 1;
			continue;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			flag_list(leaf->flags, list, sizeof(list));
			return perr(err, errlen, "%s: unexpected argument '%s';"
			    " valid flags: %s", res->path, arg, list);
		}
		arg += arg[1] == '-' ? 2 : 1;
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s",
		    (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
		f = lookup_flag(name);
		/* The command's own flags first: its --url is not kmctl's. */
		if (f == -1 || (leaf->flags & FM(f)) == 0) {
			if ((r = parse_global(argc, argv, &i, res, err,
			    errlen)) == -1)
				return -1;
			if (r == 1)
				continue;
		}
		if (f == -1 || (leaf->flags & FM(f)) == 0) {
			flag_list(leaf->flags, list, sizeof(list));
			return perr(err, errlen, "%s: unknown flag '%s'; valid"
			    " flags: %s", res->path, argv[i], list);
		}
		if (res->flag[f] != NULL)
			return perr(err, errlen, "%s: --%s given twice",
			    res->path, flags[f].name);
		if (flags[f].boolean) {
			if (eq != NULL)
				return perr(err, errlen, "%s: --%s takes no"
				    " value", res->path, flags[f].name);
			res->flag[f] = "";
			continue;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc && !is_flag(argv[i + 1]))
			val = argv[++i];
		else
			return perr(err, errlen, "%s: --%s needs a value",
			    res->path, flags[f].name);
		if (check_value(f, val, err, errlen) == -1)
			return -1;
		res->flag[f] = val;
	}
	if (res->help)
		return 0;
	for (f = 0; f < F_MAX; f++)
		if ((leaf->required & FM(f)) && res->flag[f] == NULL)
			return perr(err, errlen, "%s: --%s is required",
			    res->path, flags[f].name);
	return 0;
}

/*
 * A global option at argv[*i]: -s and its path, --url and friends.  1:
 * taken (*i on its last word), 0: not a global option, -1: err says why.
 */
static int
parse_global(int argc, char *argv[], int *i, struct parse_result *res,
    char *err, size_t errlen)
{
	const char	*arg = argv[*i], *eq;
	size_t		 n;
	int		 g;

	if (strcmp(arg, "-s") == 0) {		/* the last one counts */
		if (++*i == argc || argv[*i][0] == '\0')
			return perr(err, errlen, "-s needs a socket path");
		res->socket = argv[*i];
		return 1;
	}
	if (strcmp(arg, "-o") == 0)		/* --output's short form */
		arg = "--output";
	else if (strncmp(arg, "--", 2) != 0)
		return 0;
	eq = strchr(arg, '=');
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	for (g = 0; g < G_MAX; g++)
		if (n - 2 == strlen(gopts[g].name) && strncmp(arg + 2,
		    gopts[g].name, n - 2) == 0)
			break;
	if (g == G_MAX)
		return 0;
	if (res->global[g] != NULL)
		return perr(err, errlen, "--%s given twice", gopts[g].name);
	if (gopts[g].boolean) {
		if (eq != NULL)
			return perr(err, errlen, "--%s takes no value",
			    gopts[g].name);
		res->global[g] = "";
		return 1;
	}
	if (eq != NULL)
		res->global[g] = eq + 1;
	else if (*i + 1 < argc)
		res->global[g] = argv[++*i];
	else
		return perr(err, errlen, "--%s needs a value", gopts[g].name);
	return 1;
}

/* Global options before the command, and --help. */
static int
parse_globals(int argc, char *argv[], struct parse_result *res, char *err,
    size_t errlen)
{
	int	 i, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			res->help = 1;
			continue;
		}
		if ((r = parse_global(argc, argv, &i, res, err, errlen)) == -1)
			return -1;
		if (r == 0)
			return perr(err, errlen, "unknown option '%s'; usage:"
			    " kmctl %s command", argv[i], GLOBAL_USAGE);
	}
	return i;
}

/*
 * Returns 0 with res filled (res->help set: print usage for res->table
 * or res->leaf), or -1 with a one-line message in err.
 */
int
parse(int argc, char *argv[], struct parse_result *res, char *err,
    size_t errlen)
{
	const struct token	*table = t_main, *t;
	char			 list[256];
	int			 i, amb;

	memset(res, 0, sizeof(*res));
	if ((i = parse_globals(argc, argv, res, err, errlen)) == -1)
		return -1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			res->help = 1;
			continue;
		}
		if ((t = match(table, argv[i], &amb)) == NULL) {
			choices(table, list, sizeof(list));
			return perr(err, errlen, "%s%s%s '%s'; valid choices:"
			    " %s", res->path, res->path[0] ? ": " : "",
			    amb ? "ambiguous" : "unknown command", argv[i],
			    list);
		}
		append(res->path, sizeof(res->path), t->keyword);
		if (t->next == NULL) {
			res->leaf = t;
			res->action = t->action;
			return parse_flags(argc, argv, i + 1, res, err,
			    errlen);
		}
		table = t->next;
	}
	res->table = table;
	if (res->help)
		return 0;
	choices(table, list, sizeof(list));
	return perr(err, errlen, "%s%smissing command; valid choices: %s",
	    res->path, res->path[0] ? ": " : "", list);
}

static void
usage_leaf(FILE *f, const struct parse_result *res)
{
	const struct token	*t = res->leaf;
	int			 i;

	fprintf(f, "usage: kmctl [options] %s", res->path);
	for (i = 0; i < F_MAX; i++) {
		if ((t->flags & FM(i)) == 0)
			continue;
		if (flags[i].boolean)
			fprintf(f, " [--%s]", flags[i].name);
		else
			fprintf(f, (t->required & FM(i)) ? " --%s=%s" :
			    " [--%s=%s]", flags[i].name, flags[i].arg);
	}
	fprintf(f, "\n  %s\n", t->help);
}

void
parse_usage(FILE *f, const struct parse_result *res)
{
	const struct token	*t;

	if (res->leaf != NULL) {
		usage_leaf(f, res);
		return;
	}
	fprintf(f, "usage: kmctl [options] %s%scommand [flags]\n",
	    res->path, res->path[0] ? " " : "");
	if (res->path[0] == '\0')
		fprintf(f, "options: %s\n", GLOBAL_USAGE);
	fprintf(f, "commands:\n");
	for (t = res->table ? res->table : t_main; t->keyword != NULL; t++)
		fprintf(f, "  %-10s %s\n", t->keyword, t->help);
}

/* One case of the completion: the words after the command path. */
static void
compl_case(FILE *f, const char *path, const struct token *t)
{
	const struct token	*c;
	const char		*sep = "";
	int			 g;

	fprintf(f, "\t\"%s\") w=\"", path);
	if (t->next != NULL)
		for (c = t->next; c->keyword != NULL; c++, sep = " ")
			fprintf(f, "%s%s", sep, c->keyword);
	else {
		for (g = 0; g < F_MAX; g++)
			if (t->flags & FM(g)) {
				fprintf(f, "%s--%s%s", sep, flags[g].name,
				    flags[g].boolean ? "" : "=");
				sep = " ";
			}
	}
	if (path[0] == '\0')
		for (g = 0; g < G_MAX; g++)
			fprintf(f, " --%s", gopts[g].name);
	fprintf(f, "\" ;;\n");
	if (t->next != NULL)
		for (c = t->next; c->keyword != NULL; c++) {
			char	 sub[256];

			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    path[0] ? " " : "", c->keyword);
			compl_case(f, sub, c);
		}
}

/*
 * kmctl completion bash: a completion function made from the tables
 * above, so that it offers what this kmctl parses and nothing else.  The
 * words typed so far, less options and their values, are the command
 * path; what follows it is offered: its subcommands, or its flags.
 */
void
parse_completion_bash(FILE *f)
{
	const struct token	 root = { "", A_NONE, t_main, 0, 0, NULL };
	int			 g;

	fprintf(f, "# bash completion for kmctl, made by kmctl completion"
	    " bash\n_kmctl() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]}"
	    " path= i w skip=\n\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tw=${COMP_WORDS[i]}\n"
	    "\t\tif [ -n \"$skip\" ]; then skip=; continue; fi\n"
	    "\t\tcase $w in\n\t\t-s");
	for (g = 0; g < G_MAX; g++)
		if (!gopts[g].boolean)
			fprintf(f, "|--%s", gopts[g].name);
	for (g = 0; g < F_MAX; g++)
		if (!flags[g].boolean)
			fprintf(f, "|--%s", flags[g].name);
	fprintf(f, ") skip=1 ;;\n\t\t-*) ;;\n"
	    "\t\t*) path=\"${path:+$path }$w\" ;;\n\t\tesac\n\tdone\n"
	    "\tcase $path in\n");
	compl_case(f, "", &root);
	fprintf(f, "\t*) w= ;;\n\tesac\n"
	    "\tCOMPREPLY=($(compgen -W \"$w\" -- \"$cur\"))\n"
	    "\tcase ${COMPREPLY[0]} in *=) compopt -o nospace ;; esac\n}\n"
	    "complete -o default -F _kmctl kmctl\n");
}
