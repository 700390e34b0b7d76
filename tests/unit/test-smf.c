/* SPDX-License-Identifier: MIT */
/* lib/smf.c: VLQ edge cases (SMF 1.0's own examples), golden files, the
 * long-pause rule, and the strict reader's refusals. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-run.h"
#include "macro.h"
#include "smf.h"

static uint8_t *load(const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	uint8_t *buf = malloc(1 << 16);

	snprintf(path, sizeof(path), "%s/%s", UKD_TEST_DATA, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

/* SMF 1.0, "Variable-length quantities": the specification's table. */
static const struct {
	uint32_t value;
	uint8_t bytes[4];
	int len;
} vlq_table[] = {
	{ 0x00000000, { 0x00 }, 1 },
	{ 0x00000040, { 0x40 }, 1 },
	{ 0x0000007f, { 0x7f }, 1 },
	{ 0x00000080, { 0x81, 0x00 }, 2 },
	{ 0x00002000, { 0xc0, 0x00 }, 2 },
	{ 0x00003fff, { 0xff, 0x7f }, 2 },
	{ 0x00004000, { 0x81, 0x80, 0x00 }, 3 },
	{ 0x00100000, { 0xc0, 0x80, 0x00 }, 3 },
	{ 0x001fffff, { 0xff, 0xff, 0x7f }, 3 },
	{ 0x00200000, { 0x81, 0x80, 0x80, 0x00 }, 4 },
	{ 0x08000000, { 0xc0, 0x80, 0x80, 0x00 }, 4 },
	{ 0x0fffffff, { 0xff, 0xff, 0xff, 0x7f }, 4 },
};

START_TEST(vlq_spec_table)
{
	for (size_t i = 0; i < sizeof(vlq_table) / sizeof(vlq_table[0]); i++) {
		uint8_t out[4];
		uint32_t back;
		int n = ukd_smf_vlq_encode(vlq_table[i].value, out);

		ck_assert_int_eq(n, vlq_table[i].len);
		ck_assert_mem_eq(out, vlq_table[i].bytes, (size_t)n);
		ck_assert_int_eq(ukd_smf_vlq_decode(out, (size_t)n, &back), n);
		ck_assert_uint_eq(back, vlq_table[i].value);
	}
}
END_TEST

START_TEST(vlq_limits)
{
	uint8_t out[4];
	uint32_t v = 12345;
	const uint8_t five[] = { 0x81, 0x80, 0x80, 0x80, 0x00 };
	const uint8_t cut[] = { 0x81, 0x80 };

	ck_assert_int_eq(ukd_smf_vlq_encode(0x10000000, out), -ERANGE);
	ck_assert_int_eq(ukd_smf_vlq_encode(UINT32_MAX, out), -ERANGE);
	ck_assert_int_eq(ukd_smf_vlq_decode(five, sizeof(five), &v), -EINVAL);
	ck_assert_int_eq(ukd_smf_vlq_decode(cut, sizeof(cut), &v), -EINVAL);
	ck_assert_int_eq(ukd_smf_vlq_decode(cut, 0, &v), -EINVAL);
	ck_assert_uint_eq(v, 12345); /* untouched on failure */
}
END_TEST

static const struct ukd_smf_params params = { .tempo_us = UKD_SMF_TEMPO_US, .channel = 0 };

START_TEST(golden_empty)
{
	struct ukd_recording rec = { .end_ns = 123456789 };
	uint8_t *out, *want;
	size_t len, want_len;

	want = load("kkey-empty.mid", &want_len);
	ck_assert_int_eq(ukd_smf_from_recording(&rec, &params, &out, &len), 0);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(out, want, len);
	ck_assert_int_eq(ukd_smf_parse(out, len, NULL, NULL, NULL), 0);
	free(out);
	free(want);
}
END_TEST

START_TEST(golden_one_note)
{
	struct ukd_note_event ev[2] = {
		{ .t_ns = 5000000000ull, .note = 60, .on = 1, .velocity = 63 },
		{ .t_ns = 5500000000ull, .note = 60, .on = 0, .velocity = 63 },
	};
	struct ukd_recording rec = { .events = ev, .n_events = 2, .end_ns = 6000000000ull };
	uint8_t *out, *want;
	size_t len, want_len;

	want = load("kkey-c4-half-second.mid", &want_len);
	ck_assert_int_eq(ukd_smf_from_recording(&rec, &params, &out, &len), 0);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(out, want, len);
	free(out);
	free(want);
}
END_TEST

struct collect {
	struct ukd_smf_event ev[16];
	int n;
};

static int collect_fn(const struct ukd_smf_event *ev, void *userdata)
{
	struct collect *c = userdata;

	if (c->n < 16)
		c->ev[c->n] = *ev;
	c->n++;
	return 0;
}

