/* SPDX-License-Identifier: MIT */
/* kkeyctl: control a running kkeyd and read its MIDI files. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "smf.h"
#include "ukd/kkey.h"

#define MIDI_FILE_MAX (256u << 20)

static const char usage[] =
"Usage: kkeyctl [-d NODE] COMMAND [ARG]\n"
"\n"
"Control the kkey MIDI keyboard served by kkeyd, or show a MIDI file.\n"
"\n"
"Commands:\n"
"  reset              clear the recording (KKEY_IOC_RESET)\n"
"  status             events recorded, capacity, velocity, slowdown, held notes\n"
"  velocity [N]       show, or set to N (1..127), the velocity of new events\n"
"  slowdown [N]       show, or set to N (1..32), the playback slowdown of new files\n"
"  dump FILE.mid      list the events of a Standard MIDI File, one per line:\n"
"                     seconds, tick, event, note (name and number), velocity\n"
"\n"
"Options:\n"
"  -d, --device=NODE  any kkey node (default /dev/kkey000, else /run/kkey/kkey000)\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"Exit status: 0 on success, 1 on failure, 2 for a usage error.\n";

static const char *default_node(void)
{
	if (access("/dev/kkey000", F_OK) == 0)
		return "/dev/kkey000";
	return "/run/kkey/kkey000";
}

static int open_node(const char *node)
{
	int fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		fprintf(stderr, "kkeyctl: %s: %m (is kkeyd running?)\n", node);
	return fd;
}

static int do_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg) < 0) {
		fprintf(stderr, "kkeyctl: %s: %m\n", what);
		return -1;
	}
	return 0;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *s == '-' || errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int cmd_value(int fd, const char *name, const char *arg, unsigned long get,
		     unsigned long set, uint32_t min, uint32_t max)
{
	uint32_t v;

	if (arg) {
		if (parse_u32(arg, min, max, &v) < 0) {
			fprintf(stderr, "kkeyctl: %s must be %u..%u, not '%s'\n", name, min, max, arg);
			return 2;
		}
		return do_ioctl(fd, set, &v, name) < 0 ? 1 : 0;
	}
	if (do_ioctl(fd, get, &v, name) < 0)
		return 1;
	printf("%u\n", v);
	return 0;
}

static int cmd_status(int fd)
{
	struct kkey_status st;

	if (do_ioctl(fd, KKEY_IOC_GET_STATUS, &st, "status") < 0)
		return 1;
	printf("events:   %llu\n", (unsigned long long)st.events);
	printf("capacity: %llu\n", (unsigned long long)st.capacity);
	printf("velocity: %u\n", st.velocity);
	printf("slowdown: %u\n", st.slowdown);
	printf("held:     %u\n", st.held);
	printf("read:     %s\n", st.flags & KKEY_STATUS_KEEP ? "keeps the recording" : "clears the recording");
	return 0;
}

struct dump_ctx {
	unsigned int division;
	uint32_t tempo;         /* us per quarter; SMF 1.0 default 120 bpm */
	uint64_t last_tick;
	double seconds;         /* at last_tick */
};

static void note_name(uint8_t note, char out[8])
{
	static const char *const names[] = { "C", "C#", "D", "D#", "E", "F",
					     "F#", "G", "G#", "A", "A#", "B" };

	/* MIDI 60 = C4 (scientific pitch notation) */
	snprintf(out, 8, "%s%d", names[note % 12], note / 12 - 1);
}

