/* SPDX-License-Identifier: MIT */
/*
 * struct inode (fs/inode.c): allocation with the caller's ownership,
 * reference counts, timestamps, and kvfsd's inode_operations, which (as in
 * ramfs/tmpfs, fs/libfs.c) work directly on the dentry cache because the
 * cache holds the whole directory tree.
 *
 * Permission checks are the kernel's: kvfsd always mounts with
 * default_permissions, so by the time a request arrives the kernel has
 * checked modes, ownership, the sticky bit and who may chown. What the
 * kernel leaves to a FUSE file system is done here: ownership of new
 * inodes, setgid directories, link counts, timestamps.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "fs.h"

void kvfs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

bool in_group(const struct cred *cred, gid_t gid)
{
	if (cred->fsgid == gid)
		return true;
	for (int i = 0; cred->groups && i < cred->ngroups; i++)
		if (cred->groups[i] == gid)
			return true;
	return false;
}

/** inode_io_list_add() - @inode changed: sync_fs must visit it (idempotent). */
void inode_io_list_add(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;

	if (inode->i_state & I_IO_LIST)
		return;
	inode->i_state |= I_IO_LIST;
	inode->i_io_prev = NULL;
	inode->i_io_next = sb->s_io;
	if (sb->s_io)
		sb->s_io->i_io_prev = inode;
	sb->s_io = inode;
}

void inode_io_list_del(struct inode *inode)
{
	if (!(inode->i_state & I_IO_LIST))
		return;
	if (inode->i_io_prev)
		inode->i_io_prev->i_io_next = inode->i_io_next;
	else
		inode->i_sb->s_io = inode->i_io_next;
	if (inode->i_io_next)
		inode->i_io_next->i_io_prev = inode->i_io_prev;
	inode->i_io_prev = inode->i_io_next = NULL;
	inode->i_state &= ~I_IO_LIST;
}

/** inode_dirents_changed() - a name in @dir came or went (dentry.c). */
void inode_dirents_changed(struct inode *dir)
{
	if (!dir->i_sb->s_image)
		return;
	dir->i_state |= I_IMAGE_DIRENTS;
	inode_io_list_add(dir);
}

void inode_mark_dirty(struct inode *inode)
{
	inode->i_sb->s_changed = true;
	if (inode->i_sb->s_image)
		inode->i_state |= I_IMAGE_DIRTY;
	inode_io_list_add(inode);
	if (!(inode->i_state & I_DIRTY)) {
		inode->i_state |= I_DIRTY;
		inode->i_sb->s_dirty_inodes++;
	}
}

/** inode_touch() - set mtime and/or ctime to now (a change). */
void inode_touch(struct inode *inode, bool mtime, bool ctime)
{
	struct timespec now;

	kvfs_now(&now);
	if (mtime)
		inode->i_mtime = now;
	if (ctime)
		inode->i_ctime = now;
	inode_mark_dirty(inode);
}

static bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/**
 * inode_accessed() - a read: update atime by the relatime rule (the Linux
 * default): only when atime is not newer than mtime or ctime, or is a day
 * old.
 */
void inode_accessed(struct inode *inode)
{
	struct timespec now;

	kvfs_now(&now);
	if (ts_le(&inode->i_atime, &inode->i_mtime) || ts_le(&inode->i_atime, &inode->i_ctime) ||
	    now.tv_sec - inode->i_atime.tv_sec >= 24 * 3600) {
		inode->i_atime = now;
		inode_mark_dirty(inode);
	}
}

/**
 * inode_new() - allocate an inode for a new name (inode_init_owner()).
 * @dir: the parent; NULL for the root.
 * @cred: the creator: owner uid, and gid unless @dir is setgid.
 * @ret: the inode with one reference, on success.
 * Returns 0, -ENOSPC when the inode limit is reached, or -ENOMEM.
 */
