#!/usr/bin/env bash
# Measures the desktop app (corridor gui) in a private desktop (Xvfb
# 1280x800x24, software OpenGL, a private D-Bus session and an unlocked
# throwaway gnome-keyring):
#   - process start -> main window mapped, RUNS runs (default 7): min,
#     median, max. Timed twice per run: by polling `xdotool search
#     --onlyvisible` every 20 ms, and by `xdotool search --sync` (which
#     polls only every 0.5 s, so it rounds up);
#   - resident memory (VmRSS) SETTLE seconds (default 5) after the window
#     appeared, idle (the helper runs, nothing connected);
#   - VmRSS and CPU while connected to a local SoftEther server (the helper,
#     corridor daemon, runs in the server's client namespace), after
#     CONNECTED_SECONDS (default 20) of ping traffic through the tunnel.
# Prints a table. Needs root (namespaces, TUN); uses sudo when not root.
# Cleans up every process, namespace and file it made, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,RUNS,SETTLE,CONNECTED_SECONDS,GOFLAGS "$0" "$@"

RUNS=${RUNS:-7}
SETTLE=${SETTLE:-5}
CONNECTED_SECONDS=${CONNECTED_SECONDS:-20}
for tool in Xvfb xdotool dbus-daemon gnome-keyring-daemon gdbus; do
	command -v "$tool" >/dev/null || { echo "measure-gui: needs $tool (run build/setup.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/corridor-measure-gui.XXXXXX)
name=mg$((RANDOM % 90 + 10))
xvfb_pid= bus_pid= gk_pid= daemon_pid= gui_pid= server_started= CLIENT_NS=
# kill_if COMM PID: SIGTERM to PID if it is still the process we started.
kill_if() {
	[[ ${2:-} =~ ^[0-9]+$ ]] && [ "$2" -gt 1 ] || return 0
	[[ $(cat "/proc/$2/comm" 2>/dev/null) == "$1"* ]] && kill -TERM "$2" 2>/dev/null || true
}
# alive PID: the process exists and is not a zombie (our exited children
# stay zombies until waited for, and kill -0 succeeds on them).
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
cleanup() {
	trap - EXIT INT TERM
	local p
	for p in $gui_pid $daemon_pid; do
		if alive "$p"; then
			kill -TERM "$p" 2>/dev/null || true
			for _ in $(seq 1 100); do alive "$p" || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	kill_if gnome-keyring "$gk_pid"
	kill_if dbus-daemon "$bus_pid"
	kill_if Xvfb "$xvfb_pid"
	[ -n "$server_started" ] && bash build/softether/server.sh stop "$name" >/dev/null 2>&1 || true
	[ -n "$CLIENT_NS" ] && rm -rf "/etc/netns/$CLIENT_NS"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# stats: min median max of the numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %s %s\n", v[1], m, v[NR] }'; }

echo "measure-gui: building corridor" >&2
go build -o bin/corridor .

# A private desktop.
export HOME=$work/home
mkdir -m 700 "$HOME"
export XDG_RUNTIME_DIR=$HOME XDG_CONFIG_HOME=$HOME/config XDG_DATA_HOME=$HOME/data XDG_CACHE_HOME=$HOME/cache
unset WAYLAND_DISPLAY
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp -noreset 3>"$work/display" >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 1 300); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || { echo "measure-gui: Xvfb did not start" >&2; cat "$work/xvfb.log" >&2; exit 1; }
export DISPLAY=:$(tr -d '\n' <"$work/display")
{ read -r DBUS_SESSION_BUS_ADDRESS; read -r bus_pid; } < <(dbus-daemon --session --fork --nopidfile --print-address=1 --print-pid=1)
export DBUS_SESSION_BUS_ADDRESS
eval "$(printf 'measure-keyring' | gnome-keyring-daemon --daemonize --unlock --components=secrets | sed 's/^/export /')"
gk_pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets | sed -n 's/.*uint32 \([0-9]*\).*/\1/p')

# The server, and the helper in its client namespace.
echo "measure-gui: starting SoftEther VPN Server and the helper" >&2
server_started=1
bash build/softether/server.sh start "$name" >"$work/env"
# shellcheck disable=SC1091
. "$work/env"
mkdir -p "/etc/netns/$CLIENT_NS" # the helper's DNS changes stay in the namespace
echo "nameserver 10.99.99.53" >"/etc/netns/$CLIENT_NS/resolv.conf"
export CORRIDOR_SOCKET=$work/corridor.sock CORRIDOR_CONFIG_DIR=$work/config
ip netns exec "$CLIENT_NS" bin/corridor daemon --socket "$CORRIDOR_SOCKET" --journal "$work/journal" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$CORRIDOR_SOCKET" ] && break; sleep 0.05; done
[ -S "$CORRIDOR_SOCKET" ] || { echo "measure-gui: the helper did not start" >&2; cat "$work/daemon.log" >&2; exit 1; }
(umask 077; printf '%s\n' "${CORRIDOR_TEST_PASSWORD:-test-pass-1}" >"$work/pw"; printf '%s\n' "${CORRIDOR_TEST_PSK:-test-psk-1}" >"$work/psk")
bin/corridor profile add office --server "$SERVER" --user "${CORRIDOR_TEST_USER:-alice}" \
	--password-file "$work/pw" --psk-file "$work/psk" >/dev/null
