/* SPDX-License-Identifier: MIT */
/*
 * Page frames for file data (the role of mm/page_alloc.c): 4 KiB pages
 * carved from 2 MiB chunks that are 2 MiB aligned, so a page's chunk is
 * found by masking its address, and a gigabyte of new data costs 512
 * chunks instead of 262,144 mallocs and the heap growth of malloc's
 * per-thread arenas (measured: the largest costs of a sequential write
 * before this allocator).
 *
 * The chunks are windows of one memfd (a shmem file), mapped shared, so
 * that new data can go in with pwrite(2) (page_fill()) rather than a
 * store through the mapping. A store into a page never touched makes the
 * kernel allocate it and clear it first (clear_page: ~80% of a 512 MiB
 * write on a fresh mount, perf); a whole-page pwrite into a shmem hole
 * allocates the page and copies into it, with no clearing, as a write to
 * tmpfs does. Reads and the image code go through the mapping, which
 * sees the same pages; page_fill() maps what it wrote right away (see
 * there). A thread allocates the memfd's pages ahead of need
 * (page_prefill.c). Where memfd_create() fails, the chunks are
 * anonymous memory madvise()d for transparent huge pages, as before, and
 * page_fill() stores through them.
 *
 * Each chunk keeps its own free list in its first page (the chunk header);
 * chunks with free pages are on the allocator's partial list. A chunk whose
 * pages are all free again is kept as the spare if there is none, else
 * goes to the reuse pool (below) if there is room, else back to the
 * system.
 *
 * The reuse pool: wholly free chunks kept mapped, their pages still in
 * the memfd (not punched) and their backed bits kept, so that a file
 * written after another was deleted (a rewrite, a temporary file) takes
 * pages that are already there and page_fill() stores into them: no
 * shmem allocation, no pwrite. The newest is reused first. Bounds: at
 * most page_allocator_set_pool()'s bytes (the super block: half of
 * size=), and a chunk leaves the pool for the system once it has sat
 * there PAGE_POOL_KEEP_SECONDS (page_allocator_trim(), from the daemon's
 * timer every PAGE_POOL_KEEP_SECONDS / 2 while the pool is not empty; the
 * pool_filled hook wakes it), so deleting files returns
 * their memory within 1.5 x PAGE_POOL_KEEP_SECONDS (and the timer's
 * 0.5 s slack: measured, 1 GiB deleted, 513 chunks pooled 14 s after,
 * 1 chunk 16 s after).
 *
 * Locking: the caller's (the file system lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "fs.h"
#include "page_prefill.h"

/* The kernel maps this much of a shared file mapping around a read
 * fault (fault_around_bytes, 64 KiB by default). */
#define FAULT_AROUND_BYTES (UINT64_C(64) << 10)

#define CHUNK_SIZE (UINT64_C(2) << 20)
#define CHUNK_PAGES ((unsigned)(CHUNK_SIZE / KVFS_PAGE_SIZE))
#define CHUNK_USABLE (CHUNK_PAGES - 1) /* page 0 is the header */

struct page_chunk {
	struct page_chunk *prev, *next; /* partial list */
	void *free;                     /* freed pages, linked through their first word */
	unsigned nfree;                 /* pages on @free plus never handed out */
	unsigned fresh;                 /* next never-used page index (1..CHUNK_PAGES) */
	bool on_partial;
	uint64_t pooled_at;             /* CLOCK_MONOTONIC usec it entered the pool */
	uint64_t *priv;                 /* page_private(), per page index */
	uint64_t fd_off;                /* where the chunk lies in the memfd */
	/* Pages known to be in the memfd and mapped: page_fill() stores into
	 * these rather than pwrite()s. A hint only: a wrong bit costs time. */
	uint64_t backed[CHUNK_PAGES / 64];
};

static struct page_chunk *chunk_of(const void *page)
{
	return (struct page_chunk *)((uintptr_t)page & ~(uintptr_t)(CHUNK_SIZE - 1));
}

