#!/bin/sh
# The installed headers serve a user's program: install the 'devel' part of
# the build (headers, ukd.pc) into a scratch DESTDIR, then compile and run
# client.c with nothing but `pkg-config --cflags ukd` pointing into it.
# Usage: client.sh MESON BUILD_ROOT SOURCE_ROOT PKG_CONFIG CC [CC_ARGS...]
set -eu
meson=$1 build=$2 src=$3 pkgconfig=$4
shift 4
dest=$(mktemp -d /tmp/ukd-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A ukd already installed on this machine would make the check below
# meaningless: the compiler would find it without our flags.
for d in /usr/include /usr/local/include; do
	if [ -e "$d/ukd/kkey.h" ]; then
		echo "SKIP: $d/ukd/kkey.h exists, so a client compiles without pkg-config's flags"
		exit 77
	fi
done

"$meson" install -C "$build" --no-rebuild --quiet --tags devel --destdir "$dest" ||
	fail "meson install --tags devel"

pc=$(find "$dest" -name ukd.pc)
[ -n "$pc" ] || fail "no ukd.pc under the destdir"
for h in kkey.h kprng.h; do
	inst=$(find "$dest" -path "*/include/ukd/$h")
	[ -n "$inst" ] || fail "$h not installed under include/ukd/"
	cmp -s "$inst" "$src/include/ukd/$h" || fail "installed $h differs from include/ukd/$h"
done
# Headers only: nothing to link, so no Libs line that names a library.
if grep -E '^Libs:.*-l' "$pc"; then
	fail "ukd.pc asks clients to link a library"
fi

# PKG_CONFIG_SYSROOT_DIR puts the destdir in front of every -I path, as a
# package built into a staging root would see it.
cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_LIBDIR=/nonexistent \
	PKG_CONFIG_SYSROOT_DIR=$dest "$pkgconfig" --cflags ukd) || fail "pkg-config --cflags ukd"
case $cflags in
"-I$dest"/*) ;;
*) fail "pkg-config --cflags ukd gave '$cflags', not an -I into $dest" ;;
esac

# Negative control: without the flags the client does not compile here.
if "$@" -o "$dest/client" "$src/tests/unit/install/client.c" 2>/dev/null; then
	fail "client.c compiled without pkg-config's flags: the test proves nothing"
fi
# shellcheck disable=SC2086  # $cflags is a list of flags
"$@" -Wall -Werror $cflags -o "$dest/client" "$src/tests/unit/install/client.c" ||
	fail "client.c does not compile with: $cflags"
out=$("$dest/client")
# _IO(0x11, 0) is 0x1100 (the original kkey module's reset); the status
# struct is 2 x 8 + 4 x 4 bytes; kprng's magic is 0x12.
want="KKEY_IOC_RESET=0x1100 sizeof(struct kkey_status)=32 KPRNG_IOC_MAGIC=0x12"
[ "$out" = "$want" ] || fail "client printed '$out', want '$want'"
echo "ukd.pc: $cflags; client.c compiled against the installed headers: $out"