rm -f "$work/pw" "$work/psk"

# wait_window: polls every 20 ms (at most 60 s) for the visible main window.
wait_window() {
	local i
	for i in $(seq 1 3000); do
		xdotool search --onlyvisible --name '^Corridor$' >/dev/null 2>&1 && return 0
		alive "$gui_pid" || return 1
		sleep 0.02
	done
	return 1
}

stop_gui() {
	kill -TERM "$gui_pid" 2>/dev/null || true
	wait "$gui_pid" 2>/dev/null || true
	gui_pid=
}

: >"$work/poll" >"$work/sync" >"$work/rss"
for run in $(seq 1 "$RUNS"); do
	t0=$(now_ns)
	bin/corridor gui >>"$work/gui.log" 2>&1 &
	gui_pid=$!
	( timeout 60 xdotool search --sync --onlyvisible --name '^Corridor$' >/dev/null 2>&1 && ms_since "$t0" >"$work/sync.$run" ) &
	sync_pid=$!
	wait_window || { echo "measure-gui: no window in run $run" >&2; cat "$work/gui.log" >&2; exit 1; }
	poll_ms=$(ms_since "$t0")
	wait "$sync_pid" || true
	sync_ms=$(cat "$work/sync.$run" 2>/dev/null || echo NA)
	sleep "$SETTLE"
	rss=$(rss_kb "$gui_pid")
	echo "measure-gui: run $run: window after ${poll_ms} ms (xdotool --sync: ${sync_ms} ms), VmRSS ${rss} kB after ${SETTLE} s" >&2
	echo "$poll_ms" >>"$work/poll"
	echo "$sync_ms" >>"$work/sync"
	echo "$rss" >>"$work/rss"
	stop_gui
done

# Connected: the app runs, the profile comes up through the helper (as the
# app's own Connect does), pings flow for CONNECTED_SECONDS.
bin/corridor gui >>"$work/gui.log" 2>&1 &
gui_pid=$!
wait_window || { echo "measure-gui: no window" >&2; exit 1; }
sleep "$SETTLE"
bin/corridor up office --wait 60s >&2
sleep 2
rss_conn0=$(rss_kb "$gui_pid")
ticks0=$(cpu_ticks "$gui_pid")
t0=$(now_ns)
ip netns exec "$CLIENT_NS" ping -q -I corridor0 -i 0.2 -c $((CONNECTED_SECONDS * 5)) 192.168.30.1 >"$work/ping" 2>&1 || true
elapsed_ms=$(ms_since "$t0")
ticks1=$(cpu_ticks "$gui_pid")
rss_conn=$(rss_kb "$gui_pid")
hz=$(getconf CLK_TCK)
cpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$hz" -v ms="$elapsed_ms" 'BEGIN { printf "%.1f", 100 * t / hz / (ms / 1000) }')
received=$(grep -o '[0-9]* received' "$work/ping" | awk '{ print $1 }' || true)
bin/corridor down office >/dev/null
stop_gui

read -r pmin pmed pmax < <(stats <"$work/poll")
if grep -qv NA "$work/sync"; then
	read -r smin smed smax < <(grep -v NA "$work/sync" | stats)
else
	smin=NA smed=NA smax=NA
fi
read -r rmin rmed rmax < <(stats <"$work/rss")
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

cat <<EOF

corridor gui, $(nproc) cores, Xvfb 1280x800x24 (software OpenGL), $RUNS runs
| measure                                          |      min |   median |      max |
|--------------------------------------------------|---------:|---------:|---------:|
$(printf '| %-48s | %8s | %8s | %8s |' "start -> window mapped, 20 ms polling (ms)" "$pmin" "$pmed" "$pmax")
$(printf '| %-48s | %8s | %8s | %8s |' "start -> window mapped, xdotool --sync (ms)" "$smin" "$smed" "$smax")
$(printf '| %-48s | %8s | %8s | %8s |' "VmRSS idle, ${SETTLE} s after the window (MiB)" "$(mb "$rmin")" "$(mb "$rmed")" "$(mb "$rmax")")
$(printf '| %-48s | %8s | %8s | %8s |' "VmRSS connected, 2 s after up (MiB)" "" "$(mb "$rss_conn0")" "")
$(printf '| %-48s | %8s | %8s | %8s |' "VmRSS connected, after ${CONNECTED_SECONDS} s of ping (MiB)" "" "$(mb "$rss_conn")" "")
$(printf '| %-48s | %8s | %8s | %8s |' "CPU of the app while connected (% of one core)" "" "$cpu" "")
(pings through the tunnel: ${received:-0} of $((CONNECTED_SECONDS * 5)) answered)
EOF
