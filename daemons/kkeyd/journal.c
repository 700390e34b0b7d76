/* SPDX-License-Identifier: MIT */
/* The crash journal; the format is described in journal.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "macro.h"

#define JOURNAL_TMP KKEY_JOURNAL_FILE ".new"
#define JOURNAL_BAD KKEY_JOURNAL_FILE ".bad"
#define JOURNAL_MAGIC "UKDKJRNL"
/* Records read or written per system call. */
#define CHUNK_RECORDS 4096

struct kkey_journal {
	int dirfd;           /* the state directory, flock()ed: one kkeyd per directory */
	int fd;              /* the journal file */
	uint64_t end;        /* where the next record goes */
	bool sync_each;
	bool dirty;          /* appended since the last fdatasync */
	uint8_t boot_id[16];
};

/* Bit at a time: 16-byte records need no table, and the result is the
 * standard CRC32C (check value of "123456789" is 0xe3069283). */
uint32_t kkey_journal_crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = ~0u;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

/* The kernel's boot id, 16 bytes; zeros where /proc is not mounted. */
static void read_boot_id(uint8_t id[16])
{
	char text[64];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	size_t n = 0;

	memset(id, 0, 16);
	if (!f)
		return;
	if (fgets(text, sizeof(text), f))
		for (const char *s = text; *s && n < 32; s++) {
			unsigned int v;

			if (*s == '-' || sscanf(s, "%1x", &v) != 1)
				continue;
			id[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
			n++;
		}
	fclose(f);
}

static void encode_header(uint8_t h[KKEY_JOURNAL_HEADER_SIZE], const uint8_t boot_id[16])
{
	uint32_t v;

	memset(h, 0, KKEY_JOURNAL_HEADER_SIZE);
	memcpy(h, JOURNAL_MAGIC, 8);
	v = htole32(KKEY_JOURNAL_VERSION);
	memcpy(h + 8, &v, 4);
	v = htole32(KKEY_JOURNAL_RECORD_SIZE);
	memcpy(h + 12, &v, 4);
	memcpy(h + 16, boot_id, 16);
	v = htole32(kkey_journal_crc32c(h, 36));
	memcpy(h + 36, &v, 4);
}

/* Returns true when @h is a version-1 header; its boot id in @boot_id. */
static bool decode_header(const uint8_t h[KKEY_JOURNAL_HEADER_SIZE], uint8_t boot_id[16])
{
	uint32_t version, size, crc;

	memcpy(&version, h + 8, 4);
	memcpy(&size, h + 12, 4);
	memcpy(&crc, h + 36, 4);
	if (memcmp(h, JOURNAL_MAGIC, 8) || le32toh(crc) != kkey_journal_crc32c(h, 36) ||
	    le32toh(version) != KKEY_JOURNAL_VERSION || le32toh(size) != KKEY_JOURNAL_RECORD_SIZE)
		return false;
	memcpy(boot_id, h + 16, 16);
	return true;
}

static void encode_record(uint8_t r[KKEY_JOURNAL_RECORD_SIZE], const struct ukd_note_event *ev)
{
	uint64_t t = htole64(ev->t_ns);
	uint32_t crc;

	memcpy(r, &t, 8);
	r[8] = ev->note;
	r[9] = ev->on ? 1 : 0;
	r[10] = ev->velocity;
	r[11] = 0;
	crc = htole32(kkey_journal_crc32c(r, 12));
	memcpy(r + 12, &crc, 4);
}

/* Returns true when @r is intact and means an event the recorder takes. */
static bool decode_record(const uint8_t r[KKEY_JOURNAL_RECORD_SIZE], struct ukd_note_event *ev)
{
	uint64_t t;
	uint32_t crc;

	memset(ev, 0, sizeof(*ev));
	memcpy(&crc, r + 12, 4);
	if (le32toh(crc) != kkey_journal_crc32c(r, 12) || r[8] > 127 || r[9] > 1 ||
	    r[10] > 127 || r[11])
		return false;
	memcpy(&t, r, 8);
	*ev = (struct ukd_note_event){ .t_ns = le64toh(t), .note = r[8], .on = r[9], .velocity = r[10] };
	return true;
}

/* pread/pwrite all of @len or fail: -errno, or -EIO for an early end. */
static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ukd_negerrno();
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ukd_negerrno();
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Walk the records after the header. Pass 1 (@rec NULL) finds how many
 * are valid and the newest time; pass 2 hands the first @n_valid to @rec,
 * with @end_at nonzero moved so that the newest (@max_t) is at @end_at.
 */
static int scan(int fd, struct ukd_recorder *rec, uint64_t *n_valid, uint64_t *max_t,
		uint64_t end_at, struct kkey_journal_replay *info)
{
	_cleanup_free_ uint8_t *buf = malloc(CHUNK_RECORDS * KKEY_JOURNAL_RECORD_SIZE);
	uint64_t i = 0, off = KKEY_JOURNAL_HEADER_SIZE;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t got;
		int r = pread_full(fd, buf, CHUNK_RECORDS * KKEY_JOURNAL_RECORD_SIZE, off, &got);

		if (r < 0)
			return r;
		for (size_t p = 0; p + KKEY_JOURNAL_RECORD_SIZE <= got; p += KKEY_JOURNAL_RECORD_SIZE) {
			struct ukd_note_event ev;
			bool valid = decode_record(buf + p, &ev);
			uint64_t age;

			/* Pass 2 reads the same bytes: the first n_valid are valid. */
			if (rec ? i >= *n_valid : !valid)
				return 0;
			i++;
			if (!rec) {
				*n_valid = i;
				if (ev.t_ns > *max_t)
					*max_t = ev.t_ns;
				continue;
			}
			if (end_at) {
				age = *max_t - ev.t_ns;
				ev.t_ns = age < end_at ? end_at - age : 0;
			}
			r = ukd_recorder_record(rec, ev.note, ev.on, ev.velocity, ev.t_ns);
			if (r == -ENOSPC)
				info->refused++;
			else if (r < 0)
				return r;
			else
				info->replayed++;
		}
		if (got < CHUNK_RECORDS * KKEY_JOURNAL_RECORD_SIZE)
			return 0;
		off += got;
	}
}

