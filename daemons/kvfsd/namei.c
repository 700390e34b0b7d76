/* SPDX-License-Identifier: MIT */
/*
 * Name operations (fs/namei.c): resolve (directory inode, name) to a
 * dentry through the dcache, check what the kernel leaves to a FUSE file
 * system (NAME_MAX, existence, type, emptiness, rename cycles) and call the
 * directory's inode_operations. fuse-ops.c calls only these.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dcache.h"
#include "fs.h"

static inline void dputp(struct dentry **d)
{
	dput(*d);
}
#define _cleanup_dput_ __attribute__((cleanup(dputp)))

/* The dentry of a directory inode; -ENOENT once the directory was removed. */
static int dir_dentry(struct inode *dir, struct dentry **d)
{
	if (!S_ISDIR(dir->i_mode))
		return -ENOTDIR;
	if (!dir->i_dentry)
		return -ENOENT;
	*d = dir->i_dentry;
	return 0;
}

/* The kernel does not enforce NAME_MAX for FUSE (pjdfstest: the 02.t tests). */
static int check_name(const char *name, size_t *len)
{
	size_t n = strnlen(name, KVFS_NAME_MAX + 1);

	if (n > KVFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	*len = n;
	return 0;
}

/**
 * vfs_lookup() - the dentry for @name in @dir, positive or negative.
 * @result: a referenced dentry (dput() it).
 */
int vfs_lookup(struct inode *dir, const char *name, struct dentry **result)
{
	struct dentry *parent, *d;
	size_t len;
	int r;

	r = dir_dentry(dir, &parent);
	if (r < 0)
		return r;
	r = check_name(name, &len);
	if (r < 0)
		return r;
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		d = !strcmp(name, "..") && parent->d_parent ? parent->d_parent : parent;
		*result = dget(d);
		return 0;
	}
	d = d_lookup(parent, name, len);
	if (!d) {
		d = d_alloc(parent, name, len);
		if (!d)
			return -ENOMEM;
		r = dir->i_op->lookup(dir, d);
		if (r < 0) {
			dput(d);
			return r;
		}
	}
	*result = d;
	return 0;
}

/* Look up a name that is about to be created: -EEXIST if it exists. */
static int lookup_create(struct inode *dir, const char *name, struct dentry **result)
{
	struct dentry *d;
	int r;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	r = vfs_lookup(dir, name, &d);
	if (r < 0)
		return r;
	if (d->d_inode) {
		dput(d);
		return -EEXIST;
	}
	*result = d;
	return 0;
}

/**
 * vfs_create() - create a regular file, device, FIFO or socket (by the
 * type bits of @mode).
 * @result: the new inode; the dentry holds it, the caller takes no reference.
 */
int vfs_create(struct inode *dir, const char *name, mode_t mode, dev_t rdev,
	       const struct cred *cred, struct inode **result)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	case 0:
		mode |= S_IFREG;
		break;
	default:
		return -EINVAL;
	}
	r = lookup_create(dir, name, &d);
	if (r < 0)
		return r;
	r = S_ISREG(mode) ? dir->i_op->create(dir, d, mode, cred)
			  : dir->i_op->mknod(dir, d, mode, rdev, cred);
	if (r < 0)
		return r;
	*result = d->d_inode;
	return 0;
}

int vfs_mkdir(struct inode *dir, const char *name, mode_t mode, const struct cred *cred,
	      struct inode **result)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	r = lookup_create(dir, name, &d);
	if (r < 0)
		return r;
	r = dir->i_op->mkdir(dir, d, mode, cred);
	if (r < 0)
		return r;
	*result = d->d_inode;
	return 0;
}

int vfs_symlink(struct inode *dir, const char *name, const char *target,
		const struct cred *cred, struct inode **result)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	if (!target[0])
		return -ENOENT;
	r = lookup_create(dir, name, &d);
	if (r < 0)
		return r;
	r = dir->i_op->symlink(dir, d, target, cred);
	if (r < 0)
		return r;
	*result = d->d_inode;
	return 0;
}

int vfs_link(struct inode *inode, struct inode *dir, const char *name)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	if (S_ISDIR(inode->i_mode))
		return -EPERM;
	r = lookup_create(dir, name, &d);
	if (r < 0)
		return r;
	return dir->i_op->link(inode, dir, d);
}

