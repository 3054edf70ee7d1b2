#!/bin/sh
# After installing or upgrading Corridor (.deb: "configure"; .rpm: 1 or 2):
# create the corridor group, then enable and start corridor.socket (the
# helper itself starts at the first connection). In a chroot or a
# container without systemd running, the socket is only enabled.
set -e
case "$1" in
configure|1|2) ;;
*) exit 0 ;;
esac
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers corridor.conf
elif ! getent group corridor >/dev/null; then
	groupadd --system corridor
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl enable --now corridor.socket || true
elif command -v systemctl >/dev/null 2>&1; then
	systemctl enable corridor.socket || true
fi
exit 0
