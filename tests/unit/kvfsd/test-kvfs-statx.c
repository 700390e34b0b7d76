/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of kvfsd's FUSE_STATX answer (fuse-statx.c), driven directly:
 * requests built by hand as the kernel sends them (protocol 7.39), replies
 * read back from a pipe standing in for /dev/fuse. Well-formed requests
 * get getattr's attributes plus the birth time; requests of the wrong
 * size get EINVAL, never a read past the buffer.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcache.h"
#include "fs.h"
#include "fuse-statx.h"
#include "../check-run.h"
#include "kvfs-test.h"

static const struct cred root_cred = { .fsuid = 0, .fsgid = 0, .capable = true };

struct req {
	struct fuse_in_header in;
	struct kvfs_fuse_statx_in arg;
	char extra[16];
};

struct reply {
	struct fuse_out_header out;
	struct kvfs_fuse_statx_out arg;
};

static struct req mk_req(uint64_t nodeid, uint64_t unique)
{
	struct req q = { 0 };

	q.in.len = sizeof(q.in) + sizeof(q.arg);
	q.in.opcode = KVFS_FUSE_STATX;
	q.in.unique = unique;
	q.in.nodeid = nodeid;
	q.arg.sx_mask = 0x0fff;
	return q;
}

/* Answer @q of @size bytes; return what was written to the "device". */
static ssize_t answer(struct super_block *sb, const struct req *q, size_t size, struct reply *rp)
{
	int p[2];
	ssize_t n;
	uint64_t unique = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert(fuse_statx_request(q, size, &unique));
	ck_assert_uint_eq(unique, q->in.unique);
	ck_assert_int_eq(fuse_statx_answer(sb, 2.5, q, size, p[1]), 0);
	memset(rp, 0xa5, sizeof(*rp));
	n = read(p[0], rp, sizeof(*rp));
	close(p[0]);
	close(p[1]);
	return n;
}

START_TEST(test_statx_reply)
{
	struct super_block *sb = test_sb_new(1 << 20, 0);
	struct inode *ino, *root = sb->s_root->d_inode;
	struct reply rp;
	struct req q;
	struct stat st;

	ck_assert_int_eq(vfs_create(root, "f", S_IFREG | 0640, 0, &root_cred, &ino), 0);
	ino->i_btime = (struct timespec){ .tv_sec = 1000, .tv_nsec = 7 };
	ino->i_size = 12345;
	q = mk_req((uint64_t)(uintptr_t)ino, 42);
	ck_assert_int_eq(answer(sb, &q, q.in.len, &rp), sizeof(rp));
	ck_assert_uint_eq(rp.out.len, sizeof(rp));
	ck_assert_int_eq(rp.out.error, 0);
	ck_assert_uint_eq(rp.out.unique, 42);
	ck_assert_uint_eq(rp.arg.attr_valid, 2);
	ck_assert_uint_eq(rp.arg.attr_valid_nsec, 500000000);
	ck_assert_uint_eq(rp.arg.stat.mask, 0x0fff); /* STATX_BASIC_STATS | STATX_BTIME */
	ck_assert_int_eq(rp.arg.stat.btime.tv_sec, 1000);
	ck_assert_uint_eq(rp.arg.stat.btime.tv_nsec, 7);
	/* The basic fields are getattr's. */
	ino->i_op->getattr(ino, &st);
	ck_assert_uint_eq(rp.arg.stat.ino, st.st_ino);
	ck_assert_uint_eq(rp.arg.stat.mode, S_IFREG | 0640);
	ck_assert_uint_eq(rp.arg.stat.nlink, 1);
	ck_assert_uint_eq(rp.arg.stat.size, 12345);
	ck_assert_uint_eq(rp.arg.stat.blksize, st.st_blksize);
	ck_assert_int_eq(rp.arg.stat.mtime.tv_sec, st.st_mtim.tv_sec);
	ck_assert_uint_eq(rp.arg.stat.mtime.tv_nsec, st.st_mtim.tv_nsec);
	ck_assert_int_eq(rp.arg.stat.ctime.tv_sec, st.st_ctim.tv_sec);
	ck_assert_int_eq(rp.arg.stat.atime.tv_sec, st.st_atim.tv_sec);
	/* Node id 1 is the root. */
	q = mk_req(1, 43);
	ck_assert_int_eq(answer(sb, &q, q.in.len, &rp), sizeof(rp));
	ck_assert_uint_eq(rp.arg.stat.ino, root->i_ino);
	ck_assert(S_ISDIR(rp.arg.stat.mode));
	ck_assert_uint_eq(rp.arg.stat.nlink, 2);
	test_sb_done(sb);
}
END_TEST

START_TEST(test_statx_bad_sizes)
{
	struct super_block *sb = test_sb_new(1 << 20, 0);
	struct reply rp;
	struct req q = mk_req(1, 7);
	uint64_t unique;

	/* Header only, body missing. */
	q.in.len = sizeof(q.in);
	ck_assert_int_eq(answer(sb, &q, sizeof(q.in), &rp), sizeof(rp.out));
	ck_assert_int_eq(rp.out.error, -EINVAL);
	ck_assert_uint_eq(rp.out.unique, 7);
	ck_assert_uint_eq(rp.out.len, sizeof(rp.out));
	/* A body one byte short. */
	q.in.len = sizeof(q.in) + sizeof(q.arg) - 1;
	ck_assert_int_eq(answer(sb, &q, q.in.len, &rp), sizeof(rp.out));
	ck_assert_int_eq(rp.out.error, -EINVAL);
	/* The header's length disagrees with what was read. */
	q.in.len = sizeof(q.in) + sizeof(q.arg) + 8;
	ck_assert_int_eq(answer(sb, &q, sizeof(q.in) + sizeof(q.arg), &rp), sizeof(rp.out));
	ck_assert_int_eq(rp.out.error, -EINVAL);
	/* Node id 0 is no inode. */
	q = mk_req(0, 8);
	ck_assert_int_eq(answer(sb, &q, q.in.len, &rp), sizeof(rp.out));
	ck_assert_int_eq(rp.out.error, -EINVAL);
	/* A longer request (a future protocol's extra fields) is answered. */
	q = mk_req(1, 9);
	q.in.len += sizeof(q.extra);
	ck_assert_int_eq(answer(sb, &q, q.in.len, &rp), sizeof(rp));
	ck_assert_int_eq(rp.out.error, 0);
	/* Not STATX, or too short to say: left to libfuse. */
	q = mk_req(1, 10);
	q.in.opcode = 3; /* GETATTR */
	ck_assert(!fuse_statx_request(&q, q.in.len, &unique));
	q.in.opcode = KVFS_FUSE_STATX;
	ck_assert(!fuse_statx_request(&q, sizeof(q.in) - 1, &unique));
	ck_assert(!fuse_statx_request(NULL, 0, &unique));
	test_sb_done(sb);
}
END_TEST

static Suite *statx_suite(void)
{
	Suite *s = suite_create("kvfs-statx");
	TCase *tc = tcase_create("statx");

	tcase_add_test(tc, test_statx_reply);
	tcase_add_test(tc, test_statx_bad_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(statx_suite());
}
