package platform

import (
	"net/netip"
	"os"
)

// DefaultGateways returns the IPv4 next hops of the machine's default
// routes (main table), read from /proc/net/route: no command, no locale.
func DefaultGateways() ([]netip.Addr, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseProcRoute(f)
}
