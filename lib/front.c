/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front-internal.h"
#include "log.h"

static const char *const kind_names[] = {
	[UKD_FRONT_CUSE] = "cuse",
	[UKD_FRONT_FUSE] = "fuse",
	[UKD_FRONT_AUTO] = "auto",
};

const char *ukd_front_kind_name(enum ukd_front_kind kind)
{
	return (unsigned int)kind < UKD_ARRAY_SIZE(kind_names) ? kind_names[kind] : "?";
}

int ukd_front_kind_from_string(const char *s)
{
	for (unsigned int k = 0; s && k < UKD_ARRAY_SIZE(kind_names); k++)
		if (!strcmp(s, kind_names[k]))
			return (int)k;
	return -EINVAL;
}

enum ukd_front_kind ukd_front_kind_resolve(enum ukd_front_kind kind)
{
	if (kind != UKD_FRONT_AUTO)
		return kind;
	return ukd_front_cuse_available() ? UKD_FRONT_CUSE : UKD_FRONT_FUSE;
}

bool ukd_front_cuse_available(void)
{
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int ukd_front_check_devs(struct ukd_chardev *const *devs, size_t n_devs)
{
	if (!devs || n_devs == 0)
		return -EINVAL;
	for (size_t i = 0; i < n_devs; i++) {
		if (!devs[i] || !devs[i]->ops || !ukd_chardev_name_valid(devs[i]->name))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(devs[i]->name, devs[j]->name))
				return -EEXIST;
	}
	return 0;
}

int ukd_front_new(struct ukd_front **ret, const struct ukd_front_config *cfg,
		  struct ukd_chardev *const *devs, size_t n_devs, sd_event *event)
{
	struct ukd_front *front;
	int r;

	if (!ret || !cfg || !event)
		return -EINVAL;
	r = ukd_front_check_devs(devs, n_devs);
	if (r < 0)
		return r;
	front = calloc(1, sizeof(*front));
	if (!front)
		return -ENOMEM;
	if (ukd_front_kind_resolve(cfg->kind) == UKD_FRONT_CUSE) {
		front->impl = &ukd_cuse_front_impl;
		r = ukd_cuse_front_new(&front->impl_data, cfg, devs, n_devs, event);
	} else {
		front->impl = &ukd_fuse_front_impl;
		r = ukd_fuse_front_new(&front->impl_data, cfg, devs, n_devs, event);
	}
	if (r < 0) {
		free(front);
		return r;
	}
	*ret = front;
	return 0;
}

void ukd_front_free(struct ukd_front *front)
{
	if (!front)
		return;
	front->impl->free(front->impl_data);
	free(front);
}

struct ukd_file *ukd_front_file_open(struct ukd_chardev *dev, int flags, int *err)
{
	struct ukd_file *file = calloc(1, sizeof(*file));
	int r = 0;

	if (!file) {
		*err = -ENOMEM;
		return NULL;
	}
	file->dev = dev;
	file->flags = flags;
	if (dev->ops->open)
		r = dev->ops->open(file);
	if (r < 0) {
		free(file);
		*err = r;
		return NULL;
	}
	*err = 0;
	return file;
}

void ukd_front_file_release(struct ukd_file *file)
{
	if (!file)
		return;
	if (file->dev->ops->release)
		file->dev->ops->release(file);
	free(file);
}

int ukd_front_file_ioctl(struct ukd_file *file, unsigned int cmd,
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

unsigned int ukd_front_file_poll(struct ukd_file *file)
{
	if (!file->dev->ops->poll)
		return POLLIN | POLLOUT;
	return file->dev->ops->poll(file);
}
