#!/usr/bin/env bash
# Packages the desktop app into build/out/:
#   linux     Corridor.tar.xz: the binary, a .desktop file and the icon, laid
#             out for /usr/local (`make install` inside it, or unpack to /);
#             made by the Fyne tool (fyne.io/tools, installed if missing)
#             from bin/corridor and FyneApp.toml beside main.go (~20 s)
#   packages  corridor_VERSION-1_amd64.deb and corridor-VERSION-1.x86_64.rpm:
#             /usr/bin/corridor (PIE, stripped), the helper the unit runs
#             (/usr/libexec/corridor/corridor-helper, the nogui build),
#             bash/zsh/fish completions, corridor.service and
#             corridor.socket, the corridor group (sysusers.d), the desktop
#             entry, hicolor icons and AppStream metainfo, with maintainer
#             scripts that enable the socket (build/nfpm: nfpm as a library,
#             its own module): ~12-19 s once built; the first PIE build
#             of the app took 5.7 min on two busy cores
#   windows   corridor.exe: the Windows GUI build, cross-compiled with
#             mingw-w64 (cgo; ~10 minutes the first time, seconds after),
#             and corridor-windows-amd64.zip (windows-zip below)
#   windows-zip  only corridor-windows-amd64.zip, from an existing exe:
#             corridor.exe and, with WINTUN_ZIP=/path/to/wintun-0.14.1.zip,
#             its wintun.dll (bin/amd64) once the zip's SHA-256 matches
#             the official one pinned below (anything else is refused);
#             without WINTUN_ZIP a WINTUN.txt saying where to get it.
#             WINDOWS_EXE and WINDOWS_ZIP override the exe read and the zip
#             written (default build/out/corridor.exe and
#             build/out/corridor-windows-amd64.zip); build/wine/wine-test.sh
#             tests both ways
#   darwin    Corridor.app for macOS (DARWIN_APP, default build/out/Corridor.app):
#             the Fyne tool's bundle (`fyne package -os darwin --executable`)
#             finished by build/macbundle (the keys of build/darwin/Info.plist
#             merged in, then the bundle checked). On a Mac it first builds
#             the app with cgo (Xcode command line tools); elsewhere
#             DARWIN_EXE must name a darwin binary: `make darwin-layout`
#             passes the cross-built command-line build, which checks the
#             bundle's layout only (that bundle has no desktop app). Never
#             run on a Mac: the real bundle has never been built.
# Usage: build/package.sh [linux] [packages] [windows] [windows-zip] [darwin]   (default: linux packages windows)
# Needs the packages build/setup.sh installs (gcc, the Fyne headers,
# gcc-mingw-w64-x86-64, zip, unzip). Runs as any user.
set -euo pipefail
cd "$(dirname "$0")/.."

FYNE_TOOLS_VERSION=v1.7.4
out=build/out
mkdir -p "$out"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux packages windows)

secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

fyne_tool() {
	local bin
	bin="$(go env GOPATH)/bin/fyne"
	if [ ! -x "$bin" ] || [[ $("$bin" version 2>/dev/null || true) != *"cli version: $FYNE_TOOLS_VERSION"* ]]; then
		echo "package: installing the Fyne tool fyne.io/tools/cmd/fyne@$FYNE_TOOLS_VERSION" >&2
		# Outside the module: its own dependencies must not touch go.mod.
		(cd / && GOFLAGS= go install "fyne.io/tools/cmd/fyne@$FYNE_TOOLS_VERSION")
	fi
	echo "$bin"
}

linux() {
	local t0 fyne
	t0=$(date +%s.%N)
	fyne=$(fyne_tool)
	echo "package: building bin/corridor" >&2
	go build -o bin/corridor .
	# Run from the repository: fyne reads FyneApp.toml beside main.go and
	# writes Corridor.tar.xz into the current directory. It also rewrites
	# FyneApp.toml with Build+1 afterwards: keep the file as it is (the
	# build number is ours to bump, in a commit).
	rm -f Corridor.tar.xz
	local saved rc=0
	saved=$(mktemp)
	cp FyneApp.toml "$saved"
	"$fyne" package -os linux --exe bin/corridor --release || rc=$?
	cp "$saved" FyneApp.toml
	rm -f "$saved"
	[ "$rc" -eq 0 ] || exit "$rc"
	mv Corridor.tar.xz "$out/Corridor.tar.xz"
	echo "package: $out/Corridor.tar.xz ($(du -h "$out/Corridor.tar.xz" | cut -f1), $(secs "$t0") s):" >&2
	tar -tJf "$out/Corridor.tar.xz" | sed 's/^/  /' >&2
}

