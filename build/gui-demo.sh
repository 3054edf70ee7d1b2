#!/usr/bin/env bash
# Live demo of the desktop app (what `make run` runs): starts a local
# SoftEther VPN Server in its own network namespaces, the Corridor helper
# (corridor daemon) in the server's client namespace, and the Corridor app
# on your display. The app offers a "Local demo" profile for that server:
# add it, then Connect; the tunnel, its stages and its traffic show in
# the window and in the tray.
#
# Quit in the tray menu, Ctrl-C here, or DEMO_SECONDS=N (stops by itself)
# tears everything down: app, tunnel, helper, server, namespaces, and the
# demo profile with its keychain entries (the demo uses a throwaway
# profile folder, so your own profiles are neither shown nor touched).
# The clean-up runs in the environment the demo set up (the app's session
# bus, never a new one: a keychain call without a bus would autolaunch a
# bus and a keyring that may ask to be unlocked on your display), every
# step bounded in time; with a private bus (no session bus of yours) the
# demo's keyring is a throwaway one in the demo's folder and goes with it.
#
# The server and the helper need root; the app runs as you (your display,
# your keychain, your tray): run this as yourself, it uses sudo for the
# rest (with sudo, SUDO_USER is who the app runs as). Without a display
# (neither DISPLAY nor WAYLAND_DISPLAY) it runs the command-line demo,
# build/demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
	echo "gui-demo: no display (DISPLAY and WAYLAND_DISPLAY are unset): running the command-line demo instead" >&2
	exec ./build/demo.sh "$@"
fi

built=
if [ "${1:-}" = --built ]; then
	built=1
	shift
fi
if [ "$(id -u)" -ne 0 ]; then
	# Build as yourself (your Go cache), then become root for the server
	# and the helper; the app runs as you again.
	echo "gui-demo: building corridor"
	go build -o bin/corridor .
	exec sudo --preserve-env=PATH,DISPLAY,WAYLAND_DISPLAY,XAUTHORITY,XDG_RUNTIME_DIR,DBUS_SESSION_BUS_ADDRESS,LANG,DEMO_SECONDS \
		"$0" --built "$@"
fi
if [ -z "$built" ]; then
	echo "gui-demo: building corridor"
	go build -o bin/corridor .
fi

# Who the app runs as, and that user's session.
user=${SUDO_USER:-root}
[ -n "$user" ] || user=root
uid=$(id -u "$user")
group=$(id -gn "$user")
home=$(getent passwd "$user" | cut -d: -f6)
runtime_dir=${XDG_RUNTIME_DIR:-}
if [ -z "$runtime_dir" ] && [ -d "/run/user/$uid" ]; then
	runtime_dir=/run/user/$uid
fi
bus=${DBUS_SESSION_BUS_ADDRESS:-}
if [ -z "$bus" ] && [ -n "$runtime_dir" ] && [ -S "$runtime_dir/bus" ]; then
	bus=unix:path=$runtime_dir/bus
fi

name=gd$((RANDOM % 90 + 10))
state=$(mktemp -d /tmp/corridor-gui-demo.XXXXXX)
chmod 755 "$state" # the app (as $user) reaches the helper's socket in here
userdir=$state/user # the app's side: demo secrets and the profile folder
mkdir -m 700 "$userdir"
chown "$user:$group" "$userdir"
# as_user CMD...: runs CMD as $user with the app's environment only. The
# app itself is started with "${run_as[@]}" directly, not through this
# function, so that $! is the app's process and not a subshell's.
run_as_set() {
	if [ "$user" = root ]; then
		run_as=(env -i "${app_env[@]}")
	else
		run_as=(runuser -u "$user" -- env -i "${app_env[@]}")
	fi
}
as_user() {
	run_as_set
	"${run_as[@]}" "$@"
}

