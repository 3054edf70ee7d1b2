//go:build !linux

package daemon

import (
	"errors"
	"net"
)

// PeerCred is only implemented on Linux; elsewhere the socket's file mode
// (root and the corridor group) is the only gate, and this refuses so
// that a missing check is never silent. macOS (LOCAL_PEERCRED) and
// Windows (a named pipe with an ACL) are future work.
func PeerCred(net.Conn) (uint32, uint32, error) {
	return 0, 0, errors.New("peer credentials are not implemented on this system")
}
