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
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "macro.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the image format is little-endian; add byte swapping for this host"
#endif

_Static_assert(sizeof(struct image_super) == 152, "image_super layout");
_Static_assert(offsetof(struct image_super, delta_crc) == IMAGE_SUPER_V1_SIZE - 4,
	       "version 1's CRC32C sits where delta_crc is");
_Static_assert(sizeof(struct image_meta_header) == 32, "image_meta_header layout");

/* One metadata stream on disk: a chain of blocks. blocks == 0: none. */
struct chain {
	uint64_t first, blocks, len, generation;
	uint32_t crc;
};

/* A delta stream starts with the chain of the previous delta (zeros for
 * the first delta on a base): u64 first, blocks, len, generation, u32 crc,
 * u32 0. */
#define DELTA_HEADER 40
/* Deltas until a compaction (a new base): at most this many, and at most
 * as many blocks as the base has (but 64 at least). */
#define DELTAS_MAX 4096
#define DELTA_BLOCKS_MIN 64

struct image {
	int fd;
	uint64_t total_blocks;
	uint64_t generation;      /* committed */
	uint64_t *live;           /* bitmap: blocks held by pages in memory or metadata */
	uint64_t *committed;      /* bitmap: blocks the committed generation references */
	size_t map_words;
	uint64_t cursor;          /* next block to try */
	uint64_t *meta;           /* metadata blocks of the committed generation (all streams) */
	uint64_t nmeta, meta_cap;
	struct chain base;        /* committed base stream */
	struct chain delta;       /* committed newest delta; blocks == 0: none */
	uint64_t delta_count, delta_blocks_total;
	uint64_t *deleted;        /* inos of unlinked inodes destroyed since the last commit */
	size_t ndeleted, deleted_cap;
	bool deleted_lost;        /* ran out of memory for @deleted: next commit is a new base */
	bool v1_slot;             /* the other slot holds a version-1 superblock */
	bool loading;
	bool broken;              /* a superblock write failed: no more writes */
};

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82f63b78) -------------- */

static uint32_t crc_table[8][256];

