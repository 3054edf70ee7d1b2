#!/usr/bin/env bash
# Ctrl-C test of the command-line demo (build/demo.sh, what `make run-cli`
# runs): starts the demo once per moment, sends SIGINT to its whole process
# group (as Ctrl-C in a terminal does) at that moment, and checks that the
# demo ends within a bound and leaves nothing behind: no network namespace,
# veth or TUN device, no SoftEther server, client, ping or its state folder.
#
#   build/demo-interrupt.sh [MOMENT...]
#
# Moments: building, starting (the server), connecting (the client's
# stages), connected+0, connected+20, connected+50, connected+150 (ms after
# the "connected:" line), pinging (2 s into the pings). Default: all.
# DEMO_SCRIPT=path tests another copy of the demo (e.g. an older one).
# SIGINT_IGNORED=1 starts the demo with SIGINT ignored, as a background
# job of a non-interactive shell is (a test harness's, not a terminal's):
# the shell then cannot act on Ctrl-C at all, only the client and ping do;
# the demo must still end with the client (at and after "connected:").
#
# Moment "gui" (not in the default list) tests the app demo
# (build/gui-demo.sh) in Xvfb with no session bus, so that it gives the app
# a private bus and keyring: once the app runs, a profile is saved in that
# keyring (as the app does when a password is edited), then Ctrl-C; the
# demo must end within 90 s and leave no namespace, helper, app, bus,
# keyring or prompter process. Needs Xvfb, dbus-run-session and
# gnome-keyring-daemon (else skipped); the first build of the app takes
# minutes. GUI_DEMO_SCRIPT=path tests another copy of the app demo.
#
# Needs root (the demo starts SoftEther in namespaces); takes a few
# minutes. Not part of `make test`: it starts a real server per moment.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo-interrupt: needs root (the demo starts SoftEther in network namespaces)" >&2; exit 2; }
demo=${DEMO_SCRIPT:-build/demo.sh}
moments=("$@")
[ ${#moments[@]} -gt 0 ] || moments=(building starting connecting connected+0 connected+20 connected+50 connected+150 pinging)
logs=$(mktemp -d /tmp/demo-interrupt.XXXXXX)
failures=0

# snapshot: the processes a demo run may leave behind (sorted for comm).
snapshot() { { pgrep -x vpnserver; pgrep -x corridor-cli; pgrep -x ping; pgrep -x tee; } | sort; }
now_ms() { date +%s%3N; }

# wait_line LOG REGEX TIMEOUT_S: until a line of LOG matches.
wait_line() {
	local deadline=$(($(now_ms) + $3 * 1000))
	until grep -qE "$2" "$1" 2>/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.005
	done
}

# gui_snapshot: processes the app demo may leave behind.
gui_snapshot() {
	{ for c in vpnserver corridor dbus-daemon gnome-keyring-d gcr-prompter dbus-launch; do pgrep -x "$c"; done; } | sort
}

gui_moment() {
	local t
	for t in Xvfb dbus-run-session gnome-keyring-daemon; do
		command -v "$t" >/dev/null || { echo "skip gui: $t is not installed"; return 0; }
	done
	local log=$logs/gui.log n before xpid pgid app= env_file=$logs/gui.env left=() ended= took sent
	n=$((70 + RANDOM % 20))
	while [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
	Xvfb ":$n" -nolisten tcp -screen 0 1280x800x24 >/dev/null 2>&1 &
	xpid=$!
	before=$(gui_snapshot)
	# The app's user (root here) keeps their own keyring files: the demo's
	# keyring must not be created among them.
	local keyrings=$HOME/.local/share/keyrings keyrings_before
	keyrings_before=$(ls -l --time-style=+%s.%N "$keyrings" 2>/dev/null)
	setsid env --default-signal=INT -u DBUS_SESSION_BUS_ADDRESS -u XDG_RUNTIME_DIR -u WAYLAND_DISPLAY DISPLAY=":$n" \
		bash "${GUI_DEMO_SCRIPT:-build/gui-demo.sh}" >"$log" 2>&1 </dev/null &
	pgid=$!
	if ! wait_line "$log" 'the Corridor app opens now' 900; then
		echo "FAIL gui: the app did not start within 15 min (log: $log)"
		failures=$((failures + 1))
	fi
	# The app, found by the demo's profile folder in its environment.
	for _ in $(seq 1 100); do
		for p in $(pgrep -x corridor); do
			if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -q '^CORRIDOR_CONFIG_DIR=/tmp/corridor-gui-demo\.' &&
				tr '\0' '\n' <"/proc/$p/environ" | grep -q '^DBUS_SESSION_BUS_ADDRESS='; then
				app=$p
			fi
		done
		[ -n "$app" ] && break
		sleep 0.1
	done
	if [ -n "$app" ]; then
		tr '\0' '\n' <"/proc/$app/environ" | grep -E '^(DBUS_SESSION_BUS_ADDRESS|CORRIDOR_CONFIG_DIR|HOME|XDG_RUNTIME_DIR|XDG_DATA_HOME|CORRIDOR_DEMO_SESSION)=' >"$env_file"
		printf 'pw-new\n' >"$logs/pw"
		printf 'test-psk-1\n' >"$logs/psk"
		mapfile -t appenv <"$env_file"
		if env -i "${appenv[@]}" PATH=/usr/bin:/bin timeout 20 bin/corridor profile add "Local demo" --server 10.99.0.1 \
			--user alice --password-file "$logs/pw" --psk-file "$logs/psk" >>"$log" 2>&1; then
			echo "gui: saved the profile \"Local demo\" with its secrets in the app's private keyring"
		else
			echo "FAIL gui: could not save a profile in the app's session (log: $log)"
			failures=$((failures + 1))
		fi
	else
		echo "FAIL gui: no app process with a session bus (log: $log)"
		failures=$((failures + 1))
	fi
	sleep 1
	sent=$(now_ms)
	kill -INT -- "-$pgid" 2>/dev/null
	for _ in $(seq 1 900); do # 90 s
		kill -0 "$pgid" 2>/dev/null || { ended=1; break; }
		sleep 0.1
	done
	took=$(($(now_ms) - sent))
	if [ -z "$ended" ]; then
		echo "FAIL gui: the demo still runs 90 s after Ctrl-C (log: $log); ending it with SIGTERM"
		kill -TERM -- "-$pgid" 2>/dev/null
		sleep 30
		kill -KILL -- "-$pgid" 2>/dev/null
		failures=$((failures + 1))
	fi
	wait "$pgid" 2>/dev/null
	for _ in $(seq 1 50); do
		[ -z "$(comm -13 <(echo "$before") <(gui_snapshot))" ] && break
		sleep 0.1
	done
	for pid in $(comm -13 <(echo "$before") <(gui_snapshot)); do
		[ -e "/proc/$pid" ] || continue
		grep -qE '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null && continue
		comm=$(cat "/proc/$pid/comm" 2>/dev/null)
		if [ "$comm" = vpnserver ] && [ -n "$(ip netns identify "$pid" 2>/dev/null)" ] &&
			! ip netns identify "$pid" | grep -qE '^gd[0-9]+s$'; then
			continue # another test's server, in its own namespace
		fi
		left+=("process $pid ($comm: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))")
	done
	local name
	name=$(sed -n 's/^gui-demo: starting SoftEther VPN Server (namespace \(gd[0-9]*\)s)$/\1/p' "$log")
	if [ -n "$name" ] && ip netns list | grep -qE "^${name}[sc]( |$)"; then
		left+=("namespace ${name}s/${name}c")
	fi
	compgen -G "/tmp/corridor-gui-demo.*" >/dev/null && left+=("$(echo /tmp/corridor-gui-demo.*)")
	[ "$(ls -l --time-style=+%s.%N "$keyrings" 2>/dev/null)" = "$keyrings_before" ] || left+=("changes in $keyrings")
	kill "$xpid" 2>/dev/null
	wait "$xpid" 2>/dev/null
	if [ ${#left[@]} -gt 0 ]; then
		echo "FAIL gui: left behind: ${left[*]} (log: $log)"
		failures=$((failures + 1))
	elif [ -n "$ended" ]; then
		echo "ok   gui: ended ${took} ms after Ctrl-C, nothing left; clean-up said: $(grep -E '^gui-demo: (ending|removed|closing|stopping)' "$log" | tr '\n' ';')"
	fi
}

for moment in "${moments[@]}"; do
	if [ "$moment" = gui ]; then
		gui_moment
		continue
	fi
	log=$logs/$moment.log
	before=$(snapshot)
	# setsid: the demo in a process group of its own, like a terminal's
	# foreground job; its pid is the group's id. A background job of this
	# (non-interactive) shell starts with SIGINT ignored, which a
	# terminal's job does not: env --default-signal undoes that.
	if [ -n "${SIGINT_IGNORED:-}" ]; then
		setsid bash "$demo" >"$log" 2>&1 </dev/null &
	else
		setsid env --default-signal=INT bash "$demo" >"$log" 2>&1 </dev/null &
	fi
	pgid=$!
	case $moment in
	building) trigger='^demo: building' delay=0.3 ;;
	starting) trigger='^demo: starting SoftEther' delay=1 ;;
	connecting) trigger='^demo: corridor connect' delay=0.5 ;;
	connected+*) trigger='^connected:' delay=$(awk -v ms="${moment#connected+}" 'BEGIN { printf "%.3f", ms / 1000 }') ;;
	pinging) trigger='^demo: pinging' delay=2 ;;
	*) echo "demo-interrupt: unknown moment $moment" >&2; exit 2 ;;
	esac
	if ! wait_line "$log" "$trigger" 120; then
		echo "FAIL $moment: no line /$trigger/ within 120 s"
		failures=$((failures + 1))
	fi
	sleep "$delay"
	sent=$(now_ms)
	kill -INT -- "-$pgid" 2>/dev/null
	ended=
	for _ in $(seq 1 600); do # 60 s
		kill -0 "$pgid" 2>/dev/null || { ended=1; break; }
		sleep 0.1
	done
	took=$(($(now_ms) - sent))
	if [ -z "$ended" ]; then
		echo "FAIL $moment: the demo still runs 60 s after Ctrl-C (log: $log); ending it with SIGTERM"
		kill -TERM -- "-$pgid" 2>/dev/null
		wait "$pgid" 2>/dev/null
		failures=$((failures + 1))
	fi
	wait "$pgid" 2>/dev/null
	rc=$?
	sleep 0.5
	name=$(sed -n 's/^demo: starting SoftEther VPN Server (namespace \(demo[0-9]*\)s)$/\1/p' "$log")
	left=()
	if [ -n "$name" ]; then
		ip netns list | grep -qE "^${name}[sc]( |$)" && left+=("namespace ${name}s/${name}c")
		ip -o link | grep -q "$name" && left+=("a link named $name*")
		[ -e "/run/corridor-test/$name" ] && left+=("/run/corridor-test/$name")
		compgen -G "/tmp/corridor-softether-$name.*" >/dev/null && left+=("/tmp/corridor-softether-$name.*")
	fi
	# New processes of the kinds a demo starts; a vpnserver counts only
	# outside any named namespace (other tests' servers live in theirs).
	# (An exiting server may stay a zombie for a moment until PID 1 reaps
	# it: zombies do not count, and stragglers get 5 s.)
	for _ in $(seq 1 50); do
		[ -z "$(comm -13 <(echo "$before") <(snapshot))" ] && break
		sleep 0.1
	done
	for pid in $(comm -13 <(echo "$before") <(snapshot)); do
		[ -e "/proc/$pid" ] || continue
		grep -qE '^State:[[:space:]]*[ZX]' "/proc/$pid/status" 2>/dev/null && continue
		comm=$(cat "/proc/$pid/comm" 2>/dev/null)
		if [ "$comm" = vpnserver ] && [ -n "$(ip netns identify "$pid" 2>/dev/null)" ]; then
			continue
		fi
		args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
		case $comm in
		ping) [[ $args == *192.168.30.1* ]] || continue ;;
		tee) [[ $args == */tmp/tmp.* ]] || continue ;;
		esac
		left+=("process $pid ($comm: $args)")
	done
	if [ ${#left[@]} -gt 0 ]; then
		echo "FAIL $moment: left behind: ${left[*]} (log: $log)"
		failures=$((failures + 1))
	elif [ -n "$ended" ]; then
		echo "ok   $moment: ended ${took} ms after Ctrl-C (exit $rc), nothing left (server ${name:-not started}); last line: $(tail -n1 "$log")"
	fi
done
if [ "$failures" -gt 0 ]; then
	echo "demo-interrupt: $failures failure(s); logs in $logs"
	exit 1
fi
rm -rf "$logs"
echo "demo-interrupt: every moment ended the demo and left nothing behind"
