#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Capacity (docs/kkeyd.md): with --capacity 1000 the 1001st write fails
with ENOSPC and records nothing; nothing is silently lost; reading frees
the space.  kkeyd options: --capacity 1000."""
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("capacity")
st = k.status()
if st.capacity != 1000:
    print("SKIP: this check needs kkeyd --capacity 1000 (status: %r)" % st)
    sys.exit(77)
c.prepare(keep=False)

fds = {n: os.open(k.node(n), os.O_WRONLY | os.O_NONBLOCK) for n in (60, 61, 62)}
ok = 0
for i in range(1000):
    n = 60 + (i // 2) % 3
    try:
        if os.write(fds[n], b"0" if i & 1 else b"1") == 1:
            ok += 1
    except OSError as e:
        c.ok(False, "write %d failed early: %s" % (i + 1, e))
        break
st = k.status()
c.ok(ok == 1000 and st.events == 1000 and st.held == 0,
     "1000 writes succeed, 1000 events recorded, nothing held (%r)" % st)
c.errno_is(errno.ENOSPC, "write 1001 (press kkey060)", os.write, fds[60], b"1")
c.errno_is(errno.ENOSPC, "write 1002 (press kkey064, another node)", k.press, 64)
c.errno_is(errno.ENOSPC, "write 1003 (a release)", os.write, fds[61], b"0")
st = k.status()
c.ok(st.events == 1000 and st.held == 0, "the refused writes recorded nothing (%r)" % st)
for fd in fds.values():
    os.close(fd)

data = k.read_song(0)
r = c.verify("full", data, counts=(500, 500))
if r:
    seq = [(e[1], e[2]) for e in r.note_events]
    want = [("off" if i & 1 else "on", 60 + (i // 2) % 3) for i in range(1000)]
    c.ok(seq == want, "the file holds exactly the 1000 accepted events, in write order")
st = k.status()
c.ok(st.events == 0, "the read freed the recording (%r)" % st)
k.press(65)
k.release(65)
c.verify("after", k.read_song(0), expect_notes=[(65, 0, 0)], counts=(1, 1), tol=1)

# Held notes at the limit: a note held while full is still closed in the file.
for i in range(999):
    k.press(66) if i % 2 == 0 else k.release(66)
st = k.status()
c.ok(st.events == 999 and st.held == 1, "999 events, note 66 held (%r)" % st)
k.press(67)                          # event 1000
c.errno_is(errno.ENOSPC, "press after the 1000th event", k.press, 68)
data = k.read_song(0)
c.verify("full-held", data, counts=(501, 501))
k.release(66)
k.release(67)
k.read_song(0)
c.finish()
