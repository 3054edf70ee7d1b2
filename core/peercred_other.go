//go:build !linux

package core

import (
	"errors"
	"net"
)

// peerCred is only implemented on Linux; elsewhere the socket's file mode
// (root and the corridor group) is the only gate, and this refuses so
// that a missing check is never silent. macOS (LOCAL_PEERCRED) and
// Windows (a named pipe with an ACL) are future work.
func peerCred(net.Conn) (uint32, uint32, error) {
	return 0, 0, errors.New("peer credentials are not implemented on this system")
}
