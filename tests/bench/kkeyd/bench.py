#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""kkeyd benchmark (issue 2, "Benchmark"). Prints figures and ratios; never
fails on timing (exit 0 unless something broke; 77 without root or
/dev/fuse).

  1. Recorded events/s through the FUSE front end with 1, 8 and 128
     writers (kkwrite: one note per writer, alternating "1"/"0"), against
     noopkeys, a FUSE no-op device whose write returns count, served by the
     same front end in the same run. Runs alternate between the two and
     repeat; the best and the median of each are reported (this machine is
     shared: single runs vary by 2-5x).
  2. SMF generation for 1,000,000 events: through the mount (a whole
     read(2) loop of kkey000 after 1M writes: snapshot + SMF + transfer),
     and in-process with the library (smfgen: record, snapshot, write).
  3. kkeyd's RSS (VmRSS from /proc/PID/status) idle, after 1,000,000
     events, and after reading them.
  4. What the crash journal costs: events/s with 128 writers, kkeyd
     without a state directory against kkeyd with one (commit=1, the
     default: page cache only, a 1 s fdatasync), alternating in the same
     run; then commit=0 (an fdatasync per write) on fewer events. The
     state directory is made in the current directory (meson: the build
     directory), whose file system type is printed: fdatasync costs
     nothing on tmpfs.

