/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of kvfsd's VFS core, driven directly (no FUSE): the dentry
 * cache, inode reference counts, the address space.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#include "dcache.h"
#include "fs.h"
#include "stats.h"
#include "../check-run.h"
#include "kvfs-test.h"

static const struct cred root_cred = { .fsuid = 0, .fsgid = 0, .capable = true };

static struct inode *root_of(struct super_block *sb)
{
	return sb->s_root->d_inode;
}

/* ---- dentry cache ------------------------------------------------------- */

START_TEST(test_dcache_negative_hit_miss)
{
	struct super_block *sb = test_sb_new(1 << 20, 100);
	struct dcache *dc = sb->s_dcache;
	struct dentry *d;
	struct inode *ino;

	ck_assert_int_eq(vfs_lookup(root_of(sb), "nope", &d), 0);
	ck_assert_ptr_null(d->d_inode);
	ck_assert_uint_eq(dc->misses, 1);
	dput(d);
	/* Unused negative dentry: cached on the LRU. */
	ck_assert_uint_eq(dc->nr_negative, 1);
	ck_assert_uint_eq(dc->nr_lru, 1);
	ck_assert_int_eq(vfs_lookup(root_of(sb), "nope", &d), 0);
	ck_assert_uint_eq(dc->hits, 1);
	ck_assert_uint_eq(dc->nr_lru, 0); /* in use: off the LRU */
	dput(d);
	/* Creating the name turns the negative dentry positive. */
	ck_assert_int_eq(vfs_create(root_of(sb), "nope", S_IFREG | 0644, 0, &root_cred, &ino), 0);
	ck_assert_uint_eq(dc->nr_negative, 0);
	ck_assert_uint_eq(dc->nr_lru, 0);
	ck_assert_uint_eq(dc->nr_positive, 2); /* root + nope */
	ck_assert_uint_eq(dc->nr_dentries, 2);
	/* Unlink: positive -> negative, cached again. */
	ck_assert_int_eq(vfs_unlink(root_of(sb), "nope"), 0);
	ck_assert_uint_eq(dc->nr_positive, 1);
	ck_assert_uint_eq(dc->nr_negative, 1);
	ck_assert_uint_eq(dc->nr_lru, 1);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_dcache_lru_eviction)
{
	struct super_block *sb = test_sb_new(1 << 20, 4);
	struct dcache *dc = sb->s_dcache;
	char name[32];
	struct dentry *d;

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(vfs_lookup(root_of(sb), name, &d), 0);
		dput(d);
	}
	ck_assert_uint_eq(dc->nr_lru, 4);
	ck_assert_uint_eq(dc->nr_negative, 4);
	ck_assert_uint_eq(dc->evictions, 6);
	ck_assert_uint_eq(dc->nr_dentries, 5);
	/* The most recent four survive: n6..n9 hit, n0 misses. */
	ck_assert_int_eq(vfs_lookup(root_of(sb), "n9", &d), 0);
	dput(d);
	ck_assert_uint_eq(dc->hits, 1);
	ck_assert_int_eq(vfs_lookup(root_of(sb), "n0", &d), 0);
	dput(d);
	ck_assert_uint_eq(dc->misses, 11);
	/* n0 came back, the coldest (n6) went. */
	ck_assert_int_eq(vfs_lookup(root_of(sb), "n6", &d), 0);
	dput(d);
	ck_assert_uint_eq(dc->misses, 12);
	dcache_shrink(dc, 0);
	ck_assert_uint_eq(dc->nr_negative, 0);
	ck_assert_uint_eq(dc->nr_dentries, 1);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_dcache_many_names_rehash)
{
	/* 64 MiB: room for 16384 inodes (one per 4 KiB by default). */
	struct super_block *sb = test_sb_new(64 << 20, 10);
	struct inode *ino;
	char name[64];
	struct dentry *d;

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "file-with-a-long-enough-name-%05d", i);
		ck_assert_int_eq(vfs_create(root_of(sb), name, S_IFREG | 0600, 0, &root_cred, &ino), 0);
	}
	ck_assert_uint_ge(sb->s_dcache->nbuckets, 4096);
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "file-with-a-long-enough-name-%05d", i);
		ck_assert_int_eq(vfs_lookup(root_of(sb), name, &d), 0);
		ck_assert_ptr_nonnull(d->d_inode);
		dput(d);
	}
	ck_assert_int_eq(vfs_create(root_of(sb), "file-with-a-long-enough-name-00042", S_IFREG, 0,
				    &root_cred, &ino), -EEXIST);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_dcache_rename_names)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *a, *b, *dir;
	const char *longname = "a-name-that-is-longer-than-the-inline-buffer-of-a-dentry";
	struct dentry *d;

	ck_assert_int_eq(vfs_create(root_of(sb), "short", S_IFREG | 0644, 0, &root_cred, &a), 0);
	ck_assert_int_eq(vfs_mkdir(root_of(sb), "dir", 0755, &root_cred, &dir), 0);
	ck_assert_int_eq(vfs_create(dir, longname, S_IFREG | 0644, 0, &root_cred, &b), 0);
	/* Exchange an inline name with an external one across directories. */
	ck_assert_int_eq(vfs_rename(root_of(sb), "short", dir, longname, RENAME_EXCHANGE), 0);
	ck_assert_int_eq(vfs_lookup(dir, longname, &d), 0);
	ck_assert_ptr_eq(d->d_inode, a);
	dput(d);
	ck_assert_int_eq(vfs_lookup(root_of(sb), "short", &d), 0);
	ck_assert_ptr_eq(d->d_inode, b);
	dput(d);
	/* Plain rename over an existing name frees the victim. */
	ck_assert_int_eq(vfs_rename(dir, longname, root_of(sb), "short", 0), 0);
	ck_assert_uint_eq(sb->s_inodes_live, 3); /* root, dir, a */
	ck_assert_int_eq(vfs_lookup(root_of(sb), "short", &d), 0);
	ck_assert_ptr_eq(d->d_inode, a);
	dput(d);
	ck_assert_int_eq(vfs_rename(root_of(sb), "short", dir, "x", RENAME_NOREPLACE), 0);
	ck_assert_int_eq(vfs_create(root_of(sb), "y", S_IFREG, 0, &root_cred, &b), 0);
	ck_assert_int_eq(vfs_rename(root_of(sb), "y", dir, "x", RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(vfs_rename(root_of(sb), "dir", dir, "sub", 0), -EINVAL);
	ck_assert_int_eq(vfs_rename(root_of(sb), "gone", dir, "x", 0), -ENOENT);
	ck_assert_int_eq(vfs_rename(root_of(sb), "y", root_of(sb), "dir", 0), -EISDIR);
	ck_assert_int_eq(vfs_rename(root_of(sb), "dir", root_of(sb), "y", 0), -ENOTDIR);
	test_sb_done(sb);
}
END_TEST

/* ---- inode reference counts ---------------------------------------------- */

START_TEST(test_inode_lookup_forget)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino;

	ck_assert_int_eq(vfs_create(root_of(sb), "f", S_IFREG | 0644, 0, &root_cred, &ino), 0);
	ck_assert_uint_eq(ino->i_count, 1);   /* the dentry's */
	inode_lookup_ref(ino);                /* the kernel's, as after an entry reply */
	inode_lookup_ref(ino);
	ck_assert_int_eq(vfs_unlink(root_of(sb), "f"), 0);
	ck_assert_uint_eq(ino->i_nlink, 0);
	ck_assert_uint_eq(ino->i_count, 0);
	/* Still known to the kernel: alive. */
	ck_assert_uint_eq(sb->s_inodes_live, 2);
	inode_forget(ino, 1);
	ck_assert_uint_eq(sb->s_inodes_live, 2);
	inode_forget(ino, 1);
	ck_assert_uint_eq(sb->s_inodes_live, 1);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_inode_open_unlinked)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino;
	struct file *f;

	ck_assert_int_eq(vfs_create(root_of(sb), "f", S_IFREG | 0644, 0, &root_cred, &ino), 0);
	ck_assert_int_eq(file_open(ino, O_RDWR, &f), 0);
	ck_assert_int_eq(f->f_op->write(f, 0, "hello", 5), 5);
	ck_assert_int_eq(vfs_unlink(root_of(sb), "f"), 0);
	ck_assert_uint_eq(sb->s_inodes_live, 2);
	ck_assert_uint_eq(sb->s_blocks_used, 1);
	/* A link to an unlinked inode is refused. */
	ck_assert_int_eq(vfs_link(ino, root_of(sb), "again"), -ENOENT);
	file_release(f);
	ck_assert_uint_eq(sb->s_inodes_live, 1);
	ck_assert_uint_eq(sb->s_blocks_used, 0);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_inode_links_and_dirs)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *f, *d, *sub;

	ck_assert_int_eq(vfs_mkdir(root_of(sb), "d", 0755, &root_cred, &d), 0);
	ck_assert_uint_eq(root_of(sb)->i_nlink, 3);
	ck_assert_uint_eq(d->i_nlink, 2);
	ck_assert_int_eq(vfs_create(d, "f", S_IFREG | 0644, 0, &root_cred, &f), 0);
	ck_assert_int_eq(vfs_link(f, root_of(sb), "hard"), 0);
	ck_assert_uint_eq(f->i_nlink, 2);
	ck_assert_uint_eq(f->i_count, 2);
	ck_assert_int_eq(vfs_link(d, root_of(sb), "dirlink"), -EPERM);
	ck_assert_int_eq(vfs_rmdir(root_of(sb), "d"), -ENOTEMPTY);
	ck_assert_int_eq(vfs_unlink(root_of(sb), "d"), -EISDIR);
	ck_assert_int_eq(vfs_rmdir(root_of(sb), "hard"), -ENOTDIR);
	ck_assert_int_eq(vfs_mkdir(d, "sub", 0700, &root_cred, &sub), 0);
	ck_assert_uint_eq(d->i_nlink, 3);
	/* Moving a directory moves its ".." link. */
	ck_assert_int_eq(vfs_rename(d, "sub", root_of(sb), "sub", 0), 0);
	ck_assert_uint_eq(d->i_nlink, 2);
	ck_assert_uint_eq(root_of(sb)->i_nlink, 4);
	ck_assert_int_eq(vfs_unlink(d, "f"), 0);
	ck_assert_uint_eq(f->i_nlink, 1);
	inode_lookup_ref(d); /* the kernel still knows the directory */
	ck_assert_int_eq(vfs_rmdir(root_of(sb), "d"), 0);
	ck_assert_uint_eq(root_of(sb)->i_nlink, 3);
	/* A removed directory accepts no new names. */
	ck_assert_int_eq(vfs_create(d, "late", S_IFREG, 0, &root_cred, &f), -ENOENT);
	inode_forget(d, 1);
	ck_assert_uint_eq(sb->s_inodes_live, 3); /* root, sub, hard */
	test_sb_done(sb);
}
END_TEST

