//go:build linux || darwin

package daemon

import (
	"errors"
	"net"
)

// sockopt runs get on the file descriptor of c, a unix socket, and returns
// its error: the getsockopt of each system's PeerCred.
func sockopt(c net.Conn, get func(fd int) error) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var gerr error
	if err := rc.Control(func(fd uintptr) { gerr = get(int(fd)) }); err != nil {
		return err
	}
	return gerr
}
