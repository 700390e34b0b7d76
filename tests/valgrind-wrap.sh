#!/bin/sh
# The exe_wrapper of `meson test --setup valgrind`: a test program built
# here runs under memcheck; anything else (python3, the shell scripts that
# run nm) runs as it is, since memcheck would report its interpreter's
# leaks, not ours. Usage: valgrind-wrap.sh PROGRAM [ARGS...], with
# UKD_BUILD_ROOT and UKD_VALGRIND set by the test setup.
set -eu
case $1 in
"$UKD_BUILD_ROOT"/*)
	# An ELF file starts with 0x7f 'E' 'L' 'F'.
	if [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		# --error-exitcode: a memory error or a definite or possible
		# leak fails the test even when the test itself passed.
		exec "$UKD_VALGRIND" --tool=memcheck --quiet --error-exitcode=99 \
			--leak-check=full --errors-for-leak-kinds=definite,possible \
			--track-fds=yes "$@"
	fi
	;;
esac
exec "$@"
