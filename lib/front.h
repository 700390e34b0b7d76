/* SPDX-License-Identifier: MIT */
/*
 * Front ends: serve a set of struct ukd_chardev nodes, either as real
 * character devices through CUSE (/dev/NAME) or as files in a FUSE mount
 * (DIR/NAME). Both plug into the daemon's sd-event loop; neither leaks its
 * types into device code.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "chardev.h"
#include "front-config.h"

struct ukd_front;

/**
 * ukd_front_new() - start serving @devs with the front end @cfg names.
 * @ret: the new front end, on success only.
 * @cfg: what and where; copied.
 * @devs: @n_devs nodes; they must outlive the front end. Names must be
 *        unique and ukd_chardev_name_valid().
 * @event: the loop to attach to; a reference is taken.
 *
 * Returns 0, or -errno: -ENODEV when CUSE is asked for and /dev/cuse is
 * missing, -EEXIST when a node name or the mount point is already taken,
 * -EINVAL for bad names or config. Nothing is left behind on failure.
 */
int ukd_front_new(struct ukd_front **ret, const struct ukd_front_config *cfg,
		  struct ukd_chardev *const *devs, size_t n_devs, sd_event *event);

/**
 * ukd_front_free() - stop serving: unmount (FUSE) or remove the nodes
 * (CUSE), release every open file through the devices' release op, and
 * drop the loop reference. Accepts NULL.
 */
void ukd_front_free(struct ukd_front *front);

/** ukd_front_kind_name() - "cuse", "fuse" or "auto". */
const char *ukd_front_kind_name(enum ukd_front_kind kind);

/**
 * ukd_front_kind_from_string() - parse "auto", "cuse" or "fuse" (a daemon's
 * frontend= setting). Returns the kind or -EINVAL.
 */
int ukd_front_kind_from_string(const char *s);

/**
 * ukd_front_kind_resolve() - the front end @kind stands for: UKD_FRONT_AUTO
 * becomes UKD_FRONT_CUSE when ukd_front_cuse_available(), else
 * UKD_FRONT_FUSE; the others are returned as they are. ukd_front_new()
 * does this itself; daemons call it to name the front end in messages.
 */
enum ukd_front_kind ukd_front_kind_resolve(enum ukd_front_kind kind);

/** ukd_front_cuse_available() - true when /dev/cuse can be opened for writing. */
bool ukd_front_cuse_available(void);
