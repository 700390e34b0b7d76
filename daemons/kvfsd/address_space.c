/* SPDX-License-Identifier: MIT */
/*
 * The address space of a regular file (mm/filemap.c, lib/radix-tree.c):
 * page-sized blocks of data in a radix tree indexed by page number, with a
 * dirty tag kept at every level as the kernel's radix tree/xarray marks do,
 * so write-back visits only dirty subtrees.
 *
 * A missing page is a hole and reads as zeros (sparse files). Pages are
 * charged to the super block (super_alloc_page()), which is where ENOSPC
 * comes from. The caller checks offsets against s_maxbytes; this file only
 * assumes that every page index fits below 2^52.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

#define RADIX_SHIFT 6
#define RADIX_SLOTS (1u << RADIX_SHIFT)
#define RADIX_MASK (RADIX_SLOTS - 1)
#define RADIX_MAX_HEIGHT 9 /* 54 bits of page index */

struct radix_node {
	void *slots[RADIX_SLOTS]; /* leaves: pages; above: child nodes */
	uint64_t dirty;           /* bit i: slot i is (or holds) a dirty page */
	unsigned count;           /* non-NULL slots */
};

/* Holes read from here. */
static const unsigned char zero_page[KVFS_PAGE_SIZE] __attribute__((aligned(4096)));

void mapping_init(struct address_space *m, struct inode *host)
{
	memset(m, 0, sizeof(*m));
	m->host = host;
	m->a_ops = host && host->i_sb ? host->i_sb->s_aops : NULL;
}

/* The largest index a tree of @height covers, plus one (0: empty tree). */
static uint64_t radix_span(unsigned height)
{
	if (height == 0)
		return 0;
	return height >= RADIX_MAX_HEIGHT ? UINT64_MAX : UINT64_C(1) << (RADIX_SHIFT * height);
}

static unsigned radix_slot(uint64_t index, unsigned level)
{
	return (unsigned)(index >> (RADIX_SHIFT * level)) & RADIX_MASK;
}

void *mapping_find_page(const struct address_space *m, uint64_t index)
{
	struct radix_node *node = m->root;

	if (!node || index >= radix_span(m->height))
		return NULL;
	for (unsigned level = m->height - 1; level > 0; level--) {
		node = node->slots[radix_slot(index, level)];
		if (!node)
			return NULL;
	}
	return node->slots[radix_slot(index, 0)];
}

bool mapping_page_dirty(const struct address_space *m, uint64_t index)
{
	struct radix_node *node = m->root;

	if (!node || index >= radix_span(m->height))
		return false;
	for (unsigned level = m->height - 1; level > 0; level--) {
		if (!(node->dirty & (UINT64_C(1) << radix_slot(index, level))))
			return false;
		node = node->slots[radix_slot(index, level)];
	}
	return node->dirty & (UINT64_C(1) << radix_slot(index, 0));
}

