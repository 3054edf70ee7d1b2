package daemon

import (
	"net"

	"golang.org/x/sys/unix"
)

// PeerCred returns the kernel's credentials of the process at the other
// end of a unix socket: LOCAL_PEERCRED at level SOL_LOCAL (unix(4) on
// macOS), a struct xucred whose cr_groups[0] is the effective gid.
//
// Compiled for darwin only; its checks of the struct (xucredIDs) are
// tested on Linux, the getsockopt itself has never run on a Mac.
func PeerCred(c net.Conn) (uid, gid uint32, err error) {
	var x *unix.Xucred
	if err := sockopt(c, func(fd int) (err error) {
		x, err = unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		return err
	}); err != nil {
		return 0, 0, err
	}
	return xucredIDs(x.Version, x.Uid, int(x.Ngroups), x.Groups[:])
}
