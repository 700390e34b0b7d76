/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "manager.h"

int manager_new(struct manager **ret, const struct kprngd_options *o)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->options = o;
	r = ukd_daemon_event_new(&m->event);
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
	if (r < 0) {
		if (m->kind == UKD_FRONT_CUSE && r == -ENODEV)
			ukd_log(LOG_ERR, "CUSE: /dev/cuse is missing (modprobe cuse), or use --fuse");
		else
			ukd_log(LOG_ERR, "cannot serve %s over %s: %s", node->name,
				ukd_front_kind_name(m->kind), strerror(-r));
		return r;
	}
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
