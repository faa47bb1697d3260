# SPDX-License-Identifier: MIT
# Sourced by examples/demo.sh and tests/run-all.sh: installs the Debian 12
# packages cuseshim needs when any is missing.
cuseshim_deps="autoconf automake libtool pkg-config make gcc g++ libc6-dev
	libfuse3-dev libfuse-dev libseccomp-dev libcriterion-dev python3 dash
	busybox-static golang-go util-linux xz-utils clang-format clang valgrind faketime fakeroot
	osspd osspd-alsa"

cuseshim_install_deps() {
	missing=
	for p in $cuseshim_deps; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "== installing:$missing"
	if [ "$(id -u)" = 0 ]; then
		sudo=
	elif command -v sudo >/dev/null; then
		sudo=sudo
	else
		echo "cuseshim: missing packages:$missing (run as root or install them)" >&2
		return 1
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing
}

# Configure and build in $1 (created if needed) with extra configure args.
cuseshim_build() {
	builddir=$1
	shift
	if [ ! -x "$srcdir/configure" ]; then
		(cd "$srcdir" && ./autogen.sh) >"$srcdir/autogen.log" 2>&1 || {
			cat "$srcdir/autogen.log"
			return 1
		}
	fi
	mkdir -p "$builddir" && cd "$builddir" &&
		{ [ -f Makefile ] || "$srcdir/configure" --enable-werror "$@"; } &&
		make -j"$(nproc)"
}
