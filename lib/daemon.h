/* SPDX-License-Identifier: MIT */
/* What every ukd daemon's loop needs, written once. */
#pragma once

#include <stdbool.h>
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

/**
 * ukd_daemon_on_reload() - call @fn when SIGHUP arrives (systemctl reload),
 * through @event's loop: SIGHUP is blocked and read from a signalfd.
 * @fn: does the reload; it brackets its work with ukd_daemon_reloading()
 *      and ukd_daemon_reloaded().
 * Returns 0 or -errno.
 */
int ukd_daemon_on_reload(sd_event *event, sd_event_signal_handler_t fn, void *userdata);

/** ukd_daemon_reloading() - tell systemd a reload started (RELOADING=1). */
void ukd_daemon_reloading(void);

/**
 * ukd_daemon_needs_restart() - during a reload: when @changed, log (warning)
 * that setting @key changed and takes effect at the next restart, the one
 * wording for every daemon's settings that cannot change while it serves.
 */
void ukd_daemon_needs_restart(bool changed, const char *key);

/** ukd_daemon_reloaded() - tell systemd the reload is over (READY=1, @status). */
void ukd_daemon_reloaded(const char *status);
