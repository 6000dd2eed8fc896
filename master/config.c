#include <sys/stat.h>

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define TOK_MAX		1024
#define LINE_TOKS	8
#define MAX_ERRORS	10

enum toktype { T_WORD, T_STRING, T_NUMBER };

struct token {
	enum toktype	 type;
	char		 text[TOK_MAX];
};

/*
 * Numeric settings: the words that name one, its unit and range, and
 * where it goes.  Each is one statement "words N".
 */
static const struct numkey {
	const char	*words;
	const char	*unit;
	long		 min, max;
	size_t		 off;
} numkeys[] = {
	{ "api token lifetime", "seconds", 10, 86400,
	    offsetof(struct kmd_conf, token_lifetime) },
	{ "api max-connections", "connections", 4, 65536,
	    offsetof(struct kmd_conf, api_max_conn) },
	{ "api read-timeout", "seconds", 2, 300,
	    offsetof(struct kmd_conf, api_read_timeout) },
	{ "api login-rate", "logins per second", 1, 10000,
	    offsetof(struct kmd_conf, api_login_rate) },
	{ "replmon interval", "milliseconds", 100, 60000,
	    offsetof(struct kmd_conf, rm_interval) },
	{ "replmon down-after", "milliseconds", 1000, 600000,
	    offsetof(struct kmd_conf, rm_down_after) },
	{ "alarm retained-wal", "megabytes", 1, 1048576,
	    offsetof(struct kmd_conf, alarm_wal_mb) },
	{ "alarm clock-skew", "milliseconds", 0, 3600000,
	    offsetof(struct kmd_conf, alarm_skew_ms) },
	{ "alarm cert-expiry", "days", 0, 3650,
	    offsetof(struct kmd_conf, alarm_cert_days) },
	{ "alarm disk-free", "percent", 0, 99,
	    offsetof(struct kmd_conf, alarm_disk_pct) },
	{ "wal max-retained", "megabytes", 0, 1048576,
	    offsetof(struct kmd_conf, wal_max_mb) },
	{ "pending-node lifetime", "seconds", 5, 604800,
	    offsetof(struct kmd_conf, pending_lifetime) },
	{ "join stall-after", "seconds", 10, 3600,
	    offsetof(struct kmd_conf, join_stall) },
	{ "backup keep", "backups", 1, 1000,
	    offsetof(struct kmd_conf, backup_keep) },
};
#define NNUMKEYS	(sizeof(numkeys) / sizeof(numkeys[0]))

enum { KEY_SOCKET, KEY_GROUP, KEY_USER, KEY_DATADIR, KEY_HOST, KEY_API,
	KEY_DBUSER, KEY_PGBIN, KEY_HSM_MODULE, KEY_HSM_TOKEN, KEY_HSM_PIN,
	KEY_HSM_KEY, KEY_NUM, KEY_MAX = KEY_NUM + NNUMKEYS };
static const char *keynames[] = {
	"socket", "socket group", "user", "datadir", "host", "api listen",
	"dbuser", "pgbin", "hsm module", "hsm token", "hsm pin-file", "hsm key"
};

struct parser {
	const char	*fname;
	const char	*p, *end;
	int		 line;
	char		*err;
	size_t		 errlen;
	int		 nerrors;
	int		 seen[KEY_MAX];	/* line a key was set on */
	struct kmd_conf	*conf;
};


static void
perr(struct parser *ps, const char *fmt, ...)
{
	size_t	 used;
	va_list	 ap;

	if (ps->errlen == 0) {
		ps->nerrors++;
		return;
	}
	used = strlen(ps->err);
	if (++ps->nerrors > MAX_ERRORS || used + 1 >= ps->errlen)
		return;
	if (used > 0)
		ps->err[used++] = '\n';
	snprintf(ps->err + used, ps->errlen - used, "%s:%d: ", ps->fname,
	    ps->line);
	used = strlen(ps->err);
	va_start(ap, fmt);
	vsnprintf(ps->err + used, ps->errlen - used, fmt, ap);
	va_end(ap);
}

static int
isword(int c)
{
	return c != '\0' && (isalnum(c) || strchr("_.:/-@", c) != NULL);
}

