/* SPDX-License-Identifier: MIT */
/*
 * libukd never prints. It reports through a hook the program installs
 * (libevdev's model); without a hook, messages are dropped.
 * Levels are syslog/journald levels (LOG_ERR ... LOG_DEBUG).
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

typedef void (*ukd_log_fn)(int level, const char *fmt, va_list ap, void *userdata);

/**
 * ukd_log_set_hook() - route libukd's messages to @fn.
 * @fn: called for every message at or below @max_level; NULL drops them.
 * @max_level: the most verbose level passed on (e.g. LOG_INFO).
 * @userdata: passed back to @fn unchanged.
 */
void ukd_log_set_hook(ukd_log_fn fn, int max_level, void *userdata);

/** ukd_log() - used by libukd itself; returns nothing, costs one compare when off. */
void ukd_log(int level, const char *fmt, ...) _printf_(2, 3);

/**
 * ukd_log_errno() - for program code: log @fmt at @level with errno set to
 * -@err, so that "%m" names the error, and return @err (negative), so that
 * a caller logs and fails in one statement, once, where it decides:
 *
 *	if (r < 0)
 *		return ukd_log_errno(LOG_ERR, r, "cannot serve %s: %m", name);
 *
 * Libraries do not call it: they return -errno and stay silent.
 */
int ukd_log_errno(int level, int err, const char *fmt, ...) _printf_(3, 4);

/**
 * ukd_log_stderr() - a ready-made hook for daemons and tools: one line per
 * message on stderr, prefixed with "<N>" when stderr is the journal
 * ($JOURNAL_STREAM), so journald keeps the level.
 * @userdata: the program name (const char *), or NULL.
 */
void ukd_log_stderr(int level, const char *fmt, va_list ap, void *userdata);
