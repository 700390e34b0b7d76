/* SPDX-License-Identifier: MIT */
/*
 * The FUSE layer: translates each libfuse low-level request into one call
 * on the VFS objects (namei.c, inode_operations, file_operations,
 * super_operations) and replies exactly once. No file system logic lives
 * here.
 *
 * FUSE node ids are pointers to our struct inode (the root is
 * FUSE_ROOT_ID). Every entry reply takes a kernel reference
 * (inode_lookup_ref()), every forget drops some; if a reply does not reach
 * the kernel (the caller was interrupted), the reference is dropped again.
 */
#include "kvfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "macro.h"
#include "stats.h"

static struct kvfs *kvfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return kvfs_of(req)->sb->s_root->d_inode;
	return (struct inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(const struct kvfs *fs, const struct inode *inode)
{
	return inode == fs->sb->s_root->d_inode ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)inode;
}

static struct file *file_of(const struct fuse_file_info *fi)
{
	return (struct file *)(uintptr_t)fi->fh;
}

static void cred_of(fuse_req_t req, struct cred *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	*c = (struct cred){ .fsuid = ctx->uid, .fsgid = ctx->gid, .capable = ctx->uid == 0 };
}

static void reply_entry(fuse_req_t req, struct inode *inode)
{
	struct kvfs *fs = kvfs_of(req);
	struct fuse_entry_param e = {
		.ino = ino_of(fs, inode),
		.generation = inode->i_ino,
		.attr_timeout = fs->cfg.timeout,
		.entry_timeout = fs->cfg.timeout,
	};

	inode->i_op->getattr(inode, &e.attr);
	inode_lookup_ref(inode);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(inode, 1);
}

/* The reply to a call that made a name (mknod, mkdir, symlink, link). */
static void reply_entry_or_err(fuse_req_t req, int r, struct inode *inode)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, inode);
}

static void reply_attr(fuse_req_t req, struct inode *inode)
{
	struct stat st;

	inode->i_op->getattr(inode, &st);
	fuse_reply_attr(req, &st, kvfs_of(req)->cfg.timeout);
}

static void kvfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct kvfs *fs = userdata;

	fs->initialized = true;
	conn->max_write = KVFS_MAX_IO;
	/* libfuse aborts the mount unless this matches -o max_read. */
	conn->max_read = KVFS_MAX_IO;
	/* Write-back caching hurt metadata here (every stat reached the
	 * daemon) and did not help 1 MiB writes: keep writes synchronous. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->time_gran = 1;
}

static void kvfs_lookup_op(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct dentry *d;
	int r;

	r = vfs_lookup(inode_of(req, parent), name, &d);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (d->d_inode) {
		reply_entry(req, d->d_inode);
	} else {
		/* A negative entry the kernel may cache: only it changes names. */
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = kvfs_of(req)->cfg.timeout };

		fuse_reply_entry(req, &e);
	}
	dput(d);
}

