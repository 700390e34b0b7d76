/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotplug.h"
#include "log.h"
#include "macro.h"

/* Where udevd listens: present exactly when udevd runs. */
#define UDEVD_CONTROL "/run/udev/control"

struct hotplug {
	struct udev *udev;
	struct udev_monitor *monitor;
	sd_event_source *io;
	struct keyboards *kbs;
};

static int on_uevent(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct hotplug *h = userdata;
	struct udev_device *d;

	while ((d = udev_monitor_receive_device(h->monitor))) {
		const char *action = udev_device_get_action(d);
		const char *node = udev_device_get_devnode(d);

		if (action && node && !strncmp(node, "/dev/input/event", 16)) {
			ukd_log(LOG_DEBUG, "uevent: %s %s", action, node);
			if (!strcmp(action, "add"))
				keyboards_add(h->kbs, node);
			else if (!strcmp(action, "remove"))
				keyboards_remove(h->kbs, node);
		}
		udev_device_unref(d);
	}
	return 0;
}

int hotplug_new(struct hotplug **ret, sd_event *event, struct keyboards *kbs)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	const char *source = access(UDEVD_CONTROL, F_OK) == 0 ? "udev" : "kernel";
	int r;

	if (!h)
		return -ENOMEM;
	h->kbs = kbs;
	h->udev = udev_new();
	if (!h->udev) {
		r = -ENOMEM;
		goto fail;
	}
	h->monitor = udev_monitor_new_from_netlink(h->udev, source);
	if (!h->monitor) {
		r = ukd_negerrno();
		goto fail;
	}
	r = udev_monitor_filter_add_match_subsystem_devtype(h->monitor, "input", NULL);
	if (r >= 0)
		r = udev_monitor_enable_receiving(h->monitor);
	if (r >= 0)
		r = sd_event_add_io(event, &h->io, udev_monitor_get_fd(h->monitor), EPOLLIN,
				    on_uevent, h);
	if (r < 0)
		goto fail;
	ukd_log(LOG_DEBUG, "hotplug: following %s events", source);
	*ret = h;
	return 0;
fail:
	hotplug_free(h);
	return r;
}

void hotplug_free(struct hotplug *h)
{
	if (!h)
		return;
	sd_event_source_disable_unref(h->io);
	udev_monitor_unref(h->monitor);
	udev_unref(h->udev);
	free(h);
}
