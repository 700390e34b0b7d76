# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# What the kvfsd host tests share (run.sh, tools.sh, statx.sh): a scratch
# directory with a mount point, one kvfsd at a time in the foreground, and
# traps that unmount and stop it on any exit, a failing one included.
# (persist.sh keeps its own: its daemon is also restarted from outside
# this shell, through a pid file.)
#
# Source it with KVFSD set, then call kvfs_setup NAME. Sets:
#   T       the scratch directory (0755: other users reach the mount)
#   M       the mount point, $T/mnt
#   PID     the running kvfsd, empty when none
#   RC      the exit status of the last kvfsd waited for
#   FAILED  1 once fail() was called
# kvfsd's stderr goes to $T/daemon.log (the newest mount's).

# kvfs_setup NAME: make $T (/tmp/kvfsd-NAME.XXXXXX) and $M, set the traps.
kvfs_setup() {
	T=$(mktemp -d "/tmp/kvfsd-$1.XXXXXX")
	chmod 755 "$T"
	M=$T/mnt
	mkdir "$M"
	PID=
	RC=
	FAILED=0
	trap kvfs_cleanup EXIT
	trap 'exit 1' INT TERM
}

fail() { echo "FAIL: $*"; FAILED=1; }

# kvfs_stop: SIGTERM to the daemon, SIGKILL if it is still there 10 s on.
kvfs_stop() {
	[ -n "$PID" ] || return 0
	kill "$PID" 2>/dev/null
	timeout 10 tail --pid="$PID" -f /dev/null || kill -KILL "$PID" 2>/dev/null
	PID=
}

kvfs_cleanup() {
	if mountpoint -q "$M" 2>/dev/null; then fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; fi
	kvfs_stop
	rm -rf "$T"
}

# mount_kvfs OPTIONS [MODE]: kvfsd MODE (-f, the default; -d logs every
# request) -o OPTIONS on $M; wait (bounded) for the mount. If it does not
# mount: the log, a failure, the daemon stopped, and status 1.
mount_kvfs() {
	"$KVFSD" "${2:--f}" -o "$1" "$M" 2>"$T/daemon.log" &
	PID=$!
	for _ in $(seq 200); do
		mountpoint -q "$M" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/daemon.log"
	fail "kvfsd -o $1 did not mount"
	kvfs_stop
	return 1
}

# wait_daemon: wait (bounded) for kvfsd to exit; its status in RC. One
# that is still there after 20 s is killed, and that is a failure.
wait_daemon() {
	if ! timeout 20 tail --pid="$PID" -f /dev/null; then
		fail "kvfsd did not exit; killing it"
		kill -KILL "$PID" 2>/dev/null
	fi
	wait "$PID"; RC=$?
	PID=
}

# check_exit: the daemon that just exited did so with 0, no sanitizer
# report and nothing leaked (its last words, "leaked 0 inodes, ...").
check_exit() {
	[ "$RC" = 0 ] || fail "kvfsd exited with $RC"
	grep -E "Sanitizer|runtime error" "$T/daemon.log" && fail "sanitizer report"
	grep -q "leaked 0 inodes, 0 dentries, 0 pages" "$T/daemon.log" ||
		fail "leak report: $(tail -1 "$T/daemon.log")"
	grep "leaked" "$T/daemon.log" | sed 's/^/  daemon: /'
}

# unmount_kvfs: fusermount3 -u, then wait_daemon and check_exit.
unmount_kvfs() {
	timeout 20 fusermount3 -u "$M" || fail "fusermount3 -u"
	wait_daemon
	check_exit
}
