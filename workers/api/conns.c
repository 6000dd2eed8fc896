/*
 * The API's connections: how many are open, a deadline for each request,
 * and the listening socket's errors.  libevent 2.1's evhttp has none of
 * these: it counts no connections, its timeout is one of inactivity (a
 * client that sends a header byte every few seconds is never closed),
 * and its listener retries a failing accept (EMFILE) at once, forever,
 * logging each time.
 *
 * Each connection's state hangs on its SSL object (ex_data): OpenSSL
 * calls conn_gone() when evhttp frees the connection, whatever the
 * reason, so the count and the deadline's timer never outlive it.
 *   - At max_conn open connections the listener stops accepting; new
 *     clients wait in the kernel's backlog until one closes.
 *   - A connection must send a whole request within read_timeout of
 *     connecting or of the first byte of the request, or it is shut
 *     down.  Between requests a kept-alive connection is idle, and
 *     evhttp's own timeout (30 s without a byte) ends it: a client may
 *     take its time between two requests (a prompt, a slow step on
 *     another node), not within one.
 *   - A failing accept pauses the listener for ACCEPT_PAUSE_MS.
 *   - A request body may be 1 MB (http.c), except on a connection where
 *     an admin logged in or was served (conns_admin): there it may be a
 *     backup file for POST backups/upload, BACKUP_UPLOAD_MAX, and a
 *     request has ADMIN_READ_S to come whole.  evhttp 2.1 checks a
 *     body's length against its connection's cap before reading it, and
 *     has no hook between a request's headers and its body, so no
 *     client without an admin's token makes the api hold more than 1
 *     MB per connection.
 * Each kind of line is logged at most once per LOG_EVERY_MS.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "util.h"

#define ACCEPT_PAUSE_MS	200
#define LOG_EVERY_MS	10000
#define ADMIN_READ_S	600

struct aconn {
	struct api		*a;		/* NULL: after conns_stop() */
	struct bufferevent	*bev;
	struct event		*deadline;
	int			 idle;		/* between two requests */
	int			 admin;		/* an admin was served here */
	LIST_ENTRY(aconn)	 entry;
};

static LIST_HEAD(, aconn) conns = LIST_HEAD_INITIALIZER(conns);
static int		 conn_idx = -1;
/* The listener's error callback gets evhttp's argument: the one api. */
static struct api	*conns_api;

static void
conn_detach(struct aconn *c)
{
	LIST_REMOVE(c, entry);
	event_free(c->deadline);
	c->deadline = NULL;
	c->a->nconn--;
	c->a = NULL;
}

/* Accept while under the cap and not paused after an accept error. */
static void
conns_gate(struct api *a)
{
	if (a->lev == NULL)
		return;
	if (!a->accept_paused && a->nconn < a->max_conn)
		evconnlistener_enable(a->lev);
	else
		evconnlistener_disable(a->lev);
}

/* OpenSSL frees a connection's SSL: the connection is gone. */
static void
conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct aconn	*c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return;
	if (c->a != NULL) {
		struct api	*a = c->a;

		conn_detach(c);
		conns_gate(a);
	}
	free(c);
}

static void
conn_deadline(evutil_socket_t fd, short ev, void *arg)
{
	struct aconn	*c = arg;
	struct api	*a = c->a;
	unsigned	 held;
	int		 s;

	(void)fd;
	(void)ev;
	if (log_rate(&a->log_slow, mono_ms(), LOG_EVERY_MS, &held))
		log_warnx("closing a connection that sent no whole request"
		    " in %d s (api read-timeout; %u more since the last"
		    " such line)", a->read_timeout, held);
	/* evhttp sees the end of the stream and frees the connection. */
	if ((s = bufferevent_getfd(c->bev)) != -1)
		shutdown(s, SHUT_RDWR);
}

static void
conn_arm(struct aconn *c)
{
	struct timeval	 tv = { c->admin && c->a->read_timeout < ADMIN_READ_S ?
			    ADMIN_READ_S : c->a->read_timeout, 0 };

	evtimer_add(c->deadline, &tv);
}

/* Bytes came in: a request's first, after an idle spell, starts its clock. */
static void
conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct aconn	*c = arg;

	(void)buf;
	if (info->n_added > 0 && c->a != NULL && c->idle) {
		c->idle = 0;
		conn_arm(c);
	}
}

/* evhttp's bevcb: a TLS bufferevent for a new connection, counted. */
struct bufferevent *
conns_new(struct event_base *base, void *arg)
{
	struct api		*a = arg;
	struct aconn		*c;
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = SSL_new(a->ctx)) == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) != NULL &&
	    (c->deadline = evtimer_new(base, conn_deadline, c)) == NULL) {
		free(c);
		c = NULL;
	}
	if (c != NULL) {
		c->a = a;
		SSL_set_ex_data(ssl, conn_idx, c);
		LIST_INSERT_HEAD(&conns, c, entry);
		a->nconn++;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c != NULL && bev != NULL) {
		c->bev = bev;
		conn_arm(c);
		evbuffer_add_cb(bufferevent_get_input(bev), conn_input, c);
	}
	if (a->nconn >= a->max_conn && log_rate(&a->log_full, mono_ms(),
	    LOG_EVERY_MS, &(unsigned){ 0 }))
		log_warnx("%d connections open (api max-connections): new"
		    " ones wait until one closes", a->nconn);
	conns_gate(a);
	return bev;
}

