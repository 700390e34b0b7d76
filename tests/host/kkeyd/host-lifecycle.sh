#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier only: kkeyd's command line and life cycle (docs/kkeyd.md,
# "Command line" and "Config file"): --help/--version, usage errors exit 2,
# SIGINT stops cleanly like SIGTERM, a config file is read and the command
# line overrides it, a mount point that is not a directory fails with 1,
# SIGHUP reads the file again and keeps the recording.
# Starts its own kkeyd processes; KKEYD names the binary.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/own-daemon.sh"
work=$(mktemp -d /tmp/kkeyd-life.XXXXXX)
cleanup() {
	kill_daemon
	for m in "$work"/m*; do is_mounted "$m" && fusermount3 -u -z "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT

start() {  # start MNT ARGS...: start kkeyd, wait (bounded) for the nodes
	local mnt=$1; shift
	mkdir -p "$mnt"
	kkeyd_up "$mnt" "$work/log" "$@"
}
stop() {   # stop SIGNAL MNT: expect exit 0 and the mount gone
	kill -"$1" "$pid"
	timeout 10 tail --pid="$pid" -f /dev/null; wait "$pid"; local rc=$?
	pid=
	expect "SIG$1 stops kkeyd with exit status 0 (got $rc)" test $rc = 0
	expect "after SIG$1 $2 is unmounted" bash -c "! awk -v m='$2' '\$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo"
}
status_of() { KKEY_DIR=$1 "$PY" "$HERE/kkeytest.py" status; }

timeout 10 "$KKEYD" --help > "$work/out" 2>&1; rc=$?
expect "--help exits 0 and mentions --fuse" test $rc = 0 -a "$(grep -c -- --fuse "$work/out")" -ge 1
timeout 10 "$KKEYD" --version > "$work/out" 2>&1; rc=$?
expect "--version exits 0 and prints a version ($(head -1 "$work/out"))" test $rc = 0 -a -s "$work/out"
for args in "--frobnicate" "--velocity 128" "--slowdown 0" "--slowdown 33" "--channel 17" \
	    "--capacity 0" "--capacity x" "--mode 999"; do
	timeout 10 "$KKEYD" --fuse "$work/never" $args > "$work/out" 2>&1; rc=$?
	expect "kkeyd $args: usage error, exit 2 ($(head -c 80 "$work/out" | tr '\n' ' '))" test $rc = 2
done
expect "nothing was mounted by the refused command lines" bash -c "! grep -q '$work/never' /proc/self/mountinfo"

touch "$work/file"
timeout 10 "$KKEYD" --fuse "$work/file" > "$work/out" 2>&1; rc=$?
expect "kkeyd --fuse on a regular file: exit 1 with a message (got $rc: $(head -c 80 "$work/out"))" \
	test $rc = 1 -a -s "$work/out"

if start "$work/m1"; then
	echo 1 > "$work/m1/kkey060"
	stop INT "$work/m1"
fi

cat > "$work/kkeyd.conf" <<'CONF'
[kkeyd]
keep = true
capacity = 1000
velocity = 90
slowdown = 3
mode = 0640
CONF
if start "$work/m2" -c "$work/kkeyd.conf" --velocity 80; then
	s=$(status_of "$work/m2"); echo "       $s"
	expect "config file read, --velocity wins: velocity=80 slowdown=3 capacity=1000 keep" \
		grep -q 'capacity=1000 velocity=80 slowdown=3 held=0 flags=0x1' <<<"$s"
	mode=$(stat -c %a "$work/m2/kkey000")
	expect "mode = 0640 from the config file (got $mode)" test "$mode" = 640
	stop TERM "$work/m2"
fi
printf '[kkeyd]\nvelocity = loud\n' > "$work/bad.conf"
timeout 10 "$KKEYD" --fuse "$work/m3" -c "$work/bad.conf" > "$work/out" 2>&1; rc=$?
expect "a bad config value: exit 2 ($(head -c 80 "$work/out"))" test $rc = 2
expect "the message names the file, line and key ($(head -c 100 "$work/out"))" \
	grep -q "bad.conf:2: velocity = loud: expected an integer 1..127" "$work/out"
timeout 10 "$KKEYD" --fuse "$work/m3" -c "$work/missing.conf" > "$work/out" 2>&1; rc=$?
expect "an explicit config file that does not exist: exit 2, a config error (got $rc)" test $rc = 2


# SIGHUP (systemctl reload): the file is read again, the command line still
# wins, the recording is kept; a bad file is refused with a log line and the
# running settings stay.
wait_log() {  # wait_log PATTERN: bounded wait for a line in kkeyd's log
	for _ in $(seq 100); do grep -q -- "$1" "$work/log" && return 0; sleep 0.1; done
	return 1
}
printf '[kkeyd]\nvelocity = 40\n' > "$work/r.conf"
if start "$work/m4" -c "$work/r.conf" --channel 2; then
	echo 1 > "$work/m4/kkey060"; echo 0 > "$work/m4/kkey060"
	printf '[kkeyd]\nvelocity = 100\nchannel = 5\n' > "$work/r.conf"
	kill -HUP "$pid"
	expect "SIGHUP: kkeyd logs the reload" wait_log "configuration reloaded"
	echo 1 > "$work/m4/kkey062"; echo 0 > "$work/m4/kkey062"
	timeout 10 cat "$work/m4/kkey000" > "$work/reload.mid"
	got=$("$PY" -c '
import sys, mido
print(" ".join("%d/%d/%d" % (m.note, m.velocity, m.channel + 1)
               for m in mido.MidiFile(sys.argv[1]).tracks[0] if m.type == "note_on" and m.velocity))
' "$work/reload.mid" 2>&1)
	expect "reload: the recording kept; velocity 40 then 100 from the file, channel 2 from the command line (mido: $got)" \
		test "$got" = "60/40/2 62/100/2"
	printf '[kkeyd]\nvelocity = loud\n' > "$work/r.conf"
	kill -HUP "$pid"
	expect "a bad file on reload is logged with file and line" wait_log "r.conf:2: velocity = loud"
	s=$(status_of "$work/m4")
	expect "and kkeyd keeps running with velocity 100 ($s)" grep -q 'velocity=100' <<<"$s"
	stop TERM "$work/m4"
fi

report
