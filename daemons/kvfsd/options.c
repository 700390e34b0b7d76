/* SPDX-License-Identifier: MIT */
/*
 * kvfsd's command line: our -o options are taken out with fuse_opt_parse(),
 * libfuse's own (-f, -d, -o allow_other, ...) are left for
 * fuse_parse_cmdline() and fuse_session_new(), which reject unknown ones.
 */
#include "kvfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "log.h"

enum {
	KEY_SIZE,
	KEY_NR_INODES,
	KEY_MAXFILESIZE,
	KEY_NEGATIVE,
	KEY_TIMEOUT,
	KEY_DIRECT_IO,
	KEY_READAHEAD,
	KEY_MODE,
	KEY_UID,
	KEY_GID,
	KEY_THREADS,
	KEY_POLL,
	KEY_IMAGE,
	KEY_COMMIT,
	_KEY_MAX
};

static const struct fuse_opt kvfs_opts[] = {
	FUSE_OPT_KEY("size=", KEY_SIZE),
	FUSE_OPT_KEY("nr_inodes=", KEY_NR_INODES),
	FUSE_OPT_KEY("maxfilesize=", KEY_MAXFILESIZE),
	FUSE_OPT_KEY("negative_dentries=", KEY_NEGATIVE),
	FUSE_OPT_KEY("timeout=", KEY_TIMEOUT),
	FUSE_OPT_KEY("direct_io", KEY_DIRECT_IO),
	FUSE_OPT_KEY("direct_io=", KEY_DIRECT_IO),
	FUSE_OPT_KEY("readahead=", KEY_READAHEAD),
	FUSE_OPT_KEY("mode=", KEY_MODE),
	FUSE_OPT_KEY("uid=", KEY_UID),
	FUSE_OPT_KEY("gid=", KEY_GID),
	FUSE_OPT_KEY("threads=", KEY_THREADS),
	FUSE_OPT_KEY("poll=", KEY_POLL),
	FUSE_OPT_KEY("image=", KEY_IMAGE),
	FUSE_OPT_KEY("commit=", KEY_COMMIT),
	FUSE_OPT_END
};