static int dump_event(const struct ukd_smf_event *ev, void *userdata)
{
	struct dump_ctx *d = userdata;
	char name[8];

	if (d->division & 0x8000) {
		/* SMPTE: -fps in the high byte, ticks per frame in the low byte */
		d->seconds = (double)ev->tick / ((double)(256 - (d->division >> 8)) * (d->division & 0xff));
	} else {
		d->seconds += (double)(ev->tick - d->last_tick) * d->tempo / 1e6 / d->division;
		d->last_tick = ev->tick;
	}
	printf("%10.4f %10llu  ", d->seconds, (unsigned long long)ev->tick);
	switch (ev->status & 0xf0) {
	case 0x80:
	case 0x90:
		note_name(ev->data[0], name);
		printf("%-9s ch%-2u %-4s (%3u) vel %u\n",
		       (ev->status & 0xf0) == 0x90 && ev->data[1] ? "note-on" : "note-off",
		       (ev->status & 0x0f) + 1, name, ev->data[0], ev->data[1]);
		return 0;
	case 0xf0:
		break;
	default:
		printf("channel   ch%-2u status 0x%02x data %u %u\n", (ev->status & 0x0f) + 1,
		       ev->status, ev->data[0], ev->data[1]);
		return 0;
	}
	if (ev->status != 0xff) {
		printf("sysex     %u bytes\n", ev->payload_len);
		return 0;
	}
	switch (ev->meta_type) {
	case 0x51:
		if (ev->payload_len == 3) {
			d->tempo = (uint32_t)ev->payload[0] << 16 | ev->payload[1] << 8 | ev->payload[2];
			printf("tempo     %u us/quarter (%.2f bpm)\n", d->tempo, 60e6 / d->tempo);
			return 0;
		}
		break;
	case 0x58:
		if (ev->payload_len == 4) {
			printf("time-sig  %u/%u\n", ev->payload[0], 1u << (ev->payload[1] & 7));
			return 0;
		}
		break;
	case 0x2f:
		printf("end-of-track\n");
		return 0;
	}
	printf("meta      type 0x%02x, %u bytes\n", ev->meta_type, ev->payload_len);
	return 0;
}

static int cmd_dump(const char *path)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct ukd_smf_header h;
	struct dump_ctx d = { .tempo = UKD_SMF_TEMPO_US };
	size_t len = 0, cap = 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int r;

	if (!f) {
		fprintf(stderr, "kkeyctl: %s: %m\n", path);
		return 1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *grown;

			if (cap >= MIDI_FILE_MAX) {
				fprintf(stderr, "kkeyctl: %s: larger than %u MiB\n", path, MIDI_FILE_MAX >> 20);
				if (f != stdin)
					fclose(f);
				return 1;
			}
			cap = cap ? cap * 2 : 65536;
			grown = realloc(buf, cap);
			if (!grown) {
				if (f != stdin)
					fclose(f);
				return 1;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	/* Parse once for the header, then again to print with its division. */
	r = ukd_smf_parse(buf, len, &h, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "kkeyctl: %s: not a valid Standard MIDI File\n", path);
		return 1;
	}
	printf("# format %u, %u track(s), division %u%s\n", h.format, h.ntracks,
	       h.division & 0x7fff, h.division & 0x8000 ? " (SMPTE)" : " ticks/quarter");
	printf("#  seconds       tick  event\n");
	d.division = h.division;
	r = ukd_smf_parse(buf, len, NULL, dump_event, &d);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const char *node = NULL, *cmd, *arg;
	_cleanup_close_ int fd = -1;
	int c;

	while ((c = getopt_long(argc, argv, "d:hV", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			node = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("kkeyctl (ukd) %s\n", UKD_VERSION);
			return 0;
		default:
			fputs("Try 'kkeyctl --help' for more information.\n", stderr);
			return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fputs(usage, stderr);
		return 2;
	}
	cmd = argv[optind];
	arg = argc - optind == 2 ? argv[optind + 1] : NULL;

	if (!strcmp(cmd, "dump")) {
		if (!arg) {
			fputs("kkeyctl: dump needs a file (or - for stdin)\n", stderr);
			return 2;
		}
		return cmd_dump(arg);
	}
	if (strcmp(cmd, "reset") && strcmp(cmd, "status") && strcmp(cmd, "velocity") &&
	    strcmp(cmd, "slowdown")) {
		fprintf(stderr, "kkeyctl: unknown command '%s'\nTry 'kkeyctl --help' for more information.\n", cmd);
		return 2;
	}
	if (arg && (!strcmp(cmd, "reset") || !strcmp(cmd, "status"))) {
		fprintf(stderr, "kkeyctl: %s takes no argument\n", cmd);
		return 2;
	}
	fd = open_node(node ? node : default_node());
	if (fd < 0)
		return 1;
	if (!strcmp(cmd, "reset"))
		return do_ioctl(fd, KKEY_IOC_RESET, NULL, "reset") < 0 ? 1 : 0;
	if (!strcmp(cmd, "status"))
		return cmd_status(fd);
	if (!strcmp(cmd, "velocity"))
		return cmd_value(fd, "velocity", arg, KKEY_IOC_GET_VELOCITY, KKEY_IOC_SET_VELOCITY, 1, 127);
	return cmd_value(fd, "slowdown", arg, KKEY_IOC_GET_SLOWDOWN, KKEY_IOC_SET_SLOWDOWN,
			 KKEY_SLOWDOWN_MIN, KKEY_SLOWDOWN_MAX);
}
