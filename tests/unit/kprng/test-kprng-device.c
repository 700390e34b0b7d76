/* SPDX-License-Identifier: MIT */
/*
 * kprngd's device logic, driven through the same per-open and ioctl paths
 * the front ends use (chardev-file.h): stream reproducibility across read
 * sizes and interleaved readers, writes, ioctls and their errors.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "chardev-file.h"
#include "device.h"
#include "ref.h"
#include "../check-run.h"

static struct kprng *dev_new_helped(const char *seed, enum ukd_prng_kind gen, bool helper)
{
	struct kprng_config cfg = { .name = "kprng", .mode = 0666, .generator = gen, .helper = helper };
	struct kprng *k = NULL;

	if (seed) {
		ck_assert_int_eq(ukd_prng_seed_parse(seed, cfg.seed), 0);
		cfg.deterministic = true;
	}
	ck_assert_int_eq(kprng_new(&k, &cfg), 0);
	return k;
}

static struct kprng *dev_new(const char *seed, enum ukd_prng_kind gen)
{
	return dev_new_helped(seed, gen, false);
}

static struct ukd_file *dev_open(struct kprng *k, int flags)
{
	struct ukd_file *f = NULL;

	ck_assert_int_eq(ukd_chardev_file_open(&f, &k->node, flags), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

static void dev_read(struct ukd_file *f, uint8_t *buf, size_t n)
{
	ck_assert_int_eq(f->dev->ops->read(f, buf, n), (ssize_t)n);
}

static void dev_write(struct ukd_file *f, const char *s, size_t n, bool continued)
{
	struct ukd_write w = { .buf = s, .size = n, .continued = continued };

	ck_assert_int_eq(f->dev->ops->write(f, &w), (ssize_t)n);
}

static int dev_ioctl(struct ukd_file *f, unsigned int cmd, const void *in, void *out)
{
	size_t size = _IOC_SIZE(cmd);
	unsigned int dir = _IOC_DIR(cmd);

	/* As the kernel + front end deliver it: buffers sized by the command. */
	return ukd_chardev_file_ioctl(f, cmd, (dir & _IOC_WRITE) ? in : NULL,
				    (dir & _IOC_WRITE) ? size : 0,
				    (dir & _IOC_READ) ? out : NULL, (dir & _IOC_READ) ? size : 0);
}

static struct kprng_stats dev_stats(struct ukd_file *f)
{
	struct kprng_stats st;

	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_GET_STATS, NULL, &st), 0);
	return st;
}

/* Same seed → same bytes for every open, whatever the read sizes and
 * however reads of many open files interleave (1 B ... 1 MiB). */
START_TEST(reproducible_interleaved)
{
	enum { FILES = 12, TOTAL = (2 << 20) + 12345 };
	static const size_t sizes[] = { 1, 3, 64, 100, 4096, 65536, 1 << 20, 7, 8, 1000, 513, 131072 };
	/* _i: generator, and whether the helper thread takes part */
	enum ukd_prng_kind gen = _i % _UKD_PRNG_KIND_MAX;
	struct kprng *k = dev_new_helped("2024", gen, _i >= _UKD_PRNG_KIND_MAX);
	struct ukd_file *f[FILES];
	uint8_t *got[FILES], *want = malloc(TOTAL);
	size_t off[FILES] = { 0 };
	struct ukd_prng *ref = NULL;
	uint8_t key[32];
	bool busy = true;

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(ukd_prng_seed_parse("2024", key), 0);
	ck_assert_int_eq(ukd_prng_new(&ref, gen, key), 0);
	ck_assert_int_eq(ukd_prng_fill(ref, want, TOTAL), 0);
	ukd_prng_free(ref);
	/* The library stream itself is pinned to the reference in test-prng. */
	ck_assert_ref(want, 4096, "stream %s 2024 4096", ukd_prng_kind_to_string(gen));

	for (int i = 0; i < FILES; i++) {
		f[i] = dev_open(k, O_RDONLY);
		got[i] = malloc(TOTAL);
		ck_assert_ptr_nonnull(got[i]);
	}
	for (unsigned int round = 0; busy; round++) {
		busy = false;
		for (int i = 0; i < FILES; i++) {
			size_t n = sizes[(i + round) % (sizeof(sizes) / sizeof(sizes[0]))];

			if (off[i] == TOTAL)
				continue;
			if (n > TOTAL - off[i])
				n = TOTAL - off[i];
			dev_read(f[i], got[i] + off[i], n);
			off[i] += n;
			busy = true;
		}
	}
	for (int i = 0; i < FILES; i++) {
		ck_assert_int_eq(memcmp(got[i], want, TOTAL), 0);
		ck_assert_uint_eq(f[i]->pos, TOTAL);
		ck_assert_uint_eq(dev_stats(f[i]).position, TOTAL);
		ukd_chardev_file_release(f[i]);
		free(got[i]);
	}
	free(want);
	kprng_free(k);
}
END_TEST