START_TEST(test_inode_setgid_dir_and_limits)
{
	struct kvfs_mount_opts o = { .size = 1 << 20, .nr_inodes = 4, .root_mode = 02775,
				     .root_gid = 100 };
	struct cred user = { .fsuid = 1000, .fsgid = 1000 };
	struct super_block *sb;
	struct inode *d, *f;
	char longname[300];

	ck_assert_int_eq(super_new(&o, &sb), 0);
	ck_assert_int_eq(vfs_mkdir(root_of(sb), "d", 0755, &user, &d), 0);
	ck_assert_uint_eq(d->i_gid, 100);
	ck_assert(d->i_mode & S_ISGID);
	ck_assert_uint_eq(d->i_uid, 1000);
	ck_assert_int_eq(vfs_create(d, "f", S_IFREG | 02755, 0, &user, &f), 0);
	ck_assert_uint_eq(f->i_gid, 100);
	ck_assert(!(f->i_mode & S_ISGID)); /* not in group 100 */
	memset(longname, 'x', 256);
	longname[256] = '\0';
	ck_assert_int_eq(vfs_create(d, longname, S_IFREG, 0, &user, &f), -ENAMETOOLONG);
	longname[255] = '\0';
	ck_assert_int_eq(vfs_create(d, longname, S_IFREG, 0, &user, &f), 0);
	ck_assert_int_eq(vfs_create(d, "fifth", S_IFREG, 0, &user, &f), -ENOSPC);
	test_sb_done(sb);
}
END_TEST

