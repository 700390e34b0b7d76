/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "macro.h"
#include "mountpoint.h"

int ukd_mountpoint_check(const char *path)
{
	struct stat st, parent;
	_cleanup_free_ char *up = NULL;

	if (stat(path, &st) < 0)
		return errno == ENOTCONN ? -ENOTCONN : ukd_negerrno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (asprintf(&up, "%s/..", path) < 0)
		return -ENOMEM;
	if (stat(up, &parent) < 0)
		return ukd_negerrno();
	/* A different device than the parent's: something is mounted there. */
	if (st.st_dev != parent.st_dev)
		return -EBUSY;
	return 0;
}
