/*
 * kmctl: kmd's admin tool.  Locally it speaks kmsg over kmd's control
 * socket; with a URL it speaks HTTPS to kmd's REST API (remote.c).  Each
 * action maps to one typed request, which both transports carry, and the
 * JSON printed is the same either way.
 * Exit status: 0 on success, 1 on any error (one line on stderr).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kmctl.h"
#include "kmsg.h"
#include "output.h"
#include "parser.h"
#include "proto.h"
#include "reply.h"
#include "util.h"

#define KMCTL_SOCKET	"/run/kmd/kmd.sock"

static int	build_new(const struct parse_result *, void *, size_t *);
static int	build_nodes(const struct parse_result *, void *, size_t *);
static int	build_user(const struct parse_result *, void *, size_t *);
static int	build_csr(const struct parse_result *, void *, size_t *);
static int	build_create(const struct parse_result *, void *, size_t *);
static int	build_join(const struct parse_result *, void *, size_t *);
static int	rest_join(const void *, struct rest_req *);
static int	rest_new(const void *, struct rest_req *);
static int	rest_csr(const void *, struct rest_req *);
static int	rest_create(const void *, struct rest_req *);
static int	rest_nodes(const void *, struct rest_req *);
static int	build_alarms(const struct parse_result *, void *, size_t *);
static int	build_delete(const struct parse_result *, void *, size_t *);
static int	build_rotkeys(const struct parse_result *, void *, size_t *);
static int	rest_rotate(const void *, struct rest_req *);
static int	rest_delete(const void *, struct rest_req *);
static int	rest_alarms(const void *, struct rest_req *);
static int	build_keys(const struct parse_result *, void *, size_t *);
static int	rest_keys(const void *, struct rest_req *);

/*
 * One row per action kmctl can send: its request message and the builder
 * of its typed payload, what is printed at END, and the REST call the
 * same typed payload becomes in remote mode (NULL path: local only).  The
 * actions not listed are not built yet.
 */
static const struct ctl_action actions[] = {
	{ A_STATUS, IMSG_CTL_STATUS, NULL, P_STATUS,
	    "GET", "system/processes", NULL },
	{ A_CLUSTER_INFO, IMSG_CTL_CLUSTER_INFO, NULL, P_INFO,
	    "GET", "cluster", NULL },
	{ A_CLUSTER_NEW, IMSG_CTL_CLUSTER_NEW, build_new, P_INFO,
	    "POST", "cluster/new", rest_new },
	{ A_NODES_LIST, IMSG_CTL_NODES, build_nodes, P_NODES,
	    "GET", "nodes", rest_nodes },
	{ A_NODES_GET, IMSG_CTL_NODES, build_nodes, P_NODE,
	    "GET", "nodes", rest_nodes },
	{ A_CLUSTER_CSR, IMSG_CTL_CLUSTER_CSR, build_csr, P_CSR,
	    "POST", "cluster/csr", rest_csr },
	{ A_NODES_CREATE, IMSG_CTL_NODES_CREATE, build_create, P_CRED,
	    "POST", "nodes", rest_create },
	{ A_CLUSTER_JOIN, IMSG_CTL_CLUSTER_JOIN, build_join, P_INFO,
	    "POST", "cluster/join", rest_join },
	{ A_CLUSTER_FULLJOIN, IMSG_NONE, NULL, P_NONE, NULL, NULL, NULL },
	{ A_CLUSTER_SUMMARY, IMSG_CTL_SUMMARY, NULL, P_SUMMARY,
	    "GET", "cluster/summary", NULL },
	{ A_ALARMS_LIST, IMSG_CTL_ALARMS, build_alarms, P_ALARMS,
	    "GET", "alarms", rest_alarms },
	{ A_NODES_DELETE, IMSG_CTL_NODES_DELETE, build_delete, P_INFO,
	    "DELETE", "nodes", rest_delete },
	{ A_CLUSTER_DELETE, IMSG_CTL_CLUSTER_DELETE, NULL, P_INFO,
	    "DELETE", "cluster", NULL },
	{ A_SERVICES_RESET, IMSG_CTL_RESET, NULL, P_INFO,
	    "POST", "system/services/reset", NULL },
	{ A_ROTKEYS_LIST, IMSG_CTL_ROTKEYS, build_rotkeys, P_ROTKEYS,
	    "GET", "system/rot-keys", NULL },
	{ A_ROTKEYS_ROTATE, IMSG_CTL_ROTKEYS, build_rotkeys, P_ROTKEYS,
	    "POST", "system/rot-keys/rotate", rest_rotate },
	{ A_ROTKEYS_DELETE, IMSG_CTL_ROTKEYS, build_rotkeys, P_ROTKEYS,
	    "DELETE", "system/rot-keys", rest_rotate },
	{ A_USERS_SETPW, IMSG_CTL_USER_SET, build_user, P_NONE,
	    NULL, NULL, NULL },
	{ A_KEYS_CREATE, IMSG_CTL_KEYS, build_keys, P_KEY,
	    "POST", "vault/keys2", rest_keys },
	{ A_KEYS_LIST, IMSG_CTL_KEYS, build_keys, P_KEYS,
	    "GET", "vault/keys2", rest_keys },
	{ A_KEYS_GET, IMSG_CTL_KEYS, build_keys, P_KEY,
	    "GET", "vault/keys2", rest_keys },
	{ A_KEYS_DELETE, IMSG_CTL_KEYS, build_keys, P_KEY,
	    "DELETE", "vault/keys2", rest_keys },
	{ A_KEYS_ROTATE, IMSG_CTL_KEYS, build_keys, P_KEY,
	    "POST", "vault/keys2", rest_keys },
	{ A_KEYS_ENCRYPT, IMSG_CTL_KEYS, build_keys, P_CRYPT,
	    "POST", "crypto/encrypt", rest_keys },
	{ A_KEYS_DECRYPT, IMSG_CTL_KEYS, build_keys, P_CRYPT,
	    "POST", "crypto/decrypt", rest_keys },
};

