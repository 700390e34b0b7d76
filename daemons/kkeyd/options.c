/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "options.h"
#include "smf.h"

static const char usage[] =
"Usage: kkeyd [--cuse | --fuse[=DIR]] [OPTIONS]\n"
"\n"
"The kkey MIDI keyboard in userspace: 128 nodes kkey000..kkey127, one per\n"
"MIDI note. Write '1' to a node to press its note, '0' to release it; read\n"
"any node to get a Standard MIDI File of everything played. Runs in the\n"
"foreground until SIGTERM or SIGINT, then removes its nodes.\n"
"\n"
"Front end:\n"
"      --cuse             real character devices /dev/kkeyNNN (needs root and\n"
"                         /dev/cuse: modprobe cuse). Default when /dev/cuse exists.\n"
"      --fuse[=DIR]       files DIR/kkeyNNN in a FUSE mount (default DIR\n"
"                         " KKEYD_MOUNTPOINT_DEFAULT "; created if missing and then removed at\n"
"                         exit). Needs only /dev/fuse.\n"
"\n"
"Recording:\n"
"  -k, --keep             reading does not clear the recording (the original\n"
"                         module's behaviour; clear with 'kkeyctl reset')\n"
"      --capacity=N       events held before writes fail with ENOSPC\n"
"                         (1..268435456, default 1048576)\n"
"      --velocity=N       note velocity 1..127 (default 63)\n"
"      --slowdown=N       play files N times slower, 1..32 (default 1 = real time)\n"
"      --channel=N        MIDI channel 1..16 (default 1)\n"
"      --mode=OCTAL       permissions of the nodes (default 0666)\n"
"\n"
"PCI key cards (docs/kkey-pci.md):\n"
"      --pci=DDDD:BB:DD.F a key card to take note events from (repeatable, up\n"
"                         to 16); waited for and re-opened when it comes and goes\n"
"      --pci-backend=uio|vfio|vfio-msi\n"
"                         uio: bound to the ukd_uio stub (default); vfio: bound\n"
"                         to vfio-pci, INTx; vfio-msi: vfio-pci with MSI\n"
"\n"
"General:\n"
"  -c, --config=FILE      configuration file (default " KKEYD_CONFIG_DEFAULT ",\n"
"                         read only if it exists); options given here win\n"
"  -v, --verbose          log debug messages\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Configuration file (INI):\n"
"  [kkeyd]\n"
"  frontend = auto|cuse|fuse   mountpoint = DIR    keep = yes|no\n"
"  capacity = N   velocity = N   slowdown = N   channel = N   mode = 0666\n"
"  pci = DDDD:BB:DD.F (one line per card)   pci-backend = uio|vfio|vfio-msi\n"
"\n"
"Exit status: 0 after a clean stop, 1 when the device cannot be served,\n"
"2 for a usage or configuration error. See docs/kkeyd.md.\n";

enum {
	OPT_CUSE = 0x100,
	OPT_FUSE,
	OPT_CAPACITY,
	OPT_VELOCITY,
	OPT_SLOWDOWN,
	OPT_CHANNEL,
	OPT_MODE,
	OPT_PCI,
	OPT_PCI_BACKEND,
};

static const struct option long_options[] = {
	{ "cuse", no_argument, NULL, OPT_CUSE },
	{ "fuse", optional_argument, NULL, OPT_FUSE },
	{ "keep", no_argument, NULL, 'k' },
	{ "capacity", required_argument, NULL, OPT_CAPACITY },
	{ "velocity", required_argument, NULL, OPT_VELOCITY },
	{ "slowdown", required_argument, NULL, OPT_SLOWDOWN },
	{ "channel", required_argument, NULL, OPT_CHANNEL },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "pci", required_argument, NULL, OPT_PCI },
	{ "pci-backend", required_argument, NULL, OPT_PCI_BACKEND },
	{ "config", required_argument, NULL, 'c' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{}
};

