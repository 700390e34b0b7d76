/* SPDX-License-Identifier: MIT */
/* lib/recorder.c: capacity and ENOSPC, held notes across snapshots, and
 * snapshot atomicity against concurrent writers. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "recorder.h"
#include "check-run.h"

START_TEST(capacity_enospc)
{
	struct ukd_recorder *rec;
	struct ukd_recording snap;

	ck_assert_int_eq(ukd_recorder_new(&rec, 0), -EINVAL);
	ck_assert_int_eq(ukd_recorder_new(&rec, (size_t)UKD_RECORDER_MAX_CAPACITY + 1), -EINVAL);
	ck_assert_int_eq(ukd_recorder_new(&rec, 3000), 0);
	for (unsigned int i = 0; i < 3000; i++)
		ck_assert_int_eq(ukd_recorder_record(rec, i % 128, i & 1, 1, i), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 5, true, 1, 4000), -ENOSPC);
	ck_assert_uint_eq(ukd_recorder_count(rec), 3000);
	ck_assert_int_eq(ukd_recorder_record(rec, 128, true, 1, 4000), -EINVAL);
	ck_assert_int_eq(ukd_recorder_record(rec, 1, true, 128, 4000), -EINVAL);
	/* Reading makes room again. */
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, true, 5000), 0);
	ck_assert_uint_eq(snap.n_events, 3000);
	ck_assert_uint_eq(snap.events[2999].t_ns, 2999);
	ukd_recording_clear(&snap);
	ck_assert_int_eq(ukd_recorder_record(rec, 5, true, 1, 6000), 0);
	ukd_recorder_free(rec);
}
END_TEST

START_TEST(held_notes_carry_over)
{
	struct ukd_recorder *rec;
	struct ukd_recording snap;

	ck_assert_int_eq(ukd_recorder_new(&rec, 100), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 60, true, 40, 10), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 62, true, 50, 20), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 62, false, 50, 30), 0);
	ck_assert_uint_eq(ukd_recorder_held(rec), 1);

	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, true, 100), 0);
	ck_assert_uint_eq(snap.n_events, 3);
	ck_assert_uint_eq(snap.end_ns, 100);
	ck_assert_uint_eq(snap.held[60], 41);
	ck_assert_uint_eq(snap.held[62], 0);
	ukd_recording_clear(&snap);

	/* The new recording starts with 60 pressed again at the snapshot time. */
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 200), 0);
	ck_assert_uint_eq(snap.n_events, 1);
	ck_assert_uint_eq(snap.events[0].note, 60);
	ck_assert_uint_eq(snap.events[0].on, 1);
	ck_assert_uint_eq(snap.events[0].velocity, 40);
	ck_assert_uint_eq(snap.events[0].t_ns, 100);
	ukd_recording_clear(&snap);

	/* Reset keeps the held note too. */
	ukd_recorder_reset(rec, 300);
	ck_assert_uint_eq(ukd_recorder_count(rec), 1);
	ck_assert_int_eq(ukd_recorder_record(rec, 60, false, 40, 400), 0);
	ck_assert_uint_eq(ukd_recorder_held(rec), 0);
	ukd_recorder_free(rec);
}
END_TEST

/* A clearing snapshot put back: its events, then what came since, without
 * the re-presses it made for held notes; the capacity may be exceeded. */
START_TEST(restore_undoes_snapshot)
{
	struct ukd_recorder *rec;
	struct ukd_recording snap, all;
	static const struct { uint64_t t; uint8_t note, on, vel; } want[] = {
		{ 10, 60, 1, 40 }, { 20, 64, 1, 50 }, { 30, 62, 1, 30 }, { 40, 62, 0, 30 },
		{ 150, 60, 0, 40 }, { 160, 65, 1, 70 },
	};

	ck_assert_int_eq(ukd_recorder_new(&rec, 4), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 60, true, 40, 10), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 64, true, 50, 20), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 62, true, 30, 30), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 62, false, 30, 40), 0);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, true, 100), 0);
	/* 60 and 64 re-pressed at 100; then two more events arrive. */
	ck_assert_uint_eq(ukd_recorder_count(rec), 2);
	ck_assert_int_eq(ukd_recorder_record(rec, 60, false, 40, 150), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 65, true, 70, 160), 0);

	ck_assert_int_eq(ukd_recorder_restore(rec, &snap), 0);
	ck_assert_ptr_null(snap.events);
	ck_assert_uint_eq(snap.n_events, 0);
	ck_assert_uint_eq(ukd_recorder_count(rec), 6);  /* over the capacity of 4 */
	ck_assert_int_eq(ukd_recorder_record(rec, 66, true, 1, 170), -ENOSPC);
	ck_assert_uint_eq(ukd_recorder_held(rec), 2);    /* 64 and 65 */
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &all, false, 200), 0);
	ck_assert_uint_eq(all.n_events, 6);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(all.events[i].t_ns, want[i].t);
		ck_assert_uint_eq(all.events[i].note, want[i].note);
		ck_assert_uint_eq(all.events[i].on, want[i].on);
		ck_assert_uint_eq(all.events[i].velocity, want[i].vel);
	}
	ukd_recording_clear(&all);
	/* An empty snapshot restores nothing and leaves the re-presses. */
	ukd_recorder_reset(rec, 300);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, true, 400), 0);
	ck_assert_uint_eq(snap.n_events, 2);
	ukd_recording_clear(&snap);
	ck_assert_uint_eq(ukd_recorder_count(rec), 2);
	ck_assert_int_eq(ukd_recorder_restore(rec, &snap), 0);
	ck_assert_uint_eq(ukd_recorder_count(rec), 2);
	ukd_recorder_free(rec);
}
END_TEST

