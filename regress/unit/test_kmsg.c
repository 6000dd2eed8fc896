/*
 * kmsg framing (common/kmsg.c) and the handler-table check kmsg_lookup()
 * (common/kchan.c).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "kchan.h"
#include "kmsg.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#define RCAP_INITIAL	(16 * 1024)	/* kmsg.c's KBUF_INITIAL */

static int		 sv[2] = { -1, -1 };
static struct kbuf	 tx, rx;	/* tx on sv[0], rx on sv[1] */

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(set_nonblock(sv[0]), 0);
	ck_assert_int_eq(set_nonblock(sv[1]), 0);
	ck_assert_int_eq(kbuf_init(&tx, sv[0]), 0);
	ck_assert_int_eq(kbuf_init(&rx, sv[1]), 0);
}

static void
teardown(void)
{
	kbuf_clear(&tx);
	kbuf_clear(&rx);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	sv[0] = sv[1] = -1;
}

/* A raw frame: header (reqid 42, pid 4242) and datalen bytes of data. */
static size_t
mkframe(uint8_t *buf, uint16_t type, uint16_t flags, uint32_t len,
    const void *data, size_t datalen)
{
	struct kmsg_hdr	 h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.flags = flags;
	h.len = len;
	h.reqid = 42;
	h.pid = 4242;
	memcpy(buf, &h, sizeof(h));
	if (datalen > 0)
		memcpy(buf + KMSG_HDR_SIZE, data, datalen);
	return KMSG_HDR_SIZE + datalen;
}

/* Flush tx and read rx until rx yields a frame. */
static void
pump(struct kmsg *m)
{
	ssize_t	 n;
	int	 r, f;

	for (;;) {
		if ((r = kbuf_get(&rx, m)) == 1)
			return;
		ck_assert_int_eq(r, 0);
		ck_assert_int_ne(f = kbuf_flush(&tx), -1);
		if ((n = kbuf_read(&rx)) == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			ck_assert_msg(f == 0, "all sent, no frame received");
		} else
			ck_assert_int_gt(n, 0);
	}
}

/* A pipe whose read end does not block. */
static void
mkpipe(int p[2])
{
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(set_nonblock(p[0]), 0);
}

/* Every write end of the pipe is closed: reading gives EOF. */
static void
assert_pipe_eof(int rfd)
{
	char	 c;

	ck_assert_msg(read(rfd, &c, 1) == 0, "a write end is still open");
}

/* Expect kbuf_get to fail with err on exactly this input. */
static void
assert_get_fails(const void *buf, size_t len, int err)
{
	struct kmsg	 m;

	ck_assert_int_eq(kbuf_feed(&rx, buf, len), 0);
	errno = 0;
	ck_assert_int_eq(kbuf_get(&rx, &m), -1);
	ck_assert_int_eq(errno, err);
	ck_assert_int_eq(m.fd, -1);
	kbuf_clear(&rx);
	ck_assert_int_eq(kbuf_init(&rx, sv[1]), 0);
}

