package tunnel

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/ipv6"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// fastIPv6 are autoconfiguration timings for the tests of unanswered
// solicitations and DHCPv6 messages: 50 ms apart, DHCPv6 doubling. The
// tests of answered ones keep slowIPv6, so that no retransmission
// happens in their time (their checks hold with retransmissions too).
var (
	fastIPv6 = ipv6.Options{RSInterval: 50 * time.Millisecond, DHCPTimeout: 50 * time.Millisecond}
	slowIPv6 = ipv6.Options{RSInterval: 10 * time.Second, DHCPTimeout: 10 * time.Second}
)

// startIPv6Tunnel starts a tunnel with IPV6CP against a server scripted
// by scfg (IPv6 on) with the device attached, and returns it with a
// channel of the reported StageIPv6Config configurations.
func startIPv6Tunnel(t *testing.T, scfg l2tptest.Config, opts ipv6.Options) (*harness, <-chan ipv6.Config) {
	t.Helper()
	scfg.IPv6 = true
	cfgs := make(chan ipv6.Config, 16)
	h := startTunnel(t, scfg, func(c *Config) {
		c.PPP.IPv6 = true
		c.IPv6 = opts
		prev := c.OnStage
		c.OnStage = func(s Stage) {
			prev(s)
			if s.Kind == StageIPv6Config {
				select {
				case cfgs <- s.IPv6Config:
				default:
					t.Error("too many StageIPv6Config reports")
				}
			}
		}
	})
	h.tun.Attach(h.dev)
	h.mustUp()
	h.waitIPv6()
	return h, cfgs
}

func waitConfig(t *testing.T, ch <-chan ipv6.Config, want ipv6.Config) {
	t.Helper()
	select {
	case got := <-ch:
		if !got.Equal(want) {
			t.Fatalf("StageIPv6Config %v\n want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no StageIPv6Config within 5 s; want %v", want)
	}
}

// noMore checks that no further configuration is reported within d.
func noMore(t *testing.T, ch <-chan ipv6.Config, d time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		t.Errorf("unexpected StageIPv6Config %v", got)
	case <-time.After(d):
	}
}

