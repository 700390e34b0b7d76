/* SPDX-License-Identifier: MIT */
/*
 * The dentry cache (fs/dcache.c): see dcache.h for the rules.
 *
 * Hash: chained buckets, a power of two, doubled when the load passes 1.
 * The key mixes the parent's address with FNV-1a of the name, so the same
 * name in two directories lands in different chains.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dcache.h"
#include "fs.h"

#define DCACHE_MIN_BUCKETS 1024

static uint32_t d_hash_name(const struct dentry *parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uintptr_t)parent >> 4);

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

int dcache_init(struct dcache *dc, uint64_t lru_max)
{
	memset(dc, 0, sizeof(*dc));
	dc->buckets = calloc(DCACHE_MIN_BUCKETS, sizeof(*dc->buckets));
	if (!dc->buckets)
		return -ENOMEM;
	dc->nbuckets = DCACHE_MIN_BUCKETS;
	dc->lru_max = lru_max;
	return 0;
}

void dcache_destroy(struct dcache *dc)
{
	if (!dc)
		return;
	free(dc->buckets);
	dc->buckets = NULL;
	dc->nbuckets = 0;
}

static void d_rehash_all(struct dcache *dc)
{
	size_t n = dc->nbuckets * 2;
	struct dentry **b = calloc(n, sizeof(*b));

	/* Out of memory: keep the old table, only chains get longer. */
	if (!b)
		return;
	for (size_t i = 0; i < dc->nbuckets; i++) {
		struct dentry *d = dc->buckets[i], *next;

		for (; d; d = next) {
			next = d->d_hnext;
			d->d_hnext = b[d->d_hash & (n - 1)];
			b[d->d_hash & (n - 1)] = d;
		}
	}
	free(dc->buckets);
	dc->buckets = b;
	dc->nbuckets = n;
}

static void d_hash_add(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dentry **head;

	if (dc->nr_hashed >= dc->nbuckets)
		d_rehash_all(dc);
	head = &dc->buckets[d->d_hash & (dc->nbuckets - 1)];
	d->d_hnext = *head;
	*head = d;
	d->d_flags |= DCACHE_HASHED;
	dc->nr_hashed++;
	if (!d->d_inode)
		dc->nr_negative++;
}

static void d_hash_del(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dentry **pp;

	if (!(d->d_flags & DCACHE_HASHED))
		return;
	for (pp = &dc->buckets[d->d_hash & (dc->nbuckets - 1)]; *pp; pp = &(*pp)->d_hnext)
		if (*pp == d) {
			*pp = d->d_hnext;
			break;
		}
	d->d_hnext = NULL;
	d->d_flags &= ~DCACHE_HASHED;
	dc->nr_hashed--;
	if (!d->d_inode)
		dc->nr_negative--;
}

static void d_lru_del(struct dentry *d)
{
	struct dcache *dc = d->d_cache;

	if (!(d->d_flags & DCACHE_LRU))
		return;
	if (d->d_lru_prev)
		d->d_lru_prev->d_lru_next = d->d_lru_next;
	else
		dc->lru_head = d->d_lru_next;
	if (d->d_lru_next)
		d->d_lru_next->d_lru_prev = d->d_lru_prev;
	else
		dc->lru_tail = d->d_lru_prev;
	d->d_lru_prev = d->d_lru_next = NULL;
	d->d_flags &= ~DCACHE_LRU;
	dc->nr_lru--;
}

static void d_lru_add(struct dentry *d)
{
	struct dcache *dc = d->d_cache;

	d->d_lru_prev = NULL;
	d->d_lru_next = dc->lru_head;
	if (dc->lru_head)
		dc->lru_head->d_lru_prev = d;
	else
		dc->lru_tail = d;
	dc->lru_head = d;
	d->d_flags |= DCACHE_LRU;
	dc->nr_lru++;
}

static void d_sib_del(struct dentry *d)
{
	struct dentry *p = d->d_parent;

	if (!p)
		return;
	if (d->d_sib_prev)
		d->d_sib_prev->d_sib_next = d->d_sib_next;
	else
		p->d_child_head = d->d_sib_next;
	if (d->d_sib_next)
		d->d_sib_next->d_sib_prev = d->d_sib_prev;
	else
		p->d_child_tail = d->d_sib_prev;
	d->d_sib_prev = d->d_sib_next = NULL;
}

static void d_sib_add_tail(struct dentry *d, struct dentry *p)
{
	d->d_parent = p;
	d->d_sib_next = NULL;
	d->d_sib_prev = p->d_child_tail;
	if (p->d_child_tail)
		p->d_child_tail->d_sib_next = d;
	else
		p->d_child_head = d;
	p->d_child_tail = d;
}

static void d_free(struct dentry *d)
{
	if (d->d_name != d->d_iname)
		free(d->d_name);
	d->d_cache->nr_dentries--;
	free(d);
}

/* Name storage for @len bytes: the inline buffer, or a new allocation.
 * Returns NULL only when an allocation fails. */
