#!/usr/bin/env bash
# bench-e2e.sh: throughput end to end, Corridor against wireguard-go, in one
# run on the same pair of network namespaces (cbe-c, the client; cbe-s, the
# server) joined by a veth link (10.231.0.2 -- 10.231.0.1).
#
#   sudo build/bench-e2e.sh           # a few minutes; not part of make test
#
# Cases (CASES to pick, in this order):
#   veth           plain veth, no tunnel (iperf3 to 10.231.0.1)
#   wireguard-go   wireguard-go on both sides (cbe-wgc/cbe-wgs, 10.232.0.2 --
#                  10.232.0.1, MTU 1420), built from the module proxy at the
#                  version go.sum pins, configured with wg(8)
#   corridor-gcm   corridor connect --esp aes128gcm16 (TUN cbe-cor0) against
#                  build/benchpeer (-esp gcm, TUN cbepeer0, 10.233.0.1), the
#                  fast benchmark peer: IKE, L2TP, PPP and a batched data path
#   corridor-cbc   the same with aes128-sha1 (AES-128-CBC/HMAC-SHA1-96)
# Tests per case: iperf3 TCP with 1 and 4 streams, client to server (tcp1,
# tcp4) and back (-R: tcp1r, tcp4r), and UDP with UDP_LEN-byte datagrams at
# the highest rate with < 1% loss (udp: a short search over rates, each
# try UDP_DURATION seconds). Mbit/s are the receiver's. cpu_s_per_gb is the
# client-side process's (corridor connect; the client's wireguard-go) CPU
# time, utime+stime from /proc/PID/stat around the test, divided by the GB
# (10^9 bytes) the receiver got; veth has no such process (0).
#
# Output: a table with ratios to wireguard-go (and, for information, the
# server side's CPU per GB: benchpeer's, the server's wireguard-go's), notes
# (MTUs, the UDP tries, drops at the client's TUN queue and at UDP receive
# buffers, benchpeer's counters), one line per case and test
#   BENCH case=<case> test=<tcp1|tcp4|tcp1r|tcp4r|udp> mbps=<x> cpu_s_per_gb=<y>
# and the run's time, date, core count and GOMAXPROCS; also written to OUT.
# Everything shares the machine's cores: iperf3 at both ends, both tunnel
# endpoints and the kernel. One run at a time (a lock in /run/lock).
#
# Environment:
#   DURATION=5       seconds per TCP test
#   UDP_DURATION=3   seconds per UDP try; UDP_TRIES=6 tries
#   UDP_LEN=1372     UDP payload bytes per datagram: 1400-byte IP datagrams, which
#                    fit every tunnel's MTU here (1417-1420); 1400 bytes of payload
#                    would be fragmented in all of them
#   UDP_WINDOW=4M    iperf3 -w for UDP (both ends' socket buffers; with the
#                    default ~200 KiB the receiving iperf3 alone loses 30% at
#                    500 Mbit/s on plain veth here)
#   CASES="veth wireguard-go corridor-gcm corridor-cbc"
#   GOMAXPROCS       passed to corridor, benchpeer and wireguard-go if set
#   SCALING=1        then the Corridor cases again, TCP only, with corridor
#                    connect at GOMAXPROCS=1: a scaling table (default; 0: off)
#   OUT=build/out/bench-e2e.txt
#   KEEP=1           keep the work directory (logs)
# Needs root. Installs iperf3, wireguard-tools and ethtool if missing;
# builds corridor (-tags nogui), build/benchpeer and wireguard-go. Removes
# the namespaces and stops what it started on exit, also on Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
DURATION=${DURATION:-5}
UDP_DURATION=${UDP_DURATION:-3}
UDP_TRIES=${UDP_TRIES:-6}
UDP_LEN=${UDP_LEN:-1372}
UDP_WINDOW=${UDP_WINDOW:-4M}
CASES=${CASES:-veth wireguard-go corridor-gcm corridor-cbc}
OUT=${OUT:-$ROOT/build/out/bench-e2e.txt}
NSC=cbe-c NSS=cbe-s
VC=cbe-vc VS=cbe-vs
NET=10.231.0 WGNET=10.232.0 TUNNET=10.233.0
WGC=cbe-wgc WGS=cbe-wgs
CORIF=cbe-cor0 PEERIF=cbepeer0
PSK=bench-e2e-psk USER_NAME=bench PASSWORD=bench-e2e-pass
START=$(date +%s)
# The machine's load and CPU time stolen by the hypervisor, at the start
# and over the run: other work on the machine skews every figure.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ </proc/stat

