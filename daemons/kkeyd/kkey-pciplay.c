/* SPDX-License-Identifier: MIT */
/*
 * kkey-pciplay: play note events on a PCI key card (docs/kkey-pci.md), the
 * way a player's hands would: one event at a time through the raise
 * register, waiting for the driver (kkeyd --pci) to acknowledge each.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pci-input.h"
#include "recorder.h"
#include "smf.h"

static const char usage[] =
"Usage: kkey-pciplay [OPTIONS] ADDRESS NOTE...\n"
"       kkey-pciplay [OPTIONS] ADDRESS FILE.mid\n"
"\n"
"Play note events on the PCI key card at ADDRESS (DDDD:BB:DD.F), one per\n"
"interrupt, as docs/kkey-pci.md pins it: write 0x100|pressed<<7|note to the\n"
"raise register (0x60), then wait until the driver has acknowledged it (the\n"
"status register 0x24 reads 0) before the next. The driver, kkeyd --pci,\n"
"records them like writes to /dev/kkeyNNN.\n"
"\n"
"NOTE is 0..127 and means press then release; N+ presses only, N- releases\n"
"only. A FILE ending in .mid is a Standard MIDI File: its note-on/note-off\n"
"events are played in file order (a note-on of velocity 0 releases), as\n"
"fast as the card takes them; timing and channels are not reproduced.\n"
"\n"
"The card's BAR0 is reached through the ukd_uio stub's /dev/uioN when the\n"
"function is bound to it, else through sysfs resource0 (root; on kernels\n"
"built with CONFIG_IO_STRICT_DEVMEM, such as Debian's, that needs the boot\n"
"option iomem=relaxed while another driver such as vfio-pci holds it).\n"
"\n"
"Options:\n"
"  -r, --repeat=N     play the whole sequence N times (default 1)\n"
"  -t, --timeout=MS   give up when an event stays unacknowledged this long\n"
"                     (default 5000)\n"
"  -l, --latency      also measure each event from its raise to the driver's\n"
"                     acknowledgement (STATUS back to 0) and print events/s\n"
"                     and the p50/p99 latency\n"
"  -q, --quiet        print nothing on success\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"Output: \"played N events\" on stdout; with -l, \"played N events in S s:\n"
"R events/s, raise->ack p50 X us, p99 Y us\".\n"
"Exit status: 0 all played and acknowledged; 1 the card failed (absent,\n"
"not a key card, an event not acknowledged in time); 2 usage error.\n";

struct seq {
	uint32_t *v;
	size_t n, cap;
};

static int seq_add(struct seq *s, uint8_t note, bool on)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = kcard_event_value(note, on);
	return 0;
}

static int on_smf_event(const struct ukd_smf_event *ev, void *userdata)
{
	uint8_t kind = ev->status & 0xf0;

	if (kind == 0x90)
		return seq_add(userdata, ev->data[0], ev->data[1] != 0);
	if (kind == 0x80)
		return seq_add(userdata, ev->data[0], false);
	return 0;
}

static int load_midi(const char *path, struct seq *s)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "re");
	int r;

	if (!f) {
		fprintf(stderr, "kkey-pciplay: %s: %m\n", path);
		return -errno;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!b) {
				fclose(f);
				return -ENOMEM;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	r = ukd_smf_parse(buf, len, NULL, on_smf_event, s);
	if (r < 0)
		fprintf(stderr, "kkey-pciplay: %s: not a valid Standard MIDI File\n", path);
	return r;
}

static int parse_note(const char *a, struct seq *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(a, &end, 10);
	if (errno || end == a || n < 0 || n > 127 || (*end && strcmp(end, "+") && strcmp(end, "-")))
		return -EINVAL;
	if (*end != '-' && seq_add(s, (uint8_t)n, true) < 0)
		return -ENOMEM;
	if (*end != '+' && seq_add(s, (uint8_t)n, false) < 0)
		return -ENOMEM;
	return 0;
}

/* BAR0 through sysfs resource0, for a function not bound to ukd_uio. */
static int map_resource0(const char *addr, volatile void **bar, size_t *size)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st;
	void *p;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", addr);
	fd = open(path, O_RDWR | O_CLOEXEC | O_SYNC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return ukd_negerrno();
	/* lseek(SEEK_END) on a resource file gives 0: the size is st_size. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return ukd_negerrno();
	*bar = p;
	*size = (size_t)st.st_size;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ms(void)
{
	return ukd_now_ns() / 1000000;
}

/* Wait for the status register to read 0. */
static int wait_acked(volatile void *bar, unsigned long timeout_ms)
{
	uint64_t t0 = now_ms();
	unsigned int polls = 0;

	for (;;) {
		uint32_t st = ukd_reg_read32(bar, KCARD_REG_STATUS);

		if (st == 0)
			return 0;
		if (st == UINT32_MAX)
			return -ENODEV;
		if (now_ms() - t0 > timeout_ms)
			return -ETIMEDOUT;
		/* The driver answers within microseconds: yield to it (on one CPU it
		 * is the one that must run). Past that, sleep, so that a driver
		 * that is away does not cost a spinning CPU. */
		if (++polls < 1000)
			sched_yield();
		else
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 }, NULL);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "latency", no_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	_cleanup_(ukd_pci_closep) struct ukd_pci *pci = NULL;
	struct seq s = {};
	unsigned long repeat = 1, timeout_ms = 5000;
	char addr[UKD_PCI_ADDR_MAX];
	volatile void *bar;
	size_t size, done = 0;
	bool quiet = false, latency = false;
	uint64_t *lat = NULL, t_start = 0;
	char *end;
	int c, r;

	while ((c = getopt_long(argc, argv, "r:t:lqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
		case 't':
			errno = 0;
			*(c == 'r' ? &repeat : &timeout_ms) = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' ||
			    (c == 'r' ? repeat : timeout_ms) == 0) {
				fprintf(stderr, "kkey-pciplay: invalid value '%s' for -%c\n", optarg, c);
				return 2;
			}
			break;
		case 'l':
			latency = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("kkey-pciplay (ukd) %s\n", UKD_VERSION);
			return 0;
		default:
			fputs("Try 'kkey-pciplay --help' for more information.\n", stderr);
			return 2;
		}
	}
	if (argc - optind < 2 || ukd_pci_parse_addr(argv[optind], addr) < 0) {
		fputs(argc - optind < 2 ? "kkey-pciplay: need an ADDRESS and NOTEs or a FILE.mid\n"
					: "kkey-pciplay: ADDRESS must be DDDD:BB:DD.F\n", stderr);
		return 2;
	}
	size = strlen(argv[optind + 1]);
	if (argc - optind == 2 && size > 4 && !strcmp(argv[optind + 1] + size - 4, ".mid")) {
		r = load_midi(argv[optind + 1], &s);
		if (r < 0) {
			free(s.v);
			return r == -ENOMEM ? 1 : 2;
		}
	} else {
		for (int i = optind + 1; i < argc; i++)
			if (parse_note(argv[i], &s) < 0) {
				fprintf(stderr, "kkey-pciplay: '%s' is not a note (0..127, N+ or N-)\n", argv[i]);
				free(s.v);
				return 2;
			}
	}

	r = ukd_pci_open(&pci, addr, UKD_PCI_UIO, UKD_PCI_IRQ_INTX);
	if (r == 0)
		r = ukd_pci_map_bar(pci, 0, &bar, &size);
	else
		r = map_resource0(addr, &bar, &size);
	if (r < 0) {
		fprintf(stderr, "kkey-pciplay: cannot map BAR0 of %s: %s\n", addr, strerror(-r));
		goto out;
	}
	r = size < KCARD_REG_SPAN ||
	    (ukd_reg_read32(bar, KCARD_REG_ID) & KCARD_ID_MASK) != KCARD_ID_EDU ? -ENODEV : 0;
	if (r < 0) {
		fprintf(stderr, "kkey-pciplay: %s is not a key card (id 0x%08x)\n", addr,
			size >= 4 ? ukd_reg_read32(bar, KCARD_REG_ID) : 0);
		goto out;
	}
	if (latency && (s.n > SIZE_MAX / sizeof(*lat) / repeat ||
			!(lat = calloc(s.n * repeat, sizeof(*lat))))) {
		r = -ENOMEM;
		fprintf(stderr, "kkey-pciplay: no memory for %zu latencies\n", s.n * repeat);
		goto out;
	}
	r = wait_acked(bar, timeout_ms);
	t_start = ukd_now_ns();
	for (unsigned long k = 0; k < repeat && r == 0; k++)
		for (size_t i = 0; i < s.n && r == 0; i++) {
			uint64_t t0 = ukd_now_ns();

			ukd_reg_write32(bar, KCARD_REG_RAISE, s.v[i]);
			/* edu ORs raised values into the status: the next event waits
			 * until the driver has taken this one. */
			r = wait_acked(bar, timeout_ms);
			if (r == 0 && lat)
				lat[done] = ukd_now_ns() - t0;
			done += r == 0;
		}
	if (r < 0)
		fprintf(stderr, "kkey-pciplay: %s: event %zu %s\n", addr, done,
			r == -ETIMEDOUT ? "not acknowledged in time (is kkeyd --pci running?)"
					: "failed: the card reads all-ones (removed?)");
	else if (lat && done) {
		double secs = (double)(ukd_now_ns() - t_start) / 1e9;

		qsort(lat, done, sizeof(*lat), cmp_u64);
		printf("played %zu events in %.2f s: %.0f events/s, raise->ack p50 %.1f us, p99 %.1f us\n",
		       done, secs, (double)done / secs, (double)lat[done / 2] / 1e3,
		       (double)lat[done * 99 / 100] / 1e3);
	} else if (!quiet)
		printf("played %zu events\n", done);
out:
	free(lat);
	free(s.v);
	return r < 0 ? 1 : 0;
}
