#!/usr/bin/env bash
# make wine-test (part of make test): Corridor's Windows command-line build
# under Wine, and the Windows package zip (build/package.sh windows-zip).
#
# Under Wine (Debian 12's wine64 8.0, a prefix of its own, no display):
# corridor.exe --version; profile add with the password and the PSK going to
# Wine's Credential Manager (go-keyring's wincred backend); profile list,
# show (both secrets "stored in the keychain"), export (no secret); neither
# secret's text, UTF-8 or UTF-16LE, plain or as the .reg files' hex, in any
# file of the prefix; status fails in plain words with the helper not
# running; profile rm removes the profile and its credentials, and a second
# add works; the packaged zip's corridor.exe starts. The NRPT rules of
# Windows split DNS (platform/nrpt.go) against Wine's registry: the
# platform package's Windows test binary runs TestNRPTRegistryWine (two
# split tunnels' rules written through the registry API with their value
# types read back, closing one leaving the other's, Recover after a crash
# through the registry API and through Wine's reg.exe and ipconfig.exe),
# then reg.exe lists what is left under DnsPolicyConfig (nothing may be).
# The adapters' IP Helper calls in that test are faked (no Wintun here).
# Not under Wine: connecting (Go's UDP sockets fail there with WSAEOPNOTSUPP,
# so no IKE), the helper (go-winio's named pipes never accept there) and
# the GUI build (DESIGN.md §8).
#
# Wine 8.0 lacks bcryptprimitives.dll's ProcessPrng, which Go (1.26 here) needs at
# start: the test builds build/wine/processprng.c (mingw-w64) into a stand-in
# DLL in its own prefix's system32. Test-only, never shipped.
#
# Needs root or an installed Wine (build/setup.sh: wine64 wine, mingw-w64,
# zip unzip); fails, not skips, without them. Every Wine call has a timeout;
# the prefix and its wineserver go away at the end.
set -euo pipefail
# With pipefail, "producer | grep -q" fails at random: grep -q exits at
# the first match and the producer dies of SIGPIPE. Pipelines here end in
# grep ... >/dev/null, which reads everything.
cd "$(dirname "$0")/../.."
repo=$PWD

WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
CALL_TIMEOUT=${WINE_CALL_TIMEOUT:-60}

t_start=$(date +%s.%N)
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "wine-test: $*"; }
fail() {
	echo "wine-test: FAIL: $*" >&2
	exit 1
}

[ -x "$WINE" ] && [ -x "$WINESERVER" ] ||
	fail "Wine is not installed ($WINE, $WINESERVER): build/setup.sh installs Debian's wine64 and wine (needs root or sudo)"
command -v x86_64-w64-mingw32-gcc >/dev/null ||
	fail "x86_64-w64-mingw32-gcc is missing (apt package gcc-mingw-w64-x86-64; build/setup.sh)"
for tool in zip unzip timeout od; do
	command -v "$tool" >/dev/null || fail "$tool is missing (build/setup.sh)"
done

tmp=$(mktemp -d /tmp/corridor-wine.XXXXXX)
export WINEPREFIX=$tmp/prefix WINEARCH=win64 WINEDEBUG=-all DISPLAY=
# No Mono or Gecko install dialogs (there is no display to show them).
export WINEDLLOVERRIDES='mscoree,mshtml='
unset WAYLAND_DISPLAY
cleanup() {
	local rc=$?
	if [ -d "$WINEPREFIX" ]; then
		timeout 30 "$WINESERVER" -k 2>/dev/null || true
		timeout 30 "$WINESERVER" -w 2>/dev/null || true
	fi
	rm -rf "$tmp"
	if [ "$rc" -eq 0 ]; then
		say "PASS ($(secs "$t_start") s in all)"
	else
		echo "wine-test: failed after $(secs "$t_start") s" >&2
	fi
}
trap cleanup EXIT
mkdir -p "$tmp/work" "$tmp/pkg"

