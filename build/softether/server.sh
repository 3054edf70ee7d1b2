#!/usr/bin/env bash
# Runs a real SoftEther VPN Server (Debian package) for tests and demos, in its
# own network namespace and a private mount namespace, with a veth link to a
# client network namespace.
#
#   server.sh start NAME   start and configure; prints STATE=, PID=, SERVER=,
#                          CLIENT_NS=, SERVER_NS=, VPN_HOST= on stdout (nothing else)
#   server.sh stop NAME    stop it and delete everything (idempotent, exit 0)
#   server.sh log NAME     print the server's log
#
# NAME: 1-6 characters [a-z0-9]. Namespaces: ${NAME}s (server), ${NAME}c (client).
# Environment:
#   CORRIDOR_NET=10.99.0        first three octets of the veth /24 (server .1, client .2)
#   CORRIDOR_CLIENT_NS=NS       put the client end of the veth into the existing
#                               namespace NS (e.g. another server's client namespace,
#                               for one client with several servers) instead of
#                               creating ${NAME}c; stop leaves NS alone
#   CORRIDOR_VPN_NET=192.168.30 first three octets of SecureNAT's /24 (virtual host .1,
#                               DHCP .10-.200); give each server of one client its own
#   CORRIDOR_TEST_USER=alice    VPN user created on hub DEFAULT
#   CORRIDOR_TEST_PASSWORD=test-pass-1
#   CORRIDOR_TEST_PSK=test-psk-1
#   KEEP=1                      stop: keep the state directory
# Needs root. Progress goes to stderr. See README.md.
set -euo pipefail

VPNSERVER=/usr/libexec/softether/vpnserver/vpnserver
VPNCMD=/usr/libexec/softether/vpncmd/vpncmd
REGISTRY=/run/corridor-test

log() { printf 'server.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	echo "usage: $0 start|stop|log NAME" >&2
	exit 2
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# alive PID: the process still exists and has not finished exiting. kill -0
# is not enough: PID 1 in containers may be slow to reap, and a zombie thread
# group leader can still have live threads.
alive() {
	awk '/^State:/ { z = ($2 == "Z" || $2 == "X") } /^Threads:/ { t = $2 }
		END { exit !(NR > 0 && (!z || t > 1)) }' "/proc/$1/status" 2>/dev/null
}

# is_our_server PID SERVER_NS: PID is a vpnserver running in that namespace
# (guards against a recycled PID).
is_our_server() {
	local pid=$1 ns=$2 exe
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[[ $exe == "$VPNSERVER" ]] || return 1
	[[ -e /run/netns/$ns ]] || return 1
	[[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == $(stat -L -c %i "/run/netns/$ns" 2>/dev/null) ]]
}

check_name() {
	[[ $1 =~ ^[a-z0-9]{1,6}$ ]] || die "NAME must be 1-6 characters [a-z0-9], got '$1'"
}

ensure_packages() {
	local need=0 t
	for t in "$VPNSERVER" "$VPNCMD"; do [[ -x $t ]] || need=1; done
	for t in ip ss ping nsenter unshare; do command -v "$t" >/dev/null || need=1; done
	((need)) || return 0
	log "installing softether-vpnserver softether-vpncmd iproute2 iputils-ping tcpdump"
	export DEBIAN_FRONTEND=noninteractive
	# Do not let the package start a system-wide vpnserver on the host.
	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
	fi
	local pkgs=(softether-vpnserver softether-vpncmd iproute2 iputils-ping tcpdump util-linux)
	local rc=0
	apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2; } ||
		rc=$?
	if ((created_policy)); then rm -f "$policy"; fi
	((rc == 0)) || die "apt-get install failed (exit $rc)"
	if [[ -d /run/systemd/system ]]; then
		systemctl disable --now softether-vpnserver.service >&2 2>/dev/null || true
	fi
	[[ -x $VPNSERVER && -x $VPNCMD ]] || die "SoftEther binaries still missing after install"
}

