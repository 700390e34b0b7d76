#!/bin/sh
# SPDX-License-Identifier: MIT
# The CUSE front end itself (lib/cuse-front.c), driven with cuse-probe
# (tests/vm/cuse-probe.c): ENODEV without the module, nodes and their
# majors/minors/modes, write-piece offsets, reads past one request, name and
# major collisions (with the sessions already made torn down), teardown with
# a file still open, 128 nodes.
# vm-modules: cuse
# vm-timeout: 120
# vm-smp: 2
. "$UKD_SRC/tests/vm/guest/lib.sh"

# --- Without /dev/cuse: -ENODEV, nothing left behind.
timeout 10 cuse-probe pa pb >/tmp/nocuse.log 2>&1
vm_expect_eq "no cuse module: cuse-probe exits with ENODEV" 19 $?
vm_check "no cuse module: no node left behind" test ! -e /dev/pa -a ! -e /sys/class/cuse/pa

vm_modprobe cuse || vm_finish

# --- Three nodes, one free major chosen for all of them, mode from the device.
t0=$(vm_now_ms)
vm_daemon probe 90 cuse-probe -v --mode 0640 pa pb pc
if vm_wait_path /dev/pc 10; then
	vm_ok "3 nodes appeared after $(($(vm_now_ms) - t0)) ms"
else
	vm_fail "nodes did not appear"; cat /tmp/probe.log; vm_finish
fi
ls -l /dev/pa /dev/pb /dev/pc
for n in pa pb pc; do
	vm_check "/dev/$n is a character device" test -c /dev/$n
	sys=$(cat /sys/class/cuse/$n/dev)
	node=$(printf '%d:%d' 0x$(stat -c %t /dev/$n) 0x$(stat -c %T /dev/$n))
	vm_expect_eq "/dev/$n device number matches sysfs" "$sys" "$node"
	vm_expect_eq "/dev/$n mode from the device" 640 "$(stat -c %a /dev/$n)"
done
grep -q READY /tmp/probe.log && vm_ok "READY after the nodes exist" || vm_fail "no READY"

# --- Write pieces: one write(2) of 300000 bytes, twice on the same open file.
head -c 300000 /dev/zero >/tmp/big
: >/tmp/probe.log.mark
exec 3>/dev/pa
timeout 10 dd if=/tmp/big bs=300000 count=1 >&3 2>/dev/null
timeout 10 dd if=/tmp/big bs=300000 count=1 >&3 2>/dev/null
exec 3>&-
timeout 10 cat /dev/pb >/tmp/plog || vm_fail "cat /dev/pb did not end"
grep '^W' /tmp/plog >/tmp/pieces
cat /tmp/pieces
echo "front end's view (offsets):"
grep 'write .* at offset' /tmp/probe.log
total=$(awk '{ s += $2 } END { print s }' /tmp/pieces)
vm_expect_eq "two 300000-byte write(2)s arrive complete" 600000 "$total"
vm_expect_eq "each write(2) starts with a piece at offset 0 (not continued)" 2 \
	"$(grep -c '^W [0-9]* 0$' /tmp/pieces)"
vm_check "... followed by continued pieces" grep -q '^W [0-9]* 1$' /tmp/pieces
first=$(grep -m1 -n '^W [0-9]* 0$' /tmp/pieces | cut -d: -f1)
second=$(grep -n '^W [0-9]* 0$' /tmp/pieces | sed -n 2p | cut -d: -f1)
vm_check "the second write(2) starts again at offset 0 (line $second > $first)" test "$second" -gt "$first"
# The offsets the kernel passed: 0, then the bytes already sent.
awk '/write .* at offset/ { if ($NF == 0) sent = 0; else if ($NF != sent) bad = 1; sent += $(NF-3) }
     END { exit bad }' /tmp/probe.log
vm_check "each later piece's offset = bytes of this write(2) already sent" test $? -eq 0
vm_check "no piece bigger than 128 KiB" awk '$2 > 131072 { exit 1 }' /tmp/pieces

