/* SPDX-License-Identifier: MIT */
/*
 * SMF generation cost without FUSE: record N events (default 1,000,000:
 * 128 notes pressed and released in turn, 0.1 ms apart) in a recorder,
 * take a snapshot and write the SMF with the library kkeyd uses
 * (lib/recorder.h, lib/smf.h). Prints the time of each step and the size.
 *
 *   smfgen [N] [REPEATS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "recorder.h"
#include "smf.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	int repeats = argc > 2 ? atoi(argv[2]) : 3;
	struct ukd_smf_params p = { .tempo_us = UKD_SMF_TEMPO_US, .channel = 0 };
	double best_rec = 1e9, best_snap = 1e9, best_smf = 1e9;
	size_t size = 0;

	for (int r = 0; r < repeats; r++) {
		struct ukd_recorder *rec = NULL;
		struct ukd_recording snap = { 0 };
		uint8_t *out = NULL;
		uint64_t t = 1000000000;
		double t0, t1, t2, t3;
		int e;

		if (ukd_recorder_new(&rec, n) < 0) {
			fprintf(stderr, "smfgen: recorder\n");
			return 1;
		}
		t0 = now();
		for (size_t i = 0; i < n; i++) {
			/* press note i/2 % 128 on even i, release it on odd i */
			e = ukd_recorder_record(rec, (uint8_t)((i / 2) % 128), !(i & 1), 63, t);
			if (e < 0) {
				fprintf(stderr, "smfgen: record %zu: %d\n", i, e);
				return 1;
			}
			t += 100000;
		}
		t1 = now();
		e = ukd_recorder_snapshot(rec, &snap, true, t);
		t2 = now();
		if (e >= 0)
			e = ukd_smf_from_recording(&snap, &p, &out, &size);
		t3 = now();
		if (e < 0) {
			fprintf(stderr, "smfgen: snapshot/SMF: %d\n", e);
			return 1;
		}
		if (t1 - t0 < best_rec)
			best_rec = t1 - t0;
		if (t2 - t1 < best_snap)
			best_snap = t2 - t1;
		if (t3 - t2 < best_smf)
			best_smf = t3 - t2;
		free(out);
		ukd_recording_clear(&snap);
		ukd_recorder_free(rec);
	}
	printf("events=%zu record_s=%.4f snapshot_s=%.4f smf_s=%.4f smf_bytes=%zu bytes_per_event=%.2f "
	       "smf_events_per_s=%.0f\n", n, best_rec, best_snap, best_smf, size, (double)size / (double)n,
	       (double)n / best_smf);
	return 0;
}
