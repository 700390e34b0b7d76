/* SPDX-License-Identifier: MIT */
/*
 * kkeycheck: behavioural checks of the kkey nodes (docs/kkeyd.md) in any
 * directory: /dev through CUSE (the vm tier) or a FUSE mount (the host
 * tier). Self-contained on purpose (no libukd): it parses the SMF it reads
 * with its own small strict parser, so it checks kkeyd rather than agreeing
 * with it.
 *
 *   kkeycheck smf FILE [ON OFF]   validate FILE; print "on=N off=M"; with
 *                                 ON/OFF also require those counts
 *   kkeycheck events FILE         print "on NOTE" / "off NOTE" per event
 *   kkeycheck badinput DIR        ioctl errors, sizes, 0-byte, huge writes,
 *                                 1-byte reads, O_NONBLOCK
 *   kkeycheck race DIR            two processes on CPUs 0 and 1
 *   kkeycheck writers DIR [N]     N (128) concurrent writer processes
 *   kkeycheck pollwake DIR        a reader blocked in poll() wakes on a write
 *
 * Each check prints "ok: ..." or "FAIL: ..." lines and exits 0 only when all
 * passed. Every blocking step is bounded by alarm(); note that a process
 * blocked on a CUSE request that is never answered cannot be killed: the
 * caller must also have a watchdog on the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ukd/kkey.h"

#define SMF_MAX (64u << 20)
#define DIVISION 1000

static int failures;
static const char *dir;

#define OK(...) do { printf("ok: " __VA_ARGS__); putchar('\n'); } while (0)
#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); putchar('\n'); failures++; } while (0)

struct smf_event {
	uint64_t tick;
	bool on;
	uint8_t note;
};

struct smf {
	struct smf_event *ev;
	size_t n, on, off;
	char err[160];
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* SMF 1.0, as docs/kkeyd.md promises it: format 0, one track, division
 * 1000, no running status, VLQs of at most 4 bytes, End of Track last. */
static bool smf_parse(const uint8_t *b, size_t len, struct smf *s)
{
	size_t pos, end;
	uint64_t tick = 0;
	bool eot = false;

	memset(s, 0, sizeof(*s));
	s->ev = calloc(len / 3 + 1, sizeof(*s->ev));
	if (!s->ev)
		return snprintf(s->err, sizeof(s->err), "out of memory"), false;
	if (len < 22 || memcmp(b, "MThd", 4) || be32(b + 4) != 6)
		return snprintf(s->err, sizeof(s->err), "no MThd of length 6"), false;
	if (b[8] || b[9] || b[10] || b[11] != 1)
		return snprintf(s->err, sizeof(s->err), "not format 0 with 1 track"), false;
	if ((b[12] << 8 | b[13]) != DIVISION)
		return snprintf(s->err, sizeof(s->err), "division %d", b[12] << 8 | b[13]), false;
	if (memcmp(b + 14, "MTrk", 4))
		return snprintf(s->err, sizeof(s->err), "no MTrk"), false;
	end = 22 + (size_t)be32(b + 18);
	if (end != len)
		return snprintf(s->err, sizeof(s->err), "MTrk length %zu, file %zu", end - 22, len), false;
	for (pos = 22; pos < end;) {
		uint32_t delta = 0;
		int i;
		uint8_t st;

		if (eot)
			return snprintf(s->err, sizeof(s->err), "event after End of Track at %zu", pos), false;
		for (i = 0; i < 4 && pos < end; i++) {
			delta = delta << 7 | (b[pos] & 0x7f);
			if (!(b[pos++] & 0x80))
				break;
		}
		if (i == 4)
			return snprintf(s->err, sizeof(s->err), "VLQ longer than 4 bytes at %zu", pos), false;
		tick += delta;
		if (pos >= end)
			return snprintf(s->err, sizeof(s->err), "truncated event"), false;
		st = b[pos++];
		if ((st & 0xe0) == 0x80) {
			if (pos + 2 > end || (b[pos] | b[pos + 1]) & 0x80)
				return snprintf(s->err, sizeof(s->err), "bad note event at %zu", pos), false;
			s->ev[s->n].tick = tick;
			s->ev[s->n].note = b[pos];
			s->ev[s->n].on = (st & 0xf0) == 0x90 && b[pos + 1] != 0;
			if (s->ev[s->n].on)
				s->on++;
			else
				s->off++;
			s->n++;
			pos += 2;
		} else if (st == 0xff) {
			uint32_t mlen = 0;
			uint8_t type;

			if (pos >= end)
				return snprintf(s->err, sizeof(s->err), "truncated meta"), false;
			type = b[pos++];
			for (i = 0; i < 4 && pos < end; i++) {
				mlen = mlen << 7 | (b[pos] & 0x7f);
				if (!(b[pos++] & 0x80))
					break;
			}
			if (i == 4 || mlen > end - pos)
				return snprintf(s->err, sizeof(s->err), "bad meta length at %zu", pos), false;
			if (type == 0x2f) {
				if (mlen)
					return snprintf(s->err, sizeof(s->err), "End of Track with data"), false;
				eot = true;
			}
			pos += mlen;
		} else {
			return snprintf(s->err, sizeof(s->err), "unexpected status 0x%02x at %zu",
					st, pos - 1), false;
		}
	}
	if (!eot)
		return snprintf(s->err, sizeof(s->err), "no End of Track"), false;
	return true;
}