int inode_new(struct super_block *sb, mode_t mode, const struct inode *dir,
	      const struct cred *cred, struct inode **ret)
{
	struct inode *inode;

	if (sb->s_inodes_live >= sb->s_inodes_max)
		return -ENOSPC;
	inode = sb->s_op->alloc_inode(sb);
	if (!inode)
		return -ENOMEM;
	inode->i_sb = sb;
	inode->i_ino = sb->s_next_ino++;
	inode->i_uid = cred->fsuid;
	if (dir && (dir->i_mode & S_ISGID)) {
		/* A setgid directory hands its group down, and its setgid bit
		 * to subdirectories. */
		inode->i_gid = dir->i_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
		else if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
			 !in_group(cred, inode->i_gid) && !cred->capable)
			mode &= ~S_ISGID;
	} else {
		inode->i_gid = cred->fsgid;
	}
	inode->i_mode = mode;
	inode->i_nlink = S_ISDIR(mode) ? 2 : 1;
	kvfs_now(&inode->i_atime);
	inode->i_mtime = inode->i_ctime = inode->i_btime = inode->i_atime;
	inode->i_count = 1;
	mapping_init(&inode->i_data, inode);
	switch (mode & S_IFMT) {
	case S_IFDIR:
		inode->i_op = &kvfs_dir_inode_operations;
		inode->i_fop = &kvfs_dir_operations;
		break;
	case S_IFREG:
		inode->i_op = &kvfs_file_inode_operations;
		inode->i_fop = &kvfs_file_operations;
		break;
	case S_IFLNK:
		inode->i_op = &kvfs_symlink_inode_operations;
		break;
	default:
		inode->i_op = &kvfs_special_inode_operations;
		break;
	}
	inode->i_sb_next = sb->s_inodes;
	if (sb->s_inodes)
		sb->s_inodes->i_sb_prev = inode;
	sb->s_inodes = inode;
	sb->s_inodes_live++;
	inode_mark_dirty(inode);
	*ret = inode;
	return 0;
}

struct inode *igrab(struct inode *inode)
{
	inode->i_count++;
	return inode;
}

/** inode_maybe_evict() - destroy the inode once nobody holds it. */
void inode_maybe_evict(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;

	if (inode->i_count || inode->i_nlookup)
		return;
	if (inode->i_sb_prev)
		inode->i_sb_prev->i_sb_next = inode->i_sb_next;
	else
		sb->s_inodes = inode->i_sb_next;
	if (inode->i_sb_next)
		inode->i_sb_next->i_sb_prev = inode->i_sb_prev;
	inode_io_list_del(inode);
	if (inode->i_state & I_DIRTY)
		sb->s_dirty_inodes--;
	sb->s_inodes_live--;
	sb->s_op->destroy_inode(inode);
}

void iput(struct inode *inode)
{
	if (!inode)
		return;
	inode->i_count--;
	/*
	 * No name and no open file: the data can never be reached again,
	 * even though the kernel still holds the inode until its FORGET
	 * arrives (asynchronously). Free the pages now, as tmpfs does at
	 * the last unlink, so statfs is right at once.
	 */
	if (!inode->i_count && !inode->i_nlink && inode->i_data.nrpages)
		mapping_release(&inode->i_data);
	inode_maybe_evict(inode);
}

/** inode_lookup_ref() - the kernel got a reference (an entry reply). */
void inode_lookup_ref(struct inode *inode)
{
	inode->i_nlookup++;
}

/** inode_forget() - the kernel dropped @nlookup references (FUSE forget). */
void inode_forget(struct inode *inode, uint64_t nlookup)
{
	inode->i_nlookup -= nlookup < inode->i_nlookup ? nlookup : inode->i_nlookup;
	inode_maybe_evict(inode);
}

/**
 * inode_change_size() - truncate or extend a regular file. Extending makes
 * a hole; shrinking frees the pages past the end and zeroes the tail of
 * the last one, so a later extension reads zeros there.
 * Returns 0, -EFBIG beyond s_maxbytes.
 */
int inode_change_size(struct inode *inode, uint64_t size)
{
	int r;

	if (size > inode->i_sb->s_maxbytes)
		return -EFBIG;
	if (size < inode->i_size) {
		r = mapping_truncate(&inode->i_data, size, UINT64_MAX);
		/* Pages may be gone even on failure: the image must see it. */
		inode_mark_dirty(inode);
		if (r < 0)
			return r;
	}
	inode->i_size = size;
	return 0;
}

/* ---- directory operations --------------------------------------------- */

/* In memory every existing name has a positive dentry, so a name the
 * cache did not know does not exist (simple_lookup()). */
static int kvfs_lookup(struct inode *dir, struct dentry *dentry)
{
	return 0;
}

static int kvfs_mknod(struct inode *dir, struct dentry *dentry, mode_t mode, dev_t rdev,
		      const struct cred *cred)
{
	struct inode *inode;
	int r;

	if (S_ISDIR(mode) && dir->i_nlink >= KVFS_LINK_MAX)
		return -EMLINK;
	r = inode_new(dir->i_sb, mode, dir, cred, &inode);
	if (r < 0)
		return r;
	if (S_ISCHR(mode) || S_ISBLK(mode))
		inode->i_rdev = rdev;
	d_instantiate(dentry, inode);
	if (S_ISDIR(mode)) {
		dir->i_nlink++;
		dir->i_subdirs++;
	}
	dir->i_entries++;
	inode_touch(dir, true, true);
	return 0;
}

