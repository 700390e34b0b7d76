/* SPDX-License-Identifier: MIT */
/*
 * daemons/kkeyd/keyboard-core.c and keymap.c with scripted key events and
 * no device: what the core asks for is logged by a test listener and
 * compared with what a piano player expects.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keymap.h"
#include "check-run.h"

enum { A_NOTE, A_CC, A_PANIC, A_ESCAPE };

struct action {
	int kind;
	int a, b, c;   /* note/cc, on/value, velocity */
	uint64_t t;
};

/* The test listener: every callback appends what it got. */
static struct action log_[256];
static size_t n_log;

static void t_note(void *u, uint8_t note, bool on, uint8_t velocity, uint64_t t)
{
	log_[n_log++] = (struct action){ A_NOTE, note, on, velocity, t };
}

static void t_control(void *u, uint8_t cc, uint8_t value, uint64_t t)
{
	log_[n_log++] = (struct action){ A_CC, cc, value, 0, t };
}

static void t_panic(void *u, uint64_t t)
{
	log_[n_log++] = (struct action){ A_PANIC, 0, 0, 0, t };
}

static void t_escape(void *u)
{
	log_[n_log++] = (struct action){ A_ESCAPE, 0, 0, 0, 0 };
}

static const struct kb_output_ops ops = {
	.note = t_note, .control = t_control, .panic = t_panic, .escape = t_escape,
};

static struct keymap map;
static struct kb_core core;

static void setup(void)
{
	char why[200];

	ck_assert_int_eq(keymap_default(&map, why, sizeof(why)), 0);
	kb_core_init(&core, &map, &ops, NULL, 63);
	n_log = 0;
}

static void key(unsigned int code, int value)
{
	static uint64_t t = 1000;

	ck_assert_int_eq(kb_core_key(&core, code, value, t += 1000), 0);
}

static void tap(unsigned int code)
{
	key(code, 1);
	key(code, 0);
}

static void expect_note(size_t i, int note, bool on, int velocity)
{
	ck_assert_uint_gt(n_log, i);
	ck_assert_int_eq(log_[i].kind, A_NOTE);
	ck_assert_int_eq(log_[i].a, note);
	ck_assert_int_eq(log_[i].b, on);
	ck_assert_int_eq(log_[i].c, velocity);
}

static void expect_cc(size_t i, int cc, int value)
{
	ck_assert_uint_gt(n_log, i);
	ck_assert_int_eq(log_[i].kind, A_CC);
	ck_assert_int_eq(log_[i].a, cc);
	ck_assert_int_eq(log_[i].b, value);
}

START_TEST(default_layout_is_a_piano)
{
	/* Z row white keys from C3: C D E F G A B C D E. */
	static const unsigned int white[] = { KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M,
					      KEY_COMMA, KEY_DOT, KEY_SLASH };
	static const int white_notes[] = { 48, 50, 52, 53, 55, 57, 59, 60, 62, 64 };
	/* Its black keys on the row above: C# D# F# G# A# C# D#. */
	static const unsigned int black[] = { KEY_S, KEY_D, KEY_G, KEY_H, KEY_J, KEY_L, KEY_SEMICOLON };
	static const int black_notes[] = { 49, 51, 54, 56, 58, 61, 63 };
	/* Q row from C4 up to G5, black keys on the number row. */
	static const unsigned int upper[] = { KEY_Q, KEY_2, KEY_W, KEY_3, KEY_E, KEY_R, KEY_5, KEY_T,
					      KEY_6, KEY_Y, KEY_7, KEY_U, KEY_I, KEY_9, KEY_O, KEY_0,
					      KEY_P, KEY_LEFTBRACE, KEY_EQUAL, KEY_RIGHTBRACE };

	for (size_t i = 0; i < 10; i++)
		ck_assert_int_eq(map.keys[white[i]].note, white_notes[i]);
	for (size_t i = 0; i < 7; i++)
		ck_assert_int_eq(map.keys[black[i]].note, black_notes[i]);
	for (size_t i = 0; i < 20; i++) {
		ck_assert_int_eq(map.keys[upper[i]].action, KB_NOTE);
		ck_assert_int_eq(map.keys[upper[i]].note, 60 + (int)i);
	}
	ck_assert_int_eq(map.keys[KEY_SPACE].action, KB_SUSTAIN);
	ck_assert_int_eq(map.keys[KEY_ESC].action, KB_PANIC);
	ck_assert_int_eq(map.keys[KEY_KPPLUS].action, KB_OCTAVE_UP);
	ck_assert_int_eq(map.keys[KEY_A].action, KB_NONE);
}
END_TEST

