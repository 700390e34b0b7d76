/* SPDX-License-Identifier: MIT */
/* kprngd's command line and configuration file (docs/kprngd.md). */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "device.h"
#include "front.h"

#define KPRNGD_CONFIG_DEFAULT "/etc/ukd/kprngd.conf"
#define KPRNGD_MOUNTPOINT_DEFAULT "/run/kprng"

struct kprngd_options {
	enum ukd_front_kind frontend;  /* UKD_FRONT_AUTO by default */
	char *mountpoint;
	char *name;
	struct kprng_config dev;   /* dev.name points into @name */
	int helper;                /* -1 auto (default), 0 no, 1 yes */
	bool verbose;
};

/**
 * kprngd_options_parse() - defaults, then the config file, then the command
 * line. Prints usage errors itself (this is program code).
 * Returns 1: run; 0: --help/--version done; -EINVAL: usage or config error.
 * Start from a zeroed @o; call kprngd_options_done() in every case.
 */
int kprngd_options_parse(struct kprngd_options *o, int argc, char **argv);

/**
 * kprngd_options_reload() - the same for a running daemon (SIGHUP), silent
 * but for one log line on failure. Returns 0 or -errno (the caller keeps
 * its settings).
 */
int kprngd_options_reload(struct kprngd_options *o, int argc, char **argv);

/** kprngd_options_done() - free and zero @o; accepts a zeroed @o. */
void kprngd_options_done(struct kprngd_options *o);