/* ---- address space ----------------------------------------------------- */

static struct inode *mk_file(struct super_block *sb, const char *name)
{
	struct inode *ino;

	ck_assert_int_eq(vfs_create(root_of(sb), name, S_IFREG | 0644, 0, &root_cred, &ino), 0);
	return ino;
}

static void read_all(struct address_space *m, uint64_t pos, size_t len, unsigned char *out)
{
	struct iovec iov[64];
	struct iov_iter it = { .iov = iov, .max = 64 };
	ssize_t n = mapping_read(m, pos, len, &it);
	size_t o = 0;

	ck_assert_int_eq(n, (ssize_t)len);
	for (unsigned i = 0; i < it.nr; i++) {
		memcpy(out + o, iov[i].iov_base, iov[i].iov_len);
		o += iov[i].iov_len;
	}
	ck_assert_uint_eq(o, len);
}

START_TEST(test_mapping_write_read_holes)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	unsigned char buf[3 * 4096], out[3 * 4096];
	size_t w;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	/* Unaligned, across three pages, far from 0: the rest is a hole. */
	ck_assert_int_eq(mapping_write(m, 100000 + 13, buf, 8000, &w), 0);
	ck_assert_uint_eq(w, 8000);
	ck_assert_uint_eq(m->nrpages, 3);
	ck_assert_uint_eq(m->nrdirty, 3);
	read_all(m, 100000 + 13, 8000, out);
	ck_assert_mem_eq(out, buf, 8000);
	read_all(m, 0, 4096, out);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(out[i], 0);
	/* Bytes before the write in its first page read as zeros. */
	read_all(m, 98304, 1709, out);
	for (int i = 0; i < 1709; i++)
		ck_assert_uint_eq(out[i], 0);
	test_sb_done(sb);
}
END_TEST

