/*
 * kmctl's remote mode: HTTPS to kmd's REST API (its settings are
 * settings.c's) with libevent's HTTP client over OpenSSL.  A login
 * (POST auth/tokens) and the request share one keep-alive connection.
 * The JSON that comes back is re-printed like local output.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "kmctl.h"
#include "nodestatus.h"
#include "util.h"

#define RESPONSE_MAX	(4 * 1024 * 1024)

/* ---- HTTPS ------------------------------------------------------------ */

struct conn {
	struct event_base	*base;
	SSL_CTX			*ctx;
	SSL			*ssl;
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;
	struct evhttp_uri	*uri;
	const char		*host;
	int			 port;
	char			 hostport[300];
	const struct remote	*rem;
	/* the call in progress */
	int			 code;
	int			 failed;
	char			 err[256];
	char			*body;
	size_t			 bodylen;
	/* backups download and upload: a file as the body */
	int			 save_fd;	/* the reply's goes here */
	struct evbuffer		*errbody;	/* ... unless it is an error */
	int			 body_fd;	/* the request's comes from */
	off_t			 body_len;
};

static void
call_error(enum evhttp_request_error e, void *arg)
{
	struct conn	*c = arg;

	c->failed = 1;
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		snprintf(c->err, sizeof(c->err), "no answer within %d s",
		    c->rem->timeout);
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		snprintf(c->err, sizeof(c->err), "the reply is larger than"
		    " %d bytes", RESPONSE_MAX);
		break;
	default:
		break;
	}
}

/* The errno of a plain TCP connect to host:port, 0 if it connects. */
static int
probe(const char *host, int port, int timeout)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { timeout, 0 };
	char		 serv[8];
	int		 fd, e = EHOSTUNREACH;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if (getaddrinfo(host, serv, &hints, &res) != 0)
		return EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		e = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		close(fd);
		if (e == 0)
			break;
	}
	freeaddrinfo(res);
	return e == EINPROGRESS ? ETIMEDOUT : e;
}

/*
 * Why the connection failed: an untrusted certificate first, then the
 * socket's error (OpenSSL queues those as system errors too), then TLS.
 */
static void
conn_reason(struct conn *c)
{
	unsigned long	 e, tls = 0;
	long		 vr;
	int		 serr = 0;

	if (c->err[0] != '\0')
		return;
	if (c->ssl != NULL && (vr = SSL_get_verify_result(c->ssl)) !=
	    X509_V_OK) {
		snprintf(c->err, sizeof(c->err), "the server's certificate"
		    " is not trusted (%s); give --cacert with the node's API"
		    " certificate, or --nosslverify",
		    X509_verify_cert_error_string(vr));
		return;
	}
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		if (ERR_GET_LIB(e) == ERR_LIB_SYS)
			serr = ERR_GET_REASON(e);
		else if (tls == 0)
			tls = e;
	}
	if (serr == 0)
		serr = EVUTIL_SOCKET_ERROR();
	/* libevent may lose the connect error: ask the network again. */
	if (serr == 0 || serr == ENOTCONN)
		serr = probe(c->host, c->port, c->rem->timeout);
	if (serr == EAGAIN || serr == ETIMEDOUT)
		snprintf(c->err, sizeof(c->err), "no answer within %d s",
		    c->rem->timeout);
	else if (serr != 0)
		snprintf(c->err, sizeof(c->err), "%s", strerror(serr));
	else if (tls != 0)
		snprintf(c->err, sizeof(c->err), "TLS: %s",
		    ERR_reason_error_string(tls) ?
		    ERR_reason_error_string(tls) : "handshake failed");
	else
		snprintf(c->err, sizeof(c->err), "the connection failed");
}

static void
call_done(struct evhttp_request *req, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in;
	size_t		 n;

	event_base_loopexit(c->base, NULL);
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		c->failed = 1;
		conn_reason(c);
		return;
	}
	c->code = evhttp_request_get_response_code(req);
	in = evhttp_request_get_input_buffer(req);
	if (c->errbody != NULL) {	/* an error a download read first */
		evbuffer_prepend_buffer(in, c->errbody);
		evbuffer_free(c->errbody);
		c->errbody = NULL;
	}
	n = evbuffer_get_length(in);
	if ((c->body = malloc(n + 1)) == NULL)
		die("out of memory");
	evbuffer_remove(in, c->body, n);
	c->body[n] = '\0';
	c->bodylen = n;
}

/*
 * A download's body as it comes: into the file when the answer is 200,
 * else kept (its JSON error) for call_done, up to RESPONSE_MAX.
 */
