package ipv6

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// lifeRig is a rig started at the fake clock's origin, with checks of
// what it reported at given instants.
type lifeRig struct {
	*rig
	start time.Time
}

func newLifeRig(t *testing.T) *lifeRig {
	r := newRig(t)
	r.c.Start()
	return &lifeRig{rig: r, start: r.clock.Now()}
}

// at advances the clock to start+d and checks that the reports are then
// want, in order (all of them since the start).
func (r *lifeRig) at(d time.Duration, want ...Config) {
	r.t.Helper()
	r.clock.advance(r.start.Add(d).Sub(r.clock.Now()))
	if len(r.reports) != len(want) {
		r.t.Fatalf("at %v: %d reports %v, want %d %v", d, len(r.reports), r.reports, len(want), want)
	}
	for i := range want {
		if !r.reports[i].Equal(want[i]) {
			r.t.Fatalf("at %v: report %d is %v, want %v", d, i, r.reports[i], want[i])
		}
	}
}

// timers is how many timers are pending, and the earliest due in how long.
func (r *lifeRig) timers() (int, time.Duration) {
	d, _ := r.clock.next()
	return len(r.clock.pending()), d
}

var (
	route40 = netip.MustParsePrefix("2001:db8:100::/40")
	pfx2    = netip.MustParsePrefix("2001:db8:2:2::/64")
	slaac2  = netip.MustParsePrefix("2001:db8:2:2:1122:3344:5566:7788/64")
	ms      = time.Millisecond
	sec     = time.Second
)

// TestLifetimeRouter: the default router goes when its router lifetime
// runs out (RFC 4861 6.3.4), not a millisecond before.
func TestLifetimeRouter(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 60}))
	def := Config{Default: true, Source: "slaac"}
	r.at(60*sec-ms, def)
	r.at(60*sec, def, Config{})
	if n, _ := r.timers(); n != 0 {
		t.Errorf("%d timers pending after the expiry", n)
	}
}

// TestLifetimePrefix: the SLAAC address and on-link route of a prefix go
// at the end of its valid lifetime (RFC 4862 5.5.3 e, RFC 4861 6.3.4).
func TestLifetimePrefix(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 1800, prefixes: []PrefixInfo{
		{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 100, Preferred: 50},
		{Prefix: pfx2, OnLink: true, Valid: 150, Preferred: 150}, // on-link only
	}}))
	full := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{pfx64, pfx2}, Default: true, Source: "slaac"}
	noAddr := Config{Routes: []netip.Prefix{pfx2}, Default: true, Source: "slaac"}
	def := Config{Default: true, Source: "slaac"}
	r.at(100*sec-ms, full)
	r.at(100*sec, full, noAddr)
	r.at(150*sec, full, noAddr, def)
	r.at(1800*sec, full, noAddr, def, Config{})
}

// TestLifetimeShortened: no two-hour rule (RFC 4862 5.5.3 e; see
// Client): an advertisement of the server that shortens a prefix's valid
// lifetime to 60 s takes the address away 60 s later, not two hours.
func TestLifetimeShortened(t *testing.T) {
	r := newLifeRig(t)
	p := PrefixInfo{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}
	r.input(buildRA(raOpts{prefixes: []PrefixInfo{p}}))
	full := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{pfx64}, Source: "slaac"}
	r.at(10*sec, full)
	p.Valid, p.Preferred = 60, 0
	r.input(buildRA(raOpts{prefixes: []PrefixInfo{p}}))
	r.at(70*sec-ms, full)
	r.at(70*sec, full, Config{})
}

// TestLifetimeRouteInfo: an RFC 4191 route goes at the end of its route
// lifetime, and a ::/0 route (a default) at the end of its own, the
// router lifetime being 0.
func TestLifetimeRouteInfo(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{routes: []RouteInfo{
		{Prefix: route40, Lifetime: 30},
		{Prefix: netip.MustParsePrefix("::/0"), Lifetime: 45},
	}}))
	both := Config{Routes: []netip.Prefix{route40}, Default: true, Source: "slaac"}
	def := Config{Default: true, Source: "slaac"}
	r.at(30*sec-ms, both)
	r.at(30*sec, both, def)
	r.at(45*sec-ms, both, def)
	r.at(45*sec, both, def, Config{})
}

