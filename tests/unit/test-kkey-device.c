/* SPDX-License-Identifier: MIT */
/* daemons/kkeyd/kkey.c driven directly through the chardev interface, with
 * the same per-open bookkeeping the front ends use (no FUSE, no CUSE). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "chardev-file.h"
#include "kkey.h"
#include "smf.h"
#include "check-run.h"

static struct kkey *make(bool keep, size_t capacity)
{
	struct kkey_config cfg;
	struct kkey *k;

	kkey_config_default(&cfg);
	cfg.keep = keep;
	cfg.capacity = capacity;
	ck_assert_int_eq(kkey_new(&k, &cfg), 0);
	return k;
}

static struct ukd_file *op(struct kkey *k, unsigned int note)
{
	struct ukd_file *f = NULL;

	ck_assert_int_eq(ukd_chardev_file_open(&f, &k->nodes[note], O_RDWR), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

static ssize_t wr(struct ukd_file *f, const char *s, size_t len, bool continued)
{
	struct ukd_write w = { .buf = s, .size = len, .continued = continued };

	return f->dev->ops->write(f, &w);
}

/* Read a whole snapshot through @chunk-byte reads. */
static uint8_t *slurp(struct ukd_file *f, size_t chunk, size_t *len)
{
	uint8_t *buf = malloc(1 << 20);
	ssize_t n;

	*len = 0;
	while ((n = f->dev->ops->read(f, buf + *len, chunk)) > 0)
		*len += (size_t)n;
	ck_assert_int_eq(n, 0);
	return buf;
}

struct counts {
	unsigned int on[128], off[128], total;
};

static int count_fn(const struct ukd_smf_event *ev, void *userdata)
{
	struct counts *c = userdata;

	if ((ev->status & 0xf0) == 0x90) {
		c->on[ev->data[0]]++;
		c->total++;
	} else if ((ev->status & 0xf0) == 0x80) {
		c->off[ev->data[0]]++;
		c->total++;
	}
	return 0;
}

static struct counts parse(const uint8_t *buf, size_t len)
{
	struct counts c = { 0 };

	ck_assert_int_eq(ukd_smf_parse(buf, len, NULL, count_fn, &c), 0);
	return c;
}

START_TEST(names_and_modes)
{
	struct kkey *k = make(false, 1000);

	ck_assert_str_eq(k->nodes[0].name, "kkey000");
	ck_assert_str_eq(k->nodes[60].name, "kkey060");
	ck_assert_str_eq(k->nodes[127].name, "kkey127");
	ck_assert_uint_eq(k->nodes[5].mode, 0666);
	ck_assert_int_eq(ukd_chardev_check_devs(k->node_ptrs, KKEY_NOTES), 0);
	kkey_free(k);
}
END_TEST

