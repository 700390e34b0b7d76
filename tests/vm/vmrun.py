#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ukd's vm tier harness: boot Debian's own kernel in qemu and run ONE test
script in it, returning the script's exit status. See tests/vm/README.md.

  vmrun.py --build-dir BUILD [--source-dir SRC] TEST.sh     run one test
  vmrun.py --build-dir BUILD --shell                        interactive guest
  vmrun.py --build-dir BUILD --build-only                   just build the image

Exit status: the test's (0 pass, 77 skip, else fail); 77 also when qemu or
the kernel package cannot run at all; 1 for harness errors.
"""
import argparse
import base64
import binascii
import fcntl
import hashlib
import json
import lzma
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HARNESS_VERSION = 1          # bump when the image layout changes
QEMU = "qemu-system-x86_64"
QBOOT = "/usr/share/qemu/qboot.rom"
BUSYBOX = "/bin/busybox"
KEEP_IMAGES = 2
DEFAULTS = {"timeout": "120", "smp": "2", "mem": "512", "flavour": "initramfs"}
HERE = os.path.dirname(os.path.abspath(__file__))


class Skip(Exception):
    """qemu or the kernel cannot run at all: exit 77."""


class HarnessError(Exception):
    """Anything else that stops us: exit 1."""


def log(msg):
    print("vmrun: " + msg, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=False, text=True, capture_output=True, **kw)


def parse_header(path):
    """'# vm-KEY: value' lines at the top of a test script."""
    hdr = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n > 60:
                break
            m = re.match(r"#\s*vm-([a-z]+):\s*(.*?)\s*$", line)
            if m:
                key, val = m.group(1), m.group(2)
                hdr[key] = (hdr[key] + " " + val) if key in hdr else val
    return hdr


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# The kernel: Debian's linux-image-amd64 and its modules.

class Kernel:
    def __init__(self):
        self.version = self._find_version()
        self.vmlinuz = "/boot/vmlinuz-" + self.version
        self.moddir = "/lib/modules/" + self.version
        if not os.access(self.vmlinuz, os.R_OK):
            raise Skip(f"{self.vmlinuz} is not readable (install linux-image-amd64)")
        if not os.path.exists(os.path.join(self.moddir, "modules.dep")):
            raise Skip(f"{self.moddir}/modules.dep missing (install linux-image-amd64)")

    @staticmethod
    def _find_version():
        r = run(["dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64"])
        m = re.search(r"linux-image-(\d\S*-amd64)", r.stdout) if r.returncode == 0 else None
        if m:
            return m.group(1)
        # Not installed through the meta package: newest kernel with modules.
        cands = sorted((v[len("vmlinuz-"):] for v in os.listdir("/boot")
                        if v.startswith("vmlinuz-")
                        and os.path.exists(f"/lib/modules/{v[8:]}/modules.dep")),
                       key=lambda v: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)])
        if not cands:
            raise Skip("no kernel in /boot with modules: apt-get install linux-image-amd64")
        return cands[-1]

    def vmlinux(self, cache):
        """Unpack the ELF vmlinux (it has a PVH entry) once; None if we cannot."""
        st = os.stat(self.vmlinuz)
        out = os.path.join(cache, f"vmlinux-{self.version}-{st.st_size}-{int(st.st_mtime)}")
        if os.path.exists(out):
            return out
        with open(self.vmlinuz, "rb") as f:
            data = f.read()
        elf = None
        for magic, unpack in ((b"\xfd7zXZ\x00", self._unxz), (b"\x1f\x8b\x08", self._gunzip)):
            pos = data.find(magic)
            while pos >= 0 and elf is None:
                elf = unpack(data[pos:])
                if elf is not None and not elf.startswith(b"\x7fELF"):
                    elf = None
                pos = data.find(magic, pos + 1) if elf is None else pos
            if elf:
                break
        if not elf:
            log(f"cannot unpack {self.vmlinuz}; booting the bzImage (slower)")
            return None
        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            f.write(elf)
        os.replace(tmp, out)
        for old in os.listdir(cache):
            if old.startswith("vmlinux-") and os.path.join(cache, old) != out:
                os.unlink(os.path.join(cache, old))
        return out

    @staticmethod
    def _unxz(blob):
        try:
            return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)
        except lzma.LZMAError:
            return None

    @staticmethod
    def _gunzip(blob):
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
        except zlib.error:
            return None

    def module_closure(self, names):
        """Paths of the .ko files needed to modprobe every name."""
        paths = []
        for name in names:
            r = run(["modprobe", "-S", self.version, "--show-depends", name])
            if r.returncode != 0:
                raise HarnessError(f"module {name!r} not found for {self.version}: "
                                   + r.stderr.strip())
            for line in r.stdout.splitlines():
                w = line.split()
                if len(w) >= 2 and w[0] == "insmod" and w[1] not in paths:
                    paths.append(w[1])
        return paths


# --------------------------------------------------------------------------
# The image: a list of entries, hashed, written as a newc cpio.

MERGED = (("lib64", "usr/lib64"), ("lib", "usr/lib"), ("bin", "usr/bin"), ("sbin", "usr/sbin"))


def canon(path):
    """Image path (no leading /) with Debian's merged /usr applied."""
    p = os.path.normpath("/" + path).lstrip("/")
    for top, real in MERGED:
        if p == top or p.startswith(top + "/"):
            return real + p[len(top):]
    return p