START_TEST(press_release_and_autorepeat)
{
	key(KEY_Z, 1);
	key(KEY_Z, 2);
	key(KEY_Z, 2);
	key(KEY_Z, 0);
	key(KEY_Z, 0);        /* a second release: nothing */
	key(KEY_A, 1);        /* unbound */
	key(KEY_A, 0);
	key(KEY_X, 0);        /* released, never pressed (attached mid-press) */
	ck_assert_uint_eq(n_log, 2);
	expect_note(0, 48, true, 63);
	expect_note(1, 48, false, 63);
	ck_assert_uint_eq(log_[1].t - log_[0].t, 3000);   /* the event times pass through */
	ck_assert_int_eq(kb_core_key(&core, KEY_MAX + 1, 1, 0), -EINVAL);
}
END_TEST

START_TEST(octave_change_while_held_releases_the_pressed_note)
{
	key(KEY_Z, 1);
	tap(KEY_KPPLUS);
	key(KEY_Z, 0);
	tap(KEY_Z);
	tap(KEY_PAGEDOWN);
	tap(KEY_PAGEDOWN);
	tap(KEY_Z);
	ck_assert_uint_eq(n_log, 6);
	expect_note(0, 48, true, 63);
	expect_note(1, 48, false, 63);
	expect_note(2, 60, true, 63);
	expect_note(3, 60, false, 63);
	expect_note(4, 36, true, 63);
	expect_note(5, 36, false, 63);
}
END_TEST

START_TEST(octave_and_transpose_limits)
{
	for (int i = 0; i < 10; i++)
		tap(KEY_KPPLUS);
	ck_assert_int_eq(core.octave, KB_OCTAVE_MAX);
	tap(KEY_RIGHTBRACE);  /* G5 + 4 octaves = 127 */
	for (int i = 0; i < 3; i++)
		tap(KEY_RIGHT);
	tap(KEY_RIGHTBRACE);  /* 130: off the MIDI range, silent */
	ck_assert_uint_eq(n_log, 2);
	expect_note(0, 127, true, 63);
	for (int i = 0; i < 30; i++)
		tap(KEY_LEFT);
	ck_assert_int_eq(core.transpose, -KB_TRANSPOSE_MAX);
}
END_TEST

START_TEST(transpose_while_held)
{
	key(KEY_Q, 1);
	tap(KEY_RIGHT);
	tap(KEY_RIGHT);
	key(KEY_W, 1);
	key(KEY_Q, 0);
	key(KEY_W, 0);
	ck_assert_uint_eq(n_log, 4);
	expect_note(0, 60, true, 63);
	expect_note(1, 64, true, 63);
	expect_note(2, 60, false, 63);
	expect_note(3, 64, false, 63);
}
END_TEST

START_TEST(velocity_steps_and_clamps)
{
	tap(KEY_UP);
	tap(KEY_Z);
	expect_note(0, 48, true, 63 + KB_VELOCITY_STEP);
	expect_note(1, 48, false, 63 + KB_VELOCITY_STEP);
	for (int i = 0; i < 20; i++)
		tap(KEY_UP);
	ck_assert_int_eq(core.velocity, 127);
	for (int i = 0; i < 20; i++)
		tap(KEY_DOWN);
	ck_assert_int_eq(core.velocity, 1);
}
END_TEST

START_TEST(sustain_defers_note_offs)
{
	key(KEY_SPACE, 1);
	tap(KEY_Z);
	tap(KEY_X);
	key(KEY_C, 1);
	ck_assert_uint_eq(n_log, 4);
	expect_cc(0, 64, 127);
	expect_note(1, 48, true, 63);
	expect_note(2, 50, true, 63);
	expect_note(3, 52, true, 63);
	key(KEY_SPACE, 0);
	/* Pedal up: the released notes end; C, still held, keeps sounding. */
	ck_assert_uint_eq(n_log, 7);
	expect_cc(4, 64, 0);
	expect_note(5, 48, false, 63);
	expect_note(6, 50, false, 63);
	key(KEY_C, 0);
	expect_note(7, 52, false, 63);
	ck_assert_uint_eq(n_log, 8);
}
END_TEST

