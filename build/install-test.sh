#!/usr/bin/env bash
# Installs Corridor's .deb the way a new user would, into a fresh minimal
# Debian 12 root made by mmdebstrap from Debian's archive, and checks it:
#   1. lintian on the .deb: no errors (warnings are listed)
#   2. apt-get install ./corridor_*.deb in the root (pulls its dependencies,
#      iproute2 among them: the helper runs ip)
#   3. the postinst made the corridor group and enabled corridor.socket
#   4. systemd-analyze verify and security --offline on the installed units
#   5. the installed helper started as corridor.socket starts it (the socket
#      passed by systemd-socket-activate) answers `corridor status` run by
#      an unprivileged member of the corridor group, and refuses a user
#      outside it
#   6. a VPN through the installed helper to a real SoftEther server
#      (build/softether/server.sh, the Go e2e tests' fixture): the root's
#      helper runs chrooted in the server's client network namespace with
#      the host's /dev/net/tun bound into the root, started as the unit
#      starts it (its ExecStart, on its ListenStream socket passed by
#      systemd-socket-activate with the socket unit's group and mode, with
#      its CapabilityBoundingSet, NoNewPrivileges and UMask applied by
#      setpriv and umask); a new user (useradd, then usermod -aG corridor)
#      runs `corridor profile add --ask-password --ask-psk --full-tunnel`
#      (no keychain in the root: no secret is stored, none lands in a
#      file), `corridor up --password-file F --psk-file F`, `status --json`
#      (connected, an address), a ping crosses the tunnel, `corridor down`;
#      then the TUN device is gone and links, routes and the root's
#      resolv.conf are as before, and the helper's journal is empty
#   7. apt-get purge corridor runs the prerm/postrm cleanly
# What a chroot cannot do: systemd does not run as PID 1 there, so
# corridor.socket is enabled but not started (systemd-socket-activate makes
# the socket instead), Type=notify's READY=1 has no listener
# (TestDaemonSocketActivation checks it under systemd-socket-activate), and
# the unit's sandboxing (ProtectSystem, DeviceAllow, SystemCallFilter, ...)
# is not applied: only its capability bounding set and umask are.
# Needs root, network namespaces, /dev/net/tun and Debian's archive; part
# of `make test` (after the unit tests), and fails, not skips, without
# them. Took 54-86 s here (mostly downloading; the VPN part ~5 s).
# Usage: build/install-test.sh [DEB]
# (default: the newest build/out/corridor_*_amd64.deb; make packages).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "install-test: FAILED: needs root (mmdebstrap, chroot, network namespaces); run make test as root, as CI does" >&2
	exit 1
fi
if [ ! -c /dev/net/tun ]; then
	echo "install-test: FAILED: no /dev/net/tun on this machine (modprobe tun)" >&2
	exit 1
fi
missing=()
for p in mmdebstrap lintian; do
	command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-test: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
fi

