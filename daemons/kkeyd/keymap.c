/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_LIBEVDEV
#include <libevdev/libevdev.h>
#endif

#include "keymap.h"
#include "keymap-default.h"
#include "macro.h"

/* Files of a few KiB; the cap only stops a wrong path (a device) early. */
#define KEYMAP_FILE_MAX (1u << 20)

static const struct {
	const char *name;
	enum kb_action action;
} actions[] = {
	{ "octave-up", KB_OCTAVE_UP },
	{ "octave-down", KB_OCTAVE_DOWN },
	{ "transpose-up", KB_TRANSPOSE_UP },
	{ "transpose-down", KB_TRANSPOSE_DOWN },
	{ "velocity-up", KB_VELOCITY_UP },
	{ "velocity-down", KB_VELOCITY_DOWN },
	{ "sustain", KB_SUSTAIN },
	{ "panic", KB_PANIC },
};

static int parse_number(const char *s, long max)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	return (int)v;
}

int keymap_note_from_name(const char *s)
{
	/* Semitones of C D E F G A B above C. */
	static const int8_t step[7] = { 9, 11, 0, 2, 4, 5, 7 };   /* A..G */
	char letter = (char)toupper((unsigned char)s[0]);
	int n, octave;

	if (isdigit((unsigned char)s[0]))
		return parse_number(s, 127);
	if (letter < 'A' || letter > 'G')
		return -EINVAL;
	n = step[letter - 'A'];
	s++;
	if (*s == '#')
		n++, s++;
	else if (*s == 'b')
		n--, s++;
	/* Octave -1..9: MIDI note 0 is C-1. */
	if (s[0] == '-' && s[1] == '1' && !s[2])
		octave = -1;
	else if (isdigit((unsigned char)s[0]) && !s[1])
		octave = s[0] - '0';
	else
		return -EINVAL;
	n += 12 * (octave + 1);
	return n >= 0 && n <= 127 ? n : -EINVAL;
}

static int key_from_name(const char *s)
{
	if (isdigit((unsigned char)*s))
		return parse_number(s, KB_KEYS - 1);
#ifdef HAVE_LIBEVDEV
	{
		int code = libevdev_event_code_from_name(EV_KEY, s);

		return code >= 0 && code < KB_KEYS ? code : -EINVAL;
	}
#else
	return -EINVAL;
#endif
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_line(struct keymap *map, char *line, char *why, size_t why_size)
{
	char *eq, *key, *what;
	int code, note;

	/* A comment starts with '#' at the start of a line or after a blank;
	 * the '#' of a sharp (C#4) is part of its word. */
	for (char *c = line; *c; c++)
		if (*c == '#' && (c == line || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			break;
		}
	line = trim(line);
	if (!*line)
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(why, why_size, "expected 'KEY = NOTE or ACTION'");
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	what = trim(eq + 1);
	code = key_from_name(key);
	if (code < 0) {
		snprintf(why, why_size, "unknown key '%s' (an evdev name such as KEY_Z, or a code 0..%d)",
			 key, KB_KEYS - 1);
		return -EINVAL;
	}
	if (map->keys[code].action != KB_NONE) {
		snprintf(why, why_size, "key '%s' is bound twice", key);
		return -EINVAL;
	}
	for (size_t i = 0; i < UKD_ARRAY_SIZE(actions); i++)
		if (!strcmp(what, actions[i].name)) {
			map->keys[code].action = (uint8_t)actions[i].action;
			return 0;
		}
	note = keymap_note_from_name(what);
	if (note < 0) {
		snprintf(why, why_size, "'%s' is neither a note (0..127, C-1..G9) nor an action", what);
		return -EINVAL;
	}
	map->keys[code] = (struct kb_binding){ .action = KB_NOTE, .note = (uint8_t)note };
	return 0;
}

int keymap_parse(struct keymap *map, const char *text, char *why, size_t why_size)
{
	unsigned int lineno = 0;

	memset(map, 0, sizeof(*map));
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char line[256], msg[200];
		int r;

		lineno++;
		if (len >= sizeof(line)) {
			snprintf(why, why_size, "%u: line longer than %zu bytes", lineno, sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, text, len);
		line[len] = '\0';
		r = parse_line(map, line, msg, sizeof(msg));
		if (r < 0) {
			snprintf(why, why_size, "%u: %s", lineno, msg);
			return r;
		}
		text += len + (nl ? 1 : 0);
	}
	return 0;
}

int keymap_load(struct keymap *map, const char *path, char *why, size_t why_size)
{
	_cleanup_free_ char *text = NULL;
	char msg[240];
	FILE *f;
	size_t n;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = ukd_negerrno();
		snprintf(why, why_size, "%s: %s", path, strerror(-r));
		return r;
	}
	text = malloc(KEYMAP_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, KEYMAP_FILE_MAX + 1, f);
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (r == 0 && n > KEYMAP_FILE_MAX)
		r = -EFBIG;
	if (r == 0 && memchr(text, '\0', n))
		r = -EINVAL;    /* not a text file */
	if (r < 0) {
		snprintf(why, why_size, "%s: %s", path, strerror(-r));
		return r;
	}
	text[n] = '\0';
	r = keymap_parse(map, text, msg, sizeof(msg));
	if (r < 0)
		snprintf(why, why_size, "%s:%s", path, msg);
	return r;
}

int keymap_default(struct keymap *map, char *why, size_t why_size)
{
	return keymap_parse(map, keymap_default_text, why, why_size);
}
