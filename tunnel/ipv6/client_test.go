package ipv6

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock runs timers when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	d       time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), d: d, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// pending returns the durations of the timers not yet fired or stopped.
func (c *fakeClock) pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		if !t.stopped {
			ds = append(ds, t.d)
		}
	}
	return ds
}

// next is how long until the earliest pending timer fires (false: none).
func (c *fakeClock) next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first *fakeTimer
	for _, t := range c.timers {
		if !t.stopped && (first == nil || t.at.Before(first.at)) {
			first = t
		}
	}
	if first == nil {
		return 0, false
	}
	return first.at.Sub(c.now), true
}

// advance moves the clock by d, firing due timers in order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.stopped = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

const testIID = 0x1122_3344_5566_7788

var (
	ourLL    = netip.MustParseAddr("fe80::1122:3344:5566:7788")
	routerLL = netip.MustParseAddr("fe80::1")
)

// rig is a Client with a fake clock, recording what it sends and reports.
type rig struct {
	t       *testing.T
	clock   *fakeClock
	c       *Client
	sent    [][]byte
	reports []Config
	sendErr error
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, clock: newFakeClock()}
	r.c = NewClient(testIID, func(p []byte) error {
		r.sent = append(r.sent, append([]byte(nil), p...))
		return r.sendErr
	}, func(c Config) { r.reports = append(r.reports, c) },
		Options{AfterFunc: r.clock.AfterFunc, Now: r.clock.Now, Rand: bytes.NewReader(bytes.Repeat([]byte{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}, 10))}, nil)
	t.Cleanup(r.c.Stop)
	return r
}

// raOpts are the options of a test router advertisement.
type raOpts struct {
	m, o     bool
	lifetime uint16
	prefixes []PrefixInfo
	routes   []RouteInfo
	rdnss    []netip.Addr
	dnssl    []string
	dnsLife  uint32
}

func buildRA(a raOpts) []byte {
	b := make([]byte, 16)
	b[0] = icmpRouterAdvertisement
	if a.m {
		b[5] |= 0x80
	}
	if a.o {
		b[5] |= 0x40
	}
	binary.BigEndian.PutUint16(b[6:], a.lifetime)
	for _, p := range a.prefixes {
		o := make([]byte, 32)
		o[0], o[1], o[2] = optPrefixInfo, 4, byte(p.Prefix.Bits())
		if p.OnLink {
			o[3] |= 0x80
		}
		if p.Autonomous {
			o[3] |= 0x40
		}
		binary.BigEndian.PutUint32(o[4:], p.Valid)
		binary.BigEndian.PutUint32(o[8:], p.Preferred)
		copy(o[16:], p.Prefix.Addr().AsSlice())
		b = append(b, o...)
	}
	for _, r := range a.routes {
		o := make([]byte, 24)
		o[0], o[1], o[2] = optRouteInfo, 3, byte(r.Prefix.Bits())
		binary.BigEndian.PutUint32(o[4:], r.Lifetime)
		copy(o[8:], r.Prefix.Addr().AsSlice())
		b = append(b, o...)
	}
	if len(a.rdnss) > 0 {
		o := []byte{optRDNSS, byte(1 + 2*len(a.rdnss)), 0, 0}
		o = binary.BigEndian.AppendUint32(o, a.dnsLife)
		for _, s := range a.rdnss {
			o = append(o, s.AsSlice()...)
		}
		b = append(b, o...)
	}
	if len(a.dnssl) > 0 {
		o := []byte{optDNSSL, 0, 0, 0}
		o = binary.BigEndian.AppendUint32(o, a.dnsLife)
		for _, d := range a.dnssl {
			o, _ = appendName(o, d)
		}
		for len(o)%8 != 0 {
			o = append(o, 0)
		}
		o[1] = byte(len(o) / 8)
		b = append(b, o...)
	}
	return BuildPacket(routerLL, netip.MustParseAddr("ff02::1"), protoICMPv6, 255, b)
}

var (
	pfx64 = netip.MustParsePrefix("2001:db8:1:2::/64")
	slaac = netip.MustParsePrefix("2001:db8:1:2:1122:3344:5566:7788/64")
	dns1  = netip.MustParseAddr("2001:db8::53")
)