static const char usage[] =
"Usage: kvfsd [-f] [-d] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
"\n"
"kvfsd mounts an in-memory POSIX file system over FUSE whose insides mirror\n"
"the Linux VFS: super block, inodes, a dentry cache with negative entries and\n"
"an LRU, open files, and per-file address spaces of 4 KiB pages. It works in\n"
"any container or machine that has /dev/fuse. The data lives in the daemon's\n"
"memory and is gone when the file system is unmounted, unless -o image=FILE\n"
"keeps a durable copy.\n"
"\n"
"Options:\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"  -f                     stay in the foreground (log to stderr)\n"
"  -d                     debug: foreground, and log every FUSE request\n"
"  -o size=SIZE           bytes of file data the file system holds; statfs\n"
"                         reports it and writes past it fail with ENOSPC.\n"
"                         Suffixes k, m, g, t (powers of 1024), or N% of RAM.\n"
"                         Default: 50% of RAM\n"
"  -o nr_inodes=N         inodes allowed (ENOSPC beyond). Default: one per\n"
"                         4 KiB of size\n"
"  -o maxfilesize=SIZE    largest file; beyond it writes, truncate and\n"
"                         fallocate fail with EFBIG. Default: 16t\n"
"  -o negative_dentries=N unused negative dentries kept before the oldest are\n"
"                         evicted. Default: 65536\n"
"  -o timeout=SECONDS     how long the kernel caches names and attributes.\n"
"                         kvfsd is the only writer, so long is safe.\n"
"                         Default: 86400\n"
"  -o direct_io[=BOOL]    bypass the kernel page cache for file data: faster\n"
"                         large sequential I/O, but no shared writable mmap(2)\n"
"  -o readahead=KiB       set the mount's read-ahead (needs root). Default:\n"
"                         1024, the size of one FUSE read request\n"
"  -o mode=OCTAL          mode of the root directory. Default: 1777, as tmpfs\n"
"  -o uid=UID,gid=GID     owner of the root directory. Default: the caller\n"
"  -o threads=N           threads waiting for requests (1-16). They take turns:\n"
"                         one request is processed at a time. Default: 1\n"
"  -o poll=USEC           after a request, keep asking /dev/fuse for the next\n"
"                         one for USEC microseconds (yielding the CPU between\n"
"                         tries) before sleeping: lower latency for bursts of\n"
"                         requests, at the cost of CPU time while they last.\n"
"                         0: always sleep. Default: 50\n"
"  -o image=FILE          persist the tree to FILE (created if missing, sparse,\n"
"                         up to about 2.25x size=; an existing image keeps its\n"
"                         own size). The tree is still served from memory;\n"
"                         a commit (copy-on-write, two superblocks, CRC32C)\n"
"                         makes the whole tree durable: a crash loses only\n"
"                         what was not committed. A corrupt image is refused\n"
"                         (exit 1)\n"
"  -o commit=SECONDS      with image=: the flusher commits every SECONDS if\n"
"                         anything changed; 0: no flusher. Default: 5\n"
"  -o allow_other         let other users use the mount (root, or\n"
"                         user_allow_other in /etc/fuse.conf)\n"
"  Permissions are always checked by the kernel (default_permissions).\n"
"  Booleans: " UKD_BOOL_WORDS ", any case.\n"
"\n"
"Durability with image= (without it nothing is durable):\n"
"  fsync, fdatasync (any file)   commit the whole tree before returning\n"
"  fsync of a directory          the same (FUSE_FSYNCDIR); the root will do\n"
"  kvfsctl sync MOUNTPOINT       fsync of the root directory: a commit\n"
"  sync(1), sync -f, syncfs(2)   NOT durable: the kernel sends nothing to a\n"
"                                /dev/fuse file system and returns 0\n"
"  commit=S flusher              commits within S s of a change\n"
"  unmount                       a last commit before kvfsd exits\n"
"\n"
"Introspection (extended attributes of the root directory, not listed):\n"
"  getfattr --only-values -n kvfs.stats MOUNTPOINT         all counters\n"
"  getfattr --only-values -n kvfs.stats.inodes MOUNTPOINT  one counter:\n"
"    inodes inodes_max inodes_dirty kernel_refs dentries dentries_positive\n"
"    dentries_negative dentries_unused dcache_hits dcache_misses\n"
"    dcache_evictions pages pages_dirty pages_written_back bytes_used\n"
"    bytes_max files_open image_generation\n"
"  setfattr -n kvfs.ctl.drop_caches -v 1 MOUNTPOINT  (root) evict unused\n"
"    negative dentries; 2: write back (with image=: commit); 3: both\n"
"\n"
"Stopping: fusermount3 -u MOUNTPOINT, or SIGTERM/SIGINT to the daemon\n"
"(which unmounts). At exit kvfsd frees every object through its reference\n"
"counts and reports any that stayed alive (\"leaked\").\n"
"\n"
"Exit status: 0 clean unmount, 1 error, 2 usage error, 3 objects leaked.\n"
"\n"
"Examples:\n"
"  kvfsd -o size=1g /mnt/kvfs\n"
"  kvfsd -f -o allow_other,size=50%,nr_inodes=100000 /srv/scratch\n"
"  fusermount3 -u /mnt/kvfs\n"
"\n"
"See also: docs/kvfsd.md, mount.fuse3(8), tmpfs(5).\n";

/* Parse "123", "4k", "1G", "50%" into bytes. */
static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end == '%') {
		long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

		if (end[1] || v == 0 || v > 100 || pages <= 0 || psize <= 0)
			return -EINVAL;
		*ret = (uint64_t)pages * (uint64_t)psize / 100 * v;
		return 0;
	}
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}

/* -o SIZE options: bytes with k/m/g/t, or N% of RAM. */
static int config_size(struct ukd_config *uc, const char *value, uint64_t min, uint64_t max,
		       uint64_t *ret)
{
	uint64_t v = 0;

	if (parse_size(value, &v) < 0 || v < min || v > max)
		return ukd_config_fail(uc, "expected a size %" PRIu64 "..%" PRIu64
				       " bytes (suffix k, m, g, t; or N%% of RAM)", min, max);
	*ret = v;
	return 0;
}

/* One -o setting; the same typed parsers and messages as the other
 * daemons' settings (lib/config.h). */
