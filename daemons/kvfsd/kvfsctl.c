/* SPDX-License-Identifier: MIT */
/*
 * kvfsctl: read kvfsd's counters and poke its controls, through the
 * extended attributes of the mount's root directory (see docs/kvfsd.md).
 *
 *   kvfsctl stats MOUNTPOINT [NAME]   all counters, or one
 *   kvfsctl drop-caches MOUNTPOINT    evict unused negative dentries (root)
 *   kvfsctl sync MOUNTPOINT           commit everything to the image (any user
 *                                     who can open the root directory)
 *
 * Exit status: 0, 1 on failure, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#define STATS "kvfs.stats"
#define DROP "kvfs.ctl.drop_caches"

static int usage(FILE *f, int code)
{
	fputs("Usage: kvfsctl stats MOUNTPOINT [NAME]\n"
	      "       kvfsctl drop-caches MOUNTPOINT\n"
	      "       kvfsctl sync MOUNTPOINT\n"
	      "Reads kvfsd's counters (inodes, dentries, dcache hits and misses, dirty\n"
	      "pages, bytes used, ...) and triggers its controls. sync makes everything\n"
	      "written so far durable in the image of a kvfsd -o image= mount before it\n"
	      "returns (fsync of the root directory, which commits the whole tree);\n"
	      "sync(1) and syncfs(2) do not. See docs/kvfsd.md.\n", f);
	return code;
}

static int stats(const char *mnt, const char *name)
{
	char key[128], buf[8192];
	ssize_t n;

	if (name)
		snprintf(key, sizeof(key), STATS ".%s", name);
	else
		snprintf(key, sizeof(key), STATS);
	n = getxattr(mnt, key, buf, sizeof(buf) - 1);
	if (n < 0) {
		if (errno == ENODATA && name)
			fprintf(stderr, "kvfsctl: %s: no counter named '%s'\n", mnt, name);
		else if (errno == ENODATA || errno == ENOTSUP)
			fprintf(stderr, "kvfsctl: %s: not a kvfsd mount (root)\n", mnt);
		else
			fprintf(stderr, "kvfsctl: %s: %m\n", mnt);
		return 1;
	}
	buf[n] = '\0';
	fputs(buf, stdout);
	if (name)
		putchar('\n');
	return 0;
}

static int control(const char *mnt, const char *value)
{
	if (setxattr(mnt, DROP, value, strlen(value), 0) < 0) {
		fprintf(stderr, "kvfsctl: %s: %m%s\n", mnt,
			errno == EPERM ? " (needs root)" : "");
		return 1;
	}
	return 0;
}

/*
 * fsync(2) of the root directory: kvfsd answers FUSE_FSYNCDIR with a
 * commit of the whole tree. sync(1)/syncfs(2) would return 0 without
 * reaching kvfsd (the kernel sends FUSE_SYNCFS only to virtiofs), so this
 * is the way; unlike kvfs.ctl.drop_caches=2 it needs no root.
 */
static int sync_mount(const char *mnt)
{
	char v[32];
	int fd, ret = 0;

	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kvfsctl: %s: %m\n", mnt);
		return 1;
	}
	/* A kvfsd root, not some other directory whose fsync means less. */
	if (fgetxattr(fd, STATS ".image_generation", v, sizeof(v)) < 0) {
		if (errno == ENODATA || errno == ENOTSUP)
			fprintf(stderr, "kvfsctl: %s: not a kvfsd mount (root)\n", mnt);
		else
			fprintf(stderr, "kvfsctl: %s: %m\n", mnt);
		ret = 1;
	} else if (fsync(fd) < 0) {
		fprintf(stderr, "kvfsctl: %s: commit failed: %m\n", mnt);
		ret = 1;
	}
	close(fd);
	return ret;
}

int main(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout, 0);
	if (argc == 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("kvfsctl %s\n", UKD_VERSION);
		return 0;
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "stats"))
		return stats(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "drop-caches"))
		return control(argv[2], "1");
	if (argc == 3 && !strcmp(argv[1], "sync"))
		return sync_mount(argv[2]);
	return usage(stderr, 2);
}