static void kvfs_forget_op(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void kvfs_forget_multi_op(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(inode_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void kvfs_getattr_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_attr(req, inode_of(req, ino));
}

static void kvfs_setattr_op(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			    struct fuse_file_info *fi)
{
	struct inode *inode = inode_of(req, ino);
	struct iattr ia = { 0 };
	gid_t groups[64];
	struct cred cred;
	int r;

	cred_of(req, &cred);
	if (to_set & FUSE_SET_ATTR_MODE) {
		ia.ia_valid |= ATTR_MODE;
		ia.ia_mode = attr->st_mode;
		/* Only needed to decide about S_ISGID (see kvfs_setattr()). */
		if ((attr->st_mode & S_ISGID) && !cred.capable) {
			int n = fuse_req_getgroups(req, (int)UKD_ARRAY_SIZE(groups), groups);

			if (n > 0) {
				cred.groups = groups;
				cred.ngroups = n < (int)UKD_ARRAY_SIZE(groups) ? n : (int)UKD_ARRAY_SIZE(groups);
			}
		}
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		ia.ia_valid |= ATTR_UID;
		ia.ia_uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		ia.ia_valid |= ATTR_GID;
		ia.ia_gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		ia.ia_valid |= ATTR_SIZE;
		ia.ia_size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME) {
		ia.ia_valid |= ATTR_ATIME;
		ia.ia_atime = attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ia.ia_valid |= ATTR_ATIME | ATTR_ATIME_NOW;
	if (to_set & FUSE_SET_ATTR_MTIME) {
		ia.ia_valid |= ATTR_MTIME;
		ia.ia_mtime = attr->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ia.ia_valid |= ATTR_MTIME | ATTR_MTIME_NOW;
	if (to_set & FUSE_SET_ATTR_CTIME) {
		ia.ia_valid |= ATTR_CTIME;
		ia.ia_ctime = attr->st_ctim;
	}
	r = vfs_setattr(inode, &ia, &cred);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_attr(req, inode);
}

static void kvfs_readlink_op(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *inode = inode_of(req, ino);
	const char *target;
	int r;

	if (!inode->i_op->readlink) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = inode->i_op->readlink(inode, &target);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, target);
}

static void kvfs_mknod_op(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  dev_t rdev)
{
	struct inode *inode = NULL;
	struct cred cred;
	int r;

	cred_of(req, &cred);
	r = vfs_create(inode_of(req, parent), name, mode, rdev, &cred, &inode);
	reply_entry_or_err(req, r, inode);
}

static void kvfs_mkdir_op(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct inode *inode = NULL;
	struct cred cred;
	int r;

	cred_of(req, &cred);
	r = vfs_mkdir(inode_of(req, parent), name, mode, &cred, &inode);
	reply_entry_or_err(req, r, inode);
}

static void kvfs_unlink_op(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -vfs_unlink(inode_of(req, parent), name));
}

static void kvfs_rmdir_op(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -vfs_rmdir(inode_of(req, parent), name));
}

static void kvfs_symlink_op(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	struct inode *inode = NULL;
	struct cred cred;
	int r;

	cred_of(req, &cred);
	r = vfs_symlink(inode_of(req, parent), name, link, &cred, &inode);
	reply_entry_or_err(req, r, inode);
}

static void kvfs_rename_op(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname, unsigned flags)
{
	fuse_reply_err(req, -vfs_rename(inode_of(req, parent), name, inode_of(req, newparent),
					newname, flags));
}

static void kvfs_link_op(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			 const char *newname)
{
	struct inode *inode = inode_of(req, ino);
	int r;

	r = vfs_link(inode, inode_of(req, newparent), newname);
	reply_entry_or_err(req, r, inode);
}

static void set_open_flags(const struct kvfs *fs, struct fuse_file_info *fi)
{
	/* Only the kernel changes file data, so its page cache stays valid
	 * across opens. */
	fi->keep_cache = 1;
	fi->direct_io = fs->cfg.direct_io;
}

static void kvfs_open_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kvfs *fs = kvfs_of(req);
	struct file *f;
	int r;

	r = file_open(inode_of(req, ino), (unsigned)fi->flags, &f);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	set_open_flags(fs, fi);
	/* The opener is gone (interrupted): the kernel sends no release. */
	if (fuse_reply_open(req, fi) != 0)
		file_release(f);
}

