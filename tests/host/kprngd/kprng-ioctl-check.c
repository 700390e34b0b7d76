/* SPDX-License-Identifier: MIT */
/*
 * kprng ioctl errors through a real node (FUSE mount on the host, CUSE in
 * the vm tier): exact errno for unknown commands, wrong sizes, bad values,
 * device scope without write access; and that file-scope seeding gives the
 * same bytes on two opens. Usage: kprng-ioctl-check NODE. Exit: failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ukd/kprng.h"

static int fails;

static void expect(const char *what, int r, int want_errno)
{
	int e = r < 0 ? errno : 0;

	if (e == want_errno) {
		printf("ok: %s: %s\n", what, want_errno ? strerror(e) : "success");
	} else {
		printf("FAIL: %s: got %s, want %s\n", what, e ? strerror(e) : "success",
		       want_errno ? strerror(want_errno) : "success");
		fails++;
	}
}

static int seeded_read(const char *node, unsigned char *buf, size_t n)
{
	struct kprng_seed s = { .seed = { 0x99 } };
	int fd = open(node, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0 || ioctl(fd, KPRNG_IOC_SET_SEED, &s) < 0)
		return -1;
	got = read(fd, buf, n);
	close(fd);
	return got == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct kprng_seed s = { .reserved = 0 };
	struct kprng_generator g = { 0 };
	struct kprng_stats st;
	unsigned char a[4096], b[4096], small[8] = { 0 };
	uint32_t flags = 0;
	int ro, rw;

	if (argc != 2) {
		fprintf(stderr, "Usage: kprng-ioctl-check NODE\n");
		return 2;
	}
	ro = open(argv[1], O_RDONLY | O_CLOEXEC);
	rw = open(argv[1], O_RDWR | O_CLOEXEC);
	if (ro < 0 || rw < 0) {
		perror(argv[1]);
		return 2;
	}
	expect("unknown number", ioctl(ro, _IO(KPRNG_IOC_MAGIC, 0x7f)), ENOTTY);
	expect("foreign magic (kkey's 0x11)", ioctl(ro, _IOR(0x11, 5, struct kprng_stats), &st), ENOTTY);
	expect("SET_SEED with a 4-byte size", ioctl(ro, _IOW(KPRNG_IOC_MAGIC, 1, uint32_t), small), EINVAL);
	expect("GET_STATS with an 8-byte size", ioctl(ro, _IOR(KPRNG_IOC_MAGIC, 5, uint64_t), small), EINVAL);
	expect("GET_GENERATOR as _IOW", ioctl(ro, _IOW(KPRNG_IOC_MAGIC, 2, struct kprng_generator), &g), EINVAL);
	g.generator = 9;
	expect("SET_GENERATOR 9", ioctl(ro, KPRNG_IOC_SET_GENERATOR, &g), EINVAL);
	s.reserved = 1;
	expect("SET_SEED reserved != 0", ioctl(ro, KPRNG_IOC_SET_SEED, &s), EINVAL);
	s.reserved = 0;
	s.flags = KPRNG_SCOPE_DEVICE;
	expect("device-scope SET_SEED on O_RDONLY", ioctl(ro, KPRNG_IOC_SET_SEED, &s), EPERM);
	flags = 0x10;
	expect("RESEED unknown flags", ioctl(ro, KPRNG_IOC_RESEED, &flags), EINVAL);
	flags = 0;
	expect("RESEED (file scope)", ioctl(ro, KPRNG_IOC_RESEED, &flags), 0);
	expect("GET_STATS", ioctl(ro, KPRNG_IOC_GET_STATS, &st), 0);
	g.generator = KPRNG_GEN_XOSHIRO;
	g.flags = 0;
	expect("SET_GENERATOR xoshiro (file scope)", ioctl(rw, KPRNG_IOC_SET_GENERATOR, &g), 0);
	expect("GET_GENERATOR", ioctl(rw, KPRNG_IOC_GET_GENERATOR, &g), 0);
	if (g.generator != KPRNG_GEN_XOSHIRO) {
		printf("FAIL: GET_GENERATOR says %u\n", g.generator);
		fails++;
	}
	if (seeded_read(argv[1], a, sizeof(a)) < 0 || seeded_read(argv[1], b, sizeof(b)) < 0 ||
	    memcmp(a, b, sizeof(a))) {
		printf("FAIL: two file-scope seeded opens differ\n");
		fails++;
	} else {
		printf("ok: two file-scope seeded opens read the same 4096 bytes\n");
	}
	close(ro);
	close(rw);
	return fails;
}
