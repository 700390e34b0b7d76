/* SPDX-License-Identifier: MIT */
/*
 * The kvfsd manager: builds the super block, mounts the FUSE session,
 * serves it from an sd-event loop on one thread, and tears everything down
 * through the reference counts at the end, reporting leaks.
 */
#include "kvfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fuse-statx.h"
#include "image.h"
#include "log.h"
#include "mountpoint.h"
#include "recorder.h"          /* ukd_now_ns() */

int kvfs_new(struct kvfs **ret, struct kvfs_config *cfg)
{
	struct kvfs *fs = calloc(1, sizeof(*fs));
	int r;

	if (!fs)
		return -ENOMEM;
	fs->cfg = *cfg;
	cfg->mountpoint = NULL; /* ours now */
	cfg->image = NULL;
	fs->efd = -1;
	fs->trim_efd = -1;
	pthread_mutex_init(&fs->lock, NULL);
	fs->iov_max = KVFS_MAX_IO / KVFS_PAGE_SIZE + 2;
	fs->iov = calloc(fs->iov_max, sizeof(*fs->iov));
	fs->dirbuf = malloc(KVFS_DIRBUF_SIZE);
	if (!fs->iov || !fs->dirbuf) {
		kvfs_free(fs);
		return -ENOMEM;
	}
	r = super_new(&fs->cfg.mount, &fs->sb);
	if (r < 0) {
		kvfs_free(fs);
		return r;
	}
	if (fs->cfg.image) {
		char msg[256];

		r = image_attach(fs->sb, fs->cfg.image, fs->sb->s_blocks_max << KVFS_PAGE_SHIFT,
				 msg, sizeof(msg));
		if (r < 0) {
			ukd_log(LOG_ERR, "IMAGE: %s: %s; refusing to mount", fs->cfg.image,
				msg[0] ? msg : strerror(-r));
			kvfs_free(fs);
			return r;
		}
		/* An existing image keeps its size; the inode limit follows it. */
		if (!fs->cfg.mount.nr_inodes)
			fs->sb->s_inodes_max = fs->sb->s_blocks_max > 1024 ? fs->sb->s_blocks_max : 1024;
		if (fs->sb->s_inodes_max < fs->sb->s_inodes_live)
			fs->sb->s_inodes_max = fs->sb->s_inodes_live;
		ukd_log(LOG_INFO, "image %s: generation %" PRIu64 ", %" PRIu64 " inodes",
			fs->cfg.image, image_generation(fs->sb), fs->sb->s_inodes_live);
	}
	*ret = fs;
	return 0;
}

/* "\040" and friends in /proc/self/mountinfo. */
static void unescape_octal(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The FUSE bdi reads ahead 128 KiB by default, so page-cache reads reach
 * the daemon in 128 KiB requests; 1 MiB (one max_read) measured 1.6x
 * faster for cold sequential reads here. conn->max_readahead can only
 * lower it, so set it in sysfs (root only; best effort). The mount is
 * found through mountinfo, without a request to ourselves.
 */
static void set_readahead(const char *canonical, unsigned kb)
{
	_cleanup_free_ char *line = NULL;
	char dev[64] = "";
	size_t n = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &n, f) > 0) {
		char mnt[PATH_MAX], d[64];

		if (sscanf(line, "%*u %*u %63s %*s %4095s", d, mnt) != 2)
			continue;
		unescape_octal(mnt);
		if (!strcmp(mnt, canonical) && strstr(line, " - fuse.kvfs "))
			snprintf(dev, sizeof(dev), "%s", d);
	}
	fclose(f);
	if (dev[0]) {
		char path[128];
		FILE *ra;

		snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
		ra = fopen(path, "we");
		if (ra) {
			fprintf(ra, "%u\n", kb);
			if (fclose(ra) == 0)
				ukd_log(LOG_DEBUG, "read-ahead of %s: %u KiB", canonical, kb);
		}
	}
}

