/* SPDX-License-Identifier: MIT */
/*
 * Commits: the tree serialized into a metadata stream (a delta of what
 * changed, or a whole new base), written to fresh blocks, then the other
 * superblock slot (see image.c for why that order is crash-safe).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "image-internal.h"
#include "macro.h"

void buf_put(struct buf *b, const void *data, size_t len)
{
	if (b->err || len == 0)
		return;
	if (len > SIZE_MAX - b->len) {
		b->err = -EOVERFLOW;
		return;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *n;

		while (cap < b->len + len) {
			if (cap > SIZE_MAX / 2) {
				b->err = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		n = realloc(b->p, cap);
		if (!n) {
			b->err = -ENOMEM;
			return;
		}
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Stream records (all little-endian):
 *   u64 ninodes, then per inode:
 *     u64 ino, u32 mode, u32 uid, u32 gid, u32 nlink, u64 rdev, u64 size,
 *     4 x (i64 sec, u64 nsec) for atime mtime ctime btime,
 *     u32 link_len, u32 nxattrs, u64 npages,
 *     link target, nxattrs x (u32 name_len, u32 size, name, value),
 *     npages x (u64 index, u32 block, u32 crc32c)
 *   u64 ndirents, then per entry in tree order (parents first):
 *     u64 parent ino, u64 ino, u32 name_len, name
 *   the allocator bitmap: ceil(total_blocks / 64) u64 words */
struct ser {
	struct buf b;
	struct image *img;
	uint64_t *map;            /* the new generation's references */
	uint64_t npages;
};

static int ser_xattr(const char *name, size_t name_len, const void *value, size_t size, void *ud)
{
	struct ser *s = ud;

	put32(&s->b, (uint32_t)name_len);
	put32(&s->b, (uint32_t)size);
	buf_put(&s->b, name, name_len);
	buf_put(&s->b, value, size);
	return 0;
}

static int count_xattr(const char *n, size_t nl, const void *v, size_t sz, void *ud)
{
	(*(uint32_t *)ud)++;
	return 0;
}

static int count_page(uint64_t index, void *page, void *ud)
{
	(*(uint64_t *)ud)++;
	return 0;
}

static int ser_page(uint64_t index, void *page, void *ud)
{
	struct ser *s = ud;
	uint64_t v = *page_private(page);

	/* sync_fs wrote every dirty page back first. */
	if (!PRIV_BLK(v))
		return -EIO;
	put64(&s->b, index);
	put32(&s->b, (uint32_t)PRIV_BLK(v));
	put32(&s->b, PRIV_CRC(v));
	if (s->map)
		bit_set(s->map, PRIV_BLK(v));
	return 0;
}

static void put_ts(struct buf *b, const struct timespec *ts)
{
	put64(b, (uint64_t)ts->tv_sec);
	put64(b, (uint64_t)ts->tv_nsec);
}

static int ser_inode(struct ser *s, const struct inode *inode)
{
	uint32_t nx = 0, ll = inode->i_link ? (uint32_t)strlen(inode->i_link) : 0;
	uint64_t np = 0;

	xattr_for_each(inode, count_xattr, &nx);
	mapping_for_each_page(&inode->i_data, count_page, &np);
	put64(&s->b, inode->i_ino);
	put32(&s->b, inode->i_mode);
	put32(&s->b, inode->i_uid);
	put32(&s->b, inode->i_gid);
	put32(&s->b, (uint32_t)inode->i_nlink);
	put64(&s->b, inode->i_rdev);
	put64(&s->b, inode->i_size);
	put_ts(&s->b, &inode->i_atime);
	put_ts(&s->b, &inode->i_mtime);
	put_ts(&s->b, &inode->i_ctime);
	put_ts(&s->b, &inode->i_btime);
	put32(&s->b, ll);
	put32(&s->b, nx);
	put64(&s->b, np);
	buf_put(&s->b, inode->i_link, ll);
	xattr_for_each(inode, ser_xattr, s);
	return mapping_for_each_page(&inode->i_data, ser_page, s);
}