static int replay(struct kkey_journal *j, struct ukd_recorder *rec, struct kkey_journal_replay *info)
{
	uint8_t h[KKEY_JOURNAL_HEADER_SIZE], file_boot[16];
	uint64_t n_valid = 0, max_t = 0, now = ukd_now_ns();
	struct stat st;
	size_t got;
	int r;

	if (fstat(j->fd, &st) < 0)
		return ukd_negerrno();
	if (st.st_size == 0)
		return 0;
	r = pread_full(j->fd, h, sizeof(h), 0, &got);
	if (r < 0)
		return r;
	if (got < sizeof(h) || !decode_header(h, file_boot)) {
		info->bad_header = true;
		info->dropped_bytes = (uint64_t)st.st_size;
		return 0;
	}
	r = scan(j->fd, NULL, &n_valid, &max_t, 0, info);
	if (r < 0)
		return r;
	info->dropped_bytes = (uint64_t)st.st_size - KKEY_JOURNAL_HEADER_SIZE -
			      n_valid * KKEY_JOURNAL_RECORD_SIZE;
	/* CLOCK_MONOTONIC restarts at boot: times from another boot, or from
	 * the future, keep their spacing and end now. */
	info->other_boot = memcmp(file_boot, j->boot_id, 16) != 0;
	return scan(j->fd, rec, &n_valid, &max_t,
		    info->other_boot || max_t > now ? now : 0, info);
}

