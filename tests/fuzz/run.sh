#!/bin/bash
# SPDX-License-Identifier: MIT
# Build the libFuzzer harnesses with clang (ASan+UBSan) and run each for
# SECONDS (default 60) from its seed corpus.  Exits non-zero on a crash.
set -eu -o pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
if ! command -v clang >/dev/null; then
	echo "fuzz: clang not found; skipping the fuzzers" >&2
	exit 0
fi
work=$(mktemp -d /tmp/cuseshim-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
for h in request reply; do
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-D_GNU_SOURCE -I"$src" -o "$work/fuzz_$h" "$here/fuzz_$h.c" \
		"$src/proto/proto.c" "$src/proto/registry.c"
	mkdir -p "$work/corpus_$h"
	cp "$here/corpus/$h/"* "$work/corpus_$h/" 2>/dev/null || true
	echo "fuzz: $h for ${secs}s"
	"$work/fuzz_$h" -max_total_time="$secs" -print_final_stats=1 "$work/corpus_$h" \
		2>"$work/$h.log" || {
		tail -50 "$work/$h.log"
		exit 1
	}
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$h.log" | sed "s/^/fuzz: $h /"
done
