#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd and kprngd installed and run the way a distribution runs them: the
# `meson install` tree on Debian 12 with systemd as PID 1 and systemd-udevd
# (issue 12). Asserts: the units start and are active, the udev rule's
# group and mode on every node, a group member can play and read while a
# non-member gets EACCES, reload keeps the recording and applies the new
# velocity, the watchdog restarts a stopped kkeyd, stop removes the nodes,
# `systemd-analyze security` is at most 1.0 for both units, and kvfsd
# mounted from an /etc/fstab line keeps its data across a restart.
# One boot for all of it: a boot of this flavour costs 20-120 s under TCG.
# vm-flavour: debian
# vm-timeout: 480
# vm-mem: 768
. "$UKD_SRC/tests/vm/guest/lib.sh"

# The setup steps an admin (or a package's postinst) runs after install.
vm_check "systemd-sysusers" systemd-sysusers
vm_check "systemd-tmpfiles --create ukd.conf" systemd-tmpfiles --create ukd.conf
vm_check "udevadm control --reload" udevadm control --reload
vm_check "systemctl daemon-reload" systemctl daemon-reload
# Two users made like any other: alice plays (group kkey), bob does not.
mkdir -p /etc/sysusers.d
printf 'u alice - "kkey player"\nm alice kkey\nu bob - "not a player"\nu carol - "kprng seeder"\nm carol kprng\n' \
	>/etc/sysusers.d/vmtest.conf
vm_check "test users" systemd-sysusers /etc/sysusers.d/vmtest.conf
as() { _u=$1; shift; timeout 10 setpriv --reuid="$_u" --regid="$_u" --init-groups -- "$@"; }
# alice_reads NAME: alice reads the recording (which clears it) into
# /tmp/NAME.mid; prints its notes as "note-on NOTE VELOCITY|...".
alice_reads() {
	as alice cat /dev/kkey000 >"/tmp/$1.mid"
	kkeyctl dump "/tmp/$1.mid" >"/tmp/$1.txt"
	cat "/tmp/$1.txt" >&2
	awk '/note-o/ { gsub(/[()]/, ""); printf "%s %s %s|", $3, $6, $8 }' "/tmp/$1.txt"
}
# expect_eacces DESCRIPTION USER COMMAND: the shell command fails with EACCES.
expect_eacces() {
	_out=$(as "$2" sh -c "$3" 2>&1)
	case $_out in
	*"Permission denied"*) vm_ok "$1 (EACCES)" ;;
	*) vm_fail "$1: expected EACCES, got '$_out'" ;;
	esac
}

# systemd-analyze security: printed into the log, fails above the goal.
for u in kkeyd kprngd; do
	systemd-analyze security --no-pager "$u.service" >"/tmp/sec-$u.txt" 2>&1
	grep -v '✓' "/tmp/sec-$u.txt"   # what is exposed, and the total
	x=$(sed -n "s/.*Overall exposure level for $u.service: \([0-9.]*\).*/\1/p" "/tmp/sec-$u.txt")
	if [ -n "$x" ] && awk -v x="$x" 'BEGIN { exit !(x <= 1.0) }'; then
		vm_ok "systemd-analyze security $u.service: $x <= 1.0"
	else
		vm_fail "systemd-analyze security $u.service: exposure '${x:-?}' (goal <= 1.0)"
	fi
done

# ---- kkeyd.service
vm_check "systemctl start kkeyd" timeout 30 systemctl start kkeyd
vm_expect_eq "kkeyd is active" active "$(systemctl is-active kkeyd)"
timeout 20 udevadm settle
# READY=1 means every node exists: no waiting here. One stat for all 128
# (a fork per node costs seconds under TCG).
stat -c '%n %F %G %a' /dev/kkey[0-9][0-9][0-9] >/tmp/nodes.txt 2>&1
good=$(grep -c '^/dev/kkey[0-9]\{3\} character special file kkey 660$' /tmp/nodes.txt)
grep -v 'character special file kkey 660$' /tmp/nodes.txt | head -3
vm_expect_eq "char devices /dev/kkeyNNN with group kkey, mode 0660, after start" 128 "$good"
vm_expect_eq "kkeyd runs as user kkeyd" kkeyd "$(ps -o user= -p "$(systemctl show -P MainPID kkeyd)")"

vm_check "alice (group kkey) presses and releases C4" \
	as alice sh -c 'echo 1 >/dev/kkey060 && echo 0 >/dev/kkey060'
vm_expect_eq "alice reads the recording: on and off of note 60 at velocity 63" \
	"note-on 60 63|note-off 60 63|" "$(alice_reads first)"
expect_eacces "bob (not in kkey) cannot press" bob 'echo 1 >/dev/kkey060'
expect_eacces "bob (not in kkey) cannot read" bob 'cat /dev/kkey000 >/dev/null'

