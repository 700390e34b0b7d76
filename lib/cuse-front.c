/* SPDX-License-Identifier: MIT */
/*
 * The CUSE front end: serves struct ukd_chardev nodes as real character
 * devices, /dev/NAME, through /dev/cuse.
 *
 * One CUSE session per node (CUSE has one device per connection), each on
 * its own /dev/cuse file descriptor, all of them watched by the caller's
 * sd-event loop: no threads, one request at a time, as in fuse-front.c.
 * libfuse's cuse_lowlevel_setup()/main() are not used because they install
 * signal handlers and may daemonize; instead each session gets the fd we
 * opened through fuse_session_mount("/dev/fd/N"), libfuse's documented way
 * to hand it a pre-opened device.
 *
 * Bring-up is synchronous so that ukd_front_new() can report failures: the
 * kernel queues CUSE_INIT as soon as /dev/cuse is opened; we answer it at
 * once, and the kernel handles the answer (reserve the major/minor, check
 * the name, device_add(), devtmpfs node) inside our write(2). If it refuses,
 * it aborts the connection, which the fd then reports as POLLERR: it never
 * sends an error code. Measured on Debian's 6.1 kernel (tests/vm/
 * cuse-front.sh): a DEVNAME that another CUSE device already holds is
 * refused this way, with no message in dmesg; we map it to -EEXIST by
 * finding the other device in /sys/class/cuse/NAME. A fixed major:minor
 * that is taken is refused the same way (dmesg: "CUSE: failed to register
 * chrdev region"); we report -EBUSY. Nodes already created are torn down.
 * Majors: asked for none, CUSE gives each device a dynamic major of its own,
 * and the kernel has 149 (254..234, 511..384). So for more than one node we
 * pick a major not in use (/proc/devices, else /sys/dev/char), in the
 * kernel's order, and
 * register every node as a minor of it (minors first_minor, +1, ...); if it
 * was taken under us (-EBUSY), the next; after CUSE_FREE_MAJORS_TRIED, or a
 * single node, the kernel's choice.
 * CUSE connections do not appear in fusectl, so nothing outside can abort
 * them; closing the fd (ukd_front_free) removes the node at once (~1 ms a
 * node measured: 128 nodes go within ~0.2-0.4 s under TCG).
 *
 * Offsets (fs/fuse/cuse.c, checked in the guest by tests/vm):
 *  - read: the kernel starts every read(2) at offset 0 (a CUSE device is
 *    a stream), so the device keeps its own position in struct
 *    ukd_file.pos; a read(2) larger than max_read (libfuse fixes it at
 *    128 KiB for CUSE) arrives as several requests at offsets 0, 131072,
 *    ... (until one comes back short), each of which is "the next bytes".
 *  - write: one write(2) larger than a request (32 pages, 128 KiB, fewer
 *    for an unaligned buffer) arrives in pieces; the kernel starts every
 *    write(2) at offset 0 and passes the bytes already sent as the offset
 *    of each later piece. So a piece is "continued" exactly when off != 0,
 *    with none of the guessing the FUSE front end needs.
 *
 * ioctl: restricted only (no CUSE_UNRESTRICTED_IOCTL): the kernel copies
 * _IOC_SIZE(cmd) bytes in and/or out according to _IOC_DIR(cmd), and
 * ukd_chardev_file_ioctl() checks the rest.
 *
 * Permissions: CUSE cannot pass a mode; the kernel's devtmpfs creates
 * /dev/NAME as root:root 0600. We chmod it to dev->mode once it exists,
 * if it is the node we just created (udev rules may change it later).
 */
#define FUSE_USE_VERSION 35

#include <cuse_lowlevel.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "front-internal.h"
#include "front-request.h"
#include "log.h"

#define CUSE_DEVICE "/dev/cuse"
#define CUSE_INIT_TIMEOUT_MS 5000
/* The kernel's dynamic character majors (fs/char_dev.c), searched top down. */
#define CUSE_DYN_FIRST 254
#define CUSE_DYN_LAST 234
#define CUSE_DYN_EXT_FIRST 511
#define CUSE_DYN_EXT_LAST 384
#define CUSE_FREE_MAJORS_TRIED 16

