/*
 * kchan calls (common/kchan.c): kchan_call() on a real channel over a
 * socketpair and a libevent loop, "the peer" a raw kbuf on the other end
 * that reads the requests and writes the answers it chooses.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "kchan.h"
#include "kmsg.h"
#include "proto.h"
#include "util.h"

#define T_ASK		IMSG_HSM_ROT_DELETE	/* the request */
#define T_ANSWER	IMSG_HSM_ROT_DELETED	/* its answer: rotkeys_req */
#define T_OTHER		IMSG_HSM_REWRAPPED	/* another call's answer */
#define T_ERROR		IMSG_HSM_ERROR

/* What one caller heard. */
struct caller {
	int		 replies;
	int		 fails;
	enum kchan_end	 end;
	char		 got[sizeof(((struct rotkeys_req *)0)->id)];
	char		 why[KMD_ERR_MAX];
	uint32_t	 again;		/* reply(): a new call's id */
	uint32_t	 cancel;	/* reply(): cancel this call */
};

static struct event_base	*base;
static struct kchan		*ch;
static struct kbuf		 peer;	/* the other end */
static int			 closed;	/* the channel's closed() ran */
static char			 closed_why[256];

static void
on_closed(struct kchan *c, const char *why, void *arg)
{
	(void)c;
	(void)arg;
	closed++;
	snprintf(closed_why, sizeof(closed_why), "%s", why ? why : "EOF");
}

static void	on_reply(struct kchan *, struct kmsg *, void *);
static void	on_fail(struct kchan *, enum kchan_end, const char *, void *);

static const struct kchan_exchange ex = { T_ANSWER, 0, on_reply, on_fail };
static const struct kchan_exchange ex_timed = { T_ANSWER, 1, on_reply,
	on_fail };

static void
on_reply(struct kchan *c, struct kmsg *m, void *arg)
{
	struct caller			*cl = arg;
	const struct rotkeys_req	*rq = (const void *)m->data;

	cl->replies++;
	memcpy(cl->got, rq->id, sizeof(cl->got));
	cl->got[sizeof(cl->got) - 1] = '\0';
	if (cl->cancel != 0)
		kchan_cancel(c, cl->cancel);
	if (cl->again == 1)
		cl->again = kchan_call(c, T_ASK, -1, NULL, 0, &ex, cl);
}

static void
on_fail(struct kchan *c, enum kchan_end end, const char *why, void *arg)
{
	struct caller	*cl = arg;

	cl->fails++;
	cl->end = end;
	snprintf(cl->why, sizeof(cl->why), "%s", why);
	if (end == KCHAN_CLOSED)	/* no new call on a channel going */
		ck_assert_uint_eq(kchan_call(c, T_ASK, -1, NULL, 0, &ex, cl),
		    0);
}

static const struct kmsg_handler table[] = {
	{ T_ANSWER, sizeof(struct rotkeys_req), FROM(PROC_PARENT),
	    kchan_reply },
	{ T_OTHER, sizeof(struct hsm_rewrap), FROM(PROC_PARENT),
	    kchan_reply },
	{ T_ERROR, KMSG_VARLEN, FROM(PROC_PARENT), kchan_reply },
};

static void
setup(void)
{
	int	 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(set_nonblock(sv[0]), 0);
	ck_assert_int_eq(set_nonblock(sv[1]), 0);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(ch = kchan_new(base, sv[0], PROC_PARENT, table,
	    sizeof(table) / sizeof(table[0]), on_closed, NULL));
	kchan_calls(ch, T_ERROR, 100);
	ck_assert_int_eq(kbuf_init(&peer, sv[1]), 0);
	closed = 0;
	closed_why[0] = '\0';
}

static void
teardown(void)
{
	kchan_free(ch);
	ch = NULL;
	close(peer.fd);
	kbuf_clear(&peer);
	event_base_free(base);
	base = NULL;
}