log() { printf 'bench-e2e: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, TUN devices)"
for v in DURATION UDP_DURATION UDP_TRIES UDP_LEN; do
	[[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} >= 1)) || die "$v must be a positive integer, got '${!v}'"
done
for c in $CASES; do
	case $c in veth | wireguard-go | corridor-gcm | corridor-cbc) ;; *) die "unknown case '$c'" ;; esac
done

# ---- packages and builds ----

ensure_packages() {
	local missing=() p
	for p in iperf3 wireguard-tools iproute2 ethtool; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
		die "apt-get install ${missing[*]} failed"
}

# One run at a time on a machine: the namespace names are fixed, and a
# second run would take CPU from the first one's measurements.
LOCK=/run/lock/corridor-bench-e2e.lock
mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
if ! flock -n 9; then
	log "another bench-e2e.sh is running; waiting for it (up to 15 minutes)"
	flock -w 900 9 || die "another bench-e2e.sh still holds $LOCK"
fi

ensure_packages
command -v go >/dev/null || die "go not found"
command -v iperf3 >/dev/null && command -v wg >/dev/null || die "iperf3 or wg missing after install"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-e2e.XXXXXX")
chmod 700 "$WORK"
PIDS=()
CREATED_NS=0

stop_pid() { # PID: TERM our own child, KILL it after 5 s, reap it
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
	if ((CREATED_NS)); then # never another run's
		ip netns del "$NSC" 2>/dev/null || true
		ip netns del "$NSS" 2>/dev/null || true
		rm -f "/var/run/wireguard/$WGC.sock" "/var/run/wireguard/$WGS.sock"
	fi
	if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
		log "work directory kept: $WORK"
	else
		rm -rf -- "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The wireguard-go version go.sum pins (the module the client uses for its
# TUN device), built once into build/out/bench-e2e-bin.
WG_VERSION=$(awk '$1 == "golang.zx2c4.com/wireguard" && $2 !~ /go.mod/ {print $2; exit}' "$ROOT/go.sum")
[[ -n $WG_VERSION ]] || die "no golang.zx2c4.com/wireguard in go.sum"
BIN=$ROOT/build/out/bench-e2e-bin
mkdir -p "$BIN"
if [[ ! -x $BIN/wireguard-go-$WG_VERSION ]]; then
	log "building wireguard-go $WG_VERSION"
	GOBIN=$WORK/gobin go install "golang.zx2c4.com/wireguard@$WG_VERSION" >&2 || die "go install wireguard-go failed"
	mv "$WORK/gobin/wireguard" "$BIN/wireguard-go-$WG_VERSION"
fi
WGGO=$BIN/wireguard-go-$WG_VERSION
log "building corridor (-tags nogui) and build/benchpeer"
(cd "$ROOT" && CGO_ENABLED=0 go build -tags nogui -o "$WORK/corridor" . && go build -o "$WORK/benchpeer" ./build/benchpeer) ||
	die "go build failed"
(
	umask 077
	printf '%s\n' "$PSK" >"$WORK/psk"
	printf '%s\n' "$PASSWORD" >"$WORK/password"
)

# ---- namespaces ----

for ns in "$NSC" "$NSS"; do
	[[ -e /run/netns/$ns ]] && die "namespace $ns exists (another run, or left over: ip netns del $ns)"
done
CREATED_NS=1
ip netns add "$NSC"
ip netns add "$NSS"
ip link add "$VC" netns "$NSC" type veth peer name "$VS" netns "$NSS"
ip -n "$NSC" addr add "$NET.2/24" dev "$VC"
ip -n "$NSS" addr add "$NET.1/24" dev "$VS"
for ns in "$NSC" "$NSS"; do
	ip -n "$ns" link set lo up
done
ip -n "$NSC" link set "$VC" up
ip -n "$NSS" link set "$VS" up
# In the foreground only: "$!" of a function run with & is a subshell's,
# so background processes are started with ip netns exec itself (which
# execs: its PID is the process's).
inc() { ip netns exec "$NSC" "$@"; }
ins() { ip netns exec "$NSS" "$@"; }
inc ping -c 1 -W 2 "$NET.1" >/dev/null 2>&1 || sleep 1

ip netns exec "$NSS" iperf3 -s -p 5201 >"$WORK/iperf3-server.log" 2>&1 9>&- &
PIDS+=($!)
sleep 0.3

# ---- measurement ----

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # PID: utime+stime of the process (all its threads)
	local stat
	stat=$(<"/proc/$1/stat") || {
		echo 0
		return
	}
	stat=${stat##*) } # past "pid (comm) "
	awk '{print $12 + $13}' <<<"$stat"
}

# run_iperf LOG ARGS...: iperf3 client in cbe-c; prints the receiver's
# Mbit/s and, for UDP, the loss percentage.
run_iperf() {
	local logf=$1
	shift
	if ! inc timeout $((DURATION + UDP_DURATION + 20)) iperf3 -f m --connect-timeout 3000 "$@" >"$logf" 2>&1; then
		echo "0 100"
		return
	fi
	awk '/receiver/ {mbps = $0} END {
		n = split(mbps, f, " "); v = 0; loss = 0
		for (i = 1; i <= n; i++) {
			if (f[i] == "Mbits/sec") v = f[i-1]
			if (f[i] ~ /^\([0-9.e+-]*%\)$/) { gsub(/[()%]/, "", f[i]); loss = f[i] }
		}
		print v, loss
	}' "$logf"
}