func (r *rig) input(pkt []byte) {
	r.t.Helper()
	if !IsControl(pkt) {
		r.t.Fatal("test packet is not control")
	}
	if !r.c.Input(pkt) {
		r.t.Fatal("Input did not consume the packet")
	}
}

// TestClientSolicitRetries: with no advertisement, MaxRS solicitations
// RSInterval apart, then nothing: no report, no timer left.
func TestClientSolicitRetries(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	r.c.Start() // a second Start changes nothing
	if len(r.sent) != 1 || !bytes.Equal(r.sent[0], RouterSolicitation(ourLL)) {
		t.Fatalf("after Start: sent %d packets", len(r.sent))
	}
	for i := 2; i <= MaxRtrSolicitations; i++ {
		r.clock.advance(RtrSolicitationInterval - time.Millisecond)
		if len(r.sent) != i-1 {
			t.Fatalf("solicitation %d before its time", i)
		}
		r.clock.advance(time.Millisecond)
		if len(r.sent) != i {
			t.Fatalf("solicitation %d not sent at %v", i, RtrSolicitationInterval)
		}
	}
	r.clock.advance(time.Minute)
	if len(r.sent) != MaxRtrSolicitations || len(r.reports) != 0 || len(r.clock.pending()) != 0 {
		t.Errorf("sent %d, reports %v, pending timers %v", len(r.sent), r.reports, r.clock.pending())
	}
}

// TestClientSendFails: a send error (IPV6CP went down) is no error of the
// client: it goes on with its schedule and stops when it should.
func TestClientSendFails(t *testing.T) {
	r := newRig(t)
	r.sendErr = errors.New("ipv6cp is not open")
	r.c.Start()
	r.clock.advance(time.Minute)
	if len(r.sent) != MaxRtrSolicitations || len(r.clock.pending()) != 0 {
		t.Errorf("sent %d, pending %v", len(r.sent), r.clock.pending())
	}
}

// TestClientSLAAC: an advertisement with an autonomous on-link /64,
// RDNSS and DNSSL gives prefix+IID, the on-link route, the default and
// DNS; solicitations stop.
func TestClientSLAAC(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	r.input(buildRA(raOpts{lifetime: 1800, dnsLife: 600, rdnss: []netip.Addr{dns1}, dnssl: []string{"corp.example"},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}}}))
	want := Config{Addrs: []netip.Prefix{slaac}, Routes: []netip.Prefix{pfx64}, Default: true,
		DNS: []netip.Addr{dns1}, Domains: []string{"corp.example"}, Source: "slaac"}
	if len(r.reports) != 1 || !r.reports[0].Equal(want) {
		t.Fatalf("reports %v, want [%v]", r.reports, want)
	}
	r.clock.advance(time.Minute)
	if len(r.sent) != 1 {
		t.Errorf("sent %d packets; solicitations should stop at the first advertisement", len(r.sent))
	}
	// The same advertisement again reports nothing new.
	r.input(buildRA(raOpts{lifetime: 1800, dnsLife: 600, rdnss: []netip.Addr{dns1}, dnssl: []string{"corp.example"},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}}}))
	if len(r.reports) != 1 || !r.c.Config().Equal(want) {
		t.Errorf("repeat: %d reports", len(r.reports))
	}
}

// TestClientPrefixRules: RFC 4862 5.5.3 and RFC 4861 6.3.4: no address
// for a prefix that is not /64, link-local, has preferred > valid, or
// lacks the A flag; routes for the L flag and RFC 4191 options; ::/0
// route information is a default.
func TestClientPrefixRules(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	r.input(buildRA(raOpts{prefixes: []PrefixInfo{
		{Prefix: netip.MustParsePrefix("2001:db8:9::/48"), OnLink: true, Autonomous: true, Valid: 100, Preferred: 100},
		{Prefix: netip.MustParsePrefix("fe80::/64"), OnLink: true, Autonomous: true, Valid: 100, Preferred: 100},
		{Prefix: netip.MustParsePrefix("2001:db8:8::/64"), OnLink: true, Autonomous: true, Valid: 100, Preferred: 200},
		{Prefix: netip.MustParsePrefix("2001:db8:7::/64"), OnLink: true, Valid: 100, Preferred: 100},
		{Prefix: netip.MustParsePrefix("2001:db8:6::/64"), Autonomous: true, Valid: 100, Preferred: 100},
	}, routes: []RouteInfo{
		{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), Lifetime: 60},
		{Prefix: netip.MustParsePrefix("::/0"), Lifetime: 60},
	}}))
	want := Config{
		Addrs:   []netip.Prefix{netip.MustParsePrefix("2001:db8:6::1122:3344:5566:7788/64")},
		Routes:  []netip.Prefix{netip.MustParsePrefix("2001:db8:9::/48"), netip.MustParsePrefix("2001:db8:7::/64"), netip.MustParsePrefix("2001:db8:100::/40")},
		Default: true, Source: "slaac",
	}
	if got := r.c.Config(); !got.Equal(want) {
		t.Errorf("config %v\n want %v", got, want)
	}
}

