#!/bin/sh
# SPDX-License-Identifier: MIT
# The PCI key card the way a distribution runs it (issue 13): Debian 12 with
# systemd as PID 1 and systemd-udevd, the `meson install` tree, kmod/'s
# ukd_uio installed into /lib/modules/VER/updates like DKMS does. Asserts:
# udev/70-ukd-pci.rules loads ukd_uio by modalias and binds edu, systemd
# starts kkeyd-pci@ADDR.service from SYSTEMD_WANTS, notes played with
# kkey-pciplay appear in order in /dev/kkey-pci/ADDR/kkey000 (CUSE nodes
# under --node-dir, root:kkey 0660 by udev/60-ukd.rules), sysfs removal
# keeps the service running (removal in the journal), rescan brings the card
# back, kill -9 restarts it, `systemctl stop` removes the nodes, and the
# unit's `systemd-analyze security` is at most 1.0 like kkeyd.service's.
# vm-flavour: debian
# vm-modules: uio
# vm-qemu: -device edu,addr=03.0
# vm-timeout: 420
# vm-mem: 768
. "$UKD_SRC/tests/vm/guest/lib.sh"
A=0000:00:03.0
U=kkeyd-pci@$A.service
M=/dev/kkey-pci/$A
drv() { basename "$(readlink /sys/bus/pci/devices/$1/driver 2>/dev/null)" 2>/dev/null; }
journal() { journalctl -u "$U" --no-pager -o cat 2>/dev/null; }

systemd-sysusers
udevadm control --reload
systemctl daemon-reload

# Boot: udev's coldplug saw the card before the module was installed; the
# rule's SYSTEMD_WANTS started the service anyway, waiting for the card.
vm_log "at boot: $U is $(systemctl is-active "$U"), $A driver '$(drv $A)'"
vm_check "systemctl stop $U (started at coldplug)" timeout 30 systemctl stop "$U"

# --- Install the stub like DKMS: updates/, depmod. Then let udev see the card.
kver=$(uname -r)
mkdir -p "/lib/modules/$kver/updates"
cp /ukd/kmod/ukd_uio.ko "/lib/modules/$kver/updates/"
vm_check "depmod -a" depmod -a
vm_check "modinfo finds ukd_uio in updates/" sh -c "modinfo -n ukd_uio | grep -q /updates/"
# udevd keeps the module index it read at start: tell it (dkms does not).
vm_check "udevadm control --reload" udevadm control --reload
vm_check "udevadm trigger --action=add $A" timeout 30 udevadm trigger --action=add --settle "/sys/bus/pci/devices/$A"
timeout 30 udevadm settle
vm_check "the rule loaded ukd_uio (modalias)" grep -q '^ukd_uio ' /proc/modules
vm_expect_eq "$A bound to ukd_uio" ukd_uio "$(drv $A)"
vm_log "after the trigger: $U is $(systemctl is-active "$U")"
vm_check "SYSTEMD_WANTS started $U" vm_until 30000 timeout 10 sh -c "[ \"\$(systemctl is-active $U)\" = active ]"
vm_check "... which found the key card" vm_until 20000 timeout 10 sh -c "journalctl -u $U -o cat | grep -q 'key card'"
vm_check "$M/kkey000..kkey127 are character devices" \
	sh -c "[ -c $M/kkey000 ] && [ -c $M/kkey127 ] && [ \$(ls $M | wc -l) = 128 ]"
udevadm info "$M/kkey060" | grep -E '^[PN]:' | sed 's/^/  /'
vm_expect_eq "$M/kkey060: root:kkey 0660 (udev/60-ukd.rules)" "root kkey 660" "$(stat -c '%U %G %a' $M/kkey060)"
vm_expect_eq "the card's /dev/uioN: group kkeyd 0660 (udev/70-ukd-pci.rules)" "kkeyd 660" \
	"$(stat -c '%G %a' /dev/$(ls /sys/bus/pci/devices/$A/uio))"
vm_expect_eq "kkeyd runs as user kkeyd" kkeyd "$(stat -c %U /proc/"$(systemctl show -P MainPID "$U")")"

# The main kkeyd beside it: CUSE names and majors do not collide.
vm_check "systemctl start kkeyd (the main /dev/kkeyNNN beside the card's)" timeout 60 systemctl start kkeyd
vm_check "... /dev/kkey127 and $M/kkey127 both there" sh -c "[ -c /dev/kkey127 ] && [ -c $M/kkey127 ]"
vm_expect_eq "... on two majors" 2 "$(stat -c %t /dev/kkey060 $M/kkey060 | sort -u | wc -l)"

