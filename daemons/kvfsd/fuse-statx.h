/* SPDX-License-Identifier: MIT */
/*
 * FUSE_STATX (FUSE protocol 7.39, Linux 6.6+), which libfuse 3.14 does not
 * know: it answers ENOSYS, and after one ENOSYS the kernel sets
 * fc->no_statx and never asks again, so statx(2) callers that want the
 * birth time (STATX_BTIME; coreutils stat's %w) never get it. kvfsd answers
 * the opcode itself from its receive loop (mount.c), before libfuse sees
 * the request.
 *
 * The wire structs are copied from the kernel's include/uapi/linux/fuse.h
 * (protocol 7.39, "add FUSE_STATX and related structures"): Debian 12's
 * <linux/fuse.h> stops at 7.38. They carry a kvfs_ prefix so a newer
 * <linux/fuse.h> cannot clash with them.
 */
#pragma once

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"

#define KVFS_FUSE_STATX 52 /* enum fuse_opcode, 7.39 */

struct kvfs_fuse_sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t __reserved;
};

struct kvfs_fuse_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t __spare0[1];
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t attributes_mask;
	struct kvfs_fuse_sx_time atime;
	struct kvfs_fuse_sx_time btime;
	struct kvfs_fuse_sx_time ctime;
	struct kvfs_fuse_sx_time mtime;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t __spare2[14];
};

struct kvfs_fuse_statx_in {
	uint32_t getattr_flags;
	uint32_t reserved;
	uint64_t fh;
	uint32_t sx_flags;
	uint32_t sx_mask;
};

struct kvfs_fuse_statx_out {
	uint64_t attr_valid;      /* cache timeout for the attributes */
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct kvfs_fuse_statx stat;
};

/**
 * fuse_statx_request() - is @mem (@size bytes, one request as read from
 * /dev/fuse) a FUSE_STATX request? Reads only the header, after checking
 * that it is there. Returns its unique id in @unique when it is.
 */
bool fuse_statx_request(const void *mem, size_t size, uint64_t *unique);

/**
 * fuse_statx_answer() - answer one FUSE_STATX request (fuse_statx_request()
 * said yes) on @fd, the session's /dev/fuse fd: the attributes getattr
 * reports plus the birth time, or EINVAL when the request's sizes are
 * wrong. Called under the file system lock.
 * @sb: the file system; node ids are struct inode pointers, 1 the root.
 * @timeout: seconds the kernel may cache the attributes.
 * Returns 0, or -errno when the reply could not be written (-ENOENT: the
 * request was interrupted and is gone, as for any reply).
 */
int fuse_statx_answer(struct super_block *sb, double timeout, const void *mem, size_t size,
		      int fd);
