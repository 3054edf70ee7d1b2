//go:build !linux

package ike

import (
	"net"
	"net/netip"
)

// newBatchIO: batching is Linux's (recvmmsg, sendmmsg, UDP GSO); elsewhere
// the Conn reads and writes one datagram at a time.
func newBatchIO(*net.UDPConn, netip.AddrPort) batchIO { return nil }