/* Read a quoted string; p is on the opening quote. */
static int
lex_string(struct parser *ps, struct token *t)
{
	size_t	 n = 0;

	t->type = T_STRING;
	for (ps->p++; ps->p < ps->end && *ps->p != '"'; ps->p++) {
		char c = *ps->p;

		if (c == '\n' || c == '\0') {
			perr(ps, "unterminated string");
			return -1;
		}
		if (c == '\\' && ps->p + 1 < ps->end &&
		    (ps->p[1] == '"' || ps->p[1] == '\\'))
			c = *++ps->p;
		if (n + 1 >= sizeof(t->text)) {
			perr(ps, "string longer than %d bytes", TOK_MAX - 1);
			return -1;
		}
		t->text[n++] = c;
	}
	if (ps->p >= ps->end) {
		perr(ps, "unterminated string");
		return -1;
	}
	ps->p++;
	t->text[n] = '\0';
	return 0;
}

/*
 * Split one line into tokens.  Returns the count, or -1 after reporting an
 * error (the rest of the line is skipped).  ps->p is left after the '\n'.
 */
static int
lex_line(struct parser *ps, struct token *toks)
{
	int	 n = 0, bad = 0;

	while (ps->p < ps->end && *ps->p != '\n') {
		unsigned char c = *ps->p;
		size_t len = 0;

		if (c == ' ' || c == '\t' || c == '\r') {
			ps->p++;
			continue;
		}
		if (c == '#')
			break;
		if (bad || n == LINE_TOKS) {
			if (!bad)
				perr(ps, "too many words on one line");
			bad = 1;
			ps->p++;
			continue;
		}
		if (c == '"') {
			if (lex_string(ps, &toks[n]) == -1)
				bad = 1;
			else
				n++;
			continue;
		}
		if (!isword(c)) {
			perr(ps, isprint(c) ? "unexpected character '%c'" :
			    "unexpected byte 0x%02x", c);
			bad = 1;
			continue;
		}
		toks[n].type = T_NUMBER;
		while (ps->p < ps->end && isword((unsigned char)*ps->p)) {
			if (!isdigit((unsigned char)*ps->p))
				toks[n].type = T_WORD;
			if (len + 1 >= TOK_MAX) {
				perr(ps, "word longer than %d bytes",
				    TOK_MAX - 1);
				bad = 1;
				break;
			}
			toks[n].text[len++] = *ps->p++;
		}
		toks[n++].text[len] = '\0';
	}
	while (ps->p < ps->end && *ps->p++ != '\n')
		;
	return bad ? -1 : n;
}

static int
is_kw(const struct token *t, const char *kw)
{
	return t->type == T_WORD && strcmp(t->text, kw) == 0;
}

/* Mark a key as set; complain about a second setting. */
static int
once(struct parser *ps, int key)
{
	if (ps->seen[key]) {
		perr(ps, "'%s' is already set at line %d", key >= KEY_NUM ?
		    numkeys[key - KEY_NUM].words : keynames[key],
		    ps->seen[key]);
		return -1;
	}
	ps->seen[key] = ps->line;
	return 0;
}

static int
set_str(struct parser *ps, char *dst, size_t dstlen, const struct token *t,
    const char *what)
{
	if (t->type == T_WORD && strcmp(t->text, "port") == 0) {
		perr(ps, "expected %s, got keyword 'port'", what);
		return -1;
	}
	if (t->text[0] == '\0') {
		perr(ps, "%s must not be empty", what);
		return -1;
	}
	if (strlen(t->text) >= dstlen) {
		perr(ps, "%s is longer than %zu bytes", what, dstlen - 1);
		return -1;
	}
	memcpy(dst, t->text, strlen(t->text) + 1);
	return 0;
}

static int
valid_host(const char *h)
{
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-:", *h) == NULL)
			return 0;
	return 1;
}

static int
check_path(struct parser *ps, const char *path, const char *what)
{
	if (path[0] != '/') {
		perr(ps, "%s must be an absolute path", what);
		return -1;
	}
	return 0;
}

