#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--keep: read does not clear (the original module's behaviour). Two reads
return the same bytes; 1-byte reads reassemble exactly the bulk read of the
same snapshot; KKEY_IOC_RESET still clears.  kkeyd options: --keep."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("keep")
st = c.prepare(keep=True)
c.ok(st.flags & k.STATUS_KEEP, "status reports KKEY_STATUS_KEEP (%r)" % st)

for n, d in ((60, 0.2), (64, 0.2), (67, 0.3)):
    k.press(n)
    time.sleep(d)
    k.release(n)
    time.sleep(0.05)

a = k.read_song(0)
b = k.read_song(99)
st = k.status()
c.ok(st.events == 6, "after two reads the recording still holds 6 events (%r)" % st)
c.ok(a == b, "two reads return identical files (%d and %d bytes)" % (len(a), len(b)))
c.verify("keep-bulk", a, expect_notes=[(60, 0, 0.2), (64, 0.25, 0.2), (67, 0.5, 0.3)],
         counts=(3, 3), tol=0.4, audio=True)

# 1-byte reads on one open file, then other odd sizes: each open file takes
# its own snapshot of the same unchanged recording.
for size in (1, 7, 4096):
    fd = os.open(k.node(30), os.O_RDONLY)
    try:
        got = k.bounded(60, k.read_all, fd, size)
    finally:
        os.close(fd)
    c.ok(got == a, "%d-byte reads reassemble the bulk read byte for byte (%d bytes)" % (size, len(got)))

# A read past EOF keeps returning 0 on the same open file.
fd = os.open(k.node(0), os.O_RDONLY)
whole = k.read_all(fd)
again = os.read(fd, 100)
os.close(fd)
c.ok(whole == a and again == b"", "after EOF, read returns 0 on the same open file")

k.reset()
c.verify("keep-after-reset", k.read_song(0), empty=True)
c.ok(k.status().events == 0, "reset clears in --keep mode")
c.finish()