START_TEST(t_roundtrip)
{
	struct kmsg	 m;

	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_STATUS, 7, 1234, -1,
	    "hello", 5), 0);
	ck_assert_uint_eq(tx.outlen, KMSG_HDR_SIZE + 5);
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	ck_assert_uint_eq(tx.outlen, 0);
	ck_assert(TAILQ_EMPTY(&tx.outq));
	ck_assert_int_eq(kbuf_read(&rx), KMSG_HDR_SIZE + 5);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert_uint_eq(m.hdr.type, IMSG_CTL_STATUS);
	ck_assert_uint_eq(m.hdr.flags, 0);
	ck_assert_uint_eq(m.hdr.len, KMSG_HDR_SIZE + 5);
	ck_assert_uint_eq(m.hdr.reqid, 7);
	ck_assert_uint_eq(m.hdr.pid, 1234);
	ck_assert_int_eq(m.fd, -1);
	ck_assert_uint_eq(m.datalen, 5);
	ck_assert(memcmp(m.data, "hello", 5) == 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

START_TEST(t_many_in_one_read)
{
	struct kmsg	 m;
	uint32_t	 i, v;

	for (i = 0; i < 10; i++)
		ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_PROC, i, 1, -1,
		    &i, sizeof(i)), 0);
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	ck_assert_int_eq(kbuf_read(&rx), 10 * (KMSG_HDR_SIZE + sizeof(i)));
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(kbuf_get(&rx, &m), 1);
		ck_assert_uint_eq(m.hdr.reqid, i);
		ck_assert_uint_eq(m.datalen, sizeof(v));
		memcpy(&v, m.data, sizeof(v));
		ck_assert_uint_eq(v, i);
	}
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_int_eq(kbuf_read(&rx), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

START_TEST(t_bytewise)
{
	uint8_t		 buf[64];
	struct kmsg	 m;
	size_t		 len, i, round;

	len = mkframe(buf, IMSG_CTL_ERROR, 0, KMSG_HDR_SIZE + 8, "abcdefgh",
	    8);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < len - 1; i++) {
			ck_assert_int_eq(kbuf_feed(&rx, buf + i, 1), 0);
			ck_assert_int_eq(kbuf_get(&rx, &m), 0);
		}
		ck_assert_int_eq(kbuf_feed(&rx, buf + len - 1, 1), 0);
		ck_assert_int_eq(kbuf_get(&rx, &m), 1);
		ck_assert_uint_eq(m.hdr.type, IMSG_CTL_ERROR);
		ck_assert_uint_eq(m.hdr.reqid, 42);
		ck_assert_uint_eq(m.hdr.pid, 4242);
		ck_assert_uint_eq(m.datalen, 8);
		ck_assert(memcmp(m.data, "abcdefgh", 8) == 0);
	}
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

