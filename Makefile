# Corridor: two commands for a newcomer (see README.md).
#   make run    sets up and runs the live demo: a local SoftEther server, the helper,
#               and the desktop app on your display (without a display: the CLI demo)
#   make test   sets up and runs the whole test suite (CI runs exactly this)

GO      ?= go
FUZZTIME ?= 10s
# Minimizing a new input may otherwise take most of FUZZTIME (go's default
# is 60s): FuzzPPP spent ~20 s per new input doing so.
FUZZMINIMIZE ?= 1s

.PHONY: run run-cli test setup build build-cli vet unit fuzz cross bench gui-test measure-gui package packages install-test windows darwin darwin-layout clean

run: setup
	./build/gui-demo.sh

# The command-line demo (corridor connect in the foreground).
run-cli: setup
	./build/demo.sh

# install-test (after unit) needs root and Debian's archive and fails,
# not skips, without them: CI runs make test as root.
test: setup vet unit install-test fuzz cross darwin-layout wine-test windows

setup:
	./build/setup.sh

build:
	$(GO) build -o bin/corridor .

# The command line and the helper without the desktop app: no cgo, no Fyne,
# builds in seconds (servers, headless machines).
build-cli:
	CGO_ENABLED=0 $(GO) build -tags nogui -o bin/corridor-cli .

vet:
	$(GO) vet ./...

# Unit, protocol, platform and end-to-end tests; the root-only tests (TUN,
# namespaces, SoftEther) skip with a message when not run as root.
# -p 1: one package at a time, so only one SoftEther server runs at once.
unit:
	$(GO) test -p 1 -count=1 -timeout 20m ./...
	@if [ -s build/out/gui/screenshots.txt ]; then echo "screenshots of the desktop app (build/guitest):"; sed 's/^/  /' build/out/gui/screenshots.txt; fi

# Every native fuzz target, briefly (build/fuzz.sh: reruns a target once when
# Go's fuzz coordinator fails it at the deadline without a failing input).
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZMINIMIZE=$(FUZZMINIMIZE) ./build/fuzz.sh

# The non-GUI packages must build for the other desktop systems.
cross:
	CGO_ENABLED=0 GOOS=windows $(GO) vet ./tunnel/... ./platform/... ./core/...
	CGO_ENABLED=0 GOOS=darwin $(GO) vet ./tunnel/... ./platform/... ./core/...
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) vet ./tunnel/... ./platform/... ./core/... ./app/cli/
	CGO_ENABLED=0 GOOS=windows GOARCH=arm64 $(GO) vet ./tunnel/... ./platform/... ./core/... ./app/cli/
	CGO_ENABLED=0 $(GO) vet -tags nogui .
	CGO_ENABLED=0 $(GO) build -tags nogui -o bin/corridor-cli .

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./tunnel/...

# The desktop app in Xvfb, verbose: window, screenshots (build/out/gui/), tray
# over D-Bus; as root also a real tunnel connected from the tray.
gui-test: setup
	$(GO) test -count=1 -v -timeout 10m ./build/guitest

# Start-up time and memory of the desktop app (root: also while connected).
measure-gui: setup
	./build/measure-gui.sh

# build/out/: Corridor.tar.xz (binary, .desktop file, icon), the .deb and
# .rpm packages (the helper's socket-activated, hardened units, the corridor
# group, desktop entry, icons, metainfo; see README "Install") and corridor.exe.
package: setup
	./build/package.sh linux packages windows

# The macOS app bundle, on a Mac with the Xcode command line tools
# (build/out/Corridor.app; README "The desktop app"). Never run here.
darwin:
	./build/package.sh darwin

# The macOS bundle's layout checked here: the Fyne tool and build/macbundle
# on the cross-built command-line binary (no desktop app inside; not for use).
darwin-layout:
	mkdir -p build/out/darwin-layout
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -tags nogui -o build/out/darwin-layout/corridor .
	DARWIN_EXE=build/out/darwin-layout/corridor DARWIN_APP=build/out/darwin-layout/Corridor.app ./build/package.sh darwin

# Only the .deb and .rpm (build/out/corridor_*.deb, corridor-*.rpm).
packages: setup
	./build/package.sh packages

# Installs the .deb into a fresh Debian 12 root (mmdebstrap; needs root,
# network namespaces and Debian's archive: fails, not skips, without them)
# and checks it there: lintian, systemd-analyze verify, the helper on a
# socket as corridor.socket passes it, and a new user's profile add, up,
# status --json and down through it against a real SoftEther server.
install-test: packages
	./build/install-test.sh

# Only the Windows exe (cross-compiled with mingw-w64) and
# build/out/corridor-windows-amd64.zip (with WINTUN_ZIP=/path/to/wintun-0.14.1.zip:
# its wintun.dll, checked against the pinned SHA-256; else WINTUN.txt).
windows: setup
	./build/package.sh windows

# The Windows command-line build under Wine (25-35 s; root or Wine installed,
# fails, not skips, without it): profiles with secrets in Wine's Credential
# Manager and none in its files, status without a helper; and the package
# zip's wintun.dll check (build/wine/wine-test.sh).
.PHONY: wine-test
wine-test: setup
	./build/wine/wine-test.sh

clean:
	rm -rf bin
