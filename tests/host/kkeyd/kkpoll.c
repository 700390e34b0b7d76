/* SPDX-License-Identifier: MIT */
/*
 * kkpoll: poll(2) on kkey nodes (docs/kkeyd.md, "poll(2)"):
 * POLLOUT always; POLLIN when the open file has unread snapshot bytes or
 * the recording holds at least one event; a poller wakes when a note is
 * written.
 *
 *   kkpoll DIR     (kkeyd must be in read-clears mode with nothing held)
 *
 * Checks, each printed as "ok"/"FAILED":
 *  1. after reading kkey000 to EOF (recording now empty): POLLOUT set,
 *     POLLIN clear;
 *  2. a poller blocked on kkey000 wakes with POLLIN when kkey064 (another
 *     node) is written 300 ms later, and not before;
 *  3. the same when the written node is the polled one;
 *  4. a freshly opened file with events recorded is POLLIN at once;
 *  5. mid-snapshot: after reading one byte, POLLIN stays set.
 * Every poll is bounded (5 s) and alarm() guards the whole program.
 * Exit status: 0 all passed, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int failures;

static void expect(int cond, const char *what)
{
	printf("%s %s\n", cond ? "ok    " : "FAILED", what);
	if (!cond)
		failures++;
}

static int open_node(int note, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/kkey%03d", dir, note);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kkpoll: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read @fd to EOF; returns bytes read or -1. */
static long drain(int fd)
{
	char buf[65536];
	long total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	return n < 0 ? -1 : total;
}

/* Empty the recording: read a whole snapshot on a fresh open file. */
static void empty_recording(void)
{
	int fd = open_node(0, O_RDONLY);

	if (drain(fd) < 0)
		fprintf(stderr, "kkpoll: read: %s\n", strerror(errno));
	close(fd);
}

struct writer_arg {
	int note;
	int on;
	useconds_t delay;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	int fd = open_node(a->note, O_WRONLY | O_NONBLOCK);

	usleep(a->delay);
	if (write(fd, a->on ? "1" : "0", 1) != 1)
		fprintf(stderr, "kkpoll: write kkey%03d: %s\n", a->note, strerror(errno));
	close(fd);
	return NULL;
}

static void wake_test(int written_note, const char *what)
{
	struct writer_arg a = { .note = written_note, .on = 1, .delay = 300000 };
	struct pollfd p;
	pthread_t t;
	double t0, dt;
	char msg[256];
	int fd, r;

	empty_recording();
	fd = open_node(0, O_RDONLY | O_NONBLOCK);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	r = poll(&p, 1, 0);
	snprintf(msg, sizeof(msg), "%s: before the write, POLLIN is clear (poll = %d, revents %#x)",
		 what, r, p.revents);
	expect(r == 0, msg);

	pthread_create(&t, NULL, writer, &a);
	t0 = now();
	p.revents = 0;
	r = poll(&p, 1, 5000);
	dt = now() - t0;
	snprintf(msg, sizeof(msg), "%s: the poller wakes with POLLIN %.3f s after it started, "
		 "writer wrote at 0.3 s (poll = %d, revents %#x)", what, dt, r, p.revents);
	expect(r == 1 && (p.revents & POLLIN) && dt >= 0.29 && dt < 3.0, msg);
	pthread_join(t, NULL);
	close(fd);

	/* Release the note again so the next test starts with nothing held. */
	a.on = 0;
	a.delay = 0;
	writer(&a);
	empty_recording();
}

int main(int argc, char **argv)
{
	struct pollfd p;
	char msg[256], c;
	int fd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: kkpoll DIR\n");
		return 2;
	}
	dir = argv[1];
	alarm(60);

	/* 1 */
	empty_recording();
	fd = open_node(0, O_RDONLY | O_NONBLOCK);
	drain(fd);  /* an empty snapshot, read to EOF */
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	r = poll(&p, 1, 0);
	snprintf(msg, sizeof(msg), "empty recording, snapshot read to EOF: POLLOUT set, POLLIN clear (revents %#x)",
		 p.revents);
	expect(r == 1 && (p.revents & POLLOUT) && !(p.revents & POLLIN), msg);
	close(fd);

	/* 2, 3 */
	wake_test(64, "poll kkey000, write kkey064");
	wake_test(0, "poll kkey000, write kkey000");

	/* 4 */
	{
		struct writer_arg a = { .note = 70, .on = 1, .delay = 0 };

		writer(&a);
		a.on = 0;
		writer(&a);
	}
	fd = open_node(0, O_RDONLY | O_NONBLOCK);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	r = poll(&p, 1, 5000);
	snprintf(msg, sizeof(msg), "fresh open with 2 events recorded: POLLIN at once (revents %#x)", p.revents);
	expect(r == 1 && (p.revents & POLLIN), msg);

	/* 5 */
	r = (int)read(fd, &c, 1);
	p.revents = 0;
	poll(&p, 1, 0);
	snprintf(msg, sizeof(msg), "after reading 1 byte of the snapshot ('%c'): POLLIN still set (revents %#x)",
		 r == 1 ? c : '?', p.revents);
	expect(r == 1 && c == 'M' && (p.revents & POLLIN), msg);
	drain(fd);
	p.revents = 0;
	poll(&p, 1, 0);
	snprintf(msg, sizeof(msg), "after reading that snapshot to EOF: POLLIN clear (revents %#x)", p.revents);
	expect(!(p.revents & POLLIN), msg);
	close(fd);

	printf("# kkpoll: %s\n", failures ? "FAILED" : "PASS");
	return failures ? 1 : 0;
}
