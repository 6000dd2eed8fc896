#include <sys/types.h>

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kchan.h"
#include "log.h"
#include "util.h"

struct kcall {
	TAILQ_ENTRY(kcall)		 entry;
	struct kchan			*ch;
	uint32_t			 id;
	const struct kchan_exchange	*ex;
	void				*arg;
	struct event			*timer;
};

/*
 * Find the handler for m and check it: known type, allowed sender, exact
 * size, its strings terminated (payload_terminated(): a handler uses them
 * as they are).  On failure returns NULL with the reason in err.
 */
const struct kmsg_handler *
kmsg_lookup(const struct kmsg_handler *tab, size_t n, enum proc_id from,
    const struct kmsg *m, char *err, size_t errlen)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (tab[i].type != m->hdr.type)
			continue;
		if ((tab[i].from & FROM(from)) == 0) {
			snprintf(err, errlen, "message %s not accepted from %s",
			    imsg_type_name(m->hdr.type), proc_name(from));
			return NULL;
		}
		if (tab[i].len != KMSG_VARLEN && tab[i].len != m->datalen) {
			snprintf(err, errlen, "message %s from %s has %zu bytes,"
			    " expected %zu", imsg_type_name(m->hdr.type),
			    proc_name(from), m->datalen, tab[i].len);
			return NULL;
		}
		if (!payload_terminated(m->hdr.type, m->data, m->datalen)) {
			snprintf(err, errlen, "message %s from %s has a string"
			    " that is not NUL-terminated",
			    imsg_type_name(m->hdr.type), proc_name(from));
			return NULL;
		}
		return &tab[i];
	}
	if (imsg_type_known(m->hdr.type))
		snprintf(err, errlen, "unexpected message %s (type %u) from %s",
		    imsg_type_name(m->hdr.type), m->hdr.type, proc_name(from));
	else
		snprintf(err, errlen, "unknown message type %u from %s",
		    m->hdr.type, proc_name(from));
	return NULL;
}

static void
kchan_fail(struct kchan *ch, const char *why)
{
	event_del(ch->rev);
	event_del(ch->wev);
	ch->closed(ch, why, ch->ctx);
}

