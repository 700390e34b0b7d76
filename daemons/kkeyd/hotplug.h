/* SPDX-License-Identifier: MIT */
/*
 * Keyboards plugged in and out while kkeyd runs (libudev): input event
 * nodes that appear are offered to evdev-input.c, ones that vanish are
 * detached. With systemd-udevd running, its events are used (links and
 * permissions are in place when they arrive); without it (an initramfs,
 * a container) the kernel's own uevents are, whose nodes devtmpfs has
 * already made.
 */
#pragma once

#include <systemd/sd-event.h>

#include "evdev-input.h"

struct hotplug;

/** hotplug_new() - watch for input devices; @kbs borrowed. Returns 0 or -errno. */
int hotplug_new(struct hotplug **ret, sd_event *event, struct keyboards *kbs);

/** hotplug_free() - accepts NULL. */
void hotplug_free(struct hotplug *h);
