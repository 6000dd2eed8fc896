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

	ck_assert_int_eq(schema_step_sql(&schema_migrations[0], buf,
	    sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "BEGIN;"));
	ck_assert_ptr_nonnull(strstr(buf, "UPDATE kmd_schema SET version = 1;"));
	ck_assert_ptr_nonnull(strstr(buf, "COMMIT;"));
	ck_assert(strstr(buf, "COMMIT;") > strstr(buf, "CREATE TABLE"));
	ck_assert_int_eq(schema_step_sql(&schema_migrations[0], tiny,
	    sizeof(tiny)), -1);
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
	tcase_add_test(tc, t_tables);
	suite_add_tcase(s, tc);
	return s;
}
