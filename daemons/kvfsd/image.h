/* SPDX-License-Identifier: MIT */
/*
 * Optional persistence of a kvfsd tree to an image file (image.c and the
 * image-*.c files it is split into; image-internal.h lists them).
 *
 * The tree stays in memory; the image is a durable copy written by
 * copy-on-write and committed through two alternating superblocks, so an
 * interrupted commit leaves the previous generation intact. Layout (every
 * integer little-endian, 4096-byte blocks):
 *
 *   block 0, 1   superblock slots A and B (struct image_super); generation
 *                g lives in slot g % 2; mount uses the valid one with the
 *                highest generation
 *   block 2..    data blocks and metadata blocks, allocated from a bitmap;
 *                a commit never writes a block the committed generation
 *                references
 *
 * The metadata of a generation is a base stream (inode table, directory
 * entries, allocator bitmap: the whole tree as of the generation that
 * wrote it) plus, since version 2, a list of delta streams, each holding
 * only what changed in one commit (the records of changed inodes, deleted
 * inode numbers, the entry lists of changed directories) and pointing at
 * the previous delta. Every stream is a chain of metadata blocks, each with
 * a struct image_meta_header (CRC32C of the block); the superblock holds
 * the base's and the newest delta's first block, length, generation and
 * CRC32C, and its own CRC32C. Every data block's CRC32C is in the inode
 * records. A commit writes a delta, or a new base (compaction) once the
 * deltas outgrow the base; mount replays the deltas over the base.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

#define IMAGE_MAGIC "KVFSIMG1"
#define IMAGE_META_MAGIC "KVMB"
#define IMAGE_VERSION 2        /* 1: a base stream only (88-byte superblock) */
#define IMAGE_COMMIT_DEFAULT 5 /* seconds between flusher commits */

/* Version 2. Version 1 is the first 88 bytes, with its CRC32C (of those
 * 88 bytes) where delta_crc is; its stream is the base, with no deltas. */
struct image_super {
	char magic[8];            /* IMAGE_MAGIC */
	uint32_t version;         /* IMAGE_VERSION */
	uint32_t block_size;      /* 4096 */
	uint64_t generation;      /* commits since creation, from 1 */
	uint64_t total_blocks;    /* blocks of the image, superblocks included */
	uint64_t data_blocks_max; /* the size= limit in pages */
	uint64_t meta_first;      /* the base stream: first block */
	uint64_t meta_blocks;     /* its blocks */
	uint64_t meta_len;        /* its bytes */
	uint64_t next_ino;
	uint64_t root_ino;
	uint32_t meta_crc;        /* CRC32C of the base stream */
	uint32_t delta_crc;       /* CRC32C of the newest delta stream */
	uint64_t meta_generation; /* the generation that wrote the base */
	uint64_t delta_first;     /* the newest delta stream; 0 when none */
	uint64_t delta_blocks;
	uint64_t delta_len;
	uint64_t delta_generation;
	uint64_t delta_count;     /* deltas on top of the base */
	uint64_t delta_blocks_total; /* their blocks */
	uint32_t reserved;        /* 0 */
	uint32_t crc;             /* CRC32C of this struct with crc = 0 */
};

#define IMAGE_SUPER_V1_SIZE 88

struct image_meta_header {
	char magic[4];            /* IMAGE_META_MAGIC */
	uint32_t crc;             /* CRC32C of the whole block with crc = 0 */
	uint64_t generation;      /* the generation that wrote the block */
	uint64_t seq;             /* position in the chain, from 0 */
	uint64_t next;            /* next block of the chain; 0 at the end */
};

#define IMAGE_META_PAYLOAD (KVFS_PAGE_SIZE - sizeof(struct image_meta_header))

uint32_t image_crc32c(uint32_t crc, const void *buf, size_t len);

/**
 * image_attach() - open (or create) @path and make it the backing store of
 * the freshly built, empty @sb: an existing image is checked and loaded, a
 * new or empty file is initialized with @size bytes of data capacity.
 * @commit_seconds: recorded for the caller's flusher only.
 * @msg, @msg_size: a one-line reason on failure ("corrupt: ...").
 * Returns 0; -EUCLEAN for a corrupt image, -EBUSY when another kvfsd has
 * it, other -errno.
 */
int image_attach(struct super_block *sb, const char *path, uint64_t size, char *msg,
		 size_t msg_size);

/**
 * image_commit() - write the metadata of the in-memory tree (data pages
 * must have been written back) as the next generation and make it durable.
 * Called by sync_fs; -errno leaves the previous generation in force.
 */
int image_commit(struct super_block *sb);

/** image_detach() - close the image (after the last commit); NULL-safe. */
void image_detach(struct super_block *sb);

/** image_page_freed() - a page of file data is gone: its block may be reused after the next commit. */
void image_page_freed(struct super_block *sb, void *page);

/** image_inode_evicted() - @inode is being destroyed: an unlinked one leaves the image at the next commit. */
void image_inode_evicted(struct inode *inode);

/** image_generation() - the committed generation, for the log. */
uint64_t image_generation(const struct super_block *sb);
