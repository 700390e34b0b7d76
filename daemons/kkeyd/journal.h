/* SPDX-License-Identifier: MIT */
/*
 * kkeyd's crash journal: every note event acknowledged to a writer, in a
 * file under the state directory, so that a recording survives kill -9 (the
 * page cache keeps what write(2) handed the kernel) and, up to the last
 * fdatasync, a power cut.
 *
 * File format (version 1, little endian), KKEY_JOURNAL_FILE in the state
 * directory:
 *   header, 40 bytes: magic "UKDKJRNL", u32 version, u32 record size (16),
 *                     16 bytes boot id of the kernel that wrote the times,
 *                     u32 reserved (0), u32 CRC32C of the 36 bytes before it
 *   records, 16 bytes each: u64 t_ns (CLOCK_MONOTONIC of that boot),
 *                     u8 note, u8 on (0/1), u8 velocity, u8 reserved (0),
 *                     u32 CRC32C of the 12 bytes before it
 * CRC32C is the Castagnoli CRC (reflected polynomial 0x82f63b78, initial
 * and final value ~0), as in iSCSI and ext4 metadata.
 *
 * The records are the current recording, oldest first: replaying them
 * through ukd_recorder_record() rebuilds it (held notes included, since a
 * note is held exactly when its last event is a press). Read-and-clear and
 * reset rewrite the file (a new file renamed over the old one) with what
 * the recording holds after them. A file without a valid header is kept
 * as KKEY_JOURNAL_FILE ".bad" and a new one started. A record that is cut short or fails its
 * CRC ends the valid part: it and everything after it are dropped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "recorder.h"

#define KKEY_JOURNAL_FILE "kkeyd.journal"
#define KKEY_JOURNAL_VERSION 1
#define KKEY_JOURNAL_HEADER_SIZE 40
#define KKEY_JOURNAL_RECORD_SIZE 16

/* What opening found; for the daemon's log and for tests. */
struct kkey_journal_replay {
	size_t replayed;         /* events put back into the recorder */
	size_t refused;          /* valid records the recorder refused (a smaller capacity) */
	uint64_t dropped_bytes;  /* torn or corrupt bytes after the valid prefix */
	bool bad_header;         /* the file had no valid header: nothing replayed */
	bool other_boot;         /* written under another boot: times shifted to end now */
};

struct kkey_journal;

/**
 * kkey_journal_open() - open (or create) the journal in @dir, replay it
 * into @rec and rewrite it to hold exactly what @rec holds then.
 * @dir: the state directory; must exist.
 * @rec: an empty recorder.
 * @sync_each: fdatasync after every append (commit=0), else only in
 *             kkey_journal_sync().
 * @info: filled with what was found (also on a torn tail, which is not an
 *        error).
 * Returns 0, -ENOMEM, or the -errno of the file operation that failed.
 */
int kkey_journal_open(struct kkey_journal **ret, const char *dir, struct ukd_recorder *rec,
		      bool sync_each, struct kkey_journal_replay *info);

/** kkey_journal_close() - fdatasync what is pending and close; accepts NULL. */
void kkey_journal_close(struct kkey_journal *j);
UKD_DEFINE_CLEANUP(struct kkey_journal *, kkey_journal_close)

/**
 * kkey_journal_append() - add one event, in the page cache when it returns
 * (on disk too with sync_each). @ev as the recorder stored it.
 * Returns 0 or -errno (nothing of the record is left in the file then).
 */
int kkey_journal_append(struct kkey_journal *j, const struct ukd_note_event *ev);

/**
 * kkey_journal_rewrite() - compact: replace the file by one that holds
 * what @rec holds now. Crash-safe (a new file renamed over the old one,
 * synced before the rename). Returns 0 or -errno (the old file stays).
 */
int kkey_journal_rewrite(struct kkey_journal *j, struct ukd_recorder *rec);

/** kkey_journal_sync() - fdatasync if anything was appended since the last one. Returns 0 or -errno. */
int kkey_journal_sync(struct kkey_journal *j);

/** kkey_journal_crc32c() - CRC32C of @len bytes (exposed for the tests' independent records). */
uint32_t kkey_journal_crc32c(const void *buf, size_t len);