START_TEST(held_note_closed_at_end)
{
	/* Note 64 pressed at t0 and still down 2 s later: a note-off at 2 s. */
	struct ukd_note_event ev = { .t_ns = 1000, .note = 64, .on = 1, .velocity = 100 };
	struct ukd_recording rec = { .events = &ev, .n_events = 1, .end_ns = 1000 + 2000000000ull };
	struct collect c = { 0 };
	uint8_t *out;
	size_t len;

	rec.held[64] = 101;
	ck_assert_int_eq(ukd_smf_from_recording(&rec, &params, &out, &len), 0);
	ck_assert_int_eq(ukd_smf_parse(out, len, NULL, collect_fn, &c), 0);
	ck_assert_int_eq(c.n, 5); /* time sig, tempo, on, off, EOT */
	ck_assert_uint_eq(c.ev[2].status, 0x90);
	ck_assert_uint_eq(c.ev[3].status, 0x80);
	ck_assert_uint_eq(c.ev[3].data[0], 64);
	ck_assert_uint_eq(c.ev[3].data[1], 100);
	ck_assert_uint_eq(c.ev[3].tick, 4000); /* 2 s at 0.5 ms per tick */
	ck_assert_uint_eq(c.ev[4].meta_type, 0x2f);
	ck_assert_uint_eq(c.ev[4].tick, 4000);
	free(out);
}
END_TEST

START_TEST(long_pause_bridged)
{
	/* A pause of 0x0FFFFFFF + 5 ticks cannot be one delta. */
	uint64_t pause = ((uint64_t)UKD_SMF_VLQ_MAX + 5) * UKD_SMF_TICK_NS;
	struct ukd_note_event ev[2] = {
		{ .t_ns = 0, .note = 1, .on = 1, .velocity = 1 },
		{ .t_ns = pause, .note = 1, .on = 0, .velocity = 1 },
	};
	struct ukd_recording rec = { .events = ev, .n_events = 2, .end_ns = pause };
	const uint8_t bridge[] = { 0xff, 0xff, 0xff, 0x7f, 0xff, 0x01, 0x00, 0x05, 0x80, 0x01, 0x01 };
	struct collect c = { 0 };
	uint8_t *out;
	size_t len;

	ck_assert_int_eq(ukd_smf_from_recording(&rec, &params, &out, &len), 0);
	ck_assert_ptr_nonnull(memmem(out, len, bridge, sizeof(bridge)));
	ck_assert_int_eq(ukd_smf_parse(out, len, NULL, collect_fn, &c), 0);
	ck_assert_uint_eq(c.ev[4].status, 0x80);
	ck_assert_uint_eq(c.ev[4].tick, (uint64_t)UKD_SMF_VLQ_MAX + 5);
	free(out);
}
END_TEST

START_TEST(channel_and_tempo)
{
	struct ukd_note_event ev = { .t_ns = 0, .note = 127, .on = 1, .velocity = 127 };
	struct ukd_recording rec = { .events = &ev, .n_events = 1 };
	struct ukd_smf_params p = { .tempo_us = UKD_SMF_TEMPO_US * 32, .channel = 15 };
	struct collect c = { 0 };
	uint8_t *out;
	size_t len;

	ck_assert_int_eq(ukd_smf_from_recording(&rec, &p, &out, &len), 0);
	ck_assert_int_eq(ukd_smf_parse(out, len, NULL, collect_fn, &c), 0);
	ck_assert_uint_eq(c.ev[1].meta_type, 0x51);
	ck_assert_uint_eq(c.ev[1].payload[0] << 16 | c.ev[1].payload[1] << 8 | c.ev[1].payload[2], 16000000);
	ck_assert_uint_eq(c.ev[2].status, 0x9f);
	free(out);
	p.tempo_us = UKD_SMF_TEMPO_MAX + 1;
	ck_assert_int_eq(ukd_smf_from_recording(&rec, &p, &out, &len), -EINVAL);
	p.tempo_us = UKD_SMF_TEMPO_US;
	p.channel = 16;
	ck_assert_int_eq(ukd_smf_from_recording(&rec, &p, &out, &len), -EINVAL);
}
END_TEST

/* The reader refuses what aplaymidi refuses (and a bit more). */
START_TEST(reader_refuses)
{
	uint8_t *good, bad[128];
	size_t len;

	good = load("kkey-c4-half-second.mid", &len);
	ck_assert_int_eq(ukd_smf_parse(good, len, NULL, NULL, NULL), 0);

	/* The original kkey's 2024 bug: no delta before End of Track. */
	{
		const uint8_t orig[] = { 'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x03, 0xe8,
					 'M', 'T', 'r', 'k', 0, 0, 0, 0x0c, 0x00, 0x90, 0x3c, 0x3f,
					 0x8f, 0x59, 0x80, 0x3c, 0x3f, 0xff, 0x2f, 0x00 };
		ck_assert_int_eq(ukd_smf_parse(orig, sizeof(orig), NULL, NULL, NULL), -EBADMSG);
	}
	/* Truncated anywhere. */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(ukd_smf_parse(good, cut, NULL, NULL, NULL), -EBADMSG);
	/* Division 0. */
	memcpy(bad, good, len);
	bad[12] = bad[13] = 0;
	ck_assert_int_eq(ukd_smf_parse(bad, len, NULL, NULL, NULL), -EBADMSG);
	/* A data byte >= 0x80 (velocity). */
	memcpy(bad, good, len);
	bad[40] = 0xbf;
	ck_assert_int_eq(ukd_smf_parse(bad, len, NULL, NULL, NULL), -EBADMSG);
	/* Bytes after End of Track inside the chunk. */
	memcpy(bad, good, len);
	bad[len] = 0;
	bad[21] += 1;
	ck_assert_int_eq(ukd_smf_parse(bad, len + 1, NULL, NULL, NULL), -EBADMSG);
	/* Format 2. */
	memcpy(bad, good, len);
	bad[9] = 2;
	ck_assert_int_eq(ukd_smf_parse(bad, len, NULL, NULL, NULL), -EBADMSG);
	free(good);
}
END_TEST

