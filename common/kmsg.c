#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmsg.h"

/* Frames written by one sendmsg at most. */
#define KBUF_IOV	64

#define KBUF_INITIAL	(16 * 1024)

int
kbuf_init(struct kbuf *kb, int fd)
{
	memset(kb, 0, sizeof(*kb));
	kb->fd = fd;
	TAILQ_INIT(&kb->outq);
	if ((kb->rbuf = malloc(KBUF_INITIAL)) == NULL)
		return -1;
	kb->rcap = KBUF_INITIAL;
	return 0;
}

/* Free everything; queued and unclaimed fds are closed.  kb->fd is not. */
void
kbuf_clear(struct kbuf *kb)
{
	struct kout	*o;

	while ((o = TAILQ_FIRST(&kb->outq)) != NULL) {
		TAILQ_REMOVE(&kb->outq, o, entry);
		if (o->fd != -1)
			close(o->fd);
		explicit_bzero(o->buf, o->len);
		free(o);
	}
	while (kb->nfds > 0)
		close(kb->fds[--kb->nfds]);
	if (kb->rbuf != NULL)
		explicit_bzero(kb->rbuf, kb->rcap);
	free(kb->rbuf);
	kb->rbuf = NULL;
	kb->rlen = kb->rcap = kb->consumed = kb->outlen = 0;
}

/*
 * Drop the frame handed out last, so its space can be reused.  Frames
 * carry PINs and passwords: the bytes a frame leaves behind are wiped,
 * here, on growth and in kbuf_clear(); a sent frame before it is freed.
 */
static void
kbuf_compact(struct kbuf *kb)
{
	if (kb->consumed == 0)
		return;
	memmove(kb->rbuf, kb->rbuf + kb->consumed, kb->rlen - kb->consumed);
	explicit_bzero(kb->rbuf + kb->rlen - kb->consumed, kb->consumed);
	kb->rlen -= kb->consumed;
	kb->consumed = 0;
}