static void kvfs_ended(struct kvfs *fs)
{
	uint64_t one = 1;

	if (write(fs->efd, &one, sizeof(one)) < 0)
		ukd_log(LOG_ERR, "eventfd: %m");
}

/*
 * FUSE_STATX, which libfuse 3.14 would answer with ENOSYS (fuse-statx.h).
 * Returns true when @buf was that request and is answered. A request
 * libfuse left in a pipe (splice read) is never one: libfuse copies every
 * request shorter than a page plus a WRITE header into memory, and a
 * STATX request is 64 bytes; such a buffer goes to libfuse unread.
 * Called under fs->lock.
 */
static bool kvfs_statx(struct kvfs *fs, const struct fuse_buf *buf)
{
	uint64_t unique;
	int r;

	if ((buf->flags & FUSE_BUF_IS_FD) || !fs->initialized ||
	    !fuse_statx_request(buf->mem, buf->size, &unique))
		return false;
	if (fs->cfg.debug)
		fuse_log(FUSE_LOG_DEBUG, "unique: %llu, opcode: STATX (%d), insize: %zu (kvfsd)\n",
			 (unsigned long long)unique, KVFS_FUSE_STATX, buf->size);
	r = fuse_statx_answer(fs->sb, fs->cfg.timeout, buf->mem, buf->size,
			      fuse_session_fd(fs->se));
	if (r < 0 && r != -ENOENT)
		ukd_log(LOG_ERR, "%s: replying to STATX failed: %s", fs->cfg.mountpoint,
			strerror(-r));
	return true;
}

/*
 * The next request. With poll= the fd is non-blocking and a worker keeps
 * asking for up to poll_us after the last request it got before it sleeps
 * in poll(2): on this VM, waking a thread on an idle CPU costs more than
 * most requests' work, and the next request of a busy client usually
 * comes within that time. Between tries the worker yields, so a client
 * (or anything else) that shares its CPU runs first. @last: when this
 * worker last got a request.
 */
static int kvfs_receive(struct kvfs *fs, struct fuse_buf *buf, uint64_t *last)
{
	for (;;) {
		int r = fuse_session_receive_buf(fs->se, buf);
		struct pollfd pfd = { .fd = fuse_session_fd(fs->se), .events = POLLIN };

		if (r != -EAGAIN || !fs->cfg.poll_us) {
			*last = ukd_now_ns();
			return r;
		}
		if (ukd_now_ns() - *last < (uint64_t)fs->cfg.poll_us * 1000) {
			sched_yield();
			continue;
		}
		if (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			return -EINTR;
		*last = ukd_now_ns();
	}
}

/* A request thread: receive, then process under the file system lock. */
static void *kvfs_worker(void *userdata)
{
	struct kvfs *fs = userdata;
	struct fuse_buf buf = { 0 };
	uint64_t last = ukd_now_ns();

	while (!fuse_session_exited(fs->se)) {
		int r = kvfs_receive(fs, &buf, &last);

		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r <= 0) {
			pthread_mutex_lock(&fs->lock);
			/* 0 or -ENODEV: unmounted from outside (fusermount3 -u).
			 * !mounted: kvfs_run() unmounted, which closed the fd
			 * under this thread (EBADF): the normal way out too. */
			if (r == 0 || r == -ENODEV || !fs->mounted) {
				if (fs->mounted)
					ukd_log(LOG_INFO, "%s: unmounted", fs->cfg.mountpoint);
				fs->mounted = false;
			} else {
				ukd_log(LOG_ERR, "%s: reading /dev/fuse failed: %s",
					fs->cfg.mountpoint, strerror(-r));
				fs->exit_code = 1;
			}
			pthread_mutex_unlock(&fs->lock);
			fuse_session_exit(fs->se);
			kvfs_ended(fs);
			break;
		}
		pthread_mutex_lock(&fs->lock);
		if (!kvfs_statx(fs, &buf))
			fuse_session_process_buf(fs->se, &buf);
		if (fs->readahead_pending && fs->initialized) {
			/* After INIT: its reply resets the read-ahead. */
			fs->readahead_pending = false;
			set_readahead(fs->canonical, fs->cfg.readahead_kb);
		}
		pthread_mutex_unlock(&fs->lock);
	}
	free(buf.mem);
	return NULL;
}

