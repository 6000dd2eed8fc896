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

/*
 * Find the handler for m and check it: known type, allowed sender, exact
 * size.  On failure returns NULL with the reason in err.
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
		return &tab[i];
	}
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
			kchan_fail(ch, err);
			return;
		}
		kmsg_closefd(&m);	/* unless the handler took it */
	}
	if (r == -1) {
		snprintf(err, sizeof(err), "malformed frame from %s: %s",
		    proc_name(ch->peer), strerror(errno));
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
	ch->peer = peer;
	ch->handlers = tab;
	ch->nhandlers = n;
	ch->closed = closed;
	ch->ctx = ctx;
	ch->rev = event_new(base, fd, EV_READ | EV_PERSIST, kchan_readcb, ch);
	ch->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, kchan_writecb, ch);
	if (ch->rev == NULL || ch->wev == NULL || event_add(ch->rev, NULL)) {
		kchan_free(ch);
		return NULL;
	}
	return ch;
}

/* Free the channel and close its socket. */
void
kchan_free(struct kchan *ch)
{
	if (ch == NULL)
		return;
	if (ch->rev != NULL)
		event_free(ch->rev);
	if (ch->wev != NULL)
		event_free(ch->wev);
	close(ch->kb.fd);
	kbuf_clear(&ch->kb);
	free(ch);
}

/* Queue a frame; the fd (or -1) is owned by the channel from here on. */
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
	if (kbuf_compose(&ch->kb, type, reqid, (uint32_t)getpid(), fd, data,
	    len) == -1)
		return -1;
	return event_add(ch->wev, NULL);
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
