/*
 * The REST API on evhttp over OpenSSL: routing, bearer tokens, login rate
 * limiting, JSON errors, one log line per request.  Operations go to the
 * parent as the same typed requests kmctl sends (api.c).
 */
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl_gen.h>

#include "api.h"
#include "body.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define M_GET	EVHTTP_REQ_GET
#define M_POST	EVHTTP_REQ_POST
#define M_DELETE	EVHTTP_REQ_DELETE

static void	 do_node_delete(struct api *, struct evhttp_request *,
		    const char *, const struct timespec *);
static void	 respond_forbidden(struct evhttp_request *,
		    const struct token *, const char *, const struct timespec *);

/* One route: path (exact, or a prefix ending in '/'), methods, auth. */
typedef void	(*route_fn)(struct api *, struct evhttp_request *,
		    const char *, const struct timespec *);


/* 429 with Retry-After: the caller is told when to try again. */
static void
login_limited(struct evhttp_request *req, long long secs, const char *why,
    const char *what, const struct timespec *t0)
{
	char	 err[256], retry[24];

	snprintf(err, sizeof(err), "%s%s; try again in %lld s", why, what,
	    secs);
	snprintf(retry, sizeof(retry), "%lld", secs);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", retry);
	respond_error(req, 429, err, t0, "");
}

/*
 * Logins are limited overall (api login-rate a second: every check costs
 * the joiner an argon2id), per address (FAILS_MAX failures a window) and
 * per user name (USER_FAILS_MAX, whatever the addresses).  A password
 * check counts as a failure from the moment it is asked for, and a
 * success clears the counts: so concurrent attempts cannot get more
 * guesses past the limits.
 */
static void
do_login(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	struct peer_fails	*pf, *uf;
	struct user_set		*u;
	char			 body[BODY_MAX], err[256], peer[64];
	int64_t			 now = mono_now();
	size_t			 len;

	(void)user;
	peer_of(req, peer, sizeof(peer));
	if (a->login_sec != now) {
		a->login_sec = now;
		a->login_n = 0;
	}
	if (a->login_n >= a->login_rate) {
		log_warnx("login from %s refused: %d logins this second",
		    peer, a->login_n);
		login_limited(req, 1, "too many logins at once, from all"
		    " callers", "", t0);
		return;
	}
	pf = peer_fails(a->peers, peer, 1);
	if (pf->fails >= FAILS_MAX) {
		log_warnx("login from %s refused: rate limit", peer);
		login_limited(req, FAILS_WINDOW - (now - pf->since),
		    "too many failed logins from ", peer, t0);
		return;
	}
	if (read_body(req, body, &len) == -1) {
		respond_error(req, 413, "the request body is too large", t0, "");
		return;
	}
	if ((u = sodium_malloc(sizeof(*u))) == NULL)
		fatal("%s", __func__);
	if (body_login(body, len, u, err, sizeof(err)) == -1)
		respond_error(req, 400, err, t0, "");
	else if ((uf = peer_fails(a->users, u->name, 1))->fails >=
	    USER_FAILS_MAX) {
		log_warnx("login for '%s' from %s refused: rate limit for the"
		    " user", u->name, peer);
		snprintf(err, sizeof(err), "'%s'", u->name);
		login_limited(req, FAILS_WINDOW - (now - uf->since),
		    "too many failed logins for the user ", err, t0);
	} else {
		a->login_n++;
		pf->fails++;
		uf->fails++;
		u->lifetime = a->lifetime;
		api_send(a, req, R_LOGIN, u->name, IMSG_CTL_AUTH_CHECK, u,
		    sizeof(*u));
	}
	sodium_memzero(body, sizeof(body));
	sodium_free(u);
}