static int kvfs_efd_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return -errno;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* SIGHUP ends the loop as lib's SIGTERM and SIGINT do (kvfs_mount()). */
static int kvfs_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The flusher: commit the image every commit= seconds if anything changed. */
static int kvfs_flush(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct kvfs *fs = userdata;
	int r;

	pthread_mutex_lock(&fs->lock);
	r = sync_filesystem(fs->sb);
	pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		ukd_log(LOG_ERR, "image %s: commit failed: %s", fs->cfg.image, strerror(-r));
	r = sd_event_source_set_time_relative(s, (uint64_t)fs->cfg.commit_seconds * 1000000);
	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return r;
}

#define TRIM_USEC ((uint64_t)PAGE_POOL_KEEP_SECONDS * 1000000 / 2)

/* The trimmer: while the page allocator's reuse pool holds chunks, every
 * PAGE_POOL_KEEP_SECONDS / 2 the ones that have sat there
 * PAGE_POOL_KEEP_SECONDS go back; with the pool empty it stops until
 * kvfs_pool_filled() wakes it. */
static int kvfs_trim(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct kvfs *fs = userdata;
	uint64_t left;

	pthread_mutex_lock(&fs->lock);
	page_allocator_trim(&fs->sb->s_page_alloc, (uint64_t)PAGE_POOL_KEEP_SECONDS * 1000000);
	left = fs->sb->s_page_alloc.pooled;
	pthread_mutex_unlock(&fs->lock);
	if (!left)
		return 0;
	return sd_event_source_set_time_relative(s, TRIM_USEC) < 0 ? 0 :
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* A chunk entered the empty pool (under fs->lock, on any thread): tell
 * the loop, which owns the timer. */
static void kvfs_pool_filled(void *data)
{
	struct kvfs *fs = data;
	uint64_t one = 1;

	if (write(fs->trim_efd, &one, sizeof(one)) < 0)
		ukd_log(LOG_DEBUG, "trim eventfd: %m");
}

static int kvfs_trim_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct kvfs *fs = userdata;
	int enabled = SD_EVENT_OFF;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return -errno;
	/* Already counting down: the oldest chunk's turn comes first. */
	if (sd_event_source_get_enabled(fs->trimmer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return 0;
	if (sd_event_source_set_time_relative(fs->trimmer, TRIM_USEC) < 0)
		return 0;
	return sd_event_source_set_enabled(fs->trimmer, SD_EVENT_ONESHOT);
}

/**
 * kvfs_mount() - create the FUSE session and mount it; daemonize unless
 * -f; set up the loop. @args: libfuse's options, left by kvfs_parse_args().
 */
int kvfs_mount(struct kvfs *fs, struct fuse_args *args)
{
	char opts[128];
	sigset_t ss;
	int r;

	r = ukd_mountpoint_check(fs->cfg.mountpoint);
	if (r < 0) {
		ukd_log(LOG_ERR, "%s: %s", fs->cfg.mountpoint,
			r == -EBUSY ? "already a mount point" :
			r == -ENOTCONN ? "stale FUSE mount; unmount it with fusermount3 -u" :
			strerror(-r));
		return r;
	}
	if (!realpath(fs->cfg.mountpoint, fs->canonical))
		return ukd_negerrno();
	snprintf(opts, sizeof(opts), "-ofsname=kvfs,subtype=kvfs,default_permissions,max_read=%d",
		 KVFS_MAX_IO);
	if (fuse_opt_add_arg(args, opts) != 0)
		return -ENOMEM;
	fs->se = fuse_session_new(args, &kvfs_fuse_ops, sizeof(kvfs_fuse_ops), fs);
	if (!fs->se)
		return -EINVAL; /* libfuse said why (e.g. an unknown option) */
	if (fuse_session_mount(fs->se, fs->canonical) != 0) {
		ukd_log(LOG_ERR, "%s: cannot mount (is /dev/fuse there? allow_other needs root or "
			"user_allow_other in /etc/fuse.conf)", fs->canonical);
		return -EPERM;
	}
	fs->mounted = true;
	fs->was_mounted = true;
	if (fs->cfg.poll_us) {
		int fd = fuse_session_fd(fs->se);
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return ukd_negerrno();
	}
	fs->readahead_pending = fs->cfg.readahead_kb != 0;
	if (fuse_daemonize(fs->cfg.foreground) != 0)
		return -ECHILD;

	/*
	 * sd-event objects belong to one process: create them after the fork.
	 * lib's loop ends on SIGTERM and SIGINT and pings the watchdog; a FUSE
	 * file system also ends on SIGHUP (libfuse's own loop does), so that
	 * one is added here.
	 */
	r = ukd_daemon_event_new(&fs->event);
	if (r < 0)
		return r;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return ukd_negerrno();
	signal(SIGPIPE, SIG_IGN);
	/* After the fork and with the signals blocked, as the workers. */
	r = page_allocator_prefill(&fs->sb->s_page_alloc);
	if (r < 0)
		ukd_log(LOG_WARNING, "no allocation ahead: %s", strerror(-r));
	r = sd_event_add_signal(fs->event, &fs->sig_hup, SIGHUP, kvfs_sighup, fs);
	if (r < 0)
		return r;
	fs->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->efd < 0)
		return ukd_negerrno();
	r = sd_event_add_io(fs->event, &fs->efd_src, fs->efd, EPOLLIN, kvfs_efd_event, fs);
	if (r < 0)
		return r;
	if (fs->sb->s_image && fs->cfg.commit_seconds) {
		r = sd_event_add_time_relative(fs->event, &fs->flusher, CLOCK_MONOTONIC,
					       (uint64_t)fs->cfg.commit_seconds * 1000000, 0,
					       kvfs_flush, fs);
		if (r < 0)
			return r;
	}
	r = sd_event_add_time_relative(fs->event, &fs->trimmer, CLOCK_MONOTONIC, TRIM_USEC,
				       TRIM_USEC / 10, kvfs_trim, fs);
	if (r >= 0)
		r = sd_event_source_set_enabled(fs->trimmer, SD_EVENT_OFF);
	if (r < 0)
		return r;
	fs->trim_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->trim_efd < 0)
		return ukd_negerrno();
	r = sd_event_add_io(fs->event, &fs->trim_src, fs->trim_efd, EPOLLIN, kvfs_trim_wake, fs);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->lock);
	fs->sb->s_page_alloc.pool_filled = kvfs_pool_filled;
	fs->sb->s_page_alloc.pool_filled_data = fs;
	if (fs->sb->s_page_alloc.pooled)
		kvfs_pool_filled(fs);
	pthread_mutex_unlock(&fs->lock);
	ukd_log(LOG_INFO, "%s: mounted (%" PRIu64 " MiB, %" PRIu64 " inodes, %u threads%s)",
		fs->canonical, (fs->sb->s_blocks_max << KVFS_PAGE_SHIFT) >> 20, fs->sb->s_inodes_max,
		fs->cfg.threads, fs->cfg.direct_io ? ", direct_io" : "");
	return 0;
}