# Reload: a new velocity from the config, the recording kept.
as alice sh -c 'echo 1 >/dev/kkey061 && echo 0 >/dev/kkey061'
pid0=$(systemctl show -P MainPID kkeyd)
mkdir -p /etc/ukd && printf '[kkeyd]\nvelocity = 100\n' >/etc/ukd/kkeyd.conf
vm_check "systemctl reload kkeyd" timeout 20 systemctl reload kkeyd
vm_expect_eq "same kkeyd after reload" "$pid0" "$(systemctl show -P MainPID kkeyd)"
as alice sh -c 'echo 1 >/dev/kkey062 && echo 0 >/dev/kkey062'
vm_expect_eq "after reload: the note before it kept (63), the new one at 100" \
	"note-on 61 63|note-off 61 63|note-on 62 100|note-off 62 100|" "$(alice_reads reload)"
rm -f /etc/ukd/kkeyd.conf

# Watchdog: a kkeyd whose loop is stopped is killed and restarted.
pid0=$(systemctl show -P MainPID kkeyd)
n0=$(systemctl show -P NRestarts kkeyd)
# MainPID=0 (not running) would make this stop our own process group.
[ "${pid0:-0}" -gt 1 ] && kill -STOP "$pid0"
end=$(($(vm_now_ms) + 60000))   # WatchdogSec=30 + TimeoutAbortSec=10
while [ "$(systemctl show -P NRestarts kkeyd)" = "$n0" ] && [ "$(vm_now_ms)" -lt "$end" ]; do
	sleep 0.5
done
timeout 30 systemctl start kkeyd   # waits for READY=1 of the restarted daemon
pid1=$(systemctl show -P MainPID kkeyd)
if [ "$(systemctl show -P NRestarts kkeyd)" -gt "$n0" ] && [ "$pid1" != "$pid0" ] &&
   [ "$(systemctl is-active kkeyd)" = active ] && [ -c /dev/kkey127 ]; then
	vm_ok "watchdog: SIGSTOP'd kkeyd $pid0 killed, restarted as $pid1"
else
	vm_fail "watchdog: pid $pid0 -> $pid1, NRestarts $n0 -> $(systemctl show -P NRestarts kkeyd)"
	journalctl -u kkeyd --no-pager | tail -20
fi

vm_check "systemctl stop kkeyd" timeout 30 systemctl stop kkeyd
left=$(ls /dev | grep -c '^kkey[0-9]')
vm_expect_eq "stop removed every /dev/kkeyNNN" 0 "$left"

# ---- kprngd.service
vm_check "systemctl start kprngd" timeout 30 systemctl start kprngd
vm_expect_eq "kprngd is active" active "$(systemctl is-active kprngd)"
timeout 20 udevadm settle
vm_expect_eq "/dev/kprng: char device root:kprng 0664" "c kprng 664" \
	"$([ -c /dev/kprng ] && echo c) $(stat -c '%G %a' /dev/kprng)"
vm_expect_eq "bob (anyone) reads 4096 bytes" 4096 "$(as bob head -c 4096 /dev/kprng | wc -c)"
expect_eacces "bob (not in kprng) cannot open it for writing, so cannot seed it" bob 'echo x >/dev/kprng'
vm_check "carol (group kprng) seeds the device" as carol kprngctl seed 42
a=$(as bob head -c 32 /dev/kprng | od -An -tx1 | tr -d ' \n')
b=$(as bob head -c 32 /dev/kprng | od -An -tx1 | tr -d ' \n')
vm_expect_eq "after carol's seed every open reads the same stream" "$a" "$b"
vm_check "systemctl stop kprngd" timeout 30 systemctl stop kprngd
vm_check "stop removed /dev/kprng" sh -c '! test -e /dev/kprng'

# ---- kvfsd from an /etc/fstab line, through mount.fuse3
echo 'kvfs /srv/kvfs fuse.kvfsd image=/var/lib/kvfsd/vmtest.img,size=16m,allow_other,nofail 0 0' \
	>>/etc/fstab
vm_check "daemon-reload makes srv-kvfs.mount of the fstab line" systemctl daemon-reload
vm_check "systemctl start srv-kvfs.mount" timeout 30 systemctl start srv-kvfs.mount
fstype=$(findmnt -n -o FSTYPE /srv/kvfs)
case $fstype in
fuse*) vm_ok "/srv/kvfs is a FUSE mount ($fstype)" ;;
*) vm_fail "/srv/kvfs: fstype '$fstype', expected fuse.*" ;;
esac
p0=$(pgrep -x kvfsd)
vm_check "alice writes a file on it (allow_other)" as alice sh -c 'echo kept >/srv/kvfs/note'
vm_check "systemctl restart srv-kvfs.mount" timeout 30 systemctl restart srv-kvfs.mount
p1=$(pgrep -x kvfsd)
vm_expect_eq "a new kvfsd serves it (was $p0)" yes "$([ -n "$p1" ] && [ "$p1" != "$p0" ] && echo yes)"
vm_expect_eq "the file survived the restart (from the image)" kept "$(as alice cat /srv/kvfs/note)"
vm_check "systemctl stop srv-kvfs.mount" timeout 30 systemctl stop srv-kvfs.mount
vm_check "kvfsd exited with the unmount" sh -c '! pgrep -x kvfsd'

vm_log "journal of the units:"
journalctl -u kkeyd -u kprngd -u srv-kvfs.mount --no-pager -o cat | tail -30
vm_finish
