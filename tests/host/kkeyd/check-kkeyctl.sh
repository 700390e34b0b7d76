#!/bin/bash
# SPDX-License-Identifier: MIT
# kkeyctl against the live nodes: status, velocity, slowdown, reset, and
# dump of a file built here byte by byte. KKEYCTL names the tool.
# kkeyd options: none.
. "$(dirname "$0")/lib.sh"
: "${KKEYCTL:?KKEYCTL must name the kkeyctl binary}"
prepare nokeep
N=$D/kkey000
status_field() { "$PY" -c "import sys; sys.path.insert(0, '$HERE'); import kkeytest as k; print(k.status().$1)"; }

echo 1 > $D/kkey060; echo 0 > $D/kkey060; echo 1 > $D/kkey064; echo 0 > $D/kkey064
out=$("$KKEYCTL" -d $N status); rc=$?
echo "$out" | sed 's/^/       /'
cap=$(status_field capacity)
expect "status exits 0" test $rc = 0
expect "status shows events 4" grep -Eiq '^events:?[[:space:]]+4$' <<<"$out"
expect "status shows capacity $cap" grep -Eiq "^capacity:?[[:space:]]+$cap\$" <<<"$out"
expect "status shows velocity 63" grep -Eiq '^velocity:?[[:space:]]+63$' <<<"$out"
expect "status shows slowdown 1" grep -Eiq '^slowdown:?[[:space:]]+1$' <<<"$out"
expect "status shows held 0" grep -Eiq '^held:?[[:space:]]+0$' <<<"$out"

expect "reset exits 0" "$KKEYCTL" -d $D/kkey127 reset
expect "reset cleared the recording" test "$(status_field events)" = 0

expect "velocity 100 exits 0" "$KKEYCTL" -d $N velocity 100
expect "velocity is now 100 (KKEY_IOC_GET_STATUS)" test "$(status_field velocity)" = 100
expect "'velocity' prints 100" test "$("$KKEYCTL" -d $N velocity)" = 100
for bad in 128 -1 abc 1x ""; do
	"$KKEYCTL" -d $N velocity "$bad" >/dev/null 2>$tmp/err; rc=$?
	expect "velocity '$bad' is refused (exit $rc, $(head -c 80 $tmp/err))" test $rc -ne 0 -a -s $tmp/err
done
expect "velocity still 100 after the refused values" test "$(status_field velocity)" = 100
"$KKEYCTL" -d $N velocity 63

expect "slowdown 4 exits 0" "$KKEYCTL" -d $N slowdown 4
expect "slowdown is now 4" test "$(status_field slowdown)" = 4
expect "'slowdown' prints 4" test "$("$KKEYCTL" -d $N slowdown)" = 4
for bad in 0 33 -3 x; do
	"$KKEYCTL" -d $N slowdown "$bad" >/dev/null 2>$tmp/err; rc=$?
	expect "slowdown '$bad' is refused (exit $rc)" test $rc -ne 0 -a -s $tmp/err
done
"$KKEYCTL" -d $N slowdown 1

"$KKEYCTL" -d $D/kkey128 status >/dev/null 2>$tmp/err; rc=$?
expect "a missing node: exit 1 with a message ($(head -c 100 $tmp/err))" test $rc = 1 -a -s $tmp/err
"$KKEYCTL" -d $N frobnicate >/dev/null 2>&1; rc=$?
expect "an unknown command: exit 2" test $rc = 2

# dump: a file made here (C4 for 0.5 s at velocity 63, then E4 for 0.5 s
# at velocity 100; 1000 ticks per quarter, 500000 us per quarter).
printf 'MThd\0\0\0\6\0\0\0\1\3\350MTrk\0\0\0\45' > $tmp/in.mid
printf '\0\377\130\4\4\2\30\10\0\377\121\3\7\241\40' >> $tmp/in.mid
printf '\0\220\74\77\207\150\200\74\77\0\220\100\144\207\150\200\100\144\0\377\57\0' >> $tmp/in.mid
expect "the hand-made dump input is a valid SMF" "$PY" "$HERE/smfcheck.py" $tmp/in.mid
"$KKEYCTL" dump $tmp/in.mid > $tmp/dump.txt; rc=$?
sed 's/^/       /' $tmp/dump.txt
expect "dump exits 0" test $rc = 0
"$PY" - $tmp/dump.txt <<'PYEOF'
import re, sys
lines = [l for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
bad = []
if len(lines) != 7:
    bad.append("expected 7 event lines (time sig, tempo, 4 notes, end of track), got %d" % len(lines))
# Each line: seconds, tick, event ... ; note lines carry the number and velocity.
want = [(0.0, 0, 60, 63), (0.5, 1000, 60, 63), (0.5, 1000, 64, 100), (1.0, 2000, 64, 100)]
notes = []
for l in lines:
    f = l.split()
    try:
        sec, tick = float(f[0]), int(f[1])
    except (ValueError, IndexError):
        bad.append("line does not start with seconds and tick: %r" % l)
        continue
    if re.search(r"note", l, re.I):
        num = re.search(r"\b(60|64)\b", " ".join(f[2:]))
        vel = re.search(r"\b(63|100)\b(?!.*\b(63|100)\b)", " ".join(f[2:]))
        notes.append((sec, tick, int(num.group(1)) if num else None, int(vel.group(1)) if vel else None))
        if not re.search(r"\b[CE]-?[0-9]\b", l):
            bad.append("no note name (C4/E4 style) in %r" % l)
if notes != want:
    bad.append("note lines %r, expected %r" % (notes, want))
ons = [l for l in lines if re.search(r"on", l, re.I) and re.search(r"note", l, re.I)]
if len(ons) != 2:
    bad.append("expected 2 note-on lines, got %d" % len(ons))
if not re.search(r"500000|120", "".join(lines)):
    bad.append("the tempo (500000 us / 120 bpm) is not shown")
for b in bad:
    print("       " + b)
sys.exit(1 if bad else 0)
PYEOF
expect "dump: one line per event with seconds, tick, note number/name and velocity" test $? = 0

head -c 30 $tmp/in.mid > $tmp/trunc.mid
"$KKEYCTL" dump $tmp/trunc.mid > /dev/null 2>$tmp/err; rc=$?
expect "dump of a truncated file: exit 1 with a message ($(head -c 80 $tmp/err))" test $rc = 1 -a -s $tmp/err

# dump of what kkeyd itself recorded
echo 1 > $D/kkey067; sleep 0.2; echo 0 > $D/kkey067
timeout 10 cat $N > $tmp/rec.mid
"$KKEYCTL" dump $tmp/rec.mid > $tmp/rec.txt; rc=$?
expect "dump of a kkeyd recording: exit 0, note 67 on and off" \
	test $rc = 0 -a "$(grep -Eic 'note.*\b67\b' $tmp/rec.txt)" = 2
finish
