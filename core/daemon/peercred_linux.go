package daemon

import (
	"net"

	"golang.org/x/sys/unix"
)

// PeerCred returns the kernel's credentials of the process at the other
// end of a unix socket (SO_PEERCRED, unix(7)).
func PeerCred(c net.Conn) (uid, gid uint32, err error) {
	var cred *unix.Ucred
	if err := sockopt(c, func(fd int) (err error) {
		cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		return err
	}); err != nil {
		return 0, 0, err
	}
	return cred.Uid, cred.Gid, nil
}
