#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Out of memory while building the file (docs/kkeyd.md): a read that
cannot build the MIDI file fails, and the recording it had taken is put
back, so nothing is lost. Memory is taken away for real: prlimit(1) lowers
kkeyd's address-space limit (RLIMIT_AS) to what it maps already, so the
file's buffer cannot be allocated; then the limit is lifted and a read
gets every event, checked by the independent MIDI tools.
Needs KKEYD_PID (host-run.sh) and prlimit; a sanitizer build (whose shadow
memory makes an address-space limit meaningless) is skipped with a reason."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

PRESSES = 100000   # 200,000 events: a file of about 800 KB, far above malloc's mmap threshold

pid = os.environ.get("KKEYD_PID")
if not pid:
    print("SKIP: needs KKEYD_PID (run through host-run.sh)")
    sys.exit(77)


def vm_kib(field):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for pid %s" % (field, pid))


if vm_kib("VmSize") > 64 << 20:
    print("SKIP: kkeyd maps %d GiB (a sanitizer build's shadow memory): an address-space "
          "limit cannot starve it of just one allocation" % (vm_kib("VmSize") >> 20))
    sys.exit(77)


def prlimit_as(value):
    subprocess.run(["prlimit", "--pid", pid, "--as=%s" % value], check=True)


c = k.Check("nomem")
c.prepare(keep=False, min_capacity=2 * PRESSES)
fd = os.open(k.node(60), os.O_WRONLY)
for i in range(PRESSES):
    os.write(fd, b"1")
    os.write(fd, b"0")
os.close(fd)
k.press(61)                                  # held across the failed read
c.ok(k.status().events == 2 * PRESSES + 1, "recorded %d events" % (2 * PRESSES + 1))

limit = vm_kib("VmSize") * 1024 + (64 << 10)
prlimit_as("%d:unlimited" % limit)
try:
    k.read_song(0)
    c.ok(False, "a read with RLIMIT_AS = VmSize + 64 KiB succeeded (expected ENOMEM)")
except OSError as e:
    c.ok(e.errno == 12, "read with RLIMIT_AS = VmSize + 64 KiB -> %s (expected ENOMEM)"
         % os.strerror(e.errno))
finally:
    prlimit_as("unlimited:unlimited")
st = k.status()
c.ok(st.events == 2 * PRESSES + 1 and st.held == 1,
     "the failed read kept every event and the held note (%r)" % st)

k.release(61)
data = k.read_song(0)
r = c.verify("after", data, counts=(PRESSES + 1, PRESSES + 1))
if r:
    c.ok([e[2] for e in r.note_events].count(60) == 2 * PRESSES,
         "every press and release of note 60 is in the file")
c.ok(k.status().events == 0, "the successful read cleared the recording")
c.finish()
