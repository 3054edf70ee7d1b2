#!/usr/bin/env bash
# ESP data path against bare crypto, per cipher suite, in the same run:
# BenchmarkDataPath (PPP + L2TP + inner UDP + ESP seal, then ESP open and
# header parsing, for one 1400-byte IP packet) next to BenchmarkBareCrypto
# (only the cipher and MAC work on the same bytes). Prints the median of
# COUNT runs of each and the ratio bare/datapath (1.0: ESP framing costs
# nothing beyond the crypto). Also the sealing throughput on all cores.
#   COUNT=5 BENCHTIME=500ms build/bench-esp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-5}
benchtime=${BENCHTIME:-500ms}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench 'DataPath$|BareCrypto|DataPathSealParallel' -benchtime "$benchtime" \
	-count "$count" -cpu 1,2 ./tunnel/ike/ | tee "$out" >&2
awk '
/^Benchmark/ {
	split($1, p, "/"); kind = p[1]; sub(/^Benchmark/, "", kind)
	suite = p[2]; cpu = 1
	if (match(suite, /-[0-9]+$/)) { cpu = substr(suite, RSTART + 1); suite = substr(suite, 1, RSTART - 1) }
	key = kind SUBSEP suite SUBSEP cpu
	n[key]++; v[key, n[key]] = $3; allocs[key] = $(NF-1)
	suites[suite] = 1
}
function median(key,   i, j, t, m, a) {
	m = n[key]; if (m == 0) return 0
	for (i = 1; i <= m; i++) a[i] = v[key, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	printf "%-18s %12s %10s %12s %7s %8s %14s\n", "suite", "datapath ns", "MB/s", "bare ns", "ratio", "allocs", "seal 2-core MB/s"
	for (s in suites) {
		d = median("DataPath" SUBSEP s SUBSEP 1); b = median("BareCrypto" SUBSEP s SUBSEP 1)
		par = median("DataPathSealParallel" SUBSEP s SUBSEP 2)
		if (d == 0 || b == 0) continue
		printf "%-18s %12.0f %10.1f %12.0f %7.2f %8s %14.1f\n", s, d, 1400 * 1000 / d, b, b / d, allocs["DataPath" SUBSEP s SUBSEP 1], (par > 0 ? 1400 * 1000 / par : 0) | "sort"
	}
}' "$out"