/* Every note's events alternate on, off, on, off ... */
static bool smf_paired(const struct smf *s, char *why, size_t whylen)
{
	bool held[128] = { false };

	for (size_t i = 0; i < s->n; i++) {
		if (s->ev[i].on == held[s->ev[i].note]) {
			snprintf(why, whylen, "note %u: %s while %s", s->ev[i].note,
				 s->ev[i].on ? "on" : "off", held[s->ev[i].note] ? "held" : "not held");
			return false;
		}
		held[s->ev[i].note] = s->ev[i].on;
	}
	for (int n = 0; n < 128; n++)
		if (held[n]) {
			snprintf(why, whylen, "note %d still on at the end", n);
			return false;
		}
	return true;
}

static uint8_t *read_all(int fd, size_t chunk, size_t *len)
{
	uint8_t *buf = malloc(SMF_MAX);
	size_t used = 0;

	if (!buf)
		return NULL;
	alarm(20);
	for (;;) {
		size_t want = chunk < SMF_MAX - used ? chunk : SMF_MAX - used;
		ssize_t n = read(fd, buf + used, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			alarm(0);
			return NULL;
		}
		if (n == 0 || want == 0)
			break;
		used += (size_t)n;
	}
	alarm(0);
	*len = used;
	return buf;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *b;

	if (fd < 0)
		return NULL;
	b = read_all(fd, 65536, len);
	close(fd);
	return b;
}

static char *node(int n)
{
	static char path[8][512];
	static int slot;
	char *p = path[slot++ % 8];

	snprintf(p, 512, "%s/kkey%03d", dir, n);
	return p;
}

static int open_node(int n, int flags)
{
	int fd = open(node(n), flags | O_CLOEXEC);

	if (fd < 0)
		FAIL("open %s: %m", node(n));
	return fd;
}

static bool write_byte(int fd, char c)
{
	ssize_t n = write(fd, &c, 1);

	return n == 1;
}

/* Read the recording through kkey000 (clears it) and check it. */
static bool take_recording(const char *what, size_t want_on, size_t want_off, bool paired,
			   struct smf *out)
{
	size_t len = 0;
	uint8_t *b = read_file(node(0), &len);
	struct smf s;
	char why[160];
	bool good = true;

	if (!b) {
		FAIL("%s: reading %s: %m", what, node(0));
		return false;
	}
	if (!smf_parse(b, len, &s)) {
		FAIL("%s: invalid SMF (%zu bytes): %s", what, len, s.err);
		good = false;
	} else if (s.on != want_on || s.off != want_off) {
		FAIL("%s: %zu note-ons and %zu note-offs, expected %zu and %zu", what, s.on, s.off,
		     want_on, want_off);
		good = false;
	} else if (paired && !smf_paired(&s, why, sizeof(why))) {
		FAIL("%s: %s", what, why);
		good = false;
	} else {
		OK("%s: valid SMF, %zu note-ons, %zu note-offs", what, s.on, s.off);
	}
	free(b);
	if (out && good)
		*out = s;
	else
		free(s.ev);
	return good;
}

static void reset(void)
{
	int fd = open_node(0, O_RDONLY);
	size_t len;

	if (fd < 0)
		return;
	if (ioctl(fd, KKEY_IOC_RESET) < 0)
		FAIL("KKEY_IOC_RESET: %m");
	close(fd);
	/* A fresh open and a full read also drops held notes' re-presses. */
	free(read_file(node(0), &len));
}

