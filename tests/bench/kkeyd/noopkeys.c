/* SPDX-License-Identifier: MIT */
/*
 * Benchmark baseline for kkeyd: 128 no-op nodes kkey000..kkey127 whose
 * write returns count and records nothing, served through the same FUSE
 * front end (ukd_front_new) and event loop set-up (ukd_daemon_event_new)
 * as kkeyd. kkeyd's events/s divided by this is the cost of recording.
 *
 *   noopkeys MOUNTPOINT      (foreground until SIGTERM/SIGINT)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "front.h"
#include "log.h"

#define NODES 128

static ssize_t noop_read(struct ukd_file *file, void *buf, size_t size)
{
	return 0;
}

static ssize_t noop_write(struct ukd_file *file, const struct ukd_write *w)
{
	return (ssize_t)w->size;
}

static int noop_ioctl(struct ukd_file *file, unsigned int cmd, const void *in, size_t in_size,
		      void *out, size_t out_size)
{
	return -ENOTTY;
}

static const struct ukd_chardev_ops noop_ops = {
	.read = noop_read,
	.write = noop_write,
	.ioctl = noop_ioctl,
};

int main(int argc, char **argv)
{
	static struct ukd_chardev nodes[NODES];
	static char names[NODES][8];
	struct ukd_chardev *devs[NODES];
	struct ukd_front_config cfg = { .kind = UKD_FRONT_FUSE, .fsname = "noopkeys" };
	struct ukd_front *front = NULL;
	sd_event *event = NULL;
	int r;

	if (argc != 2) {
		fprintf(stderr, "Usage: noopkeys MOUNTPOINT\n");
		return 2;
	}
	cfg.mountpoint = argv[1];
	ukd_log_set_hook(ukd_log_stderr, LOG_INFO, "noopkeys");
	for (int i = 0; i < NODES; i++) {
		snprintf(names[i], sizeof(names[i]), "kkey%03d", i);
		nodes[i] = (struct ukd_chardev){ .name = names[i], .ops = &noop_ops, .mode = 0666 };
		devs[i] = &nodes[i];
	}
	r = ukd_daemon_event_new(&event);
	if (r >= 0)
		r = ukd_front_new(&front, &cfg, devs, NODES, event);
	if (r >= 0)
		r = sd_event_loop(event);
	if (r < 0)
		fprintf(stderr, "noopkeys: %s\n", strerror(-r));
	ukd_front_free(front);
	sd_event_unref(event);
	return r < 0 ? 1 : 0;
}