static void
do_new(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	struct cluster_new	 cn;
	char			 body[BODY_MAX], err[256];
	size_t			 len;

	if (read_body(req, body, &len) == -1) {
		respond_error(req, 413, "the request body is too large", t0,
		    user);
		return;
	}
	if (body_cluster_new(body, len, &cn, err, sizeof(err)) == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	api_send(a, req, R_NEW, user, IMSG_CTL_CLUSTER_NEW, &cn, sizeof(cn));
}

/* POST cluster/csr and POST nodes: a body, one typed request. */
static void
do_join_step(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	union {
		struct cluster_csr	 cc;
		struct nodes_create	 nc;
		struct cluster_join	 cj;
	}		 u;
	const char	*path = evhttp_uri_get_path(
			    evhttp_request_get_evhttp_uri(req));
	char		 body[BODY_MAX], err[256];
	size_t		 len;
	int		 csr = strcmp(path, API "/cluster/csr") == 0;
	int		 join = strcmp(path, API "/cluster/join") == 0;

	if (read_body(req, body, &len) == -1) {
		respond_error(req, 413, "the request body is too large", t0,
		    user);
		return;
	}
	if ((join ? body_cluster_join(body, len, &u.cj, err, sizeof(err)) :
	    csr ? body_cluster_csr(body, len, &u.cc, err, sizeof(err)) :
	    body_nodes_create(body, len, &u.nc, err, sizeof(err))) == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	if (join)
		api_send(a, req, R_JOIN, user, IMSG_CTL_CLUSTER_JOIN, &u.cj,
		    sizeof(u.cj));
	else if (csr)
		api_send(a, req, R_CSR, user, IMSG_CTL_CLUSTER_CSR, &u.cc,
		    sizeof(u.cc));
	else
		api_send(a, req, R_CREATE, user, IMSG_CTL_NODES_CREATE, &u.nc,
		    sizeof(u.nc));
}

static void
do_nodes(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	const char		*path = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req));
	struct nodes_query	 q;
	char			 err[256];

	if (evhttp_request_get_command(req) == M_POST) {
		do_join_step(a, req, user, t0);
		return;
	}
	if (evhttp_request_get_command(req) == M_DELETE) {
		do_node_delete(a, req, user, t0);
		return;
	}
	memset(&q, 0, sizeof(q));
	if (strncmp(path, API "/nodes/", strlen(API "/nodes/")) == 0) {
		path += strlen(API "/nodes/");
		if (strlen(path) >= sizeof(q.id) || *path == '\0') {
			respond_error(req, 404, "no such node", t0, user);
			return;
		}
		kmd_strlcpy(q.id, path, sizeof(q.id));
		q.limit = 1;
		api_send(a, req, R_NODE, user, IMSG_CTL_NODES, &q, sizeof(q));
		return;
	}
	if (query_int(req, "skip", 0, 1000000, &q.skip, err, sizeof(err)) ==
	    -1 || query_int(req, "limit", 256, NODES_MAX, &q.limit, err,
	    sizeof(err)) == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	api_send(a, req, R_NODES, user, IMSG_CTL_NODES, &q, sizeof(q));
}

/* DELETE nodes/{id}[?force=1[&discardunsent=1]] */
static void
do_node_delete(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	const char		*path = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req));
	struct nodes_delete	 nd;
	char			 err[256];

	memset(&nd, 0, sizeof(nd));
	path += strlen(API "/nodes/");
	if (strlen(path) >= sizeof(nd.id) || *path == '\0') {
		respond_error(req, 404, "no such node", t0, user);
		return;
	}
	kmd_strlcpy(nd.id, path, sizeof(nd.id));
	if (query_int(req, "force", 0, 1, &nd.force, err, sizeof(err)) == -1 ||
	    query_int(req, "discardunsent", 0, 1, &nd.discard, err,
	    sizeof(err)) == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	if (nd.discard && !nd.force) {
		respond_error(req, 400, "discardunsent=1 goes with force=1", t0,
		    user);
		return;
	}
	api_send(a, req, R_CHANGE, user, IMSG_CTL_NODES_DELETE, &nd,
	    sizeof(nd));
}

/* DELETE cluster, POST system/services/reset: no body, cluster info back */
static void
do_change(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	const char	*path = evhttp_uri_get_path(
			    evhttp_request_get_evhttp_uri(req));

	(void)t0;
	if (strcmp(path, API "/cluster/upgrade/finish") == 0)
		api_send(a, req, R_UPGRADE, user, IMSG_CTL_UPGRADE_FINISH,
		    NULL, 0);
	else
		api_send(a, req, R_CHANGE, user, strcmp(path, API "/cluster")
		    == 0 ? IMSG_CTL_CLUSTER_DELETE : IMSG_CTL_RESET, NULL, 0);
}

