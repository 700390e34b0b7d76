# shellcheck shell=bash
# Debian 12 packages ukd needs, by purpose. Sourced by demo.sh and test.sh.

# Build and run the daemons.
UKD_BUILD_PACKAGES=(
	gcc meson ninja-build pkg-config
	libfuse3-dev fuse3 libsystemd-dev libinih-dev libudev-dev libevdev-dev
	libasound2-dev libssl-dev
	scdoc systemd udev
)
# The demo: play and check the song.
UKD_DEMO_PACKAGES=(fluidsynth timgm6mb-soundfont)
# Every test tier this machine can run.
UKD_TEST_PACKAGES=(
	check python3 python3-mido midicsv fluidsynth timgm6mb-soundfont sox
	ent rng-tools5 util-linux procps fio stress-ng
	qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static alsa-utils xz-utils kmod
	mmdebstrap e2fsprogs man-db systemd-container podman runc strace
)

# ukd_install PKG... - install what is missing; apt-get update only if needed.
ukd_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "ukd: missing packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	echo "ukd: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null &&
		apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# ukd_build DIR [meson options...] - configure once, then build.
ukd_build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$UKD_SRC" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
