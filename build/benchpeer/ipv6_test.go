//go:build linux

package main

import (
	"net/netip"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// TestIPv6Flags: -ipv6-ra, -dhcpv6 and -ipv6-dns script the l2tptest
// server; bad values and -dhcpv6 without -ipv6-ra are refused.
func TestIPv6Flags(t *testing.T) {
	var c l2tptest.Config
	if err := ipv6Config(&c, "", "", ""); err != nil || c.IPv6 || c.RA != nil {
		t.Errorf("no flags: %+v %v", c, err)
	}
	if err := ipv6Config(&c, "2001:db8:1::/64", "2001:db8:1::100", "2001:db8::53"); err != nil {
		t.Fatal(err)
	}
	if !c.IPv6 || c.RA == nil || !c.RA.Managed || len(c.RA.Prefixes) != 1 || c.RA.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:1::/64") ||
		c.DHCPv6 == nil || c.DHCPv6.Addr != netip.MustParseAddr("2001:db8:1::100") || len(c.RA.RDNSS) != 1 || len(c.DHCPv6.DNS) != 1 {
		t.Errorf("config %+v RA %+v DHCPv6 %+v", c, c.RA, c.DHCPv6)
	}
	for _, bad := range [][3]string{
		{"", "2001:db8::1", ""}, {"", "", "2001:db8::53"}, {"2001:db8::/48", "", ""}, {"10.0.0.0/8", "", ""},
		{"2001:db8::/64", "10.0.0.1", ""}, {"2001:db8::/64", "", "nope"},
	} {
		var c l2tptest.Config
		if err := ipv6Config(&c, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
