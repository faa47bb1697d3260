#!/bin/bash
# SPDX-License-Identifier: MIT
# The whole test suite, from a fresh clone on Debian 12: installs what is
# missing, builds with warnings as errors, runs make check and make
# distcheck, then the daemon side, the shim and the unit tests under
# ASan+UBSan.
set -eu -o pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$srcdir/tests/deps.sh"
cuseshim_install_deps

cd "$srcdir"
./autogen.sh >/dev/null

echo "== build and make check"
(cuseshim_build "$srcdir/build" && make check) || {
	cat "$srcdir"/build/tests/*/*.log 2>/dev/null | grep -v "^ok " | tail -200
	exit 1
}

echo "== style (clang-format)"
(cd "$srcdir/build" && make format-check)

echo "== make distcheck"
(cd "$srcdir/build" && make distcheck) || {
	# the failing tests' diagnostics, from distcheck's own build tree
	cat "$srcdir"/build/cuseshim-*/_build/sub/tests/*/*.log 2>/dev/null | grep -v "^ok " | tail -200
	exit 1
}

echo "== make install, a driver built with pkg-config, make uninstall"
bash "$srcdir/tests/install-check.sh"

echo "== valgrind on the driver side (memcheck, definite leaks are errors)"
for suite in e2e driver_api ioctl tty; do
	CUSESHIM_VALGRIND=1 CUSESHIM_SRCDIR="$srcdir" CUSESHIM_BUILDDIR="$srcdir/build" \
		sh "$srcdir/tests/criterion-tap.sh" "$srcdir/build/tests/e2e/test_e2e" \
		--filter "$suite/*" >"$srcdir/build/valgrind-$suite.log" 2>&1 || {
		grep -v "^ok" "$srcdir/build/valgrind-$suite.log" | tail -80
		echo "valgrind: the $suite suite failed"
		exit 1
	}
	tail -1 "$srcdir/build/valgrind-$suite.log"
done

echo "== fuzzing the decoders (libFuzzer, ${CUSESHIM_FUZZ_SECONDS:-60} s each)"
bash "$srcdir/tests/fuzz/run.sh" "${CUSESHIM_FUZZ_SECONDS:-60}"

echo "== ASan + UBSan (driver side, shim and unit tests)"
(cuseshim_build "$srcdir/build-asan" --enable-sanitizers &&
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		LSAN_OPTIONS=suppressions="$srcdir/tests/lsan.supp" make check) || {
	cat "$srcdir"/build-asan/tests/*/*.log 2>/dev/null | grep -v "^ok " | tail -200
	exit 1
}
echo "== all passed"