static int status(struct kkey_status *st)
{
	int fd = open(node(0), O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = ioctl(fd, KKEY_IOC_GET_STATUS, st);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void expect_errno(const char *what, int r, int want)
{
	if (r == 0)
		FAIL("%s: succeeded, expected %s", what, strerror(want));
	else if (errno != want)
		FAIL("%s: %m, expected %s", what, strerror(want));
	else
		OK("%s: %s", what, strerror(want));
}

static int check_badinput(void)
{
	struct kkey_status st0, st1;
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	uint16_t v16 = 0;
	uint8_t *big;
	size_t bigsize = 3u << 20, len;
	int fd;
	ssize_t n;

	reset();
	fd = open_node(60, O_RDWR);
	if (fd < 0)
		return 1;

	/* Unknown commands: ENOTTY. */
	expect_errno("ioctl _IO(0x11,99)", ioctl(fd, _IO(KKEY_IOC_MAGIC, 99)), ENOTTY);
	expect_errno("ioctl _IOR('x',1,u32)", ioctl(fd, _IOR('x', 1, uint32_t), &v32), ENOTTY);
	expect_errno("ioctl TCGETS", ioctl(fd, 0x5401, &v64), ENOTTY);
	/* Known number, wrong size or direction: EINVAL. */
	expect_errno("ioctl GET_VELOCITY as u64", ioctl(fd, _IOR(KKEY_IOC_MAGIC, 1, uint64_t), &v64), EINVAL);
	expect_errno("ioctl SET_VELOCITY as u16", ioctl(fd, _IOW(KKEY_IOC_MAGIC, 2, uint16_t), &v16), EINVAL);
	expect_errno("ioctl RESET as _IOR u32", ioctl(fd, _IOR(KKEY_IOC_MAGIC, 0, uint32_t), &v32), EINVAL);
	expect_errno("ioctl GET_STATUS as u32", ioctl(fd, _IOR(KKEY_IOC_MAGIC, 5, uint32_t), &v32), EINVAL);
	/* Out of range: EINVAL. */
	v32 = 128;
	expect_errno("SET_VELOCITY 128", ioctl(fd, KKEY_IOC_SET_VELOCITY, &v32), EINVAL);
	v32 = 0;
	expect_errno("SET_SLOWDOWN 0", ioctl(fd, KKEY_IOC_SET_SLOWDOWN, &v32), EINVAL);
	v32 = 33;
	expect_errno("SET_SLOWDOWN 33", ioctl(fd, KKEY_IOC_SET_SLOWDOWN, &v32), EINVAL);
	/* Good ones round-trip. */
	v32 = 100;
	if (ioctl(fd, KKEY_IOC_SET_VELOCITY, &v32) < 0 || (v32 = 0, ioctl(fd, KKEY_IOC_GET_VELOCITY, &v32) < 0) ||
	    v32 != 100)
		FAIL("SET/GET_VELOCITY 100: got %u (%m)", v32);
	else
		OK("SET/GET_VELOCITY 100 round-trips");
	v32 = KKEY_VELOCITY_DEFAULT;
	ioctl(fd, KKEY_IOC_SET_VELOCITY, &v32);

	/* count 0: returns 0, records nothing. */
	if (status(&st0) < 0) {
		FAIL("GET_STATUS: %m");
		close(fd);
		return 1;
	}
	n = write(fd, "1", 0);
	if (status(&st1) < 0 || n != 0 || st1.events != st0.events)
		FAIL("0-byte write: returned %zd, events %llu -> %llu", n,
		     (unsigned long long)st0.events, (unsigned long long)st1.events);
	else
		OK("0-byte write returns 0 and records nothing");

	/* Huge writes: one write(2) is one event, however many pieces. */
	big = malloc(bigsize + 1);
	if (!big) {
		close(fd);
		return 1;
	}
	memset(big, 'x', bigsize + 1);
	big[0] = '1';
	status(&st0);
	n = write(fd, big, 300000);
	status(&st1);
	if (n != 300000 || st1.events != st0.events + 1)
		FAIL("300000-byte press: returned %zd, events +%lld", n,
		     (long long)(st1.events - st0.events));
	else
		OK("300000-byte write = one event");
	big[1] = '0';   /* unaligned buffer: pieces of other sizes */
	n = write(fd, big + 1, bigsize);
	status(&st0);
	if (n != (ssize_t)bigsize || st0.events != st1.events + 1)
		FAIL("3 MiB unaligned release: returned %zd, events +%lld", n,
		     (long long)(st0.events - st1.events));
	else
		OK("3 MiB unaligned write = one event");
	free(big);

	/* O_NONBLOCK writes are accepted. */
	{
		int nb = open_node(64, O_WRONLY | O_NONBLOCK);

		if (nb >= 0) {
			if (write_byte(nb, '1') && write_byte(nb, '0'))
				OK("O_NONBLOCK writes");
			else
				FAIL("O_NONBLOCK write: %m");
			close(nb);
		}
	}

	/* 1-byte reads give the whole file, then EOF. */
	{
		int rd = open_node(0, O_RDONLY);
		uint8_t *b;
		struct smf s;

		if (rd >= 0) {
			b = read_all(rd, 1, &len);
			if (!b)
				FAIL("1-byte reads: %m");
			else if (!smf_parse(b, len, &s))
				FAIL("1-byte reads: invalid SMF (%zu bytes): %s", len, s.err);
			else if (s.on != 2 || s.off != 2)
				FAIL("1-byte reads: %zu on, %zu off, expected 2 and 2", s.on, s.off);
			else
				OK("1-byte reads: %zu-byte SMF with 2 note-ons, 2 note-offs", len);
			if (b)
				free(s.ev);
			free(b);
			close(rd);
		}
	}
	/* Unknown node names do not exist. */
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/kkey128", dir);
		if (access(p, F_OK) == 0)
			FAIL("%s exists", p);
		else
			OK("%s does not exist", p);
	}
	close(fd);
	return failures ? 1 : 0;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		printf("note: cannot pin to CPU %d: %m\n", cpu);
}

static void wait_children(int n, const char *what)
{
	int bad = 0;

	for (int i = 0; i < n; i++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad++;
	}
	if (bad)
		FAIL("%s: %d process(es) failed", what, bad);
}

/* Strict alternation across two CPUs: A presses note n on CPU 0, then B
 * releases it on CPU 1, handing over through pipes; then both run free on
 * their own halves. */
static int check_race(void)
{
	int ab[2], ba[2], go[2];
	struct smf s;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char c;

	if (ncpu < 2)
		printf("note: only %ld CPU online; the race runs on one\n", ncpu);
	reset();
	if (pipe(ab) < 0 || pipe(ba) < 0)
		return 1;
	for (int who = 0; who < 2; who++) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p)
			continue;
		pin(who % (ncpu > 1 ? 2 : 1));
		alarm(60);
		for (int n = 0; n < KKEY_NOTES; n++) {
			int fd = open(node(n), O_WRONLY | O_CLOEXEC);

			if (fd < 0)
				_exit(1);
			if (who == 0) {
				if (!write_byte(fd, '1') || write(ab[1], "x", 1) != 1 || read(ba[0], &c, 1) != 1)
					_exit(1);
			} else {
				if (read(ab[0], &c, 1) != 1 || !write_byte(fd, '0') || write(ba[1], "x", 1) != 1)
					_exit(1);
			}
			close(fd);
		}
		_exit(0);
	}
	wait_children(2, "alternating race");
	close(ab[0]), close(ab[1]), close(ba[0]), close(ba[1]);
	if (take_recording("alternating press/release on 2 CPUs", 128, 128, true, &s)) {
		bool strict = true;

		for (size_t i = 0; i < s.n; i++)
			if (s.ev[i].note != i / 2 || s.ev[i].on != !(i & 1))
				strict = false;
		if (strict)
			OK("alternating race: events in exactly the played order");
		else
			FAIL("alternating race: events out of order");
		free(s.ev);
	}

	/* Free-running: both at once, each its own half of the notes. */
	if (pipe(go) < 0)
		return 1;
	for (int who = 0; who < 2; who++) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p)
			continue;
		pin(who % (ncpu > 1 ? 2 : 1));
		close(go[1]);
		alarm(60);
		if (read(go[0], &c, 1) != 0)
			_exit(1);
		for (int n = who; n < KKEY_NOTES; n += 2) {
			int fd = open(node(n), O_WRONLY | O_CLOEXEC);

			if (fd < 0 || !write_byte(fd, '1') || !write_byte(fd, '0'))
				_exit(1);
			close(fd);
		}
		_exit(0);
	}
	close(go[0]);
	close(go[1]);   /* start */
	wait_children(2, "free race");
	take_recording("free-running race on 2 CPUs", 128, 128, true, NULL);
	return failures ? 1 : 0;
}