static unsigned page_index(const struct page_chunk *c, uintptr_t addr)
{
	return (unsigned)((addr - (uintptr_t)c) / KVFS_PAGE_SIZE);
}

static bool page_backed(const struct page_chunk *c, uintptr_t addr)
{
	unsigned i = page_index(c, addr);

	return c->backed[i / 64] & (UINT64_C(1) << (i % 64));
}

/* Bytes [@addr, @addr + @len) of chunk @c were stored: their pages are in. */
static void mark_backed(struct page_chunk *c, uintptr_t addr, size_t len)
{
	for (unsigned i = page_index(c, addr); i <= page_index(c, addr + len - 1); i++)
		c->backed[i / 64] |= UINT64_C(1) << (i % 64);
}

/* The chunk lists (partial, pool): doubly linked through prev/next, new
 * chunks at the head; @tail may be NULL for a list that keeps none. */
static void chunk_list_push(struct page_chunk **head, struct page_chunk **tail,
			    struct page_chunk *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	else if (tail)
		*tail = c;
	*head = c;
}

static void chunk_list_del(struct page_chunk **head, struct page_chunk **tail,
			   struct page_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else if (tail)
		*tail = c->prev;
	c->prev = c->next = NULL;
}

static void partial_add(struct page_allocator *pa, struct page_chunk *c)
{
	chunk_list_push(&pa->partial, NULL, c);
	c->on_partial = true;
}

static void partial_del(struct page_allocator *pa, struct page_chunk *c)
{
	chunk_list_del(&pa->partial, NULL, c);
	c->on_partial = false;
}

static void chunk_unmap(struct page_allocator *pa, struct page_chunk *c);

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wholly free chunk @c (on no list) into the pool, as the newest. */
static void pool_add(struct page_allocator *pa, struct page_chunk *c)
{
	c->pooled_at = now_usec();
	chunk_list_push(&pa->pool, &pa->pool_tail, c);
	if (pa->pooled++ == 0 && pa->pool_filled)
		pa->pool_filled(pa->pool_filled_data);
}

static void pool_del(struct page_allocator *pa, struct page_chunk *c)
{
	chunk_list_del(&pa->pool, &pa->pool_tail, c);
	pa->pooled--;
}

/** page_allocator_set_pool() - keep up to @bytes of wholly free chunks
 * for reuse (see above); 0: none. Chunks beyond go back at once. */
void page_allocator_set_pool(struct page_allocator *pa, uint64_t bytes)
{
	pa->pool_max = bytes / CHUNK_SIZE;
	while (pa->pooled > pa->pool_max) {
		struct page_chunk *c = pa->pool_tail;

		pool_del(pa, c);
		chunk_unmap(pa, c);
	}
}

/**
 * page_allocator_trim() - give back the pool's chunks that have sat
 * there @age_usec or longer (0: all of them). Returns how many went.
 */
uint64_t page_allocator_trim(struct page_allocator *pa, uint64_t age_usec)
{
	uint64_t now = now_usec(), n = 0;

	while (pa->pool_tail && (!age_usec || now - pa->pool_tail->pooled_at >= age_usec)) {
		struct page_chunk *c = pa->pool_tail;

		pool_del(pa, c);
		chunk_unmap(pa, c);
		n++;
	}
	return n;
}

/**
 * page_allocator_init() - an empty allocator whose chunks live in a new
 * memfd, or in anonymous memory when there is none (see above).
 */
void page_allocator_init(struct page_allocator *pa)
{
	memset(pa, 0, sizeof(*pa));
	pa->memfd = memfd_create("kvfsd-pages", MFD_CLOEXEC);
}

/* A chunk's window of the memfd: a freed one if any, else a new one at
 * the end (the file grows; unwritten parts take no memory). */
