/* SPDX-License-Identifier: MIT */
/*
 * Ask the independent Python reference (prng_ref.py, run with Debian's
 * /usr/bin/python3 as meson passes in $PYTHON3 and $KPRNG_REF) for expected
 * bytes, so that no expected value is our own output copied back.
 */
#pragma once

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs "prng_ref.py ARGS" and returns its first line (malloc'ed hex), or
 * fails the test. Skips (returns NULL) only when meson found no python3. */
static inline char *ref_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *ref_run(const char *fmt, ...)
{
	const char *py = getenv("PYTHON3"), *script = getenv("KPRNG_REF");
	char args[2048], cmd[4096];
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	va_list ap;
	FILE *f;

	if (!py || !*py || !script) {
		fprintf(stderr, "no python3: reference comparison skipped\n");
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' '%s' %s", py, script, args);
	f = popen(cmd, "r");
	ck_assert_msg(f, "popen %s", cmd);
	n = getline(&line, &cap, f);
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_msg(n > 0, "no output from %s", cmd);
	if (line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static inline char *to_hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * n] = '\0';
	return s;
}

static inline void from_hex(const char *hex, uint8_t *p, size_t n)
{
	ck_assert_uint_eq(strlen(hex), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		p[i] = (uint8_t)v;
	}
}

/* @got (n bytes) equals the reference's hex output for ARGS. */
#define ck_assert_ref(got, n, ...)                                       \
	do {                                                             \
		char *_want = ref_run(__VA_ARGS__);                      \
		if (_want) {                                             \
			char *_got = to_hex((got), (n));                 \
			ck_assert_str_eq(_got, _want);                   \
			free(_got);                                      \
			free(_want);                                     \
		}                                                        \
	} while (0)