# rcvbuf_errors NS: UDP datagrams the namespace's sockets dropped for a
# full receive buffer (UdpRcvbufErrors, /proc/net/snmp).
rcvbuf_errors() {
	ip netns exec "$1" awk '/^Udp:/ {if (!h) {for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1} else print $c}' /proc/net/snmp
}

# tx_dropped NS IF: packets the kernel dropped on their way out through a
# TUN device (its queue full: the userspace side did not read fast enough).
tx_dropped() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_dropped" 2>/dev/null || echo 0
}

# cpu_per_gb TICKS MBPS SECONDS
cpu_per_gb() {
	awk -v t="$1" -v m="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN {
		gb = m * s / 8000; if (gb <= 0) { print "0"; exit }
		printf "%.2f\n", t / hz / gb }'
}

declare -A MBPS CPU SCPU
RESULTS=()

# bench CASE TARGET CLIENT_PID SERVER_PID: every test of one case. The
# server side's CPU (benchpeer, the server's wireguard-go) goes into the
# table only, to show whether the peer keeps up.
bench() {
	local c=$1 target=$2 pid=$3 spid=$4 t args r mbps loss t0 t1 s0 s1 cpu
	for t in tcp1 tcp4 tcp1r tcp4r; do
		args=(-c "$target" -t "$DURATION")
		[[ $t == tcp4* ]] && args+=(-P 4)
		[[ $t == *r ]] && args+=(-R)
		t0=0 t1=0 s0=0 s1=0
		if [[ -n $pid ]]; then
			t0=$(cpu_ticks "$pid")
			s0=$(cpu_ticks "$spid")
		fi
		r=$(run_iperf "$WORK/$c-$t.log" "${args[@]}")
		if [[ -n $pid ]]; then
			t1=$(cpu_ticks "$pid")
			s1=$(cpu_ticks "$spid")
		fi
		mbps=${r% *}
		cpu=0
		SCPU[$c,$t]=0
		if [[ -n $pid ]]; then
			cpu=$(cpu_per_gb $((t1 - t0)) "$mbps" "$DURATION")
			SCPU[$c,$t]=$(cpu_per_gb $((s1 - s0)) "$mbps" "$DURATION")
		fi
		record "$c" "$t" "$mbps" "$cpu"
	done
	[[ -n ${TCP_ONLY:-} ]] && return
	# UDP: start a little above the single-stream TCP rate; raise by half
	# after a try with < 1% loss, else bisect between the best good rate
	# and the lowest bad one.
	local rate good=0 bad=0 best=0 bestcpu=0 bestscpu=0 scpu i tries=
	rate=$(awk -v m="${MBPS[$c,tcp1]}" 'BEGIN {r = int(m * 1.2); if (r < 100) r = 100; print r}')
	for ((i = 0; i < UDP_TRIES; i++)); do
		t0=0 t1=0 s0=0 s1=0
		if [[ -n $pid ]]; then
			t0=$(cpu_ticks "$pid")
			s0=$(cpu_ticks "$spid")
		fi
		r=$(run_iperf "$WORK/$c-udp-$rate.log" -c "$target" -u -l "$UDP_LEN" -w "$UDP_WINDOW" -b "${rate}M" -t "$UDP_DURATION")
		if [[ -n $pid ]]; then
			t1=$(cpu_ticks "$pid")
			s1=$(cpu_ticks "$spid")
		fi
		mbps=${r% *} loss=${r#* }
		cpu=0 scpu=0
		if [[ -n $pid ]]; then
			cpu=$(cpu_per_gb $((t1 - t0)) "$mbps" "$UDP_DURATION")
			scpu=$(cpu_per_gb $((s1 - s0)) "$mbps" "$UDP_DURATION")
		fi
		log "$c udp: offered ${rate} Mbit/s, received $mbps Mbit/s, loss $loss%"
		tries+=" ${rate}->${mbps}(${loss}%)"
		if awk -v l="$loss" 'BEGIN {exit !(l < 1)}'; then
			good=$rate
			if awk -v m="$mbps" -v b="$best" 'BEGIN {exit !(m > b)}'; then best=$mbps bestcpu=$cpu bestscpu=$scpu; fi
		else
			bad=$rate
		fi
		if ((bad == 0)); then
			rate=$((rate * 3 / 2))
		else
			rate=$(((good + bad) / 2))
			((rate > good && bad - good > bad / 50)) || break
		fi
	done
	NOTES+=("$c: udp tries, offered->received Mbit/s (loss):$tries")
	SCPU[$c,udp]=$bestscpu
	record "$c" udp "$best" "$bestcpu"
}

record() { # CASE TEST MBPS CPU
	MBPS[$1,$2]=$3
	CPU[$1,$2]=$4
	if [[ $1 == *@* ]]; then # a scaling run: its own table, no BENCH line
		log "$1 $2: $3 Mbit/s, $4 CPU s/GB"
		return
	fi
	RESULTS+=("BENCH case=$1 test=$2 mbps=$3 cpu_s_per_gb=$4")
	log "BENCH case=$1 test=$2 mbps=$3 cpu_s_per_gb=$4"
}

# wait_line FILE REGEX SECONDS PID
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

NOTES=()

case_veth() {
	bench veth "$NET.1" "" ""
}

case_wireguard() {
	local d=$WORK/wg
	mkdir -p "$d"
	(
		umask 077
		wg genkey >"$d/c.key"
		wg genkey >"$d/s.key"
	)
	wg pubkey <"$d/c.key" >"$d/c.pub"
	wg pubkey <"$d/s.key" >"$d/s.pub"
	ip netns exec "$NSC" env WG_PROCESS_FOREGROUND=1 "$WGGO" -f "$WGC" >"$d/c.log" 2>&1 9>&- &
	local cpid=$!
	PIDS+=("$cpid")
	ip netns exec "$NSS" env WG_PROCESS_FOREGROUND=1 "$WGGO" -f "$WGS" >"$d/s.log" 2>&1 9>&- &
	local spid=$!
	PIDS+=("$spid")
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -S /var/run/wireguard/$WGC.sock && -S /var/run/wireguard/$WGS.sock ]] && break
		sleep 0.1
	done
	inc wg set "$WGC" listen-port 51820 private-key "$d/c.key" \
		peer "$(<"$d/s.pub")" allowed-ips "$WGNET.1/32" endpoint "$NET.1:51820"
	ins wg set "$WGS" listen-port 51820 private-key "$d/s.key" \
		peer "$(<"$d/c.pub")" allowed-ips "$WGNET.2/32" endpoint "$NET.2:51820"
	inc ip addr add "$WGNET.2/24" dev "$WGC"
	ins ip addr add "$WGNET.1/24" dev "$WGS"
	inc ip link set "$WGC" up
	ins ip link set "$WGS" up
	inc ping -c 2 -i 0.2 -W 2 "$WGNET.1" >/dev/null || die "no ping through wireguard-go (logs in $d)"
	NOTES+=("wireguard-go $WG_VERSION: MTU $(inc cat /sys/class/net/$WGC/mtu), offloads: $(inc ethtool -k "$WGC" 2>/dev/null | awk '/^tcp-segmentation-offload:/ {print "tso " $2}' || true)")
	local d0=$(tx_dropped "$NSC" "$WGC")
	bench wireguard-go "$WGNET.1" "$cpid" "$spid"
	NOTES+=("wireguard-go: packets dropped at the client's TUN queue (tx_dropped of $WGC): $(($(tx_dropped "$NSC" "$WGC") - d0))")
	stop_pid "${PIDS[-1]}"
	stop_pid "${PIDS[-2]}"
	PIDS=("${PIDS[@]:0:${#PIDS[@]}-2}")
}