packages() {
	local t0 version
	t0=$(date +%s.%N)
	version=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
	mkdir -p "$out/pkgroot"
	echo "package: building $out/pkgroot/corridor (PIE, stripped)" >&2
	go build -buildmode=pie -ldflags="-s -w" -o "$out/pkgroot/corridor" .
	# The helper the unit runs: the same program without the desktop app
	# (no cgo, no Fyne): 9 MB resident idle instead of 31 MB.
	echo "package: building $out/pkgroot/corridor-helper (nogui, PIE, stripped)" >&2
	CGO_ENABLED=0 go build -tags nogui -buildmode=pie -ldflags="-s -w" -o "$out/pkgroot/corridor-helper" .
	# Shell completions, as corridor completion writes them.
	mkdir -p "$out/pkgroot/completions"
	for sh in bash zsh fish; do
		"$out/pkgroot/corridor-helper" completion "$sh" >"$out/pkgroot/completions/corridor.$sh"
	done
	echo "package: .deb and .rpm of corridor $version (build/nfpm)" >&2
	rm -f "$out"/corridor_*.deb "$out"/corridor-*.rpm
	# build/nfpm is its own module: run it from there, on this repository.
	(cd build/nfpm && go run . -root ../.. -out "$out" -version "$version") >&2
	for p in "$out"/corridor_*.deb "$out"/corridor-*.rpm; do
		echo "package: $p ($(du -h "$p" | cut -f1))" >&2
	done
	echo "package: packages built in $(secs "$t0") s" >&2
}

windows() {
	local t0
	t0=$(date +%s.%N)
	command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "package: needs x86_64-w64-mingw32-gcc (apt package gcc-mingw-w64-x86-64; build/setup.sh)" >&2; exit 1; }
	echo "package: building $out/corridor.exe (GOOS=windows, cgo with mingw-w64)" >&2
	GOOS=windows GOARCH=amd64 CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc go build -ldflags=-H=windowsgui -o "$out/corridor.exe" .
	echo "package: $out/corridor.exe ($(du -h "$out/corridor.exe" | cut -f1), $(secs "$t0") s)" >&2
	windows_zip
}

# The official wintun-0.14.1.zip (https://www.wintun.net/builds/wintun-0.14.1.zip,
# WireGuard LLC); Mullvad's Windows build (mullvad/mullvadvpn-app-binaries,
# wireguard/download-wintun.bat) pins the same SHA-256 (checked against such
# pins, not against a download: wintun.net was out of reach when this was
# written). Only this file's wintun.dll goes into the package.
WINTUN_VERSION=0.14.1
WINTUN_ZIP_SHA256=07c256185d6ee3652e09fa55c0b673e2624b565e02c4b9091c79ca7d2f24ef51

