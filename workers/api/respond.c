/*
 * What every REST answer shares: the JSON body and its status, the error
 * body, one log line per request, and the bearer tokens and failed-login
 * counts the routes check.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "api.h"
#include "json.h"
#include "log.h"
#include "nodestatus.h"
#include "util.h"

static const char *
code_desc(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

void
peer_of(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char	*addr = "-";
	ev_uint16_t	 port = 0;

	/* The client may have left: the request lives on, unconnected. */
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, (char **)&addr, &port);
	snprintf(buf, len, "%s", addr);
}

/* A method by name, as the log and the catalogue spell it. */
const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "other";
	}
}

void
log_request(struct evhttp_request *req, int code, const char *user,
    const struct timespec *t0)
{
	struct timespec	 t1;
	char		 peer[64];
	const char	*m = method_name(evhttp_request_get_command(req));

	double		 ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
	peer_of(req, peer, sizeof(peer));
	log_info("%s %s %s %d user=%s %.1fms", peer, m,
	    evhttp_request_get_uri(req), code, user[0] ? user : "-", ms);
	metrics_count(m, evhttp_uri_get_path(evhttp_request_get_evhttp_uri(
	    req)), code, ms / 1e3);
}

/*
 * Every answer goes out here: out (freed; NULL: no body) as type, never
 * cached, the connection idle again, the request logged and counted.
 */
static void
respond_body(struct evhttp_request *req, int code, const char *type,
    struct evbuffer *out, const struct timespec *t0, const char *user)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	if (type != NULL)
		evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	conns_idle(req);
	evhttp_send_reply(req, code, code_desc(code), out);
	log_request(req, code, user, t0);
	if (out != NULL)
		evbuffer_free(out);
}

/* Send a JSON body built by fill (or an error when msg is set). */
void
respond(struct evhttp_request *req, int code, yajl_gen g,
    const struct timespec *t0, const char *user)
{
	struct evbuffer		*out = evbuffer_new();
	const unsigned char	*buf;
	size_t			 len;

	yajl_gen_get_buf(g, &buf, &len);
	if (out != NULL)
		evbuffer_add(out, buf, len);
	respond_body(req, code, "application/json", out, t0, user);
	yajl_gen_free(g);
}

/* A reply without a body (204). */
void
respond_empty(struct evhttp_request *req, int code, const struct timespec *t0,
    const char *user)
{
	respond_body(req, code, NULL, NULL, t0, user);
}

void
respond_error(struct evhttp_request *req, int code, const char *msg,
    const struct timespec *t0, const char *user)
{
	yajl_gen	 g = yajl_gen_alloc(NULL);

	if (g == NULL) {
		conns_idle(req);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (code == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
	json_error(g, code, code_desc(code), msg);
	respond(req, code, g, t0, user);
}

/* An operation's error message says what kind of failure it is. */
int
error_code(const char *msg)
{
	if (strstr(msg, "try again") != NULL)
		return 503;
	if (strstr(msg, "no node") != NULL || strstr(msg, "no key") != NULL)
		return 404;
	if (strstr(msg, "already") != NULL)
		return 409;
	if (strncmp(msg, "forbidden:", 10) == 0)
		return 403;
	return 400;
}

void
token_issue(struct api *a, const char *user, const struct auth_result *ar)
{
	struct token	*t = NULL, *oldest = &a->tokens[0];
	int64_t		 now = mono_now();
	size_t		 i;

	for (i = 0; i < TOKENS_MAX && t == NULL; i++) {
		if (a->tokens[i].expires <= now)
			t = &a->tokens[i];
		else if (a->tokens[i].expires < oldest->expires)
			oldest = &a->tokens[i];
	}
	if (t == NULL)
		t = oldest;
	kmd_strlcpy(t->tok, ar->token, sizeof(t->tok));
	kmd_strlcpy(t->user, user, sizeof(t->user));
	t->role = role_parse(ar->role);
	t->expires = now + a->lifetime;
}

/* End every token of user; how many there were. */
int
token_end_user(struct api *a, const char *user)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < TOKENS_MAX; i++)
		if (a->tokens[i].expires != 0 &&
		    strcmp(a->tokens[i].user, user) == 0) {
			sodium_memzero(&a->tokens[i], sizeof(a->tokens[i]));
			n++;
		}
	return n;
}

/* The live token the request's "Authorization: Bearer" names, or NULL. */
static struct token *
token_of(struct api *a, struct evhttp_request *req)
{
	const char	*h = evhttp_find_header(
			    evhttp_request_get_input_headers(req),
			    "Authorization");
	int64_t		 now = mono_now();
	size_t		 i, n;

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 ||
	    (n = strnlen(h + 7, KMD_TOKEN_MAX)) == KMD_TOKEN_MAX || n == 0)
		return NULL;
	for (i = 0; i < TOKENS_MAX; i++)
		if (a->tokens[i].expires > now &&
		    strlen(a->tokens[i].tok) == n &&
		    sodium_memcmp(a->tokens[i].tok, h + 7, n) == 0)
			return &a->tokens[i];
	return NULL;
}