/* GET system/rot-keys, POST system/rot-keys/rotate {"id"}, DELETE
 * system/rot-keys/{id} */
static void
do_rotkeys(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	struct rotkeys_req	 rq;
	char			 body[BODY_MAX], err[256];
	size_t			 len;

	memset(&rq, 0, sizeof(rq));
	if (evhttp_request_get_command(req) == M_DELETE) {
		const char *id = evhttp_uri_get_path(
		    evhttp_request_get_evhttp_uri(req)) +
		    strlen(API "/system/rot-keys/");

		if (*id == '\0' || strlen(id) >= sizeof(rq.id) ||
		    strchr(id, '/') != NULL) {
			respond_error(req, 404, "no such resource", t0, user);
			return;
		}
		rq.rotate = ROTKEYS_DELETE;
		kmd_strlcpy(rq.id, id, sizeof(rq.id));
	} else if (evhttp_request_get_command(req) == M_POST) {
		if (read_body(req, body, &len) == -1) {
			respond_error(req, 413, "the body is too large", t0,
			    user);
			return;
		}
		if (body_rotate(body, len, &rq, err, sizeof(err)) == -1) {
			respond_error(req, 400, err, t0, user);
			return;
		}
	}
	api_send(a, req, R_ROTKEYS, user, IMSG_CTL_ROTKEYS, &rq, sizeof(rq));
}