START_TEST(t_split_header)
{
	uint8_t		 buf[64];
	struct kmsg	 m;
	size_t		 len;

	len = mkframe(buf, IMSG_CTL_ERROR, 0, KMSG_HDR_SIZE + 4, "wxyz", 4);
	ck_assert_int_eq(kbuf_feed(&rx, buf, 10), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_int_eq(kbuf_feed(&rx, buf + 10, KMSG_HDR_SIZE - 10), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_int_eq(kbuf_feed(&rx, buf + KMSG_HDR_SIZE,
	    len - KMSG_HDR_SIZE), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert_uint_eq(m.datalen, 4);
	ck_assert(memcmp(m.data, "wxyz", 4) == 0);
}
END_TEST

/* A frame's remainder arrives after the one before was handed out. */
START_TEST(t_compact)
{
	uint8_t		 buf[128];
	struct kmsg	 m;
	size_t		 a, b;

	a = mkframe(buf, IMSG_CTL_ERROR, 0, KMSG_HDR_SIZE + 3, "one", 3);
	b = mkframe(buf + a, IMSG_CTL_END, 0, KMSG_HDR_SIZE + 5, "twotw", 5);
	ck_assert_int_eq(kbuf_feed(&rx, buf, a + 7), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert(memcmp(m.data, "one", 3) == 0);
	ck_assert_int_eq(kbuf_feed(&rx, buf + a + 7, b - 7), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert_uint_eq(m.hdr.type, IMSG_CTL_END);
	ck_assert(memcmp(m.data, "twotw", 5) == 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

/* A consumed frame's bytes do not stay in the read buffer (a PIN). */
START_TEST(t_compact_wipes)
{
	uint8_t		 buf[128];
	struct kmsg	 m;
	size_t		 a, b, i;

	/* the PIN at the end of a long frame, past where the next lands */
	a = mkframe(buf, IMSG_CTL_ERROR, 0, KMSG_HDR_SIZE + 40,
	    "................................PIN-4711", 40);
	b = mkframe(buf + a, IMSG_CTL_END, 0, KMSG_HDR_SIZE + 5, "after",
	    5);
	ck_assert_int_eq(kbuf_feed(&rx, buf, a + 3), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	/* the next bytes compact the buffer: frame one's space is reused */
	ck_assert_int_eq(kbuf_feed(&rx, buf + a + 3, b - 3), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert(memcmp(m.data, "after", 5) == 0);
	/* the bytes the first feed wrote, no further */
	for (i = 0; i + 8 <= a + 3; i++)
		ck_assert_msg(memcmp(rx.rbuf + i, "PIN-4711", 8) != 0,
		    "the consumed frame's payload is still at %zu", i);
}
END_TEST

/* A line repeated in a burst is logged once a period, with the count. */
START_TEST(t_lograte)
{
	struct lograte	 lr = { 0, 0 };
	unsigned	 held = 99;

	ck_assert_int_eq(log_rate(&lr, 1000, 10000, &held), 1);
	ck_assert_uint_eq(held, 0);
	ck_assert_int_eq(log_rate(&lr, 1001, 10000, &held), 0);
	ck_assert_int_eq(log_rate(&lr, 10999, 10000, &held), 0);
	ck_assert_int_eq(log_rate(&lr, 11000, 10000, &held), 1);
	ck_assert_uint_eq(held, 2);
	ck_assert_int_eq(log_rate(&lr, 30000, 10000, &held), 1);
	ck_assert_uint_eq(held, 0);
}
END_TEST

START_TEST(t_empty_payload)
{
	uint8_t		 buf[KMSG_HDR_SIZE];
	struct kmsg	 m;

	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_END, 3, 4, -1, NULL, 0),
	    0);
	pump(&m);
	ck_assert_uint_eq(m.hdr.type, IMSG_CTL_END);
	ck_assert_uint_eq(m.hdr.len, KMSG_HDR_SIZE);
	ck_assert_uint_eq(m.datalen, 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);

	mkframe(buf, IMSG_CTL_STATUS, 0, KMSG_HDR_SIZE, NULL, 0);
	ck_assert_int_eq(kbuf_feed(&rx, buf, sizeof(buf)), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 1);
	ck_assert_uint_eq(m.datalen, 0);
}
END_TEST

START_TEST(t_oversize)
{
	static const uint32_t	 lens[] = { KMSG_MAX + 1, 4000000, UINT32_MAX };
	uint8_t			 buf[KMSG_HDR_SIZE];
	struct kmsg		 m;
	size_t			 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		mkframe(buf, IMSG_CTL_STATUS, 0, lens[i], NULL, 0);
		assert_get_fails(buf, sizeof(buf), EMSGSIZE);
	}

	/* Through the socket: read, refused, nothing allocated for it. */
	mkframe(buf, IMSG_CTL_STATUS, 0, KMSG_MAX + 1, NULL, 0);
	ck_assert_int_eq(write(sv[0], buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(kbuf_read(&rx), sizeof(buf));
	ck_assert_int_eq(kbuf_get(&rx, &m), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(rx.rcap, RCAP_INITIAL);

	/* Exactly KMSG_MAX is legal: waits for the payload. */
	kbuf_clear(&rx);
	ck_assert_int_eq(kbuf_init(&rx, sv[1]), 0);
	mkframe(buf, IMSG_CTL_STATUS, 0, KMSG_MAX, NULL, 0);
	ck_assert_int_eq(kbuf_feed(&rx, buf, sizeof(buf)), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

/* kbuf_feed never holds more than KMSG_MAX unclaimed bytes. */
START_TEST(t_feed_limit)
{
	uint8_t		*big;

	ck_assert_ptr_nonnull(big = calloc(1, KMSG_MAX + 1));
	mkframe(big, IMSG_CTL_STATUS, 0, KMSG_MAX + 1, NULL, 0);
	errno = 0;
	ck_assert_int_eq(kbuf_feed(&rx, big, KMSG_MAX + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_le(rx.rcap, KMSG_MAX);
	free(big);
}
END_TEST

START_TEST(t_short_len)
{
	static const uint32_t	 lens[] = { 0, 1, 8, KMSG_HDR_SIZE - 1 };
	uint8_t			 buf[KMSG_HDR_SIZE];
	size_t			 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		mkframe(buf, IMSG_CTL_STATUS, 0, lens[i], NULL, 0);
		assert_get_fails(buf, sizeof(buf), EBADMSG);
	}
}
END_TEST

START_TEST(t_bad_flags)
{
	static const uint16_t	 fl[] = { 0x0002, 0x0003, 0x8000, 0xffff };
	uint8_t			 buf[KMSG_HDR_SIZE];
	size_t			 i;

	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		mkframe(buf, IMSG_CTL_STATUS, fl[i], KMSG_HDR_SIZE, NULL, 0);
		assert_get_fails(buf, sizeof(buf), EBADMSG);
	}
}
END_TEST

/* The peer goes away mid-frame: EOF, and no frame comes out. */
START_TEST(t_truncated)
{
	uint8_t		 buf[KMSG_HDR_SIZE + 100];
	struct kmsg	 m;

	memset(buf, 'x', sizeof(buf));
	mkframe(buf, IMSG_CTL_ERROR, 0, sizeof(buf), NULL, 0);
	ck_assert_int_eq(write(sv[0], buf, 56), 56);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(kbuf_read(&rx), 56);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_int_eq(kbuf_read(&rx), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

START_TEST(t_truncated_header)
{
	uint8_t		 buf[KMSG_HDR_SIZE];
	struct kmsg	 m;

	mkframe(buf, IMSG_CTL_STATUS, 0, KMSG_HDR_SIZE, NULL, 0);
	ck_assert_int_eq(write(sv[0], buf, 5), 5);
	close(sv[0]);
	sv[0] = -1;
	ck_assert_int_eq(kbuf_read(&rx), 5);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_int_eq(kbuf_read(&rx), 0);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
}
END_TEST

START_TEST(t_fd_missing)
{
	uint8_t		 buf[KMSG_HDR_SIZE + 2];
	struct kmsg	 m;

	mkframe(buf, IMSG_CTL_STATUS, KMSG_F_FD, sizeof(buf), "hi", 2);
	assert_get_fails(buf, sizeof(buf), EBADMSG);

	/* Over the socket, as plain bytes without SCM_RIGHTS. */
	ck_assert_int_eq(write(sv[0], buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(kbuf_read(&rx), sizeof(buf));
	errno = 0;
	ck_assert_int_eq(kbuf_get(&rx, &m), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(m.fd, -1);
}
END_TEST

START_TEST(t_fd_pass)
{
	struct kmsg	 m;
	char		 got[8];
	int		 p[2];

	mkpipe(p);
	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_STATUS, 1, 2, p[1],
	    "fd", 2), 0);
	pump(&m);
	ck_assert_uint_eq(m.hdr.flags, KMSG_F_FD);
	ck_assert_uint_eq(m.datalen, 2);
	ck_assert(memcmp(m.data, "fd", 2) == 0);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_uint_eq(rx.nfds, 0);
	ck_assert(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(write(m.fd, "ping", 4), 4);
	ck_assert_int_eq(read(p[0], got, sizeof(got)), 4);
	ck_assert(memcmp(got, "ping", 4) == 0);
	kmsg_closefd(&m);
	ck_assert_int_eq(m.fd, -1);
	/* The sender's copy went with the flush, the receiver's just now. */
	assert_pipe_eof(p[0]);
	close(p[0]);
}
END_TEST

/* Each fd goes with its own frame, whatever comes between. */
START_TEST(t_fd_order)
{
	struct kmsg	 m;
	char		 c;
	int		 a[2], b[2];

	mkpipe(a);
	mkpipe(b);
	ck_assert_int_eq(kbuf_compose(&tx, 10, 0, 0, a[1], NULL, 0), 0);
	ck_assert_int_eq(kbuf_compose(&tx, 11, 0, 0, -1, NULL, 0), 0);
	ck_assert_int_eq(kbuf_compose(&tx, 12, 0, 0, b[1], NULL, 0), 0);
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	/* Read everything first: both fds wait in the queue. */
	while (kbuf_read(&rx) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(rx.nfds, 2);
	pump(&m);
	ck_assert_uint_eq(m.hdr.type, 10);
	ck_assert_int_eq(write(m.fd, "a", 1), 1);
	kmsg_closefd(&m);
	pump(&m);
	ck_assert_uint_eq(m.hdr.type, 11);
	ck_assert_int_eq(m.fd, -1);
	pump(&m);
	ck_assert_uint_eq(m.hdr.type, 12);
	ck_assert_int_eq(write(m.fd, "b", 1), 1);
	kmsg_closefd(&m);
	ck_assert_int_eq(read(a[0], &c, 1), 1);
	ck_assert_int_eq(c, 'a');
	ck_assert_int_eq(read(b[0], &c, 1), 1);
	ck_assert_int_eq(c, 'b');
	assert_pipe_eof(a[0]);
	assert_pipe_eof(b[0]);
	close(a[0]);
	close(b[0]);
}
END_TEST

/*
 * One flush writes frames together, as many as one sendmsg takes, and an
 * fd only ever leads a message: 200 frames, every 50th with a pipe's
 * write end, arrive in order, each fd with its own frame.
 */
START_TEST(t_flush_many)
{
	struct kmsg	 m;
	uint32_t	 v;
	int		 i, p[4][2];

	for (i = 0; i < 200; i++) {
		v = (uint32_t)i;
		if (i % 50 == 0)
			mkpipe(p[i / 50]);
		ck_assert_int_eq(kbuf_compose(&tx, 10, (uint32_t)i, 0,
		    i % 50 == 0 ? p[i / 50][1] : -1, &v, sizeof(v)), 0);
	}
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	ck_assert_uint_eq(tx.outlen, 0);
	for (i = 0; i < 200; i++) {
		pump(&m);
		ck_assert_uint_eq(m.hdr.reqid, (uint32_t)i);
		ck_assert_uint_eq(m.datalen, sizeof(v));
		memcpy(&v, m.data, sizeof(v));
		ck_assert_uint_eq(v, (uint32_t)i);
		ck_assert_int_eq(m.fd != -1, i % 50 == 0);
		if (m.fd != -1)
			ck_assert_int_eq(write(m.fd, "x", 1), 1);
		kmsg_closefd(&m);
	}
	for (i = 0; i < 4; i++) {
		char	 c;

		ck_assert_int_eq(read(p[i][0], &c, 1), 1);
		assert_pipe_eof(p[i][0]);
		close(p[i][0]);
	}
}
END_TEST

/* kbuf_clear closes fds still queued for sending and fds not claimed. */
START_TEST(t_clear_closes_fds)
{
	int	 p[2];

	mkpipe(p);
	ck_assert_int_eq(kbuf_compose(&tx, 1, 0, 0, p[1], NULL, 0), 0);
	kbuf_clear(&tx);
	assert_pipe_eof(p[0]);
	close(p[0]);

	mkpipe(p);
	ck_assert_int_eq(kbuf_init(&tx, sv[0]), 0);
	ck_assert_int_eq(kbuf_compose(&tx, 1, 0, 0, p[1], NULL, 0), 0);
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	ck_assert_int_gt(kbuf_read(&rx), 0);
	ck_assert_uint_eq(rx.nfds, 1);
	kbuf_clear(&rx);
	assert_pipe_eof(p[0]);
	close(p[0]);
}
END_TEST

START_TEST(t_max_payload)
{
	struct kmsg	 m;
	uint8_t		*data;
	size_t		 i;

	ck_assert_ptr_nonnull(data = malloc(KMSG_DATA_MAX));
	for (i = 0; i < KMSG_DATA_MAX; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_ERROR, 9, 9, -1, data,
	    KMSG_DATA_MAX), 0);
	pump(&m);
	ck_assert_uint_eq(m.hdr.len, KMSG_MAX);
	ck_assert_uint_eq(m.datalen, KMSG_DATA_MAX);
	ck_assert(memcmp(m.data, data, KMSG_DATA_MAX) == 0);
	ck_assert_uint_le(rx.rcap, KMSG_MAX);
	ck_assert_int_eq(kbuf_get(&rx, &m), 0);
	ck_assert_uint_eq(tx.outlen, 0);
	free(data);
}
END_TEST

START_TEST(t_compose_too_big)
{
	uint8_t		*data;
	int		 p[2];

	ck_assert_ptr_nonnull(data = calloc(1, KMSG_DATA_MAX + 1));
	errno = 0;
	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_ERROR, 0, 0, -1, data,
	    KMSG_DATA_MAX + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);

	/* The fd is owned by the queue even when the frame is refused. */
	mkpipe(p);
	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_ERROR, 0, 0, p[1], data,
	    KMSG_DATA_MAX + 1), -1);
	assert_pipe_eof(p[0]);
	close(p[0]);

	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_ERROR, 0, 0, -1, NULL,
	    1), -1);
	ck_assert_uint_eq(tx.outlen, 0);
	ck_assert(TAILQ_EMPTY(&tx.outq));
	free(data);
}
END_TEST

/* A queue larger than the socket takes goes out over several flushes. */
START_TEST(t_flush_partial)
{
	struct kmsg	 m;
	uint8_t		*data;
	char		 c;
	size_t		 total;
	int		 i, p[2];

	i = 64 * 1024;
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &i,
	    sizeof(i)), 0);
	ck_assert_ptr_nonnull(data = malloc(KMSG_DATA_MAX));
	memset(data, 'd', KMSG_DATA_MAX);
	mkpipe(p);
	for (i = 0; i < 3; i++) {
		data[0] = '0' + i;
		ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_ERROR, i, 0,
		    i == 0 ? p[1] : -1, data, KMSG_DATA_MAX), 0);
	}
	total = tx.outlen;
	ck_assert_uint_eq(total, 3 * (size_t)KMSG_MAX);
	ck_assert_int_eq(kbuf_flush(&tx), 0);
	ck_assert_uint_gt(tx.outlen, 0);
	ck_assert_uint_lt(tx.outlen, total);
	for (i = 0; i < 3; i++) {
		pump(&m);
		ck_assert_uint_eq(m.hdr.reqid, i);
		ck_assert_int_eq(m.fd == -1, i != 0);
		ck_assert_uint_eq(m.datalen, KMSG_DATA_MAX);
		ck_assert_int_eq(m.data[0], '0' + i);
		ck_assert(memcmp(m.data + 1, data + 1, KMSG_DATA_MAX - 1) ==
		    0);
		kmsg_closefd(&m);
	}
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	ck_assert_uint_eq(tx.outlen, 0);
	ck_assert_int_eq(read(p[0], &c, 1), 0);
	close(p[0]);
	free(data);
}
END_TEST

/* Writing to a closed peer fails with EPIPE, without SIGPIPE. */
START_TEST(t_flush_epipe)
{
	close(sv[1]);
	sv[1] = -1;
	ck_assert_int_eq(kbuf_compose(&tx, IMSG_CTL_END, 0, 0, -1, NULL, 0),
	    0);
	errno = 0;
	ck_assert_int_eq(kbuf_flush(&tx), -1);
	ck_assert_int_eq(errno, EPIPE);
}
END_TEST

/* More fds than KMSG_MAXFDS waiting: EBADMSG, and none leaks. */
START_TEST(t_fd_overflow)
{
	ssize_t	 n;
	int	 i, p[2];

	mkpipe(p);
	for (i = 0; i < KMSG_MAXFDS + 1; i++)
		ck_assert_int_eq(kbuf_compose(&tx, 1, i, 0, dup(p[1]), NULL,
		    0), 0);
	close(p[1]);
	ck_assert_int_eq(kbuf_flush(&tx), 1);
	while ((n = kbuf_read(&rx)) > 0)
		ck_assert_uint_le(rx.nfds, KMSG_MAXFDS);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(errno, EBADMSG);
	kbuf_clear(&rx);
	assert_pipe_eof(p[0]);
	close(p[0]);
}
END_TEST

/* More fds in one message than kbuf_read takes: EBADMSG, none leaks. */
START_TEST(t_fd_ctrunc)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 6)];
	} cm;
	uint8_t		 frame[KMSG_HDR_SIZE];
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	int		 fds[6], i, p[2];

	mkpipe(p);
	for (i = 0; i < 6; i++)
		fds[i] = p[1];
	mkframe(frame, 1, KMSG_F_FD, sizeof(frame), NULL, 0);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = frame;
	iov.iov_len = sizeof(frame);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sv[0], &mh, 0), sizeof(frame));
	close(p[1]);
	errno = 0;
	ck_assert_int_eq(kbuf_read(&rx), -1);
	ck_assert_int_eq(errno, EBADMSG);
	kbuf_clear(&rx);
	assert_pipe_eof(p[0]);
	close(p[0]);
}
END_TEST