/*
 * File bytes across several 2 MiB chunks, stored both ways page_alloc.c
 * has: _i 0 in its memfd (pwrite for new pages, stores for the rest), _i 1
 * in anonymous memory, the fallback where memfd_create() fails (emulated
 * here by closing the allocator's memfd before the first page).
 */
START_TEST(test_page_store_memfd_and_anonymous)
{
	struct super_block *sb = test_sb_new(16 << 20, 10);
	struct inode *ino = mk_file(sb, "big");
	struct address_space *m = &ino->i_data;
	const size_t size = 5 << 20, piece = 256 << 10;
	unsigned char *buf = malloc(size), *out = malloc(piece);
	size_t w;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(out);
	if (_i == 1) {
		ck_assert_int_ge(sb->s_page_alloc.memfd, 0);
		close(sb->s_page_alloc.memfd);
		sb->s_page_alloc.memfd = -1;
	}
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 31 + i / 4096 + 7);
	/* Whole pages, then a run that starts and ends mid-page. */
	for (size_t o = 0; o < size; o += piece) {
		ck_assert_int_eq(mapping_write(m, o, buf + o, piece, &w), 0);
		ck_assert_uint_eq(w, piece);
	}
	ck_assert_int_eq(mapping_write(m, 3 * 4096 + 100, buf + 3 * 4096 + 100, 10000, &w), 0);
	ck_assert_uint_eq(sb->s_page_alloc.pages, size / 4096);
	ck_assert_uint_ge(sb->s_page_alloc.chunks, 3);
	for (size_t o = 0; o < size; o += piece) {
		read_all(m, o, piece, out);
		ck_assert_msg(!memcmp(out, buf + o, piece), "bytes at %zu differ (%s)", o,
			      _i ? "anonymous" : "memfd");
	}
	/* Overwrite pages already there: the stored path. */
	memset(buf + (2 << 20) + 5, 0xa5, 70000);
	ck_assert_int_eq(mapping_write(m, (2 << 20) + 5, buf + (2 << 20) + 5, 70000, &w), 0);
	read_all(m, 2 << 20, piece, out);
	ck_assert(!memcmp(out, buf + (2 << 20), piece));
	/* Truncated to nothing: every page back; besides the spare, the
	 * chunks wait in the reuse pool, and go when it is trimmed. */
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	ck_assert_uint_eq(sb->s_page_alloc.pages, 0);
	ck_assert_uint_le(sb->s_page_alloc.chunks, 1 + sb->s_page_alloc.pooled);
	page_allocator_trim(&sb->s_page_alloc, 0);
	ck_assert_uint_eq(sb->s_page_alloc.pooled, 0);
	ck_assert_uint_le(sb->s_page_alloc.chunks, 1);
	/* New pages after that: zeros where nothing was written. */
	ck_assert_int_eq(mapping_write(m, 4096 + 1, buf, 10, &w), 0);
	read_all(m, 4096, 4096, out);
	ck_assert_uint_eq(out[0], 0);
	ck_assert(!memcmp(out + 1, buf, 10));
	ck_assert_uint_eq(out[11], 0);
	free(buf);
	free(out);
	test_sb_done(sb);
}
END_TEST