/* --node-dir: what lib/chardev.c lets CUSE put under /dev. */
START_TEST(cuse_dirs)
{
	static const char *const good[] = { "kkey-pci/0000:00:03.0", "a", "x/y/z", "a.b_c@d+e-f",
		"..a", "a..", "1234567890123456789012345678901234567890123456789012345678901234" };
	static const char *const bad[] = { "", "/abs", "trail/", "a//b", ".", "..", "a/./b", "a/../b",
		"../x", "sp ace", "new\nline", "a\\b", "star*",
		"12345678901234567890123456789012345678901234567890123456789012345" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(ukd_chardev_dir_valid(good[i]), "should be valid: '%s'", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(!ukd_chardev_dir_valid(bad[i]), "should be invalid: '%s'", bad[i]);
	ck_assert(!ukd_chardev_dir_valid(NULL));
}
END_TEST

START_TEST(write_semantics)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f60 = op(k, 60), *r = op(k, 0);
	static char big[1 << 20];
	struct counts c;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(wr(f60, "1\n", 2, false), 2);          /* press */
	ck_assert_int_eq(wr(f60, "", 0, false), 0);              /* nothing */
	ck_assert_int_eq(wr(f60, "0", 1, false), 1);             /* release */
	ck_assert_int_eq(wr(f60, "x", 1, false), 1);             /* any other byte presses */
	memset(big, '0', sizeof(big));
	ck_assert_int_eq(wr(f60, big, sizeof(big), false), (ssize_t)sizeof(big)); /* one release */
	ck_assert_int_eq(wr(f60, big, 4096, true), 4096);       /* continuation: nothing */
	ck_assert_uint_eq(ukd_recorder_count(k->rec), 4);

	buf = slurp(r, 65536, &len);
	c = parse(buf, len);
	ck_assert_uint_eq(c.on[60], 2);
	ck_assert_uint_eq(c.off[60], 2);
	ck_assert_uint_eq(c.total, 4);
	free(buf);
	ukd_chardev_file_release(f60);
	ukd_chardev_file_release(r);
	kkey_free(k);
}
END_TEST

START_TEST(read_clears_and_one_byte_reads)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f = op(k, 10), *a = op(k, 0), *b;
	uint8_t *whole, *bytes;
	size_t len, len1;

	ck_assert_int_eq(wr(f, "1", 1, false), 1);
	ck_assert_int_eq(wr(f, "0", 1, false), 1);
	whole = slurp(a, 1 << 20, &len);
	ck_assert_uint_eq(parse(whole, len).total, 2);
	/* That read cleared: a new open sees an empty, valid file. */
	b = op(k, 127);
	bytes = slurp(b, 1, &len1);
	ck_assert_uint_eq(parse(bytes, len1).total, 0);
	ck_assert_uint_eq(len1, 41);
	/* The first handle stays at EOF. */
	ck_assert_int_eq(a->dev->ops->read(a, whole, 10), 0);
	free(whole);
	free(bytes);
	ukd_chardev_file_release(a);
	ukd_chardev_file_release(b);

	/* 1-byte reads rebuild the same bytes as one bulk read would. */
	ck_assert_int_eq(wr(f, "1", 1, false), 1);
	ck_assert_int_eq(wr(f, "0", 1, false), 1);
	k->cfg.keep = true; /* so both handles see the same recording */
	a = op(k, 1);
	b = op(k, 2);
	whole = slurp(a, 1 << 20, &len);
	bytes = slurp(b, 1, &len1);
	ck_assert_uint_eq(len, len1);
	ck_assert_mem_eq(whole, bytes, len);
	free(whole);
	free(bytes);
	ukd_chardev_file_release(a);
	ukd_chardev_file_release(b);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

START_TEST(held_note_across_reads)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f = op(k, 64), *a = op(k, 0), *b = op(k, 0);
	struct counts c;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(wr(f, "1", 1, false), 1);
	buf = slurp(a, 4096, &len);
	c = parse(buf, len);
	ck_assert_uint_eq(c.on[64], 1);
	ck_assert_uint_eq(c.off[64], 1); /* closed at the end of the file */
	free(buf);
	ck_assert_int_eq(wr(f, "0", 1, false), 1);
	buf = slurp(b, 4096, &len);
	c = parse(buf, len);
	ck_assert_uint_eq(c.on[64], 1);  /* pressed again at the start */
	ck_assert_uint_eq(c.off[64], 1); /* the real release */
	free(buf);
	ukd_chardev_file_release(a);
	ukd_chardev_file_release(b);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

START_TEST(capacity_gives_enospc)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f = op(k, 1);

	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(wr(f, i & 1 ? "0" : "1", 1, false), 1);
	ck_assert_int_eq(wr(f, "1", 1, false), -ENOSPC);
	ck_assert_uint_eq(ukd_recorder_count(k->rec), 1000);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

START_TEST(ioctls)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f = op(k, 0);
	struct kkey_status st;
	uint32_t v;
	uint64_t wide = 5;

	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_GET_VELOCITY, NULL, 0, &v, 4), 0);
	ck_assert_uint_eq(v, 63);
	v = 100;
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_VELOCITY, &v, 4, NULL, 0), 0);
	v = 128;
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_VELOCITY, &v, 4, NULL, 0), -EINVAL);
	v = 0; /* a note-on of velocity 0 would be a note-off */
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_VELOCITY, &v, 4, NULL, 0), -EINVAL);
	v = 0;
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_SLOWDOWN, &v, 4, NULL, 0), -EINVAL);
	v = 33;
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_SLOWDOWN, &v, 4, NULL, 0), -EINVAL);
	v = 10;
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_SLOWDOWN, &v, 4, NULL, 0), 0);
	ck_assert_int_eq(wr(f, "1", 1, false), 1);
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_GET_STATUS, NULL, 0, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.events, 1);
	ck_assert_uint_eq(st.capacity, 1000);
	ck_assert_uint_eq(st.velocity, 100);
	ck_assert_uint_eq(st.slowdown, 10);
	ck_assert_uint_eq(st.held, 1);
	ck_assert_uint_eq(st.flags, 0);
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_RESET, NULL, 0, NULL, 0), 0);
	ck_assert_uint_eq(ukd_recorder_count(k->rec), 1); /* the held note, re-pressed */

	/* Wrong size for a known number: EINVAL. Unknown: ENOTTY. */
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, _IOW(KKEY_IOC_MAGIC, 2, uint64_t), &wide, 8, NULL, 0), -EINVAL);
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, _IOR(KKEY_IOC_MAGIC, 2, uint32_t), NULL, 0, &v, 4), -EINVAL);
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, _IO(KKEY_IOC_MAGIC, 99), NULL, 0, NULL, 0), -ENOTTY);
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, _IO('T', 1), NULL, 0, NULL, 0), -ENOTTY);
	/* Buffers that do not match the command: the front end's check. */
	ck_assert_int_eq(ukd_chardev_file_ioctl(f, KKEY_IOC_SET_VELOCITY, &v, 2, NULL, 0), -EINVAL);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST


