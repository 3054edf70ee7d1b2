#!/usr/bin/env bash
# bench-ike.sh: IKEv1 handshake timing, Corridor vs strongSwan's charon, side
# by side against one SoftEther server (build/softether/server.sh), in the
# same run, timed the same way on the wire.
#
#   sudo build/bench-ike.sh            # ROUNDS=7 by default
#
# Each round runs charon, then Corridor, each from a fresh client address
# (SoftEther keeps a client entry per source address for ~10 s and may start a
# Quick Mode of its own toward a returning one; DESIGN.md 6), with the same
# proposals (IKE aes256-sha256-modp2048, ESP aes128-sha1). tcpdump in the
# client namespace captures UDP 500/4500 of that address; the figure is the
# time from the first Main Mode packet sent (MM1) to the arrival of the
# server's Quick Mode reply (QM2: exchange type 32 from the server, carrying
# the message ID of the client's own Quick Mode). Neighbour entries are
# permanent on both ends, so ARP is not in the figure.
#
# charon (kernel-libipsec, userspace ESP) negotiates a transport-mode child on
# the wire and then fails to install it ("unsupported mode"): expected, only
# the wire time counts. Corridor runs until "connected:" (or, with
# CORRIDOR_UNTIL=sa, until "ipsec: sa established"), then gets SIGTERM and
# disconnects; its process start -> "ipsec: sa established" time is measured
# too (stdout lines timestamped as they arrive by build/benchike).
#
# Environment:
#   ROUNDS=7              rounds (1-100), each one charon + one Corridor run
#   BENCH_NAME=bkike      SoftEther NAME for server.sh (1-6 chars [a-z0-9])
#   CORRIDOR_NET=10.99.7  subnet of the veth link (server .1, round addresses .10 up)
#   CHARON_PLUGINS="random nonce openssl kdf ..."  charon's load list; "debian"
#                         for Debian's stock plugin set (plus kernel-libipsec)
#   CORRIDOR_BIN=         use this corridor binary instead of building the tree
#   CORRIDOR_UNTIL=connected|sa   when Corridor gets SIGTERM (default connected)
#   CORRIDOR_VERBOSE=1    pass -v to Corridor (trace to its per-round stderr log)
#   PAUSE=1               seconds between client runs
#   KEEP=1                keep the work directory (captures, logs) and print it
#   OUT=build/out/bench-ike.txt   where the table and summary are written too
# Needs root (network namespaces, tcpdump, charon). Installs missing Debian
# packages (tcpdump, strongSwan) with apt-get. Cleans up what it starts.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SERVER_SH=$HERE/softether/server.sh
CHARON=/usr/lib/ipsec/charon

ROUNDS=${ROUNDS:-7}
NAME=${BENCH_NAME:-bkike}
export CORRIDOR_NET=${CORRIDOR_NET:-10.99.7}
UNTIL=${CORRIDOR_UNTIL:-connected}
PAUSE=${PAUSE:-1}
OUT=${OUT:-$ROOT/build/out/bench-ike.txt}
IKE_PROPOSAL=aes256-sha256-modp2048
ESP_PROPOSAL=aes128-sha1
PSK=${CORRIDOR_TEST_PSK:-test-psk-1}
USER_NAME=${CORRIDOR_TEST_USER:-alice}
PASSWORD=${CORRIDOR_TEST_PASSWORD:-test-pass-1}
CHARON_PLUGINS=${CHARON_PLUGINS:-random nonce openssl kdf pem pkcs1 x509 kernel-libipsec kernel-netlink socket-default vici}

log() { printf 'bench-ike: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $(id -u) == 0 ]] || die "needs root (network namespaces, tcpdump, charon)"
[[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 100)) || die "ROUNDS must be 1-100, got '$ROUNDS'"
[[ $NAME =~ ^[a-z0-9]{1,6}$ ]] || die "BENCH_NAME must be 1-6 characters [a-z0-9], got '$NAME'"
[[ $CORRIDOR_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "CORRIDOR_NET must look like 10.99.7"
case $UNTIL in
connected) UNTIL_RE='^connected:' ;;
sa) UNTIL_RE='^ipsec: sa established' ;;
*) die "CORRIDOR_UNTIL must be connected or sa, got '$UNTIL'" ;;
esac

# ---- packages ----

