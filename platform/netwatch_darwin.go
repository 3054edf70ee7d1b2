package platform

import (
	"context"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// WatchNetwork reports changes of this Mac's interfaces, addresses and
// routes from a routing socket (route(4)): a value on the channel says
// "something changed; look again" (changes that come together are one
// value). The channel closes when ctx ends. No privilege is needed.
// Compiled only: never run on a Mac.
func WatchNetwork(ctx context.Context) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_ROUTE, unix.SOCK_RAW, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("platform: routing socket: %w", err)
	}
	unix.CloseOnExec(fd)
	return watchSocket(ctx, fd, "route", 16<<10, darwinRouteMsgsChange)
}

// PathTo describes the route this Mac gives dst ("dev en0 via
// 192.168.1.1"), from route -n get; "" when no route covers it.
func PathTo(dst netip.Addr) (string, error) { return darwinPathTo(ExecRunner{}, dst) }