# --- Reads: own position per open file; one read(2) larger than a request.
{ printf '#'; head -c 199999 /dev/zero | tr '\0' x; } >/tmp/fill
timeout 10 dd if=/tmp/fill of=/dev/pa bs=200000 count=1 2>/dev/null
size=$(timeout 10 cat /dev/pa | wc -c)
got=$(timeout 10 dd if=/dev/pa bs=1048576 count=1 2>/dev/null | wc -c)
vm_check "log is larger than one 128 KiB request ($size bytes)" test "$size" -gt 131072
vm_check "one read(2) of 1 MiB returns it all ($got >= $size)" test "$got" -ge "$size"
vm_check "cat ends (EOF from the device's own position)" timeout 10 cat /dev/pc >/dev/null
echo "front end's view of reads:"
grep 'read .* at offset' /tmp/probe.log | tail -4
vm_check "a read(2) past one request continues at offset 131072" \
	grep -q 'read [0-9]* at offset 131072' /tmp/probe.log

# --- Name collision: x1 x2 are created, pb collides: EEXIST, x1 x2 removed.
timeout 10 cuse-probe -v x1 x2 pb >/tmp/collide.log 2>&1
rc=$?
cat /tmp/collide.log | grep -v 'at offset'
vm_expect_eq "a name another process holds: EEXIST" 17 $rc
vm_check "the sessions made before the collision are gone" test ! -e /dev/x1 -a ! -e /dev/x2
vm_check "the first daemon still serves /dev/pb" sh -c 'echo hi > /dev/pb'
echo "dmesg after the collision:"; dmesg | tail -3

# --- Fixed major and minors; a taken minor is EBUSY.
vm_daemon fixed 60 cuse-probe --major 60 --first-minor 7 fa fb
vm_wait_path /dev/fb 5
vm_expect_eq "--major 60 --first-minor 7: /dev/fa" "60:7" "$(cat /sys/class/cuse/fa/dev)"
vm_expect_eq "... /dev/fb" "60:8" "$(cat /sys/class/cuse/fb/dev)"
timeout 10 cuse-probe --major 60 --first-minor 8 fz >/tmp/busy.log 2>&1
vm_expect_eq "a taken major:minor: EBUSY" 16 $?
vm_check "... and no /dev/fz" test ! -e /dev/fz
vm_stop fixed

# --- Teardown with a file open: nodes vanish at once, the holder sees ENODEV.
sleep 60 3<>/dev/pa &
holder=$!
usleep 200000
t0=$(vm_now_ms)
vm_stop probe 5
rc=$?
vm_expect_eq "SIGTERM: exit status 0" 0 $rc
if vm_wait_gone /dev/pa 2 && vm_wait_gone /dev/pc 2; then
	vm_ok "nodes gone $(($(vm_now_ms) - t0)) ms after SIGTERM (a file was still open)"
else
	vm_fail "nodes still there after SIGTERM"
fi
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# --- CUSE connections are not listed in fusectl (nothing can abort them
# from outside; only closing the fd ends them).
mkdir -p /sys/fs/fuse/connections
mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
vm_daemon abort 30 cuse-probe ab1
vm_wait_path /dev/ab1 5
vm_expect_eq "no fusectl entry for a CUSE connection" "" "$(ls /sys/fs/fuse/connections)"
vm_stop abort

# --- 128 nodes in one process, one loop.
names=
i=0
while [ $i -lt 128 ]; do names="$names n$(printf %03d $i)"; i=$((i + 1)); done
t0=$(vm_now_ms)
vm_daemon many 60 cuse-probe $names
if vm_wait_path /dev/n127 10; then
	vm_ok "128 nodes up in $(($(vm_now_ms) - t0)) ms"
else
	vm_fail "128 nodes did not appear"
fi
vm_expect_eq "128 nodes in /sys/class/cuse" 128 "$(ls /sys/class/cuse | grep -c '^n[0-9]')"
vm_check "threads of the daemon: 1" test "$(ls /proc/$(vm_pid many)/task | wc -l)" -eq 1
t0=$(vm_now_ms)
vm_stop many 5
if vm_wait_gone /sys/class/cuse/n000 2 && [ -z "$(ls /sys/class/cuse | grep '^n[0-9]')" ]; then
	vm_ok "128 nodes gone $(($(vm_now_ms) - t0)) ms after SIGTERM"
else
	vm_fail "nodes left: $(ls /sys/class/cuse)"
fi
vm_finish