# run LABEL TIMEOUT CMD...: runs CMD from $tmp/work with a timeout, stdin
# from /dev/null; its output (stdout and stderr) in $out, status in $rc.
# The output goes through a file, not a pipe: Wine's background processes
# (wineserver, services.exe, winedevice.exe) inherit it and would hold a
# pipe open until they exit, seconds later.
out= rc=0
run() {
	local label=$1 limit=$2 t0 log
	shift 2
	t0=$(date +%s.%N)
	rc=0
	log=$(mktemp "$tmp/out.XXXXXX")
	(cd "$tmp/work" && timeout -k 5 "$limit" "$@" </dev/null >"$log" 2>&1) || rc=$?
	out=$(cat "$log")
	say "$label: exit $rc ($(secs "$t0") s)"
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || {
		printf '%s\n' "$out" | sed 's/^/  | /'
		fail "$label: no answer within $limit s"
	}
}
# corridor ARGS...: corridor.exe ARGS under Wine.
corridor() { run "corridor.exe $*" "$CALL_TIMEOUT" "$WINE" "$tmp/work/corridor.exe" "$@"; }
show_out() { printf '%s\n' "$out" | sed 's/^/  | /'; }
expect_ok() { [ "$rc" -eq 0 ] || { show_out; fail "$1: exit $rc"; }; }
expect_in() { grep -qiE -- "$2" <<<"$out" || { show_out; fail "$1: the output does not match /$2/"; }; }
# Waits until this prefix's wineserver has exited, which writes the
# registry (user.reg, where Credential Manager keeps its entries) to disk.
flush() { run "wineserver -w (registry to disk)" 30 "$WINESERVER" -w; [ "$rc" -eq 0 ] || fail "wineserver -w: exit $rc"; }

# --- the stand-in bcryptprimitives.dll and corridor.exe -------------------
t0=$(date +%s.%N)
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$tmp/bcryptprimitives.dll" build/wine/processprng.c -ladvapi32
x86_64-w64-mingw32-objdump -p "$tmp/bcryptprimitives.dll" | grep '] ProcessPrng$' >/dev/null ||
	fail "the stand-in bcryptprimitives.dll does not export ProcessPrng"
say "built the stand-in bcryptprimitives.dll (ProcessPrng via RtlGenRandom) ($(secs "$t0") s)"
t0=$(date +%s.%N)
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -tags nogui -o "$tmp/work/corridor.exe" .
say "built corridor.exe (GOOS=windows GOARCH=amd64, nogui, $(du -h "$tmp/work/corridor.exe" | cut -f1)) ($(secs "$t0") s)"

# --- the prefix -------------------------------------------------------------
run "wineboot --init ($("$WINE" --version 2>/dev/null || echo 'wine ?'), prefix $WINEPREFIX)" 180 "$WINE" wineboot --init
expect_ok "wineboot --init"
sys32=$WINEPREFIX/drive_c/windows/system32
[ -d "$sys32" ] || fail "wineboot made no $sys32"
if [ -e "$sys32/bcryptprimitives.dll" ]; then
	say "this Wine has its own bcryptprimitives.dll: using it"
else
	cp "$tmp/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"
	say "copied the stand-in bcryptprimitives.dll into the prefix's system32"
fi

