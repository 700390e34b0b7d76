#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Independent checks of a Standard MIDI File produced by kkeyd.

Four checkers that share no code with ukd:
  strict  - smfcheck.py (this directory): structure, byte by byte;
  mido    - python3-mido, MidiFile(clip=False): notes, order, timing in
            seconds through the file's tempo (mido is lenient, so we add
            our own assertions on what it returns);
  midicsv - Debian's midicsv; exits 0 on broken files, so its CSV output is
            parsed and judged, not its exit code;
  audio   - fluidsynth renders the file with TimGM6mb to a WAV (fluidsynth
            too exits 0 on broken files, so the WAV is judged), then a
            Goertzel analysis shows that during each note the energy at the
            note's fundamental dominates the neighbouring semitones and the
            other notes played.

Module use:  verify(path, ...) -> Result (raises VerifyError).
Program use: midiverify.py FILE [--notes 60:0:0.5,64:0.6:0.3] [--counts ON:OFF]
             [--tempo US] [--tol S] [--audio] [--empty]
"""
import argparse
import csv
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smfcheck  # noqa: E402

SOUNDFONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
DIVISION = 1000                                   # docs/kkeyd.md: 1000 ticks per quarter
TIME_SIGNATURE = bytes([0x04, 0x02, 0x18, 0x08])  # docs/kkeyd.md: FF 58 04 04 02 18 08


class VerifyError(Exception):
    pass


def fail(fmt, *args):
    raise VerifyError(fmt % args if args else fmt)


def note_freq(n):
    return 440.0 * 2.0 ** ((n - 69) / 12.0)


class Result:
    def __init__(self):
        self.smf = None
        self.note_events = []    # (seconds, 'on'|'off', note, velocity), from mido
        self.notes = []          # (note, t_on, t_off, velocity) paired
        self.csv_counts = (0, 0)
        self.audio = []          # per note: (note, ratio to best rival, rival)

    @property
    def n_on(self):
        return sum(1 for e in self.note_events if e[1] == "on")

    @property
    def n_off(self):
        return sum(1 for e in self.note_events if e[1] == "off")


# ---------------------------------------------------------------- strict ---
def check_strict(data, tempo_us, channel):
    try:
        smf = smfcheck.parse(data)
    except smfcheck.SmfError as e:
        fail("strict SMF check: %s", e)
    if smf.division != DIVISION:
        fail("strict: division %d, spec says %d", smf.division, DIVISION)
    ts = smf.metas(0x58)
    if len(ts) != 1 or ts[0].payload != TIME_SIGNATURE or ts[0].tick != 0:
        fail("strict: want one Time Signature FF 58 04 %s at tick 0, got %r",
             TIME_SIGNATURE.hex(" "), ts)
    tempos = smf.metas(0x51)
    if len(tempos) != 1 or tempos[0].tick != 0:
        fail("strict: want one Set Tempo at tick 0, got %r", tempos)
    if tempo_us is not None and smf.tempo_us() != tempo_us:
        fail("strict: Set Tempo %d us per quarter, expected %d", smf.tempo_us(), tempo_us)
    eot = smf.events[-1]
    if eot.delta != 0:
        # docs/kkeyd.md: "End of Track 00 FF 2F 00 is last"
        fail("strict: End of Track has delta %d, spec says 00 FF 2F 00", eot.delta)
    for e in smf.events:
        if e.status == 0xFF and e.meta_type not in (0x58, 0x51, 0x2F, 0x01):
            fail("strict: unexpected meta type %02x at tick %d", e.meta_type, e.tick)
        if e.status == 0xFF and e.meta_type == 0x01 and e.payload:
            fail("strict: a Text event with payload %r (spec: only empty bridges)", e.payload)
        if e.status != 0xFF and (e.status & 0xF0) not in (0x80, 0x90):
            fail("strict: unexpected event %r", e)
        if e.status != 0xFF and channel is not None and (e.status & 0x0F) != channel:
            fail("strict: event on channel %d, expected %d: %r", (e.status & 0x0F) + 1, channel + 1, e)
        if (e.status & 0xF0) == 0x90 and e.data[1] == 0:
            fail("strict: note-on with velocity 0 (spec writes note-off as 8n): %r", e)
    notes = smf.notes()
    if notes and notes[0][0] != 0:
        fail("strict: first note at tick %d, spec says tick 0", notes[0][0])
    # A file never leaves a note hanging, and presses/releases alternate.
    down = {}
    for tick, kind, ch, note, vel in notes:
        if kind == "on":
            if note in down:
                fail("strict: note %d pressed twice without release (tick %d)", note, tick)
            down[note] = tick
        else:
            if note not in down:
                fail("strict: note-off for note %d that is not down (tick %d)", note, tick)
            del down[note]
    if down:
        fail("strict: notes left hanging at End of Track: %s", sorted(down))
    return smf


# ------------------------------------------------------------------ mido ---
def check_mido(path, smf):
    try:
        import mido
    except ImportError:
        fail("python3-mido is not installed (apt-get install python3-mido)")
    try:
        mf = mido.MidiFile(path, clip=False)
    except Exception as e:  # mido raises many types on bad files
        fail("mido could not load the file: %s: %s", type(e).__name__, e)
    if mf.type != 0 or len(mf.tracks) != 1:
        fail("mido: type %d with %d tracks, expected type 0 with 1", mf.type, len(mf.tracks))
    if mf.ticks_per_beat != DIVISION:
        fail("mido: ticks_per_beat %d, expected %d", mf.ticks_per_beat, DIVISION)
    track = mf.tracks[0]
    # mido accepts missing/misplaced EOT: check it ourselves.
    eots = [i for i, m in enumerate(track) if m.type == "end_of_track"]
    if eots != [len(track) - 1]:
        fail("mido: End of Track at %s of %d messages, expected exactly one, last", eots, len(track))
    events = []
    t = 0.0
    for msg in mf:       # iterating a MidiFile yields deltas in seconds (tempo applied)
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            events.append((t, "on", msg.note, msg.velocity))
        elif msg.type == "note_off" or msg.type == "note_on":
            events.append((t, "off", msg.note, msg.velocity))
    # Cross-check against the strict parse: same notes, same order, and the
    # seconds mido computed agree with tick * tempo / division.
    strict = smf.notes()
    if len(strict) != len(events):
        fail("mido sees %d note events, strict parser %d", len(events), len(strict))
    spt = smf.tempo_us() / 1e6 / smf.division
    for (tick, kind, ch, note, vel), (sec, mkind, mnote, mvel) in zip(strict, events):
        if (kind, note, vel) != (mkind, mnote, mvel) or abs(tick * spt - sec) > 1e-6 + 1e-9 * tick:
            fail("mido/strict disagree: tick %d %s %d v%d vs %.6fs %s %d v%d",
                 tick, kind, note, vel, sec, mkind, mnote, mvel)
    if abs(mf.length - smf.events[-1].tick * spt) > 1e-6 * max(1.0, mf.length):
        fail("mido length %.6f s, End of Track at %.6f s", mf.length, smf.events[-1].tick * spt)
    return events


# --------------------------------------------------------------- midicsv ---
def check_midicsv(path, smf, tempo_us):
    exe = shutil.which("midicsv")
    if not exe:
        fail("midicsv is not installed (apt-get install midicsv)")
    p = subprocess.run([exe, path], capture_output=True, timeout=300)
    if p.stderr.strip():
        fail("midicsv complained: %s", p.stderr.decode(errors="replace").strip()[:300])
    if p.returncode != 0:
        fail("midicsv exit status %d", p.returncode)
    rows = [[c.strip() for c in r] for r in csv.reader(p.stdout.decode().splitlines()) if r]
    if not rows:
        fail("midicsv printed nothing")
    if rows[0] != ["0", "0", "Header", "0", "1", str(DIVISION)]:
        fail("midicsv Header %r, expected format 0, 1 track, division %d", rows[0], DIVISION)
    if rows[-1] != ["0", "0", "End_of_file"]:
        fail("midicsv last record %r, expected End_of_file", rows[-1])
    body = rows[1:-1]
    if not body or body[0] != ["1", "0", "Start_track"]:
        fail("midicsv: no Start_track after the header: %r", body[:1])
    if body[-1][2] != "End_track":
        fail("midicsv: last record of the track is %r, expected End_track", body[-1])
    if sum(1 for r in body if r[2] == "End_track") != 1:
        fail("midicsv: more than one End_track")
    on = off = 0
    seen_tempo = seen_ts = False
    csv_notes = []
    last_time = 0
    for r in body[1:]:
        if r[0] != "1":
            fail("midicsv: record for track %s: %r", r[0], r)
        t = int(r[1])
        if t < last_time:
            fail("midicsv: time goes backwards at %r", r)
        last_time = t
        kind = r[2]
        if kind == "Tempo":
            seen_tempo = True
            if tempo_us is not None and int(r[3]) != tempo_us:
                fail("midicsv: Tempo %s, expected %d", r[3], tempo_us)
        elif kind == "Time_signature":
            seen_ts = True
            if r[3:] != ["4", "2", "24", "8"]:
                fail("midicsv: Time_signature %r, expected 4, 2, 24, 8", r[3:])
        elif kind in ("Note_on_c", "Note_off_c"):
            vals = [int(x) for x in r[3:]]
            if len(vals) != 3 or not all(0 <= v <= 127 for v in vals[1:]) or not 0 <= vals[0] <= 15:
                fail("midicsv: bad note record %r", r)
            if kind == "Note_on_c" and vals[2] > 0:
                on += 1
                csv_notes.append((t, "on", vals[1], vals[2]))
            else:
                off += 1
                csv_notes.append((t, "off", vals[1], vals[2]))
        elif kind in ("End_track", "Text_t"):
            pass
        else:
            fail("midicsv: unexpected record %r", r)
    if not seen_tempo or not seen_ts:
        fail("midicsv: Tempo seen %s, Time_signature seen %s", seen_tempo, seen_ts)
    strict = [(t, k, n, v) for t, k, ch, n, v in smf.notes()]
    if csv_notes != strict:
        fail("midicsv and the strict parser disagree on the notes (%d vs %d)", len(csv_notes), len(strict))
    if int(body[-1][1]) != smf.events[-1].tick:
        fail("midicsv End_track at %s, strict parser %d", body[-1][1], smf.events[-1].tick)
    return on, off


# ----------------------------------------------------------------- audio ---
def render(path, wav_path):
    exe = shutil.which("fluidsynth")
    if not exe:
        fail("fluidsynth is not installed (apt-get install fluidsynth)")
    if not os.path.exists(SOUNDFONT):
        fail("%s missing (apt-get install timgm6mb-soundfont)", SOUNDFONT)
    p = subprocess.run([exe, "-ni", "-q", "-F", wav_path, "-r", "44100", SOUNDFONT, path],
                       capture_output=True, timeout=300)
    err = (p.stdout + p.stderr).decode(errors="replace")
    for bad in ("error", "Unexpected", "Invalid", "Unrecognized", "not a"):
        if bad.lower() in err.lower():
            fail("fluidsynth: %s", err.strip()[:300])
    if p.returncode != 0:
        fail("fluidsynth exit status %d: %s", p.returncode, err.strip()[:300])


def read_wav_mono(wav_path):
    with wave.open(wav_path, "rb") as w:
        ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    if width != 2:
        fail("WAV sample width %d, expected 16-bit", width)
    if n == 0:
        fail("fluidsynth wrote an empty WAV")
    vals = struct.unpack("<%dh" % (n * ch), raw[:n * ch * 2])
    if ch == 1:
        return list(vals), rate
    return [sum(vals[i:i + ch]) / ch for i in range(0, len(vals), ch)], rate


def goertzel_power(samples, window, rate, freq):
    """Power at @freq over @samples (already multiplied by @window)."""
    w = 2.0 * math.pi * freq / rate
    coeff = 2.0 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def check_audio(path, notes, min_ratio, log):
    """@notes: (note, t_on, t_off, vel). Each note's energy must beat every
    rival (±1 semitone and the other notes played) by @min_ratio."""
    with tempfile.TemporaryDirectory(prefix="kkey-wav-") as d:
        wav_path = os.path.join(d, "out.wav")
        render(path, wav_path)
        samples, rate = read_wav_mono(wav_path)
    total = len(samples) / rate
    played = sorted({n for n, _, _, _ in notes})
    rms_all = math.sqrt(sum(x * x for x in samples) / len(samples))
    if rms_all < 1.0:
        fail("rendered audio is silent (RMS %.3f)", rms_all)
    out = []
    for note, t_on, t_off, vel in notes:
        # Skip the attack (first 50 ms); analyse up to 300 ms of the note.
        a = t_on + 0.05
        b = min(t_off, t_on + 0.35)
        if b - a < 0.08:
            fail("note %d lasts %.3f s, too short to analyse", note, t_off - t_on)
        if b > total:
            fail("WAV is %.2f s long but note %d plays until %.2f s", total, note, b)
        seg = samples[int(a * rate):int(b * rate)]
        m = len(seg)
        win = [0.5 - 0.5 * math.cos(2 * math.pi * i / (m - 1)) for i in range(m)]
        seg = [x * h for x, h in zip(seg, win)]
        rms = math.sqrt(sum(x * x for x in seg) / m)
        if rms < 1.0:
            fail("silence where note %d should sound (%.2f-%.2f s)", note, a, b)
        rivals = {note - 1, note + 1} | {n for n in played if n != note}
        rivals = {r for r in rivals if 0 <= r <= 127}
        p_note = goertzel_power(seg, win, rate, note_freq(note))
        best_rival, p_rival = None, 0.0
        for r in sorted(rivals):
            p = goertzel_power(seg, win, rate, note_freq(r))
            if p > p_rival:
                best_rival, p_rival = r, p
        ratio = p_note / p_rival if p_rival > 0 else float("inf")
        log("audio: note %d (%.1f Hz) %.2f-%.2f s: %.1fx the energy of note %s (%.1f Hz)"
            % (note, note_freq(note), a, b, ratio, best_rival,
               note_freq(best_rival) if best_rival is not None else 0))
        if ratio < min_ratio:
            fail("audio: at %.2f-%.2f s note %d (%.1f Hz) has only %.2fx the energy of note %d (%.1f Hz)",
                 a, b, note, note_freq(note), ratio, best_rival, note_freq(best_rival))
        out.append((note, ratio, best_rival))
    return out


# ---------------------------------------------------------------- driver ---
def pair_notes(events):
    down, out = {}, []
    for t, kind, note, vel in events:
        if kind == "on":
            down[note] = (t, vel)
        elif note in down:
            t0, v0 = down.pop(note)
            out.append((note, t0, t, v0))
    out.sort(key=lambda x: (x[1], x[0]))
    return out


def verify(path, expect_notes=None, counts=None, tempo_us=500000, channel=0,
           tol=0.5, audio=False, min_ratio=4.0, empty=False, velocity=None, log=None):
    """Run every independent check on @path.
    @expect_notes: [(note, start_s, dur_s)] in order of start: each must
      match within [-0.002, +tol] s (durations of a sleep can only grow);
    @counts: (note-ons, note-offs) expected exactly;
    @empty: the file must contain no notes at all;
    @velocity: every note event must carry it.
    Returns a Result; raises VerifyError on the first failed check."""
    log = log or (lambda s: None)
    with open(path, "rb") as f:
        data = f.read()
    res = Result()
    res.smf = check_strict(data, tempo_us, channel)
    res.note_events = check_mido(path, res.smf)
    res.csv_counts = check_midicsv(path, res.smf, tempo_us)
    res.notes = pair_notes(res.note_events)
    log("%s: %d bytes; strict OK; mido %d on/%d off; midicsv %d on/%d off; %.3f s"
        % (path, len(data), res.n_on, res.n_off, res.csv_counts[0], res.csv_counts[1],
           res.smf.events[-1].tick * res.smf.tempo_us() / 1e6 / DIVISION))
    if res.csv_counts != (res.n_on, res.n_off):
        fail("midicsv counts %r, mido counts %r", res.csv_counts, (res.n_on, res.n_off))
    if empty and res.note_events:
        fail("expected a file without notes, found %d note events", len(res.note_events))
    if counts is not None and (res.n_on, res.n_off) != tuple(counts):
        fail("expected %d note-ons and %d note-offs, found %d and %d",
             counts[0], counts[1], res.n_on, res.n_off)
    if velocity is not None:
        bad = [e for e in res.note_events if e[3] != velocity]
        if bad:
            fail("expected velocity %d on every event, found %r", velocity, bad[:3])
    if expect_notes is not None:
        got = [(n, t0, t1 - t0) for n, t0, t1, v in res.notes]
        if [g[0] for g in got] != [e[0] for e in expect_notes]:
            fail("expected notes %s, found %s", [e[0] for e in expect_notes], [g[0] for g in got])
        for (n, t0, d), (_, et0, ed) in zip(got, expect_notes):
            if not (et0 - 0.002 <= t0 <= et0 + tol):
                fail("note %d starts at %.3f s, expected %.3f s (+%.3f)", n, t0, et0, tol)
            if not (ed - 0.002 <= d <= ed + tol):
                fail("note %d lasts %.3f s, expected %.3f s (+%.3f)", n, d, ed, tol)
            log("note %d: starts %.3f s, lasts %.3f s (expected %.3f s, %.3f s)" % (n, t0, d, et0, ed))
    if audio:
        res.audio = check_audio(path, res.notes, min_ratio, log)
    return res


def parse_notes(s):
    out = []
    for item in s.split(","):
        n, t0, d = item.split(":")
        out.append((int(n), float(t0), float(d)))
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--notes", type=parse_notes, help="NOTE:START:DUR[,...] in seconds")
    ap.add_argument("--counts", help="ON:OFF exact note-on/note-off counts")
    ap.add_argument("--tempo", type=int, default=500000)
    ap.add_argument("--velocity", type=int)
    ap.add_argument("--tol", type=float, default=0.5)
    ap.add_argument("--audio", action="store_true")
    ap.add_argument("--empty", action="store_true")
    a = ap.parse_args(argv[1:])
    counts = tuple(int(x) for x in a.counts.split(":")) if a.counts else None
    try:
        verify(a.file, a.notes, counts, a.tempo, tol=a.tol, audio=a.audio,
               empty=a.empty, velocity=a.velocity, log=print)
    except VerifyError as e:
        print("FAIL: %s: %s" % (a.file, e))
        return 1
    print("OK: %s" % a.file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
