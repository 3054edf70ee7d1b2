// Package ipv6 configures IPv6 over the PPP link once IPV6CP (RFC 5072) has
// given both ends their link-local addresses: router solicitation and
// stateless address autoconfiguration (RFC 4861, RFC 4862), the DNS options
// of router advertisements (RFC 8106), route information (RFC 4191), and
// DHCPv6 (RFC 8415) when the router's M or O flag asks for it.
//
// It is pure protocol code: it reads and writes IPv6 packets handed to it by
// the tunnel and reports what the server offered as a Config.
package ipv6

import (
	"net/netip"
	"slices"
	"strings"
)

// Config is what the server offered over IPv6, ready for the OS layer.
type Config struct {
	// Addrs are our global addresses: SLAAC (prefix + our interface
	// identifier, with the prefix length of the advertised prefix) and/or
	// a DHCPv6 IA_NA address (/128).
	Addrs []netip.Prefix
	// Routes are prefixes reachable through the tunnel: on-link prefixes
	// of the advertisement (RFC 4861 §4.6.2 L flag) and RFC 4191 route
	// information options. ::/0 is not listed here: see Default.
	Routes []netip.Prefix
	// Default: the router advertised itself as a default router (router
	// lifetime > 0, RFC 4861 §4.2), so a full tunnel may send ::/0 through it.
	Default bool
	// DNS servers (RDNSS, RFC 8106 §5.1; or DHCPv6 option 23) and search
	// domains (DNSSL, RFC 8106 §5.2; or DHCPv6 option 24).
	DNS     []netip.Addr
	Domains []string
	// Source says where the configuration came from: "slaac", "dhcpv6" or
	// "slaac+dhcpv6".
	Source string
}

// Equal reports whether c and o hold the same configuration.
func (c Config) Equal(o Config) bool {
	return slices.Equal(c.Addrs, o.Addrs) && slices.Equal(c.Routes, o.Routes) &&
		c.Default == o.Default && slices.Equal(c.DNS, o.DNS) &&
		slices.Equal(c.Domains, o.Domains) && c.Source == o.Source
}

func (c Config) String() string {
	var b strings.Builder
	b.WriteString(c.Source)
	for _, a := range c.Addrs {
		b.WriteString(" addr " + a.String())
	}
	if c.Default {
		b.WriteString(" default")
	}
	for _, r := range c.Routes {
		b.WriteString(" route " + r.String())
	}
	for _, d := range c.DNS {
		b.WriteString(" dns " + d.String())
	}
	return b.String()
}
