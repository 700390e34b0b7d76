/* SPDX-License-Identifier: MIT */
/*
 * Benchmark baseline: a no-op character device "zero" that fills each read
 * with zeros (memset, like /dev/zero), served through the same FUSE front
 * end as kprngd. Its throughput is the transport ceiling kprng is measured
 * against. Usage: zerodev MOUNTPOINT (foreground until SIGTERM/SIGINT).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "front.h"
#include "log.h"

static ssize_t zero_read(struct ukd_file *file, void *buf, size_t size)
{
	memset(buf, 0, size);
	file->pos += size;
	return (ssize_t)size;
}

static ssize_t zero_write(struct ukd_file *file, const struct ukd_write *w)
{
	return (ssize_t)w->size;
}

static int zero_ioctl(struct ukd_file *file, unsigned int cmd, const void *in, size_t in_size,
		      void *out, size_t out_size)
{
	return -ENOTTY;
}

static const struct ukd_chardev_ops zero_ops = {
	.read = zero_read,
	.write = zero_write,
	.ioctl = zero_ioctl,
};

int main(int argc, char **argv)
{
	struct ukd_chardev node = { .name = "zero", .ops = &zero_ops, .mode = 0666 };
	struct ukd_chardev *nodes[] = { &node };
	struct ukd_front_config cfg = { .kind = UKD_FRONT_FUSE, .fsname = "zerodev" };
	struct ukd_front *front = NULL;
	sd_event *event = NULL;
	sigset_t mask;
	int r;

	if (argc != 2) {
		fprintf(stderr, "Usage: zerodev MOUNTPOINT\n");
		return 2;
	}
	cfg.mountpoint = argv[1];
	ukd_log_set_hook(ukd_log_stderr, LOG_INFO, "zerodev");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = sd_event_default(&event);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
	if (r >= 0)
		r = ukd_front_new(&front, &cfg, nodes, 1, event);
	if (r >= 0)
		r = sd_event_loop(event);
	if (r < 0)
		fprintf(stderr, "zerodev: %s\n", strerror(-r));
	ukd_front_free(front);
	sd_event_unref(event);
	return r < 0 ? 1 : 0;
}
