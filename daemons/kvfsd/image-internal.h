/* SPDX-License-Identifier: MIT */
/*
 * What the image-*.c files share (image.c is the entry point; image.h the
 * format and the interface the VFS sees). Not for use outside them.
 *
 *   image.c         attach (create or load) and detach
 *   image-crc.c     CRC32C of blocks and streams
 *   image-alloc.c   the block allocator, block I/O, writepage
 *   image-commit.c  serializing the tree, writing a generation (commit)
 *   image-load.c    reading superblocks and streams, rebuilding the tree
 *   image-delta.c   replaying deltas over the base into one stream
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "image.h"

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

/* The page private word (page_private()): the page's block in the low 32
 * bits (0: not written yet), the CRC32C of what was written there in the
 * high 32. Images are therefore limited to 2^32 blocks (16 TiB). */
#define PRIV_BLK(v) ((uint64_t)(uint32_t)(v))
#define PRIV_CRC(v) ((uint32_t)((v) >> 32))
#define PRIV(blk, crc) ((uint64_t)(blk) | ((uint64_t)(crc) << 32))
#define IMAGE_BLOCKS_MAX (UINT64_C(1) << 32)

/* ---- image-alloc.c ------------------------------------------------------ */

static inline bool bit_test(const uint64_t *map, uint64_t b)
{
	return map[b / 64] & (UINT64_C(1) << (b % 64));
}

static inline void bit_set(uint64_t *map, uint64_t b)
{
	map[b / 64] |= UINT64_C(1) << (b % 64);
}

static inline void bit_clear(uint64_t *map, uint64_t b)
{
	map[b / 64] &= ~(UINT64_C(1) << (b % 64));
}

static inline size_t div_up(size_t a, size_t b)
{
	return a / b + (a % b != 0);
}

/* A block neither live nor committed, marked live. Returns 0 and @blk, or -ENOSPC. */
int block_alloc(struct image *img, uint64_t *blk);
/* Whole-buffer pwrite/pread, EINTR retried; pread_all: -ENODATA when short. */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int pread_all(int fd, void *buf, size_t len, uint64_t off);
/* The address space operations of every inode while an image is attached. */
extern const struct address_space_operations image_aops;

/* ---- image-commit.c: a growing byte stream ------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* Append @len bytes; on failure b->err is set and later calls do nothing. */
void buf_put(struct buf *b, const void *data, size_t len);
static inline void put64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }
static inline void put32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }

/* ---- image-load.c: reading a stream back --------------------------------- */

struct loader {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
	char *msg;
	size_t msg_size;
};

/* Say why in l->msg ("corrupt: ..."); returns -EUCLEAN. */
int corrupt(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline const void *take(struct loader *l, size_t n)
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
static inline void get_bytes(struct loader *l, void *out, size_t len)
{
	const void *p = take(l, len);

	if (p)
		memcpy(out, p, len);
	else
		memset(out, 0, len);
}

static inline uint64_t get64(struct loader *l) { uint64_t v; get_bytes(l, &v, 8); return v; }
static inline uint32_t get32(struct loader *l) { uint32_t v; get_bytes(l, &v, 4); return v; }

static inline void get_ts(struct loader *l, struct timespec *ts)
{
	ts->tv_sec = (time_t)get64(l);
	ts->tv_nsec = (long)get64(l);
	if ((uint64_t)ts->tv_nsec >= 1000000000)
		l->bad = true;
}

static inline bool chain_ok(uint64_t first, uint64_t blocks, uint64_t len, uint64_t total)
{
	return first >= 2 && first < total && blocks && blocks <= total &&
	       len <= blocks * IMAGE_META_PAYLOAD;
}

/* Read and check the superblock slots; the valid one with the highest generation. */
int read_super(int fd, struct image_super *best, struct loader *l, uint64_t file_blocks, bool *v1);
/* Read one stream's chain of blocks, checking each block and the whole;
 * the blocks are marked in @map and appended to img->meta. */
int read_chain(int fd, const struct chain *c, uint64_t total_blocks, uint8_t **stream,
	       uint64_t *map, struct image *img, struct loader *l);
/* Rebuild the tree from @stream (a base, or one merged from deltas);
 * @check_map: the stream ends with the allocator bitmap, which must equal
 * @map as rebuilt from the references. */
int load_stream(struct super_block *sb, struct image *img, const struct image_super *su,
		const uint8_t *stream, uint64_t *map, bool check_map, struct loader *l);

/* ---- image-delta.c ------------------------------------------------------ */

/* Base plus deltas as one stream for load_stream(); @su describes the
 * result (meta_len) on return. */
int read_merged(struct image *img, struct image_super *su, uint8_t **stream, struct loader *l);
