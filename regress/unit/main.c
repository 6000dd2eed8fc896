/*
 * The unit tests' one runner.  Run from regress/ (the config tests read
 * the .conf files in conf/); `make check-unit` does, with CK_FORK=yes.
 */
#include <stdlib.h>

#include <check.h>

Suite	*kmsg_suite(void);
Suite	*conf_suite(void);
Suite	*parser_suite(void);
Suite	*schema_suite(void);
Suite	*body_suite(void);
Suite	*cert_suite(void);
Suite	*monitor_suite(void);
Suite	*ops_suite(void);
Suite	*kchan_suite(void);
Suite	*join_suite(void);
Suite	*ident_suite(void);
Suite	*auth_suite(void);
Suite	*pwhash_suite(void);
Suite	*bfile_suite(void);

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(kmsg_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, parser_suite());
	srunner_add_suite(sr, schema_suite());
	srunner_add_suite(sr, body_suite());
	srunner_add_suite(sr, cert_suite());
	srunner_add_suite(sr, monitor_suite());
	srunner_add_suite(sr, ops_suite());
	srunner_add_suite(sr, kchan_suite());
	srunner_add_suite(sr, join_suite());
	srunner_add_suite(sr, ident_suite());
	srunner_add_suite(sr, auth_suite());
	srunner_add_suite(sr, pwhash_suite());
	srunner_add_suite(sr, bfile_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