Usage: bench.py KKEYD NOOPKEYS KKWRITE SMFGEN   (KKEY_BENCH_REPEATS=7)
"""
import fcntl
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPEATS = int(os.environ.get("KKEY_BENCH_REPEATS", "7"))
CONFIGS = [(1, 30000), (8, 5000), (128, 400)]      # (writers, events per writer)
BIG = 1000000
IOC_RESET = 0x1100


def die(msg):
    print("ERROR: " + msg)
    sys.exit(1)


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class Daemon:
    def __init__(self, argv, mnt):
        self.mnt = mnt
        os.mkdir(mnt)
        self.log = open(mnt + ".log", "w+")
        self.p = subprocess.Popen(argv + [mnt] if "--fuse" not in argv else argv[:argv.index("--fuse") + 1]
                                  + [mnt] + argv[argv.index("--fuse") + 1:],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if os.path.exists(os.path.join(mnt, "kkey127")):
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        die("%s did not come up: %s" % (argv[0], self.log.read()))

    def rss_kib(self, field="VmRSS"):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return -1

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt])


def kkwrite(tool, mnt, writers, events):
    p = subprocess.run([tool, mnt, str(writers), str(events)], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        die("kkwrite %s %d %d: %s %s" % (mnt, writers, events, p.stdout, p.stderr))
    m = re.search(r"seconds=([\d.]+) events_per_s=(\d+)", p.stdout)
    return float(m.group(1)), int(m.group(2))


def reset(mnt):
    fd = os.open(os.path.join(mnt, "kkey000"), os.O_RDWR)
    try:
        fcntl.ioctl(fd, IOC_RESET, 0)
    finally:
        os.close(fd)


def read_song(mnt):
    fd = os.open(os.path.join(mnt, "kkey000"), os.O_RDONLY)
    chunks = []
    try:
        t0 = time.monotonic()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks), time.monotonic() - t0
    finally:
        os.close(fd)


def journal_cost(kkeyd, tool, work):
    """Part 4: events/s with and without the journal, 128 writers."""
    state = tempfile.mkdtemp(prefix="kkeyd-bench-state-", dir=os.getcwd())
    fs = subprocess.run(["stat", "-f", "-c", "%T", state], capture_output=True, text=True).stdout.strip()
    # (name, kkeyd argv, events per writer, runs); commit=0 is slow on a disk: last and shorter.
    runs = [("none", [kkeyd, "--fuse"], 400, REPEATS),
            ("commit=1", [kkeyd, "--fuse", "--state-dir", state], 400, REPEATS),
            ("commit=0", [kkeyd, "--fuse", "--state-dir", state, "--commit", "0"], 8, 3)]
    rates = {}
    try:
        print("# crash journal cost, 128 writers, state directory on %s (%s)" % (fs, state))
        print("%-9s %8s %11s %11s %10s %10s" % ("journal", "events", "best", "median",
                                               "best/none", "med/none"))
        daemons = {}
        try:
            for name, argv, _, _ in runs[:2]:
                daemons[name] = Daemon(argv, os.path.join(work, "j-" + name))
            for _ in range(REPEATS):     # none and commit=1 alternate
                for name, _, per, _ in runs[:2]:
                    reset(daemons[name].mnt)
                    rates.setdefault(name, []).append(kkwrite(tool, daemons[name].mnt, 128, per)[1])
        finally:
            for d in daemons.values():
                d.stop()
        d = Daemon(runs[2][1], os.path.join(work, "j-commit0"))
        try:
            for _ in range(runs[2][3]):
                reset(d.mnt)
                rates.setdefault("commit=0", []).append(kkwrite(tool, d.mnt, 128, runs[2][2])[1])
        finally:
            d.stop()
        base_best, base_med = max(rates["none"]), statistics.median(rates["none"])
        for name, _, per, _ in runs:
            best, med = max(rates[name]), statistics.median(rates[name])
            print("%-9s %8d %11d %11d %10.2f %10.2f" % (name, 128 * per, best, med,
                                                       best / base_best, med / base_med))
    finally:
        subprocess.run(["rm", "-rf", state])


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    kkeyd, noop, tool, smfgen = argv[1:]
    if os.geteuid() != 0:
        print("SKIP: the kkeyd benchmark needs root (FUSE mounts)")
        return 77
    if not os.path.exists("/dev/fuse"):
        print("SKIP: /dev/fuse is missing")
        return 77
    work = tempfile.mkdtemp(prefix="kkeyd-bench-")
    kk = nd = None
    try:
        kk = Daemon([kkeyd, "--fuse"], os.path.join(work, "kkey"))
        nd = Daemon([noop], os.path.join(work, "noop"))
        time.sleep(0.5)
        rss_idle = kk.rss_kib()
        print("# kkeyd benchmark, %d CPUs, load average %s" % (os.cpu_count(), open("/proc/loadavg").read().split()[0]))
        print("# events/s through FUSE, %d alternating runs each: best and median" % REPEATS)
        print("%-8s %8s %11s %11s %6s %11s %11s %6s" % ("writers", "events", "noop best", "kkeyd best",
                                                     "ratio", "noop med", "kkeyd med", "ratio"))
        for writers, per in CONFIGS:
            rates = {"noop": [], "kkeyd": []}
            for _ in range(REPEATS):
                for name, d in (("noop", nd), ("kkeyd", kk)):
                    if d is kk:
                        reset(kk.mnt)
                    _, rate = kkwrite(tool, d.mnt, writers, per)
                    rates[name].append(rate)
            reset(kk.mnt)
            bn, bk = max(rates["noop"]), max(rates["kkeyd"])
            mn, mk = statistics.median(rates["noop"]), statistics.median(rates["kkeyd"])
            print("%-8d %8d %11d %11d %6.2f %11d %11d %6.2f"
                  % (writers, writers * per, bn, bk, bk / bn, mn, mk, mk / mn))

        # 1,000,000 events through the mount.
        reset(kk.mnt)
        rss_before = kk.rss_kib()
        secs, rate = kkwrite(tool, kk.mnt, 8, BIG // 8)
        rss_full = kk.rss_kib()
        data, read_s = read_song(kk.mnt)
        rss_after_read = kk.rss_kib()
        hwm = kk.rss_kib("VmHWM")
        ok_header = data[:4] == b"MThd" and data[-4:] == b"\x00\xff\x2f\x00"
        print("# 1,000,000 events (8 writers): written in %.2f s (%d ev/s)" % (secs, rate))
        print("SMF through the mount: read(2) of the whole file %.3f s, %d bytes (%.2f bytes/event)%s"
              % (read_s, len(data), len(data) / BIG, "" if ok_header else "  ** not an SMF? **"))
        p = subprocess.run([smfgen, str(BIG), "3"], capture_output=True, text=True, timeout=600)
        print("SMF in-process (lib, best of 3): " + (p.stdout.strip() or p.stderr.strip()))
        print("kkeyd RSS: idle %d KiB; after the throughput runs %d KiB; with 1,000,000 events %d KiB; "
              "after reading them %d KiB; peak (VmHWM) %d KiB"
              % (rss_idle, rss_before, rss_full, rss_after_read, hwm))
        print("noopkeys RSS: %d KiB" % nd.rss_kib())
        for d in (kk, nd):
            d.stop()
        journal_cost(kkeyd, tool, work)
        return 0
    finally:
        for d in (kk, nd):
            if d:
                d.stop()
        for d in (kk, nd):
            if d and is_mounted(d.mnt):
                print("WARNING: %s still mounted" % d.mnt)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
