#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The original kkey race (examples/race.c + runrace.sh): two processes
pinned to CPUs 0 and 1 press and release their halves of the 128 notes;
the file must hold exactly 128 note-ons and 128 note-offs, counted by
midicsv and mido. Repeated KKEY_RACE_ATTEMPTS times (default 20, as
runrace.sh loops), then once with 15 rounds (1920 of each) and no sleeps.
kkeyd options: none.  Environment: KKEY_RACE (the race helper)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

tool = os.environ.get("KKEY_RACE")
if not tool:
    print("FAIL: KKEY_RACE must name the race helper")
    sys.exit(1)
attempts = int(os.environ.get("KKEY_RACE_ATTEMPTS", "20"))
c = k.Check("race")
c.prepare(keep=False)
passed = 0
for i in range(attempts):
    k.reset()                       # runrace.sh: ./reset
    p = subprocess.run([tool, k.kkey_dir()], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        c.ok(False, "attempt %d: race failed: %s" % (i, p.stderr.strip()))
        continue
    data = k.read_song(0)           # cat /dev/kkey000 > race.mid
    r = c.verify("race-%d" % i, data, counts=(128, 128), log=lambda s: None)
    if r:
        passed += 1
c.ok(passed == attempts, "%d/%d races: exactly 128 note-ons and 128 note-offs (midicsv and mido)"
     % (passed, attempts))

k.reset()
p = subprocess.run([tool, k.kkey_dir(), "15", "0"], capture_output=True, text=True, timeout=300)
c.ok(p.returncode == 0, "race with 15 rounds and no sleeps ran (%s)" % p.stderr.strip())
r = c.verify("race-15", k.read_song(0), counts=(1920, 1920))
if r:
    notes = sorted({e[2] for e in r.note_events})
    c.ok(notes == list(range(128)), "all 128 notes present")
c.finish()
