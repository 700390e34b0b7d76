/* SPDX-License-Identifier: MIT */
/* Shared by the files of lib/prng; not part of libukd's interface. */
#pragma once

#include <openssl/evp.h>

#include "prng.h"

#define XOSHIRO_BLOCK (8 * UKD_PRNG_XOSHIRO_LANES)

/* xoshiro256** lanes, structure of arrays: s[word][lane], so that one
 * vector register holds the same word of every lane. */
struct xoshiro {
	uint64_t s[4][UKD_PRNG_XOSHIRO_LANES] __attribute__((aligned(64)));
	uint8_t tail[XOSHIRO_BLOCK];   /* an unread block's end ... */
	unsigned int tail_len;         /* ... its last tail_len bytes are unread */
};

struct ukd_prng {
	enum ukd_prng_kind kind;
	uint64_t pos;
	EVP_CIPHER_CTX *chacha;   /* UKD_PRNG_CHACHA20; also keys xoshiro */
	uint64_t chacha_pos;      /* where @chacha stands; != pos after ahead.c
	                           * served bytes from its own context */
	/* UKD_PRNG_CHACHA20: what the stream started from, so that another
	 * context can start at any position (ahead.c). */
	uint8_t key[UKD_PRNG_KEY_SIZE];
	uint8_t iv[16];
	struct xoshiro xo;        /* UKD_PRNG_XOSHIRO */
};

void ukd_prng_xoshiro_set_state(struct xoshiro *x,
				const uint64_t state[UKD_PRNG_XOSHIRO_LANES][4]);
void ukd_prng_xoshiro_fill(struct xoshiro *x, void *buf, size_t size);

/* Each returns 0 or -EIO. ukd_prng_chacha20_start() (re)starts @ctx, which
 * must come from EVP_CIPHER_CTX_new(). */
int ukd_prng_chacha20_start(EVP_CIPHER_CTX *ctx, const uint8_t key[UKD_PRNG_KEY_SIZE],
			    const uint8_t iv[16]);
int ukd_prng_chacha20_fill(EVP_CIPHER_CTX *ctx, void *buf, size_t size);
/* Start @ctx at byte @pos of the ChaCha20 stream that starts at @key, @iv. */
int ukd_prng_chacha20_seek(EVP_CIPHER_CTX *ctx, const uint8_t key[UKD_PRNG_KEY_SIZE],
			   const uint8_t iv[16], uint64_t pos);
