#!/bin/bash
# SPDX-License-Identifier: MIT
# Host tier: the daemons in FUSE mode under podman, as users run them:
#   podman run --device /dev/fuse --cap-add SYS_ADMIN ...
# (mount(2), which a FUSE mount is, needs CAP_SYS_ADMIN, which podman's
# default capability set leaves out; fusermount3 cannot help, its setuid
# root is bounded by the same set). No image is pulled: --rootfs runs the
# root file system rootfs.sh built (":O" = a throw-away overlay on it).
# ct-check.sh runs as the container's command.
#   podman.sh UKD_BUILD      Exit: 0 pass, 1 fail, 77 skip
set -u
source "$(dirname "$0")/ct-lib.sh"
ct_setup podman podman "apt-get install podman" "${1:-}"
ct_rootfs
mkdir "$work/work"
# This host: no CAP_SYS_RESOURCE, so no limit may rise above ours (podman's
# defaults would: "setrlimit RLIMIT_NOFILE: Operation not permitted", and
# a process limit equal to ours is refused as well); and hybrid cgroups
# with a controller on cgroup2, which crun refuses ("cgroups in hybrid mode
# not supported"): runc, which runs here.
runtime=()
command -v runc > /dev/null && runtime=(--runtime runc)
timeout 120 podman run "${runtime[@]}" --rm --network=none \
	--ulimit nofile="$(ulimit -Hn)":"$(ulimit -Hn)" --ulimit nproc=4096:4096 \
	--device /dev/fuse --cap-add SYS_ADMIN \
	-v "$B:/ukd/build:ro" -v "$S:/ukd/src:ro" -v "$work/work:/ct/work" \
	-e UKD_BUILD=/ukd/build -e UKD_SRC=/ukd/src -e CT_WORK=/ct/work \
	--rootfs "$rootfs:O" /bin/bash /ukd/src/tests/host/container/ct-check.sh 2>&1 | tee "$work/out"
ct_verdict "$work/out" "${PIPESTATUS[0]}" podman
