/* SPDX-License-Identifier: MIT */
/*
 * kprng: the pseudo-random character device's ioctl interface. Include
 * this from programs that drive /dev/kprng (or DIR/kprng in FUSE mode).
 * docs/kprngd.md has the full semantics.
 *
 * Scope: every ioctl acts on the open file it is issued on (its stream
 * restarts at position 0). With KPRNG_SCOPE_DEVICE it also changes what
 * later open(2)s get; that needs a file opened for writing (else EPERM),
 * so node permissions (kprngd --mode) decide who may change the device.
 *
 * Magic 0x12 (kkey has 0x11). The block layer also uses 0x12, but with
 * numbers 93 and up; ours are 1..5. All arguments are fixed-size, so 32-
 * and 64-bit callers share one layout. Reserved fields must be zero.
 */
#ifndef UKD_KPRNG_H
#define UKD_KPRNG_H

#include <linux/ioctl.h>
#include <stdint.h>

#define KPRNG_IOC_MAGIC 0x12
#define KPRNG_SEED_SIZE 32

/* Generators (the values are ABI) */
#define KPRNG_GEN_CHACHA20 0u   /* ChaCha20 keystream: cryptographically secure */
#define KPRNG_GEN_XOSHIRO  1u   /* 8 interleaved xoshiro256** lanes: fast, not secure */

/* Flags for the set ioctls */
#define KPRNG_SCOPE_DEVICE (1u << 0)  /* also the default for later opens */

/* Flags in kprng_stats.flags and kprng_generator.flags (read side) */
#define KPRNG_DETERMINISTIC (1u << 0) /* stream comes from a seed, not getrandom */

struct kprng_seed {
	uint8_t seed[KPRNG_SEED_SIZE];  /* the key; see docs for textual seeds */
	uint32_t flags;                 /* KPRNG_SCOPE_DEVICE */
	uint32_t reserved;
};

struct kprng_generator {
	uint32_t generator;   /* KPRNG_GEN_* */
	uint32_t flags;       /* set: KPRNG_SCOPE_DEVICE; get: KPRNG_DETERMINISTIC */
};

struct kprng_stats {
	uint64_t bytes_read;     /* served by read(2), all files, since start */
	uint64_t reads;          /* read(2) requests (pieces) served */
	uint64_t bytes_written;  /* mixed in by write(2) */
	uint64_t writes;
	uint64_t opens;          /* open(2)s since start */
	uint64_t open_now;       /* files open now */
	uint64_t key_changes;    /* device key changes: seeds, reseeds, write folds */
	uint64_t position;       /* this file: bytes read since its stream (re)started */
	uint32_t generator;      /* device default for later opens (KPRNG_GEN_*) */
	uint32_t flags;          /* KPRNG_DETERMINISTIC: the device is seeded */
};

/* Restart this file's stream from @seed (deterministic); with
 * KPRNG_SCOPE_DEVICE later opens use @seed too and pending writes are dropped. */
#define KPRNG_IOC_SET_SEED      _IOW(KPRNG_IOC_MAGIC, 1, struct kprng_seed)
/* This file's generator; flags = KPRNG_DETERMINISTIC if it is seeded. */
#define KPRNG_IOC_GET_GENERATOR _IOR(KPRNG_IOC_MAGIC, 2, struct kprng_generator)
/* Restart this file's stream with another generator, same key; unknown
 * generator → EINVAL. With KPRNG_SCOPE_DEVICE: the default for later opens. */
#define KPRNG_IOC_SET_GENERATOR _IOW(KPRNG_IOC_MAGIC, 3, struct kprng_generator)
/* Restart this file's stream from a fresh getrandom(2) key (leaves
 * deterministic mode); with KPRNG_SCOPE_DEVICE the device leaves it too. */
#define KPRNG_IOC_RESEED        _IOW(KPRNG_IOC_MAGIC, 4, uint32_t)
#define KPRNG_IOC_GET_STATS     _IOR(KPRNG_IOC_MAGIC, 5, struct kprng_stats)

#endif
