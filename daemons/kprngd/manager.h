/* SPDX-License-Identifier: MIT */
/* kprngd's manager: the event loop, the device, and the front end serving it. */
#pragma once

#include <systemd/sd-event.h>

#include "device.h"
#include "front.h"
#include "options.h"

struct manager {
	struct kprngd_options *options;  /* main's; a reload updates what it changes */
	int argc;                        /* the command line, read again on reload */
	char **argv;
	sd_event *event;
	struct kprng *kprng;
	struct ukd_front *front;
	enum ukd_front_kind kind;
};

/**
 * manager_new() - loop with SIGTERM/SIGINT (stop) and SIGHUP (reload), and
 * the device; @o and @argv are borrowed from main. Returns 0 or -errno.
 */
int manager_new(struct manager **ret, struct kprngd_options *o, int argc, char **argv);
/** manager_start() - serve the node; logs why it cannot. Returns 0 or -errno. */
int manager_start(struct manager *m);
/** manager_run() - READY=1, then the loop until a signal or an unmount. */
int manager_run(struct manager *m);
/** manager_free() - stop serving, free everything. Accepts NULL. */
void manager_free(struct manager *m);

UKD_DEFINE_CLEANUP(struct manager *, manager_free)
