/* SPDX-License-Identifier: MIT */
/* The CUSE front end: issue 3 ("Real /dev nodes") implements it here.
 * Until then ukd_front_new() with UKD_FRONT_CUSE reports -EOPNOTSUPP. */
#include <errno.h>

#include "front-internal.h"

static void cuse_front_free(void *impl)
{
}

const struct ukd_front_impl ukd_cuse_front_impl = {
	.free = cuse_front_free,
};

int ukd_cuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event)
{
	return -EOPNOTSUPP;
}
