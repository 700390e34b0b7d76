/* SPDX-License-Identifier: MIT */
/*
 * Driving a device's ops for one open(2): what both front ends and the unit
 * tests call between a request and struct ukd_chardev_ops. It knows nothing
 * about FUSE or CUSE (lib/README.md: the core floor), so a test can drive a
 * device exactly as the front ends do, without a mount.
 */
#pragma once

#include <stddef.h>

#include "chardev.h"

/**
 * ukd_chardev_file_open() - open @dev as open(2) with @flags would.
 * @ret: the new file, on success only; free with ukd_chardev_file_release().
 * Returns 0, or -ENOMEM, or what the device's open op returned.
 */
int ukd_chardev_file_open(struct ukd_file **ret, struct ukd_chardev *dev, int flags);

/** ukd_chardev_file_release() - the device's release op, then free. NULL is fine. */
void ukd_chardev_file_release(struct ukd_file *file);

/**
 * ukd_chardev_file_ioctl() - run one restricted ioctl: ukd_chardev_ioctl_check()
 * on the sizes, then the device's ioctl op.
 * @in/@in_size: the _IOW argument (NULL/0 if none).
 * @out/@out_size: room for the _IOR argument; zeroed first.
 * Returns 0 or -errno (-ENOTTY when the device has no ioctl op).
 */
int ukd_chardev_file_ioctl(struct ukd_file *file, unsigned int cmd,
			   const void *in, size_t in_size, void *out, size_t out_size);

/** ukd_chardev_file_poll() - the device's ready mask; POLLIN|POLLOUT without a poll op. */
unsigned int ukd_chardev_file_poll(struct ukd_file *file);
