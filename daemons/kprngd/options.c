/* SPDX-License-Identifier: MIT */
/*
 * Options: every setting has one name, used both as the config-file key
 * ([kprngd] section, parsed by libinih) and by the command line, which is
 * applied after the file so that it wins.
 */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static int set_string(char **dst, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* One setting from either source. Returns 0 or -EINVAL (after a message). */
static int options_set(struct kprngd_options *o, const char *key, const char *value,
		       const char *where)
{
	int r;

	if (!strcmp(key, "frontend")) {
		r = ukd_front_kind_from_string(value);
		if (r < 0)
			goto bad;
		o->frontend = (enum ukd_front_kind)r;
	} else if (!strcmp(key, "mountpoint")) {
		if (!value[0])
			goto bad;
		if (set_string(&o->mountpoint, value) < 0)
			return -ENOMEM;
	} else if (!strcmp(key, "name")) {
		if (!ukd_chardev_name_valid(value))
			goto bad;
		if (set_string(&o->name, value) < 0)
			return -ENOMEM;
	} else if (!strcmp(key, "generator")) {
		r = ukd_prng_kind_from_string(value);
		if (r < 0)
			goto bad;
		o->dev.generator = (enum ukd_prng_kind)r;
	} else if (!strcmp(key, "seed")) {
		if (!strcmp(value, "random") || !value[0]) {
			o->dev.deterministic = false;
		} else {
			if (ukd_prng_seed_parse(value, o->dev.seed) < 0)
				goto bad;
			o->dev.deterministic = true;
		}
	} else if (!strcmp(key, "helper")) {
		if (!strcmp(value, "auto"))
			o->helper = -1;
		else if (!strcmp(value, "yes") || !strcmp(value, "true"))
			o->helper = 1;
		else if (!strcmp(value, "no") || !strcmp(value, "false"))
			o->helper = 0;
		else
			goto bad;
	} else if (!strcmp(key, "mode")) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (errno || end == value || *end || m > 07777)
			goto bad;
		o->dev.mode = (mode_t)m;
	} else {
		fprintf(stderr, "kprngd: %s: unknown setting \"%s\"\n", where, key);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "kprngd: %s: invalid %s \"%s\" (see kprngd --help)\n", where, key, value);
	return -EINVAL;
}

struct ini_ctx {
	struct kprngd_options *o;
	const char *path;
	int r;
};

static int config_line(void *user, const char *section, const char *key, const char *value)
{
	struct ini_ctx *c = user;
	int r;

	if (strcmp(section, "kprngd")) {
		fprintf(stderr, "kprngd: %s: unknown section [%s]\n", c->path, section);
		c->r = -EINVAL;
		return 0;
	}
	r = options_set(c->o, key, value, c->path);
	if (r < 0 && c->r == 0)
		c->r = r;
	return r < 0 ? 0 : 1;
}

static int load_config(struct kprngd_options *o, const char *path, bool required)
{
	struct ini_ctx c = { .o = o, .path = path };
	int r;

	if (!required && access(path, F_OK) < 0)
		return 0;
	r = ini_parse(path, config_line, &c);
	if (r == -1) {
		fprintf(stderr, "kprngd: cannot read %s: %m\n", path);
		return -EINVAL;
	}
	if (c.r < 0)
		return c.r;
	if (r != 0) {
		fprintf(stderr, "kprngd: %s:%d: syntax error\n", path, r);
		return -EINVAL;
	}
	return 0;
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
	       "      --helper WHEN     auto (default: yes with 2+ CPUs), yes or no: a\n"
	       "                        read-ahead thread generates the next chacha20 read\n"
	       "                        of 64 KiB or more while the current one is sent\n"
	       "  -v, --verbose         debug logging\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         version\n"
	       "\n"
	       "Config file (INI): a [kprngd] section with the keys frontend (auto, cuse,\n"
	       "fuse), mountpoint, generator, seed, name, mode, helper.\n"
	       "\n"
	       "Writing to the node mixes the bytes into the device key (SHA-256); the\n"
	       "change applies to open(2)s after the write. Control with kprngctl(1).\n"
	       "Exit status: 0 stopped by a signal, 1 failure, 2 usage or config error.\n"
	       "Full documentation: docs/kprngd.md.\n");
}

enum {
	OPT_CUSE = 0x100,
	OPT_FUSE,
	OPT_NAME,
	OPT_MODE,
	OPT_HELPER,
};

int kprngd_options_parse(struct kprngd_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cuse", no_argument, NULL, OPT_CUSE },
		{ "fuse", optional_argument, NULL, OPT_FUSE },
		{ "generator", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "helper", required_argument, NULL, OPT_HELPER },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	/* Command-line settings, applied after the config file. */
	struct { const char *key, *value; } set[32];
	size_t n_set = 0;
	const char *config = NULL;
	bool fuse_wants_dir = false;
	int c, r;

	memset(o, 0, sizeof(*o));
	o->frontend = UKD_FRONT_AUTO;
	o->dev.generator = UKD_PRNG_CHACHA20;
	o->dev.mode = 0666;
	o->helper = -1;
	if (set_string(&o->mountpoint, KPRNGD_MOUNTPOINT_DEFAULT) < 0 ||
	    set_string(&o->name, "kprng") < 0)
		return -ENOMEM;

#define CLI_SET(k, v)                                                   \
	do {                                                            \
		if (n_set == UKD_ARRAY_SIZE(set)) {                     \
			fprintf(stderr, "kprngd: too many options\n");  \
			return -EINVAL;                                 \
		}                                                       \
		set[n_set].key = (k);                                   \
		set[n_set++].value = (v);                               \
	} while (0)

	while ((c = getopt_long(argc, argv, "c:g:s:vhV", longopts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_CUSE:
			CLI_SET("frontend", "cuse");
			fuse_wants_dir = false;
			break;
		case OPT_FUSE:
			CLI_SET("frontend", "fuse");
			if (optarg)
				CLI_SET("mountpoint", optarg);
			fuse_wants_dir = !optarg;
			break;
		case 'g':
			CLI_SET("generator", optarg);
			break;
		case 's':
			CLI_SET("seed", optarg);
			break;
		case OPT_NAME:
			CLI_SET("name", optarg);
			break;
		case OPT_MODE:
			CLI_SET("mode", optarg);
			break;
		case OPT_HELPER:
			CLI_SET("helper", optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("kprngd %s\n", UKD_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'kprngd --help'.\n");
			return -EINVAL;
		}
	}
	/* "--fuse DIR": getopt only takes "--fuse=DIR" as the optional argument. */
	if (optind < argc && fuse_wants_dir)
		CLI_SET("mountpoint", argv[optind++]);
	if (optind < argc) {
		fprintf(stderr, "kprngd: unexpected argument \"%s\"\nTry 'kprngd --help'.\n",
			argv[optind]);
		return -EINVAL;
	}
#undef CLI_SET

	r = load_config(o, config ? config : KPRNGD_CONFIG_DEFAULT, config != NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_set; i++) {
		r = options_set(o, set[i].key, set[i].value, "command line");
		if (r < 0)
			return r;
	}
	o->dev.name = o->name;
	/* A helper thread can only pay with a second CPU to run on. */
	{
		cpu_set_t cpus;

		if (o->helper < 0)
			o->dev.helper = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 &&
					CPU_COUNT(&cpus) >= 2;
		else
			o->dev.helper = o->helper;
	}
	return 1;
}

void kprngd_options_done(struct kprngd_options *o)
{
	free(o->mountpoint);
	free(o->name);
	explicit_bzero(o, sizeof(*o));
}
