#!/usr/bin/env bash
# Every native fuzz target of the protocol packages for N minutes each,
# then a summary table. Not run in CI (build/fuzz.sh is the short run).
#   build/fuzz-long.sh [MINUTES]         (or FUZZMINUTES; default 5)
#   FUZZTARGETS='^FuzzInitiator$' build/fuzz-long.sh 2   (only matching targets)
#   FUZZPARALLEL=1 build/fuzz-long.sh     (fuzz workers; default GOMAXPROCS)
# A target that fails without writing a failing input (go.dev/issue/75804,
# see build/fuzz.sh) is reported as such, not as a finding; one that writes
# an input leaves it in PKG/testdata/fuzz/TARGET/ to reproduce it with
#   go test -run 'TARGET/FILE' PKG
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-${FUZZMINUTES:-5}}
only=${FUZZTARGETS:-.}
minimize=${FUZZMINIMIZE:-10s}
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then parallel=(-parallel "$FUZZPARALLEL"); fi
case $minutes in '' | *[!0-9]*) echo "fuzz-long: minutes must be a whole number, not '$minutes'" >&2; exit 2 ;; esac

inputs() { { find "$1/testdata/fuzz/$2" -type f 2>/dev/null || true; } | sort; }

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
rows=()
failed=0
for pkg in ./tunnel/l2tp ./tunnel/ppp ./tunnel/ike ./tunnel/esp ./tunnel/ipv6; do
	for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$only"); do
		echo "fuzz $pkg $f (${minutes}m)"
		before=$(inputs "$pkg" "$f")
		start=$(date +%s)
		out="$log/$f.log"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "${minutes}m" -fuzzminimizetime "$minimize" "${parallel[@]}" "$pkg" 2>&1 | tee "$out" | grep -v '^fuzz: elapsed' || true
		rc=${PIPESTATUS[0]}
		took=$(($(date +%s) - start))
		# The last progress line holds the count of new interesting inputs.
		new=$(grep -o 'new interesting: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*$' || true)
		execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*$' || true)
		result=ok
		if [ "$rc" != 0 ]; then
			if [ "$(inputs "$pkg" "$f")" != "$before" ]; then
				result="FAILED: input in $pkg/testdata/fuzz/$f"
				failed=$((failed + 1))
			else
				result="failed without an input (go.dev/issue/75804?)"
				failed=$((failed + 1))
			fi
		fi
		rows+=("$(printf '%-26s %-14s %6ss %12s %8s  %s' "$f" "$pkg" "$took" "${execs:-?}" "${new:-?}" "$result")")
	done
done
echo
printf '%-26s %-14s %7s %12s %8s  %s\n' TARGET PACKAGE TIME EXECS NEW RESULT
for r in "${rows[@]}"; do echo "$r"; done
echo "failures: $failed"
[ "$failed" = 0 ]
