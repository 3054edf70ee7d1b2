package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
)

// The kill switch of Windows. This file has no GOOS suffix so that its
// tests run everywhere with a fake; the real calls are in
// killswitch_windows.go. None of it has run on Windows: compiled and
// tested against a fake only.
//
// It is WireGuard for Windows' own block
// (golang.zx2c4.com/wireguard/windows/tunnel/firewall, EnableFirewall):
// Windows Filtering Platform filters in a sublayer of the highest weight,
// in a dynamic WFP session, that block every connection and every
// accepted packet, IPv4 and IPv6, except
//
//   - all traffic of the helper's own process (its executable and its
//     security descriptor), so that its reconnect reaches the VPN server;
//   - loopback, DHCPv4, DHCPv6 and neighbour discovery, so that the
//     network can come back;
//   - DNS (port 53) to the DNS servers of the machine's other adapters at
//     the time the block starts, so that a server given by name resolves
//     (the DNS Client service, not the helper, sends those queries); DNS
//     to any other server is blocked.
//
// A dynamic session's filters are removed by Windows when the process
// that made them ends, so a crashed helper leaves no block behind and
// there is nothing to journal. That package keeps one session per
// process, so the kill switches of several sessions share it: the first
// Block turns it on, the last Unblock turns it off (wfpShared). The
// server's address is not needed: the helper's own traffic passes
// whatever its destination.

// wfpFirewall is the part of WFP the kill switch uses.
type wfpFirewall interface {
	// Enable blocks as described above, letting DNS reach dns.
	Enable(dns []netip.Addr) error
	// Disable removes the block.
	Disable()
	// DNSServers lists the DNS servers of the adapters that are up,
	// except the one named except (the session's own).
	DNSServers(except string) ([]netip.Addr, error)
}

// wfpShared is the one WFP block of the process and how many kill
// switches hold it.
type wfpShared struct {
	mu    sync.Mutex
	fw    wfpFirewall
	users int
}

func (s *wfpShared) acquire(iface string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == 0 {
		dns, err := s.fw.DNSServers(iface)
		if err != nil {
			return fmt.Errorf("platform: kill switch: listing the DNS servers: %w", err)
		}
		// The unspecified address would match nothing useful; a
		// server listed twice needs one filter.
		dns = slices.DeleteFunc(dns, func(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() })
		slices.SortFunc(dns, netip.Addr.Compare)
		if err := s.fw.Enable(slices.Compact(dns)); err != nil {
			return fmt.Errorf("platform: kill switch: %w", err)
		}
	}
	s.users++
	return nil
}

func (s *wfpShared) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users == 0 {
		return errors.New("platform: kill switch: released more often than taken")
	}
	s.users--
	if s.users == 0 {
		s.fw.Disable()
	}
	return nil
}

// wfpKillSwitch is one session's hold on the shared block.
type wfpKillSwitch struct {
	shared *wfpShared
	iface  string
}

func newWFPKillSwitch(shared *wfpShared, iface string) (killSwitchImpl, error) {
	if !windowsIfaceOK(iface) {
		return nil, fmt.Errorf("platform: kill switch: bad adapter name %q", iface)
	}
	return &wfpKillSwitch{shared: shared, iface: iface}, nil
}

func (k *wfpKillSwitch) block(netip.Addr) error { return k.shared.acquire(k.iface) }
func (k *wfpKillSwitch) unblock() error         { return k.shared.release() }
func (k *wfpKillSwitch) String() string         { return "Windows Filtering Platform (dynamic session)" }