/*
 * The reuse pool (page_alloc.c): a file deleted and written again takes
 * the pooled chunks, with their bytes stored over the old ones; the pool
 * keeps at most its bound, and trimming by age gives back only chunks
 * that have sat there that long.
 */
START_TEST(test_page_pool_reuse_and_trim)
{
	struct super_block *sb = test_sb_new(16 << 20, 10);
	struct page_allocator *pa = &sb->s_page_alloc;
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	const size_t size = 6 << 20;
	unsigned char *buf = malloc(size), *out = malloc(size);
	uint64_t chunks, pooled;
	size_t w;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(pa->pool_max, (8 << 20) / (2 << 20)); /* half of size= */
	memset(buf, 0x5a, size);
	ck_assert_int_eq(mapping_write(m, 0, buf, size, &w), 0);
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	chunks = pa->chunks;
	pooled = pa->pooled;
	ck_assert_uint_ge(pooled, 2);
	ck_assert_uint_le(pooled, pa->pool_max);
	ck_assert_uint_eq(chunks, pooled + 1); /* and the spare */
	/* Written again: no new chunk, the pool's are taken. */
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7 + i / 4096);
	ck_assert_int_eq(mapping_write(m, 0, buf, size, &w), 0);
	ck_assert_uint_eq(w, size);
	ck_assert_uint_lt(pa->pooled, pooled);
	ck_assert_uint_le(pa->chunks, chunks + 1);
	for (size_t o = 0; o < size; o += 256 << 10)
		read_all(m, o, 256 << 10, out + o);
	ck_assert(!memcmp(out, buf, size));
	/* A page written partly over an old one reads zeros around it. */
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	ck_assert_int_eq(mapping_write(m, 4096 + 1, buf, 10, &w), 0);
	read_all(m, 4096, 4096, out);
	ck_assert_uint_eq(out[0], 0);
	ck_assert(!memcmp(out + 1, buf, 10));
	ck_assert_uint_eq(out[11], 0);
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	/* Trimming: nothing has sat an hour; everything has sat 1 us. */
	pooled = pa->pooled;
	ck_assert_uint_ge(pooled, 1);
	ck_assert_uint_eq(page_allocator_trim(pa, UINT64_C(3600) * 1000000), 0);
	ck_assert_uint_eq(pa->pooled, pooled);
	usleep(10);
	ck_assert_uint_eq(page_allocator_trim(pa, 1), pooled);
	ck_assert_uint_eq(pa->pooled, 0);
	ck_assert_uint_le(pa->chunks, 1);
	/* A bound of 0: chunks freed go straight back. */
	page_allocator_set_pool(pa, 0);
	ck_assert_int_eq(mapping_write(m, 0, buf, size, &w), 0);
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	ck_assert_uint_eq(pa->pooled, 0);
	ck_assert_uint_le(pa->chunks, 1);
	free(buf);
	free(out);
	test_sb_done(sb);
}
END_TEST