/* ---- kmsg_lookup ------------------------------------------------------- */

static int
h_nop(struct kchan *ch, struct kmsg *m, void *arg)
{
	(void)ch;
	(void)m;
	(void)arg;
	return 0;
}

static const struct kmsg_handler tab[] = {
	{ IMSG_CTL_STATUS, 0, FROM(PROC_CTL), h_nop },
	{ IMSG_CLUSTER_INFO_REPLY, sizeof(struct cluster_info),
	    FROM(PROC_REPLMON), h_nop },
	{ IMSG_CTL_ERROR, KMSG_VARLEN, FROM(PROC_PARENT) | FROM(PROC_CTL),
	    h_nop },
};
#define NTAB	(sizeof(tab) / sizeof(tab[0]))

/* A payload of zeros (its strings empty), or of what data holds. */
static const struct kmsg_handler *
lookup_data(uint16_t type, const void *data, size_t datalen,
    enum proc_id from, char *err, size_t errlen)
{
	static const uint8_t	 zeros[KMSG_DATA_MAX];
	struct kmsg		 m;

	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.len = KMSG_HDR_SIZE + datalen;
	m.data = data != NULL ? data : zeros;
	m.datalen = datalen;
	m.fd = -1;
	return kmsg_lookup(tab, NTAB, from, &m, err, errlen);
}

