//go:build !linux

package platform

import (
	"errors"
	"net/netip"
)

// DefaultGateways is not implemented here yet (macOS: route -n get
// default; Windows: GetIpForwardTable2): the caller skips its check.
func DefaultGateways() ([]netip.Addr, error) {
	return nil, errors.ErrUnsupported
}
