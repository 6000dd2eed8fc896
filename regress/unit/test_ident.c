/*
 * pg_ident.conf (master/ident.c): a peer's certificate gets in only for
 * a node id the joiner allows, each by an exact line; none when none is
 * allowed; anything that is not a node id is left out.
 */
#include <string.h>

#include <check.h>

#include "ident.h"

#define A "11111111-1111-4111-8111-111111111111"
#define B "2222aaaa-2222-4222-8222-222222222222"

/* the lines of text that start with "peers " */
static int
peers_lines(const char *text)
{
	const char	*p;
	int		 n = 0;

	for (p = text; p != NULL; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, "peers ", 6) == 0)
			n++;
	return n;
}

#define J "_kmd"
#define R "_kmd_replmon"

START_TEST(t_none)
{
	char	 out[1024];

	ck_assert_int_eq(ident_text(J, R, "postgres", "", out, sizeof(out)),
	    0);
	ck_assert_int_eq(peers_lines(out), 0);
	ck_assert_ptr_nonnull(strstr(out, "kmd _kmd kmd\n"));
	ck_assert_ptr_nonnull(strstr(out, "kmd _kmd_replmon kmd_replmon\n"));
	/* replmon's user reaches its own role only, the joiner's no other */
	ck_assert_ptr_null(strstr(out, "kmd _kmd_replmon kmd\n"));
	ck_assert_ptr_null(strstr(out, "kmd _kmd kmd_replmon\n"));
	ck_assert_ptr_nonnull(strstr(out, "kmd postgres kmd\n"));
	ck_assert_int_eq(ident_text(J, R, "postgres", NULL, out, sizeof(out)),
	    0);
	ck_assert_int_eq(peers_lines(out), 0);
}
END_TEST

START_TEST(t_exact)
{
	char	 out[1024];

	ck_assert_int_eq(ident_text(J, R, "kmdpg1", A " " B "\n", out,
	    sizeof(out)),
	    2);
	ck_assert_int_eq(peers_lines(out), 2);
	ck_assert_ptr_nonnull(strstr(out, "\npeers " A " kmd_repl\n"));
	ck_assert_ptr_nonnull(strstr(out, "\npeers " B " kmd_repl\n"));
	/* no regular expression: PostgreSQL matches these exactly */
	ck_assert_ptr_null(strstr(out, "peers /"));
}
END_TEST

START_TEST(t_invalid)
{
	char	 out[1024];

	/* upper case, short, long, a regex, a line break: none gets in */
	ck_assert_int_eq(ident_text(J, R, "postgres",
	    "11111111-1111-4111-8111-11111111111A "
	    "11111111-1111-4111-8111-11111111111 "
	    "11111111-1111-4111-8111-1111111111111 "
	    "/^.*$ 11111111x1111-4111-8111-111111111111\t" A, out,
	    sizeof(out)), 1);
	ck_assert_int_eq(peers_lines(out), 1);
	ck_assert_ptr_nonnull(strstr(out, "peers " A " kmd_repl\n"));
	ck_assert_int_eq(valid_node_id(A), 1);
	ck_assert_int_eq(valid_node_id(""), 0);
	ck_assert_int_eq(valid_node_id("11111111-1111-4111-8111"), 0);
}
END_TEST

START_TEST(t_small)
{
	char	 out[160];

	/* what does not fit is an error, not a cut list */
	ck_assert_int_eq(ident_text(J, R, "postgres", A " " B, out,
	    sizeof(out)), -1);
	ck_assert_int_eq(ident_text(J, R, "postgres", "", out, 0), -1);
}
END_TEST

Suite *
ident_suite(void)
{
	Suite	*s = suite_create("ident");
	TCase	*tc = tcase_create("ident");

	tcase_add_test(tc, t_none);
	tcase_add_test(tc, t_exact);
	tcase_add_test(tc, t_invalid);
	tcase_add_test(tc, t_small);
	suite_add_tcase(s, tc);
	return s;
}