# --- the secret scanner, and a check that it finds what it looks for ------
# hexbytes STRING [utf16]: "50,77,..." as .reg files write REG_BINARY values.
hexbytes() {
	if [ "${2:-}" = utf16 ]; then
		printf '%s' "$1" | od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/\([0-9a-f][0-9a-f]\)/\1 00/g' | tr ' ' ','
	else
		printf '%s' "$1" | od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//' | tr ' ' ','
	fi
}
# utf16pattern STRING: a grep -P pattern matching STRING in UTF-16LE.
utf16pattern() { printf '%s' "$1" | od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/\([0-9a-f][0-9a-f]\)/\\x\1\\x00/g' | tr -d ' '; }
# leaks DIR STRING...: prints the files under DIR (symlinks not followed:
# the prefix's z: drive is /) holding any STRING as UTF-8, as UTF-16LE, or in
# a .reg file as hex (UTF-8 or UTF-16LE, continuation lines joined).
leaks() {
	local dir=$1 s f plain=() hex=() p16=
	shift
	for s in "$@"; do
		plain+=(-e "$s")
		hex+=(-e "$(hexbytes "$s")" -e "$(hexbytes "$s" utf16)")
		p16+=${p16:+|}$(utf16pattern "$s")
	done
	{
		LC_ALL=C grep -rlaF "${plain[@]}" "$dir" || true
		LC_ALL=C grep -rlaP -- "($p16)" "$dir" || true
		find "$dir" -type f -name '*.reg' -print0 | while IFS= read -r -d '' f; do
			if sed -e ':a' -e '/\\$/{N;s/\\\n *//;ba}' "$f" | grep -iF "${hex[@]}" >/dev/null; then
				echo "$f (as hex)"
			fi
		done
	} | sort -u
}
canary=Canary-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$tmp/scannercheck"
printf '%s' "$canary" | sed 's/./&\x00/g' >"$tmp/scannercheck/utf16.bin"
# As Wine writes a REG_BINARY value: hex bytes, wrapped with "\" and a newline.
printf '"V"=hex:%s\n' "$(hexbytes "$canary" utf16 | sed 's/,/,\\\n  /20')" >"$tmp/scannercheck/test.reg"
printf 'x=%s\n' "$canary" >"$tmp/scannercheck/plain.txt"
found=$(leaks "$tmp/scannercheck" "$canary")
for f in utf16.bin "test.reg (as hex)" plain.txt; do
	grep -qxF "$tmp/scannercheck/$f" <<<"$found" || fail "the secret scanner misses a planted canary in $f (found: $found)"
done
say "the secret scanner finds planted canaries (UTF-8, UTF-16LE, .reg hex over a line break)"

# --- corridor.exe under Wine ----------------------------------------------
corridor --version
expect_ok "--version"
show_out
expect_in "--version" '^corridor .*windows/amd64'

password=Pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
psk=Psk-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$tmp/work/password.txt"
printf '%s\n' "$psk" >"$tmp/work/psk.txt"

corridor profile add office --server vpn.example.com --user alice --password-file password.txt --psk-file psk.txt
show_out
expect_ok "profile add"
expect_in "profile add" 'stored in the keychain'

corridor profile list
show_out
expect_ok "profile list"
expect_in "profile list" 'office +vpn\.example\.com +alice'

corridor profile show office
expect_ok "profile show"
grep -E '^# (password|psk|l2tp-secret):' <<<"$out" | sed 's/^/  | /' || true
expect_in "profile show" '^# password: stored in the keychain$'
expect_in "profile show" '^# psk: stored in the keychain$'
for s in "$password" "$psk"; do
	! grep -qF -- "$s" <<<"$out" || fail "profile show prints a secret"
done

corridor profile export office
expect_ok "profile export"
expect_in "profile export" '^server = "vpn\.example\.com"$'
for s in "$password" "$psk"; do
	! grep -qF -- "$s" <<<"$out" || fail "profile export contains a secret"
done
say "profile export: $(wc -l <<<"$out") lines, no secret"

flush
grep -qF 'Credential Manager\\Generic: corridor:office/password' "$WINEPREFIX/user.reg" &&
	grep -qF 'Credential Manager\\Generic: corridor:office/psk' "$WINEPREFIX/user.reg" ||
	fail "no corridor:office credentials in the prefix's user.reg (Credential Manager): were the secrets stored elsewhere?"
say "Credential Manager entries (user.reg): $(grep -o 'Generic: corridor:[^]]*' "$WINEPREFIX/user.reg" | sed 's/Generic: //' | tr '\n' ' ')"
toml=$(find "$WINEPREFIX/drive_c/users" -path '*/corridor/profiles/office.toml' | head -1)
[ -n "$toml" ] || fail "no office.toml in the prefix"
say "the profile file: ${toml#"$WINEPREFIX"/}"
t0=$(date +%s.%N)
found=$(leaks "$WINEPREFIX" "$password" "$psk")
[ -z "$found" ] || fail "a secret's text is in the prefix: $found"
say "neither secret in any file of the prefix ($(find "$WINEPREFIX" -type f | wc -l) files; UTF-8, UTF-16LE, .reg hex) ($(secs "$t0") s)"

# The helper's transport on Windows is being changed (named pipes): only
# loose words are checked here.
corridor status
show_out
[ "$rc" -ne 0 ] || fail "status exits 0 without a helper"
expect_in "status" 'not running|not allowed|pipe'

corridor profile rm office
show_out
expect_ok "profile rm"
corridor profile show office
show_out
[ "$rc" -ne 0 ] || fail "profile show still finds office after rm"
corridor profile list
! grep -q '^office ' <<<"$out" || { show_out; fail "profile list still lists office after rm"; }
flush
! grep -qF 'corridor:office/' "$WINEPREFIX/user.reg" ||
	fail "rm left credentials in Credential Manager: $(grep -o 'Generic: corridor:[^]]*' "$WINEPREFIX/user.reg" | tr '\n' ' ')"
say "profile rm: no corridor:office credentials left in user.reg"

corridor profile add office --server vpn.example.com --user alice --password-file password.txt --psk-file psk.txt
show_out
expect_ok "second profile add"
corridor profile show office
expect_ok "profile show after the second add"
expect_in "profile show" '^# password: stored in the keychain$'
expect_in "profile show" '^# psk: stored in the keychain$'
corridor profile rm office
expect_ok "second profile rm"

# --- NRPT rules in Wine's registry (platform/nrpt.go) ------------------------
t0=$(date +%s.%N)
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go test -c -o "$tmp/work/platform.test.exe" ./platform/
say "built platform.test.exe (GOOS=windows GOARCH=amd64) ($(secs "$t0") s)"
run "platform.test.exe -test.run TestNRPTRegistryWine" "$CALL_TIMEOUT" env CORRIDOR_WINE_REGISTRY=1 "$WINE" "$tmp/work/platform.test.exe" -test.run '^TestNRPTRegistryWine$' -test.v
grep -E '^\s+nrpt_windows_test.go:[0-9]+: ' <<<"$out" | sed 's/^ */  | /' || true
expect_ok "TestNRPTRegistryWine"
expect_in "TestNRPTRegistryWine" '^--- PASS: TestNRPTRegistryWine'
! grep -q -- '--- SKIP' <<<"$out" || { show_out; fail "TestNRPTRegistryWine skipped"; }
# What is left, from the registry file itself (reg query's output to a
# file comes out empty under this Wine): the DnsPolicyConfig key the test
# created, and no rule under it.
flush
grep -F 'Dnscache\\Parameters\\DnsPolicyConfig]' "$WINEPREFIX/system.reg" >/dev/null ||
	fail "no DnsPolicyConfig key in the prefix's system.reg: did the test write elsewhere?"
! grep -F 'Dnscache\\Parameters\\DnsPolicyConfig\\{' "$WINEPREFIX/system.reg" >/dev/null ||
	fail "NRPT rules left in the registry after the test: $(grep -F 'DnsPolicyConfig\\{' "$WINEPREFIX/system.reg" | tr '\n' ' ')"
say "NRPT: rules written, read back, removed by Close and by Recover; system.reg has DnsPolicyConfig and no rule under it"

# --- the Windows package zip (build/package.sh windows-zip; no Wine) -------
# pkg LABEL [NAME=VALUE...] COMMAND...: package.sh windows-zip into
# $tmp/pkg from $tmp/work/corridor.exe, without the caller's WINTUN_ZIP.
pkg() { run "package.sh windows-zip${1:+ ($1)}" 120 env -u WINTUN_ZIP WINDOWS_EXE="$tmp/work/corridor.exe" WINDOWS_ZIP="$tmp/pkg/corridor-windows-amd64.zip" "${@:2}"; }
zipped() { unzip -Z1 "$tmp/pkg/corridor-windows-amd64.zip" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

pkg "no WINTUN_ZIP" "$repo/build/package.sh" windows-zip
show_out
expect_ok "windows-zip without WINTUN_ZIP"
[ "$(zipped)" = "WINTUN.txt corridor.exe" ] || fail "the zip holds $(zipped), not corridor.exe and WINTUN.txt"
unzip -p "$tmp/pkg/corridor-windows-amd64.zip" corridor.exe | cmp -s - "$tmp/work/corridor.exe" || fail "the zip's corridor.exe differs from the one given"
unzip -p "$tmp/pkg/corridor-windows-amd64.zip" WINTUN.txt | tr -d '\r' | sed 's/^/  WINTUN.txt | /'
unzip -p "$tmp/pkg/corridor-windows-amd64.zip" WINTUN.txt | grep 'https://www.wintun.net/builds/wintun-0.14.1.zip' >/dev/null || fail "WINTUN.txt does not say where to get wintun.dll"
unzip -p "$tmp/pkg/corridor-windows-amd64.zip" WINTUN.txt | grep 'same folder as corridor.exe' >/dev/null || fail "WINTUN.txt does not say where to put wintun.dll"

# The unpacked package's exe starts under Wine.
mkdir -p "$tmp/unpacked"
unzip -q "$tmp/pkg/corridor-windows-amd64.zip" -d "$tmp/unpacked"
run "unpacked zip: corridor.exe --version" "$CALL_TIMEOUT" "$WINE" "$tmp/unpacked/corridor.exe" --version
expect_ok "the zip's corridor.exe --version"
expect_in "the zip's corridor.exe --version" '^corridor '

# A zip that is not the official wintun-0.14.1.zip is refused, and no
# package is left behind (not even the one from before).
mkdir -p "$tmp/fake/wintun/bin/amd64"
printf 'MZ not really wintun\n' >"$tmp/fake/wintun/bin/amd64/wintun.dll"
(cd "$tmp/fake" && zip -X -q -r "$tmp/fake-wintun.zip" wintun)
pkg "a fake wintun zip" WINTUN_ZIP="$tmp/fake-wintun.zip" "$repo/build/package.sh" windows-zip
show_out
[ "$rc" -ne 0 ] || fail "package.sh took a fake wintun zip"
expect_in "the refusal" 'refusing .*not the official wintun-0\.14\.1\.zip'
[ ! -e "$tmp/pkg/corridor-windows-amd64.zip" ] || fail "a zip was left after the refusal"
pkg "a missing wintun zip" WINTUN_ZIP="$tmp/no-such.zip" "$repo/build/package.sh" windows-zip
show_out
[ "$rc" -ne 0 ] || fail "package.sh took a missing wintun zip"

# The pinned hash is the official one's.
grep -qx 'WINTUN_ZIP_SHA256=07c256185d6ee3652e09fa55c0b673e2624b565e02c4b9091c79ca7d2f24ef51' build/package.sh ||
	fail "build/package.sh does not pin the official wintun-0.14.1.zip SHA-256"

# The accepting path, with the official zip out of reach: a copy of
# package.sh whose pin is the fake zip's hash (in a scratch repository
# directory, so nothing is written into this one).
mkdir -p "$tmp/repocopy/build"
fakesum=$(sha256sum "$tmp/fake-wintun.zip" | cut -d' ' -f1)
sed "s/^WINTUN_ZIP_SHA256=.*/WINTUN_ZIP_SHA256=$fakesum/" build/package.sh >"$tmp/repocopy/build/package.sh"
grep -qx "WINTUN_ZIP_SHA256=$fakesum" "$tmp/repocopy/build/package.sh" || fail "could not repin the copy of package.sh"
pkg "the fake zip, pinned in a copy of package.sh" WINTUN_ZIP="$tmp/fake-wintun.zip" bash "$tmp/repocopy/build/package.sh" windows-zip
show_out
expect_ok "windows-zip with a pinned zip"
[ "$(zipped)" = "corridor.exe wintun.dll" ] || fail "the zip holds $(zipped), not corridor.exe and wintun.dll"
unzip -p "$tmp/pkg/corridor-windows-amd64.zip" wintun.dll | cmp -s - "$tmp/fake/wintun/bin/amd64/wintun.dll" || fail "the zip's wintun.dll is not bin/amd64/wintun.dll of the given zip"
# A pinned zip without bin/amd64/wintun.dll is refused too.
(cd "$tmp/fake" && zip -X -q "$tmp/empty-wintun.zip" wintun/bin)
emptysum=$(sha256sum "$tmp/empty-wintun.zip" | cut -d' ' -f1)
sed "s/^WINTUN_ZIP_SHA256=.*/WINTUN_ZIP_SHA256=$emptysum/" build/package.sh >"$tmp/repocopy/build/package.sh"
pkg "a pinned zip without the dll" WINTUN_ZIP="$tmp/empty-wintun.zip" bash "$tmp/repocopy/build/package.sh" windows-zip
show_out
[ "$rc" -ne 0 ] || fail "package.sh took a zip without wintun/bin/amd64/wintun.dll"
[ ! -e "$tmp/pkg/corridor-windows-amd64.zip" ] || fail "a zip was left after the refusal"

# With the official zip at hand (WINTUN_ZIP=... make wine-test), the real
# script packages its wintun.dll.
if [ -n "${WINTUN_ZIP:-}" ]; then
	pkg "WINTUN_ZIP=$WINTUN_ZIP" WINTUN_ZIP="$WINTUN_ZIP" "$repo/build/package.sh" windows-zip
	show_out
	expect_ok "windows-zip with WINTUN_ZIP=$WINTUN_ZIP"
	[ "$(zipped)" = "corridor.exe wintun.dll" ] || fail "the zip holds $(zipped), not corridor.exe and wintun.dll"
else
	say "not tested: packaging the official wintun-0.14.1.zip (none given: WINTUN_ZIP=/path/to/wintun-0.14.1.zip make wine-test)"
fi
