#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Print the note events of a Standard MIDI File, one a line, read with
python3-mido (no ukd code): "on NOTE VELOCITY" or "off NOTE", in file
order. A note-on with velocity 0 is a note-off (MIDI 1.0). Exit 1 when
mido cannot read the file, 77 when mido is missing."""
import sys

try:
    import mido
except ImportError:
    print("SKIP: python3-mido is not installed")
    sys.exit(77)

if len(sys.argv) != 2:
    sys.exit("usage: smf-events.py FILE")
try:
    smf = mido.MidiFile(sys.argv[1], clip=False)
except Exception as e:  # mido raises several types for a broken file
    sys.exit("mido cannot read %s: %s" % (sys.argv[1], e))
for track in smf.tracks:
    for msg in track:
        if msg.type == "note_on" and msg.velocity > 0:
            print("on %d %d" % (msg.note, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            print("off %d" % msg.note)
