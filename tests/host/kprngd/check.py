#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""kprngd through a real FUSE mount: reproducibility across read sizes and
concurrent readers, ioctls and their errors, write mixing.

Usage: check.py NODE REFDIR
  NODE   the kprng file of a kprngd started with --seed 42 (chacha20)
  REFDIR where prng_ref.py lives (tests/unit/kprng)
Prints one line per check; exits 1 on the first failure.
"""
import errno
import fcntl
import os
import struct
import sys
import threading
import time

NODE, REFDIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, REFDIR)
import prng_ref as ref  # noqa: E402

MiB = 1 << 20
MAGIC = 0x12


def ioc(d, nr, size):
    return (d << 30) | (size << 16) | (MAGIC << 8) | nr


IOW, IOR = 1, 2
SET_SEED = ioc(IOW, 1, 40)
GET_GENERATOR = ioc(IOR, 2, 8)
SET_GENERATOR = ioc(IOW, 3, 8)
RESEED = ioc(IOW, 4, 4)
GET_STATS = ioc(IOR, 5, 8 * 8 + 8)
SCOPE_DEVICE = 1
DETERMINISTIC = 1


def ok(msg):
    print("ok:", msg, flush=True)


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    ok(msg)


def read_n(fd, total, size):
    out = bytearray()
    while len(out) < total:
        b = os.read(fd, min(size, total - len(out)))
        if not b:
            fail("unexpected EOF")
        out += b
    return bytes(out)


def read_node(total, size, flags=os.O_RDONLY):
    fd = os.open(NODE, flags)
    try:
        return read_n(fd, total, size)
    finally:
        os.close(fd)


def seed_arg(text, flags=0):
    return ref.parse_seed(text) + struct.pack("<II", flags, 0)


def stats(fd):
    v = struct.unpack("<8Q2I", fcntl.ioctl(fd, GET_STATS, bytes(72)))
    keys = "bytes_read reads bytes_written writes opens open_now key_changes position generator flags"
    return dict(zip(keys.split(), v))


def expect_errno(e, fn, msg):
    try:
        fn()
    except OSError as x:
        check(x.errno == e, f"{msg}: {errno.errorcode.get(x.errno)}")
        return
    fail(f"{msg}: succeeded, expected {errno.errorcode[e]}")


# --- reproducibility across read sizes (1 B ... 1 MiB), against the reference
t0 = time.time()
want_head = ref.stream("chacha20", ref.parse_seed("42"), 64 * 1024)
whole = read_node(4 * MiB, MiB)
check(whole[:len(want_head)] == want_head, "seed 42: first 64 KiB equal the reference ChaCha20 stream")
for size in (1, 3, 64, 4095, 4096, 65536, 131072, 1000000, MiB):
    total = 16384 if size < 64 else 4 * MiB
    got = read_node(total, size)
    check(got == whole[:total], f"read size {size}: {total} bytes identical")
# Reads of mixed sizes within one open.
fd = os.open(NODE, os.O_RDONLY)
parts, n, i = [], 0, 0
sizes = (1, MiB, 7, 4096, 333333, 64)
while n < 4 * MiB:
    s = min(sizes[i % len(sizes)], 4 * MiB - n)
    parts.append(read_n(fd, s, s))
    n += s
    i += 1
os.close(fd)
check(b"".join(parts) == whole, "mixed read sizes in one open: identical")

# --- concurrent readers, different read sizes, one stalled reader
stalled = os.open(NODE, os.O_RDONLY)
os.read(stalled, 10)
results = {}


def reader(k, size):
    results[k] = read_node(4 * MiB, size)


threads = [threading.Thread(target=reader, args=(k, s))
           for k, s in enumerate((MiB, 4096, 65536, 1000, MiB, 12345, 131072, 4096))]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
check(all(not t.is_alive() for t in threads), "8 concurrent readers finished while one reader sat idle")
check(all(results[k] == whole for k in range(len(threads))), "8 concurrent readers: identical streams")
check(read_n(stalled, 100, 100) == whole[10:110], "the idle reader continues its own stream")
os.close(stalled)

# --- ioctls through the mount
fd = os.open(NODE, os.O_RDONLY)
g = struct.unpack("<II", fcntl.ioctl(fd, GET_GENERATOR, bytes(8)))
check(g == (0, DETERMINISTIC), "GET_GENERATOR: chacha20, deterministic")
st = stats(fd)
check(st["flags"] == DETERMINISTIC and st["generator"] == 0 and st["open_now"] >= 1,
      f"GET_STATS: seeded, chacha20, {st['opens']} opens, {st['bytes_read']} bytes read")
fcntl.ioctl(fd, SET_SEED, seed_arg("7"))
check(read_n(fd, 4096, 4096) == ref.stream("chacha20", ref.parse_seed("7"), 4096),
      "SET_SEED (file scope) restarts this file with seed 7")
fcntl.ioctl(fd, SET_GENERATOR, struct.pack("<II", 1, 0))
check(read_n(fd, 4096, 1000) == ref.stream("xoshiro", ref.parse_seed("7"), 4096),
      "SET_GENERATOR xoshiro (file scope): the reference xoshiro stream of seed 7")
check(stats(fd)["position"] == 4096, "GET_STATS position counts this file's bytes")
expect_errno(errno.EPERM, lambda: fcntl.ioctl(fd, SET_SEED, seed_arg("7", SCOPE_DEVICE)),
             "device-scope SET_SEED on a read-only open")
expect_errno(errno.ENOTTY, lambda: fcntl.ioctl(fd, ioc(0, 0x7f, 0)), "unknown ioctl number")
expect_errno(errno.ENOTTY, lambda: fcntl.ioctl(fd, (2 << 30) | (4 << 16) | (0x54 << 8) | 1, bytes(4)),
             "foreign ioctl magic")
expect_errno(errno.EINVAL, lambda: fcntl.ioctl(fd, ioc(IOW, 1, 4), bytes(4)), "SET_SEED with the wrong size")
expect_errno(errno.EINVAL, lambda: fcntl.ioctl(fd, ioc(IOR, 5, 8), bytes(8)), "GET_STATS with the wrong size")
expect_errno(errno.EINVAL, lambda: fcntl.ioctl(fd, SET_GENERATOR, struct.pack("<II", 9, 0)),
             "SET_GENERATOR with an unknown generator")
expect_errno(errno.EINVAL, lambda: fcntl.ioctl(fd, RESEED, struct.pack("<I", 0x100)), "RESEED with unknown flags")
fcntl.ioctl(fd, RESEED, struct.pack("<I", 0))
a = read_n(fd, 64, 64)
check(a != whole[:64] and struct.unpack("<II", fcntl.ioctl(fd, GET_GENERATOR, bytes(8)))[1] == 0,
      "RESEED (file scope): random again")
os.close(fd)
check(read_node(4096, 4096) == whole[:4096], "file-scope ioctls changed nothing for later opens")

# --- writes: mixed into the key of later opens, however split
data = os.urandom(3 * MiB + 5)
wfd = os.open(NODE, os.O_WRONLY)
check(os.write(wfd, data[:5]) == 5, "write 5 bytes")
check(os.write(wfd, data[5:]) == len(data) - 5, "write 3 MiB in one write(2) (split by FUSE)")
os.close(wfd)
want = ref.stream("chacha20", ref.mix(ref.parse_seed("42"), data), 8192)
check(read_node(8192, 4096) == want, "after writes: SHA-256(tag || key || SHA-256(data)) keys later opens")
check(read_node(8192, 8192) == want, "no new writes: the next open reads the same")

# --- device scope, from a writable open
fd = os.open(NODE, os.O_RDWR)
fcntl.ioctl(fd, SET_SEED, seed_arg("42", SCOPE_DEVICE))
fcntl.ioctl(fd, SET_GENERATOR, struct.pack("<II", 1, SCOPE_DEVICE))
check(read_node(64 * 1024, 65536) == ref.stream("xoshiro", ref.parse_seed("42"), 64 * 1024),
      "device scope: seed 42 + xoshiro for later opens (pending writes dropped)")
fcntl.ioctl(fd, SET_GENERATOR, struct.pack("<II", 0, SCOPE_DEVICE))
check(read_node(4096, 4096) == whole[:4096], "device scope: back to chacha20, seed 42")
os.close(fd)
print(f"check.py done in {time.time() - t0:.1f} s")
