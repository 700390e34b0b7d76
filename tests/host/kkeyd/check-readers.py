#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Readers (docs/kkeyd.md, read(2)): the position is per open file; 1-byte
reads reassemble a valid file; of two concurrent readers only one gets the
notes and the other an empty valid file; reads racing writes never crash
kkeyd, every file is valid and the notes are conserved.
kkeyd options: none (read-clears mode)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402
import smfcheck  # noqa: E402

c = k.Check("readers")
c.prepare(keep=False)


def play(notes, hold=0.0):
    for n in notes:
        k.press(n)
        if hold:
            time.sleep(hold)
        k.release(n)


# 1. 1-byte reads on one open file give a whole valid file with the notes.
play([60, 62, 64], 0.1)
fd = os.open(k.node(0), os.O_RDONLY)
one = k.bounded(60, k.read_all, fd, 1)
os.close(fd)
c.verify("one-byte-reads", one, expect_notes=[(60, 0, 0.1), (62, 0.1, 0.1), (64, 0.2, 0.1)],
         counts=(3, 3), tol=0.4)

# 2. The position is per open file: A reads 1 byte (takes the snapshot and
#    clears), B then reads a whole (empty) file, A continues its snapshot.
play([65, 67])
fa = os.open(k.node(0), os.O_RDONLY)
fb = os.open(k.node(1), os.O_RDONLY)
first = os.read(fa, 1)
bfile = k.bounded(30, k.read_all, fb)
afile = first + k.bounded(30, k.read_all, fa)
os.close(fa)
os.close(fb)
c.verify("interleaved-B", bfile, empty=True)
c.verify("interleaved-A", afile, counts=(2, 2))

# 3. Concurrent readers, many times: exactly one of them gets the notes.
rounds, good = 20, 0
for i in range(rounds):
    play([70 + i % 10, 50])
    fds = [os.open(k.node(j * 64), os.O_RDONLY) for j in range(2)]
    out = [None, None]
    bar = threading.Barrier(2)

    def reader(j):
        bar.wait()
        out[j] = k.read_all(fds[j], 1 if j else 1 << 20)

    ts = [threading.Thread(target=reader, args=(j,)) for j in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    for f in fds:
        os.close(f)
    if any(t.is_alive() for t in ts):
        c.ok(False, "round %d: a reader hung" % i)
        break
    try:
        counts = sorted(len(smfcheck.parse(o).notes()) for o in out)
    except smfcheck.SmfError as e:
        c.ok(False, "round %d: invalid file: %s" % (i, e))
        continue
    if counts == [0, 4]:
        good += 1
    else:
        c.ok(False, "round %d: note events per reader %r, expected [0, 4]" % (i, counts))
c.ok(good == rounds, "%d/%d rounds of two concurrent readers: one got the 2 notes, the other an empty file"
     % (good, rounds))
c.verify("concurrent-last-a", out[0])
c.verify("concurrent-last-b", out[1])

# 4. Reads racing writes: 8 writer threads, each pressing and releasing its
#    own note PAIRS times, while a reader keeps reading whole files.
WRITERS, PAIRS = 8, 400
NOTES = [20 + 3 * i for i in range(WRITERS)]
k.read_song(0)
stop = threading.Event()
files = []
errors = []


def writer(n):
    try:
        fd = os.open(k.node(n), os.O_WRONLY | os.O_NONBLOCK)
        for _ in range(PAIRS):
            os.write(fd, b"1")
            os.write(fd, b"0")
        os.close(fd)
    except OSError as e:
        errors.append("writer %d: %s" % (n, e))


def reader():
    while not stop.is_set():
        try:
            fd = os.open(k.node(0), os.O_RDONLY)
            files.append(k.read_all(fd, 4096))
            os.close(fd)
        except OSError as e:
            errors.append("reader: %s" % e)
            return


rt = threading.Thread(target=reader)
rt.start()
ws = [threading.Thread(target=writer, args=(n,)) for n in NOTES]
t0 = time.monotonic()
for t in ws:
    t.start()
for t in ws:
    t.join(120)
stop.set()
rt.join(60)
files.append(k.read_song(0))
dt = time.monotonic() - t0
c.ok(not errors and not rt.is_alive() and not any(t.is_alive() for t in ws),
     "racing reads and writes: no error, no hang (%s)" % ("; ".join(errors[:3]) or "%.1f s" % dt))
c.ok(len(files) >= 3, "the reader took %d snapshots while %d writers wrote" % (len(files), WRITERS))

# Conservation. Per note, every file must alternate on/off starting with on
# and ending with off (strict check in midiverify). A note held at a
# snapshot is closed at the end of that file and re-pressed at tick 0 of the
# next (a "carried" pair), so per note:
#   ons == offs == PAIRS + carried, with 0 <= carried <= the file boundaries
#   where the previous file ends with its note-off at its last tick and the
#   next starts with its note-on at tick 0.
per_note = {n: [0, 0] for n in NOTES}
parsed = []
invalid = 0
for i, data in enumerate(files):
    try:
        smf = smfcheck.parse(data)
    except smfcheck.SmfError as e:
        invalid += 1
        c.ok(False, "snapshot %d is not a valid SMF: %s" % (i, e))
        c.save("racing-%d.mid" % i, data)
        continue
    parsed.append(smf)
    for tick, kind, ch, note, vel in smf.notes():
        if note not in per_note:
            c.ok(False, "snapshot %d has note %d nobody played" % (i, note))
            continue
        per_note[note][0 if kind == "on" else 1] += 1
c.ok(invalid == 0, "all %d snapshots pass the strict SMF check" % len(files))
# mido/midicsv/no-hanging-notes on every snapshot
bad = 0
for i, data in enumerate(files):
    try:
        p = c.save("racing-%d.mid" % i, data)
        k.midiverify.verify(p)
    except k.midiverify.VerifyError as e:
        bad += 1
        c.ok(False, "snapshot %d: %s" % (i, e))
c.ok(bad == 0, "all %d snapshots pass mido, midicsv and the no-hanging-note check" % len(files))

# A carried note's note-off is in the trailing run of note-offs at the End
# of Track tick of file k (the writer closes held notes last), and its
# re-press in the leading run of note-ons at tick 0 of file k+1 (re-pressed
# before anything else is recorded). Notes in both runs are candidates.
candidates = {n: 0 for n in NOTES}
for prev, nxt in zip(parsed, parsed[1:]):
    end = prev.events[-1].tick
    tail = set()
    for tick, kind, ch, note, vel in reversed(prev.notes()):
        if kind != "off" or tick != end:
            break
        tail.add(note)
    head = set()
    for tick, kind, ch, note, vel in nxt.notes():
        if kind != "on" or tick != 0:
            break
        head.add(note)
    for n in tail & head:
        if n in candidates:
            candidates[n] += 1
for n in NOTES:
    on, off = per_note[n]
    carried = on - PAIRS
    c.ok(on == off and 0 <= carried <= candidates[n],
         "note %d: %d note-ons, %d note-offs over %d files = %d written pairs + %d carried "
         "(at most %d possible)" % (n, on, off, len(files), PAIRS, carried, candidates[n]))
c.ok(k.status().held == 0, "nothing held at the end")
c.finish()