case_corridor() { # CASE peer-esp client-esp
	local c=$1 d=$WORK/$1
	mkdir -p "$d"
	ip netns exec "$NSS" "$WORK/benchpeer" -listen "$NET.1" -psk-file "$WORK/psk" -user "$USER_NAME" -password-file "$WORK/password" \
		-esp "$2" -tun "$PEERIF" -mtu 1500 -local "$TUNNET.1" -client "$TUNNET.2" -v >"$d/peer.log" 2>&1 9>&- &
	local ppid=$!
	PIDS+=("$ppid")
	wait_line "$d/peer.log" '^ready' 10 "$ppid" || die "benchpeer did not start: $(cat "$d/peer.log")"
	local procs=()
	[[ -n ${CLIENT_PROCS:-} ]] && procs=(env GOMAXPROCS="$CLIENT_PROCS")
	ip netns exec "$NSC" "${procs[@]}" "$WORK/corridor" connect --psk-file "$WORK/psk" --user "$USER_NAME" --password-file "$WORK/password" \
		--ifname "$CORIF" --esp "$3" "$NET.1" >"$d/corridor.log" 2>&1 9>&- &
	local cpid=$!
	PIDS+=("$cpid")
	wait_line "$d/corridor.log" '^connected' 30 "$cpid" ||
		die "corridor did not connect: $(cat "$d/corridor.log"; echo ---; cat "$d/peer.log")"
	inc ping -c 2 -i 0.2 -W 2 "$TUNNET.1" >/dev/null || die "no ping through corridor (logs in $d)"
	NOTES+=("$c: corridor MTU $(inc cat /sys/class/net/$CORIF/mtu); $(grep -m1 '^esp:' "$d/peer.log")")
	local d0=$(tx_dropped "$NSC" "$CORIF")
	bench "$c" "$TUNNET.1" "$cpid" "$ppid"
	NOTES+=("$c: packets dropped at the client's TUN queue (tx_dropped of $CORIF): $(($(tx_dropped "$NSC" "$CORIF") - d0))")
	NOTES+=("$c: corridor connect's peak resident memory (VmHWM) $(awk '/^VmHWM/ {print $2, $3}' "/proc/$cpid/status"), now $(awk '/^VmRSS/ {print $2, $3}' "/proc/$cpid/status")")
	stop_pid "$cpid"
	stop_pid "$ppid"
	NOTES+=("$c: $(grep -m1 'benchpeer: in:' "$d/peer.log" || echo 'benchpeer: no counters')")
	PIDS=("${PIDS[@]:0:${#PIDS[@]}-2}")
}