/* Directory entries in preorder: a directory's own entry precedes its children's. */
static void ser_dir(struct ser *s, const struct dentry *dir, uint64_t *n)
{
	for (const struct dentry *d = dir->d_child_head; d; d = d->d_sib_next) {
		if (!d->d_inode || !(d->d_flags & DCACHE_PINNED))
			continue;
		put64(&s->b, dir->d_inode->i_ino);
		put64(&s->b, d->d_inode->i_ino);
		put32(&s->b, (uint32_t)d->d_len);
		buf_put(&s->b, d->d_name, d->d_len);
		(*n)++;
		if (S_ISDIR(d->d_inode->i_mode))
			ser_dir(s, d, n);
	}
}

static void super_fill(struct image_super *su, const struct image *img, const struct super_block *sb,
		       uint64_t gen, const struct chain *base, const struct chain *delta,
		       uint64_t delta_count, uint64_t delta_blocks_total)
{
	memset(su, 0, sizeof(*su));
	memcpy(su->magic, IMAGE_MAGIC, 8);
	su->version = IMAGE_VERSION;
	su->block_size = KVFS_PAGE_SIZE;
	su->generation = gen;
	su->total_blocks = img->total_blocks;
	su->data_blocks_max = sb->s_blocks_max;
	su->meta_first = base->first;
	su->meta_blocks = base->blocks;
	su->meta_len = base->len;
	su->meta_crc = base->crc;
	su->meta_generation = base->generation;
	su->next_ino = sb->s_next_ino;
	su->root_ino = sb->s_root->d_inode->i_ino;
	if (delta->blocks) {
		su->delta_first = delta->first;
		su->delta_blocks = delta->blocks;
		su->delta_len = delta->len;
		su->delta_crc = delta->crc;
		su->delta_generation = delta->generation;
		su->delta_count = delta_count;
		su->delta_blocks_total = delta_blocks_total;
	}
	su->crc = image_crc32c(0, su, sizeof(*su));
}

/* @n blocks marked live (claimed) go back to the allocator. */
static void blocks_unclaim(struct image *img, const uint64_t *blocks, size_t n)
{
	for (size_t i = 0; blocks && i < n; i++)
		bit_clear(img->live, blocks[i]);
}

/* @n fresh blocks, marked live; on failure none stays allocated. */
static int alloc_blocks(struct image *img, size_t n, uint64_t **blocks)
{
	uint64_t *b = calloc(n ? n : 1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	for (size_t got = 0; got < n; got++) {
		r = block_alloc(img, &b[got]);
		if (r < 0) {
			blocks_unclaim(img, b, got);
			free(b);
			return r;
		}
	}
	*blocks = b;
	return 0;
}

/* Write @len bytes of @stream into the chain of @blocks (@n of them,
 * enough for @len) as generation @gen; the chain's description in @c. */
static int write_chain(struct image *img, uint64_t gen, const uint8_t *stream, size_t len,
		       const uint64_t *blocks, size_t n, struct chain *c)
{
	_cleanup_free_ uint8_t *block = aligned_alloc(KVFS_PAGE_SIZE, KVFS_PAGE_SIZE);
	int r;

	if (!block)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct image_meta_header h = {
			.generation = gen, .seq = i, .next = i + 1 < n ? blocks[i + 1] : 0,
		};
		size_t off = i * IMAGE_META_PAYLOAD;
		size_t k = off >= len ? 0 : len - off < IMAGE_META_PAYLOAD ? len - off
									    : IMAGE_META_PAYLOAD;

		memcpy(h.magic, IMAGE_META_MAGIC, 4);
		memset(block, 0, KVFS_PAGE_SIZE);
		memcpy(block, &h, sizeof(h));
		if (k)
			memcpy(block + sizeof(h), stream + off, k);
		h.crc = image_crc32c(0, block, KVFS_PAGE_SIZE);
		memcpy(block, &h, sizeof(h));
		r = pwrite_all(img->fd, block, KVFS_PAGE_SIZE, blocks[i] * KVFS_PAGE_SIZE);
		if (r < 0)
			return r;
	}
	*c = (struct chain){ .first = blocks[0], .blocks = n, .len = len, .generation = gen,
			     .crc = image_crc32c(0, stream, len) };
	return 0;
}

