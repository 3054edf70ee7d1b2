#!/usr/bin/env bash
# Installs what building, running and testing Corridor needs on Debian or
# Ubuntu, idempotently: nothing is installed twice, apt-get update runs only
# when a package is missing. Needs root (uses sudo when not root).
set -euo pipefail

pkgs=(iproute2 iputils-ping softether-vpnserver softether-vpncmd procps util-linux gnome-keyring dbus-daemon
	# the proxy e2e test fetches through corridor connect --proxy with curl
	curl
	# the kill switch (platform's root test and the e2e test)
	nftables
	# strongSwan's charon as an IKEv1 responder (the Aggressive Mode e2e test) and initiator (bench-ike.sh)
	strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins
	# building the desktop app (Fyne: cgo, OpenGL, X11 and Wayland headers)
	gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev
	libxxf86vm-dev libwayland-dev libxkbcommon-dev
	# its tests: a real window under Xvfb, screenshots, the tray over D-Bus
	xvfb xauth xdotool imagemagick libgl1-mesa-dri libglib2.0-bin
	# the Windows cross build of the desktop app, and its package zip
	gcc-mingw-w64-x86-64 zip unzip
	# make wine-test: corridor.exe under Wine (/usr/lib/wine/wine64)
	wine64 wine)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! command -v go >/dev/null; then
	echo "setup: Go is missing; install Go 1.26 or newer (https://go.dev/dl/)" >&2
	exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup: installing ${missing[*]}" >&2
# Keep the package's own system-wide vpnserver service from starting: the
# tests and the demo run their own server in a private namespace.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	created_policy=1
fi
trap '[ -n "$created_policy" ] && $SUDO rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Should a service have started anyway, stop it: it would hold UDP 500/1701.
if command -v systemctl >/dev/null && systemctl is-active --quiet softether-vpnserver 2>/dev/null; then
	$SUDO systemctl disable --now softether-vpnserver >&2 || true
fi
if command -v systemctl >/dev/null && systemctl is-active --quiet strongswan-starter 2>/dev/null; then
	$SUDO systemctl disable --now strongswan-starter >&2 || true
fi
