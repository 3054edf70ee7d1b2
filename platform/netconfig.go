package platform

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The two halves of the IPv4 space: together they cover everything and each
// is more specific than a default route, which stays in place underneath
// (the trick of OpenVPN's def1 and of tailscale's exit nodes).
var fullTunnelHalves = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/1"),
	netip.MustParsePrefix("128.0.0.0/1"),
}

// normalize checks cfg and returns a copy of it with addresses unmapped,
// prefixes masked, duplicates dropped, domains without their final dot, and a
// route 0.0.0.0/0 turned into FullTunnel (a default route of our own would
// collide with the system's).
//
// Interface names and domains end up in command lines, in resolv.conf and in
// an scutil script, so they are held to plain characters: a domain with a
// space or a newline in it would otherwise add lines to those.
func (cfg *NetConfig) normalize() (NetConfig, error) {
	c := NetConfig{
		Interface:     cfg.Interface,
		Local:         cfg.Local.Unmap(),
		Server:        cfg.Server.Unmap(),
		FullTunnel:    cfg.FullTunnel,
		ClassfulRoute: cfg.ClassfulRoute,
		Default6:      cfg.Default6,
	}
	if err := checkIfaceName(c.Interface); err != nil {
		return c, err
	}
	if c.Local.IsValid() && !c.Local.Is4() {
		return c, fmt.Errorf("platform: local address %v is not IPv4", c.Local)
	}
	if c.Server.IsValid() && (!c.Server.Is4() || c.Server.IsUnspecified()) {
		return c, fmt.Errorf("platform: server address %v is not a usable IPv4 address", c.Server)
	}
	for _, r := range cfg.Routes {
		if !r.IsValid() {
			return c, fmt.Errorf("platform: invalid route %v", r)
		}
		if r.Addr().Is4In6() && r.Bits() >= 96 {
			r = netip.PrefixFrom(r.Addr().Unmap(), r.Bits()-96)
		}
		if !r.Addr().Is4() {
			return c, fmt.Errorf("platform: route %v: only IPv4 is carried", r)
		}
		r = r.Masked()
		if r.Bits() == 0 {
			c.FullTunnel = true
			continue
		}
		if !slices.Contains(c.Routes, r) {
			c.Routes = append(c.Routes, r)
		}
	}
	if c.FullTunnel && !c.Server.IsValid() {
		return c, fmt.Errorf("platform: a full tunnel needs the server address (for its host route)")
	}
	if c.ClassfulRoute {
		if !c.Local.IsValid() {
			return c, fmt.Errorf("platform: a classful route needs the local address")
		}
		if _, ok := classfulNetwork(c.Local); !ok {
			return c, fmt.Errorf("platform: local address %v has no classful network (class D or E)", c.Local)
		}
	}
	for _, a := range cfg.DNS {
		a = a.Unmap()
		// A link-local server needs a zone, which resolv.conf, scutil and
		// Windows spell differently: not taken.
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" || a.Is6() && a.IsLinkLocalUnicast() {
			return c, fmt.Errorf("platform: DNS server %v is not a usable address", a)
		}
		if !slices.Contains(c.DNS, a) {
			c.DNS = append(c.DNS, a)
		}
	}
	if err := c.normalize6(cfg); err != nil {
		return c, err
	}
	for _, d := range cfg.Domains {
		d = strings.TrimSuffix(d, ".")
		if err := checkDomain(d); err != nil {
			return c, err
		}
		if !slices.Contains(c.Domains, d) {
			c.Domains = append(c.Domains, d)
		}
	}
	return c, nil
}

