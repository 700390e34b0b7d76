/* SPDX-License-Identifier: MIT */
/* The generator handle: dispatch, keying, seed parsing, getrandom. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "macro.h"
#include "prng-internal.h"

/* Words 14-15 of the ChaCha20 state that seeds the xoshiro lanes (prng.h). */
static const uint8_t xoshiro_seed_iv[16] = {
	0, 0, 0, 0, 0, 0, 0, 0, 'x', 'o', 's', 'h', 'i', 'r', 'o', '8',
};

static int prng_alloc(struct ukd_prng **ret)
{
	struct ukd_prng *p;

	/* aligned_alloc: struct xoshiro asks for 64-byte alignment. */
	p = aligned_alloc(64, (sizeof(*p) + 63) & ~(size_t)63);
	if (!p)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->chacha = EVP_CIPHER_CTX_new();
	if (!p->chacha) {
		free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

UKD_DEFINE_CLEANUP(struct ukd_prng *, ukd_prng_free)

static int xoshiro_key(struct ukd_prng *p, const uint8_t key[UKD_PRNG_KEY_SIZE])
{
	uint8_t bytes[UKD_PRNG_XOSHIRO_LANES * 32];
	uint64_t state[UKD_PRNG_XOSHIRO_LANES][4];
	int r;

	r = ukd_prng_chacha20_start(p->chacha, key, xoshiro_seed_iv);
	if (r >= 0)
		r = ukd_prng_chacha20_fill(p->chacha, bytes, sizeof(bytes));
	if (r < 0)
		return r;
	for (unsigned int l = 0; l < UKD_PRNG_XOSHIRO_LANES; l++) {
		uint64_t any = 0;

		for (unsigned int w = 0; w < 4; w++) {
			uint64_t v = 0;

			for (unsigned int b = 0; b < 8; b++)
				v |= (uint64_t)bytes[l * 32 + w * 8 + b] << (8 * b);
			state[l][w] = v;
			any |= v;
		}
		if (!any)
			state[l][0] = 1;  /* xoshiro's one invalid state */
	}
	ukd_prng_xoshiro_set_state(&p->xo, state);
	OPENSSL_cleanse(bytes, sizeof(bytes));
	OPENSSL_cleanse(state, sizeof(state));
	return 0;
}

int ukd_prng_rekey(struct ukd_prng *p, enum ukd_prng_kind kind,
		   const uint8_t key[UKD_PRNG_KEY_SIZE])
{
	static const uint8_t zero_iv[16];
	int r;

	if (!p || !key)
		return -EINVAL;
	switch (kind) {
	case UKD_PRNG_CHACHA20:
		r = ukd_prng_chacha20_start(p->chacha, key, zero_iv);
		if (r >= 0) {
			memcpy(p->key, key, UKD_PRNG_KEY_SIZE);
			memset(p->iv, 0, sizeof(p->iv));
		}
		break;
	case UKD_PRNG_XOSHIRO:
		r = xoshiro_key(p, key);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	p->kind = kind;
	p->pos = 0;
	p->chacha_pos = 0;
	return 0;
}

int ukd_prng_new(struct ukd_prng **ret, enum ukd_prng_kind kind,
		 const uint8_t key[UKD_PRNG_KEY_SIZE])
{
	_cleanup_(ukd_prng_freep) struct ukd_prng *p = NULL;
	int r;

	if (!ret || !key || (unsigned int)kind >= _UKD_PRNG_KIND_MAX)
		return -EINVAL;
	r = prng_alloc(&p);
	if (r < 0)
		return r;
	r = ukd_prng_rekey(p, kind, key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int ukd_prng_new_chacha20_iv(struct ukd_prng **ret, const uint8_t key[UKD_PRNG_KEY_SIZE],
			     const uint8_t iv[16])
{
	_cleanup_(ukd_prng_freep) struct ukd_prng *p = NULL;
	int r;

	if (!ret || !key || !iv)
		return -EINVAL;
	r = prng_alloc(&p);
	if (r < 0)
		return r;
	r = ukd_prng_chacha20_start(p->chacha, key, iv);
	if (r < 0)
		return r;
	memcpy(p->key, key, UKD_PRNG_KEY_SIZE);
	memcpy(p->iv, iv, sizeof(p->iv));
	p->kind = UKD_PRNG_CHACHA20;
	*ret = TAKE_PTR(p);
	return 0;
}

int ukd_prng_new_xoshiro_state(struct ukd_prng **ret,
			       const uint64_t state[UKD_PRNG_XOSHIRO_LANES][4])
{
	struct ukd_prng *p;
	int r;

	if (!ret || !state)
		return -EINVAL;
	for (unsigned int l = 0; l < UKD_PRNG_XOSHIRO_LANES; l++)
		if (!(state[l][0] | state[l][1] | state[l][2] | state[l][3]))
			return -EINVAL;
	r = prng_alloc(&p);
	if (r < 0)
		return r;
	ukd_prng_xoshiro_set_state(&p->xo, state);
	p->kind = UKD_PRNG_XOSHIRO;
	*ret = p;
	return 0;
}

int ukd_prng_fill(struct ukd_prng *p, void *buf, size_t size)
{
	int r = 0;

	if (!p || (!buf && size))
		return -EINVAL;
	if (p->kind == UKD_PRNG_XOSHIRO)
		ukd_prng_xoshiro_fill(&p->xo, buf, size);
	else {
		if (p->chacha_pos != p->pos)
			r = ukd_prng_chacha20_seek(p->chacha, p->key, p->iv, p->pos);
		if (r >= 0)
			r = ukd_prng_chacha20_fill(p->chacha, buf, size);
		/* On failure the context's position is unknown: seek next time. */
		p->chacha_pos = r < 0 ? ~p->pos : p->pos + size;
	}
	if (r < 0)
		return r;
	p->pos += size;
	return 0;
}

enum ukd_prng_kind ukd_prng_get_kind(const struct ukd_prng *p)
{
	return p->kind;
}

uint64_t ukd_prng_position(const struct ukd_prng *p)
{
	return p->pos;
}

void ukd_prng_free(struct ukd_prng *p)
{
	if (!p)
		return;
	EVP_CIPHER_CTX_free(p->chacha);  /* wipes the key schedule */
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

static const char *const kind_names[_UKD_PRNG_KIND_MAX] = {
	[UKD_PRNG_CHACHA20] = "chacha20",
	[UKD_PRNG_XOSHIRO] = "xoshiro",
};

const char *ukd_prng_kind_to_string(enum ukd_prng_kind kind)
{
	if ((unsigned int)kind >= _UKD_PRNG_KIND_MAX)
		return NULL;
	return kind_names[kind];
}

int ukd_prng_kind_from_string(const char *s)
{
	if (!s)
		return -EINVAL;
	for (unsigned int k = 0; k < _UKD_PRNG_KIND_MAX; k++)
		if (!strcmp(s, kind_names[k]))
			return (int)k;
	if (!strcmp(s, "xoshiro256**") || !strcmp(s, "xoshiro256ss"))
		return UKD_PRNG_XOSHIRO;
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ukd_prng_seed_parse(const char *s, uint8_t key[UKD_PRNG_KEY_SIZE])
{
	uint8_t k[UKD_PRNG_KEY_SIZE] = { 0 };
	uint64_t v = 0;
	unsigned int base = 10;
	size_t len;

	if (!s || !key)
		return -EINVAL;
	len = strlen(s);
	if (len == 2 * UKD_PRNG_KEY_SIZE) {
		bool all_hex = true;

		for (size_t i = 0; i < len && all_hex; i++)
			all_hex = hexval(s[i]) >= 0;
		if (all_hex) {
			for (size_t i = 0; i < UKD_PRNG_KEY_SIZE; i++)
				k[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
			memcpy(key, k, sizeof(k));
			return 0;
		}
	}
	/* An integer; strtoull is not used because it takes "-1" and spaces. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d = hexval(*s);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (unsigned int)d) / base)
			return -EINVAL;
		v = v * base + (unsigned int)d;
	}
	for (unsigned int b = 0; b < 8; b++)
		k[b] = (uint8_t)(v >> (8 * b));
	memcpy(key, k, sizeof(k));
	return 0;
}

int ukd_prng_getrandom(void *buf, size_t size, bool nonblock)
{
	uint8_t *p = buf;

	while (size > 0) {
		ssize_t n = getrandom(p, size, nonblock ? GRND_NONBLOCK : 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ukd_negerrno();
		}
		p += n;
		size -= (size_t)n;
	}
	return 0;
}
