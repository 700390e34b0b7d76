/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "chardev.h"

void ukd_chardev_wake(struct ukd_chardev *dev)
{
	if (dev && dev->wake)
		dev->wake(dev);
}

bool ukd_chardev_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > 63 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

bool ukd_chardev_dir_valid(const char *dir)
{
	size_t len, part = 0;

	if (!dir)
		return false;
	len = strnlen(dir, UKD_CHARDEV_DIR_MAX + 1);
	if (len == 0 || len > UKD_CHARDEV_DIR_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (dir[i] == '/' || dir[i] == '\0') {
			/* empty (leading, trailing, "//"), "." or ".." */
			if (part == 0 || (part <= 2 && !strncmp(dir + i - part, "..", part)))
				return false;
			part = 0;
		} else if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@+-",
				  dir[i])) {
			part++;
		} else {
			return false;
		}
	}
	return true;
}

int ukd_chardev_ioctl_check(unsigned int cmd, size_t in_size, size_t out_size)
{
	size_t size = _IOC_SIZE(cmd);
	unsigned int dir = _IOC_DIR(cmd);
	size_t want_in = (dir & _IOC_WRITE) ? size : 0;
	size_t want_out = (dir & _IOC_READ) ? size : 0;

	if (size > UKD_CHARDEV_MAX_IOCTL_ARG)
		return -EINVAL;
	if (in_size != want_in || out_size != want_out)
		return -EINVAL;
	return 0;
}

int ukd_chardev_check_devs(struct ukd_chardev *const *devs, size_t n_devs)
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
