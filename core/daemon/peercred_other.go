//go:build !linux && !darwin

package daemon

import (
	"errors"
	"net"
)

// PeerCred is implemented on Linux (SO_PEERCRED) and macOS
// (LOCAL_PEERCRED, peercred_darwin.go); elsewhere the socket's file mode
// (root and the corridor group) is the only gate, and this refuses so
// that a missing check is never silent. Windows (a named pipe with an
// ACL) is future work.
func PeerCred(net.Conn) (uint32, uint32, error) {
	return 0, 0, errors.New("peer credentials are not implemented on this system")
}
