#!/usr/bin/env bash
# Every native fuzz target of the protocol packages, briefly (make fuzz).
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when -fuzztime runs out while a worker is mid-input (a race in
# internal/fuzz, go.dev/issue/75804, fixed in Go 1.27). That failure writes
# no failing input. So a target that fails without writing one to
# testdata/fuzz/TARGET/ is run once more; a target that writes one fails the
# run at once, with the input left in place to reproduce it.
#   FUZZTIME=10s FUZZMINIMIZE=1s build/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
minimize=${FUZZMINIMIZE:-1s}

inputs() { { find "$1/testdata/fuzz/$2" -type f 2>/dev/null || true; } | sort; }

for pkg in ./tunnel/l2tp ./tunnel/ppp ./tunnel/ike ./tunnel/esp ./tunnel/ipv6; do
	for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		for try in 1 2; do
			echo "fuzz $pkg $f ($fuzztime)"
			before=$(inputs "$pkg" "$f")
			if go test -run '^$' -fuzz "^$f\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg"; then
				break
			fi
			if [ "$(inputs "$pkg" "$f")" != "$before" ]; then
				echo "fuzz: $f found a failing input (in $pkg/testdata/fuzz/$f)" >&2
				exit 1
			fi
			if [ "$try" = 2 ]; then
				echo "fuzz: $f failed twice without a failing input" >&2
				exit 1
			fi
			echo "fuzz: $f failed without writing a failing input (go.dev/issue/75804); running it once more" >&2
		done
	done
done
