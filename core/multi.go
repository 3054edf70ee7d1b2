package core

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
)

// Several tunnels at once. The Manager runs one session per profile, each
// on its own device (RealStack names them corridor0, corridor1, ...) with
// its own journal. What two sessions must not do is fight over the same
// addresses, so:
//
//   - a full tunnel (all traffic) is alone: it is refused while any other
//     session is up or connecting, and while one is up every other
//     session is refused. Two default routes through two tunnels cannot
//     both win, and the kill switch of one would block the other.
//   - split tunnels may run side by side when their routes are disjoint: a
//     profile whose routes overlap the routes of a live session, or
//     contain the address of its server or its tunnel, is refused at Up.
//   - the addresses a server assigns are known only once PPP is up: an
//     assigned address (or the server's tunnel address) inside another
//     live session's routes or equal to its addresses fails the new
//     session before its device opens (the RealStack runs the check of
//     addrCheckFrom between IPCP and the device), with the same words.
//
// Proxy-mode sessions set up nothing on the machine and are never in the
// way. A refusal beside another user's session names only its profile and
// state, as Status does.
//
// A profile with ClassfulRoute claims the classful network of its address
// once assigned (checked like the address). Routes the server pushes
// Corridor does not take. DNS with
// several tunnels: per link with systemd-resolved; with resolv.conf one
// tunnel at a time owns the file (platform/resolvconf.go), and when it
// goes the next one takes it over (RealStack.retryDNS).

// dnsHeldWords says, in the words of profiles, why the DNS of profile is
// not in use (its Router's note, platform/resolvconf.go): another tunnel
// holds resolv.conf, and one resolv.conf cannot send each tunnel's names
// to its own servers. The holder is the connected tunnel whose DNS is in
// force; one of another process (corridor connect beside the helper) is
// "another Corridor tunnel" (the Router's note, logged just before, names
// its device and the file).
func (r *RealStack) dnsHeldWords(profile string) string {
	r.mu.Lock()
	links := make([]*realLink, 0, len(r.links))
	for l := range r.links {
		links = append(links, l)
	}
	r.mu.Unlock()
	holder := "another Corridor tunnel"
	for _, l := range links {
		n, ok := l.router.(dnsNoter)
		// base, not nc: nc changes under l.mu (IPv6 offers); the IPv4
		// DNS servers that decide who holds resolv.conf are in both.
		if ok && len(l.base.DNS) > 0 && n.DNSNote() == "" {
			holder = fmt.Sprintf("profile %q", l.profile.Name)
			break
		}
	}
	return fmt.Sprintf("DNS for profile %q is not in use: %s holds resolv.conf, and one resolv.conf cannot send each tunnel's names to its own servers; "+
		"install systemd-resolved for DNS per tunnel (without it, this tunnel's DNS takes over when the other disconnects)", profile, holder)
}

// routerWarnings gives a session's Router the session's log for its
// warnings only (a route someone else added, resolv.conf held by another
// tunnel, Windows NRPT rules that Group Policy overrides), not a line per
// command. Options given after it (RealStack.RouterOptions) win.
func routerWarnings(log *slog.Logger) platform.RouterOption {
	return platform.WithRouterLogger(slog.New(warnOnly{log.Handler()}))
}

// warnOnly passes records of level Warn and above to h.
type warnOnly struct{ h slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.h.Enabled(ctx, l)
}
func (w warnOnly) Handle(ctx context.Context, r slog.Record) error { return w.h.Handle(ctx, r) }
func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler           { return warnOnly{w.h.WithAttrs(as)} }
func (w warnOnly) WithGroup(name string) slog.Handler              { return warnOnly{w.h.WithGroup(name)} }

// claims is what a live session holds of the address space.
type claims struct {
	full   bool
	routes []netip.Prefix // the profile's routes
	addrs  []netip.Addr   // the tunnel's addresses (ours and the server's), once connected
	server netip.Addr     // the server's outer address, once connected
}

// profileRoutes parses the profile's routes (Validate has checked them).
func profileRoutes(p profile.Profile) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range p.Routes {
		if pfx, err := netip.ParsePrefix(r); err == nil {
			out = append(out, pfx.Masked())
		}
	}
	return out
}

