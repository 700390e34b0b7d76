/* SPDX-License-Identifier: MIT */
/*
 * Standard MIDI Files (SMF 1.0, "Standard MIDI Files 1.0", MIDI
 * Manufacturers Association, 1996): a writer that turns a note recording
 * into a format-0 file, and a strict reader for tests and tools.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recorder.h"

/* SMF 1.0: a delta-time is a VLQ of at most 4 bytes, so at most 0x0FFFFFFF. */
#define UKD_SMF_VLQ_MAX 0x0FFFFFFFu

/* kkey's time base: 1000 ticks per quarter note at 500000 us per quarter
 * (120 bpm) makes one tick 0.5 ms, so files play back in real time. */
#define UKD_SMF_DIVISION 1000
#define UKD_SMF_TEMPO_US 500000u
#define UKD_SMF_TICK_NS 500000u
/* Set Tempo holds 24 bits of microseconds per quarter note. */
#define UKD_SMF_TEMPO_MAX 0xFFFFFFu

/**
 * ukd_smf_vlq_encode() - encode @value as a variable-length quantity.
 * @out: receives 1..4 bytes.
 * Returns the number of bytes, or -ERANGE if @value > UKD_SMF_VLQ_MAX.
 */
int ukd_smf_vlq_encode(uint32_t value, uint8_t out[4]);

/**
 * ukd_smf_vlq_decode() - decode a VLQ from @buf (@len bytes available).
 * @value: set on success.
 * Returns bytes consumed (1..4), or -EINVAL if it runs past @len or past
 * 4 bytes.
 */
int ukd_smf_vlq_decode(const uint8_t *buf, size_t len, uint32_t *value);

struct ukd_smf_params {
	uint32_t tempo_us;  /* microseconds per quarter note, 1..UKD_SMF_TEMPO_MAX */
	uint8_t channel;    /* 0..15 */
};

/**
 * ukd_smf_from_recording() - build a format-0 SMF from @rec.
 * @out/@out_len: a malloc()ed file on success; the caller frees it.
 *
 * Layout: MThd (format 0, 1 track, division UKD_SMF_DIVISION); MTrk with
 * Time Signature 4/4 and Set Tempo at tick 0, the events (the first at tick
 * 0, times measured from it in UKD_SMF_TICK_NS units), a note-off at the
 * end for every note still held, then End of Track with a zero delta.
 * Pauses longer than UKD_SMF_VLQ_MAX ticks are bridged with empty Text
 * meta events. Returns 0, -EINVAL (bad params/events), -ENOMEM or -EFBIG.
 */
int ukd_smf_from_recording(const struct ukd_recording *rec, const struct ukd_smf_params *p,
			   uint8_t **out, size_t *out_len);

/* What the reader reports, one call per event, in file order. */
struct ukd_smf_event {
	unsigned int track;     /* 0-based */
	uint64_t tick;          /* absolute, from the track's start */
	uint8_t status;         /* 0x80..0xEF channel, 0xF0/0xF7 sysex, 0xFF meta */
	uint8_t meta_type;      /* for 0xFF */
	uint8_t data[2];        /* channel message data bytes */
	const uint8_t *payload; /* meta/sysex bytes (inside the input buffer) */
	uint32_t payload_len;
};

struct ukd_smf_header {
	uint16_t format;
	uint16_t ntracks;
	uint16_t division;
};

typedef int (*ukd_smf_event_fn)(const struct ukd_smf_event *ev, void *userdata);

/**
 * ukd_smf_parse() - strictly parse an SMF held in memory.
 * @hdr: filled with the header (may be NULL).
 * @fn: called for every event, End of Track included (may be NULL); a
 *      negative return stops the parse and is returned.
 *
 * Enforces: MThd of length >= 6 first; format 0 (one track) or 1; ntracks
 * equal to the MTrk chunks present (other chunk types are skipped);
 * division != 0 and, for SMPTE, 24/25/29/30 fps; chunks inside the buffer;
 * VLQs of at most 4 bytes; data bytes < 0x80; running status only after a
 * channel message; End of Track present in every track and last in it; no
 * undefined status bytes. Returns 0, or -EBADMSG for a malformed file.
 */
int ukd_smf_parse(const uint8_t *buf, size_t len, struct ukd_smf_header *hdr,
		  ukd_smf_event_fn fn, void *userdata);