static int kvfs_create(struct inode *dir, struct dentry *dentry, mode_t mode,
		       const struct cred *cred)
{
	return kvfs_mknod(dir, dentry, (mode & 07777) | S_IFREG, 0, cred);
}

static int kvfs_mkdir(struct inode *dir, struct dentry *dentry, mode_t mode,
		      const struct cred *cred)
{
	return kvfs_mknod(dir, dentry, (mode & 07777) | S_IFDIR, 0, cred);
}

static int kvfs_symlink(struct inode *dir, struct dentry *dentry, const char *target,
			const struct cred *cred)
{
	size_t len = strlen(target);
	struct inode *inode;
	char *link;
	int r;

	if (len > KVFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	link = strdup(target);
	if (!link)
		return -ENOMEM;
	r = inode_new(dir->i_sb, S_IFLNK | 0777, dir, cred, &inode);
	if (r < 0) {
		free(link);
		return r;
	}
	inode->i_link = link;
	inode->i_size = len;
	d_instantiate(dentry, inode);
	dir->i_entries++;
	inode_touch(dir, true, true);
	return 0;
}

static int kvfs_link(struct inode *inode, struct inode *dir, struct dentry *dentry)
{
	if (inode->i_nlink >= KVFS_LINK_MAX)
		return -EMLINK;
	/* Unlinked (but still open): no way back into the tree. */
	if (inode->i_nlink == 0)
		return -ENOENT;
	inode->i_nlink++;
	inode_touch(inode, false, true);
	d_instantiate(dentry, igrab(inode));
	dir->i_entries++;
	inode_touch(dir, true, true);
	return 0;
}

static int kvfs_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = dentry->d_inode;

	inode->i_nlink--;
	inode_touch(inode, false, true);
	dir->i_entries--;
	inode_touch(dir, true, true);
	d_delete(dentry);
	return 0;
}

static int kvfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = dentry->d_inode;

	if (inode->i_entries)
		return -ENOTEMPTY;
	d_prune_children(dentry);
	inode->i_nlink = 0;
	inode_touch(inode, false, true);
	dir->i_nlink--;
	dir->i_subdirs--;
	dir->i_entries--;
	inode_touch(dir, true, true);
	d_delete(dentry);
	return 0;
}

/* A directory changes parent: move its ".." link. */
static void move_subdir(struct inode *from, struct inode *to)
{
	from->i_nlink--;
	from->i_subdirs--;
	to->i_nlink++;
	to->i_subdirs++;
}

static int kvfs_rename(struct inode *old_dir, struct dentry *old, struct inode *new_dir,
		       struct dentry *new, unsigned flags)
{
	struct inode *inode = old->d_inode;

	if (flags & RENAME_EXCHANGE) {
		struct inode *other = new->d_inode;

		if (old_dir != new_dir && S_ISDIR(inode->i_mode) != S_ISDIR(other->i_mode)) {
			if (S_ISDIR(inode->i_mode))
				move_subdir(old_dir, new_dir);
			else
				move_subdir(new_dir, old_dir);
		}
		d_exchange(old, new);
		inode_touch(other, false, true);
	} else {
		if (new->d_inode) {
			struct inode *victim = new->d_inode;

			if (S_ISDIR(victim->i_mode)) {
				d_prune_children(new);
				victim->i_nlink = 0;
				new_dir->i_nlink--;
				new_dir->i_subdirs--;
			} else {
				victim->i_nlink--;
			}
			inode_touch(victim, false, true);
			new_dir->i_entries--;
			d_delete(new);
		}
		if (old_dir != new_dir && S_ISDIR(inode->i_mode))
			move_subdir(old_dir, new_dir);
		old_dir->i_entries--;
		new_dir->i_entries++;
		d_move(old, new);
	}
	inode_touch(inode, false, true);
	inode_touch(old_dir, true, true);
	if (new_dir != old_dir)
		inode_touch(new_dir, true, true);
	return 0;
}

/* ---- attributes ------------------------------------------------------- */

