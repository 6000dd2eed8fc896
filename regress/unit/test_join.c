/*
 * The join's state machine (workers/joiner/join_stage.c): for each stage
 * its normal next stage, its way out on failure and on its timeout, the
 * timeouts themselves, and the status it shows; and the node states
 * (common/nodestatus.c).  The stages' functions are stubs here: the
 * table is tested as data, join_next() as a pure function.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "join.h"
#include "lease.h"
#include "nodestatus.h"

/* Stubs for the functions the table names; each records its call. */
static const char *called;
#define STUB(f) void f(struct join *jn) { (void)jn; called = #f; }
STUB(open_enter)
STUB(preflight_enter)
STUB(checked_enter)
STUB(refused_enter)
STUB(wipe_enter)
STUB(wipe_poll)
STUB(create_enter)
STUB(bootstrap_enter)
STUB(sync_poll)
STUB(direct_enter)
STUB(direct_poll)
STUB(markers_enter)
STUB(markers_poll)
STUB(origin_enter)
STUB(origin_poll)
STUB(cu_drop_enter)
STUB(cu_drop_poll)
STUB(complete_enter)
STUB(complete_poll)
STUB(local_poll)
STUB(ready_enter)
STUB(joined_enter)
STUB(killed_enter)
STUB(lease_enter)

/* The specification, written apart from the table it checks. */
static const struct {
	enum join_stage		 stage;
	enum join_stage		 done, failed, timedout;
	enum node_status	 status;
	int			 record, max_polls, down_max;
	const char		*enter, *poll;
} spec[] = {
	{ JOIN_OPEN, JOIN_PREFLIGHT, JOIN_REFUSED, JOIN_REFUSED, NS_NONE,
	    0, 0, 0, "open_enter", NULL },
	{ JOIN_PREFLIGHT, JOIN_LEASE, JOIN_REFUSED, JOIN_REFUSED, NS_NONE,
	    0, 30, 0, "preflight_enter", "preflight_enter" },
	{ JOIN_LEASE, JOIN_WIPE, JOIN_REFUSED, JOIN_REFUSED, NS_NONE,
	    0, 50, 0, "lease_enter", "lease_enter" },
	{ JOIN_WIPE, JOIN_CREATE, JOIN_KILLED, JOIN_KILLED, NS_CREATING,
	    0, 300, 0, "wipe_enter", "wipe_poll" },
	{ JOIN_CREATE, JOIN_BOOTSTRAP, JOIN_KILLED, JOIN_KILLED, NS_CREATING,
	    0, 0, 0, "create_enter", NULL },
	{ JOIN_BOOTSTRAP, JOIN_SYNC, JOIN_KILLED, JOIN_KILLED,
	    NS_BOOTSTRAPPING, 1, 0, 0, "bootstrap_enter", NULL },
	{ JOIN_SYNC, JOIN_DIRECT, JOIN_KILLED, JOIN_KILLED, NS_SYNCING,
	    1, 0, 15, "sync_poll", "sync_poll" },
	{ JOIN_DIRECT, JOIN_MARKERS, JOIN_KILLED, JOIN_KILLED,
	    NS_CATCHING_UP, 1, 0, 15, "direct_enter", "direct_poll" },
	{ JOIN_MARKERS, JOIN_ORIGIN, JOIN_KILLED, JOIN_KILLED,
	    NS_CATCHING_UP, 0, 0, 0, "markers_enter", "markers_poll" },
	{ JOIN_ORIGIN, JOIN_CU_DROP, JOIN_KILLED, JOIN_KILLED,
	    NS_CATCHING_UP, 0, 0, 15, "origin_enter", "origin_poll" },
	{ JOIN_CU_DROP, JOIN_COMPLETE, JOIN_KILLED, JOIN_KILLED,
	    NS_CATCHING_UP, 0, 0, 0, "cu_drop_enter", "cu_drop_poll" },
	{ JOIN_COMPLETE, JOIN_LOCAL, JOIN_KILLED, JOIN_KILLED,
	    NS_COMPLETING, 1, 0, 15, "complete_enter", "complete_poll" },
	{ JOIN_LOCAL, JOIN_READY, JOIN_KILLED, JOIN_KILLED, NS_COMPLETING,
	    0, 0, 15, "local_poll", "local_poll" },
	{ JOIN_READY, JOIN_JOINED, JOIN_KILLED, JOIN_KILLED, NS_COMPLETING,
	    0, 0, 0, "ready_enter", NULL },
	{ JOIN_JOINED, JOIN_JOINED, JOIN_JOINED, JOIN_JOINED, NS_READY,
	    0, 0, 0, "joined_enter", NULL },
	{ JOIN_CHECKED, JOIN_CHECKED, JOIN_CHECKED, JOIN_CHECKED, NS_NONE,
	    0, 0, 0, "checked_enter", NULL },
	{ JOIN_REFUSED, JOIN_REFUSED, JOIN_REFUSED, JOIN_REFUSED, NS_NONE,
	    0, 0, 0, "refused_enter", NULL },
	{ JOIN_KILLED, JOIN_KILLED, JOIN_KILLED, JOIN_KILLED, NS_KILLED,
	    0, 0, 0, "killed_enter", NULL },
};
#define NSPEC	(int)(sizeof(spec) / sizeof(spec[0]))

