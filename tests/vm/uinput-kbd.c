/* SPDX-License-Identifier: MIT */
/*
 * uinput-kbd: a virtual computer keyboard for the vm tests (needs the
 * uinput module). Usage:
 *   uinput-kbd play NAME < SCRIPT   create keyboard NAME, wait for SETTLE_MS,
 *                                   run SCRIPT, destroy it (held keys and all)
 *   uinput-kbd cycles NAME N MS     create and destroy it N times, MS apart
 *   uinput-kbd grab NODE            try EVIOCGRAB on the event node NODE:
 *                                   exit 0 if it could (then let go), else
 *                                   1 with the errno (EBUSY: grabbed by another)
 * SCRIPT lines: "p CODE" press, "r CODE" release, "s MS" sleep, "# ..."
 * comments. For every press/release it prints "BEFORE_NS AFTER_NS p|r CODE",
 * CLOCK_MONOTONIC just before and after the SYN_REPORT write that makes
 * the kernel stamp the key (see emit()).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_MS 1500   /* kkeyd attaches through hotplug; plenty under TCG */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int create(const char *name)
{
	struct uinput_setup us = { .id = { .bustype = BUS_VIRTUAL, .vendor = 0x1209, .product = 0x6b6b } };
	int fd = open("/dev/uinput", O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("uinput-kbd: /dev/uinput");
		exit(1);
	}
	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) < 0 || ioctl(fd, UI_SET_EVBIT, EV_SYN) < 0) {
		perror("uinput-kbd: UI_SET_EVBIT");
		exit(1);
	}
	for (int k = 1; k < 256; k++)
		if (ioctl(fd, UI_SET_KEYBIT, k) < 0) {
			perror("uinput-kbd: UI_SET_KEYBIT");
			exit(1);
		}
	snprintf(us.name, sizeof(us.name), "%s", name);
	if (ioctl(fd, UI_DEV_SETUP, &us) < 0 || ioctl(fd, UI_DEV_CREATE) < 0) {
		perror("uinput-kbd: UI_DEV_CREATE");
		exit(1);
	}
	return fd;
}

static void write_event(int fd, unsigned short type, unsigned short code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	if (write(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev)) {
		perror("uinput-kbd: write");
		exit(1);
	}
}

/* The key, then SYN_REPORT in a write of its own: the kernel stamps the
 * event when SYN_REPORT flushes it, at the start of that write, before it
 * wakes the readers (which may preempt us for a long time under TCG), so
 * *before is the key's time to within the syscall entry. */
static void emit(int fd, int code, int value, uint64_t *before, uint64_t *after)
{
	write_event(fd, EV_KEY, (unsigned short)code, value);
	*before = now_ns();
	write_event(fd, EV_SYN, SYN_REPORT, 0);
	*after = now_ns();
}

int main(int argc, char **argv)
{
	char line[128];
	int fd;

	if (argc == 3 && !strcmp(argv[1], "play")) {
		fd = create(argv[2]);
		sleep_ms(SETTLE_MS);
		while (fgets(line, sizeof(line), stdin)) {
			char op;
			int v;

			if (sscanf(line, " %c %d", &op, &v) != 2 || op == '#')
				continue;
			if (op == 's') {
				sleep_ms((unsigned int)v);
			} else if (op == 'p' || op == 'r') {
				uint64_t before, after;

				emit(fd, v, op == 'p', &before, &after);
				printf("%llu %llu %c %d\n", (unsigned long long)before,
				       (unsigned long long)after, op, v);
			}
		}
		fflush(stdout);
		ioctl(fd, UI_DEV_DESTROY);
		close(fd);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "cycles")) {
		int n = atoi(argv[3]), ms = atoi(argv[4]);

		for (int i = 0; i < n; i++) {
			fd = create(argv[2]);
			sleep_ms((unsigned int)ms);
			uint64_t b, a;

			emit(fd, KEY_Z, 1, &b, &a);       /* mid-chord unplug, every time */
			emit(fd, KEY_C, 1, &b, &a);
			sleep_ms((unsigned int)ms);
			ioctl(fd, UI_DEV_DESTROY);
			close(fd);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "grab")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, EVIOCGRAB, 1) < 0) {
			printf("%s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		printf("%s: grabbed, released\n", argv[2]);
		ioctl(fd, EVIOCGRAB, 0);
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: uinput-kbd play NAME < SCRIPT | uinput-kbd cycles NAME N MS | "
		"uinput-kbd grab NODE\n");
	return 2;
}