static void crc_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (unsigned t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* Slicing by 8: about 1 GB/s here, enough for 4 KiB pages at commit. */
uint32_t image_crc32c(uint32_t crc, const void *buf, size_t len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const unsigned char *p = buf;

	pthread_once(&once, crc_init);
	crc = ~crc;
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= crc;
		crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		      crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
		      crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
		      crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- block allocator ---------------------------------------------------- */

static bool bit_test(const uint64_t *map, uint64_t b)
{
	return map[b / 64] & (UINT64_C(1) << (b % 64));
}

static void bit_set(uint64_t *map, uint64_t b)
{
	map[b / 64] |= UINT64_C(1) << (b % 64);
}

static void bit_clear(uint64_t *map, uint64_t b)
{
	map[b / 64] &= ~(UINT64_C(1) << (b % 64));
}

/* A block neither live nor committed, marked live. Returns 0 and @blk, or -ENOSPC. */
static int block_alloc(struct image *img, uint64_t *blk)
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

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
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

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
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

/* The page private word (page_private()): the page's block in the low 32
 * bits (0: not written yet), the CRC32C of what was written there in the
 * high 32. Images are therefore limited to 2^32 blocks (16 TiB). */
#define PRIV_BLK(v) ((uint64_t)(uint32_t)(v))
#define PRIV_CRC(v) ((uint32_t)((v) >> 32))
#define PRIV(blk, crc) ((uint64_t)(blk) | ((uint64_t)(crc) << 32))
#define IMAGE_BLOCKS_MAX (UINT64_C(1) << 32)

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

static const struct address_space_operations image_aops = {
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

/* ---- the metadata stream ------------------------------------------------ */

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void buf_put(struct buf *b, const void *data, size_t len)
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

static void put64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }
static void put32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }

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

static size_t div_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
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

/* ---- loading ------------------------------------------------------------ */

struct loader {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
	char *msg;
	size_t msg_size;
};

static int corrupt(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(l->msg, l->msg_size, "corrupt: ");

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < l->msg_size)
		vsnprintf(l->msg + n, l->msg_size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

static const void *take(struct loader *l, size_t n)
{
	const void *p;

	if (l->bad || n > l->len - l->pos) {
		l->bad = true;
		return NULL;
	}
	p = l->p + l->pos;
	l->pos += n;
	return p;
}

/* The next len bytes into out, or zeros past the end (l->bad says so). */
static void get_bytes(struct loader *l, void *out, size_t len)
{
	const void *p = take(l, len);

	if (p)
		memcpy(out, p, len);
	else
		memset(out, 0, len);
}

static uint64_t get64(struct loader *l) { uint64_t v; get_bytes(l, &v, 8); return v; }
static uint32_t get32(struct loader *l) { uint32_t v; get_bytes(l, &v, 4); return v; }

static void get_ts(struct loader *l, struct timespec *ts)
{
	ts->tv_sec = (time_t)get64(l);
	ts->tv_nsec = (long)get64(l);
	if ((uint64_t)ts->tv_nsec >= 1000000000)
		l->bad = true;
}

struct ino_entry {
	uint64_t ino;
	struct inode *inode;
	bool placed;
	uint64_t names;           /* directory entries naming it */
};

static int ino_cmp(const void *a, const void *b)
{
	const struct ino_entry *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static struct ino_entry *ino_find(struct ino_entry *tab, size_t n, uint64_t ino)
{
	struct ino_entry key = { .ino = ino };

	return bsearch(&key, tab, n, sizeof(*tab), ino_cmp);
}

static bool valid_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO:
	case S_IFSOCK:
		return true;
	}
	return false;
}

static bool chain_ok(uint64_t first, uint64_t blocks, uint64_t len, uint64_t total)
{
	return first >= 2 && first < total && blocks && blocks <= total &&
	       len <= blocks * IMAGE_META_PAYLOAD;
}

/* One slot: a version-2 superblock, or a version-1 one read as a base
 * without deltas. False when it fails its magic, CRC32C or bounds. */
static bool super_valid(const uint8_t *raw, int slot, uint64_t file_blocks, struct image_super *su)
{
	uint32_t crc;

	memcpy(su, raw, sizeof(*su));
	if (memcmp(su->magic, IMAGE_MAGIC, 8))
		return false;
	if (su->version == 1) {
		crc = su->delta_crc;
		su->delta_crc = 0;
		if (image_crc32c(0, su, IMAGE_SUPER_V1_SIZE) != crc)
			return false;
		memset((uint8_t *)su + IMAGE_SUPER_V1_SIZE, 0, sizeof(*su) - IMAGE_SUPER_V1_SIZE);
		su->meta_generation = su->generation;
	} else if (su->version == IMAGE_VERSION) {
		crc = su->crc;
		su->crc = 0;
		if (image_crc32c(0, su, sizeof(*su)) != crc)
			return false;
	} else {
		return false;
	}
	if (su->block_size != KVFS_PAGE_SIZE || su->total_blocks < 3 ||
	    su->total_blocks > IMAGE_BLOCKS_MAX || su->total_blocks > file_blocks ||
	    su->generation % 2 != (uint64_t)slot || !su->data_blocks_max ||
	    !chain_ok(su->meta_first, su->meta_blocks, su->meta_len, su->total_blocks) ||
	    !su->meta_generation || su->meta_generation > su->generation)
		return false;
	if (!su->delta_count)
		return !su->delta_first && !su->delta_blocks && !su->delta_len &&
		       !su->delta_generation && !su->delta_blocks_total;
	return chain_ok(su->delta_first, su->delta_blocks, su->delta_len, su->total_blocks) &&
	       su->delta_generation > su->meta_generation &&
	       su->delta_generation <= su->generation &&
	       su->delta_count <= su->delta_generation - su->meta_generation &&
	       su->delta_blocks_total >= su->delta_count &&
	       su->delta_blocks_total <= su->total_blocks;
}

/* Read and check the superblock slots; the valid one with the highest generation. */
static int read_super(int fd, struct image_super *best, struct loader *l, uint64_t file_blocks,
		      bool *v1)
{
	uint8_t raw[sizeof(struct image_super)];
	bool found = false;

	for (int slot = 0; slot < 2; slot++) {
		struct image_super su;

		if (pread_all(fd, raw, sizeof(raw), (uint64_t)slot * KVFS_PAGE_SIZE) < 0)
			continue;
		if (!super_valid(raw, slot, file_blocks, &su))
			continue;
		if (!found || su.generation > best->generation) {
			*best = su;
			*v1 = su.version == 1;
		}
		found = true;
	}
	if (!found)
		return corrupt(l, "no valid superblock (both slots fail their magic, CRC32C or bounds)");
	return 0;
}

/* Read one stream's chain of blocks, checking each block and the whole;
 * the blocks are marked in @map (which catches a block used twice) and
 * appended to img->meta. */
static int read_chain(int fd, const struct chain *c, uint64_t total_blocks, uint8_t **stream,
		      uint64_t *map, struct image *img, struct loader *l)
{
	_cleanup_free_ uint8_t *block = malloc(KVFS_PAGE_SIZE);
	_cleanup_free_ uint8_t *s = malloc(c->len ? c->len : 1);
	uint64_t blk = c->first, done = 0;
	int r;

	if (!block || !s)
		return -ENOMEM;
	if (img->nmeta + c->blocks > img->meta_cap) {
		uint64_t cap = img->nmeta + c->blocks > 2 * img->meta_cap ? img->nmeta + c->blocks
									     : 2 * img->meta_cap;
		uint64_t *m = realloc(img->meta, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		img->meta = m;
		img->meta_cap = cap;
	}
	for (uint64_t i = 0; i < c->blocks; i++) {
		struct image_meta_header h;
		uint64_t n = c->len - done;

		if (blk < 2 || blk >= total_blocks || bit_test(map, blk))
			return corrupt(l, "metadata block %llu of the chain is out of range or repeated",
				       (unsigned long long)blk);
		bit_set(map, blk);
		img->meta[img->nmeta++] = blk;
		r = pread_all(fd, block, KVFS_PAGE_SIZE, blk * KVFS_PAGE_SIZE);
		if (r < 0)
			return r == -ENODATA ? corrupt(l, "image truncated") : r;
		memcpy(&h, block, sizeof(h));
		memset(block + offsetof(struct image_meta_header, crc), 0, 4);
		if (memcmp(h.magic, IMAGE_META_MAGIC, 4) ||
		    image_crc32c(0, block, KVFS_PAGE_SIZE) != h.crc)
			return corrupt(l, "metadata block %llu fails its CRC32C", (unsigned long long)blk);
		if (h.generation != c->generation || h.seq != i)
			return corrupt(l, "metadata block %llu belongs to generation %llu, not %llu",
				       (unsigned long long)blk, (unsigned long long)h.generation,
				       (unsigned long long)c->generation);
		if (n > IMAGE_META_PAYLOAD)
			n = IMAGE_META_PAYLOAD;
		memcpy(s + done, block + sizeof(h), n);
		done += n;
		blk = h.next;
	}
	if (done != c->len || blk != 0)
		return corrupt(l, "metadata chain length does not match the superblock");
	if (image_crc32c(0, s, c->len) != c->crc)
		return corrupt(l, "metadata stream of generation %llu fails its CRC32C",
			       (unsigned long long)c->generation);
	*stream = TAKE_PTR(s);
	return 0;
}

/* ---- replaying deltas over the base ------------------------------------ */

struct mdent {
	uint64_t ino;
	const char *name;
	uint32_t len;
};

/* What the streams say about one inode number, newest last. */
struct mino {
	uint64_t ino;             /* 0: free slot */
	const uint8_t *rec;       /* its record; NULL: none (deleted) */
	size_t rec_len;
	struct mdent *ents;       /* directories: their entries */
	size_t nents, cap;
	bool visited;
};

struct merge {
	struct mino *tab;
	size_t cap, used;         /* cap: a power of two */
};

static size_t mhash(uint64_t ino, size_t cap)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 17) & (cap - 1);
}

