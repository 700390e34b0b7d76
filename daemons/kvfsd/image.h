/* SPDX-License-Identifier: MIT */
/*
 * Optional persistence of a kvfsd tree to an image file (image.c).
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
 * The metadata of a generation is one byte stream (inode table, directory
 * entries, allocator bitmap) in a chain of metadata blocks, each with a
 * struct image_meta_header (CRC32C of the block); the superblock holds the
 * stream's first block, length and CRC32C, and its own CRC32C. Every data
 * block's CRC32C is in the inode table.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

#define IMAGE_MAGIC "KVFSIMG1"
#define IMAGE_META_MAGIC "KVMB"
#define IMAGE_VERSION 1
#define IMAGE_COMMIT_DEFAULT 5 /* seconds between flusher commits */

struct image_super {
	char magic[8];            /* IMAGE_MAGIC */
	uint32_t version;         /* IMAGE_VERSION */
	uint32_t block_size;      /* 4096 */
	uint64_t generation;      /* commits since creation, from 1 */
	uint64_t total_blocks;    /* blocks of the image, superblocks included */
	uint64_t data_blocks_max; /* the size= limit in pages */
	uint64_t meta_first;      /* first metadata block */
	uint64_t meta_blocks;     /* metadata blocks in the chain */
	uint64_t meta_len;        /* bytes of the metadata stream */
	uint64_t next_ino;
	uint64_t root_ino;
	uint32_t meta_crc;        /* CRC32C of the stream */
	uint32_t crc;             /* CRC32C of this struct with crc = 0 */
};

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

/** image_generation() - the committed generation, for the log. */
uint64_t image_generation(const struct super_block *sb);
