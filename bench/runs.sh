#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/runs.sh [RUNS [PIN...]]: RUNS rounds (default 3) of bench/cuse-bench
# for each pinning (default: same diff none), the pinnings alternating
# within a round, then one table: for each figure and pinning, the median
# of the run medians, with the lowest and highest run median in brackets.
# The raw RESULT lines go to bench-runs.raw in the current directory.
#
#   make && bench/runs.sh 3 same diff none
#
# Run it from the build directory on an otherwise idle machine.
set -eu
runs=${1:-3}
shift || true
pins=("$@")
[ ${#pins[@]} -gt 0 ] || pins=(same diff none)
bench=${CUSE_BENCH:-bench/cuse-bench}
raw=bench-runs.raw

: >"$raw"
for ((r = 1; r <= runs; r++)); do
	for pin in "${pins[@]}"; do
		echo "round $r/$runs: --pin $pin" >&2
		"$bench" --pin "$pin" | sed -n "s/^RESULT /$pin /p" >>"$raw"
	done
done

# pin name median=X ... unit=U -> one row per figure, one cell per pinning
awk -v pins="${pins[*]}" '
function cell(list,   n, v, i, j, t, mid) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	mid = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	return sprintf("%s (%s..%s)", fmt(mid), fmt(v[1]), fmt(v[n]))
}
function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x) }
{
	pin = $1; name = $2
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "median") med = kv[2]
		if (kv[1] == "unit") unit[name] = kv[2]
	}
	if (!(name in seen)) { seen[name] = 1; order[++nfig] = name }
	val[name, pin] = val[name, pin] " " med
}
END {
	np = split(pins, p, " ")
	printf "%-24s %-6s", "figure", "unit"
	for (k = 1; k <= np; k++) printf " %-24s", "pin " p[k]
	printf "\n"
	for (f = 1; f <= nfig; f++) {
		name = order[f]
		printf "%-24s %-6s", name, unit[name]
		for (k = 1; k <= np; k++)
			printf " %-24s", ((name, p[k]) in val) ? cell(val[name, p[k]]) : "-"
		printf "\n"
	}
}' "$raw"
