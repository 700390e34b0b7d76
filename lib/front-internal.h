/* SPDX-License-Identifier: MIT */
/*
 * The front ends' floor (cuse-front.c, fuse-front.c) as the dispatcher
 * (front.c) sees it: one constructor and one ops table each. Not for
 * devices, and not for front-request.c, which sits below the front ends
 * (lib/README.md).
 */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#include "chardev.h"
#include "front-config.h"

struct ukd_front_impl {
	void (*free)(void *impl);
};

/* Each checks what only it cares about in @cfg, then returns 0 and fills
 * @impl_data, or -errno with nothing left behind. @devs have passed
 * ukd_chardev_check_devs(). */
int ukd_fuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event);
int ukd_cuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event);
extern const struct ukd_front_impl ukd_fuse_front_impl;
extern const struct ukd_front_impl ukd_cuse_front_impl;
