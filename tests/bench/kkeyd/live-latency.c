/* SPDX-License-Identifier: MIT */
/*
 * live-latency: key press (a uinput write) -> note-on seen by an ALSA
 * sequencer client subscribed to kkey, N times; prints p50/p99/max. Also
 * times the same presses to the moment the evdev node is readable (the
 * kernel's input path alone), so the rest is kkeyd + the sequencer.
 * Needs uinput, evdev, snd-seq and a kkeyd with --keyboard="NAME".
 *   live-latency NAME N
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/uinput.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "live-latency: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void emit(int fd, unsigned short type, unsigned short code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	if (write(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
		die("uinput write");
}

/* Our own reader of the new device's event node: found by name. */
static int open_node(const char *name)
{
	glob_t g;
	int fd = -1;

	if (glob("/dev/input/event*", 0, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc && fd < 0; i++) {
		char n[256] = "";
		int f = open(g.gl_pathv[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (f < 0)
			continue;
		if (ioctl(f, EVIOCGNAME(sizeof(n)), n) >= 0 && !strcmp(n, name))
			fd = f;
		else
			close(f);
	}
	globfree(&g);
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	printf("%-34s p50 %7.1f us  p99 %7.1f us  max %7.1f us  (n=%d)\n", what,
	       v[n / 2] / 1e3, v[(n * 99) / 100] / 1e3, v[n - 1] / 1e3, n);
}

/* Wait for the next note-on/off from kkey; returns its type or -1 on timeout. */
static int wait_note(snd_seq_t *seq, int timeout_ms)
{
	struct pollfd pfd;
	snd_seq_event_t *ev;

	snd_seq_poll_descriptors(seq, &pfd, 1, POLLIN);
	for (;;) {
		if (snd_seq_event_input_pending(seq, 1) == 0 && poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (snd_seq_event_input(seq, &ev) < 0)
			continue;
		if (ev->type == SND_SEQ_EVENT_NOTEON || ev->type == SND_SEQ_EVENT_NOTEOFF)
			return ev->type;
	}
}

int main(int argc, char **argv)
{
	struct uinput_setup us = { .id = { .bustype = BUS_VIRTUAL, .vendor = 0x1209, .product = 0x6b6c } };
	snd_seq_addr_t kkey;
	snd_seq_t *seq;
	uint64_t *note, *input;
	int ufd, efd, port, n, ok = 0;

	if (argc != 3 || (n = atoi(argv[2])) < 10) {
		fprintf(stderr, "usage: live-latency NAME N (N >= 10)\n");
		return 2;
	}
	note = calloc((size_t)n, sizeof(*note));
	input = calloc((size_t)n, sizeof(*input));
	if (!note || !input)
		die("calloc");
	if (snd_seq_open(&seq, "default", SND_SEQ_OPEN_INPUT, 0) < 0)
		die("snd_seq_open");
	snd_seq_set_client_name(seq, "live-latency");
	port = snd_seq_create_simple_port(seq, "in", SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE,
					  SND_SEQ_PORT_TYPE_APPLICATION);
	if (port < 0 || snd_seq_parse_address(seq, &kkey, "kkey:0") < 0 ||
	    snd_seq_connect_from(seq, port, kkey.client, kkey.port) < 0) {
		fprintf(stderr, "live-latency: cannot subscribe to kkey:0 (is kkeyd running with the sequencer?)\n");
		return 1;
	}

	ufd = open("/dev/uinput", O_WRONLY | O_CLOEXEC);
	if (ufd < 0)
		die("/dev/uinput");
	ioctl(ufd, UI_SET_EVBIT, EV_KEY);
	ioctl(ufd, UI_SET_KEYBIT, KEY_Q);
	ioctl(ufd, UI_SET_KEYBIT, KEY_Z);
	ioctl(ufd, UI_SET_KEYBIT, KEY_SPACE);
	snprintf(us.name, sizeof(us.name), "%s", argv[1]);
	if (ioctl(ufd, UI_DEV_SETUP, &us) < 0 || ioctl(ufd, UI_DEV_CREATE) < 0)
		die("UI_DEV_CREATE");
	usleep(1500 * 1000);   /* kkeyd attaches it through hotplug */
	efd = open_node(argv[1]);
	if (efd < 0)
		die("its event node");

	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = efd, .events = POLLIN };
		struct input_event drain[16];
		uint64_t t0;

		emit(ufd, EV_KEY, KEY_Q, 1);
		t0 = now_ns();
		emit(ufd, EV_SYN, SYN_REPORT, 0);
		if (poll(&p, 1, 1000) == 1)
			input[ok] = now_ns() - t0;
		if (wait_note(seq, 10000) != SND_SEQ_EVENT_NOTEON) {
			fprintf(stderr, "live-latency: press %d: no note-on within 10 s\n", i);
			break;
		}
		note[ok++] = now_ns() - t0;
		while (read(efd, drain, sizeof(drain)) > 0)
			;
		emit(ufd, EV_KEY, KEY_Q, 0);
		emit(ufd, EV_SYN, SYN_REPORT, 0);
		if (wait_note(seq, 10000) != SND_SEQ_EVENT_NOTEOFF) {
			fprintf(stderr, "live-latency: release %d: no note-off within 10 s\n", i);
			break;
		}
		while (read(efd, drain, sizeof(drain)) > 0)
			;
		if ((i + 1) % 100 == 0)
			fprintf(stderr, "live-latency: %d presses\n", i + 1);
		usleep(2000);
	}
	ioctl(ufd, UI_DEV_DESTROY);
	close(ufd);
	close(efd);
	snd_seq_close(seq);
	if (ok < n) {
		fprintf(stderr, "live-latency: %d of %d presses measured\n", ok, n);
		return 1;
	}
	report("uinput write -> evdev readable", input, n);
	report("uinput write -> note-on at client", note, n);
	free(note);
	free(input);
	return 0;
}
