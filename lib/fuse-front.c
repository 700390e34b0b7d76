/* SPDX-License-Identifier: MIT */
/*
 * The FUSE front end: serves struct ukd_chardev nodes as files in a FUSE
 * mount, for containers and machines without CUSE.
 *
 * Layout: the root directory (inode 1) holds one regular file per node
 * (inode 2 + index). Files are size 0, direct_io and non-seekable, so every
 * read(2) and write(2) reaches the device, as with a character device.
 * Node names never change, so lookups and attributes are cached by the
 * kernel for a day.
 *
 * Streams: libfuse 3.14 cannot ask for FOPEN_STREAM, so open is answered
 * with a struct fuse_open_out of our own (the kernel protocol's open reply,
 * <linux/fuse.h>) carrying FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE |
 * FOPEN_STREAM. With FOPEN_STREAM (Linux >= 5.2) the file has no position
 * at all, exactly like a CUSE node: every read(2) and write(2) starts at
 * offset 0, and the kernel hands a large write(2) over in pieces of at most
 * max_write bytes (1 MiB, fewer for an unaligned buffer) whose offset is
 * the number of bytes already sent. So a piece is "continued" exactly when
 * its offset is not 0, as in cuse-front.c.
 *
 * Threading: everything runs on the sd-event loop thread (one request at a
 * time), which on two cores is as fast as libfuse's multi-threaded loop and
 * keeps device ops free of locking against each other.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "front-internal.h"
#include "front-request.h"
#include "log.h"
#include "mountpoint.h"

#define FUSE_FRONT_TIMEOUT 86400.0
#define FUSE_FRONT_FIRST_INO 2

struct fuse_node {
	struct fuse_front *front;
	struct ukd_chardev *dev;
	struct ukd_front_open *opens; /* open files of this node, for wake */
};

struct fuse_front {
	struct fuse_session *se;
	sd_event *event;
	sd_event_source *io;
	struct fuse_buf buf;
	char *mountpoint;
	bool made_mountpoint;         /* ours to remove at free */
	bool mounted;
	struct fuse_node *nodes;
	size_t n_nodes;
	void *iobuf;                  /* UKD_CHARDEV_MAX_IO bytes for read replies */
	struct timespec birth;
	uid_t uid;
	gid_t gid;
};

static struct fuse_node *node_of(struct fuse_front *front, fuse_ino_t ino)
{
	if (ino < FUSE_FRONT_FIRST_INO || ino - FUSE_FRONT_FIRST_INO >= front->n_nodes)
		return NULL;
	return &front->nodes[ino - FUSE_FRONT_FIRST_INO];
}

static void fill_attr(struct fuse_front *front, fuse_ino_t ino, struct stat *st)
{
	struct fuse_node *node = node_of(front, ino);

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = front->uid;
	st->st_gid = front->gid;
	st->st_atim = st->st_mtim = st->st_ctim = front->birth;
	st->st_blksize = 4096;
	if (node) {
		st->st_mode = S_IFREG | (node->dev->mode & 07777);
		st->st_nlink = 1;
	} else {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	}
}

static void ff_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = UKD_CHARDEV_MAX_IO;
	conn->max_read = UKD_CHARDEV_MAX_IO;
	/* Device files are streams: no page cache, no write-back. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

static void ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_front *front = fuse_req_userdata(req);
	struct fuse_entry_param e = { 0 };

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (size_t i = 0; i < front->n_nodes; i++) {
		if (strcmp(front->nodes[i].dev->name, name))
			continue;
		e.ino = FUSE_FRONT_FIRST_INO + i;
		e.attr_timeout = e.entry_timeout = FUSE_FRONT_TIMEOUT;
		fill_attr(front, e.ino, &e.attr);
		fuse_reply_entry(req, &e);
		return;
	}
	/* A negative entry: the set of names never changes. */
	e.ino = 0;
	e.entry_timeout = FUSE_FRONT_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *front = fuse_req_userdata(req);
	struct stat st;

	if (ino != FUSE_ROOT_ID && !node_of(front, ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(front, ino, &st);
	fuse_reply_attr(req, &st, FUSE_FRONT_TIMEOUT);
}

static void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct fuse_front *front = fuse_req_userdata(req);
	struct stat st;

	if (!node_of(front, ino)) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EPERM : ENOENT);
		return;
	}
	/* Like a device node: O_TRUNC and touch(1) are harmless, nothing else
	 * about the node can be changed through the mount. */
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fill_attr(front, ino, &st);
	fuse_reply_attr(req, &st, FUSE_FRONT_TIMEOUT);
}

