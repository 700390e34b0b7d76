/* SPDX-License-Identifier: MIT */
/*
 * daemons/kkeyd/journal.c: replay order, torn tails at every byte offset,
 * bad checksums, compaction through kkey's read and reset, reboots.
 * Journal files are built here by an encoder of the format written from
 * journal.h's description (not by journal.c), except where a test needs
 * the daemon's own output.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chardev-file.h"
#include "journal.h"
#include "kkey.h"
#include "check-run.h"

struct ev {
	uint64_t t;
	uint8_t note, on, vel;
};

static const struct ev five[] = {
	{ 1000, 60, 1, 63 }, { 2000, 64, 1, 10 }, { 3000, 60, 0, 63 },
	{ 3000, 67, 1, 127 }, { 9000, 64, 0, 10 },
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void read_boot(uint8_t id[16])
{
	char s[64];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	unsigned int b[16];

	memset(id, 0, 16);
	if (!f)
		return;
	ck_assert_ptr_nonnull(fgets(s, sizeof(s), f));
	fclose(f);
	ck_assert_int_eq(sscanf(s, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x",
				&b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8],
				&b[9], &b[10], &b[11], &b[12], &b[13], &b[14], &b[15]), 16);
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)b[i];
}

/* Write DIR/kkeyd.journal: a header (this boot unless @other_boot) and @n records. */
static size_t write_journal(const char *dir, const struct ev *evs, size_t n, bool other_boot)
{
	char path[512];
	uint8_t buf[40 + 16 * 16];
	size_t len = 40 + 16 * n;
	FILE *f;

	ck_assert_uint_le(n, 16);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "UKDKJRNL", 8);
	put32(buf + 8, 1);
	put32(buf + 12, 16);
	read_boot(buf + 16);
	if (other_boot)
		buf[16] ^= 0xff;
	put32(buf + 36, kkey_journal_crc32c(buf, 36));
	for (size_t i = 0; i < n; i++) {
		uint8_t *r = buf + 40 + 16 * i;

		put64(r, evs[i].t);
		r[8] = evs[i].note;
		r[9] = evs[i].on;
		r[10] = evs[i].vel;
		put32(r + 12, kkey_journal_crc32c(r, 12));
	}
	snprintf(path, sizeof(path), "%s/" KKEY_JOURNAL_FILE, dir);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return len;
}

static off_t file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) < 0)
		return -1;
	return st.st_size;
}

static char *make_dir(void)
{
	char *d = strdup("/tmp/kkey-journal-test.XXXXXX");

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void remove_dir(char *d)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	ck_assert_int_eq(system(cmd), 0);
	free(d);
}

static struct ukd_recorder *open_replay(const char *dir, size_t capacity, struct kkey_journal **j,
					struct kkey_journal_replay *info)
{
	struct ukd_recorder *rec;

	ck_assert_int_eq(ukd_recorder_new(&rec, capacity), 0);
	ck_assert_int_eq(kkey_journal_open(j, dir, rec, false, info), 0);
	return rec;
}

/* The recording holds exactly @evs[0..n), in order, with their times. */
static void assert_recording(struct ukd_recorder *rec, const struct ev *evs, size_t n)
{
	struct ukd_recording snap;

	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 0), 0);
	ck_assert_uint_eq(snap.n_events, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(snap.events[i].t_ns, evs[i].t);
		ck_assert_uint_eq(snap.events[i].note, evs[i].note);
		ck_assert_uint_eq(snap.events[i].on, evs[i].on);
		ck_assert_uint_eq(snap.events[i].velocity, evs[i].vel);
	}
	ukd_recording_clear(&snap);
}