START_TEST(t_every_stage)
{
	ck_assert_int_eq(NSPEC, JOIN_NSTAGES);
}
END_TEST

/* Each stage: its next stage, its way out on failure and on timeout. */
START_TEST(t_ways_out)
{
	enum join_stage	 s = spec[_i].stage;

	ck_assert_int_eq(join_stages[s].stage, s);
	ck_assert_int_eq(join_next(s, JE_DONE), spec[_i].done);
	ck_assert_int_eq(join_next(s, JE_FAILED), spec[_i].failed);
	ck_assert_int_eq(join_next(s, JE_TIMEDOUT), spec[_i].timedout);
}
END_TEST

/* What each stage shows, records, waits for and runs. */
START_TEST(t_rows)
{
	const struct join_stage_row	*r = &join_stages[spec[_i].stage];

	ck_assert_int_eq(r->status, spec[_i].status);
	ck_assert_int_eq(r->record, spec[_i].record);
	ck_assert_int_eq(r->max_polls, spec[_i].max_polls);
	ck_assert_int_eq(r->down_max, spec[_i].down_max);
	ck_assert_ptr_nonnull(r->desc);
	ck_assert_int_gt(strlen(r->desc), 0);
	called = NULL;
	r->enter(NULL);
	ck_assert_str_eq(called, spec[_i].enter);
	if (spec[_i].poll == NULL) {
		ck_assert_ptr_null(r->poll);
		return;
	}
	ck_assert_ptr_nonnull(r->poll);
	called = NULL;
	r->poll(NULL);
	ck_assert_str_eq(called, spec[_i].poll);
}
END_TEST

