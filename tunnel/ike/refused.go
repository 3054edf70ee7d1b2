package ike

import (
	"errors"
	"syscall"
)

// isRefused reports an ICMP port unreachable surfacing on a connected
// UDP socket.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
