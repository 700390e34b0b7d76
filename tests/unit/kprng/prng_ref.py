#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent reference for lib/prng and kprngd's streams, for the tests.

Written from the published algorithms, not from our C code:
  ChaCha20 block function: RFC 8439 section 2.3 (state words 12-13 taken as
  one 64-bit block counter, as lib/prng/prng.h defines);
  xoshiro256**: Blackman & Vigna, https://prng.di.unimi.it/xoshiro256starstar.c
  key derivation: SHA-256 from hashlib, as docs/kprngd.md specifies.

Usage (all output is lowercase hex on one line):
  prng_ref.py chacha20 KEYHEX IVHEX NBYTES      raw keystream (IV = words 12-15)
  prng_ref.py xoshiro1 S0 S1 S2 S3 COUNT        one reference lane: COUNT outputs,
                                                one decimal per line
  prng_ref.py stream GEN SEED NBYTES [WRITEHEX] kprngd's stream for a seed, after
                                                optionally mixing in written bytes
  prng_ref.py seed SEED                         the 32-byte key of a textual seed
"""
import hashlib
import struct
import sys

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
LANES = 8
MIX_TAG = b"ukd-kprng-mix-v1"


def rotl32(v, c):
    return ((v << c) & M32) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & M32; s[d] = rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32; s[b] = rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & M32; s[d] = rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32; s[b] = rotl32(s[b] ^ s[c], 7)


def chacha20_block(key, counter64, nonce64):
    # RFC 8439 2.3: constants, key, counter, nonce; 20 rounds; add input.
    init = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]
    init += list(struct.unpack("<8I", key))
    init += [counter64 & M32, counter64 >> 32]
    init += list(struct.unpack("<2I", nonce64))
    s = list(init)
    for _ in range(10):
        quarter(s, 0, 4, 8, 12); quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14); quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15); quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13); quarter(s, 3, 4, 9, 14)
    return struct.pack("<16I", *[(x + y) & M32 for x, y in zip(s, init)])


def chacha20(key, iv, n):
    counter = struct.unpack("<Q", iv[:8])[0]
    nonce = iv[8:]
    out = bytearray()
    while len(out) < n:
        out += chacha20_block(key, counter, nonce)
        counter = (counter + 1) & M64
    return bytes(out[:n])


def rotl64(x, k):
    return ((x << k) & M64) | (x >> (64 - k))


class Xoshiro256ss:
    def __init__(self, s):
        self.s = list(s)

    def next(self):
        s = self.s
        result = (rotl64((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl64(s[3], 45)
        return result


def xoshiro_stream(key, n):
    seed = chacha20(key, bytes(8) + b"xoshiro8", 32 * LANES)
    lanes = []
    for i in range(LANES):
        s = list(struct.unpack("<4Q", seed[32 * i:32 * i + 32]))
        if not any(s):
            s[0] = 1
        lanes.append(Xoshiro256ss(s))
    out = bytearray()
    while len(out) < n:
        for lane in lanes:
            out += struct.pack("<Q", lane.next())
    return bytes(out[:n])


def parse_seed(text):
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return bytes.fromhex(text)
    v = int(text[2:], 16) if text[:2] in ("0x", "0X") else int(text, 10)
    if v < 0 or v > M64:
        raise ValueError(text)
    return struct.pack("<Q", v) + bytes(24)


def mix(key, data):
    return hashlib.sha256(MIX_TAG + key + hashlib.sha256(data).digest()).digest()


def stream(gen, key, n):
    if gen == "chacha20":
        return chacha20(key, bytes(16), n)
    if gen == "xoshiro":
        return xoshiro_stream(key, n)
    raise ValueError(gen)


def main(argv):
    cmd = argv[1]
    if cmd == "chacha20":
        print(chacha20(bytes.fromhex(argv[2]), bytes.fromhex(argv[3]), int(argv[4])).hex())
    elif cmd == "xoshiro1":
        x = Xoshiro256ss([int(v, 0) for v in argv[2:6]])
        for _ in range(int(argv[6])):
            print(x.next())
    elif cmd == "stream":
        key = parse_seed(argv[3])
        if len(argv) > 5 and argv[5]:
            key = mix(key, bytes.fromhex(argv[5]))
        print(stream(argv[2], key, int(argv[4])).hex())
    elif cmd == "seed":
        print(parse_seed(argv[2]).hex())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
