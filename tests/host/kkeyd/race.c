/* SPDX-License-Identifier: MIT */
/*
 * race: the original kkey course's race demo, rewritten for ukd's tests.
 *
 *   race DIR [ROUNDS] [SLEEP_US]
 *
 * Opens DIR/kkey000..kkey127 ("%s/kkey%03d", O_NONBLOCK | O_RDWR, as the
 * course examples do), forks, pins the parent to CPU 0 and the child to
 * CPU 1 with sched_setaffinity(), and lets each press and release its half
 * of the notes (parent: even notes, child: odd notes), ROUNDS times
 * (default 1), sleeping SLEEP_US microseconds (default 100) after every
 * write. Every write must return 1. Afterwards the recording must hold
 * exactly 128 * ROUNDS note-ons and as many note-offs.
 * Exit status: 0 if every write succeeded, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOTES 128

static int pin_to_cpu(int cpu)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (cpu >= ncpu) {
		fprintf(stderr, "race: only %ld CPU(s); both processes share CPU 0\n", ncpu);
		cpu = 0;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "race: sched_setaffinity(%d): %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

static int play(const int *fds, int first, int rounds, useconds_t pause)
{
	for (int r = 0; r < rounds; r++) {
		for (int i = first; i < NOTES; i += 2) {
			for (int on = 1; on >= 0; on--) {
				ssize_t n = write(fds[i], on ? "1" : "0", 1);

				if (n != 1) {
					fprintf(stderr, "race: write(kkey%03d, \"%d\") = %zd: %s\n",
						i, on, n, n < 0 ? strerror(errno) : "short write");
					return -1;
				}
				if (pause)
					usleep(pause);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fds[NOTES];
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	useconds_t pause = argc > 3 ? (useconds_t)atoi(argv[3]) : 100;
	int status, ret = 0;
	pid_t pid;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: race DIR [ROUNDS] [SLEEP_US]\n");
		return 2;
	}
	for (int i = 0; i < NOTES; i++) {
		char path[4096];

		if (snprintf(path, sizeof(path), "%s/kkey%03d", argv[1], i) >= (int)sizeof(path)) {
			fprintf(stderr, "race: path too long\n");
			return 2;
		}
		fds[i] = open(path, O_NONBLOCK | O_RDWR | O_CLOEXEC);
		if (fds[i] < 0) {
			fprintf(stderr, "race: open %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	pid = fork();
	if (pid < 0) {
		perror("race: fork");
		return 1;
	}
	/* Parent on CPU 0 plays even notes, child on CPU 1 odd notes. */
	if (pin_to_cpu(pid == 0) < 0 || play(fds, pid == 0, rounds, pause) < 0)
		ret = 1;
	if (pid == 0)
		_exit(ret);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		ret = 1;
	for (int i = 0; i < NOTES; i++)
		close(fds[i]);
	return ret;
}
