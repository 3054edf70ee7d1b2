//go:build linux

package main

import (
	"net/netip"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// TestIPv6Flags: -ipv6-ra, -dhcpv6 and -ipv6-dns script the l2tptest
// server and give the TUN the prefix's ::1; bad values, -dhcpv6 without
// -ipv6-ra and a DHCPv6 address that is the router's are refused.
func TestIPv6Flags(t *testing.T) {
	var c l2tptest.Config
	if r, err := ipv6Config(&c, "", "", ""); err != nil || c.IPv6 || c.RA != nil || r.IsValid() {
		t.Errorf("no flags: %+v %v %v", c, r, err)
	}
	r, err := ipv6Config(&c, "2001:db8:1::/64", "2001:db8:1::100", "2001:db8::53")
	if err != nil {
		t.Fatal(err)
	}
	if r != netip.MustParsePrefix("2001:db8:1::1/64") {
		t.Errorf("router address %v, want 2001:db8:1::1/64", r)
	}
	if !c.IPv6 || c.RA == nil || !c.RA.Managed || len(c.RA.Prefixes) != 1 || c.RA.Prefixes[0].Prefix != netip.MustParsePrefix("2001:db8:1::/64") ||
		c.DHCPv6 == nil || c.DHCPv6.Addr != netip.MustParseAddr("2001:db8:1::100") || len(c.RA.RDNSS) != 1 || len(c.DHCPv6.DNS) != 1 {
		t.Errorf("config %+v RA %+v DHCPv6 %+v", c, c.RA, c.DHCPv6)
	}
	for _, bad := range [][3]string{
		{"", "2001:db8::1", ""}, {"", "", "2001:db8::53"}, {"2001:db8::/48", "", ""}, {"10.0.0.0/8", "", ""},
		{"2001:db8::/64", "10.0.0.1", ""}, {"2001:db8::/64", "", "nope"}, {"2001:db8::/64", "2001:db8::1", ""},
	} {
		var c l2tptest.Config
		if _, err := ipv6Config(&c, bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestForward6: IPv6 packets to global addresses take the fast path to the
// TUN; router solicitations, DHCPv6 (multicast) and packets to link-local
// addresses go to the l2tptest server; what is not IPv6 neither.
func TestForward6(t *testing.T) {
	pkt := func(dst string) []byte {
		b := make([]byte, 48)
		b[0] = 0x60
		d := netip.MustParseAddr(dst).As16()
		copy(b[24:40], d[:])
		return b
	}
	for dst, want := range map[string]bool{
		"2001:db8:6::1": true, "fd00::1": true,
		"ff02::2": false, "ff02::1:2": false, "fe80::1": false, "::": false, "::1": false,
	} {
		if got := forward6(pkt(dst)); got != want {
			t.Errorf("forward6(to %s) = %v, want %v", dst, got, want)
		}
	}
	v4 := pkt("2001:db8:6::1")
	v4[0] = 0x45
	if forward6(v4) || forward6(pkt("2001:db8:6::1")[:39]) {
		t.Errorf("an IPv4 or short packet forwarded as IPv6")
	}
}

// TestIPv6Extras: -ipv6-route becomes Route Information options, and
// -ipv6-domain DNSSL and the DHCPv6 domain list; both need -ipv6-ra.
func TestIPv6Extras(t *testing.T) {
	var c l2tptest.Config
	if err := ipv6Extras(&c, "", ""); err != nil {
		t.Errorf("no flags: %v", err)
	}
	if err := ipv6Extras(&c, "2001:db8:77::/48", ""); err == nil {
		t.Errorf("-ipv6-route without -ipv6-ra accepted")
	}
	if _, err := ipv6Config(&c, "2001:db8:1::/64", "2001:db8:1::100", ""); err != nil {
		t.Fatal(err)
	}
	if err := ipv6Extras(&c, "2001:db8:77::1/48,2001:db8:78::/48", "corp.example"); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("2001:db8:77::/48"), netip.MustParsePrefix("2001:db8:78::/48")}
	if len(c.RA.Routes) != 2 || c.RA.Routes[0] != want[0] || c.RA.Routes[1] != want[1] || c.RA.RouteLifetime == 0 ||
		len(c.RA.DNSSL) != 1 || c.RA.DNSSL[0] != "corp.example" || c.RA.DNSLifetime == 0 ||
		len(c.DHCPv6.Domains) != 1 || c.DHCPv6.Domains[0] != "corp.example" {
		t.Errorf("RA %+v DHCPv6 %+v", c.RA, c.DHCPv6)
	}
	if err := ipv6Extras(&c, "10.0.0.0/8", ""); err == nil {
		t.Errorf("an IPv4 route accepted")
	}
}
