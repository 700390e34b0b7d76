/* SPDX-License-Identifier: MIT */
/*
 * kprngd's settings through lib/config.h: every setting has one name, the
 * config-file key ([kprngd] section) and the long option alike; the
 * command line is applied after the file, so that it wins.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

static const struct ukd_option options[] = {
	{ .name = "cuse", .flag_key = "frontend", .flag_value = "cuse" },
	{ .name = "fuse", .arg = UKD_ARG_OPTIONAL, .key = "mountpoint",
	  .flag_key = "frontend", .flag_value = "fuse" },
	{ .name = "generator", .short_name = 'g', .arg = UKD_ARG_REQUIRED, .key = "generator" },
	{ .name = "seed", .short_name = 's', .arg = UKD_ARG_REQUIRED, .key = "seed" },
	{ .name = "name", .arg = UKD_ARG_REQUIRED, .key = "name" },
	{ .name = "mode", .arg = UKD_ARG_REQUIRED, .key = "mode" },
	{ .name = "helper", .arg = UKD_ARG_REQUIRED, .key = "helper" },
	{ .name = "verbose", .short_name = 'v', .flag_key = "verbose", .flag_value = "yes" },
	{}
};

/* One setting from either source. */
static int set(struct ukd_config *cfg, const char *key, const char *value)
{
	struct kprngd_options *o = cfg->userdata;
	bool b;
	int r;

	if (!strcmp(key, "frontend")) {
		r = ukd_front_kind_from_string(value);
		if (r < 0)
			return ukd_config_fail(cfg, "expected auto, cuse or fuse");
		o->frontend = (enum ukd_front_kind)r;
		return 0;
	}
	if (!strcmp(key, "mountpoint"))
		return ukd_config_string(cfg, value, &o->mountpoint);
	if (!strcmp(key, "name")) {
		if (!ukd_chardev_name_valid(value))
			return ukd_config_fail(cfg, "expected a node name (letters, digits, '-', '_')");
		return ukd_config_string(cfg, value, &o->name);
	}
	if (!strcmp(key, "generator")) {
		r = ukd_prng_kind_from_string(value);
		if (r < 0)
			return ukd_config_fail(cfg, "expected chacha20 or xoshiro");
		o->dev.generator = (enum ukd_prng_kind)r;
		return 0;
	}
	if (!strcmp(key, "seed")) {
		if (!strcmp(value, "random") || !value[0]) {
			o->dev.deterministic = false;
			return 0;
		}
		if (ukd_prng_seed_parse(value, o->dev.seed) < 0)
			return ukd_config_fail(cfg, "expected \"random\", an integer < 2^64 or 64 hex digits");
		o->dev.deterministic = true;
		return 0;
	}
	if (!strcmp(key, "helper")) {
		if (!strcmp(value, "auto")) {
			o->helper = -1;
			return 0;
		}
		if (ukd_parse_bool(value, &b) < 0)
			return ukd_config_fail(cfg, "expected auto or a boolean (" UKD_BOOL_WORDS ")");
		o->helper = b;
		return 0;
	}
	if (!strcmp(key, "mode"))
		return ukd_config_mode(cfg, value, &o->dev.mode);
	if (!strcmp(key, "verbose"))
		return ukd_config_bool(cfg, value, &o->verbose);
	return -ENOENT;
}