/* Linux dev_t: 12-bit major, 20-bit minor. */
#define CUSE_MAJOR_MAX 4095u
#define CUSE_MINOR_MAX ((1u << 20) - 1)

struct cuse_front;

struct cuse_node {
	struct cuse_front *front;
	struct ukd_chardev *dev;
	struct fuse_session *se;      /* owns the /dev/cuse fd */
	sd_event_source *io;
	struct ukd_front_open *opens; /* open files of this node, for wake */
	char *devname;                /* "DEVNAME=[DIR/]NAME", CUSE_INIT's device info */
};

#define DEVNAME_PREFIX "DEVNAME="

/* The node's path under /dev: [cuse_dir/]name. */
static const char *node_path(const struct cuse_node *node)
{
	return node->devname ? node->devname + strlen(DEVNAME_PREFIX) : node->dev->name;
}

struct cuse_front {
	sd_event *event;
	struct cuse_node *nodes;
	size_t n_nodes;
	/* Requests are handled one at a time on the loop thread, so every
	 * session shares one receive buffer and one read-reply buffer. */
	struct fuse_buf buf;
	void *iobuf;                  /* UKD_CHARDEV_MAX_IO bytes */
};

static struct ukd_front_open *open_of(struct fuse_file_info *fi)
{
	return (struct ukd_front_open *)(uintptr_t)fi->fh;
}

static void cf_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct cuse_node *node = fuse_req_userdata(req);
	struct ukd_front_open *o;
	int r;

	r = ukd_front_open_new(&o, &node->opens, node->dev, fi->flags);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)o;
	fi->direct_io = 1;   /* CUSE is always direct I/O; said for clarity */
	fi->nonseekable = 1;
	if (fuse_reply_open(req, fi) != 0)
		/* The opener is gone (interrupted): the kernel sends no release. */
		ukd_front_open_free(o);
}

static void cf_release(fuse_req_t req, struct fuse_file_info *fi)
{
	ukd_front_reply_release(req, open_of(fi));
}

static void cf_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct cuse_node *node = fuse_req_userdata(req);

	/* @off is 0, or the bytes already read by this read(2): the device's
	 * own file->pos is the position (see the header). */
	ukd_log(LOG_DEBUG, "/dev/%s: read %zu at offset %lld", node_path(node), size, (long long)off);
	ukd_front_reply_read(req, open_of(fi), size, node->front->iobuf);
}

static void cf_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct cuse_node *node = fuse_req_userdata(req);

	/* The kernel starts each write(2) at offset 0 (see the header). */
	ukd_log(LOG_DEBUG, "/dev/%s: write %zu at offset %lld", node_path(node), size, (long long)off);
	ukd_front_reply_write(req, open_of(fi), buf, size, off);
}

static void cf_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		     unsigned int flags, const void *in_buf, size_t in_bufsz,
		     size_t out_bufsz)
{
	/* We never ask for unrestricted ioctls; they are refused if they come. */
	ukd_front_reply_ioctl(req, open_of(fi), (unsigned int)cmd, flags, in_buf, in_bufsz,
			      out_bufsz);
}

static void cf_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	ukd_front_reply_poll(req, open_of(fi), ph);
}

static const struct cuse_lowlevel_ops cuse_front_ops = {
	.open = cf_open,
	.release = cf_release,
	.read = cf_read,
	.write = cf_write,
	.ioctl = cf_ioctl,
	.poll = cf_poll,
};

static void cuse_node_wake(struct ukd_chardev *dev)
{
	struct cuse_node *node = dev->front_data;

	if (node)
		ukd_front_open_wake_all(node->opens);
}