int kkey_journal_open(struct kkey_journal **ret, const char *dir, struct ukd_recorder *rec,
		      bool sync_each, struct kkey_journal_replay *info)
{
	_cleanup_(kkey_journal_closep) struct kkey_journal *j = NULL;
	int r;

	memset(info, 0, sizeof(*info));
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->sync_each = sync_each;
	read_boot_id(j->boot_id);
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return ukd_negerrno();
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : ukd_negerrno();
	j->fd = openat(j->dirfd, KKEY_JOURNAL_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0)
		return ukd_negerrno();
	r = replay(j, rec, info);
	if (r < 0)
		return r;
	/* Keep an unreadable file for whoever wants to look at it. */
	if (info->bad_header && renameat(j->dirfd, KKEY_JOURNAL_FILE, j->dirfd, JOURNAL_BAD) < 0)
		return ukd_negerrno();
	/* Start from a clean file: this boot's id, no torn tail. */
	r = kkey_journal_rewrite(j, rec);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(j);
	return 0;
}

void kkey_journal_close(struct kkey_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0) {
		(void)kkey_journal_sync(j);
		close(j->fd);
	}
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j);
}

int kkey_journal_append(struct kkey_journal *j, const struct ukd_note_event *ev)
{
	uint8_t r[KKEY_JOURNAL_RECORD_SIZE];
	int err;

	encode_record(r, ev);
	err = pwrite_full(j->fd, r, sizeof(r), j->end);
	if (err < 0) {
		/* No half record may stay: the next append would land after it. */
		(void)ftruncate(j->fd, (off_t)j->end);
		return err;
	}
	j->end += sizeof(r);
	j->dirty = true;
	return j->sync_each ? kkey_journal_sync(j) : 0;
}

int kkey_journal_sync(struct kkey_journal *j)
{
	if (!j->dirty)
		return 0;
	if (fdatasync(j->fd) < 0)
		return ukd_negerrno();
	j->dirty = false;
	return 0;
}

static int write_file(int fd, const struct ukd_recording *snap, const uint8_t boot_id[16],
		      uint64_t *size)
{
	_cleanup_free_ uint8_t *buf = malloc(CHUNK_RECORDS * KKEY_JOURNAL_RECORD_SIZE);
	uint8_t h[KKEY_JOURNAL_HEADER_SIZE];
	uint64_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	encode_header(h, boot_id);
	r = pwrite_full(fd, h, sizeof(h), off);
	off += sizeof(h);
	for (size_t i = 0; r == 0 && i < snap->n_events; i += CHUNK_RECORDS) {
		size_t n = snap->n_events - i < CHUNK_RECORDS ? snap->n_events - i : CHUNK_RECORDS;

		for (size_t k = 0; k < n; k++)
			encode_record(buf + k * KKEY_JOURNAL_RECORD_SIZE, &snap->events[i + k]);
		r = pwrite_full(fd, buf, n * KKEY_JOURNAL_RECORD_SIZE, off);
		off += n * KKEY_JOURNAL_RECORD_SIZE;
	}
	if (r == 0 && fdatasync(fd) < 0)
		r = ukd_negerrno();
	*size = off;
	return r;
}

int kkey_journal_rewrite(struct kkey_journal *j, struct ukd_recorder *rec)
{
	_cleanup_(ukd_recording_clear) struct ukd_recording snap = { 0 };
	_cleanup_close_ int fd = -1;
	uint64_t size;
	int r;

	r = ukd_recorder_snapshot(rec, &snap, false, 0);
	if (r < 0)
		return r;
	fd = openat(j->dirfd, JOURNAL_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ukd_negerrno();
	r = write_file(fd, &snap, j->boot_id, &size);
	if (r == 0 && renameat(j->dirfd, JOURNAL_TMP, j->dirfd, KKEY_JOURNAL_FILE) < 0)
		r = ukd_negerrno();
	if (r < 0) {
		(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
		return r;
	}
	/* The rename itself must reach the disk before the old file's records
	 * are considered gone; a failure here leaves either file valid. */
	(void)fsync(j->dirfd);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = TAKE_FD(fd);
	j->end = size;
	j->dirty = false;
	return 0;
}
