package platform

import (
	"net/netip"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/firewall"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// processWFP is the process's one WFP block (killswitch_wfp.go).
var processWFP = &wfpShared{fw: wgFirewall{}}

func newKillSwitchImpl(iface string, env *routerEnv) (killSwitchImpl, error) {
	return newWFPKillSwitch(processWFP, iface)
}

// wgFirewall is wfpFirewall through WireGuard for Windows' firewall
// package. Compiled for windows (amd64, arm64) and never run.
type wgFirewall struct{}

func (wgFirewall) Enable(dns []netip.Addr) error {
	// LUID 0: no tunnel interface is let through (the session's adapter
	// is down or gone while the block is on); doNotRestrict false: block.
	// An empty dns list would leave DNS unrestricted by the firewall
	// package's DNS rules but still blocked by its block-all filter.
	return firewall.EnableFirewall(0, false, dns)
}

func (wgFirewall) Disable() { firewall.DisableFirewall() }

func (wgFirewall) DNSServers(except string) ([]netip.Addr, error) {
	ifs, err := winipcfg.GetAdaptersAddresses(windows.AF_UNSPEC, winipcfg.GAAFlagDefault)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range ifs {
		if a.OperStatus != winipcfg.IfOperStatusUp || a.FriendlyName() == except {
			continue
		}
		for d := a.FirstDNSServerAddress; d != nil; d = d.Next {
			if ip := d.Address.IP(); ip != nil {
				if addr, ok := netip.AddrFromSlice(ip); ok {
					out = append(out, addr.Unmap())
				}
			}
		}
	}
	return out, nil
}