/* End the request's own bearer token (logout): 1 if it was valid. */
int
token_end(struct api *a, struct evhttp_request *req)
{
	struct token	*t = token_of(a, req);

	if (t == NULL)
		return 0;
	sodium_memzero(t, sizeof(*t));
	return 1;
}

/* The valid "Authorization: Bearer" token of a request, or NULL. */
const struct token *
token_caller(struct api *a, struct evhttp_request *req)
{
	return token_of(a, req);
}

struct peer_fails *
peer_fails(struct peer_fails *tab, const char *addr, int create)
{
	struct peer_fails	*p, *free_slot = NULL;
	int64_t			 now = mono_now();
	size_t			 i;

	for (i = 0; i < PEERS_MAX; i++) {
		p = &tab[i];
		if (p->addr[0] != '\0' && now - p->since >= FAILS_WINDOW)
			p->addr[0] = '\0';
		if (p->addr[0] != '\0' && strcmp(p->addr, addr) == 0)
			return p;
		if (p->addr[0] == '\0' && free_slot == NULL)
			free_slot = p;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL)
		free_slot = &tab[randombytes_uniform(PEERS_MAX)];
	memset(free_slot, 0, sizeof(*free_slot));
	kmd_strlcpy(free_slot->addr, addr, sizeof(free_slot->addr));
	free_slot->since = now;
	return free_slot;
}

/* The shape of each kind of request's reply (common/json.c). */
static const enum print_what shapes[] = {
	[R_INFO] = P_INFO, [R_HEALTH] = P_HEALTH, [R_NEW] = P_INFO,
	[R_NODES] = P_NODES, [R_NODE] = P_NODE, [R_STATUS] = P_STATUS,
	[R_LOGIN] = P_NONE, [R_CSR] = P_CSR, [R_CREATE] = P_CRED,
	[R_JOIN] = P_NONE, [R_SUMMARY] = P_SUMMARY, [R_ALARMS] = P_ALARMS,
	[R_CHANGE] = P_NONE, [R_ROTKEYS] = P_ROTKEYS, [R_KEYS] = P_KEYS,
	[R_KEY] = P_KEY, [R_CRYPT] = P_CRYPT, [R_VERSION] = P_VERSION,
	[R_UPGRADE] = P_UPGRADE, [R_USERS] = P_USERS, [R_USER] = P_USER,
	[R_USERDONE] = P_NONE, [R_METRICS] = P_METRICS, [R_BKEY] = P_BKEY,
	[R_BKEYS] = P_BKEYS, [R_BKEYFILE] = P_BKEY_FILE,
	[R_BACKUP] = P_BACKUP, [R_BACKUPS] = P_BACKUPS, [R_VERIFY] = P_VERIFY,
	[R_DOWNLOAD] = P_BACKUP,
};

/* A reply without the frames its kind needs is kmd's fault: 500. */
static int
areq_complete(const struct areq *r)
{
	return reply_complete(&r->r, shapes[r->kind]);
}

/*
 * A login that passed: a fresh token, the failures of its address and of
 * its user forgotten.
 */
static void
json_login(struct api *a, struct areq *r, yajl_gen g)
{
	struct peer_fails	*pf;

	if ((pf = peer_fails(a->peers, r->peer, 0)) != NULL)
		pf->addr[0] = '\0';
	if ((pf = peer_fails(a->users, r->user, 0)) != NULL)
		pf->addr[0] = '\0';
	token_issue(a, r->user, &r->r.auth);
	if (role_parse(r->r.auth.role) >= ROLE_ADMIN)
		conns_admin(r->req);
	yajl_gen_map_open(g);
	json_str(g, "token");
	json_str(g, r->r.auth.token);
	json_str(g, "role");
	json_str(g, r->r.auth.role);
	json_str(g, "token_type");
	json_str(g, "Bearer");
	json_str(g, "expires_in");
	yajl_gen_integer(g, a->lifetime);
	yajl_gen_map_close(g);
}

