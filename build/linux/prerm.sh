#!/bin/sh
# Before removing or upgrading Corridor (.deb: "remove", "upgrade", ...;
# .rpm: 0 on removal, 1 on upgrade). Stopping corridor.service sends the
# helper SIGTERM: it ends every session cleanly and restores routes and
# DNS before it exits (TimeoutStopSec=30). On removal the socket is
# stopped and disabled too; on upgrade it stays, and the new helper
# starts at the next connection.
set -e
if [ -d /run/systemd/system ]; then
	systemctl stop corridor.service || true
fi
case "$1" in
remove|deconfigure|0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now corridor.socket || true
	elif command -v systemctl >/dev/null 2>&1; then
		systemctl disable corridor.socket || true
	fi
	;;
esac
exit 0
