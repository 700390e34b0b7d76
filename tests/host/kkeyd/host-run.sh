#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Host tier: run one kkeyd behavioural check against a real kkeyd process
# serving a fresh FUSE mount.
#
#   host-run.sh [-o KKEYD_OPTION]... [-t SECONDS] -- CHECK [ARG]...
#
# Starts "$KKEYD --fuse DIR [options]" on a new temporary directory, waits
# (bounded) until DIR/kkey000..kkey127 exist, runs CHECK with KKEY_DIR=DIR
# under timeout(1), then stops kkeyd with SIGTERM and checks that it exited 0
# and that DIR is no longer mounted. A trap cleans up whatever happens.
# Exit status: CHECK's (77 = skip), or 1 if the daemon misbehaved.
#
# Environment: KKEYD (kkeyd binary, required), KKEYCTL, PYTHON3 and the
# helpers' paths as set by meson.build; KKEY_KEEP_WORKDIR=1 keeps the
# temporary directory for inspection.
set -u

opts=()
check_timeout=300
while [ $# -gt 0 ]; do
	case "$1" in
	-o) opts+=("$2"); shift 2 ;;
	-t) check_timeout="$2"; shift 2 ;;
	--) shift; break ;;
	*) echo "host-run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: host-run.sh [-o OPT]... [-t S] -- CHECK [ARG]..." >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: host tests need root (FUSE mounts with default_permissions)"
	exit 77
fi
if [ ! -c /dev/fuse ]; then
	echo "SKIP: /dev/fuse is missing (load the fuse module)"
	exit 77
fi
if [ -z "${KKEYD:-}" ] || [ ! -x "$KKEYD" ]; then
	echo "FAIL: KKEYD is not set to the kkeyd binary (got '${KKEYD:-}')"
	exit 1
fi

work=$(mktemp -d /tmp/kkeyd-host.XXXXXX) || exit 1
mnt="$work/mnt"
mkdir "$mnt"
pid=

is_mounted() {
	# Field 5 of mountinfo is the mount point.
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if is_mounted "$mnt"; then
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	fi
	if [ "${KKEY_KEEP_WORKDIR:-0}" = 1 ]; then
		echo "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# kkeyd --fuse $mnt ${opts[*]}"
"$KKEYD" --fuse "$mnt" "${opts[@]}" >"$work/kkeyd.log" 2>&1 &
pid=$!

# Bounded wait for the nodes (10 s).
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"; rc=$?
		echo "FAIL: kkeyd exited with status $rc before the nodes appeared; its log:"
		sed 's/^/  kkeyd: /' "$work/kkeyd.log"
		pid=
		exit 1
	fi
	if is_mounted "$mnt" && [ -e "$mnt/kkey000" ] && [ -e "$mnt/kkey127" ]; then
		break
	fi
	sleep 0.1
done
if ! [ -e "$mnt/kkey127" ]; then
	echo "FAIL: $mnt/kkey127 did not appear within 10 s; kkeyd log:"
	sed 's/^/  kkeyd: /' "$work/kkeyd.log"
	exit 1
fi

export KKEY_DIR="$mnt" KKEYD_PID="$pid" KKEY_WORK="$work"
timeout -k 5 "$check_timeout" "$@"
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "FAIL: the check did not finish within $check_timeout s"
	rc=1
fi

# Stop: SIGTERM, exit status 0 within 10 s, mount gone (docs/kkeyd.md).
if ! kill -0 "$pid" 2>/dev/null; then
	wait "$pid"; drc=$?
	echo "FAIL: kkeyd died during the check (status $drc); its log:"
	sed 's/^/  kkeyd: /' "$work/kkeyd.log"
	pid=
	exit 1
fi
kill -TERM "$pid"
stopped=0
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then stopped=1; break; fi
	sleep 0.1
done
if [ $stopped = 0 ]; then
	echo "FAIL: kkeyd did not exit within 10 s of SIGTERM"
	exit 1
fi
wait "$pid"; drc=$?
pid=
if [ $drc -ne 0 ]; then
	echo "FAIL: kkeyd exited with status $drc after SIGTERM (spec: 0); its log:"
	sed 's/^/  kkeyd: /' "$work/kkeyd.log"
	exit 1
fi
if is_mounted "$mnt"; then
	echo "FAIL: $mnt is still mounted after kkeyd exited"
	exit 1
fi
echo "# kkeyd stopped with SIGTERM: exit 0, $mnt unmounted"
if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
	echo "# kkeyd log:"
	sed 's/^/  kkeyd: /' "$work/kkeyd.log"
fi
exit $rc
