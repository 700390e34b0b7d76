/* SPDX-License-Identifier: MIT */
/*
 * What the FUSE and CUSE front ends share: both speak libfuse's low-level
 * protocol, so an open file, its poll handle and the read/write/ioctl/
 * poll/release requests are handled the same way. Internal to libukd.
 */
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif

#include <fuse_lowlevel.h>

#include "chardev-file.h"

/* One open file of a node, on the node's list (for wake-ups). */
struct ukd_front_open {
	struct ukd_file *file;
	struct ukd_front_open **head;   /* the node's list */
	struct ukd_front_open *prev, *next;
	struct fuse_pollhandle *ph;     /* set while a poller waits */
};

/* Open @dev for a request: the device's open op, then onto @head.
 * Returns 0 and sets *@ret, or -errno with nothing left behind. */
int ukd_front_open_new(struct ukd_front_open **ret, struct ukd_front_open **head,
		       struct ukd_chardev *dev, int flags);
/* Off the list, poll handle dropped, the device's release op. NULL is fine. */
void ukd_front_open_free(struct ukd_front_open *o);
/* Free every open file on @head (teardown: the kernel sends no release). */
void ukd_front_open_free_all(struct ukd_front_open **head);
/* Notify every poller on @head that readiness may have changed. */
void ukd_front_open_wake_all(struct ukd_front_open *head);

/* Request handlers; each replies exactly once. @off is the request's
 * offset: 0 for the first piece of a read(2)/write(2), since both front
 * ends open files as streams. @iobuf holds UKD_CHARDEV_MAX_IO bytes. */
void ukd_front_reply_read(fuse_req_t req, struct ukd_front_open *o, size_t size, void *iobuf);
void ukd_front_reply_write(fuse_req_t req, struct ukd_front_open *o, const char *buf,
			   size_t size, off_t off);
void ukd_front_reply_ioctl(fuse_req_t req, struct ukd_front_open *o, unsigned int cmd,
			   unsigned int flags, const void *in_buf, size_t in_bufsz,
			   size_t out_bufsz);
void ukd_front_reply_poll(fuse_req_t req, struct ukd_front_open *o, struct fuse_pollhandle *ph);
void ukd_front_reply_release(fuse_req_t req, struct ukd_front_open *o);