// TestClientWithdrawal: zero lifetimes withdraw the prefix (address and
// route), the default, routes and DNS, each reported as a change.
func TestClientWithdrawal(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	route := RouteInfo{Prefix: netip.MustParsePrefix("2001:db8:100::/40"), Lifetime: 60}
	r.input(buildRA(raOpts{lifetime: 600, dnsLife: 60, rdnss: []netip.Addr{dns1},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true, Valid: 100, Preferred: 50}}, routes: []RouteInfo{route}}))
	route.Lifetime = 0
	r.input(buildRA(raOpts{lifetime: 600, dnsLife: 0, rdnss: []netip.Addr{dns1},
		prefixes: []PrefixInfo{{Prefix: pfx64, OnLink: true, Autonomous: true}}, routes: []RouteInfo{route}}))
	want := Config{Default: true, Source: "slaac"}
	if len(r.reports) != 2 || !r.reports[1].Equal(want) {
		t.Fatalf("reports %v, want the second %v", r.reports, want)
	}
	r.input(buildRA(raOpts{lifetime: 0}))
	if len(r.reports) != 3 || !r.reports[2].Equal(Config{}) {
		t.Fatalf("reports %v, want an empty third", r.reports)
	}
}

// dhcpServer answers the client's DHCPv6 messages as a test server would.
type dhcpServer struct {
	addr    netip.Addr
	dns     []netip.Addr
	domains []string
	noAddr  bool
	// pref and valid are the address's lifetimes; 0 means 100 and 200 s.
	pref, valid uint32
	seen        []dhcpMsg
}

var serverID = []byte{0, 3, 0, 1, 2, 0, 0x5e, 0, 0, 1}

// answer parses the client packet pkt and returns the answer packet, or
// nil for a packet that is not DHCPv6.
func (s *dhcpServer) answer(t *testing.T, pkt []byte) []byte {
	t.Helper()
	h, err := parseHeader(pkt)
	if err != nil || h.next != protoUDP {
		return nil
	}
	if h.src != ourLL || h.dst != AllDHCP || h.hop != 1 {
		t.Errorf("DHCPv6 from %v to %v hop %d", h.src, h.dst, h.hop)
	}
	u := h.payload
	if binary.BigEndian.Uint16(u) != 546 || binary.BigEndian.Uint16(u[2:]) != 547 || Checksum(h.src, h.dst, protoUDP, u) != 0 {
		t.Errorf("DHCPv6 datagram ports or checksum wrong: % x", u[:8])
	}
	m, err := parseDHCPv6(u[8:])
	if err != nil {
		t.Fatal(err)
	}
	s.seen = append(s.seen, m)
	var typ byte = dhcpReply
	if m.Type == dhcpSolicit {
		typ = dhcpAdvertise
	}
	b := []byte{typ, m.TxID[0], m.TxID[1], m.TxID[2]}
	b = appendOption(b, dhcpOptClientID, m.ClientID)
	b = appendOption(b, dhcpOptServerID, serverID)
	if m.HasIA {
		ia := binary.BigEndian.AppendUint32(nil, m.IAID)
		ia = append(ia, 0, 0, 0, 0, 0, 0, 0, 0)
		if s.noAddr {
			ia = appendOption(ia, dhcpOptStatusCode, []byte{0, dhcpStatusNoAddrsAvail})
		} else {
			a := s.addr.AsSlice()
			pref, valid := s.pref, s.valid
			if pref == 0 {
				pref, valid = 100, 200
			}
			a = binary.BigEndian.AppendUint32(a, pref)
			a = binary.BigEndian.AppendUint32(a, valid)
			ia = appendOption(ia, dhcpOptIAAddr, a)
		}
		b = appendOption(b, dhcpOptIANA, ia)
	}
	if len(s.dns) > 0 {
		var v []byte
		for _, a := range s.dns {
			v = append(v, a.AsSlice()...)
		}
		b = appendOption(b, dhcpOptDNSServers, v)
	}
	var v []byte
	for _, d := range s.domains {
		v, _ = appendName(v, d)
	}
	if v != nil {
		b = appendOption(b, dhcpOptDomainList, v)
	}
	return udpPacket(routerLL, ourLL, 547, 546, 255, b)
}

