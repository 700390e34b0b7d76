#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bad and odd input gives the documented result (docs/kkeyd.md):
huge writes are one event each and return count; count 0 returns 0 and
records nothing; unknown ioctl -> ENOTTY; known number with the wrong
size/direction -> EINVAL; out-of-range velocity/slowdown -> EINVAL;
non-existent node -> ENOENT; creating files in a FUSE node directory ->
EPERM.  kkeyd options: none."""
import errno
import fcntl
import mmap
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402
from kkeytest import _IOC, _IOC_NONE, _IOC_READ, _IOC_WRITE, MAGIC  # noqa: E402

c = k.Check("badinput")
c.prepare(keep=False)
MiB = 1 << 20


def big_write(n, size, first, aligned):
    """One write(2) of @size bytes starting with @first on a fresh open file."""
    if aligned:
        buf = mmap.mmap(-1, size)          # page aligned
        buf[0:1] = first
        view = memoryview(buf)
    else:
        raw = bytearray(size + 1)          # start at an odd address
        view = memoryview(raw)[1:]
        view[0:1] = first
    fd = os.open(k.node(n), os.O_WRONLY)
    try:
        return k.bounded(60, os.write, fd, view)
    finally:
        os.close(fd)


for size in (MiB, 4 * MiB, MiB + 1, 3 * MiB + 17):
    for aligned in (True, False):
        before = k.status().events
        r1 = big_write(70, size, b"1", aligned)
        mid = k.status()
        r0 = big_write(70, size, b"0", aligned)
        after = k.status().events
        c.ok(r1 == size and r0 == size and mid.events == before + 1 and mid.held == 1 and after == before + 2,
             "%d-byte writes (%s buffer): return %d/%d, one event each (events %d -> %d -> %d)"
             % (size, "page-aligned" if aligned else "unaligned", r1, r0, before, mid.events, after))
c.verify("big-writes", k.read_song(0), counts=(8, 8))

# count == 0
fd = os.open(k.node(72), os.O_WRONLY)
r = os.write(fd, b"")
os.close(fd)
st = k.status()
c.ok(r == 0 and st.events == 0 and st.held == 0, "write of 0 bytes returns 0 and records nothing (%r)" % st)

# O_NONBLOCK | O_RDWR writes (the course examples) and write-then-read on one fd.
fd = os.open(k.node(73), os.O_RDWR | os.O_NONBLOCK)
c.ok(os.write(fd, b"1") == 1 and os.write(fd, b"0") == 1, "O_NONBLOCK|O_RDWR writes return 1")
os.close(fd)
c.verify("nonblock", k.read_song(0), expect_notes=[(73, 0, 0)], counts=(1, 1), tol=1)

# ioctl errors.
def ioctl(cmd, arg):
    return k.with_fd(lambda fd: fcntl.ioctl(fd, cmd, arg))


for cmd, arg, what in (
        (_IOC(_IOC_NONE, MAGIC, 7, 0), 0, "_IO(0x11, 7) (the first unknown number; 6 is PANIC)"),
        (_IOC(_IOC_NONE, MAGIC, 0xFF, 0), 0, "_IO(0x11, 0xff)"),
        (_IOC(_IOC_NONE, 0x12, 0, 0), 0, "_IO(0x12, 0) (other magic)"),
        (_IOC(_IOC_READ, 0x12, 1, 4), bytes(4), "_IOR(0x12, 1, u32) (other magic)"),
        (_IOC(_IOC_READ, MAGIC, 42, 4), bytes(4), "_IOR(0x11, 42, u32) (unknown number)"),
        (0x5401, bytes(64), "TCGETS")):
    c.errno_is(errno.ENOTTY, "ioctl %s" % what, ioctl, cmd, arg)

for cmd, arg, what in (
        (_IOC(_IOC_READ, MAGIC, 1, 8), bytes(8), "GET_VELOCITY with size 8"),
        (_IOC(_IOC_READ, MAGIC, 1, 2), bytes(2), "GET_VELOCITY with size 2"),
        (_IOC(_IOC_WRITE, MAGIC, 2, 8), bytes(8), "SET_VELOCITY with size 8"),
        (_IOC(_IOC_READ, MAGIC, 2, 4), bytes(4), "SET_VELOCITY as _IOR (wrong direction)"),
        (_IOC(_IOC_WRITE, MAGIC, 1, 4), struct.pack("=I", 5), "GET_VELOCITY as _IOW (wrong direction)"),
        (_IOC(_IOC_READ, MAGIC, 5, 16), bytes(16), "GET_STATUS with size 16"),
        (_IOC(_IOC_READ, MAGIC, 5, 40), bytes(40), "GET_STATUS with size 40"),
        (_IOC(_IOC_WRITE, MAGIC, 0, 4), bytes(4), "RESET with a 4-byte argument"),
        (_IOC(_IOC_WRITE | _IOC_READ, MAGIC, 4, 4), bytes(4), "SET_SLOWDOWN as _IOWR")):
    c.errno_is(errno.EINVAL, "ioctl %s" % what, ioctl, cmd, arg)

# 0 too: a note-on with velocity 0 is a note-off in MIDI.
for v in (0, 128, 255, 1000, 0xFFFFFFFF):
    c.errno_is(errno.EINVAL, "SET_VELOCITY %d" % v, k.ioctl_set_u32, k.IOC_SET_VELOCITY, v)
c.ok(k.ioctl_get_u32(k.IOC_GET_VELOCITY) == 63, "velocity still 63 after the refused sets")
for s in (0, 33, 1000, 0xFFFFFFFF):
    c.errno_is(errno.EINVAL, "SET_SLOWDOWN %d" % s, k.ioctl_set_u32, k.IOC_SET_SLOWDOWN, s)
c.ok(k.ioctl_get_u32(k.IOC_GET_SLOWDOWN) == 1, "slowdown still 1 after the refused sets")
c.ok(k.status().events == 0, "no ioctl error recorded anything")

# Names.
for name in ("kkey128", "kkey60", "kkey0600", "kkey-01", "KKEY060", "kkey999"):
    c.errno_is(errno.ENOENT, "open %s" % name, os.open, os.path.join(k.kkey_dir(), name), os.O_RDWR)
names = sorted(os.listdir(k.kkey_dir()))
want = ["kkey%03d" % i for i in range(128)]
if os.path.realpath(k.kkey_dir()) == "/dev":
    c.ok(all(n in names for n in want), "/dev lists kkey000..kkey127")
else:
    c.ok(names == want, "the directory lists exactly kkey000..kkey127 (%d entries)" % len(names))
    for n in ("kkey000", "kkey064", "kkey127"):
        mode = os.stat(os.path.join(k.kkey_dir(), n)).st_mode & 0o7777
        c.ok(mode == 0o666, "%s has mode %o (default 0666)" % (n, mode))
    newf = os.path.join(k.kkey_dir(), "new.mid")
    c.errno_is(errno.EPERM, "create %s" % newf, os.open, newf, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    c.errno_is(errno.EPERM, "create kkey128", os.open, os.path.join(k.kkey_dir(), "kkey128"),
               os.O_CREAT | os.O_WRONLY, 0o644)
    c.errno_is(errno.EPERM, "unlink kkey060", os.unlink, os.path.join(k.kkey_dir(), "kkey060"))
    c.ok(not os.path.exists(newf), "nothing was created")
c.finish()