/* A test listener: what kkey passes on live, in order. */
struct heard {
	unsigned int n;
	struct { int kind, channel, a, b, c; } ev[64];
};

static void h_note(void *data, uint8_t channel, uint8_t note, bool on, uint8_t velocity)
{
	struct heard *h = data;

	h->ev[h->n++] = (typeof(h->ev[0])){ 'n', channel, note, on, velocity };
}

static void h_control(void *data, uint8_t channel, uint8_t cc, uint8_t value)
{
	struct heard *h = data;

	h->ev[h->n++] = (typeof(h->ev[0])){ 'c', channel, cc, value, 0 };
}

static void h_all_off(void *data, uint8_t channel)
{
	struct heard *h = data;

	h->ev[h->n++] = (typeof(h->ev[0])){ 'x', channel, 0, 0, 0 };
}

static const struct kkey_listener_ops heard_ops = {
	.note = h_note, .control = h_control, .all_notes_off = h_all_off,
};

START_TEST(play_reaches_recording_and_listener)
{
	struct kkey_config cfg;
	struct kkey *k;
	struct heard h = { 0 };
	struct ukd_file *f = NULL, *r;
	struct counts c;
	uint8_t *buf;
	size_t len;

	kkey_config_default(&cfg);
	cfg.channel = 9;
	cfg.capacity = 3;
	ck_assert_int_eq(kkey_new(&k, &cfg), 0);
	kkey_set_listener(k, &heard_ops, &h);
	f = op(k, 60);
	ck_assert_int_eq(wr(f, "1", 1, false), 1);                  /* a node write */
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 64, .on = true, .velocity = 100 }), 0);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 128, .on = true }), -EINVAL);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 1, .velocity = 128 }), -EINVAL);
	kkey_control(k, 64, 127);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 64, .on = false, .velocity = 20 }), 0);
	/* Full: not recorded, but still heard. */
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 67, .on = true }), -ENOSPC);
	ck_assert_uint_eq(h.n, 5);
	ck_assert_int_eq(h.ev[0].kind, 'n');
	ck_assert_int_eq(h.ev[0].channel, 9);
	ck_assert_int_eq(h.ev[0].a, 60);
	ck_assert_int_eq(h.ev[0].b, 1);
	ck_assert_int_eq(h.ev[0].c, KKEY_VELOCITY_DEFAULT);
	ck_assert_int_eq(h.ev[1].a, 64);
	ck_assert_int_eq(h.ev[1].c, 100);
	ck_assert_int_eq(h.ev[2].kind, 'c');
	ck_assert_int_eq(h.ev[2].a, 64);
	ck_assert_int_eq(h.ev[2].b, 127);
	ck_assert_int_eq(h.ev[3].b, 0);                          /* release velocity 20 */
	ck_assert_int_eq(h.ev[3].c, 20);
	ck_assert_int_eq(h.ev[4].a, 67);

	r = op(k, 0);
	buf = slurp(r, 65536, &len);
	c = parse(buf, len);
	ck_assert_uint_eq(c.on[60], 1);
	ck_assert_uint_eq(c.on[64], 1);
	ck_assert_uint_eq(c.off[64], 1);
	ck_assert_uint_eq(c.on[67], 0);
	free(buf);
	ukd_chardev_file_release(r);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

