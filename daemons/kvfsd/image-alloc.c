/* SPDX-License-Identifier: MIT */
/*
 * The image's block allocator (two bitmaps: @live, blocks held by pages in
 * memory or metadata; @committed, blocks the committed generation
 * references; a block is free when in neither), block I/O, and writepage:
 * copy-on-write of one data page to a fresh block.
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs.h"
#include "image-internal.h"
#include "macro.h"

/* A block neither live nor committed, marked live. Returns 0 and @blk, or -ENOSPC. */
int block_alloc(struct image *img, uint64_t *blk)
{
	uint64_t n = img->total_blocks;

	for (uint64_t tried = 0; tried < n;) {
		uint64_t b = img->cursor, w = b / 64;
		uint64_t used = img->live[w] | img->committed[w];

		if (used == UINT64_MAX) {
			/* Skip a full word. */
			uint64_t next = (w + 1) * 64;

			tried += next - b;
			img->cursor = next >= n ? 2 : next;
			continue;
		}
		img->cursor = b + 1 >= n ? 2 : b + 1;
		tried++;
		if (b < 2 || b >= n || bit_test(img->live, b) || bit_test(img->committed, b))
			continue;
		bit_set(img->live, b);
		*blk = b;
		return 0;
	}
	return -ENOSPC;
}

int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA; /* short image */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* address_space_operations.writepage: copy-on-write of one page. */
static int image_writepage(struct address_space *mapping, uint64_t index, void *page)
{
	struct super_block *sb = mapping->host->i_sb;
	struct image *img = sb->s_image;
	uint64_t *priv = page_private(page), blk;
	uint32_t crc;
	int r;

	if (!img || img->loading)
		return 0;
	if (img->broken)
		return -EIO;
	r = block_alloc(img, &blk);
	if (r < 0)
		return r;
	crc = image_crc32c(0, page, KVFS_PAGE_SIZE);
	r = pwrite_all(img->fd, page, KVFS_PAGE_SIZE, blk * KVFS_PAGE_SIZE);
	if (r < 0) {
		bit_clear(img->live, blk);
		return r;
	}
	if (PRIV_BLK(*priv))
		bit_clear(img->live, PRIV_BLK(*priv));
	*priv = PRIV(blk, crc);
	mapping->host->i_state |= I_IMAGE_DIRTY; /* its page list changed */
	inode_io_list_add(mapping->host);
	return 0;
}

const struct address_space_operations image_aops = {
	.writepage = image_writepage,
};

void image_page_freed(struct super_block *sb, void *page)
{
	uint64_t v = *page_private(page);

	if (sb->s_image && PRIV_BLK(v))
		bit_clear(sb->s_image->live, PRIV_BLK(v));
}

void image_inode_evicted(struct inode *inode)
{
	struct image *img = inode->i_sb->s_image;

	if (!img || img->loading || inode->i_nlink)
		return;
	if (img->ndeleted == img->deleted_cap) {
		size_t cap = img->deleted_cap ? img->deleted_cap * 2 : 256;
		uint64_t *n = realloc(img->deleted, cap * sizeof(*n));

		if (!n) {
			img->deleted_lost = true;
			return;
		}
		img->deleted = n;
		img->deleted_cap = cap;
	}
	img->deleted[img->ndeleted++] = inode->i_ino;
}

uint64_t image_generation(const struct super_block *sb)
{
	return sb->s_image ? sb->s_image->generation : 0;
}
