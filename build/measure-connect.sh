#!/usr/bin/env bash
# Connect time against the local SoftEther VPN Server, and how much of it is
# the server's own address assignment.
#
# For each run it starts `corridor connect -v` (raw L2TP with --no-ipsec,
# then L2TP/IPsec), stamps every line of its standard output as it arrives,
# and reads the server's log for that session:
#   total   process start -> the "connected:" line (stamped by this script)
#   dhcp    server log "Trying to request an IP address from the DHCP server"
#           -> "An IP address is assigned" (SecureNAT's DHCP, done by the
#           server between our CHAP Success and its IPCP Configure-Nak)
#   chal    client trace: LCP opened (our Configure-Ack sent) -> the
#           server's CHAP Challenge (a wait inside the server)
#   ipcp    client trace: our first IPCP Configure-Request -> the server's
#           Configure-Ack of our address
# and prints one row per run, then the median of each column.
#
#   RUNS=7 build/measure-connect.sh        (root; uses sudo otherwise)
#   BIN=/path/to/corridor ...              measures that binary instead of
#                                          building this tree
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,RUNS,KEEP,BIN,GOCACHE,GOPATH,GOMODCACHE "$0" "$@"
runs=${RUNS:-7}

name=mc$((RANDOM % 90 + 10))
work=$(mktemp -d)
cleanup() {
	bash build/softether/server.sh stop "$name" >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "${BIN:-}" ]; then cp "$BIN" "$work/corridor"; else go build -o "$work/corridor" .; fi
bash build/softether/server.sh start "$name" >"$work/env" 2>"$work/server-start"
# shellcheck disable=SC1090
. "$work/env"
umask 077
printf '%s\n' "${CORRIDOR_TEST_PASSWORD:-test-pass-1}" >"$work/pw"
printf '%s\n' "${CORRIDOR_TEST_PSK:-test-psk-1}" >"$work/psk"
user=${CORRIDOR_TEST_USER:-alice}

# ms since midnight of a "HH:MM:SS.mmm" clock reading
ms() { awk -F'[:.]' '{ printf "%d\n", (($1*60+$2)*60+$3)*1000+$4 }' <<<"$1"; }

one() { # mode run
	local mode=$1 i=$2 out=$work/out.$mode.$i err=$work/err.$mode.$i
	local lines0 start pid t_conn
	lines0=$(wc -l <"$STATE/server.log")
	local args=(connect --user "$user" --password-file "$work/pw" --ifname mctest0 -v)
	if [ "$mode" = raw ]; then args+=(--no-ipsec); else args+=(--psk-file "$work/psk"); fi
	start=$(date +%s%N)
	ip netns exec "$CLIENT_NS" "$work/corridor" "${args[@]}" "$SERVER" 2>"$err" |
		while IFS= read -r l; do printf '%s %s\n' "$(date +%s%N)" "$l"; done >"$out" &
	for _ in $(seq 1 300); do
		grep -q ' connected:' "$out" 2>/dev/null && break
		sleep 0.05
	done
	pid=$(pgrep -f "$work/corridor connect" | head -1 || true)
	[ -n "$pid" ] && kill -TERM "$pid"
	wait || true
	grep -q ' connected:' "$out" || { echo "run $mode $i: no connected: line" >&2; cat "$out" "$err" >&2; return 1; }
	t_conn=$(awk '/ connected:/ { print $1; exit }' "$out")
	local total=$(((t_conn - start) / 1000000))
	# the server log lines of this run only
	local slog=$work/slog.$mode.$i
	tail -n +"$((lines0 + 1))" "$STATE/server.log" >"$slog"
	# the log is written asynchronously: keep the lines stamped after this
	# run started, and pair the request with the assignment that follows
	local d0 d1 since
	since=$(date -u -d "@$((start / 1000000000))" +%H:%M:%S)
	d0=$(awk -v t="$since" '$2 >= t && /Trying to request an IP address from the DHCP server/ { print $2; exit }' "$slog")
	d1=$(awk -v t="${d0:-99}" '$2 >= t && /An IP address is assigned/ { print $2; exit }' "$slog")
	local dhcp=-
	[ -n "$d0" ] && [ -n "$d1" ] && dhcp=$(($(ms "$d1") - $(ms "$d0")))
	# client trace clock readings (slog text format, time=...T15:06:51.097Z)
	local c0 c1 i0 i1
	c0=$(grep -m1 'ppp send" proto=LCP code=Configure-Ack' "$err" | sed 's/^time=[^T]*T\([^Z]*\)Z.*/\1/')
	c1=$(grep -m1 'proto=CHAP code=Challenge' "$err" | sed 's/^time=[^T]*T\([^Z]*\)Z.*/\1/')
	i0=$(grep -m1 'ppp send" proto=IPCP code=Configure-Request' "$err" | sed 's/^time=[^T]*T\([^Z]*\)Z.*/\1/')
	i1=$(grep 'ppp recv" proto=IPCP code=Configure-Ack' "$err" | tail -1 | sed 's/^time=[^T]*T\([^Z]*\)Z.*/\1/')
	local chal=- ipcp=-
	[ -n "$c0" ] && [ -n "$c1" ] && chal=$(($(ms "$c1") - $(ms "$c0")))
	[ -n "$i0" ] && [ -n "$i1" ] && ipcp=$(($(ms "$i1") - $(ms "$i0")))
	printf '%-6s %3d %8d %8s %8s %8s\n' "$mode" "$i" "$total" "$dhcp" "$chal" "$ipcp" | tee -a "$work/rows"
	# one raw-L2TP session at a time: let the server finish this one
	sleep 1
}

printf '%-6s %3s %8s %8s %8s %8s\n' mode run total_ms dhcp_ms chal_ms ipcp_ms
for mode in raw ipsec; do
	for i in $(seq 1 "$runs"); do one "$mode" "$i"; done
done
echo "median:"
for mode in raw ipsec; do
	awk -v m="$mode" '$1 == m' "$work/rows" >"$work/rows.$mode"
	med() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
	printf '%-6s %3s %8s %8s %8s %8s\n' "$mode" "n=$(wc -l <"$work/rows.$mode")" \
		"$(awk '{ print $3 }' "$work/rows.$mode" | med)" \
		"$(awk '$4 != "-" { print $4 }' "$work/rows.$mode" | med)" \
		"$(awk '$5 != "-" { print $5 }' "$work/rows.$mode" | med)" \
		"$(awk '$6 != "-" { print $6 }' "$work/rows.$mode" | med)"
done