// TestClientDHCPv6Stateful: the M flag brings Solicit, Advertise,
// Request, Reply; the address is reported as /128 with the DNS of the
// Reply next to the advertisement's default.
func TestClientDHCPv6Stateful(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100"), dns: []netip.Addr{dns1}, domains: []string{"corp.example"}}
	r.c.Start()
	r.input(buildRA(raOpts{m: true, o: true, lifetime: 1800}))
	if len(r.reports) != 1 || !r.reports[0].Equal(Config{Default: true, Source: "slaac"}) {
		t.Fatalf("reports after the RA: %v", r.reports)
	}
	for i := 0; i < 2; i++ {
		r.input(s.answer(t, r.sent[len(r.sent)-1]))
	}
	if len(s.seen) != 2 || s.seen[0].Type != dhcpSolicit || s.seen[1].Type != dhcpRequest {
		t.Fatalf("server saw %+v", s.seen)
	}
	sol, req := s.seen[0], s.seen[1]
	if !bytes.Equal(sol.ClientID, []byte{0, 3, 0, 27, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}) || sol.ServerID != nil || !sol.HasIA || len(sol.Addrs) != 0 {
		t.Errorf("Solicit %+v", sol)
	}
	if sol.TxID == req.TxID {
		t.Error("Request reuses the Solicit's transaction id")
	}
	if !bytes.Equal(req.ServerID, serverID) || req.IAID != sol.IAID || len(req.Addrs) != 0 {
		// Addrs of a parsed message leave out lifetime-0 addresses; the
		// Request carries the offered one with lifetimes 0 (RFC 8415 21.6).
		t.Errorf("Request %+v", req)
	}
	if !bytes.Contains(r.sent[2], s.addr.AsSlice()) {
		t.Error("the Request does not carry the offered address")
	}
	want := Config{Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::100/128")}, Default: true,
		DNS: []netip.Addr{dns1}, Domains: []string{"corp.example"}, Source: "dhcpv6"}
	if len(r.reports) != 2 || !r.reports[1].Equal(want) {
		t.Fatalf("reports %v, want the second %v", r.reports, want)
	}
	r.clock.advance(50*time.Second - time.Millisecond)
	if n := len(r.sent); n != 3 { // RS, Solicit, Request
		t.Fatalf("sent %d packets before T1, want 3", n)
	}
	// T1, 0.5 x the preferred lifetime of 100 s as the server left T1 0
	// (RFC 8415 21.4): a Renew to the server that gave the address.
	r.clock.advance(time.Millisecond)
	if len(r.sent) != 4 {
		t.Fatalf("no Renew at T1: sent %d", len(r.sent))
	}
	r.input(s.answer(t, r.sent[3]))
	if ren := s.seen[2]; ren.Type != dhcpRenew || !bytes.Equal(ren.ServerID, serverID) || !ren.HasIA || !bytes.Contains(r.sent[3], s.addr.AsSlice()) || ren.TxID == req.TxID {
		t.Errorf("Renew %+v", ren)
	}
	if len(r.reports) != 2 {
		t.Errorf("the renewal reported a change: %v", r.reports)
	}
	// And again 50 s later.
	r.clock.advance(50 * time.Second)
	if len(r.sent) != 5 || len(s.seen) != 3 {
		s.answer(t, r.sent[len(r.sent)-1])
		t.Errorf("second Renew: sent %d, server saw %+v", len(r.sent), s.seen)
	}
	// A withdrawn default leaves the DHCPv6 address.
	r.input(buildRA(raOpts{m: true, lifetime: 0}))
	want.Default = false
	if got := r.c.Config(); !got.Equal(want) {
		t.Errorf("after withdrawal: %v", got)
	}
}

