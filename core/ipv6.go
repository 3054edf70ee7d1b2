package core

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel/ipv6"
)

// IPv6 inside the tunnel (ConnectConfig.IPv6). Once IPV6CP is open the
// tunnel reports what the server offers over IPv6, an ipv6.Config from
// its router advertisement and DHCPv6 (tunnel.StageIPv6Config), at any
// time and again whenever the offer changes. The session keeps the
// latest (ipv6Watch); the RealStack's link turns it into the IPv6 part
// of its platform.NetConfig and converges the Router to it (ipv6Apply),
// on a goroutine of its own: the protocol's goroutine must not wait for
// commands.
//
//   - the global addresses go on the device;
//   - the offered prefixes are routed through the device, but for those
//     another live tunnel already carries (multi.go: checkIPv6);
//   - a full tunnel routes all IPv6 through the device (::/1 and
//     8000::/1) when the server offered itself as the default router;
//     without that offer IPv6 stays blocked outside the tunnel, as it is
//     for a session without IPv6. A split tunnel never takes the IPv6
//     default, as it never takes the IPv4 one;
//   - the IPv6 DNS servers join the IPv4 ones when the profile uses the
//     server's DNS (with its search domains); a profile's own DNS or
//     "none" stays as it is.

// ipv6Watch holds the latest IPv6 configuration a session's tunnel
// reported and hands it to one listener, latest first, on a goroutine of
// its own.
type ipv6Watch struct {
	log  *slog.Logger
	mu   sync.Mutex
	cfg  ipv6.Config
	have bool
	off  bool // disable: the device has no IPv6
	kick chan struct{}
}

func newIPv6Watch(log *slog.Logger) *ipv6Watch {
	return &ipv6Watch{log: log, kick: make(chan struct{}, 1)}
}

// disable drops what was offered and every later offer: the session's
// device carries no IPv6 (session.go: ipv6OnDevice), so there is nothing
// to set up. The listener sees no configuration.
func (w *ipv6Watch) disable() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.off, w.have, w.cfg = true, false, ipv6.Config{}
}

// offer records cfg; it never blocks (it runs on the protocol goroutine).
func (w *ipv6Watch) offer(cfg ipv6.Config) {
	w.mu.Lock()
	if w.off {
		w.mu.Unlock()
		return
	}
	same := w.have && w.cfg.Equal(cfg)
	w.cfg, w.have = cfg, true
	w.mu.Unlock()
	if same {
		return
	}
	if w.log != nil {
		w.log.Info("ipv6: the server offers " + ipv6Words(cfg))
	}
	select {
	case w.kick <- struct{}{}:
	default: // a kick is pending: the listener reads the latest anyway
	}
}

// latest is the last configuration offered, if any.
func (w *ipv6Watch) latest() (ipv6.Config, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg, w.have
}

// run calls f with the latest configuration each time it changes (and at
// once when one came before), until done is closed. Offers that come
// while f runs are merged: f sees the newest.
func (w *ipv6Watch) run(f func(ipv6.Config), done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-w.kick:
		}
		if cfg, ok := w.latest(); ok {
			f(cfg)
		}
	}
}

// ipv6Words says what a configuration holds, for the log.
func ipv6Words(c ipv6.Config) string {
	var parts []string
	if len(c.Addrs) == 0 {
		parts = append(parts, "no global address (only the link-local one)")
	}
	for _, a := range c.Addrs {
		parts = append(parts, "address "+a.String())
	}
	if c.Default {
		parts = append(parts, "a default route")
	}
	for _, r := range c.Routes {
		parts = append(parts, "route "+r.String())
	}
	for _, d := range c.DNS {
		parts = append(parts, "DNS "+d.String())
	}
	s := strings.Join(parts, ", ")
	if c.Source != "" {
		s += " (" + c.Source + ")"
	}
	return s
}

// IPv6Check decides which IPv6 routes a session may take beside the other
// tunnels (multi.go): it returns the routes kept, and a line for each one
// dropped or address at odds with another tunnel.
type IPv6Check func(addrs, routes []netip.Prefix) (keep []netip.Prefix, notes []string)

// withIPv6 is base (a copy) with the IPv6 configuration c of a session of
// profile p, the routes as check leaves them.
func withIPv6(base *platform.NetConfig, p profile.Profile, c ipv6.Config, check IPv6Check) (*platform.NetConfig, []string) {
	nc := *base
	nc.DNS, nc.Domains = slices.Clone(base.DNS), slices.Clone(base.Domains)
	nc.Addrs6 = nil
	for _, a := range c.Addrs {
		if a.IsValid() && a.Addr().Is6() && a.Addr().IsGlobalUnicast() && !a.Addr().IsLinkLocalUnicast() {
			nc.Addrs6 = append(nc.Addrs6, a)
		}
	}
	var routes []netip.Prefix
	for _, r := range c.Routes {
		r = r.Masked()
		if r.IsValid() && r.Addr().Is6() && r.Bits() > 0 && !r.Addr().IsLinkLocalUnicast() && !r.Addr().IsMulticast() {
			routes = append(routes, r)
		}
	}
	var notes []string
	if check != nil {
		routes, notes = check(nc.Addrs6, routes)
	}
	nc.Routes6 = routes
	nc.Default6 = base.FullTunnel && c.Default
	if p.DNS == "" || p.DNS == "server" {
		for _, d := range c.DNS {
			if d.Is6() && !d.IsLinkLocalUnicast() && !d.IsUnspecified() && !d.IsMulticast() && d.Zone() == "" && !slices.Contains(nc.DNS, d) {
				nc.DNS = append(nc.DNS, d)
			}
		}
		for _, d := range c.Domains {
			d = strings.TrimSuffix(d, ".")
			if domainOK(d) && !slices.Contains(nc.Domains, d) {
				nc.Domains = append(nc.Domains, d)
			}
		}
	}
	return &nc, notes
}

// domainOK holds a search domain the server offered to what the platform
// writes into resolv.conf and the like (RFC 1035 2.3.4: labels of 1 to 63
// letters, digits, '-' or '_', 253 bytes in all); one that fails is left
// out rather than failing the whole configuration.
func domainOK(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// ipv6Summary is the log line of an applied IPv6 configuration.
func ipv6Summary(nc *platform.NetConfig, offered ipv6.Config) string {
	var parts []string
	for _, a := range nc.Addrs6 {
		parts = append(parts, "address "+a.String())
	}
	switch {
	case nc.Default6:
		parts = append(parts, "all IPv6 through the tunnel")
	case nc.FullTunnel && offered.Default:
	case nc.FullTunnel:
		parts = append(parts, "IPv6 outside the tunnel stays blocked (the server offered no default route)")
	case offered.Default:
		parts = append(parts, "the server's IPv6 default route is not taken (split tunnel)")
	}
	if len(nc.Routes6) > 0 {
		parts = append(parts, fmt.Sprintf("routes %v", nc.Routes6))
	}
	var dns6 []netip.Addr
	for _, d := range nc.DNS {
		if d.Is6() {
			dns6 = append(dns6, d)
		}
	}
	if len(dns6) > 0 {
		parts = append(parts, fmt.Sprintf("DNS %v", dns6))
	}
	if len(parts) == 0 {
		return "nothing to set up"
	}
	return strings.Join(parts, ", ")
}