START_TEST(crc32c_check_value)
{
	/* The CRC-32C catalogue's check value (RFC 3720 uses the same CRC). */
	ck_assert_uint_eq(kkey_journal_crc32c("123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(kkey_journal_crc32c("", 0), 0);
}
END_TEST

START_TEST(replay_in_order)
{
	char *d = make_dir();
	struct kkey_journal *j;
	struct kkey_journal_replay info;
	struct ukd_recorder *rec;

	write_journal(d, five, 5, false);
	rec = open_replay(d, 1000, &j, &info);
	ck_assert_uint_eq(info.replayed, 5);
	ck_assert_uint_eq(info.dropped_bytes, 0);
	ck_assert(!info.bad_header && !info.other_boot);
	assert_recording(rec, five, 5);
	ck_assert_uint_eq(ukd_recorder_held(rec), 1);           /* 67 */
	/* Reopened clean: header + 5 records, nothing else. */
	ck_assert_int_eq(file_size(d, KKEY_JOURNAL_FILE), 40 + 5 * 16);
	kkey_journal_close(j);
	ukd_recorder_free(rec);
	remove_dir(d);
}
END_TEST

START_TEST(appends_survive_without_close)
{
	char *d = make_dir();
	struct kkey_journal *j, *j2;
	struct kkey_journal_replay info;
	struct ukd_recorder *rec, *rec2;
	struct ukd_note_event ne;
	char *d2, cmd[1200];

	rec = open_replay(d, 1000, &j, &info);
	ck_assert_uint_eq(info.replayed, 0);
	for (size_t i = 0; i < 5; i++) {
		ne = (struct ukd_note_event){ .t_ns = five[i].t, .note = five[i].note,
					      .on = five[i].on, .velocity = five[i].vel };
		ck_assert_int_eq(kkey_journal_append(j, &ne), 0);
	}
	/* Someone else holds the directory: refused. */
	ck_assert_int_eq(ukd_recorder_new(&rec2, 10), 0);
	ck_assert_int_eq(kkey_journal_open(&j2, d, rec2, false, &info), -EBUSY);
	ukd_recorder_free(rec2);
	/* What a killed process leaves: the file as written, no close, no
	 * sync. Reading it needs the lock the dead process would drop: copy
	 * the file to a second directory. */
	d2 = make_dir();
	snprintf(cmd, sizeof(cmd), "cp '%s/" KKEY_JOURNAL_FILE "' '%s/'", d, d2);
	ck_assert_int_eq(system(cmd), 0);
	rec2 = open_replay(d2, 1000, &j2, &info);
	ck_assert_uint_eq(info.replayed, 5);
	assert_recording(rec2, five, 5);
	kkey_journal_close(j2);
	ukd_recorder_free(rec2);
	kkey_journal_close(j);
	ukd_recorder_free(rec);
	remove_dir(d);
	remove_dir(d2);
}
END_TEST

/*
 * Open the damaged journal of @len bytes in @dir (made from five[]): the
 * first @keep events replayed, @dropped bytes dropped, @bad_header as
 * given; afterwards the file holds just those events, and a file without
 * a header is kept aside whole. Removes that copy again.
 */
static void expect_replay(const char *dir, size_t len, size_t keep, uint64_t dropped, bool bad_header)
{
	struct kkey_journal *j;
	struct kkey_journal_replay info;
	struct ukd_recorder *rec = open_replay(dir, 1000, &j, &info);
	char path[600];

	ck_assert_msg(info.replayed == keep, "length %zu: %zu replayed, want %zu", len,
		      info.replayed, keep);
	ck_assert_uint_eq(info.bad_header, bad_header);
	ck_assert_uint_eq(info.dropped_bytes, dropped);
	assert_recording(rec, five, keep);
	ck_assert_int_eq(file_size(dir, KKEY_JOURNAL_FILE), (off_t)(40 + 16 * keep));
	ck_assert_int_eq(file_size(dir, KKEY_JOURNAL_FILE ".bad"), bad_header ? (off_t)len : -1);
	kkey_journal_close(j);
	ukd_recorder_free(rec);
	snprintf(path, sizeof(path), "%s/" KKEY_JOURNAL_FILE ".bad", dir);
	unlink(path);
}

START_TEST(torn_tail_every_offset)
{
	char *d = make_dir();
	size_t full = 40 + 5 * 16;

	for (size_t len = 0; len <= full; len++) {
		size_t keep = len < 40 ? 0 : (len - 40) / 16;
		char path[600];

		write_journal(d, five, 5, false);
		snprintf(path, sizeof(path), "%s/" KKEY_JOURNAL_FILE, d);
		ck_assert_int_eq(truncate(path, (off_t)len), 0);
		expect_replay(d, len, keep, len < 40 ? len : len - 40 - 16 * keep, len > 0 && len < 40);
	}
	remove_dir(d);
}
END_TEST

START_TEST(bad_checksum_keeps_prefix)
{
	char *d = make_dir();

	/* Every byte of record 2 (0-based), then a byte of the header. */
	for (size_t at = 40 + 2 * 16; at <= 40 + 3 * 16; at++) {
		bool in_header = at == 40 + 3 * 16;
		size_t pos = in_header ? 20 : at, len;
		char path[600];
		FILE *f;
		int c;

		len = write_journal(d, five, 5, false);
		snprintf(path, sizeof(path), "%s/" KKEY_JOURNAL_FILE, d);
		f = fopen(path, "r+e");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(fseek(f, (long)pos, SEEK_SET), 0);
		c = fgetc(f);
		ck_assert_int_eq(fseek(f, (long)pos, SEEK_SET), 0);
		fputc(c ^ 0x10, f);
		ck_assert_int_eq(fclose(f), 0);
		if (in_header)
			expect_replay(d, len, 0, len, true);
		else
			expect_replay(d, len, 2, len - 40 - 2 * 16, false);
	}
	remove_dir(d);
}
END_TEST

START_TEST(other_boot_keeps_spacing)
{
	char *d = make_dir();
	struct kkey_journal *j;
	struct kkey_journal_replay info;
	struct ukd_recorder *rec;
	struct ukd_recording snap;
	uint64_t before = ukd_now_ns(), after;

	write_journal(d, five, 5, true);
	rec = open_replay(d, 1000, &j, &info);
	after = ukd_now_ns();
	ck_assert(info.other_boot);
	ck_assert_uint_eq(info.replayed, 5);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 0), 0);
	ck_assert_uint_eq(snap.n_events, 5);
	ck_assert_uint_ge(snap.events[4].t_ns, before);
	ck_assert_uint_le(snap.events[4].t_ns, after);
	for (size_t i = 0; i < 5; i++)
		ck_assert_uint_eq(snap.events[4].t_ns - snap.events[i].t_ns, five[4].t - five[i].t);
	ukd_recording_clear(&snap);
	kkey_journal_close(j);
	ukd_recorder_free(rec);
	remove_dir(d);
}
END_TEST

