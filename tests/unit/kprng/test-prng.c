/* SPDX-License-Identifier: MIT */
/* lib/prng: known answers (RFC 8439, xoshiro256** reference), stream
 * independence from fill sizes, seed parsing, mixing. */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "prng/prng.h"
#include "ref.h"
#include "../check-run.h"

static void hex(const char *s, uint8_t *p, size_t n)
{
	from_hex(s, p, n);
}

static struct ukd_prng *chacha_iv(const char *key_hex, const char *iv_hex)
{
	uint8_t key[32], iv[16];
	struct ukd_prng *p = NULL;

	hex(key_hex, key, sizeof(key));
	hex(iv_hex, iv, sizeof(iv));
	ck_assert_int_eq(ukd_prng_new_chacha20_iv(&p, key, iv), 0);
	return p;
}

#define KEY_0_31 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* RFC 8439 2.3.2: the block function, counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00. */
START_TEST(chacha20_rfc_2_3_2)
{
	static const char want[] =
		"10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
		"d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e";
	struct ukd_prng *p = chacha_iv(KEY_0_31, "01000000" "000000090000004a00000000");
	uint8_t out[64];
	char *got;

	ck_assert_int_eq(ukd_prng_fill(p, out, sizeof(out)), 0);
	got = to_hex(out, sizeof(out));
	ck_assert_str_eq(got, want);
	free(got);
	ukd_prng_free(p);
}
END_TEST

/* RFC 8439 2.4.2: encryption of the sunscreen text, keystream in odd pieces. */
START_TEST(chacha20_rfc_2_4_2)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				 "only one tip for the future, sunscreen would be it.";
	static const char want[] =
		"6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
		"f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
		"07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
		"5af90bbf74a35be6b40b8eedf2785e42874d";
	static const size_t pieces[] = { 1, 2, 61, 3, 47 };
	struct ukd_prng *p = chacha_iv(KEY_0_31, "01000000" "000000000000004a00000000");
	uint8_t ks[114], ct[114];
	size_t off = 0;
	char *got;

	ck_assert_uint_eq(strlen(pt), sizeof(ks));
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		ck_assert_int_eq(ukd_prng_fill(p, ks + off, pieces[i]), 0);
		off += pieces[i];
	}
	ck_assert_uint_eq(off, sizeof(ks));
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)pt[i] ^ ks[i];
	got = to_hex(ct, sizeof(ct));
	ck_assert_str_eq(got, want);
	free(got);
	ck_assert_uint_eq(ukd_prng_position(p), 114);
	ukd_prng_free(p);
}
END_TEST

/* RFC 8439 A.2 test vectors #1 (all zero) and #3 (the Jabberwocky, counter 42). */
START_TEST(chacha20_rfc_a_2)
{
	static const char want1[] =
		"76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
		"da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";
	static const char pt3[] = "'Twas brillig, and the slithy toves\nDid gyre and gimble in the "
				  "wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.";
	static const char want3[] =
		"62e6347f95ed87a45ffae7426f27a1df5fb69110044c0d73118effa95b01e5cf"
		"166d3df2d721caf9b21e5fb14c616871fd84c54f9d65b283196c7fe4f60553eb"
		"f39c6402c42234e32a356b3e764312a61a5532055716ead6962568f87d3f3f77"
		"04c6a8d1bcd1bf4d50d6154b6da731b187b58dfd728afa36757a797ac188d1";
	static const uint8_t zero_key[32];
	struct ukd_prng *p = NULL;
	uint8_t out[127];
	char *got;

	/* #1 is also the stream ukd_prng_new() defines for an all-zero key. */
	ck_assert_int_eq(ukd_prng_new(&p, UKD_PRNG_CHACHA20, zero_key), 0);
	ck_assert_int_eq(ukd_prng_fill(p, out, 64), 0);
	got = to_hex(out, 64);
	ck_assert_str_eq(got, want1);
	free(got);
	ukd_prng_free(p);

	p = chacha_iv("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
		      "2a000000" "000000000000000000000002");
	ck_assert_uint_eq(strlen(pt3), sizeof(out));
	ck_assert_int_eq(ukd_prng_fill(p, out, sizeof(out)), 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] ^= (uint8_t)pt3[i];
	got = to_hex(out, sizeof(out));
	ck_assert_str_eq(got, want3);
	free(got);
	ukd_prng_free(p);
}
END_TEST

