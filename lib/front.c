/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"
#include "front-internal.h"
#include "macro.h"

/* The dispatcher's handle: which front end, and its own state. */
struct ukd_front {
	const struct ukd_front_impl *impl;
	void *impl_data;
};

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

int ukd_front_new(struct ukd_front **ret, const struct ukd_front_config *cfg,
		  struct ukd_chardev *const *devs, size_t n_devs, sd_event *event)
{
	struct ukd_front *front;
	int r;

	if (!ret || !cfg || !event)
		return -EINVAL;
	r = ukd_chardev_check_devs(devs, n_devs);
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