static void
save_chunk(struct evhttp_request *req, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);

	if (evhttp_request_get_response_code(req) != 200) {
		if (c->errbody == NULL && (c->errbody = evbuffer_new()) == NULL)
			die("out of memory");
		if (evbuffer_get_length(c->errbody) + evbuffer_get_length(in) >
		    RESPONSE_MAX)
			die("%s: the reply is larger than %d bytes",
			    c->rem->url, RESPONSE_MAX);
		evbuffer_add_buffer(c->errbody, in);
		return;
	}
	while (evbuffer_get_length(in) > 0)
		if (evbuffer_write(in, c->save_fd) <= 0) {
			c->failed = 1;
			snprintf(c->err, sizeof(c->err), "cannot write --file:"
			    " %s", strerror(errno));
			evhttp_cancel_request(req);
			event_base_loopexit(c->base, NULL);
			return;
		}
}

static SSL_CTX *
client_ctx(const struct remote *rem)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		die("cannot set up TLS");
	if (rem->nosslverify) {
		fprintf(stderr, "kmctl: warning: nosslverify: %s's certificate"
		    " is not checked, so whoever sits between can read the"
		    " password and every reply; give --cacert instead\n",
		    rem->url);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (rem->cacert[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, rem->cacert, NULL) != 1)
			die("--cacert %s: not a readable PEM certificate file",
			    rem->cacert);
	} else
		SSL_CTX_set_default_verify_paths(ctx);
	return ctx;
}

static void
conn_open(struct conn *c, const struct remote *rem)
{
	X509_VERIFY_PARAM	*vp;
	unsigned char		 a[16];
	const char		*path;
	int			 port, ip;

	memset(c, 0, sizeof(*c));
	c->rem = rem;
	c->save_fd = c->body_fd = -1;
	/* a peer that closes is an error to report, not a silent death */
	signal(SIGPIPE, SIG_IGN);
	if ((c->uri = evhttp_uri_parse(rem->url)) == NULL ||
	    (c->host = evhttp_uri_get_host(c->uri)) == NULL ||
	    *c->host == '\0')
		die("'%s' is not a URL (https://host[:port])", rem->url);
	if ((path = evhttp_uri_get_path(c->uri)) != NULL && *path != '\0' &&
	    strcmp(path, "/") != 0)
		die("'%s': give the node's address only, without a path",
		    rem->url);
	if ((port = evhttp_uri_get_port(c->uri)) == -1)
		port = 443;
	c->port = port;
	snprintf(c->hostport, sizeof(c->hostport), strchr(c->host, ':') ?
	    "[%s]:%d" : "%s:%d", c->host, port);
	ip = inet_pton(AF_INET, c->host, a) == 1 ||
	    inet_pton(AF_INET6, c->host, a) == 1;
	if ((c->base = event_base_new()) == NULL)
		die("cannot set up the event loop");
	c->ctx = client_ctx(rem);
	if ((c->ssl = SSL_new(c->ctx)) == NULL)
		die("cannot set up TLS");
	if (!rem->nosslverify) {
		vp = SSL_get0_param(c->ssl);
		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) :
		    X509_VERIFY_PARAM_set1_host(vp, c->host, 0)) != 1)
			die("cannot check the name %s", c->host);
	}
	if (!ip)
		SSL_set_tlsext_host_name(c->ssl, c->host);
	c->bev = bufferevent_openssl_socket_new(c->base, -1, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL)
		die("cannot set up the connection");
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	c->evcon = evhttp_connection_base_bufferevent_new(c->base, NULL,
	    c->bev, c->host, port);
	if (c->evcon == NULL)
		die("cannot set up the connection");
	evhttp_connection_set_timeout(c->evcon, rem->timeout);
	evhttp_connection_set_max_body_size(c->evcon, RESPONSE_MAX);
	evhttp_connection_set_retries(c->evcon, 0);
}

static void
conn_close(struct conn *c)
{
	evhttp_connection_free(c->evcon);	/* frees bev and ssl */
	SSL_CTX_free(c->ctx);
	evhttp_uri_free(c->uri);
	event_base_free(c->base);
}