// claimsLocked is what s holds now; m.mu must be held.
func (s *msession) claimsLocked() claims {
	c := claims{full: s.req.Profile.FullTunnel, routes: profileRoutes(s.req.Profile), server: s.server}
	c.addrs = append(c.addrs, s.addrs...)
	if s.req.Profile.ClassfulRoute && len(s.addrs) > 0 {
		if n, ok := classful(s.addrs[0]); ok {
			c.routes = append(c.routes, n)
		}
	}
	return c
}

// classful is the classful network of a (RFC 791: A /8, B /16, C /24),
// which a profile with ClassfulRoute routes through its tunnel (as
// platform's NetConfig does).
func classful(a netip.Addr) (netip.Prefix, bool) {
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	switch b := a.As4()[0]; {
	case b < 128:
		return netip.PrefixFrom(a, 8).Masked(), true
	case b < 192:
		return netip.PrefixFrom(a, 16).Masked(), true
	case b < 224:
		return netip.PrefixFrom(a, 24).Masked(), true
	}
	return netip.Prefix{}, false
}

// live reports whether s has not ended for good.
func (s *msession) live() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// conflictLocked says why profile p, started by c, cannot start beside the
// live sessions (nil: it can); m.mu must be held. Of another user's
// session it names only the profile and its state, as Status does.
func (m *Manager) conflictLocked(p profile.Profile, c *Caller) *Error {
	if p.IsProxy() {
		return nil
	}
	mine := profileRoutes(p)
	for _, other := range m.sortedLocked() {
		s := m.sessions[other]
		if other == p.Name || !s.live() || s.req.Profile.IsProxy() {
			continue
		}
		cl, theirs := s.claimsLocked(), !mayControl(c, s.owner)
		switch {
		case p.FullTunnel:
			return conflict(fmt.Sprintf("profile %q sends all traffic through its tunnel, and profile %q is %s: "+
				"a tunnel for all traffic cannot share the machine with another tunnel", p.Name, other, s.status.State.Words()), other, theirs)
		case cl.full:
			return conflict(fmt.Sprintf("profile %q sends all traffic through its tunnel and is %s: "+
				"no other tunnel can run beside it", other, s.status.State.Words()), other, theirs)
		}
		for _, r := range mine {
			for _, q := range cl.routes {
				if r.Overlaps(q) {
					if theirs {
						return conflict(fmt.Sprintf("profile %q routes %v through its tunnel, which overlaps the routes of profile %q, another user's session: "+
							"two tunnels cannot carry the same addresses", p.Name, r, other), other, theirs)
					}
					return conflict(fmt.Sprintf("profile %q routes %v through its tunnel, which overlaps %v of profile %q, %s: "+
						"two tunnels cannot carry the same addresses", p.Name, r, q, other, s.status.State.Words()), other, theirs)
				}
			}
			for _, a := range append(cl.addrs, cl.server) {
				if a.IsValid() && r.Contains(a) {
					if theirs {
						return conflict(fmt.Sprintf("profile %q routes %v through its tunnel, which contains an address of profile %q's connection, another user's session: "+
							"it would cut that connection off", p.Name, r, other), other, theirs)
					}
					return conflict(fmt.Sprintf("profile %q routes %v through its tunnel, which contains %v of profile %q's connection: "+
						"it would cut that connection off", p.Name, r, a, other), other, theirs)
				}
			}
		}
	}
	return nil
}

// sharedDomainsLocked says (in words for the progress line) when profile
// p's DNS domains overlap those of another live session: names under both
// could go to either tunnel's servers, which the OS decides
// (systemd-resolved asks both links, macOS picks by resolver order, and
// Windows leaves two NRPT rules for one name undefined). A note, not a
// refusal: both companies may really use the name. "" when none
// overlap; m.mu must be held.
func (m *Manager) sharedDomainsLocked(p profile.Profile) string {
	if p.IsProxy() || len(p.Domains) == 0 {
		return ""
	}
	for _, other := range m.sortedLocked() {
		s := m.sessions[other]
		if other == p.Name || !s.live() || s.req.Profile.IsProxy() {
			continue
		}
		for _, d := range p.Domains {
			for _, e := range s.req.Profile.Domains {
				if domainsOverlap(d, e) {
					return fmt.Sprintf("dns: profile %q also has the DNS domain %s (this one: %s): names under it may go to "+
						"either tunnel's DNS servers, as the system chooses; give the two profiles distinct domains to be sure", other, e, d)
				}
			}
		}
	}
	return ""
}

