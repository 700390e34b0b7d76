/* SPDX-License-Identifier: MIT */
/* Shared by the kvfsd unit tests: a super block, and its leak-free end. */
#pragma once

#include <check.h>
#include <string.h>

#include "fs.h"

/* A file system of @size bytes of data, @negative_max unused negative
 * dentries (0: the default), root mode 0755. */
static inline struct super_block *test_sb_new(uint64_t size, uint64_t negative_max)
{
	struct kvfs_mount_opts o = { .size = size, .negative_max = negative_max,
				     .root_mode = 0755 };
	struct super_block *sb = NULL;
	int r = super_new(&o, &sb);

	ck_assert_msg(r == 0, "super_new: %s", strerror(-r));
	return sb;
}

/* Tear @sb down and insist that no inode, dentry or page outlived it. */
static inline void test_sb_done(struct super_block *sb)
{
	uint64_t i = 1, d = 1, p = 1;

	super_teardown(sb, &i, &d, &p);
	ck_assert_uint_eq(i, 0);
	ck_assert_uint_eq(d, 0);
	ck_assert_uint_eq(p, 0);
}