void
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("kmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Copy a flag into a fixed field, or say which flag is too long. */
static void
field(char *dst, size_t len, const char *v, const char *flag)
{
	if (v != NULL && kmd_strlcpy(dst, v, len) >= len)
		die("--%s is longer than %zu bytes", flag, len - 1);
}

static int
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

static int
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
	if (strstr(dst, "-----BEGIN ") == NULL)
		die("--%s: %s holds no PEM block", flag, v);
}

static int
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

static int
build_join(const struct parse_result *res, void *buf, size_t *len)
{
	struct cluster_join	*cj = buf;

	memset(cj, 0, sizeof(*cj));
	field(cj->member, sizeof(cj->member), res->flag[F_MEMBER], "member");
	field(cj->host, sizeof(cj->host), res->flag[F_HOST], "host");
	field(cj->pubaddr, sizeof(cj->pubaddr), res->flag[F_PUBADDR],
	    "public-address");
	pem_arg(cj->cert, sizeof(cj->cert), res->flag[F_CERT], "cert");
	pem_arg(cj->cachain, sizeof(cj->cachain), res->flag[F_CACHAIN],
	    "cachain");
	field(cj->mkek_blob, sizeof(cj->mkek_blob), res->flag[F_MKEK],
	    "mkek-blob");
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

static int
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

static int
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

static int
build_delete(const struct parse_result *res, void *buf, size_t *len)
{
	struct nodes_delete	*nd = buf;

	memset(nd, 0, sizeof(*nd));
	node_id(nd->id, sizeof(nd->id), res->flag[F_ID]);
	nd->force = res->flag[F_FORCE] != NULL;
	*len = sizeof(*nd);
	return 0;
}

static int
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

static const int	keys_ops[A_MAX] = {
	[A_KEYS_CREATE] = KEYS_CREATE, [A_KEYS_LIST] = KEYS_LIST,
	[A_KEYS_GET] = KEYS_GET, [A_KEYS_DELETE] = KEYS_DELETE,
	[A_KEYS_ROTATE] = KEYS_ROTATE, [A_KEYS_ENCRYPT] = KEYS_ENCRYPT,
	[A_KEYS_DECRYPT] = KEYS_DECRYPT,
};

static int
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
static int
build_user(const struct parse_result *res, void *buf, size_t *len)
{
	struct user_set	*u = buf;
	char		 again[KMD_PASSWORD_MAX];
	const char	*p;

	memset(u, 0, sizeof(*u));
	field(u->name, sizeof(u->name), res->flag[F_NAME], "name");
	for (p = u->name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-", *p) == NULL)
			die("--name: '%s' is not a user name (letters, digits,"
			    " '.', '_' and '-')", u->name);
	read_password("New password: ", u->password, sizeof(u->password));
	if (isatty(STDIN_FILENO)) {
		read_password("Again: ", again, sizeof(again));
		if (strcmp(again, u->password) != 0)
			die("the passwords do not match; nothing changed");
		explicit_bzero(again, sizeof(again));
	}
	if (strlen(u->password) < 8)
		die("the password must have at least 8 characters");
	*len = sizeof(*u);
	return 0;
}

/* cluster new: {"host","url","publicAddress"}, the names the API takes. */
static int
rest_new(const void *req, struct rest_req *rr)
{
	const struct cluster_new	*cn = req;
	const char			*kv[] = {
		"host", cn->host, "url", cn->url,
		"publicAddress", cn->pubaddr[0] ? cn->pubaddr : NULL,
	};

	return rest_body(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

static int
rest_csr(const void *req, struct rest_req *rr)
{
	const struct cluster_csr	*cc = req;
	const char			*kv[] = {
		"host", cc->host,
		"publicAddress", cc->pubaddr[0] ? cc->pubaddr : NULL,
	};

	return rest_body(rr, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

static int
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

static int
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

static int
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

static int
rest_alarms(const void *req, struct rest_req *rr)
{
	const struct alarms_query	*q = req;
	int				 n;

	n = snprintf(rr->path, sizeof(rr->path), "alarms?skip=%d&limit=%d%s",
	    q->skip, q->limit, q->all ? "&all=1" : "");
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

static int
rest_delete(const void *req, struct rest_req *rr)
{
	const struct nodes_delete	*nd = req;
	int				 n;

	n = snprintf(rr->path, sizeof(rr->path), "nodes/%s%s", nd->id,
	    nd->force ? "?force=1" : "");
	return n < 0 || (size_t)n >= sizeof(rr->path) ? -1 : 0;
}

/* rotate: POST system/rot-keys/rotate {"id"}; delete: DELETE .../{id} */
static int
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
static int
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

static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { KMCTL_TIMEOUT, 0 };
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (kmd_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("cannot connect to kmd at %s: %s", path, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Print what the reply holds; a reply that lacks it is kmd's fault. */
static int
ctl_done(const struct ctl_action *a, struct reply *r)
{
	int	 ok;

	if (r->nchecks > 0 && !r->haveinfo)
		return 0;		/* a preflight: its lines are out */
	switch (a->print) {
	case P_INFO:
		ok = r->haveinfo;
		break;
	case P_NODES:
	case P_ALARMS:
		ok = r->havepage;
		break;
	case P_NODE:
		ok = r->nnodes == 1;
		break;
	case P_CSR:
		ok = r->csr != NULL;
		break;
	case P_KEYS:
		ok = r->havepage;
		break;
	case P_KEY:
		ok = r->nkeys == 1;
		break;
	case P_CRYPT:
		ok = r->crypt != NULL;
		break;
	case P_CRED:
		ok = r->cred != NULL;
		break;
	default:
		ok = 1;
		break;
	}
	if (!ok)
		die("incomplete reply from kmd");
	return print_reply(r, a->print);
}

/*
 * Send one request and read frames until END (0, r filled) or ERROR
 * (dies with kmd's message); every frame is checked before use.
 * Preflight lines of a join are printed as they come.
 */
static int	show_checks = 1;

static void
ctl_call(const char *path, uint16_t type, const void *req, size_t reqlen,
    struct reply *r)
{
	struct kbuf	 kb;
	struct kmsg	 m;
	const char	*msg;
	ssize_t		 n;
	int		 fd, got, senderr = 0;

	fd = ctl_connect(path);
	memset(r, 0, sizeof(*r));
	if (kbuf_init(&kb, fd) == -1 ||
	    kbuf_compose(&kb, type, 0, getpid(), -1, req, reqlen) == -1)
		die("%s: %s", __func__, strerror(errno));
	/* A refused client still reads kmd's reason, so go on reading. */
	if (kbuf_flush(&kb) != 1)
		senderr = errno;
	for (;;) {
		while ((got = kbuf_get(&kb, &m)) == 1) {
			kmsg_closefd(&m);
			if (m.hdr.type == IMSG_CTL_END && m.datalen == 0) {
				kbuf_clear(&kb);
				close(fd);
				return;
			}
			if (reply_error(&m, &msg) == 0)
				die("%s", msg);
			if (reply_frame(r, &m) == -1)
				die("unexpected reply from kmd (%s, %zu bytes)",
				    imsg_type_name(m.hdr.type), m.datalen);
			if (m.hdr.type == IMSG_JOIN_CHECK && show_checks)
				print_check(&r->checks[r->nchecks - 1]);
		}
		if (got == -1)
			die("malformed reply from kmd: %s", strerror(errno));
		if ((n = kbuf_read(&kb)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				die("kmd did not answer within %d s",
				    KMCTL_TIMEOUT);
			die("read from kmd: %s", strerror(errno));
		}
		if (n == 0 && senderr != 0)
			die("cannot send to kmd at %s: %s", path,
			    strerror(senderr));
		if (n == 0)
			die("kmd closed the connection before answering");
	}
}

static int
ctl_run(const char *path, const struct ctl_action *a, const void *req,
    size_t reqlen)
{
	static struct reply r;
	int		 ret;

	ctl_call(path, a->type, req, reqlen, &r);
	ret = ctl_done(a, &r);
	reply_clear(&r);
	return ret;
}

/* "Are you sure" on the terminal; -y answers it; no terminal, no yes. */
void
confirm(const struct parse_result *res, const char *question)
{
	char	 line[16];

	if (res->flag[F_YES] != NULL)
		return;
	if (!isatty(STDIN_FILENO))
		die("%s: give -y to confirm (there is no terminal to ask)",
		    res->path);
	fprintf(stderr, "%s [y/N] ", question);
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0))
		die("%s: not confirmed; nothing was changed", res->path);
}

/*
 * cluster join: the preflight (its lines on stderr), the question, the
 * join; with --block, the stages as they pass, until ready or killed.
 */
static int
ctl_join(const char *path, const struct parse_result *res,
    const struct ctl_action *a, struct cluster_join *cj)
{
	static struct reply r;
	char		 last[KMD_STATUS_CODE_MAX] = "", lastp[128] = "";
	int		 ret;

	ctl_call(path, a->type, cj, sizeof(*cj), &r);
	reply_clear(&r);
	confirm(res, "When you add a node to a cluster, the existing data of"
	    " the node is deleted. Are you sure want to join?");
	cj->preflight_only = 0;
	show_checks = 0;	/* the same checks again, already shown */
	ctl_call(path, a->type, cj, sizeof(*cj), &r);
	explicit_bzero(cj, sizeof(*cj));
	if (!r.haveinfo)
		die("incomplete reply from kmd");
	if (res->flag[F_BLOCK] == NULL) {
		ret = print_reply(&r, P_INFO);
		reply_clear(&r);
		return ret;
	}
	for (;;) {
		if (strcmp(r.info.code, last) != 0 ||
		    strcmp(r.info.progress, lastp) != 0) {
			fprintf(stderr, "join: %s%s%s\n", r.info.desc,
			    r.info.progress[0] ? ": " : "", r.info.progress);
			kmd_strlcpy(last, r.info.code, sizeof(last));
			kmd_strlcpy(lastp, r.info.progress, sizeof(lastp));
		}
		if (strcmp(r.info.code, "r") == 0)
			break;
		if (strcmp(r.info.code, "k") == 0 ||
		    strcmp(r.info.code, "u") == 0) {
			print_reply(&r, P_INFO);
			die("cluster join failed: %s", r.info.error[0] ?
			    r.info.error : r.info.desc);
		}
		reply_clear(&r);
		usleep(200000);
		ctl_call(path, IMSG_CTL_CLUSTER_INFO, NULL, 0, &r);
	}
	ret = print_reply(&r, P_INFO);
	reply_clear(&r);
	return ret;
}

/* The joining node's API: --newnodeconfig, or the three flags. */
static void
newnode_settings(const struct parse_result *res, const struct remote *rem,
    struct remote *nn)
{
	const char	*url = res->flag[F_NEWNODEURL];

	if (res->flag[F_NEWNODECONFIG] != NULL) {
		if (url != NULL || res->flag[F_NEWNODEUSER] != NULL ||
		    res->flag[F_NEWNODEPASS] != NULL)
			die("%s: give --newnodeconfig or --newnodeurl,"
			    " --newnodeuser and --newnodepass, not both",
			    res->path);
		if (remote_config_file(res->flag[F_NEWNODECONFIG], nn) == -1)
			die("--newnodeconfig: %s", nn->err);
	} else {
		if (url == NULL || res->flag[F_NEWNODEUSER] == NULL ||
		    res->flag[F_NEWNODEPASS] == NULL)
			die("%s: give --newnodeconfig, or --newnodeurl,"
			    " --newnodeuser and --newnodepass", res->path);
		memset(nn, 0, sizeof(*nn));
		nn->timeout = rem->timeout;
		field(nn->url, sizeof(nn->url), url, "newnodeurl");
		field(nn->user, sizeof(nn->user), res->flag[F_NEWNODEUSER],
		    "newnodeuser");
		field(nn->password, sizeof(nn->password),
		    res->flag[F_NEWNODEPASS], "newnodepass");
	}
	/* Trust as for the member unless the file says otherwise. */
	if (nn->cacert[0] == '\0' && !nn->nosslverify) {
		memcpy(nn->cacert, rem->cacert, sizeof(nn->cacert));
		nn->nosslverify = rem->nosslverify;
	}
}

/*
 * cluster fulljoin, run against a member (its socket, or --url): the
 * joining node's CSR over its API, nodes create here, the join there.
 */
static int
ctl_fulljoin(const char *path, const struct parse_result *res,
    struct remote *rem)
{
	static struct reply	 r;
	static struct rest_req	 rr;
	static struct nodes_create nc;
	static struct cluster_join cj;
	struct remote		 nn;
	struct rsession		*ns, *ms;
	yajl_val		 v;
	const char		*cfg = res->flag[F_NEWNODECONFIG];
	const char		*kv[2];
	int			 ret;

	newnode_settings(res, rem, &nn);
	confirm(res, "When you add a node to a cluster, the existing data of"
	    " the node is deleted. Are you sure want to join?");

	fprintf(stderr, "Attempting to get the CSR from the joining"
	    " node...\n");
	ns = rsession_open(&nn);
	kv[0] = "host";
	kv[1] = res->flag[F_NEWNODEHOST];
	if (rest_body(&rr, kv, 1) == -1)
		die("--newnodehost is too long");
	v = rsession_call(ns, "POST", "cluster/csr", &rr);
	field(nc.csr, sizeof(nc.csr), json_member(v, "csr", "cluster csr"),
	    "csr");
	yajl_tree_free(v);
	fprintf(stderr, "Finished getting the CSR from the joining node...\n");

	fprintf(stderr, "Attempting to get the Certificate and CA Chain from"
	    " the member node...\n");
	field(nc.host, sizeof(nc.host), res->flag[F_NEWNODEHOST],
	    "newnodehost");
	nc.shared_hsm = res->flag[F_SHAREDHSM] != NULL;
	if (rem->url[0] != '\0') {
		ms = rsession_open(rem);
		memset(&rr, 0, sizeof(rr));
		if (rest_create(&nc, &rr) == -1)
			die("the request is too large");
		v = rsession_call(ms, "POST", "nodes", &rr);
		field(cj.cert, sizeof(cj.cert), json_member(v, "cert",
		    "nodes create"), "cert");
		field(cj.cachain, sizeof(cj.cachain), json_member(v, "cachain",
		    "nodes create"), "cachain");
		field(cj.mkek_blob, sizeof(cj.mkek_blob), json_member(v,
		    "mkek_blob", "nodes create"), "mkek_blob");
		yajl_tree_free(v);
		rsession_close(ms);
	} else {
		ctl_call(path, IMSG_CTL_NODES_CREATE, &nc, sizeof(nc), &r);
		if (r.cred == NULL)
			die("incomplete reply from kmd");
		memcpy(cj.cert, r.cred->cert, sizeof(cj.cert));
		memcpy(cj.cachain, r.cred->cachain, sizeof(cj.cachain));
		memcpy(cj.mkek_blob, r.cred->mkek_blob, sizeof(cj.mkek_blob));
		reply_clear(&r);
	}
	fprintf(stderr, "Finished getting the Certificate and CA Chain from"
	    " the member node...\n");

	fprintf(stderr, "Attempting to join the new node to the member's"
	    " cluster...\n");
	field(cj.member, sizeof(cj.member), res->flag[F_MEMBER], "member");
	field(cj.host, sizeof(cj.host), res->flag[F_NEWNODEHOST],
	    "newnodehost");
	memset(&rr, 0, sizeof(rr));
	if (rest_join(&cj, &rr) == -1)
		die("the request is too large");
	v = rsession_call(ns, "POST", "cluster/join", &rr);
	explicit_bzero(&cj, sizeof(cj));
	explicit_bzero(&rr, sizeof(rr));
	ret = print_json(v);
	yajl_tree_free(v);
	rsession_close(ns);
	explicit_bzero(&nn, sizeof(nn));
	if (cfg == NULL)
		return ret;
	if (res->flag[F_YES] == NULL && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "kmctl: %s keeps the joining node's old"
		    " credentials (no terminal to ask, no -y)\n", cfg);
		return ret;
	}
	if (res->flag[F_YES] == NULL) {
		char	 line[16];

		fprintf(stderr, "When a node joins a cluster, the node adopts"
		    " the credentials of the cluster. Would you like to write"
		    " the new cluster credentials to the provided"
		    " configuration file? [y/N] ");
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    (strcmp(line, "y\n") != 0 && strcmp(line, "yes\n") != 0))
			return ret;
	}
	if (rem->url[0] == '\0') {
		fprintf(stderr, "kmctl: the member was reached over its control"
		    " socket, so the cluster's API credentials are not known"
		    " here: put the cluster's user and password in %s\n", cfg);
		return ret;
	}
	if (remote_config_write(cfg, rem->user, rem->password) == -1)
		die("cannot write %s: %s", cfg, strerror(errno));
	fprintf(stderr, "Wrote the cluster's credentials to %s\n", cfg);
	return ret;
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	struct remote		 rem;
	const struct ctl_action	*a = NULL;
	const char		*path;
	union {
		struct cluster_new	 cn;
		struct nodes_query	 nq;
		struct user_set		 us;
		struct cluster_csr	 cc;
		struct nodes_create	 nc;
		struct cluster_join	 cj;
		struct nodes_delete	 nd;
		struct alarms_query	 aq;
		struct rotkeys_req	 rq;
		struct keys_req		 kq;
	}			 req;
	size_t			 reqlen = 0, i;
	char			 err[1024];
	int			 ret;

	if (argc < 2) {
		memset(&res, 0, sizeof(res));
		parse_usage(stderr, &res);
		return 1;
	}
	if (parse(argc, argv, &res, err, sizeof(err)) == -1)
		die("%s", err);
	if (res.help) {
		parse_usage(stdout, &res);
		return 0;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].action == res.action)
			a = &actions[i];
	if (a == NULL)
		die("%s: not implemented yet", res.path);
	if (remote_settings(&res, &rem) == -1)
		die("%s", rem.err);
	if ((path = res.socket) == NULL && (path = getenv("KMCTL_SOCKET")) ==
	    NULL)
		path = KMCTL_SOCKET;
	if (a->action == A_CLUSTER_FULLJOIN) {
		ret = ctl_fulljoin(path, &res, &rem);
		explicit_bzero(&rem, sizeof(rem));
		return ret == -1 ? 1 : 0;
	}
	if (rem.url[0] != '\0' && a->rest_path == NULL)
		die("%s works on the local socket only: run it on the node,"
		    " without --url", res.path);
	if (a->build != NULL && a->build(&res, &req, &reqlen) == -1)
		die("%s: bad arguments", res.path);
	switch (a->action) {
	case A_NODES_DELETE:
		confirm(&res, "The node is removed from the cluster: every"
		    " other node stops replicating with it and refuses its"
		    " certificate. Are you sure want to remove it?");
		break;
	case A_CLUSTER_DELETE:
		confirm(&res, "This node's cluster configuration is deleted;"
		    " it keeps its users. Are you sure want to delete it?");
		break;
	case A_ROTKEYS_DELETE:
		confirm(&res, "The root-of-trust key is destroyed: anything"
		    " still sealed under it cannot be opened again. If other"
		    " nodes share this HSM token (--shared-hsm-partition), check"
		    " with rot-keys list on each that none keeps its KEK under"
		    " it. Are you sure want to delete it?");
		break;
	case A_KEYS_DELETE:
		confirm(&res, "The key and all its versions are deleted on"
		    " every node: what was encrypted with it can no longer be"
		    " decrypted. Are you sure want to delete it?");
		break;
	case A_SERVICES_RESET:
		confirm(&res, "WARNING: services reset wipes this node to its"
		    " factory state: its database, its keys and its cluster"
		    " configuration are deleted and cannot be recovered. Are"
		    " you sure want to reset?");
		break;
	default:
		break;
	}
	if (rem.url[0] != '\0') {
		ret = a->action == A_CLUSTER_JOIN ?
		    remote_join(&rem, &res, a, &req.cj) :
		    remote_run(&rem, a, &req);
		explicit_bzero(&rem, sizeof(rem));
		return ret;
	}
	if (a->action == A_CLUSTER_JOIN)
		ret = ctl_join(path, &res, a, &req.cj);
	else
		ret = ctl_run(path, a, &req, reqlen);
	if (ret == -1)
		die("cannot write the output: %s", strerror(errno));
	explicit_bzero(&req, sizeof(req));
	return 0;
}