// TestClientDHCPv6Rebind: an unanswered Renew gives way to Rebind at T2
// (RFC 8415 18.2.4, 18.2.5), without a Server Identifier; when the
// Rebind goes unanswered until the valid lifetime (200 s) ends, the
// address goes (RFC 8415 18.2.10.1), reported, and the client solicits
// again. A Reply to a later Renew without the binding starts over with a
// Solicit too.
func TestClientDHCPv6Rebind(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100")}
	r.c.Start()
	r.input(buildRA(raOpts{m: true}))
	r.input(s.answer(t, r.sent[1]))
	r.input(s.answer(t, r.sent[2]))
	bound := r.c.Config()
	if len(bound.Addrs) != 1 {
		t.Fatalf("not bound: %v", bound)
	}
	var at []time.Duration
	start := r.clock.Now()
	for range 20 {
		d, ok := r.clock.next()
		if !ok {
			break
		}
		r.clock.advance(d)
		at = append(at, r.clock.Now().Sub(start))
		if len(r.c.Config().Addrs) == 0 {
			break
		}
	}
	var types []byte
	for _, p := range r.sent[3:] {
		m, err := parseDHCPv6(p[48:])
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type)
		if (m.Type == dhcpRebind || m.Type == dhcpSolicit) != (m.ServerID == nil) {
			t.Errorf("message type %d with server id %x", m.Type, m.ServerID)
		}
	}
	// Renew at T1 = 50 s and 60 s, cut short at T2 = 80 s; Rebind at 80,
	// 90, 110, 140, 170 s (the timeout doubles from 10 s up to 30 s); at
	// 200 s the valid lifetime ends: the address goes and a Solicit
	// follows at once.
	wantTypes := []byte{dhcpRenew, dhcpRenew, dhcpRebind, dhcpRebind, dhcpRebind, dhcpRebind, dhcpRebind, dhcpSolicit}
	wantAt := []time.Duration{50, 60, 80, 90, 110, 140, 170, 200}
	for i := range wantAt {
		wantAt[i] *= time.Second
	}
	if !slices.Equal(types, wantTypes) || !slices.Equal(at, wantAt) {
		t.Errorf("messages %v at %v\n want %v at %v", types, at, wantTypes, wantAt)
	}
	if len(r.reports) != 2 || !r.reports[0].Equal(bound) || !r.reports[1].Equal(Config{}) || r.c.dstate != dhcpSoliciting {
		t.Fatalf("after the lease ran out: reports %v, state %d", r.reports, r.c.dstate)
	}
	// The new Solicit is answered: bound again, with a fresh lifetime.
	r.input(s.answer(t, r.sent[len(r.sent)-1]))
	r.input(s.answer(t, r.sent[len(r.sent)-1]))
	if len(r.reports) != 3 || !r.reports[2].Equal(bound) {
		t.Fatalf("bound again: reports %v", r.reports)
	}
	// Its Renew at T1 is answered with NoBinding.
	r.clock.advance(50 * time.Second)
	s.noAddr = true
	if m, _ := parseDHCPv6(r.sent[len(r.sent)-1][48:]); m.Type != dhcpRenew {
		t.Fatalf("at T1 sent type %d, want Renew", m.Type)
	}
	r.input(s.answer(t, r.sent[len(r.sent)-1]))
	if got := r.c.Config(); len(got.Addrs) != 0 || r.c.dstate != dhcpSoliciting {
		t.Errorf("after NoBinding: %v, state %d", got, r.c.dstate)
	}
	if m, _ := parseDHCPv6(r.sent[len(r.sent)-1][48:]); m.Type != dhcpSolicit {
		t.Errorf("after NoBinding sent type %d, want Solicit", m.Type)
	}
}

