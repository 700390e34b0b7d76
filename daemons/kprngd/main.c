/* SPDX-License-Identifier: MIT */
/* kprngd: the kprng pseudo-random character device. See docs/kprngd.md. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager.h"
#include "options.h"

int main(int argc, char **argv)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct kprngd_options o;
	int r;

	r = kprngd_options_parse(&o, argc, argv);
	if (r <= 0) {
		kprngd_options_done(&o);
		return r < 0 ? 2 : EXIT_SUCCESS;
	}
	ukd_log_set_hook(ukd_log_stderr, o.verbose ? LOG_DEBUG : LOG_INFO, "kprngd");

	r = manager_new(&m, &o);
	if (r < 0) {
		ukd_log(LOG_ERR, "cannot set up: %s", strerror(-r));
		goto out;
	}
	r = manager_start(m);
	if (r < 0)
		goto out;
	r = manager_run(m);
	if (r < 0)
		ukd_log(LOG_ERR, "event loop failed: %s", strerror(-r));
	else
		ukd_log(LOG_INFO, "stopping");
out:
	manager_free(TAKE_PTR(m));
	kprngd_options_done(&o);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