static struct aconn *
conn_of(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	SSL				*ssl;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return NULL;
	return SSL_get_ex_data(ssl, conn_idx);
}

/*
 * No deadline while a request is served (idle 0: it was read whole) or
 * between two requests (idle 1: its reply went out; the next request's
 * first byte starts the clock again, conn_input).
 */
static void
conn_pause(struct evhttp_request *req, int idle)
{
	struct aconn	*c = conn_of(req);

	if (c != NULL && c->a != NULL) {
		evtimer_del(c->deadline);
		c->idle = idle;
	}
}

void
conns_busy(struct evhttp_request *req)
{
	conn_pause(req, 0);
}

void
conns_idle(struct evhttp_request *req)
{
	conn_pause(req, 1);
}

/* An admin logged in or was served on req's connection: see above. */
void
conns_admin(struct evhttp_request *req)
{
	struct aconn	*c = conn_of(req);

	if (c == NULL || c->a == NULL || c->admin)
		return;
	c->admin = 1;
	evhttp_connection_set_max_body_size(evhttp_request_get_connection(req),
	    BACKUP_UPLOAD_MAX);
}

static void
accept_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct api	*a = arg;

	(void)fd;
	(void)ev;
	a->accept_paused = 0;
	conns_gate(a);
}

static void
accept_error(struct evconnlistener *lev, void *arg)
{
	struct api	*a = conns_api;
	struct timeval	 tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	unsigned	 held;
	int		 e = EVUTIL_SOCKET_ERROR();

	(void)lev;
	(void)arg;
	if (log_rate(&a->log_accept, mono_ms(), LOG_EVERY_MS, &held))
		log_warnx("accept: %s; new connections wait (%u more"
		    " failures since the last such line)", strerror(e),
		    held);
	a->accept_paused = 1;
	conns_gate(a);
	evtimer_add(a->resume_ev, &tv);
}

/* Serve the listening socket fd through our own listener. */
int
conns_listen(struct api *a, int fd)
{
	if (conn_idx == -1 && (conn_idx = SSL_get_ex_new_index(0, NULL, NULL,
	    NULL, conn_gone)) == -1)
		return -1;
	if ((a->resume_ev = evtimer_new(a->w->base, accept_resume, a)) ==
	    NULL)
		return -1;
	conns_api = a;
	/* backlog 0: the parent's socket is listening already. */
	if ((a->lev = evconnlistener_new(a->w->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL)
		return -1;
	if (evhttp_bind_listener(a->http, a->lev) == NULL) {
		evconnlistener_free(a->lev);
		a->lev = NULL;
		return -1;
	}
	evconnlistener_set_error_cb(a->lev, accept_error);
	return 0;
}

/* New limits from kmd.conf (SIGHUP). */
void
conns_limits(struct api *a, int max_conn, int read_timeout)
{
	a->max_conn = max_conn;
	a->read_timeout = read_timeout;
	conns_gate(a);
}

/*
 * Before evhttp_free(): the connections it frees, perhaps only when the
 * event base goes, must not reach the api or the base then.
 */
void
conns_stop(struct api *a)
{
	struct aconn	*c;

	while ((c = LIST_FIRST(&conns)) != NULL)
		conn_detach(c);
	a->lev = NULL;
	if (a->resume_ev != NULL)
		event_free(a->resume_ev);
	a->resume_ev = NULL;
}

/* The server side of TLS 1.2 and up, with the certificate and key sent. */
SSL_CTX *
conns_tls(const struct api_conf *ac)
{
	SSL_CTX		*ctx = SSL_CTX_new(TLS_server_method());
	BIO		*kb = BIO_new_mem_buf(ac->key, -1);
	BIO		*cb = BIO_new_mem_buf(ac->cert, -1);
	EVP_PKEY	*key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL,
			    NULL) : NULL;
	X509		*x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	int		 ok = ctx != NULL && key != NULL && x != NULL &&
			    SSL_CTX_set_min_proto_version(ctx,
			    TLS1_2_VERSION) == 1 &&
			    SSL_CTX_set_cipher_list(ctx,
			    "ECDHE+AESGCM:ECDHE+CHACHA20") == 1 &&
			    SSL_CTX_use_certificate(ctx, x) == 1 &&
			    SSL_CTX_use_PrivateKey(ctx, key) == 1 &&
			    SSL_CTX_check_private_key(ctx) == 1;

	while (ok && cb != NULL && (X509_free(x), x = PEM_read_bio_X509(cb,
	    NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add_extra_chain_cert(ctx, x) == 1)
			x = NULL;
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(x);
	BIO_free(kb);
	BIO_free(cb);
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return ctx;
}