static const struct kmsg_handler *
lookup(uint16_t type, size_t datalen, enum proc_id from, char *err,
    size_t errlen)
{
	return lookup_data(type, NULL, datalen, from, err, errlen);
}

START_TEST(t_lookup_ok)
{
	char	 err[256] = "";

	ck_assert_ptr_eq(lookup(IMSG_CTL_STATUS, 0, PROC_CTL, err,
	    sizeof(err)), &tab[0]);
	ck_assert_ptr_eq(lookup(IMSG_CLUSTER_INFO_REPLY,
	    sizeof(struct cluster_info), PROC_REPLMON, err, sizeof(err)),
	    &tab[1]);
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(t_lookup_varlen)
{
	static const size_t	 lens[] = { 0, 1, 17, KMD_ERR_MAX,
				    KMSG_DATA_MAX };
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ck_assert_ptr_eq(lookup(IMSG_CTL_ERROR, lens[i], PROC_PARENT,
		    err, sizeof(err)), &tab[2]);
		ck_assert_ptr_eq(lookup(IMSG_CTL_ERROR, lens[i], PROC_CTL,
		    err, sizeof(err)), &tab[2]);
	}
}
END_TEST

START_TEST(t_lookup_unknown)
{
	char	 err[256];

	ck_assert_ptr_null(lookup(IMSG_CONF_WORKER, 0, PROC_CTL, err,
	    sizeof(err)));
	ck_assert_str_eq(err,
	    "unexpected message CONF_WORKER (type 1) from kmctl");
	ck_assert_ptr_null(lookup(999, 0, PROC_PARENT, err, sizeof(err)));
	ck_assert_str_eq(err, "unknown message type 999 from parent");
	ck_assert_ptr_null(lookup(IMSG_NONE, 0, PROC_CTL, err, sizeof(err)));
	ck_assert_ptr_null(kmsg_lookup(tab, 0, PROC_CTL, &(struct kmsg){
	    .hdr = { .type = IMSG_CTL_STATUS }, .fd = -1 }, err,
	    sizeof(err)));
	ck_assert_str_eq(err,
	    "unexpected message CTL_STATUS (type 3) from kmctl");
}
END_TEST

