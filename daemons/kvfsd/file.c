/* SPDX-License-Identifier: MIT */
/*
 * struct file (fs/file_table.c, fs/read_write.c, fs/readdir.c) and the
 * file_operations of regular files and directories.
 *
 * Offsets arrive from the kernel as signed 64-bit values and sizes as
 * size_t; every pos + len is checked against s_maxbytes here before it
 * reaches the address space.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "dcache.h"
#include "fs.h"

/**
 * file_open() - a new open file on @inode, holding a reference to it.
 * @ret: the file, on success.
 * Returns 0, or -errno when the file_operations' open refuses.
 */
int file_open(struct inode *inode, unsigned flags, struct file **ret)
{
	struct super_block *sb = inode->i_sb;
	struct file *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->f_inode = igrab(inode);
	f->f_op = inode->i_fop;
	f->f_flags = flags;
	if (!f->f_op) {
		/* Symlinks and device nodes are never opened through kvfsd. */
		iput(inode);
		free(f);
		return -ENXIO;
	}
	if (f->f_op->open) {
		r = f->f_op->open(inode, f);
		if (r < 0) {
			iput(inode);
			free(f);
			return r;
		}
	}
	f->f_sb_next = sb->s_files;
	if (sb->s_files)
		sb->s_files->f_sb_prev = f;
	sb->s_files = f;
	sb->s_files_open++;
	*ret = f;
	return 0;
}

/** file_release() - the last close: drop the file and its inode reference. */
void file_release(struct file *f)
{
	struct super_block *sb;

	if (!f)
		return;
	sb = f->f_inode->i_sb;
	if (f->f_op->release)
		f->f_op->release(f->f_inode, f);
	if (f->f_sb_prev)
		f->f_sb_prev->f_sb_next = f->f_sb_next;
	else
		sb->s_files = f->f_sb_next;
	if (f->f_sb_next)
		f->f_sb_next->f_sb_prev = f->f_sb_prev;
	sb->s_files_open--;
	dput(f->f_cursor);
	iput(f->f_inode);
	free(f);
}

/* ---- regular files ------------------------------------------------------ */

static int kvfs_file_open(struct inode *inode, struct file *f)
{
	int r;

	/*
	 * O_TRUNC arrives here (FUSE_CAP_ATOMIC_O_TRUNC). Linux truncates a
	 * regular file opened with O_TRUNC whatever the access mode, O_RDONLY
	 * included (the kernel has checked write permission and already set
	 * its cached size to 0); POSIX marks mtime and ctime for update even
	 * when the file was already empty.
	 */
	if (f->f_flags & O_TRUNC) {
		r = inode_change_size(inode, 0);
		if (r < 0)
			return r;
		inode_touch(inode, true, true);
	}
	return 0;
}

static ssize_t kvfs_file_read(struct file *f, uint64_t pos, size_t len, struct iov_iter *to)
{
	struct inode *inode = f->f_inode;
	ssize_t n;

	if (pos >= inode->i_size || len == 0)
		return 0;
	if (len > inode->i_size - pos)
		len = (size_t)(inode->i_size - pos);
	n = mapping_read(&inode->i_data, pos, len, to);
	inode_accessed(inode);
	return n;
}

static ssize_t kvfs_file_write_begin(struct file *f, uint64_t pos, size_t len,
				     struct iov_iter *to)
{
	struct inode *inode = f->f_inode;
	uint64_t max = inode->i_sb->s_maxbytes;
	size_t reserved = 0;
	int r;

	/*
	 * No O_APPEND handling here: the kernel has already put an appending
	 * write at the end (generic_write_checks()), in page-cache and
	 * direct_io mode alike. And write-back of pages dirtied through
	 * mmap(2) arrives on any writable handle of the inode, an O_APPEND
	 * one included, at the page's own offset: moving it to the end
	 * would corrupt the file (found by the exerciser).
	 */
	if (len == 0)
		return 0;
	/* A write that would cross the size limit is cut short at it. */
	if (pos >= max)
		return -EFBIG;
	if (len > max - pos)
		len = (size_t)(max - pos);
	r = mapping_write_begin(&inode->i_data, pos, len, to, &reserved);
	if (reserved == 0)
		return r;
	if (pos + reserved > inode->i_size)
		inode->i_size = pos + reserved;
	inode_touch(inode, true, true);
	return (ssize_t)reserved;
}

