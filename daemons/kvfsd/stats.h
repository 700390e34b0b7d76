/* SPDX-License-Identifier: MIT */
/*
 * Introspection through extended attributes of the root directory
 * (stats.c): kvfs.stats, kvfs.stats.NAME and kvfs.ctl.drop_caches.
 *
 * It sits on the floor above the VFS objects: it reads the super block,
 * the dentry cache and the image, and drives write-back. xattr.c, below
 * it, keeps only the attributes users store; the FUSE layer asks
 * kvfs_stats_owns() first and sends those names here instead.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fs.h"

/* The kvfs.* names of the root directory: stats.c answers them, and no
 * user attribute of that name can be stored, read or removed. */
bool kvfs_stats_owns(const struct inode *inode, const char *name);

/*
 * kvfs_stats_getxattr() - the value of kvfs.stats or kvfs.stats.NAME, as
 * getxattr(2) returns it (@size 0: the length only). -ENODATA for any
 * other name, -ERANGE when @buf is too small.
 */
ssize_t kvfs_stats_getxattr(struct super_block *sb, const char *name, void *buf, size_t size);

/*
 * kvfs_stats_setxattr() - kvfs.ctl.drop_caches (privileged): "1" evicts
 * unused negative dentries, "2" writes back dirty pages and inodes (with
 * an image, a commit, as fsync), "3" both, like /proc/sys/vm/drop_caches.
 * -EPERM for any other kvfs.* name.
 */
int kvfs_stats_setxattr(struct super_block *sb, const char *name, const void *value,
			size_t size, const struct cred *cred);

/*
 * kvfs_stats_format() - the counters as text.
 * @key: one counter's name, or NULL for all of them as "name value" lines.
 * Returns the length written (no NUL), -ENODATA for an unknown @key,
 * -ERANGE if @size is too small.
 */
ssize_t kvfs_stats_format(struct super_block *sb, const char *key, char *buf, size_t size);
