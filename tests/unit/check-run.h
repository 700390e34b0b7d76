/* SPDX-License-Identifier: MIT */
/* The main() every check-based unit test shares: run @s, exit 1 on failure. */
#pragma once

#include <check.h>
#include <stdlib.h>

static inline int ukd_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
