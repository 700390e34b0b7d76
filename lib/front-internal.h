/* SPDX-License-Identifier: MIT */
/* Shared between front.c and the two front ends; not for devices. */
#pragma once

#include "front.h"

struct ukd_front_impl {
	void (*free)(void *impl);
};

struct ukd_front {
	const struct ukd_front_impl *impl;
	void *impl_data;
};

/* Each returns 0 and fills @impl_data, or -errno with nothing left behind. */
int ukd_fuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event);
int ukd_cuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event);
extern const struct ukd_front_impl ukd_fuse_front_impl;
extern const struct ukd_front_impl ukd_cuse_front_impl;

/* Common per-open bookkeeping for both front ends (front-file.c). */
struct ukd_file *ukd_front_file_open(struct ukd_chardev *dev, int flags, int *err);
void ukd_front_file_release(struct ukd_file *file);
/* Run one ioctl through the restricted-ioctl checks and the device op.
 * @out must hold @out_size bytes; it is zeroed first. */
int ukd_front_file_ioctl(struct ukd_file *file, unsigned int cmd,
			 const void *in, size_t in_size, void *out, size_t out_size);
unsigned int ukd_front_file_poll(struct ukd_file *file);
/* Checks names for validity and uniqueness. */
int ukd_front_check_devs(struct ukd_chardev *const *devs, size_t n_devs);