START_TEST(sustained_note_struck_again)
{
	key(KEY_SPACE, 1);
	tap(KEY_Z);
	key(KEY_Z, 1);
	ck_assert_uint_eq(n_log, 4);
	expect_note(1, 48, true, 63);
	expect_note(2, 48, false, 63);
	expect_note(3, 48, true, 63);
	key(KEY_SPACE, 0);
	key(KEY_Z, 0);
	expect_cc(4, 64, 0);
	expect_note(5, 48, false, 63);
	ck_assert_uint_eq(n_log, 6);
}
END_TEST

START_TEST(two_keys_one_note)
{
	/* Q and , are both C4 in the default layout. */
	key(KEY_Q, 1);
	key(KEY_COMMA, 1);
	key(KEY_Q, 0);
	ck_assert_uint_eq(n_log, 1);
	key(KEY_COMMA, 0);
	ck_assert_uint_eq(n_log, 2);
	expect_note(0, 60, true, 63);
	expect_note(1, 60, false, 63);
}
END_TEST

START_TEST(panic_releases_everything_once)
{
	key(KEY_SPACE, 1);
	tap(KEY_Z);
	key(KEY_X, 1);
	key(KEY_ESC, 1);
	ck_assert_uint_eq(n_log, 7);
	expect_note(3, 48, false, 63);
	expect_note(4, 50, false, 63);
	expect_cc(5, 64, 0);
	ck_assert_int_eq(log_[6].kind, A_PANIC);
	key(KEY_ESC, 0);
	key(KEY_X, 0);
	key(KEY_SPACE, 0);
	ck_assert_uint_eq(n_log, 7);
	tap(KEY_X);
	expect_note(7, 50, true, 63);
}
END_TEST

/* kkeyctl panic released everything behind the core's back: nothing is
 * played again for keys and pedal still down, and the next press sounds. */
START_TEST(forget_after_an_outside_panic)
{
	key(KEY_SPACE, 1);
	tap(KEY_Z);               /* sustained */
	key(KEY_X, 1);            /* held */
	ck_assert_uint_eq(n_log, 3);
	kb_core_forget(&core);
	ck_assert_uint_eq(n_log, 3);
	key(KEY_X, 0);
	key(KEY_SPACE, 0);
	ck_assert_uint_eq(n_log, 3);
	tap(KEY_Z);
	ck_assert_uint_eq(n_log, 5);
	expect_note(3, 48, true, 63);
	expect_note(4, 48, false, 63);
}
END_TEST

START_TEST(unplug_mid_chord)
{
	key(KEY_Z, 1);
	key(KEY_C, 1);
	key(KEY_B, 1);
	kb_core_release_all(&core, 99);
	ck_assert_uint_eq(n_log, 6);
	expect_note(3, 48, false, 63);
	expect_note(4, 52, false, 63);
	expect_note(5, 55, false, 63);
	ck_assert_uint_eq(log_[5].t, 99);
}
END_TEST

START_TEST(escape_combination)
{
	key(KEY_Z, 1);
	key(KEY_LEFTCTRL, 1);
	key(KEY_LEFTALT, 1);
	key(KEY_ESC, 1);
	ck_assert_uint_eq(n_log, 3);
	expect_note(1, 48, false, 63);
	ck_assert_int_eq(log_[2].kind, A_ESCAPE);   /* and no panic */
	key(KEY_ESC, 0);
	key(KEY_LEFTALT, 0);
	key(KEY_LEFTCTRL, 0);
	key(KEY_Z, 0);
	ck_assert_uint_eq(n_log, 3);
	/* Esc alone is still panic. */
	tap(KEY_ESC);
	ck_assert_int_eq(log_[3].kind, A_PANIC);
}
END_TEST

static int parse(const char *text, char *why)
{
	struct keymap m;

	why[0] = '\0';
	return keymap_parse(&m, text, why, 200);
}

