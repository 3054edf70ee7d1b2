package platform

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// WatchNetwork reports changes of this machine's links, IPv4 addresses
// and IPv4 routes, from the kernel's rtnetlink multicast groups (RFC
// 3549 2.3.3.1): a value on the channel says "something changed; look
// again" (changes that come together are one value). The channel closes
// when ctx ends. No privilege is needed.
func WatchNetwork(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("platform: netlink socket: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV4_ROUTE}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("platform: netlink bind: %w", err)
	}
	return watchSocket(ctx, fd, "rtnetlink", 64<<10, func(b []byte) bool { return len(b) > 0 })
}

// PathTo describes the route this machine's main table gives dst: "dev
// eth0 via 192.0.2.1", or "" when no route covers it (the network is
// gone). Reconnect logic compares it before and after a change.
func PathTo(dst netip.Addr) (string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return pathFromProcRoute(f, dst)
}
