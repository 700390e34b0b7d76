/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "macro.h"

int ukd_daemon_event_new(sd_event **ret)
{
	sd_event *ev = NULL;
	sigset_t mask;
	int r;

	r = sd_event_default(&ev);
	if (r < 0)
		return r;
	/* Signals arrive through the loop, never in a handler; a NULL
	 * callback makes sd-event exit the loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		r = ukd_negerrno();
		goto fail;
	}
	r = sd_event_add_signal(ev, NULL, SIGTERM, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(ev, NULL, SIGINT, NULL, NULL);
	if (r >= 0)
		r = sd_event_set_watchdog(ev, true);
	if (r < 0)
		goto fail;
	*ret = ev;
	return 0;
fail:
	sd_event_unref(ev);
	return r;
}

int ukd_daemon_on_reload(sd_event *event, sd_event_signal_handler_t fn, void *userdata)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return ukd_negerrno();
	return sd_event_add_signal(event, NULL, SIGHUP, fn, userdata);
}

void ukd_daemon_reloading(void)
{
	(void)sd_notify(false, "RELOADING=1\nSTATUS=Reloading the configuration");
}

void ukd_daemon_needs_restart(bool changed, const char *key)
{
	if (changed)
		ukd_log(LOG_WARNING, "reload: %s changed; it takes effect at the next restart", key);
}

void ukd_daemon_reloaded(const char *status)
{
	(void)sd_notifyf(false, "READY=1\nSTATUS=%s", status ? status : "Running");
}
