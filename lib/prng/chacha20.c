/* SPDX-License-Identifier: MIT */
/*
 * The ChaCha20 keystream through OpenSSL's EVP interface (its assembly uses
 * AVX2/AVX-512 where the CPU has them; we do not hand-write a cipher).
 *
 * EVP "ChaCha20" takes a 16-byte IV that is the cipher state's words 12-15
 * in little-endian order, and carries an overflowing word 12 into word 13,
 * i.e. words 12-13 act as one 64-bit block counter (checked by the unit
 * test at the 2^32-block boundary). The keystream is the encryption of zeros.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>

#include "prng-internal.h"

/* The plaintext: never written, so it stays in L1 whatever @size is. */
static const uint8_t zeros[16384];

int ukd_prng_chacha20_start(EVP_CIPHER_CTX *ctx, const uint8_t key[UKD_PRNG_KEY_SIZE],
			    const uint8_t iv[16])
{
	if (EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, iv) != 1)
		return -EIO;
	return 0;
}

int ukd_prng_chacha20_fill(EVP_CIPHER_CTX *ctx, void *buf, size_t size)
{
	uint8_t *out = buf;

	while (size > 0) {
		int chunk = size < sizeof(zeros) ? (int)size : (int)sizeof(zeros);
		int outl = 0;

		if (EVP_EncryptUpdate(ctx, out, &outl, zeros, chunk) != 1 || outl != chunk)
			return -EIO;
		out += chunk;
		size -= (size_t)chunk;
	}
	return 0;
}

int ukd_prng_chacha20_seek(EVP_CIPHER_CTX *ctx, const uint8_t key[UKD_PRNG_KEY_SIZE],
			   const uint8_t start_iv[16], uint64_t pos)
{
	uint8_t iv[16], scratch[64];
	uint64_t counter = 0;
	int r;

	/* Words 12-13: a 64-bit little-endian block counter (see top). */
	memcpy(iv, start_iv, sizeof(iv));
	for (unsigned int b = 0; b < 8; b++)
		counter |= (uint64_t)iv[b] << (8 * b);
	counter += pos / 64;
	for (unsigned int b = 0; b < 8; b++)
		iv[b] = (uint8_t)(counter >> (8 * b));
	r = ukd_prng_chacha20_start(ctx, key, iv);
	if (r >= 0 && pos % 64)
		r = ukd_prng_chacha20_fill(ctx, scratch, pos % 64);
	OPENSSL_cleanse(scratch, sizeof(scratch));
	return r;
}