static int chunk_fd_off(struct page_allocator *pa, uint64_t *off)
{
	if (pa->nholes) {
		*off = pa->holes[--pa->nholes];
		return 0;
	}
	if (ftruncate(pa->memfd, (off_t)(pa->fd_size + CHUNK_SIZE)) < 0)
		return -errno;
	*off = pa->fd_size;
	pa->fd_size += CHUNK_SIZE;
	prefill_ask(pa, pa->fd_size);
	return 0;
}

/* Window @off of the memfd is free (and empty) for the next chunk. */
static void hole_push(struct page_allocator *pa, uint64_t off)
{
	if (pa->nholes == pa->holes_max) {
		size_t max = pa->holes_max ? 2 * pa->holes_max : 16;
		uint64_t *h = realloc(pa->holes, max * sizeof(*h));

		if (!h)
			return; /* the window is lost, not the memory */
		pa->holes = h;
		pa->holes_max = max;
	}
	pa->holes[pa->nholes++] = off;
}

/* Give a chunk's memory back: its mapping, and with a memfd its pages and
 * its window (reused by the next chunk). */
static void chunk_unmap(struct page_allocator *pa, struct page_chunk *c)
{
	uint64_t off = c->fd_off;

	free(c->priv);
	munmap(c, CHUNK_SIZE);
	pa->chunks--;
	if (pa->memfd < 0)
		return;
	(void)fallocate(pa->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			(off_t)CHUNK_SIZE);
	hole_push(pa, off);
}

static struct page_chunk *chunk_new(struct page_allocator *pa)
{
	/* Over-map to find a 2 MiB boundary, then trim both ends. */
	size_t len = 2 * CHUNK_SIZE;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *start, *end;
	struct page_chunk *c;
	uint64_t off = 0;

