#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pci-verify.py FILE.mid REPEATS: the file (read with mido, independent of
ukd's SMF code) holds exactly REPEATS x (note-on n, note-off n for n = 0..127)
in that order: kkey-pciplay's sequence, nothing lost, added or reordered."""
import sys

import mido

path, repeats = sys.argv[1], int(sys.argv[2])
got = []
for msg in mido.MidiFile(path):
    if msg.type == "note_on" and msg.velocity > 0:
        got.append(("on", msg.note))
    elif msg.type in ("note_on", "note_off"):
        got.append(("off", msg.note))
want = [(k, n) for _ in range(repeats) for n in range(128) for k in ("on", "off")]
if got != want:
    first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    print(f"pci-verify: {path}: {len(got)} events, want {len(want)}; first difference at {first}: "
          f"{got[first:first + 3]} vs {want[first:first + 3]}")
    sys.exit(1)
print(f"pci-verify: {path}: {len(got)} events in order")