/* Reads every payload byte, so that a payload reaching past the buffer is
 * an out-of-bounds read that ASan and valgrind report. */
static int touch_payload(const struct ukd_smf_event *ev, void *userdata)
{
	unsigned int *sum = userdata;

	for (size_t k = 0; k < ev->payload_len; k++)
		*sum += ev->payload[k];
	return 0;
}

/* SMF 1.0: sysex (F0), escape (F7) and meta events carry a VLQ length and
 * that many bytes; each payload is handed over in place, and a length that
 * runs past the track's end is refused. The bytes are written out by hand
 * from the specification. */
START_TEST(reader_payloads)
{
	uint8_t trk[] = { 'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x03, 0xe8,
			  'M', 'T', 'r', 'k', 0, 0, 0, 27,
			  0x00, 0xf0, 0x03, 0x7e, 0x09, 0xf7,       /* sysex: GM on */
			  0x81, 0x00, 0xf7, 0x02, 0xf3, 0x01,       /* escape, tick 128 */
			  0x00, 0xff, 0x01, 0x03, 'k', 'e', 'y',    /* meta text */
			  0x00, 0x90, 0x3c, 0x40,                   /* running status */
			  0x00, 0xff, 0x2f, 0x00 };
	struct collect c = { 0 };

	ck_assert_int_eq(ukd_smf_parse(trk, sizeof(trk), NULL, collect_fn, &c), 0);
	ck_assert_int_eq(c.n, 5);
	ck_assert_uint_eq(c.ev[0].status, 0xf0);
	ck_assert_uint_eq(c.ev[0].payload_len, 3);
	ck_assert_mem_eq(c.ev[0].payload, "\x7e\x09\xf7", 3);
	ck_assert_uint_eq(c.ev[1].status, 0xf7);
	ck_assert_uint_eq(c.ev[1].tick, 128);
	ck_assert_uint_eq(c.ev[1].payload_len, 2);
	ck_assert_mem_eq(c.ev[1].payload, "\xf3\x01", 2);
	ck_assert_uint_eq(c.ev[2].status, 0xff);
	ck_assert_uint_eq(c.ev[2].meta_type, 0x01);
	ck_assert_uint_eq(c.ev[2].payload_len, 3);
	ck_assert_mem_eq(c.ev[2].payload, "key", 3);
	ck_assert_uint_eq(c.ev[3].status, 0x90);
	ck_assert_uint_eq(c.ev[4].meta_type, 0x2f);

	/* Each payload length one past the track's 27 bytes: the track starts
	 * at byte 22; the sysex length is at 24 (payload from track byte 3, 24
	 * bytes left), the escape's at 31 (from 10, 17 left), the text's at 37
	 * (from 16, 11 left). On the heap at its exact size, so that handing
	 * out such a payload would be caught reading past the end. */
	static const struct { size_t at; uint8_t bad, good; } cut[] = {
		{ 24, 25, 0x03 }, { 31, 18, 0x02 }, { 37, 12, 0x03 },
	};
	uint8_t *heap = malloc(sizeof(trk));
	unsigned int sum = 0;

	ck_assert_ptr_nonnull(heap);
	for (size_t k = 0; k < UKD_ARRAY_SIZE(cut); k++) {
		memcpy(heap, trk, sizeof(trk));
		ck_assert_uint_eq(heap[cut[k].at], cut[k].good);
		heap[cut[k].at] = cut[k].bad;
		ck_assert_int_eq(ukd_smf_parse(heap, sizeof(trk), NULL, touch_payload, &sum),
				 -EBADMSG);
	}
	memcpy(heap, trk, sizeof(trk));
	sum = 0;
	ck_assert_int_eq(ukd_smf_parse(heap, sizeof(trk), NULL, touch_payload, &sum), 0);
	ck_assert_uint_eq(sum, 0x7e + 0x09 + 0xf7 + 0xf3 + 0x01 + 'k' + 'e' + 'y');
	free(heap);
}
END_TEST

static Suite *smf_suite(void)
{
	Suite *s = suite_create("smf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, vlq_spec_table);
	tcase_add_test(tc, vlq_limits);
	tcase_add_test(tc, golden_empty);
	tcase_add_test(tc, golden_one_note);
	tcase_add_test(tc, held_note_closed_at_end);
	tcase_add_test(tc, long_pause_bridged);
	tcase_add_test(tc, channel_and_tempo);
	tcase_add_test(tc, reader_refuses);
	tcase_add_test(tc, reader_payloads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(smf_suite());
}
