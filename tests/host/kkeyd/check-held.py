#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A note held across a read (docs/kkeyd.md, read(2)): the snapshot ends it
with a note-off at the end of the file, it stays held, and the next file
starts with it pressed again at tick 0.  kkeyd options: none."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("held")
c.prepare(keep=False)

fd = os.open(k.node(60), os.O_WRONLY | os.O_NONBLOCK)
k.press(60, fd=fd)
time.sleep(0.4)
a = k.read_song(0)
st = k.status()
c.ok(st.held == 1, "note 60 still held after the read (status: %r)" % st)

time.sleep(0.3)
k.release(60, fd=fd)
os.close(fd)
time.sleep(0.1)
b = k.read_song(0)
# (checked only now: the checks take time and the timing above matters)
c.verify("held-first", a, expect_notes=[(60, 0.0, 0.4)], counts=(1, 1), tol=0.4, audio=True)
c.verify("held-second", b, expect_notes=[(60, 0.0, 0.3)], counts=(1, 1), tol=0.4)
st = k.status()
c.ok(st.held == 0 and st.events == 0, "after the release and read: nothing held, nothing recorded (%r)" % st)
cc = k.read_song(0)
c.verify("held-third", cc, empty=True)

# Held across two reads with nothing written in between, with another note
# played meanwhile: each file has the held note from tick 0 to the end.
k.press(61)
time.sleep(0.2)
f1 = k.read_song(0)
time.sleep(0.1)
k.press(64)
time.sleep(0.2)
k.release(64)
time.sleep(0.1)
f2 = k.read_song(5)
k.release(61)
time.sleep(0.1)
f3 = k.read_song(0)
r1 = c.verify("held-two-1", f1, expect_notes=[(61, 0.0, 0.2)], counts=(1, 1), tol=0.4)
r2 = c.verify("held-two-2", f2, expect_notes=[(61, 0.0, 0.4), (64, 0.1, 0.2)], counts=(2, 2), tol=0.3)
if r2:
    end = r2.smf.events[-1].tick
    offs = [n for n in r2.smf.notes() if n[1] == "off" and n[3] == 61]
    c.ok(len(offs) == 1 and offs[0][0] == end,
         "file 2: note 61's note-off is at the end of the file (tick %s, End of Track at %d)"
         % (offs[0][0] if offs else None, end))
# released right after f2 was read: re-pressed at tick 0, released at once
c.verify("held-two-3", f3, expect_notes=[(61, 0.0, 0.0)], counts=(1, 1), tol=0.1)
c.finish()