// TestClientDHCPv6Retransmit: an unanswered Solicit is sent
// DHCPMaxSends times, RT doubling from 1 s (RFC 8415 15), then given up;
// a late Advertise is ignored.
func TestClientDHCPv6Retransmit(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	r.input(buildRA(raOpts{m: true}))
	var gaps []time.Duration
	for range 10 {
		p := r.clock.pending()
		if len(p) == 0 {
			break
		}
		gaps = append(gaps, p[0])
		r.clock.advance(p[0])
	}
	if want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}; !slices.Equal(gaps, want) {
		t.Errorf("retransmission timeouts %v, want %v", gaps, want)
	}
	if len(r.sent) != 1+dhcpMaxSends {
		t.Errorf("sent %d, want an RS and %d Solicits", len(r.sent), dhcpMaxSends)
	}
	// Elapsed time grows: the last Solicit says 15 s (1+2+4+8).
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100")}
	last := r.sent[len(r.sent)-1]
	u := last[40+8:]
	var elapsed uint16
	walkOptions(u[4:], func(code uint16, d []byte) error {
		if code == dhcpOptElapsedTime {
			elapsed = binary.BigEndian.Uint16(d)
		}
		return nil
	})
	if elapsed != 1500 {
		t.Errorf("last Solicit's elapsed time %d, want 1500", elapsed)
	}
	r.input(s.answer(t, last))
	if len(r.sent) != 1+dhcpMaxSends || len(r.reports) != 0 {
		t.Errorf("after giving up: sent %d, reports %v", len(r.sent), r.reports)
	}
}

// TestClientDHCPv6NoAddrs: an Advertise with NoAddrsAvail is ignored
// (RFC 8415 18.2.9); the client goes on soliciting, then stops.
func TestClientDHCPv6NoAddrs(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{noAddr: true}
	r.c.Start()
	r.input(buildRA(raOpts{m: true, prefixes: []PrefixInfo{{Prefix: pfx64, Autonomous: true, Valid: 100, Preferred: 100}}}))
	r.input(s.answer(t, r.sent[1]))
	r.clock.advance(time.Minute)
	for _, m := range s.seen {
		if m.Type != dhcpSolicit {
			t.Errorf("client sent message type %d after NoAddrsAvail", m.Type)
		}
	}
	if got := r.c.Config(); !got.Equal(Config{Addrs: []netip.Prefix{slaac}, Source: "slaac"}) {
		t.Errorf("config %v", got)
	}
}

// TestClientInformationRequest: the O flag alone brings an
// Information-Request (no IA_NA); DNS and domains of the Reply join the
// SLAAC address.
func TestClientInformationRequest(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{dns: []netip.Addr{dns1, netip.MustParseAddr("2001:db8::54")}, domains: []string{"a.example", "b.example"}}
	r.c.Start()
	r.input(buildRA(raOpts{o: true, lifetime: 60, prefixes: []PrefixInfo{{Prefix: pfx64, Autonomous: true, Valid: 100, Preferred: 100}}}))
	r.input(s.answer(t, r.sent[1]))
	if len(s.seen) != 1 || s.seen[0].Type != dhcpInfoRequest || s.seen[0].HasIA {
		t.Fatalf("server saw %+v", s.seen)
	}
	want := Config{Addrs: []netip.Prefix{slaac}, Default: true, DNS: s.dns, Domains: s.domains, Source: "slaac+dhcpv6"}
	if len(r.reports) != 2 || !r.reports[1].Equal(want) {
		t.Fatalf("reports %v, want the second %v", r.reports, want)
	}
	r.clock.advance(time.Minute)
	if len(r.sent) != 2 {
		t.Errorf("sent %d", len(r.sent))
	}
}

// TestClientDHCPv6Foreign: answers with another transaction id, client
// id, no server id, a bad checksum or from the wrong port are dropped
// (yet consumed: they are for port 546).
func TestClientDHCPv6Foreign(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100")}
	r.c.Start()
	r.input(buildRA(raOpts{m: true}))
	good := s.answer(t, r.sent[1])
	mod := func(f func(u []byte) []byte) []byte {
		p := append([]byte(nil), good...)
		u := f(p[40:])
		p = p[:40+len(u)]
		binary.BigEndian.PutUint16(p[4:], uint16(len(u)))
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		u[6], u[7] = 0, 0
		binary.BigEndian.PutUint16(u[6:], Checksum(routerLL, ourLL, protoUDP, u))
		return p
	}
	for name, p := range map[string][]byte{
		"txid":        mod(func(u []byte) []byte { u[9] ^= 1; return u }),
		"client id":   mod(func(u []byte) []byte { u[8+4+4+11] ^= 1; return u }),
		"source port": mod(func(u []byte) []byte { u[1]++; return u }),
		"truncated":   mod(func(u []byte) []byte { return u[:len(u)-3] }),
		"checksum":    func() []byte { p := append([]byte(nil), good...); p[47] ^= 1; return p }(),
		"zero checksum": func() []byte {
			p := append([]byte(nil), good...)
			p[46], p[47] = 0, 0
			return p
		}(),
	} {
		r.input(p)
		if r.c.dstate != dhcpSoliciting || len(r.sent) != 2 {
			t.Errorf("%s: state %d, sent %d", name, r.c.dstate, len(r.sent))
		}
	}
	r.input(good)
	if r.c.dstate != dhcpRequesting {
		t.Errorf("the good Advertise: state %d", r.c.dstate)
	}
}

