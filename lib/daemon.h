/* SPDX-License-Identifier: MIT */
/* What every ukd daemon's loop needs, written once. */
#pragma once

#include <systemd/sd-event.h>

/**
 * ukd_daemon_event_new() - the calling thread's default sd-event loop, set
 * up the way every ukd daemon runs it: SIGTERM and SIGINT blocked and
 * delivered through the loop, where they end it cleanly (exit code 0);
 * the systemd watchdog pinged when $WATCHDOG_USEC asks for it.
 * @ret: a new reference on success.
 * Returns 0 or -errno.
 */
int ukd_daemon_event_new(sd_event **ret);