/* Interrupts a worker's read(2); installed without SA_RESTART. */
static void kvfs_sigusr1(int sig)
{
}

/* Stop the workers: each is either processing (and will see the exit
 * flag) or blocked in read(2), which SIGUSR1 interrupts. Signal until it
 * has gone, in case it was between the flag check and read(2). */
static void kvfs_stop_workers(struct kvfs *fs)
{
	if (!fs->n_workers)
		return;
	fuse_session_exit(fs->se);
	for (unsigned i = 0; i < fs->n_workers; i++) {
		for (int tries = 0; tries < 500; tries++) {
			struct timespec ts;

			pthread_kill(fs->workers[i], SIGUSR1);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(fs->workers[i], NULL, &ts) == 0)
				break;
		}
	}
	fs->n_workers = 0;
}

int kvfs_run(struct kvfs *fs)
{
	struct sigaction sa = { .sa_handler = kvfs_sigusr1 };
	int r = 0;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return ukd_negerrno();
	for (unsigned i = 0; i < fs->cfg.threads; i++) {
		r = -pthread_create(&fs->workers[i], NULL, kvfs_worker, fs);
		if (r < 0)
			break;
		fs->n_workers++;
	}
	if (r == 0) {
		sd_notify(0, "READY=1");
		r = sd_event_loop(fs->event);
		sd_notify(0, "STOPPING=1");
	}
	/* Unmount first: with no file open, the workers then see ENODEV. */
	pthread_mutex_lock(&fs->lock);
	if (fs->mounted) {
		/* Still mounted: a signal (SIGTERM, SIGINT, SIGHUP) ended the loop. */
		ukd_log(LOG_INFO, "%s: asked to stop, unmounting", fs->cfg.mountpoint);
		fuse_session_unmount(fs->se);
		fs->mounted = false;
	}
	pthread_mutex_unlock(&fs->lock);
	kvfs_stop_workers(fs);
	return r;
}