/* The order in which a joining node shows its states. */
static int
rank(enum node_status s)
{
	static const enum node_status	 order[] = { NS_NONE, NS_CREATING,
	    NS_BOOTSTRAPPING, NS_SYNCING, NS_CATCHING_UP, NS_COMPLETING,
	    NS_READY };
	int				 i;

	for (i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (order[i] == s)
			return i;
	ck_abort_msg("status %d is not on a join's way", s);
	return -1;
}

/* A join that goes well: every stage once, in order, and then ready. */
START_TEST(t_path)
{
	static const enum join_stage	 path[] = { JOIN_OPEN,
	    JOIN_PREFLIGHT, JOIN_LEASE, JOIN_WIPE, JOIN_CREATE, JOIN_BOOTSTRAP, JOIN_SYNC,
	    JOIN_DIRECT, JOIN_MARKERS, JOIN_ORIGIN, JOIN_CU_DROP,
	    JOIN_COMPLETE, JOIN_LOCAL, JOIN_READY, JOIN_JOINED };
	enum join_stage			 s = JOIN_OPEN;
	enum node_status		 shown = NS_NONE;
	size_t				 i;

	for (i = 1; i < sizeof(path) / sizeof(path[0]); i++) {
		s = join_next(s, JE_DONE);
		ck_assert_int_eq(s, path[i]);
		/* the status never goes back, and a new one is recorded */
		ck_assert_int_ge(rank(join_stages[s].status), rank(shown));
		if (join_stages[s].record)
			ck_assert_int_gt(rank(join_stages[s].status),
			    rank(shown));
		shown = join_stages[s].status;
	}
	ck_assert_int_eq(shown, NS_READY);
}
END_TEST

/* Only the preflight can end the join early; elsewhere it is a failure. */
START_TEST(t_enough)
{
	int	 s;

	ck_assert_int_eq(join_next(JOIN_PREFLIGHT, JE_ENOUGH), JOIN_CHECKED);
	for (s = 0; s < JOIN_NSTAGES; s++)
		if (s != JOIN_PREFLIGHT)
			ck_assert_int_eq(join_next(s, JE_ENOUGH),
			    join_next(s, JE_FAILED));
}
END_TEST

/* Nothing changed before the wipe: refused; after it: killed. */
START_TEST(t_refused_or_killed)
{
	int	 s;

	for (s = JOIN_OPEN; s < JOIN_WIPE; s++)
		ck_assert_int_eq(join_next(s, JE_FAILED), JOIN_REFUSED);
	for (s = JOIN_WIPE; s < JOIN_JOINED; s++) {
		ck_assert_int_eq(join_next(s, JE_FAILED), JOIN_KILLED);
		ck_assert_int_eq(join_next(s, JE_TIMEDOUT), JOIN_KILLED);
	}
	/* a stage out of range is not trusted to go on */
	ck_assert_int_eq(join_next(JOIN_NSTAGES, JE_DONE), JOIN_KILLED);
	ck_assert_int_eq(join_next((enum join_stage)-1, JE_DONE),
	    JOIN_KILLED);
}
END_TEST

START_TEST(t_nodestatus)
{
	int	 s;

	for (s = 0; s < NS_COUNT; s++) {
		ck_assert_int_eq(ns_parse(ns_code(s)), s);
		ck_assert_ptr_nonnull(ns_desc(s));
	}
	ck_assert_int_eq(ns_parse("r"), NS_READY);
	ck_assert_int_eq(ns_parse("creating"), NS_CREATING);
	ck_assert_int_eq(ns_parse("k"), NS_KILLED);
	ck_assert_int_eq(ns_parse("v"), NS_REMOVED);
	ck_assert_int_eq(ns_parse("zz"), NS_UNKNOWN);
	ck_assert_int_eq(ns_parse(""), NS_UNKNOWN);
	ck_assert_int_eq(ns_parse(NULL), NS_UNKNOWN);
	ck_assert_str_eq(ns_desc(NS_SYNCING), "joining: initial sync (3/5)");
	ck_assert_str_eq(ns_desc(NS_COUNT), "unknown");
	ck_assert_str_eq(ns_code(NS_COUNT), "u");
	ck_assert_int_eq(ns_parse("p"), NS_PENDING);
	ck_assert_int_eq(ns_parse("l"), NS_LOST);
	ck_assert_str_eq(ns_node_desc(NS_PENDING, 0),
	    "pending: credentials issued, not joined yet");
	ck_assert_str_eq(ns_node_desc(NS_PENDING, 1),
	    "pending: credentials expired");
	/* only a pending node's credentials expire */
	ck_assert_str_eq(ns_node_desc(NS_READY, 1), "ready");
}
END_TEST

/* NS_SQL_JOINING lists exactly the states ns_joining() says. */
START_TEST(t_joining_sql)
{
	char	 list[] = NS_SQL_JOINING, *p, *q;
	int	 s, seen[NS_COUNT] = { 0 };

	for (p = list; (p = strchr(p, '\'')) != NULL; p = q + 1) {
		q = strchr(p + 1, '\'');
		ck_assert_ptr_nonnull(q);
		*q = '\0';
		s = ns_parse(p + 1);
		ck_assert_int_ne(s, NS_UNKNOWN);
		seen[s]++;
	}
	for (s = 0; s < NS_COUNT; s++)
		ck_assert_int_eq(seen[s], ns_joining(s) ? 1 : 0);
	ck_assert_int_eq(ns_joining(NS_READY), 0);
	ck_assert_int_eq(ns_joining(NS_CREATING), 1);
}
END_TEST

/* The quorum rule, case by case. */
START_TEST(t_quorum_cases)
{
	static const struct {
		int		 n, g[5];
		enum lease_need	 need;
		int		 want;
		int		 self1;	/* the holder's index + 1; 0: no voter */
	} c[] = {
		{ 1, { 1 }, LEASE_MAJORITY, 1, 0 },
		{ 1, { 0 }, LEASE_MAJORITY, 0, 0 },
		{ 2, { 1, 0 }, LEASE_MAJORITY, 0, 0 },
		{ 2, { 1, 1 }, LEASE_MAJORITY, 1, 0 },
		{ 3, { 1, 1, 0 }, LEASE_MAJORITY, 1, 0 },
		{ 3, { 0, 0, 1 }, LEASE_MAJORITY, 0, 0 },
		{ 5, { 0, 1, 1, 1, 0 }, LEASE_MAJORITY, 1, 0 },
		{ 5, { 1, 1, 0, 0, 0 }, LEASE_MAJORITY, 0, 0 },
		{ 3, { 1, 1, 0 }, LEASE_ALL, 0, 0 },
		{ 3, { 1, 1, 1 }, LEASE_ALL, 1, 0 },
		{ 2, { 1, 0 }, LEASE_MAJORITY_OR_TIE, 1, 0 },
		{ 2, { 0, 1 }, LEASE_MAJORITY_OR_TIE, 0, 0 },
		{ 4, { 1, 1, 0, 0 }, LEASE_MAJORITY_OR_TIE, 0, 0 },
		{ 3, { 1, 0, 0 }, LEASE_MAJORITY_OR_TIE, 0, 0 },
		{ 0, { 0 }, LEASE_MAJORITY, 0, 0 },
		/* a holder that votes needs its own grant */
		{ 5, { 0, 1, 1, 1, 0 }, LEASE_MAJORITY, 0, 1 },
		{ 5, { 0, 1, 1, 1, 0 }, LEASE_MAJORITY, 1, 2 },
		{ 2, { 1, 0 }, LEASE_MAJORITY_OR_TIE, 0, 2 },
		{ 2, { 1, 0 }, LEASE_MAJORITY_OR_TIE, 1, 1 },
		{ 3, { 1, 1, 1 }, LEASE_ALL, 0, 4 },	/* index past n */
	};
	size_t	 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(lease_quorum(c[i].n, c[i].g, c[i].need,
		    c[i].self1 - 1) == c[i].want, "case %zu", i);
}
END_TEST

static int
quorum_of(int n, unsigned set, enum lease_need need)
{
	int	 g[KMD_NODES_MAX + 1], i;

	for (i = 0; i < n; i++)
		g[i] = (set >> i) & 1;
	return lease_quorum(n, g, need, -1);
}

/*
 * Two changes never both hold: no two disjoint sets of voters are both
 * quorums, for one view (every need) and for two views one node apart
 * (n voters, and the same n plus one more at the end: a join or a
 * removal between them), up to 9 voters.
 */
START_TEST(t_quorum_overlap)
{
	enum lease_need	 need;
	unsigned	 a, b;
	int		 n;

	for (n = 1; n <= 9; n++)
		for (a = 0; a < (1u << (n + 1)); a++)
			for (b = 0; b < (1u << (n + 1)); b++) {
				if (a & b)
					continue;
				for (need = LEASE_MAJORITY; need <=
				    LEASE_MAJORITY_OR_TIE; need++)
					if (a < (1u << n) && b < (1u << n))
						ck_assert_msg(!(quorum_of(n, a,
						    need) && quorum_of(n, b,
						    need)), "n %d %x %x", n, a,
						    b);
				if (a < (1u << n))
					ck_assert_msg(!(quorum_of(n, a,
					    LEASE_MAJORITY) && quorum_of(n + 1,
					    b, LEASE_MAJORITY)),
					    "views %d/%d %x %x", n, n + 1, a, b);
			}
}
END_TEST

Suite *
join_suite(void)
{
	Suite	*s = suite_create("join");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, t_every_stage);
	tcase_add_loop_test(tc, t_ways_out, 0, NSPEC);
	tcase_add_loop_test(tc, t_rows, 0, NSPEC);
	tcase_add_test(tc, t_path);
	tcase_add_test(tc, t_enough);
	tcase_add_test(tc, t_refused_or_killed);
	tcase_add_test(tc, t_nodestatus);
	tcase_add_test(tc, t_joining_sql);
	tcase_add_test(tc, t_quorum_cases);
	tcase_add_test(tc, t_quorum_overlap);
	suite_add_tcase(s, tc);
	return s;
}