/* One request: 0 when a reply came back, -1 (c->failed) otherwise. */
static int
conn_try(struct conn *c, const char *method, const char *path,
    const char *token, const char *body, size_t bodylen)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	char			 uri[600], auth[KMD_TOKEN_MAX + 16];

	free(c->body);
	c->body = NULL;
	c->code = c->failed = 0;
	c->err[0] = '\0';
	if ((req = evhttp_request_new(call_done, c)) == NULL)
		die("out of memory");
	evhttp_request_set_error_cb(req, call_error);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", c->hostport);
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "User-Agent", "kmctl/" KMD_VERSION);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Bearer %s", token);
		evhttp_add_header(h, "Authorization", auth);
		explicit_bzero(auth, sizeof(auth));
	}
	if (body != NULL) {
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body,
		    bodylen);
	}
	if (c->body_fd != -1) {		/* mapped, not read, by libevent */
		evhttp_add_header(h, "Content-Type",
		    "application/octet-stream");
		if (evbuffer_add_file(evhttp_request_get_output_buffer(req),
		    dup(c->body_fd), 0, c->body_len) == -1)
			die("--file: cannot read it");
	}
	if (c->save_fd != -1) {
		evhttp_request_set_chunked_cb(req, save_chunk);
		evhttp_connection_set_max_body_size(c->evcon, -1);
	}
	snprintf(uri, sizeof(uri), "/api/v1/%s", path);
	if (evhttp_make_request(c->evcon, req, strcmp(method, "POST") == 0 ?
	    EVHTTP_REQ_POST : strcmp(method, "DELETE") == 0 ?
	    EVHTTP_REQ_DELETE : strcmp(method, "PUT") == 0 ?
	    EVHTTP_REQ_PUT : EVHTTP_REQ_GET, uri) == -1)
		die("cannot send the request to %s", c->rem->url);
	event_base_dispatch(c->base);
	return c->failed || c->body == NULL ? -1 : 0;
}

/* One request; dies with a clear reason unless a reply came back. */
static void
conn_call(struct conn *c, const char *method, const char *path,
    const char *token, const char *body, size_t bodylen)
{
	if (conn_try(c, method, path, token, body, bodylen) == -1) {
		conn_reason(c);
		die("%s: %s", c->rem->url, c->err);
	}
}

/* A non-2xx reply: the API's {"code","codeDesc","message"}, or the code. */
static void
die_status(struct conn *c)
{
	yajl_val	 v, msg = NULL;
	const char	*msgpath[] = { "message", NULL };

	if ((v = yajl_tree_parse(c->body, NULL, 0)) != NULL)
		msg = yajl_tree_get(v, msgpath, yajl_t_string);
	if (msg != NULL)
		die("%s", YAJL_GET_STRING(msg));
	die("%s answered HTTP %d", c->rem->url, c->code);
}

/* Open the connection and log in: the bearer token goes to token. */
static void
remote_login(struct conn *c, struct remote *rem, char *token, size_t len)
{
	struct rest_req	 lr;
	yajl_val	 v, tok;
	const char	*tokpath[] = { "token", NULL };
	const char	*msgpath[] = { "message", NULL };
	const char	*login[4];

	if (rem->user[0] == '\0')
		die("--user is needed with --url (or KMCTL_USER, or user in"
		    " ~/.kmctl.conf)");
	if (rem->password[0] == '\0') {
		if (!isatty(STDIN_FILENO))
			die("no password for the API: give --password, set"
			    " KMCTL_PASSWORD or put password in ~/.kmctl.conf");
		read_password("Password: ", rem->password,
		    sizeof(rem->password));
	}
	conn_open(c, rem);
	login[0] = "username";
	login[1] = rem->user;
	login[2] = "password";
	login[3] = rem->password;
	if (rest_body(&lr, login, 2) == -1)
		die("the user name or password is too long");
	conn_call(c, "POST", "auth/tokens", NULL, lr.body, lr.bodylen);
	explicit_bzero(&lr, sizeof(lr));
	/* a refused login names the node: fulljoin logs in on two */
	if (c->code != 200 && (v = yajl_tree_parse(c->body, NULL, 0)) != NULL &&
	    (tok = yajl_tree_get(v, msgpath, yajl_t_string)) != NULL)
		die("%s: %s", rem->url, YAJL_GET_STRING(tok));
	if (c->code != 200)
		die_status(c);
	if ((v = yajl_tree_parse(c->body, NULL, 0)) == NULL ||
	    (tok = yajl_tree_get(v, tokpath, yajl_t_string)) == NULL ||
	    kmd_strlcpy(token, YAJL_GET_STRING(tok), len) >= len)
		die("%s: the login reply holds no token", rem->url);
	yajl_tree_free(v);
	explicit_bzero(c->body, c->bodylen);
}

