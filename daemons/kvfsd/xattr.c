/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes (fs/xattr.c, mm/shmem.c's simple_xattrs): a short
 * list per inode, in the user.*, trusted.* and security.* namespaces.
 * system.* (POSIX ACLs) is not supported: kvfsd does not negotiate ACLs.
 *
 * The kernel has already checked what it can (trusted.* needs
 * CAP_SYS_ADMIN, user.* only on files and directories, name and value
 * sizes); the checks are repeated here because they are cheap and make
 * the object usable on its own (unit tests).
 *
 * The root directory's kvfs.* names (counters, drop_caches) are not
 * attributes: stats.c, a floor above, answers them before they get here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <linux/xattr.h>

#include "fs.h"

struct xattr {
	struct xattr *next;
	size_t name_len;
	size_t size;
	char data[];              /* name, NUL, value */
};

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static int check_xattr_name(const struct inode *inode, const char *name, const struct cred *cred,
			    bool write)
{
	size_t len = strlen(name);

	if (len == 0 || len > KVFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (has_prefix(name, XATTR_USER_PREFIX)) {
		if (len == XATTR_USER_PREFIX_LEN)
			return -EINVAL;
		if (!S_ISREG(inode->i_mode) && !S_ISDIR(inode->i_mode))
			return write ? -EPERM : -ENODATA;
		return 0;
	}
	if (has_prefix(name, XATTR_TRUSTED_PREFIX)) {
		if (len == XATTR_TRUSTED_PREFIX_LEN)
			return -EINVAL;
		if (!cred->capable)
			return write ? -EPERM : -ENODATA;
		return 0;
	}
	if (has_prefix(name, XATTR_SECURITY_PREFIX))
		return len == XATTR_SECURITY_PREFIX_LEN ? -EINVAL : 0;
	return -EOPNOTSUPP;
}

static struct xattr **xattr_find(struct inode *inode, const char *name)
{
	struct xattr **pp;

	for (pp = &inode->i_xattrs; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->data, name))
			return pp;
	return NULL;
}

static size_t xattr_cost(size_t name_len, size_t size)
{
	return name_len + 1 + size;
}

static size_t xattr_list_len(const struct inode *inode)
{
	size_t n = 0;

	for (const struct xattr *x = inode->i_xattrs; x; x = x->next)
		n += x->name_len + 1;
	return n;
}

/**
 * kvfs_setxattr() - set @name to @value.
 * @flags: XATTR_CREATE (-EEXIST if present), XATTR_REPLACE (-ENODATA if
 * absent), or 0.
 */
int kvfs_setxattr(struct inode *inode, const char *name, const void *value, size_t size,
		  int flags, const struct cred *cred)
{
	struct xattr **pp, *x;
	size_t name_len = strlen(name), old_cost = 0, cost;
	int r;

	r = check_xattr_name(inode, name, cred, true);
	if (r < 0)
		return r;
	if (size > KVFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if ((flags & XATTR_CREATE) && (flags & XATTR_REPLACE))
		return -EINVAL;
	pp = xattr_find(inode, name);
	if (pp && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!pp && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (pp)
		old_cost = xattr_cost((*pp)->name_len, (*pp)->size);
	else if (xattr_list_len(inode) + name_len + 1 > KVFS_XATTR_LIST_MAX)
		return -ENOSPC;
	cost = xattr_cost(name_len, size);
	if (inode->i_xattr_bytes - old_cost + cost > KVFS_XATTR_INODE_MAX)
		return -ENOSPC;
	x = malloc(sizeof(*x) + cost);
	if (!x)
		return -ENOMEM;
	x->name_len = name_len;
	x->size = size;
	memcpy(x->data, name, name_len + 1);
	if (size)
		memcpy(x->data + name_len + 1, value, size);
	if (pp) {
		struct xattr *old = *pp;

		x->next = old->next;
		*pp = x;
		free(old);
	} else {
		x->next = inode->i_xattrs;
		inode->i_xattrs = x;
	}
	inode->i_xattr_bytes = inode->i_xattr_bytes - old_cost + cost;
	inode_touch(inode, false, true);
	return 0;
}

/**
 * kvfs_getxattr() - copy the value of @name into @buf.
 * @size: 0 asks for the value's size only.
 * Returns the value's size, -ENODATA, -ERANGE when @buf is too small.
 */
ssize_t kvfs_getxattr(struct inode *inode, const char *name, void *buf, size_t size,
		      const struct cred *cred)
{
	struct xattr **pp;
	int r;

	r = check_xattr_name(inode, name, cred, false);
	if (r < 0)
		return r == -EOPNOTSUPP ? -ENODATA : r;
	pp = xattr_find(inode, name);
	if (!pp)
		return -ENODATA;
	if (size == 0)
		return (ssize_t)(*pp)->size;
	if ((*pp)->size > size)
		return -ERANGE;
	memcpy(buf, (*pp)->data + (*pp)->name_len + 1, (*pp)->size);
	return (ssize_t)(*pp)->size;
}

/**
 * kvfs_listxattr() - the names, each NUL-terminated; trusted.* only for
 * privileged callers (as ext4 and tmpfs list them).
 */
ssize_t kvfs_listxattr(struct inode *inode, char *buf, size_t size, const struct cred *cred)
{
	size_t n = 0;

	for (struct xattr *x = inode->i_xattrs; x; x = x->next) {
		if (!cred->capable && has_prefix(x->data, XATTR_TRUSTED_PREFIX))
			continue;
		if (size) {
			if (n + x->name_len + 1 > size)
				return -ERANGE;
			memcpy(buf + n, x->data, x->name_len + 1);
		}
		n += x->name_len + 1;
	}
	return (ssize_t)n;
}

int kvfs_removexattr(struct inode *inode, const char *name, const struct cred *cred)
{
	struct xattr **pp, *x;
	int r;

	r = check_xattr_name(inode, name, cred, true);
	if (r < 0)
		return r;
	pp = xattr_find(inode, name);
	if (!pp)
		return -ENODATA;
	x = *pp;
	*pp = x->next;
	inode->i_xattr_bytes -= xattr_cost(x->name_len, x->size);
	free(x);
	inode_touch(inode, false, true);
	return 0;
}

int xattr_for_each(const struct inode *inode,
		   int (*fn)(const char *name, size_t name_len, const void *value, size_t size,
			     void *userdata), void *userdata)
{
	for (const struct xattr *x = inode->i_xattrs; x; x = x->next) {
		int r = fn(x->data, x->name_len, x->data + x->name_len + 1, x->size, userdata);

		if (r)
			return r;
	}
	return 0;
}

void xattrs_free(struct inode *inode)
{
	while (inode->i_xattrs) {
		struct xattr *x = inode->i_xattrs;

		inode->i_xattrs = x->next;
		free(x);
	}
	inode->i_xattr_bytes = 0;
}
