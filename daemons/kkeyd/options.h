/* SPDX-License-Identifier: MIT */
/* kkeyd's settings: defaults, then the config file, then the command line. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "front.h"
#include "kkey.h"

#define KKEYD_CONFIG_DEFAULT "/etc/ukd/kkeyd.conf"
#define KKEYD_MOUNTPOINT_DEFAULT "/run/kkey"

struct kkeyd_options {
	enum ukd_front_kind frontend;  /* UKD_FRONT_AUTO by default */
	char *mountpoint;          /* FUSE */
	struct kkey_config kkey;
	char *state_dir;           /* the journal's directory; NULL: no journal */
	unsigned int commit_s;     /* fdatasync period; 0: after every write */
	bool verbose;
};

/**
 * kkeyd_options_parse() - fill @o from defaults, the config file and argv.
 * Returns 1 to run, 0 to exit successfully (--help, --version), or -EINVAL
 * after printing what is wrong to stderr (exit status 2).
 */
int kkeyd_options_parse(struct kkeyd_options *o, int argc, char **argv);

/**
 * kkeyd_options_reload() - the same for a running daemon (SIGHUP): @o gets
 * defaults, the config file read again, and argv over it.
 * Returns 0, or -errno after logging why (the caller keeps its settings).
 */
int kkeyd_options_reload(struct kkeyd_options *o, int argc, char **argv);

/** kkeyd_options_done() - free and zero @o; accepts a zeroed @o. */
void kkeyd_options_done(struct kkeyd_options *o);
