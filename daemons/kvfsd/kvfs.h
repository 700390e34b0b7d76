/* SPDX-License-Identifier: MIT */
/*
 * The kvfsd manager: configuration, the FUSE session and the event loop
 * around one super block.
 */
#pragma once

#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "fs.h"

#define KVFS_MAX_IO (1024 * 1024)           /* max_read / max_write */
#define KVFS_TIMEOUT_DEFAULT 86400.0        /* entry/attr cache, seconds */
#define KVFS_DIRBUF_SIZE (128 * 1024)

struct kvfs_config {
	struct kvfs_mount_opts mount;
	double timeout;           /* entry and attribute timeout */
	bool direct_io;           /* bypass the kernel page cache */
	unsigned readahead_kb;    /* the mount's read-ahead; 0 = leave the kernel's */
	bool foreground;
	bool debug;
	char *mountpoint;
};

struct kvfs {
	struct kvfs_config cfg;
	struct super_block *sb;
	struct fuse_session *se;
	sd_event *event;
	sd_event_source *io, *sig_term, *sig_int, *sig_hup;
	struct fuse_buf buf;
	bool mounted;
	struct iovec *iov;        /* read replies: pointers into pages */
	unsigned iov_max;
	char *dirbuf;             /* readdir replies */
	int exit_code;
	char canonical[4096];     /* the mount point, resolved before mounting */
	bool initialized;         /* FUSE INIT done */
	bool readahead_pending;   /* set the read-ahead once INIT is done */
};

extern const struct fuse_lowlevel_ops kvfs_fuse_ops;

/* options.c */
int kvfs_parse_args(struct fuse_args *args, struct kvfs_config *cfg);
void kvfs_config_done(struct kvfs_config *cfg);

/* mount.c */
int kvfs_new(struct kvfs **ret, struct kvfs_config *cfg);
int kvfs_mount(struct kvfs *fs, struct fuse_args *args);
int kvfs_run(struct kvfs *fs);
int kvfs_free(struct kvfs *fs);