static int cuse_node_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct cuse_node *node = userdata;
	struct cuse_front *front = node->front;
	int r;

	r = fuse_session_receive_buf(node->se, &front->buf);
	/* EAGAIN: the request we were woken for was taken back (its caller
	 * was killed before we read it); the fd is non-blocking for this. */
	if (r == -EINTR || r == -EAGAIN)
		return 0;
	if (r <= 0) {
		/* 0: the kernel aborted the connection (ENODEV); the node
		 * is gone. CUSE connections are not in fusectl, so nobody
		 * outside can do this; it would be a kernel-side failure. */
		ukd_log(LOG_DEBUG, "/dev/%s: CUSE connection ended (%s)", node_path(node),
			r == 0 ? "aborted" : strerror(-r));
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return sd_event_exit(sd_event_source_get_event(s), r == 0 ? -ENODEV : r);
	}
	fuse_session_process_buf(node->se, &front->buf);
	return 0;
}

/* Read "MAJ:MIN" from /sys/class/cuse/NAME/dev; the kernel's device name
 * for /dev/DIR/NAME is DIR!NAME. */
static int cuse_sysfs_devt(const char *devpath, dev_t *ret)
{
	char path[192], line[32];
	unsigned int maj, min;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/cuse/%s/dev", devpath);
	for (char *c = path + strlen("/sys/class/cuse/"); *c && strcmp(c, "/dev"); c++)
		if (*c == '/')
			*c = '!';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ukd_negerrno();
	n = read(fd, line, sizeof(line) - 1);
	if (n <= 0)
		return n < 0 ? ukd_negerrno() : -EIO;
	line[n] = '\0';
	if (sscanf(line, "%u:%u", &maj, &min) != 2)
		return -EIO;
	*ret = makedev(maj, min);
	return 0;
}

