#!/bin/bash
# SPDX-License-Identifier: MIT
# The installed tree works the way the README says: make install puts
# libcused, cused.pc, cuse-run and the shim ($libdir/cuseshim) in place; a
# driver builds with nothing but `pkg-config --cflags --libs cused`; the
# installed cuse-run finds the installed shim; make uninstall removes all.
set -eu -o pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/cuseshim-inst.XXXXXX)
chmod 755 "$work"
prefix=$work/prefix
driver=
cleanup() {
	[ -n "$driver" ] && kill "$driver" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "install-check: FAIL: $*" >&2
	exit 1
}

mkdir "$work/build"
(cd "$work/build" && "$srcdir/configure" --prefix="$prefix" --enable-werror >/dev/null &&
	make -j"$(nproc)" >/dev/null && make install >/dev/null)
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --variable=shimdir cused)" = "$prefix/lib/cuseshim" ] ||
	fail "shimdir is '$(pkg-config --variable=shimdir cused)'"
[ -f "$prefix/lib/cuseshim/libcuseshim.so" ] || fail "shim not installed"
[ -x "$prefix/bin/cuse-run" ] || fail "cuse-run not installed"
[ -x "$prefix/bin/cused" ] || fail "cused not installed"
[ -e "$prefix/lib/cuseshim/fuse3/libfuse3.so.3" ] || fail "cused run's libfuse3.so.3 not installed"
for m in man1/cuse-run.1 man8/cused.8 man7/cuseshim.7; do
	[ -f "$prefix/share/man/$m" ] || fail "man page $m not installed"
done
# shellcheck disable=SC2046
cc -o "$work/mydrv" "$srcdir/examples/bufdev.c" $(pkg-config --cflags --libs cused) \
	-Wl,-rpath,"$prefix/lib" || fail "a driver does not build with pkg-config"
if readelf -d "$work/mydrv" | grep -q 'libfuse3'; then
	fail "the driver links libfuse3"
fi

run=()
reg=$work/reg
mkdir "$reg"
chmod 755 "$reg"
if [ "$(id -u)" = 0 ]; then
	chown 65534:65534 "$reg"
	run=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
export CUSE_DIR=$reg
"${run[@]}" "$work/mydrv" -f --eof --name=inst &
driver=$!
for _ in $(seq 200); do [ -s "$reg/.inst.attr" ] && break; sleep 0.05; done
[ -S "$reg/inst" ] || fail "the installed driver did not publish its device"
out=$("${run[@]}" "$prefix/bin/cuse-run" -- sh -c 'echo installed > /dev/inst; cat /dev/inst')
[ "$out" = installed ] || fail "read back '$out'"
out=$("${run[@]}" env LD_PRELOAD="$prefix/lib/cuseshim/libcuseshim.so" cat /dev/inst)
[ -z "$out" ] || fail "queue not empty: '$out'"
kill "$driver"
wait "$driver" || fail "driver exit status $?"
driver=

(cd "$work/build" && make uninstall >/dev/null)
left=$(find "$prefix" -type f | head -5)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "install-check: ok"
