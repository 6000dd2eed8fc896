/*
 * kmctl's arguments: each command's typed request, built from the
 * parsed command line (build_*), and its REST form (rest_*: the path and
 * JSON body the same request becomes with --url).  The operation
 * catalogue (common/ops.h) names which builder and REST form a command
 * uses.  Also die() and the confirmation question every part asks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yajl_gen.h>

#include "kmctl.h"
#include "proto.h"
#include "util.h"

static const int	keys_ops[A_MAX] = {
	[A_KEYS_CREATE] = KEYS_CREATE, [A_KEYS_LIST] = KEYS_LIST,
	[A_KEYS_GET] = KEYS_GET, [A_KEYS_DELETE] = KEYS_DELETE,
	[A_KEYS_ROTATE] = KEYS_ROTATE, [A_KEYS_ENCRYPT] = KEYS_ENCRYPT,
	[A_KEYS_DECRYPT] = KEYS_DECRYPT,
};

/*
 * The string member key of the JSON object text (from file, for the
 * errors) into dst; text and dst may be the same buffer.
 */
static void
json_member(char *dst, size_t len, const char *text, const char *key,
    const char *file)
{
	const char	*path[] = { key, NULL };
	char		 err[128];
	yajl_val	 doc, v;

	if ((doc = yajl_tree_parse(text, err, sizeof(err))) == NULL)
		die("--%s: %s is neither PEM nor JSON: %s", key, file, err);
	if ((v = yajl_tree_get(doc, path, yajl_t_string)) == NULL) {
		yajl_tree_free(doc);
		die("%s: no string \"%s\" in it (the JSON of cluster csr or"
		    " cluster nodes create)", file, key);
	}
	if (kmd_strlcpy(dst, YAJL_GET_STRING(v), len) >= len) {
		yajl_tree_free(doc);
		die("%s: \"%s\" is longer than %zu bytes", file, key, len - 1);
	}
	yajl_tree_free(doc);
}

/* Copy a flag into a fixed field, or say which flag is too long. */
void
field(char *dst, size_t len, const char *v, const char *flag)
{
	if (v != NULL && kmd_strlcpy(dst, v, len) >= len)
		die("--%s is longer than %zu bytes", flag, len - 1);
}