static int set(struct ukd_config *uc, const char *key, const char *value)
{
	struct kvfs_config *cfg = uc->userdata;
	uint64_t u;
	int r;

	if (!strcmp(key, "size"))
		return config_size(uc, value, KVFS_PAGE_SIZE, UINT64_MAX, &cfg->mount.size);
	if (!strcmp(key, "nr_inodes"))
		return config_size(uc, value, 1, UINT64_MAX, &cfg->mount.nr_inodes);
	if (!strcmp(key, "maxfilesize"))
		return config_size(uc, value, 1, KVFS_MAXBYTES_DEFAULT, &cfg->mount.maxbytes);
	if (!strcmp(key, "negative_dentries")) {
		/* 0 would mean "the default" in struct kvfs_mount_opts. */
		r = ukd_config_uint(uc, value, 0, UINT64_MAX, &u);
		if (r == 0)
			cfg->mount.negative_max = u ? u : 1;
		return r;
	}
	if (!strcmp(key, "timeout")) {
		char *end;
		double t;

		errno = 0;
		t = strtod(value, &end);
		if (errno || *end || !*value || !(t >= 0))
			return ukd_config_fail(uc, "expected seconds >= 0 (e.g. 1.5)");
		cfg->timeout = t;
		return 0;
	}
	if (!strcmp(key, "direct_io"))
		return ukd_config_bool(uc, value, &cfg->direct_io);
	if (!strcmp(key, "readahead")) {
		r = ukd_config_uint(uc, value, 1, 1u << 20, &u);
		if (r == 0)
			cfg->readahead_kb = (unsigned)u;
		return r;
	}
	if (!strcmp(key, "mode"))
		return ukd_config_mode(uc, value, &cfg->mount.root_mode);
	if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
		r = ukd_config_uint(uc, value, 0, UINT32_MAX - 1, &u);
		if (r == 0 && key[0] == 'u')
			cfg->mount.root_uid = (uid_t)u;
		else if (r == 0)
			cfg->mount.root_gid = (gid_t)u;
		return r;
	}
	if (!strcmp(key, "threads")) {
		r = ukd_config_uint(uc, value, 1, KVFS_THREADS_MAX, &u);
		if (r == 0)
			cfg->threads = (unsigned)u;
		return r;
	}
	if (!strcmp(key, "poll")) {
		r = ukd_config_uint(uc, value, 0, KVFS_POLL_MAX_US, &u);
		if (r == 0)
			cfg->poll_us = (unsigned)u;
		return r;
	}
	if (!strcmp(key, "image"))
		return ukd_config_string(uc, value, &cfg->image);
	if (!strcmp(key, "commit")) {
		r = ukd_config_uint(uc, value, 0, 86400, &u);
		if (r == 0)
			cfg->commit_seconds = (unsigned)u;
		return r;
	}
	return -ENOENT;
}

static int kvfs_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct ukd_config uc = { .program = "kvfsd", .userdata = data };
	const char *eq = strchr(arg, '=');
	char name[32];
	int r;

	if (key < 0 || key >= _KEY_MAX)
		return 1; /* keep: libfuse's */
	/* "direct_io" alone means direct_io=yes. */
	snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
	r = set(&uc, name, eq ? eq + 1 : "yes");
	if (r == -ENOMEM) {
		fprintf(stderr, "kvfsd: out of memory\n");
		return -1;
	}
	if (r < 0) {
		fprintf(stderr, "kvfsd: -o %s: %s\n", arg, uc.error[0] ? uc.error : "invalid value");
		return -1;
	}
	return 0;
}

/**
 * kvfs_parse_args() - fill @cfg from the command line; leave libfuse's
 * options in @args.
 * Returns 1 to run, 0 after --help/--version, -EINVAL on a usage error.
 */
int kvfs_parse_args(struct fuse_args *args, struct kvfs_config *cfg)
{
	struct fuse_cmdline_opts o = { 0 };

	*cfg = (struct kvfs_config){
		.timeout = KVFS_TIMEOUT_DEFAULT,
		.threads = KVFS_THREADS_DEFAULT,
		.poll_us = KVFS_POLL_DEFAULT_US,
		.readahead_kb = KVFS_MAX_IO / 1024,
		.commit_seconds = IMAGE_COMMIT_DEFAULT,
		.mount = { .root_mode = 01777, .root_uid = getuid(), .root_gid = getgid() },
	};
	if (fuse_opt_parse(args, cfg, kvfs_opts, kvfs_opt_proc) != 0)
		return -EINVAL;
	if (fuse_parse_cmdline(args, &o) != 0)
		return -EINVAL;
	if (o.show_help) {
		fputs(usage, stdout);
		free(o.mountpoint);
		return 0;
	}
	if (o.show_version) {
		printf("kvfsd %s (libfuse %s)\n", UKD_VERSION, fuse_pkgversion());
		free(o.mountpoint);
		return 0;
	}
	if (!o.mountpoint) {
		fprintf(stderr, "kvfsd: no mount point given\n%s", "Try 'kvfsd --help'.\n");
		return -EINVAL;
	}
	cfg->mountpoint = o.mountpoint;
	cfg->foreground = o.foreground;
	cfg->debug = o.debug;
	return 1;
}

void kvfs_config_done(struct kvfs_config *cfg)
{
	free(cfg->mountpoint);
	cfg->mountpoint = NULL;
	free(cfg->image);
	cfg->image = NULL;
}
