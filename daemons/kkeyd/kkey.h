/* SPDX-License-Identifier: MIT */
/*
 * The kkey device: 128 nodes, one per MIDI note, sharing one recording.
 * Pure device logic over lib/'s chardev interface: no FUSE, no CUSE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chardev.h"
#include "journal.h"
#include "recorder.h"
#include "ukd/kkey.h"

struct kkey_config {
	size_t capacity;      /* events, 1..UKD_RECORDER_MAX_CAPACITY */
	uint32_t velocity;    /* 0..127 */
	uint32_t slowdown;    /* KKEY_SLOWDOWN_MIN..MAX */
	uint8_t channel;      /* 0..15 */
	bool keep;            /* read does not clear */
	mode_t mode;          /* node permissions */
};

/*
 * Who hears every event as it is played (the ALSA sequencer port). Called
 * from kkey_play() and friends, on the loop thread; any member may be NULL.
 */
struct kkey_listener_ops {
	void (*note)(void *data, uint8_t channel, uint8_t note, bool on, uint8_t velocity);
	void (*control)(void *data, uint8_t channel, uint8_t cc, uint8_t value);
	/* Panic: silence the channel (CC123 All Notes Off, CC120 All Sound Off). */
	void (*all_notes_off)(void *data, uint8_t channel);
};

struct kkey {
	struct kkey_config cfg;        /* velocity/slowdown change through ioctls */
	const struct kkey_listener_ops *listener;
	void *listener_data;
	void (*on_panic)(void *data);  /* inputs that track held notes forget them */
	void *on_panic_data;
	bool held[KKEY_NOTES];         /* pressed and not released, from every input */
	struct ukd_recorder *rec;
	struct ukd_chardev nodes[KKEY_NOTES];
	struct ukd_chardev *node_ptrs[KKEY_NOTES];
	char names[KKEY_NOTES][8];     /* "kkey000" ... "kkey127" */
	bool full_logged;              /* ENOSPC logged once until space returns */
	struct kkey_journal *journal;  /* NULL: no state directory; not owned */
	bool journal_failed;           /* an append failed: logged once until one works */
};

/** kkey_config_default() - the original module's defaults, real-time playback. */
void kkey_config_default(struct kkey_config *cfg);

/**
 * kkey_new() - a kkey with an empty recording and its 128 nodes named
 * kkey000..kkey127. Returns 0, -EINVAL (bad config) or -ENOMEM.
 */
int kkey_new(struct kkey **ret, const struct kkey_config *cfg);

/** kkey_free() - accepts NULL; the nodes must no longer be served. */
void kkey_free(struct kkey *k);

/* One note event from any input (a node write, a keyboard, a PCI card). */
struct kkey_event {
	uint8_t note;       /* 0..127 */
	bool on;            /* press or release */
	uint8_t velocity;   /* 1..127; 0 = the configured velocity */
	uint64_t t_ns;      /* CLOCK_MONOTONIC when it happened; 0 = now */
};

/**
 * kkey_play() - record @ev (and pass it to whatever listens live).
 * Returns 0, -EINVAL for a bad note/velocity, -ENOSPC when the recording is full.
 * With a journal attached, the event is in the journal when it returns 0;
 * when the journal cannot take it, returns that -errno (the event stays in
 * the recording: a failed write may have happened, an acknowledged one did).
 */
int kkey_play(struct kkey *k, const struct kkey_event *ev);

/**
 * kkey_set_listener() - @ops (static, borrowed) hears every event from now
 * on, with @data; NULL stops it.
 */
void kkey_set_listener(struct kkey *k, const struct kkey_listener_ops *ops, void *data);

/**
 * kkey_set_panic_hook() - @fn(@data) runs at the start of every
 * kkey_panic(), whoever asked for it, so an input that tracks its own held
 * notes (the keyboards) forgets them; NULL stops it.
 */
void kkey_set_panic_hook(struct kkey *k, void (*fn)(void *data), void *data);

/** kkey_control() - a controller change (e.g. CC64 sustain), live only: the recording holds notes. */
void kkey_control(struct kkey *k, uint8_t cc, uint8_t value);

/**
 * kkey_panic() - every held note is released in the recording at @t_ns
 * (0 = now), and the live output gets all-notes-off. Returns the number
 * of notes released, or -ENOSPC when the recording had no room for them,
 * or the journal's -errno when it could not take them. Either way they are
 * released live and no longer counted as held.
 */
int kkey_panic(struct kkey *k, uint64_t t_ns);

/**
 * kkey_reconfigure() - take @cfg's velocity, slowdown, channel and keep
 * (a reload); the recording is kept. Capacity and mode stay as they were
 * (the caller says they need a restart). Logs each change.
 */
void kkey_reconfigure(struct kkey *k, const struct kkey_config *cfg);
