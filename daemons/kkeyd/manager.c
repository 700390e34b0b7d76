/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"

/* Log a setting a reload cannot change while the nodes are served. */
static void needs_restart(bool changed, const char *key)
{
	if (changed)
		ukd_log(LOG_WARNING, "reload: %s changed; it takes effect when kkeyd is restarted", key);
}

/* SIGHUP: read the config file again (the command line still wins) and
 * apply what can change live. The recording is kept. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	struct kkeyd_options *o = m->options;
	_cleanup_(kkeyd_options_done) struct kkeyd_options n = {};

	ukd_daemon_reloading();
	if (kkeyd_options_reload(&n, m->argc, m->argv) == 0) {
		needs_restart(n.frontend != o->frontend, "frontend");
		needs_restart(strcmp(n.mountpoint, o->mountpoint) != 0, "mountpoint");
		needs_restart(n.kkey.capacity != o->kkey.capacity, "capacity");
		needs_restart(n.kkey.mode != o->kkey.mode, "mode");
		kkey_reconfigure(m->kkey, &n.kkey);
		o->kkey.velocity = n.kkey.velocity;
		o->kkey.slowdown = n.kkey.slowdown;
		o->kkey.channel = n.kkey.channel;
		o->kkey.keep = n.kkey.keep;
		o->verbose = n.verbose;
		ukd_log_set_hook(ukd_log_stderr, o->verbose ? LOG_DEBUG : LOG_INFO, "kkeyd");
		ukd_log(LOG_INFO, "configuration reloaded");
	}
	ukd_daemon_reloaded("Serving kkey000..kkey127");
	return 0;
}

int manager_new(struct manager **ret, struct kkeyd_options *o, int argc, char **argv)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->options = o;
	m->argc = argc;
	m->argv = argv;
	r = ukd_daemon_event_new(&m->event);
	if (r < 0)
		return r;
	r = ukd_daemon_on_reload(m->event, on_reload, m);
	if (r < 0)
		return r;
	r = kkey_new(&m->kkey, &o->kkey);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(struct manager *m)
{
	const struct kkeyd_options *o = m->options;
	enum ukd_front_kind kind = ukd_front_kind_resolve(o->frontend);
	struct ukd_front_config cfg = {
		.kind = kind,
		.mountpoint = o->mountpoint,
		.make_mountpoint = true,
		.fsname = "kkeyd",
		.allow_other = geteuid() == 0,
	};
	int r;

	if (o->frontend == UKD_FRONT_AUTO)
		ukd_log(LOG_DEBUG, "front end: %s (auto)", ukd_front_kind_name(kind));
	m->kind = kind;
	r = ukd_front_new(&m->front, &cfg, m->kkey->node_ptrs, KKEY_NOTES, m->event);
	if (r == -ENODEV && kind == UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, r, "CUSE is not available: /dev/cuse is missing or not "
				     "writable. Load the module with 'modprobe cuse' (as root), or use --fuse");
	if (r == -EEXIST && kind == UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, r, "/dev/kkey000 .. /dev/kkey127 are already served "
				     "(is another kkeyd running?)");
	if (r == -EEXIST)
		return ukd_log_errno(LOG_ERR, r, "%s is already in use (is another kkeyd running?)",
				     o->mountpoint);
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "cannot serve the kkey nodes through %s: %m",
				     ukd_front_kind_name(kind));
	ukd_log(LOG_INFO, "serving kkey000..kkey127 via %s%s%s", ukd_front_kind_name(kind),
		kind == UKD_FRONT_FUSE ? " at " : " in /dev",
		kind == UKD_FRONT_FUSE ? o->mountpoint : "");
	return 0;
}

int manager_run(struct manager *m)
{
	const struct kkeyd_options *o = m->options;

	sd_notifyf(false, "READY=1\nSTATUS=Serving kkey000..kkey127 via %s%s%s",
		   ukd_front_kind_name(m->kind), m->kind == UKD_FRONT_FUSE ? " at " : "",
		   m->kind == UKD_FRONT_FUSE ? o->mountpoint : "");
	return sd_event_loop(m->event);
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	if (m->front)
		sd_notify(false, "STOPPING=1");
	ukd_front_free(m->front);
	kkey_free(m->kkey);
	sd_event_unref(m->event);
	free(m);
}
