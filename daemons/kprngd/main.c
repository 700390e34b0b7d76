/* SPDX-License-Identifier: MIT */
/* kprngd: the kprng pseudo-random character device. See docs/kprngd.md. */
#include <stdlib.h>

#include "log.h"
#include "manager.h"
#include "options.h"

int main(int argc, char **argv)
{
	_cleanup_(kprngd_options_done) struct kprngd_options o = {};
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	r = kprngd_options_parse(&o, argc, argv);
	if (r <= 0)
		return r < 0 ? 2 : EXIT_SUCCESS;
	ukd_log_set_hook(ukd_log_stderr, o.verbose ? LOG_DEBUG : LOG_INFO, "kprngd");

	r = manager_new(&m, &o, argc, argv);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "cannot set up: %m"), EXIT_FAILURE;
	r = manager_start(m);
	if (r < 0)
		return EXIT_FAILURE;
	r = manager_run(m);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "event loop failed: %m"), EXIT_FAILURE;
	ukd_log(LOG_INFO, "stopping");
	return EXIT_SUCCESS;
}
