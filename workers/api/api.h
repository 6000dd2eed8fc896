#ifndef KMD_API_H
#define KMD_API_H

#include <sys/queue.h>

#include <event2/http.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <time.h>
#include <yajl_gen.h>

#include "log.h"
#include "reply.h"
#include "worker.h"

#define TOKENS_MAX	1024
#define PEERS_MAX	256
#define FAILS_MAX	5		/* failed logins per window and address */
#define USER_FAILS_MAX	10		/* ... and per user name */
#define FAILS_WINDOW	60		/* seconds */
#define NODES_MAX	REPLY_NODES_MAX
#define INFO_CACHE_MS	1000		/* GET cluster */
#define API		"/api/v1"	/* the REST API's root */

enum areq_kind { R_INFO, R_HEALTH, R_NEW, R_NODES, R_NODE, R_STATUS,
	R_LOGIN, R_CSR, R_CREATE, R_JOIN, R_SUMMARY, R_ALARMS, R_CHANGE,
	R_ROTKEYS, R_KEYS, R_KEY, R_CRYPT, R_VERSION, R_UPGRADE, R_USERS,
	R_USER, R_USERDONE, R_METRICS, R_BKEY, R_BKEYS, R_BKEYFILE,
	R_BACKUP, R_BACKUPS, R_VERIFY, R_DOWNLOAD };

/* A REST request waiting for the parent's answer. */
struct areq {
	TAILQ_ENTRY(areq)	 entry;
	uint32_t		 id;
	enum areq_kind		 kind;
	struct evhttp_request	*req;
	struct timespec		 t0;
	char			 user[KMD_NAME_MAX];
	char			 peer[64];
	struct reply		 r;
	int			 codes[HEALTH_STATES];	/* R_HEALTH */
	int			 fd;		/* R_DOWNLOAD: the file */
};

/* A token the joiner signed for a login here, and what it says. */
struct token {
	char			 tok[KMD_TOKEN_MAX];
	char			 user[KMD_NAME_MAX];
	int			 role;		/* enum op_role */
	int64_t			 expires;	/* monotonic seconds */
};

/* Failed logins of one address, or of one user name, in a window. */
struct peer_fails {
	char			 addr[KMD_NAME_MAX > 64 ? KMD_NAME_MAX : 64];
	int			 fails;
	int64_t			 since;
};

struct api {
	struct worker		*w;
	struct evhttp		*http;
	SSL_CTX			*ctx;
	int			 lifetime;
	uint32_t		 next_id;
	TAILQ_HEAD(, areq)	 pending;
	struct cluster_info	 info;		/* the last answer ... */
	int64_t			 info_at;	/* ... at (ms), 0: none */
	struct token		 tokens[TOKENS_MAX];
	const struct token	*caller;	/* of the request read now */
	struct evconnlistener	*lev;		/* conns.c */
	struct event		*resume_ev;
	int			 accept_paused;
	int			 nconn;
	int			 max_conn;
	int			 read_timeout;
	struct lograte		 log_accept, log_full, log_slow;
	struct peer_fails	 peers[PEERS_MAX];
	struct peer_fails	 users[PEERS_MAX];
	int64_t			 login_sec;	/* the second counted ... */
	int			 login_n;	/* ... and its logins */
	int			 login_rate;	/* at most, a second */
};

/* respond.c */
struct evhttp_request;
void	peer_of(struct evhttp_request *, char *, size_t);
const char *method_name(enum evhttp_cmd_type);
void	respond(struct evhttp_request *, int, yajl_gen,
	    const struct timespec *, const char *);
void	respond_empty(struct evhttp_request *, int, const struct timespec *,
	    const char *);
void	respond_error(struct evhttp_request *, int, const char *,
	    const struct timespec *, const char *);
void	log_request(struct evhttp_request *, int, const char *,
	    const struct timespec *);
int	error_code(const char *);
void	token_issue(struct api *, const char *, const struct auth_result *);
const struct token *token_caller(struct api *, struct evhttp_request *);
int	token_end(struct api *, struct evhttp_request *);
int	token_end_user(struct api *, const char *);
struct peer_fails *peer_fails(struct peer_fails *, const char *, int);

/* conns.c */
struct bufferevent *conns_new(struct event_base *, void *);
int	conns_listen(struct api *, int);
void	conns_limits(struct api *, int, int);
void	conns_busy(struct evhttp_request *);
void	conns_idle(struct evhttp_request *);
void	conns_stop(struct api *);
SSL_CTX	*conns_tls(const struct api_conf *);

/* metrics.c: the api's own counters; respond.c sends them */
const char *route_of(const char *);
void	metrics_count(const char *, const char *, int, double);
void	metrics_text(FILE *);
void	respond_metrics(struct evhttp_request *, const char *,
	    const struct timespec *, const char *);

/* http.c */
int	read_body(struct evhttp_request *, char *, size_t *);
int	query_int(struct evhttp_request *, const char *, int, int, int *,
	    char *, size_t);
struct areq	*api_send(struct api *, struct evhttp_request *,
		    enum areq_kind, const char *, uint16_t, const void *,
		    size_t);
struct areq	*api_send_fd(struct api *, struct evhttp_request *,
		    enum areq_kind, const char *, uint16_t, int, const void *,
		    size_t);
void	conns_admin(struct evhttp_request *);

/* backups.c */
void	do_bkeys(struct api *, struct evhttp_request *, const char *,
	    const struct timespec *);
void	do_backups(struct api *, struct evhttp_request *, const char *,
	    const struct timespec *);

int	http_start(struct api *, int, const struct api_conf *);
void	http_finish(struct api *, struct areq *, int, const char *);
void	http_stop(struct api *);
void	http_free(struct api *);

#endif
