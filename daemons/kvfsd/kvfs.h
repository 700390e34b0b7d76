/* SPDX-License-Identifier: MIT */
/*
 * The kvfsd manager: configuration, the FUSE session and the event loop
 * around one super block.
 */
#pragma once

#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "fs.h"

#define KVFS_MAX_IO (1024 * 1024)           /* max_read / max_write */
#define KVFS_TIMEOUT_DEFAULT 86400.0        /* entry/attr cache, seconds */
#define KVFS_DIRBUF_SIZE (128 * 1024)
#define KVFS_THREADS_DEFAULT 1
#define KVFS_THREADS_MAX 16
#define KVFS_POLL_DEFAULT_US 50
#define KVFS_POLL_MAX_US 1000000

struct kvfs_config {
	struct kvfs_mount_opts mount;
	double timeout;           /* entry and attribute timeout */
	bool direct_io;           /* bypass the kernel page cache */
	unsigned readahead_kb;    /* the mount's read-ahead; 0 = leave the kernel's */
	unsigned threads;         /* request threads */
	unsigned poll_us;         /* busy-poll /dev/fuse this long after a request */
	bool foreground;
	bool debug;
	char *mountpoint;
	char *image;              /* image file; NULL: memory only */
	unsigned commit_seconds;  /* flusher interval with an image */
};

/*
 * Threads: cfg.threads workers each wait for requests on /dev/fuse and
 * process what they receive under @lock, so the VFS objects are only ever
 * touched by one thread at a time and need no locks of their own. One
 * worker is the default: with one lock, more only add hand-offs (measured
 * on 2 vCPUs: 1 thread 29k creates/s where 3 gave 21k, client and daemon
 * on one CPU). With cfg.poll_us the fd is non-blocking and a worker
 * busy-polls that long after each request before sleeping in poll(2):
 * waking an idle CPU in this VM costs more than a request (see
 * kvfs_receive()). The main thread runs the sd-event loop: signals, and a
 * worker's "unmounted" through @efd.
 */
struct kvfs {
	struct kvfs_config cfg;
	pthread_mutex_t lock;     /* guards sb and everything below marked (L) */
	struct super_block *sb;   /* (L) */
	struct fuse_session *se;
	sd_event *event;
	sd_event_source *sig_hup, *efd_src;  /* SIGTERM, SIGINT: lib's (daemon.h) */
	sd_event_source *flusher; /* commits the image every cfg.commit_seconds */
	sd_event_source *trimmer; /* hands the page allocator's pool back (page_alloc.c) */
	sd_event_source *trim_src; /* trim_efd: arms the trimmer */
	int efd;                  /* eventfd: a worker saw the session end */
	int trim_efd;             /* eventfd: the page pool filled, arm the trimmer */
	pthread_t workers[KVFS_THREADS_MAX];
	unsigned n_workers;
	bool mounted;             /* (L) */
	bool was_mounted;         /* fuse_session_unmount() is due at the end */
	struct iovec *iov;        /* (L) read replies: pointers into pages */
	unsigned iov_max;
	char *dirbuf;             /* (L) readdir replies */
	int exit_code;            /* (L) */
	char canonical[4096];     /* the mount point, resolved before mounting */
	bool initialized;         /* (L) FUSE INIT done */
	bool readahead_pending;   /* (L) set the read-ahead once INIT is done */
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