START_TEST(capacity_smaller_than_journal)
{
	char *d = make_dir();
	struct kkey_journal *j;
	struct kkey_journal_replay info;
	struct ukd_recorder *rec;

	write_journal(d, five, 5, false);
	rec = open_replay(d, 3, &j, &info);
	ck_assert_uint_eq(info.replayed, 3);
	ck_assert_uint_eq(info.refused, 2);
	assert_recording(rec, five, 3);
	kkey_journal_close(j);
	ukd_recorder_free(rec);
	remove_dir(d);
}
END_TEST

static ssize_t wr(struct ukd_file *f, const char *s)
{
	struct ukd_write w = { .buf = s, .size = strlen(s) };

	return f->dev->ops->write(f, &w);
}

static struct ukd_file *op(struct kkey *k, unsigned int note)
{
	struct ukd_file *f = NULL;

	ck_assert_int_eq(ukd_chardev_file_open(&f, &k->nodes[note], O_RDWR), 0);
	return f;
}

/* kkey with a journal: read-and-clear and reset compact it, keep does not. */
static void compaction(bool keep)
{
	char *d = make_dir();
	struct kkey_config cfg;
	struct kkey *k;
	struct kkey_journal *j;
	struct kkey_journal_replay info;
	struct ukd_file *f60, *f64, *r;
	struct ukd_recorder *rec2;
	struct kkey_event bad = { .note = 128 };
	char buf[4096];

	kkey_config_default(&cfg);
	cfg.keep = keep;
	cfg.capacity = 100;
	ck_assert_int_eq(kkey_new(&k, &cfg), 0);
	ck_assert_int_eq(kkey_journal_open(&j, d, k->rec, false, &info), 0);
	k->journal = j;
	f60 = op(k, 60);
	f64 = op(k, 64);
	ck_assert_int_eq(wr(f60, "1"), 1);   /* held across the read */
	ck_assert_int_eq(wr(f64, "1"), 1);
	ck_assert_int_eq(wr(f64, "0"), 1);
	ck_assert_int_eq(kkey_play(k, &bad), -EINVAL);
	ck_assert_int_eq(file_size(d, KKEY_JOURNAL_FILE), 40 + 3 * 16);
	r = op(k, 0);
	ck_assert_int_gt(r->dev->ops->read(r, buf, sizeof(buf)), 0);
	/* Clear: only the re-press of 60 is left; keep: all three. */
	ck_assert_int_eq(file_size(d, KKEY_JOURNAL_FILE), 40 + (keep ? 3 : 1) * 16);
	ck_assert_int_eq(wr(f64, "1"), 1);
	ck_assert_int_eq(file_size(d, KKEY_JOURNAL_FILE), 40 + (keep ? 4 : 2) * 16);
	ck_assert_int_eq(r->dev->ops->ioctl(r, KKEY_IOC_RESET, NULL, 0, NULL, 0), 0);
	/* Reset: both held notes re-pressed, nothing else. */
	ck_assert_int_eq(file_size(d, KKEY_JOURNAL_FILE), 40 + 2 * 16);
	ck_assert_int_eq(wr(f60, "0"), 1);
	ukd_chardev_file_release(f60);
	ukd_chardev_file_release(f64);
	ukd_chardev_file_release(r);
	kkey_journal_close(j);
	/* Replayed: the same three events, 64 still held, 60 released. */
	ck_assert_int_eq(ukd_recorder_new(&rec2, 100), 0);
	ck_assert_int_eq(kkey_journal_open(&j, d, rec2, false, &info), 0);
	ck_assert_uint_eq(info.replayed, 3);
	ck_assert_uint_eq(ukd_recorder_held(rec2), 1);
	kkey_journal_close(j);
	ukd_recorder_free(rec2);
	kkey_free(k);
	remove_dir(d);
}

START_TEST(compaction_on_clear_and_reset)
{
	compaction(false);
}
END_TEST

START_TEST(no_compaction_with_keep)
{
	compaction(true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kkey-journal");
	TCase *tc = tcase_create("journal");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crc32c_check_value);
	tcase_add_test(tc, replay_in_order);
	tcase_add_test(tc, appends_survive_without_close);
	tcase_add_test(tc, torn_tail_every_offset);
	tcase_add_test(tc, bad_checksum_keeps_prefix);
	tcase_add_test(tc, other_boot_keeps_spacing);
	tcase_add_test(tc, capacity_smaller_than_journal);
	tcase_add_test(tc, compaction_on_clear_and_reset);
	tcase_add_test(tc, no_compaction_with_keep);
	suite_add_tcase(s, tc);
	return ukd_check_run(s);
}