static char *d_name_storage(struct dentry *d, size_t len)
{
	return len < DNAME_INLINE_LEN ? d->d_iname : malloc(len + 1);
}

static struct dentry *d_new(struct dcache *dc, const char *name, size_t len)
{
	struct dentry *d = calloc(1, sizeof(*d));
	char *s;

	if (!d)
		return NULL;
	s = d_name_storage(d, len);
	if (!s) {
		free(d);
		return NULL;
	}
	memcpy(s, name, len);
	s[len] = '\0';
	d->d_name = s;
	d->d_len = len;
	d->d_cache = dc;
	d->d_next_off = D_OFF_FIRST;
	dc->nr_dentries++;
	return d;
}

/**
 * d_make_root() - the root dentry, positive, pinned, not hashed.
 * @root_inode: its inode; the caller's reference moves to the dentry.
 */
struct dentry *d_make_root(struct dcache *dc, struct inode *root_inode)
{
	struct dentry *d = d_new(dc, "/", 1);

	if (!d)
		return NULL;
	d->d_inode = root_inode;
	d->d_flags = DCACHE_PINNED;
	root_inode->i_dentry = d;
	dc->nr_positive++;
	return d;
}

/**
 * d_lookup() - find @name in @parent, positive or negative.
 * Counts a hit or a miss. Returns the dentry with a reference (dput() it),
 * or NULL.
 */
struct dentry *d_lookup(struct dentry *parent, const char *name, size_t len)
{
	struct dcache *dc = parent->d_cache;
	uint32_t h = d_hash_name(parent, name, len);

	for (struct dentry *d = dc->buckets[h & (dc->nbuckets - 1)]; d; d = d->d_hnext) {
		if (d->d_hash != h || d->d_parent != parent || d->d_len != len ||
		    memcmp(d->d_name, name, len))
			continue;
		dc->hits++;
		return dget(d);
	}
	dc->misses++;
	return NULL;
}

/**
 * d_alloc() - a new negative dentry for @name in @parent, hashed, with one
 * reference for the caller. Returns NULL when out of memory.
 */
struct dentry *d_alloc(struct dentry *parent, const char *name, size_t len)
{
	struct dentry *d = d_new(parent->d_cache, name, len);

	if (!d)
		return NULL;
	d->d_count = 1;
	d->d_hash = d_hash_name(parent, name, len);
	d_sib_add_tail(d, parent);
	d_hash_add(d);
	return d;
}

/* A directory's list of names changed: the image's next commit rewrites
 * it (I_IMAGE_DIRENTS). */
static void d_dir_changed(const struct dentry *dir)
{
	if (dir && dir->d_inode)
		inode_dirents_changed(dir->d_inode);
}

/**
 * d_instantiate() - turn a negative dentry positive.
 * @inode: takes over the caller's inode reference.
 * The name gets the next readdir position in its directory.
 */
void d_instantiate(struct dentry *d, struct inode *inode)
{
	struct dcache *dc = d->d_cache;
	struct dentry *p = d->d_parent;

	d_lru_del(d);
	if (d->d_flags & DCACHE_HASHED)
		dc->nr_negative--;
	d->d_inode = inode;
	d->d_flags |= DCACHE_PINNED;
	dc->nr_positive++;
	if (S_ISDIR(inode->i_mode))
		inode->i_dentry = d;
	if (p) {
		d_sib_del(d);
		d->d_off = p->d_next_off++;
		d_sib_add_tail(d, p);
		d_dir_changed(p);
	}
}

static void d_drop_inode(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct inode *inode = d->d_inode;

	d_dir_changed(d->d_parent);
	d->d_inode = NULL;
	d->d_flags &= ~DCACHE_PINNED;
	dc->nr_positive--;
	if (d->d_flags & DCACHE_HASHED)
		dc->nr_negative++;
	if (S_ISDIR(inode->i_mode) && inode->i_dentry == d)
		inode->i_dentry = NULL;
	iput(inode);
}

/**
 * d_delete() - the name is gone: the dentry turns negative (and stays
 * cached) and drops its inode reference. Link counts are the caller's.
 */
void d_delete(struct dentry *d)
{
	if (!d->d_inode)
		return;
	d_drop_inode(d);
	if (!d->d_count && (d->d_flags & DCACHE_HASHED)) {
		d_lru_add(d);
		dcache_shrink(d->d_cache, d->d_cache->lru_max);
	}
}

/* Unhash and unlink from the parent; free when nobody holds it. */
static void d_kill(struct dentry *d)
{
	d_lru_del(d);
	d_hash_del(d);
	d_sib_del(d);
	d->d_parent = NULL;
	if (!d->d_count && !(d->d_flags & DCACHE_PINNED))
		d_free(d);
}

struct dentry *dget(struct dentry *d)
{
	d_lru_del(d);
	d->d_count++;
	return d;
}