static void
st_socket(struct parser *ps, struct token *t, int n)
{
	struct kmd_conf	*c = ps->conf;

	if (n >= 2 && is_kw(&t[1], "group")) {
		if (n != 3) {
			perr(ps, "expected: socket group \"name\"");
			return;
		}
		if (once(ps, KEY_GROUP) == 0 && set_str(ps, c->sockgroup,
		    sizeof(c->sockgroup), &t[2], "socket group") == 0 &&
		    getgrnam(c->sockgroup) == NULL)
			perr(ps, "socket group '%s' does not exist",
			    c->sockgroup);
		return;
	}
	if (n != 2) {
		perr(ps, "expected: socket \"/path/to/kmd.sock\"");
		return;
	}
	if (once(ps, KEY_SOCKET) == 0 && set_str(ps, c->socket,
	    sizeof(c->socket), &t[1], "socket path") == 0)
		check_path(ps, c->socket, "socket path");
}

/* A statement whose value is one string of struct kmd_conf. */
struct conf_str {
	const char	*word;
	int		 key;
	size_t		 off, len;	/* where, in struct kmd_conf */
};
#define CONF_STR(f)	offsetof(struct kmd_conf, f), \
			    sizeof(((struct kmd_conf *)0)->f)

/* user|datadir|host|dbuser|pgbin "value" */
static const struct conf_str simple[] = {
	{ "user",	KEY_USER,	CONF_STR(user) },
	{ "datadir",	KEY_DATADIR,	CONF_STR(datadir) },
	{ "host",	KEY_HOST,	CONF_STR(host) },
	{ "dbuser",	KEY_DBUSER,	CONF_STR(dbuser) },
	{ "pgbin",	KEY_PGBIN,	CONF_STR(pgbin) },
};

static void
st_simple(struct parser *ps, struct token *t, int n, const struct conf_str *s)
{
	char	*dst = (char *)ps->conf + s->off;
	int	 key = s->key;

	if (n != 2) {
		perr(ps, "expected: %s \"value\"", keynames[key]);
		return;
	}
	if (once(ps, key) == -1 || set_str(ps, dst, s->len, &t[1],
	    keynames[key]) == -1)
		return;
	if (key == KEY_DATADIR || key == KEY_PGBIN)
		check_path(ps, dst, keynames[key]);
	else if (key == KEY_HOST && !valid_host(dst))
		perr(ps, "host '%s' is not an address or host name", dst);
}

/* Does the statement start with these words (space-separated)? */
static int
starts_with(const struct token *t, int n, const char *words, int *nwords)
{
	char	 w[64], *p, *save = NULL;
	int	 i = 0;

	kmd_strlcpy(w, words, sizeof(w));
	for (p = strtok_r(w, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save), i++)
		if (i >= n || !is_kw(&t[i], p))
			return 0;
	*nwords = i;
	return 1;
}

/* A numeric setting: "words N", N within its range.  0: not one. */
static int
st_num(struct parser *ps, struct token *t, int n)
{
	const struct numkey	*k;
	size_t			 i;
	long			 v;
	int			 nw;

	for (i = 0; i < NNUMKEYS; i++)
		if (starts_with(t, n, numkeys[i].words, &nw))
			break;
	if (i == NNUMKEYS)
		return 0;
	k = &numkeys[i];
	if (n != nw + 1) {
		perr(ps, "expected: %s %s", k->words, k->unit);
		return 1;
	}
	if (once(ps, KEY_NUM + i) == -1)
		return 1;
	v = t[nw].type == T_NUMBER && strlen(t[nw].text) <= 9 ?
	    strtol(t[nw].text, NULL, 10) : -1;
	if (v < k->min || v > k->max)
		perr(ps, "%s must be from %ld to %ld %s, not '%s'", k->words,
		    k->min, k->max, k->unit, t[nw].text);
	else
		*(int *)((char *)ps->conf + k->off) = (int)v;
	return 1;
}

