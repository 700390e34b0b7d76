#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One write(2) is one event however large (docs/kkeyd.md, write(2)), also
when large writes follow each other on the same open file. (Through FUSE
the kernel splits a write(2) into 1 MiB requests and does not mark where a
write(2) ends; lib/fuse-front.c guesses it. This check holds the daemon to
the spec's wording.)  kkeyd options: none."""
import mmap
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("write-boundaries")
c.prepare(keep=False)
MiB = 1 << 20
for size in (MiB, 2 * MiB):
    fd = os.open(k.node(71), os.O_WRONLY)
    buf = mmap.mmap(-1, size)
    buf[0:1] = b"1"
    w1 = k.bounded(60, os.write, fd, buf)
    buf[0:1] = b"0"
    w2 = k.bounded(60, os.write, fd, buf)
    os.close(fd)
    st = k.status()
    c.ok(w1 == size and w2 == size and st.events == 2 and st.held == 0,
         "two %d-byte writes on one open file (press, then release): 2 events, nothing held (%r)"
         % (size, st))
    if st.held:
        k.release(71)
    k.reset()
# The smaller-than-1-MiB case and a small write after a big one.
fd = os.open(k.node(72), os.O_WRONLY)
buf = mmap.mmap(-1, MiB)
buf[0:1] = b"1"
w1 = k.bounded(60, os.write, fd, buf)
w2 = os.write(fd, b"0")
os.close(fd)
st = k.status()
c.ok(w1 == MiB and w2 == 1 and st.events == 2 and st.held == 0,
     "a 1 MiB press then a 1-byte release on one open file: 2 events, nothing held (%r)" % st)
if st.held:
    k.release(72)
c.finish()
