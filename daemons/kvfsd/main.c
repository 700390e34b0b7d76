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

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct kvfs_config cfg;
	struct kvfs *fs = NULL;
	int r, code;

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
