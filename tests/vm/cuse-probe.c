/* SPDX-License-Identifier: MIT */
/*
 * cuse-probe: a tiny device served through lib's front ends, to check the
 * CUSE front end itself in the vm tier (tests/vm/cuse-front.sh), apart from
 * any real device's logic.
 *
 *   cuse-probe [--fuse DIR] [--major N] [--first-minor N] [--mode OCTAL] NAME...
 *
 * Serves one node per NAME. The device logs every request it gets as a
 * text line in one log shared by all nodes:
 *   "W <size> <continued>"  for each write piece
 *   "O <flags-hex>"         for each open, "R" for each release
 * A write(2) whose first byte is '#' also appends its data to the log (to
 * make the log large with few requests). A read returns that log from the open file's own position (so `cat`
 * ends), without clearing it. poll: POLLOUT always, POLLIN while the open
 * file has unread log; every write wakes the pollers.
 * ioctls: PROBE_IOC_PIECES (_IOR 'p' 1 uint32: write pieces so far),
 * PROBE_IOC_CLEAR (_IO 'p' 2), PROBE_IOC_ECHO (_IOWR 'p' 3 uint64: returns
 * the argument + 1); others ENOTTY, a known number with another size EINVAL.
 *
 * Prints "READY" on stdout once the nodes exist; exits 0 after SIGTERM or
 * SIGINT; if the front end cannot start, prints the error and exits with
 * its errno (EEXIST 17, ENODEV 19, ...).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "front.h"
#include "log.h"

#define PROBE_IOC_PIECES _IOR('p', 1, uint32_t)
#define PROBE_IOC_CLEAR _IO('p', 2)
#define PROBE_IOC_ECHO _IOWR('p', 3, uint64_t)
#define PROBE_LOG_MAX (1024 * 1024)

struct probe {
	char *log;
	size_t len;
	uint32_t pieces;
	bool echo;          /* the current write(2) started with '#' */
	struct ukd_chardev *nodes;
	size_t n_nodes;
};

static void probe_log(struct probe *p, const char *fmt, ...) _printf_(2, 3);
static void probe_log(struct probe *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->len >= PROBE_LOG_MAX - 64)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->log + p->len, PROBE_LOG_MAX - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += (size_t)n;
}

static void probe_wake_all(struct probe *p)
{
	for (size_t i = 0; i < p->n_nodes; i++)
		ukd_chardev_wake(&p->nodes[i]);
}

static int probe_open(struct ukd_file *file)
{
	probe_log(file->dev->data, "O %x\n", (unsigned int)file->flags);
	return 0;
}

static void probe_release(struct ukd_file *file)
{
	probe_log(file->dev->data, "R\n");
}

static ssize_t probe_read(struct ukd_file *file, void *buf, size_t size)
{
	struct probe *p = file->dev->data;
	size_t n;

	if (file->pos >= p->len)
		return 0;
	n = p->len - (size_t)file->pos;
	if (n > size)
		n = size;
	memcpy(buf, p->log + file->pos, n);
	file->pos += n;
	return (ssize_t)n;
}

static ssize_t probe_write(struct ukd_file *file, const struct ukd_write *w)
{
	struct probe *p = file->dev->data;

	p->pieces++;
	probe_log(p, "W %zu %d\n", w->size, w->continued ? 1 : 0);
	if (!w->continued)
		p->echo = w->size > 0 && ((const char *)w->buf)[0] == '#';
	if (p->echo && w->size < PROBE_LOG_MAX - p->len) {
		memcpy(p->log + p->len, w->buf, w->size);
		p->len += w->size;
	}
	probe_wake_all(p);
	return (ssize_t)w->size;
}

static int probe_ioctl(struct ukd_file *file, unsigned int cmd, const void *in, size_t in_size,
		       void *out, size_t out_size)
{
	struct probe *p = file->dev->data;
	uint64_t v;

	if (_IOC_TYPE(cmd) != 'p')
		return -ENOTTY;
	switch (_IOC_NR(cmd)) {
	case 1:
		if (cmd != PROBE_IOC_PIECES)
			return -EINVAL;
		memcpy(out, &p->pieces, sizeof(p->pieces));
		return 0;
	case 2:
		if (cmd != PROBE_IOC_CLEAR)
			return -EINVAL;
		p->len = 0;
		p->pieces = 0;
		return 0;
	case 3:
		if (cmd != PROBE_IOC_ECHO)
			return -EINVAL;
		memcpy(&v, in, sizeof(v));
		v++;
		memcpy(out, &v, sizeof(v));
		return 0;
	default:
		return -ENOTTY;
	}
}

static unsigned int probe_poll(struct ukd_file *file)
{
	struct probe *p = file->dev->data;

	return POLLOUT | POLLWRNORM | (file->pos < p->len ? POLLIN | POLLRDNORM : 0);
}

static const struct ukd_chardev_ops probe_ops = {
	.open = probe_open,
	.read = probe_read,
	.write = probe_write,
	.ioctl = probe_ioctl,
	.poll = probe_poll,
	.release = probe_release,
};

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fuse", required_argument, NULL, 'f' },
		{ "major", required_argument, NULL, 'M' },
		{ "first-minor", required_argument, NULL, 'm' },
		{ "mode", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	struct ukd_front_config cfg = { .kind = UKD_FRONT_CUSE, .fsname = "cuseprobe" };
	struct probe p = { 0 };
	struct ukd_chardev **ptrs;
	struct ukd_front *front = NULL;
	sd_event *event = NULL;
	sigset_t mask;
	mode_t mode = 0666;
	bool verbose = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) >= 0) {
		switch (c) {
		case 'f':
			cfg.kind = UKD_FRONT_FUSE;
			cfg.mountpoint = optarg;
			break;
		case 'M':
			cfg.major = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			cfg.first_minor = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'o':
			mode = (mode_t)strtoul(optarg, NULL, 8);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: cuse-probe [--fuse DIR] [--major N] [--first-minor N] "
			"[--mode OCTAL] NAME...\n");
		return 2;
	}
	ukd_log_set_hook(ukd_log_stderr, verbose ? LOG_DEBUG : LOG_INFO, "cuse-probe");

	p.n_nodes = (size_t)(argc - optind);
	p.log = malloc(PROBE_LOG_MAX);
	p.nodes = calloc(p.n_nodes, sizeof(*p.nodes));
	ptrs = calloc(p.n_nodes, sizeof(*ptrs));
	if (!p.log || !p.nodes || !ptrs)
		return 1;
	for (size_t i = 0; i < p.n_nodes; i++) {
		p.nodes[i].name = argv[optind + (int)i];
		p.nodes[i].ops = &probe_ops;
		p.nodes[i].data = &p;
		p.nodes[i].mode = mode;
		ptrs[i] = &p.nodes[i];
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	r = sd_event_default(&event);
	if (r < 0)
		return 1;
	sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL);
	sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL);

	r = ukd_front_new(&front, &cfg, ptrs, p.n_nodes, event);
	if (r < 0) {
		fprintf(stderr, "cuse-probe: ukd_front_new: %s (errno %d)\n", strerror(-r), -r);
		sd_event_unref(event);
		free(ptrs);
		free(p.nodes);
		free(p.log);
		return -r;
	}
	printf("READY\n");
	fflush(stdout);
	r = sd_event_loop(event);
	ukd_front_free(front);
	sd_event_unref(event);
	free(ptrs);
	free(p.nodes);
	free(p.log);
	return r < 0 ? 1 : 0;
}
