/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of kvfsd's image file (image.c), driven directly (no FUSE):
 * CRC32C, commit and load round trip, copy-on-write of rewritten pages,
 * the superblock fallback and the corruption checks, with exact errors.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "image.h"
#include "../check-run.h"
#include "kvfs-test.h"

static const struct cred root_cred = { .fsuid = 0, .fsgid = 0, .capable = true };
static char path[] = "/tmp/kvfs-image-test.XXXXXX";

static struct super_block *attach(int expect, const char *msg_prefix)
{
	struct super_block *sb = test_sb_new(8 << 20, 0);
	char msg[256];
	int r = image_attach(sb, path, 8 << 20, msg, sizeof(msg));

	ck_assert_msg(r == expect, "image_attach: %d (%s), expected %d", r, msg, expect);
	if (msg_prefix)
		ck_assert_msg(!strncmp(msg, msg_prefix, strlen(msg_prefix)), "message: %s", msg);
	return sb;
}

static void setup(void)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
	strcpy(path, "/tmp/kvfs-image-test.XXXXXX");
}

static struct inode *child(struct inode *dir, const char *name)
{
	struct dentry *d;
	struct inode *inode;

	ck_assert_int_eq(vfs_lookup(dir, name, &d), 0);
	inode = d->d_inode;
	dput(d);
	ck_assert_ptr_nonnull(inode);
	return inode;
}

static void flip(uint64_t off)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	unsigned char b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static struct image_super read_super(int slot)
{
	struct image_super su;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_eq(pread(fd, &su, sizeof(su), slot * 4096), (ssize_t)sizeof(su));
	close(fd);
	return su;
}