int
build_new(const struct parse_result *res, void *buf, size_t *len)
{
	struct cluster_new	*cn = buf;

	memset(cn, 0, sizeof(*cn));
	field(cn->host, sizeof(cn->host), res->flag[F_HOST], "host");
	field(cn->url, sizeof(cn->url), res->flag[F_URL], "url");
	field(cn->pubaddr, sizeof(cn->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	*len = sizeof(*cn);
	return 0;
}

int
build_csr(const struct parse_result *res, void *buf, size_t *len)
{
	struct cluster_csr	*cc = buf;

	memset(cc, 0, sizeof(*cc));
	field(cc->host, sizeof(cc->host), res->flag[F_HOST], "host");
	field(cc->pubaddr, sizeof(cc->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	*len = sizeof(*cc);
	return 0;
}

/* A PEM given inline, or the name of a file holding it. */
static void
pem_arg(char *dst, size_t len, const char *v, const char *flag)
{
	FILE	*f;
	size_t	 n;

	if (strncmp(v, "-----BEGIN ", 11) == 0) {
		field(dst, len, v, flag);
		return;
	}
	if ((f = fopen(v, "re")) == NULL)
		die("--%s: cannot read %s: %s", flag, v, strerror(errno));
	n = fread(dst, 1, len - 1, f);
	if (ferror(f) || (n == len - 1 && fgetc(f) != EOF))
		die("--%s: %s is not a PEM file of at most %zu bytes", flag, v,
		    len - 1);
	fclose(f);
	dst[n] = '\0';
	/* what cluster csr or nodes create printed (--out): its member */
	if (dst[strspn(dst, " \t\r\n")] == '{')
		json_member(dst, len, dst, flag, v);
	if (strstr(dst, "-----BEGIN ") == NULL)
		die("--%s: %s holds no PEM block", flag, v);
}

#define CREDENTIALS_MAX	(64 * 1024)

/* cluster join --credentials=FILE: cert, cachain and mkek_blob from it. */
static void
credentials(struct cluster_join *cj, const char *file)
{
	char	*text;
	FILE	*f;
	size_t	 n;

	if ((text = calloc(1, CREDENTIALS_MAX + 1)) == NULL)
		die("out of memory");
	if ((f = fopen(file, "re")) == NULL)
		die("--credentials: cannot read %s: %s", file, strerror(errno));
	n = fread(text, 1, CREDENTIALS_MAX, f);
	if (ferror(f) || (n == CREDENTIALS_MAX && fgetc(f) != EOF))
		die("--credentials: %s is more than %d bytes", file,
		    CREDENTIALS_MAX);
	fclose(f);
	json_member(cj->cert, sizeof(cj->cert), text, "cert", file);
	json_member(cj->cachain, sizeof(cj->cachain), text, "cachain", file);
	json_member(cj->mkek_blob, sizeof(cj->mkek_blob), text, "mkek_blob",
	    file);
	explicit_bzero(text, CREDENTIALS_MAX);
	free(text);
}

int
build_create(const struct parse_result *res, void *buf, size_t *len)
{
	struct nodes_create	*nc = buf;

	memset(nc, 0, sizeof(*nc));
	pem_arg(nc->csr, sizeof(nc->csr), res->flag[F_CSR], "csr");
	field(nc->host, sizeof(nc->host), res->flag[F_NEWNODEHOST],
	    "newnodehost");
	field(nc->pubaddr, sizeof(nc->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	nc->shared_hsm = res->flag[F_SHAREDHSM] != NULL;
	*len = sizeof(*nc);
	return 0;
}

int
build_join(const struct parse_result *res, void *buf, size_t *len)
{
	struct cluster_join	*cj = buf;

	memset(cj, 0, sizeof(*cj));
	field(cj->member, sizeof(cj->member), res->flag[F_MEMBER], "member");
	field(cj->host, sizeof(cj->host), res->flag[F_HOST], "host");
	field(cj->pubaddr, sizeof(cj->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	if (res->flag[F_CREDENTIALS] != NULL) {
		if (res->flag[F_CERT] != NULL || res->flag[F_CACHAIN] != NULL ||
		    res->flag[F_MKEK] != NULL)
			die("%s: give --credentials, or --cert, --cachain and"
			    " --mkek-blob, not both", res->path);
		credentials(cj, res->flag[F_CREDENTIALS]);
	} else {
		if (res->flag[F_CERT] == NULL || res->flag[F_CACHAIN] == NULL ||
		    res->flag[F_MKEK] == NULL)
			die("%s: --credentials=FILE (what cluster nodes create"
			    " --out wrote) is required, or --cert, --cachain and"
			    " --mkek-blob", res->path);
		pem_arg(cj->cert, sizeof(cj->cert), res->flag[F_CERT], "cert");
		pem_arg(cj->cachain, sizeof(cj->cachain), res->flag[F_CACHAIN],
		    "cachain");
		field(cj->mkek_blob, sizeof(cj->mkek_blob), res->flag[F_MKEK],
		    "mkek-blob");
	}
	cj->preflight_only = 1;		/* main() asks, then joins */
	*len = sizeof(*cj);
	return 0;
}

/* A node id: a UUID, with or without its dashes; kept with them. */
static void
node_id(char *dst, size_t len, const char *v)
{
	char	 hex[33];
	size_t	 i, n = 0;

	for (i = 0; v[i] != '\0' && n < 33; i++) {
		if (v[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23))
			continue;
		if (!isxdigit((unsigned char)v[i]))
			break;
		hex[n++] = tolower((unsigned char)v[i]);
	}
	if (v[i] != '\0' || n != 32)
		die("--id: '%s' is not a node id (a UUID, as cluster nodes"
		    " list shows them)", v);
	snprintf(dst, len, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
	    hex + 12, hex + 16, hex + 20);
}

int
build_nodes(const struct parse_result *res, void *buf, size_t *len)
{
	struct nodes_query	*q = buf;

	memset(q, 0, sizeof(*q));
	q->skip = res->flag[F_SKIP] ? atoi(res->flag[F_SKIP]) : 0;
	q->limit = res->flag[F_LIMIT] ? atoi(res->flag[F_LIMIT]) : 256;
	if (q->limit > 1000)
		die("--limit is at most 1000");
	if (res->flag[F_ID] != NULL)
		node_id(q->id, sizeof(q->id), res->flag[F_ID]);
	*len = sizeof(*q);
	return 0;
}

int
build_alarms(const struct parse_result *res, void *buf, size_t *len)
{
	struct alarms_query	*q = buf;

	memset(q, 0, sizeof(*q));
	q->skip = res->flag[F_SKIP] ? atoi(res->flag[F_SKIP]) : 0;
	q->limit = res->flag[F_LIMIT] ? atoi(res->flag[F_LIMIT]) : 256;
	if (q->limit > 1000)
		die("--limit is at most 1000");
	q->all = res->flag[F_ALL] != NULL;
	*len = sizeof(*q);
	return 0;
}

int
build_delete(const struct parse_result *res, void *buf, size_t *len)
{
	struct nodes_delete	*nd = buf;

	memset(nd, 0, sizeof(*nd));
	node_id(nd->id, sizeof(nd->id), res->flag[F_ID]);
	nd->force = res->flag[F_FORCE] != NULL;
	nd->discard = res->flag[F_DISCARD] != NULL;
	if (nd->discard && !nd->force)
		die("--discard-unsent goes with --force: it is about a node"
		    " removed although it cannot catch up");
	*len = sizeof(*nd);
	return 0;
}

int
build_rotkeys(const struct parse_result *res, void *buf, size_t *len)
{
	struct rotkeys_req	*rq = buf;
	const char		*p;

	memset(rq, 0, sizeof(rq[0]));
	rq->rotate = res->action == A_ROTKEYS_ROTATE ? ROTKEYS_ROTATE :
	    res->action == A_ROTKEYS_DELETE ? ROTKEYS_DELETE : ROTKEYS_LIST;
	field(rq->id, sizeof(rq->id), res->flag[F_ID], "id");
	for (p = rq->id; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			die("--id: '%s' is not a key name (letters, digits, '.',"
			    " '_' and '-')", rq->id);
	*len = sizeof(*rq);
	return 0;
}

/* A key's name (letters, digits, '.', '_', '-', a letter or digit first)
 * or id (a UUID): safe in a URL path as it is. */
static void
key_name(char *dst, size_t len, const char *v)
{
	const char	*p;

	field(dst, len, v, "name");
	for (p = dst; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && (p == dst ||
		    strchr("._-", *p) == NULL))
			die("--name: '%s' is not a key name (a letter or digit,"
			    " then letters, digits, '.', '_' and '-') or id",
			    dst);
}

int
build_keys(const struct parse_result *res, void *buf, size_t *len)
{
	struct keys_req	*rq = buf;
	const char	*v;
	char		*end;
	long		 n;

	memset(rq, 0, sizeof(*rq));
	rq->op = keys_ops[res->action];
	if (res->flag[F_NAME] != NULL)
		key_name(rq->name, sizeof(rq->name), res->flag[F_NAME]);
	field(rq->algorithm, sizeof(rq->algorithm), res->flag[F_ALGORITHM],
	    "algorithm");
	if ((v = res->flag[F_SIZE]) != NULL) {
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || (n != 128 && n != 192 &&
		    n != 256))
			die("--size: an AES key has 128, 192 or 256 bits");
		rq->size = (int32_t)n;
	}
	rq->skip = res->flag[F_SKIP] ? atoi(res->flag[F_SKIP]) : 0;
	rq->limit = res->flag[F_LIMIT] ? atoi(res->flag[F_LIMIT]) : 256;
	if (rq->limit < 1 || rq->limit > 1000 || rq->skip < 0)
		die("--limit is from 1 to 1000, --skip at least 0");
	if ((v = res->flag[F_PLAINTEXT]) != NULL) {
		if (strlen(v) > KMD_CRYPT_MAX)
			die("--plaintext is longer than %d bytes",
			    KMD_CRYPT_MAX);
		EVP_EncodeBlock((unsigned char *)rq->data,
		    (const unsigned char *)v, (int)strlen(v));
	}
	field(rq->data, sizeof(rq->data), res->flag[F_CIPHERTEXT],
	    "ciphertext");
	*len = sizeof(*rq);
	return 0;
}

/* The password comes from the terminal (asked twice) or one stdin line. */
int
build_user(const struct parse_result *res, void *buf, size_t *len)
{
	struct user_set	*u = buf;
	char		 again[KMD_PASSWORD_MAX];
	const char	*p;

	memset(u, 0, sizeof(*u));
	switch (res->action) {
	case A_USERS_CREATE:
		u->op = USER_CREATE;
		break;
	case A_USERS_SETROLE:
		u->op = USER_SETROLE;
		break;
	case A_USERS_DELETE:
		u->op = USER_DELETE;
		break;
	case A_USERS_LIST:
		u->op = USER_LIST;
		*len = sizeof(*u);
		return 0;
	case A_USERS_GET:
		u->op = USER_GET;
		break;
	default:
		u->op = USER_SETPW;
		break;
	}
	field(u->name, sizeof(u->name), res->flag[F_NAME], "name");
	for (p = u->name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			die("--name: '%s' is not a user name (letters, digits,"
			    " '.', '_' and '-')", u->name);
	if (res->flag[F_ROLE] != NULL) {
		if (role_parse(res->flag[F_ROLE]) == -1)
			die("--role: '%s' is not a role (admin, keys or"
			    " viewer)", res->flag[F_ROLE]);
		field(u->role, sizeof(u->role), res->flag[F_ROLE], "role");
	}
	*len = sizeof(*u);
	if (u->op != USER_SETPW && u->op != USER_CREATE)
		return 0;
	read_password("New password: ", u->password, sizeof(u->password));
	if (isatty(STDIN_FILENO)) {
		read_password("Again: ", again, sizeof(again));
		if (strcmp(again, u->password) != 0)
			die("the passwords do not match; nothing changed");
		explicit_bzero(again, sizeof(again));
	}
	if (strlen(u->password) < 8)
		die("the password must have at least 8 characters");
	return 0;
}

/* cluster new: {"host","url","publicAddress"}, the names the API takes. */
int
rest_new(const void *req, struct rest_req *rr)
{
	const struct cluster_new	*cn = req;
	const char			*kv[] = {
		"host", cn->host, "url", cn->url,
		"publicAddress", cn->pubaddr[0] ? cn->pubaddr : NULL,
	};

	return rest_body(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

int
rest_csr(const void *req, struct rest_req *rr)
{
	const struct cluster_csr	*cc = req;
	const char			*kv[] = {
		"host", cc->host,
		"publicAddress", cc->pubaddr[0] ? cc->pubaddr : NULL,
	};

	return rest_body(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

int
rest_create(const void *req, struct rest_req *rr)
{
	const struct nodes_create	*nc = req;
	const char			*kv[] = {
		"csr", nc->csr, "newnodehost", nc->host,
		"publicAddress", nc->pubaddr[0] ? nc->pubaddr : NULL,
	};

	return rest_body_flag(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2,
	    "sharedHsmPartition", nc->shared_hsm);
}

int
rest_join(const void *req, struct rest_req *rr)
{
	const struct cluster_join	*cj = req;
	const char			*kv[] = {
		"member", cj->member, "host", cj->host,
		"publicAddress", cj->pubaddr[0] ? cj->pubaddr : NULL,
		"cert", cj->cert, "cachain", cj->cachain,
		"mkek_blob", cj->mkek_blob,
	};

	return rest_body_flag(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2,
	    "preflightOnly", cj->preflight_only);
}

int
rest_nodes(const void *req, struct rest_req *rr)
{
	const struct nodes_query	*q = req;
	int				 n;

	if (q->id[0] != '\0')
		n = snprintf(rr->path, sizeof(rr->path), "nodes/%s", q->id);
	else
		n = snprintf(rr->path, sizeof(rr->path),
		    "nodes?skip=%d&limit=%d", q->skip, q->limit);
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

int
rest_alarms(const void *req, struct rest_req *rr)
{
	const struct alarms_query	*q = req;
	int				 n;

	n = snprintf(rr->path, sizeof(rr->path), "alarms?skip=%d&limit=%d%s",
	    q->skip, q->limit, q->all ? "&all=1" : "");
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

int
rest_delete(const void *req, struct rest_req *rr)
{
	const struct nodes_delete	*nd = req;
	int				 n;

	n = snprintf(rr->path, sizeof(rr->path), "nodes/%s%s%s", nd->id,
	    nd->force ? "?force=1" : "", nd->discard ? "&discardunsent=1" :
	    "");
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

/*
 * health over REST: every state answered 200, so that the body is read as
 * an answer, not an error; kmctl's exit status says whether it serves.
 */
int
rest_health(const void *req, struct rest_req *rr)
{
	(void)req;
	kmd_strlcpy(rr->path, "system/health?readycode=200&joiningcode=200"
	    "&removedcode=200&notclusteredcode=200&unavailablecode=200",
	    sizeof(rr->path));
	return 0;
}

/* rotate: POST system/rot-keys/rotate {"id"}; delete: DELETE .../{id} */
int
rest_rotate(const void *req, struct rest_req *rr)
{
	const struct rotkeys_req	*rq = req;
	const char			*kv[] = { "id", rq->id };
	int				 n;

	if (rq->rotate == ROTKEYS_ROTATE)
		return rest_body(rr, kv, 1);
	n = snprintf(rr->path, sizeof(rr->path), "system/rot-keys/%s", rq->id);
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

/* keys over REST: vault/keys2[/NAME[/versions]], crypto/(en|de)crypt */
int
rest_keys(const void *req, struct rest_req *rr)
{
	const struct keys_req	*rq = req;
	const char		*kv[6];
	int			 n = 0;

	switch (rq->op) {
	case KEYS_CREATE:
		kv[0] = "name";
		kv[1] = rq->name;
		kv[2] = "algorithm";
		kv[3] = rq->algorithm[0] ? rq->algorithm : NULL;
		return rest_body_num(rr, kv, 2, "size", rq->size ? rq->size :
		    256);
	case KEYS_LIST:
		n = snprintf(rr->path, sizeof(rr->path),
		    "vault/keys2?skip=%d&limit=%d", rq->skip, rq->limit);
		break;
	case KEYS_ROTATE:
		n = snprintf(rr->path, sizeof(rr->path),
		    "vault/keys2/%s/versions", rq->name);
		break;
	case KEYS_ENCRYPT:
	case KEYS_DECRYPT:
		kv[0] = "id";
		kv[1] = rq->name;
		kv[2] = rq->op == KEYS_ENCRYPT ? "plaintext" : "ciphertext";
		kv[3] = rq->data;
		return rest_body(rr, kv, 2);
	default:
		n = snprintf(rr->path, sizeof(rr->path), "vault/keys2/%s",
		    rq->name);
		break;
	}
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

/*
 * users over REST: GET users, POST users {"name", "password", "role"},
 * GET|DELETE users/NAME, PUT users/NAME/password {"password"}, PUT
 * users/NAME/role {"role"}
 */
int
rest_user(const void *req, struct rest_req *rr)
{
	const struct user_set	*u = req;
	const char		*kv[6] = { "name", u->name, "password",
				    u->password, "role", u->role[0] ? u->role :
				    NULL };
	const char		*sub = "";
	int			 n;

	switch (u->op) {
	case USER_LIST:
	case USER_CREATE:
		n = snprintf(rr->path, sizeof(rr->path), "users");
		break;
	case USER_SETPW:
		sub = "/password";
		/* FALLTHROUGH */
	case USER_SETROLE:
		if (u->op == USER_SETROLE)
			sub = "/role";
		/* FALLTHROUGH */
	default:
		n = snprintf(rr->path, sizeof(rr->path), "users/%s%s",
		    u->name, sub);
		break;
	}
	if (n < 0 || (size_t)n >= sizeof(rr->path))
		return -1;
	if (u->op == USER_CREATE)
		return rest_body(rr, kv, 3);
	if (u->op == USER_SETPW)
		return rest_body(rr, kv + 2, 1);
	if (u->op == USER_SETROLE)
		return rest_body(rr, kv + 4, 1);
	return 0;
}

/* A JSON object of string members (NULL values left out). */
int
rest_body(struct rest_req *rr, const char **kv, size_t n)
{
	return rest_body_flag(rr, kv, n, NULL, 0);
}

/*
 * The same, and one more member `extra` when it is not NULL: a boolean
 * (num 0) or a number (num 1).
 */
static int
rest_body_extra(struct rest_req *rr, const char **kv, size_t n,
    const char *extra, int num, long long value)
{
	yajl_gen		 g = yajl_gen_alloc(NULL);
	const unsigned char	*buf;
	size_t			 i, len;
	int			 r = -1;

	if (g == NULL)
		return -1;
	yajl_gen_map_open(g);
	for (i = 0; i < n; i++) {
		if (kv[2 * i + 1] == NULL)
			continue;
		yajl_gen_string(g, (const unsigned char *)kv[2 * i],
		    strlen(kv[2 * i]));
		yajl_gen_string(g, (const unsigned char *)kv[2 * i + 1],
		    strlen(kv[2 * i + 1]));
	}
	if (extra != NULL) {
		yajl_gen_string(g, (const unsigned char *)extra,
		    strlen(extra));
		if (num)
			yajl_gen_integer(g, value);
		else
			yajl_gen_bool(g, value != 0);
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok &&
	    len <= sizeof(rr->body)) {
		memcpy(rr->body, buf, len);
		rr->bodylen = len;
		r = 0;
	}
	yajl_gen_clear(g);
	yajl_gen_free(g);
	return r;
}

/* The same, and one boolean member `flag` when it is not NULL. */
int
rest_body_flag(struct rest_req *rr, const char **kv, size_t n,
    const char *flag, int value)
{
	return rest_body_extra(rr, kv, n, flag, 0, value);
}

/* The same, and one number member. */
int
rest_body_num(struct rest_req *rr, const char **kv, size_t n,
    const char *name, long long value)
{
	return rest_body_extra(rr, kv, n, name, 1, value);
}
