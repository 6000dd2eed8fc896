/*
 * The migration list (common/schema.c): ordered, complete, and the
 * pending computation every start relies on.
 */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "schema.h"

START_TEST(t_ordered)
{
	size_t	 i;

	ck_assert_uint_gt(schema_nmigrations, 0);
	ck_assert_int_eq(schema_migrations[0].version, 1);
	for (i = 1; i < schema_nmigrations; i++)
		ck_assert_int_eq(schema_migrations[i].version,
		    schema_migrations[i - 1].version + 1);
	ck_assert_int_eq(schema_latest(),
	    schema_migrations[schema_nmigrations - 1].version);
}
END_TEST

START_TEST(t_pending)
{
	const struct migration	*m;

	ck_assert_int_eq(schema_pending(0, &m), (int)schema_nmigrations);
	ck_assert_ptr_eq(m, &schema_migrations[0]);
	ck_assert_int_eq(schema_pending(schema_latest(), &m), 0);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(schema_pending(schema_latest() + 1, &m), -1);
	ck_assert_int_eq(schema_pending(-1, &m), -1);
}
END_TEST

START_TEST(t_step_sql)
{
	char	 buf[16384], tiny[16];

	ck_assert_int_eq(schema_step_sql(&schema_migrations[0], 0, buf,
	    sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "BEGIN;"));
	ck_assert_ptr_nonnull(strstr(buf, "UPDATE kmd_schema SET version = 1;"));
	ck_assert_ptr_nonnull(strstr(buf, "COMMIT;"));
	ck_assert(strstr(buf, "COMMIT;") > strstr(buf, "CREATE TABLE"));
	ck_assert_int_eq(schema_step_sql(&schema_migrations[0], 0, tiny,
	    sizeof(tiny)), -1);
}
END_TEST

/*
 * A step's local part alone (an upgrade window) leaves the version as it
 * is and carries none of the cluster part; a whole step carries both.
 */
START_TEST(t_step_parts)
{
	static const struct migration m = { 99, "CREATE FUNCTION f();\n",
	    "ALTER TABLE public.kmd_keys ADD COLUMN IF NOT EXISTS d text;\n" };
	char	 buf[1024];

	ck_assert_int_eq(schema_step_sql(&m, 1, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "CREATE FUNCTION f();"));
	ck_assert_ptr_null(strstr(buf, "ALTER TABLE"));
	ck_assert_ptr_null(strstr(buf, "kmd_schema"));
	ck_assert_int_eq(schema_step_sql(&m, 0, buf, sizeof(buf)), 0);
	ck_assert(strstr(buf, "ALTER TABLE") > strstr(buf, "CREATE FUNCTION"));
	ck_assert(strstr(buf, "UPDATE kmd_schema SET version = 99;") >
	    strstr(buf, "ALTER TABLE"));
}
END_TEST


/*
 * The start rule: a database newer than this kmd, a cluster newer, or a
 * kmd two steps past the cluster is refused, each saying what to run; a
 * kmd one step past a cluster of several nodes runs in the window; a
 * lone node, or one not clustered, takes every step.
 */
START_TEST(t_plan)
{
	int	 l = schema_latest();
	char	 why[512];

	ck_assert_int_eq(schema_plan(l + 1, -1, 0, why, sizeof(why)),
	    SCHEMA_REFUSE);
	ck_assert_ptr_nonnull(strstr(why, "run the kmd this node ran before"));
	ck_assert_int_eq(schema_plan(l + 1, l + 1, 2, why, sizeof(why)),
	    SCHEMA_REFUSE);
	ck_assert_int_eq(schema_plan(l, l + 1, 2, why, sizeof(why)),
	    SCHEMA_REFUSE);
	ck_assert_ptr_nonnull(strstr(why, "newer than this kmd knows"));
	ck_assert_int_eq(schema_plan(l - 2, l - 2, 1, why, sizeof(why)),
	    SCHEMA_REFUSE);
	ck_assert_ptr_nonnull(strstr(why, "one step at a time"));
	ck_assert_ptr_nonnull(strstr(why, "upgrade finish"));
	ck_assert_int_eq(schema_plan(l - 1, l - 1, 2, why, sizeof(why)),
	    SCHEMA_WINDOW);
	ck_assert_int_eq(schema_plan(l, l, 2, why, sizeof(why)), SCHEMA_WHOLE);
	/* a node down while finish ran: behind the cluster, takes it up */
	ck_assert_int_eq(schema_plan(l - 1, l, 2, why, sizeof(why)),
	    SCHEMA_WHOLE);
	/* alone, or not clustered: every step, however far behind */
	ck_assert_int_eq(schema_plan(1, 1, 0, why, sizeof(why)), SCHEMA_WHOLE);
	ck_assert_int_eq(schema_plan(1, -1, 0, why, sizeof(why)),
	    SCHEMA_WHOLE);
	ck_assert_int_eq(schema_plan(0, -1, 0, why, sizeof(why)),
	    SCHEMA_WHOLE);
}
END_TEST

/* Replicated tables and node-local ones, as DESIGN section 3 has them. */
START_TEST(t_tables)
{
	static const char *tables[] = { "kmd_cluster", "kmd_nodes",
	    "kmd_node_health", "kmd_users", "kmd_keys", "kmd_local",
	    "kmd_alarms" };
	char	 want[64];
	size_t	 i;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(want, sizeof(want), "CREATE TABLE %s (", tables[i]);
		ck_assert_msg(strstr(schema_migrations[0].sql, want) != NULL,
		    "%s missing", tables[i]);
	}
}
END_TEST

Suite *
schema_suite(void)
{
	Suite	*s = suite_create("schema");
	TCase	*tc = tcase_create("migrations");

	tcase_add_test(tc, t_ordered);
	tcase_add_test(tc, t_pending);
	tcase_add_test(tc, t_step_sql);
	tcase_add_test(tc, t_step_parts);
	tcase_add_test(tc, t_plan);
	tcase_add_test(tc, t_tables);
	suite_add_tcase(s, tc);
	return s;
}
