/* SPDX-License-Identifier: MIT */
/*
 * The super block (fs/super.c) and kvfsd's super_operations: inode
 * allocation and destruction, the block and inode limits behind ENOSPC and
 * statfs, sync, and the unmount teardown that counts leaks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "image.h"

#define KVFS_NEGATIVE_MAX_DEFAULT 65536

static struct inode *kvfs_alloc_inode(struct super_block *sb)
{
	return calloc(1, sizeof(struct inode));
}

static void kvfs_destroy_inode(struct inode *inode)
{
	image_inode_evicted(inode);
	mapping_release(&inode->i_data);
	xattrs_free(inode);
	free(inode->i_link);
	free(inode);
}

/* In memory, an inode is always "written": the hook is where an image's
 * inode table would be updated. */
static int kvfs_write_inode(struct inode *inode, bool sync)
{
	if (inode->i_state & I_DIRTY) {
		inode->i_state &= ~I_DIRTY;
		inode->i_sb->s_dirty_inodes--;
	}
	return 0;
}

/* With an image, sync_fs is a commit: data pages first (writepage), then
 * the metadata and the superblock (image_commit()). */
static int kvfs_sync_fs(struct super_block *sb, bool wait)
{
	uint64_t written = sb->s_pages_written;
	struct inode *inode, *next;
	int ret = 0;

	/* Only what changed since the last sync (sb->s_io): every write,
	 * truncate and fallocate marks its inode dirty. */
	for (inode = sb->s_io; inode; inode = next) {
		int r = mapping_writeback(&inode->i_data);

		next = inode->i_io_next;
		if (r == 0)
			r = sb->s_op->write_inode(inode, wait);
		if (r < 0 && ret == 0)
			ret = r;
		/* Memory only: nothing more to do for it. With an image it
		 * stays listed until the commit that writes it succeeds. */
		if (r == 0 && !sb->s_image)
			inode_io_list_del(inode);
	}
	if (ret == 0 && sb->s_image && (sb->s_changed || sb->s_pages_written != written)) {
		ret = image_commit(sb);
		if (ret == 0)
			sb->s_changed = false;
	}
	return ret;
}

static int kvfs_statfs(struct super_block *sb, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = KVFS_PAGE_SIZE;
	st->f_frsize = KVFS_PAGE_SIZE;
	st->f_blocks = sb->s_blocks_max;
	st->f_bfree = sb->s_blocks_max - sb->s_blocks_used;
	st->f_bavail = st->f_bfree;
	st->f_files = sb->s_inodes_max;
	st->f_ffree = sb->s_inodes_max - sb->s_inodes_live;
	st->f_favail = st->f_ffree;
	st->f_namemax = KVFS_NAME_MAX;
	return 0;
}

static void kvfs_put_super(struct super_block *sb)
{
	image_detach(sb);
	page_allocator_destroy(&sb->s_page_alloc);
	dcache_destroy(sb->s_dcache);
	free(sb->s_dcache);
	free(sb);
}

static const struct super_operations kvfs_super_operations = {
	.alloc_inode = kvfs_alloc_inode,
	.destroy_inode = kvfs_destroy_inode,
	.write_inode = kvfs_write_inode,
	.sync_fs = kvfs_sync_fs,
	.statfs = kvfs_statfs,
	.put_super = kvfs_put_super,
};

static const struct address_space_operations kvfs_aops = {
	.writepage = NULL, /* memory only: write-back cleans the tag */
};

/**
 * super_new() - build a mounted, empty file system: super block, dentry
 * cache, root inode and root dentry.
 * @ret: the super block, on success.
 * Returns 0 or -errno.
 */