static int kvfs_setattr(struct inode *inode, const struct iattr *attr, const struct cred *cred)
{
	unsigned v = attr->ia_valid;
	struct timespec now;
	int r;

	kvfs_now(&now);
	if (v & ATTR_SIZE) {
		if (S_ISDIR(inode->i_mode))
			return -EISDIR;
		if (!S_ISREG(inode->i_mode))
			return -EINVAL;
		if (attr->ia_size != inode->i_size) {
			r = inode_change_size(inode, attr->ia_size);
			if (r < 0)
				return r;
		}
		/* POSIX asks for new mtime and ctime when the size changes;
		 * Linux (do_truncate()) and tmpfs set them on every truncate,
		 * to the same size too, and so does kvfsd (the differential
		 * exerciser compares this with tmpfs). */
		inode->i_mtime = now;
	}
	if (v & ATTR_UID)
		inode->i_uid = attr->ia_uid;
	if (v & ATTR_GID)
		inode->i_gid = attr->ia_gid;
	if (v & ATTR_MODE) {
		mode_t mode = attr->ia_mode & 07777;

		/* chmod(2): setting S_ISGID on a file of a group the caller is
		 * not in silently drops it (the kernel's setattr_copy()). */
		if ((mode & S_ISGID) && !cred->capable && !in_group(cred, inode->i_gid))
			mode &= ~S_ISGID;
		inode->i_mode = (inode->i_mode & S_IFMT) | mode;
	}
	if (v & ATTR_ATIME)
		inode->i_atime = (v & ATTR_ATIME_NOW) ? now : attr->ia_atime;
	if (v & ATTR_MTIME)
		inode->i_mtime = (v & ATTR_MTIME_NOW) ? now : attr->ia_mtime;
	inode->i_ctime = (v & ATTR_CTIME) ? attr->ia_ctime : now;
	inode_mark_dirty(inode);
	return 0;
}

static int kvfs_getattr(const struct inode *inode, struct stat *st)
{
	uint64_t pages = S_ISREG(inode->i_mode) ? inode->i_data.nrpages : 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = inode->i_ino;
	st->st_mode = inode->i_mode;
	st->st_nlink = inode->i_nlink;
	st->st_uid = inode->i_uid;
	st->st_gid = inode->i_gid;
	st->st_rdev = inode->i_rdev;
	st->st_size = S_ISDIR(inode->i_mode) ? (off_t)KVFS_PAGE_SIZE : (off_t)inode->i_size;
	st->st_blksize = KVFS_PAGE_SIZE;
	st->st_blocks = (blkcnt_t)(pages << (KVFS_PAGE_SHIFT - 9));
	st->st_atim = inode->i_atime;
	st->st_mtim = inode->i_mtime;
	st->st_ctim = inode->i_ctime;
	return 0;
}

static int kvfs_readlink(struct inode *inode, const char **target)
{
	*target = inode->i_link;
	return 0;
}

const struct inode_operations kvfs_dir_inode_operations = {
	.lookup = kvfs_lookup,
	.create = kvfs_create,
	.link = kvfs_link,
	.unlink = kvfs_unlink,
	.symlink = kvfs_symlink,
	.mkdir = kvfs_mkdir,
	.rmdir = kvfs_rmdir,
	.mknod = kvfs_mknod,
	.rename = kvfs_rename,
	.setattr = kvfs_setattr,
	.getattr = kvfs_getattr,
	.setxattr = kvfs_setxattr,
	.getxattr = kvfs_getxattr,
	.listxattr = kvfs_listxattr,
	.removexattr = kvfs_removexattr,
};

const struct inode_operations kvfs_file_inode_operations = {
	.setattr = kvfs_setattr,
	.getattr = kvfs_getattr,
	.setxattr = kvfs_setxattr,
	.getxattr = kvfs_getxattr,
	.listxattr = kvfs_listxattr,
	.removexattr = kvfs_removexattr,
};

const struct inode_operations kvfs_symlink_inode_operations = {
	.setattr = kvfs_setattr,
	.getattr = kvfs_getattr,
	.readlink = kvfs_readlink,
	.setxattr = kvfs_setxattr,
	.getxattr = kvfs_getxattr,
	.listxattr = kvfs_listxattr,
	.removexattr = kvfs_removexattr,
};

const struct inode_operations kvfs_special_inode_operations = {
	.setattr = kvfs_setattr,
	.getattr = kvfs_getattr,
	.setxattr = kvfs_setxattr,
	.getxattr = kvfs_getxattr,
	.listxattr = kvfs_listxattr,
	.removexattr = kvfs_removexattr,
};
