/* SPDX-License-Identifier: MIT */
/*
 * Settings for every ukd daemon, in one shape: defaults, then an INI file
 * (libinih; a [PROGRAM] section), then the command line, which wins.
 *
 * Every setting has one name, used both as the config-file key and (for
 * most) as the long option: `velocity = 90` in the file is `--velocity=90`
 * on the command line. A program describes its options in a table and
 * applies one setting at a time in a set() callback, using the typed
 * parsers below; this module does the file, the two getopt passes and the
 * error messages, which name the file and line (or the option), the key,
 * the value and what would have been accepted:
 *
 *   /etc/ukd/kkeyd.conf:3: velocity = 200: expected an integer 1..127
 *   --keep=maybe: expected a boolean (yes/no, true/false, on/off, 1/0)
 *
 * Booleans are the same everywhere: yes/no, true/false, on/off, 1/0,
 * case-insensitive.
 *
 * Floor: core (see lib/README.md). Silent: messages go to @error, the
 * program prints them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum ukd_option_arg {
	UKD_ARG_NONE,       /* --keep */
	UKD_ARG_REQUIRED,   /* --velocity=N or --velocity N */
	UKD_ARG_OPTIONAL,   /* --fuse or --fuse=DIR or --fuse DIR */
};

/* One command-line option. The table ends with an entry whose name is NULL. */
struct ukd_option {
	const char *name;         /* the long option, without "--" */
	int short_name;           /* 'k' for -k; 0 for none */
	enum ukd_option_arg arg;
	const char *key;          /* the setting its argument sets (NULL: none) */
	/* Set as well whenever the option is given, e.g. --cuse sets
	 * frontend=cuse, --keep sets keep=yes; NULL: nothing. */
	const char *flag_key;
	const char *flag_value;
};

struct ukd_config;

/*
 * Apply one setting. Returns 0; -ENOENT for a key it does not know;
 * -EINVAL or -ERANGE for a bad value, after describing what is accepted
 * with ukd_config_fail() (the typed parsers below do that themselves);
 * -ENOMEM.
 */
typedef int (*ukd_config_set_fn)(struct ukd_config *cfg, const char *key, const char *value);

struct ukd_config {
	const char *program;              /* INI section and message prefix */
	const char *default_path;         /* read when it exists; -c FILE must exist */
	const struct ukd_option *options; /* besides -c/--config, -h/--help, -V/--version */
	ukd_config_set_fn set;
	void *userdata;                   /* for set() */
	/* Out: the config file that was read, or NULL (owned; ukd_config_done()). */
	char *path;
	/* Out: why the last call failed, one line without the program name. */
	char error[320];
	/* Internal: where the setting being applied comes from. */
	const char *where;
	unsigned int line;
};

enum {
	UKD_CONFIG_RUN = 1,    /* go on */
	UKD_CONFIG_HELP = 2,   /* -h/--help: print the usage, exit 0 */
	UKD_CONFIG_VERSION = 3 /* -V/--version: print the version, exit 0 */
};

/**
 * ukd_config_parse() - the config file (-c FILE, else @cfg->default_path if
 * it exists), then @argv over it. @argv is not changed.
 * Returns UKD_CONFIG_RUN, UKD_CONFIG_HELP or UKD_CONFIG_VERSION; or -EINVAL
 * (a usage or configuration error, described in @cfg->error) or -ENOMEM.
 * Call again (after resetting the program's settings to their defaults)
 * to reload: the file is read again and the command line still wins.
 */
int ukd_config_parse(struct ukd_config *cfg, int argc, char **argv);

/**
 * ukd_config_load() - apply the [program] section of the INI file @path.
 * @must_exist: false lets a missing file count as empty.
 * Returns 0, or -EINVAL/-ENOMEM with @cfg->error naming the file and line.
 */
int ukd_config_load(struct ukd_config *cfg, const char *path, bool must_exist);

/** ukd_config_done() - free what parsing kept. Accepts a zeroed @cfg. */
void ukd_config_done(struct ukd_config *cfg);

/**
 * ukd_config_fail() - for set(): say what a key accepts ("expected ...").
 * Returns -EINVAL, to be returned by set().
 */
int ukd_config_fail(struct ukd_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Typed parsers for set(). Each writes *ret only on success and returns
 * 0, or -EINVAL after ukd_config_fail() with what it accepts.
 */
int ukd_config_bool(struct ukd_config *cfg, const char *value, bool *ret);
/* Decimal, or hexadecimal with 0x; min..max inclusive. */
int ukd_config_uint(struct ukd_config *cfg, const char *value, uint64_t min, uint64_t max,
		    uint64_t *ret);
/* An octal permission mode, at most 07777. */
int ukd_config_mode(struct ukd_config *cfg, const char *value, mode_t *ret);
/* A non-empty string; *ret is freed and replaced by a copy. */
int ukd_config_string(struct ukd_config *cfg, const char *value, char **ret);

/*
 * The same parsers for code that has no struct ukd_config (e.g. kvfsd's
 * -o options, which libfuse hands over one at a time). 0 or -EINVAL/-ERANGE.
 */
int ukd_parse_bool(const char *s, bool *ret);
int ukd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int ukd_parse_mode(const char *s, mode_t *ret);

/* The words ukd_parse_bool() accepts, for messages and --help. */
#define UKD_BOOL_WORDS "yes/no, true/false, on/off, 1/0"
