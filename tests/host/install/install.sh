#!/bin/bash
# SPDX-License-Identifier: MIT
# `meson install` of a --prefix=/usr configuration of this source tree
# into a scratch DESTDIR: every file where Debian's systemd, udev and man
# look for it, every man page readable by `man -l`, every long option of
# each program's --help present in its man page (docs and man cannot
# drift), and systemd-analyze's offline security exposure <= 1.0 of both
# service units. Usage: install.sh SOURCE_DIR BUILD_DIR_FOR_SCRATCH
set -u
src=$1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ukd-install.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for tool in scdoc man systemd-analyze; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing (scripts/packages.sh)"; exit 77; }
done
b=$scratch/build d=$scratch/dest
if ! meson setup --prefix=/usr -Dtests=false "$b" "$src" >"$scratch/setup.log" 2>&1 ||
   ! ninja -C "$b" >"$scratch/ninja.log" 2>&1 ||
   ! DESTDIR=$d meson install -C "$b" --no-rebuild --quiet >"$scratch/install.log" 2>&1; then
	cat "$scratch"/*.log | tail -40
	echo "FAIL: meson setup/build/install"
	exit 1
fi

for f in usr/sbin/kkeyd usr/sbin/kprngd usr/bin/kvfsd usr/bin/kkeyctl usr/bin/kprngctl \
	 usr/bin/kvfsctl usr/lib/systemd/system/kkeyd.service usr/lib/systemd/system/kprngd.service \
	 usr/lib/udev/rules.d/60-ukd.rules usr/lib/sysusers.d/ukd.conf usr/lib/tmpfiles.d/ukd.conf \
	 usr/share/doc/ukd/examples/kkeyd.conf usr/share/doc/ukd/examples/kprngd.conf \
	 usr/share/doc/ukd/examples/kvfsd.fstab usr/share/doc/ukd/examples/srv-kvfs.mount; do
	[ -f "$d/$f" ] && ok "/$f" || fail "/$f not installed"
done
[ ! -e "$d/etc" ] && ok "nothing installed in /etc" || fail "files in /etc: $(find "$d/etc" | head -3)"
grep -q '^ExecStart=/usr/sbin/kkeyd ' "$d/usr/lib/systemd/system/kkeyd.service" &&
	ok "kkeyd.service runs /usr/sbin/kkeyd" || fail "kkeyd.service ExecStart"

# Every man page renders; every long option of --help is in the page.
declare -A prog=([kkeyd.8]=usr/sbin/kkeyd [kprngd.8]=usr/sbin/kprngd [kvfsd.8]=usr/bin/kvfsd
		 [kkeyctl.1]=usr/bin/kkeyctl [kprngctl.1]=usr/bin/kprngctl [kvfsctl.1]=usr/bin/kvfsctl
		 [kprng.4]=)
for page in "${!prog[@]}"; do
	m=$d/usr/share/man/man${page##*.}/$page
	if ! text=$(MANWIDTH=80 man -l "$m" 2>"$scratch/man.err") || [ -s "$scratch/man.err" ] ||
	   ! grep -q "^NAME" <<<"$text"; then
		fail "man -l $page: $(head -3 "$scratch/man.err")"
		continue
	fi
	ok "man -l $page ($(wc -l <<<"$text") lines)"
	[ -n "${prog[$page]}" ] || continue
	missing=
	for opt in $("$d/${prog[$page]}" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$opt" <<<"$text" || missing+=" $opt"
	done
	for opt in $("$d/${prog[$page]}" --help | grep -o -- '-o [a-z_]*' | sed 's/-o //' | sort -u); do
		grep -q -- "$opt" <<<"$text" || missing+=" -o $opt"
	done
	[ -z "$missing" ] && ok "$page documents every option of --help" ||
		fail "$page lacks options of --help:$missing"
done

for u in kkeyd kprngd; do
	out=$(systemd-analyze security --offline=true --no-pager "$d/usr/lib/systemd/system/$u.service" 2>&1)
	x=$(sed -n "s/.*Overall exposure level for $u.service: \([0-9.]*\).*/\1/p" <<<"$out")
	if [ -n "$x" ] && awk -v x="$x" 'BEGIN { exit !(x <= 1.0) }'; then
		ok "systemd-analyze security --offline $u.service: $x"
	else
		echo "$out" | tail -20
		fail "systemd-analyze security --offline $u.service: '${x:-?}' (goal <= 1.0)"
	fi
done
echo "$fails failure(s)"
[ $fails -eq 0 ]
