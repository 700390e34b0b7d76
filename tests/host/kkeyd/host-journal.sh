#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier: kkeyd's crash journal (docs/kkeyd.md, "Crash journal").
# Notes written, kkeyd killed with SIGKILL, restarted on the same state
# directory: the file read then holds exactly those notes (read with
# python3-mido through smf-events.py). Then a torn and corrupt tail is
# appended to the journal: the restart logs it and keeps the records before
# it. Also: --commit 0, a second kkeyd on the same state directory, a state
# directory that does not exist, and (with strace) when fdatasync happens. Starts its own kkeyd processes (KKEYD).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/own-daemon.sh"
"$PY" -c 'import mido' 2>/dev/null || { echo "SKIP: python3-mido is missing"; exit 77; }
work=$(mktemp -d /tmp/kkeyd-journal.XXXXXX)
mnt=$work/mnt state=$work/state
mkdir -p "$mnt" "$state"
cleanup() {
	kill_daemon
	is_mounted "$mnt" && fusermount3 -u -z "$mnt"
	rm -rf "$work"
}
trap cleanup EXIT

start() {  # start LOG ARGS...: kkeyd on $mnt with $state, wait (bounded) for the nodes
	local log=$1; shift
	kkeyd_up "$mnt" "$log" --state-dir "$state" "$@"
}
crash() {  # SIGKILL kkeyd; unmount what it leaves behind, as systemd's restart would find it
	kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
	fusermount3 -u -z "$mnt"
}
# events_are WHAT FILE EXPECTED: the notes mido reads in FILE are EXPECTED (';'-separated)
events_are() {
	local got
	got=$(timeout 30 "$PY" "$HERE/smf-events.py" "$2" | paste -sd';')
	expect "$1: events [$got] = [$3]" test "$got" = "$3"
}
jsize() { stat -c %s "$state/kkeyd.journal"; }

echo "# 1. kill -9 after three writes (commit=1 s, so only the page cache has them)"
start "$work/log1" || exit 1
echo 1 > "$mnt/kkey060"; echo 0 > "$mnt/kkey060"; echo 1 > "$mnt/kkey064"
expect "journal holds a header and 3 records before any sync ($(jsize) bytes)" test "$(jsize)" = $((40 + 3 * 16))
crash
start "$work/log2" || exit 1
expect "restart logs 3 events replayed ($(grep journal "$work/log2" | tr '\n' ' '))" grep -q "journal: 3 events replayed" "$work/log2"
timeout 10 cat "$mnt/kkey000" > "$work/a.mid"
events_are "after kill -9 and restart" "$work/a.mid" "on 60 63;off 60;on 64 63;off 64"
expect "the read compacted the journal to the held note's re-press ($(jsize) bytes)" test "$(jsize)" = $((40 + 16))

echo "# 2. a second kkeyd on the same state directory is refused"
mkdir -p "$work/mnt2"
timeout 10 "$KKEYD" --fuse "$work/mnt2" --state-dir "$state" > "$work/log-second" 2>&1; rc=$?
expect "second kkeyd exits 1 and says the directory is in use ($(tail -1 "$work/log-second"))" \
	bash -c "test $rc = 1 && grep -q 'in use by another kkeyd' '$work/log-second'"
is_mounted "$work/mnt2" && fusermount3 -u -z "$work/mnt2"

echo "# 3. torn and corrupt tail: a whole record of garbage and 5 bytes of a next one"
echo 0 > "$mnt/kkey064"; echo 1 > "$mnt/kkey065"
crash
printf '\377%.0s' $(seq 16) >> "$state/kkeyd.journal"
printf 'torn!' >> "$state/kkeyd.journal"
start "$work/log3" || exit 1
expect "the restart still serves and logs the 21 bytes dropped after record 3 ($(grep -i torn "$work/log3"))" \
	grep -q "torn or corrupt tail: 21 bytes after record 3 dropped" "$work/log3"
timeout 10 cat "$mnt/kkey000" > "$work/b.mid"
events_are "valid prefix kept" "$work/b.mid" "on 64 63;off 64;on 65 63;off 65"