/* The two halves of a write the FUSE layer replies between. */
START_TEST(test_mapping_write_begin_fill)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	unsigned char buf[3 * 4096], out[3 * 4096];
	struct iovec iov[2];
	struct iov_iter to = { .iov = iov, .max = 2 };
	struct file *f;
	size_t n;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 13 + 5);
	/* 3 pages' worth from offset 13, room for 2 ranges: it stops there. */
	ck_assert_int_eq(mapping_write_begin(m, 13, sizeof(buf), &to, &n), 0);
	ck_assert_uint_eq(n, 2 * 4096 - 13);
	ck_assert_uint_eq(to.nr, 2);
	ck_assert_uint_eq(iov[0].iov_len, 4096 - 13);
	ck_assert_uint_eq(iov[1].iov_len, 4096);
	ck_assert_uint_eq(m->nrpages, 2);
	ck_assert_uint_eq(m->nrdirty, 2);
	iov_fill(&to, buf, n);
	read_all(m, 13, n, out);
	ck_assert_mem_eq(out, buf, n);
	read_all(m, 0, 13, out);
	for (int i = 0; i < 13; i++)
		ck_assert_uint_eq(out[i], 0);

	/* The file op: size and times are the write's before the bytes are. */
	ck_assert_int_eq(file_open(ino, O_RDWR, &f), 0);
	to = (struct iov_iter){ .iov = iov, .max = 2 };
	ck_assert_int_eq(f->f_op->write_begin(f, 8192, 100, &to), 100);
	ck_assert_uint_eq(ino->i_size, 8292);
	ck_assert_uint_eq(to.nr, 1);
	iov_fill(&to, buf, 100);
	read_all(m, 8192, 100, out);
	ck_assert_mem_eq(out, buf, 100);
	to = (struct iov_iter){ .iov = iov, .max = 2 };
	ck_assert_int_eq(f->f_op->write_begin(f, sb->s_maxbytes, 1, &to), -EFBIG);
	ck_assert_int_eq(f->f_op->write_begin(f, 0, 0, &to), 0);
	file_release(f);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_mapping_truncate_punch)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	unsigned char buf[8 * 4096], out[8 * 4096];
	size_t w;

	memset(buf, 0xab, sizeof(buf));
	ck_assert_int_eq(mapping_write(m, 0, buf, sizeof(buf), &w), 0);
	ino->i_size = sizeof(buf);
	ck_assert_uint_eq(sb->s_blocks_used, 8);
	/* Punch [5000, 3*4096+10): page 2 goes, pages 1 and 3 are zeroed in part. */
	ck_assert_int_eq(mapping_truncate(m, 5000, 3 * 4096 + 10), 0);
	ck_assert_uint_eq(m->nrpages, 7);
	ck_assert_ptr_null(mapping_find_page(m, 2));
	read_all(m, 0, sizeof(buf), out);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(out[i], (i >= 5000 && i < 3 * 4096 + 10) ? 0 : 0xab);
	/* Truncate to 6000 then extend: the tail of page 1 must read zeros. */
	ck_assert_int_eq(inode_change_size(ino, 6000), 0);
	ck_assert_uint_eq(m->nrpages, 2);
	ck_assert_int_eq(inode_change_size(ino, 20000), 0);
	read_all(m, 0, 20000, out);
	for (size_t i = 0; i < 20000; i++)
		ck_assert_uint_eq(out[i], i < 5000 ? 0xab : 0);
	ck_assert_int_eq(inode_change_size(ino, 0), 0);
	ck_assert_uint_eq(m->nrpages, 0);
	ck_assert_uint_eq(sb->s_blocks_used, 0);
	ck_assert_int_eq(inode_change_size(ino, sb->s_maxbytes + 1), -EFBIG);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_mapping_dirty_writeback)
{
	struct super_block *sb = test_sb_new(64 << 20, 10);
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	char c = 'x';
	size_t w;

	/* Pages far apart: a tall tree. */
	ck_assert_int_eq(mapping_write(m, 0, &c, 1, &w), 0);
	ck_assert_int_eq(mapping_write(m, UINT64_C(1) << 40, &c, 1, &w), 0);
	ck_assert_int_eq(mapping_write(m, (UINT64_C(1) << 30) + 5, &c, 1, &w), 0);
	ck_assert_uint_eq(m->nrdirty, 3);
	ck_assert(mapping_page_dirty(m, 0));
	ck_assert(mapping_page_dirty(m, UINT64_C(1) << 28));
	ck_assert(!mapping_page_dirty(m, 1));
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_uint_eq(m->nrdirty, 0);
	ck_assert_uint_eq(sb->s_pages_written, 3);
	ck_assert(!mapping_page_dirty(m, 0));
	ck_assert_uint_eq(sb->s_dirty_inodes, 0);
	/* Rewrite one page: only it is dirty. */
	ck_assert_int_eq(mapping_write(m, 1, &c, 1, &w), 0);
	ck_assert_uint_eq(m->nrdirty, 1);
	ck_assert(mapping_page_dirty(m, 0));
	ck_assert(!mapping_page_dirty(m, UINT64_C(1) << 28));
	/* SEEK_DATA / SEEK_HOLE */
	ino->i_size = (UINT64_C(1) << 40) + 1;
	ck_assert_int_eq(mapping_seek(m, 0, ino->i_size, SEEK_HOLE), 4096);
	ck_assert_int_eq(mapping_seek(m, 4096, ino->i_size, SEEK_DATA), INT64_C(1) << 30);
	ck_assert_int_eq(mapping_seek(m, (UINT64_C(1) << 30) + 4096, ino->i_size, SEEK_DATA),
			 INT64_C(1) << 40);
	ck_assert_int_eq(mapping_seek(m, ino->i_size, ino->i_size, SEEK_DATA), -ENXIO);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_mapping_enospc)
{
	struct super_block *sb = test_sb_new(4 * 4096, 10);
	struct inode *ino = mk_file(sb, "f");
	struct address_space *m = &ino->i_data;
	static unsigned char buf[6 * 4096];
	size_t w;

	/* A write past the limit stops at it: a short write, then ENOSPC. */
	ck_assert_int_eq(mapping_write(m, 0, buf, sizeof(buf), &w), -ENOSPC);
	ck_assert_uint_eq(w, 4 * 4096);
	ck_assert_uint_eq(sb->s_blocks_used, 4);
	ck_assert_uint_eq(m->nrdirty, 4);
	ck_assert_int_eq(mapping_truncate(m, 0, UINT64_MAX), 0);
	/* fallocate is all or nothing. */
	ck_assert_int_eq(mapping_allocate(m, 0, 5 * 4096), -ENOSPC);
	ck_assert_uint_eq(sb->s_blocks_used, 0);
	ck_assert_int_eq(mapping_allocate(m, 4096, 3 * 4096 + 1), 0);
	ck_assert_uint_eq(sb->s_blocks_used, 3);
	ck_assert_uint_eq(mapping_pages_missing(m, 0, 5 * 4096), 2);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_xattr)
{
	struct super_block *sb = test_sb_new(1 << 20, 10);
	struct inode *ino = mk_file(sb, "f");
	struct cred user = { .fsuid = 1000, .fsgid = 1000 };
	char buf[256];

	ck_assert_int_eq(kvfs_setxattr(ino, "user.a", "1", 1, XATTR_REPLACE, &root_cred), -ENODATA);
	ck_assert_int_eq(kvfs_setxattr(ino, "user.a", "1", 1, XATTR_CREATE, &root_cred), 0);
	ck_assert_int_eq(kvfs_setxattr(ino, "user.a", "22", 2, XATTR_CREATE, &root_cred), -EEXIST);
	ck_assert_int_eq(kvfs_setxattr(ino, "user.a", "22", 2, XATTR_REPLACE, &root_cred), 0);
	ck_assert_int_eq(kvfs_setxattr(ino, "trusted.t", "x", 1, 0, &root_cred), 0);
	ck_assert_int_eq(kvfs_setxattr(ino, "trusted.u", "x", 1, 0, &user), -EPERM);
	ck_assert_int_eq(kvfs_setxattr(ino, "bogus.a", "x", 1, 0, &root_cred), -EOPNOTSUPP);
	ck_assert_int_eq(kvfs_getxattr(ino, "user.a", NULL, 0, &root_cred), 2);
	ck_assert_int_eq(kvfs_getxattr(ino, "user.a", buf, 1, &root_cred), -ERANGE);
	ck_assert_int_eq(kvfs_getxattr(ino, "user.a", buf, sizeof(buf), &root_cred), 2);
	ck_assert_mem_eq(buf, "22", 2);
	ck_assert_int_eq(kvfs_listxattr(ino, buf, sizeof(buf), &root_cred), 17);
	ck_assert_int_eq(kvfs_listxattr(ino, buf, sizeof(buf), &user), 7);
	ck_assert_str_eq(buf, "user.a");
	ck_assert_int_eq(kvfs_removexattr(ino, "user.a", &root_cred), 0);
	ck_assert_int_eq(kvfs_removexattr(ino, "user.a", &root_cred), -ENODATA);
	/* Root's stats: kvfs.* names belong to stats.c on the root only. */
	ck_assert(kvfs_stats_owns(root_of(sb), "kvfs.stats.inodes"));
	ck_assert(!kvfs_stats_owns(ino, "kvfs.stats.inodes"));
	ck_assert(!kvfs_stats_owns(root_of(sb), "user.kvfs.stats"));
	ck_assert_int_eq(kvfs_stats_getxattr(sb, "kvfs.stats.inodes", NULL, 0), 1);
	ck_assert_int_eq(kvfs_stats_getxattr(sb, "kvfs.stats.inodes", buf, sizeof(buf)), 1);
	ck_assert_mem_eq(buf, "2", 1);
	ck_assert_int_eq(kvfs_stats_getxattr(sb, "kvfs.stats.nope", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(kvfs_stats_getxattr(sb, "kvfs.statsx", buf, sizeof(buf)), -ENODATA);
	ck_assert_int_eq(kvfs_stats_setxattr(sb, "kvfs.ctl.drop_caches", "1", 1, &user), -EPERM);
	ck_assert_int_eq(kvfs_stats_setxattr(sb, "kvfs.ctl.drop_caches", "4", 1, &root_cred),
			 -EINVAL);
	ck_assert_int_eq(kvfs_stats_setxattr(sb, "kvfs.ctl.drop_caches", "1", 1, &root_cred), 0);
	ck_assert_int_eq(kvfs_stats_setxattr(sb, "kvfs.stats", "1", 1, &root_cred), -EPERM);
	test_sb_done(sb);
}
END_TEST

static Suite *kvfs_suite(void)
{
	Suite *s = suite_create("kvfs-core");
	TCase *dc = tcase_create("dcache"), *in = tcase_create("inode"),
	      *as = tcase_create("address_space"), *xa = tcase_create("xattr");

	tcase_add_test(dc, test_dcache_negative_hit_miss);
	tcase_add_test(dc, test_dcache_lru_eviction);
	tcase_add_test(dc, test_dcache_many_names_rehash);
	tcase_add_test(dc, test_dcache_rename_names);
	tcase_add_test(in, test_inode_lookup_forget);
	tcase_add_test(in, test_inode_open_unlinked);
	tcase_add_test(in, test_inode_links_and_dirs);
	tcase_add_test(in, test_inode_setgid_dir_and_limits);
	tcase_add_test(as, test_mapping_write_read_holes);
	tcase_add_test(as, test_mapping_write_begin_fill);
	tcase_add_test(as, test_mapping_truncate_punch);
	tcase_add_test(as, test_mapping_dirty_writeback);
	tcase_add_loop_test(as, test_page_store_memfd_and_anonymous, 0, 2);
	tcase_add_test(as, test_page_pool_reuse_and_trim);
	tcase_add_test(as, test_mapping_enospc);
	tcase_add_test(xa, test_xattr);
	suite_add_tcase(s, dc);
	suite_add_tcase(s, in);
	suite_add_tcase(s, as);
	suite_add_tcase(s, xa);
	return s;
}

int main(void)
{
	return ukd_check_run(kvfs_suite());
}