/* Without a seed, every open gets its own key. */
START_TEST(random_opens_differ)
{
	struct kprng *k = dev_new(NULL, UKD_PRNG_CHACHA20);
	struct ukd_file *a = dev_open(k, O_RDONLY), *b = dev_open(k, O_RDONLY);
	uint8_t x[64], y[64];
	struct kprng_generator g;

	dev_read(a, x, sizeof(x));
	dev_read(b, y, sizeof(y));
	ck_assert_int_ne(memcmp(x, y, sizeof(x)), 0);
	ck_assert_int_eq(dev_ioctl(a, KPRNG_IOC_GET_GENERATOR, NULL, &g), 0);
	ck_assert_uint_eq(g.generator, KPRNG_GEN_CHACHA20);
	ck_assert_uint_eq(g.flags, 0);
	ck_assert_uint_eq(dev_stats(a).flags, 0);
	ck_assert_int_eq(k->node.ops->read(a, x, 0), 0);
	ukd_chardev_file_release(a);
	ukd_chardev_file_release(b);
	kprng_free(k);
}
END_TEST

/* Writes change the key of later opens, deterministically, however the
 * bytes were split; open files keep their streams. */
START_TEST(writes_mix)
{
	struct kprng *k = dev_new("42", UKD_PRNG_CHACHA20);
	struct ukd_file *before = dev_open(k, O_RDWR), *w = dev_open(k, O_WRONLY);
	struct ukd_file *after, *again;
	uint8_t buf[256];
	struct kprng_stats st;

	dev_write(w, "hel", 3, false);
	dev_write(w, "", 0, false);
	dev_write(w, "l", 1, false);
	dev_write(w, "o", 1, true);
	st = dev_stats(w);
	ck_assert_uint_eq(st.bytes_written, 5);
	ck_assert_uint_eq(st.writes, 2);  /* "hel" and "l"+"o"; the empty write is none */

	dev_read(before, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream chacha20 42 %zu", sizeof(buf));

	after = dev_open(k, O_RDONLY);
	dev_read(after, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream chacha20 42 %zu 68656c6c6f", sizeof(buf));
	ck_assert_uint_eq(dev_stats(after).key_changes, 1);

	/* Nothing new written: the next open reads the same as "after". */
	again = dev_open(k, O_RDONLY);
	dev_read(again, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream chacha20 42 %zu 68656c6c6f", sizeof(buf));
	ck_assert_uint_eq(dev_stats(again).key_changes, 1);

	ukd_chardev_file_release(before);
	ukd_chardev_file_release(w);
	ukd_chardev_file_release(after);
	ukd_chardev_file_release(again);
	kprng_free(k);
}
END_TEST

START_TEST(ioctl_seed_and_generator)
{
	struct kprng *k = dev_new(NULL, UKD_PRNG_CHACHA20);
	struct ukd_file *ro = dev_open(k, O_RDONLY), *rw = dev_open(k, O_RDWR), *later;
	struct kprng_seed s = { .flags = 0 };
	struct kprng_generator g = { .generator = KPRNG_GEN_XOSHIRO };
	uint8_t buf[300];
	struct kprng_stats st;

	/* File scope: anyone; restarts this file only. */
	ck_assert_int_eq(ukd_prng_seed_parse("7", s.seed), 0);
	dev_read(ro, buf, 10);
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_SET_SEED, &s, NULL), 0);
	dev_read(ro, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream chacha20 7 %zu", sizeof(buf));
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_SET_GENERATOR, &g, NULL), 0);
	dev_read(ro, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream xoshiro 7 %zu", sizeof(buf));
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_GET_GENERATOR, NULL, &g), 0);
	ck_assert_uint_eq(g.generator, KPRNG_GEN_XOSHIRO);
	ck_assert_uint_eq(g.flags, KPRNG_DETERMINISTIC);
	st = dev_stats(ro);
	ck_assert_uint_eq(st.flags, 0);                 /* the device is not seeded */
	ck_assert_uint_eq(st.generator, KPRNG_GEN_CHACHA20);
	ck_assert_uint_eq(st.position, sizeof(buf));

	/* Device scope needs a file open for writing. */
	s.flags = KPRNG_SCOPE_DEVICE;
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_SET_SEED, &s, NULL), -EPERM);
	g = (struct kprng_generator){ .generator = KPRNG_GEN_XOSHIRO, .flags = KPRNG_SCOPE_DEVICE };
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_SET_GENERATOR, &g, NULL), -EPERM);
	ck_assert_int_eq(dev_ioctl(ro, KPRNG_IOC_RESEED, &s.flags, NULL), -EPERM);

	ck_assert_int_eq(dev_ioctl(rw, KPRNG_IOC_SET_SEED, &s, NULL), 0);
	ck_assert_int_eq(dev_ioctl(rw, KPRNG_IOC_SET_GENERATOR, &g, NULL), 0);
	st = dev_stats(rw);
	ck_assert_uint_eq(st.flags, KPRNG_DETERMINISTIC);
	ck_assert_uint_eq(st.generator, KPRNG_GEN_XOSHIRO);
	later = dev_open(k, O_RDONLY);
	dev_read(later, buf, sizeof(buf));
	ck_assert_ref(buf, sizeof(buf), "stream xoshiro 7 %zu", sizeof(buf));
	ukd_chardev_file_release(later);

	/* File reseed: this file leaves deterministic mode, the device does not. */
	s.flags = 0;
	ck_assert_int_eq(dev_ioctl(rw, KPRNG_IOC_RESEED, &s.flags, NULL), 0);
	ck_assert_int_eq(dev_ioctl(rw, KPRNG_IOC_GET_GENERATOR, NULL, &g), 0);
	ck_assert_uint_eq(g.flags, 0);
	ck_assert_uint_eq(dev_stats(rw).flags, KPRNG_DETERMINISTIC);

	/* Device reseed: later opens are random again and differ. */
	s.flags = KPRNG_SCOPE_DEVICE;
	ck_assert_int_eq(dev_ioctl(rw, KPRNG_IOC_RESEED, &s.flags, NULL), 0);
	st = dev_stats(rw);
	ck_assert_uint_eq(st.flags, 0);
	ck_assert_uint_eq(st.key_changes, 2);
	{
		struct ukd_file *a = dev_open(k, O_RDONLY), *b = dev_open(k, O_RDONLY);
		uint8_t x[64], y[64];

		dev_read(a, x, sizeof(x));
		dev_read(b, y, sizeof(y));
		ck_assert_int_ne(memcmp(x, y, sizeof(x)), 0);
		ck_assert_uint_eq(dev_stats(a).open_now, 4);
		ukd_chardev_file_release(a);
		ukd_chardev_file_release(b);
	}
	st = dev_stats(rw);
	ck_assert_uint_eq(st.open_now, 2);
	ck_assert_uint_eq(st.opens, 5);
	ukd_chardev_file_release(ro);
	ukd_chardev_file_release(rw);
	kprng_free(k);
}
END_TEST