// domainsOverlap reports whether names under a and under b can be the
// same: equal domains, or one under the other (DNS names compare without
// regard to case, RFC 4343).
func domainsOverlap(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}

// addrConflictLocked says why a session of profile p, started by c, that
// was assigned local and peer cannot keep them (nil: it can); m.mu must
// be held.
func (m *Manager) addrConflictLocked(p profile.Profile, c *Caller, local, peer netip.Addr) *Error {
	name := p.Name
	var net netip.Prefix // the classful route the session would add
	if p.ClassfulRoute {
		net, _ = classful(local)
	}
	for _, other := range m.sortedLocked() {
		s := m.sessions[other]
		if other == name || !s.live() || s.req.Profile.IsProxy() {
			continue
		}
		cl, theirs := s.claimsLocked(), !mayControl(c, s.owner)
		for _, a := range []netip.Addr{local, peer} {
			if !a.IsValid() {
				continue
			}
			hit := ""
			for _, q := range cl.routes {
				if q.Contains(a) {
					hit = fmt.Sprintf("which is inside %v, a route of profile %q", q, other)
				}
			}
			if slices.Contains(cl.addrs, a) {
				hit = fmt.Sprintf("which the tunnel of profile %q already uses", other)
			}
			if hit == "" {
				continue
			}
			if theirs {
				hit = fmt.Sprintf("which the session of profile %q, another user's, already carries", other)
			}
			return conflict(fmt.Sprintf("the server of profile %q assigned the tunnel address %v, %s: "+
				"two tunnels cannot carry the same addresses, so Corridor set nothing up", name, a, hit), other, theirs)
		}
		if !net.IsValid() {
			continue
		}
		hit := slices.ContainsFunc(cl.routes, net.Overlaps) ||
			slices.ContainsFunc(append(cl.addrs, cl.server), func(a netip.Addr) bool { return a.IsValid() && net.Contains(a) })
		if hit {
			what := fmt.Sprintf("the routes or addresses of profile %q", other)
			if theirs {
				what += ", another user's session"
			}
			return conflict(fmt.Sprintf("profile %q routes the classful network %v of its assigned address %v through its tunnel, which overlaps %s: "+
				"two tunnels cannot carry the same addresses, so Corridor set nothing up", name, net, local, what), other, theirs)
		}
	}
	return nil
}