// normalize6 checks and copies the IPv6 part of cfg into c: global
// (or unique local) unicast addresses with their prefix length, routes
// masked and without duplicates; a route ::/0 turns into Default6, as
// 0.0.0.0/0 turns into FullTunnel.
func (c *NetConfig) normalize6(cfg *NetConfig) error {
	for _, a := range cfg.Addrs6 {
		ad := a.Addr()
		if !a.IsValid() || !ad.Is6() || ad.Is4In6() || ad.Zone() != "" || !ad.IsGlobalUnicast() || ad.IsLinkLocalUnicast() {
			return fmt.Errorf("platform: IPv6 address %v is not a global IPv6 address with a prefix length", a)
		}
		if !slices.Contains(c.Addrs6, a) {
			c.Addrs6 = append(c.Addrs6, a)
		}
	}
	for _, r := range cfg.Routes6 {
		if !r.IsValid() || !r.Addr().Is6() || r.Addr().Is4In6() || r.Addr().Zone() != "" {
			return fmt.Errorf("platform: IPv6 route %v is not an IPv6 prefix", r)
		}
		r = r.Masked()
		if r.Bits() == 0 {
			c.Default6 = true
			continue
		}
		if r.Addr().IsLinkLocalUnicast() || r.Addr().IsMulticast() {
			return fmt.Errorf("platform: IPv6 route %v: link-local and multicast prefixes are not routed", r)
		}
		if !slices.Contains(c.Routes6, r) {
			c.Routes6 = append(c.Routes6, r)
		}
	}
	return nil
}

// tunnelRoutes6 lists the IPv6 prefixes to route through the device: the
// two halves with Default6, then Routes6.
func (c *NetConfig) tunnelRoutes6() []netip.Prefix {
	var out []netip.Prefix
	if c.Default6 {
		out = append(out, ipv6Halves...)
	}
	for _, p := range c.Routes6 {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// block6 reports whether IPv6 is to be blocked: a full tunnel whose
// session offers no IPv6 default.
func (c *NetConfig) block6() bool { return c.FullTunnel && !c.Default6 }

// classfulNetwork returns the network of a in the classful scheme of RFC 791
// (class A /8, B /16, C /24), which Windows routes when "use default gateway
// on remote network" is off.
func classfulNetwork(a netip.Addr) (netip.Prefix, bool) {
	b := a.As4()[0]
	switch {
	case b < 128:
		return netip.PrefixFrom(a, 8).Masked(), true
	case b < 192:
		return netip.PrefixFrom(a, 16).Masked(), true
	case b < 224:
		return netip.PrefixFrom(a, 24).Masked(), true
	}
	return netip.Prefix{}, false
}

// tunnelRoutes lists the prefixes to route through the device, in the order
// they are added, and whether the server needs a host route: it does when
// one of them covers it.
func (c *NetConfig) tunnelRoutes() (prefixes []netip.Prefix, needHost bool) {
	add := func(p netip.Prefix) {
		if !slices.Contains(prefixes, p) {
			prefixes = append(prefixes, p)
		}
	}
	if c.FullTunnel {
		for _, p := range fullTunnelHalves {
			add(p)
		}
	}
	for _, p := range c.Routes {
		add(p)
	}
	if c.ClassfulRoute {
		p, _ := classfulNetwork(c.Local)
		add(p)
	}
	// A loopback server (a local relay or tunnel in front of the real
	// one) is delivered locally whatever routes we add: nothing to pin.
	if c.Server.IsValid() && !c.Server.IsLoopback() {
		for _, p := range prefixes {
			if p.Contains(c.Server) {
				needHost = true
			}
		}
	}
	return prefixes, needHost
}

// checkIfaceName accepts names that are safe as one command-line argument
// and in the journal's file name; the per-OS planners are stricter.
func checkIfaceName(name string) error {
	if name == "" || len(name) > 255 || name == "." || name == ".." {
		return fmt.Errorf("platform: invalid interface name %q", name)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(`"/\`, c) {
			return fmt.Errorf("platform: invalid interface name %q", name)
		}
	}
	return nil
}

// checkDomain accepts a DNS name of letters, digits, '-' and '_' in labels
// of 1 to 63 bytes, at most 253 bytes in all (RFC 1035 2.3.4).
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return fmt.Errorf("platform: invalid search domain %q", d)
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("platform: invalid search domain %q", d)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("platform: invalid search domain %q", d)
			}
		}
	}
	return nil
}

// dnsKey identifies a DNS setting across Set calls.
func dnsKey(backend string, c *NetConfig) string {
	s := make([]string, 0, len(c.DNS))
	for _, a := range c.DNS {
		s = append(s, a.String())
	}
	k := "dns " + backend + " " + strings.Join(s, ",")
	if len(c.Domains) > 0 {
		k += " search " + strings.Join(c.Domains, ",")
	}
	if c.FullTunnel {
		k += " all"
	}
	return k
}