#define BAD_SEED_SIZE _IOW(KPRNG_IOC_MAGIC, 1, uint32_t)
#define BAD_SEED_DIR  _IOWR(KPRNG_IOC_MAGIC, 1, struct kprng_seed)
#define BAD_GET_GEN   _IOW(KPRNG_IOC_MAGIC, 2, struct kprng_generator)
#define BAD_STATS     _IOR(KPRNG_IOC_MAGIC, 5, uint64_t)
#define UNKNOWN_NR    _IO(KPRNG_IOC_MAGIC, 0x7f)
#define OTHER_MAGIC   _IOR(0x11, 5, struct kprng_stats)

START_TEST(ioctl_errors)
{
	struct kprng *k = dev_new("1", UKD_PRNG_CHACHA20);
	struct ukd_file *f = dev_open(k, O_RDWR);
	uint8_t in[128] = { 0 }, out[128];
	struct kprng_seed s = { .reserved = 1 };
	struct kprng_generator g = { .generator = 2 };
	uint32_t flags = 2;

	ck_assert_int_eq(dev_ioctl(f, UNKNOWN_NR, NULL, NULL), -ENOTTY);
	ck_assert_int_eq(dev_ioctl(f, OTHER_MAGIC, NULL, out), -ENOTTY);
	ck_assert_int_eq(dev_ioctl(f, _IO('T', 1), NULL, NULL), -ENOTTY);
	ck_assert_int_eq(dev_ioctl(f, BAD_SEED_SIZE, in, NULL), -EINVAL);
	ck_assert_int_eq(dev_ioctl(f, BAD_SEED_DIR, in, out), -EINVAL);
	ck_assert_int_eq(dev_ioctl(f, BAD_GET_GEN, in, NULL), -EINVAL);
	ck_assert_int_eq(dev_ioctl(f, BAD_STATS, NULL, out), -EINVAL);
	/* Buffers that do not match the command: the front-end check. */
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KPRNG_IOC_GET_STATS, NULL, 0, out, 8), -EINVAL);
	/* Values. */
	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_SET_SEED, &s, NULL), -EINVAL);
	s.reserved = 0;
	s.flags = 0x80;
	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_SET_SEED, &s, NULL), -EINVAL);
	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_SET_GENERATOR, &g, NULL), -EINVAL);
	g = (struct kprng_generator){ .generator = 0, .flags = 4 };
	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_SET_GENERATOR, &g, NULL), -EINVAL);
	ck_assert_int_eq(dev_ioctl(f, KPRNG_IOC_RESEED, &flags, NULL), -EINVAL);
	/* A failed ioctl left the stream alone. */
	dev_read(f, out, sizeof(out));
	ck_assert_ref(out, sizeof(out), "stream chacha20 1 %zu", sizeof(out));
	ukd_chardev_file_release(f);
	kprng_free(k);
}
END_TEST

static Suite *device_suite(void)
{
	Suite *s = suite_create("kprng-device");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, reproducible_interleaved, 0, 2 * _UKD_PRNG_KIND_MAX);
	tcase_add_test(tc, random_opens_differ);
	tcase_add_test(tc, writes_mix);
	tcase_add_test(tc, ioctl_seed_and_generator);
	tcase_add_test(tc, ioctl_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(device_suite());
}