deb=${1:-$(ls -t build/out/corridor_*_amd64.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "install-test: no .deb; run make packages first" >&2; exit 1; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(date +%s.%N)

echo "== lintian $deb" >&2
lintian --fail-on error "$deb" 2>&1 | { grep -v "running with root privileges" || true; } >&2 || { echo "install-test: lintian found errors" >&2; exit 1; }
echo "   (lintian: no errors, $(secs "$t0") s)" >&2

root=$(mktemp -d /var/tmp/corridor-install-test.XXXXXX)
stage=$(mktemp -d /var/tmp/corridor-install-stage.XXXXXX)
server_name=
cleanup() {
	local rc=$?
	if [ -n "$server_name" ]; then
		if [ "$rc" -ne 0 ] && [ -e "/run/corridor-test/$server_name" ]; then
			echo "install-test: the SoftEther server's log (last 30 lines):" >&2
			bash build/softether/server.sh log "$server_name" 2>&1 | tail -n 30 | sed 's/^/   server: /' >&2 || true
		fi
		bash build/softether/server.sh stop "$server_name" 2>/dev/null || true
	fi
	# mmdebstrap unmounts what it mounted in the root; if it was killed
	# before it could, unmount here: never delete through /proc, /sys or
	# /dev of the host.
	if [ -d "$root" ]; then
		awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
			while read -r m; do umount -l "$m" || true; done
		rm -rf --one-file-system "$root"
	fi
	rm -rf "$stage"
	if [ "$rc" -ne 0 ]; then
		echo "install-test: FAILED (exit $rc)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$deb" "$stage/corridor.deb"

# The real SoftEther server of the e2e tests, in its own namespaces; its
# client namespace is where the chrooted helper will run.
t1=$(date +%s.%N)
for try in 1 2; do
	while :; do
		server_name=it$(od -An -N2 -tx2 /dev/urandom | tr -d ' ')
		[ ! -e "/run/netns/${server_name}s" ] && [ ! -e "/run/netns/${server_name}c" ] && [ ! -e "/run/corridor-test/$server_name" ] && break
	done
	if bash build/softether/server.sh start "$server_name" >"$stage/server.env" 2>"$stage/server.err"; then
		break
	fi
	bash build/softether/server.sh stop "$server_name" 2>/dev/null || true
	# This vpnserver build sometimes dies while vpncmd configures it (as in
	# build/softether/softether.go): the fixture failing, tried once more.
	if [ "$try" = 1 ] && grep -q "Segmentation fault" "$stage/server.err"; then
		echo "install-test: vpnserver crashed while starting; starting a fresh one" >&2
		continue
	fi
	cat "$stage/server.err" >&2
	echo "install-test: the SoftEther server did not start" >&2
	exit 1
done
server_addr=$(sed -n 's/^SERVER=//p' "$stage/server.env")
client_ns=$(sed -n 's/^CLIENT_NS=//p' "$stage/server.env")
echo "== SoftEther VPN Server $server_name at $server_addr, client namespace $client_ns ($(secs "$t1") s)" >&2
# The server's throwaway test credentials (server.sh's defaults), for the
# root's user: files only (mode 0600), never in an argument.
(
	umask 077
	printf '%s\n' "${CORRIDOR_TEST_PASSWORD:-test-pass-1}" >"$stage/vpn-password"
	printf '%s\n' "${CORRIDOR_TEST_PSK:-test-psk-1}" >"$stage/vpn-psk"
)

# Steps 2-5 and 7 run inside the root, as customize hooks, while mmdebstrap
# has /proc, /sys and /dev mounted there; step 6 runs from the host (it
# needs the client namespace and the host's /dev/net/tun).
cat >"$stage/check.sh" <<'CHECK'
set -eu
echo "== apt-get install ./corridor.deb"
cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./corridor.deb | tail -n 3
echo "== postinst: group, socket enabled"
getent group corridor
test -L /etc/systemd/system/sockets.target.wants/corridor.socket
ls -l /etc/systemd/system/sockets.target.wants/corridor.socket
echo "== systemd-analyze verify"
systemd-analyze verify /usr/lib/systemd/system/corridor.socket /usr/lib/systemd/system/corridor.service
echo "   (no complaints)"
echo "== systemd-analyze security --offline=yes"
systemd-analyze security --offline=yes /usr/lib/systemd/system/corridor.service | tail -n 1
echo "== the helper on a socket passed as systemd passes it"
useradd -m -G corridor alice
useradd -m bob
mkdir -p /run/corridor
systemd-socket-activate -l /run/corridor/corridor.sock /usr/libexec/corridor/corridor-helper daemon --group corridor --journal /var/lib/corridor/journal 2>/tmp/helper.log &
helper=$!
for i in $(seq 100); do [ -S /run/corridor/corridor.sock ] && break; sleep 0.1; done
chgrp corridor /run/corridor/corridor.sock && chmod 0660 /run/corridor/corridor.sock
runuser -u alice -- /usr/bin/corridor status
if runuser -u bob -- /usr/bin/corridor status 2>/tmp/bob.err; then
	echo "bob (not in the group) was let in"; exit 1
fi
echo "bob (not in the group): $(head -n 1 /tmp/bob.err)"
grep -q "not allowed to use the Corridor helper" /tmp/bob.err
kill -TERM "$helper"; wait "$helper" || true
sed 's/^/   helper: /' /tmp/helper.log
# RemoveOnStop=yes: systemd removes the socket when the socket unit stops.
rm -f /run/corridor/corridor.sock
CHECK

cat >"$stage/vpn.sh" <<'VPN'
# Step 6, run on the host: vpn.sh ROOT CLIENT_NS SERVER VPN_USER STAGE
set -euo pipefail
root=$1 cns=$2 server=$3 vpnuser=$4 stage=$5
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(date +%s.%N)
unitdir=$root/usr/lib/systemd/system
key() { sed -n "s/^$1=//p" "$unitdir/$2"; }
execstart=$(key ExecStart corridor.service)
umask=$(key UMask corridor.service)
caps=$(key CapabilityBoundingSet corridor.service)
sock=$(key ListenStream corridor.socket)
sockgroup=$(key SocketGroup corridor.socket)
sockmode=$(key SocketMode corridor.socket)
bset=-all
for c in $caps; do c=${c#CAP_}; bset+=",+${c,,}"; done
[ -n "$execstart" ] && [ -n "$sock" ] && [ -n "$sockgroup" ] && [ -n "$sockmode" ] && [ -n "$umask" ] ||
	{ echo "vpn: the installed units lack ExecStart, UMask, ListenStream, SocketGroup or SocketMode"; exit 1; }
user=carol
home=/home/$user
# The user's commands: in the client namespace like every process of that
# "machine", with a clean environment (no keychain, no session bus).
as_user() {
	timeout 120 ip netns exec "$cns" chroot "$root" runuser -u "$user" -- \
		env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/bin:/bin LANG=C.UTF-8 /usr/bin/corridor "$@"
}
state() {
	ip -n "$cns" -o link show | awk -F': ' '{ print $2 }'
	ip -n "$cns" -4 route show table all
	ip -n "$cns" -6 route show table all
	cat "$root/etc/resolv.conf"
}

helper=
stop_helper() {
	[ -n "$helper" ] || return 0
	kill -TERM "$helper" 2>/dev/null || true
	# It ends its sessions first (TimeoutStopSec=30 in the unit).
	(sleep 30; kill -KILL "$helper" 2>/dev/null) &
	local watchdog=$!
	local rc=0
	wait "$helper" || rc=$?
	kill "$watchdog" 2>/dev/null || true
	wait "$watchdog" 2>/dev/null || true
	helper=
	return "$rc"
}
cleanup() {
	local rc=$?
	stop_helper || true
	if [ "$rc" -ne 0 ]; then
		echo "vpn: FAILED (exit $rc); the helper's log:"
		sed 's/^/   helper: /' "$stage/helper.log" 2>/dev/null || true
	fi
	rm -f "$root/dev/net/tun"
	rmdir "$root/dev/net" 2>/dev/null || true
}
trap cleanup EXIT

echo "== a VPN through the installed helper: SoftEther at $server, client namespace $cns"
echo "   new user $user: useradd, usermod -aG corridor"
chroot "$root" useradd -m "$user"
chroot "$root" usermod -aG corridor "$user"
chroot "$root" id "$user"
install -m 0600 "$stage/vpn-password" "$root$home/vpn-password"
install -m 0600 "$stage/vpn-psk" "$root$home/vpn-psk"
chroot "$root" chown "$user:" "$home/vpn-password" "$home/vpn-psk"

before=$(state)
# As systemd prepares the unit: RuntimeDirectory=corridor (0755),
# StateDirectory=corridor (0700); DeviceAllow=/dev/net/tun: the host's
# device, bound over an empty file in the root inside the helper's own
# mount namespace (ip netns exec makes one), gone when the helper ends.
install -d -m 0755 "$root/run/corridor"
install -d -m 0700 "$root/var/lib/corridor"
mkdir -p "$root/dev/net"
: >"$root/dev/net/tun"
echo "   helper: $execstart on $sock (systemd-socket-activate; $sockgroup, $sockmode), bounding set $bset, umask $umask, no_new_privs"
# ip netns exec, sh, chroot, setpriv, env and systemd-socket-activate all
# exec in place: $! is the helper itself.
# shellcheck disable=SC2016
ip netns exec "$cns" sh -c '
	mount --bind /dev/net/tun "$1/dev/net/tun"
	umask "$2"
	exec chroot "$1" setpriv --bounding-set "$3" --inh-caps -all --no-new-privs \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin STATE_DIRECTORY=/var/lib/corridor RUNTIME_DIRECTORY=/run/corridor \
		systemd-socket-activate -l "$4" $5' sh "$root" "$umask" "$bset" "$sock" "$execstart" >"$stage/helper.log" 2>&1 &
helper=$!
for _ in $(seq 100); do [ -S "$root$sock" ] && break; sleep 0.1; done
[ -S "$root$sock" ] || { echo "vpn: no socket $sock"; exit 1; }
chroot "$root" chgrp "$sockgroup" "$sock"
chroot "$root" chmod "$sockmode" "$sock"
chroot "$root" ls -l "$sock" | sed 's/^/   /'

echo "\$ corridor profile add office --server $server --user $vpnuser --ask-password --ask-psk --full-tunnel"
as_user profile add office --server "$server" --user "$vpnuser" --ask-password --ask-psk --full-tunnel
echo "\$ corridor profile show office | grep -E '^# (password|psk|l2tp-secret):'"
as_user profile show office | { grep -E '^# (password|psk|l2tp-secret):' || true; } | sed 's/^/   /'
# --ask-password/--ask-psk: neither secret is stored anywhere in the home.
if grep -rlF -e "$(cat "$stage/vpn-password")" -e "$(cat "$stage/vpn-psk")" --exclude=vpn-password --exclude=vpn-psk "$root$home"; then
	echo "vpn: a secret was stored in the files above"; exit 1
fi
echo "   (no secret in $home but the two files given to up: $(cd "$root$home" && find .config -type f 2>/dev/null | tr '\n' ' '))"
t1=$(date +%s.%N)
echo "\$ corridor up office --password-file ~/vpn-password --psk-file ~/vpn-psk --wait 60s"
as_user up office --password-file "$home/vpn-password" --psk-file "$home/vpn-psk" --wait 60s
echo "   (up in $(secs "$t1") s)"
echo "\$ corridor status --json"
status=$(as_user status --json)
echo "$status"
grep -Eq '"state": *"connected"' <<<"$status" || { echo "vpn: status is not connected"; exit 1; }
address=$(grep -Eo '"address": *"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"' <<<"$status" | grep -Eo '[0-9.]{7,}') ||
	{ echo "vpn: no address in status"; exit 1; }
iface=$(grep -Eo '"interface": *"[^"]+"' <<<"$status" | sed 's/.*"\([^"]*\)"$/\1/')
[ -n "$iface" ] || { echo "vpn: no interface in status"; exit 1; }
echo "   connected: $iface $address"
# systemd-socket-activate exec'd the helper in its own process.
echo "   helper $(tr '\0' ' ' </proc/$helper/cmdline | cut -c1-60): $(grep VmRSS /proc/$helper/status | tr -s ' \t' ' ') resident while connected"
ip -n "$cns" -br addr show dev "$iface" | sed 's/^/   /'
ip -n "$cns" -4 route show | sed 's/^/   route: /'
grep '^nameserver' "$root/etc/resolv.conf" | sed 's/^/   resolv.conf: /'
echo "\$ ping -c 3 192.168.30.1 (SoftEther's SecureNAT, through the tunnel)"
ip netns exec "$cns" ping -n -c 3 -i 0.3 -W 2 192.168.30.1 | tail -n 2 | sed 's/^/   /'
echo "\$ corridor down office"
as_user down office
gone=0
for _ in $(seq 50); do ip -n "$cns" link show dev "$iface" >/dev/null 2>&1 || { gone=1; break; }; sleep 0.1; done
[ "$gone" = 1 ] || { echo "vpn: $iface still there after down"; exit 1; }
after=$(state)
if [ "$after" != "$before" ]; then
	echo "vpn: links, routes or resolv.conf differ after down"
	diff <(echo "$before") <(echo "$after") || true
	exit 1
fi
echo "   $iface gone; links, routes (IPv4, IPv6, all tables) and resolv.conf as before"
stop_helper || { echo "vpn: the helper exited with an error on SIGTERM"; exit 1; }
if grep -qF -e "$(cat "$stage/vpn-password")" -e "$(cat "$stage/vpn-psk")" "$stage/helper.log"; then
	echo "vpn: a secret in the helper's log"; exit 1
fi
if [ -n "$(ls -A "$root/var/lib/corridor/journal" 2>/dev/null)" ]; then
	echo "vpn: the helper's journal is not empty:"; ls -l "$root/var/lib/corridor/journal"; exit 1
fi
echo "   helper stopped (SIGTERM); its journal is empty"
sed 's/^/   helper: /' "$stage/helper.log"
echo "   (VPN part: $(secs "$t0") s)"
VPN

cat >"$stage/purge.sh" <<'PURGE'
set -eu
echo "== apt-get purge corridor"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq corridor >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
test ! -e /usr/bin/corridor
test ! -e /etc/systemd/system/sockets.target.wants/corridor.socket
echo "   (removed; socket disabled)"
PURGE

echo "== mmdebstrap bookworm (minbase + systemd) into $root" >&2
mmdebstrap --quiet --variant=minbase --include=systemd bookworm "$root" http://deb.debian.org/debian \
	--customize-hook="copy-in $stage/corridor.deb $stage/check.sh $stage/purge.sh /tmp" \
	--customize-hook='chroot "$1" sh /tmp/check.sh' \
	--customize-hook="bash $stage/vpn.sh \"\$1\" $client_ns $server_addr ${CORRIDOR_TEST_USER:-alice} $stage" \
	--customize-hook='chroot "$1" sh /tmp/purge.sh' >&2
echo "install-test: ok ($(secs "$t0") s)" >&2
