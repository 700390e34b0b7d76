/* SPDX-License-Identifier: MIT */
/*
 * kvfs-statx: statx(2) with STATX_BTIME on each PATH, for statx.sh.
 *
 *   kvfs-statx PATH...   one line per path:
 *                        MASK BTIME_NS CTIME_NS MTIME_NS
 *                        (MASK in hex; times in ns since the epoch;
 *                        BTIME_NS is - when the mask lacks STATX_BTIME)
 *
 * Exit status: 0, 1 when a statx call fails, 2 on a usage error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

static long long ns(const struct statx_timestamp *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(int argc, char *argv[])
{
	if (argc < 2) {
		fputs("usage: kvfs-statx PATH...\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct statx stx;

		if (statx(AT_FDCWD, argv[i], AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME,
			  &stx) < 0) {
			fprintf(stderr, "kvfs-statx: %s: %m\n", argv[i]);
			return 1;
		}
		if (stx.stx_mask & STATX_BTIME)
			printf("%#x %lld %lld %lld\n", stx.stx_mask, ns(&stx.stx_btime),
			       ns(&stx.stx_ctime), ns(&stx.stx_mtime));
		else
			printf("%#x - %lld %lld\n", stx.stx_mask, ns(&stx.stx_ctime),
			       ns(&stx.stx_mtime));
	}
	return 0;
}