START_TEST(time_never_goes_back)
{
	struct ukd_recorder *rec;
	struct ukd_recording snap;

	ck_assert_int_eq(ukd_recorder_new(&rec, 10), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 1, true, 1, 500), 0);
	ck_assert_int_eq(ukd_recorder_record(rec, 2, true, 1, 400), 0);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 0), 0);
	ck_assert_uint_eq(snap.events[1].t_ns, 500);
	ck_assert_uint_eq(snap.end_ns, 500);
	ukd_recording_clear(&snap);
	ukd_recorder_free(rec);
}
END_TEST

#define WRITERS 8
#define PER_WRITER 50000

struct race {
	struct ukd_recorder *rec;
	unsigned int id;
	volatile int *stop;
	size_t taken;      /* reader: events seen in all snapshots */
	size_t represses;  /* reader: held notes re-pressed into the next recording */
	int order_ok;
};

static void *writer(void *arg)
{
	struct race *w = arg;

	/* Alternate press/release so nothing is held at the end. */
	for (unsigned int i = 0; i < PER_WRITER; i++)
		ck_assert_int_eq(ukd_recorder_record(w->rec, (uint8_t)w->id, !(i & 1), 1, ukd_now_ns()), 0);
	return NULL;
}

static void *reader(void *arg)
{
	struct race *r = arg;

	r->order_ok = 1;
	while (!*r->stop) {
		struct ukd_recording snap;

		ck_assert_int_eq(ukd_recorder_snapshot(r->rec, &snap, true, ukd_now_ns()), 0);
		for (size_t i = 1; i < snap.n_events; i++)
			if (snap.events[i].t_ns < snap.events[i - 1].t_ns)
				r->order_ok = 0;
		r->taken += snap.n_events;
		for (unsigned int n = 0; n < UKD_RECORDER_NOTES; n++)
			r->represses += snap.held[n] != 0;
		ukd_recording_clear(&snap);
	}
	return NULL;
}

/* Events written while snapshots are taken land in exactly one snapshot:
 * none lost, none twice. The only additions are held notes re-pressed at
 * each clear, one per note held in that snapshot: subtract exactly those. */
START_TEST(snapshot_atomic_under_threads)
{
	struct ukd_recorder *rec;
	pthread_t w[WRITERS], rd;
	struct race ws[WRITERS], rs = { 0 };
	struct ukd_recording last;
	volatile int stop = 0;
	size_t total;

	ck_assert_int_eq(ukd_recorder_new(&rec, WRITERS * PER_WRITER * 2), 0);
	rs.rec = rec;
	rs.stop = &stop;
	pthread_create(&rd, NULL, reader, &rs);
	for (unsigned int i = 0; i < WRITERS; i++) {
		ws[i] = (struct race){ .rec = rec, .id = i };
		pthread_create(&w[i], NULL, writer, &ws[i]);
	}
	for (unsigned int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	stop = 1;
	pthread_join(rd, NULL);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &last, true, ukd_now_ns()), 0);
	total = rs.taken + last.n_events;
	ck_assert_int_eq(rs.order_ok, 1);
	ck_assert_uint_eq(total - rs.represses, (size_t)WRITERS * PER_WRITER);
	ck_assert_uint_eq(ukd_recorder_held(rec), 0);
	ukd_recording_clear(&last);
	ukd_recorder_free(rec);
}
END_TEST

/* The exact count, with re-presses excluded: use --keep-style copies. */
START_TEST(copy_snapshots_under_threads)
{
	struct ukd_recorder *rec;
	pthread_t w[WRITERS];
	struct race ws[WRITERS];
	struct ukd_recording snap;
	size_t prev = 0;

	ck_assert_int_eq(ukd_recorder_new(&rec, WRITERS * PER_WRITER), 0);
	for (unsigned int i = 0; i < WRITERS; i++) {
		ws[i] = (struct race){ .rec = rec, .id = i };
		pthread_create(&w[i], NULL, writer, &ws[i]);
	}
	/* Copies taken meanwhile only ever grow and stay ordered. */
	for (int k = 0; k < 50; k++) {
		ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 0), 0);
		ck_assert_uint_ge(snap.n_events, prev);
		prev = snap.n_events;
		ukd_recording_clear(&snap);
	}
	for (unsigned int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	ck_assert_int_eq(ukd_recorder_snapshot(rec, &snap, false, 0), 0);
	ck_assert_uint_eq(snap.n_events, (size_t)WRITERS * PER_WRITER);
	{
		size_t on[WRITERS] = { 0 }, off[WRITERS] = { 0 };

		for (size_t i = 0; i < snap.n_events; i++)
			(snap.events[i].on ? on : off)[snap.events[i].note]++;
		for (unsigned int i = 0; i < WRITERS; i++) {
			ck_assert_uint_eq(on[i], PER_WRITER / 2);
			ck_assert_uint_eq(off[i], PER_WRITER / 2);
		}
	}
	ukd_recording_clear(&snap);
	ck_assert_int_eq(ukd_recorder_record(rec, 0, true, 1, 0), -ENOSPC);
	ukd_recorder_free(rec);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recorder");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, capacity_enospc);
	tcase_add_test(tc, held_notes_carry_over);
	tcase_add_test(tc, restore_undoes_snapshot);
	tcase_add_test(tc, time_never_goes_back);
	tcase_add_test(tc, snapshot_atomic_under_threads);
	tcase_add_test(tc, copy_snapshots_under_threads);
	suite_add_tcase(s, tc);
	return ukd_check_run(s);
}