# wait_port NS PROTO PORT SECONDS: wait until PORT is bound (UDP) or listening (TCP).
wait_port() {
	local ns=$1 proto=$2 port=$3 deadline=$(($(date +%s) + $4)) opt
	[[ $proto == tcp ]] && opt=-Hltn || opt=-Hlun
	while :; do
		if ip netns exec "$ns" ss "$opt" "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		alive "$PID" || return 1
		(($(date +%s) < deadline)) || return 1
		sleep 0.05
	done
}

# vpncmd_batch FILE-IN-STATE/tmp: run vpncmd commands from a file inside the
# server's network + mount namespaces (the server's /tmp is STATE/tmp there).
vpncmd_batch() {
	timeout 60 nsenter -t "$PID" -m -n "$VPNCMD" localhost:5555 /SERVER "/IN:/tmp/$1" </dev/null 2>&1
}

start_failed() {
	local rc=$?
	((rc != 0)) || return 0
	log "start failed (exit $rc); server log follows"
	cat "$STATE/server.log" >&2 2>/dev/null || true
	do_stop "$1" || true
}

do_start() {
	local name=$1 t0
	t0=$(now)
	[[ $(id -u) == 0 ]] || die "needs root: creates network namespaces and runs SoftEther VPN Server"
	ensure_packages

	local net=${CORRIDOR_NET:-10.99.0}
	[[ $net =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || die "CORRIDOR_NET must look like 10.99.0, got '$net'"
	local o3=${BASH_REMATCH[3]}
	local user=${CORRIDOR_TEST_USER:-alice}
	local password=${CORRIDOR_TEST_PASSWORD:-test-pass-1}
	local psk=${CORRIDOR_TEST_PSK:-test-psk-1}
	local vnet=${CORRIDOR_VPN_NET:-192.168.30}
	[[ $vnet =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "CORRIDOR_VPN_NET must look like 192.168.30, got '$vnet'"
	local sns=${name}s cns=${name}c shared=0
	if [[ -n ${CORRIDOR_CLIENT_NS:-} ]]; then
		cns=$CORRIDOR_CLIENT_NS shared=1
		[[ $cns =~ ^[A-Za-z0-9_.-]{1,64}$ && -e /run/netns/$cns ]] || die "CORRIDOR_CLIENT_NS: no network namespace '$cns'"
	fi
	local sif=${name}v0 cif=${name}v1
	local sip=$net.1 cip=$net.2
	# Fixed MACs so the neighbour entries can be permanent.
	local smac cmac
	smac=$(printf '02:c0:%02x:00:00:01' "$o3")
	cmac=$(printf '02:c0:%02x:00:00:02' "$o3")

	if [[ -e $REGISTRY/$name || -e /run/netns/$sns || ($shared == 0 && -e /run/netns/$cns) ]]; then
		die "'$name' already exists (namespaces or $REGISTRY/$name); run: $0 stop $name"
	fi
	mkdir -p "$REGISTRY"
	STATE=$(mktemp -d "${TMPDIR:-/tmp}/corridor-softether-$name.XXXXXX")
	chmod 700 "$STATE"
	ln -s "$STATE" "$REGISTRY/$name"
	PID=0
	# Any failure from here on: show the server log, then clean up.
	# shellcheck disable=SC2064 # name is [a-z0-9]{1,6}, expanded now on purpose
	trap "start_failed $name" EXIT

	log "creating namespaces $sns, $cns$( ((shared)) && echo ' (shared, exists)') and veth $sif <-> $cif ($sip <-> $cip)"
	ip netns add "$sns"
	if ((shared)); then
		# Before anything can fail: stop must know not to delete it.
		echo "$cns" >"$STATE/shared_client_ns"
	else
		ip netns add "$cns"
	fi
	ip link add "$sif" address "$smac" netns "$sns" type veth peer name "$cif" address "$cmac" netns "$cns"
	local ns ifc addr peer pmac
	for ns in "$sns" "$cns"; do
		if [[ $ns == "$sns" ]]; then ifc=$sif addr=$sip peer=$cip pmac=$cmac; else ifc=$cif addr=$cip peer=$sip pmac=$smac; fi
		ip -n "$ns" link set lo up
		# No IPv6 on the link: keeps captures free of RS/MLD/DAD noise.
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" || true
		ip -n "$ns" addr add "$addr/24" dev "$ifc"
		ip -n "$ns" link set "$ifc" up
		ip -n "$ns" neigh replace "$peer" lladdr "$pmac" dev "$ifc" nud permanent
	done

	mkdir -p "$STATE/var/lib/softether" "$STATE/var/log/softether" "$STATE/run/softether" "$STATE/tmp"
	chmod 1777 "$STATE/tmp"
	log "starting vpnserver (state $STATE)"
	# ip netns exec and unshare exec in place (no fork) and sh execs vpnserver,
	# so $! is the vpnserver process itself; --foreground does not fork.
	# The Debian build hard-codes /var/lib/softether, /var/log/softether and
	# /run/softether (and uses /tmp): fresh directories are bound over /var,
	# /run and /tmp in a private mount namespace.
	ip netns exec "$sns" unshare -m --propagation private sh -c '
		set -e
		mount --bind "$1/var" /var
		mount --bind "$1/run" /run
		mount --bind "$1/tmp" /tmp
		cd /tmp
		ulimit -c 0 # it sometimes crashes on SIGTERM: no core files in the caller'"'"'s directory
		exec "$2" start --foreground' vpnserver "$STATE" "$VPNSERVER" \
		</dev/null >"$STATE/server.log" 2>&1 &
	PID=$!
	echo "$PID" >"$STATE/pid"
	echo "$sns" >"$STATE/server_ns"

	local deadline=$(($(date +%s) + 10))
	until is_our_server "$PID" "$sns"; do
		alive "$PID" || die "vpnserver exited at once"
		(($(date +%s) < deadline)) || die "PID $PID did not become $VPNSERVER"
		sleep 0.02
	done
	wait_port "$sns" tcp 5555 60 || die "admin port TCP 5555 not listening after 60 s"
	log "admin port up after $(elapsed "$t0") s; configuring"

	# Throwaway test credentials of a throwaway server inside a private
	# namespace: they are passed in a mode-0600 command file (not argv) that is
	# deleted right after use. A fresh server has no admin password.
	local cmds=$STATE/tmp/config.cmds out
	(
		umask 077
		cat >"$cmds" <<-EOF
			IPsecEnable /L2TP:yes /L2TPRAW:yes /ETHERIP:no /PSK:$psk /DEFAULTHUB:DEFAULT
			VpnAzureSetEnable no
			KeepDisable
			Hub DEFAULT
			UserCreate $user /GROUP:none /REALNAME:none /NOTE:none
			UserPasswordSet $user /PASSWORD:$password
			SecureNatEnable
			SecureNatHostSet /MAC:none /IP:$vnet.1 /MASK:255.255.255.0
			DhcpSet /START:$vnet.10 /END:$vnet.200 /MASK:255.255.255.0 /EXPIRE:7200 /GW:$vnet.1 /DNS:$vnet.1 /DNS2:none /DOMAIN:none /LOG:yes /PUSHROUTE:none
			ExtOptionSet DisableKernelModeSecureNAT /VALUE:1
			ExtOptionSet DisableIpRawModeSecureNAT /VALUE:1
		EOF
	)
	local want
	want=$(grep -c . "$cmds")
	out=$(vpncmd_batch config.cmds) || true
	rm -f "$cmds"
	local ok
	ok=$(grep -c 'The command completed successfully' <<<"$out" || true)
	if ((ok != want)) || grep -q 'Error occurred' <<<"$out"; then
		sed -E 's#(/PASSWORD:|/PSK:)[^ ]*#\1***#g' <<<"$out" >&2
		die "vpncmd configuration failed ($ok of $want commands succeeded)"
	fi
	log "configured after $(elapsed "$t0") s; deleting TCP listeners 443, 992, 1194"
	# vpncmd exits 0 from a batch even on errors; absent listeners are fine here.
	printf 'ListenerDelete 443\nListenerDelete 992\nListenerDelete 1194\n' >"$STATE/tmp/listeners.cmds"
	vpncmd_batch listeners.cmds >/dev/null || true
	rm -f "$STATE/tmp/listeners.cmds"

	log "listeners deleted after $(elapsed "$t0") s"
	local p
	for p in 500 4500 1701; do
		wait_port "$sns" udp "$p" 30 || die "UDP $p not bound after 30 s"
	done
	trap - EXIT
	log "ready after $(elapsed "$t0") s (PID $PID, RSS $(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$PID/status"))"
	printf 'STATE=%s\nPID=%s\nSERVER=%s\nCLIENT_NS=%s\nSERVER_NS=%s\nVPN_HOST=%s\n' "$STATE" "$PID" "$sip" "$cns" "$sns" "$vnet.1"
}

do_stop() {
	local name=$1 t0 state="" pid="" sns cns
	sns=${name}s cns=${name}c
	t0=$(now)
	if [[ -L $REGISTRY/$name ]]; then
		state=$(readlink "$REGISTRY/$name")
	fi
	if [[ -n $state && -r $state/pid ]]; then
		pid=$(cat "$state/pid" 2>/dev/null || true)
	fi
	local shared_cns=""
	if [[ -n $state && -r $state/shared_client_ns ]]; then
		# Not ours: only our end of the veth goes (with the server's namespace).
		shared_cns=$(cat "$state/shared_client_ns" 2>/dev/null || true)
		cns=""
		if [[ -n $shared_cns && -e /run/netns/$shared_cns ]]; then
			ip -n "$shared_cns" link del "${name}v1" 2>/dev/null || true
		fi
	fi
	if [[ $pid =~ ^[0-9]+$ ]] && is_our_server "$pid" "$sns"; then
		kill -TERM "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 200; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		if alive "$pid"; then
			log "vpnserver $pid still running after 10 s; SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# Anything else still running in the namespaces (a hung vpncmd, or a server
	# whose state dir is gone) was started by us: end it before deleting them.
	local ns pids
	for ns in "$sns" "$cns"; do
		[[ -n $ns && -e /run/netns/$ns ]] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
		if [[ -n ${pids// /} ]]; then
			# shellcheck disable=SC2086
			kill -TERM $pids 2>/dev/null || true
			sleep 1
			pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
			# shellcheck disable=SC2086
			[[ -z ${pids// /} ]] || kill -KILL $pids 2>/dev/null || true
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -f "$REGISTRY/$name"
	if [[ -n $state && -d $state && $(basename "$state") == corridor-softether-"$name".* ]]; then
		if [[ ${KEEP:-0} == 1 ]]; then
			log "keeping $state"
		else
			rm -rf -- "$state"
		fi
	fi
	log "stopped $name in $(elapsed "$t0") s"
}

do_log() {
	local name=$1 state f
	state=$(readlink "$REGISTRY/$name" 2>/dev/null) || die "no server '$name'"
	cat "$state/server.log"
	if [[ -d $state/var/log/softether ]]; then
		while IFS= read -r f; do
			printf '==> %s <==\n' "${f#"$state"/}"
			cat "$f"
		done < <(find "$state/var/log/softether" -type f -name '*.log' | sort)
	fi
}

(($# == 2)) || usage
check_name "$2"
case $1 in
start) do_start "$2" ;;
stop) do_stop "$2" ;;
log) do_log "$2" ;;
*) usage ;;
esac