static void
do_alarms(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	struct alarms_query	 q;
	char			 err[256];

	memset(&q, 0, sizeof(q));
	if (query_int(req, "skip", 0, 1000000, &q.skip, err, sizeof(err)) ==
	    -1 || query_int(req, "limit", 256, REPLY_ALARMS_MAX, &q.limit,
	    err, sizeof(err)) == -1 || query_int(req, "all", 0, 1, &q.all,
	    err, sizeof(err)) == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	api_send(a, req, R_ALARMS, user, IMSG_CTL_ALARMS, &q, sizeof(q));
}

/*
 * The served keys: GET|POST vault/keys2 (list, create), GET|DELETE
 * vault/keys2/{name or id}, POST vault/keys2/{name or id}/versions
 * (rotate), POST crypto/encrypt and crypto/decrypt.
 */
static void
do_keys(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	static struct keys_req	 rq;
	const char		*path = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*sub = path + strlen(API "/vault/keys2");
	char			 body[BODY_MAX], err[256];
	size_t			 len, n;
	int			 r = 0;

	memset(&rq, 0, sizeof(rq));
	if (cmd == M_POST && (strncmp(path, API "/crypto/", 8 +
	    strlen(API)) == 0 || *sub == '\0')) {
		if (read_body(req, body, &len) == -1) {
			respond_error(req, 413, "the request body is too large",
			    t0, user);
			return;
		}
		if (*sub == '\0')
			r = body_key_create(body, len, &rq, err, sizeof(err));
		else
			r = body_crypt(body, len, strcmp(path, API
			    "/crypto/decrypt") == 0, &rq, err, sizeof(err));
		sodium_memzero(body, sizeof(body));
	} else if (*sub == '\0') {
		rq.op = KEYS_LIST;
		r = query_int(req, "skip", 0, 1000000, &rq.skip, err,
		    sizeof(err)) == -1 || query_int(req, "limit", 256,
		    REPLY_KEYS_MAX, &rq.limit, err, sizeof(err)) == -1 ? -1 : 0;
	} else {
		/* /vault/keys2/{key} or /vault/keys2/{key}/versions */
		sub++;
		n = strcspn(sub, "/");
		if (n == 0 || n >= sizeof(rq.name) || (sub[n] != '\0' &&
		    (cmd != M_POST || strcmp(sub + n, "/versions") != 0)) ||
		    (sub[n] == '\0' && cmd == M_POST)) {
			respond_error(req, 404, "no such resource", t0, user);
			return;
		}
		memcpy(rq.name, sub, n);
		rq.op = cmd == M_POST ? KEYS_ROTATE : cmd == M_DELETE ?
		    KEYS_DELETE : KEYS_GET;
	}
	if (r == -1) {
		respond_error(req, 400, err, t0, user);
		return;
	}
	api_send(a, req, rq.op == KEYS_LIST ? R_KEYS : rq.op == KEYS_ENCRYPT ||
	    rq.op == KEYS_DECRYPT ? R_CRYPT : R_KEY, user, IMSG_CTL_KEYS, &rq,
	    sizeof(rq));
	sodium_memzero(&rq, sizeof(rq));
}

/*
 * users: GET users, POST users, GET|DELETE users/{name}, PUT
 * users/{name}/password, PUT users/{name}/role.  The user's name is
 * checked by the joiner, as from kmctl; the body is wiped once read.
 */
static void
do_users(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	static struct user_set	 u;
	const char		*sub = evhttp_uri_get_path(
				    evhttp_request_get_evhttp_uri(req)) +
				    strlen(API "/users");
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	char			 body[BODY_MAX], err[256];
	size_t			 len, n;
	int			 r = 0;

	memset(&u, 0, sizeof(u));
	if (*sub == '\0')
		u.op = cmd == M_POST ? USER_CREATE : USER_LIST;
	else {
		n = strcspn(++sub, "/");
		if (n == 0 || n >= sizeof(u.name)) {
			respond_error(req, 404, "no such resource", t0, user);
			return;
		}
		memcpy(u.name, sub, n);
		u.op = strcmp(sub + n, "/password") == 0 ? USER_SETPW :
		    strcmp(sub + n, "/role") == 0 ? USER_SETROLE :
		    cmd == M_DELETE ? USER_DELETE : USER_GET;
	}
	if (u.op == USER_CREATE || u.op == USER_SETPW ||
	    u.op == USER_SETROLE) {
		if (read_body(req, body, &len) == -1) {
			respond_error(req, 413, "the request body is too large",
			    t0, user);
			return;
		}
		r = body_user(body, len, &u, err, sizeof(err));
		sodium_memzero(body, sizeof(body));
	}
	if (r == -1 || (u.role[0] != '\0' && role_parse(u.role) == -1)) {
		if (r != -1)
			snprintf(err, sizeof(err), "role '%.32s' is not a role"
			    " (admin, keys or viewer)", u.role);
		sodium_memzero(&u, sizeof(u));
		respond_error(req, 400, err, t0, user);
		return;
	}
	api_send(a, req, u.op == USER_LIST ? R_USERS : u.op == USER_SETPW ||
	    u.op == USER_DELETE ? R_USERDONE : R_USER, user, IMSG_CTL_USER_SET,
	    &u, sizeof(u));
	sodium_memzero(&u, sizeof(u));
}

/*
 * GET cluster is what dashboards poll: it is answered from the last
 * answer for up to INFO_CACHE_MS, and an operation through this API drops
 * the cache at once.  Health is always asked afresh, so that a load
 * balancer sees a database outage however short.
 */
static int
from_cache(struct api *a, struct evhttp_request *req, enum areq_kind kind,
    const char *user, const struct timespec *t0)
{
	struct areq	 r;

	if (a->info_at == 0 || mono_ms() - a->info_at >= INFO_CACHE_MS)
		return 0;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.req = req;
	r.t0 = *t0;
	kmd_strlcpy(r.user, user, sizeof(r.user));
	r.r.info = a->info;
	r.r.haveinfo = 1;
	http_finish(a, &r, 1, NULL);
	return 1;
}

static void
do_simple(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	const char	*path = evhttp_uri_get_path(
			    evhttp_request_get_evhttp_uri(req));

	if (strcmp(path, API "/cluster") == 0) {
		if (!from_cache(a, req, R_INFO, user, t0))
			api_send(a, req, R_INFO, user, IMSG_CTL_CLUSTER_INFO,
			    NULL, 0);
	} else if (strcmp(path, "/metrics") == 0 ||
	    strcmp(path, API "/metrics") == 0)
		api_send(a, req, R_METRICS, user, IMSG_CTL_METRICS, NULL, 0);
	else if (strcmp(path, API "/system/processes") == 0)
		api_send(a, req, R_STATUS, user, IMSG_CTL_STATUS, NULL, 0);
	else if (strcmp(path, API "/system/version") == 0)
		api_send(a, req, R_VERSION, user, IMSG_CTL_VERSION, NULL, 0);
	else if (strcmp(path, API "/cluster/summary") == 0)
		api_send(a, req, R_SUMMARY, user, IMSG_CTL_SUMMARY, NULL, 0);
	else if (strcmp(path, API "/cluster/upgrade") == 0)
		api_send(a, req, R_UPGRADE, user, IMSG_CTL_UPGRADE, NULL, 0);
	else if (strcmp(path, API "/cluster/verify") == 0)
		api_send(a, req, R_VERIFY, user, IMSG_CTL_VERIFY, NULL, 0);
	else
		respond_error(req, 501, "not implemented yet", t0, user);
}

/*
 * GET or HEAD system/health, no token: a load balancer's check.  Each
 * state's HTTP code may be chosen by a query parameter, as Vault's
 * sys/health has it: readycode, joiningcode, removedcode,
 * notclusteredcode, unavailablecode (200 to 599).
 */
static void
do_health(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	static const int	 defaults[HEALTH_STATES] = {
		[HEALTH_READY] = 200, [HEALTH_JOINING] = 472,
		[HEALTH_REMOVED] = 473, [HEALTH_NOTCLUSTERED] = 501,
		[HEALTH_UNAVAILABLE] = 503
	};
	struct areq		*r;
	int			 codes[HEALTH_STATES], i;
	char			 name[32], err[128];

	for (i = 0; i < HEALTH_STATES; i++) {
		snprintf(name, sizeof(name), "%scode", health_name(i));
		if (query_int(req, name, defaults[i], 599, &codes[i], err,
		    sizeof(err)) == -1 || codes[i] < 200) {
			snprintf(err, sizeof(err), "query parameter '%s' must"
			    " be an HTTP status code from 200 to 599", name);
			respond_error(req, 400, err, t0, user);
			return;
		}
	}
	if ((r = api_send(a, req, R_HEALTH, "", IMSG_CTL_HEALTH, NULL,
	    0)) != NULL)
		memcpy(r->codes, codes, sizeof(r->codes));
}

/* DELETE auth/tokens: the caller's own token ends (the api alone). */
static void
do_logout(struct api *a, struct evhttp_request *req, const char *user,
    const struct timespec *t0)
{
	token_end(a, req);
	respond_empty(req, 204, t0, user);
}

/* The reader of each request message's REST form (IMSG_NONE: logout). */
static const struct {
	uint16_t	 type;
	route_fn	 fn;
} readers[] = {
	{ IMSG_CTL_AUTH_CHECK, do_login },
	{ IMSG_NONE, do_logout },
	{ IMSG_CTL_STATUS, do_simple },
	{ IMSG_CTL_VERSION, do_simple },
	{ IMSG_CTL_CLUSTER_INFO, do_simple },
	{ IMSG_CTL_HEALTH, do_health },
	{ IMSG_CTL_METRICS, do_simple },
	{ IMSG_CTL_SUMMARY, do_simple },
	{ IMSG_CTL_UPGRADE, do_simple },
	{ IMSG_CTL_VERIFY, do_simple },
	{ IMSG_CTL_CLUSTER_NEW, do_new },
	{ IMSG_CTL_CLUSTER_CSR, do_join_step },
	{ IMSG_CTL_NODES_CREATE, do_join_step },
	{ IMSG_CTL_CLUSTER_JOIN, do_join_step },
	{ IMSG_CTL_NODES, do_nodes },
	{ IMSG_CTL_NODES_DELETE, do_node_delete },
	{ IMSG_CTL_CLUSTER_DELETE, do_change },
	{ IMSG_CTL_UPGRADE_FINISH, do_change },
	{ IMSG_CTL_RESET, do_change },
	{ IMSG_CTL_ALARMS, do_alarms },
	{ IMSG_CTL_ROTKEYS, do_rotkeys },
	{ IMSG_CTL_KEYS, do_keys },
	{ IMSG_CTL_USER_SET, do_users },
	{ IMSG_CTL_BACKUP_KEYS, do_bkeys },
	{ IMSG_CTL_BACKUPS, do_backups },
};

static route_fn
reader_of(uint16_t type)
{
	size_t	 i;

	for (i = 0; i < nitems(readers); i++)
		if (readers[i].type == type)
			return readers[i].fn;
	return NULL;
}

static void
http_dispatch(struct evhttp_request *req, void *arg)
{
	struct api		*a = arg;
	const struct op_row	*op = NULL;
	const struct token	*t = NULL;
	const char		*path, *rel;
	struct timespec		 t0;
	char			 allowed[32] = "";

	clock_gettime(CLOCK_MONOTONIC, &t0);
	conns_busy(req);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if ((rel = route_of(path)) != NULL)
		op = op_route(rel, method_name(evhttp_request_get_command(req)),
		    allowed, sizeof(allowed));
	if (op == NULL && allowed[0] == '\0') {
		respond_error(req, 404, "no such resource", &t0, "");
		return;
	}
	if (op == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", allowed);
		respond_error(req, 405, "method not allowed here", &t0, "");
		return;
	}
	if (op->role != ROLE_NONE && (t = token_caller(a, req)) == NULL) {
		respond_error(req, 401, "a valid bearer token is required:"
		    " POST " API "/auth/tokens first", &t0, "");
		return;
	}
	if (t != NULL && t->role < (int)op->role) {
		snprintf(allowed, sizeof(allowed), "%s", role_name(op->role));
		respond_forbidden(req, t, allowed, &t0);
		return;
	}
	if (t != NULL && t->role >= ROLE_ADMIN)
		conns_admin(req);
	a->caller = t;
	reader_of(op->type)(a, req, t != NULL ? t->user : "", &t0);
	a->caller = NULL;
}

/* Every REST route of the catalogue has its reader here, or no start. */
static int
routes_check(void)
{
	size_t	 i;

	for (i = 0; i < op_nrows; i++)
		if (op_rows[i].method != NULL && reader_of(op_rows[i].type) ==
		    NULL) {
			log_warnx("%s: no reader for %s %s", __func__,
			    op_rows[i].method, op_rows[i].path);
			return -1;
		}
	return 0;
}

/* 403: the caller's role is below the route's; need: the route's. */
static void
respond_forbidden(struct evhttp_request *req, const struct token *t,
    const char *need, const struct timespec *t0)
{
	char	 msg[160];

	snprintf(msg, sizeof(msg), "forbidden: user %s has the role %s; this"
	    " needs %s or above", t->user, role_name(t->role), need);
	respond_error(req, 403, msg, t0, t->user);
}

/* The listening socket and certificate from the parent (again on HUP). */
int
http_start(struct api *a, int fd, const struct api_conf *ac)
{
	SSL_CTX	*ctx;

	if (routes_check() == -1)
		return -1;

	if ((ctx = conns_tls(ac)) == NULL) {
		log_warnx("the API certificate or key is unusable; keeping"
		    " the one in use");
		if (fd != -1)
			close(fd);
		return a->ctx != NULL ? 0 : -1;
	}
	SSL_CTX_free(a->ctx);
	a->ctx = ctx;
	a->lifetime = ac->token_lifetime;
	a->login_rate = ac->login_rate;
	conns_limits(a, ac->max_conn, ac->read_timeout);
	if (a->http != NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (fd == -1)
		return -1;
	if ((a->http = evhttp_new(a->w->base)) == NULL)
		fatalx("%s: evhttp_new", __func__);
	evhttp_set_bevcb(a->http, conns_new, a);
	evhttp_set_gencb(a->http, http_dispatch, a);
	/*
	 * Bodies up to this size get our JSON 413 from read_body(); past it
	 * libevent 2.1 answers 413 itself, before any callback.
	 */
	evhttp_set_max_body_size(a->http, 1024 * 1024);
	evhttp_set_max_headers_size(a->http, 16 * 1024);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	if (conns_listen(a, fd) == -1)
		fatalx("%s: cannot listen on the API socket", __func__);
	log_info("serving the API");
	return 0;
}

void
http_free(struct api *a)
{
	conns_stop(a);
	if (a->http != NULL)
		evhttp_free(a->http);
	SSL_CTX_free(a->ctx);
}
