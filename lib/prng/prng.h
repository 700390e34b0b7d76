/* SPDX-License-Identifier: MIT */
/*
 * libukd's pseudo-random generators.
 *
 * Two generators, each a byte stream fully determined by a 32-byte key and
 * independent of how it is cut into fill calls:
 *
 *  - UKD_PRNG_CHACHA20: the ChaCha20 keystream (RFC 8439 block function,
 *    computed by OpenSSL's libcrypto) for the key, with state words 12-13
 *    a 64-bit block counter starting at 0 and words 14-15 (the nonce) zero.
 *    Cryptographically secure.
 *  - UKD_PRNG_XOSHIRO: UKD_PRNG_XOSHIRO_LANES independent xoshiro256**
 *    generators run side by side (so the compiler can use vector registers);
 *    each step emits lane 0's output, then lane 1's, ... as little-endian
 *    64-bit words. The lanes' states are the first 32 * LANES bytes of the
 *    ChaCha20 keystream for the key with nonce words 14-15 = the ASCII bytes
 *    "xoshiro8", lane i taking bytes [32i, 32i + 32) as four little-endian
 *    words s[0..3] (an all-zero lane, probability 2^-256, gets s[0] = 1).
 *    Fast, statistically strong, NOT cryptographically secure.
 *
 * Everything returns 0 (or a count) or -errno and never prints.
 * A struct ukd_prng is not thread-safe; use one per thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UKD_PRNG_KEY_SIZE 32
#define UKD_PRNG_XOSHIRO_LANES 8

enum ukd_prng_kind {
	UKD_PRNG_CHACHA20 = 0,
	UKD_PRNG_XOSHIRO = 1,
	_UKD_PRNG_KIND_MAX,
};

struct ukd_prng;

/**
 * ukd_prng_new() - a generator of @kind keyed by @key, at stream position 0.
 * @ret: the new generator, on success only; free with ukd_prng_free().
 * @key: UKD_PRNG_KEY_SIZE bytes; copied.
 * Returns 0, -EINVAL for an unknown @kind, -ENOMEM, or -EIO if libcrypto fails.
 */
int ukd_prng_new(struct ukd_prng **ret, enum ukd_prng_kind kind,
		 const uint8_t key[UKD_PRNG_KEY_SIZE]);

/**
 * ukd_prng_new_chacha20_iv() - a raw ChaCha20 keystream, for known-answer
 * tests and callers that need a nonce.
 * @key: 32 bytes (state words 4-11).
 * @iv: 16 bytes, state words 12-15 in little-endian order; words 12-13 are
 *      a 64-bit block counter (so RFC 8439's 32-bit counter + 96-bit nonce
 *      maps byte for byte while the counter does not wrap).
 * Returns 0 or -errno as ukd_prng_new().
 */
int ukd_prng_new_chacha20_iv(struct ukd_prng **ret, const uint8_t key[UKD_PRNG_KEY_SIZE],
			     const uint8_t iv[16]);

/**
 * ukd_prng_new_xoshiro_state() - xoshiro256** lanes with the given states,
 * for known-answer tests.
 * @state: state[i][0..3] are s[0..3] of lane i; an all-zero lane is -EINVAL.
 * Returns 0 or -errno.
 */
int ukd_prng_new_xoshiro_state(struct ukd_prng **ret,
			       const uint64_t state[UKD_PRNG_XOSHIRO_LANES][4]);

/**
 * ukd_prng_rekey() - restart @p as @kind keyed by @key at position 0,
 * reusing its allocations. On failure @p is unchanged.
 * Returns 0 or -errno as ukd_prng_new().
 */
int ukd_prng_rekey(struct ukd_prng *p, enum ukd_prng_kind kind,
		   const uint8_t key[UKD_PRNG_KEY_SIZE]);

/**
 * ukd_prng_fill() - write the next @size bytes of the stream into @buf.
 * Generates in place: no intermediate buffer for whole blocks.
 * Returns 0, or -EIO if libcrypto fails (the position is then undefined).
 */
int ukd_prng_fill(struct ukd_prng *p, void *buf, size_t size);

/** ukd_prng_get_kind() - which generator @p runs. */
enum ukd_prng_kind ukd_prng_get_kind(const struct ukd_prng *p);

/** ukd_prng_position() - bytes produced since the last (re)key. */
uint64_t ukd_prng_position(const struct ukd_prng *p);

/** ukd_prng_free() - wipe and free @p. Accepts NULL. */
void ukd_prng_free(struct ukd_prng *p);

/** ukd_prng_kind_to_string() - "chacha20", "xoshiro", or NULL if unknown. */
const char *ukd_prng_kind_to_string(enum ukd_prng_kind kind);

/**
 * ukd_prng_kind_from_string() - parse "chacha20" or "xoshiro" (also
 * "xoshiro256**"/"xoshiro256ss"). Returns the kind or -EINVAL.
 */
int ukd_prng_kind_from_string(const char *s);

/**
 * ukd_prng_seed_parse() - turn a textual seed into a key.
 * @s: exactly 64 hex digits: the 32 key bytes in that order; otherwise an
 *     unsigned integer < 2^64, decimal or 0x-prefixed hex: the key is its
 *     8-byte little-endian encoding followed by 24 zero bytes.
 * @key: written on success only.
 * Returns 0 or -EINVAL (empty, junk, or out of range).
 */
int ukd_prng_seed_parse(const char *s, uint8_t key[UKD_PRNG_KEY_SIZE]);