ensure_packages() {
	local pkgs=(tcpdump strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins)
	local missing=() p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) || {
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		# Do not let the packages start a system-wide charon on the host.
		local policy=/usr/sbin/policy-rc.d created=0 rc=0
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created=1
		fi
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
			rc=$?
		if ((created)); then rm -f "$policy"; fi
		((rc == 0)) || die "apt-get install failed (exit $rc)"
	}
	for p in "$CHARON" /usr/sbin/swanctl /usr/bin/tcpdump /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so; do
		[[ -e $p ]] || die "$p missing after install"
	done
	command -v go >/dev/null || die "go not found (needed to build corridor and build/benchike)"
}

# ---- cleanup ----

WORK=""
SERVER_STARTED=0
TCPDUMP_PID="" CHARON_PID="" CHILD_PID=""

stop_pid() { # PID [SIGNAL]: signal our own child and reap it
	local pid=$1 sig=${2:-TERM} i
	[[ -n $pid ]] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$CHILD_PID"
	stop_pid "$CHARON_PID"
	stop_pid "$TCPDUMP_PID" INT
	if ((SERVER_STARTED)); then
		if [[ -n $WORK && ($rc != 0 || ${KEEP:-0} == 1) ]]; then
			"$SERVER_SH" log "$NAME" >"$WORK/server.log" 2>/dev/null || true
		fi
		"$SERVER_SH" stop "$NAME" >/dev/null 2>&1 || log "warning: server.sh stop $NAME failed"
	fi
	if [[ -n $WORK && -d $WORK ]]; then
		rm -f "$WORK/psk" "$WORK/password" "$WORK"/r*-charon/swanctl.conf
		if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
			log "work directory kept: $WORK"
		else
			rm -rf -- "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_child CMD...: run in the background and wait, so that a signal to this
# script runs the trap at once (and stops the child) instead of after it.
run_child() {
	local rc=0
	"$@" &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=""
	return "$rc"
}

# ---- setup ----

ensure_packages
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-ike.XXXXXX")
chmod 700 "$WORK"
log "work directory $WORK"

log "building build/benchike and (unless CORRIDOR_BIN) corridor"
(cd "$ROOT" && go build -o "$WORK/benchike" ./build/benchike) || die "go build ./build/benchike failed"
if [[ -n ${CORRIDOR_BIN:-} ]]; then
	[[ -x $CORRIDOR_BIN ]] || die "CORRIDOR_BIN=$CORRIDOR_BIN is not executable"
	CORRIDOR=$(readlink -f "$CORRIDOR_BIN")
else
	(cd "$ROOT" && go build -o "$WORK/corridor" .) || die "go build corridor failed"
	CORRIDOR=$WORK/corridor
fi
BENCH=$WORK/benchike

(
	umask 077
	printf '%s\n' "$PSK" >"$WORK/psk"
	printf '%s\n' "$PASSWORD" >"$WORK/password"
)

log "starting SoftEther server $NAME on $CORRIDOR_NET.0/24"
if [[ -e /run/corridor-test/$NAME || -e /run/netns/${NAME}s || -e /run/netns/${NAME}c ]]; then
	die "a server '$NAME' already exists (a run still going, or left over: $SERVER_SH stop $NAME)"
fi
SERVER_STARTED=1
srv=$("$SERVER_SH" start "$NAME" 2>"$WORK/server-start.log") || {
	cat "$WORK/server-start.log" >&2
	die "server.sh start $NAME failed"
}
SERVER=$(sed -n 's/^SERVER=//p' <<<"$srv")
CNS=$(sed -n 's/^CLIENT_NS=//p' <<<"$srv")
SNS=$(sed -n 's/^SERVER_NS=//p' <<<"$srv")
CIF=${NAME}v1 SIF=${NAME}v0
CMAC=$(ip -n "$CNS" -o link show "$CIF" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[[ -n $SERVER && -n $CNS && -n $SNS && -n $CMAC ]] || die "could not read server.sh output / client MAC: $srv"
log "server $SERVER ready (client namespace $CNS, $(grep -o 'ready after [0-9.]* s' "$WORK/server-start.log" || echo started))"

# use_address ADDR: a fresh client address for one run, with a permanent
# neighbour entry on the server side and the route to the server using it as
# source (Corridor picks its source address from the route).
use_address() {
	local a=$1
	ip -n "$CNS" addr add "$a/24" dev "$CIF"
	ip -n "$SNS" neigh replace "$a" lladdr "$CMAC" dev "$SIF" nud permanent
	ip -n "$CNS" route replace "$SERVER/32" dev "$CIF" src "$a"
}

# start_capture FILE ADDR: tcpdump in the client namespace, ready on return.
start_capture() {
	local file=$1 a=$2 i
	ip netns exec "$CNS" tcpdump --immediate-mode -U -n -i "$CIF" -w "$file" \
		"host $a and (udp port 500 or udp port 4500)" 2>"$file.err" &
	TCPDUMP_PID=$!
	for ((i = 0; i < 200; i++)); do
		grep -q 'listening on' "$file.err" 2>/dev/null && return 0
		kill -0 "$TCPDUMP_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$file.err" >&2
	die "tcpdump did not start"
}

stop_capture() {
	sleep 0.3 # let the last packets of the round reach the file
	stop_pid "$TCPDUMP_PID" INT
	TCPDUMP_PID=""
}

# ---- charon ----

# charon_round DIR ADDR: fresh charon in the client namespace (private /run for
# its pid file, private vici socket and log), one initiation, then delete and stop.
charon_round() {
	local d=$1 a=$2 uri i
	mkdir -p "$d/run"
	uri="unix://$d/charon.vici"
	local load="load = $CHARON_PLUGINS" stock=""
	if [[ $CHARON_PLUGINS == debian ]]; then
		# Debian's own plugin set and order (/etc/strongswan.d/charon/*.conf),
		# plus kernel-libipsec (off there).
		load="load_modular = yes"
		stock="include /etc/strongswan.d/charon/*.conf
		    kernel-libipsec {
		      load = yes
		    }"
	fi
	cat >"$d/strongswan.conf" <<-EOF
		charon {
		  $load
		  install_routes = no
		  install_virtual_ip = no
		  port = 500
		  port_nat_t = 4500
		  plugins {
		    $stock
		    vici {
		      socket = $uri
		    }
		  }
		  syslog {
		    daemon {
		      default = -1
		    }
		  }
		  filelog {
		    bench {
		      path = $d/charon.log
		      time_format = %H:%M:%S
		      default = 1
		      flush_line = no
		    }
		  }
		}
		swanctl {
		  load = random nonce openssl pem pkcs1 x509
		}
	EOF
	(
		umask 077
		cat >"$d/swanctl.conf" <<-EOF
			connections {
			  bench {
			    version = 1
			    encap = yes
			    local_addrs = $a
			    remote_addrs = $SERVER
			    proposals = $IKE_PROPOSAL
			    local {
			      auth = psk
			      id = $a
			    }
			    remote {
			      auth = psk
			      id = %any
			    }
			    children {
			      bench {
			        local_ts = $a[udp/1701]
			        remote_ts = $SERVER[udp/1701]
			        esp_proposals = $ESP_PROPOSAL
			        mode = transport
			        start_action = none
			      }
			    }
			  }
			}
			secrets {
			  ike-bench {
			    secret = "$PSK"
			  }
			}
		EOF
	)
	export STRONGSWAN_CONF=$d/strongswan.conf
	# ip netns exec, unshare and sh exec in place: $! is charon itself.
	ip netns exec "$CNS" unshare -m --propagation private sh -c \
		'mount --bind "$1" /run && exec "$2"' charon "$d/run" "$CHARON" \
		>"$d/charon.out" 2>&1 &
	CHARON_PID=$!
	for ((i = 0; i < 200; i++)); do
		swanctl --stats --uri "$uri" >/dev/null 2>&1 && break
		kill -0 "$CHARON_PID" 2>/dev/null || break
		sleep 0.05
	done
	swanctl --stats --uri "$uri" >/dev/null 2>&1 || {
		cat "$d/charon.out" "$d/charon.log" >&2 2>/dev/null
		die "charon did not come up (vici $uri)"
	}
	swanctl --load-all --file "$d/swanctl.conf" --uri "$uri" >"$d/load.log" 2>&1 || {
		cat "$d/load.log" >&2
		die "swanctl --load-all failed"
	}
	TRIGGER=$EPOCHREALTIME
	# Fails by design at SA installation (libipsec: transport mode unsupported).
	run_child swanctl --initiate --child bench --timeout 25 --uri "$uri" >"$d/initiate.log" 2>&1 || true
	stop_capture
	swanctl --terminate --ike bench --timeout 5 --uri "$uri" >"$d/terminate.log" 2>&1 || true
	stop_pid "$CHARON_PID"
	CHARON_PID=""
	unset STRONGSWAN_CONF
}

# ---- Corridor ----

corridor_round() {
	local d=$1 a=$2 v=()
	mkdir -p "$d"
	[[ ${CORRIDOR_VERBOSE:-0} == 1 ]] && v=(-v)
	run_child ip netns exec "$CNS" "$BENCH" run -until "$UNTIL_RE" -timeout 40s -- \
		"$CORRIDOR" connect "${v[@]}" --psk-file "$WORK/psk" --user "$USER_NAME" --password-file "$WORK/password" \
		--ifname "${NAME}t0" --ike "$IKE_PROPOSAL" --esp "$ESP_PROPOSAL" "$SERVER" \
		>"$d/corridor.lines" 2>"$d/corridor.err" || log "warning: benchike run failed (see $d/corridor.err)"
	stop_capture
}

# ---- rounds ----

RESULTS=$WORK/results.txt
: >"$RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "$ROUNDS rounds: charon then Corridor, each from a fresh address; IKE $IKE_PROPOSAL, ESP $ESP_PROPOSAL"
for ((r = 1; r <= ROUNDS; r++)); do
	for client in charon corridor; do
		n=$((10 + 2 * (r - 1)))
		[[ $client == corridor ]] && n=$((n + 1))
		addr=$CORRIDOR_NET.$n
		d=$WORK/r$r-$client
		mkdir -p "$d"
		use_address "$addr"
		start_capture "$d/ike.pcap" "$addr"
		extra=()
		if [[ $client == charon ]]; then
			charon_round "$d" "$addr"
			extra=(-trigger "$TRIGGER")
		else
			corridor_round "$d" "$addr"
			extra=(-lines "$d/corridor.lines")
		fi
		res=$("$BENCH" wire -pcap "$d/ike.pcap" -client "$addr" -server "$SERVER" "${extra[@]}") ||
			die "benchike wire failed on $d/ike.pcap"
		echo "round=$r client=$client addr=$addr $res" >>"$RESULTS"
		wire_ms=$(sed -n 's/.*wire_ms=\([^ ]*\).*/\1/p' <<<"$res")
		sa_ms=$(sed -n 's/.*start_sa_ms=\([^ ]*\).*/\1/p' <<<"$res")
		log "round $r $client $addr: MM1->QM2 $wire_ms ms${sa_ms:+, start->sa established $sa_ms ms}"
		if [[ $wire_ms == NA ]]; then
			log "  no QM2 on the wire; the client's log:"
			if [[ $client == charon ]]; then
				tail -n 20 "$d/initiate.log" >&2 || true
			else
				cat "$d/corridor.lines" "$d/corridor.err" >&2 || true
			fi
		elif [[ $client == charon ]] && ! grep -q 'unsupported mode' "$d/initiate.log"; then
			log "  note: charon did not end with the expected 'unsupported mode' (see $d/initiate.log)"
		fi
		sleep "$PAUSE"
	done
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----

rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && rev="$rev (tree modified)"
{
	echo "bench-ike: IKEv1 handshake, Corridor vs strongSwan charon, against SoftEther ($T0)"
	echo "server: SoftEther $(dpkg-query -W -f='${Version}' softether-vpnserver 2>/dev/null) in netns $SNS ($SERVER); charon $(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null) (kernel-libipsec)"
	echo "corridor: ${CORRIDOR_BIN:-built from $rev}; runs until ${UNTIL}; -v ${CORRIDOR_VERBOSE:-0}"
	echo "proposals: IKE $IKE_PROPOSAL, ESP $ESP_PROPOSAL; rounds $ROUNDS (charon then corridor, fresh address each); $(nproc) CPUs, load $LOAD0 -> $LOAD1"
	echo "MM1 = first Main Mode packet client->server:500; QM2 = server's Quick Mode reply (exchange 32, the client's message ID), tcpdump timestamps on the client's veth"
	echo
	"$BENCH" summary "$RESULTS"
} >"$WORK/report.txt"
cat "$WORK/report.txt"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.txt" "$OUT"
log "written to $OUT"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 && [[ $OUT == "$ROOT"/* ]] &&
	! git -C "$ROOT" check-ignore -q "$OUT"; then
	log "note: ${OUT#"$ROOT"/} is not gitignored (add build/out/ to .gitignore)"
fi
