/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static ukd_log_fn log_fn;
static int log_max = LOG_INFO;
static void *log_userdata;

void ukd_log_set_hook(ukd_log_fn fn, int max_level, void *userdata)
{
	log_fn = fn;
	log_max = max_level;
	log_userdata = userdata;
}

void ukd_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (!log_fn || level > log_max)
		return;
	va_start(ap, fmt);
	log_fn(level, fmt, ap, log_userdata);
	va_end(ap);
}

int ukd_log_errno(int level, int err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_fn && level <= log_max) {
		errno = err < 0 ? -err : err;
		va_start(ap, fmt);
		log_fn(level, fmt, ap, log_userdata);
		va_end(ap);
		errno = saved;
	}
	return err < 0 ? err : -err;
}

void ukd_log_stderr(int level, const char *fmt, va_list ap, void *userdata)
{
	static int to_journal = -1;
	char line[1024];
	int saved = errno;

	if (to_journal < 0)
		to_journal = getenv("JOURNAL_STREAM") != NULL;
	errno = saved; /* keep %m meaningful */
	vsnprintf(line, sizeof(line), fmt, ap);
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else if (userdata)
		fprintf(stderr, "%s: %s\n", (const char *)userdata, line);
	else
		fprintf(stderr, "%s\n", line);
}
