#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Tests the test tools: smfcheck.py must reject each class of broken file
and accept good ones, and midiverify.py (mido, midicsv, fluidsynth +
Goertzel) must accept a hand-made melody in kkeyd's format and reject a
file whose notes, timing or pitch are not the expected ones. Files are
built here byte by byte, independent of ukd's writer. Needs no privileges."""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import midiverify  # noqa: E402
import smfcheck    # noqa: E402

failures = 0


def vlq(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.insert(0, 0x80 | (v & 0x7F))
        v >>= 7
    return bytes(out)


def smf(track, division=1000, fmt=0, ntracks=1, hlen=6, mtrk_len=None, tail=b""):
    hdr = b"MThd" + struct.pack(">IHHH", hlen, fmt, ntracks, division) + b"\0" * (hlen - 6)
    n = len(track) if mtrk_len is None else mtrk_len
    return hdr + b"MTrk" + struct.pack(">I", n) + track + tail


HEAD = bytes.fromhex("00ff580404021808") + bytes.fromhex("00ff5103") + (500000).to_bytes(3, "big")
EOT = bytes.fromhex("00ff2f00")


def melody(notes, vel=63):
    """notes: (note, on_ms, off_ms) at 0.5 ms per tick, non-overlapping."""
    evs = []
    for n, a, b in notes:
        evs.append((a * 2, bytes([0x90, n, vel])))
        evs.append((b * 2, bytes([0x80, n, vel])))
    evs.sort(key=lambda e: e[0])
    out, last = bytearray(HEAD), 0
    for t, e in evs:
        out += vlq(t - last) + e
        last = t
    return bytes(out) + EOT


def expect(cond, what):
    global failures
    print(("ok     " if cond else "FAILED ") + what)
    if not cond:
        failures += 1


def rejects(data, what, needle):
    try:
        smfcheck.parse(data)
    except smfcheck.SmfError as e:
        expect(needle in str(e), "smfcheck rejects %s (%s)" % (what, e))
        return
    expect(False, "smfcheck rejects %s (it accepted it)" % what)


GOOD = smf(melody([(60, 0, 400)]))
smfcheck.parse(GOOD)
expect(True, "smfcheck accepts a good one-note file")
rejects(GOOD[:-1], "a truncated file", "past the end")
rejects(smf(HEAD + bytes.fromhex("00903c3f") + EOT, hlen=8), "MThd length 8", "MThd length")
rejects(smf(HEAD + EOT, fmt=1), "format 1", "format 1")
rejects(smf(HEAD + EOT, ntracks=2), "2 tracks in format 0", "tracks")
rejects(smf(HEAD + EOT, division=0), "division 0", "division is 0")
rejects(smf(HEAD + bytes.fromhex("00903c3f")), "a missing End of Track", "without End of Track")
rejects(smf(HEAD + EOT + bytes.fromhex("00903c3f")), "events after End of Track", "after End of Track")
rejects(smf(HEAD + EOT, mtrk_len=len(HEAD + EOT) + 1), "an MTrk length over by one", "past the end")
rejects(smf(HEAD + EOT, tail=b"\0\0"), "stray bytes after the last chunk", "stray bytes")
rejects(smf(HEAD + bytes.fromhex("8080808000903c3f") + EOT), "a 5-byte delta", "longer than 4")
rejects(smf(HEAD + bytes.fromhex("00903cc8") + EOT), "velocity 200", ">= 0x80")
rejects(smf(bytes.fromhex("003c3f") + HEAD + EOT), "a data byte with no status", "no running status")
rejects(smf(HEAD + bytes.fromhex("00903c3f") + bytes.fromhex("00ff0100") + bytes.fromhex("003c00") + EOT),
        "running status after a meta event", "no running status")
rejects(smf(HEAD + bytes.fromhex("00f4") + EOT), "an undefined status byte", "undefined status")
rejects(smf(HEAD + bytes.fromhex("ff2f00")), "End of Track without its delta", "")
# The original kkey's 2024 output (misc/middle_c.mid, from the research notes):
# no delta before FF 2F 00, so the track is read as a delta 0x7f... then junk.
orig = bytes.fromhex("4d546864000000060000000103e84d54726b0000000c00903c3f8f59803c3fff2f00")
rejects(orig, "the original kkey's middle_c.mid (no EOT delta)", "")

with tempfile.TemporaryDirectory(prefix="kkey-selftest-") as d:
    def write(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    logs = []
    mel = [(60, 0, 400), (64, 450, 850), (67, 900, 1300), (62, 1350, 1750)]
    p = write("melody.mid", smf(melody(mel)))
    try:
        r = midiverify.verify(p, expect_notes=[(60, 0, 0.4), (64, 0.45, 0.4), (67, 0.9, 0.4), (62, 1.35, 0.4)],
                              counts=(4, 4), tol=0.01, audio=True, velocity=63, log=logs.append)
        expect(len(r.audio) == 4, "midiverify accepts a hand-made C-E-G-D melody, with audio")
    except midiverify.VerifyError as e:
        expect(False, "midiverify accepts a hand-made melody: %s" % e)
    for line in logs:
        print("       " + line)

    def verify_fails(what, path, needle, **kw):
        try:
            midiverify.verify(path, **kw)
        except midiverify.VerifyError as e:
            expect(needle in str(e), "midiverify rejects %s (%s)" % (what, e))
            return
        expect(False, "midiverify rejects %s (it accepted it)" % what)

    verify_fails("the wrong note", p, "expected notes",
                 expect_notes=[(60, 0, 0.4), (65, 0.45, 0.4), (67, 0.9, 0.4), (62, 1.35, 0.4)])
    verify_fails("a too short duration", p, "lasts",
                 expect_notes=[(60, 0, 0.5), (64, 0.45, 0.4), (67, 0.9, 0.4), (62, 1.35, 0.4)], tol=0.05)
    verify_fails("wrong counts", p, "note-ons", counts=(5, 5))
    verify_fails("a tempo other than expected", p, "Set Tempo", tempo_us=1000000)
    verify_fails("notes where none are expected", p, "without notes", empty=True)
    p2 = write("hang.mid", smf(HEAD + bytes.fromhex("00903c3f") + EOT))
    verify_fails("a hanging note", p2, "hanging")
    p3 = write("noeot.mid", smf(HEAD + bytes.fromhex("00903c3f8f5980 3c3f".replace(" ", ""))))
    verify_fails("a file mido accepts but has no End of Track", p3, "End of Track")
    # Pitch: the audio check must notice when a file sounds a different
    # note than the one it is claimed to be. Render 60 and analyse as 61
    # by shifting the analysis: feed check_audio a wrong expectation.
    p4 = write("c4.mid", smf(melody([(60, 0, 400)])))
    try:
        midiverify.check_audio(p4, [(61, 0.0, 0.4, 63)], 4.0, lambda s: None)
        expect(False, "audio check rejects C4 analysed as C#4 (it accepted it)")
    except midiverify.VerifyError as e:
        expect("energy" in str(e), "audio check rejects C4 analysed as C#4 (%s)" % e)
    p5 = write("empty.mid", smf(HEAD + EOT))
    try:
        midiverify.verify(p5, empty=True)
        expect(True, "midiverify accepts an empty kkeyd-style file")
    except midiverify.VerifyError as e:
        expect(False, "midiverify accepts an empty file: %s" % e)

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