static void
st_api(struct parser *ps, struct token *t, int n)
{
	struct kmd_conf	*c = ps->conf;
	long		 port;

	if (n >= 2 && is_kw(&t[1], "token")) {
		perr(ps, "expected: api token lifetime seconds");
		return;
	}
	if (n < 3 || !is_kw(&t[1], "listen") || (n != 3 && n != 5) ||
	    (n == 5 && !is_kw(&t[3], "port"))) {
		perr(ps, "expected: api listen \"address\" [port number]");
		return;
	}
	if (once(ps, KEY_API) == -1 || set_str(ps, c->api_addr,
	    sizeof(c->api_addr), &t[2], "api listen address") == -1)
		return;
	if (!valid_host(c->api_addr))
		perr(ps, "api listen '%s' is not an address or host name",
		    c->api_addr);
	if (n == 3)
		return;
	port = t[4].type == T_NUMBER && strlen(t[4].text) <= 5 ?
	    strtol(t[4].text, NULL, 10) : -1;
	if (port < 1 || port > 65535)
		perr(ps, "port must be a number from 1 to 65535, not '%s'",
		    t[4].text);
	else
		c->api_port = (uint16_t)port;
}

/* hsm module|token|pin-file|key "value" */
static void
st_hsm(struct parser *ps, struct token *t, int n)
{
	struct kmd_conf	*c = ps->conf;
	static const struct conf_str sub[] = {
		{ "module",	KEY_HSM_MODULE,	CONF_STR(hsm_module) },
		{ "token",	KEY_HSM_TOKEN,	CONF_STR(hsm_token) },
		{ "pin-file",	KEY_HSM_PIN,	CONF_STR(hsm_pinfile) },
		{ "key",	KEY_HSM_KEY,	CONF_STR(hsm_key) },
	};
	size_t	 i;

	for (i = 0; n >= 2 && i < sizeof(sub) / sizeof(sub[0]); i++)
		if (is_kw(&t[1], sub[i].word))
			break;
	if (n != 3 || i == sizeof(sub) / sizeof(sub[0])) {
		perr(ps, "expected: hsm module|token|pin-file|key \"value\"");
		return;
	}
	if (once(ps, sub[i].key) == -1 || set_str(ps, (char *)c + sub[i].off,
	    sub[i].len, &t[2], keynames[sub[i].key]) == -1)
		return;
	if (sub[i].key == KEY_HSM_MODULE || sub[i].key == KEY_HSM_PIN)
		check_path(ps, (char *)c + sub[i].off, keynames[sub[i].key]);
}

static void
statement(struct parser *ps, struct token *t, int n)
{
	size_t	 i;

	if (t[0].type != T_WORD) {
		perr(ps, "expected a keyword, got '%s'", t[0].text);
		return;
	}
	if (st_num(ps, t, n))
		return;
	for (i = 0; i < nitems(simple); i++)
		if (strcmp(t[0].text, simple[i].word) == 0) {
			st_simple(ps, t, n, &simple[i]);
			return;
		}
	if (strcmp(t[0].text, "socket") == 0)
		st_socket(ps, t, n);
	else if (strcmp(t[0].text, "api") == 0)
		st_api(ps, t, n);
	else if (strcmp(t[0].text, "hsm") == 0)
		st_hsm(ps, t, n);
	else if (strcmp(t[0].text, "replmon") == 0 ||
	    strcmp(t[0].text, "alarm") == 0 ||
	    strcmp(t[0].text, "wal") == 0 ||
	    strcmp(t[0].text, "pending-node") == 0 ||
	    strcmp(t[0].text, "join") == 0)
		perr(ps, "expected: %s followed by one of its settings (see"
		    " kmd.conf(5))", t[0].text);
	else
		perr(ps, "unknown keyword '%s' (expected one of: socket, user,"
		    " datadir, host, api, dbuser, pgbin, hsm, replmon, alarm,"
		    " wal, pending-node, join)", t[0].text);
}