static int parse_uint(const char *s, int base, unsigned long min, unsigned long max,
		      unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on"))
		*ret = true;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int set_mountpoint(struct kkeyd_options *o, const char *dir)
{
	char *copy;

	if (!dir || !*dir)
		return -EINVAL;
	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	free(o->mountpoint);
	o->mountpoint = copy;
	return 0;
}

/* One setting, by name, from the config file or the command line. */
static int apply(struct kkeyd_options *o, const char *key, const char *value)
{
	unsigned long v;

	if (!strcmp(key, "frontend")) {
		int k = ukd_front_kind_from_string(value);

		if (k < 0)
			return k;
		o->frontend = (enum ukd_front_kind)k;
		return 0;
	}
	if (!strcmp(key, "mountpoint"))
		return set_mountpoint(o, value);
	if (!strcmp(key, "keep"))
		return parse_bool(value, &o->kkey.keep);
	if (!strcmp(key, "capacity")) {
		if (parse_uint(value, 10, 1, UKD_RECORDER_MAX_CAPACITY, &v) < 0)
			return -EINVAL;
		o->kkey.capacity = v;
		return 0;
	}
	if (!strcmp(key, "velocity")) {
		if (parse_uint(value, 10, 1, 127, &v) < 0)
			return -EINVAL;
		o->kkey.velocity = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "slowdown")) {
		if (parse_uint(value, 10, KKEY_SLOWDOWN_MIN, KKEY_SLOWDOWN_MAX, &v) < 0)
			return -EINVAL;
		o->kkey.slowdown = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "channel")) {
		if (parse_uint(value, 10, 1, 16, &v) < 0)
			return -EINVAL;
		o->kkey.channel = (uint8_t)(v - 1);
		return 0;
	}
	if (!strcmp(key, "mode")) {
		if (parse_uint(value, 8, 0, 0777, &v) < 0)
			return -EINVAL;
		o->kkey.mode = (mode_t)v;
		return 0;
	}
	if (!strcmp(key, "pci")) {
		if (o->n_pci >= KKEYD_PCI_MAX || ukd_pci_parse_addr(value, o->pci[o->n_pci]) < 0)
			return -EINVAL;
		o->n_pci++;
		return 0;
	}
	if (!strcmp(key, "pci-backend")) {
		o->pci_irq = strcmp(value, "vfio-msi") ? UKD_PCI_IRQ_INTX : UKD_PCI_IRQ_MSI;
		return ukd_pci_backend_from_name(o->pci_irq == UKD_PCI_IRQ_MSI ? "vfio" : value,
						 &o->pci_backend);
	}
	return -ENOENT;
}

struct ini_ctx {
	struct kkeyd_options *o;
	char why[160];   /* the first error; inih reports its line */
};

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	int r;

	if (strcmp(section, "kkeyd")) {
		snprintf(ctx->why, sizeof(ctx->why), "unknown section [%s] (expected [kkeyd])", section);
		return 0;
	}
	r = apply(ctx->o, name, value);
	if (r == -ENOENT)
		snprintf(ctx->why, sizeof(ctx->why), "unknown setting '%s'", name);
	else if (r < 0)
		snprintf(ctx->why, sizeof(ctx->why), "invalid value '%s' for %s", value, name);
	return r < 0 ? 0 : 1;
}

static int load_config(struct kkeyd_options *o, const char *path, bool must_exist)
{
	struct ini_ctx ctx = { .o = o };
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fprintf(stderr, "kkeyd: cannot read %s: %m\n", path);
		return -EINVAL;
	}
	r = ini_parse_file(f, config_handler, &ctx);
	fclose(f);
	if (r != 0) {
		fprintf(stderr, "kkeyd: %s:%d: %s\n", path, r, ctx.why[0] ? ctx.why : "syntax error");
		return -EINVAL;
	}
	return 0;
}

int kkeyd_options_parse(struct kkeyd_options *o, int argc, char **argv)
{
	const char *config = KKEYD_CONFIG_DEFAULT;
	bool config_given = false;
	int c, r;

	memset(o, 0, sizeof(*o));
	o->frontend = UKD_FRONT_AUTO;
	kkey_config_default(&o->kkey);
	if (set_mountpoint(o, KKEYD_MOUNTPOINT_DEFAULT) < 0)
		return -ENOMEM;

	/* Pass 1: what decides whether and which config file to read. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+kc:vhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("kkeyd (ukd) %s\n", UKD_VERSION);
			return 0;
		case 'c':
			config = optarg;
			config_given = true;
			break;
		case OPT_FUSE:
			/* Step over DIR of "--fuse DIR" as pass 2 will. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optind++;
			break;
		}
	}
	r = load_config(o, config, config_given);
	if (r < 0)
		return r;

	/* Pass 2: the command line overrides the file. */
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "+kc:vhV", long_options, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case OPT_CUSE:
			o->frontend = UKD_FRONT_CUSE;
			continue;
		case OPT_FUSE:
			o->frontend = UKD_FRONT_FUSE;
			/* --fuse DIR as well as --fuse=DIR */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (optarg && set_mountpoint(o, optarg) < 0)
				return -EINVAL;
			continue;
		case 'k':
			o->kkey.keep = true;
			continue;
		case 'v':
			o->verbose = true;
			continue;
		case 'c':
			continue;
		case OPT_CAPACITY:
			key = "capacity";
			break;
		case OPT_VELOCITY:
			key = "velocity";
			break;
		case OPT_SLOWDOWN:
			key = "slowdown";
			break;
		case OPT_CHANNEL:
			key = "channel";
			break;
		case OPT_MODE:
			key = "mode";
			break;
		case OPT_PCI:
			key = "pci";
			break;
		case OPT_PCI_BACKEND:
			key = "pci-backend";
			break;
		default:
			fprintf(stderr, "Try 'kkeyd --help' for more information.\n");
			return -EINVAL;
		}
		if (apply(o, key, optarg) < 0) {
			fprintf(stderr, "kkeyd: invalid value '%s' for --%s (see kkeyd --help)\n",
				optarg, key);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kkeyd: unexpected argument '%s'\nTry 'kkeyd --help' for more information.\n",
			argv[optind]);
		return -EINVAL;
	}
	return 1;
}

void kkeyd_options_done(struct kkeyd_options *o)
{
	free(o->mountpoint);
	o->mountpoint = NULL;
}
