/*
 * What every worker shares: receive its config slice from the parent on
 * KMD_PARENT_FD, drop privileges (sandbox.c), then run its handler table
 * on a libevent loop until the parent goes away or SIGTERM arrives.
 */
#ifndef KMD_WORKER_H
#define KMD_WORKER_H

#include <event2/event.h>

#include "kchan.h"

#define KMD_PARENT_FD	3

/* A worker's handlers get ctx, the role's own state, as their argument. */
struct worker {
	enum proc_id		 role;
	struct event_base	*base;
	struct kchan		*parent;
	struct conf_worker	 conf;
	void			*ctx;		/* the role's own state */
};

struct worker_def {
	enum proc_id		 role;
	const struct kmsg_handler *handlers;
	size_t			 nhandlers;
	int			(*init)(struct worker *);
	void			(*fini)(struct worker *);	/* at exit */
	int			(*prefilter)(void);	/* threads, say */
};

int	worker_start(struct worker *, const struct worker_def *, int,
	    kchan_closed_cb);
int	worker_run(const struct worker_def *, int, int);
int	worker_conf_reload(struct kchan *, struct kmsg *, void *);
struct event *worker_every(struct worker *, int, event_callback_fn, void *);

/* One per role, listed in master's process table. */
extern const struct worker_def	replmon_worker, joiner_worker, hsm_worker,
				api_worker;

#endif
