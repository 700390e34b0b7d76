/* SPDX-License-Identifier: MIT */
/*
 * The kprng device: one node whose every open file reads its own stream of
 * a generator from lib/prng. Device logic only: no FUSE, no CUSE, no
 * daemon; the unit tests drive it through its ops table directly.
 * docs/kprngd.md is the specification.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "chardev.h"
#include "macro.h"
#include "prng/prng.h"
#include "ukd/kprng.h"

struct kprng_config {
	const char *name;              /* node name, "kprng" */
	mode_t mode;                   /* node permissions */
	enum ukd_prng_kind generator;  /* default for opens */
	bool deterministic;            /* seeded: every open starts the stream of @seed */
	uint8_t seed[UKD_PRNG_KEY_SIZE];
	bool helper;                   /* a read-ahead thread for large ChaCha20 reads */
};

struct kprng {
	struct ukd_chardev node;
	enum ukd_prng_kind generator;
	bool deterministic;
	/* The device key S: the seed in deterministic mode, else random. */
	uint8_t key[UKD_PRNG_KEY_SIZE];
	struct ukd_prng_mix *mix;      /* written bytes not yet folded into key */
	struct ukd_prng_ahead *ahead;  /* read buffers, and the read-ahead thread if configured */
	struct kprng_stats stats;      /* position/generator/flags filled on demand */
};

/**
 * kprng_new() - a device per @cfg; the random key comes from getrandom(2)
 * (blocking until the kernel pool is ready, once).
 * Returns 0 or -errno.
 */
int kprng_new(struct kprng **ret, const struct kprng_config *cfg);

/**
 * kprng_set_seed() - the device key for later opens: @seed (deterministic:
 * every later open reads the same stream) or, with NULL, a fresh key from
 * getrandom(2). Bytes written but not yet folded in are dropped with a
 * seed and folded into a random key. Returns 0 or -errno.
 */
int kprng_set_seed(struct kprng *k, const uint8_t seed[UKD_PRNG_KEY_SIZE]);

/** kprng_set_generator() - the generator later opens use. 0 or -EINVAL. */
int kprng_set_generator(struct kprng *k, enum ukd_prng_kind kind);

/** kprng_free() - the node must no longer be served. Accepts NULL. */
void kprng_free(struct kprng *k);

UKD_DEFINE_CLEANUP(struct kprng *, kprng_free)

extern const struct ukd_chardev_ops kprng_ops;