int super_new(const struct kvfs_mount_opts *opts, struct super_block **ret)
{
	struct super_block *sb = calloc(1, sizeof(*sb));
	struct cred root_cred = { .fsuid = opts->root_uid, .fsgid = opts->root_gid, .capable = true };
	struct inode *root;
	uint64_t size = opts->size;
	int r;

	if (!sb)
		return -ENOMEM;
	page_allocator_init(&sb->s_page_alloc);
	if (!size) {
		long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

		size = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 2 : UINT64_C(1) << 30;
	}
	sb->s_op = &kvfs_super_operations;
	sb->s_aops = &kvfs_aops;
	sb->s_maxbytes = opts->maxbytes ? opts->maxbytes : KVFS_MAXBYTES_DEFAULT;
	sb->s_blocks_max = size >> KVFS_PAGE_SHIFT;
	page_allocator_set_pool(&sb->s_page_alloc, size / 2);
	sb->s_inodes_max = opts->nr_inodes ? opts->nr_inodes :
			   (sb->s_blocks_max > 1024 ? sb->s_blocks_max : 1024);
	sb->s_next_ino = 1;
	sb->s_dcache = calloc(1, sizeof(*sb->s_dcache));
	if (!sb->s_dcache) {
		free(sb);
		return -ENOMEM;
	}
	r = dcache_init(sb->s_dcache, opts->negative_max ? opts->negative_max
				      : KVFS_NEGATIVE_MAX_DEFAULT);
	if (r < 0)
		goto fail;
	r = inode_new(sb, S_IFDIR | (opts->root_mode & 07777), NULL, &root_cred, &root);
	if (r < 0)
		goto fail;
	sb->s_root = d_make_root(sb->s_dcache, root);
	if (!sb->s_root) {
		iput(root);
		r = -ENOMEM;
		goto fail;
	}
	*ret = sb;
	return 0;
fail:
	kvfs_put_super(sb);
	return r;
}

/**
 * super_alloc_page() - one page of file data, charged to the size limit.
 * @zero: the page must read as zeros.
 * Returns 0, -ENOSPC at the limit, -ENOMEM.
 */
int super_alloc_page(struct super_block *sb, void **page, bool zero)
{
	void *p;

	if (sb->s_blocks_used >= sb->s_blocks_max)
		return -ENOSPC;
	p = page_alloc(&sb->s_page_alloc, zero);
	if (!p)
		return -ENOMEM;
	sb->s_blocks_used++;
	*page = p;
	return 0;
}

void super_free_page(struct super_block *sb, void *page)
{
	image_page_freed(sb, page);
	page_free(&sb->s_page_alloc, page);
	sb->s_blocks_used--;
}

/** super_reserve_blocks() - -ENOSPC unless @n more pages fit. */
int super_reserve_blocks(const struct super_block *sb, uint64_t n)
{
	return n > sb->s_blocks_max - sb->s_blocks_used ? -ENOSPC : 0;
}

/** sync_filesystem() - write back every dirty page and inode (sync(2)). */
int sync_filesystem(struct super_block *sb)
{
	return sb->s_op->sync_fs(sb, true);
}

/**
 * super_teardown() - unmount: close the files the kernel never released,
 * drop the kernel's lookup references (the connection is gone), kill the
 * dentry tree, and report what could not be freed through the normal
 * reference counts. Frees @sb.
 */
void super_teardown(struct super_block *sb, uint64_t *leaked_inodes, uint64_t *leaked_dentries,
		    uint64_t *leaked_pages)
{
	struct inode *inode, *next;

	if (!sb)
		return;
	while (sb->s_files)
		file_release(sb->s_files);
	for (inode = sb->s_inodes; inode; inode = next) {
		next = inode->i_sb_next;
		/* Evicting may free the inode; @next stays valid because only
		 * unreferenced, unlinked inodes go, one at a time. */
		inode_forget(inode, inode->i_nlookup);
	}
	d_kill_tree(sb->s_root);
	sb->s_root = NULL;
	if (leaked_inodes)
		*leaked_inodes = sb->s_inodes_live;
	if (leaked_dentries)
		*leaked_dentries = sb->s_dcache->nr_dentries;
	if (leaked_pages)
		*leaked_pages = sb->s_blocks_used;
	sb->s_op->put_super(sb);
}
