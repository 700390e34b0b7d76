#!/bin/bash
# Every test tier this machine can run: install test needs, build (with
# -Werror), run the unit, host and vm suites, then build with
# AddressSanitizer + UBSan and run unit and host again. Ends with one line:
#   N passed, N failed[, N skipped]
# Skipped tests say why in the log (meson's exit code 77).
#
# Usage: sudo scripts/test.sh [--bench]   (--bench also runs tests/bench)
set -uo pipefail
UKD_SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=packages.sh
. "$UKD_SRC/scripts/packages.sh"
BENCH=0
[ "${1:-}" = --bench ] && BENCH=1

ukd_install "${UKD_BUILD_PACKAGES[@]}" "${UKD_TEST_PACKAGES[@]}" || exit 1

RESULTS=$(mktemp -d /tmp/ukd-results.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT
runs=0

# run_suites BUILD LABEL [meson test args...]
run_suites() {
	local dir=$1 label=$2; shift 2
	echo "== $label: meson test $*"
	meson test -C "$dir" --print-errorlogs "$@"
	runs=$((runs + 1))
	cp "$dir/meson-logs/testlog.json" "$RESULTS/$runs-$label.json" 2>/dev/null
}

if ukd_build "$UKD_SRC/build-test" -Dwerror=true; then
	run_suites "$UKD_SRC/build-test" plain --suite unit --suite host --suite vm
	[ $BENCH = 1 ] && meson test -C "$UKD_SRC/build-test" --suite bench -v
else
	echo "BUILD FAILED: build-test" > "$RESULTS/build-failed"
fi

if ukd_build "$UKD_SRC/build-asan" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_suites "$UKD_SRC/build-asan" asan --suite unit --suite host --timeout-multiplier 3
else
	echo "BUILD FAILED: build-asan" >> "$RESULTS/build-failed"
fi

/usr/bin/python3 - "$RESULTS" <<'PY'
import json, os, sys
d = sys.argv[1]
passed = failed = skipped = 0
for name in sorted(os.listdir(d)):
    path = os.path.join(d, name)
    if name == "build-failed":
        for line in open(path):
            print(line.strip()); failed += 1
        continue
    for line in open(path):
        t = json.loads(line)
        r = t["result"]
        label = name.split("-", 1)[1].rsplit(".", 1)[0]
        if r == "OK":
            passed += 1
        elif r == "SKIP":
            skipped += 1
            print(f"skipped ({label}): {t['name']}")
        else:
            failed += 1
            print(f"FAILED ({label}): {t['name']} [{r}]")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
