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

#include <sys/queue.h>

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

/*
 * Calls: a request sent under an id the channel assigns (ids only
 * increase), and the one frame answered under that id routed back to the
 * caller.  The answer arrives through the handler table like any frame
 * (type, sender, exact size checked, then the entry's own checks); the
 * entry ends with kchan_reply(), which finds the call.  Exactly one of
 * reply() and fail() runs, once, unless the caller cancels first:
 *   reply(): a frame of the expected type under the call's id;
 *   fail():  the channel's error type under that id (KCHAN_REFUSED, why
 *            is the frame's text), no answer in time (KCHAN_TIMEOUT), or
 *            the channel freed first (KCHAN_CLOSED).
 * A frame under an id no call waits for (late, or of a cancelled call)
 * is dropped with a log line: ids are never reused, so it cannot reach
 * a newer caller.  Callbacks may cancel calls, make new ones, and free
 * what arg points to.
 */
enum kchan_end { KCHAN_REFUSED, KCHAN_TIMEOUT, KCHAN_CLOSED };

typedef void	(*kchan_reply_cb)(struct kchan *, struct kmsg *, void *);
typedef void	(*kchan_fail_cb)(struct kchan *, enum kchan_end, const char *,
		    void *);

/* An exchange: the answer's type, how long to wait, who hears of it. */
struct kchan_exchange {
	uint16_t	 rtype;		/* the answer's message type */
	int		 timeout;	/* seconds; 0: no limit */
	kchan_reply_cb	 reply;
	kchan_fail_cb	 fail;
};

struct kcall;
TAILQ_HEAD(kcalls, kcall);

struct kchan {
	struct kbuf		 kb;
	struct event		*rev;
	struct event		*wev;
	struct event		*fev;	/* the queue written after this pass */
	enum proc_id		 peer;
	const struct kmsg_handler *handlers;
	size_t			 nhandlers;
	kchan_closed_cb		 closed;
	void			*ctx;
	uint32_t		 id;	/* set by the owner (client id) */
	struct event_base	*base;
	struct kcalls		 calls;		/* waiting for an answer */
	uint32_t		 last_call;	/* the last call's id */
	uint16_t		 errtype;	/* refusals; 0: none */
	int			 freeing;
	int			 bad;	/* closed for the peer's frame, not I/O */
	struct kchan		**slot;	/* a link: where its owner keeps it */
	uint32_t		 pid;		/* ours, in each frame's header */
};

struct kchan	*kchan_new(struct event_base *, int, enum proc_id,
		    const struct kmsg_handler *, size_t, kchan_closed_cb, void *);
void		 kchan_free(struct kchan *);
int		 kchan_link(struct kchan **, struct event_base *, struct kmsg *,
		    enum proc_id, const struct kmsg_handler *, size_t, void *);
int		 kchan_send(struct kchan *, uint16_t, uint32_t, int,
		    const void *, size_t);
int		 kchan_senderr(struct kchan *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
uint32_t	 kchan_call(struct kchan *, uint16_t, int, const void *, size_t,
		    const struct kchan_exchange *, void *);
void		 kchan_cancel(struct kchan *, uint32_t);
int		 kchan_reply(struct kchan *, struct kmsg *, void *);
int		 kchan_waiting(const struct kchan *, uint32_t);
void		 kchan_calls(struct kchan *, uint16_t, uint32_t);
const struct kmsg_handler *kmsg_lookup(const struct kmsg_handler *, size_t,
		    enum proc_id, const struct kmsg *, char *, size_t);

#endif
