#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A strict Standard MIDI File checker, written for ukd's tests from the SMF
1.0 specification (MMA, "Standard MIDI Files 1.0", 1996), independent of
ukd's own reader in lib/smf.c.

What it enforces (each rule cites the spec's section where it has one):
  - the file starts with an MThd chunk whose length is exactly 6 (kkeyd
    writes the 1.0 header; longer headers are legal in general but not
    expected here);
  - format 0 with exactly 1 track (SMF 1.0: "format 0 ... a single track");
  - division != 0 (ticks per quarter note, or a valid SMPTE pair);
  - every chunk length lies inside the file; exactly one MTrk;
  - delta-times are VLQs of at most 4 bytes ("a maximum of 4 bytes");
  - data bytes are < 0x80; a data byte with no running status is an error;
    running status only after a channel message; SysEx and meta events
    cancel it; undefined status bytes (F1-F6, F8-FE) are errors;
  - meta lengths stay inside the track; End of Track is FF 2F 00, present,
    the last event, preceded by its delta; no bytes after it in the track
    and no bytes after the last chunk in the file.

Usage as a program:  smfcheck.py FILE...   (prints "FILE: OK ..." or the
first violation and exits 1).  As a module:  parse(bytes) -> Smf, raising
SmfError on the first violation.
"""
import struct
import sys


class SmfError(Exception):
    pass


class Event:
    __slots__ = ("tick", "delta", "status", "data", "meta_type", "payload", "offset")

    def __init__(self, tick, delta, status, data=b"", meta_type=None, payload=b"", offset=0):
        self.tick = tick
        self.delta = delta
        self.status = status
        self.data = data
        self.meta_type = meta_type
        self.payload = payload
        self.offset = offset

    @property
    def kind(self):
        hi = self.status & 0xF0
        if self.status == 0xFF:
            return "meta"
        if self.status in (0xF0, 0xF7):
            return "sysex"
        if hi == 0x90 and self.data[1] == 0:
            return "note_off"      # SMF 1.0: 9n kk 00 is a note-off
        return {0x80: "note_off", 0x90: "note_on", 0xA0: "poly_pressure",
                0xB0: "control", 0xC0: "program", 0xD0: "channel_pressure",
                0xE0: "pitch_bend"}[hi]

    def __repr__(self):
        if self.status == 0xFF:
            return "<%d meta %02x %s>" % (self.tick, self.meta_type, self.payload.hex())
        return "<%d %02x %s>" % (self.tick, self.status, self.data.hex())


class Smf:
    def __init__(self):
        self.format = None
        self.ntracks = None
        self.division = None
        self.events = []   # the single track's events, End of Track included

    def notes(self):
        """Channel note events as (tick, 'on'|'off', channel, note, velocity)."""
        out = []
        for e in self.events:
            k = e.kind
            if k in ("note_on", "note_off"):
                out.append((e.tick, "on" if k == "note_on" else "off",
                            e.status & 0x0F, e.data[0], e.data[1]))
        return out

    def metas(self, meta_type):
        return [e for e in self.events if e.status == 0xFF and e.meta_type == meta_type]

    def tempo_us(self):
        t = self.metas(0x51)
        return int.from_bytes(t[0].payload, "big") if t else 500000


# Data bytes after a channel status (SMF 1.0 / MIDI 1.0 table of messages)
_CHANNEL_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


def _vlq(buf, pos, end, what):
    """Decode a VLQ of at most 4 bytes inside buf[pos:end]."""
    value = 0
    for i in range(4):
        if pos + i >= end:
            raise SmfError("%s VLQ at 0x%x runs past the end of the track" % (what, pos))
        b = buf[pos + i]
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos + i + 1
    raise SmfError("%s VLQ at 0x%x is longer than 4 bytes" % (what, pos))


def parse(buf):
    """Strictly parse @buf (bytes). Returns an Smf or raises SmfError."""
    smf = Smf()
    n = len(buf)
    if n < 14:
        raise SmfError("file is %d bytes, shorter than an MThd chunk" % n)
    if buf[0:4] != b"MThd":
        raise SmfError("does not start with MThd (got %r)" % bytes(buf[0:4]))
    (hlen,) = struct.unpack(">I", buf[4:8])
    if hlen != 6:
        raise SmfError("MThd length is %d, expected 6" % hlen)
    smf.format, smf.ntracks, smf.division = struct.unpack(">HHH", buf[8:14])
    if smf.format != 0:
        raise SmfError("format %d, expected 0" % smf.format)
    if smf.ntracks != 1:
        raise SmfError("format 0 with %d tracks, expected 1" % smf.ntracks)
    if smf.division == 0:
        raise SmfError("division is 0")
    if smf.division & 0x8000:
        fps = 256 - (smf.division >> 8)
        if fps not in (24, 25, 29, 30) or (smf.division & 0xFF) == 0:
            raise SmfError("bad SMPTE division 0x%04x" % smf.division)

    pos = 14
    tracks = 0
    while pos < n:
        if pos + 8 > n:
            raise SmfError("%d stray bytes after the last chunk at 0x%x" % (n - pos, pos))
        ctype = bytes(buf[pos:pos + 4])
        (clen,) = struct.unpack(">I", buf[pos + 4:pos + 8])
        start, end = pos + 8, pos + 8 + clen
        if end > n:
            raise SmfError("chunk %r at 0x%x has length %d, runs %d bytes past the end of the file"
                           % (ctype, pos, clen, end - n))
        if ctype == b"MTrk":
            tracks += 1
            if tracks > 1:
                raise SmfError("a second MTrk at 0x%x in a format 0 file" % pos)
            smf.events = _parse_track(buf, start, end)
        elif ctype == b"MThd":
            raise SmfError("a second MThd at 0x%x" % pos)
        else:
            raise SmfError("unexpected chunk %r at 0x%x (kkeyd writes only MThd and MTrk)" % (ctype, pos))
        pos = end
    if tracks != 1:
        raise SmfError("%d MTrk chunks, expected 1" % tracks)
    return smf


def _parse_track(buf, pos, end):
    events = []
    tick = 0
    running = None
    while True:
        if pos >= end:
            raise SmfError("track ends at 0x%x without End of Track (FF 2F 00)" % end)
        ev_off = pos
        delta, pos = _vlq(buf, pos, end, "delta-time")
        tick += delta
        if pos >= end:
            raise SmfError("delta-time at 0x%x with no event after it" % ev_off)
        b = buf[pos]
        if b & 0x80:
            status = b
            pos += 1
        else:
            if running is None:
                raise SmfError("data byte 0x%02x at 0x%x with no running status" % (b, pos))
            status = running
        if 0x80 <= status <= 0xEF:
            need = _CHANNEL_LEN[status & 0xF0]
            if pos + need > end:
                raise SmfError("channel message at 0x%x runs past the end of the track" % ev_off)
            data = bytes(buf[pos:pos + need])
            for i, d in enumerate(data):
                if d & 0x80:
                    raise SmfError("data byte 0x%02x >= 0x80 at 0x%x" % (d, pos + i))
            pos += need
            running = status
            events.append(Event(tick, delta, status, data, offset=ev_off))
        elif status == 0xFF:
            running = None     # SMF 1.0: meta events cancel running status
            if pos >= end:
                raise SmfError("meta event at 0x%x without a type" % ev_off)
            mtype = buf[pos]
            if mtype & 0x80:
                raise SmfError("meta type 0x%02x >= 0x80 at 0x%x" % (mtype, pos))
            mlen, pos = _vlq(buf, pos + 1, end, "meta length")
            if pos + mlen > end:
                raise SmfError("meta event at 0x%x (length %d) runs past the end of the track"
                               % (ev_off, mlen))
            payload = bytes(buf[pos:pos + mlen])
            pos += mlen
            events.append(Event(tick, delta, 0xFF, meta_type=mtype, payload=payload, offset=ev_off))
            _check_meta(mtype, payload, ev_off)
            if mtype == 0x2F:
                if pos != end:
                    raise SmfError("%d bytes after End of Track (track ends at 0x%x)"
                                   % (end - pos, end))
                return events
        elif status in (0xF0, 0xF7):
            running = None     # SMF 1.0: SysEx cancels running status
            slen, pos = _vlq(buf, pos, end, "sysex length")
            if pos + slen > end:
                raise SmfError("sysex at 0x%x runs past the end of the track" % ev_off)
            events.append(Event(tick, delta, status, payload=bytes(buf[pos:pos + slen]), offset=ev_off))
            pos += slen
        else:
            raise SmfError("undefined status byte 0x%02x in a file at 0x%x" % (status, ev_off))


def _check_meta(mtype, payload, off):
    want = {0x2F: 0, 0x51: 3, 0x58: 4, 0x59: 2, 0x00: 2, 0x20: 1, 0x21: 1, 0x54: 5}
    if mtype in want and len(payload) != want[mtype]:
        raise SmfError("meta %02x at 0x%x has length %d, expected %d"
                       % (mtype, off, len(payload), want[mtype]))
    if mtype == 0x51 and int.from_bytes(payload, "big") == 0:
        raise SmfError("Set Tempo of 0 us per quarter at 0x%x" % off)


def main(argv):
    if len(argv) < 2:
        print("usage: smfcheck.py FILE...", file=sys.stderr)
        return 2
    rc = 0
    for path in argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            smf = parse(data)
        except SmfError as e:
            print("%s: INVALID: %s" % (path, e))
            rc = 1
            continue
        notes = smf.notes()
        print("%s: OK format %d, division %d, tempo %d us, %d events, %d note-on, %d note-off"
              % (path, smf.format, smf.division, smf.tempo_us(), len(smf.events),
                 sum(1 for x in notes if x[1] == "on"), sum(1 for x in notes if x[1] == "off")))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