// waitStats waits until cond holds for the server's stats.
func waitStats(t *testing.T, srv *l2tptest.Server, what string, cond func(l2tptest.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(srv.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: server stats %+v", what, srv.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// checkSwallowed: no router advertisement or DHCPv6 answer reached the
// device or the data counters, and every control packet the server got
// was well-formed (its own checksum code agrees with ours).
func checkSwallowed(t *testing.T, h *harness) {
	t.Helper()
	select {
	case p := <-h.dev.Outbound:
		t.Errorf("the device got % x", p)
	default:
	}
	if st := h.tun.Stats(); st.RxPackets6 != 0 || st.TxPackets6 != 0 || st.RxDropped != 0 {
		t.Errorf("Stats %+v: control packets counted", st)
	}
	if s := h.srv.Stats(); s.BadIPv6Control != 0 || s.IPv6In != 0 {
		t.Errorf("server stats %+v, events %v", s, h.srv.Events())
	}
}

// dhcpTypes lists the DHCPv6 message types the server got, a
// retransmission (the same type again) once.
func dhcpTypes(h *harness) []string {
	var types []string
	for _, e := range h.srv.Events() {
		if e.Kind == l2tptest.EventDHCPv6 && (len(types) == 0 || types[len(types)-1] != e.Detail) {
			types = append(types, e.Detail)
		}
	}
	return types
}

var (
	testPrefix = netip.MustParsePrefix("2001:db8:1:2::/64")
	testDNS6   = netip.MustParseAddr("2001:db8::53")
)

// slaacAddr is testPrefix with the tunnel's interface identifier.
func slaacAddr(h *harness) netip.Prefix {
	a := testPrefix.Addr().As16()
	l := h.tun.IPv6Info().Local.As16()
	copy(a[8:], l[8:])
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

// TestTunnelIPv6SLAAC: the server answers our router solicitation with
// an advertisement of an autonomous on-link /64, a route, RDNSS and
// DNSSL: the tunnel reports prefix + our identifier, the routes, the
// default and DNS once, and the advertisement goes no further.
func TestTunnelIPv6SLAAC(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{RouterLifetime: 1800,
		Prefixes:      []l2tptest.RAPrefix{{Prefix: testPrefix, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}},
		Routes:        []netip.Prefix{netip.MustParsePrefix("2001:db8:100::/40")},
		RouteLifetime: 3600, RDNSS: []netip.Addr{testDNS6}, DNSSL: []string{"corp.example"}, DNSLifetime: 600}
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	want := ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)},
		Routes:  []netip.Prefix{testPrefix, netip.MustParsePrefix("2001:db8:100::/40")},
		Default: true, DNS: []netip.Addr{testDNS6}, Domains: []string{"corp.example"}, Source: "slaac"}
	waitConfig(t, cfgs, want)
	if got := h.tun.IPv6Config(); !got.Equal(want) {
		t.Errorf("IPv6Config() = %v", got)
	}
	noMore(t, cfgs, 200*time.Millisecond) // a repeated advertisement is no change
	if s := h.srv.Stats(); s.RSIn < 1 || s.RAOut != s.RSIn {
		t.Errorf("server stats %+v: want each solicitation answered", s)
	}
	if n := h.stageCount(StageIPv6Config); n != 1 {
		t.Errorf("StageIPv6Config reported %d times", n)
	}
	ev, _ := h.srv.WaitEvent(context.Background(), l2tptest.EventRS)
	if ev.Detail != h.tun.IPv6Info().Local.String() {
		t.Errorf("solicitation from %s, want our link-local address", ev.Detail)
	}
	checkSwallowed(t, h)
}

// TestTunnelIPv6Withdrawal: an unsolicited advertisement with the
// prefix's valid lifetime 0 takes the address and its route away, and
// one with router lifetime 0 the default.
func TestTunnelIPv6Withdrawal(t *testing.T) {
	scfg := testServerConfig()
	ra := l2tptest.RA{RouterLifetime: 1800,
		Prefixes: []l2tptest.RAPrefix{{Prefix: testPrefix, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}}}
	scfg.RA = &ra
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	waitConfig(t, cfgs, ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)}, Routes: []netip.Prefix{testPrefix}, Default: true, Source: "slaac"})
	withdraw := ra
	withdraw.Prefixes = []l2tptest.RAPrefix{{Prefix: testPrefix, OnLink: true, Autonomous: true}}
	if n, err := h.srv.SendRA(withdraw); n != 1 || err != nil {
		t.Fatalf("SendRA = %d, %v", n, err)
	}
	waitConfig(t, cfgs, ipv6.Config{Default: true, Source: "slaac"})
	if n, err := h.srv.SendRA(l2tptest.RA{}); n != 1 || err != nil {
		t.Fatalf("SendRA = %d, %v", n, err)
	}
	waitConfig(t, cfgs, ipv6.Config{})
	// An advertisement with a hop limit below 255 is invalid (RFC 4861
	// 6.1.2): dropped, not passed on.
	bad := ra
	bad.HopLimit = 64
	h.srv.SendRA(bad)
	noMore(t, cfgs, 100*time.Millisecond)
	checkSwallowed(t, h)
}

// TestTunnelIPv6DHCPv6: the M flag: Solicit, Advertise, Request, Reply;
// the IA_NA address is reported as /128 with the Reply's DNS.
func TestTunnelIPv6DHCPv6(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{Managed: true, RouterLifetime: 1800}
	scfg.DHCPv6 = &l2tptest.DHCPv6{Addr: netip.MustParseAddr("2001:db8:5::100"), DNS: []netip.Addr{testDNS6}, Domains: []string{"corp.example"},
		T1: 1, T2: 100}
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	waitConfig(t, cfgs, ipv6.Config{Default: true, Source: "slaac"})
	waitConfig(t, cfgs, ipv6.Config{Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::100/128")}, Default: true,
		DNS: []netip.Addr{testDNS6}, Domains: []string{"corp.example"}, Source: "dhcpv6"})
	noMore(t, cfgs, 200*time.Millisecond)
	// T1 = 1 s: a Renew, answered, changes nothing.
	waitStats(t, h.srv, "a Renew answered", func(s l2tptest.Stats) bool { return s.DHCPv6Out >= 3 })
	noMore(t, cfgs, 100*time.Millisecond)
	if types := dhcpTypes(h); !slices.Equal(types, []string{"Solicit", "Request", "Renew"}) {
		t.Errorf("DHCPv6 messages %v", types)
	}
	checkSwallowed(t, h)
	// Close gives the lease back before PPP ends (RFC 8415 18.2.7).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tun.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if types := dhcpTypes(h); !slices.Equal(types, []string{"Solicit", "Request", "Renew", "Release 2001:db8:5::100"}) {
		t.Errorf("DHCPv6 messages after Close %v", types)
	}
}

