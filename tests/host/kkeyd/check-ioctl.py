#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The kkey ioctls (include/ukd/kkey.h, docs/kkeyd.md): velocity and
slowdown get/set and their effect on the files, KKEY_IOC_GET_STATUS.
The ioctl numbers are computed from the _IOC encoding in kkeytest.py.
kkeyd options: none; KKEY_FRESH=1 (set by host-run.sh) also checks the
defaults of a freshly started kkeyd."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kkeytest as k  # noqa: E402

c = k.Check("ioctl")
if os.environ.get("KKEY_FRESH") == "1":
    st = k.status()
    c.ok((st.events, st.capacity, st.velocity, st.slowdown, st.held, st.flags) == (0, 1048576, 63, 1, 0, 0),
         "fresh kkeyd: events 0, capacity 1048576, velocity 63, slowdown 1, held 0, flags 0 (%r)" % st)
    c.ok(k.ioctl_get_u32(k.IOC_GET_VELOCITY) == 63, "KKEY_IOC_GET_VELOCITY: 63 by default")
    c.ok(k.ioctl_get_u32(k.IOC_GET_SLOWDOWN) == 1, "KKEY_IOC_GET_SLOWDOWN: 1 by default")
c.prepare(keep=False)

# Velocity: applies to presses and releases written after the call.
for v in (100, 1, 127):
    k.ioctl_set_u32(k.IOC_SET_VELOCITY, v, n=10)
    c.ok(k.ioctl_get_u32(k.IOC_GET_VELOCITY, n=20) == v and k.status().velocity == v,
         "velocity %d set on kkey010 reads back on kkey020 and in the status" % v)
    k.press(60)
    time.sleep(0.15)
    k.release(60)
    c.verify("velocity-%d" % v, k.read_song(0), expect_notes=[(60, 0, 0.15)], counts=(1, 1),
             velocity=v, tol=0.4)
k.ioctl_set_u32(k.IOC_SET_VELOCITY, 90)
k.press(61)
k.ioctl_set_u32(k.IOC_SET_VELOCITY, 30)
k.release(61)
r = c.verify("velocity-change-while-held", k.read_song(0), counts=(1, 1))
if r:
    vels = [(e[1], e[3]) for e in r.note_events]
    c.ok(vels == [("on", 90), ("off", 30)],
         "the velocity in force at each write is recorded: %r" % vels)
k.ioctl_set_u32(k.IOC_SET_VELOCITY, k.DEFAULT_VELOCITY)

# Slowdown: tempo = 500000 us x slowdown; applies to files generated after
# the call, so the same recording plays slowdown times longer.
for s in (1, 4, 32):
    k.ioctl_set_u32(k.IOC_SET_SLOWDOWN, s, n=127)
    c.ok(k.ioctl_get_u32(k.IOC_GET_SLOWDOWN) == s and k.status().slowdown == s,
         "slowdown %d reads back and in the status" % s)
    k.press(62)
    time.sleep(0.2)
    k.release(62)
    c.verify("slowdown-%d" % s, k.read_song(0), tempo_us=500000 * s,
             expect_notes=[(62, 0, 0.2 * s)], counts=(1, 1), tol=0.4 * s)
k.ioctl_set_u32(k.IOC_SET_SLOWDOWN, 1)
# Files generated after the call: record at slowdown 1, read at 2.
k.press(63)
time.sleep(0.2)
k.release(63)
k.ioctl_set_u32(k.IOC_SET_SLOWDOWN, 2)
c.verify("slowdown-set-after-recording", k.read_song(0), tempo_us=1000000,
         expect_notes=[(63, 0, 0.4)], counts=(1, 1), tol=0.8)
k.ioctl_set_u32(k.IOC_SET_SLOWDOWN, 1)

# Status: events and held count follow the writes.
k.press(1)
k.press(2)
k.release(1)
st = k.status()
c.ok(st.events == 3 and st.held == 1, "status after 2 presses and 1 release: events 3, held 1 (%r)" % st)
k.release(2)
k.read_song(0)
st = k.status()
c.ok(st.events == 0 and st.held == 0, "status after the read: events 0, held 0 (%r)" % st)
c.finish()
