#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one Criterion test binary for automake's TAP driver (one result line
# per test).  First copies the programs the end-to-end tests start into a
# world-readable directory, so that they can run as an unprivileged user
# even when the build tree is somewhere that user cannot enter.
test=$1
shift
b=${CUSESHIM_BUILDDIR:-.}
stage=$(mktemp -d /tmp/cuseshim-stage.XXXXXX) || exit 99
trap 'rm -rf "$stage"' EXIT HUP INT TERM
chmod 755 "$stage"
for f in cused/.libs/libcused.so.0 libcuseshim/.libs/libcuseshim.so cuse-run \
	examples/bufdev tests/e2e/rwprobe tests/e2e/loopdrv30 tests/e2e/loopdrv35 \
	tests/e2e/loopdrv312 examples/ttydev examples/ptrdev tests/e2e/ioctlprobe \
	tests/e2e/stress tests/e2e/stdioprobe tests/e2e/fstreamprobe tests/e2e/staticprobe \
	tests/e2e/fortprobe tests/e2e/fort2probe tests/e2e/lfsprobe tests/e2e/goprobe \
	tests/e2e/staticioctlprobe tests/e2e/sysprobe tests/e2e/preinitprobe \
	tests/e2e/procprobe tests/e2e/fortprocprobe tests/e2e/fort2procprobe tests/e2e/lfsprocprobe \
	tests/e2e/fortstdioprobe tests/e2e/fort2stdioprobe tests/e2e/lfsstdioprobe \
	tests/e2e/fortioctlprobe tests/e2e/fort2ioctlprobe tests/e2e/lfsioctlprobe \
	tests/e2e/fortstress tests/e2e/lfsstress cused/cuse-bridge tests/e2e/ossprobe \
	tests/e2e/rawdrv tests/e2e/staticrawdrv; do
	if [ -e "$b/$f" ]; then
		cp "$b/$f" "$stage/" || exit 99
	fi
done
[ -e "$b/tests/e2e/.libs/libearly.so" ] && cp "$b/tests/e2e/.libs/libearly.so" "$stage/"
if [ -e "$b/cused/cused" ]; then
	cp "$b/cused/cused" "$stage/" && mkdir -p "$stage/fuse3" &&
		cp "$b/cused/.libs/libcused.so.0" "$stage/fuse3/libfuse3.so.3" || exit 99
	for drv in realfuse-bufdev fuse2-bufdev static-fuse3-bufdev; do
		cp "$b/tests/e2e/$drv" "$stage/" 2>/dev/null
	done
	chmod -R a+rX "$stage"
fi
if [ -n "${CUSESHIM_SRCDIR:-}" ] && [ -e "$CUSESHIM_SRCDIR/tests/e2e/fakedrv.py" ]; then
	for py in fakedrv.py spliceprobe.py flockprobe.py pollprobe.py plockprobe.py; do
		cp "$CUSESHIM_SRCDIR/tests/e2e/$py" "$stage/" || exit 99
		chmod 644 "$stage/$py"
	done
fi
CUSESHIM_STAGE=$stage
export CUSESHIM_STAGE
# Criterion's runner (BoxFort) sometimes fails to start a test instance
# on a loaded machine ("Could not spawn test instance").  That is not a
# test result: run the binary once more, and say so.  Any other failure
# is reported as it is.
out=$stage/tap.out
for attempt in 1 2; do
	"$test" --tap=/dev/stdout --jobs="${CUSESHIM_TEST_JOBS:-2}" "$@" >"$out" 2>"$stage/tap.err"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$attempt" = 1 ] &&
		grep -q "Could not spawn test instance" "$stage/tap.err"; then
		echo "criterion-tap: Criterion could not spawn a test instance; running $test again" >&2
		continue
	fi
	break
done
cat "$out"
cat "$stage/tap.err" >&2
exit "$rc"