/* Make room for at least one more byte, never beyond KMSG_MAX. */
static int
kbuf_reserve(struct kbuf *kb, size_t want)
{
	uint8_t	*p;
	size_t	 cap;

	kbuf_compact(kb);
	if (kb->rlen + want <= kb->rcap)
		return 0;
	if (kb->rlen + want > KMSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	cap = kb->rcap;
	while (cap < kb->rlen + want)
		cap *= 2;
	if (cap > KMSG_MAX)
		cap = KMSG_MAX;
	if ((p = malloc(cap)) == NULL)
		return -1;
	memcpy(p, kb->rbuf, kb->rlen);
	explicit_bzero(kb->rbuf, kb->rcap);
	free(kb->rbuf);
	kb->rbuf = p;
	kb->rcap = cap;
	return 0;
}

/* Bytes that will be needed to complete the frame at the buffer's head. */
static size_t
kbuf_wanted(const struct kbuf *kb)
{
	struct kmsg_hdr	 h;

	if (kb->rlen < KMSG_HDR_SIZE)
		return KMSG_HDR_SIZE - kb->rlen;
	memcpy(&h, kb->rbuf, sizeof(h));
	if (h.len > KMSG_MAX || h.len < KMSG_HDR_SIZE || h.len <= kb->rlen)
		return 1;	/* kbuf_get() will judge the header */
	return h.len - kb->rlen;
}

/* Append bytes that arrived some other way (the fuzzers, the tests). */
int
kbuf_feed(struct kbuf *kb, const void *data, size_t len)
{
	while (len > 0) {
		size_t n;

		if (kbuf_reserve(kb, 1) == -1)
			return -1;
		n = kb->rcap - kb->rlen;
		if (n > len)
			n = len;
		memcpy(kb->rbuf + kb->rlen, data, n);
		kb->rlen += n;
		data = (const uint8_t *)data + n;
		len -= n;
	}
	return 0;
}

static int
kbuf_take_fds(struct kbuf *kb, struct msghdr *mh)
{
	struct cmsghdr	*c;
	int		 bad = 0;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t	 i, n;
		int	 fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (kb->nfds < KMSG_MAXFDS)
				kb->fds[kb->nfds++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad || (mh->msg_flags & MSG_CTRUNC)) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/*
 * Read what the socket has, up to the end of the frame being assembled.
 * Returns bytes read, 0 on end of file, -1 on error (EAGAIN included).
 */
ssize_t
kbuf_read(struct kbuf *kb)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	size_t		 want;
	ssize_t		 n;

	want = kbuf_wanted(kb);
	if (want < 4096)
		want = 4096;
	if (kb->rlen + want > KMSG_MAX)
		want = KMSG_MAX - kb->rlen;
	if (want == 0 || kbuf_reserve(kb, want) == -1) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = kb->rbuf + kb->rlen;
	iov.iov_len = kb->rcap - kb->rlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cmsgbuf.buf;
	mh.msg_controllen = sizeof(cmsgbuf.buf);
	if ((n = recvmsg(kb->fd, &mh, MSG_CMSG_CLOEXEC)) == -1)
		return -1;
	if (kbuf_take_fds(kb, &mh) == -1)
		return -1;
	kb->rlen += n;
	return n;
}

/*
 * Hand out the next whole frame.  Returns 1 and fills m, 0 when more bytes
 * are needed, -1 on a malformed stream (EBADMSG: bad length or flags, or a
 * frame that claims an fd that never came; EMSGSIZE: over KMSG_MAX).
 * m->data stays valid until the next call.
 */
int
kbuf_get(struct kbuf *kb, struct kmsg *m)
{
	struct kmsg_hdr	 h;

	kbuf_compact(kb);
	m->fd = -1;
	if (kb->rlen < KMSG_HDR_SIZE)
		return 0;
	memcpy(&h, kb->rbuf, sizeof(h));
	if (h.len > KMSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (h.len < KMSG_HDR_SIZE || (h.flags & ~KMSG_F_FD) != 0) {
		errno = EBADMSG;
		return -1;
	}
	if (kb->rlen < h.len)
		return 0;
	if (h.flags & KMSG_F_FD) {
		if (kb->nfds == 0) {
			errno = EBADMSG;
			return -1;
		}
		m->fd = kb->fds[0];
		memmove(kb->fds, kb->fds + 1, --kb->nfds * sizeof(int));
	}
	m->hdr = h;
	m->data = kb->rbuf + KMSG_HDR_SIZE;
	m->datalen = h.len - KMSG_HDR_SIZE;
	kb->consumed = h.len;
	return 1;
}

/* Close a passed fd nobody claimed. */
void
kmsg_closefd(struct kmsg *m)
{
	if (m->fd != -1) {
		close(m->fd);
		m->fd = -1;
	}
}

/*
 * Queue a frame.  fd (or -1) is owned by the queue from here on: it is
 * closed once sent, or by kbuf_clear().
 */
int
kbuf_compose(struct kbuf *kb, uint16_t type, uint32_t reqid, uint32_t pid,
    int fd, const void *data, size_t len)
{
	struct kmsg_hdr	 h;
	struct kout	*o;

	if (len > KMSG_DATA_MAX || (len > 0 && data == NULL)) {
		if (fd != -1)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	if ((o = malloc(sizeof(*o) + KMSG_HDR_SIZE + len)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.type = type;
	h.flags = fd != -1 ? KMSG_F_FD : 0;
	h.len = KMSG_HDR_SIZE + len;
	h.reqid = reqid;
	h.pid = pid;
	memcpy(o->buf, &h, sizeof(h));
	if (len > 0)
		memcpy(o->buf + KMSG_HDR_SIZE, data, len);
	o->len = KMSG_HDR_SIZE + len;
	o->off = 0;
	o->fd = fd;
	TAILQ_INSERT_TAIL(&kb->outq, o, entry);
	kb->outlen += o->len;
	return 0;
}

/*
 * The frames at the head of the queue in one sendmsg: the first with its
 * fd, if it has one and none of it has gone yet, and those after it up to
 * the next that carries an fd (which must lead a message of its own).
 */
static ssize_t
kbuf_send_some(struct kbuf *kb)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov[KBUF_IOV];
	struct cmsghdr	*c;
	struct kout	*first = TAILQ_FIRST(&kb->outq), *o;
	int		 n = 0;

	memset(&mh, 0, sizeof(mh));
	for (o = first; o != NULL && n < KBUF_IOV; o = TAILQ_NEXT(o, entry)) {
		if (o != first && o->fd != -1)
			break;
		iov[n].iov_base = o->buf + o->off;
		iov[n++].iov_len = o->len - o->off;
	}
	mh.msg_iov = iov;
	mh.msg_iovlen = n;
	if (first->fd != -1 && first->off == 0) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof(cmsgbuf.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &first->fd, sizeof(int));
	}
	return sendmsg(kb->fd, &mh, MSG_NOSIGNAL);
}

/*
 * Write what the socket takes, as few sendmsg as the fds allow.  Returns
 * 1 when the queue is empty, 0 when bytes remain (try again when
 * writable), -1 on error.  A frame's fd went with its first byte: it is
 * closed here once any of the frame has gone.
 */
int
kbuf_flush(struct kbuf *kb)
{
	struct kout	*o;
	ssize_t		 n;
	size_t		 left;

	while (TAILQ_FIRST(&kb->outq) != NULL) {
		if ((n = kbuf_send_some(kb)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return 0;
			return -1;
		}
		while (n > 0 && (o = TAILQ_FIRST(&kb->outq)) != NULL) {
			if (o->fd != -1) {
				close(o->fd);
				o->fd = -1;
			}
			left = o->len - o->off;
			if ((size_t)n < left) {
				o->off += n;
				kb->outlen -= n;
				break;
			}
			n -= left;
			kb->outlen -= left;
			TAILQ_REMOVE(&kb->outq, o, entry);
			explicit_bzero(o->buf, o->len);
			free(o);
		}
	}
	return 1;
}
