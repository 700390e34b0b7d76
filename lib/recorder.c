/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recorder.h"

struct ukd_recorder {
	pthread_mutex_t lock;
	/* All below guarded by lock. */
	struct ukd_note_event *events;
	size_t n_events;
	size_t allocated;                    /* events the array holds now */
	size_t capacity;                     /* events it may ever hold */
	uint64_t last_ns;                    /* time of the newest event */
	uint8_t held[UKD_RECORDER_NOTES];    /* velocity+1 while down, 0 = up */
};

uint64_t ukd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ukd_recorder_new(struct ukd_recorder **ret, size_t capacity)
{
	struct ukd_recorder *rec;

	if (!ret || capacity == 0 || capacity > UKD_RECORDER_MAX_CAPACITY)
		return -EINVAL;
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	pthread_mutex_init(&rec->lock, NULL);
	rec->capacity = capacity;
	*ret = rec;
	return 0;
}

void ukd_recorder_free(struct ukd_recorder *rec)
{
	if (!rec)
		return;
	pthread_mutex_destroy(&rec->lock);
	free(rec->events);
	free(rec);
}

/* Caller holds the lock. Makes room for one more event. */
static int reserve_one(struct ukd_recorder *rec)
{
	struct ukd_note_event *grown;
	size_t want;

	if (rec->n_events >= rec->capacity)
		return -ENOSPC;
	if (rec->n_events < rec->allocated)
		return 0;
	want = rec->allocated ? rec->allocated * 2 : 1024;
	if (want > rec->capacity)
		want = rec->capacity;
	grown = realloc(rec->events, want * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	rec->events = grown;
	rec->allocated = want;
	return 0;
}

/* Caller holds the lock. */
static void append(struct ukd_recorder *rec, uint8_t note, bool on, uint8_t velocity, uint64_t t_ns)
{
	struct ukd_note_event *ev = &rec->events[rec->n_events++];

	if (t_ns < rec->last_ns)
		t_ns = rec->last_ns;
	rec->last_ns = t_ns;
	memset(ev, 0, sizeof(*ev));
	ev->t_ns = t_ns;
	ev->note = note;
	ev->on = on;
	ev->velocity = velocity;
	rec->held[note] = on ? (uint8_t)(velocity + 1) : 0;
}

int ukd_recorder_record(struct ukd_recorder *rec, uint8_t note, bool on,
			uint8_t velocity, uint64_t t_ns)
{
	int r;

	if (note >= UKD_RECORDER_NOTES || velocity > 127)
		return -EINVAL;
	pthread_mutex_lock(&rec->lock);
	r = reserve_one(rec);
	if (r == 0)
		append(rec, note, on, velocity, t_ns);
	pthread_mutex_unlock(&rec->lock);
	return r;
}

/* Caller holds the lock; the event array is empty. Re-press held notes.
 * At most 128 events: fits any capacity >= 128; with a smaller capacity
 * the notes stay held but only as many presses as fit are recorded. */
static void restart_locked(struct ukd_recorder *rec, uint64_t now_ns)
{
	uint8_t held[UKD_RECORDER_NOTES];

	memcpy(held, rec->held, sizeof(held));
	if (now_ns > rec->last_ns)
		rec->last_ns = now_ns;
	for (unsigned int n = 0; n < UKD_RECORDER_NOTES; n++) {
		if (!held[n])
			continue;
		if (reserve_one(rec) < 0)
			break;
		append(rec, (uint8_t)n, true, (uint8_t)(held[n] - 1), rec->last_ns);
	}
	memcpy(rec->held, held, sizeof(held));
}

int ukd_recorder_snapshot(struct ukd_recorder *rec, struct ukd_recording *out,
			  bool clear, uint64_t now_ns)
{
	struct ukd_note_event *copy = NULL;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&rec->lock);
	if (clear) {
		/* O(1) under the lock: hand the array over, start a new one. */
		out->events = rec->events;
		out->n_events = rec->n_events;
		rec->events = NULL;
		rec->n_events = rec->allocated = 0;
	} else if (rec->n_events) {
		copy = malloc(rec->n_events * sizeof(*copy));
		if (!copy) {
			pthread_mutex_unlock(&rec->lock);
			return -ENOMEM;
		}
		memcpy(copy, rec->events, rec->n_events * sizeof(*copy));
		out->events = copy;
		out->n_events = rec->n_events;
	}
	out->end_ns = now_ns > rec->last_ns ? now_ns : rec->last_ns;
	memcpy(out->held, rec->held, sizeof(out->held));
	if (clear)
		restart_locked(rec, out->end_ns);
	pthread_mutex_unlock(&rec->lock);
	return 0;
}

int ukd_recorder_restore(struct ukd_recorder *rec, struct ukd_recording *snap)
{
	struct ukd_note_event *all;
	size_t skip = 0, total;

	if (!snap->n_events)
		return 0;  /* nothing to put back; the re-presses stand */
	pthread_mutex_lock(&rec->lock);
	/* The snapshot's re-presses lead the new recording, in note order
	 * (restart_locked()), unless memory ran out for some of them. */
	for (unsigned int n = 0; n < UKD_RECORDER_NOTES && skip < rec->n_events; n++) {
		const struct ukd_note_event *ev = &rec->events[skip];

		if (!snap->held[n])
			continue;
		if (ev->t_ns != snap->end_ns || !ev->on || ev->note != n ||
		    ev->velocity != snap->held[n] - 1)
			break;
		skip++;
	}
	total = snap->n_events + rec->n_events - skip;
	all = realloc(snap->events, total * sizeof(*all));
	if (!all) {
		pthread_mutex_unlock(&rec->lock);
		return -ENOMEM;
	}
	memcpy(all + snap->n_events, rec->events + skip, (rec->n_events - skip) * sizeof(*all));
	free(rec->events);
	rec->events = all;
	rec->n_events = rec->allocated = total;
	pthread_mutex_unlock(&rec->lock);
	snap->events = NULL;
	snap->n_events = 0;
	return 0;
}

void ukd_recorder_reset(struct ukd_recorder *rec, uint64_t now_ns)
{
	pthread_mutex_lock(&rec->lock);
	rec->n_events = 0;
	restart_locked(rec, now_ns);
	pthread_mutex_unlock(&rec->lock);
}

size_t ukd_recorder_count(struct ukd_recorder *rec)
{
	size_t n;

	pthread_mutex_lock(&rec->lock);
	n = rec->n_events;
	pthread_mutex_unlock(&rec->lock);
	return n;
}

size_t ukd_recorder_capacity(struct ukd_recorder *rec)
{
	return rec->capacity; /* never changes after ukd_recorder_new() */
}

unsigned int ukd_recorder_held(struct ukd_recorder *rec)
{
	unsigned int n = 0;

	pthread_mutex_lock(&rec->lock);
	for (unsigned int i = 0; i < UKD_RECORDER_NOTES; i++)
		n += rec->held[i] != 0;
	pthread_mutex_unlock(&rec->lock);
	return n;
}

void ukd_recording_clear(struct ukd_recording *r)
{
	if (!r)
		return;
	free(r->events);
	r->events = NULL;
	r->n_events = 0;
}