static void count_hook(void *data)
{
	++*(int *)data;
}

START_TEST(panic_ioctl)
{
	int hooked = 0;
	struct kkey *k = make(true, 1000);
	struct heard h = { 0 };
	struct ukd_file *f = op(k, 0);
	struct counts c;
	uint8_t *buf;
	size_t len;

	kkey_set_listener(k, &heard_ops, &h);
	kkey_set_panic_hook(k, count_hook, &hooked);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 60, .on = true }), 0);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 64, .on = true }), 0);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 67, .on = true }), 0);
	ck_assert_int_eq(kkey_play(k, &(struct kkey_event){ .note = 67, .on = false }), 0);
	ck_assert_int_eq(hooked, 0);
	ck_assert_int_eq(f->dev->ops->ioctl(f, KKEY_IOC_PANIC, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(hooked, 1);
	ck_assert_uint_eq(ukd_recorder_held(k->rec), 0);
	/* Live: the two held notes end one by one, then all-notes-off. */
	ck_assert_uint_eq(h.n, 7);
	ck_assert_int_eq(h.ev[4].a, 60);
	ck_assert_int_eq(h.ev[4].b, 0);
	ck_assert_int_eq(h.ev[5].a, 64);
	ck_assert_int_eq(h.ev[5].b, 0);
	ck_assert_int_eq(h.ev[6].kind, 'x');
	buf = slurp(f, 65536, &len);
	c = parse(buf, len);
	ck_assert_uint_eq(c.off[60], 1);
	ck_assert_uint_eq(c.off[64], 1);
	ck_assert_uint_eq(c.off[67], 1);
	ck_assert_uint_eq(c.total, 6);
	free(buf);
	/* Nothing held: a second panic releases nothing; the inputs hear it. */
	ck_assert_int_eq(kkey_panic(k, 0), 0);
	ck_assert_int_eq(hooked, 2);
	ck_assert_int_eq(f->dev->ops->ioctl(f, _IOW(KKEY_IOC_MAGIC, 6, uint32_t), NULL, 0, NULL, 0), -EINVAL);
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

START_TEST(poll_mask)
{
	struct kkey *k = make(false, 1000);
	struct ukd_file *f = op(k, 0);
	uint8_t buf[16];

	ck_assert_uint_eq(ukd_chardev_file_poll(f) & (POLLIN | POLLOUT), POLLOUT);
	ck_assert_int_eq(wr(f, "1", 1, false), 1);
	ck_assert_uint_eq(ukd_chardev_file_poll(f) & POLLIN, POLLIN);
	ck_assert_int_gt(f->dev->ops->read(f, buf, sizeof(buf)), 0); /* mid-snapshot */
	ck_assert_uint_eq(ukd_chardev_file_poll(f) & POLLIN, POLLIN);
	while (f->dev->ops->read(f, buf, sizeof(buf)) > 0)
		;
	ck_assert_uint_eq(ukd_chardev_file_poll(f) & POLLIN, 0); /* at EOF */
	ukd_chardev_file_release(f);
	kkey_free(k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kkey-device");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, names_and_modes);
	tcase_add_test(tc, cuse_dirs);
	tcase_add_test(tc, write_semantics);
	tcase_add_test(tc, read_clears_and_one_byte_reads);
	tcase_add_test(tc, held_note_across_reads);
	tcase_add_test(tc, capacity_gives_enospc);
	tcase_add_test(tc, ioctls);
	tcase_add_test(tc, poll_mask);
	tcase_add_test(tc, play_reaches_recording_and_listener);
	tcase_add_test(tc, panic_ioctl);
	suite_add_tcase(s, tc);
	return ukd_check_run(s);
}
