package platform

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// ipHelper is the winNet of Windows: the IP Helper API through
// golang.zx2c4.com/wireguard/windows/tunnel/winipcfg. Compiled for windows
// (amd64, arm64) and never run: no Windows machine has tested it, and Wine
// does not implement these calls well enough to try (see DESIGN.md §8).
type ipHelper struct{}

var _ winNet = ipHelper{}

func (ipHelper) LUIDByAlias(alias string) (uint64, error) {
	// The Wintun adapter has no address yet when OpenTUN names it: ask for
	// every interface, not only those with addresses.
	ifs, err := winipcfg.GetAdaptersAddresses(windows.AF_UNSPEC, winipcfg.GAAFlagIncludeAllInterfaces)
	if err != nil {
		return 0, err
	}
	for _, a := range ifs {
		if a.FriendlyName() == alias {
			return uint64(a.LUID), nil
		}
	}
	// What a missing interface is called elsewhere: the Router's undo
	// takes it for "already gone".
	return 0, windows.ERROR_NOT_FOUND
}

func (ipHelper) LUIDByIndex(index uint32) (uint64, error) {
	luid, err := winipcfg.LUIDFromIndex(index)
	return uint64(luid), err
}

func (ipHelper) SetAddress(luid uint64, addr netip.Prefix) error {
	family := winipcfg.AddressFamily(windows.AF_INET)
	if addr.Addr().Is6() {
		family = windows.AF_INET6
	}
	return winipcfg.LUID(luid).SetIPAddressesForFamily(family, []netip.Prefix{addr})
}

func (ipHelper) SetMTU(luid uint64, mtu int) error {
	row, err := winipcfg.LUID(luid).IPInterface(windows.AF_INET)
	if err != nil {
		return err
	}
	row.NLMTU = uint32(mtu)
	return row.Set()
}

func (ipHelper) SetMetric(luid uint64, metric uint32) error {
	row, err := winipcfg.LUID(luid).IPInterface(windows.AF_INET)
	if err != nil {
		return err
	}
	row.UseAutomaticMetric = false
	row.Metric = metric
	return row.Set()
}

func (ipHelper) AddRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr, metric uint32) error {
	return winipcfg.LUID(luid).AddRoute(dst, onLink(dst, nextHop), metric)
}

func (ipHelper) DeleteRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr) error {
	return winipcfg.LUID(luid).DeleteRoute(dst, onLink(dst, nextHop))
}

// onLink is the next hop of a route: the unspecified address of dst's
// family when there is none (winipcfg needs a valid address).
func onLink(dst netip.Prefix, nextHop netip.Addr) netip.Addr {
	if nextHop.IsValid() {
		return nextHop
	}
	if dst.Addr().Is6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func (ipHelper) HasIPv6(luid uint64) (bool, error) {
	_, err := winipcfg.LUID(luid).IPInterface(windows.AF_INET6)
	if errors.Is(err, windows.ERROR_NOT_FOUND) {
		return false, nil
	}
	return err == nil, err
}

// SetDNS sets both families: winipcfg's SetDNS keeps the servers of the
// family it is given. The IPv6 family is set when there are IPv6 servers,
// and cleared (nil servers) where the interface has IPv6.
func (h ipHelper) SetDNS(luid uint64, servers []netip.Addr, domains []string) error {
	if err := winipcfg.LUID(luid).SetDNS(windows.AF_INET, servers, domains); err != nil {
		return err
	}
	has6 := false
	for _, a := range servers {
		has6 = has6 || a.Is6()
	}
	if !has6 {
		if ok, err := h.HasIPv6(luid); err != nil || !ok {
			return err
		}
	}
	return winipcfg.LUID(luid).SetDNS(windows.AF_INET6, servers, domains)
}

func (ipHelper) AddAddress(luid uint64, addr netip.Prefix) error {
	return winipcfg.LUID(luid).AddIPAddress(addr)
}

func (ipHelper) DeleteAddress(luid uint64, addr netip.Addr) error {
	return winipcfg.LUID(luid).DeleteIPAddress(netip.PrefixFrom(addr, addr.BitLen()))
}