/**
 * ukd_prng_getrandom() - @size bytes from getrandom(2), retrying short
 * reads and EINTR.
 * @nonblock: pass GRND_NONBLOCK (-EAGAIN before the kernel pool is ready).
 * Returns 0 or -errno.
 */
int ukd_prng_getrandom(void *buf, size_t size, bool nonblock);

/*
 * Key derivation (SHA-256, from libcrypto). The tags make every use
 * distinct; they are ASCII without a terminating NUL.
 */
#define UKD_PRNG_MIX_TAG "ukd-kprng-mix-v1"
#define UKD_PRNG_OPEN_TAG "ukd-kprng-open-v1"

struct ukd_prng_mix;

/**
 * ukd_prng_mix_new() - an accumulator for bytes to mix into a key.
 * Returns 0 or -ENOMEM/-EIO; free with ukd_prng_mix_free().
 */
int ukd_prng_mix_new(struct ukd_prng_mix **ret);

/** ukd_prng_mix_add() - absorb @size bytes (0 is a no-op). Returns 0 or -EIO. */
int ukd_prng_mix_add(struct ukd_prng_mix *m, const void *buf, size_t size);

/** ukd_prng_mix_pending() - bytes absorbed since the last fold or discard. */
uint64_t ukd_prng_mix_pending(const struct ukd_prng_mix *m);

/**
 * ukd_prng_mix_fold() - if any bytes D are pending, replace @key with
 * SHA-256(UKD_PRNG_MIX_TAG || key || SHA-256(D)) and start over; the result
 * depends only on the concatenation D, not on how it was added.
 * Returns 1 if @key changed, 0 if nothing was pending, -EIO.
 */
int ukd_prng_mix_fold(struct ukd_prng_mix *m, uint8_t key[UKD_PRNG_KEY_SIZE]);

/** ukd_prng_mix_discard() - forget pending bytes. Returns 0 or -EIO. */
int ukd_prng_mix_discard(struct ukd_prng_mix *m);

/** ukd_prng_mix_free() - accepts NULL. */
void ukd_prng_mix_free(struct ukd_prng_mix *m);

/**
 * ukd_prng_derive_key() - @out = SHA-256(@tag || @a || @b), with @a and @b
 * each UKD_PRNG_KEY_SIZE bytes. @out may alias @a or @b.
 * Returns 0 or -EIO.
 */
int ukd_prng_derive_key(uint8_t out[UKD_PRNG_KEY_SIZE], const char *tag,
			const uint8_t a[UKD_PRNG_KEY_SIZE], const uint8_t b[UKD_PRNG_KEY_SIZE]);

/*
 * Read-ahead for large ChaCha20 reads (ahead.c). ChaCha20 can start at any
 * block, so while the caller hands out one buffer of a stream (e.g. the
 * FUSE front end copies it to the reader), a helper thread generates the
 * same number of bytes that follow into another buffer; if the next read
 * of that stream starts there and is no longer, it is served from that
 * buffer without generating on the caller's thread. A few buffers (4) keep
 * the read-ahead of readers that take turns. The bytes are exactly those
 * of ukd_prng_fill(): a stream is identified by its key, IV and position
 * only, so a guess that does not come true costs time, never correctness.
 * Reads smaller than UKD_PRNG_AHEAD_MIN, xoshiro reads, and every read
 * without a helper thread are generated on the caller's thread into one of
 * the engine's buffers, so callers have one path.
 */
#define UKD_PRNG_AHEAD_MIN (64 * 1024)

struct ukd_prng_ahead;

/**
 * ukd_prng_ahead_new() - an engine lending buffers of up to @max bytes
 * (4 of them with the thread, else 1).
 * @thread: start the helper thread (with the caller's signal mask: block
 *          signals first in daemons); false: no read-ahead at all.
 * Returns 0, -EINVAL, -ENOMEM or another -errno from pthread_create().
 */
int ukd_prng_ahead_new(struct ukd_prng_ahead **ret, size_t max, bool thread);

/** ukd_prng_ahead_free() - stop the thread, wipe and free. Accepts NULL. */
void ukd_prng_ahead_free(struct ukd_prng_ahead *a);

/**
 * ukd_prng_ahead_read() - the next @size bytes of @p's stream.
 * @data: set to a buffer owned by @a, valid until the next call on @a.
 * Advances @p by @size. One caller thread per engine; @p may be any
 * generator and change between calls.
 * Returns 0, -EINVAL (@size > max), or -EIO as ukd_prng_fill().
 */
int ukd_prng_ahead_read(struct ukd_prng_ahead *a, struct ukd_prng *p, size_t size,
			const void **data);

/**
 * ukd_prng_ahead_forget() - wipe whatever @a holds of @p's stream (before
 * @p is freed or rekeyed: output that was or would have been read does not
 * linger in memory). Waits for a read-ahead of @p in progress.
 */
void ukd_prng_ahead_forget(struct ukd_prng_ahead *a, const struct ukd_prng *p);

/**
 * ukd_prng_ahead_wait() - wait until the helper has generated every guess
 * made so far (tests and benchmarks: makes ukd_prng_ahead_hits() exact).
 */
void ukd_prng_ahead_wait(struct ukd_prng_ahead *a);

/** ukd_prng_ahead_hits() - reads served from the read-ahead so far. */
uint64_t ukd_prng_ahead_hits(const struct ukd_prng_ahead *a);