START_TEST(keymap_errors_by_line)
{
	char why[200];

	ck_assert_int_eq(parse("# ok\nKEY_Z = C3\n\nKEY_BOGUS = 60\n", why), -EINVAL);
	ck_assert_str_eq(why, "4: unknown key 'KEY_BOGUS' (an evdev name such as KEY_Z, or a code 0..767)");
	ck_assert_int_eq(parse("KEY_Z = H4\n", why), -EINVAL);
	ck_assert_str_eq(why, "1: 'H4' is neither a note (0..127, C-1..G9) nor an action");
	ck_assert_int_eq(parse("KEY_Z = 60\nKEY_X = 61\nKEY_Z = 62", why), -EINVAL);
	ck_assert_str_eq(why, "3: key 'KEY_Z' is bound twice");
	ck_assert_int_eq(parse("\n\nKEY_Z 60\n", why), -EINVAL);
	ck_assert_str_eq(why, "3: expected 'KEY = NOTE or ACTION'");
	ck_assert_int_eq(parse("KEY_Z = 128\n", why), -EINVAL);
	ck_assert_int_eq(parse("KEY_Z = G#9\n", why), -EINVAL);
	ck_assert_int_eq(parse("KEY_Z = octave-sideways\n", why), -EINVAL);
	ck_assert_int_eq(parse("768 = 60\n", why), -EINVAL);
}
END_TEST

START_TEST(keymap_notes_and_comments)
{
	struct keymap m;
	char why[200];

	ck_assert_int_eq(keymap_parse(&m, "KEY_S = C#3   # black\n  44 = Db4\n"
				      "KEY_A = C-1 #\nKEY_B = G9\nKEY_C=panic", why, sizeof(why)), 0);
	ck_assert_int_eq(m.keys[KEY_S].note, 49);
	ck_assert_int_eq(m.keys[44].note, 61);          /* 44 is KEY_Z */
	ck_assert_int_eq(m.keys[KEY_A].note, 0);
	ck_assert_int_eq(m.keys[KEY_B].note, 127);
	ck_assert_int_eq(m.keys[KEY_C].action, KB_PANIC);
	ck_assert_int_eq(keymap_note_from_name("A4"), 69);
	ck_assert_int_eq(keymap_note_from_name("Cb4"), 59);
	ck_assert_int_eq(keymap_note_from_name("B#3"), 60);
	ck_assert_int_eq(keymap_note_from_name(""), -EINVAL);
}
END_TEST

START_TEST(keymap_files)
{
	struct keymap a, b;
	char why[400], path[] = "/tmp/ukd-keymap-XXXXXX";
	FILE *f;
	int fd;

	ck_assert_int_eq(keymap_load(&a, "/nonexistent/x.keymap", why, sizeof(why)), -ENOENT);
	ck_assert_str_eq(why, "/nonexistent/x.keymap: No such file or directory");
	/* The shipped file is what is built in. */
	ck_assert_int_eq(keymap_load(&a, UKD_SOURCE_ROOT "/data/keymaps/default.keymap", why, sizeof(why)), 0);
	ck_assert_int_eq(keymap_default(&b, why, sizeof(why)), 0);
	ck_assert_int_eq(memcmp(&a, &b, sizeof(a)), 0);

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("KEY_Z = C3\nKEY_X = Q\n", f);
	fclose(f);
	ck_assert_int_eq(keymap_load(&a, path, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, ":2: 'Q' is neither"));
	ck_assert_int_eq(strncmp(why, path, strlen(path)), 0);
	unlink(path);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("keyboard-core");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, default_layout_is_a_piano);
	tcase_add_test(tc, press_release_and_autorepeat);
	tcase_add_test(tc, octave_change_while_held_releases_the_pressed_note);
	tcase_add_test(tc, octave_and_transpose_limits);
	tcase_add_test(tc, transpose_while_held);
	tcase_add_test(tc, velocity_steps_and_clamps);
	tcase_add_test(tc, sustain_defers_note_offs);
	tcase_add_test(tc, sustained_note_struck_again);
	tcase_add_test(tc, two_keys_one_note);
	tcase_add_test(tc, panic_releases_everything_once);
	tcase_add_test(tc, forget_after_an_outside_panic);
	tcase_add_test(tc, unplug_mid_chord);
	tcase_add_test(tc, escape_combination);
	tcase_add_test(tc, keymap_errors_by_line);
	tcase_add_test(tc, keymap_notes_and_comments);
	tcase_add_test(tc, keymap_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(suite());
}
