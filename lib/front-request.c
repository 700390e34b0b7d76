/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "front-request.h"

int ukd_front_open_new(struct ukd_front_open **ret, struct ukd_front_open **head,
		       struct ukd_chardev *dev, int flags)
{
	struct ukd_front_open *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	r = ukd_chardev_file_open(&o->file, dev, flags);
	if (r < 0) {
		free(o);
		return r;
	}
	o->file->front_data = o;
	o->head = head;
	o->next = *head;
	if (o->next)
		o->next->prev = o;
	*head = o;
	*ret = o;
	return 0;
}

void ukd_front_open_free(struct ukd_front_open *o)
{
	if (!o)
		return;
	if (o->prev)
		o->prev->next = o->next;
	else
		*o->head = o->next;
	if (o->next)
		o->next->prev = o->prev;
	if (o->ph)
		fuse_pollhandle_destroy(o->ph);
	ukd_chardev_file_release(o->file);
	free(o);
}

void ukd_front_open_free_all(struct ukd_front_open **head)
{
	while (*head)
		ukd_front_open_free(*head);
}

void ukd_front_open_wake_all(struct ukd_front_open *head)
{
	for (struct ukd_front_open *o = head; o; o = o->next) {
		if (!o->ph)
			continue;
		fuse_lowlevel_notify_poll(o->ph);
		fuse_pollhandle_destroy(o->ph);
		o->ph = NULL;
	}
}

void ukd_front_reply_read(fuse_req_t req, struct ukd_front_open *o, size_t size, void *iobuf)
{
	const struct ukd_chardev_ops *ops = o ? o->file->dev->ops : NULL;
	const void *data = iobuf;
	ssize_t n;

	/* The position is the device's own file->pos, never the offset. */
	if (!ops || (!ops->read && !ops->read_lend)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (size > UKD_CHARDEV_MAX_IO)
		size = UKD_CHARDEV_MAX_IO;
	if (ops->read_lend)
		n = ops->read_lend(o->file, &data, size);
	else
		n = ops->read(o->file, iobuf, size);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if ((size_t)n > size)  /* a device bug: never reply past @size */
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, data, (size_t)n);
}

void ukd_front_reply_write(fuse_req_t req, struct ukd_front_open *o, const char *buf,
			   size_t size, off_t off)
{
	/* Streams: each write(2) starts at 0, its later pieces follow on. */
	struct ukd_write w = { .buf = buf, .size = size, .continued = off != 0 };
	ssize_t n;

	if (!o || !o->file->dev->ops->write) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (size > UKD_CHARDEV_MAX_IO) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	n = o->file->dev->ops->write(o->file, &w);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void ukd_front_reply_ioctl(fuse_req_t req, struct ukd_front_open *o, unsigned int cmd,
			   unsigned int flags, const void *in_buf, size_t in_bufsz,
			   size_t out_bufsz)
{
	unsigned char out[UKD_CHARDEV_MAX_IOCTL_ARG];
	int r;

	/* Restricted ioctls only; directories have none. */
	if (!o || (flags & (FUSE_IOCTL_UNRESTRICTED | FUSE_IOCTL_DIR))) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (out_bufsz > sizeof(out)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = ukd_chardev_file_ioctl(o->file, cmd, in_buf, in_bufsz, out, out_bufsz);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_ioctl(req, 0, out_bufsz ? out : NULL, out_bufsz);
}

void ukd_front_reply_poll(fuse_req_t req, struct ukd_front_open *o, struct fuse_pollhandle *ph)
{
	if (!o) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, EBADF);
		return;
	}
	if (ph) {
		if (o->ph)
			fuse_pollhandle_destroy(o->ph);
		o->ph = ph;
	}
	fuse_reply_poll(req, ukd_chardev_file_poll(o->file));
}

void ukd_front_reply_release(fuse_req_t req, struct ukd_front_open *o)
{
	ukd_front_open_free(o);
	fuse_reply_err(req, 0);
}