// TestTunnelIPv6InformationOnly: the O flag alone: SLAAC for the address,
// an Information-Request for DNS servers and domains.
func TestTunnelIPv6InformationOnly(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{Other: true, RouterLifetime: 1800,
		Prefixes: []l2tptest.RAPrefix{{Prefix: testPrefix, Autonomous: true, Valid: 86400, Preferred: 14400}}}
	scfg.DHCPv6 = &l2tptest.DHCPv6{DNS: []netip.Addr{testDNS6}, Domains: []string{"corp.example"}}
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	waitConfig(t, cfgs, ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)}, Default: true, Source: "slaac"})
	waitConfig(t, cfgs, ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)}, Default: true,
		DNS: []netip.Addr{testDNS6}, Domains: []string{"corp.example"}, Source: "slaac+dhcpv6"})
	noMore(t, cfgs, 200*time.Millisecond)
	if types := dhcpTypes(h); !slices.Equal(types, []string{"Information-Request"}) {
		t.Errorf("DHCPv6 messages %v", types)
	}
	checkSwallowed(t, h)
}

// TestTunnelIPv6NoRouter: a server that never advertises (SoftEther's
// SecureNAT): three solicitations, then silence; no configuration, IPv4
// and IPv6 data unaffected, the tunnel closes cleanly.
func TestTunnelIPv6NoRouter(t *testing.T) {
	scfg := testServerConfig()
	scfg.EchoIPv4 = true
	h, cfgs := startIPv6Tunnel(t, scfg, fastIPv6)
	waitStats(t, h.srv, "three solicitations", func(s l2tptest.Stats) bool { return s.RSIn >= ipv6.MaxRtrSolicitations })
	time.Sleep(300 * time.Millisecond) // six intervals more
	if s := h.srv.Stats(); s.RSIn != ipv6.MaxRtrSolicitations || s.RAOut != 0 || s.BadIPv6Control != 0 {
		t.Errorf("server stats %+v: want exactly %d solicitations", s, ipv6.MaxRtrSolicitations)
	}
	defer func() {
		if s := h.srv.Stats(); s.DHCPv6In != 0 {
			t.Errorf("%d DHCPv6 messages without a DHCPv6 server (a Release at Close?)", s.DHCPv6In)
		}
	}()
	noMore(t, cfgs, 0)
	if got := h.tun.IPv6Config(); !got.Equal(ipv6.Config{}) {
		t.Errorf("IPv6Config() = %v, want none", got)
	}
	out4 := ipv4("10.99.0.2", "192.0.2.7", "v4")
	h.dev.Inbound <- out4
	recvPacket(t, h.srv.Packets(), "IPv4 at the server")
	recvPacket(t, h.dev.Outbound, "IPv4 echo at the device")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tun.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
}

// TestTunnelIPv6NoDHCPServer: the M flag but no DHCPv6 server: the
// Solicit goes out a bounded number of times; the advertisement's part
// stays reported.
func TestTunnelIPv6NoDHCPServer(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{Managed: true, RouterLifetime: 1800}
	h, cfgs := startIPv6Tunnel(t, scfg, fastIPv6)
	waitConfig(t, cfgs, ipv6.Config{Default: true, Source: "slaac"})
	// 50+100+200+400 ms between the five Solicits, then 800 ms to give up.
	waitStats(t, h.srv, "five Solicits", func(s l2tptest.Stats) bool { return s.DHCPv6In >= 5 })
	time.Sleep(1200 * time.Millisecond)
	if s := h.srv.Stats(); s.DHCPv6In != 5 || s.DHCPv6Out != 0 {
		t.Errorf("server stats %+v: want 5 Solicits", s)
	}
	noMore(t, cfgs, 0)
	checkSwallowed(t, h)
}