# --- Play the card; the recording holds it in order.
pid=$(systemctl show -P MainPID "$U")
vm_check "kkey-pciplay: 64 events" timeout 60 kkey-pciplay -q $A $(seq 40 71)
timeout 10 cat "$M/kkey000" >/tmp/play.mid
want=$(for n in $(seq 40 71); do printf 'on %s off %s ' $n $n; done)
vm_expect_eq "the 64 events in order in $M/kkey000" "$want" "$(kkeycheck events /tmp/play.mid | xargs) "

# --- Removal: the service stays, logs it; rescan brings the card back.
fds0=$(ls /proc/$pid/fd | wc -l)
timeout 10 kkey-pciplay -q $A 64+
echo 1 >/sys/bus/pci/devices/$A/remove
vm_check "removal is in the journal" vm_until 20000 timeout 10 sh -c "journalctl -u $U -o cat | grep -q 'card removed'"
vm_check "... with the held note released" sh -c "journalctl -u $U -o cat | grep -q 'released 1 held'"
vm_expect_eq "$U still active after the removal" active "$(systemctl is-active "$U")"
vm_expect_eq "... same process" "$pid" "$(systemctl show -P MainPID "$U")"
echo 1 >/sys/bus/pci/rescan
timeout 30 udevadm settle
vm_check "rescan: the card is picked up again" \
	vm_until 20000 timeout 10 sh -c "[ \$(journalctl -u $U -o cat | grep -c 'key card') -ge 2 ]"
vm_check "play after the rescan" timeout 30 kkey-pciplay -q $A 1 2
timeout 10 cat "$M/kkey000" >/tmp/replug.mid
vm_expect_eq "held note released at removal, then the replugged card's notes" \
	"on 64 off 64 on 1 off 1 on 2 off 2" "$(kkeycheck events /tmp/replug.mid | xargs)"
vm_expect_eq "kkeyd's fd count unchanged ($fds0)" "$fds0" "$(ls /proc/$pid/fd | wc -l)"

# --- kill -9: systemd restarts it (the kernel removes a dead CUSE device's nodes).
n0=$(systemctl show -P NRestarts "$U")
[ "${pid:-0}" -gt 1 ] && kill -9 "$pid"
vm_until 30000 timeout 10 sh -c "[ \"\$(systemctl show -P NRestarts $U)\" != $n0 ] && [ \"\$(systemctl is-active $U)\" = active ]"
vm_expect_eq "kill -9: restarted (NRestarts $n0 -> $(systemctl show -P NRestarts "$U")) and active" \
	active "$(systemctl is-active "$U")"
vm_check "... and plays again" sh -c "timeout 30 kkey-pciplay -q $A 9 && timeout 10 cat $M/kkey000 >/tmp/restart.mid"
vm_expect_eq "... recorded" "on 9 off 9" "$(kkeycheck events /tmp/restart.mid | xargs)"

# --- The unit's exposure: kkeyd.service's sandbox, less PrivateDevices=.
systemd-analyze security --no-pager "$U" >/tmp/sec.txt 2>&1
grep -v '✓' /tmp/sec.txt
x=$(sed -n "s/.*Overall exposure level for $U: \([0-9.]*\).*/\1/p" /tmp/sec.txt)
if [ -n "$x" ] && awk -v x="$x" 'BEGIN { exit !(x <= 1.0) }'; then
	vm_ok "systemd-analyze security $U: $x <= 1.0"
else
	vm_fail "systemd-analyze security $U: exposure '${x:-?}' above 1.0"
fi

timeout 10 cat /dev/kkey000 >/tmp/main.mid
vm_expect_eq "the main kkeyd recorded none of the card's notes" "" "$(kkeycheck events /tmp/main.mid | xargs)"
vm_check "systemctl stop kkeyd" timeout 30 systemctl stop kkeyd

# --- Stop: clean exit, nodes gone, the card's counts in the journal.
vm_check "systemctl stop $U" timeout 30 systemctl stop "$U"
vm_expect_eq "kkeyd exited 0" 0 "$(systemctl show -P ExecMainStatus "$U")"
vm_check "its nodes are gone" sh -c "[ ! -e $M/kkey000 ]"
vm_check "the restarted kkeyd's counts in the journal: 2 events, 2 interrupts" \
	sh -c "journalctl -u $U -o cat | grep -q 'pci $A: 2 events recorded, 2 interrupts, 0 missed, 0 spurious, 0 unknown, 0 removals'"
journal | tail -25
vm_finish