	if (p == MAP_FAILED)
		return NULL;
	start = (uint8_t *)(((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1));
	end = start + CHUNK_SIZE;
	if (start > p)
		munmap(p, (size_t)(start - p));
	if (p + len > end)
		munmap(end, (size_t)(p + len - end));
	if (pa->memfd >= 0) {
		if (chunk_fd_off(pa, &off) < 0) {
			munmap(start, CHUNK_SIZE);
			return NULL;
		}
		if (mmap(start, CHUNK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 pa->memfd, (off_t)off) == MAP_FAILED) {
			munmap(start, CHUNK_SIZE);
			hole_push(pa, off);
			return NULL;
		}
	} else {
		/* Best effort: without THP the chunk is simply 512 small pages. */
		(void)madvise(start, CHUNK_SIZE, MADV_HUGEPAGE);
	}
	c = (struct page_chunk *)start;
	memset(c, 0, sizeof(*c));
	c->fd_off = off;
	c->priv = calloc(CHUNK_PAGES, sizeof(*c->priv));
	if (!c->priv) {
		pa->chunks++;
		chunk_unmap(pa, c);
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
		c = pa->pool; /* the newest: its pages are the likeliest in cache */
		if (c)
			pool_del(pa, c);
		else
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

/** page_free() - give a page back; an emptied chunk becomes the spare,
 * goes to the pool or to the system (see above). */
void page_free(struct page_allocator *pa, void *page)
{
	struct page_chunk *c = chunk_of(page);

	c->priv[((uintptr_t)page - (uintptr_t)c) / KVFS_PAGE_SIZE] = 0;
	*(void **)page = c->free;
	mark_backed(c, (uintptr_t)page, sizeof(void *));
	c->free = page;
	c->nfree++;
	pa->pages--;
	if (!c->on_partial)
		partial_add(pa, c);
	if (c->nfree < CHUNK_USABLE)
		return;
	/* Wholly free: keep one spare chunk, pool or unmap the rest. */
	if (!pa->spare) {
		pa->spare = c;
		return;
	}
	partial_del(pa, c);
	if (pa->pooled < pa->pool_max)
		pool_add(pa, c);
	else
		chunk_unmap(pa, c);
}

uint64_t *page_private(void *page)
{
	struct page_chunk *c = chunk_of(page);

	return &c->priv[((uintptr_t)page - (uintptr_t)c) / KVFS_PAGE_SIZE];
}

/**
 * page_fill() - copy @len bytes of @buf into the page ranges @to describes
 * (from mapping_write_begin()): with a memfd, one pwrite(2) per run of
 * ranges that lie back to back in it, so fresh pages are not cleared
 * first (see above). Pages already in (written before, or recycled) and
 * runs shorter than a page are stored through the mapping: nothing or
 * at most one page to clear, and a store is cheaper than the system call
 * (1 GiB overwritten in warm memory: 2.3-2.8 GB/s with pwrite, against
 * 2.8-3.7 for the anonymous chunks before the memfd). Cannot fail:
 * where a pwrite does (the system is out of memory), the rest is stored
 * through the mapping.
 *
 * Then the run's pages are mapped for the reads to come, by reading one
 * byte per FAULT_AROUND_BYTES: each such fault maps the pages around it.
 * A read's reply otherwise faults them in one by one from inside the
 * kernel's copy. 512 MiB written on a fresh mount, then read after
 * drop_caches, daemon CPU with poll=0 (perf stat, 3 rounds each,
 * interleaved): write 317-381 ms and read 75-94 ms with the touch;
 * 262-276 and 296-385 without it; 351-428 and 68-112 with
 * MADV_POPULATE_READ (a walk of every page); 257-737 and 109-151 with
 * reads pread(2) from the memfd into a buffer (one more copy). The
 * anonymous chunks before the memfd: 576-2114 and 55-100.
 */
void page_fill(const struct page_allocator *pa, const struct iov_iter *to, const void *buf,
	       size_t len)
{
	const unsigned char *src = buf;
	unsigned i = 0;

	if (pa->memfd < 0) {
		iov_fill(to, buf, len);
		return;
	}
	while (i < to->nr && len) {
		struct page_chunk *c = chunk_of(to->iov[i].iov_base);
		uintptr_t start = (uintptr_t)to->iov[i].iov_base, page_start, page_end;
		bool backed = page_backed(c, start);
		size_t n = 0;
		ssize_t w;

		/* A run: ranges of one chunk, each starting where the last
		 * ended, all in pages that are backed, or all not. */
		while (i < to->nr && n < len && chunk_of(to->iov[i].iov_base) == c &&
		       (uintptr_t)to->iov[i].iov_base == start + n &&
		       page_backed(c, start + n) == backed) {
			n += to->iov[i].iov_len;
			i++;
		}
		if (n > len)
			n = len;
		if (backed || n < KVFS_PAGE_SIZE) {
			memcpy((void *)start, src, n);
		} else {
			w = pwrite(pa->memfd, src, n, (off_t)(c->fd_off + (start - (uintptr_t)c)));
			if (w < 0)
				w = 0;
			if ((size_t)w < n)
				memcpy((unsigned char *)start + w, src + w, n - (size_t)w);
			page_start = start & ~(uintptr_t)(KVFS_PAGE_SIZE - 1);
			page_end = (start + n + KVFS_PAGE_SIZE - 1) & ~(uintptr_t)(KVFS_PAGE_SIZE - 1);
			for (uintptr_t a = page_start; a < page_end;
			     a = (a | (FAULT_AROUND_BYTES - 1)) + 1)
				(void)*(volatile const unsigned char *)a;
		}
		mark_backed(c, start, n);
		src += n;
		len -= n;
	}
}

/** page_allocator_destroy() - unmap every chunk (all pages must be free). */
void page_allocator_destroy(struct page_allocator *pa)
{
	while (pa->partial) {
		struct page_chunk *c = pa->partial;

		partial_del(pa, c);
		chunk_unmap(pa, c);
	}
	page_allocator_trim(pa, 0);
	pa->spare = NULL;
	prefill_stop(pa);
	free(pa->holes);
	pa->holes = NULL;
	pa->nholes = pa->holes_max = 0;
	if (pa->memfd >= 0)
		close(pa->memfd);
	pa->memfd = -1;
}
