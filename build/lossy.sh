#!/usr/bin/env bash
# Random loss over many seeds (not in make test, which must not fail by
# chance): RUNS runs of `corridor connect` over raw L2TP through a relay
# that drops 10 % of the datagrams each way at random, one attempt each,
# each run with its own seed; then L2TP/IPsec and the helper through the
# same kind of relay, once each. Prints how many runs connected and the
# median time to "connected:".
#
#   RUNS=50 build/lossy.sh          (root; uses sudo otherwise; ~5 min)
#   LOSSY_SEED=N build/lossy.sh     replays the drop decisions of a seed
#   MIN=48 build/lossy.sh           fails below 48 connected (default RUNS-1)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,RUNS,MIN,LOSSY_SEED,GOCACHE,GOPATH,GOMODCACHE "$0" "$@"
./build/setup.sh
runs=${RUNS:-50}
export CORRIDOR_LOSSY=1 LOSSY_RUNS=$runs LOSSY_MIN=${MIN:-$((runs - 1))}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
go test -count=1 -v -timeout 90m -run '^(TestLossyConnectRuns|TestLossyLinkIPsec|TestDaemonLossyLink)$' ./build/e2e 2>&1 | tee "$out" || rc=$?
echo
echo "== summary"
grep -E 'lossy connect: |seed [0-9]+: (exit|connected)|^(--- |=== RUN|ok|FAIL)' "$out" | grep -vE '=== RUN' | sed 's/^ *//' || true
exit $rc