class Image:
    def __init__(self):
        self.entries = {}     # dest -> (kind, mode, payload); kind: dir|file|link|data|chr

    def _parents(self, dest):
        d = os.path.dirname(dest)
        while d and d not in self.entries:
            self.entries[d] = ("dir", 0o755, None)
            d = os.path.dirname(d)

    def dir(self, dest, mode=0o755):
        self._parents(dest)
        self.entries[dest] = ("dir", mode, None)

    def link(self, dest, target):
        self._parents(dest)
        self.entries[dest] = ("link", 0o777, target)

    def data(self, dest, blob, mode=0o644):
        self._parents(dest)
        self.entries[dest] = ("data", mode, blob)

    def chr(self, dest, major, minor, mode=0o600):
        self._parents(dest)
        self.entries[dest] = ("chr", mode, (major, minor))

    def file(self, src, dest=None, mode=None):
        """Copy host file @src (symlinks followed) to @dest (default: same path)."""
        dest = canon(dest or src)
        real = os.path.realpath(src)
        if not os.path.isfile(real):
            raise HarnessError(f"{src}: not a file")
        if mode is None:
            mode = stat.S_IMODE(os.stat(real).st_mode)
        self._parents(dest)
        self.entries[dest] = ("file", mode, real)
        return dest

    def elf(self, src, dest=None):
        """A program or library with its shared-library closure (ldd)."""
        self.file(src, dest)
        with open(src, "rb") as f:
            if f.read(4) != b"\x7fELF":
                return
        r = run(["ldd", src])
        if r.returncode != 0:          # static, or not for this machine
            return
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x", line)
            if m and canon(m.group(1)) not in self.entries:
                self.file(m.group(1))

    def tree(self, src, dest, skip=()):
        for root, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
            rel = os.path.relpath(root, src)
            ddir = canon(os.path.join(dest, rel))
            self.dir(ddir)
            for name in sorted(files):
                if name.endswith((".pyc", ".o")) or name.startswith("."):
                    continue
                p = os.path.join(root, name)
                if os.path.isfile(p):
                    self.file(p, os.path.join(ddir, name))

    def host_path(self, src):
        """A vm-files entry: a directory tree, an ELF with libraries, or a file."""
        if os.path.isdir(src):
            self.tree(src, src)
        elif os.path.exists(src):
            self.elf(src)
        else:
            raise HarnessError(f"vm-files: {src} does not exist on the host "
                               "(is its package installed?)")

    def digest(self):
        h = hashlib.sha256(f"ukd-vm-image {HARNESS_VERSION}\n".encode())
        for dest in sorted(self.entries):
            kind, mode, payload = self.entries[dest]
            if kind == "file":
                val = sha256_file(payload)
            elif kind == "data":
                val = hashlib.sha256(payload).hexdigest()
            else:
                val = repr(payload)
            h.update(f"{dest}\0{kind}\0{mode:o}\0{val}\n".encode())
        return h.hexdigest()[:20]

    def write_cpio(self, out):
        """newc format (see the kernel's Documentation/driver-api/early-userspace)."""
        def header(f, ino, mode, size, name, nlink=1, rdev=(0, 0)):
            nb = name.encode() + b"\0"
            f.write(b"070701" + b"".join(b"%08X" % v for v in (
                ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(nb), 0)))
            f.write(nb)
            f.write(b"\0" * (-(110 + len(nb)) % 4))

        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            for ino, dest in enumerate(sorted(self.entries), start=1):
                kind, mode, payload = self.entries[dest]
                if kind == "dir":
                    header(f, ino, stat.S_IFDIR | mode, 0, dest, nlink=2)
                    continue
                if kind == "chr":
                    header(f, ino, stat.S_IFCHR | mode, 0, dest, rdev=payload)
                    continue
                if kind == "link":
                    blob, ftype = payload.encode(), stat.S_IFLNK
                elif kind == "data":
                    blob, ftype = payload, stat.S_IFREG
                else:
                    with open(payload, "rb") as src:
                        blob = src.read()
                    ftype = stat.S_IFREG
                header(f, ino, ftype | mode, len(blob), dest)
                f.write(blob)
                f.write(b"\0" * (-len(blob) % 4))
            header(f, 0, 0, 0, "TRAILER!!!", nlink=1)
        os.replace(tmp, out)


# --------------------------------------------------------------------------
# Flavours. A flavour builds its artifacts and says how to boot a test.