static struct mino *mfind(struct merge *m, uint64_t ino)
{
	for (size_t i = mhash(ino, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->tab[i].ino == ino)
			return &m->tab[i];
		if (!m->tab[i].ino)
			return NULL;
	}
}

/* The entry for @ino, made if missing. NULL on ENOMEM. Invalidates
 * pointers from earlier calls when the table grows. */
static struct mino *mget(struct merge *m, uint64_t ino)
{
	struct mino *e;
	size_t i;

	if (m->cap && (e = mfind(m, ino)))
		return e;
	if ((m->used + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct mino *t = calloc(cap, sizeof(*t)), *old = m->tab;

		if (!t)
			return NULL;
		for (size_t k = 0; k < m->cap; k++) {
			if (!old[k].ino)
				continue;
			for (i = mhash(old[k].ino, cap); t[i].ino; i = (i + 1) & (cap - 1))
				;
			t[i] = old[k];
		}
		free(old);
		m->tab = t;
		m->cap = cap;
	}
	for (i = mhash(ino, m->cap); m->tab[i].ino; i = (i + 1) & (m->cap - 1))
		;
	m->tab[i].ino = ino;
	m->used++;
	return &m->tab[i];
}

static void merge_free(struct merge *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->tab[i].ents);
	free(m->tab);
}