int vfs_unlink(struct inode *dir, const char *name)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	r = vfs_lookup(dir, name, &d);
	if (r < 0)
		return r;
	if (!d->d_inode)
		return -ENOENT;
	if (d == dir->i_dentry || d == dir->i_dentry->d_parent)
		return -EISDIR;
	if (S_ISDIR(d->d_inode->i_mode))
		return -EISDIR;
	return dir->i_op->unlink(dir, d);
}

int vfs_rmdir(struct inode *dir, const char *name)
{
	_cleanup_dput_ struct dentry *d = NULL;
	int r;

	if (!strcmp(name, "."))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return -ENOTEMPTY;
	r = vfs_lookup(dir, name, &d);
	if (r < 0)
		return r;
	if (!d->d_inode)
		return -ENOENT;
	if (!S_ISDIR(d->d_inode->i_mode))
		return -ENOTDIR;
	return dir->i_op->rmdir(dir, d);
}

/**
 * vfs_rename() - rename(2)/renameat2(2) with RENAME_NOREPLACE or
 * RENAME_EXCHANGE. Checks in the order the kernel's vfs_rename() and
 * do_renameat2() do; the kernel has done most of them already, kvfsd does
 * not rely on that.
 */
int vfs_rename(struct inode *old_dir, const char *old_name, struct inode *new_dir,
	       const char *new_name, unsigned flags)
{
	_cleanup_dput_ struct dentry *old = NULL, *new = NULL;
	struct dentry *od, *nd;
	struct inode *src, *dst;
	int r;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	r = dir_dentry(old_dir, &od);
	if (r < 0)
		return r;
	r = dir_dentry(new_dir, &nd);
	if (r < 0)
		return r;
	if (!strcmp(old_name, ".") || !strcmp(old_name, "..") ||
	    !strcmp(new_name, ".") || !strcmp(new_name, ".."))
		return -EBUSY;
	r = vfs_lookup(old_dir, old_name, &old);
	if (r < 0)
		return r;
	if (!old->d_inode)
		return -ENOENT;
	r = vfs_lookup(new_dir, new_name, &new);
	if (r < 0)
		return r;
	src = old->d_inode;
	dst = new->d_inode;
	if ((flags & RENAME_NOREPLACE) && dst)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !dst)
		return -ENOENT;
	if (old == new)
		return 0;
	/* Source must not become its own ancestor. */
	if (S_ISDIR(src->i_mode) && d_is_ancestor(old, nd))
		return -EINVAL;
	if (flags & RENAME_EXCHANGE) {
		if (S_ISDIR(dst->i_mode) && d_is_ancestor(new, od))
			return -EINVAL;
		if (old_dir != new_dir && S_ISDIR(src->i_mode) != S_ISDIR(dst->i_mode)) {
			struct inode *gains = S_ISDIR(src->i_mode) ? new_dir : old_dir;

			if (gains->i_nlink >= KVFS_LINK_MAX)
				return -EMLINK;
		}
		return old_dir->i_op->rename(old_dir, old, new_dir, new, flags);
	}
	if (dst) {
		/* Two names of one inode: POSIX says do nothing. */
		if (dst == src)
			return 0;
		if (S_ISDIR(src->i_mode) && !S_ISDIR(dst->i_mode))
			return -ENOTDIR;
		if (!S_ISDIR(src->i_mode) && S_ISDIR(dst->i_mode))
			return -EISDIR;
		if (S_ISDIR(dst->i_mode) && dst->i_entries)
			return -ENOTEMPTY;
		/* Target must not be an ancestor of the source. */
		if (d_is_ancestor(new, od))
			return -ENOTEMPTY;
	} else if (S_ISDIR(src->i_mode) && old_dir != new_dir && new_dir->i_nlink >= KVFS_LINK_MAX) {
		return -EMLINK;
	}
	return old_dir->i_op->rename(old_dir, old, new_dir, new, flags);
}

/** vfs_setattr() - chmod, chown, truncate, utimensat; limits checked here. */
int vfs_setattr(struct inode *inode, const struct iattr *attr, const struct cred *cred)
{
	if ((attr->ia_valid & ATTR_SIZE) && attr->ia_size > inode->i_sb->s_maxbytes)
		return -EFBIG;
	return inode->i_op->setattr(inode, attr, cred);
}
