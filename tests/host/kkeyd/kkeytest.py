# SPDX-License-Identifier: MIT
"""Shared helpers for kkeyd's behavioural checks (host and vm tiers).

Every check works on the directory named by KKEY_DIR: a FUSE mount
(host tier, tests/host/kkeyd/host-run.sh) or /dev (CUSE, vm tier). The
ioctl numbers are computed here from the _IOC encoding, independently of
include/ukd/kkey.h, so a wrong number in the header would show up."""
import errno
import fcntl
import os
import signal
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import midiverify  # noqa: E402

# <asm-generic/ioctl.h>: dir(2) | size(14) | type(8) | nr(8)
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2


def _IOC(d, t, nr, size):
    return (d << 30) | (size << 16) | (t << 8) | nr


MAGIC = 0x11
STATUS_FMT = "=QQIIII"            # struct kkey_status: 2 x u64, 4 x u32 = 32 bytes
STATUS_SIZE = struct.calcsize(STATUS_FMT)
IOC_RESET = _IOC(_IOC_NONE, MAGIC, 0, 0)
IOC_GET_VELOCITY = _IOC(_IOC_READ, MAGIC, 1, 4)
IOC_SET_VELOCITY = _IOC(_IOC_WRITE, MAGIC, 2, 4)
IOC_GET_SLOWDOWN = _IOC(_IOC_READ, MAGIC, 3, 4)
IOC_SET_SLOWDOWN = _IOC(_IOC_WRITE, MAGIC, 4, 4)
IOC_GET_STATUS = _IOC(_IOC_READ, MAGIC, 5, STATUS_SIZE)
STATUS_KEEP = 1

DEFAULT_VELOCITY = 63
DEFAULT_SLOWDOWN = 1
TEMPO_US = 500000


def kkey_dir():
    d = os.environ.get("KKEY_DIR")
    if not d:
        print("FAIL: KKEY_DIR is not set (the directory holding kkey000..kkey127)")
        sys.exit(1)
    return d


def node(n):
    return os.path.join(kkey_dir(), "kkey%03d" % n)


class Status:
    def __init__(self, raw):
        (self.events, self.capacity, self.velocity, self.slowdown,
         self.held, self.flags) = struct.unpack(STATUS_FMT, raw)

    def __repr__(self):
        return ("events=%d capacity=%d velocity=%d slowdown=%d held=%d flags=%#x"
                % (self.events, self.capacity, self.velocity, self.slowdown, self.held, self.flags))


def with_fd(fn, n=0, flags=os.O_RDWR):
    fd = os.open(node(n), flags | os.O_CLOEXEC)
    try:
        return fn(fd)
    finally:
        os.close(fd)


def ioctl_none(cmd, n=0):
    return with_fd(lambda fd: fcntl.ioctl(fd, cmd, 0), n)


def ioctl_get_u32(cmd, n=0):
    return struct.unpack("=I", with_fd(lambda fd: fcntl.ioctl(fd, cmd, bytes(4)), n))[0]


def ioctl_set_u32(cmd, value, n=0):
    return with_fd(lambda fd: fcntl.ioctl(fd, cmd, struct.pack("=I", value)), n)


def status(n=0):
    return Status(with_fd(lambda fd: fcntl.ioctl(fd, IOC_GET_STATUS, bytes(STATUS_SIZE)), n))


def reset(n=0):
    ioctl_none(IOC_RESET, n)


def press(n, on=True, fd=None):
    """Write '1' (press) or '0' (release) to node @n; returns write()'s result."""
    data = b"1" if on else b"0"
    if fd is not None:
        return os.write(fd, data)
    return with_fd(lambda f: os.write(f, data), n, os.O_WRONLY)


def release(n, fd=None):
    return press(n, False, fd)


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout("a blocking call on %s did not return in time" % kkey_dir())