static int ment_add(struct mino *e, uint64_t ino, const char *name, uint32_t len)
{
	if (e->nents == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct mdent *n = realloc(e->ents, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		e->ents = n;
		e->cap = cap;
	}
	e->ents[e->nents++] = (struct mdent){ .ino = ino, .name = name, .len = len };
	return 0;
}

/* Step over one inode record (the layout ser_inode() writes); its ino. */
static uint64_t skip_inode(struct loader *l)
{
	uint64_t ino = get64(l), np;
	uint32_t ll, nx;

	take(l, 4 * 4 + 8 * 2 + 16 * 4);  /* mode uid gid nlink, rdev size, 4 times */
	ll = get32(l);
	nx = get32(l);
	np = get64(l);
	take(l, ll);
	for (uint32_t x = 0; x < nx && !l->bad; x++) {
		uint32_t nl = get32(l), vl = get32(l);

		take(l, nl);
		take(l, vl);
	}
	if (np > (l->len - l->pos) / 16)
		l->bad = true;
	else
		take(l, np * 16);
	return ino;
}

static int merge_record(struct merge *m, struct loader *l)
{
	size_t start = l->pos;
	uint64_t ino = skip_inode(l);
	struct mino *e;

	if (l->bad || !ino)
		return corrupt(l, "an inode record runs past its stream");
	e = mget(m, ino);
	if (!e)
		return -ENOMEM;
	e->rec = l->p + start;
	e->rec_len = l->pos - start;
	return 0;
}

/* A count of inode records, then the records: merge each (base or delta,
 * @what names it in the message). An inode record is at least 120 bytes. */
static int merge_records(struct merge *m, struct loader *l, const char *what)
{
	uint64_t n = get64(l);
	int r;

	if (l->bad || n > l->len / 120)
		return corrupt(l, "%sinode count %llu out of range", what, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++)
		if ((r = merge_record(m, l)) < 0)
			return r;
	return 0;
}

/* The base: records, then entries (parent, child, name), then the bitmap
 * (only checked when there are no deltas). */
static int merge_base(struct merge *m, const uint8_t *p, size_t len, struct loader *l)
{
	uint64_t n;
	int r;

	*l = (struct loader){ .p = p, .len = len, .msg = l->msg, .msg_size = l->msg_size };
	r = merge_records(m, l, "");
	if (r < 0)
		return r;
	n = get64(l);
	if (l->bad || n > len / 20)
		return corrupt(l, "directory entry count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pino = get64(l), cino = get64(l);
		uint32_t nl = get32(l);
		const char *name = take(l, nl);
		struct mino *e;

		if (l->bad || !pino)
			return corrupt(l, "directory entry %llu runs past the stream",
				       (unsigned long long)i);
		if (!(e = mget(m, pino)) || ment_add(e, cino, name, nl) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* One delta (its header already checked): changed records, deleted inode
 * numbers, replaced entry lists. */
static int merge_delta(struct merge *m, const uint8_t *p, size_t len, struct loader *l)
{
	uint64_t n;
	int r;

	*l = (struct loader){ .p = p, .len = len, .pos = DELTA_HEADER, .msg = l->msg,
			      .msg_size = l->msg_size };
	r = merge_records(m, l, "delta ");
	if (r < 0)
		return r;
	n = get64(l);
	if (l->bad || n > len / 8)
		return corrupt(l, "delta deletion count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ino = get64(l);
		struct mino *e = m->cap ? mfind(m, ino) : NULL;

		if (e) {
			e->rec = NULL;
			e->nents = 0;
		}
	}
	n = get64(l);
	if (l->bad || n > len / 16)
		return corrupt(l, "delta directory count out of range");
	for (uint64_t i = 0; i < n; i++) {
		uint64_t dino = get64(l), cnt = get64(l);
		struct mino *e;

		if (l->bad || !dino || cnt > len / 12)
			return corrupt(l, "delta directory %llu is invalid", (unsigned long long)i);
		e = mget(m, dino);
		if (!e)
			return -ENOMEM;
		e->nents = 0;
		for (uint64_t k = 0; k < cnt; k++) {
			uint64_t cino = get64(l);
			uint32_t nl = get32(l);
			const char *name = take(l, nl);

			if (l->bad)
				return corrupt(l, "delta directory %llu runs past the stream",
					       (unsigned long long)dino);
			if (ment_add(e, cino, name, nl) < 0)
				return -ENOMEM;
		}
	}
	if (l->bad || l->pos != l->len)
		return corrupt(l, "a delta stream has trailing bytes");
	return 0;
}

/*
 * Rewrite base + deltas as one stream in the base's layout, without the
 * bitmap: every surviving record, then the entries of the directories
 * reachable from the root, parents first. What is unreachable is left
 * out, for load_stream_tab() to report ("has no name").
 */
static int merge_emit(struct merge *m, uint64_t root_ino, struct buf *out)
{
	_cleanup_free_ uint64_t *stack = NULL;
	size_t nstack = 0, cap = 0;
	uint64_t n = 0;
	size_t at;
	struct mino *e;

	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].ino && m->tab[i].rec)
			n++;
	put64(out, n);
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].ino && m->tab[i].rec)
			buf_put(out, m->tab[i].rec, m->tab[i].rec_len);
	at = out->len;
	n = 0;
	put64(out, 0);
	e = m->cap ? mfind(m, root_ino) : NULL;
	if (!e)
		return out->err;
	e->visited = true;
	for (uint64_t dir = root_ino;;) {
		e = mfind(m, dir);
		for (size_t k = 0; e && k < e->nents; k++) {
			const struct mdent *d = &e->ents[k];
			struct mino *c = mfind(m, d->ino);

			put64(out, dir);
			put64(out, d->ino);
			put32(out, d->len);
			buf_put(out, d->name, d->len);
			n++;
			if (c && c->nents && !c->visited) {
				if (nstack == cap) {
					size_t nc = cap ? cap * 2 : 64;
					uint64_t *t = realloc(stack, nc * sizeof(*t));

					if (!t)
						return -ENOMEM;
					stack = t;
					cap = nc;
				}
				c->visited = true;
				stack[nstack++] = d->ino;
			}
		}
		if (!nstack)
			break;
		dir = stack[--nstack];
	}
	if (out->err)
		return out->err;
	memcpy(out->p + at, &n, 8);
	return 0;
}