static void kvfs_create_op(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			   struct fuse_file_info *fi)
{
	struct kvfs *fs = kvfs_of(req);
	struct inode *dir = inode_of(req, parent), *inode;
	struct fuse_entry_param e = { .attr_timeout = fs->cfg.timeout,
				      .entry_timeout = fs->cfg.timeout };
	unsigned flags = (unsigned)fi->flags & ~(unsigned)O_TRUNC;
	struct cred cred;
	struct file *f;
	int r;

	cred_of(req, &cred);
	/* A file created now has nothing to truncate (the kernel's
	 * do_open() drops O_TRUNC for FMODE_CREATED too). */
	r = vfs_create(dir, name, (mode & 07777) | S_IFREG, 0, &cred, &inode);
	if (r == -EEXIST && !(fi->flags & O_EXCL)) {
		flags = (unsigned)fi->flags;
		/* The kernel's view was stale: open the existing file. */
		struct dentry *d;

		r = vfs_lookup(dir, name, &d);
		if (r == 0) {
			inode = d->d_inode;
			r = !inode ? -ENOENT : S_ISDIR(inode->i_mode) ? -EISDIR : 0;
			dput(d);
		}
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = file_open(inode, flags, &f);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	set_open_flags(fs, fi);
	e.ino = ino_of(fs, inode);
	e.generation = inode->i_ino;
	inode->i_op->getattr(inode, &e.attr);
	inode_lookup_ref(inode);
	if (fuse_reply_create(req, &e, fi) != 0) {
		inode_forget(inode, 1);
		file_release(f);
	}
}

static void kvfs_read_op(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct kvfs *fs = kvfs_of(req);
	struct file *f = file_of(fi);
	struct iov_iter to = { .iov = fs->iov, .max = fs->iov_max };
	ssize_t n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = f->f_op->read ? f->f_op->read(f, (uint64_t)off, size, &to) : -EISDIR;
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_iov(req, to.iov, (int)to.nr);
}

/*
 * The reply goes out before the copy: the writer fills its next request
 * (in page-cache mode, copies it into the kernel's pages) while this
 * thread copies this one into ours, on the other CPU. What the reply
 * promises is settled first (size limit, ENOSPC, ENOMEM: the pages are
 * had), and the copy ends before the file system lock is let go, so no
 * other request sees the file without the bytes. 1 GiB dd bs=1M into a
 * new file, 9 runs each, interleaved with the copy-then-reply build:
 * median 1.2 -> 1.5 GB/s, -o direct_io 2.7 -> 3.1 GB/s.
 */
static void kvfs_write_op(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct kvfs *fs = kvfs_of(req);
	struct file *f = file_of(fi);
	struct iov_iter to = { .iov = fs->iov, .max = fs->iov_max };
	ssize_t n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = f->f_op->write_begin ? f->f_op->write_begin(f, (uint64_t)off, size, &to) : -EISDIR;
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	fuse_reply_write(req, (size_t)n);
	page_fill(&fs->sb->s_page_alloc, &to, buf, (size_t)n);
}

static void kvfs_release_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_release(file_of(fi));
	fuse_reply_err(req, 0);
}

static void kvfs_fsync_op(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct file *f = file_of(fi);

	fuse_reply_err(req, f && f->f_op->fsync ? -f->f_op->fsync(f, datasync) : 0);
}

static void kvfs_opendir_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct file *f;
	int r;

	r = file_open(inode_of(req, ino), (unsigned)fi->flags, &f);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	if (fuse_reply_open(req, fi) != 0)
		file_release(f);
}

struct fuse_dir_context {
	struct dir_context ctx;
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static bool fuse_filldir(struct dir_context *ctx, const char *name, size_t len,
			 uint64_t next_pos, uint64_t ino, mode_t type)
{
	struct fuse_dir_context *c = (struct fuse_dir_context *)ctx;
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t n;

	/* Names are NUL-terminated in the dentry; len is for the C side. */
	n = fuse_add_direntry(c->req, c->buf + c->used, c->size - c->used, name, &st,
			      (off_t)next_pos);
	if (n > c->size - c->used)
		return false;
	c->used += n;
	return true;
}

static void kvfs_readdir_op(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	struct kvfs *fs = kvfs_of(req);
	struct file *f = file_of(fi);
	struct fuse_dir_context c = {
		.ctx = { .actor = fuse_filldir, .pos = off < 0 ? 0 : (uint64_t)off },
		.req = req,
		.buf = fs->dirbuf,
		.size = size < KVFS_DIRBUF_SIZE ? size : KVFS_DIRBUF_SIZE,
	};
	int r;

	r = f->f_op->iterate ? f->f_op->iterate(f, &c.ctx) : -ENOTDIR;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, c.buf, c.used);
}

static void kvfs_releasedir_op(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_release(file_of(fi));
	fuse_reply_err(req, 0);
}

