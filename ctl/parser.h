/*
 * kmctl's command line as a static tree of keyword tables (bgpctl-style).
 * A leaf names an action and the flags it takes; parse() walks argv down
 * the tree (a unique prefix of a keyword is enough), then reads the leaf's
 * flags into a parse_result.  Pure: no I/O but the usage printer.
 */
#ifndef KMCTL_PARSER_H
#define KMCTL_PARSER_H

#include <stdint.h>
#include <stdio.h>

enum action {
	A_NONE = 0,
	A_STATUS,
	A_CLUSTER_INFO,
	A_CLUSTER_NEW,
	A_CLUSTER_CSR,
	A_CLUSTER_JOIN,
	A_CLUSTER_FULLJOIN,
	A_CLUSTER_SUMMARY,
	A_CLUSTER_DELETE,
	A_CLUSTER_VERIFY,
	A_UPGRADE_STATUS,
	A_UPGRADE_FINISH,
	A_NODES_LIST,
	A_NODES_GET,
	A_NODES_CREATE,
	A_NODES_DELETE,
	A_SERVICES_RESET,
	A_ROTKEYS_LIST,
	A_ROTKEYS_ROTATE,
	A_ROTKEYS_DELETE,
	A_USERS_SETPW, A_USERS_CREATE, A_USERS_SETROLE, A_USERS_DELETE,
	A_USERS_LIST, A_USERS_GET,
	A_ALARMS_LIST,
	A_KEYS_CREATE,
	A_KEYS_LIST,
	A_KEYS_GET,
	A_KEYS_DELETE,
	A_KEYS_ROTATE,
	A_KEYS_ENCRYPT,
	A_KEYS_DECRYPT,
	A_BKEYS_CREATE, A_BKEYS_LIST, A_BKEYS_GET, A_BKEYS_DELETE,
	A_BKEYS_EXPORT, A_BKEYS_IMPORT,
	A_BACKUPS_CREATE, A_BACKUPS_LIST, A_BACKUPS_GET, A_BACKUPS_DELETE,
	A_BACKUPS_DOWNLOAD, A_BACKUPS_UPLOAD, A_BACKUPS_RESTORE,
	A_VERSION,
	A_HEALTH,
	A_COMPLETION,		/* kmctl alone: no request */
	A_MAX
};

enum flag {
	F_HOST, F_URL, F_PUBADDR, F_MEMBER, F_CERT, F_CACHAIN, F_MKEK, F_CSR,
	F_NEWNODEHOST, F_NEWNODECONFIG, F_NEWNODEURL, F_NEWNODEUSER,
	F_NEWNODEPASS, F_ID, F_SKIP, F_LIMIT, F_SHAREDHSM, F_YES, F_BLOCK,
	F_FORCE, F_NAME, F_ALL, F_ALGORITHM, F_SIZE, F_PLAINTEXT, F_CIPHERTEXT,
	F_ROLE, F_OUT, F_CREDENTIALS, F_FILE, F_DESCRIPTION, F_BACKUPKEY,
	F_DISCARD,
	F_MAX
};

/* Global options, before the command words: where and how to connect. */
enum gopt {
	G_URL, G_USER, G_PASSWORD, G_NOSSLVERIFY, G_CACERT, G_TIMEOUT,
	G_CONFIG, G_OUTPUT, G_MAX
};
#define FM(f)	((uint64_t)1 << (f))

struct token {
	const char		*keyword;
	enum action		 action;	/* leaves */
	const struct token	*next;		/* inner nodes */
	uint64_t		 flags;		/* allowed */
	uint64_t		 required;
	const char		*help;
};

struct parse_result {
	enum action		 action;
	const char		*flag[F_MAX];	/* NULL: not given */
	const char		*socket;	/* -s */
	const char		*global[G_MAX];	/* NULL: not given */
	int			 help;		/* --help: print, exit 0 */
	const struct token	*table;		/* level --help was given at */
	const struct token	*leaf;
	char			 path[128];	/* "cluster nodes get" */
};

int	 parse(int, char *[], struct parse_result *, char *, size_t);
void	 parse_usage(FILE *, const struct parse_result *);
void	 parse_completion_bash(FILE *);
const char *flag_name(enum flag);
const char *gopt_name(enum gopt);

#endif
