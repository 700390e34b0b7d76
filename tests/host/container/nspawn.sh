#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier: the daemons in FUSE mode in a systemd-nspawn container booted
# with -b (the container's own systemd 252 is PID 1), given /dev/fuse with
# --bind; ct-check.sh runs as the boot's systemd.run= unit, and
# systemd.run_*_action=exit hands its exit status to systemd-nspawn.
# The root file system comes from rootfs.sh (cached under the build
# directory by content hash); --volatile=overlay leaves it unchanged. The
# ukd binaries and sources are bind-mounted read-only.
# nspawn's /dev is its own minimal one (null, zero, full, random, urandom,
# tty, console, pts, shm, ...) plus fuse: it cannot be made smaller.
#   nspawn.sh UKD_BUILD      Exit: 0 pass, 1 fail, 77 skip
set -u
source "$(dirname "$0")/ct-lib.sh"
ct_setup nspawn systemd-nspawn "apt-get install systemd-container" "${1:-}"
ct_rootfs
mkdir "$work/work"
cat > "$work/run.sh" <<'RUN'
#!/bin/bash
UKD_BUILD=/ukd/build UKD_SRC=/ukd/src CT_WORK=/ct/work CT_PID1=systemd \
	bash /ukd/src/tests/host/container/ct-check.sh > /ct/out 2>&1
RUN
chmod +x "$work/run.sh"
# --register=no --keep-unit: this host's PID 1 is not systemd (no machined,
# no scope to create); both are what such a host needs.
timeout 120 systemd-nspawn --quiet -D "$rootfs" --volatile=overlay --register=no --keep-unit \
	--bind=/dev/fuse --bind-ro="$B:/ukd/build" --bind-ro="$S:/ukd/src" --bind="$work:/ct" \
	-b -- systemd.run=/ct/run.sh systemd.run_success_action=exit \
	systemd.run_failure_action=exit > "$work/nspawn.log" 2>&1
rc=$?
cat "$work/out" 2>&1 || echo "no output from inside"
[ $rc = 0 ] || { echo "systemd-nspawn said:"; tail -20 "$work/nspawn.log"; }
ct_verdict "$work/out" $rc systemd-nspawn