// TestLifetimeDNS: RDNSS servers and DNSSL domains go at the end of
// their lifetimes (RFC 8106 5.1, 5.2), in one report when they end
// together; the rest stays.
func TestLifetimeDNS(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 600, dnsLife: 20, rdnss: []netip.Addr{dns1}, dnssl: []string{"corp.example"}}))
	full := Config{Default: true, DNS: []netip.Addr{dns1}, Domains: []string{"corp.example"}, Source: "slaac"}
	def := Config{Default: true, Source: "slaac"}
	r.at(20*sec-ms, full)
	r.at(20*sec, full, def)
	r.at(600*sec, full, def, Config{})
}

// TestLifetimeRefresh: the same advertisement before the end restarts
// every lifetime: nothing is reported then, and the items go a full
// lifetime after the refresh.
func TestLifetimeRefresh(t *testing.T) {
	r := newLifeRig(t)
	ra := raOpts{lifetime: 100, dnsLife: 100, rdnss: []netip.Addr{dns1}, dnssl: []string{"corp.example"},
		routes:   []RouteInfo{{Prefix: route40, Lifetime: 100}},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 100, Preferred: 100}}}
	full := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{pfx64, route40}, Default: true,
		DNS: []netip.Addr{dns1}, Domains: []string{"corp.example"}, Source: "slaac"}
	r.input(buildRA(ra))
	r.at(80*sec, full)
	r.input(buildRA(ra))
	if n, d := r.timers(); n != 1 || d != 100*sec {
		t.Errorf("after the refresh: %d timers, the next in %v; want one in 100 s", n, d)
	}
	r.at(180*sec-ms, full)
	r.at(180*sec, full, Config{})
}

// TestLifetimeInfinite: 0xffffffff never runs out: no lifetime timer,
// and nothing goes in ten years.
func TestLifetimeInfinite(t *testing.T) {
	r := newLifeRig(t)
	const inf = 0xffffffff
	r.input(buildRA(raOpts{dnsLife: inf, rdnss: []netip.Addr{dns1}, dnssl: []string{"corp.example"},
		routes:   []RouteInfo{{Prefix: route40, Lifetime: inf}, {Prefix: netip.MustParsePrefix("::/0"), Lifetime: inf}},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: inf, Preferred: inf}}}))
	full := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{pfx64, route40}, Default: true,
		DNS: []netip.Addr{dns1}, Domains: []string{"corp.example"}, Source: "slaac"}
	if n, _ := r.timers(); n != 0 {
		t.Errorf("%d timers pending with infinite lifetimes", n)
	}
	r.at(10*365*24*time.Hour, full)
	// A finite item beside them arms the timer for itself alone.
	r.input(buildRA(raOpts{dnsLife: 30, rdnss: []netip.Addr{netip.MustParseAddr("2001:db8::54")}}))
	withDNS2 := full
	withDNS2.DNS = []netip.Addr{dns1, netip.MustParseAddr("2001:db8::54")}
	if n, d := r.timers(); n != 1 || d != 30*sec {
		t.Errorf("%d timers, the next in %v; want one in 30 s", n, d)
	}
	r.at(10*365*24*time.Hour+30*sec, full, withDNS2, full)
	if n, _ := r.timers(); n != 0 {
		t.Errorf("%d timers pending after the finite item went", n)
	}
}

// TestLifetimeEarliest: one timer, always for the earliest expiry, re-armed
// as items go and when a later advertisement brings an earlier one.
func TestLifetimeEarliest(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 40, dnsLife: 10, rdnss: []netip.Addr{dns1},
		routes:   []RouteInfo{{Prefix: route40, Lifetime: 20}},
		prefixes: []PrefixInfo{{Prefix: pfx64, Autonomous: true, Valid: 30, Preferred: 30}}}))
	c0 := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{route40}, Default: true, DNS: []netip.Addr{dns1}, Source: "slaac"}
	c1 := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{route40}, Default: true, Source: "slaac"}
	c2 := Config{Addrs: []netip.Prefix{slaac}, Default: true, Source: "slaac"}
	// At 5 s a new prefix of 3 s comes: it is the earliest now (8 s,
	// before the DNS server's 10 s).
	r.at(5*sec, c0)
	r.input(buildRA(raOpts{lifetime: 40, prefixes: []PrefixInfo{{Prefix: pfx2, Autonomous: true, Valid: 3, Preferred: 3}}}))
	c0b := Config{Addrs: []netip.Prefix{slaac, slaac2}, Routes: []netip.Prefix{route40}, Default: true, DNS: []netip.Addr{dns1}, Source: "slaac"}
	// The router lifetime restarted at 5 s: the default goes at 45 s.
	steps := []struct {
		at   time.Duration
		next time.Duration // the one timer's wait from this step
		want []Config
	}{
		{5 * sec, 3 * sec, []Config{c0, c0b}},
		{8 * sec, 2 * sec, []Config{c0, c0b, c0}},
		{10 * sec, 10 * sec, []Config{c0, c0b, c0, c1}},
		{20 * sec, 10 * sec, []Config{c0, c0b, c0, c1, c2}},
		{30 * sec, 15 * sec, []Config{c0, c0b, c0, c1, c2, {Default: true, Source: "slaac"}}},
		{45 * sec, 0, []Config{c0, c0b, c0, c1, c2, {Default: true, Source: "slaac"}, {}}},
	}
	for _, s := range steps {
		r.at(s.at, s.want...)
		n, d := r.timers()
		if s.next == 0 {
			if n != 0 {
				t.Errorf("at %v: %d timers pending, want none", s.at, n)
			}
			continue
		}
		if n != 1 || d != s.next {
			t.Errorf("at %v: %d timers, the next in %v; want one in %v", s.at, n, d, s.next)
		}
	}
}