static void ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fuse_front *front = fuse_req_userdata(req);
	size_t total = front->n_nodes + 2, used = 0;
	_cleanup_free_ char *buf = NULL;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > 65536)
		size = 65536;
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = off < 0 ? 0 : (size_t)off; i < total; i++) {
		struct stat st = { 0 };
		const char *name;
		size_t len;

		if (i < 2) {
			name = i == 0 ? "." : "..";
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		} else {
			name = front->nodes[i - 2].dev->name;
			st.st_ino = FUSE_FRONT_FIRST_INO + i - 2;
			st.st_mode = S_IFREG;
		}
		len = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(i + 1));
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

static void ff_eperm_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			    mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

static void ff_eperm_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void ff_eperm_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

/* fuse_reply_open() without FOPEN_STREAM: see the header comment. */
static int reply_open_stream(fuse_req_t req, struct ukd_front_open *o)
{
	struct fuse_open_out out = {
		.fh = (uintptr_t)o,
		.open_flags = FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE | FOPEN_STREAM,
	};

	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *front = fuse_req_userdata(req);
	struct fuse_node *node = node_of(front, ino);
	struct ukd_front_open *o;
	int r;

	if (!node) {
		fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR : ENOENT);
		return;
	}
	r = ukd_front_open_new(&o, &node->opens, node->dev, fi->flags);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (reply_open_stream(req, o) != 0)
		/* The opener is gone (interrupted): the kernel sends no release. */
		ukd_front_open_free(o);
}

static struct ukd_front_open *open_of(struct fuse_file_info *fi)
{
	return (struct ukd_front_open *)(uintptr_t)fi->fh;
}

static void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ukd_front_reply_release(req, open_of(fi));
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_front *front = fuse_req_userdata(req);

	ukd_front_reply_read(req, open_of(fi), size, front->iobuf);
}

static void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	ukd_front_reply_write(req, open_of(fi), buf, size, off);
}

static void ff_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	ukd_front_reply_ioctl(req, open_of(fi), cmd, flags, in_buf, in_bufsz, out_bufsz);
}

static void ff_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	ukd_front_reply_poll(req, open_of(fi), ph);
}

static void fuse_node_wake(struct ukd_chardev *dev)
{
	struct fuse_node *node = dev->front_data;

	if (node)
		ukd_front_open_wake_all(node->opens);
}

static const struct fuse_lowlevel_ops fuse_front_ops = {
	.init = ff_init,
	.lookup = ff_lookup,
	.getattr = ff_getattr,
	.setattr = ff_setattr,
	.readdir = ff_readdir,
	.create = ff_eperm_create,
	.mknod = ff_eperm_mknod,
	.unlink = ff_eperm_unlink,
	.open = ff_open,
	.release = ff_release,
	.read = ff_read,
	.write = ff_write,
	.ioctl = ff_ioctl,
	.poll = ff_poll,
};

static int fuse_front_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct fuse_front *front = userdata;
	int r;

	r = fuse_session_receive_buf(front->se, &front->buf);
	if (r == -EINTR || r == -EAGAIN)
		return 0;
	if (r <= 0) {
		/* 0 or -ENODEV: unmounted from outside (fusermount3 -u), a
		 * clean end (0) that only this line explains. Anything else
		 * ends the loop with the error, which the daemon logs. */
		ukd_log(r == 0 || r == -ENODEV ? LOG_INFO : LOG_DEBUG,
			"%s: FUSE session ended (%s)", front->mountpoint,
			r == 0 ? "unmounted" : strerror(-r));
		front->mounted = r < 0 && r != -ENODEV;
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return sd_event_exit(sd_event_source_get_event(s), r == 0 || r == -ENODEV ? 0 : r);
	}
	fuse_session_process_buf(front->se, &front->buf);
	return 0;
}

