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
 * Introspection: on the root directory, the read-only names kvfs.stats
 * (all counters, one "name value" line each) and kvfs.stats.NAME (one
 * counter, as decimal text) report the state of the VFS objects without a
 * file in the namespace. They are not listed by listxattr, so copying the
 * root with its attributes does not copy them. kvfs.ctl.drop_caches
 * (root only, written) evicts unused negative dentries ("1"), writes back
 * dirty pages and inodes ("2": with an image, a commit, as fsync), or both
 * ("3"), like /proc/sys/vm/drop_caches.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <linux/xattr.h>

#include "dcache.h"
#include "fs.h"
#include "image.h"

struct xattr {
	struct xattr *next;
	size_t name_len;
	size_t size;
	char data[];              /* name, NUL, value */
};

#define STATS_PREFIX "kvfs.stats"
#define CTL_DROP_CACHES "kvfs.ctl.drop_caches"

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool is_root(const struct inode *inode)
{
	return inode->i_sb->s_root && inode->i_sb->s_root->d_inode == inode;
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

static int drop_caches(struct super_block *sb, const void *value, size_t size,
		       const struct cred *cred)
{
	char v[4] = { 0 };
	int what;

	if (!cred->capable)
		return -EPERM;
	if (size == 0 || size > 2)
		return -EINVAL;
	memcpy(v, value, size);
	what = atoi(v);
	if (what < 1 || what > 3)
		return -EINVAL;
	if (what & 1)
		dcache_shrink(sb->s_dcache, 0);
	if (what & 2)
		return sync_filesystem(sb);
	return 0;
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

	if (is_root(inode) && has_prefix(name, "kvfs.")) {
		if (!strcmp(name, CTL_DROP_CACHES))
			return drop_caches(inode->i_sb, value, size, cred);
		return -EPERM;
	}
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

	if (is_root(inode) && has_prefix(name, STATS_PREFIX)) {
		char tmp[4096];
		ssize_t n;
		const char *key = name + strlen(STATS_PREFIX);

		if (*key != '\0' && *key != '.')
			return -ENODATA;
		n = kvfs_stats_format(inode->i_sb, *key ? key + 1 : NULL, tmp, sizeof(tmp));
		if (n < 0)
			return n;
		if (size == 0)
			return n;
		if ((size_t)n > size)
			return -ERANGE;
		memcpy(buf, tmp, (size_t)n);
		return n;
	}
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

	if (is_root(inode) && has_prefix(name, "kvfs."))
		return -EPERM;
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

/* ---- kvfs.stats ------------------------------------------------------- */

struct stat_value {
	const char *name;
	uint64_t value;
};

/**
 * kvfs_stats_format() - the counters as text.
 * @key: one counter's name, or NULL for all of them as "name value" lines.
 * Returns the length written (no NUL), -ENODATA for an unknown @key,
 * -ERANGE if @size is too small.
 */
ssize_t kvfs_stats_format(struct super_block *sb, const char *key, char *buf, size_t size)
{
	const struct dcache *dc = sb->s_dcache;
	uint64_t dirty = 0, nlookup = 0;
	size_t n = 0;

	for (const struct inode *i = sb->s_inodes; i; i = i->i_sb_next) {
		dirty += i->i_data.nrdirty;
		nlookup += i->i_nlookup;
	}
	const struct stat_value v[] = {
		{ "inodes", sb->s_inodes_live },
		{ "inodes_max", sb->s_inodes_max },
		{ "inodes_dirty", sb->s_dirty_inodes },
		{ "kernel_refs", nlookup },
		{ "dentries", dc->nr_dentries },
		{ "dentries_positive", dc->nr_positive },
		{ "dentries_negative", dc->nr_negative },
		{ "dentries_unused", dc->nr_lru },
		{ "dcache_hits", dc->hits },
		{ "dcache_misses", dc->misses },
		{ "dcache_evictions", dc->evictions },
		{ "pages", sb->s_blocks_used },
		{ "pages_dirty", dirty },
		{ "pages_written_back", sb->s_pages_written },
		{ "bytes_used", sb->s_blocks_used << KVFS_PAGE_SHIFT },
		{ "bytes_max", sb->s_blocks_max << KVFS_PAGE_SHIFT },
		{ "memory_chunks", sb->s_page_alloc.chunks },
		{ "files_open", sb->s_files_open },
		{ "image_generation", image_generation(sb) },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int len;

		if (key && strcmp(key, v[i].name))
			continue;
		len = key ? snprintf(buf + n, size - n, "%" PRIu64, v[i].value)
			  : snprintf(buf + n, size - n, "%s %" PRIu64 "\n", v[i].name, v[i].value);
		if (len < 0 || (size_t)len >= size - n)
			return -ERANGE;
		n += (size_t)len;
		if (key)
			return (ssize_t)n;
	}
	return key ? -ENODATA : (ssize_t)n;
}