/* cluster join: the node's state, or a preflight's {"checks": [...]}. */
static void
json_join(const struct reply *rp, yajl_gen g)
{
	size_t	 i;

	if (rp->haveinfo) {
		json_cluster_info(g, &rp->info);
		return;
	}
	yajl_gen_map_open(g);
	json_str(g, "checks");
	yajl_gen_array_open(g);
	for (i = 0; i < rp->nchecks; i++)
		json_check(g, &rp->checks[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

/* backup-keys export: the exported key's own JSON is the answer. */
static void
json_bkey_file(yajl_gen g, const struct bkey_info *k)
{
	yajl_val	 v = yajl_tree_parse(k->file, NULL, 0);

	if (v != NULL)
		json_value(g, v, 0);
	else
		yajl_gen_null(g);
	yajl_tree_free(v);
}

/* The JSON of a complete reply of every kind but health. */
static void
reply_json(struct api *a, struct areq *r, yajl_gen g)
{
	switch (r->kind) {
	case R_LOGIN:
		json_login(a, r, g);
		break;
	case R_JOIN:
		json_join(&r->r, g);
		break;
	case R_CHANGE:
		json_cluster_info(g, &r->r.info);
		break;
	case R_BKEYFILE:
		json_bkey_file(g, &r->r.bkeys[0]);
		break;
	default:
		json_reply(g, &r->r, shapes[r->kind], NULL);
		break;
	}
}

/* Health: the code of its state (the caller's choice, or do_health's). */
static void
respond_health(struct areq *r, yajl_gen g)
{
	json_health(g, &r->r.health);
	respond(r->req, r->codes[r->r.health.state], g, &r->t0, "");
}

/*
 * backups download: the backup's file as the body, mapped rather than
 * read (libevent's file segment, which closes the file once sent).
 */
static void
respond_file(struct evhttp_request *req, struct areq *r)
{
	struct evbuffer		*out;
	struct stat		 st;
	char			 disp[128];
	int			 fd;

	if (r->fd == -1 || fstat(r->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (out = evbuffer_new()) == NULL) {
		respond_error(req, 500, "kmd sent no backup file", &r->t0,
		    r->user);
		return;
	}
	fd = r->fd;
	if (st.st_size > 0)
		r->fd = -1;		/* the buffer's, even if it fails */
	if (st.st_size > 0 && evbuffer_add_file(out, fd, 0, st.st_size) ==
	    -1) {
		evbuffer_free(out);
		respond_error(req, 500, "cannot read the backup file", &r->t0,
		    r->user);
		return;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.kmdb\"",
	    r->r.nbackups > 0 ? r->r.backups[0].id : "backup");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Disposition", disp);
	respond_body(req, 200, "application/octet-stream", out, &r->t0,
	    r->user);
}

/* The parent answered a request: reply to its client. */
void
http_finish(struct api *a, struct areq *r, int ok, const char *errmsg)
{
	struct evhttp_request	*req = r->req;
	yajl_gen		 g;

	if (req == NULL)
		return;
	if (!ok && r->kind == R_LOGIN && errmsg == NULL) {
		/* Counted as a failure when it started (do_login). */
		log_warnx("failed login for '%s' from %s", r->user, r->peer);
		respond_error(req, 401, "wrong user name or password", &r->t0,
		    "");
		return;
	}
	if (!ok && r->kind == R_HEALTH) {	/* the joiner is down */
		memset(&r->r.health, 0, sizeof(r->r.health));
		r->r.health.state = HEALTH_UNAVAILABLE;
		r->r.health.hsm_ok = -1;
		kmd_strlcpy(r->r.health.error, errmsg != NULL ? errmsg :
		    "kmd did not answer", sizeof(r->r.health.error));
		r->r.havehealth = ok = 1;
	}
	if (!ok) {
		respond_error(req, r->kind == R_HEALTH ? 503 :
		    error_code(errmsg), errmsg, &r->t0, r->user);
		return;
	}
	if (!areq_complete(r)) {
		respond_error(req, 500, "kmd sent an incomplete reply", &r->t0,
		    r->user);
		return;
	}
	if (r->kind == R_INFO) {
		a->info = r->r.info;
		a->info_at = mono_ms();
	}
	if ((g = yajl_gen_alloc(NULL)) == NULL) {
		conns_idle(req);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (r->kind == R_HEALTH) {
		respond_health(r, g);
		return;
	}
	if (r->kind == R_METRICS) {
		yajl_gen_free(g);
		respond_metrics(req, r->r.text, &r->t0, r->user);
		return;
	}
	if (r->kind == R_DOWNLOAD) {
		yajl_gen_free(g);
		respond_file(req, r);
		return;
	}
	if (r->kind == R_USERDONE) {	/* a password set, a user deleted */
		yajl_gen_free(g);
		respond_empty(req, 204, &r->t0, r->user);
		return;
	}
	reply_json(a, r, g);
	respond(req, 200, g, &r->t0, r->user);
}

/* GET /metrics: replmon's text, then the api's, as Prometheus reads it. */
void
respond_metrics(struct evhttp_request *req, const char *text,
    const struct timespec *t0, const char *user)
{
	struct evbuffer		*out = evbuffer_new();
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*f;

	if (out == NULL || (f = open_memstream(&buf, &len)) == NULL) {
		if (out != NULL)
			evbuffer_free(out);
		respond_error(req, 500, "out of memory", t0, user);
		return;
	}
	fputs(text, f);
	metrics_text(f);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		evbuffer_free(out);
		respond_error(req, 500, "out of memory", t0, user);
		return;
	}
	evbuffer_add(out, buf, len);
	free(buf);
	respond_body(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    out, t0, user);
}