/*
 * Make generation @su->generation durable: the data and metadata blocks
 * written so far, then its superblock slot. Once the slot write has
 * started, a failure leaves the image broken: the slot may hold either
 * generation, so neither one's blocks may be touched again.
 */
static int write_super(struct image *img, const struct image_super *su)
{
	_cleanup_free_ uint8_t *block = calloc(1, KVFS_PAGE_SIZE);
	int r;

	if (!block)
		return -ENOMEM;
	if (fdatasync(img->fd) < 0)
		return -errno;
	memcpy(block, su, sizeof(*su));
	r = pwrite_all(img->fd, block, KVFS_PAGE_SIZE, (su->generation % 2) * KVFS_PAGE_SIZE);
	if (r == 0 && fdatasync(img->fd) < 0)
		r = -errno;
	if (r < 0)
		img->broken = true;
	return r;
}

/* After the first commit over a version-1 image: clear the other slot, so
 * a kvfsd that reads only version 1 refuses the image ("no valid
 * superblock") instead of mounting the older generation left there. */
static void drop_v1_slot(struct image *img)
{
	_cleanup_free_ uint8_t *zero = NULL;

	if (!img->v1_slot || !(zero = calloc(1, KVFS_PAGE_SIZE)))
		return;
	if (pwrite_all(img->fd, zero, KVFS_PAGE_SIZE,
		       ((img->generation + 1) % 2) * KVFS_PAGE_SIZE) == 0 &&
	    fdatasync(img->fd) == 0)
		img->v1_slot = false;
}

/* Committed: no inode is behind the image any more. sync_fs wrote every
 * listed inode back before the commit, so the list empties. */
static void clear_image_flags(struct super_block *sb)
{
	while (sb->s_io) {
		struct inode *i = sb->s_io;

		i->i_state &= ~(I_IMAGE_DIRTY | I_IMAGE_DIRENTS);
		inode_io_list_del(i);
	}
	sb->s_image->ndeleted = 0;
	sb->s_image->deleted_lost = false;
}

static bool in_image(const struct super_block *sb, const struct inode *i)
{
	return i->i_nlink || i == sb->s_root->d_inode;
}

/* Generation @gen is on disk: what was pending is in it. */
static void generation_committed(struct super_block *sb, uint64_t gen)
{
	sb->s_image->generation = gen;
	clear_image_flags(sb);
	drop_v1_slot(sb->s_image);
}