/* Base plus deltas as one stream for load_stream_tab(); @su describes the
 * result (meta_len) on return. */
static int read_merged(struct image *img, struct image_super *su, uint8_t **stream,
		       struct loader *l)
{
	struct chain base = { .first = su->meta_first, .blocks = su->meta_blocks,
			      .len = su->meta_len, .generation = su->meta_generation,
			      .crc = su->meta_crc };
	struct chain c = { .first = su->delta_first, .blocks = su->delta_blocks,
			   .len = su->delta_len, .generation = su->delta_generation,
			   .crc = su->delta_crc };
	_cleanup_free_ uint8_t *bstream = NULL;
	_cleanup_free_ uint8_t **deltas = NULL;
	_cleanup_free_ size_t *lens = NULL;
	struct merge m = { 0 };
	struct buf out = { 0 };
	uint64_t blocks = 0;
	int r;

	r = read_chain(img->fd, &base, su->total_blocks, &bstream, img->committed, img, l);
	if (r < 0)
		return r;
	img->base = base;
	if (!su->delta_count) {
		*stream = TAKE_PTR(bstream);
		return 0;
	}
	deltas = calloc(su->delta_count, sizeof(*deltas));
	lens = calloc(su->delta_count, sizeof(*lens));
	if (!deltas || !lens)
		return -ENOMEM;
	img->delta = c;
	/* Newest first, each naming the one before. */
	for (uint64_t k = su->delta_count; k-- > 0;) {
		uint64_t prev[4];
		uint32_t pcrc, pad;

		r = read_chain(img->fd, &c, su->total_blocks, &deltas[k], img->committed, img, l);
		if (r < 0)
			goto out;
		lens[k] = c.len;
		blocks += c.blocks;
		if (c.len < DELTA_HEADER) {
			r = corrupt(l, "delta of generation %llu is too short",
				    (unsigned long long)c.generation);
			goto out;
		}
		memcpy(prev, deltas[k], 32);
		memcpy(&pcrc, deltas[k] + 32, 4);
		memcpy(&pad, deltas[k] + 36, 4);
		if (k == 0 ? (prev[0] || prev[1] || prev[2] || prev[3] || pcrc || pad)
			   : (!chain_ok(prev[0], prev[1], prev[2], su->total_blocks) || pad ||
			      prev[3] >= c.generation || prev[3] <= su->meta_generation)) {
			r = corrupt(l, "delta of generation %llu names a wrong predecessor",
				    (unsigned long long)c.generation);
			goto out;
		}
		c = (struct chain){ .first = prev[0], .blocks = prev[1], .len = prev[2],
				    .generation = prev[3], .crc = pcrc };
	}
	if (blocks != su->delta_blocks_total) {
		r = corrupt(l, "the deltas' blocks do not add up to the superblock's count");
		goto out;
	}
	r = merge_base(&m, bstream, su->meta_len, l);
	for (uint64_t k = 0; r == 0 && k < su->delta_count; k++)
		r = merge_delta(&m, deltas[k], lens[k], l);
	if (r == 0)
		r = merge_emit(&m, su->root_ino, &out);
	if (r < 0)
		goto out;
	su->meta_len = out.len;
	*stream = TAKE_PTR(out.p);
out:
	for (uint64_t k = 0; k < su->delta_count; k++)
		free(deltas[k]);
	free(out.p);
	merge_free(&m);
	return r;
}

