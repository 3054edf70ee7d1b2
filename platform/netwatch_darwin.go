package platform

import (
	"context"
	"fmt"
	"net/netip"
	"os"

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
	// Non-blocking, so that the File is pollable and Close ends a Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("platform: routing socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "route")
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close() // ends the read below
	}()
	go func() {
		defer close(out)
		buf := make([]byte, 16<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// ENOBUFS: the kernel dropped messages; still a change.
				if err != unix.ENOBUFS {
					return
				}
			} else if !darwinRouteMsgsChange(buf[:n]) {
				continue
			}
			select {
			case out <- struct{}{}:
			default: // one is pending already
			}
		}
	}()
	return out, nil
}

// PathTo describes the route this Mac gives dst ("dev en0 via
// 192.168.1.1"), from route -n get; "" when no route covers it.
func PathTo(dst netip.Addr) (string, error) { return darwinPathTo(ExecRunner{}, dst) }
