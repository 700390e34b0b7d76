/* SPDX-License-Identifier: MIT */
/*
 * Mixing written bytes into a key, and deriving per-open keys: SHA-256
 * (FIPS 180-4) from libcrypto. Hashing the written bytes as one stream makes
 * the result independent of how writes were split (by the caller, or by
 * FUSE/CUSE into pieces).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "prng-internal.h"

struct ukd_prng_mix {
	EVP_MD_CTX *ctx;   /* SHA-256 over the pending bytes */
	uint64_t pending;
};

int ukd_prng_mix_new(struct ukd_prng_mix **ret)
{
	struct ukd_prng_mix *m;

	if (!ret)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctx = EVP_MD_CTX_new();
	if (!m->ctx) {
		free(m);
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(m->ctx, EVP_sha256(), NULL) != 1) {
		ukd_prng_mix_free(m);
		return -EIO;
	}
	*ret = m;
	return 0;
}

int ukd_prng_mix_add(struct ukd_prng_mix *m, const void *buf, size_t size)
{
	if (!m || (!buf && size))
		return -EINVAL;
	if (size == 0)
		return 0;
	if (EVP_DigestUpdate(m->ctx, buf, size) != 1)
		return -EIO;
	m->pending += size;
	return 0;
}

uint64_t ukd_prng_mix_pending(const struct ukd_prng_mix *m)
{
	return m ? m->pending : 0;
}

int ukd_prng_mix_discard(struct ukd_prng_mix *m)
{
	if (!m)
		return -EINVAL;
	m->pending = 0;
	if (EVP_DigestInit_ex(m->ctx, EVP_sha256(), NULL) != 1)
		return -EIO;
	return 0;
}

int ukd_prng_mix_fold(struct ukd_prng_mix *m, uint8_t key[UKD_PRNG_KEY_SIZE])
{
	uint8_t digest[UKD_PRNG_KEY_SIZE];
	unsigned int len = 0;
	int r;

	if (!m || !key)
		return -EINVAL;
	if (m->pending == 0)
		return 0;
	if (EVP_DigestFinal_ex(m->ctx, digest, &len) != 1 || len != sizeof(digest))
		return -EIO;
	r = ukd_prng_derive_key(key, UKD_PRNG_MIX_TAG, key, digest);
	OPENSSL_cleanse(digest, sizeof(digest));
	if (r < 0)
		return r;
	r = ukd_prng_mix_discard(m);
	return r < 0 ? r : 1;
}

void ukd_prng_mix_free(struct ukd_prng_mix *m)
{
	if (!m)
		return;
	EVP_MD_CTX_free(m->ctx);
	free(m);
}

int ukd_prng_derive_key(uint8_t out[UKD_PRNG_KEY_SIZE], const char *tag,
			const uint8_t a[UKD_PRNG_KEY_SIZE], const uint8_t b[UKD_PRNG_KEY_SIZE])
{
	uint8_t msg[64 + 2 * UKD_PRNG_KEY_SIZE];
	size_t tag_len;
	unsigned int len = 0;
	int ok;

	if (!out || !tag || !a || !b)
		return -EINVAL;
	tag_len = strlen(tag);
	if (tag_len > 64)
		return -EINVAL;
	memcpy(msg, tag, tag_len);
	memcpy(msg + tag_len, a, UKD_PRNG_KEY_SIZE);
	memcpy(msg + tag_len + UKD_PRNG_KEY_SIZE, b, UKD_PRNG_KEY_SIZE);
	ok = EVP_Digest(msg, tag_len + 2 * UKD_PRNG_KEY_SIZE, out, &len, EVP_sha256(), NULL);
	OPENSSL_cleanse(msg, sizeof(msg));
	if (ok != 1 || len != UKD_PRNG_KEY_SIZE)
		return -EIO;
	return 0;
}
