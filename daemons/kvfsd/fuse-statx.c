/* SPDX-License-Identifier: MIT */
/*
 * FUSE_STATX, answered outside libfuse (see fuse-statx.h for why). The
 * attributes are getattr's (inode_operations.getattr, the same struct stat
 * every GETATTR and entry reply carries), converted to struct fuse_statx,
 * plus the inode's birth time.
 */
#include "fuse-statx.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dcache.h"

_Static_assert(sizeof(struct kvfs_fuse_statx) == 256, "struct fuse_statx is 256 bytes (7.39)");
_Static_assert(sizeof(struct kvfs_fuse_statx_in) == 24, "struct fuse_statx_in is 24 bytes");
_Static_assert(sizeof(struct kvfs_fuse_statx_out) == 288, "struct fuse_statx_out is 288 bytes");

/* statx(2)'s mask bits (include/uapi/linux/stat.h), spelled out so this
 * does not depend on the C library's <sys/stat.h> having them. */
#define KVFS_STATX_BASIC_STATS 0x07ffu
#define KVFS_STATX_BTIME 0x0800u

bool fuse_statx_request(const void *mem, size_t size, uint64_t *unique)
{
	struct fuse_in_header in;

	if (!mem || size < sizeof(in))
		return false;
	memcpy(&in, mem, sizeof(in));
	if (in.opcode != KVFS_FUSE_STATX)
		return false;
	*unique = in.unique;
	return true;
}

static struct kvfs_fuse_sx_time sx_time(const struct timespec *ts)
{
	return (struct kvfs_fuse_sx_time){ .tv_sec = ts->tv_sec, .tv_nsec = (uint32_t)ts->tv_nsec };
}

/* As libfuse's calc_timeout_sec()/calc_timeout_nsec() for the other replies. */
static void timeout_split(double t, uint64_t *sec, uint32_t *nsec)
{
	double ns;

	if (!(t > 0)) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	if (t >= (double)UINT64_MAX) {
		*sec = UINT64_MAX;
		*nsec = 0;
		return;
	}
	*sec = (uint64_t)t;
	ns = (t - (double)*sec) * 1.0e9;
	*nsec = ns < 0 ? 0 : ns >= 999999999.0 ? 999999999u : (uint32_t)ns;
}

/** stat_to_statx() - getattr's answer as struct fuse_statx, with @btime. */
static void stat_to_statx(const struct stat *st, const struct timespec *btime,
			  struct kvfs_fuse_statx *sx)
{
	memset(sx, 0, sizeof(*sx));
	sx->mask = KVFS_STATX_BASIC_STATS | KVFS_STATX_BTIME;
	sx->blksize = (uint32_t)st->st_blksize;
	sx->nlink = (uint32_t)st->st_nlink;
	sx->uid = st->st_uid;
	sx->gid = st->st_gid;
	sx->mode = (uint16_t)st->st_mode;
	sx->ino = st->st_ino;
	sx->size = (uint64_t)st->st_size;
	sx->blocks = (uint64_t)st->st_blocks;
	sx->atime = sx_time(&st->st_atim);
	sx->btime = sx_time(btime);
	sx->ctime = sx_time(&st->st_ctim);
	sx->mtime = sx_time(&st->st_mtim);
	sx->rdev_major = major(st->st_rdev);
	sx->rdev_minor = minor(st->st_rdev);
}

static int send_reply(int fd, uint64_t unique, int error, const void *body, size_t len)
{
	struct fuse_out_header out = {
		.len = (uint32_t)(sizeof(out) + len),
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ .iov_base = &out, .iov_len = sizeof(out) },
		{ .iov_base = (void *)body, .iov_len = len },
	};
	ssize_t n = writev(fd, iov, len ? 2 : 1);

	if (n < 0)
		return -errno;
	return (size_t)n == out.len ? 0 : -EIO;
}

int fuse_statx_answer(struct super_block *sb, double timeout, const void *mem, size_t size,
		      int fd)
{
	struct kvfs_fuse_statx_out out = { 0 };
	struct fuse_in_header in;
	struct inode *inode;
	struct stat st;

	if (size < sizeof(in))
		return -EINVAL; /* not a request: fuse_statx_request() said no */
	memcpy(&in, mem, sizeof(in));
	/* The kernel sends exactly the header and struct fuse_statx_in; a
	 * later protocol may append fields, which we may ignore. */
	if (in.len != size || size < sizeof(in) + sizeof(struct kvfs_fuse_statx_in) ||
	    in.nodeid == 0)
		return send_reply(fd, in.unique, -EINVAL, NULL, 0);
	inode = in.nodeid == FUSE_ROOT_ID ? sb->s_root->d_inode
					  : (struct inode *)(uintptr_t)in.nodeid;
	inode->i_op->getattr(inode, &st);
	timeout_split(timeout, &out.attr_valid, &out.attr_valid_nsec);
	stat_to_statx(&st, &inode->i_btime, &out.stat);
	return send_reply(fd, in.unique, 0, &out, sizeof(out));
}
