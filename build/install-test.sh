#!/usr/bin/env bash
# Installs Corridor's .deb the way a new user would, into a fresh minimal
# Debian 12 root made by mmdebstrap from Debian's archive, and checks it:
#   1. lintian on the .deb: no errors (warnings are listed)
#   2. apt-get install ./corridor_*.deb in the root (pulls its dependencies)
#   3. the postinst made the corridor group and enabled corridor.socket
#      (no systemd runs in a chroot: enabled, not started)
#   4. systemd-analyze verify and security --offline on the installed units
#   5. the installed helper started as corridor.socket starts it (the socket
#      passed by systemd-socket-activate) answers `corridor status` run by
#      an unprivileged member of the corridor group, and refuses a user
#      outside it
#   6. apt-get purge corridor runs the prerm/postrm cleanly
# Needs root and the network (Debian's archive): not part of `make test`.
# Took 44-80 s here (mostly downloading). Usage: build/install-test.sh [DEB]
# (default: the newest build/out/corridor_*_amd64.deb; make packages).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "install-test: needs root (mmdebstrap, chroot)" >&2
	exit 1
fi
missing=()
for p in mmdebstrap lintian; do
	command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-test: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
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
trap 'rm -rf "$root" "$stage"' EXIT
cp "$deb" "$stage/corridor.deb"

# The checks run inside the root, as a customize hook, while mmdebstrap
# has /proc, /sys and /dev mounted there.
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
systemd-socket-activate -l /run/corridor/corridor.sock /usr/bin/corridor daemon --group corridor --journal /var/lib/corridor/journal 2>/tmp/helper.log &
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
echo "== apt-get purge corridor"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq corridor >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; exit 1; }
test ! -e /usr/bin/corridor
test ! -e /etc/systemd/system/sockets.target.wants/corridor.socket
echo "   (removed; socket disabled)"
CHECK
echo "== mmdebstrap bookworm (minbase + systemd) into $root" >&2
mmdebstrap --quiet --variant=minbase --include=systemd bookworm "$root" http://deb.debian.org/debian \
	--customize-hook="copy-in $stage/corridor.deb $stage/check.sh /tmp" \
	--customize-hook='chroot "$1" sh /tmp/check.sh' >&2
echo "install-test: ok ($(secs "$t0") s)" >&2
