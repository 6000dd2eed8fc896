/*
 * The parent's one context.  Only the parent runs as root, parses the
 * config and routes requests; it holds no keys and speaks no SQL.
 */
#ifndef KMD_PARENT_H
#define KMD_PARENT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <limits.h>
#include <stdint.h>

#include "config.h"
#include "kchan.h"
#include "worker.h"

#define BACKOFF_MIN	1		/* seconds */
#define BACKOFF_MAX	30
#define BACKOFF_RESET	30		/* uptime that earns a fresh backoff */
#define CTL_CLIENTS_MAX	64
#define STOP_WAIT_MS	5000
#define PG_STOP_WAIT_MS	30000

struct parent;

/* One row of the process table. */
struct proc_def {
	enum proc_id	 id;
	const struct worker_def *worker;	/* NULL: postgres */
	const char	*chroot;	/* <datadir>/<this>, or NULL */
	const char	*usersuffix;	/* its OS user: kmd.conf user + this */
};

struct child {
	const struct proc_def	*def;
	struct parent		*p;
	pid_t			 pid;		/* 0: not running */
	struct kchan		*ch;
	char			 user[KMD_USER_MAX];	/* a worker's */
	uid_t			 uid;
	gid_t			 gid;
	int64_t			 started;
	uint32_t		 restarts;
	int			 backoff;	/* next delay, seconds */
	struct event		*restart_ev;
};

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct kchan		*ch;
	uint32_t		 id;
	uid_t			 uid;
};

/* A request forwarded to a worker, waiting for its END or ERROR. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	uint32_t		 reqid;		/* ours, towards the worker */
	enum proc_id		 worker;
	uint32_t		 client;	/* ctl_client id */
	uint32_t		 client_reqid;
};

struct parent {
	struct event_base	*base;
	struct kmd_conf		 conf;
	const char		*conffile;
	char			 self[PATH_MAX];
	int			 foreground;
	int			 verbose;
	int			 exit_code;	/* the process's, once stopped */
	uid_t			 dbuid;
	gid_t			 dbgid;
	gid_t			 sockgid;
	int64_t			 started;
	struct child		 children[PROC_MAX];
	int			 ctl_fd;
	int			 rot_fd;	/* passed to hsm, never read */
	int			 api_fd;	/* passed to api */
	struct api_conf		*apiconf;	/* sodium_malloc'd */
	struct event		*ctl_ev;
	TAILQ_HEAD(, ctl_client) clients;
	size_t			 nclients;
	uint32_t		 next_client;
	TAILQ_HEAD(, pending)	 pending;
	uint32_t		 next_reqid;
	int			 resetting;	/* services reset under way */
	struct hsm_status	 hsm_status;	/* the last hsm said */
	struct auth		*auth;		/* auth.c */
	struct pglog		*pglog;		/* pglog.c */
	/*
	 * Set by parent_main(), so that the lower files call up without
	 * depending on the upper ones: proc.c gives a worker's channel
	 * these handlers and says when it is gone; the relay's services
	 * reset runs reset().
	 */
	const struct kmsg_handler *worker_handlers;
	size_t			 nworker_handlers;
	void			(*worker_gone)(struct parent *, enum proc_id);
	void			(*reset)(struct parent *);
};

extern const struct proc_def	 proc_table[];
extern const size_t		 proc_table_len;

/* proc.c */
const struct proc_def *proc_lookup(const char *);
void	proc_start_all(struct parent *);
void	proc_reap(struct parent *);
void	proc_stop_all(struct parent *);
struct child *proc_child(struct parent *, enum proc_id);

/* control.c: the control socket */
int	control_listen(struct parent *);
int	control_start(struct parent *);
void	control_close(struct parent *);
struct ctl_client *control_adopt(struct parent *, int, uid_t);

/* auth.c: the api's callers, checked again here */
void	auth_init(struct parent *);
int	auth_token_key(struct kchan *, struct kmsg *, void *);
int	auth_api_token(struct kchan *, struct kmsg *, void *);
void	auth_user_ended(struct parent *, const char *);
int	auth_api_allows(struct parent *, const struct kmsg *, char *, size_t);

/* relay.c: requests to the workers, replies back, the parent's own */
void	relay_client_gone(struct parent *, uint32_t);
void	relay_worker_gone(struct parent *, enum proc_id);
int	ctl_status(struct kchan *, struct kmsg *, void *);
int	ctl_reset(struct kchan *, struct kmsg *, void *);
extern const struct kmsg_handler relay_ctl_handlers[];
extern const size_t relay_ctl_nhandlers;
extern const struct kmsg_handler parent_worker_handlers[];
extern const size_t parent_worker_nhandlers;

/* pglog.c: apply workers' errors from PostgreSQL's log, to replmon */
void	pglog_start(struct parent *);
void	pglog_stop(struct parent *);

/* pg.c */
int	as_db(const struct parent *);
void	as_root(void);
int	pg_prepare(struct parent *);
int	pg_write_conf(const struct parent *);
int	pg_wal_max_mb(const struct parent *);
void	pg_reload(struct parent *);
void	pg_tls_remove(struct parent *);
int	pg_tls_write(struct parent *, const struct tls_files *, char *,
	    size_t);
int	rot_open(const struct parent *);
int	rot_grow(const struct parent *, char *, size_t);
int	rot_zero(const struct parent *, int, char *, size_t);
int	pg_peers_allow(struct parent *, const struct peers_allow *, int *);
pid_t	pg_spawn(struct parent *);

/* apilisten.c */
int	api_load_cert(struct parent *);
int	api_listen(struct parent *);
void	api_conf_limits(const struct parent *, struct api_conf *);
void	api_send_conf(struct parent *, struct kchan *);

/* parent.c */
int	parent_main(struct parent *);
void	parent_reset(struct parent *);

#endif
