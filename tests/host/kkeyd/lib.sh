# SPDX-License-Identifier: MIT
# Sourced by the shell checks. Needs KKEY_DIR (the node directory).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON3:-/usr/bin/python3}
: "${KKEY_DIR:?KKEY_DIR must name the directory holding kkey000..kkey127}"
D=$KKEY_DIR
failures=0
tmp=$(mktemp -d /tmp/kkey-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok()   { echo "ok     $*"; }
bad()  { echo "FAILED $*"; failures=$((failures + 1)); }
# expect WHAT CMD...: CMD must succeed.
expect() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what (command: $*)"; fi; }
verify() { "$PY" "$HERE/midiverify.py" "$@" | sed 's/^/       /'; return "${PIPESTATUS[0]}"; }
prepare() { "$PY" "$HERE/kkeytest.py" prepare "$@" || exit $?; }
finish() {
	if [ $failures -eq 0 ]; then echo "# PASS"; exit 0; fi
	echo "# $failures FAILURE(S)"; trap - EXIT; echo "# files kept in $tmp"; exit 1
}