static void help(void)
{
	printf("Usage: kprngd [--cuse | --fuse[=DIR]] [OPTION...]\n"
	       "\n"
	       "Serve the pseudo-random character device kprng: /dev/kprng through CUSE,\n"
	       "or DIR/kprng in a FUSE mount. Every open(2) reads its own stream. Runs in\n"
	       "the foreground until SIGTERM or SIGINT, then removes the node or unmounts.\n"
	       "\n"
	       "  -c, --config FILE     configuration file (default " KPRNGD_CONFIG_DEFAULT
	       "\n"
	       "                        if it exists); the command line overrides it\n"
	       "      --cuse            serve /dev/NAME through CUSE (the default when\n"
	       "                        /dev/cuse exists)\n"
	       "      --fuse[=DIR]      serve DIR/NAME through FUSE (default DIR " KPRNGD_MOUNTPOINT_DEFAULT ",\n"
	       "                        created if missing); \"--fuse DIR\" works too\n"
	       "  -g, --generator GEN   chacha20 (default: ChaCha20 keystream, secure) or\n"
	       "                        xoshiro (8 xoshiro256** lanes: faster, NOT secure)\n"
	       "  -s, --seed SEED       deterministic mode: every open(2) reads the same\n"
	       "                        stream, the generator keyed by SEED, from the start.\n"
	       "                        SEED is an integer < 2^64 (decimal or 0x hex) or\n"
	       "                        exactly 64 hex digits (the 32-byte key); \"random\"\n"
	       "                        (the default) keys every open from getrandom(2)\n"
	       "      --name NAME       node name (default kprng)\n"
	       "      --mode OCTAL      node permissions (default 0666); changing the\n"
	       "                        device by ioctl needs a file open for writing\n"
	       "      --helper WHEN     auto (default: yes with 2+ CPUs), or a boolean: a\n"
	       "                        read-ahead thread generates the next chacha20 read\n"
	       "                        of 64 KiB or more while the current one is sent\n"
	       "  -v, --verbose         debug logging\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         version\n"
	       "\n"
	       "Config file (INI): a [kprngd] section with the keys frontend (auto, cuse,\n"
	       "fuse), mountpoint, generator, seed, name, mode, helper, verbose; each\n"
	       "as the option of the same name. Booleans: " UKD_BOOL_WORDS ".\n"
	       "SIGHUP reads the file again: generator and seed apply to later opens\n"
	       "(a seed only when the file's seed changed, so that a seed set by ioctl\n"
	       "stays); the other keys need a restart.\n"
	       "\n"
	       "Writing to the node mixes the bytes into the device key (SHA-256); the\n"
	       "change applies to open(2)s after the write. Control with kprngctl(1).\n"
	       "Exit status: 0 stopped by a signal, 1 failure, 2 usage or config error.\n"
	       "Full documentation: docs/kprngd.md.\n");
}

/* Defaults, the file, the command line. Returns what ukd_config_parse()
 * does, with @error saying why when it fails. */
static int parse(struct kprngd_options *o, int argc, char **argv, char *error, size_t size)
{
	struct ukd_config cfg = {
		.program = "kprngd",
		.default_path = KPRNGD_CONFIG_DEFAULT,
		.options = options,
		.set = set,
		.userdata = o,
	};
	cpu_set_t cpus;
	int r;

	kprngd_options_done(o);
	o->frontend = UKD_FRONT_AUTO;
	o->dev.generator = UKD_PRNG_CHACHA20;
	o->dev.mode = 0666;
	o->helper = -1;
	o->mountpoint = strdup(KPRNGD_MOUNTPOINT_DEFAULT);
	o->name = strdup("kprng");
	if (!o->mountpoint || !o->name)
		return -ENOMEM;
	r = ukd_config_parse(&cfg, argc, argv);
	ukd_config_done(&cfg);
	if (r < 0) {
		snprintf(error, size, "%s", r == -EINVAL ? cfg.error : strerror(-r));
		return r;
	}
	o->dev.name = o->name;
	/* A helper thread can only pay with a second CPU to run on. */
	if (o->helper < 0)
		o->dev.helper = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) >= 2;
	else
		o->dev.helper = o->helper;
	return r;
}

int kprngd_options_parse(struct kprngd_options *o, int argc, char **argv)
{
	char error[sizeof(((struct ukd_config *)0)->error)];
	int r = parse(o, argc, argv, error, sizeof(error));

	switch (r) {
	case UKD_CONFIG_HELP:
		help();
		return 0;
	case UKD_CONFIG_VERSION:
		printf("kprngd %s\n", UKD_VERSION);
		return 0;
	case UKD_CONFIG_RUN:
		return 1;
	case -EINVAL:
		fprintf(stderr, "kprngd: %s\nTry 'kprngd --help'.\n", error);
		return r;
	default:
		fprintf(stderr, "kprngd: %s\n", error);
		return r;
	}
}

int kprngd_options_reload(struct kprngd_options *o, int argc, char **argv)
{
	char error[sizeof(((struct ukd_config *)0)->error)];
	int r = parse(o, argc, argv, error, sizeof(error));

	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "reload: %s; keeping the running settings", error);
	return 0;
}

void kprngd_options_done(struct kprngd_options *o)
{
	free(o->mountpoint);
	free(o->name);
	explicit_bzero(o, sizeof(*o));
}