// TestClientStop: after Stop nothing is sent or reported.
func TestClientStop(t *testing.T) {
	r := newRig(t)
	r.c.Start()
	r.c.Stop()
	r.clock.advance(time.Minute)
	r.input(buildRA(raOpts{lifetime: 60}))
	if len(r.sent) != 1 || len(r.reports) != 0 {
		t.Errorf("after Stop: sent %d, reports %v", len(r.sent), r.reports)
	}
}

// TestClientInputOther: packets that are not RA or DHCPv6 are left alone.
func TestClientInputOther(t *testing.T) {
	r := newRig(t)
	for _, p := range [][]byte{RouterSolicitation(routerLL), udpPacket(routerLL, ourLL, 53, 5353, 64, []byte("x")), nil, {0x60}} {
		if r.c.Input(p) {
			t.Errorf("consumed % x", p)
		}
	}
	// An invalid advertisement is consumed (not for the OS) but ignored.
	bad := buildRA(raOpts{lifetime: 60})
	bad[7] = 64
	if !r.c.Input(bad) || len(r.reports) != 0 {
		t.Errorf("invalid RA: reports %v", r.reports)
	}
}

func TestParseDHCPv6(t *testing.T) {
	msg := unhex(t, `
		07 abcdef                                  | Reply, transaction id
		0001 000a 0003 0001 02005e000002           | client id
		0002 000a 0003 0001 02005e000001           | server id
		0003 0028 00000001 00000708 00000b40       | IA_NA, IAID 1, T1, T2
		  0005 0018 20010db8000500000000000000000100 00000e10 00001c20   | IA Address, 3600/7200
		0017 0020 20010db8000000000000000000000053 ff020000000000000000000000000001 | DNS: one good, one multicast
		0018 000e 04636f7270 076578616d706c65 00   | corp.example`)
	m, err := parseDHCPv6(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := dhcpMsg{Type: 7, TxID: [3]byte{0xab, 0xcd, 0xef},
		ClientID: msg[8:18], ServerID: msg[22:32], IAID: 1, HasIA: true, T1: 1800, T2: 2880,
		Addrs: []iaAddr{{Addr: netip.MustParseAddr("2001:db8:5::100"), Preferred: 3600, Valid: 7200}},
		DNS:   []netip.Addr{dns1}, Domains: []string{"corp.example"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("parseDHCPv6\n got %+v\nwant %+v", m, want)
	}
	for name, b := range map[string][]byte{
		"short":            {7, 0, 0},
		"option past end":  unhex(t, "07000000 0001 0005 0000"),
		"half option":      unhex(t, "07000000 00"),
		"short IA_NA":      unhex(t, "07000000 0003 0004 00000001"),
		"short IA address": unhex(t, "07000000 0003 0010 00000001 00000000 00000000 0005 0000"),
		"DNS not 16n":      unhex(t, "07000000 0017 0003 000000"),
		"bad domain":       unhex(t, "07000000 0018 0003 056162"),
		"short status":     unhex(t, "07000000 000d 0001 00"),
		"preference len 2": unhex(t, "07000000 0007 0002 0000"),
	} {
		if _, err := parseDHCPv6(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Lifetime rules of RFC 8415 21.6 and 18.2.10.1.
	m, err = parseDHCPv6(unhex(t, `07000000 0003 0060 00000001 00000000 00000000
		0005 0018 20010db8000000000000000000000001 00000010 00000008 | preferred > valid
		0005 0018 20010db8000000000000000000000002 00000000 00000000 | valid 0
		0005 0018 fe800000000000000000000000000003 00000010 00000010 | link-local`))
	if err != nil || len(m.Addrs) != 0 {
		t.Errorf("unusable addresses: %+v %v", m.Addrs, err)
	}
}

// FuzzParseDHCPv6: no input panics, and a client fed the datagram as a
// server's answer neither panics nor reports an address it was not given.
func FuzzParseDHCPv6(f *testing.F) {
	f.Add([]byte{2, 0xa1, 0xb2, 0xc3, 0, 1, 0, 0})
	f.Add(unhex(f, `07 abcdef 0001 000a 0003 0001 02005e000002 0002 000a 0003 0001 02005e000001
		0003 0028 00000001 00000708 00000b40 0005 0018 20010db8000500000000000000000100 00000e10 00001c20
		0018 000e 04636f7270 076578616d706c65 00`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseDHCPv6(b)
		if err != nil {
			return
		}
		for _, a := range m.Addrs {
			if a.Valid == 0 || a.Preferred > a.Valid {
				t.Fatalf("kept address %+v", a)
			}
		}
		// Through a client in each DHCPv6 state.
		for _, st := range []dhcpState{dhcpSoliciting, dhcpRequesting, dhcpInforming, dhcpRenewing, dhcpRebinding} {
			c := NewClient(testIID, func([]byte) error { return nil }, nil, Options{AfterFunc: newFakeClock().AfterFunc}, nil)
			c.dstate = st
			if len(b) >= 4 {
				c.txid = [3]byte(b[1:4])
			}
			c.Input(udpPacket(routerLL, ourLL, 547, 546, 255, b))
			for _, a := range c.Config().Addrs {
				if !slices.ContainsFunc(m.Addrs, func(x iaAddr) bool { return x.Addr == a.Addr() }) {
					t.Fatalf("reported %v, not in the message", a)
				}
			}
			c.Stop()
		}
	})
}

// TestClientDHCPv6Release: a bound lease is given back once (RFC 8415
// 18.2.7) to the server that leased it, from the link-local address,
// with the address in the IA_NA and no Option Request; after it nothing
// is renewed and a Reply changes nothing. Without a lease (SLAAC only,
// or Information-Request) nothing is sent.
func TestClientDHCPv6Release(t *testing.T) {
	r := newRig(t)
	s := &dhcpServer{addr: netip.MustParseAddr("2001:db8:5::100")}
	r.c.Start()
	if r.c.Release() {
		t.Error("Release before any lease sent something")
	}
	r.input(buildRA(raOpts{m: true, lifetime: 1800}))
	for i := 0; i < 2; i++ {
		r.input(s.answer(t, r.sent[len(r.sent)-1]))
	}
	before := r.c.Config()
	if len(before.Addrs) != 1 {
		t.Fatalf("no lease: %v", before)
	}
	n := len(r.sent)
	if !r.c.Release() {
		t.Fatal("Release of a bound lease sent nothing")
	}
	if len(r.sent) != n+1 {
		t.Fatalf("Release sent %d packets", len(r.sent)-n)
	}
	rel := r.sent[n]
	reply := s.answer(t, rel) // checks source, destination, hop limit, ports, checksum
	m := s.seen[len(s.seen)-1]
	if m.Type != dhcpRelease || !bytes.Equal(m.ServerID, serverID) || !m.HasIA || m.IAID != s.seen[1].IAID ||
		m.TxID == s.seen[1].TxID || !bytes.Contains(rel, s.addr.AsSlice()) {
		t.Errorf("Release %+v", m)
	}
	if bytes.Contains(rel, []byte{0, dhcpOptORO, 0}) {
		t.Error("the Release carries an Option Request")
	}
	if r.c.Release() {
		t.Error("a second Release sent again")
	}
	r.input(reply)
	r.clock.advance(time.Hour)
	if len(r.sent) != n+1 {
		t.Errorf("sent %d packets after the Release (a Renew?)", len(r.sent)-n-1)
	}
	if got := r.c.Config(); len(got.Addrs) != 0 {
		// Its valid lifetime (200 s) ran out and nothing renewed it.
		t.Errorf("config an hour after the Release: %v", got)
	}

	// SLAAC only: no lease, nothing sent.
	r2 := newRig(t)
	r2.c.Start()
	r2.input(buildRA(raOpts{lifetime: 1800, prefixes: []PrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true, Valid: 3600, Preferred: 1800}}}))
	if n := len(r2.sent); r2.c.Release() || len(r2.sent) != n {
		t.Error("Release without a DHCPv6 lease sent something")
	}
}