def bounded(seconds, fn, *args):
    """Run fn(*args) with a SIGALRM bound (main thread only)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def read_all(fd, chunk=1 << 20, limit=1 << 30):
    out = bytearray()
    while True:
        b = os.read(fd, chunk)
        if not b:
            return bytes(out)
        out += b
        if len(out) > limit:
            raise AssertionError("read more than %d bytes without reaching EOF" % limit)


def read_song(n=0, chunk=1 << 20, seconds=60):
    """Open node @n, read it to EOF (one snapshot), close. Bounded in time."""
    def go():
        fd = os.open(node(n), os.O_RDONLY | os.O_CLOEXEC)
        try:
            return read_all(fd, chunk)
        finally:
            os.close(fd)
    return bounded(seconds, go)


class Check:
    """Collects results; exit status 0 if every expectation held."""

    def __init__(self, name):
        self.name = name
        self.failures = 0
        self.tmp = tempfile.mkdtemp(prefix="kkey-%s-" % name)
        print("# %s on %s" % (name, kkey_dir()))

    def ok(self, cond, what):
        print(("ok     " if cond else "FAILED ") + what)
        if not cond:
            self.failures += 1
        return cond

    def errno_is(self, want, what, fn, *args):
        """Expect fn(*args) to fail with errno @want."""
        try:
            r = fn(*args)
        except OSError as e:
            return self.ok(e.errno == want, "%s -> %s (expected %s)"
                           % (what, errno.errorcode.get(e.errno, e.errno), errno.errorcode[want]))
        return self.ok(False, "%s -> succeeded with %r (expected %s)" % (what, r, errno.errorcode[want]))

    def save(self, name, data):
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def verify(self, what, data, **kw):
        """Save @data and run every independent MIDI check on it."""
        p = self.save(what.replace(" ", "_").replace("/", "_") + ".mid", data)
        kw.setdefault("log", lambda s: print("       " + s))
        try:
            r = midiverify.verify(p, **kw)
        except midiverify.VerifyError as e:
            self.ok(False, "%s: %s (file %s)" % (what, e, p))
            return None
        self.ok(True, "%s: valid SMF, independent checks pass" % what)
        return r

    def prepare(self, keep=None, min_capacity=None):
        """Bring a possibly shared kkeyd into a known state: default velocity
        and slowdown, no held notes, empty recording. @keep: require (True)
        or refuse (False) --keep mode; exits 77 with a reason otherwise."""
        st = status()
        if keep is not None and bool(st.flags & STATUS_KEEP) != keep:
            print("SKIP: this check needs kkeyd %s--keep (status: %r)" % ("" if keep else "without ", st))
            sys.exit(77)
        if min_capacity is not None and st.capacity < min_capacity:
            print("SKIP: this check needs kkeyd --capacity %d or more (status: %r)" % (min_capacity, st))
            sys.exit(77)
        ioctl_set_u32(IOC_SET_VELOCITY, DEFAULT_VELOCITY)
        ioctl_set_u32(IOC_SET_SLOWDOWN, DEFAULT_SLOWDOWN)
        if st.held:
            for n in range(128):
                release(n)
        reset()
        st = status()
        if st.held != 0 or st.events != 0:
            print("FAIL: could not bring kkeyd to an empty state: %r" % st)
            sys.exit(1)
        return st

    def finish(self):
        print("# %s: %s" % (self.name, "PASS" if not self.failures else "%d FAILURE(S)" % self.failures))
        if not self.failures and os.environ.get("KKEY_KEEP_WORKDIR") != "1":
            for f in os.listdir(self.tmp):
                os.unlink(os.path.join(self.tmp, f))
            os.rmdir(self.tmp)
        sys.exit(1 if self.failures else 0)


def now():
    return time.monotonic()


def _main(argv):
    """Shell checks call: kkeytest.py prepare [keep|nokeep] | status"""
    if len(argv) >= 2 and argv[1] == "prepare":
        keep = {"keep": True, "nokeep": False}.get(argv[2]) if len(argv) > 2 else None
        Check.__new__(Check).prepare(keep=keep)   # no temp dir needed
        return 0
    if len(argv) == 2 and argv[1] == "status":
        print(status())
        return 0
    print("usage: kkeytest.py prepare [keep|nokeep] | status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
