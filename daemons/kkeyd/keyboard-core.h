/* SPDX-License-Identifier: MIT */
/*
 * The computer keyboard as a piano, without any device: key events in,
 * note/controller/panic actions out through a small struct of callbacks
 * (keyd's model), so layouts, sustain and chords are unit-tested with
 * scripted input. One core per attached keyboard; every call runs on the
 * daemon's loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <linux/input-event-codes.h>

#define KB_KEYS (KEY_MAX + 1)
#define KB_OCTAVE_MAX 4          /* octave shift -4..+4 */
#define KB_TRANSPOSE_MAX 11      /* semitones -11..+11 */
#define KB_VELOCITY_STEP 16
#define KB_CC_SUSTAIN 64         /* MIDI 1.0: Damper Pedal (Sustain) */

enum kb_action {
	KB_NONE = 0,
	KB_NOTE,
	KB_OCTAVE_UP,
	KB_OCTAVE_DOWN,
	KB_TRANSPOSE_UP,
	KB_TRANSPOSE_DOWN,
	KB_VELOCITY_UP,
	KB_VELOCITY_DOWN,
	KB_SUSTAIN,
	KB_PANIC,
};

struct kb_binding {
	uint8_t action;   /* enum kb_action */
	uint8_t note;     /* KB_NOTE: 0..127 before octave and transpose */
};

/* Key code -> what it does. Codes without a binding do nothing. */
struct keymap {
	struct kb_binding keys[KB_KEYS];
};

/* What the core does; @user is kb_core.user. t_ns is CLOCK_MONOTONIC. */
struct kb_output_ops {
	void (*note)(void *user, uint8_t note, bool on, uint8_t velocity, uint64_t t_ns);
	void (*control)(void *user, uint8_t cc, uint8_t value, uint64_t t_ns);
	/* Panic: this core's notes are already released; silence the rest. */
	void (*panic)(void *user, uint64_t t_ns);
	/* The grab escape combination was pressed (may be NULL). */
	void (*escape)(void *user);
};

struct kb_core {
	const struct keymap *map;           /* borrowed */
	const struct kb_output_ops *ops;
	void *user;
	int octave;                         /* -KB_OCTAVE_MAX..KB_OCTAVE_MAX */
	int transpose;                      /* -KB_TRANSPOSE_MAX..KB_TRANSPOSE_MAX */
	uint8_t velocity;                   /* 1..127 */
	bool sustain;
	/* The note each key is sounding, as pressed (so octave and transpose
	 * changes while it is down release the right note); 0 = none, else note+1. */
	uint8_t key_note[KB_KEYS];
	uint8_t refs[128];                  /* keys holding each note */
	bool sustained[128];                /* released while sustain is down: note-off deferred */
	bool key_down[KB_KEYS];             /* for the escape combination */
};

/* The grab escape: hold Left Ctrl and Left Alt, then press Escape. */
#define KB_ESCAPE_MOD1 KEY_LEFTCTRL
#define KB_ESCAPE_MOD2 KEY_LEFTALT
#define KB_ESCAPE_KEY KEY_ESC

/** kb_core_init() - a core with nothing held; @velocity 1..127. */
void kb_core_init(struct kb_core *c, const struct keymap *map, const struct kb_output_ops *ops,
		  void *user, uint8_t velocity);

/**
 * kb_core_key() - one EV_KEY event: @value 1 press, 0 release, 2 auto-repeat
 * (ignored, as is anything else). Returns 0, or -EINVAL for a code out of range.
 */
int kb_core_key(struct kb_core *c, unsigned int code, int value, uint64_t t_ns);

/**
 * kb_core_release_all() - the keyboard is gone (or ungrabbed): every note
 * this core sounds or sustains is released at @t_ns, sustain is lifted.
 */
void kb_core_release_all(struct kb_core *c, uint64_t t_ns);

/**
 * kb_core_forget() - every note was released elsewhere (a panic from
 * kkeyctl or another keyboard): forget what this core sounds or sustains
 * without playing anything. Keys still down stay silent until pressed
 * again, the pedal counts as lifted.
 */
void kb_core_forget(struct kb_core *c);

/** kb_core_note_of() - the note @base plays now (octave, transpose); -1 if off range. */
int kb_core_note_of(const struct kb_core *c, uint8_t base);
