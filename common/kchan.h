/*
 * kchan: a kmsg channel on a libevent loop, and the handler tables every
 * process dispatches through.  A handler entry names the message type, the
 * exact payload size (or KMSG_VARLEN, when the handler's decoder checks
 * it), the peers allowed to send it, and the function.  kchan_dispatch()
 * checks all three before calling; a frame that fails closes the channel
 * through its closed() callback with a reason.
 */
#ifndef KMD_KCHAN_H
#define KMD_KCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "kmsg.h"
#include "proto.h"

#define KMSG_VARLEN	((size_t)-1)
#define KCHAN_OUTMAX	(8 * KMSG_MAX)	/* a peer that reads no more is cut */

struct event_base;
struct kchan;

struct kmsg_handler {
	uint16_t	 type;
	size_t		 len;
	uint32_t	 from;		/* FROM(PROC_x) | ... */
	int		(*fn)(struct kchan *, struct kmsg *, void *);
};

typedef void	(*kchan_closed_cb)(struct kchan *, const char *, void *);

struct kchan {
	struct kbuf		 kb;
	struct event		*rev;
	struct event		*wev;
	enum proc_id		 peer;
	const struct kmsg_handler *handlers;
	size_t			 nhandlers;
	kchan_closed_cb		 closed;
	void			*ctx;
	uint32_t		 id;	/* set by the owner (client id) */
};

struct kchan	*kchan_new(struct event_base *, int, enum proc_id,
		    const struct kmsg_handler *, size_t, kchan_closed_cb, void *);
void		 kchan_free(struct kchan *);
int		 kchan_send(struct kchan *, uint16_t, uint32_t, int,
		    const void *, size_t);
int		 kchan_senderr(struct kchan *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
const struct kmsg_handler *kmsg_lookup(const struct kmsg_handler *, size_t,
		    enum proc_id, const struct kmsg *, char *, size_t);

#endif