/* Best effort: give /dev/NAME the device's mode if it is our node. */
static void cuse_node_chmod(struct cuse_node *node)
{
	char path[192];
	struct stat st;
	dev_t devt;

	if (cuse_sysfs_devt(node_path(node), &devt) < 0)
		return;
	snprintf(path, sizeof(path), "/dev/%s", node_path(node));
	if (lstat(path, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != devt)
		return;
	if ((st.st_mode & 07777) != (node->dev->mode & 07777) &&
	    chmod(path, node->dev->mode & 07777) < 0)
		ukd_log(LOG_DEBUG, "%s: chmod %04o: %m", path, (unsigned int)(node->dev->mode & 07777));
}

/* The kernel refused CUSE_INIT's answer: tell why, as far as we can, in
 * the error returned; the debug lines add the detail (lib/README.md: the
 * daemon logs the failure once, in its own words). */
static int cuse_refusal(const struct ukd_front_config *cfg, struct cuse_node *node)
{
	dev_t devt;

	if (cuse_sysfs_devt(node_path(node), &devt) == 0) {
		ukd_log(LOG_DEBUG, "/dev/%s: name already taken by another CUSE device (%u:%u)",
			node_path(node), major(devt), minor(devt));
		return -EEXIST;
	}
	if (cfg->major) {
		ukd_log(LOG_DEBUG, "/dev/%s: major %u is not free", node_path(node), cfg->major);
		return -EBUSY;
	}
	ukd_log(LOG_DEBUG, "/dev/%s: the kernel refused the CUSE device", node_path(node));
	return -EIO;
}

/* Answer the kernel's CUSE_INIT on a fresh session and check the result. */
static int cuse_node_init(const struct ukd_front_config *cfg, struct cuse_node *node)
{
	struct pollfd p = { .fd = fuse_session_fd(node->se), .events = POLLIN };
	int r;

	r = poll(&p, 1, CUSE_INIT_TIMEOUT_MS);
	if (r < 0)
		return ukd_negerrno();
	if (r == 0 || !(p.revents & POLLIN))
		return -ETIMEDOUT;
	r = fuse_session_receive_buf(node->se, &node->front->buf);
	if (r <= 0)
		return r < 0 ? r : -EIO;
	fuse_session_process_buf(node->se, &node->front->buf);

	/* The kernel handled our answer within the write(2); an aborted
	 * connection polls as POLLERR (fuse_dev_poll). */
	p.revents = 0;
	if (poll(&p, 1, 0) < 0)
		return ukd_negerrno();
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return cuse_refusal(cfg, node);
	return 0;
}

/* Create the session for @node, open /dev/cuse and bring the device up. */
static int cuse_node_start(const struct ukd_front_config *cfg, struct cuse_node *node,
			   unsigned int minor)
{
	char arg0[] = "ukd";
	char *argv[] = { arg0, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	const char *info[1];
	struct cuse_info ci = {
		.dev_major = cfg->major,
		.dev_minor = minor,
		.dev_info_argc = 1,
		.dev_info_argv = info,
		.flags = 0,   /* restricted ioctls only */
	};
	_cleanup_close_ int fd = -1;
	char fdpath[32];
	int r;

	if (asprintf(&node->devname, DEVNAME_PREFIX "%s%s%s", cfg->cuse_dir ? cfg->cuse_dir : "",
		     cfg->cuse_dir && *cfg->cuse_dir ? "/" : "", node->dev->name) < 0) {
		node->devname = NULL;
		return -ENOMEM;
	}
	info[0] = node->devname;

	/* Non-blocking: see cuse_node_io(). */
	fd = open(CUSE_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		r = ukd_negerrno();
		if (r == -ENOENT || r == -ENODEV || r == -ENXIO) {
			ukd_log(LOG_DEBUG, "%s: %s (is the cuse module loaded?)", CUSE_DEVICE,
				strerror(-r));
			return -ENODEV;
		}
		ukd_log(LOG_DEBUG, "%s: cannot open: %s", CUSE_DEVICE, strerror(-r));
		return r;
	}

	node->se = cuse_lowlevel_new(&args, &ci, &cuse_front_ops, node);
	fuse_opt_free_args(&args);
	if (!node->se)
		return -ENOMEM;
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	if (fuse_session_mount(node->se, fdpath) != 0)
		return -EIO;
	TAKE_FD(fd);   /* the session closes it in fuse_session_destroy() */

	r = cuse_node_init(cfg, node);
	if (r < 0)
		return r;
	cuse_node_chmod(node);
	return 0;
}

static void cuse_node_stop(struct cuse_node *node)
{
	node->io = sd_event_source_disable_unref(node->io);
	/* Drop the files before the session: their poll handles point at it.
	 * The kernel sends no release once the fd is closed. */
	ukd_front_open_free_all(&node->opens);
	if (node->se) {
		/* Closes the fd: the kernel removes /dev/NAME right away. */
		fuse_session_destroy(node->se);
		node->se = NULL;
	}
	if (node->dev->front_data == node) {
		node->dev->wake = NULL;
		node->dev->front_data = NULL;
	}
	free(node->devname);
	node->devname = NULL;
}

static void cuse_front_free(void *impl)
{
	struct cuse_front *front = impl;

	if (!front)
		return;
	for (size_t i = 0; i < front->n_nodes; i++)
		cuse_node_stop(&front->nodes[i]);
	free(front->buf.mem);
	sd_event_unref(front->event);
	free(front->nodes);
	free(front->iobuf);
	free(front);
}

const struct ukd_front_impl ukd_cuse_front_impl = {
	.free = cuse_front_free,
};

/* Start every node, minors counting up from cfg->first_minor; on failure
 * the nodes already up are stopped again and the error returned. */
static int cuse_start_all(struct cuse_front *front, const struct ukd_front_config *cfg,
			  struct ukd_chardev *const *devs, size_t n_devs)
{
	int r = 0;
	size_t i;

	for (i = 0; i < n_devs && r == 0; i++) {
		struct cuse_node *node = &front->nodes[i];

		r = cuse_node_start(cfg, node, cfg->first_minor + (unsigned int)i);
		if (r == 0)
			r = sd_event_add_io(front->event, &node->io, fuse_session_fd(node->se), EPOLLIN,
					    cuse_node_io, node);
		if (r == 0) {
			devs[i]->front_data = node;
			devs[i]->wake = cuse_node_wake;
		}
	}
	if (r < 0)
		while (i > 0)
			cuse_node_stop(&front->nodes[--i]);
	return r;
}

/*
 * Mark the character majors in use: /proc/devices lists every registered
 * region. Where /proc shows only processes (systemd's ProcSubset=pid),
 * /sys/dev/char lists the majors that have devices; a region without one
 * is then found taken when we try it (-EBUSY), and the next is tried.
 */
static void cuse_used_majors(bool *used, unsigned int max)
{
	FILE *f = fopen("/proc/devices", "re");
	char line[128];
	unsigned int m;
	DIR *d;

	if (f) {
		/* "Character devices:", " 1 mem", ..., "", "Block devices:" */
		while (fgets(line, sizeof(line), f) && strcmp(line, "\n") != 0)
			if (sscanf(line, " %u", &m) == 1 && m <= max)
				used[m] = true;
		fclose(f);
		return;
	}
	d = opendir("/sys/dev/char");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));)
		if (sscanf(e->d_name, "%u:", &m) == 1 && m <= max)
			used[m] = true;
	closedir(d);
}