static ssize_t kvfs_file_write(struct file *f, uint64_t pos, const void *buf, size_t len)
{
	struct iovec iov[64];
	size_t done = 0;

	while (done < len) {
		struct iov_iter to = { .iov = iov, .max = 64 };
		ssize_t n = kvfs_file_write_begin(f, pos + done, len - done, &to);

		if (n <= 0)
			return done ? (ssize_t)done : n;
		page_fill(&f->f_inode->i_sb->s_page_alloc, &to, (const unsigned char *)buf + done,
			  (size_t)n);
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int64_t kvfs_file_llseek(struct file *f, int64_t off, int whence)
{
	struct inode *inode = f->f_inode;

	switch (whence) {
	case SEEK_SET:
		return off < 0 ? -EINVAL : off;
	case SEEK_END:
		if (off > 0 && (uint64_t)off > INT64_MAX - inode->i_size)
			return -EOVERFLOW;
		if (off < 0 && (uint64_t)-off > inode->i_size)
			return -EINVAL;
		return (int64_t)inode->i_size + off;
	case SEEK_DATA:
	case SEEK_HOLE:
		if (off < 0)
			return -ENXIO;
		return mapping_seek(&inode->i_data, (uint64_t)off, inode->i_size, whence);
	default:
		return -EINVAL;
	}
}

static int kvfs_fsync(struct file *f, bool datasync)
{
	struct inode *inode = f->f_inode;
	int r;

	/* With an image only a commit is durable; it covers the whole tree
	 * (the names leading to this file included). The root directory
	 * stands for the whole file system in memory too (kvfsctl sync). */
	if (inode->i_sb->s_image || inode == inode->i_sb->s_root->d_inode)
		return sync_filesystem(inode->i_sb);
	r = mapping_writeback(&inode->i_data);
	if (r < 0)
		return r;
	return inode->i_sb->s_op->write_inode(inode, true);
}

static int kvfs_fallocate(struct file *f, int mode, uint64_t off, uint64_t len)
{
	struct inode *inode = f->f_inode;
	uint64_t end;
	int r;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && (mode & FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (len == 0 || off > INT64_MAX || len > INT64_MAX)
		return -EINVAL;
	if (len > INT64_MAX - off)
		return -EFBIG;
	end = off + len;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		if (off < inode->i_size)
			mapping_truncate(&inode->i_data, off, end < inode->i_size ? end : inode->i_size);
		inode_touch(inode, true, true);
		return 0;
	}
	if (end > inode->i_sb->s_maxbytes)
		return -EFBIG;
	if (mode & FALLOC_FL_ZERO_RANGE) {
		mapping_truncate(&inode->i_data, off, end);
		inode_mark_dirty(inode); /* pages went, even if the allocation fails */
	}
	r = mapping_allocate(&inode->i_data, off, end);
	if (r < 0) {
		inode_mark_dirty(inode); /* pages may have come before the failure */
		return r;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > inode->i_size) {
		inode->i_size = end;
		inode_touch(inode, true, true);
	} else {
		inode_touch(inode, (mode & FALLOC_FL_ZERO_RANGE) != 0, true);
	}
	return 0;
}

const struct file_operations kvfs_file_operations = {
	.open = kvfs_file_open,
	.read = kvfs_file_read,
	.write = kvfs_file_write,
	.write_begin = kvfs_file_write_begin,
	.llseek = kvfs_file_llseek,
	.fsync = kvfs_fsync,
	.fallocate = kvfs_fallocate,
};

/* ---- directories -------------------------------------------------------- */

static void file_set_cursor(struct file *f, struct dentry *d)
{
	if (f->f_cursor == d)
		return;
	dput(f->f_cursor);
	f->f_cursor = d ? dget(d) : NULL;
	f->f_cursor_pos = d ? d->d_off : 0;
}

/*
 * readdir (iterate_shared): ".", "..", then the positive children in d_off
 * order. ctx->pos is the position after the last entry the caller got; the
 * cursor makes the common "continue where I stopped" O(1).
 */
static int kvfs_readdir(struct file *f, struct dir_context *ctx)
{
	struct inode *dir = f->f_inode;
	struct dentry *dd = dir->i_dentry, *d;

	if (ctx->pos == 0) {
		if (!ctx->actor(ctx, ".", 1, 1, dir->i_ino, S_IFDIR))
			return 0;
		ctx->pos = 1;
	}
	if (ctx->pos == 1) {
		const struct inode *parent = dd && dd->d_parent ? dd->d_parent->d_inode : dir;

		if (!ctx->actor(ctx, "..", 2, 2, parent->i_ino, S_IFDIR))
			return 0;
		ctx->pos = 2;
	}
	if (!dd)
		return 0; /* removed while open: empty */
	if (f->f_cursor && f->f_cursor_pos == ctx->pos && f->f_cursor->d_parent == dd &&
	    (f->f_cursor->d_flags & DCACHE_PINNED) && f->f_cursor->d_off == ctx->pos)
		d = d_next_positive(f->f_cursor);
	else
		d = d_first_positive_after(dd, ctx->pos);
	for (; d; d = d_next_positive(d)) {
		struct inode *inode = d->d_inode;

		if (!ctx->actor(ctx, d->d_name, d->d_len, d->d_off, inode->i_ino,
				inode->i_mode & S_IFMT))
			break;
		ctx->pos = d->d_off;
		file_set_cursor(f, d);
	}
	inode_accessed(dir);
	return 0;
}

const struct file_operations kvfs_dir_operations = {
	.iterate = kvfs_readdir,
	.fsync = kvfs_fsync,
};