/* A new base: the metadata of the whole tree. Frees every older stream. */
static int commit_full(struct super_block *sb)
{
	struct image *img = sb->s_image;
	struct ser s = { .img = img };
	uint64_t *blocks = NULL;
	size_t map_bytes = img->map_words * 8, nblocks = 0, count_at;
	uint64_t ninodes = 0, ndirents = 0, gen = img->generation + 1;
	struct chain base, none = { 0 };
	struct image_super su;
	int r;

	/* sync_fs wrote back the inodes on sb->s_io; a page dirtied behind
	 * the list's back would have no block to name here, so (the walk
	 * is over the whole tree anyway) write back everything. */
	for (struct inode *i = sb->s_inodes; i; i = i->i_sb_next) {
		r = mapping_writeback(&i->i_data);
		if (r < 0)
			return r;
	}
	s.map = calloc(img->map_words, 8);
	if (!s.map) {
		r = -ENOMEM;
		goto out;
	}
	bit_set(s.map, 0);
	bit_set(s.map, 1);
	/* Inode table: every inode that has a name (unlinked but open ones die with the mount). */
	for (const struct inode *i = sb->s_inodes; i; i = i->i_sb_next)
		if (in_image(sb, i))
			ninodes++;
	put64(&s.b, ninodes);
	for (const struct inode *i = sb->s_inodes; i; i = i->i_sb_next) {
		if (!in_image(sb, i))
			continue;
		r = ser_inode(&s, i);
		if (r < 0)
			goto out;
	}
	count_at = s.b.len;
	put64(&s.b, 0);
	ser_dir(&s, sb->s_root, &ndirents);
	if (s.b.err) {
		r = s.b.err;
		goto out;
	}
	memcpy(s.b.p + count_at, &ndirents, 8);
	/* Blocks for the stream, the bitmap included (its size is fixed). */
	if (s.b.len > SIZE_MAX - map_bytes) {
		r = -EOVERFLOW;
		goto out;
	}
	nblocks = div_up(s.b.len + map_bytes, IMAGE_META_PAYLOAD);
	r = alloc_blocks(img, nblocks, &blocks);
	if (r < 0) {
		nblocks = 0;
		goto out;
	}
	for (size_t i = 0; i < nblocks; i++)
		bit_set(s.map, blocks[i]);
	buf_put(&s.b, s.map, map_bytes);
	if (s.b.err) {
		r = s.b.err;
		goto out;
	}
	r = write_chain(img, gen, s.b.p, s.b.len, blocks, nblocks, &base);
	if (r < 0)
		goto out;
	super_fill(&su, img, sb, gen, &base, &none, 0, 0);
	r = write_super(img, &su);
	if (r < 0) {
		if (img->broken)
			nblocks = 0; /* keep them: the slot may name them */
		goto out;
	}
	/* Committed: the old metadata blocks are free, the new references rule. */
	blocks_unclaim(img, img->meta, img->nmeta);
	free(img->meta);
	img->meta = TAKE_PTR(blocks);
	img->nmeta = img->meta_cap = nblocks;
	nblocks = 0;
	free(img->committed);
	img->committed = TAKE_PTR(s.map);
	img->base = base;
	img->delta = none;
	img->delta_count = img->delta_blocks_total = 0;
	generation_committed(sb, gen);
	r = 0;
out:
	blocks_unclaim(img, blocks, nblocks);
	free(blocks);
	free(s.map);
	free(s.b.p);
	return r;
}

/* A u64 count that precedes what it counts: reserve its place ... */
static size_t count_reserve(struct ser *s)
{
	size_t at = s->b.len;

	put64(&s->b, 0);
	return at;
}

/* ... and fill it in once counted. Returns 0 or the stream's -errno. */
static int count_fill(struct ser *s, size_t at, uint64_t n)
{
	if (s->b.err)
		return s->b.err;
	memcpy(s->b.p + at, &n, 8);
	return 0;
}

/*
 * The delta stream of one commit (after its DELTA_HEADER):
 *   u64 ninodes, then inode records as in the base (changed inodes);
 *   u64 ndeleted, then u64 ino each (inodes gone from the tree);
 *   u64 ndirs, then per changed directory: u64 ino, u64 nentries, then
 *     per entry in readdir order: u64 ino, u32 name_len, name
 *     (the directory's whole list, replacing the one before).
 */
static int ser_delta(struct super_block *sb, struct ser *s)
{
	struct image *img = sb->s_image;
	uint64_t n = 0;
	size_t at;
	int r;

	put64(&s->b, img->delta.first);
	put64(&s->b, img->delta.blocks);
	put64(&s->b, img->delta.len);
	put64(&s->b, img->delta.generation);
	put32(&s->b, img->delta.crc);
	put32(&s->b, 0);
	at = count_reserve(s);
	for (const struct inode *i = sb->s_io; i; i = i->i_io_next) {
		if (!(i->i_state & I_IMAGE_DIRTY) || !in_image(sb, i))
			continue;
		r = ser_inode(s, i);
		if (r < 0)
			return r;
		n++;
	}
	r = count_fill(s, at, n);
	if (r < 0)
		return r;
	n = 0;
	at = count_reserve(s);
	for (const struct inode *i = sb->s_io; i; i = i->i_io_next) {
		if ((i->i_state & I_IMAGE_DIRTY) && !in_image(sb, i)) {
			put64(&s->b, i->i_ino);
			n++;
		}
	}
	for (size_t k = 0; k < img->ndeleted; k++)
		put64(&s->b, img->deleted[k]);
	n += img->ndeleted;
	r = count_fill(s, at, n);
	if (r < 0)
		return r;
	n = 0;
	at = count_reserve(s);
	for (const struct inode *i = sb->s_io; i; i = i->i_io_next) {
		const struct dentry *dir = i->i_dentry;
		uint64_t cnt = 0;
		size_t cnt_at;

		if (!(i->i_state & I_IMAGE_DIRENTS) || !S_ISDIR(i->i_mode) || !in_image(sb, i) ||
		    !dir)
			continue;
		put64(&s->b, i->i_ino);
		cnt_at = count_reserve(s);
		for (const struct dentry *d = dir->d_child_head; d; d = d->d_sib_next) {
			if (!d->d_inode || !(d->d_flags & DCACHE_PINNED))
				continue;
			put64(&s->b, d->d_inode->i_ino);
			put32(&s->b, (uint32_t)d->d_len);
			buf_put(&s->b, d->d_name, d->d_len);
			cnt++;
		}
		r = count_fill(s, cnt_at, cnt);
		if (r < 0)
			return r;
		n++;
	}
	return count_fill(s, at, n);
}

