#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Concurrent writers lose nothing: kkwrite runs WRITERS threads (default
128, one note each) x EVENTS (default 10,000) alternating "1"/"0"; the file
must then hold exactly WRITERS*EVENTS/2 note-ons and as many note-offs, as
counted by midicsv and mido (and the strict checker).
kkeyd options: --capacity 2000000 (anything >= WRITERS*EVENTS).
Environment: KKEY_WRITE (the kkwrite helper), KKEY_WRITERS, KKEY_EVENTS."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

writers = int(os.environ.get("KKEY_WRITERS", "128"))
events = int(os.environ.get("KKEY_EVENTS", "10000"))
total = writers * events
tool = os.environ.get("KKEY_WRITE")
if not tool:
    print("FAIL: KKEY_WRITE must name the kkwrite helper")
    sys.exit(1)

c = k.Check("writers")
c.prepare(keep=False, min_capacity=total)
p = subprocess.run([tool, k.kkey_dir(), str(writers), str(events)], capture_output=True, text=True,
                   timeout=900)
print("       kkwrite: " + (p.stdout + p.stderr).strip().replace("\n", "\n       kkwrite: "))
c.ok(p.returncode == 0, "%d writers x %d events: every write returned 1" % (writers, events))
st = k.status()
c.ok(st.events == total and st.held == 0, "status: %d events recorded, nothing held (%r)" % (total, st))
t0 = time.monotonic()
data = k.read_song(0, seconds=300)
print("       read %d bytes in %.2f s" % (len(data), time.monotonic() - t0))
r = c.verify("writers", data, counts=(total // 2, total // 2))
if r:
    per = {}
    for t, kind, note, vel in r.note_events:
        per.setdefault(note, [0, 0])[0 if kind == "on" else 1] += 1
    want = {}
    for i in range(writers):
        w = want.setdefault(i % 128, [0, 0])
        w[0] += (events + 1) // 2
        w[1] += events // 2
    c.ok(per == want, "per note: each writer's presses and releases all present")
c.finish()
