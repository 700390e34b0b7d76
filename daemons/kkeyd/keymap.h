/* SPDX-License-Identifier: MIT */
/*
 * Keymap files: which computer key plays which note or does which action.
 * Format (docs/kkeyd-keyboards.md): one binding a line, `KEY = WHAT`, where
 * KEY is an evdev key name (KEY_Z) or code (44) and WHAT a MIDI note (60 or
 * C4, with C4 = 60, sharps # and flats b) or an action: octave-up,
 * octave-down, transpose-up, transpose-down, velocity-up, velocity-down,
 * sustain, panic. '#' at the start of a line or after a blank starts a
 * comment (the '#' of C#4 does not); blank lines are skipped.
 */
#pragma once

#include <stddef.h>

#include "keyboard-core.h"

/**
 * keymap_parse() - read @text (NUL-terminated) into @map, which is cleared first.
 * @why: on error, "LINE: what is wrong" (line numbers from 1), @why_size bytes.
 * Returns 0, or -EINVAL with @why filled.
 */
int keymap_parse(struct keymap *map, const char *text, char *why, size_t why_size);

/**
 * keymap_load() - keymap_parse() of the file @path. On error @why is
 * "PATH:LINE: what is wrong" or "PATH: errno text". Returns 0 or -errno.
 */
int keymap_load(struct keymap *map, const char *path, char *why, size_t why_size);

/** keymap_default() - the built-in layout (data/keymaps/default.keymap); as keymap_parse(). */
int keymap_default(struct keymap *map, char *why, size_t why_size);

/** keymap_note_from_name() - "C4" -> 60, "C#4"/"Db4" -> 61, "60" -> 60; -EINVAL. */
int keymap_note_from_name(const char *s);