# corridor-windows-amd64.zip: corridor.exe and wintun.dll (WINTUN_ZIP), or
# WINTUN.txt saying where to get it. Nothing is written when WINTUN_ZIP is
# refused, and an older zip of the same name is removed first.
windows_zip() {
	local exe=${WINDOWS_EXE:-$out/corridor.exe} zipfile=${WINDOWS_ZIP:-$out/corridor-windows-amd64.zip} stage got tool extra
	for tool in zip unzip sha256sum; do
		command -v "$tool" >/dev/null || { echo "package: needs $tool (build/setup.sh installs it)" >&2; exit 1; }
	done
	[ -f "$exe" ] || { echo "package: $exe does not exist: build it first (build/package.sh windows)" >&2; exit 1; }
	zipfile=$(realpath -m "$zipfile")
	rm -f "$zipfile"
	stage=$(mktemp -d)
	cp "$exe" "$stage/corridor.exe"
	if [ -n "${WINTUN_ZIP:-}" ]; then
		if [ ! -f "$WINTUN_ZIP" ]; then
			rm -rf "$stage"
			echo "package: WINTUN_ZIP=$WINTUN_ZIP: there is no such file" >&2
			exit 1
		fi
		got=$(sha256sum "$WINTUN_ZIP" | cut -d' ' -f1)
		if [ "$got" != "$WINTUN_ZIP_SHA256" ]; then
			rm -rf "$stage"
			echo "package: refusing WINTUN_ZIP=$WINTUN_ZIP: it is not the official wintun-$WINTUN_VERSION.zip." >&2
			echo "package:   its SHA-256:          $got" >&2
			echo "package:   the official SHA-256: $WINTUN_ZIP_SHA256" >&2
			echo "package: download https://www.wintun.net/builds/wintun-$WINTUN_VERSION.zip again and pass that file; no zip was written." >&2
			exit 1
		fi
		if ! unzip -p "$WINTUN_ZIP" wintun/bin/amd64/wintun.dll >"$stage/wintun.dll" || [ ! -s "$stage/wintun.dll" ]; then
			rm -rf "$stage"
			echo "package: $WINTUN_ZIP has no wintun/bin/amd64/wintun.dll; no zip was written" >&2
			exit 1
		fi
		extra=wintun.dll
		echo "package: wintun.dll from $WINTUN_ZIP (SHA-256 $got, the official wintun-$WINTUN_VERSION.zip)" >&2
	else
		# CRLF: for Notepad on older Windows.
		sed 's/$/\r/' >"$stage/WINTUN.txt" <<EOF
Corridor needs wintun.dll, the Wintun tunnel driver by WireGuard LLC, for its
network device on Windows. This package does not include it.

1. Download https://www.wintun.net/builds/wintun-$WINTUN_VERSION.zip
   (its SHA-256 must be $WINTUN_ZIP_SHA256).
2. From that zip, take wintun\bin\amd64\wintun.dll
   (arm64 Windows: wintun\bin\arm64\wintun.dll).
3. Put wintun.dll in the same folder as corridor.exe.
EOF
		extra=WINTUN.txt
		echo "package: no WINTUN_ZIP: the zip holds WINTUN.txt instead of wintun.dll" >&2
	fi
	(cd "$stage" && zip -X -q "$zipfile.tmp" corridor.exe "$extra")
	mv "$zipfile.tmp" "$zipfile"
	rm -rf "$stage"
	echo "package: $zipfile ($(du -h "$zipfile" | cut -f1)):" >&2
	unzip -Z1 "$zipfile" | sed 's/^/  /' >&2
}

darwin() {
	local t0 fyne app stage rc=0 saved
	t0=$(date +%s.%N)
	app=${DARWIN_APP:-$out/Corridor.app}
	fyne=$(fyne_tool)
	stage=$(mktemp -d)
	# The bundle's executable takes the binary's name: always "corridor".
	if [ -n "${DARWIN_EXE:-}" ]; then
		cp "$DARWIN_EXE" "$stage/corridor"
		chmod 0755 "$stage/corridor"
	elif [ "$(uname -s)" = Darwin ]; then
		echo "package: building the macOS app (cgo)" >&2
		CGO_ENABLED=1 go build -trimpath -o "$stage/corridor" .
	else
		rm -rf "$stage"
		echo "package: the macOS app can only be built on a Mac (Fyne needs cgo and the macOS SDK);" >&2
		echo "package: DARWIN_EXE=/path/to/a/darwin/binary checks the bundle's layout with another one" >&2
		exit 1
	fi
	# As in linux(): fyne writes Corridor.app here and bumps FyneApp.toml's
	# Build afterwards; keep the file as it is.
	rm -rf Corridor.app
	saved=$(mktemp)
	cp FyneApp.toml "$saved"
	"$fyne" package -os darwin --executable "$stage/corridor" --release || rc=$?
	cp "$saved" FyneApp.toml
	rm -f "$saved"
	rm -rf "$stage"
	[ "$rc" -eq 0 ] || exit "$rc"
	go run ./build/macbundle -extra build/darwin/Info.plist Corridor.app
	rm -rf "$app"
	mkdir -p "$(dirname "$app")"
	mv Corridor.app "$app"
	echo "package: $app ($(du -sh "$app" | cut -f1), $(secs "$t0") s):" >&2
	(cd "$app/.." && find "$(basename "$app")" -type f | sort | sed 's/^/  /') >&2
}

for t in "${targets[@]}"; do
	case $t in
	darwin) darwin ;;
	linux) linux ;;
	packages) packages ;;
	windows) windows ;;
	windows-zip) windows_zip ;;
	*) echo "usage: $0 [linux] [packages] [windows] [windows-zip] [darwin]" >&2; exit 2 ;;
	esac
done