START_TEST(test_crc32c)
{
	/* The standard check value of CRC-32C (RFC 3720, B.4 uses the same polynomial). */
	ck_assert_uint_eq(image_crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(image_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(test_round_trip)
{
	struct super_block *sb = attach(0, NULL);
	struct inode *d, *f, *s, *g;
	struct file *fp;
	uint64_t ino_f;

	ck_assert_uint_eq(image_generation(sb), 1);
	ck_assert_int_eq(vfs_mkdir(sb->s_root->d_inode, "dir", 0750, &root_cred, &d), 0);
	ck_assert_int_eq(vfs_create(d, "file", S_IFREG | 0640, 0, &root_cred, &f), 0);
	ck_assert_int_eq(vfs_link(f, sb->s_root->d_inode, "hard"), 0);
	ck_assert_int_eq(vfs_symlink(d, "sym", "file", &root_cred, &s), 0);
	ck_assert_int_eq(kvfs_setxattr(f, "user.k", "v", 1, 0, &root_cred), 0);
	ck_assert_int_eq(file_open(f, O_RDWR, &fp), 0);
	ck_assert_int_eq(fp->f_op->write(fp, 3 * 4096 + 10, "persist", 7), 7);
	file_release(fp);
	ino_f = f->i_ino;
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_uint_eq(image_generation(sb), 2);
	/* Nothing changed: no new generation. */
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_uint_eq(image_generation(sb), 2);
	test_sb_done(sb);

	sb = attach(0, NULL);
	ck_assert_uint_eq(image_generation(sb), 2);
	d = child(sb->s_root->d_inode, "dir");
	g = child(d, "file");
	ck_assert_ptr_eq(g, child(sb->s_root->d_inode, "hard"));
	ck_assert_uint_eq(g->i_ino, ino_f);
	ck_assert_uint_eq(g->i_nlink, 2);
	ck_assert_uint_eq(g->i_mode, S_IFREG | 0640);
	ck_assert_uint_eq(g->i_size, 3 * 4096 + 17);
	ck_assert_uint_eq(g->i_data.nrpages, 1); /* the hole stayed a hole */
	ck_assert_mem_eq((char *)mapping_find_page(&g->i_data, 3) + 10, "persist", 7);
	ck_assert_str_eq(child(d, "sym")->i_link, "file");
	ck_assert_uint_eq(d->i_nlink, 2);
	ck_assert_uint_eq(sb->s_root->d_inode->i_nlink, 3);
	{
		char v[4];

		ck_assert_int_eq(kvfs_getxattr(g, "user.k", v, sizeof(v), &root_cred), 1);
		ck_assert_int_eq(v[0], 'v');
	}
	test_sb_done(sb);
}
END_TEST

/* A rewritten page goes to a new block; the committed one is not reused
 * before the next commit. */
START_TEST(test_copy_on_write)
{
	struct super_block *sb = attach(0, NULL);
	struct inode *f;
	struct file *fp;
	uint64_t b1, b2;

	ck_assert_int_eq(vfs_create(sb->s_root->d_inode, "f", S_IFREG | 0644, 0, &root_cred, &f), 0);
	ck_assert_int_eq(file_open(f, O_RDWR, &fp), 0);
	ck_assert_int_eq(fp->f_op->write(fp, 0, "one", 3), 3);
	ck_assert_int_eq(sync_filesystem(sb), 0);
	b1 = (uint32_t)*page_private(mapping_find_page(&f->i_data, 0));
	ck_assert_int_eq(fp->f_op->write(fp, 0, "two", 3), 3);
	ck_assert_int_eq(mapping_writeback(&f->i_data), 0);
	b2 = (uint32_t)*page_private(mapping_find_page(&f->i_data, 0));
	ck_assert_uint_ne(b1, b2);
	ck_assert_uint_ge(b1, 2);
	file_release(fp);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_corrupt_superblocks)
{
	struct super_block *sb = attach(0, NULL);

	test_sb_done(sb);
	flip(24);
	flip(4096 + 24);
	sb = attach(-EUCLEAN, "corrupt: no valid superblock");
	test_sb_done(sb);
}
END_TEST

/* A torn newest superblock: the previous generation mounts. */
START_TEST(test_superblock_fallback)
{
	struct super_block *sb = attach(0, NULL);
	struct inode *f;

	ck_assert_int_eq(vfs_create(sb->s_root->d_inode, "a", S_IFREG, 0, &root_cred, &f), 0);
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_int_eq(vfs_create(sb->s_root->d_inode, "b", S_IFREG, 0, &root_cred, &f), 0);
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_uint_eq(image_generation(sb), 3);
	test_sb_done(sb);
	flip(1 * 4096 + 50); /* generation 3 is in slot 1 */
	sb = attach(0, NULL);
	ck_assert_uint_eq(image_generation(sb), 2);
	child(sb->s_root->d_inode, "a");
	test_sb_done(sb);
}
END_TEST

START_TEST(test_corrupt_metadata)
{
	struct super_block *sb = attach(0, NULL);
	struct image_super su;

	test_sb_done(sb);
	su = read_super(1); /* generation 1 */
	ck_assert_uint_eq(su.generation, 1);
	flip(su.meta_first * 4096 + 200);
	sb = attach(-EUCLEAN, "corrupt: metadata block");
	test_sb_done(sb);
}
END_TEST

START_TEST(test_corrupt_data)
{
	struct super_block *sb = attach(0, NULL);
	struct inode *f;
	struct file *fp;
	uint64_t blk;

	ck_assert_int_eq(vfs_create(sb->s_root->d_inode, "f", S_IFREG | 0644, 0, &root_cred, &f), 0);
	ck_assert_int_eq(file_open(f, O_RDWR, &fp), 0);
	ck_assert_int_eq(fp->f_op->write(fp, 0, "data", 4), 4);
	file_release(fp);
	ck_assert_int_eq(sync_filesystem(sb), 0);
	blk = (uint32_t)*page_private(mapping_find_page(&f->i_data, 0));
	test_sb_done(sb);
	flip(blk * 4096 + 1);
	sb = attach(-EUCLEAN, "corrupt: data block");
	test_sb_done(sb);
}
END_TEST

static void write_block(uint64_t blk, const void *buf, size_t len)
{
	char block[4096] = { 0 };
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	memcpy(block, buf, len);
	ck_assert_int_eq(pwrite(fd, block, sizeof(block), (off_t)(blk * 4096)), 4096);
	close(fd);
}

static struct inode *mkfile(struct inode *dir, const char *name, const char *data)
{
	struct inode *f;
	struct file *fp;

	ck_assert_int_eq(vfs_create(dir, name, S_IFREG | 0644, 0, &root_cred, &f), 0);
	ck_assert_int_eq(file_open(f, O_RDWR, &fp), 0);
	ck_assert_int_eq(fp->f_op->write(fp, 0, data, strlen(data)), (ssize_t)strlen(data));
	file_release(fp);
	return f;
}

static void check_file(struct inode *dir, const char *name, const char *data)
{
	struct inode *f = child(dir, name);

	ck_assert_uint_eq(f->i_size, strlen(data));
	ck_assert_mem_eq(mapping_find_page(&f->i_data, 0), data, strlen(data));
}

static void check_gone(struct inode *dir, const char *name)
{
	struct dentry *d;

	ck_assert_int_eq(vfs_lookup(dir, name, &d), 0);
	ck_assert_ptr_null(d->d_inode);
	dput(d);
}

/* A commit after a small change writes a delta of one block; renames,
 * unlinks, rmdir and rewrites replay over the base at mount. */
START_TEST(test_deltas)
{
	struct super_block *sb = attach(0, NULL);
	struct inode *root = sb->s_root->d_inode, *a, *b, *c, *g;
	struct image_super su;

	ck_assert_int_eq(vfs_mkdir(root, "a", 0755, &root_cred, &a), 0);
	ck_assert_int_eq(vfs_mkdir(root, "b", 0755, &root_cred, &b), 0);
	ck_assert_int_eq(vfs_mkdir(root, "c", 0755, &root_cred, &c), 0);
	mkfile(a, "x", "xx");
	mkfile(a, "z", "zz");
	g = mkfile(b, "g", "old");
	ck_assert_int_eq(sync_filesystem(sb), 0);
	ck_assert_uint_eq(image_generation(sb), 2);
	su = read_super(0);
	ck_assert_uint_eq(su.version, IMAGE_VERSION);
	ck_assert_uint_eq(su.delta_count, 1);
	ck_assert_uint_eq(su.meta_generation, 1);
	ck_assert_int_eq(vfs_rename(a, "x", b, "y", 0), 0);
	ck_assert_int_eq(vfs_unlink(a, "z"), 0);
	ck_assert_int_eq(vfs_rmdir(root, "c"), 0);
	{
		struct file *fp;

		ck_assert_int_eq(file_open(g, O_RDWR, &fp), 0);
		ck_assert_int_eq(fp->f_op->write(fp, 0, "new", 3), 3);
		file_release(fp);
	}
	ck_assert_int_eq(sync_filesystem(sb), 0);
	su = read_super(1);
	ck_assert_uint_eq(su.generation, 3);
	ck_assert_uint_eq(su.delta_count, 2);
	ck_assert_uint_eq(su.delta_blocks, 1);
	ck_assert_uint_eq(su.delta_generation, 3);
	test_sb_done(sb);

	sb = attach(0, NULL);
	root = sb->s_root->d_inode;
	ck_assert_uint_eq(image_generation(sb), 3);
	a = child(root, "a");
	b = child(root, "b");
	check_file(b, "y", "xx");
	check_file(b, "g", "new");
	check_gone(a, "x");
	check_gone(a, "z");
	check_gone(root, "c");
	ck_assert_uint_eq(root->i_nlink, 4);
	ck_assert_uint_eq(sb->s_inodes_live, 5);
	test_sb_done(sb);
}
END_TEST

/* Once the deltas outgrow the base, a commit writes a new base; a
 * version-1 image (a base, 88-byte superblock) mounts, and its first
 * commit clears the version-1 slot. */
START_TEST(test_compaction_and_v1)
{
	struct super_block *sb = attach(0, NULL);
	struct image_super su;
	int n = 0, slot;
	char name[16];

	do {
		snprintf(name, sizeof(name), "f%d", n++);
		mkfile(sb->s_root->d_inode, name, name);
		ck_assert_int_eq(sync_filesystem(sb), 0);
		su = read_super((int)(image_generation(sb) % 2));
		ck_assert_int_lt(n, 200);
	} while (su.delta_count != 0);
	ck_assert_uint_eq(su.meta_generation, su.generation);
	ck_assert_int_gt(n, 60); /* 64 one-block deltas fit over a small base */
	test_sb_done(sb);

	/* Rewrite the newest slot (a base, no deltas) as version 1. */
	slot = (int)(su.generation % 2);
	su.version = 1;
	su.delta_crc = 0;
	memset((char *)&su + IMAGE_SUPER_V1_SIZE, 0, sizeof(su) - IMAGE_SUPER_V1_SIZE);
	su.delta_crc = image_crc32c(0, &su, IMAGE_SUPER_V1_SIZE);
	write_block((uint64_t)slot, &su, IMAGE_SUPER_V1_SIZE);

	sb = attach(0, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		check_file(sb->s_root->d_inode, name, name);
	}
	mkfile(sb->s_root->d_inode, "after", "after");
	ck_assert_int_eq(sync_filesystem(sb), 0);
	test_sb_done(sb);
	su = read_super(slot);
	ck_assert_uint_eq(su.version, 0); /* cleared: an older kvfsd refuses the image */
	su = read_super(!slot);
	ck_assert_uint_eq(su.version, IMAGE_VERSION);

	sb = attach(0, NULL);
	check_file(sb->s_root->d_inode, "after", "after");
	check_file(sb->s_root->d_inode, "f0", "f0");
	test_sb_done(sb);
}
END_TEST

START_TEST(test_in_use)
{
	struct super_block *a = attach(0, NULL), *b = attach(-EBUSY, "in use by another kvfsd");

	test_sb_done(b);
	test_sb_done(a);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("kvfs-image");
	TCase *tc = tcase_create("image");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_copy_on_write);
	tcase_add_test(tc, test_corrupt_superblocks);
	tcase_add_test(tc, test_superblock_fallback);
	tcase_add_test(tc, test_corrupt_metadata);
	tcase_add_test(tc, test_corrupt_data);
	tcase_add_test(tc, test_in_use);
	tcase_add_test(tc, test_deltas);
	tcase_add_test(tc, test_compaction_and_v1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(image_suite());
}