app_pid= daemon_pid= server_started= CLIENT_NS= app_env=() run_as=() private_bus=
# Every process of the app's session carries this in its environment (the
# app, and with a private bus also its dbus-daemon, gnome-keyring-daemon
# and any prompter they start): the clean-up ends whatever is left of them.
tag=CORRIDOR_DEMO_SESSION=$state
# alive PID: the process exists and is not a zombie (our exited children
# stay zombies until waited for, and kill -0 succeeds on them).
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# tagged: the processes whose environment holds $tag.
tagged() {
	grep -lzxF "$tag" /proc/[0-9]*/environ 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | grep -vx "$$"
}
# end_tagged: ends what is left of the app's session (SIGTERM, then
# SIGKILL after 3 s).
end_tagged() {
	local pids
	pids=$(tagged)
	[ -n "$pids" ] || return 0
	echo "gui-demo: ending what is left of the app's session: $(for p in $pids; do cat "/proc/$p/comm" 2>/dev/null; done | sort -u | tr '\n' ' ')"
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	for _ in $(seq 1 30); do [ -n "$(tagged)" ] || return 0; sleep 0.1; done
	# shellcheck disable=SC2046
	kill -KILL $(tagged) 2>/dev/null
}
cleanup() {
	trap - EXIT INT TERM
	trap '' INT # a second Ctrl-C does not cut the clean-up short
	set +e
	if [ -n "$app_pid" ] && alive "$app_pid"; then
		echo "gui-demo: closing the app"
		# runuser (or dbus-run-session) waits for the app: end the app
		# itself, then its parent follows.
		kids=$(pgrep -P "$app_pid")
		kill -TERM ${kids:-$app_pid} 2>/dev/null
		for _ in $(seq 1 100); do alive "$app_pid" || break; sleep 0.1; done
		alive "$app_pid" && kill -TERM "$app_pid" 2>/dev/null && sleep 3
		kill -KILL "$app_pid" 2>/dev/null
	fi
	[ -n "$app_pid" ] && wait "$app_pid" 2>/dev/null
	end_tagged
	if [ -n "$daemon_pid" ] && alive "$daemon_pid"; then
		echo "gui-demo: stopping the helper (it disconnects)"
		kill -TERM "$daemon_pid" 2>/dev/null
		for _ in $(seq 1 200); do alive "$daemon_pid" || break; sleep 0.1; done
		kill -KILL "$daemon_pid" 2>/dev/null
	fi
	# The demo's profiles and their keychain entries: in your keychain only
	# through the session bus the app used (never without one: that would
	# autolaunch a bus and a keyring that may prompt), each call bounded.
	# With a private bus the keyring was the demo's own, in $userdir.
	if [ -n "$bus" ] && [ -z "$private_bus" ] && [ ${#app_env[@]} -gt 0 ] && [ -d "$userdir/config/profiles" ]; then
		for f in "$userdir"/config/profiles/*.toml; do
			[ -e "$f" ] || continue
			if as_user timeout -k 2 10 bin/corridor profile rm "$(basename "$f" .toml)" >/dev/null 2>&1; then
				echo "gui-demo: removed the demo profile \"$(basename "$f" .toml)\" and its keychain entries"
			else
				echo "gui-demo: could not remove the keychain entries of the demo profile \"$(basename "$f" .toml)\" (keychain locked or not answering); remove them with your keyring manager (Corridor, profile $(basename "$f" .toml))" >&2
			fi
		done
		end_tagged
	fi
	if [ -n "$server_started" ]; then
		echo "gui-demo: stopping the server and removing its namespaces"
		timeout -k 5 60 bash build/softether/server.sh stop "$name" >/dev/null 2>&1
	fi
	[ -n "$CLIENT_NS" ] && rm -rf "/etc/netns/$CLIENT_NS"
	rm -rf "$state"
	echo "gui-demo: done; nothing is left behind"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

echo "gui-demo: starting SoftEther VPN Server (namespace ${name}s)"
server_started=1
bash build/softether/server.sh start "$name" >"$state/env"
# shellcheck disable=SC1091
. "$state/env"
# ip netns exec bind-mounts this over /etc/resolv.conf: the helper's DNS
# changes stay in the client namespace.
mkdir -p "/etc/netns/$CLIENT_NS"
cp /etc/resolv.conf "/etc/netns/$CLIENT_NS/resolv.conf" 2>/dev/null || echo "nameserver 127.0.0.1" >"/etc/netns/$CLIENT_NS/resolv.conf"

socket=$state/corridor.sock
echo "gui-demo: starting the helper in namespace $CLIENT_NS (socket $socket, group $group)"
ip netns exec "$CLIENT_NS" bin/corridor daemon --socket "$socket" --group "$group" --journal "$state/journal" \
	2> >(sed -u 's/^/helper: /' >&2) &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { echo "gui-demo: the helper did not start" >&2; exit 1; }

# The throwaway server's credentials, for the app's "Local demo" profile,
# in files only the app's user can read.
umask 077
printf '%s\n' "${CORRIDOR_TEST_PASSWORD:-test-pass-1}" >"$userdir/password"
printf '%s\n' "${CORRIDOR_TEST_PSK:-test-psk-1}" >"$userdir/psk"
chown "$user:$group" "$userdir/password" "$userdir/psk"

app_env=("$tag" HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin LANG="${LANG:-C.UTF-8}"
	CORRIDOR_SOCKET="$socket" CORRIDOR_CONFIG_DIR="$userdir/config"
	CORRIDOR_DEMO_SERVER="$SERVER" CORRIDOR_DEMO_USER="${CORRIDOR_TEST_USER:-alice}"
	CORRIDOR_DEMO_PASSWORD_FILE="$userdir/password" CORRIDOR_DEMO_PSK_FILE="$userdir/psk")
for v in DISPLAY WAYLAND_DISPLAY XAUTHORITY; do
	[ -n "${!v:-}" ] && app_env+=("$v=${!v}")
done
if [ -z "$runtime_dir" ]; then # the keyring and Fyne want one
	runtime_dir=$userdir/run
	mkdir -m 700 "$runtime_dir"
	chown "$user:$group" "$runtime_dir"
fi
app_env+=(XDG_RUNTIME_DIR="$runtime_dir")

cat <<EOF

gui-demo: the Corridor app opens now (as $user): click "Add the Local demo profile", then Connect.
gui-demo: its tray icon has the same menu. Quit there, or Ctrl-C here, ends the demo.

EOF
if [ -n "$bus" ]; then
	app_env+=(DBUS_SESSION_BUS_ADDRESS="$bus")
	run_as_set
	"${run_as[@]}" bin/corridor gui &
else
	# No session bus (no keychain, no tray host): a private one with a
	# throwaway unlocked keyring, just for the demo: its files in the
	# demo's folder (XDG_DATA_HOME), not among yours.
	echo "gui-demo: no D-Bus session bus for $user: the app gets a private one with a throwaway keyring (no tray icon)" >&2
	private_bus=1
	mkdir -m 700 "$userdir/data"
	chown "$user:$group" "$userdir/data"
	app_env+=(XDG_DATA_HOME="$userdir/data")
	run_as_set
	"${run_as[@]}" dbus-run-session -- sh -c 'eval "$(printf demo | gnome-keyring-daemon --daemonize --unlock --components=secrets | sed "s/^/export /")"; exec bin/corridor gui' &
fi
app_pid=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
	for _ in $(seq 1 "$((DEMO_SECONDS * 10))"); do alive "$app_pid" || break; sleep 0.1; done
else
	wait "$app_pid" || true
fi
