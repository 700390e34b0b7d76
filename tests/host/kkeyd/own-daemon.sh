# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by the host checks that start their own kkeyd processes
# (host-lifecycle.sh, host-journal.sh): the skips (root, /dev/fuse), KKEYD,
# the ok/bad/expect report and its end, and stopping what is left running.
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: host tests need root"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: /dev/fuse is missing"; exit 77; fi
: "${KKEYD:?KKEYD must name the kkeyd binary}"
PY=${PYTHON3:-/usr/bin/python3}
pid=
failures=0
ok()  { echo "ok     $*"; }
bad() { echo "FAILED $*"; failures=$((failures + 1)); }
expect() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
is_mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
# kill_daemon: SIGKILL the kkeyd in $pid, if one still runs (for cleanup traps).
kill_daemon() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; fi
	pid=
}
# kkeyd_up MNT LOG ARGS...: kkeyd --fuse MNT ARGS in the background (pid
# in $pid, output in LOG); wait (bounded, 10 s) for its nodes. Status 1,
# with the log shown, when they do not come.
kkeyd_up() {
	local mnt=$1 log=$2; shift 2
	"$KKEYD" --fuse "$mnt" "$@" > "$log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ -e "$mnt/kkey127" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "kkeyd did not come up:"; cat "$log"; return 1
}
# report: the verdict and the exit status.
report() {
	[ $failures = 0 ] && { echo "# PASS"; exit 0; }
	echo "# $failures FAILURE(S)"; exit 1
}