/* One call that must succeed; its JSON, parsed. */
static yajl_val
remote_json(struct conn *c, const char *method, const char *path,
    const char *token, const struct rest_req *rr)
{
	yajl_val	 v;

	conn_call(c, method, path, token, rr != NULL && rr->bodylen ?
	    rr->body : NULL, rr != NULL ? rr->bodylen : 0);
	if (c->code < 200 || c->code > 299)
		die_status(c);
	if (c->code == 204)	/* done, nothing to show (as on the socket) */
		return NULL;
	if ((v = yajl_tree_parse(c->body, NULL, 0)) == NULL)
		die("%s: the reply is not JSON", c->rem->url);
	return v;
}

/* End the session's token (DELETE auth/tokens); its answer is not read. */
static void
remote_logout(struct conn *c, char *token)
{
	char	*body = c->body;

	c->body = NULL;
	(void)conn_try(c, "DELETE", "auth/tokens", token, NULL, 0);
	free(c->body);
	c->body = body;
	explicit_bzero(token, strlen(token));
}

/* Print the last reply, end the session. */
static int
print_and_close(struct conn *c, yajl_val v, const struct ctl_action *a)
{
	int	 r = v == NULL ? 0 : a != NULL && a->print == P_VERSION ?
		    print_version(v) : print_json(v);

	const char	*hp[] = { "health", NULL }, *sp[] = { "same", NULL };
	yajl_val	 h = v == NULL ? NULL : yajl_tree_get(v, hp, yajl_t_string);
	const char	*hs = YAJL_GET_STRING(h);
	int		 serving = hs != NULL && strcmp(hs, "ready") == 0;
	int		 same = v != NULL && YAJL_IS_TRUE(yajl_tree_get(v, sp,
			    yajl_t_true));

	yajl_tree_free(v);
	free(c->body);
	conn_close(c);
	if (r == -1)
		die("cannot write the output: %s", strerror(errno));
	if (a != NULL && a->print == P_HEALTH && !serving)
		exit_answered(KMCTL_EXIT_NOT_SERVING);
	if (a != NULL && a->print == P_VERIFY && !same)
		exit_answered(KMCTL_EXIT_DIFFERENT);
	return 0;
}

/*
 * backups upload: --file as the body (the server takes at most
 * BACKUP_UPLOAD_MAX; kmctl on the node passes any size); download: the
 * body into --file as it comes, kept whole or not at all, then the
 * backup's row printed as on the socket.
 */
static yajl_val
remote_file(struct conn *c, const struct ctl_action *a,
    const struct rest_req *rr, const void *req, const char *token)
{
	const struct backup_req	*rq = req;
	struct stat		 st;
	char			 path[128];
	yajl_val		 v;

	if (a->action == A_BACKUPS_UPLOAD) {
		if (fstat(ctl_fd_in, &st) == -1)
			die("--file: %s", strerror(errno));
		if (st.st_size > BACKUP_UPLOAD_MAX)
			die("--file is %lld MB, and the API takes at most %d MB:"
			    " upload it with kmctl on the node itself (no"
			    " --url), which passes the open file",
			    (long long)st.st_size / 1048576,
			    BACKUP_UPLOAD_MAX / 1048576);
		/*
		 * The api takes a body this large only on a connection an
		 * admin was served on: ask once first, which also refuses
		 * a user of another role in words before the file goes.
		 */
		yajl_tree_free(remote_json(c, "GET", "backups", token, NULL));
		c->body_fd = ctl_fd_in;
		c->body_len = st.st_size;
		v = remote_json(c, a->method, rr->path, token, NULL);
		c->body_fd = -1;	/* the logout has no body */
		return v;
	}
	c->save_fd = backup_save_open();
	if (conn_try(c, a->method, rr->path, token, NULL, 0) == -1) {
		conn_reason(c);
		backup_save_close(c->save_fd, 1, c->err);
	}
	if (c->code != 200) {
		backup_save_discard(c->save_fd);
		die_status(c);
	}
	backup_save_close(c->save_fd, 0, NULL);
	c->save_fd = -1;
	snprintf(path, sizeof(path), "backups/%s", rq->id);
	return remote_json(c, "GET", path, token, NULL);
}

int
remote_run(struct remote *rem, const struct ctl_action *a, const void *req)
{
	static struct rest_req	 rr;
	struct conn		 c;
	yajl_val		 v;
	char			 token[KMD_TOKEN_MAX];

	memset(&rr, 0, sizeof(rr));
	kmd_strlcpy(rr.path, a->rest_path, sizeof(rr.path));
	if (a->rest != NULL && a->rest(req, &rr) == -1)
		die("the request is too large");
	remote_login(&c, rem, token, sizeof(token));
	if (a->action == A_BACKUPS_UPLOAD || a->action == A_BACKUPS_DOWNLOAD)
		v = remote_file(&c, a, &rr, req, token);
	else
		v = remote_json(&c, a->method, rr.path, token, &rr);
	remote_logout(&c, token);
	return print_and_close(&c, v, a);
}

