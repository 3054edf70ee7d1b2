package daemon

import (
	"errors"
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
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, 0, errors.New("not a unix socket")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var x *unix.Xucred
	var xerr error
	if err := rc.Control(func(fd uintptr) {
		x, xerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if xerr != nil {
		return 0, 0, xerr
	}
	return xucredIDs(x.Version, x.Uid, int(x.Ngroups), x.Groups[:])
}