// TestDataPathIPv6Allocs: with IPv6 autoconfiguration running, an
// inbound IPv6 data packet still takes no allocation (the control check
// reads the header only), and an outbound one neither.
func TestDataPathIPv6Allocs(t *testing.T) {
	dev := &countDevice{}
	tun := benchTunnel(&discardTransport{}, dev)
	tun.ipv6Open = func() bool { return true }
	c := ipv6.NewClient(1, func([]byte) error { return nil }, nil, ipv6.Options{}, nil)
	defer c.Stop()
	tun.v6.Store(c)
	rx := make([]byte, BufSize)
	off := 30
	ppp.PutFrameHeader(rx[off:], ppp.ProtoIPv6)
	pkt := ipv6.BuildPacket(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 17, 64, make([]byte, 1200))
	end := off + ppp.FrameHeaderLen + copy(rx[off+ppp.FrameHeaderLen:], pkt)
	if n := testing.AllocsPerRun(200, func() { tun.onData(rx, off, end); tun.flushRx() }); n != 0 {
		t.Errorf("inbound IPv6: %v allocations per packet", n)
	}
	if dev.n != 201 {
		t.Errorf("device got %d packets, want 201", dev.n)
	}
	buf := make([]byte, BufSize)
	copy(buf[Headroom:], pkt)
	if n := testing.AllocsPerRun(200, func() { tun.sendPacket(buf, len(pkt)) }); n != 0 {
		t.Errorf("outbound IPv6: %v allocations per packet", n)
	}
}

// TestDataPathIPv6Control: a router advertisement and a DHCPv6 answer
// go to the autoconfiguration, not the device; without it (IPv6 on, the
// client not yet started) they reach the device like any packet.
func TestDataPathIPv6Control(t *testing.T) {
	dev := &countDevice{}
	tun := benchTunnel(&discardTransport{}, dev)
	tun.ipv6Open = func() bool { return true }
	ll := netip.MustParseAddr("fe80::1")
	ra := ipv6.BuildPacket(ll, netip.MustParseAddr("ff02::1"), 58, 255, append([]byte{134}, make([]byte, 15)...))
	dh := ipv6.BuildPacket(ll, netip.MustParseAddr("fe80::2"), 17, 255, []byte{2, 0x23, 2, 0x22, 0, 12, 0, 0, 7, 1, 2, 3})
	feed := func(pkt []byte) {
		rx := make([]byte, BufSize)
		ppp.PutFrameHeader(rx[30:], ppp.ProtoIPv6)
		n := copy(rx[34:], pkt)
		tun.onData(rx, 30, 34+n)
		tun.flushRx()
	}
	feed(ra)
	feed(dh)
	if dev.n != 2 {
		t.Fatalf("without a client: device got %d packets, want 2", dev.n)
	}
	var reports []ipv6.Config
	c := ipv6.NewClient(2, func([]byte) error { return nil }, func(c ipv6.Config) { reports = append(reports, c) }, ipv6.Options{}, nil)
	defer c.Stop()
	tun.v6.Store(c)
	feed(ra)
	feed(dh)
	if dev.n != 2 {
		t.Errorf("with a client: device got %d packets, want none more", dev.n)
	}
	if st := tun.Stats(); st.RxPackets6 != 2 || st.RxDropped != 0 {
		t.Errorf("stats %+v: want only the two packets the device got", st)
	}
}

