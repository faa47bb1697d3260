#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds cuseshim and shows it working: the bufdev example driver serves
# /dev/demo as an unprivileged user, and unmodified programs (cat, dd,
# bash, python3) use it through cuse-run.  No kernel CUSE, no root needed
# to run (root only installs missing packages).
set -eu -o pipefail
srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$srcdir/tests/deps.sh"
cuseshim_install_deps
echo "== building"
cuseshim_build "$srcdir/build" >/dev/null
b=$srcdir/build

# Run as nobody when started as root: working unprivileged is the point.
run=()
stage=$b
if [ "$(id -u)" = 0 ]; then
	stage=$(mktemp -d /tmp/cuseshim-demo.XXXXXX)
	chmod 755 "$stage"
	cp "$b/cused/.libs/libcused.so.0" "$b/libcuseshim/.libs/libcuseshim.so" \
		"$b/cuse-run" "$b/examples/bufdev" "$stage/"
	run=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
reg=$(mktemp -d /tmp/cuse-demo.XXXXXX)
chmod 755 "$reg"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$reg"
export CUSE_DIR=$reg LD_LIBRARY_PATH=$stage
driver=
cleanup() {
	[ -n "$driver" ] && kill "$driver" 2>/dev/null && wait "$driver" 2>/dev/null
	rm -rf "$reg"
	[ "$stage" != "$b" ] && rm -rf "$stage"
	return 0
}
trap cleanup EXIT

echo "== starting the bufdev driver as $("${run[@]}" id -un): /dev/demo"
"${run[@]}" "$stage/bufdev" -f --eof --name=demo &
driver=$!
for _ in $(seq 200); do [ -s "$reg/.demo.attr" ] && break; sleep 0.05; done

cr=("${run[@]}" "$stage/cuse-run" --)
set -x
"${cr[@]}" bash -c 'echo "hello from bash" > /dev/demo'
"${cr[@]}" cat /dev/demo
"${cr[@]}" stat -c '%n: %F, major:minor %t:%T, mode %a' /dev/demo
"${cr[@]}" dd if=/dev/zero of=/dev/demo bs=4096 count=4 status=none
"${cr[@]}" sh -c 'dd if=/dev/demo bs=1024 status=none | wc -c'
"${cr[@]}" python3 -c 'import os; fd = os.open("/dev/demo", os.O_RDWR); os.write(fd, b"python was here\n"); print(os.read(fd, 100).decode(), end="")'
{ set +x; } 2>/dev/null
echo "== done: the driver saw every call; no kernel module was involved"
