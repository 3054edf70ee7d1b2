#!/usr/bin/env bash
# Command-line live demo (`make run-cli`, and `make run` when there is no
# display; with one, `make run` runs build/gui-demo.sh, the desktop app):
# starts a local SoftEther VPN Server in its own network
# namespace, brings a Corridor L2TP/IPsec tunnel up to it with `corridor
# connect` (the stages scroll by: IKE, ESP, L2TP, PPP), then pings the server's SecureNAT
# gateway through the tunnel. Ctrl-C tears everything down: tunnel, TUN
# device, server, namespaces, at any moment: while building, while
# connecting, just as "connected:" appears, or while pinging (the demo ends
# whenever the client does: a Ctrl-C the client took as its own ends the
# demo too). DEMO_SECONDS=N stops by itself after N s.
# build/demo-interrupt.sh tests that.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,DEMO_SECONDS,GOCACHE,GOPATH,GOMODCACHE "$0" "$@"

name=demo$((RANDOM % 90 + 10))
state=$(mktemp -d)
corridor_pid= ping_pid= sleep_pid=
cleanup() {
	trap - EXIT INT TERM
	trap '' INT # a second Ctrl-C does not cut the clean-up short
	[ -n "$ping_pid" ] && kill "$ping_pid" 2>/dev/null || true
	[ -n "$sleep_pid" ] && kill "$sleep_pid" 2>/dev/null || true
	if [ -n "$corridor_pid" ] && kill -0 "$corridor_pid" 2>/dev/null; then
		echo "demo: disconnecting"
		kill -TERM "$corridor_pid" 2>/dev/null || true
		for _ in $(seq 1 150); do alive "$corridor_pid" || break; sleep 0.1; done
		kill -KILL "$corridor_pid" 2>/dev/null || true
		wait "$corridor_pid" 2>/dev/null || true
	fi
	echo "demo: stopping the server and removing its namespaces"
	bash build/softether/server.sh stop "$name" >/dev/null 2>&1 || true
	rm -rf "$state"
	echo "demo: done; nothing is left behind"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

echo "demo: building corridor (command line only: go build -tags nogui, no cgo)"
CGO_ENABLED=0 go build -tags nogui -o bin/corridor-cli .
echo "demo: starting SoftEther VPN Server (namespace ${name}s)"
bash build/softether/server.sh start "$name" >"$state/env"
# shellcheck disable=SC1090
. "$state/env"
# The throwaway test server's password, handed over in a 0600 file.
umask 077
printf '%s\n' "${CORRIDOR_TEST_PASSWORD:-test-pass-1}" >"$state/password"
printf '%s\n' "${CORRIDOR_TEST_PSK:-test-psk-1}" >"$state/psk"

echo "demo: corridor connect --psk-file FILE --user ${CORRIDOR_TEST_USER:-alice} --password-file FILE $SERVER"
ip netns exec "$CLIENT_NS" bin/corridor-cli connect --psk-file "$state/psk" --user "${CORRIDOR_TEST_USER:-alice}" \
	--password-file "$state/password" "$SERVER" > >(tee "$state/out") &
corridor_pid=$!
# alive PID: the process exists and is not a zombie (an exited child stays
# one until waited for, and kill -0 succeeds on it).
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# client_ended: when the client has exited (a Ctrl-C it took, a failure),
# the demo ends with it, whatever it printed before. (Checked before
# every step: the shell may not see a Ctrl-C the client already acted on.)
client_ended() {
	alive "$corridor_pid" && return 0
	local rc=0
	wait "$corridor_pid" || rc=$?
	corridor_pid=
	echo "demo: the client has ended (exit $rc)"
	exit "$rc"
}
for _ in $(seq 1 300); do
	client_ended
	grep -q '^connected:' "$state/out" 2>/dev/null && break
	sleep 0.1
done
client_ended
grep -q '^connected:' "$state/out" || { echo "demo: no tunnel after 30 s" >&2; exit 1; }
echo "demo: pinging 192.168.30.1 (the server's SecureNAT host) through the tunnel; Ctrl-C to stop"
ip netns exec "$CLIENT_NS" ping -i 1 192.168.30.1 &
ping_pid=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
	sleep "$DEMO_SECONDS" &
	sleep_pid=$!
fi
# Until ping, the client or the timer ends (or a Ctrl-C: the trap).
wait -n "$ping_pid" "$corridor_pid" ${sleep_pid:+"$sleep_pid"} || true
client_ended