/*
 * A delta: only what changed since the last commit. Returns 1 when a new
 * base is due instead (too many deltas, or they would outgrow the base).
 */
static int commit_delta(struct super_block *sb)
{
	struct image *img = sb->s_image;
	struct ser s = { .img = img };
	uint64_t *blocks = NULL;
	size_t nblocks = 0;
	uint64_t gen = img->generation + 1, limit;
	struct chain delta;
	struct image_super su;
	int r;

	if (img->deleted_lost || img->delta_count >= DELTAS_MAX)
		return 1;
	r = ser_delta(sb, &s);
	if (r < 0)
		goto out;
	nblocks = div_up(s.b.len, IMAGE_META_PAYLOAD);
	limit = img->base.blocks > DELTA_BLOCKS_MIN ? img->base.blocks : DELTA_BLOCKS_MIN;
	if (img->delta_blocks_total + nblocks > limit) {
		nblocks = 0;
		r = 1;
		goto out;
	}
	r = alloc_blocks(img, nblocks, &blocks);
	if (r < 0) {
		nblocks = 0;
		goto out;
	}
	r = write_chain(img, gen, s.b.p, s.b.len, blocks, nblocks, &delta);
	if (r < 0)
		goto out;
	super_fill(&su, img, sb, gen, &img->base, &delta, img->delta_count + 1,
		   img->delta_blocks_total + nblocks);
	r = write_super(img, &su);
	if (r < 0) {
		if (img->broken)
			nblocks = 0;
		goto out;
	}
	/* Committed. Every older stream stays referenced; the new blocks join them. */
	if (img->nmeta + nblocks > img->meta_cap) {
		size_t cap = (img->nmeta + nblocks) * 2;
		uint64_t *m = realloc(img->meta, cap * sizeof(*m));

		if (!m) {
			/* Cannot track them: never reuse them (a leak until the next mount). */
			nblocks = 0;
			goto committed;
		}
		img->meta = m;
		img->meta_cap = cap;
	}
	memcpy(img->meta + img->nmeta, blocks, nblocks * sizeof(*blocks));
	img->nmeta += nblocks;
committed:
	img->delta_blocks_total += div_up(s.b.len, IMAGE_META_PAYLOAD);
	nblocks = 0;
	/* The new generation references exactly the blocks held now: every
	 * page's block and every stream (pages of unlinked open files too,
	 * which only keeps them a commit longer). */
	memcpy(img->committed, img->live, img->map_words * 8);
	bit_set(img->committed, 0);
	bit_set(img->committed, 1);
	img->delta = delta;
	img->delta_count++;
	generation_committed(sb, gen);
	r = 0;
out:
	blocks_unclaim(img, blocks, nblocks);
	free(blocks);
	free(s.b.p);
	return r;
}

int image_commit(struct super_block *sb)
{
	struct image *img = sb->s_image;
	int r;

	if (img->broken)
		return -EIO;
	if (img->generation) {
		r = commit_delta(sb);
		if (r <= 0)
			return r;
	}
	return commit_full(sb);
}