/**
 * kvfs_free() - unmount if still mounted, end the session, free the file
 * system through its reference counts.
 * Returns the exit status: 0, 1 after an error, 3 if objects leaked.
 */
int kvfs_free(struct kvfs *fs)
{
	uint64_t inodes = 0, dentries = 0, pages = 0;
	int code;

	if (!fs)
		return 0;
	code = fs->exit_code;
	kvfs_stop_workers(fs);
	if (fs->sb)
		fs->sb->s_page_alloc.pool_filled = NULL;   /* the loop is done with it */
	sd_event_source_disable_unref(fs->efd_src);
	sd_event_source_disable_unref(fs->sig_hup);
	sd_event_source_disable_unref(fs->flusher);
	sd_event_source_disable_unref(fs->trimmer);
	sd_event_source_disable_unref(fs->trim_src);
	if (fs->se) {
		/* Also after an unmount from outside: libfuse then only frees
		 * its copy of the mount point (it sees the dead fd first). */
		if (fs->was_mounted)
			fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
	}
	if (fs->sb && fs->sb->s_image && fs->was_mounted) {
		/* The last commit: everything the kernel sent before the unmount. */
		int r = sync_filesystem(fs->sb);

		if (r < 0) {
			ukd_log(LOG_ERR, "image %s: final commit failed: %s", fs->cfg.image,
				strerror(-r));
			code = 1;
		} else {
			ukd_log(LOG_INFO, "image %s: committed generation %" PRIu64, fs->cfg.image,
				image_generation(fs->sb));
		}
	}
	if (fs->sb) {
		super_teardown(fs->sb, &inodes, &dentries, &pages);
		if (inodes || dentries || pages) {
			ukd_log(LOG_ERR, "%s: leaked %" PRIu64 " inodes, %" PRIu64 " dentries, %"
				PRIu64 " pages", fs->cfg.mountpoint, inodes, dentries, pages);
			code = 3;
		} else {
			ukd_log(LOG_INFO, "%s: leaked 0 inodes, 0 dentries, 0 pages",
				fs->cfg.mountpoint);
		}
	}
	if (fs->efd >= 0)
		close(fs->efd);
	if (fs->trim_efd >= 0)
		close(fs->trim_efd);
	pthread_mutex_destroy(&fs->lock);
	sd_event_unref(fs->event);
	free(fs->iov);
	free(fs->dirbuf);
	kvfs_config_done(&fs->cfg);
	free(fs);
	return code;
}
