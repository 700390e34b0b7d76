/* SPDX-License-Identifier: MIT */
/*
 * kvfs.stats and kvfs.ctl.drop_caches: the state of the VFS objects,
 * read and nudged through extended attributes of the root directory,
 * without a file in the namespace (the kernel's /proc/sys/fs and
 * /proc/sys/vm/drop_caches, which kvfsd cannot add to).
 *
 * The names are not listed by listxattr, so copying the root with its
 * attributes does not copy them. Counters are readable by anyone;
 * drop_caches needs privilege.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "fs.h"
#include "image.h"
#include "macro.h"
#include "stats.h"

#define KVFS_PREFIX "kvfs."
#define STATS_PREFIX "kvfs.stats"
#define CTL_DROP_CACHES "kvfs.ctl.drop_caches"

bool kvfs_stats_owns(const struct inode *inode, const char *name)
{
	const struct dentry *root = inode->i_sb->s_root;

	return root && root->d_inode == inode && !strncmp(name, KVFS_PREFIX, strlen(KVFS_PREFIX));
}

ssize_t kvfs_stats_getxattr(struct super_block *sb, const char *name, void *buf, size_t size)
{
	const char *key = name + strlen(STATS_PREFIX);
	char tmp[4096];
	ssize_t n;

	if (strncmp(name, STATS_PREFIX, strlen(STATS_PREFIX)) || (*key != '\0' && *key != '.'))
		return -ENODATA;
	n = kvfs_stats_format(sb, *key ? key + 1 : NULL, tmp, sizeof(tmp));
	if (n < 0 || size == 0)
		return n;
	if ((size_t)n > size)
		return -ERANGE;
	memcpy(buf, tmp, (size_t)n);
	return n;
}

int kvfs_stats_setxattr(struct super_block *sb, const char *name, const void *value,
			size_t size, const struct cred *cred)
{
	char v[4] = { 0 };
	int what;

	if (strcmp(name, CTL_DROP_CACHES))
		return -EPERM;
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

struct stat_value {
	const char *name;
	uint64_t value;
};

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
		{ "memory_chunks_pooled", sb->s_page_alloc.pooled },
		{ "files_open", sb->s_files_open },
		{ "image_generation", image_generation(sb) },
	};

	for (size_t i = 0; i < UKD_ARRAY_SIZE(v); i++) {
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