class Flavour:
    name = "?"

    def __init__(self, ctx):
        self.ctx = ctx

    def build(self):
        raise NotImplementedError

    def qemu_args(self, test, hdr, shell=False):
        raise NotImplementedError

    def qemu_command(self, hdr, append, initrd, extra=()):
        """The qemu command line every flavour shares: Debian's kernel (the
        ELF vmlinux through qboot when we have it), @initrd, the kernel
        command line @append plus the test's vm-append, isa-debug-exit for
        the status, the test's vm-qemu last so it can override."""
        ctx = self.ctx
        append = list(append) + hdr.get("append", "").split()
        kernel = ctx.vmlinux or ctx.kernel.vmlinuz
        args = [QEMU, "-machine", "pc", "-m", hdr["mem"], "-smp", hdr["smp"],
                "-nographic", "-no-reboot", "-net", "none",
                "-kernel", kernel, "-initrd", initrd, "-append", " ".join(append),
                *extra, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        if ctx.vmlinux and os.path.exists(QBOOT):
            args += ["-bios", QBOOT]
        args += ctx.accel_args()
        args += shlex.split(hdr.get("qemu", ""))
        return args


class InitramfsFlavour(Flavour):
    """busybox as PID 1, everything in an initramfs; ~6-9 s per boot."""
    name = "initramfs"

    def build(self):
        ctx = self.ctx
        img = Image()
        for d in ("proc", "sys", "dev", "tmp", "run", "root", "etc", "mnt",
                  "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "var"):
            img.dir(d)
        for top, real in MERGED:
            img.link(top, real)
        img.chr("dev/console", 5, 1)
        img.chr("dev/null", 1, 3, 0o666)
        img.data("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        img.data("etc/group", b"root:x:0:\naudio:x:29:\n")
        img.link("var/run", "../run")

        # busybox: every applet as a link; real programs copied later win.
        if not os.path.exists(BUSYBOX):
            raise HarnessError(f"{BUSYBOX} missing: apt-get install busybox-static")
        img.file(BUSYBOX, "usr/bin/busybox")
        r = run([BUSYBOX, "--list-full"])
        for applet in r.stdout.split():
            dest = canon(applet)
            if dest != "usr/bin/busybox":
                img.link(dest, "/usr/bin/busybox")

        img.file(os.path.join(HERE, "guest", "init"), "init", 0o755)

        # Modules: the closure of every test's vm-modules, depmod'ed for the subset.
        kernel = ctx.kernel
        mods = ctx.all_modules()
        with tempfile.TemporaryDirectory(prefix="ukd-vm-depmod-") as tmp:
            base = os.path.join(tmp, "lib", "modules", kernel.version)
            os.makedirs(base)
            for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                p = os.path.join(kernel.moddir, name)
                if os.path.exists(p):
                    shutil.copy(p, base)
            for ko in kernel.module_closure(mods):
                rel = os.path.relpath(ko, kernel.moddir)
                os.makedirs(os.path.join(base, os.path.dirname(rel)), exist_ok=True)
                shutil.copy(ko, os.path.join(base, rel))
            # The project's own modules (kmod/), built for this kernel.
            for ko in ctx.project_modules():
                os.makedirs(os.path.join(base, "updates"), exist_ok=True)
                shutil.copy(ko, os.path.join(base, "updates"))
            r = run(["depmod", "-b", tmp, kernel.version])
            if r.returncode != 0:
                raise HarnessError("depmod failed: " + r.stderr.strip())
            for root, _dirs, files in os.walk(base):
                for name in files:
                    p = os.path.join(root, name)
                    img.data(canon(os.path.join(kernel.moddir, os.path.relpath(p, base))),
                             open(p, "rb").read())

        # The project: every executable meson built, by base name in /usr/local/bin.
        for exe in ctx.project_executables():
            rel = os.path.relpath(exe, ctx.build_dir)
            dest = img.file(exe, os.path.join("ukd/build", rel))
            img.elf(exe, dest)
            link = "usr/local/bin/" + os.path.basename(exe)
            if link not in img.entries:
                img.link(link, "/" + dest)
        for sub in ("tests", "scripts", "docs", "udev", "systemd"):
            src = os.path.join(ctx.source_dir, sub)
            if os.path.isdir(src):
                img.tree(src, "ukd/src/" + sub, skip=("__pycache__",))

        # Host files the tests asked for (alsa-utils, ...).
        for path in ctx.all_files():
            img.host_path(path)

        digest = img.digest()
        out = os.path.join(ctx.cache, f"initramfs-{digest}.cpio")
        if os.path.exists(out) and not os.environ.get("UKD_VM_REBUILD"):
            os.utime(out)
            return {"initrd": out, "digest": digest, "built": False}
        t0 = time.monotonic()
        img.write_cpio(out)
        log(f"built {os.path.basename(out)}: {len(img.entries)} entries, "
            f"{os.path.getsize(out) >> 20} MiB, {time.monotonic() - t0:.1f}s")
        images = sorted((os.path.join(ctx.cache, n) for n in os.listdir(ctx.cache)
                         if n.startswith("initramfs-") and n.endswith(".cpio")),
                        key=os.path.getmtime, reverse=True)
        for old in images[KEEP_IMAGES:]:
            if old != out:
                os.unlink(old)
        return {"initrd": out, "digest": digest, "built": True}

    def qemu_args(self, test, hdr, shell=False):
        ctx = self.ctx
        art = ctx.artifacts
        append = ["console=ttyS0", "panic=-1", "quiet", "loglevel=4",
                  f"ukd.timeout={hdr['timeout']}"]
        if test:
            append.append(f"ukd.test={test}")
        if shell:
            append.append("ukd.shell=1")
        if hdr.get("trace") == "1":
            append.append("ukd.trace=1")
        return self.qemu_command(hdr, append, art["initrd"])


class DebianFlavour(Flavour):
    """Debian 12 with systemd as PID 1 and systemd-udevd: the project as
    installed (`meson install`, prefix /usr) on an mmdebstrap rootfs.

    Three artifacts, each cached by content hash:
    - root.img: the rootfs as a raw ext4 image, built once (mmdebstrap is
      the slow part, 20-60 s) and booted with snapshot=on, so it is never
      modified; keyed by the package list, the host's apt sources, the
      kernel and the module list;
    - the project: a separate build dir configured with --prefix=/usr (the
      test build's prefix is whatever its owner chose) and installed with
      --destdir, plus tests/ and scripts/ of the source tree;
    - the initrd: busybox, the modules to mount the ext4 root, and the
      project tree, which /init copies onto the root before it starts
      systemd. Copying from the initramfs is cheaper under TCG than a
      second disk or 9p, and systemd then sees the units, rules and
      sysusers.d files like any installed package's.
    The test runs as systemd.run= (a transient unit of the real PID 1);
    its status comes back as the VMTEST-RC= marker and through
    isa-debug-exit.
    """
    name = "debian"
    PACKAGES = ("systemd systemd-sysv udev kmod fuse3 libfuse3-3 libinih1 libssl3 libasound2 "
                "libevdev2 libudev1 procps util-linux psmisc").split()
    BASE_MODULES = ("cuse", "fuse")
    INITRD_MODULES = ("virtio_pci", "virtio_blk", "ext4")
    SOURCES = "/etc/apt/sources.list.d/debian.sources"
    MACHINE_ID = "4b4f3d1e8a6c4b9e9d2f5a7c1e0b3d6f"

    def _union(self, key):
        """A header key over this flavour's tests only: another flavour's
        module or file list must not rebuild (and re-download) this image."""
        out = []
        for t in self.ctx.test_scripts():
            hdr = parse_header(t)
            if hdr.get("flavour") == self.name:
                out += [w for w in hdr.get(key, "").split() if w not in out]
        return out

    def _packages(self):
        pk = list(self.PACKAGES)
        for w in self._union("packages"):
            if w not in pk:
                pk.append(w)
        return pk

    def _root_image(self):
        ctx, kernel = self.ctx, self.ctx.kernel
        mmdebstrap = shutil.which("mmdebstrap")
        if not mmdebstrap:
            raise HarnessError("mmdebstrap missing: apt-get install mmdebstrap (scripts/packages.sh)")
        sources = self.SOURCES if os.path.exists(self.SOURCES) else None
        mods = list(self.BASE_MODULES) + [m for m in self._union("modules")
                                          if m not in self.BASE_MODULES]
        kos = kernel.module_closure(mods)
        h = hashlib.sha256(f"ukd-vm-debian {HARNESS_VERSION}\n".encode())
        h.update((" ".join(self._packages()) + "\n" + kernel.version + "\n").encode())
        if sources:
            h.update(open(sources, "rb").read())
        for ko in kos:
            h.update(ko.encode() + b"\0")
        out = os.path.join(ctx.cache, f"debian-{h.hexdigest()[:20]}.img")
        if os.path.exists(out) and not os.environ.get("UKD_VM_REBUILD"):
            os.utime(out)
            return out, False
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ukd-vm-rootfs-", dir=ctx.cache) as tmp:
            rootfs = os.path.join(tmp, "rootfs")
            cmd = [mmdebstrap, "--variant=apt", "--quiet",
                   "--include=" + ",".join(self._packages()),
                   "--dpkgopt=path-exclude=/usr/share/doc/*",
                   "--dpkgopt=path-exclude=/usr/share/locale/*",
                   "--dpkgopt=path-exclude=/usr/share/man/*",
                   "bookworm", rootfs] + ([sources] if sources else [])
            r = run(cmd)
            if r.returncode != 0:
                raise HarnessError("mmdebstrap failed (it needs the Debian mirror):\n"
                                   + "\n".join((r.stdout + r.stderr).splitlines()[-30:]))
            t1 = time.monotonic()
            # The modules the tests load, depmod'ed for the subset.
            for ko in kos:
                dest = os.path.join(rootfs, canon(ko))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy(ko, dest)
            mdir = os.path.join(rootfs, canon(kernel.moddir))
            for name in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
                if os.path.exists(os.path.join(kernel.moddir, name)):
                    shutil.copy(os.path.join(kernel.moddir, name), mdir)
            r = run(["depmod", "-b", rootfs, kernel.version])
            if r.returncode != 0:
                raise HarnessError("depmod failed: " + r.stderr.strip())
            # A fixed identity, no login prompt, nothing waiting for a network.
            with open(os.path.join(rootfs, "etc/machine-id"), "w", encoding="utf-8") as f:
                f.write(self.MACHINE_ID + "\n")
            with open(os.path.join(rootfs, "etc/hostname"), "w", encoding="utf-8") as f:
                f.write("ukd-vm\n")
            with open(os.path.join(rootfs, "etc/fstab"), "w", encoding="utf-8") as f:
                f.write("/dev/vda / ext4 rw,noatime 0 0\n")
            for unit in ("serial-getty@ttyS0.service", "getty@tty1.service",
                         "systemd-timesyncd.service", "apt-daily.timer",
                         "apt-daily-upgrade.timer", "man-db.timer", "e2scrub_all.timer",
                         "fstrim.timer", "dpkg-db-backup.timer"):
                link = os.path.join(rootfs, "etc/systemd/system", unit)
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink("/dev/null", link)
            img = os.path.join(tmp, "root.img")
            with open(img, "wb") as f:
                f.truncate(1 << 30)
            r = run(["mkfs.ext4", "-q", "-F", "-L", "ukdroot", "-d", rootfs, img])
            if r.returncode != 0:
                raise HarnessError("mkfs.ext4 -d failed: " + r.stderr.strip())
            os.replace(img, out)
        log(f"built {os.path.basename(out)}: mmdebstrap {t1 - t0:.1f}s, "
            f"modules+mkfs {time.monotonic() - t1:.1f}s")
        for old in sorted((os.path.join(ctx.cache, n) for n in os.listdir(ctx.cache)
                           if n.startswith("debian-") and n.endswith(".img")),
                          key=os.path.getmtime, reverse=True)[KEEP_IMAGES:]:
            if old != out:
                os.unlink(old)
        return out, True

    def _install_tree(self):
        """meson install --destdir of a --prefix=/usr build of the source."""
        ctx = self.ctx
        bdir = os.path.join(ctx.build_dir, "tests", "vm", "debian-build")
        dest = os.path.join(ctx.build_dir, "tests", "vm", "debian-destdir")
        if not os.path.exists(os.path.join(bdir, "build.ninja")):
            r = run(["meson", "setup", "--prefix=/usr", "-Dtests=false", bdir, ctx.source_dir])
            if r.returncode != 0:
                raise HarnessError("meson setup (prefix /usr) failed:\n" + r.stdout + r.stderr)
        if not os.environ.get("UKD_VM_NO_BUILD"):
            r = run(["ninja", "-C", bdir])
            if r.returncode != 0:
                raise HarnessError("building the /usr install failed:\n"
                                   + "\n".join((r.stdout + r.stderr).splitlines()[-30:]))
        shutil.rmtree(dest, ignore_errors=True)
        r = run(["meson", "install", "-C", bdir, "--no-rebuild", "--quiet", "--destdir", dest])
        if r.returncode != 0:
            raise HarnessError("meson install failed:\n" + r.stdout + r.stderr)
        return dest

    def build(self):
        ctx, kernel = self.ctx, self.ctx.kernel
        root, built = self._root_image()
        dest = self._install_tree()

        img = Image()
        for d in ("proc", "sys", "dev", "newroot", "usr/bin", "usr/sbin", "usr/lib"):
            img.dir(d)
        for top, real in MERGED:
            img.link(top, real)
        img.chr("dev/console", 5, 1)
        if not os.path.exists(BUSYBOX):
            raise HarnessError(f"{BUSYBOX} missing: apt-get install busybox-static")
        img.file(BUSYBOX, "usr/bin/busybox")
        for applet in ("sh", "mount", "umount", "insmod", "switch_root", "cp", "mkdir",
                       "poweroff", "cat", "ln", "chmod", "usleep", "sleep", "echo"):
            img.link("usr/bin/" + applet, "/usr/bin/busybox")
        img.file(os.path.join(HERE, "guest", "debian-init"), "init", 0o755)
        order = []
        for ko in kernel.module_closure(self.INITRD_MODULES):
            dst = "modules/" + os.path.basename(ko)
            img.file(ko, dst, 0o644)
            order.append("/" + dst)
        img.data("modules/order", ("\n".join(order) + "\n").encode())

        # What /init copies onto the root: the installed project, the test
        # sources, the runner, busybox for the few applets lib.sh uses that
        # Debian's base lacks (usleep).
        for root_, _dirs, files in os.walk(dest):
            for name in files:
                p = os.path.join(root_, name)
                img.file(p, "payload/" + os.path.relpath(p, dest))
        for sub in ("tests", "scripts", "docs"):
            src = os.path.join(ctx.source_dir, sub)
            if os.path.isdir(src):
                img.tree(src, "payload/ukd/src/" + sub, skip=("__pycache__",))
        img.file(os.path.join(HERE, "guest", "debian-run"), "payload/usr/local/libexec/ukd-vmtest",
                 0o755)
        img.file(BUSYBOX, "payload/usr/local/bin/busybox")
        img.link("payload/usr/local/bin/usleep", "/usr/local/bin/busybox")
        # Test programs (C helpers built in the test build) by base name.
        for exe in ctx.project_executables():
            rel = os.path.relpath(exe, ctx.build_dir)
            if rel.startswith("tests" + os.sep):
                dst = img.file(exe, os.path.join("payload/ukd/build", rel))
                img.link("payload/usr/local/bin/" + os.path.basename(exe), "/" + dst[len("payload/"):])
        for path in self._union("files"):
            if os.path.isdir(path):
                img.tree(path, "payload" + path)
            else:
                img.file(path, "payload" + path)
        # kmod/ built for the guest kernel, NOT installed: a test installs
        # it from /ukd/kmod the way DKMS or `make install` would.
        for ko in ctx.project_modules():
            img.file(ko, "payload/ukd/kmod/" + os.path.basename(ko), 0o644)

        digest = img.digest()
        out = os.path.join(ctx.cache, f"debian-initrd-{digest}.cpio")
        if not os.path.exists(out) or os.environ.get("UKD_VM_REBUILD"):
            img.write_cpio(out)
        os.utime(out)
        for old in sorted((os.path.join(ctx.cache, n) for n in os.listdir(ctx.cache)
                           if n.startswith("debian-initrd-")),
                          key=os.path.getmtime, reverse=True)[KEEP_IMAGES:]:
            if old != out:
                os.unlink(old)
        return {"root": root, "initrd": out, "digest": digest, "built": built}

    def qemu_args(self, test, hdr, shell=False):
        ctx = self.ctx
        art = ctx.artifacts
        append = ["console=ttyS0", "panic=-1", "quiet", "loglevel=3",
                  "systemd.show_status=false", "rd.udev.log_level=3",
                  f"ukd.timeout={hdr['timeout']}"]
        if test:
            append.append(f"ukd.test={test}")
        if shell:
            append.append("systemd.unit=rescue.target")
            append.append("systemd.mask=ukd-none")
        else:
            append += ["systemd.run=/usr/local/libexec/ukd-vmtest",
                       "systemd.run_success_action=poweroff-force",
                       "systemd.run_failure_action=poweroff-force"]
        # snapshot=on: the guest's writes go to a temporary overlay.
        return self.qemu_command(hdr, append, art["initrd"], [
            "-drive", f"file={art['root']},format=raw,if=virtio,snapshot=on"])


FLAVOURS = {f.name: f for f in (InitramfsFlavour, DebianFlavour)}


# --------------------------------------------------------------------------

class Context:
    def __init__(self, args):
        self.build_dir = os.path.abspath(args.build_dir)
        self.source_dir = os.path.abspath(args.source_dir or os.path.join(HERE, "..", ".."))
        self.cache = os.path.join(self.build_dir, "tests", "vm", "cache")
        self.logs = os.path.join(self.build_dir, "tests", "vm", "logs")
        os.makedirs(self.cache, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        self.kernel = None
        self.vmlinux = None
        self.artifacts = None
        self.accel = None

    def test_scripts(self):
        d = os.path.join(self.source_dir, "tests", "vm")
        return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".sh"))

    def _union(self, key):
        out = []
        for t in self.test_scripts():
            for w in parse_header(t).get(key, "").split():
                if w not in out:
                    out.append(w)
        return out

    def all_modules(self):
        return self._union("modules")

    def all_files(self):
        return self._union("files")

    def project_executables(self):
        intro = os.path.join(self.build_dir, "meson-info", "intro-targets.json")
        if not os.path.exists(intro):
            raise HarnessError(f"{intro} missing: is {self.build_dir} a meson build dir?")
        with open(intro, encoding="utf-8") as f:
            targets = json.load(f)
        exes = []
        for t in targets:
            if t.get("type") != "executable":
                continue
            for fn in t.get("filename", []):
                if os.path.isfile(fn) and os.access(fn, os.X_OK):
                    exes.append(fn)
        return sorted(exes)

    def project_modules(self):
        """kmod/ built against the guest kernel's headers (kmod/build.sh);
        [] with a note when those headers are not installed."""
        script = os.path.join(self.source_dir, "kmod", "build.sh")
        kdir = os.path.join(self.kernel.moddir, "build")
        if not os.path.exists(script):
            return []
        if not os.path.exists(os.path.join(kdir, "Makefile")):
            log(f"no headers for {self.kernel.version} ({kdir}): the image has no kmod/ "
                f"modules (apt-get install linux-headers-amd64)")
            return []
        out = os.path.join(self.cache, "kmod-" + self.kernel.version)
        r = run([script, os.path.join(self.source_dir, "kmod"), out, kdir])
        if r.returncode != 0:
            raise HarnessError("building kmod/ failed:\n" + (r.stdout + r.stderr)[-3000:])
        return sorted(os.path.join(out, n) for n in os.listdir(out) if n.endswith(".ko"))

    def build_executables(self):
        """Bring every executable target up to date (meson test builds only
        the selected tests' dependencies). UKD_VM_NO_BUILD=1 skips this."""
        if os.environ.get("UKD_VM_NO_BUILD"):
            return
        intro = os.path.join(self.build_dir, "meson-info", "intro-targets.json")
        ninja = shutil.which("ninja") or shutil.which("samu")
        if not ninja or not os.path.exists(intro):
            return
        with open(intro, encoding="utf-8") as f:
            targets = [os.path.relpath(fn, self.build_dir) for t in json.load(f)
                       if t.get("type") == "executable" for fn in t.get("filename", [])]
        if not targets:
            return
        r = run([ninja, "-C", self.build_dir] + targets)
        if r.returncode != 0:
            raise HarnessError("building the project's executables failed:\n"
                               + "\n".join((r.stdout + r.stderr).splitlines()[-30:]))

    def check_qemu(self):
        if not shutil.which(QEMU):
            raise Skip(f"{QEMU} not found (apt-get install qemu-system-x86)")
        r = run([QEMU, "--version"])
        if r.returncode != 0:
            raise Skip(f"{QEMU} does not run: {r.stderr.strip()}")
        self.qemu_version = r.stdout.splitlines()[0] if r.stdout else "?"

    def accel_args(self):
        if self.accel == "kvm":
            return ["-accel", "kvm", "-cpu", "host"]
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]

    def choose_accel(self, flavour):
        want = os.environ.get("UKD_VM_ACCEL", "")
        if want in ("tcg", "kvm"):
            self.accel = want
            return
        self.accel = "tcg"
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            return
        key = hashlib.sha256(f"{self.qemu_version} {self.kernel.version} {os.uname().release}"
                             .encode()).hexdigest()[:16]
        probe = os.path.join(self.cache, f"kvm-probe-{key}")
        if not os.path.exists(probe):
            self.accel = "kvm"
            hdr = dict(DEFAULTS, timeout="20")
            args = flavour.qemu_args("", hdr)
            r = subprocess.run(["timeout", "-k", "5", "40"] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
            ok = b"VMTEST-RC=0" in r.stdout
            with open(probe, "w", encoding="utf-8") as f:
                f.write("kvm\n" if ok else "tcg\n")
            log(f"KVM probe: {'works' if ok else 'does not work here'}; using "
                f"{'kvm' if ok else 'tcg'} (cached in {os.path.basename(probe)})")
        with open(probe, encoding="utf-8") as f:
            self.accel = f.read().strip() or "tcg"

    def prepare(self, flavour_name):
        """Build (or reuse) the image; under a lock so parallel runs share it."""
        self.check_qemu()
        self.kernel = Kernel()
        flavour = FLAVOURS[flavour_name](self)
        with open(os.path.join(self.cache, ".lock"), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.build_executables()
            self.vmlinux = self.kernel.vmlinux(self.cache)
            self.artifacts = flavour.build()
            self.choose_accel(flavour)
        return flavour


# --------------------------------------------------------------------------
# The QEMU monitor for tests with "# vm-monitor: yes": the guest writes an
# HMP command line to /dev/ttyS1 (guest/lib.sh: vm_monitor), we run it
# through QMP's human-monitor-command and answer on the same port with the
# reply's lines, then "VMMON-END 0" (or 1 when QEMU reported an error).
# QMP events (DEVICE_DELETED, ACPI_DEVICE_OST, ...) go to the serial log as
# "vmmon: event ..." lines and are answered to the guest command "events".

class MonitorRelay:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ukd-vmmon-")
        self.qmp_path = os.path.join(self.dir, "qmp")
        self.chan_path = os.path.join(self.dir, "chan")
        self.events = []
        self.notes = []
        self.lock = threading.Lock()
        self.thread = None

    def qemu_args(self):
        # An explicit -qmp turns off -nographic's monitor on stdio, so the
        # first -serial is plain stdio (the console) and the second is ttyS1.
        return ["-qmp", f"unix:{self.qmp_path},server=on,wait=off",
                "-serial", "stdio",
                "-serial", f"unix:{self.chan_path},server=on,wait=off"]

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _note(self, text):
        with self.lock:
            self.notes.append(f"vmmon: {text}")

    def drain_notes(self):
        with self.lock:
            out, self.notes = self.notes, []
        return out

    @staticmethod
    def _connect(path, deadline):
        while time.monotonic() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                return s
            except OSError:
                s.close()
                time.sleep(0.1)
        raise OSError(f"cannot connect to {path}")

    def _run(self):
        try:
            deadline = time.monotonic() + 30
            qmp = self._connect(self.qmp_path, deadline)
            chan = self._connect(self.chan_path, deadline)
        except OSError as e:
            self._note(f"relay not started: {e}")
            return
        qf = qmp.makefile("rwb", buffering=0)
        cf = chan.makefile("rwb", buffering=0)
        qf.readline()                                   # the QMP greeting
        self._qmp(qf, {"execute": "qmp_capabilities"})
        for raw in iter(cf.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line == "events":
                # Events wait in the socket until we read it: a no-op
                # command brings them in (QMP sends them before its reply).
                self._qmp(qf, {"execute": "query-status"})
                with self.lock:
                    text, err = "".join(e + "\n" for e in self.events), False
            else:
                t0 = time.monotonic()
                rep = self._qmp(qf, {"execute": "human-monitor-command",
                                     "arguments": {"command-line": line}})
                err = "error" in rep
                text = rep["error"].get("desc", "?") + "\n" if err else rep.get("return", "")
                self._note(f"{line!r} -> {'error' if err else 'ok'} in "
                           f"{(time.monotonic() - t0) * 1000:.0f} ms: {text.strip()[:200]}")
                # HMP reports most failures as text, not as a QMP error.
                err = err or bool(re.match(r"(error|unknown|device .* not found|"
                                           r"bus .* not found|parameter)", text.strip(), re.I))
            cf.write(text.replace("\r", "").encode())
            cf.write(b"" if not text or text.endswith("\n") else b"\n")
            cf.write(f"VMMON-END {1 if err else 0}\n".encode())

    def _qmp(self, qf, cmd):
        qf.write(json.dumps(cmd).encode() + b"\n")
        while True:
            msg = json.loads(qf.readline() or b"{}")
            if "event" in msg:
                ev = f"{msg['event']} {json.dumps(msg.get('data', {}), sort_keys=True)}"
                with self.lock:
                    self.events.append(ev)
                self._note(f"event {ev}")
                continue
            return msg

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def extract_files(logtext, outdir):
    """Files the guest exported with vm_export (base64 between markers)."""
    files, cur, buf = [], None, []
    for line in logtext.splitlines():
        line = line.strip("\r")
        m = re.match(r"VMTEST-FILE-BEGIN (\S+)$", line)
        if m:
            cur, buf = m.group(1), []
            continue
        if cur and line == f"VMTEST-FILE-END {cur}":
            os.makedirs(outdir, exist_ok=True)
            try:
                blob = base64.b64decode("".join(buf), validate=True)
            except (binascii.Error, ValueError):
                log(f"exported file {cur}: corrupt base64 in the serial log")
                cur = None
                continue
            with open(os.path.join(outdir, os.path.basename(cur)), "wb") as f:
                f.write(blob)
            files.append(cur)
            cur = None
            continue
        if cur and re.fullmatch(r"[A-Za-z0-9+/=]+", line):
            buf.append(line)
    return files


def boot(ctx, flavour, test_path, verbose):
    name = os.path.splitext(os.path.basename(test_path))[0]
    hdr = dict(DEFAULTS, **parse_header(test_path))
    rel = os.path.relpath(test_path, os.path.join(ctx.source_dir, "tests", "vm"))
    args = flavour.qemu_args(rel, hdr)
    relay = MonitorRelay() if hdr.get("monitor") == "yes" else None
    if relay:
        args += relay.qemu_args()
    host_tmo = int(hdr["timeout"]) + 60
    logpath = os.path.join(ctx.logs, name + ".log")
    outdir = os.path.join(ctx.logs, name + ".out")
    shutil.rmtree(outdir, ignore_errors=True)
    log(f"{name}: booting {ctx.kernel.version} ({flavour.name}, {ctx.accel}, "
        f"smp {hdr['smp']}, guest watchdog {hdr['timeout']}s, host timeout {host_tmo}s)")
    t0 = time.monotonic()
    chunks = []
    with open(logpath, "wb") as logf:
        p = subprocess.Popen(["timeout", "-k", "5", str(host_tmo)] + args,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if relay:
            relay.start()
        for line in iter(p.stdout.readline, b""):
            # The relay's notes, in the log where they happened (roughly).
            lines = [(n + "\n").encode() for n in relay.drain_notes()] if relay else []
            for line in lines + [line]:
                logf.write(line)
                chunks.append(line)
                if verbose:
                    sys.stdout.write(line.decode("utf-8", "replace"))
                    sys.stdout.flush()
        qrc = p.wait()
        if relay:
            for n in relay.drain_notes():
                logf.write((n + "\n").encode())
            relay.close()
    wall = time.monotonic() - t0
    text = b"".join(chunks).decode("utf-8", "replace")
    rcs = re.findall(r"VMTEST-RC=(\d+)", text)
    if rcs:
        rc = int(rcs[-1])
        why = ""
    elif qrc == 124:
        rc, why = 1, f"host timeout after {host_tmo}s: the guest hung"
    elif qrc & 1 and qrc > 1:
        rc, why = qrc >> 1, "status from isa-debug-exit (no serial marker)"
    else:
        rc, why = 1, f"no VMTEST-RC marker (qemu exit {qrc}): guest crashed or never ran the test"
    exported = extract_files(text, outdir)

    post = os.path.splitext(test_path)[0] + ".post"
    post_rc = None
    if rc == 0 and os.path.exists(post):
        log(f"{name}: host-side checks {os.path.basename(post)} on {len(exported)} file(s)")
        post_rc = subprocess.run([post, outdir], check=False).returncode
        if post_rc != 0:
            rc, why = 1, f"host-side check {os.path.basename(post)} failed (rc {post_rc})"

    for line in text.splitlines():
        if re.match(r"VMTEST-(OK|FAIL|SKIP|WATCHDOG|TIMEOUT|SUMMARY)", line.strip("\r")):
            print("  " + line.strip("\r"))
    verdict = "PASS" if rc == 0 else "SKIP" if rc == 77 else "FAIL"
    log(f"{name}: {verdict} rc={rc} wall={wall:.1f}s log={logpath}" + (f" ({why})" if why else ""))
    if rc not in (0, 77):
        tail = text.splitlines()[-80:]
        print(f"---- last {len(tail)} lines of {logpath} ----")
        print("\n".join(l.rstrip("\r") for l in tail))
        print("---- end of log ----")
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir")
    ap.add_argument("--shell", action="store_true", help="boot the image with a shell on the console")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true", help="echo the serial console")
    ap.add_argument("test", nargs="?")
    args = ap.parse_args()
    ctx = Context(args)
    try:
        hdr = dict(DEFAULTS, **(parse_header(args.test) if args.test else {}))
        if hdr["flavour"] not in FLAVOURS:
            raise HarnessError(f"unknown guest flavour {hdr['flavour']!r} "
                               f"(known: {', '.join(FLAVOURS)})")
        flavour = ctx.prepare(hdr["flavour"])
        if args.build_only:
            log(f"image {ctx.artifacts}")
            return 0
        if args.shell:
            qargs = flavour.qemu_args("", dict(DEFAULTS, timeout="3600"), shell=True)
            return subprocess.run(qargs, check=False).returncode
        if not args.test:
            ap.error("no test given")
        return boot(ctx, flavour, os.path.abspath(args.test), args.verbose)
    except Skip as e:
        print(f"SKIP: {e}")
        return 77
    except HarnessError as e:
        print(f"vmrun: error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