void
conf_defaults(struct kmd_conf *c)
{
	memset(c, 0, sizeof(*c));
	kmd_strlcpy(c->socket, "/run/kmd/kmd.sock", sizeof(c->socket));
	kmd_strlcpy(c->user, "_kmd", sizeof(c->user));
	kmd_strlcpy(c->datadir, "/var/lib/kmd", sizeof(c->datadir));
	kmd_strlcpy(c->host, "127.0.0.1", sizeof(c->host));
	kmd_strlcpy(c->api_addr, "127.0.0.1", sizeof(c->api_addr));
	c->api_port = 8443;
	c->token_lifetime = 3600;
	c->api_max_conn = 1024;
	c->api_read_timeout = 10;
	c->api_login_rate = 20;
	c->rm_interval = 1000;
	c->rm_down_after = 1250;
	c->alarm_wal_mb = 1024;
	c->alarm_skew_ms = 2000;
	c->alarm_cert_days = 30;
	c->alarm_disk_pct = 10;
	c->pending_lifetime = 3600;
	c->join_stall = 60;
	c->backup_keep = 10;
	kmd_strlcpy(c->dbuser, "postgres", sizeof(c->dbuser));
	kmd_strlcpy(c->pgbin, "/usr/lib/postgresql/15/bin", sizeof(c->pgbin));
	kmd_strlcpy(c->hsm_key, "kmd-rot", sizeof(c->hsm_key));
}

/*
 * Parse a config held in memory.  On success fills *conf (defaults for
 * what is not set) and returns 0; otherwise returns -1 with one
 * "file:line: message" per error in err, and *conf untouched.
 */
int
conf_parse_buf(const char *fname, const char *buf, size_t len,
    struct kmd_conf *conf, char *err, size_t errlen)
{
	struct token		 toks[LINE_TOKS];
	struct parser		 ps;
	struct kmd_conf		 c;
	int			 n;

	memset(&ps, 0, sizeof(ps));
	ps.fname = fname;
	ps.p = buf;
	ps.end = buf + len;
	ps.err = err;
	ps.errlen = errlen;
	ps.conf = &c;
	if (errlen > 0)
		err[0] = '\0';
	conf_defaults(&c);
	while (ps.p < ps.end) {
		ps.line++;
		if ((n = lex_line(&ps, toks)) > 0)
			statement(&ps, toks, n);
	}
	if (ps.nerrors == 0 && (c.hsm_module[0] != '\0' || c.hsm_token[0] !=
	    '\0' || c.hsm_pinfile[0] != '\0') && (c.hsm_module[0] == '\0' ||
	    c.hsm_token[0] == '\0' || c.hsm_pinfile[0] == '\0')) {
		perr(&ps, "hsm module, hsm token and hsm pin-file go together:"
		    " set all three, or none for the software root of trust");
	}
	if (ps.nerrors > 0)
		return -1;
	*conf = c;
	return 0;
}

int
conf_load(const char *path, struct kmd_conf *conf, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	int		 fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d"
		    " bytes", path, CONF_FILE_MAX);
		close(fd);
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return -1;
	}
	r = conf_parse_buf(path, buf, n, conf, err, errlen);
	free(buf);
	return r;
}

static void	print_str(FILE *, const char *);

/* One setting: its words and its quoted value, a line. */
static void
print_line(FILE *f, const char *words, const char *value)
{
	fprintf(f, "%s ", words);
	print_str(f, value);
	fputc('\n', f);
}

static void
print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Print the config back in config syntax (kmd -n). */
void
conf_print(FILE *f, const struct kmd_conf *c)
{
	size_t	 i;

	print_line(f, "socket", c->socket);
	if (c->sockgroup[0] != '\0')
		print_line(f, "socket group", c->sockgroup);
	print_line(f, "user", c->user);
	print_line(f, "datadir", c->datadir);
	print_line(f, "host", c->host);
	fputs("api listen ", f);
	print_str(f, c->api_addr);
	fprintf(f, " port %u\n", c->api_port);
	print_line(f, "dbuser", c->dbuser);
	print_line(f, "pgbin", c->pgbin);
	for (i = 0; i < NNUMKEYS; i++)
		fprintf(f, "%s %d\n", numkeys[i].words,
		    *(const int *)((const char *)c + numkeys[i].off));
	if (c->hsm_module[0] != '\0') {
		print_line(f, "hsm module", c->hsm_module);
		print_line(f, "hsm token", c->hsm_token);
		print_line(f, "hsm pin-file", c->hsm_pinfile);
	}
	print_line(f, "hsm key", c->hsm_key);
}