// sortedLocked lists the profiles with sessions in name order, so that
// the conflict reported is always the same one.
func (m *Manager) sortedLocked() []string {
	names := make([]string, 0, len(m.sessions))
	for n := range m.sessions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// conflict is the refusal; theirs: the other session is another user's,
// which this user cannot disconnect.
func conflict(msg, other string, theirs bool) *Error {
	if theirs {
		return &Error{Class: ClassUsage, Msg: msg,
			Hint: fmt.Sprintf("the session of profile %q belongs to another user: ask them to disconnect it, or give this profile routes that do not overlap", other)}
	}
	return &Error{Class: ClassUsage, Msg: msg,
		Hint:    fmt.Sprintf("disconnect profile %q first, or give the profiles routes that do not overlap (split tunnels)", other),
		HintKey: HintDisconnectFirst, HintArg: other}
}

// addrCheckKey carries, in the context of Stack.Up, the Manager's check
// of the addresses IPCP assigned against the other live sessions.
type addrCheckKey struct{}

// AddrCheck decides whether a session may take the addresses IPCP gave it:
// nil, or an *Error saying why not.
type AddrCheck func(local, peer netip.Addr) error

func withAddrCheck(ctx context.Context, f AddrCheck) context.Context {
	return context.WithValue(ctx, addrCheckKey{}, f)
}

// addrCheckFrom returns the Manager's address check in ctx (a check that
// allows everything when there is none).
func addrCheckFrom(ctx context.Context) AddrCheck {
	if f, ok := ctx.Value(addrCheckKey{}).(AddrCheck); ok && f != nil {
		return f
	}
	return func(netip.Addr, netip.Addr) error { return nil }
}

// checkAddrs is the AddrCheck of session s.
func (m *Manager) checkAddrs(s *msession) AddrCheck {
	return func(local, peer netip.Addr) error {
		if s.req.Profile.IsProxy() {
			return nil // its addresses live in this process's userspace stack only
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if e := m.addrConflictLocked(s.req.Profile, s.owner, local, peer); e != nil {
			return e
		}
		// Claimed now, before the device opens: a session connecting
		// at the same time sees them.
		s.addrs = []netip.Addr{}
		for _, a := range []netip.Addr{local, peer} {
			if a.IsValid() {
				s.addrs = append(s.addrs, a)
			}
		}
		return nil
	}
}

// noteAddrs records the addresses of a connected link (for stacks that do
// not run the check themselves) and checks them; a conflict is returned.
func (m *Manager) noteAddrs(s *msession, info LinkInfo) *Error {
	local, _ := netip.ParseAddr(info.Address)
	peer, _ := netip.ParseAddr(info.Peer)
	if err := m.checkAddrs(s)(local, peer); err != nil {
		return err.(*Error)
	}
	return nil
}

// IPv6 inside the tunnel (ipv6.go): the prefixes a server offers over
// IPv6 come at any time after the connect, and again when the offer
// changes, so they are not refused at Up like the profile's routes: a
// prefix that overlaps an IPv6 route another live tunnel carries, or
// contains one of its IPv6 addresses, is left out of this session's
// routes (and said so in its log); the rest is applied. An address of
// ours inside another tunnel's IPv6 route is noted: the longer prefix
// wins in the routing table, so traffic to it may leave through the
// other tunnel. A full tunnel is alone anyway (above), so its IPv6
// default never meets another tunnel.

type ipv6CheckKey struct{}

func withIPv6Check(ctx context.Context, f IPv6Check) context.Context {
	return context.WithValue(ctx, ipv6CheckKey{}, f)
}

// ipv6CheckFrom returns the Manager's IPv6 check in ctx, or nil (every
// route is kept) when there is none.
func ipv6CheckFrom(ctx context.Context) IPv6Check {
	f, _ := ctx.Value(ipv6CheckKey{}).(IPv6Check)
	return f
}

// checkIPv6 is the IPv6Check of session s: it keeps the routes no other
// live session carries, and records what s now holds.
func (m *Manager) checkIPv6(s *msession) IPv6Check {
	return func(addrs, routes []netip.Prefix) ([]netip.Prefix, []string) {
		m.mu.Lock()
		defer m.mu.Unlock()
		keep, notes := m.ipv6ConflictsLocked(s, addrs, routes)
		s.addrs6, s.routes6 = slices.Clone(addrs), slices.Clone(keep)
		return keep, notes
	}
}

// ipv6ConflictsLocked filters routes against the IPv6 claims of the other
// live sessions; m.mu must be held. Of another user's session it names
// only the profile.
func (m *Manager) ipv6ConflictsLocked(s *msession, addrs, routes []netip.Prefix) (keep []netip.Prefix, notes []string) {
	keep = slices.Clone(routes)
	for _, other := range m.sortedLocked() {
		o := m.sessions[other]
		if o == s || !o.live() || o.req.Profile.IsProxy() {
			continue
		}
		theirs := !mayControl(s.owner, o.owner)
		keep = slices.DeleteFunc(keep, func(r netip.Prefix) bool {
			why := ""
			for _, q := range o.routes6 {
				if r.Overlaps(q) {
					why = fmt.Sprintf("it overlaps %v, which the tunnel of profile %q carries", q, other)
				}
			}
			for _, a := range o.addrs6 {
				if why == "" && r.Contains(a.Addr()) {
					why = fmt.Sprintf("it contains %v, an address of the tunnel of profile %q", a.Addr(), other)
				}
			}
			if why == "" {
				return false
			}
			if theirs {
				why = fmt.Sprintf("the tunnel of profile %q, another user's session, already carries addresses in it", other)
			}
			notes = append(notes, fmt.Sprintf("the server offered the route %v, not taken: %s", r, why))
			return true
		})
		for _, a := range addrs {
			for _, q := range o.routes6 {
				if q.Contains(a.Addr()) && !theirs {
					notes = append(notes, fmt.Sprintf("the address %v the server offered is inside %v, which the tunnel of profile %q carries: "+
						"traffic to it may take that tunnel", a.Addr(), q, other))
				}
			}
		}
	}
	return keep, notes
}