START_TEST(t_lookup_sender)
{
	char	 err[256];

	ck_assert_ptr_null(lookup(IMSG_CLUSTER_INFO_REPLY,
	    sizeof(struct cluster_info), PROC_API, err, sizeof(err)));
	ck_assert_str_eq(err, "message CLUSTER_INFO_REPLY not accepted from"
	    " api");
	ck_assert_ptr_null(lookup(IMSG_CTL_STATUS, 0, PROC_PARENT, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "message CTL_STATUS not accepted from parent");
	ck_assert_ptr_null(lookup(IMSG_CTL_ERROR, 4, PROC_HSM, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not accepted from hsm"));
}
END_TEST

START_TEST(t_lookup_size)
{
	const size_t	 sz = sizeof(struct cluster_info);
	char		 err[256], want[128];

	ck_assert_ptr_null(lookup(IMSG_CLUSTER_INFO_REPLY, sz + 1,
	    PROC_REPLMON, err, sizeof(err)));
	snprintf(want, sizeof(want), "message CLUSTER_INFO_REPLY from replmon"
	    " has %zu bytes, expected %zu", sz + 1, sz);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(lookup(IMSG_CLUSTER_INFO_REPLY, sz - 1,
	    PROC_REPLMON, err, sizeof(err)));
	snprintf(want, sizeof(want), "message CLUSTER_INFO_REPLY from replmon"
	    " has %zu bytes, expected %zu", sz - 1, sz);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(lookup(IMSG_CTL_STATUS, 1, PROC_CTL, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "message CTL_STATUS from kmctl has 1 bytes,"
	    " expected 0");
}
END_TEST

/* A string of the payload that runs to the end of its array is refused. */
START_TEST(t_lookup_unterminated)
{
	struct cluster_info	 ci;
	char			 err[256];

	memset(&ci, 0, sizeof(ci));
	ck_assert_ptr_eq(lookup_data(IMSG_CLUSTER_INFO_REPLY, &ci,
	    sizeof(ci), PROC_REPLMON, err, sizeof(err)), &tab[1]);
	memset(ci.progress, 'x', sizeof(ci.progress));
	ck_assert_ptr_null(lookup_data(IMSG_CLUSTER_INFO_REPLY, &ci,
	    sizeof(ci), PROC_REPLMON, err, sizeof(err)));
	ck_assert_str_eq(err, "message CLUSTER_INFO_REPLY from replmon has a"
	    " string that is not NUL-terminated");
}
END_TEST

/* A short error buffer truncates, never overflows. */
START_TEST(t_lookup_short_err)
{
	char	 err[8];

	memset(err, 'z', sizeof(err));
	ck_assert_ptr_null(lookup(999, 0, PROC_CTL, err, sizeof(err)));
	ck_assert_str_eq(err, "unknown");
}
END_TEST

Suite *
kmsg_suite(void)
{
	Suite	*s = suite_create("kmsg");
	TCase	*tc;

	tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, t_roundtrip);
	tcase_add_test(tc, t_many_in_one_read);
	tcase_add_test(tc, t_bytewise);
	tcase_add_test(tc, t_split_header);
	tcase_add_test(tc, t_compact);
	tcase_add_test(tc, t_compact_wipes);
	tcase_add_test(tc, t_lograte);
	tcase_add_test(tc, t_empty_payload);
	tcase_add_test(tc, t_oversize);
	tcase_add_test(tc, t_feed_limit);
	tcase_add_test(tc, t_short_len);
	tcase_add_test(tc, t_bad_flags);
	tcase_add_test(tc, t_truncated);
	tcase_add_test(tc, t_truncated_header);
	tcase_add_test(tc, t_fd_missing);
	tcase_add_test(tc, t_fd_pass);
	tcase_add_test(tc, t_fd_order);
	tcase_add_test(tc, t_flush_many);
	tcase_add_test(tc, t_clear_closes_fds);
	tcase_add_test(tc, t_max_payload);
	tcase_add_test(tc, t_compose_too_big);
	tcase_add_test(tc, t_flush_partial);
	tcase_add_test(tc, t_flush_epipe);
	tcase_add_test(tc, t_fd_overflow);
	tcase_add_test(tc, t_fd_ctrunc);
	suite_add_tcase(s, tc);

	tc = tcase_create("lookup");
	tcase_add_test(tc, t_lookup_ok);
	tcase_add_test(tc, t_lookup_varlen);
	tcase_add_test(tc, t_lookup_unknown);
	tcase_add_test(tc, t_lookup_sender);
	tcase_add_test(tc, t_lookup_size);
	tcase_add_test(tc, t_lookup_unterminated);
	tcase_add_test(tc, t_lookup_short_err);
	suite_add_tcase(s, tc);
	return s;
}
