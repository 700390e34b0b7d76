/* SPDX-License-Identifier: MIT */
/*
 * Persistence to an image file: the on-disk superblock, inode table and
 * block allocator (see image.h for the layout), write-back of data pages
 * (the address space's writepage) and commits.
 *
 * Crash safety without a journal, by copy-on-write:
 *   - a dirty page is always written to a fresh block, never over one the
 *     committed generation references (@committed) or one a page in memory
 *     holds (@live);
 *   - a commit writes a delta (what changed: the inodes on sb->s_io,
 *     deleted inode numbers, changed directories' entry lists) or, once
 *     the deltas outgrow the base, a new base (the whole tree) to fresh
 *     blocks, fdatasync()s, then writes the other superblock slot with
 *     the next generation and fdatasync()s again. Until that last write
 *     the previous generation is intact; after it the new one is.
 * So a kill -9 at any point leaves a mountable image holding the last
 * committed generation: what fsync/sync/the flusher committed survives.
 *
 * Mount checks: the superblock CRC (a slot that fails is skipped: that is
 * an interrupted commit), every metadata block's CRC and generation, the
 * stream CRC, the chain of deltas, every field of the (merged) stream
 * against the image's bounds, every data block's CRC, and, for a base
 * without deltas, that the stored allocator bitmap equals the one rebuilt
 * from the references. Any failure refuses the mount.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "image-internal.h"
#include "macro.h"

static void image_free(struct image *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	free(img->live);
	free(img->committed);
	free(img->meta);
	free(img->deleted);
	free(img);
}

static void clean_all(struct super_block *sb)
{
	for (struct inode *i = sb->s_inodes; i; i = i->i_sb_next) {
		sb->s_op->write_inode(i, false);
		i->i_state &= ~(I_IMAGE_DIRTY | I_IMAGE_DIRENTS);
		inode_io_list_del(i);
	}
	sb->s_changed = false;
	sb->s_pages_written = 0;
}

int image_attach(struct super_block *sb, const char *path, uint64_t size, char *msg,
		 size_t msg_size)
{
	struct image *img = calloc(1, sizeof(*img));
	struct loader l = { .msg = msg, .msg_size = msg_size };
	_cleanup_free_ uint8_t *stream = NULL;
	struct image_super su = { 0 };
	uint64_t inodes_max;
	struct stat st;
	int r;

	snprintf(msg, msg_size, "%s", "");
	if (!img)
		return -ENOMEM;
	img->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (img->fd < 0) {
		r = -errno;
		snprintf(msg, msg_size, "cannot open: %s", strerror(-r));
		goto fail;
	}
	if (flock(img->fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(msg, msg_size, "%s", r == -EBUSY ? "in use by another kvfsd" : strerror(-r));
		goto fail;
	}
	if (fstat(img->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(msg, msg_size, "not a regular file");
		goto fail;
	}
	sb->s_image = img;
	sb->s_aops = &image_aops;
	sb->s_root->d_inode->i_data.a_ops = &image_aops;
	if (st.st_size == 0) {
		/* New image: room for every data page twice (copy-on-write keeps
		 * the committed copy until the next commit) plus metadata. Sparse. */
		uint64_t data = size >> KVFS_PAGE_SHIFT, total;

		if (data > (IMAGE_BLOCKS_MAX - 1024) / 3) {
			r = -EFBIG;
			snprintf(msg, msg_size, "size too large for an image (max %llu GiB)",
				 (unsigned long long)(((IMAGE_BLOCKS_MAX - 1024) / 3) >> 18));
			goto fail_detached;
		}
		total = 2 + 2 * data + data / 4 + 1024;
		img->total_blocks = total;
		img->map_words = div_up(total, 64);
		img->live = calloc(img->map_words, 8);
		img->committed = calloc(img->map_words, 8);
		if (!img->live || !img->committed) {
			r = -ENOMEM;
			goto fail_detached;
		}
		if (ftruncate(img->fd, (off_t)(total * KVFS_PAGE_SIZE)) < 0) {
			r = -errno;
			snprintf(msg, msg_size, "cannot size the image: %s", strerror(-r));
			goto fail_detached;
		}
		img->cursor = 2;
		r = image_commit(sb);
		if (r < 0) {
			snprintf(msg, msg_size, "cannot write the first generation: %s", strerror(-r));
			goto fail_detached;
		}
		clean_all(sb);
		return 0;
	}
	r = read_super(img->fd, &su, &l, (uint64_t)st.st_size / KVFS_PAGE_SIZE, &img->v1_slot);
	if (r < 0)
		goto fail_detached;
	img->total_blocks = su.total_blocks;
	img->map_words = div_up(su.total_blocks, 64);
	img->live = calloc(img->map_words, 8);
	img->committed = calloc(img->map_words, 8);
	if (!img->live || !img->committed) {
		r = -ENOMEM;
		goto fail_detached;
	}
	bit_set(img->committed, 0);
	bit_set(img->committed, 1);
	r = read_merged(img, &su, &stream, &l);
	if (r < 0)
		goto fail_detached;
	img->delta_count = su.delta_count;
	img->delta_blocks_total = su.delta_blocks_total;
	sb->s_blocks_max = su.data_blocks_max;
	img->loading = true;
	/* The image's inodes all come back, whatever nr_inodes= says (the
	 * caller sets the limit afterwards). */
	inodes_max = sb->s_inodes_max;
	sb->s_inodes_max = UINT64_MAX;
	r = load_stream(sb, img, &su, stream, img->committed, su.delta_count == 0, &l);
	sb->s_inodes_max = inodes_max;
	img->loading = false;
	if (r < 0)
		goto fail_detached;
	memcpy(img->live, img->committed, img->map_words * 8);
	bit_clear(img->live, 0);
	bit_clear(img->live, 1);
	img->generation = su.generation;
	img->cursor = 2;
	clean_all(sb);
	return 0;
fail_detached:
	/* The caller tears the half-loaded tree down; its pages' blocks no longer matter. */
	sb->s_image = NULL;
fail:
	if (r == -EUCLEAN && !msg[0])
		snprintf(msg, msg_size, "corrupt");
	image_free(img);
	return r;
}

void image_detach(struct super_block *sb)
{
	if (!sb || !sb->s_image)
		return;
	image_free(sb->s_image);
	sb->s_image = NULL;
}
