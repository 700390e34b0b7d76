# SPDX-License-Identifier: MIT
# Helpers for vm tests (busybox sh). Source it first:
#   . "$UKD_SRC/tests/vm/guest/lib.sh"
# Results: VMTEST-OK / VMTEST-FAIL lines; vm_finish exits with 0 or 1.
# Also usable outside the guest (e.g. for FUSE runs on the host) as long as
# the commands it calls exist there.

VM_FAILS=0
VM_CHECKS=0
VM_DAEMONS=""

vm_log() { echo "vmtest: $*"; }
vm_ok() { VM_CHECKS=$((VM_CHECKS + 1)); echo "VMTEST-OK: $*"; }
vm_fail() { VM_CHECKS=$((VM_CHECKS + 1)); VM_FAILS=$((VM_FAILS + 1)); echo "VMTEST-FAIL: $*"; }

# vm_check DESCRIPTION COMMAND...: one check, by the command's status.
vm_check() {
	_d=$1
	shift
	if "$@"; then vm_ok "$_d"; else vm_fail "$_d (status $?)"; fi
}

# vm_expect_eq DESCRIPTION EXPECTED ACTUAL
vm_expect_eq() {
	if [ "$2" = "$3" ]; then vm_ok "$1 ($3)"; else vm_fail "$1: expected '$2', got '$3'"; fi
}

vm_skip() {
	echo "VMTEST-SKIP: $*"
	vm_cleanup
	exit 77
}

vm_modprobe() {
	for _m; do
		modprobe "$_m" || { vm_fail "modprobe $_m"; return 1; }
	done
}

# Milliseconds since boot (for bounded waits and timings).
vm_now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# vm_wait_path PATH SECONDS: until PATH exists. vm_wait_gone: until it does not.
vm_wait_path() {
	_end=$(($(vm_now_ms) + $2 * 1000))
	while [ ! -e "$1" ]; do
		[ "$(vm_now_ms)" -ge "$_end" ] && return 1
		usleep 20000
	done
}
vm_wait_gone() {
	_end=$(($(vm_now_ms) + $2 * 1000))
	while [ -e "$1" ]; do
		[ "$(vm_now_ms)" -ge "$_end" ] && return 1
		usleep 20000
	done
}

# vm_until MS COMMAND...: until COMMAND succeeds, checked every 100 ms,
# for at most MS milliseconds; status 1 on timeout. VM_WAITED: how long it took (ms).
# An attempt that could block must bound itself (`vm_until 5000 timeout 5 CMD`).
vm_until() {
	_t0=$(vm_now_ms); _ms=$1; shift
	while ! "$@"; do
		VM_WAITED=$(($(vm_now_ms) - _t0))
		[ "$VM_WAITED" -ge "$_ms" ] && return 1
		usleep 100000
	done
	VM_WAITED=$(($(vm_now_ms) - _t0))
}

# vm_daemon NAME WATCHDOG_SECONDS COMMAND...: start COMMAND in the
# background (output in /tmp/NAME.log) with a watchdog that SIGKILLs it
# after WATCHDOG_SECONDS. A process blocked on a CUSE request that the
# daemon never answers cannot be killed; killing the daemon frees it.
vm_daemon() {
	_n=$1 _wd=$2
	shift 2
	"$@" >"/tmp/$_n.log" 2>&1 &
	_p=$!
	(
		sleep "$_wd"
		if kill -0 "$_p" 2>/dev/null; then
			echo "VMTEST-WATCHDOG: killing $_n (pid $_p) after ${_wd}s"
			kill -9 "$_p"
		fi
	) >/dev/console 2>&1 &
	eval "VM_PID_$_n=$_p VM_WD_$_n=$!"
	VM_DAEMONS="$VM_DAEMONS $_n"
}

vm_pid() { eval "echo \$VM_PID_$1"; }

# vm_stop NAME [SECONDS]: SIGTERM, wait up to SECONDS (default 5), then
# SIGKILL. Prints nothing; returns the daemon's exit status (137 if killed).
vm_stop() {
	_p=$(vm_pid "$1")
	[ -n "$_p" ] || return 0
	kill -TERM "$_p" 2>/dev/null
	_end=$(($(vm_now_ms) + ${2:-5} * 1000))
	while kill -0 "$_p" 2>/dev/null && [ -d "/proc/$_p" ] &&
	      ! grep -q '^State:.*Z' "/proc/$_p/status" 2>/dev/null; do
		if [ "$(vm_now_ms)" -ge "$_end" ]; then
			echo "vmtest: $1 ignored SIGTERM for ${2:-5}s, killing"
			kill -9 "$_p" 2>/dev/null
			break
		fi
		usleep 20000
	done
	vm_reap "$1" "$_p"
}

# vm_reap NAME PID: collect a daemon that has exited, disarm its watchdog;
# returns the daemon's exit status.
vm_reap() {
	wait "$2"
	_rc=$?
	eval "_w=\$VM_WD_$1"
	kill "$_w" 2>/dev/null
	eval "VM_PID_$1="
	return $_rc
}

# vm_wait_exit NAME SECONDS: wait for a daemon that should exit by itself;
# returns its status, or 124 (and kills it) when it does not.
vm_wait_exit() {
	_p=$(vm_pid "$1")
	_end=$(($(vm_now_ms) + $2 * 1000))
	while ! grep -q '^State:.*Z' "/proc/$_p/status" 2>/dev/null && [ -d "/proc/$_p" ]; do
		if [ "$(vm_now_ms)" -ge "$_end" ]; then
			vm_stop "$1" 1
			return 124
		fi
		usleep 20000
	done
	vm_reap "$1" "$_p"
}

# vm_export FILE [NAME]: hand a file to the host (base64 on the console);
# the harness saves it as BUILD/tests/vm/logs/TEST.out/NAME for TEST.post.
vm_export() {
	echo "VMTEST-FILE-BEGIN ${2:-$(basename "$1")}"
	base64 "$1"
	echo "VMTEST-FILE-END ${2:-$(basename "$1")}"
}

# vm_monitor COMMAND...: run a QEMU monitor (HMP) command line, e.g.
# vm_monitor device_add edu,id=c1; prints QEMU's reply. Needs the header
# "# vm-monitor: yes" (vmrun.py relays /dev/ttyS1 to QMP). Status 0, 1 when
# QEMU reported an error, 2 without the channel, 124 without a reply in 30 s.
# "vm_monitor events" prints the QMP events seen so far, one a line.
vm_monitor() {
	[ -c /dev/ttyS1 ] || return 2
	if [ -z "$VM_MON_OPEN" ]; then
		stty -F /dev/ttyS1 raw -echo 2>/dev/null || return 2
		exec 9<>/dev/ttyS1
		VM_MON_OPEN=1
	fi
	echo "$*" >&9
	timeout 30 awk '/^VMMON-END / { exit $2 } { print }' <&9
}

vm_cleanup() {
	for _n in $VM_DAEMONS; do
		_p=$(vm_pid "$_n")
		[ -n "$_p" ] && kill -9 "$_p" 2>/dev/null
		eval "_w=\$VM_WD_$_n"
		[ -n "$_w" ] && kill "$_w" 2>/dev/null
	done
	return 0
}

vm_finish() {
	vm_cleanup
	echo "VMTEST-SUMMARY: $VM_CHECKS check(s), $VM_FAILS failure(s)"
	[ "$VM_FAILS" -eq 0 ]
	exit $?
}

trap vm_cleanup EXIT
