//go:build linux || darwin

package platform

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// watchSocket turns a kernel socket that announces network changes (Linux
// rtnetlink, a macOS routing socket) into WatchNetwork's channel: one value
// pending at most, "something changed; look again", for every read that
// changed says is a change, and for ENOBUFS (the kernel dropped messages,
// so something changed). It owns fd; the channel closes when ctx ends.
func watchSocket(ctx context.Context, fd int, name string, bufSize int, changed func([]byte) bool) (<-chan struct{}, error) {
	// Non-blocking, so that the File is pollable and Close ends a Read.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("platform: %s socket: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	out := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		f.Close() // ends the read below
	}()
	go func() {
		defer close(out)
		buf := make([]byte, bufSize)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if ctx.Err() != nil || err != unix.ENOBUFS {
					return
				}
			} else if !changed(buf[:n]) {
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
