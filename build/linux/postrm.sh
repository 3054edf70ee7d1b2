#!/bin/sh
# After removing Corridor: forget its units. On purge (.deb) also the
# helper's journal directory (empty after a clean stop). The corridor
# group stays (files may still name it), as sysusers groups do.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/corridor
fi
exit 0