static int check_writers(int nw)
{
	int go[2];
	char c;

	reset();
	if (pipe(go) < 0)
		return 1;
	for (int i = 0; i < nw; i++) {
		pid_t p = fork();

		if (p < 0) {
			FAIL("fork: %m");
			break;
		}
		if (p)
			continue;
		close(go[1]);
		alarm(60);
		{
			int fd = open(node(i % KKEY_NOTES), O_WRONLY | O_CLOEXEC);

			if (fd < 0 || read(go[0], &c, 1) != 0)
				_exit(1);
			if (!write_byte(fd, '1') || !write_byte(fd, '0'))
				_exit(1);
		}
		_exit(0);
	}
	close(go[0]);
	close(go[1]);
	wait_children(nw, "concurrent writers");
	{
		char what[64];

		snprintf(what, sizeof(what), "%d concurrent writers", nw);
		take_recording(what, (size_t)nw, (size_t)nw, nw <= KKEY_NOTES, NULL);
	}
	return failures ? 1 : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check_pollwake(void)
{
	struct pollfd p;
	double t0, dt;
	pid_t child;
	int r;

	reset();
	p.fd = open_node(0, O_RDONLY);
	if (p.fd < 0)
		return 1;
	p.events = POLLIN;
	r = poll(&p, 1, 0);
	if (r != 0)
		FAIL("poll on an empty recording: %d, revents 0x%x", r, r > 0 ? p.revents : 0);
	else
		OK("empty recording: not readable");
	p.events = POLLOUT;
	r = poll(&p, 1, 0);
	if (r != 1 || !(p.revents & POLLOUT))
		FAIL("POLLOUT: %d, revents 0x%x", r, p.revents);
	else
		OK("always writable");

	child = fork();
	if (child == 0) {
		int fd;

		usleep(500000);
		fd = open(node(61), O_WRONLY | O_CLOEXEC);
		_exit(fd >= 0 && write_byte(fd, '1') && write_byte(fd, '0') ? 0 : 1);
	}
	p.events = POLLIN;
	t0 = now();
	r = poll(&p, 1, 10000);
	dt = now() - t0;
	if (r == 1 && (p.revents & POLLIN) && dt >= 0.3)
		OK("poll() woke %.2fs after blocking, when a note was written", dt);
	else
		FAIL("poll(): returned %d, revents 0x%x after %.2fs", r, p.revents, dt);
	wait_children(1, "poll writer");
	close(p.fd);
	take_recording("after poll wake", 1, 1, true, NULL);
	return failures ? 1 : 0;
}

static int cmd_smf(const char *path, int argc, char **argv)
{
	size_t len = 0;
	uint8_t *b = read_file(path, &len);
	struct smf s;
	char why[160];

	if (!b) {
		printf("FAIL: %s: %m\n", path);
		return 1;
	}
	int rc = 1;

	if (!smf_parse(b, len, &s)) {
		printf("FAIL: %s: invalid SMF: %s\n", path, s.err);
		goto out;
	}
	printf("on=%zu off=%zu bytes=%zu\n", s.on, s.off, len);
	if (argc >= 2 && (s.on != strtoul(argv[0], NULL, 0) || s.off != strtoul(argv[1], NULL, 0))) {
		printf("FAIL: expected on=%s off=%s\n", argv[0], argv[1]);
		goto out;
	}
	if (!smf_paired(&s, why, sizeof(why))) {
		printf("FAIL: %s\n", why);
		goto out;
	}
	rc = 0;
out:
	free(s.ev);
	free(b);
	return rc;
}

static int cmd_events(const char *path)
{
	size_t len = 0;
	uint8_t *b = read_file(path, &len);
	struct smf s;

	if (!b) {
		printf("FAIL: %s: %m\n", path);
		return 1;
	}
	if (!smf_parse(b, len, &s)) {
		printf("FAIL: %s: %s\n", path, s.err);
		free(s.ev);
		free(b);
		return 1;
	}
	for (size_t i = 0; i < s.n; i++)
		printf("%s %u\n", s.ev[i].on ? "on" : "off", s.ev[i].note);
	free(s.ev);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: kkeycheck smf FILE [ON OFF] | events FILE |\n"
			"       kkeycheck badinput|race|pollwake DIR | writers DIR [N]\n");
		return 2;
	}
	if (!strcmp(argv[1], "smf"))
		return cmd_smf(argv[2], argc - 3, argv + 3);
	if (!strcmp(argv[1], "events"))
		return cmd_events(argv[2]);
	dir = argv[2];
	if (!strcmp(argv[1], "badinput"))
		return check_badinput();
	if (!strcmp(argv[1], "race"))
		return check_race();
	if (!strcmp(argv[1], "writers"))
		return check_writers(argc > 3 ? atoi(argv[3]) : KKEY_NOTES);
	if (!strcmp(argv[1], "pollwake"))
		return check_pollwake();
	fprintf(stderr, "kkeycheck: unknown command %s\n", argv[1]);
	return 2;
}