// TestTunnelIPv6DeviceRS: a router solicitation the OS sends through the
// device (a kernel soliciting from the link-local address) reaches the
// server like any packet and is answered; the advertisement goes to the
// tunnel's autoconfiguration, never to the device. One with a broken
// checksum is refused by the server's own check.
func TestTunnelIPv6DeviceRS(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{RouterLifetime: 1800,
		Prefixes: []l2tptest.RAPrefix{{Prefix: testPrefix, Autonomous: true, Valid: 86400, Preferred: 14400}}}
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	waitConfig(t, cfgs, ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)}, Default: true, Source: "slaac"})
	rs := ipv6.RouterSolicitation(h.tun.IPv6Info().Local)
	before := h.srv.Stats()
	h.dev.Inbound <- rs
	waitStats(t, h.srv, "the device's solicitation answered", func(s l2tptest.Stats) bool { return s.RAOut > before.RAOut })
	bad := append([]byte(nil), rs...)
	bad[len(bad)-1] ^= 1
	h.dev.Inbound <- bad
	waitStats(t, h.srv, "the broken solicitation refused", func(s l2tptest.Stats) bool { return s.BadIPv6Control == 1 })
	if s := h.srv.Stats(); s.RAOut != before.RAOut+1 {
		t.Errorf("server stats %+v: want one more advertisement", s)
	}
	noMore(t, cfgs, 100*time.Millisecond) // the same advertisement: no change
	select {
	case p := <-h.dev.Outbound:
		t.Errorf("the device got % x", p)
	default:
	}
	if st := h.tun.Stats(); st.TxPackets6 != 2 || st.RxPackets6 != 0 {
		t.Errorf("Stats %+v: want the device's two packets out, nothing in", st)
	}
}

// TestTunnelIPv6Reopen: IPV6CP opening again (a renegotiation) replaces
// the autoconfiguration: the old configuration is reported taken away
// (an empty Config, so the OS side drops the addresses and routes) before
// the new client's solicitation brings it back; IPv6Config follows. A
// reopening while nothing was reported reports nothing.
func TestTunnelIPv6Reopen(t *testing.T) {
	scfg := testServerConfig()
	scfg.RA = &l2tptest.RA{RouterLifetime: 1800,
		Prefixes: []l2tptest.RAPrefix{{Prefix: testPrefix, OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}}}
	h, cfgs := startIPv6Tunnel(t, scfg, slowIPv6)
	want := ipv6.Config{Addrs: []netip.Prefix{slaacAddr(h)}, Routes: []netip.Prefix{testPrefix}, Default: true, Source: "slaac"}
	waitConfig(t, cfgs, want)
	rs := h.srv.Stats().RSIn
	// What the PPP link reports when IPV6CP opens again.
	h.tun.onPPPEvent(ppp.Event{Kind: ppp.EventIPv6CPUp, IPv6: h.tun.IPv6Info()})
	waitConfig(t, cfgs, ipv6.Config{})
	waitConfig(t, cfgs, want)
	if got := h.tun.IPv6Config(); !got.Equal(want) {
		t.Errorf("IPv6Config() = %v, want %v", got, want)
	}
	if s := h.srv.Stats(); s.RSIn != rs+1 {
		t.Errorf("server stats %+v: want one solicitation more than %d", s, rs)
	}
	noMore(t, cfgs, 100*time.Millisecond)
	checkSwallowed(t, h)
}

// TestTunnelIPv6ReopenEmpty: with no advertisement ever, a reopening has
// nothing to take away and reports nothing.
func TestTunnelIPv6ReopenEmpty(t *testing.T) {
	scfg := testServerConfig()
	h, cfgs := startIPv6Tunnel(t, scfg, fastIPv6)
	waitStats(t, h.srv, "a solicitation", func(s l2tptest.Stats) bool { return s.RSIn >= 1 })
	h.tun.onPPPEvent(ppp.Event{Kind: ppp.EventIPv6CPUp, IPv6: h.tun.IPv6Info()})
	waitStats(t, h.srv, "the new client's solicitations", func(s l2tptest.Stats) bool { return s.RSIn >= ipv6.MaxRtrSolicitations+1 })
	noMore(t, cfgs, 100*time.Millisecond)
	if got := h.tun.IPv6Config(); !got.Equal(ipv6.Config{}) {
		t.Errorf("IPv6Config() = %v, want none", got)
	}
}
