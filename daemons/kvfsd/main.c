/* SPDX-License-Identifier: MIT */
/*
 * kvfsd: an in-memory FUSE file system built from the kernel's VFS
 * objects. Usage: kvfsd [-f] [-o options] MOUNTPOINT (see --help,
 * docs/kvfsd.md). parse -> build -> mount -> loop -> cleanup.
 */
#include "kvfs.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * mount.fuse3 (an fstab line of type fuse.kvfsd, or a .mount unit) runs
 * "kvfsd SOURCE MOUNTPOINT -o OPTIONS". kvfsd has no source (the image is
 * -o image=), so with two operands the first is a name only: drop it
 * before libfuse, which takes exactly one.
 */
static void drop_mount_source(int *argc, char **argv)
{
	int operands[3], n = 0;

	for (int i = 1; i < *argc && n < 3; i++) {
		if (strcmp(argv[i], "-o") == 0) {
			i++;   /* its value */
			continue;
		}
		if (argv[i][0] != '-')
			operands[n++] = i;
	}
	if (n != 2)
		return;
	memmove(&argv[operands[0]], &argv[operands[0] + 1],
		(size_t)(*argc - operands[0]) * sizeof(*argv));   /* with the NULL */
	(*argc)--;
}

int main(int argc, char *argv[])
{
	struct fuse_args args;
	struct kvfs_config cfg;
	struct kvfs *fs = NULL;
	int r, code;

	drop_mount_source(&argc, argv);
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	r = kvfs_parse_args(&args, &cfg);
	if (r <= 0) {
		fuse_opt_free_args(&args);
		return r < 0 ? 2 : 0;
	}
	ukd_log_set_hook(ukd_log_stderr, cfg.debug ? LOG_DEBUG : LOG_INFO, "kvfsd");

	r = kvfs_new(&fs, &cfg);
	if (r < 0) {
		ukd_log(LOG_ERR, "cannot build the file system: %s", strerror(-r));
		kvfs_config_done(&cfg);
		fuse_opt_free_args(&args);
		return 1;
	}
	r = kvfs_mount(fs, &args);
	fuse_opt_free_args(&args);
	if (r == 0)
		r = kvfs_run(fs);
	else if (r != -EINVAL)
		ukd_log(LOG_ERR, "cannot mount: %s", strerror(-r));
	code = kvfs_free(fs);
	return r < 0 ? (r == -EINVAL ? 2 : 1) : code;
}