static void fuse_front_free(void *impl)
{
	struct fuse_front *front = impl;

	if (!front)
		return;
	sd_event_source_disable_unref(front->io);
	if (front->se) {
		if (front->mounted)
			fuse_session_unmount(front->se);
		fuse_session_destroy(front->se);
	}
	/* No caller to return this to (freeing cannot fail), and a directory
	 * left behind is worth a line: the one lib message above debug. */
	if (front->made_mountpoint && front->mountpoint && rmdir(front->mountpoint) < 0)
		ukd_log(LOG_WARNING, "%s: cannot remove the mount point: %m", front->mountpoint);
	/* Files still open at unmount get no release from the kernel. */
	for (size_t i = 0; i < front->n_nodes; i++) {
		struct fuse_node *node = &front->nodes[i];

		ukd_front_open_free_all(&node->opens);
		node->dev->wake = NULL;
		node->dev->front_data = NULL;
	}
	free(front->buf.mem);
	sd_event_unref(front->event);
	free(front->nodes);
	free(front->iobuf);
	free(front->mountpoint);
	free(front);
}

const struct ukd_front_impl ukd_fuse_front_impl = {
	.free = fuse_front_free,
};

int ukd_fuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event)
{
	struct fuse_front *front;
	char opts[256];
	char *argv[] = { "ukd", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	const char *fsname = cfg->fsname ? cfg->fsname : "ukd";
	bool made = false;
	int r;

	if (!cfg->mountpoint)
		return -EINVAL;
	if (strspn(fsname, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(fsname))
		return -EINVAL;
	if (cfg->make_mountpoint) {
		if (mkdir(cfg->mountpoint, 0755) == 0)
			made = true;
		else if (errno != EEXIST) {
			r = ukd_negerrno();
			ukd_log(LOG_DEBUG, "%s: cannot create the mount point: %s", cfg->mountpoint,
				strerror(-r));
			return r;
		}
	}
	r = ukd_mountpoint_check(cfg->mountpoint);
	if (r < 0) {
		if (made)
			(void)rmdir(cfg->mountpoint);
		ukd_log(LOG_DEBUG, "%s: %s", cfg->mountpoint,
			r == -EBUSY ? "already a mount point (is another daemon serving it?)" :
			r == -ENOTCONN ? "stale FUSE mount; unmount it with fusermount3 -u" :
			strerror(-r));
		return r == -EBUSY ? -EEXIST : r;
	}

	front = calloc(1, sizeof(*front));
	if (!front) {
		if (made)
			(void)rmdir(cfg->mountpoint);
		return -ENOMEM;
	}
	front->made_mountpoint = made;
	front->event = sd_event_ref(event);
	front->uid = geteuid();
	front->gid = getegid();
	clock_gettime(CLOCK_REALTIME, &front->birth);
	front->mountpoint = strdup(cfg->mountpoint);
	front->nodes = calloc(n_devs, sizeof(*front->nodes));
	front->iobuf = malloc(UKD_CHARDEV_MAX_IO);
	if (!front->mountpoint || !front->nodes || !front->iobuf) {
		r = -ENOMEM;
		goto fail;
	}
	front->n_nodes = n_devs;
	for (size_t i = 0; i < n_devs; i++) {
		front->nodes[i].front = front;
		front->nodes[i].dev = devs[i];
	}

	snprintf(opts, sizeof(opts),
		 "fsname=%s,subtype=%s,default_permissions,max_read=%d%s",
		 fsname, fsname, UKD_CHARDEV_MAX_IO, cfg->allow_other ? ",allow_other" : "");
	front->se = fuse_session_new(&args, &fuse_front_ops, sizeof(fuse_front_ops), front);
	fuse_opt_free_args(&args);
	if (!front->se) {
		r = -EINVAL;
		goto fail;
	}
	if (fuse_session_mount(front->se, cfg->mountpoint) != 0) {
		ukd_log(LOG_DEBUG, "%s: cannot mount FUSE (is /dev/fuse there, and may this user mount?)",
			cfg->mountpoint);
		r = -EPERM;
		goto fail;
	}
	front->mounted = true;
	/* Non-blocking: a request the kernel takes back between the wake-up
	 * and our read gives -EAGAIN instead of stalling the loop. */
	r = fcntl(fuse_session_fd(front->se), F_SETFL,
		  fcntl(fuse_session_fd(front->se), F_GETFL) | O_NONBLOCK);
	if (r < 0) {
		r = ukd_negerrno();
		goto fail;
	}
	r = sd_event_add_io(event, &front->io, fuse_session_fd(front->se), EPOLLIN,
			    fuse_front_io, front);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n_devs; i++) {
		devs[i]->front_data = &front->nodes[i];
		devs[i]->wake = fuse_node_wake;
	}
	ukd_log(LOG_DEBUG, "%s: serving %zu node(s) over FUSE", cfg->mountpoint, n_devs);
	*impl_data = front;
	return 0;

fail:
	fuse_front_free(front);
	return r;
}