/* The inode for a record: the root exists already, others are made. */
static int load_inode_new(struct super_block *sb, uint64_t ino, uint64_t root_ino, mode_t mode,
			  uid_t uid, gid_t gid, struct inode **ret)
{
	struct cred cred = { .fsuid = uid, .fsgid = gid, .capable = true };
	struct inode *root = sb->s_root->d_inode;
	int r;

	if (ino == root_ino) {
		if (!S_ISDIR(mode))
			return -EUCLEAN;
		root->i_mode = mode;
		root->i_uid = uid;
		root->i_gid = gid;
		*ret = root;
		return 0;
	}
	r = inode_new(sb, mode, NULL, &cred, ret);
	if (r == 0)
		(*ret)->i_mode = mode; /* exactly as stored */
	return r;
}

static int load_stream_tab(struct super_block *sb, struct image *img, const struct image_super *su,
			   const uint8_t *stream, uint64_t *map, bool check_map, struct loader *l,
			   struct ino_entry **tabp)
{
	struct cred root = { .capable = true };
	struct ino_entry *tab;
	_cleanup_free_ uint8_t *page = malloc(KVFS_PAGE_SIZE);
	_cleanup_free_ char *name = malloc(KVFS_XATTR_NAME_MAX + 1);
	uint64_t ninodes, ndirents, max_ino = su->root_ino;
	int r;

