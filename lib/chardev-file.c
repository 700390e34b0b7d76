/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "chardev-file.h"

int ukd_chardev_file_open(struct ukd_file **ret, struct ukd_chardev *dev, int flags)
{
	struct ukd_file *file = calloc(1, sizeof(*file));
	int r;

	if (!file)
		return -ENOMEM;
	file->dev = dev;
	file->flags = flags;
	if (dev->ops->open) {
		r = dev->ops->open(file);
		if (r < 0) {
			free(file);
			return r;
		}
	}
	*ret = file;
	return 0;
}

void ukd_chardev_file_release(struct ukd_file *file)
{
	if (!file)
		return;
	if (file->dev->ops->release)
		file->dev->ops->release(file);
	free(file);
}

int ukd_chardev_file_ioctl(struct ukd_file *file, unsigned int cmd,
			   const void *in, size_t in_size, void *out, size_t out_size)
{
	int r;

	if (!file->dev->ops->ioctl)
		return -ENOTTY;
	r = ukd_chardev_ioctl_check(cmd, in_size, out_size);
	if (r < 0)
		return r;
	if (out_size)
		memset(out, 0, out_size);
	return file->dev->ops->ioctl(file, cmd, in_size ? in : NULL, in_size,
				     out_size ? out : NULL, out_size);
}

unsigned int ukd_chardev_file_poll(struct ukd_file *file)
{
	if (!file->dev->ops->poll)
		return POLLIN | POLLOUT;
	return file->dev->ops->poll(file);
}