/* Run the loop until nothing is left to do at once. */
static void
pump(void)
{
	int	 i;

	for (i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* The peer reads the next request; returns its id. */
static uint32_t
peer_request(void)
{
	struct kmsg	 m;
	int		 r;

	pump();
	if ((r = kbuf_get(&peer, &m)) == 0) {
		ck_assert_int_gt(kbuf_read(&peer), 0);
		r = kbuf_get(&peer, &m);
	}
	ck_assert_int_eq(r, 1);
	ck_assert_uint_eq(m.hdr.type, T_ASK);
	return m.hdr.reqid;
}

static void
peer_frame(uint16_t type, uint32_t id, const void *data, size_t len)
{
	ck_assert_int_eq(kbuf_compose(&peer, type, id, 1, -1, data, len), 0);
	while (kbuf_flush(&peer) == 0)
		;
	pump();
}

/* The answer T_ANSWER under id, its id field "tag". */
static void
peer_answer(uint32_t id, const char *tag)
{
	struct rotkeys_req	 rq;

	memset(&rq, 0, sizeof(rq));
	kmd_strlcpy(rq.id, tag, sizeof(rq.id));
	peer_frame(T_ANSWER, id, &rq, sizeof(rq));
}

START_TEST(test_routed)
{
	static struct caller a, b, c;	/* teardown may fail them */
	uint32_t	 ia, ib, ic, ra, rb, rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	ib = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &b);
	ic = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &c);
	ck_assert_uint_eq(ia, 101);	/* after kchan_calls()'s 100 */
	ck_assert_uint_gt(ib, ia);
	ck_assert_uint_gt(ic, ib);
	ra = peer_request();
	rb = peer_request();
	rc = peer_request();
	ck_assert_uint_eq(ra, ia);
	ck_assert_uint_eq(rb, ib);
	ck_assert_uint_eq(rc, ic);
	/* Answered out of order: each reaches its own caller. */
	peer_answer(ic, "for-c");
	peer_answer(ia, "for-a");
	ck_assert_int_eq(c.replies, 1);
	ck_assert_str_eq(c.got, "for-c");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_str_eq(a.got, "for-a");
	ck_assert_int_eq(b.replies, 0);
	ck_assert(kchan_waiting(ch, ib));
	ck_assert(!kchan_waiting(ch, ia));
	peer_answer(ib, "for-b");
	ck_assert_int_eq(b.replies, 1);
	ck_assert_str_eq(b.got, "for-b");
	/* A second answer under a used id reaches nobody. */
	peer_answer(ia, "again");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_str_eq(a.got, "for-a");
	ck_assert_int_eq(a.fails + b.fails + c.fails, 0);
	ck_assert_int_eq(closed, 0);
}
END_TEST

START_TEST(test_error)
{
	static struct caller a, b;	/* teardown may fail them */
	const char	 no[] = "the HSM said no";
	uint32_t	 ia, ib;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	ib = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &b);
	peer_frame(T_ERROR, ib, no, sizeof(no));
	ck_assert_int_eq(b.fails, 1);
	ck_assert_int_eq(b.end, KCHAN_REFUSED);
	ck_assert_str_eq(b.why, no);
	ck_assert_int_eq(b.replies, 0);
	ck_assert_int_eq(a.fails + a.replies, 0);
	/* The answer after the refusal: nobody. */
	peer_answer(ib, "late");
	ck_assert_int_eq(b.replies, 0);
	ck_assert_int_eq(b.fails, 1);
	peer_answer(ia, "ok");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_int_eq(closed, 0);
}
END_TEST

START_TEST(test_error_unterminated)
{
	static struct caller a;		/* teardown may fail it */
	const char	 bad[4] = { 'b', 'a', 'd', '!' };
	uint32_t	 ia;

	memset(&a, 0, sizeof(a));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	peer_frame(T_ERROR, ia, bad, sizeof(bad));
	ck_assert_int_eq(closed, 1);
	ck_assert_int_eq(a.fails + a.replies, 0);
}
END_TEST

START_TEST(test_timeout)
{
	static struct caller a, b;	/* teardown may fail them */
	struct timeval	 tv = { 1, 500 * 1000 };
	uint32_t	 ia;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex_timed, &a);
	ck_assert_uint_ne(ia, 0);
	kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &b);	/* no limit */
	pump();
	ck_assert_int_eq(a.fails, 0);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(a.fails, 1);
	ck_assert_int_eq(a.end, KCHAN_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(a.why, "within 1 s"));
	ck_assert(!kchan_waiting(ch, ia));
	/* Once: another second, then the late answer, change nothing. */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	peer_answer(ia, "late");
	ck_assert_int_eq(a.fails, 1);
	ck_assert_int_eq(a.replies, 0);
	ck_assert_int_eq(b.fails + b.replies, 0);
}
END_TEST

