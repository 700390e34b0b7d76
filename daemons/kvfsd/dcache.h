/* SPDX-License-Identifier: MIT */
/*
 * The dentry cache (include/linux/dcache.h, fs/dcache.c): names in
 * directories, found through one hash on (parent, name).
 *
 * kvfsd keeps file data and directories in memory, so, as in ramfs and
 * tmpfs, a positive dentry *is* the directory entry: it is pinned while the
 * name exists and never evicted. Negative dentries ("this name does not
 * exist") are pure cache: created by a failed lookup, kept on an LRU list
 * while unused, evicted from its cold end beyond a limit, and turned
 * positive again when the name is created.
 *
 * Every dentry is on its parent's child list, in the order of d_off, the
 * readdir position handed out when it became positive; that keeps readdir
 * offsets stable while the directory changes.
 *
 * Lifetime: a dentry lives while it is pinned (positive), hashed (negative,
 * cached) or referenced (d_count: a call in progress, a readdir cursor).
 * dput() of the last reference to an unhashed, unpinned dentry frees it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inode;
struct super_block;

#define DNAME_INLINE_LEN 40

#define DCACHE_HASHED (1u << 0)   /* findable by d_lookup() */
#define DCACHE_PINNED (1u << 1)   /* positive: the name exists */
#define DCACHE_LRU    (1u << 2)   /* on the LRU of unused negative dentries */

/* readdir positions 0..2 are ".", ".." and the start; children use 3.. */
#define D_OFF_FIRST 3

struct dentry {
	struct dentry *d_parent;      /* NULL for the root and for orphans */
	struct inode *d_inode;        /* NULL: negative; else holds an i_count ref */
	struct dcache *d_cache;
	char *d_name;                 /* d_iname, or allocated for long names */
	size_t d_len;
	uint32_t d_hash;
	unsigned d_flags;
	unsigned d_count;             /* references from calls and cursors */
	uint64_t d_off;               /* readdir position in the parent */
	uint64_t d_next_off;          /* directories: next position to hand out */
	struct dentry *d_hnext;       /* hash chain */
	struct dentry *d_lru_prev, *d_lru_next;
	struct dentry *d_sib_prev, *d_sib_next;     /* parent's children, by d_off */
	struct dentry *d_child_head, *d_child_tail; /* directories: children */
	char d_iname[DNAME_INLINE_LEN];
};

struct dcache {
	struct dentry **buckets;
	size_t nbuckets;              /* a power of two */
	uint64_t nr_hashed;
	struct dentry *lru_head, *lru_tail; /* head: most recently used */
	uint64_t nr_lru;
	uint64_t lru_max;             /* unused negative dentries kept */
	uint64_t nr_dentries;         /* allocated */
	uint64_t nr_positive;
	uint64_t nr_negative;         /* hashed negative */
	uint64_t hits, misses, evictions;
};

int dcache_init(struct dcache *dc, uint64_t lru_max);
void dcache_destroy(struct dcache *dc);
struct dentry *d_make_root(struct dcache *dc, struct inode *root_inode);
struct dentry *d_lookup(struct dentry *parent, const char *name, size_t len);
struct dentry *d_alloc(struct dentry *parent, const char *name, size_t len);
void d_instantiate(struct dentry *dentry, struct inode *inode);
void d_delete(struct dentry *dentry);
void d_move(struct dentry *dentry, struct dentry *target);
void d_exchange(struct dentry *a, struct dentry *b);
void d_prune_children(struct dentry *dir);
struct dentry *dget(struct dentry *dentry);
void dput(struct dentry *dentry);
void dcache_shrink(struct dcache *dc, uint64_t keep);
bool d_is_ancestor(const struct dentry *ancestor, const struct dentry *d);
struct dentry *d_first_positive_after(const struct dentry *dir, uint64_t pos);
struct dentry *d_next_positive(const struct dentry *d);
void d_kill_tree(struct dentry *root);