void dput(struct dentry *d)
{
	if (!d)
		return;
	if (--d->d_count)
		return;
	if (d->d_flags & DCACHE_PINNED)
		return;
	if (!(d->d_flags & DCACHE_HASHED)) {
		d_free(d);
		return;
	}
	d_lru_add(d);
	dcache_shrink(d->d_cache, d->d_cache->lru_max);
}

/**
 * dcache_shrink() - evict unused negative dentries from the cold end of
 * the LRU until at most @keep remain.
 */
void dcache_shrink(struct dcache *dc, uint64_t keep)
{
	while (dc->nr_lru > keep) {
		struct dentry *d = dc->lru_tail;

		d_kill(d);
		dc->evictions++;
	}
}

/*
 * Swap the names of two dentries without allocating (the kernel's
 * swap_names()): external names trade pointers, inline names are copied.
 */
static void d_swap_names(struct dentry *a, struct dentry *b)
{
	char tmp[DNAME_INLINE_LEN];
	bool ia = a->d_name == a->d_iname, ib = b->d_name == b->d_iname;
	size_t la = a->d_len, lb = b->d_len;
	uint32_t h = a->d_hash;

	if (ia && ib) {
		memcpy(tmp, a->d_iname, la + 1);
		memcpy(a->d_iname, b->d_iname, lb + 1);
		memcpy(b->d_iname, tmp, la + 1);
	} else if (ia) {
		a->d_name = b->d_name;
		memcpy(b->d_iname, a->d_iname, la + 1);
		b->d_name = b->d_iname;
	} else if (ib) {
		b->d_name = a->d_name;
		memcpy(a->d_iname, b->d_iname, lb + 1);
		a->d_name = a->d_iname;
	} else {
		char *t = a->d_name;

		a->d_name = b->d_name;
		b->d_name = t;
	}
	a->d_len = lb;
	b->d_len = la;
	a->d_hash = b->d_hash;
	b->d_hash = h;
}

/**
 * d_move() - rename: @d takes the parent and name of @target, which leaves
 * the cache. @target must be negative (the caller has d_delete()d a
 * replaced inode). Cannot fail.
 */
void d_move(struct dentry *d, struct dentry *target)
{
	struct dentry *p = target->d_parent;

	d_dir_changed(d->d_parent);
	d_dir_changed(p);
	d_lru_del(target);
	d_hash_del(d);
	d_hash_del(target);
	d_sib_del(d);
	d_swap_names(d, target);
	d_kill(target);
	d->d_off = p->d_next_off++;
	d_sib_add_tail(d, p);
	d_hash_add(d);
}

/**
 * d_exchange() - RENAME_EXCHANGE: two positive dentries swap names and
 * parents. Cannot fail.
 */
void d_exchange(struct dentry *a, struct dentry *b)
{
	struct dentry *pa = a->d_parent, *pb = b->d_parent;

	d_dir_changed(pa);
	d_dir_changed(pb);
	d_hash_del(a);
	d_hash_del(b);
	d_sib_del(a);
	d_sib_del(b);
	d_swap_names(a, b);
	a->d_off = pb->d_next_off++;
	d_sib_add_tail(a, pb);
	b->d_off = pa->d_next_off++;
	d_sib_add_tail(b, pa);
	d_hash_add(a);
	d_hash_add(b);
}

/**
 * d_prune_children() - drop the (negative) children of a directory that is
 * being removed; the caller has checked that none is positive.
 */
void d_prune_children(struct dentry *dir)
{
	while (dir->d_child_head)
		d_kill(dir->d_child_head);
}

bool d_is_ancestor(const struct dentry *ancestor, const struct dentry *d)
{
	for (; d; d = d->d_parent)
		if (d == ancestor)
			return true;
	return false;
}

/* readdir: the first positive child whose position is after @pos. */
struct dentry *d_first_positive_after(const struct dentry *dir, uint64_t pos)
{
	for (struct dentry *d = dir->d_child_head; d; d = d->d_sib_next)
		if ((d->d_flags & DCACHE_PINNED) && d->d_off > pos)
			return d;
	return NULL;
}

struct dentry *d_next_positive(const struct dentry *d)
{
	for (d = d->d_sib_next; d; d = d->d_sib_next)
		if (d->d_flags & DCACHE_PINNED)
			return (struct dentry *)d;
	return NULL;
}

/**
 * d_kill_tree() - unmount: drop every dentry under and including @root,
 * children first, releasing their inode references. Dentries still
 * referenced (a leak) are left allocated and stay counted.
 */
void d_kill_tree(struct dentry *root)
{
	struct dentry *d = root;

	/* Iterative post-order walk: descend to a leaf, kill it, repeat. */
	while (d) {
		struct dentry *parent;

		if (d->d_child_head) {
			d = d->d_child_head;
			continue;
		}
		parent = d->d_parent;
		if (d->d_inode)
			d_drop_inode(d);
		d_kill(d);
		if (d == root)
			break;
		d = parent;
	}
}