START_TEST(test_stale)
{
	static struct caller a;		/* teardown may fail it */
	struct hsm_rewrap rw;
	uint32_t	 ia;

	memset(&a, 0, sizeof(a));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	peer_answer(ia + 1, "unknown");		/* no call has that id */
	peer_answer(0, "zero");
	peer_answer(ia - 1, "before");		/* nor one before */
	memset(&rw, 0, sizeof(rw));
	peer_frame(T_OTHER, ia, &rw, sizeof(rw));	/* not its answer */
	ck_assert_int_eq(a.replies + a.fails, 0);
	ck_assert(kchan_waiting(ch, ia));
	peer_answer(ia, "mine");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_str_eq(a.got, "mine");
	ck_assert_int_eq(closed, 0);
}
END_TEST

START_TEST(test_cancel)
{
	static struct caller a, b;	/* teardown may fail them */
	const char	 no[] = "no";
	uint32_t	 ia, ib;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex_timed, &a);
	ib = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &b);
	kchan_cancel(ch, ia);
	kchan_cancel(ch, ib);
	kchan_cancel(ch, ib);		/* twice: nothing */
	kchan_cancel(ch, 0);
	ck_assert(!kchan_waiting(ch, ia));
	peer_answer(ia, "a");
	peer_frame(T_ERROR, ib, no, sizeof(no));
	event_base_loopexit(base, &(struct timeval){ 1, 300 * 1000 });
	event_base_dispatch(base);	/* a's timer is gone too */
	ck_assert_int_eq(a.replies + a.fails, 0);
	ck_assert_int_eq(b.replies + b.fails, 0);
	ck_assert_int_eq(closed, 0);
}
END_TEST

/* The table's size check runs first: a short answer reaches nobody. */
START_TEST(test_size_gate)
{
	static struct caller	 a;
	struct rotkeys_req	 rq;
	uint32_t		 ia;

	memset(&a, 0, sizeof(a));
	memset(&rq, 0, sizeof(rq));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	peer_frame(T_ANSWER, ia, &rq, sizeof(rq) - 1);
	ck_assert_int_eq(closed, 1);
	ck_assert_ptr_nonnull(strstr(closed_why, "expected"));
	ck_assert_int_eq(a.replies + a.fails, 0);
	/* Freed: the call still waiting fails, once. */
	kchan_free(ch);
	ch = NULL;
	ck_assert_int_eq(a.fails, 1);
	ck_assert_int_eq(a.end, KCHAN_CLOSED);
	ck_assert_str_eq(a.why, "the parent process went away before"
	    " answering; try again");
	ck_assert_int_eq(a.replies, 0);
}
END_TEST

/* Callbacks that cancel another call and make a new one. */
START_TEST(test_reentrant)
{
	static struct caller a, b;	/* teardown may fail them */
	uint32_t	 ia, ib;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ia = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &a);
	ib = kchan_call(ch, T_ASK, -1, NULL, 0, &ex, &b);
	a.cancel = ib;
	a.again = 1;
	peer_answer(ia, "a");
	ck_assert_int_eq(a.replies, 1);
	ck_assert_uint_gt(a.again, ib);		/* a new, larger id */
	ck_assert(kchan_waiting(ch, a.again));
	peer_answer(ib, "b");
	ck_assert_int_eq(b.replies + b.fails, 0);
	a.again = 0;
	a.cancel = 0;
	peer_answer(ia, "a-old");		/* the first id is spent */
	ck_assert_int_eq(a.replies, 1);
	kchan_free(ch);
	ch = NULL;
	ck_assert_int_eq(a.fails, 1);
	ck_assert_int_eq(a.end, KCHAN_CLOSED);
}
END_TEST

Suite *
kchan_suite(void)
{
	Suite	*s = suite_create("kchan");
	TCase	*tc = tcase_create("call");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_routed);
	tcase_add_test(tc, test_error);
	tcase_add_test(tc, test_error_unterminated);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_stale);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_size_gate);
	tcase_add_test(tc, test_reentrant);
	suite_add_tcase(s, tc);
	return s;
}