static const char *
jstr(yajl_val v, const char *key)
{
	const char	*path[] = { key, NULL };
	yajl_val	 s = yajl_tree_get(v, path, yajl_t_string);

	return s != NULL ? YAJL_GET_STRING(s) : "";
}

/*
 * cluster join over HTTPS: the preflight's checks, the question, the
 * join; with --block, GET cluster until ready or killed.
 */
int
remote_join(struct remote *rem, const struct parse_result *res,
    const struct ctl_action *a, struct cluster_join *cj)
{
	static struct rest_req	 rr;
	struct conn		 c;
	struct join_check	 jc;
	yajl_val		 v, checks, ok;
	const char		*cpath[] = { "checks", NULL };
	const char		*spath[] = { "status", "code", NULL };
	const char		*dpath[] = { "status", "description", NULL };
	const char		*okpath[] = { "ok", NULL };
	char			 token[KMD_TOKEN_MAX], last[300] = "", code[32];
	char			 line[300];
	size_t			 i;

	remote_login(&c, rem, token, sizeof(token));
	memset(&rr, 0, sizeof(rr));
	cj->preflight_only = 1;
	if (a->rest(cj, &rr) == -1)
		die("the request is too large");
	v = remote_json(&c, a->method, a->rest_path, token, &rr);
	if ((checks = yajl_tree_get(v, cpath, yajl_t_array)) != NULL)
		for (i = 0; i < checks->u.array.len; i++) {
			memset(&jc, 0, sizeof(jc));
			kmd_strlcpy(jc.item, jstr(checks->u.array.values[i],
			    "check"), sizeof(jc.item));
			kmd_strlcpy(jc.detail, jstr(checks->u.array.values[i],
			    "detail"), sizeof(jc.detail));
			ok = yajl_tree_get(checks->u.array.values[i], okpath,
			    yajl_t_true);
			jc.ok = ok != NULL;
			print_check("preflight", &jc);
		}
	yajl_tree_free(v);
	confirm(res, a->prompt);
	memset(&rr, 0, sizeof(rr));
	cj->preflight_only = 0;
	if (a->rest(cj, &rr) == -1)
		die("the request is too large");
	v = remote_json(&c, a->method, a->rest_path, token, &rr);
	explicit_bzero(&rr, sizeof(rr));
	while (res->flag[F_BLOCK] != NULL) {
		kmd_strlcpy(code, yajl_tree_get(v, spath, yajl_t_string) ?
		    YAJL_GET_STRING(yajl_tree_get(v, spath, yajl_t_string)) :
		    "", sizeof(code));
		snprintf(line, sizeof(line), "%s%s%s", yajl_tree_get(v, dpath,
		    yajl_t_string) ? YAJL_GET_STRING(yajl_tree_get(v, dpath,
		    yajl_t_string)) : code, *jstr(v, "progress") ? ": " : "",
		    jstr(v, "progress"));
		if (strcmp(line, last) != 0) {
			fprintf(stderr, "join: %s\n", line);
			kmd_strlcpy(last, line, sizeof(last));
		}
		if (ns_parse(code) == NS_READY)
			break;
		if (ns_parse(code) == NS_KILLED || ns_parse(code) == NS_UNKNOWN) {
			print_json(v);
			die("cluster join failed: %s", *jstr(v, "error") ?
			    jstr(v, "error") : code);
		}
		yajl_tree_free(v);
		usleep(1000000);
		v = remote_json(&c, "GET", "cluster", token, NULL);
	}
	remote_logout(&c, token);
	return print_and_close(&c, v, a);
}

/* ---- sessions, for commands that talk to two nodes (fulljoin) ------- */

struct rsession {
	struct conn	 c;
	char		 token[KMD_TOKEN_MAX];
};

struct rsession *
rsession_open(struct remote *rem)
{
	struct rsession	*rs;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		die("out of memory");
	remote_login(&rs->c, rem, rs->token, sizeof(rs->token));
	return rs;
}

yajl_val
rsession_call(struct rsession *rs, const char *method, const char *path,
    const struct rest_req *rr)
{
	return remote_json(&rs->c, method, path, rs->token, rr);
}

void
rsession_close(struct rsession *rs)
{
	remote_logout(&rs->c, rs->token);
	free(rs->c.body);
	conn_close(&rs->c);
	free(rs);
}
