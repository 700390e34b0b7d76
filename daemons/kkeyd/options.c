/* SPDX-License-Identifier: MIT */
/*
 * kkeyd's settings through lib/config.h: each setting has one name, the
 * config-file key ([kkeyd] section) and the long option alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "pci-input.h"

static const char usage[] =
"Usage: kkeyd [--cuse | --fuse[=DIR]] [OPTIONS]\n"
"\n"
"The kkey MIDI keyboard in userspace: 128 nodes kkey000..kkey127, one per\n"
"MIDI note. Write '1' to a node to press its note, '0' to release it; read\n"
"any node to get a Standard MIDI File of everything played. Runs in the\n"
"foreground until SIGTERM or SIGINT, then removes its nodes. SIGHUP reads\n"
"the configuration again (the recording is kept).\n"
"\n"
"Front end:\n"
"      --cuse             real character devices /dev/kkeyNNN (needs root and\n"
"                         /dev/cuse: modprobe cuse). Default when /dev/cuse exists.\n"
"      --fuse[=DIR]       files DIR/kkeyNNN in a FUSE mount (default DIR\n"
"                         " KKEYD_MOUNTPOINT_DEFAULT "; created if missing and then removed at\n"
"                         exit). Needs only /dev/fuse.\n"
"      --node-dir=DIR     with --cuse: the nodes are /dev/DIR/kkeyNNN, so more\n"
"                         than one kkeyd can serve (e.g. kkey-pci/0000:00:03.0;\n"
"                         letters, digits, ._:@+- and '/', up to 64 bytes)\n"
"\n"
"Recording:\n"
"  -k, --keep[=BOOL]      reading does not clear the recording (the original\n"
"                         module's behaviour; clear with 'kkeyctl reset')\n"
"      --capacity=N       events held before writes fail with ENOSPC\n"
"                         (1..268435456, default 1048576)\n"
"      --velocity=N       note velocity 1..127 (default 63)\n"
"      --slowdown=N       play files N times slower, 1..32 (default 1 = real time)\n"
"      --channel=N        MIDI channel 1..16 (default 1)\n"
"      --mode=OCTAL       permissions of the nodes (default 0666)\n"
"\n"
"Crash journal (every acknowledged note survives kill -9 and a restart):\n"
"      --state-dir=DIR    keep the journal DIR/kkeyd.journal (default\n"
"                         $STATE_DIRECTORY, which systemd sets from\n"
"                         StateDirectory=; without it, or with an empty DIR,\n"
"                         no journal: a restart loses the recording)\n"
"      --commit=SECONDS   fdatasync the journal this often, bounding what a\n"
"                         power cut loses (0..3600, default 1; 0 = after\n"
"                         every write, slowest)\n"
"\n"
"Live output (ALSA sequencer, client \"kkey\"; docs/kkeyd.md):\n"
"      --seq=auto|on|off  send every press and release to the sequencer as it\n"
"                         happens. auto (default): when /dev/snd/seq exists;\n"
"                         on: no sequencer is an error (exit 1)\n"
"      --seq-connect=CLIENT:PORT\n"
"                         also subscribe this destination, by number (14:0) or\n"
"                         name (\"FLUID Synth\"); repeatable; restored within a\n"
"                         second when it is missing or its connection is removed\n"
"\n"
"Computer keyboards as a piano (none unless asked; docs/kkeyd-keyboards.md):\n"
"      --keyboard=MATCH   play from the keyboards MATCH names: an event node\n"
"                         (/dev/input/event3), a /dev/input/by-id or by-path\n"
"                         link, a device name glob (\"*Keychron*\"), or all.\n"
"                         Repeatable; matching keyboards plugged in later attach\n"
"      --keymap=FILE      which key plays which note (default: the built-in\n"
"                         vmpk-style layout, Z row from C3, Q row from C4)\n"
"      --grab[=BOOL]      take the keyboards exclusively (EVIOCGRAB): their keys\n"
"                         no longer reach other programs. Left Ctrl + Left Alt +\n"
"                         Esc releases the grab\n"
"\n"
"PCI key cards (docs/kkey-pci.md):\n"
"      --pci=DDDD:BB:DD.F a key card to take note events from (repeatable, up\n"
"                         to 16, added to the file's); waited for and re-opened\n"
"                         when it comes and goes\n"
"      --pci-backend=uio|vfio|vfio-msi\n"
"                         uio: bound to the ukd_uio stub (default); vfio: bound\n"
"                         to vfio-pci, INTx; vfio-msi: vfio-pci with MSI\n"
"      --pci-storm-limit=N\n"
"                         more than N interrupts without an event in one\n"
"                         second close the card for a second (1..1000000,\n"
"                         default 1000)\n"
"\n"
"General:\n"
"  -c, --config=FILE      configuration file (default " KKEYD_CONFIG_DEFAULT ",\n"
"                         read only if it exists); options given here win\n"
"  -v, --verbose          log debug messages\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Configuration file (INI), every key as the option of the same name:\n"
"  [kkeyd]\n"
"  frontend = auto|cuse|fuse   mountpoint = DIR   node-dir = DIR   keep = yes|no\n"
"  capacity = N   velocity = N   slowdown = N   channel = N   mode = 0666\n"
"  statedir = DIR   commit = SECONDS   verbose = yes|no\n"
"  seq = auto|on|off   seq-connect = CLIENT:PORT (one line each)\n"
"  keyboard = MATCH (one line each)   keymap = FILE   grab = yes|no\n"
"  pci = DDDD:BB:DD.F (a line per card)   pci-backend = uio|vfio|vfio-msi\n"
"  pci-storm-limit = N\n"
"Booleans: " UKD_BOOL_WORDS ", any case.\n"
"\n"
"Exit status: 0 after a clean stop, 1 when the device cannot be served (or\n"
"--seq=on finds no sequencer, or the keymap is wrong),\n"
"2 for a usage or configuration error. See docs/kkeyd.md.\n";

static const struct ukd_option options[] = {
	{ .name = "cuse", .flag_key = "frontend", .flag_value = "cuse" },
	{ .name = "fuse", .arg = UKD_ARG_OPTIONAL, .key = "mountpoint",
	  .flag_key = "frontend", .flag_value = "fuse" },
	{ .name = "node-dir", .arg = UKD_ARG_REQUIRED, .key = "node-dir" },
	{ .name = "keep", .short_name = 'k', .arg = UKD_ARG_OPTIONAL, .key = "keep",
	  .flag_key = "keep", .flag_value = "yes" },
	{ .name = "capacity", .arg = UKD_ARG_REQUIRED, .key = "capacity" },
	{ .name = "velocity", .arg = UKD_ARG_REQUIRED, .key = "velocity" },
	{ .name = "slowdown", .arg = UKD_ARG_REQUIRED, .key = "slowdown" },
	{ .name = "channel", .arg = UKD_ARG_REQUIRED, .key = "channel" },
	{ .name = "mode", .arg = UKD_ARG_REQUIRED, .key = "mode" },
	{ .name = "state-dir", .arg = UKD_ARG_REQUIRED, .key = "statedir" },
	{ .name = "commit", .arg = UKD_ARG_REQUIRED, .key = "commit" },
	{ .name = "verbose", .short_name = 'v', .flag_key = "verbose", .flag_value = "yes" },
	{ .name = "seq", .arg = UKD_ARG_REQUIRED, .key = "seq" },
	{ .name = "seq-connect", .arg = UKD_ARG_REQUIRED, .key = "seq-connect" },
	{ .name = "keyboard", .arg = UKD_ARG_REQUIRED, .key = "keyboard" },
	{ .name = "keymap", .arg = UKD_ARG_REQUIRED, .key = "keymap" },
	{ .name = "grab", .arg = UKD_ARG_OPTIONAL, .key = "grab", .flag_key = "grab", .flag_value = "yes" },
	{ .name = "pci", .arg = UKD_ARG_REQUIRED, .key = "pci" },
	{ .name = "pci-backend", .arg = UKD_ARG_REQUIRED, .key = "pci-backend" },
	{ .name = "pci-storm-limit", .arg = UKD_ARG_REQUIRED, .key = "pci-storm-limit" },
	{}
};

/* A repeatable setting: each occurrence adds one entry. */
static int append(struct ukd_config *cfg, const char *value, char ***v, size_t *n)
{
	char **grown;

	if (!*value)
		return ukd_config_fail(cfg, "expected a non-empty value");
	grown = realloc(*v, (*n + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	grown[*n] = strdup(value);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* One setting, by name, from the config file or the command line. */
static int set(struct ukd_config *cfg, const char *key, const char *value)
{
	struct kkeyd_options *o = cfg->userdata;
	uint64_t v;
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
	if (!strcmp(key, "node-dir")) {
		if (*value && !ukd_chardev_dir_valid(value))
			return ukd_config_fail(cfg, "expected a relative path of up to 64 bytes: "
					       "letters, digits, ._:@+- and single '/', no . or ..");
		snprintf(o->node_dir, sizeof(o->node_dir), "%s", value);
		return 0;
	}
	if (!strcmp(key, "keep"))
		return ukd_config_bool(cfg, value, &o->kkey.keep);
	if (!strcmp(key, "verbose"))
		return ukd_config_bool(cfg, value, &o->verbose);
	if (!strcmp(key, "mode"))
		return ukd_config_mode(cfg, value, &o->kkey.mode);
	if (!strcmp(key, "statedir")) {
		if (*value)
			return ukd_config_string(cfg, value, &o->state_dir);
		free(o->state_dir);     /* empty: no journal */
		o->state_dir = NULL;
		return 0;
	}
	if (!strcmp(key, "commit")) {
		r = ukd_config_uint(cfg, value, 0, 3600, &v);
		if (r == 0)
			o->commit_s = (unsigned int)v;
		return r;
	}
	if (!strcmp(key, "seq")) {
		static const char *const modes[] = { "auto", "on", "off" };   /* enum seq_mode */

		for (int i = 0; i < 3; i++)
			if (!strcmp(value, modes[i]))
				return o->seq_mode = i, 0;
		return ukd_config_fail(cfg, "expected auto, on or off");
	}
	if (!strcmp(key, "seq-connect"))
		return append(cfg, value, &o->seq_connect, &o->n_seq_connect);
	if (!strcmp(key, "keyboard"))
		return append(cfg, value, &o->keyboards, &o->n_keyboards);
	if (!strcmp(key, "keymap"))
		return ukd_config_string(cfg, value, &o->keymap);
	if (!strcmp(key, "grab"))
		return ukd_config_bool(cfg, value, &o->grab);
	if (!strcmp(key, "capacity")) {
		r = ukd_config_uint(cfg, value, 1, UKD_RECORDER_MAX_CAPACITY, &v);
		if (r == 0)
			o->kkey.capacity = (size_t)v;
		return r;
	}
	if (!strcmp(key, "velocity")) {
		r = ukd_config_uint(cfg, value, 1, 127, &v);
		if (r == 0)
			o->kkey.velocity = (uint32_t)v;
		return r;
	}
	if (!strcmp(key, "slowdown")) {
		r = ukd_config_uint(cfg, value, KKEY_SLOWDOWN_MIN, KKEY_SLOWDOWN_MAX, &v);
		if (r == 0)
			o->kkey.slowdown = (uint32_t)v;
		return r;
	}
	if (!strcmp(key, "channel")) {
		r = ukd_config_uint(cfg, value, 1, 16, &v);
		if (r == 0)
			o->kkey.channel = (uint8_t)(v - 1);
		return r;
	}
	if (!strcmp(key, "pci")) {
		if (o->n_pci >= KKEYD_PCI_MAX)
			return ukd_config_fail(cfg, "at most 16 cards");
		if (ukd_pci_parse_addr(value, o->pci[o->n_pci]) < 0)
			return ukd_config_fail(cfg, "expected a PCI address DDDD:BB:DD.F");
		o->n_pci++;
		return 0;
	}
	if (!strcmp(key, "pci-backend")) {
		bool msi = !strcmp(value, "vfio-msi");

		if (ukd_pci_backend_from_name(msi ? "vfio" : value, &o->pci_backend) < 0)
			return ukd_config_fail(cfg, "expected uio, vfio or vfio-msi");
		o->pci_irq = msi ? UKD_PCI_IRQ_MSI : UKD_PCI_IRQ_INTX;
		return 0;
	}
	if (!strcmp(key, "pci-storm-limit")) {
		r = ukd_config_uint(cfg, value, 1, PCI_STORM_LIMIT_MAX, &v);
		if (r == 0)
			o->pci_storm_limit = (unsigned int)v;
		return r;
	}
	return -ENOENT;
}

/* Defaults, the file, the command line. Returns what ukd_config_parse()
 * does, with @error saying why on -EINVAL. */
static int parse(struct kkeyd_options *o, int argc, char **argv, char *error, size_t size)
{
	struct ukd_config cfg = {
		.program = "kkeyd",
		.default_path = KKEYD_CONFIG_DEFAULT,
		.options = options,
		.set = set,
		.userdata = o,
	};
	const char *state_directory = getenv("STATE_DIRECTORY");
	int r;

	kkeyd_options_done(o);
	o->frontend = UKD_FRONT_AUTO;
	kkey_config_default(&o->kkey);
	o->mountpoint = strdup(KKEYD_MOUNTPOINT_DEFAULT);
	if (!o->mountpoint)
		return -ENOMEM;
	o->commit_s = 1;
	o->pci_storm_limit = PCI_STORM_LIMIT_DEFAULT;
	/* systemd's StateDirectory=: a ':'-separated list, the first is ours. */
	if (state_directory && strcspn(state_directory, ":") > 0 &&
	    !(o->state_dir = strndup(state_directory, strcspn(state_directory, ":"))))
		return -ENOMEM;
	r = ukd_config_parse(&cfg, argc, argv);
	ukd_config_done(&cfg);
	if (r < 0)
		snprintf(error, size, "%s", r == -EINVAL ? cfg.error : strerror(-r));
	return r;
}

int kkeyd_options_parse(struct kkeyd_options *o, int argc, char **argv)
{
	char error[sizeof(((struct ukd_config *)0)->error)];
	int r = parse(o, argc, argv, error, sizeof(error));

	switch (r) {
	case UKD_CONFIG_HELP:
		fputs(usage, stdout);
		return 0;
	case UKD_CONFIG_VERSION:
		printf("kkeyd (ukd) %s\n", UKD_VERSION);
		return 0;
	case UKD_CONFIG_RUN:
		return 1;
	case -EINVAL:
		fprintf(stderr, "kkeyd: %s\nTry 'kkeyd --help' for more information.\n", error);
		return r;
	default:
		fprintf(stderr, "kkeyd: %s\n", error);
		return r;
	}
}

int kkeyd_options_reload(struct kkeyd_options *o, int argc, char **argv)
{
	char error[sizeof(((struct ukd_config *)0)->error)];
	int r = parse(o, argc, argv, error, sizeof(error));

	if (r < 0)
		return ukd_log_errno(LOG_ERR, r, "reload: %s; keeping the running settings", error);
	return 0;
}

void kkeyd_options_done(struct kkeyd_options *o)
{
	for (size_t i = 0; i < o->n_seq_connect; i++)
		free(o->seq_connect[i]);
	for (size_t i = 0; i < o->n_keyboards; i++)
		free(o->keyboards[i]);
	free(o->seq_connect);
	free(o->keyboards);
	free(o->keymap);
	free(o->mountpoint);
	free(o->state_dir);
	*o = (struct kkeyd_options){};
}
