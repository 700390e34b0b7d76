/* SPDX-License-Identifier: MIT */
/*
 * What a daemon asks of a front end: which one, and where. A header of its
 * own because both the dispatcher (front.h) and the front ends below it
 * read it (lib/README.md).
 */
#pragma once

#include <stdbool.h>

enum ukd_front_kind {
	UKD_FRONT_CUSE,
	UKD_FRONT_FUSE,
	UKD_FRONT_AUTO,   /* CUSE when /dev/cuse can be opened, else FUSE */
};

struct ukd_front_config {
	enum ukd_front_kind kind;
	/* FUSE: the mount point. Ignored by CUSE. */
	const char *mountpoint;
	/* FUSE: create a missing mount point (mode 0755) and remove it again
	 * when the front end is freed; otherwise it must exist. */
	bool make_mountpoint;
	/* FUSE: the filesystem type shown in /proc/mounts as "fuse.<fsname>". */
	const char *fsname;
	/* FUSE: let other users in (-o allow_other); permissions then come from
	 * each node's mode (default_permissions is always on). */
	bool allow_other;
	/* CUSE: major for the nodes, 0 = dynamic (the default); minors count up
	 * from first_minor. */
	unsigned int major;
	unsigned int first_minor;
	/* CUSE: NULL or "" for /dev/NAME; else the nodes are /dev/DIR/NAME
	 * (ukd_chardev_dir_valid(); the kernel names the device DIR!NAME with
	 * '!' for '/', devtmpfs makes the directories), so that two daemons
	 * serving the same node names can run side by side. Ignored by FUSE,
	 * where the mount point keeps them apart. */
	const char *cuse_dir;
};
