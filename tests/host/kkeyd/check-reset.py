#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""KKEY_IOC_RESET = _IO(0x11, 0) clears the recording, on any node, through
any open mode; held notes stay held (include/ukd/kkey.h).  kkeyd options:
none (works with --keep too)."""
import fcntl
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("reset")
c.prepare()
c.ok(k.IOC_RESET == 0x1100, "KKEY_IOC_RESET is 0x1100 (_IO(0x11, 0), as the original)")

for mode, name in ((os.O_RDWR, "O_RDWR"), (os.O_RDONLY, "O_RDONLY"), (os.O_WRONLY, "O_WRONLY")):
    for n in (0, 127):
        k.press(40)
        k.release(40)
        before = k.status().events
        fd = os.open(k.node(n), mode)
        try:
            r = fcntl.ioctl(fd, k.IOC_RESET, 0)
        finally:
            os.close(fd)
        after = k.status().events
        c.ok(before == 2 and r == 0 and after == 0,
             "reset through kkey%03d opened %s: events %d -> %d" % (n, name, before, after))
c.verify("after-reset", k.read_song(0), empty=True)

# A held note stays held across a reset; the next file still has it.
k.press(62)
k.press(64)
k.release(64)
k.reset()
st = k.status()
c.ok(st.held == 1, "reset keeps note 62 held (status: %r)" % st)
time.sleep(0.2)
k.release(62)
c.verify("held-across-reset", k.read_song(0), expect_notes=[(62, 0.0, 0.2)], counts=(1, 1), tol=0.4)
c.finish()
