/* SPDX-License-Identifier: MIT */
/*
 * Micro-benchmarks for tests/bench/kvfsd/run.sh, one number per line:
 *   kvfs-bench meta DIR N           create (open O_CREAT|O_EXCL + close),
 *                                   stat, unlink of N files: ops/s each
 *   kvfs-bench mkfiles DIR N        create N empty files and keep them
 *   kvfs-bench statfiles DIR N      stat the N files mkfiles made
 *   kvfs-bench rmfiles DIR N        unlink them
 *   kvfs-bench warm MB              touch MB of anonymous memory (huge
 *                                   pages where allowed), then free it
 *   kvfs-bench randread FILE SECS [direct]
 *                                   4 KiB preads at random aligned offsets
 *                                   for SECS seconds: IOPS
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int create_files(const char *dir, long n)
{
	char path[4096];

	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "create %s: %m\n", path);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* @op: 's' stat, 'u' unlink the files create_files() made. */
static int each_file(const char *dir, long n, char op)
{
	char path[4096];
	struct stat st;

	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
		if ((op == 's' ? stat(path, &st) : unlink(path)) < 0) {
			fprintf(stderr, "%s %s: %m\n", op == 's' ? "stat" : "unlink", path);
			return -1;
		}
	}
	return 0;
}

static int meta(const char *dir, long n)
{
	double t0, t1, t2, t3;

	t0 = now();
	if (create_files(dir, n) < 0)
		return 1;
	t1 = now();
	if (each_file(dir, n, 's') < 0)
		return 1;
	t2 = now();
	if (each_file(dir, n, 'u') < 0)
		return 1;
	t3 = now();
	printf("create %.0f\nstat %.0f\nunlink %.0f\n", n / (t1 - t0), n / (t2 - t1), n / (t3 - t2));
	return 0;
}

static int randread(const char *file, double secs, int direct)
{
	struct stat st;
	void *buf;
	long ops = 0;
	uint64_t x = 88172645463325252ULL;
	double t0, t;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 4096) {
		fprintf(stderr, "%s: %m\n", file);
		return 1;
	}
	if (posix_memalign(&buf, 4096, 4096))
		return 1;
	t0 = now();
	do {
		for (int i = 0; i < 256; i++) {
			off_t off;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off = (off_t)(x % (uint64_t)(st.st_size / 4096)) * 4096;
			if (pread(fd, buf, 4096, off) != 4096) {
				fprintf(stderr, "pread: %m\n");
				return 1;
			}
		}
		ops += 256;
		t = now();
	} while (t - t0 < secs);
	printf("iops %.0f\n", ops / (t - t0));
	free(buf);
	close(fd);
	return 0;
}

/*
 * Free page reporting hands memory freed a few seconds ago back to the
 * host, and the next touch of it is slow; huge-page allocations (kvfsd's
 * 2 MiB chunks) are served from such blocks even after the page cache was
 * just recycled. Touching huge pages and freeing them warms both kinds.
 */
static int warm(long mb)
{
	size_t len = (size_t)mb << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap %ld MiB: %m\n", mb);
		return 1;
	}
	(void)madvise(p, len, MADV_HUGEPAGE);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc >= 4 && !strcmp(argv[1], "meta"))
		return meta(argv[2], atol(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "mkfiles"))
		return create_files(argv[2], atol(argv[3])) < 0;
	if (argc >= 4 && !strcmp(argv[1], "statfiles"))
		return each_file(argv[2], atol(argv[3]), 's') < 0;
	if (argc >= 4 && !strcmp(argv[1], "rmfiles"))
		return each_file(argv[2], atol(argv[3]), 'u') < 0;
	if (argc >= 3 && !strcmp(argv[1], "warm"))
		return warm(atol(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "randread"))
		return randread(argv[2], atof(argv[3]), argc > 4 && !strcmp(argv[4], "direct"));
	fprintf(stderr, "usage: kvfs-bench meta|mkfiles|statfiles|rmfiles DIR N | warm MB | randread FILE SECS [direct]\n");
	return 2;
}
