/* SPDX-License-Identifier: MIT */
/*
 * Page frames for file data (the role of mm/page_alloc.c): 4 KiB pages
 * carved from 2 MiB chunks that are 2 MiB aligned and madvise()d for
 * transparent huge pages, so a gigabyte of new data costs 512 faults of
 * pre-zeroed huge pages instead of 262,144 small faults and the heap
 * growth of malloc's per-thread arenas (measured: the largest costs of a
 * sequential write before this allocator).
 *
 * Each chunk keeps its own free list in its first page (the chunk header);
 * chunks with free pages are on the allocator's partial list. A chunk whose
 * pages are all free again goes back to the system, except one spare, so
 * deleting files returns memory.
 *
 * Locking: the caller's (the file system lock).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs.h"

#define CHUNK_SIZE (UINT64_C(2) << 20)
#define CHUNK_PAGES ((unsigned)(CHUNK_SIZE / KVFS_PAGE_SIZE))
#define CHUNK_USABLE (CHUNK_PAGES - 1) /* page 0 is the header */

struct page_chunk {
	struct page_chunk *prev, *next; /* partial list */
	void *free;                     /* freed pages, linked through their first word */
	unsigned nfree;                 /* pages on @free plus never handed out */
	unsigned fresh;                 /* next never-used page index (1..CHUNK_PAGES) */
	bool on_partial;
	uint64_t *priv;                 /* page_private(), per page index */
};

static struct page_chunk *chunk_of(const void *page)
{
	return (struct page_chunk *)((uintptr_t)page & ~(uintptr_t)(CHUNK_SIZE - 1));
}

static void partial_add(struct page_allocator *pa, struct page_chunk *c)
{
	c->prev = NULL;
	c->next = pa->partial;
	if (pa->partial)
		pa->partial->prev = c;
	pa->partial = c;
	c->on_partial = true;
}

static void partial_del(struct page_allocator *pa, struct page_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		pa->partial = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->on_partial = false;
}

static struct page_chunk *chunk_new(struct page_allocator *pa)
{
	/* Over-allocate to find a 2 MiB boundary, then trim both ends. */
	size_t len = 2 * CHUNK_SIZE;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *start, *end;
	struct page_chunk *c;

	if (p == MAP_FAILED)
		return NULL;
	start = (uint8_t *)(((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1));
	end = start + CHUNK_SIZE;
	if (start > p)
		munmap(p, (size_t)(start - p));
	if (p + len > end)
		munmap(end, (size_t)(p + len - end));
	/* Best effort: without THP the chunk is simply 512 small pages. */
	(void)madvise(start, CHUNK_SIZE, MADV_HUGEPAGE);
	c = (struct page_chunk *)start;
	memset(c, 0, sizeof(*c));
	c->priv = calloc(CHUNK_PAGES, sizeof(*c->priv));
	if (!c->priv) {
		munmap(start, CHUNK_SIZE);
		return NULL;
	}
	c->nfree = CHUNK_USABLE;
	c->fresh = 1;
	pa->chunks++;
	return c;
}

/**
 * page_alloc() - one 4 KiB page. @zero: the page must read as zeros
 * (pages never used are; recycled ones are cleared).
 * Returns NULL when the system is out of memory.
 */
void *page_alloc(struct page_allocator *pa, bool zero)
{
	struct page_chunk *c = pa->partial;
	void *page;

	if (!c) {
		c = chunk_new(pa);
		if (!c)
			return NULL;
		partial_add(pa, c);
	}
	if (c->free) {
		page = c->free;
		c->free = *(void **)page;
		if (zero)
			memset(page, 0, KVFS_PAGE_SIZE);
	} else {
		page = (uint8_t *)c + (size_t)c->fresh * KVFS_PAGE_SIZE;
		c->fresh++;
	}
	if (--c->nfree == 0)
		partial_del(pa, c);
	if (c == pa->spare)
		pa->spare = NULL;
	pa->pages++;
	return page;
}

/** page_free() - give a page back; an emptied chunk goes to the system. */
void page_free(struct page_allocator *pa, void *page)
{
	struct page_chunk *c = chunk_of(page);

	c->priv[((uintptr_t)page - (uintptr_t)c) / KVFS_PAGE_SIZE] = 0;
	*(void **)page = c->free;
	c->free = page;
	c->nfree++;
	pa->pages--;
	if (!c->on_partial)
		partial_add(pa, c);
	if (c->nfree < CHUNK_USABLE)
		return;
	/* Wholly free: keep one spare chunk, unmap the rest. */
	if (!pa->spare) {
		pa->spare = c;
		return;
	}
	partial_del(pa, c);
	free(c->priv);
	munmap(c, CHUNK_SIZE);
	pa->chunks--;
}

uint64_t *page_private(void *page)
{
	struct page_chunk *c = chunk_of(page);

	return &c->priv[((uintptr_t)page - (uintptr_t)c) / KVFS_PAGE_SIZE];
}

/** page_allocator_destroy() - unmap every chunk (all pages must be free). */
void page_allocator_destroy(struct page_allocator *pa)
{
	while (pa->partial) {
		struct page_chunk *c = pa->partial;

		partial_del(pa, c);
		free(c->priv);
		munmap(c, CHUNK_SIZE);
		pa->chunks--;
	}
	pa->spare = NULL;
}
