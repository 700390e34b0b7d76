/* SPDX-License-Identifier: MIT */
/*
 * kkwrite: many concurrent writers, each on its own node, for kkeyd's host
 * test and benchmark.
 *
 *   kkwrite DIR WRITERS EVENTS [FIRST_NOTE]
 *
 * Starts WRITERS threads; thread i opens DIR/kkey%03d with note
 * (FIRST_NOTE + i) % 128 (O_WRONLY | O_NONBLOCK) and, once all threads are
 * ready, writes EVENTS times alternately "1" and "0" (so an even EVENTS
 * leaves no note held). Every write must return 1; the first failure is
 * reported with its errno and counted. Prints one line:
 *   writers=W events=N failed=F seconds=S events_per_s=R
 * Exit status: 0 if every write succeeded, 1 otherwise, 2 for usage.
 * With more writers than notes, several threads share a note, each with
 * its own open file: their presses and releases then interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct writer {
	pthread_t thread;
	int fd;
	int note;
	long events;
	long failed;
	int first_errno;
};

static pthread_barrier_t start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct writer *w = arg;

	pthread_barrier_wait(&start);
	for (long i = 0; i < w->events; i++) {
		ssize_t n = write(w->fd, (i & 1) ? "0" : "1", 1);

		if (n != 1) {
			if (!w->failed)
				w->first_errno = n < 0 ? errno : 0;
			w->failed++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct writer *ws;
	long nw, events, failed = 0;
	int first = argc > 4 ? atoi(argv[4]) : 0;
	double t0, t1;

	if (argc < 4 || (nw = atol(argv[2])) < 1 || (events = atol(argv[3])) < 0) {
		fprintf(stderr, "usage: kkwrite DIR WRITERS EVENTS [FIRST_NOTE]\n");
		return 2;
	}
	ws = calloc((size_t)nw, sizeof(*ws));
	if (!ws)
		return 1;
	pthread_barrier_init(&start, NULL, (unsigned)nw + 1);
	for (long i = 0; i < nw; i++) {
		char path[4096];

		ws[i].note = (int)((first + i) % 128);
		ws[i].events = events;
		snprintf(path, sizeof(path), "%s/kkey%03d", argv[1], ws[i].note);
		ws[i].fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (ws[i].fd < 0) {
			fprintf(stderr, "kkwrite: open %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "kkwrite: pthread_create failed\n");
			return 1;
		}
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (long i = 0; i < nw; i++)
		pthread_join(ws[i].thread, NULL);
	t1 = now();
	for (long i = 0; i < nw; i++) {
		if (ws[i].failed) {
			fprintf(stderr, "kkwrite: writer %ld (kkey%03d): %ld of %ld writes failed, first: %s\n",
				i, ws[i].note, ws[i].failed, ws[i].events,
				ws[i].first_errno ? strerror(ws[i].first_errno) : "short write");
			failed += ws[i].failed;
		}
		close(ws[i].fd);
	}
	printf("writers=%ld events=%ld failed=%ld seconds=%.3f events_per_s=%.0f\n",
	       nw, nw * events, failed, t1 - t0, (double)(nw * events) / (t1 - t0));
	free(ws);
	return failed ? 1 : 0;
}