/* Words 12-13 are one 64-bit counter: crossing 2^32 blocks carries into
 * word 13 (prng.h); OpenSSL must keep doing that. */
START_TEST(chacha20_counter_carry)
{
	struct ukd_prng *p = chacha_iv(KEY_0_31, "fdffffff00000000" "0102030405060708");
	uint8_t out[5 * 64 + 7];

	ck_assert_int_eq(ukd_prng_fill(p, out, 100), 0);
	ck_assert_int_eq(ukd_prng_fill(p, out + 100, sizeof(out) - 100), 0);
	ck_assert_ref(out, sizeof(out), "chacha20 %s fdffffff000000000102030405060708 %zu",
		      KEY_0_31, sizeof(out));
	ukd_prng_free(p);
}
END_TEST

/* xoshiro256** from state {1, 2, 3, 4}: the first outputs of the authors'
 * reference code (also computed by prng_ref.py), in lane 0; lanes 1..7 get
 * other states and are checked against the reference at test time. */
START_TEST(xoshiro_reference)
{
	static const uint64_t want0[] = {
		11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
		607988272756665600u, 16172922978634559625u, 8476171486693032832u,
		10595114339597558777u, 2904607092377533576u,
	};
	enum { STEPS = sizeof(want0) / sizeof(want0[0]) };
	uint64_t state[UKD_PRNG_XOSHIRO_LANES][4];
	uint64_t out[STEPS][UKD_PRNG_XOSHIRO_LANES];
	struct ukd_prng *p = NULL;

	for (unsigned int l = 0; l < UKD_PRNG_XOSHIRO_LANES; l++)
		for (unsigned int w = 0; w < 4; w++)
			state[l][w] = l == 0 ? w + 1 : 0x9e3779b97f4a7c15ull * (l * 4 + w + 1);
	ck_assert_int_eq(ukd_prng_new_xoshiro_state(&p, state), 0);
	ck_assert_int_eq(ukd_prng_get_kind(p), UKD_PRNG_XOSHIRO);
	/* One output per byte-odd fill, to cross block boundaries. */
	for (size_t off = 0; off < sizeof(out);) {
		size_t n = sizeof(out) - off < 37 ? sizeof(out) - off : 37;

		ck_assert_int_eq(ukd_prng_fill(p, (uint8_t *)out + off, n), 0);
		off += n;
	}
	for (unsigned int i = 0; i < STEPS; i++)
		ck_assert_uint_eq(le64toh(out[i][0]), want0[i]);
	for (unsigned int l = 1; l < UKD_PRNG_XOSHIRO_LANES; l++) {
		char *want = NULL;
		const char *py = getenv("PYTHON3"), *script = getenv("KPRNG_REF");
		char cmd[1024];
		FILE *f;
		size_t cap = 0;
		unsigned int i = 0;

		if (!py || !*py)
			break;
		snprintf(cmd, sizeof(cmd), "'%s' '%s' xoshiro1 %llu %llu %llu %llu %d", py, script,
			 (unsigned long long)state[l][0], (unsigned long long)state[l][1],
			 (unsigned long long)state[l][2], (unsigned long long)state[l][3], STEPS);
		f = popen(cmd, "r");
		ck_assert_ptr_nonnull(f);
		while (getline(&want, &cap, f) > 0) {
			ck_assert_uint_lt(i, STEPS);
			ck_assert_uint_eq(le64toh(out[i][l]), strtoull(want, NULL, 10));
			i++;
		}
		ck_assert_int_eq(pclose(f), 0);
		ck_assert_uint_eq(i, STEPS);
		free(want);
	}
	ukd_prng_free(p);

	/* The one invalid xoshiro state is refused. */
	memset(state[3], 0, sizeof(state[3]));
	ck_assert_int_eq(ukd_prng_new_xoshiro_state(&p, state), -EINVAL);
}
END_TEST

