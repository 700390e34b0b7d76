#!/bin/sh
# SPDX-License-Identifier: MIT
# kkeyd's interrupt storm handling on a key card (docs/kkey-pci.md): a card
# raising values that are no event as fast as kkeyd acknowledges them
# (pci-check storm). With --pci-storm-limit=50 (reachable on any host; how
# fast a guest can raise under TCG depends on the host's load, so the default
# 1000/s is measured, not asserted): each storm is one log line, the card is
# closed for a second and opened again, the stub delivers no interrupt
# while it is closed (no busy loop: counted by the stub, and kkeyd's CPU
# time stays a small part of the storm), and the recording keeps working.
# vm-modules: uio cuse
# vm-qemu: -device edu,addr=03.0
# vm-timeout: 120
# vm-smp: 1
. "$UKD_SRC/tests/vm/guest/lib.sh"
A=0000:00:03.0
LIMIT=50
STORM_MS=2500
vm_check "modprobe by modalias" modprobe "$(cat /sys/bus/pci/devices/$A/modalias)"
vm_modprobe cuse || vm_finish
uio=$(ls /sys/bus/pci/devices/$A/uio)
uio_events() { cat /sys/class/uio/$uio/event; }
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
opens() { grep -c 'key card (id' /tmp/kkeyd.log; }
storms() { grep -c 'interrupt storm' /tmp/kkeyd.log; }

# --- The default limit: measured and logged, not asserted.
vm_daemon kkeyd 100 kkeyd --cuse --pci=$A
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd nodes did not appear"; cat /tmp/kkeyd.log; vm_finish; }
timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done'
vm_log "default limit 1000: $(pci-check storm $A 0x1bc 1000 | sed 's/0x1bc/valid events/'); "\
"$(pci-check storm $A 0x200 2000); $(storms) storm(s) logged"
vm_stop kkeyd 5

# --- A low limit: the reaction itself.
vm_daemon kkeyd 100 kkeyd --cuse --pci=$A --pci-storm-limit=$LIMIT
vm_wait_path /dev/kkey127 10 || { vm_fail "kkeyd nodes did not appear"; cat /tmp/kkeyd.log; vm_finish; }
timeout 10 sh -c 'until grep -q "key card" /tmp/kkeyd.log; do usleep 50000; done'
pid=$(vm_pid kkeyd)
vm_check "before the storm: the card plays" timeout 20 kkey-pciplay -q $A 60
e0=$(uio_events) c0=$(cpu_ticks "$pid") t0=$(vm_now_ms)
pci-check storm $A 0x200 $STORM_MS | tee /tmp/storm.out
e1=$(uio_events) c1=$(cpu_ticks "$pid") t1=$(vm_now_ms)
raised=$(awk '{ print $3 }' /tmp/storm.out)
n=$(storms)
vm_log "storm: $raised raised, $((e1 - e0)) interrupts delivered, $n storm(s) logged, kkeyd $((c1 - c0)) ticks over $((t1 - t0)) ms"
# A storm closes the card for 1 s: at most one per second of storm, plus one.
vm_expect_eq "storms logged: between 1 and $((STORM_MS / 1000 + 1))" yes \
	"$([ "$n" -ge 1 ] && [ "$n" -le $((STORM_MS / 1000 + 1)) ] && echo yes)"
vm_check "each storm is one line naming the limit" \
	sh -c "[ \$(grep -c 'interrupt storm (more than $LIMIT interrupts without an event in 1 s); closing the card for 1 s' /tmp/kkeyd.log) -eq $n ]"
vm_check "the card was opened again after each storm" \
	timeout 10 sh -c "until [ \$(grep -c 'key card (id' /tmp/kkeyd.log) -ge $((n + 1)) ]; do usleep 50000; done"
# While closed nothing acknowledges the pending value (so the raiser waits)
# and INTx stays masked (so the stub delivers nothing): per storm at most
# LIMIT+1 values taken by interrupt and 1 at the reopening, plus at most
# LIMIT+1 in a window the storm's end cut short. Open all along, kkeyd
# would have taken a value per raise: thousands (see the default run above).
vm_expect_eq "values taken <= (storms + 1) x $((LIMIT + 2)): closed while paused" yes \
	"$([ "$raised" -le $(((n + 1) * (LIMIT + 2))) ] && echo yes)"
vm_expect_eq "interrupts delivered <= values raised" yes \
	"$([ $((e1 - e0)) -le "$raised" ] && echo yes)"
vm_expect_eq "kkeyd's CPU time over the storm < 25% of it (no busy loop)" yes \
	"$([ $(((c1 - c0) * 10 * 4)) -lt $((t1 - t0)) ] && echo yes)"
vm_check "unknown values logged sparingly (the first and every 1000th)" \
	sh -c "[ \$(grep -c 'unknown event value' /tmp/kkeyd.log) -le $((raised / 1000 + 1)) ]"
echo 1 >/dev/kkey061; echo 0 >/dev/kkey061
vm_check "after the storm: the card plays again" timeout 20 kkey-pciplay -q $A 62
timeout 10 cat /dev/kkey000 >storm.mid
vm_expect_eq "the recording: before, node writes, after" "on 60 off 60 on 61 off 61 on 62 off 62" \
	"$(kkeycheck events storm.mid | xargs)"
vm_stop kkeyd 5
vm_expect_eq "kkeyd exits 0" 0 $?
grep "events recorded" /tmp/kkeyd.log
vm_check "kkeyd's count: 4 events recorded, no missed interrupt" \
	grep -q "pci $A: 4 events recorded, .* 0 missed, 0 spurious" /tmp/kkeyd.log
vm_finish