// TestLifetimeStop: Stop cancels the lifetime timer: no report after it.
func TestLifetimeStop(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 60}))
	r.c.Stop()
	if n, _ := r.timers(); n != 0 {
		t.Errorf("%d timers pending after Stop", n)
	}
	r.at(time.Hour, Config{Default: true, Source: "slaac"})
}

// TestLifetimeStopRace: a lifetime timer that fires after Stop (its
// callback already under way when Stop ran) reports nothing.
func TestLifetimeStopRace(t *testing.T) {
	r := newLifeRig(t)
	r.input(buildRA(raOpts{lifetime: 60}))
	r.clock.mu.Lock()
	var f func()
	for _, tm := range r.clock.timers {
		if !tm.stopped {
			f = tm.f
		}
	}
	r.clock.mu.Unlock()
	r.c.Stop()
	f()
	if len(r.reports) != 1 {
		t.Errorf("reports %v after Stop", r.reports)
	}
}

// TestLifetimeDHCPv6: a DHCPv6 address whose lease a Renew extended
// stays past its first valid lifetime (200 s) and goes when the extended
// one (250 s) passes without another renewal (RFC 8415 18.2.10.1); the
// client then solicits again (RFC 8415 18.2.5).
func TestLifetimeDHCPv6(t *testing.T) {
	r := newLifeRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100")}
	r.input(buildRA(raOpts{m: true}))
	r.input(s.answer(t, r.sent[1])) // Advertise
	r.input(s.answer(t, r.sent[2])) // Reply: valid 200 s, T1 50 s
	bound := Config{Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::100/128")}, Source: "dhcpv6"}
	r.at(50*sec, bound)
	r.input(s.answer(t, r.sent[len(r.sent)-1])) // the Renew's Reply: valid until 250 s
	r.at(250*sec-ms, bound)
	var types []byte
	for _, p := range r.sent[3:] {
		m, err := parseDHCPv6(p[48:])
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type)
	}
	// Renew at 50 (answered), 100, 110; Rebind at 130, 140, 160, 190, 220.
	if want := []byte{dhcpRenew, dhcpRenew, dhcpRenew, dhcpRebind, dhcpRebind, dhcpRebind, dhcpRebind, dhcpRebind}; !slices.Equal(types, want) {
		t.Errorf("messages %v, want %v", types, want)
	}
	n := len(r.sent)
	r.at(250*sec, bound, Config{})
	if m, _ := parseDHCPv6(r.sent[len(r.sent)-1][48:]); len(r.sent) != n+1 || m.Type != dhcpSolicit || r.c.dstate != dhcpSoliciting {
		t.Errorf("after the expiry: sent %d more, type %d, state %d; want a Solicit", len(r.sent)-n, m.Type, r.c.dstate)
	}
}

// TestLifetimeDHCPv6Infinite: an infinite valid lifetime never ends;
// with an infinite preferred lifetime too and T1 left 0 there is no
// renewal (RFC 8415 21.4), and no timer at all.
func TestLifetimeDHCPv6Infinite(t *testing.T) {
	r := newLifeRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100"), pref: 0xffffffff, valid: 0xffffffff}
	r.input(buildRA(raOpts{m: true}))
	r.input(s.answer(t, r.sent[1]))
	r.input(s.answer(t, r.sent[2]))
	bound := Config{Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::100/128")}, Source: "dhcpv6"}
	if n, _ := r.timers(); n != 0 {
		t.Errorf("%d timers pending for an infinite lease", n)
	}
	r.at(10*365*24*time.Hour, bound)
	if len(r.sent) != 3 {
		t.Errorf("sent %d packets, want the RS, Solicit and Request only", len(r.sent))
	}
}