echo "# 4. commit=0 (fdatasync per write), another velocity"
echo 0 > "$mnt/kkey065"  # 65 was still held (re-pressed by the read)
crash
start "$work/log4" --commit 0 --velocity 100 || exit 1
echo 1 > "$mnt/kkey070"
crash
start "$work/log5" || exit 1
timeout 10 cat "$mnt/kkey000" > "$work/c.mid"
events_are "replayed after commit=0 run" "$work/c.mid" "on 65 63;off 65;on 70 100;off 70"
kill -TERM "$pid"; timeout 10 tail --pid="$pid" -f /dev/null; wait "$pid"; rc=$?; pid=
expect "SIGTERM stops kkeyd with exit 0 (got $rc)" test $rc = 0

echo "# 5. a state directory that does not exist"
timeout 10 "$KKEYD" --fuse "$mnt" --state-dir "$work/nope" > "$work/log6" 2>&1; rc=$?
expect "exit 1 with the reason ($(tail -1 "$work/log6"))" \
	bash -c "test $rc = 1 && grep -q 'No such file' '$work/log6'"
expect "and nothing stays mounted" bash -c "! awk -v m='$mnt' '\$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo"

echo "# 6. the commit timer: fdatasync (seen with strace) only after writes"
# syncs_during MIN CMD...: with strace attached to kkeyd, run CMD; wait
# (bounded, 10 s) for MIN fdatasync calls, then 2.5 s for any more; print
# how many there were. Attachment is awaited, so no call is missed.
syncs_during() {
	local min=$1; shift
	: > "$work/strace"
	timeout 30 strace -f -e trace=fdatasync -p "$pid" -o "$work/strace" 2> "$work/strace.err" &
	local st=$!
	for _ in $(seq 100); do grep -q attached "$work/strace.err" && break; sleep 0.1; done
	"$@"
	for _ in $(seq 100); do [ "$(grep -c 'fdatasync(' "$work/strace")" -ge "$min" ] && break; sleep 0.1; done
	sleep 2.5
	kill -INT $st; wait $st 2>/dev/null
	grep -c 'fdatasync(' "$work/strace"
}
if command -v strace > /dev/null; then
	rm -rf "$state"; mkdir "$state"
	start "$work/log7" || exit 1
	n=$(syncs_during 0 true)
	expect "commit=1, idle: no fdatasync ($n)" test "$n" = 0
	n=$(syncs_during 1 bash -c "echo 1 > '$mnt/kkey050'; echo 0 > '$mnt/kkey050'")
	expect "commit=1, two writes: one or two fdatasyncs, not more ($n)" test "$n" -ge 1 -a "$n" -le 2
	crash
	start "$work/log8" --commit 0 || exit 1
	n=$(syncs_during 3 bash -c "for i in 1 2 3; do echo 1 > '$mnt/kkey051'; done")
	expect "commit=0: an fdatasync per write (3 writes, $n)" test "$n" = 3
	crash
else
	echo "skip   strace is missing: the commit timer's fdatasync is not checked"
fi

echo "# 7. where the state directory comes from"
# up LOG ARGS...: kkeyd on $mnt with only ARGS (and the environment), started and stopped
up() {
	local log=$1; shift
	kkeyd_up "$mnt" "$log" -v "$@"
	kill -TERM "$pid"; wait "$pid"; pid=
}
STATE_DIRECTORY="$state:$work/other" up "$work/log9"
expect "\$STATE_DIRECTORY (its first entry) is the default" grep -q "replayed from $state\$" "$work/log9"
printf '[kkeyd]\nstatedir = %s\n' "$work" > "$work/conf"
STATE_DIRECTORY="$state" up "$work/log10" -c "$work/conf"
expect "statedir = in the config file wins over \$STATE_DIRECTORY" grep -q "replayed from $work\$" "$work/log10"
STATE_DIRECTORY="$state" up "$work/log11" --state-dir=
expect "an empty --state-dir turns the journal off" grep -q "no state directory" "$work/log11"

report