/* Keyed streams as prng.h defines them, against the reference. */
START_TEST(keyed_streams)
{
	static const char *const seeds[] = { "0", "42", "0xdeadbeef", "18446744073709551615",
		"ff00000000000000000000000000000000000000000000000000000000000001" };
	uint8_t buf[1000];

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		for (int kind = 0; kind < _UKD_PRNG_KIND_MAX; kind++) {
			uint8_t key[32];
			struct ukd_prng *p = NULL;

			ck_assert_int_eq(ukd_prng_seed_parse(seeds[i], key), 0);
			ck_assert_int_eq(ukd_prng_new(&p, kind, key), 0);
			ck_assert_int_eq(ukd_prng_fill(p, buf, sizeof(buf)), 0);
			ck_assert_ref(buf, sizeof(buf), "stream %s %s %zu",
				      ukd_prng_kind_to_string(kind), seeds[i], sizeof(buf));
			ukd_prng_free(p);
		}
	}
}
END_TEST

/* The stream does not depend on how it is cut into fills (1 B ... 1 MiB). */
START_TEST(fill_sizes)
{
	static const size_t sizes[] = { 1, 7, 8, 63, 64, 65, 4095, 4096, 65537, 1 << 20 };
	enum { TOTAL = 3 << 20 };
	uint8_t key[32];
	uint8_t *whole = malloc(TOTAL), *parts = malloc(TOTAL);
	int kind = _i;

	ck_assert_ptr_nonnull(whole);
	ck_assert_ptr_nonnull(parts);
	ck_assert_int_eq(ukd_prng_seed_parse("1234567", key), 0);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct ukd_prng *a = NULL, *b = NULL;
		size_t off = 0, step = 0;

		ck_assert_int_eq(ukd_prng_new(&a, kind, key), 0);
		ck_assert_int_eq(ukd_prng_new(&b, kind, key), 0);
		ck_assert_int_eq(ukd_prng_fill(a, whole, TOTAL), 0);
		/* Mix the size under test with small odd sizes. */
		while (off < TOTAL) {
			size_t n = (step++ % 3) ? sizes[s] : 1 + step % 13;

			if (n > TOTAL - off)
				n = TOTAL - off;
			ck_assert_int_eq(ukd_prng_fill(b, parts + off, n), 0);
			off += n;
		}
		ck_assert_int_eq(memcmp(whole, parts, TOTAL), 0);
		ck_assert_uint_eq(ukd_prng_position(b), TOTAL);
		ukd_prng_free(a);
		ukd_prng_free(b);
	}
	/* Rekeying restarts at position 0. */
	{
		struct ukd_prng *a = NULL;

		ck_assert_int_eq(ukd_prng_new(&a, kind, key), 0);
		ck_assert_int_eq(ukd_prng_fill(a, parts, 999), 0);
		ck_assert_int_eq(ukd_prng_rekey(a, kind, key), 0);
		ck_assert_uint_eq(ukd_prng_position(a), 0);
		ck_assert_int_eq(ukd_prng_fill(a, parts, 4096), 0);
		ck_assert_int_eq(memcmp(whole, parts, 4096), 0);
		ck_assert_int_eq(ukd_prng_rekey(a, _UKD_PRNG_KIND_MAX, key), -EINVAL);
		ukd_prng_free(a);
	}
	free(whole);
	free(parts);
}
END_TEST

START_TEST(seed_parse)
{
	static const char *const bad[] = {
		"", "-1", " 1", "1 ", "0x", "0x1g", "12a", "18446744073709551616",
		"0x10000000000000000", "ff0000000000000000000000000000000000000000000000000000000000001",
		"ff000000000000000000000000000000000000000000000000000000000000012",
	};
	uint8_t key[32], want[32] = { 0x2a };

	ck_assert_int_eq(ukd_prng_seed_parse("42", key), 0);
	ck_assert_int_eq(memcmp(key, want, 32), 0);
	ck_assert_int_eq(ukd_prng_seed_parse("0x2A", key), 0);
	ck_assert_int_eq(memcmp(key, want, 32), 0);
	ck_assert_int_eq(ukd_prng_seed_parse("18446744073709551615", key), 0);
	memset(want, 0xff, 8);
	want[0] = 0xff;
	ck_assert_int_eq(memcmp(key, want, 32), 0);
	ck_assert_int_eq(ukd_prng_seed_parse(KEY_0_31, key), 0);
	for (unsigned int i = 0; i < 32; i++)
		ck_assert_uint_eq(key[i], i);
	ck_assert_ref(key, 32, "seed %s", KEY_0_31);
	memset(key, 0x55, sizeof(key));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ukd_prng_seed_parse(bad[i], key) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_uint_eq(key[0], 0x55);  /* untouched on failure */
	}
}
END_TEST

