/* SPDX-License-Identifier: MIT */
/*
 * kprngctl: drive kprng's ioctls (include/ukd/kprng.h) from the shell.
 * Device-wide commands open the node read-write (the device demands it);
 * "read" uses file-scope ioctls on its own open file only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "macro.h"
#include "prng/prng.h"
#include "ukd/kprng.h"

static void help(void)
{
	printf("Usage: kprngctl [-d NODE] COMMAND [ARG]\n"
	       "\n"
	       "Control the kprng pseudo-random device served by kprngd.\n"
	       "\n"
	       "Commands (device-wide: they change what later open(2)s of the node read,\n"
	       "and need write permission on the node):\n"
	       "  seed SEED          deterministic mode: every later open reads the stream\n"
	       "                     of SEED from its start (an integer < 2^64, decimal or\n"
	       "                     0x hex, or exactly 64 hex digits)\n"
	       "  reseed             leave deterministic mode: later opens are keyed from\n"
	       "                     getrandom(2) again\n"
	       "  generator [NAME]   print, or set, the generator later opens use:\n"
	       "                     chacha20 (secure) or xoshiro (fast, not secure)\n"
	       "Per open file (changes nothing for anyone else):\n"
	       "  read N             write N bytes of a fresh open to stdout (N may end in\n"
	       "                     K or M for KiB or MiB); with -s/-g they come from\n"
	       "                     that seed/generator via the file-scope ioctls\n"
	       "  stats              print the device's counters and mode\n"
	       "\n"
	       "Options:\n"
	       "  -d, --device NODE     the node (default /dev/kprng, else /run/kprng/kprng)\n"
	       "  -s, --seed SEED       for read: seed this open file only\n"
	       "  -g, --generator NAME  for read: generator of this open file only\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         version\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static const char *default_node(void)
{
	if (access("/dev/kprng", F_OK) == 0)
		return "/dev/kprng";
	return "/run/kprng/kprng";
}

static int open_node(const char *node, int flags)
{
	int fd = open(node, flags | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "kprngctl: cannot open %s: %m\n", node);
	return fd;
}

static int do_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg) < 0) {
		fprintf(stderr, "kprngctl: %s: %m%s\n", what,
			errno == EPERM ? " (the node must be writable for you)" : "");
		return -1;
	}
	return 0;
}

static int parse_size(const char *s, size_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	if (*end == 'K' || *end == 'k') {
		if (v > (1ull << 54))
			return -EINVAL;
		v <<= 10;
		end++;
	} else if (*end == 'M') {
		if (v > (1ull << 44))
			return -EINVAL;
		v <<= 20;
		end++;
	}
	if (*end)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

static int cmd_read(const char *node, size_t n, const char *seed, const char *gen)
{
	_cleanup_close_ int fd = open_node(node, O_RDONLY);
	_cleanup_free_ char *buf = malloc(1 << 20);

	if (fd < 0)
		return 1;
	if (!buf)
		return 1;
	if (gen) {
		struct kprng_generator g = { .generator = (uint32_t)ukd_prng_kind_from_string(gen) };

		if (do_ioctl(fd, KPRNG_IOC_SET_GENERATOR, &g, "set generator") < 0)
			return 1;
	}
	if (seed) {
		struct kprng_seed s = { .flags = 0 };

		if (ukd_prng_seed_parse(seed, s.seed) < 0) {
			fprintf(stderr, "kprngctl: invalid seed \"%s\"\n", seed);
			return 2;
		}
		if (do_ioctl(fd, KPRNG_IOC_SET_SEED, &s, "set seed") < 0)
			return 1;
	}
	while (n > 0) {
		size_t want = n < (1 << 20) ? n : (1 << 20);
		ssize_t got = read(fd, buf, want);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			fprintf(stderr, "kprngctl: read %s: %s\n", node, got < 0 ? strerror(errno) : "end of file");
			return 1;
		}
		for (ssize_t off = 0; off < got;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(got - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				if (errno != EPIPE)
					fprintf(stderr, "kprngctl: write: %m\n");
				return 1;
			}
			off += w;
		}
		n -= (size_t)got;
	}
	return 0;
}

static int cmd_stats(const char *node)
{
	_cleanup_close_ int fd = open_node(node, O_RDONLY);
	struct kprng_stats st;

	if (fd < 0 || do_ioctl(fd, KPRNG_IOC_GET_STATS, &st, "get stats") < 0)
		return 1;
	printf("generator:     %s\n"
	       "mode:          %s\n"
	       "bytes read:    %llu\n"
	       "reads:         %llu\n"
	       "bytes written: %llu\n"
	       "writes:        %llu\n"
	       "opens:         %llu\n"
	       "open now:      %llu\n"
	       "key changes:   %llu\n",
	       ukd_prng_kind_to_string((enum ukd_prng_kind)st.generator) ?: "unknown",
	       st.flags & KPRNG_DETERMINISTIC ? "deterministic (seeded)" : "random (getrandom)",
	       (unsigned long long)st.bytes_read, (unsigned long long)st.reads,
	       (unsigned long long)st.bytes_written, (unsigned long long)st.writes,
	       (unsigned long long)st.opens,
	       /* our own open is not the user's business */
	       (unsigned long long)(st.open_now ? st.open_now - 1 : 0),
	       (unsigned long long)st.key_changes);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "generator", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	const char *node = NULL, *seed = NULL, *gen = NULL, *cmd;
	int c;

	while ((c = getopt_long(argc, argv, "d:s:g:hV", longopts, NULL)) >= 0) {
		switch (c) {
		case 'd':
			node = optarg;
			break;
		case 's':
			seed = optarg;
			break;
		case 'g':
			gen = optarg;
			if (ukd_prng_kind_from_string(gen) < 0) {
				fprintf(stderr, "kprngctl: unknown generator \"%s\"\n", gen);
				return 2;
			}
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("kprngctl %s\n", UKD_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'kprngctl --help'.\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kprngctl: no command\nTry 'kprngctl --help'.\n");
		return 2;
	}
	if (!node)
		node = default_node();
	cmd = argv[optind++];

	if (!strcmp(cmd, "read") && optind + 1 == argc) {
		size_t n;

		if (parse_size(argv[optind], &n) < 0) {
			fprintf(stderr, "kprngctl: invalid size \"%s\"\n", argv[optind]);
			return 2;
		}
		return cmd_read(node, n, seed, gen);
	}
	if (seed || gen) {
		fprintf(stderr, "kprngctl: -s and -g are for \"read\"\n");
		return 2;
	}
	if (!strcmp(cmd, "stats") && optind == argc)
		return cmd_stats(node);
	if (!strcmp(cmd, "seed") && optind + 1 == argc) {
		struct kprng_seed s = { .flags = KPRNG_SCOPE_DEVICE };
		_cleanup_close_ int fd = -1;

		if (ukd_prng_seed_parse(argv[optind], s.seed) < 0) {
			fprintf(stderr, "kprngctl: invalid seed \"%s\"\n", argv[optind]);
			return 2;
		}
		fd = open_node(node, O_RDWR);
		return fd < 0 || do_ioctl(fd, KPRNG_IOC_SET_SEED, &s, "set seed") < 0;
	}
	if (!strcmp(cmd, "reseed") && optind == argc) {
		uint32_t flags = KPRNG_SCOPE_DEVICE;
		_cleanup_close_ int fd = open_node(node, O_RDWR);

		return fd < 0 || do_ioctl(fd, KPRNG_IOC_RESEED, &flags, "reseed") < 0;
	}
	if (!strcmp(cmd, "generator") && optind == argc) {
		_cleanup_close_ int fd = open_node(node, O_RDONLY);
		struct kprng_stats st;

		if (fd < 0 || do_ioctl(fd, KPRNG_IOC_GET_STATS, &st, "get stats") < 0)
			return 1;
		printf("%s\n", ukd_prng_kind_to_string((enum ukd_prng_kind)st.generator) ?: "unknown");
		return 0;
	}
	if (!strcmp(cmd, "generator") && optind + 1 == argc) {
		int kind = ukd_prng_kind_from_string(argv[optind]);
		struct kprng_generator g = { .flags = KPRNG_SCOPE_DEVICE };
		_cleanup_close_ int fd = -1;

		if (kind < 0) {
			fprintf(stderr, "kprngctl: unknown generator \"%s\"\n", argv[optind]);
			return 2;
		}
		g.generator = (uint32_t)kind;
		fd = open_node(node, O_RDWR);
		return fd < 0 || do_ioctl(fd, KPRNG_IOC_SET_GENERATOR, &g, "set generator") < 0;
	}
	fprintf(stderr, "kprngctl: bad command line\nTry 'kprngctl --help'.\n");
	return 2;
}