static void
kchan_readcb(evutil_socket_t fd, short ev, void *arg)
{
	struct kchan			*ch = arg;
	const struct kmsg_handler	*h;
	struct kmsg			 m;
	char				 err[256];
	ssize_t				 n;
	int				 r;

	(void)fd;
	(void)ev;
	if ((n = kbuf_read(&ch->kb)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		snprintf(err, sizeof(err), "read: %s", strerror(errno));
		kchan_fail(ch, err);
		return;
	}
	if (n == 0) {
		kchan_fail(ch, NULL);
		return;
	}
	while ((r = kbuf_get(&ch->kb, &m)) == 1) {
		h = kmsg_lookup(ch->handlers, ch->nhandlers, ch->peer, &m, err,
		    sizeof(err));
		if (h == NULL || h->fn(ch, &m, ch->ctx) == -1) {
			if (h != NULL)
				snprintf(err, sizeof(err), "bad %s from %s",
				    imsg_type_name(m.hdr.type),
				    proc_name(ch->peer));
			kmsg_closefd(&m);
			ch->bad = 1;
			kchan_fail(ch, err);
			return;
		}
		kmsg_closefd(&m);	/* unless the handler took it */
		regs_wipe();		/* what the frame's copies left there */
	}
	if (r == -1) {
		snprintf(err, sizeof(err), "malformed frame from %s: %s",
		    proc_name(ch->peer), strerror(errno));
		ch->bad = 1;
		kchan_fail(ch, err);
	}
}

static void
kchan_writecb(evutil_socket_t fd, short ev, void *arg)
{
	struct kchan	*ch = arg;
	char		 err[128];
	int		 r;

	(void)fd;
	(void)ev;
	if ((r = kbuf_flush(&ch->kb)) == -1) {
		snprintf(err, sizeof(err), "write: %s", strerror(errno));
		kchan_fail(ch, err);
	} else if (r == 1)
		event_del(ch->wev);
}

/*
 * What the callbacks of this pass of the loop queued, written: only what
 * the socket does not take waits for the write event.  An error is left
 * to the write event too, which ends the channel outside any caller.
 */
static void
kchan_flushcb(evutil_socket_t fd, short ev, void *arg)
{
	struct kchan	*ch = arg;

	(void)fd;
	(void)ev;
	if (!event_pending(ch->wev, EV_WRITE, NULL) &&
	    kbuf_flush(&ch->kb) != 1)
		event_add(ch->wev, NULL);
}

static struct kcall *
kcall_find(const struct kchan *ch, uint32_t id)
{
	struct kcall	*c;

	if (id == 0)
		return NULL;
	TAILQ_FOREACH(c, &ch->calls, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/*
 * Take a call off the channel before its one callback runs, so that the
 * callback may cancel it, free its arg or make a new call.
 */
static void
kcall_take(struct kchan *ch, struct kcall *c,
    const struct kchan_exchange **ex, void **arg)
{
	TAILQ_REMOVE(&ch->calls, c, entry);
	if (c->timer != NULL)
		event_free(c->timer);
	*ex = c->ex;
	*arg = c->arg;
	free(c);
}

static void
kcall_timeout(evutil_socket_t fd, short ev, void *v)
{
	struct kcall			*c = v;
	struct kchan			*ch = c->ch;
	const struct kchan_exchange	*ex;
	void				*arg;
	char				 why[64];

	(void)fd;
	(void)ev;
	snprintf(why, sizeof(why), "no answer from %s within %d s",
	    proc_name(ch->peer), c->ex->timeout);
	kcall_take(ch, c, &ex, &arg);
	ex->fail(ch, KCHAN_TIMEOUT, why, arg);
}

struct kchan *
kchan_new(struct event_base *base, int fd, enum proc_id peer,
    const struct kmsg_handler *tab, size_t n, kchan_closed_cb closed,
    void *ctx)
{
	struct kchan	*ch;

	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	if (kbuf_init(&ch->kb, fd) == -1) {
		free(ch);
		return NULL;
	}
	TAILQ_INIT(&ch->calls);
	ch->pid = (uint32_t)getpid();
	ch->base = base;
	ch->peer = peer;
	ch->handlers = tab;
	ch->nhandlers = n;
	ch->closed = closed;
	ch->ctx = ctx;
	ch->rev = event_new(base, fd, EV_READ | EV_PERSIST, kchan_readcb, ch);
	ch->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, kchan_writecb, ch);
	ch->fev = event_new(base, -1, 0, kchan_flushcb, ch);
	if (ch->rev == NULL || ch->wev == NULL || ch->fev == NULL ||
	    event_add(ch->rev, NULL)) {
		kchan_free(ch);
		return NULL;
	}
	return ch;
}

/*
 * Free the channel and close its socket.  The calls still waiting fail
 * first (KCHAN_CLOSED), on the channel as it was; no new call starts.
 */
void
kchan_free(struct kchan *ch)
{
	const struct kchan_exchange	*ex;
	struct kcall			*c;
	void				*arg;
	char				 why[64];

	if (ch == NULL)
		return;
	ch->freeing = 1;
	snprintf(why, sizeof(why), "the %s process went away before"
	    " answering; try again", proc_name(ch->peer));
	while ((c = TAILQ_FIRST(&ch->calls)) != NULL) {
		kcall_take(ch, c, &ex, &arg);
		ex->fail(ch, KCHAN_CLOSED, why, arg);
	}
	if (ch->rev != NULL)
		event_free(ch->rev);
	if (ch->wev != NULL)
		event_free(ch->wev);
	if (ch->fev != NULL)
		event_free(ch->fev);
	close(ch->kb.fd);
	kbuf_clear(&ch->kb);
	free(ch);
}

static void
kchan_link_closed(struct kchan *ch, const char *why, void *arg)
{
	(void)arg;
	if (ch->bad)
		fatalx("link to the %s: %s", proc_name(ch->peer), why);
	if (why != NULL)
		log_warnx("link to the %s: %s", proc_name(ch->peer), why);
	if (*ch->slot == ch)
		*ch->slot = NULL;
	kchan_free(ch);
}

/*
 * A link between two workers (the joiner's to the hsm), on the fd the
 * parent sent with m: *slot becomes a channel on it, the one before
 * freed (its calls fail).  Closed for the peer's frame, a link ends this
 * process, as a bad frame from the parent does, and the restart brings
 * both ends a new one; closed because the peer went, it is let go until
 * the parent hands out the next.  -1: no fd came.
 */
int
kchan_link(struct kchan **slot, struct event_base *base, struct kmsg *m,
    enum proc_id peer, const struct kmsg_handler *tab, size_t n, void *ctx)
{
	struct kchan	*old = *slot;

	if (m->fd == -1)
		return -1;
	*slot = NULL;
	kchan_free(old);
	if ((*slot = kchan_new(base, m->fd, peer, tab, n, kchan_link_closed,
	    ctx)) == NULL)
		fatal("%s", __func__);
	(*slot)->slot = slot;
	m->fd = -1;
	return 0;
}

/*
 * Queue a frame; the fd (or -1) is owned by the channel from here on.
 * The queue is written once the callback under way has returned
 * (kchan_flushcb), so that the frames one callback sends go in one
 * sendmsg, and a socket that takes them costs no epoll_ctl.
 */
int
kchan_send(struct kchan *ch, uint16_t type, uint32_t reqid, int fd,
    const void *data, size_t len)
{
	if (ch->kb.outlen + len > KCHAN_OUTMAX) {
		if (fd != -1)
			close(fd);
		errno = ENOBUFS;
		return -1;
	}
	if (kbuf_compose(&ch->kb, type, reqid, ch->pid, fd, data, len) == -1)
		return -1;
	if (!event_pending(ch->wev, EV_WRITE, NULL))
		event_active(ch->fev, EV_TIMEOUT, 1);
	return 0;
}

int
kchan_senderr(struct kchan *ch, uint32_t reqid, const char *fmt, ...)
{
	char	 msg[KMD_ERR_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kchan_send(ch, IMSG_CTL_ERROR, reqid, -1, msg, strlen(msg) + 1);
}

/*
 * Send a request under a new id and wait for its answer (ex).  The fd
 * (or -1) is the channel's from here on.  Returns the id, or 0 when the
 * request could not go (no callback runs then).
 */
uint32_t
kchan_call(struct kchan *ch, uint16_t type, int fd, const void *data,
    size_t len, const struct kchan_exchange *ex, void *arg)
{
	struct kcall	*c;
	struct timeval	 tv = { ex->timeout, 0 };
	void		*unused;

	if (ch->freeing || (c = calloc(1, sizeof(*c))) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (++ch->last_call == 0)	/* 0 is no call */
		ch->last_call = 1;
	c->ch = ch;
	c->id = ch->last_call;
	c->ex = ex;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&ch->calls, c, entry);
	if (ex->timeout > 0 && ((c->timer = evtimer_new(ch->base,
	    kcall_timeout, c)) == NULL || evtimer_add(c->timer, &tv) == -1)) {
		kcall_take(ch, c, &ex, &unused);
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (kchan_send(ch, type, ch->last_call, fd, data, len) == -1) {
		log_warn("%s: %s to %s", __func__, imsg_type_name(type),
		    proc_name(ch->peer));
		if ((c = kcall_find(ch, ch->last_call)) != NULL)
			kcall_take(ch, c, &ex, &unused);
		return 0;
	}
	return ch->last_call;
}

/* The caller went away: its callbacks never run.  0 or a past id: none. */
void
kchan_cancel(struct kchan *ch, uint32_t id)
{
	const struct kchan_exchange	*ex;
	struct kcall			*c;
	void				*arg;

	if (ch != NULL && (c = kcall_find(ch, id)) != NULL)
		kcall_take(ch, c, &ex, &arg);
}

/* Does a call wait under id? */
int
kchan_waiting(const struct kchan *ch, uint32_t id)
{
	return kcall_find(ch, id) != NULL;
}

/*
 * Set up calls: the message type that refuses one (a NUL-terminated
 * reason), and the id the first call follows.
 */
void
kchan_calls(struct kchan *ch, uint16_t errtype, uint32_t after)
{
	ch->errtype = errtype;
	ch->last_call = after;
}

/*
 * A handler, last in a table entry's checks: hand the answer m to the
 * call waiting under its id.  An error frame must hold a NUL-terminated
 * reason (-1 otherwise, as any malformed frame).
 */
int
kchan_reply(struct kchan *ch, struct kmsg *m, void *ctx)
{
	const struct kchan_exchange	*ex;
	struct kcall			*c;
	void				*arg;
	int				 refused;

	(void)ctx;
	refused = ch->errtype != 0 && m->hdr.type == ch->errtype;
	if (refused && (m->datalen == 0 || m->data[m->datalen - 1] != '\0'))
		return -1;
	if ((c = kcall_find(ch, m->hdr.reqid)) == NULL ||
	    (!refused && m->hdr.type != c->ex->rtype)) {
		log_debug("%s: %s from %s under id %u: no call waits for it;"
		    " dropped", __func__, imsg_type_name(m->hdr.type),
		    proc_name(ch->peer), m->hdr.reqid);
		return 0;
	}
	kcall_take(ch, c, &ex, &arg);
	if (refused)
		ex->fail(ch, KCHAN_REFUSED, (const char *)m->data, arg);
	else
		ex->reply(ch, m, arg);
	return 0;
}