START_TEST(kind_names)
{
	ck_assert_str_eq(ukd_prng_kind_to_string(UKD_PRNG_CHACHA20), "chacha20");
	ck_assert_str_eq(ukd_prng_kind_to_string(UKD_PRNG_XOSHIRO), "xoshiro");
	ck_assert_ptr_null(ukd_prng_kind_to_string(_UKD_PRNG_KIND_MAX));
	ck_assert_int_eq(ukd_prng_kind_from_string("chacha20"), UKD_PRNG_CHACHA20);
	ck_assert_int_eq(ukd_prng_kind_from_string("xoshiro256**"), UKD_PRNG_XOSHIRO);
	ck_assert_int_eq(ukd_prng_kind_from_string("xoshiro"), UKD_PRNG_XOSHIRO);
	ck_assert_int_eq(ukd_prng_kind_from_string("ChaCha20"), -EINVAL);
	ck_assert_int_eq(ukd_prng_kind_from_string(""), -EINVAL);
}
END_TEST

/* Mixing depends on the concatenation only, and matches the documented hash. */
START_TEST(mix)
{
	struct ukd_prng_mix *m = NULL;
	struct ukd_prng *p = NULL;
	uint8_t key[32], key2[32], out[200];

	ck_assert_int_eq(ukd_prng_mix_new(&m), 0);
	ck_assert_int_eq(ukd_prng_seed_parse("42", key), 0);
	memcpy(key2, key, 32);
	ck_assert_int_eq(ukd_prng_mix_fold(m, key), 0);     /* nothing pending */
	ck_assert_int_eq(memcmp(key, key2, 32), 0);
	ck_assert_int_eq(ukd_prng_mix_add(m, "", 0), 0);
	ck_assert_uint_eq(ukd_prng_mix_pending(m), 0);
	ck_assert_int_eq(ukd_prng_mix_add(m, "hel", 3), 0);
	ck_assert_int_eq(ukd_prng_mix_add(m, "lo", 2), 0);
	ck_assert_uint_eq(ukd_prng_mix_pending(m), 5);
	ck_assert_int_eq(ukd_prng_mix_fold(m, key), 1);
	ck_assert_uint_eq(ukd_prng_mix_pending(m), 0);
	ck_assert_int_eq(ukd_prng_new(&p, UKD_PRNG_CHACHA20, key), 0);
	ck_assert_int_eq(ukd_prng_fill(p, out, sizeof(out)), 0);
	ck_assert_ref(out, sizeof(out), "stream chacha20 42 %zu 68656c6c6f", sizeof(out));
	ukd_prng_free(p);

	/* Discard forgets. */
	ck_assert_int_eq(ukd_prng_mix_add(m, "x", 1), 0);
	ck_assert_int_eq(ukd_prng_mix_discard(m), 0);
	memcpy(key2, key, 32);
	ck_assert_int_eq(ukd_prng_mix_fold(m, key), 0);
	ck_assert_int_eq(memcmp(key, key2, 32), 0);
	ukd_prng_mix_free(m);
	ukd_prng_mix_free(NULL);
}
END_TEST

