#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier only: a second "kkeyd --fuse DIR" on a DIR already served must
# fail cleanly (non-zero, a clear message, nothing mounted over the first)
# while the first keeps working. Run under host-run.sh (KKEYD, KKEY_DIR).
. "$(dirname "$0")/lib.sh"
: "${KKEYD:?}"
count_mounts() { awk -v m="$D" '$5 == m { n++ } END { print n + 0 }' /proc/self/mountinfo; }
expect "one mount on $D before" test "$(count_mounts)" = 1
timeout -k 2 10 "$KKEYD" --fuse "$D" > $tmp/out 2>&1; rc=$?
sed 's/^/       kkeyd #2: /' $tmp/out
expect "the second kkeyd exits non-zero by itself (status $rc; 124 = hung)" test $rc -ne 0 -a $rc -ne 124 -a $rc -ne 137
expect "and says why, naming $D" grep -qF "$D" $tmp/out
expect "still one mount on $D" test "$(count_mounts)" = 1
echo 1 > $D/kkey072; sleep 0.1; echo 0 > $D/kkey072
timeout 10 cat $D/kkey000 > $tmp/after.mid
expect "the first kkeyd still records and reads" verify $tmp/after.mid --notes 72:0:0.1 --counts 1:1 --tol 0.4
finish