	if (!page || !name)
		return -ENOMEM;
	l->p = stream;
	l->len = su->meta_len;
	l->pos = 0;
	l->bad = false;
	ninodes = get64(l);
	/* An inode record is at least 120 bytes. */
	if (l->bad || ninodes == 0 || ninodes > su->meta_len / 120)
		return corrupt(l, "inode count %llu out of range", (unsigned long long)ninodes);
	tab = *tabp = calloc(ninodes + 1, sizeof(*tab)); /* ends with a zero entry */
	if (!tab)
		return -ENOMEM;
	for (uint64_t i = 0; i < ninodes; i++) {
		uint64_t ino = get64(l), rdev, size, npages;
		mode_t mode = get32(l);
		uid_t uid = get32(l);
		gid_t gid = get32(l);
		uint32_t nlink = get32(l), ll, nx;
		struct timespec ts[4];
		const char *link;
		struct inode *inode;

		rdev = get64(l);
		size = get64(l);
		for (int t = 0; t < 4; t++)
			get_ts(l, &ts[t]);
		ll = get32(l);
		nx = get32(l);
		npages = get64(l);
		link = take(l, ll);
		if (l->bad || !ino || !valid_type(mode) || (mode & ~(S_IFMT | 07777)) ||
		    nlink > KVFS_LINK_MAX || size > sb->s_maxbytes || ll > KVFS_SYMLINK_MAX ||
		    (S_ISLNK(mode) != (ll > 0)) || (npages && !S_ISREG(mode)) ||
		    npages > su->total_blocks || (S_ISDIR(mode) && size) || ino >= su->next_ino)
			return corrupt(l, "inode record %llu (ino %llu) is invalid",
				       (unsigned long long)i, (unsigned long long)ino);
		r = load_inode_new(sb, ino, su->root_ino, mode, uid, gid, &inode);
		if (r < 0)
			return r == -EUCLEAN ? corrupt(l, "the root inode is not a directory") : r;
		tab[i] = (struct ino_entry){ .ino = ino, .inode = inode, .placed = ino == su->root_ino };
		inode->i_ino = ino;
		if (ino > max_ino)
			max_ino = ino;
		if (ll) {
			inode->i_link = strndup(link, ll);
			if (!inode->i_link)
				return -ENOMEM;
			if (strlen(inode->i_link) != ll)
				return corrupt(l, "symlink target of ino %llu holds a NUL",
					       (unsigned long long)ino);
		}
		for (uint32_t x = 0; x < nx; x++) {
			uint32_t nl = get32(l), vl = get32(l);
			const char *n, *v;

			if (l->bad || nl == 0 || nl > KVFS_XATTR_NAME_MAX || vl > KVFS_XATTR_SIZE_MAX)
				return corrupt(l, "xattr of ino %llu is invalid", (unsigned long long)ino);
			n = take(l, nl);
			v = take(l, vl);
			if (l->bad)
				return corrupt(l, "xattr of ino %llu runs past the stream",
					       (unsigned long long)ino);
			memcpy(name, n, nl);
			name[nl] = '\0';
			r = kvfs_setxattr(inode, name, v, vl, 0, &root);
			if (r < 0)
				return corrupt(l, "xattr of ino %llu refused: %s", (unsigned long long)ino,
					       strerror(-r));
		}
		for (uint64_t p = 0; p < npages; p++) {
			uint64_t index = get64(l), blk = get32(l);
			uint32_t crc = get32(l);
			size_t written;

			if (l->bad || blk < 2 || blk >= su->total_blocks || bit_test(map, blk) ||
			    index > (sb->s_maxbytes >> KVFS_PAGE_SHIFT))
				return corrupt(l, "data block %llu of ino %llu is out of range or shared",
					       (unsigned long long)blk, (unsigned long long)ino);
			bit_set(map, blk);
			r = pread_all(img->fd, page, KVFS_PAGE_SIZE, blk * KVFS_PAGE_SIZE);
			if (r < 0)
				return r == -ENODATA ? corrupt(l, "image truncated") : r;
			if (image_crc32c(0, page, KVFS_PAGE_SIZE) != crc)
				return corrupt(l, "data block %llu of ino %llu fails its CRC32C",
					       (unsigned long long)blk, (unsigned long long)ino);
			r = mapping_write(&inode->i_data, index << KVFS_PAGE_SHIFT, page,
					  KVFS_PAGE_SIZE, &written);
			if (r < 0)
				return r == -ENOSPC ? corrupt(l, "more data than the size limit") : r;
			*page_private(mapping_find_page(&inode->i_data, index)) = PRIV(blk, crc);
		}
		/* Clean the tags (writepage is a no-op while loading). */
		r = mapping_writeback(&inode->i_data);
		if (r < 0)
			return r;
		inode->i_nlink = nlink;
		inode->i_rdev = (dev_t)rdev;
		inode->i_size = size;
		inode->i_atime = ts[0];
		inode->i_mtime = ts[1];
		inode->i_ctime = ts[2];
		inode->i_btime = ts[3];
	}
	qsort(tab, ninodes, sizeof(*tab), ino_cmp);
	for (uint64_t i = 1; i < ninodes; i++)
		if (tab[i].ino == tab[i - 1].ino)
			return corrupt(l, "ino %llu appears twice", (unsigned long long)tab[i].ino);
	if (!ino_find(tab, ninodes, su->root_ino))
		return corrupt(l, "no root inode");
	ndirents = get64(l);
	if (l->bad || ndirents > su->meta_len / 20)
		return corrupt(l, "directory entry count out of range");
	for (uint64_t i = 0; i < ndirents; i++) {
		uint64_t pino = get64(l), cino = get64(l);
		uint32_t nl = get32(l);
		const char *n = take(l, nl);
		struct ino_entry *pe, *ce;
		struct dentry *d;
		char nm[KVFS_NAME_MAX + 1];

		if (l->bad || nl == 0 || nl > KVFS_NAME_MAX || memchr(n, '/', nl) || memchr(n, 0, nl) ||
		    (nl == 1 && n[0] == '.') || (nl == 2 && n[0] == '.' && n[1] == '.'))
			return corrupt(l, "directory entry %llu has an invalid name", (unsigned long long)i);
		pe = ino_find(tab, ninodes, pino);
		ce = ino_find(tab, ninodes, cino);
		if (!pe || !ce || !pe->placed || !S_ISDIR(pe->inode->i_mode) ||
		    (ce->placed && S_ISDIR(ce->inode->i_mode)) || cino == su->root_ino)
			return corrupt(l, "directory entry %llu links ino %llu to ino %llu wrongly",
				       (unsigned long long)i, (unsigned long long)cino,
				       (unsigned long long)pino);
		memcpy(nm, n, nl);
		nm[nl] = '\0';
		r = vfs_lookup(pe->inode, nm, &d);
		if (r < 0)
			return r;
		if (d->d_inode) {
			dput(d);
			return corrupt(l, "name \"%s\" appears twice in ino %llu", nm,
				       (unsigned long long)pino);
		}
		/* The first name takes over inode_new()'s reference. */
		d_instantiate(d, ce->placed ? igrab(ce->inode) : ce->inode);
		dput(d);
		ce->placed = true;
		ce->names++;
		pe->inode->i_entries++;
		if (S_ISDIR(ce->inode->i_mode))
			pe->inode->i_subdirs++;
	}
	for (uint64_t i = 0; i < ninodes; i++) {
		const struct inode *inode = tab[i].inode;

		if (!tab[i].placed)
			return corrupt(l, "ino %llu has no name", (unsigned long long)tab[i].ino);
		/* Link counts must match the names, or unlink/rmdir would go wrong. */
		if (S_ISDIR(inode->i_mode) ? inode->i_nlink != 2 + inode->i_subdirs
					   : inode->i_nlink != tab[i].names)
			return corrupt(l, "ino %llu has %llu links, the directories say otherwise",
				       (unsigned long long)tab[i].ino,
				       (unsigned long long)inode->i_nlink);
	}
	/* The allocator bitmap must be exactly the blocks referenced (a
	 * stream merged from deltas has none: only a base stores one). */
	if (!check_map) {
		if (l->bad || l->pos != l->len)
			return corrupt(l, "the merged stream has trailing bytes");
	} else {
		const void *stored = take(l, img->map_words * 8);

		if (l->bad || l->pos != l->len)
			return corrupt(l, "the allocator bitmap is missing or the stream is too long");
		if (memcmp(stored, map, img->map_words * 8))
			return corrupt(l, "the allocator bitmap does not match the blocks in use");
	}
	if (su->next_ino <= max_ino)
		return corrupt(l, "next inode number is in use");
	sb->s_next_ino = su->next_ino;
	return 0;
}

/* Load the stream; on failure drop the references of inodes made but not
 * yet named (a named one belongs to its dentry, which teardown frees). */
static int load_stream(struct super_block *sb, struct image *img, const struct image_super *su,
		       const uint8_t *stream, uint64_t *map, bool check_map, struct loader *l)
{
	struct ino_entry *tab = NULL;
	int r = load_stream_tab(sb, img, su, stream, map, check_map, l, &tab);

	for (struct ino_entry *e = tab; r < 0 && e && e->inode; e++)
		if (!e->placed)
			iput(e->inode);
	free(tab);
	return r;
}

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