START_TEST(getrandom_fills)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 };

	ck_assert_int_eq(ukd_prng_getrandom(a, sizeof(a), false), 0);
	ck_assert_int_eq(ukd_prng_getrandom(b, sizeof(b), true), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

START_TEST(bad_args)
{
	uint8_t key[32] = { 0 };
	struct ukd_prng *p = NULL;

	ck_assert_int_eq(ukd_prng_new(&p, (enum ukd_prng_kind)7, key), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(ukd_prng_new(NULL, UKD_PRNG_CHACHA20, key), -EINVAL);
	ck_assert_int_eq(ukd_prng_new(&p, UKD_PRNG_CHACHA20, key), 0);
	ck_assert_int_eq(ukd_prng_fill(p, NULL, 1), -EINVAL);
	ck_assert_int_eq(ukd_prng_fill(p, NULL, 0), 0);
	ukd_prng_free(p);
	ukd_prng_free(NULL);
}
END_TEST

/* Reads through the read-ahead engine give exactly ukd_prng_fill()'s bytes,
 * at any position (and across the 2^32-block counter carry), hit or miss,
 * with and without its thread; _i: 1 = with the thread. */
START_TEST(ahead_matches)
{
	static const size_t skips[] = { 0, 1, 63, 64, 100001 };
	static const size_t sizes[] = { 1 << 20, 1 << 20, 1 << 20, 65536, 65536, 100,
					1 << 20, (1 << 20) - 7, (1 << 20) - 7, 70000, 1 << 20, 64 };
	static const char *const ivs[] = { "00000000000000000000000000000000",
					   "f0ffffff000000000000000000000000" };
	struct ukd_prng_ahead *a = NULL;
	uint8_t *want = malloc(1 << 20);
	const void *got;

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(ukd_prng_ahead_new(&a, 1 << 20, _i), 0);
	for (size_t v = 0; v < 2; v++)
		for (size_t i = 0; i < sizeof(skips) / sizeof(skips[0]); i++) {
			struct ukd_prng *p = chacha_iv(KEY_0_31, ivs[v]);
			struct ukd_prng *q = chacha_iv(KEY_0_31, ivs[v]);

			ck_assert_int_eq(ukd_prng_fill(p, want, skips[i]), 0);
			ck_assert_int_eq(ukd_prng_fill(q, want, skips[i]), 0);
			for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
				ck_assert_int_eq(ukd_prng_fill(p, want, sizes[j]), 0);
				ck_assert_int_eq(ukd_prng_ahead_read(a, q, sizes[j], &got), 0);
				ck_assert_int_eq(memcmp(got, want, sizes[j]), 0);
				ck_assert_uint_eq(ukd_prng_position(q), ukd_prng_position(p));
				/* Every other pass: the helper done with each guess
				 * (hits are counted), or racing the next read (a
				 * guess not started yet is claimed, not waited for). */
				if (i % 2 == 0)
					ukd_prng_ahead_wait(a);
			}
			/* A plain fill after lent reads: q's own context catches up. */
			ck_assert_int_eq(ukd_prng_fill(p, want, 1000), 0);
			ck_assert_int_eq(ukd_prng_fill(q, want + 1000, 1000), 0);
			ck_assert_int_eq(memcmp(want, want + 1000, 1000), 0);
			ukd_prng_ahead_forget(a, q);
			ukd_prng_free(p);
			ukd_prng_free(q);
		}
	/* A read hits when it follows a read of >= UKD_PRNG_AHEAD_MIN and is no
	 * longer: per waited pass (3 skips x 2 IVs) reads 2-6, 8-10 and 12 of
	 * @sizes, 9 of 12; racing passes hit when the helper was quicker. */
	if (_i) {
		ck_assert_uint_ge(ukd_prng_ahead_hits(a), 2 * 3 * 9);
		ck_assert_uint_le(ukd_prng_ahead_hits(a), 2 * 5 * 9);
	} else
		ck_assert_uint_eq(ukd_prng_ahead_hits(a), 0);

	/* The carried counter against the reference, through the engine. */
	{
		struct ukd_prng *q = chacha_iv(KEY_0_31, "f0ffffff000000000102030405060708");

		ck_assert_int_eq(ukd_prng_ahead_read(a, q, 1 << 20, &got), 0);
		ck_assert_int_eq(ukd_prng_ahead_read(a, q, 1 << 20, &got), 0);
		ck_assert_ref((const uint8_t *)got + (1 << 20) - 2048, 2048,
			      "chacha20 %s %s %d | tail -c 4097", KEY_0_31,
			      "f0ffffff000000000102030405060708", 2 << 20);
		ukd_prng_free(q);
	}
	ck_assert_int_eq(ukd_prng_ahead_read(a, NULL, 1, &got), -EINVAL);
	ukd_prng_ahead_free(a);
	ukd_prng_ahead_free(NULL);
	free(want);
}
END_TEST

/* Streams that take turns keep their guesses; guesses that go wrong,
 * forgets and rekeys leave the bytes right. Every read waits for the
 * helper, so the hits are exact. */
START_TEST(ahead_turns)
{
	enum { N = 3 << 19 };
	struct ukd_prng_ahead *a = NULL;
	struct ukd_prng *ref[2], *s[2];
	uint8_t *want = malloc(N);
	const void *got;
	uint8_t key[32];

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(ukd_prng_ahead_new(&a, N, true), 0);
	for (int k = 0; k < 2; k++) {
		memset(key, k + 1, sizeof(key));
		ck_assert_int_eq(ukd_prng_new(&ref[k], k ? UKD_PRNG_XOSHIRO : UKD_PRNG_CHACHA20, key), 0);
		ck_assert_int_eq(ukd_prng_new(&s[k], k ? UKD_PRNG_XOSHIRO : UKD_PRNG_CHACHA20, key), 0);
	}
#define READ(k, n)                                                                 \
	do {                                                                       \
		ck_assert_int_eq(ukd_prng_fill(ref[k], want, (n)), 0);             \
		ck_assert_int_eq(ukd_prng_ahead_read(a, s[k], (n), &got), 0);      \
		ck_assert_int_eq(memcmp(got, want, (n)), 0);                       \
		ukd_prng_ahead_wait(a);                                            \
	} while (0)
	/* chacha20 and xoshiro take turns; chacha20 alternates 64 KiB-ish and
	 * N: a read after a shorter one misses, after a longer one hits. */
	for (int round = 0; round < 6; round++)
		for (int k = 0; k < 2; k++)
			READ(k, round % 2 ? (size_t)N : 65536 + (size_t)round);
	ck_assert_uint_eq(ukd_prng_ahead_hits(a), 2);  /* rounds 2 and 4 */
	READ(0, N);
	ck_assert_uint_eq(ukd_prng_ahead_hits(a), 3);  /* after round 5's N */
	/* Forgotten: the next read generates afresh, the same bytes. */
	ukd_prng_ahead_forget(a, s[0]);
	READ(0, N);
	ck_assert_uint_eq(ukd_prng_ahead_hits(a), 3);
	/* Rekeyed to its own key: back to position 0, not the guess. */
	memset(key, 1, sizeof(key));
	ck_assert_int_eq(ukd_prng_rekey(s[0], UKD_PRNG_CHACHA20, key), 0);
	ck_assert_int_eq(ukd_prng_rekey(ref[0], UKD_PRNG_CHACHA20, key), 0);
	READ(0, N);
	ck_assert_uint_eq(ukd_prng_ahead_hits(a), 3);
	/* Two chacha20 streams taking turns both hit. */
	memset(key, 3, sizeof(key));
	ck_assert_int_eq(ukd_prng_rekey(s[1], UKD_PRNG_CHACHA20, key), 0);
	ck_assert_int_eq(ukd_prng_rekey(ref[1], UKD_PRNG_CHACHA20, key), 0);
	for (int round = 0; round < 3; round++)
		for (int k = 0; k < 2; k++)
			READ(k, 65536);
	ck_assert_uint_eq(ukd_prng_ahead_hits(a), 3 + 1 + 2 + 2);
#undef READ
	/* Larger than the buffers. */
	ck_assert_int_eq(ukd_prng_ahead_read(a, s[0], N + 1, &got), -EINVAL);
	for (int k = 0; k < 2; k++) {
		ukd_prng_ahead_forget(a, s[k]);
		ukd_prng_free(ref[k]);
		ukd_prng_free(s[k]);
	}
	ukd_prng_ahead_free(a);
	free(want);
}
END_TEST

static Suite *prng_suite(void)
{
	Suite *s = suite_create("prng");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, chacha20_rfc_2_3_2);
	tcase_add_test(tc, chacha20_rfc_2_4_2);
	tcase_add_test(tc, chacha20_rfc_a_2);
	tcase_add_test(tc, chacha20_counter_carry);
	tcase_add_test(tc, xoshiro_reference);
	tcase_add_test(tc, keyed_streams);
	tcase_add_loop_test(tc, fill_sizes, 0, _UKD_PRNG_KIND_MAX);
	tcase_add_test(tc, seed_parse);
	tcase_add_test(tc, kind_names);
	tcase_add_test(tc, mix);
	tcase_add_test(tc, getrandom_fills);
	tcase_add_test(tc, bad_args);
	tcase_add_loop_test(tc, ahead_matches, 0, 2);
	tcase_add_test(tc, ahead_turns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ukd_check_run(prng_suite());
}
