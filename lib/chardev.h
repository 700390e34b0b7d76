/* SPDX-License-Identifier: MIT */
/*
 * The character-device interface: what a ukd device implements once, and
 * what both front ends (CUSE: real /dev nodes; FUSE: files in a mount)
 * serve. Nothing here knows about FUSE or CUSE.
 *
 * Model (drivers/char/mem.c's file_operations, cut down):
 *  - a device registers one or more nodes (struct ukd_chardev), each with an
 *    ops table and a pointer to device-wide state;
 *  - every open(2) gets a struct ukd_file with the device's per-open state
 *    (private_data) and a read position (pos) that the device owns: CUSE
 *    passes no file offset, so devices never rely on the front end's;
 *  - every op runs on the daemon's event loop thread, returns at once (no
 *    op blocks) and reports errors as -errno;
 *  - poll() reports readiness now; when readiness may have changed the
 *    device calls ukd_chardev_wake() and the front end re-polls.
 *
 * Limits the front ends enforce before calling a device (so devices need not):
 *  - read/write size is at most UKD_CHARDEV_MAX_IO (1 MiB);
 *  - ioctl: only "restricted" ioctls whose argument size and direction are
 *    encoded in the command (_IO, _IOR, _IOW, _IOWR), at most
 *    UKD_CHARDEV_MAX_IOCTL_ARG bytes. The device still checks that the
 *    command's size matches the argument it expects (-EINVAL) and answers
 *    -ENOTTY for commands it does not know.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UKD_CHARDEV_MAX_IO (1024 * 1024)
#define UKD_CHARDEV_MAX_IOCTL_ARG 4096

struct ukd_chardev;

/* One open(2) of a node. Owned by the front end; the device owns private_data. */
struct ukd_file {
	struct ukd_chardev *dev;
	void *private_data;  /* set by ops->open, freed by ops->release */
	uint64_t pos;        /* read position; starts at 0; only the device moves it */
	int flags;           /* open(2) flags: O_ACCMODE, O_NONBLOCK, ... */
	void *front_data;    /* front end's own per-open state; devices leave it alone */
};

/*
 * One write(2) as a device sees it. The kernel hands a large write(2) to a
 * front end in pieces; @continued is true for every piece after the first
 * of the same write(2) call (exact through CUSE; through FUSE see
 * fuse-front.c for how it is told).
 */
struct ukd_write {
	const void *buf;
	size_t size;
	bool continued;
};

struct ukd_chardev_ops {
	/* Optional. Set file->private_data. Return 0 or -errno (e.g. -EACCES). */
	int (*open)(struct ukd_file *file);
	/* Copy up to @size bytes at file->pos into @buf, advance file->pos,
	 * return the count (0 = end of file) or -errno. */
	ssize_t (*read)(struct ukd_file *file, void *buf, size_t size);
	/* Optional; the front ends use it instead of read when set: the same,
	 * but the device lends its own bytes instead of copying them: point
	 * *@data at the count returned, valid until the device's next op on
	 * any file of this node. For devices that produce data in their own
	 * buffers (kprngd's read-ahead), so that the front end replies from
	 * them without an extra copy. */
	ssize_t (*read_lend)(struct ukd_file *file, const void **data, size_t size);
	/* Consume the write; return bytes taken or -errno. */
	ssize_t (*write)(struct ukd_file *file, const struct ukd_write *w);
	/* @in/@in_size: the _IOW part (NULL/0 if none); @out/@out_size: the
	 * _IOR part, zero-filled by the front end. Return 0 or -errno. */
	int (*ioctl)(struct ukd_file *file, unsigned int cmd,
		     const void *in, size_t in_size, void *out, size_t out_size);
	/* Optional. Return the ready mask (POLLIN, POLLOUT, ...). Without it
	 * a node is always POLLIN|POLLOUT. */
	unsigned int (*poll)(struct ukd_file *file);
	/* Optional. Free private_data. Cannot fail. */
	void (*release)(struct ukd_file *file);
};

/* A node. The device fills the first part and keeps it alive while served. */
struct ukd_chardev {
	const char *name;                  /* "kkey060": /dev/kkey060 or DIR/kkey060 */
	const struct ukd_chardev_ops *ops;
	void *data;                        /* device-wide state, for the ops */
	mode_t mode;                       /* permission bits of the node, e.g. 0666 */

	/* Set by the front end that serves the node; devices leave them alone. */
	void (*wake)(struct ukd_chardev *dev);
	void *front_data;
};

/**
 * ukd_chardev_wake() - tell whoever polls @dev that readiness may have
 * changed. Safe to call when nothing polls, and for a node not (yet) served.
 * Must be called on the loop thread.
 */
void ukd_chardev_wake(struct ukd_chardev *dev);

/**
 * ukd_chardev_name_valid() - a node name is 1..63 bytes of [A-Za-z0-9_.-],
 * not "." or "..". Returns true if @name is acceptable to both front ends.
 */
bool ukd_chardev_name_valid(const char *name);

/* The longest ukd_chardev_dir_valid() directory. */
#define UKD_CHARDEV_DIR_MAX 64

/**
 * ukd_chardev_dir_valid() - a directory for CUSE nodes under /dev
 * (ukd_front_config.cuse_dir): 1..UKD_CHARDEV_DIR_MAX bytes of
 * [A-Za-z0-9_.:@+-] components joined by single '/', none "." or "..".
 */
bool ukd_chardev_dir_valid(const char *dir);

/**
 * ukd_chardev_check_devs() - can @devs be served together? Each of the
 * @n_devs nodes must have ops and a ukd_chardev_name_valid() name.
 * Returns 0, -EINVAL (no nodes, a NULL node, no ops, a bad name) or -EEXIST
 * (two nodes with one name).
 */
int ukd_chardev_check_devs(struct ukd_chardev *const *devs, size_t n_devs);

/**
 * ukd_chardev_ioctl_check() - front-end helper: validate a restricted ioctl.
 * @cmd: the command as the caller passed it.
 * @in_size/@out_size: the buffer sizes the kernel provided.
 * Returns 0 if the command encodes a direction and size that match the
 * buffers and size <= UKD_CHARDEV_MAX_IOCTL_ARG, -EINVAL otherwise.
 */
int ukd_chardev_ioctl_check(unsigned int cmd, size_t in_size, size_t out_size);