static int radix_grow(struct address_space *m, uint64_t index)
{
	while (index >= radix_span(m->height)) {
		struct radix_node *n;

		if (m->height >= RADIX_MAX_HEIGHT)
			return -EFBIG;
		if (!m->root) {
			m->height++;
			continue;
		}
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->slots[0] = m->root;
		n->count = 1;
		if (m->root->dirty)
			n->dirty = 1;
		m->root = n;
		m->height++;
	}
	if (!m->root) {
		m->root = calloc(1, sizeof(*m->root));
		if (!m->root)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Find or create the page at @index and tag it dirty. @zero: a new page
 * must read as zeros (the write will not cover all of it).
 */
static int mapping_grab_dirty(struct address_space *m, uint64_t index, bool zero, void **page)
{
	struct radix_node *node;
	unsigned s;
	int r;

	r = radix_grow(m, index);
	if (r < 0)
		return r;
	node = m->root;
	for (unsigned level = m->height - 1; level > 0; level--) {
		s = radix_slot(index, level);
		if (!node->slots[s]) {
			struct radix_node *child = calloc(1, sizeof(*child));

			if (!child)
				return -ENOMEM;
			node->slots[s] = child;
			node->count++;
		}
		node->dirty |= UINT64_C(1) << s;
		node = node->slots[s];
	}
	s = radix_slot(index, 0);
	if (!node->slots[s]) {
		r = super_alloc_page(m->host->i_sb, &node->slots[s], zero);
		if (r < 0)
			return r;
		node->count++;
		m->nrpages++;
	}
	if (!(node->dirty & (UINT64_C(1) << s))) {
		node->dirty |= UINT64_C(1) << s;
		m->nrdirty++;
	}
	*page = node->slots[s];
	return 0;
}

/*
 * Parents were tagged on the way down even if the leaf allocation then
 * failed; clear tags that no longer cover a dirty page. Cheap: only called
 * on the error path.
 */
static uint64_t radix_fix_tags(struct radix_node *node, unsigned level)
{
	if (level == 0)
		return node->dirty;
	for (unsigned s = 0; s < RADIX_SLOTS; s++)
		if ((node->dirty & (UINT64_C(1) << s)) &&
		    (!node->slots[s] || !radix_fix_tags(node->slots[s], level - 1)))
			node->dirty &= ~(UINT64_C(1) << s);
	return node->dirty;
}

/**
 * mapping_write_begin() - make the pages for @len bytes at @pos present and
 * dirty, and describe them in @to for the caller to fill: the kernel's
 * write_begin, for a whole request at once, so that a reply can go out
 * before the copy (kvfs_write_op). Stops early when @to is full.
 * @reserved: bytes described, also when an error stops half-way.
 * Returns 0, or -ENOSPC/-ENOMEM for the first page that could not be had.
 * A partial page that was recycled reads as zeros around the new bytes.
 */
int mapping_write_begin(struct address_space *m, uint64_t pos, size_t len, struct iov_iter *to,
			size_t *reserved)
{
	size_t done = 0;
	int r = 0;

	while (done < len && to->nr < to->max) {
		uint64_t p = pos + done;
		size_t off = (size_t)(p & (KVFS_PAGE_SIZE - 1));
		size_t n = KVFS_PAGE_SIZE - off;
		void *page;

		if (n > len - done)
			n = len - done;
		r = mapping_grab_dirty(m, p >> KVFS_PAGE_SHIFT, n != KVFS_PAGE_SIZE, &page);
		if (r < 0) {
			if (m->root)
				radix_fix_tags(m->root, m->height - 1);
			break;
		}
		to->iov[to->nr].iov_base = (unsigned char *)page + off;
		to->iov[to->nr].iov_len = n;
		to->nr++;
		done += n;
	}
	*reserved = done;
	return r;
}

/** iov_fill() - copy @len bytes of @buf into the ranges @to describes. */
void iov_fill(const struct iov_iter *to, const void *buf, size_t len)
{
	const unsigned char *src = buf;

	for (unsigned i = 0; i < to->nr && len; i++) {
		size_t n = to->iov[i].iov_len < len ? to->iov[i].iov_len : len;

		memcpy(to->iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

/**
 * mapping_write() - copy @len bytes at @pos into the file's pages.
 * @written: bytes copied, also when an error stops the copy half-way.
 * Returns 0, or -ENOSPC/-ENOMEM for the first page that could not be had.
 */
int mapping_write(struct address_space *m, uint64_t pos, const void *buf, size_t len,
		  size_t *written)
{
	struct iovec iov[64];
	size_t done = 0;
	int r = 0;

	while (done < len && r == 0) {
		struct iov_iter to = { .iov = iov, .max = 64 };
		size_t n;

		r = mapping_write_begin(m, pos + done, len - done, &to, &n);
		page_fill(&m->host->i_sb->s_page_alloc, &to, (const unsigned char *)buf + done, n);
		done += n;
	}
	*written = done;
	return r;
}

/**
 * mapping_read() - describe @len bytes at @pos as iovecs pointing into the
 * pages (holes point at a shared zero page), for a zero-copy reply.
 * Stops early when @to is full. Returns the bytes described.
 */
ssize_t mapping_read(const struct address_space *m, uint64_t pos, size_t len,
		     struct iov_iter *to)
{
	size_t done = 0;

	while (done < len && to->nr < to->max) {
		uint64_t p = pos + done;
		size_t off = (size_t)(p & (KVFS_PAGE_SIZE - 1));
		size_t n = KVFS_PAGE_SIZE - off;
		const unsigned char *page = mapping_find_page(m, p >> KVFS_PAGE_SHIFT);

		if (n > len - done)
			n = len - done;
		to->iov[to->nr].iov_base = (void *)(page ? page + off : zero_page);
		to->iov[to->nr].iov_len = n;
		to->nr++;
		done += n;
	}
	return (ssize_t)done;
}

/* Free pages with index in [first, last] below @node; returns whether the
 * node became empty. */
static bool radix_free_range(struct address_space *m, struct radix_node *node, unsigned level,
			     uint64_t base, uint64_t first, uint64_t last)
{
	uint64_t step = UINT64_C(1) << (RADIX_SHIFT * level);

	for (unsigned s = 0; s < RADIX_SLOTS; s++) {
		uint64_t lo = base + s * step, hi = lo + step - 1;

		if (hi < first || !node->slots[s])
			continue;
		if (lo > last)
			break;
		if (level == 0) {
			super_free_page(m->host->i_sb, node->slots[s]);
			m->nrpages--;
			if (node->dirty & (UINT64_C(1) << s))
				m->nrdirty--;
		} else if (!radix_free_range(m, node->slots[s], level - 1, lo, first, last)) {
			if (!radix_fix_tags(node->slots[s], level - 1))
				node->dirty &= ~(UINT64_C(1) << s);
			continue;
		} else {
			free(node->slots[s]);
		}
		node->slots[s] = NULL;
		node->dirty &= ~(UINT64_C(1) << s);
		node->count--;
	}
	return node->count == 0;
}

/* Zero part of a present page; the page changed, so it is tagged dirty
 * (an image must get the zeros, or a later extension would show stale
 * bytes). Tagging a present page allocates nothing and cannot fail. */
static void zero_part(struct address_space *m, uint64_t index, size_t from, size_t to)
{
	void *page = mapping_find_page(m, index);

	if (page && from < to) {
		memset((unsigned char *)page + from, 0, to - from);
		(void)mapping_grab_dirty(m, index, false, &page);
	}
}

/**
 * mapping_truncate() - make bytes [@start, @end) holes: pages wholly inside
 * are freed, partial pages at either edge are zeroed in place.
 * @end: exclusive; UINT64_MAX for "to the end" (truncate).
 */
int mapping_truncate(struct address_space *m, uint64_t start, uint64_t end)
{
	uint64_t first = (start + KVFS_PAGE_SIZE - 1) >> KVFS_PAGE_SHIFT; /* first whole page */
	uint64_t stop = end == UINT64_MAX ? UINT64_MAX : end >> KVFS_PAGE_SHIFT; /* first page not wholly inside */

	if (start >= end || !m->root)
		return 0;
	if (start & (KVFS_PAGE_SIZE - 1)) {
		uint64_t idx = start >> KVFS_PAGE_SHIFT;
		uint64_t page_end = (idx + 1) << KVFS_PAGE_SHIFT;

		zero_part(m, idx, (size_t)(start & (KVFS_PAGE_SIZE - 1)),
			  end < page_end ? (size_t)(end - (idx << KVFS_PAGE_SHIFT)) : KVFS_PAGE_SIZE);
	}
	if (end != UINT64_MAX && (end & (KVFS_PAGE_SIZE - 1)) &&
	    (end >> KVFS_PAGE_SHIFT) >= first)
		zero_part(m, end >> KVFS_PAGE_SHIFT, 0, (size_t)(end & (KVFS_PAGE_SIZE - 1)));
	if (first < stop &&
	    radix_free_range(m, m->root, m->height - 1, 0, first, stop - 1)) {
		free(m->root);
		m->root = NULL;
		m->height = 0;
	}
	return 0;
}

static uint64_t radix_count_range(const struct radix_node *node, unsigned level, uint64_t base,
				  uint64_t first, uint64_t last)
{
	uint64_t step = UINT64_C(1) << (RADIX_SHIFT * level), n = 0;

	for (unsigned s = 0; s < RADIX_SLOTS; s++) {
		uint64_t lo = base + s * step, hi = lo + step - 1;

		if (hi < first || !node->slots[s])
			continue;
		if (lo > last)
			break;
		n += level == 0 ? 1 : radix_count_range(node->slots[s], level - 1, lo, first, last);
	}
	return n;
}

/** mapping_pages_missing() - holes among the pages that bytes [@start, @end) touch. */
uint64_t mapping_pages_missing(const struct address_space *m, uint64_t start, uint64_t end)
{
	uint64_t first, last, present = 0;

	if (start >= end)
		return 0;
	first = start >> KVFS_PAGE_SHIFT;
	last = (end - 1) >> KVFS_PAGE_SHIFT;
	if (m->root)
		present = radix_count_range(m->root, m->height - 1, 0, first, last);
	return last - first + 1 - present;
}

/**
 * mapping_allocate() - fallocate: back bytes [@start, @end) with zeroed
 * pages. All or nothing: -ENOSPC before anything is allocated.
 */
int mapping_allocate(struct address_space *m, uint64_t start, uint64_t end)
{
	uint64_t missing = mapping_pages_missing(m, start, end);
	int r;

	if (!missing)
		return 0;
	r = super_reserve_blocks(m->host->i_sb, missing);
	if (r < 0)
		return r;
	for (uint64_t idx = start >> KVFS_PAGE_SHIFT; idx <= (end - 1) >> KVFS_PAGE_SHIFT; idx++) {
		void *page;

		if (mapping_find_page(m, idx))
			continue;
		/* A new zero page is not dirty data, but it must reach an image:
		 * tag it like a write would. */
		r = mapping_grab_dirty(m, idx, true, &page);
		if (r < 0)
			return r;
	}
	return 0;
}

static int radix_writeback(struct address_space *m, struct radix_node *node, unsigned level,
			   uint64_t base)
{
	uint64_t step = UINT64_C(1) << (RADIX_SHIFT * level);
	int r;

	while (node->dirty) {
		unsigned s = (unsigned)__builtin_ctzll(node->dirty);

		if (level == 0) {
			if (m->a_ops && m->a_ops->writepage) {
				r = m->a_ops->writepage(m, base + s, node->slots[s]);
				if (r < 0)
					return r;
			}
			m->nrdirty--;
			m->host->i_sb->s_pages_written++;
		} else {
			r = radix_writeback(m, node->slots[s], level - 1, base + s * step);
			if (r < 0)
				return r;
		}
		node->dirty &= ~(UINT64_C(1) << s);
	}
	return 0;
}

/** mapping_writeback() - write every dirty page and clean its tag. */
int mapping_writeback(struct address_space *m)
{
	if (!m->root || !m->nrdirty)
		return 0;
	return radix_writeback(m, m->root, m->height - 1, 0);
}

static uint64_t radix_next_present(const struct radix_node *node, unsigned level, uint64_t base,
				   uint64_t from)
{
	uint64_t step = UINT64_C(1) << (RADIX_SHIFT * level);

	for (unsigned s = 0; s < RADIX_SLOTS; s++) {
		uint64_t lo = base + s * step, hi = lo + step - 1, r;

		if (hi < from || !node->slots[s])
			continue;
		if (level == 0)
			return lo;
		r = radix_next_present(node->slots[s], level - 1, lo, from);
		if (r != UINT64_MAX)
			return r;
	}
	return UINT64_MAX;
}

/**
 * mapping_seek() - SEEK_DATA / SEEK_HOLE on a file of @size bytes, at page
 * granularity (an allocated page is data even where it holds zeros).
 * Returns the offset, or -ENXIO when @pos is at or past the end (or there
 * is no data after it).
 */
int64_t mapping_seek(const struct address_space *m, uint64_t pos, uint64_t size, int whence)
{
	uint64_t idx = pos >> KVFS_PAGE_SHIFT, at;

	if (pos >= size)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		idx = m->root ? radix_next_present(m->root, m->height - 1, 0, idx) : UINT64_MAX;
		if (idx == UINT64_MAX || idx >= (size + KVFS_PAGE_SIZE - 1) >> KVFS_PAGE_SHIFT)
			return -ENXIO;
		at = idx << KVFS_PAGE_SHIFT;
		return (int64_t)(at > pos ? at : pos);
	}
	if (whence != SEEK_HOLE)
		return -EINVAL;
	while (idx < (size + KVFS_PAGE_SIZE - 1) >> KVFS_PAGE_SHIFT && mapping_find_page(m, idx))
		idx++;
	at = idx << KVFS_PAGE_SHIFT;
	if (at < pos)
		at = pos;
	return (int64_t)(at < size ? at : size);
}

static int radix_each(const struct radix_node *node, unsigned level, uint64_t base,
		      int (*fn)(uint64_t, void *, void *), void *userdata)
{
	uint64_t step = UINT64_C(1) << (RADIX_SHIFT * level);

	for (unsigned s = 0; s < RADIX_SLOTS; s++) {
		int r;

		if (!node->slots[s])
			continue;
		r = level == 0 ? fn(base + s, node->slots[s], userdata)
			       : radix_each(node->slots[s], level - 1, base + s * step, fn, userdata);
		if (r)
			return r;
	}
	return 0;
}

int mapping_for_each_page(const struct address_space *m,
			  int (*fn)(uint64_t index, void *page, void *userdata), void *userdata)
{
	return m->root ? radix_each(m->root, m->height - 1, 0, fn, userdata) : 0;
}

/** mapping_release() - free every page and node (inode destruction). */
void mapping_release(struct address_space *m)
{
	if (m->root && radix_free_range(m, m->root, m->height - 1, 0, 0, UINT64_MAX)) {
		free(m->root);
	}
	m->root = NULL;
	m->height = 0;
	m->nrpages = 0;
	m->nrdirty = 0;
}
