/*
 * The joiner's hashing thread (workers/joiner/pwhash.c): a right and a
 * wrong password come back right through the event loop, a new hash
 * verifies, and a burst past the queue is refused at once rather than
 * queued without bound.
 */
#include <string.h>

#include <check.h>
#include <event2/event.h>
#include <sodium.h>

#include "pwhash.h"

#define BURST	200

static int	ndone, nok;
static char	made[crypto_pwhash_STRBYTES];

static void
counted(int result, const char *hash, void *arg)
{
	(void)hash;
	(void)arg;
	ndone++;
	nok += result == 1;
}

static void
hashed(int result, const char *hash, void *arg)
{
	(void)arg;
	ck_assert_int_eq(result, 0);
	memcpy(made, hash, sizeof(made));
	ndone++;
}

static void
run_until(struct event_base *base, int n)
{
	while (ndone < n)
		event_base_loop(base, EVLOOP_ONCE);
}

START_TEST(t_pwhash)
{
	struct worker	 w;
	char		 h[crypto_pwhash_STRBYTES];
	int		 i, accepted = 0;

	ck_assert_int_ge(sodium_init(), 0);
	memset(&w, 0, sizeof(w));
	w.base = event_base_new();
	ck_assert_int_eq(pwhash_start(), 0);
	ck_assert_int_eq(pwhash_attach(&w), 0);
	/* a cost that takes some milliseconds: the burst outruns it */
	ck_assert_int_eq(crypto_pwhash_str(h, "right-pass", 10, 3,
	    8 * 1024 * 1024), 0);
	ck_assert_int_eq(pwhash_verify(h, "right-pass", counted, NULL), 0);
	ck_assert_int_eq(pwhash_verify(h, "wrong-pass", counted, NULL), 0);
	run_until(w.base, 2);
	ck_assert_int_eq(nok, 1);
	ck_assert_int_eq(pwhash_make("a-new-pass", hashed, NULL), 0);
	run_until(w.base, 3);
	ck_assert_int_eq(crypto_pwhash_str_verify(made, "a-new-pass", 10), 0);
	/*
	 * 200 at once, the thread held: the queue takes its 16, the rest
	 * are refused at once; let go, the 16 are all answered, none lost.
	 * (Held, because how many an unheld thread drains meanwhile is the
	 * scheduler's, valgrind's or a loaded machine's.)
	 */
	ndone = nok = 0;
	pwhash_hold(1);
	for (i = 0; i < BURST; i++)
		accepted += pwhash_verify(h, "right-pass", counted, NULL) == 0;
	ck_assert_int_eq(accepted, PWHASH_QUEUE);
	pwhash_hold(0);
	run_until(w.base, accepted);
	ck_assert_int_eq(nok, accepted);
	event_base_free(w.base);
}
END_TEST

Suite *
pwhash_suite(void)
{
	Suite	*s = suite_create("pwhash");
	TCase	*tc = tcase_create("thread");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_pwhash);
	suite_add_tcase(s, tc);
	return s;
}