for c in $CASES; do
	log "case $c"
	rc0=$(rcvbuf_errors "$NSC") rs0=$(rcvbuf_errors "$NSS")
	case $c in
	veth) case_veth ;;
	wireguard-go) case_wireguard ;;
	corridor-gcm) case_corridor corridor-gcm gcm aes128gcm16 ;;
	corridor-cbc) case_corridor corridor-cbc cbc aes128-sha1 ;;
	esac
	NOTES+=("$c: UDP receive-buffer drops (UdpRcvbufErrors, iperf3 included) in $NSC: $(($(rcvbuf_errors "$NSC") - rc0)), in $NSS: $(($(rcvbuf_errors "$NSS") - rs0))")
done

# Scaling: the Corridor cases again, TCP only, with the client held to one
# core (GOMAXPROCS=1 for corridor connect only; the peer and iperf3 as
# before), against the run above with the Go default (one per core).
SCALE_CASES=()
if [[ ${SCALING:-1} == 1 ]]; then
	for c in $CASES; do
		case $c in
		corridor-gcm) SCALE_CASES+=("$c") ; log "case $c, client GOMAXPROCS=1"; CLIENT_PROCS=1 TCP_ONLY=1 case_corridor "$c@1" gcm aes128gcm16 ;;
		corridor-cbc) SCALE_CASES+=("$c") ; log "case $c, client GOMAXPROCS=1"; CLIENT_PROCS=1 TCP_ONLY=1 case_corridor "$c@1" cbc aes128-sha1 ;;
		esac
	done
