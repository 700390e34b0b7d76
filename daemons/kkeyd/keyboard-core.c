/* SPDX-License-Identifier: MIT */
/*
 * The keyboard-as-piano core. Sustain follows the piano: a note released
 * while the pedal is down keeps sounding, and its note-off goes out (to the
 * recording and the live port alike) when the pedal lifts, so the SMF holds
 * what was heard even for players that ignore CC64.
 */
#include <errno.h>
#include <string.h>

#include "keyboard-core.h"

void kb_core_init(struct kb_core *c, const struct keymap *map, const struct kb_output_ops *ops,
		  void *user, uint8_t velocity)
{
	memset(c, 0, sizeof(*c));
	c->map = map;
	c->ops = ops;
	c->user = user;
	c->velocity = velocity >= 1 && velocity <= 127 ? velocity : 63;
}

int kb_core_note_of(const struct kb_core *c, uint8_t base)
{
	int n = base + 12 * c->octave + c->transpose;

	return n >= 0 && n <= 127 ? n : -1;
}

static void note_off(struct kb_core *c, uint8_t n, uint64_t t_ns)
{
	c->sustained[n] = false;
	c->ops->note(c->user, n, false, c->velocity, t_ns);
}

static void press(struct kb_core *c, unsigned int code, uint8_t base, uint64_t t_ns)
{
	int n = kb_core_note_of(c, base);

	if (n < 0 || c->key_note[code])
		return;
	c->key_note[code] = (uint8_t)(n + 1);
	/* A note still ringing under the pedal is struck again: end it first,
	 * so every note-on in the recording has its own note-off. */
	if (c->sustained[n])
		note_off(c, (uint8_t)n, t_ns);
	/* Two keys on one note (after an octave change): one note-on, and the
	 * note-off when the last of them is released. */
	if (c->refs[n]++ == 0)
		c->ops->note(c->user, (uint8_t)n, true, c->velocity, t_ns);
}

static void release(struct kb_core *c, unsigned int code, uint64_t t_ns)
{
	uint8_t n;

	if (!c->key_note[code])
		return;
	n = c->key_note[code] - 1;
	c->key_note[code] = 0;
	if (--c->refs[n] > 0)
		return;
	if (c->sustain)
		c->sustained[n] = true;
	else
		note_off(c, n, t_ns);
}

static void sustain(struct kb_core *c, bool down, uint64_t t_ns)
{
	if (down == c->sustain)
		return;
	c->sustain = down;
	if (c->ops->control)
		c->ops->control(c->user, KB_CC_SUSTAIN, down ? 127 : 0, t_ns);
	if (!down)
		for (unsigned int n = 0; n < 128; n++)
			if (c->sustained[n])
				note_off(c, (uint8_t)n, t_ns);
}

/* Every note this core sounds or sustains ends now, then the pedal lifts;
 * keys still down stay silent until pressed again. */
static void silence(struct kb_core *c, uint64_t t_ns)
{
	memset(c->key_note, 0, sizeof(c->key_note));
	for (unsigned int n = 0; n < 128; n++)
		if (c->refs[n] || c->sustained[n]) {
			c->refs[n] = 0;
			note_off(c, (uint8_t)n, t_ns);
		}
	sustain(c, false, t_ns);
}

void kb_core_release_all(struct kb_core *c, uint64_t t_ns)
{
	memset(c->key_down, 0, sizeof(c->key_down));
	silence(c, t_ns);
}

void kb_core_forget(struct kb_core *c)
{
	memset(c->key_note, 0, sizeof(c->key_note));
	memset(c->refs, 0, sizeof(c->refs));
	memset(c->sustained, 0, sizeof(c->sustained));
	c->sustain = false;
}

/* One press of an up/down pair: @v moves by @step, within lo..hi. */
static int step(int v, bool up, int by, int lo, int hi)
{
	v += up ? by : -by;
	return v < lo ? lo : v > hi ? hi : v;
}

int kb_core_key(struct kb_core *c, unsigned int code, int value, uint64_t t_ns)
{
	const struct kb_binding *b;
	bool down = value == 1;

	if (code >= KB_KEYS)
		return -EINVAL;
	if (value != 0 && value != 1)
		return 0;       /* evdev auto-repeat (2): a held key is still one press */
	if (c->key_down[code] == down)
		return 0;       /* a release we never saw pressed (attached mid-press) */
	c->key_down[code] = down;
	if (down && code == KB_ESCAPE_KEY && c->key_down[KB_ESCAPE_MOD1] &&
	    c->key_down[KB_ESCAPE_MOD2] && c->ops->escape) {
		c->key_down[code] = false;
		kb_core_release_all(c, t_ns);
		c->ops->escape(c->user);
		return 0;
	}
	b = &c->map->keys[code];
	switch (b->action) {
	case KB_NOTE:
		if (down)
			press(c, code, b->note, t_ns);
		else
			release(c, code, t_ns);
		break;
	case KB_SUSTAIN:
		sustain(c, down, t_ns);
		break;
	case KB_OCTAVE_UP:
	case KB_OCTAVE_DOWN:
		if (down)
			c->octave = step(c->octave, b->action == KB_OCTAVE_UP, 1,
					 -KB_OCTAVE_MAX, KB_OCTAVE_MAX);
		break;
	case KB_TRANSPOSE_UP:
	case KB_TRANSPOSE_DOWN:
		if (down)
			c->transpose = step(c->transpose, b->action == KB_TRANSPOSE_UP, 1,
					    -KB_TRANSPOSE_MAX, KB_TRANSPOSE_MAX);
		break;
	case KB_VELOCITY_UP:
	case KB_VELOCITY_DOWN:
		if (down)
			c->velocity = (uint8_t)step(c->velocity, b->action == KB_VELOCITY_UP,
						    KB_VELOCITY_STEP, 1, 127);
		break;
	case KB_PANIC:
		if (down) {
			silence(c, t_ns);
			c->ops->panic(c->user, t_ns);
		}
		break;
	default:
		break;
	}
	return 0;
}
