#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs INSIDE a container (unshare.sh, nspawn.sh, podman.sh): kkeyd,
# kprngd and kvfsd in FUSE mode, each checked by what it serves there.
#   kkeyd:  two notes written, the file read back and its events checked
#           with python3-mido (smf-events.py); SIGTERM exits 0.
#   kprngd: --seed: two opens read the same 64 KiB, not all zeros.
#   kvfsd:  a 1 MiB file written, read back equal, unmounted.
# Environment: UKD_BUILD (the build directory), UKD_SRC (the source tree),
# CT_WORK (a writable scratch directory), CT_DEV_ONLY_FUSE=1 to also
# assert that /dev holds nothing but fuse, CT_PID1=NAME that PID 1 is NAME. Prints "CT-PASS" or "CT-FAIL N".
set -u
B=${UKD_BUILD:?} S=${UKD_SRC:?} W=${CT_WORK:?}
failures=0
pids=()
ok()  { echo "ok     $*"; }
bad() { echo "FAILED $*"; failures=$((failures + 1)); }
expect() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# No /dev/null here (unshare.sh's /dev has only fuse): errors go to a file.
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>>"$W/stderr"; done
	for m in "$W"/kkey "$W"/kprng "$W"/kvfs; do
		mountpoint -q "$m" && umount -l "$m"
	done
}
trap cleanup EXIT
# wait_for PATH PID LOG: until PATH exists (bounded, 10 s), or the daemon died.
wait_for() {
	for _ in $(seq 200); do
		[ -e "$1" ] && return 0
		kill -0 "$2" 2>>"$W/stderr" || break
		sleep 0.05
	done
	echo "no $1; the daemon said:"; cat "$3"; return 1
}
# wait_exit PID: its exit status, once it exited (SIGKILL after 10 s).
wait_exit() {
	for _ in $(seq 200); do
		kill -0 "$1" 2>>"$W/stderr" || break
		sleep 0.05
	done
	kill -KILL "$1" 2>>"$W/stderr"
	wait "$1"
}
# stop PID NAME: SIGTERM, exit status 0 within 10 s.
stop() {
	kill -TERM "$1"
	wait_exit "$1"; local rc=$?
	expect "$2 stops on SIGTERM with exit 0 (got $rc)" test $rc = 0
}

echo "# in the container: pid $$, /dev holds: $(ls -A /dev | tr '\n' ' ')"
[ -c /dev/fuse ] || { echo "CT-FAIL: no /dev/fuse"; exit 1; }
if [ -n "${CT_PID1:-}" ]; then
	expect "PID 1 is $CT_PID1 ($(cat /proc/1/comm))" test "$(cat /proc/1/comm)" = "$CT_PID1"
fi
if [ "${CT_DEV_ONLY_FUSE:-0}" = 1 ]; then
	expect "/dev holds only fuse" test "$(ls -A /dev)" = fuse
fi
mkdir -p "$W/kkey" "$W/kprng" "$W/kvfs" "$W/state"
# Background jobs would read /dev/null, which may not exist here.
: > "$W/empty"

"$B/daemons/kkeyd/kkeyd" --fuse "$W/kkey" --state-dir "$W/state" < "$W/empty" > "$W/kkeyd.log" 2>&1 &
pid=$!; pids+=($pid)
if wait_for "$W/kkey/kkey127" $pid "$W/kkeyd.log"; then
	echo 1 > "$W/kkey/kkey060"; echo 0 > "$W/kkey/kkey060"
	echo 1 > "$W/kkey/kkey072"; echo 0 > "$W/kkey/kkey072"
	timeout 10 cat "$W/kkey/kkey000" > "$W/song.mid"
	got=$(timeout 30 /usr/bin/python3 "$S/tests/host/kkeyd/smf-events.py" "$W/song.mid" | paste -sd';')
	expect "kkeyd: the file read holds the notes written [$got]" \
		test "$got" = "on 60 63;off 60;on 72 63;off 72"
	expect "kkeyd: its journal is in the state directory" test -s "$W/state/kkeyd.journal"
	stop $pid kkeyd
else
	bad "kkeyd did not come up"
fi

"$B/daemons/kprngd/kprngd" --fuse="$W/kprng" --seed 42 < "$W/empty" > "$W/kprngd.log" 2>&1 &
pid=$!; pids+=($pid)
if wait_for "$W/kprng/kprng" $pid "$W/kprngd.log"; then
	timeout 10 head -c 65536 "$W/kprng/kprng" > "$W/r1"
	timeout 10 head -c 65536 "$W/kprng/kprng" > "$W/r2"
	expect "kprngd: 64 KiB read" test "$(stat -c %s "$W/r1")" = 65536
	expect "kprngd: --seed gives every open the same stream" cmp -s "$W/r1" "$W/r2"
	expect "kprngd: not all zeros" bash -c "tr -d '\\0' < '$W/r1' | grep -q ."
	stop $pid kprngd
else
	bad "kprngd did not come up"
fi

"$B/daemons/kvfsd/kvfsd" -f -o size=64m "$W/kvfs" < "$W/empty" > "$W/kvfsd.log" 2>&1 &
pid=$!; pids+=($pid)
for _ in $(seq 200); do mountpoint -q "$W/kvfs" && break; sleep 0.05; done
if mountpoint -q "$W/kvfs"; then
	for _ in $(seq 16); do cat "$W/r1"; done > "$W/big"
	cp "$W/big" "$W/kvfs/file"
	expect "kvfsd: a 1 MiB file reads back equal" cmp -s "$W/big" "$W/kvfs/file"
	expect "kvfsd: unmounted with umount" umount "$W/kvfs"
	wait_exit $pid; rc=$?
	expect "kvfsd exits 0 after the unmount (got $rc)" test $rc = 0
else
	cat "$W/kvfsd.log"
	bad "kvfsd did not mount"
fi

if [ $failures -eq 0 ]; then echo "CT-PASS"; exit 0; fi
echo "CT-FAIL $failures"; exit 1