fi

# ---- report ----

ELAPSED=$(($(date +%s) - START))
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
STEAL=$(awk -v a=$((st1 - st0)) -v t=$((u1 + n1 + s1 + i1 + w1 + q1 + sq1 + st1 - u0 - n0 - s0 - i0 - w0 - q0 - sq0 - st0)) 'BEGIN {if (t > 0) printf "%.1f", 100 * a / t; else print 0}')
BUSY=$(awk -v b=$((u1 + n1 + s1 + q1 + sq1 - u0 - n0 - s0 - q0 - sq0)) -v t=$((u1 + n1 + s1 + i1 + w1 + q1 + sq1 + st1 - u0 - n0 - s0 - i0 - w0 - q0 - sq0 - st0)) 'BEGIN {if (t > 0) printf "%.1f", 100 * b / t; else print 0}')
mkdir -p "$(dirname "$OUT")"
{
	echo "bench-e2e: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), GOMAXPROCS=${GOMAXPROCS:-$(nproc) (unset: the Go default, one per core)}, kernel $(uname -r)"
	echo "load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg); over the run the CPUs were ${BUSY}% busy, ${STEAL}% stolen by the hypervisor"
	echo "iperf3 $(iperf3 --version | awk 'NR==1 {print $2}'), TCP ${DURATION} s per test, UDP ${UDP_LEN}-byte datagrams, ${UDP_DURATION} s per try, < 1% loss"
	echo
	echo "CPU s/GB: the client-side process's CPU seconds per GB received; server: the server side's (benchpeer, wireguard-go)"
	printf '%-14s %-6s %10s %8s %12s %8s %12s\n' case test Mbit/s "x wg" "CPU s/GB" "x wg" "server s/GB"
	for c in $CASES; do
		for t in tcp1 tcp4 tcp1r tcp4r udp; do
			[[ -n ${MBPS[$c,$t]:-} ]] || continue
			printf '%-14s %-6s %10s %8s %12s %8s %12s\n' "$c" "$t" "${MBPS[$c,$t]}" \
				"$(awk -v a="${MBPS[$c,$t]}" -v b="${MBPS[wireguard-go,$t]:-0}" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')" \
				"${CPU[$c,$t]}" \
				"$(awk -v a="${CPU[$c,$t]}" -v b="${CPU[wireguard-go,$t]:-0}" 'BEGIN {if (b > 0 && a > 0) printf "%.2f", a / b; else print "-"}')" \
				"${SCPU[$c,$t]:-0}"
		done
	done
	if ((${#SCALE_CASES[@]} > 0)); then
		echo
		echo "scaling: Mbit/s with the client's GOMAXPROCS at the Go default ($(nproc) cores) and at 1, same run"
		printf '%-14s %-6s %10s %10s %8s\n' case test default "1 core" ratio
		for c in "${SCALE_CASES[@]}"; do
			for t in tcp1 tcp4 tcp1r tcp4r; do
				printf '%-14s %-6s %10s %10s %8s\n' "$c" "$t" "${MBPS[$c,$t]}" "${MBPS[$c@1,$t]}" \
					"$(awk -v a="${MBPS[$c,$t]}" -v b="${MBPS[$c@1,$t]}" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')"
			done
		done
	fi
	echo
	for n in "${NOTES[@]}"; do echo "note: $n"; done
	echo
	printf '%s\n' "${RESULTS[@]}"
	echo "run time: ${ELAPSED} s"
} | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "written to $OUT"
