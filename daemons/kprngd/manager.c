/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"

/* SIGHUP: read the config file again (the command line still wins). The
 * generator applies to later opens; so does the seed, but only when the
 * configured seed changed: a seed set by ioctl is not undone by a reload
 * that did not touch it. */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;
	struct kprngd_options *o = m->options;
	_cleanup_(kprngd_options_done) struct kprngd_options n = {};
	bool seed_changed;
	int r;

	ukd_daemon_reloading();
	if (kprngd_options_reload(&n, m->argc, m->argv) < 0) {
		ukd_daemon_reloaded("Serving kprng");
		return 0;
	}
	ukd_daemon_needs_restart(n.frontend != o->frontend, "frontend");
	ukd_daemon_needs_restart(strcmp(n.mountpoint, o->mountpoint) != 0, "mountpoint");
	ukd_daemon_needs_restart(strcmp(n.name, o->name) != 0, "name");
	ukd_daemon_needs_restart(n.dev.mode != o->dev.mode, "mode");
	ukd_daemon_needs_restart(n.dev.helper != o->dev.helper, "helper");
	if (n.dev.generator != o->dev.generator) {
		(void)kprng_set_generator(m->kprng, n.dev.generator);
		o->dev.generator = n.dev.generator;
		ukd_log(LOG_INFO, "generator for later opens: %s", ukd_prng_kind_to_string(n.dev.generator));
	}
	seed_changed = n.dev.deterministic != o->dev.deterministic ||
		(n.dev.deterministic && memcmp(n.dev.seed, o->dev.seed, sizeof(n.dev.seed)));
	if (seed_changed) {
		r = kprng_set_seed(m->kprng, n.dev.deterministic ? n.dev.seed : NULL);
		if (r < 0) {
			ukd_log_errno(LOG_ERR, r, "reload: cannot change the seed: %m");
		} else {
			o->dev.deterministic = n.dev.deterministic;
			memcpy(o->dev.seed, n.dev.seed, sizeof(o->dev.seed));
			ukd_log(LOG_INFO, "%s for later opens", n.dev.deterministic ? "new seed" : "random key");
		}
	}
	o->verbose = n.verbose;
	ukd_log_set_hook(ukd_log_stderr, o->verbose ? LOG_DEBUG : LOG_INFO, "kprngd");
	ukd_log(LOG_INFO, "configuration reloaded");
	ukd_daemon_reloaded("Serving kprng");
	return 0;
}

int manager_new(struct manager **ret, struct kprngd_options *o, int argc, char **argv)
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
	r = kprng_new(&m->kprng, &o->dev);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int manager_start(struct manager *m)
{
	const struct kprngd_options *o = m->options;
	struct ukd_chardev *node = &m->kprng->node;
	struct ukd_front_config cfg = {
		.kind = ukd_front_kind_resolve(o->frontend),
		.mountpoint = o->mountpoint,
		.make_mountpoint = true,
		.fsname = "kprngd",
		.allow_other = geteuid() == 0,
	};
	int r;

	m->kind = cfg.kind;
	r = ukd_front_new(&m->front, &cfg, &node, 1, m->event);
	if (r == -ENODEV && m->kind == UKD_FRONT_CUSE)
		return ukd_log_errno(LOG_ERR, r, "CUSE: /dev/cuse is missing (modprobe cuse), or use --fuse");
	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "cannot serve %s over %s: %m", node->name,
				     ukd_front_kind_name(m->kind));
	if (m->kind == UKD_FRONT_CUSE)
		ukd_log(LOG_INFO, "serving /dev/%s (%s%s)", node->name,
			ukd_prng_kind_to_string(m->kprng->generator),
			m->kprng->deterministic ? ", seeded" : "");
	else
		ukd_log(LOG_INFO, "serving %s/%s (%s%s)", o->mountpoint, node->name,
			ukd_prng_kind_to_string(m->kprng->generator),
			m->kprng->deterministic ? ", seeded" : "");
	return 0;
}

int manager_run(struct manager *m)
{
	int r;

	(void)sd_notify(false, "READY=1\nSTATUS=Serving kprng");
	r = sd_event_loop(m->event);
	(void)sd_notify(false, "STOPPING=1");
	return r;
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	ukd_front_free(m->front);
	kprng_free(m->kprng);
	sd_event_unref(m->event);
	free(m);
}
