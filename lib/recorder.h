/* SPDX-License-Identifier: MIT */
/*
 * The note recorder: timestamped press/release events from any number of
 * threads, bounded in size, taken as a whole (snapshot) atomically.
 *
 * Held notes: the recorder knows which notes are down. A snapshot that
 * clears the recording ends none of them by itself; the SMF writer closes
 * them at the snapshot's end, and the new recording starts with them
 * pressed again at the snapshot time, so no file ever leaves a note hanging
 * and no press is forgotten.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UKD_RECORDER_NOTES 128
#define UKD_RECORDER_DEFAULT_CAPACITY (1u << 20)
/* The largest capacity accepted: 2^28 events (4 GiB of events at 16 bytes). */
#define UKD_RECORDER_MAX_CAPACITY (1u << 28)

struct ukd_note_event {
	uint64_t t_ns;     /* CLOCK_MONOTONIC */
	uint8_t note;      /* 0..127 */
	uint8_t on;        /* 1 press, 0 release */
	uint8_t velocity;  /* 0..127 */
	uint8_t pad[5];
};

/* A snapshot: owned by the caller, free with ukd_recording_clear(). */
struct ukd_recording {
	struct ukd_note_event *events;
	size_t n_events;
	uint64_t end_ns;                             /* when it was taken */
	uint8_t held[UKD_RECORDER_NOTES];            /* velocity+1 of notes held at end_ns, 0 = up */
};

struct ukd_recorder;

/**
 * ukd_recorder_new() - an empty recorder.
 * @ret: set on success.
 * @capacity: events it may hold, 1..UKD_RECORDER_MAX_CAPACITY; memory grows
 *            on demand up to it.
 * Returns 0, -EINVAL or -ENOMEM.
 */
int ukd_recorder_new(struct ukd_recorder **ret, size_t capacity);

/** ukd_recorder_free() - accepts NULL. */
void ukd_recorder_free(struct ukd_recorder *rec);

/**
 * ukd_recorder_record() - append one event; thread-safe.
 * @t_ns: CLOCK_MONOTONIC time; an earlier time than the last event's is
 *        raised to it (events stay in order).
 * Returns 0; -EINVAL for note/velocity > 127; -ENOSPC when full (nothing
 * recorded); -ENOMEM when memory runs out before the capacity does.
 */
int ukd_recorder_record(struct ukd_recorder *rec, uint8_t note, bool on,
			uint8_t velocity, uint64_t t_ns);

/**
 * ukd_recorder_snapshot() - take everything recorded so far; thread-safe
 * and atomic with respect to ukd_recorder_record().
 * @out: filled on success; release with ukd_recording_clear().
 * @clear: start a new recording (held notes re-pressed at @now_ns), else
 *         copy and leave the recording as it is.
 * @now_ns: the snapshot time (CLOCK_MONOTONIC), at or after every event.
 * Returns 0 or -ENOMEM (the recording is then untouched).
 */
int ukd_recorder_snapshot(struct ukd_recorder *rec, struct ukd_recording *out,
			  bool clear, uint64_t now_ns);

/**
 * ukd_recorder_restore() - undo a clearing snapshot whose recording could
 * not be used (e.g. building its file ran out of memory): @snap's events go
 * back in front of everything recorded since, and the presses the snapshot
 * made for notes held at its end are dropped (the original presses are
 * back). The result may exceed the capacity by what was recorded since;
 * later records then get -ENOSPC as usual. Thread-safe.
 * @snap: from ukd_recorder_snapshot(rec, snap, true, ...); on success its
 *        events belong to the recorder and @snap is empty.
 * Returns 0, or -ENOMEM with nothing changed (@snap still the caller's).
 */
int ukd_recorder_restore(struct ukd_recorder *rec, struct ukd_recording *snap);

/**
 * ukd_recorder_reset() - drop every event; held notes stay held and are
 * re-pressed at @now_ns in the new recording. Thread-safe.
 */
void ukd_recorder_reset(struct ukd_recorder *rec, uint64_t now_ns);

/** ukd_recorder_count() / _capacity() / _held() - thread-safe reads. */
size_t ukd_recorder_count(struct ukd_recorder *rec);
size_t ukd_recorder_capacity(struct ukd_recorder *rec);
unsigned int ukd_recorder_held(struct ukd_recorder *rec);

/** ukd_recording_clear() - free a snapshot's events; accepts an empty one. */
void ukd_recording_clear(struct ukd_recording *r);

/** ukd_now_ns() - CLOCK_MONOTONIC in nanoseconds. */
uint64_t ukd_now_ns(void);