static void kvfs_statfs_op(fuse_req_t req, fuse_ino_t ino)
{
	struct super_block *sb = kvfs_of(req)->sb;
	struct statvfs st;
	int r;

	r = sb->s_op->statfs(sb, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_statfs(req, &st);
}

static void kvfs_setxattr_op(fuse_req_t req, fuse_ino_t ino, const char *name,
			     const char *value, size_t size, int flags)
{
	struct inode *inode = inode_of(req, ino);
	struct cred cred;

	cred_of(req, &cred);
	if (kvfs_stats_owns(inode, name))
		fuse_reply_err(req, -kvfs_stats_setxattr(inode->i_sb, name, value, size, &cred));
	else
		fuse_reply_err(req, -inode->i_op->setxattr(inode, name, value, size, flags, &cred));
}

/*
 * getxattr (name) and listxattr (name NULL) read the same way: a size of 0
 * asks only for the length, a larger request is clamped to the limit
 * before its buffer is allocated.
 */
static void reply_xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct inode *inode = inode_of(req, ino);
	size_t max = name ? KVFS_XATTR_SIZE_MAX : KVFS_XATTR_LIST_MAX;
	_cleanup_free_ char *buf = NULL;
	struct cred cred;
	ssize_t n;

	cred_of(req, &cred);
	if (size > max)
		size = max;
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (name && kvfs_stats_owns(inode, name))
		n = kvfs_stats_getxattr(inode->i_sb, name, buf, size);
	else if (name)
		n = inode->i_op->getxattr(inode, name, buf, size, &cred);
	else
		n = inode->i_op->listxattr(inode, buf, size, &cred);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void kvfs_getxattr_op(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	reply_xattr_read(req, ino, name, size);
}

static void kvfs_listxattr_op(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_xattr_read(req, ino, NULL, size);
}

static void kvfs_removexattr_op(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct inode *inode = inode_of(req, ino);
	struct cred cred;

	cred_of(req, &cred);
	if (kvfs_stats_owns(inode, name))
		fuse_reply_err(req, EPERM);
	else
		fuse_reply_err(req, -inode->i_op->removexattr(inode, name, &cred));
}

static void kvfs_fallocate_op(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			      off_t length, struct fuse_file_info *fi)
{
	struct file *f = file_of(fi);

	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!f->f_op->fallocate) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	fuse_reply_err(req, -f->f_op->fallocate(f, mode, (uint64_t)offset, (uint64_t)length));
}

static void kvfs_lseek_op(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
			  struct fuse_file_info *fi)
{
	struct file *f = file_of(fi);
	int64_t r;

	r = f->f_op->llseek ? f->f_op->llseek(f, off, whence) : -ESPIPE;
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, (off_t)r);
}

/*
 * Not implemented on purpose: flush (the kernel stops sending it after the
 * first ENOSYS, saving a round trip per close), access (the kernel checks
 * permissions itself: default_permissions), locks (the kernel's local
 * locks are right for a single-host file system).
 */
const struct fuse_lowlevel_ops kvfs_fuse_ops = {
	.init = kvfs_init,
	.lookup = kvfs_lookup_op,
	.forget = kvfs_forget_op,
	.forget_multi = kvfs_forget_multi_op,
	.getattr = kvfs_getattr_op,
	.setattr = kvfs_setattr_op,
	.readlink = kvfs_readlink_op,
	.mknod = kvfs_mknod_op,
	.mkdir = kvfs_mkdir_op,
	.unlink = kvfs_unlink_op,
	.rmdir = kvfs_rmdir_op,
	.symlink = kvfs_symlink_op,
	.rename = kvfs_rename_op,
	.link = kvfs_link_op,
	.open = kvfs_open_op,
	.read = kvfs_read_op,
	.write = kvfs_write_op,
	.release = kvfs_release_op,
	.fsync = kvfs_fsync_op,
	.opendir = kvfs_opendir_op,
	.readdir = kvfs_readdir_op,
	.releasedir = kvfs_releasedir_op,
	.fsyncdir = kvfs_fsync_op,
	.statfs = kvfs_statfs_op,
	.setxattr = kvfs_setxattr_op,
	.getxattr = kvfs_getxattr_op,
	.listxattr = kvfs_listxattr_op,
	.removexattr = kvfs_removexattr_op,
	.create = kvfs_create_op,
	.fallocate = kvfs_fallocate_op,
	.lseek = kvfs_lseek_op,
};