/*
 * Up to @max character majors not in use, in the order the kernel hands
 * out dynamic ones (254..234, then 511..384). Returns how many.
 */
static int cuse_free_majors(unsigned int *out, int max)
{
	bool used[CUSE_DYN_EXT_FIRST + 1] = { false };
	unsigned int m;
	int n = 0;

	cuse_used_majors(used, CUSE_DYN_EXT_FIRST);
	for (m = CUSE_DYN_FIRST; m >= CUSE_DYN_LAST && n < max; m--)
		if (!used[m])
			out[n++] = m;
	for (m = CUSE_DYN_EXT_FIRST; m >= CUSE_DYN_EXT_LAST && n < max; m--)
		if (!used[m])
			out[n++] = m;
	return n;
}

int ukd_cuse_front_new(void **impl_data, const struct ukd_front_config *cfg,
		       struct ukd_chardev *const *devs, size_t n_devs, sd_event *event)
{
	struct cuse_front *front;
	int r;

	if (cfg->major > CUSE_MAJOR_MAX || cfg->first_minor > CUSE_MINOR_MAX ||
	    n_devs > CUSE_MINOR_MAX - cfg->first_minor + 1 ||
	    (cfg->cuse_dir && *cfg->cuse_dir && !ukd_chardev_dir_valid(cfg->cuse_dir)))
		return -EINVAL;

	front = calloc(1, sizeof(*front));
	if (!front)
		return -ENOMEM;
	front->event = sd_event_ref(event);
	front->nodes = calloc(n_devs, sizeof(*front->nodes));
	front->iobuf = malloc(UKD_CHARDEV_MAX_IO);
	if (!front->nodes || !front->iobuf) {
		r = -ENOMEM;
		goto fail;
	}
	front->n_nodes = n_devs;
	for (size_t i = 0; i < n_devs; i++) {
		front->nodes[i].front = front;
		front->nodes[i].dev = devs[i];
	}

	r = -EBUSY;
	if (cfg->major == 0 && n_devs > 1) {
		/* One major for all the nodes, as a kernel driver has: left to
		 * the kernel, each CUSE device takes a whole dynamic major, and
		 * there are only 149 (kkeyd alone would take 128 of them). */
		unsigned int majors[CUSE_FREE_MAJORS_TRIED];
		int n = cuse_free_majors(majors, CUSE_FREE_MAJORS_TRIED);
		struct ukd_front_config shared = *cfg;

		for (int i = 0; i < n && r == -EBUSY; i++) {
			shared.major = majors[i];
			r = cuse_start_all(front, &shared, devs, n_devs);
			if (r == 0)
				ukd_log(LOG_DEBUG, "CUSE: major %u for all %zu nodes", majors[i], n_devs);
		}
	}
	/* A fixed major, one node, or no shared major free (taken under us):
	 * as asked, or a dynamic major per node. */
	if (r == -EBUSY)
		r = cuse_start_all(front, cfg, devs, n_devs);
	if (r < 0)
		goto fail;
	ukd_log(LOG_DEBUG, "serving %zu node(s) over CUSE", n_devs);
	*impl_data = front;
	return 0;

fail:
	cuse_front_free(front);
	return r;
}
