package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/ipv6"
)

// fakeRouter records the NetConfigs it is set to.
type fakeRouter struct {
	mu   sync.Mutex
	sets []platform.NetConfig
	fail error
	set  chan struct{} // a token per Set
}

func newFakeRouter() *fakeRouter { return &fakeRouter{set: make(chan struct{}, 16)} }

func (r *fakeRouter) Set(cfg *platform.NetConfig) error {
	r.mu.Lock()
	if cfg != nil {
		r.sets = append(r.sets, *cfg)
	}
	err := r.fail
	r.mu.Unlock()
	r.set <- struct{}{}
	return err
}

func (r *fakeRouter) Close() error { return nil }

// next waits (at most 5 s) for the next Set and returns its config.
func (r *fakeRouter) next(t *testing.T) platform.NetConfig {
	t.Helper()
	select {
	case <-r.set:
	case <-time.After(5 * time.Second):
		t.Fatal("no Set within 5 s")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sets[len(r.sets)-1]
}

// none checks no Set comes within d.
func (r *fakeRouter) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.set:
		t.Errorf("unexpected Set: %+v", r.sets[len(r.sets)-1])
	case <-time.After(d):
	}
}

// fakeDevice is a session's device that is never read or written here.
type fakeDevice struct{}

func (fakeDevice) Read([][]byte, []int, int) (int, error) { return 0, nil }
func (fakeDevice) Write([][]byte, int) (int, error)       { return 0, nil }
func (fakeDevice) BatchSize() int                         { return 1 }
func (fakeDevice) Name() string                           { return "corridor0" }
func (fakeDevice) Close() error                           { return nil }

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	offer = ipv6.Config{
		Addrs:   []netip.Prefix{netip.MustParsePrefix("2001:db8:1::5/64")},
		Routes:  []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64"), netip.MustParsePrefix("2001:db8:ff00::/40")},
		Default: true,
		DNS:     []netip.Addr{netip.MustParseAddr("2001:db8:1::53")},
		Domains: []string{"corp.example.", "bad domain"},
		Source:  "slaac",
	}
	tunnelDNS = netip.MustParseAddr("192.168.30.1")
)

// ipv6Rig is a connected full-tunnel session on a fake device with a fake
// Router, as RealStack.Up leaves it, watching the IPv6 offers.
type ipv6Rig struct {
	sess   *Session
	link   *realLink
	router *fakeRouter
	log    *syncBuffer
	stages []string
	mu     sync.Mutex
}

func newIPv6Rig(t *testing.T, p profile.Profile, check IPv6Check) *ipv6Rig {
	rig := &ipv6Rig{router: newFakeRouter(), log: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(rig.log, nil))
	rig.sess = &Session{server: netip.MustParseAddr("203.0.113.5"), dev: fakeDevice{}, mtu: 1400, v6: newIPv6Watch(log),
		done: make(chan struct{})}
	rig.sess.info.Local, rig.sess.info.DNS = netip.MustParseAddr("192.168.30.10"), []netip.Addr{tunnelDNS}
	base, err := NetConfigFor(p, rig.sess)
	if err != nil {
		t.Fatal(err)
	}
	rig.link = &realLink{sess: rig.sess, router: rig.router, nc: base, base: base, log: log, name: "corridor0", profile: p, check6: check}
	rig.sess.watchIPv6(rig.link.applyIPv6)
	t.Cleanup(func() { close(rig.sess.done) })
	return rig
}

// waitLog waits (at most 5 s) for the log to hold want: the link logs
// after its Set returned.
func (rig *ipv6Rig) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(rig.log.String(), want) {
		if time.Now().After(deadline) {
			t.Errorf("log lacks %q after 5 s:\n%s", want, rig.log.String())
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// inject reports a tunnel stage as the tunnel's protocol goroutine does.
func (rig *ipv6Rig) inject(s tunnel.Stage) {
	onTunnelStage(s, func(name, detail string, _ State) {
		rig.mu.Lock()
		rig.stages = append(rig.stages, name+" "+detail)
		rig.mu.Unlock()
	}, &linkLocal{}, rig.sess.v6)
}

// TestSessionAppliesIPv6Offer: each IPv6 offer the tunnel reports reaches
// the Router on the link's goroutine: the address, the offered routes,
// all IPv6 through a full tunnel when the server is a default router,
// its DNS server beside the IPv4 one and its (valid) search domain; a
// repeated offer changes nothing; an offer without a default brings the
// block back; the status shows the addresses; after Close nothing is set.
func TestSessionAppliesIPv6Offer(t *testing.T) {
	p := fullProfile("work")
	p.IPv6 = true
	rig := newIPv6Rig(t, p, nil)
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: offer})
	got := rig.router.next(t)
	if !got.FullTunnel || !got.Default6 || !slices.Equal(got.Addrs6, offer.Addrs) || !slices.Equal(got.Routes6, offer.Routes) {
		t.Errorf("NetConfig: %+v", got)
	}
	if want := []netip.Addr{tunnelDNS, offer.DNS[0]}; !slices.Equal(got.DNS, want) {
		t.Errorf("DNS %v, want %v", got.DNS, want)
	}
	if !slices.Equal(got.Domains, []string{"corp.example"}) {
		t.Errorf("domains %q, want the valid one without its dot", got.Domains)
	}
	rig.waitLog(t, "ipv6: address 2001:db8:1::5/64, all IPv6 through the tunnel, routes [2001:db8:1::/64 2001:db8:ff00::/40], DNS [2001:db8:1::53] on corridor0")
	if li := rig.link.Info(); !slices.Equal(li.IPv6, []string{"2001:db8:1::5/64"}) {
		t.Errorf("LinkInfo.IPv6 %q", li.IPv6)
	}
	if c, ok := rig.sess.IPv6Config(); !ok || !c.Equal(offer) {
		t.Errorf("Session.IPv6Config: %v %v", c, ok)
	}
	rig.mu.Lock()
	if !slices.Contains(rig.stages, "ppp ipv6: "+offer.String()) {
		t.Errorf("progress lines %q", rig.stages)
	}
	rig.mu.Unlock()

	// The same offer again (a periodic advertisement): nothing to do.
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: offer})
	rig.router.none(t, 100*time.Millisecond)

	// The router stops being a default router: IPv6 is blocked again.
	noDefault := offer
	noDefault.Default = false
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: noDefault})
	if got := rig.router.next(t); got.Default6 || !got.FullTunnel || len(got.Addrs6) != 1 {
		t.Errorf("without a default: %+v", got)
	}
	rig.waitLog(t, "ipv6: the server offers address 2001:db8:1::5/64, a default route")
	rig.waitLog(t, "IPv6 outside the tunnel stays blocked (the server offered no default route)")

	// Closed (routes and DNS undone): a late offer sets nothing.
	rig.link.mu.Lock()
	rig.link.closed = true
	rig.link.mu.Unlock()
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: offer})
	rig.router.none(t, 100*time.Millisecond)
}

// TestIPv6OfferSplitTunnel: a split tunnel takes the offered prefixes but
// never the IPv6 default; a profile with its own DNS keeps it; a Router
// failure is logged and leaves the link's configuration as it was.
func TestIPv6OfferSplitTunnel(t *testing.T) {
	p := splitProfile("work", "10.77.0.0/16")
	p.IPv6, p.DNS, p.DNSServers = true, profile.DNSCustom, []string{"10.0.0.53"}
	rig := newIPv6Rig(t, p, nil)
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: offer})
	got := rig.router.next(t)
	if got.FullTunnel || got.Default6 || !slices.Equal(got.Routes6, offer.Routes) {
		t.Errorf("split tunnel NetConfig: %+v", got)
	}
	if want := []netip.Addr{netip.MustParseAddr("10.0.0.53")}; !slices.Equal(got.DNS, want) || len(got.Domains) != 0 {
		t.Errorf("custom DNS: %v %q, want %v and no domain", got.DNS, got.Domains, want)
	}
	rig.waitLog(t, "the server's IPv6 default route is not taken (split tunnel)")

	rig.router.mu.Lock()
	rig.router.fail = fmt.Errorf("platform: ip -6 addr add: exit status 2")
	rig.router.mu.Unlock()
	moved := offer
	moved.Addrs = []netip.Prefix{netip.MustParsePrefix("2001:db8:2::5/64")}
	rig.inject(tunnel.Stage{Kind: tunnel.StageIPv6Config, IPv6Config: moved})
	rig.router.next(t)
	rig.waitLog(t, "ipv6: could not set up IPv6 on corridor0: platform: ip -6 addr add: exit status 2 (IPv4 goes on as before)")
	rig.link.mu.Lock()
	kept := rig.link.nc.Addrs6
	rig.link.mu.Unlock()
	if !slices.Equal(kept, offer.Addrs) {
		t.Errorf("link config after a failed Set: %v, want the last applied %v", kept, offer.Addrs)
	}
}

// TestIPv6RoutesAcrossTunnels: two split tunnels whose servers offer
// overlapping IPv6 prefixes: the second leaves out what the first
// carries (and says why), keeps the rest; once the first is down, the
// prefix is free again.
func TestIPv6RoutesAcrossTunnels(t *testing.T) {
	offers := make(chan IPv6Check, 2)
	connectsWithCheck := func(local, peer string) func(context.Context, func(Stage)) (Link, error) {
		return func(ctx context.Context, progress func(Stage)) (Link, error) {
			offers <- ipv6CheckFrom(ctx)
			return connectsAs(local, peer)(ctx, progress)
		}
	}
	h := newHarness(t, connectsWithCheck("10.1.0.2", "10.1.0.1"), connectsWithCheck("10.2.0.2", "10.2.0.1"))
	if err := h.up(splitProfile("a", "10.11.0.0/16")); err != nil {
		t.Fatal(err)
	}
	checkA := <-offers
	h.waitProfile("a", StateConnected)
	p := netip.MustParsePrefix
	keep, notes := checkA([]netip.Prefix{p("2001:db8:a::5/64")}, []netip.Prefix{p("2001:db8:a::/64"), p("2001:db8:100::/40")})
	if len(keep) != 2 || len(notes) != 0 {
		t.Fatalf("first tunnel: keep %v notes %q", keep, notes)
	}
	if err := h.up(splitProfile("b", "10.12.0.0/16")); err != nil {
		t.Fatal(err)
	}
	checkB := <-offers
	h.waitProfile("b", StateConnected)
	keep, notes = checkB([]netip.Prefix{p("2001:db8:b::5/64")},
		[]netip.Prefix{p("2001:db8:b::/64"), p("2001:db8:140::/48"), p("2001:db8:a::/56")})
	if !slices.Equal(keep, []netip.Prefix{p("2001:db8:b::/64")}) {
		t.Errorf("second tunnel keeps %v", keep)
	}
	want := []string{
		`the server offered the route 2001:db8:140::/48, not taken: it overlaps 2001:db8:100::/40, which the tunnel of profile "a" carries`,
		`the server offered the route 2001:db8:a::/56, not taken: it overlaps 2001:db8:a::/64, which the tunnel of profile "a" carries`,
	}
	if !slices.Equal(notes, want) {
		t.Errorf("notes:\n%q\nwant\n%q", notes, want)
	}
	if err := h.m.Down(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateIdle)
	// Its claims go when its goroutine is through with the link, just
	// after the state: asked again until then (at most 5 s).
	deadline := time.Now().Add(5 * time.Second)
	for {
		keep, notes = checkB(nil, []netip.Prefix{p("2001:db8:140::/48")})
		if len(keep) == 1 && len(notes) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first went down: keep %v notes %q", keep, notes)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestStatsPerFamily: the IPv6 counters reach the status beside the
// totals.
func TestStatsPerFamily(t *testing.T) {
	st := statsOf(tunnel.Stats{TxPackets: 10, TxBytes: 1000, RxPackets: 20, RxBytes: 2000,
		TxPackets6: 3, TxBytes6: 300, RxPackets6: 4, RxBytes6: 400}, Stats{TxRate: 5})
	want := Stats{TxBytes: 1000, RxBytes: 2000, TxPackets: 10, RxPackets: 20, TxRate: 5,
		TxBytes6: 300, RxBytes6: 400, TxPackets6: 3, RxPackets6: 4}
	if st != want {
		t.Errorf("statsOf: %+v, want %+v", st, want)
	}
}

// TestIPv6OnDevice: IPv6 goes on the device only with an MTU of at least
// 1280 (RFC 8200 section 5); below it the session connects without IPv6
// and says why, instead of failing on the kernel's refusal.
func TestIPv6OnDevice(t *testing.T) {
	for _, tt := range []struct {
		want   bool
		mtu    int
		on     bool
		reason bool
	}{
		{false, 1400, false, false},
		{false, 1200, false, false},
		{true, 1400, true, false},
		{true, 1280, true, false},
		{true, 1279, false, true},
		{true, 576, false, true},
	} {
		on, why := ipv6OnDevice(tt.want, tt.mtu)
		if on != tt.on || (why != "") != tt.reason {
			t.Errorf("ipv6OnDevice(%v, %d) = %v, %q", tt.want, tt.mtu, on, why)
		}
		if tt.reason && !strings.Contains(why, "at least 1280") {
			t.Errorf("reason %q does not name the minimum", why)
		}
	}
}

// TestIPv6WatchDisabled: once the device has no IPv6, an offer that came
// before and every later one are dropped: the link's listener is never
// called and the session reports no configuration.
func TestIPv6WatchDisabled(t *testing.T) {
	w := newIPv6Watch(nil)
	w.offer(offer) // before the device: a kick is pending
	w.disable()
	w.offer(offer)
	if _, ok := w.latest(); ok {
		t.Errorf("a disabled watch reports an offer")
	}
	calls := make(chan ipv6.Config, 4)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() { w.run(func(c ipv6.Config) { calls <- c }, done); close(ended) }()
	select {
	case c := <-calls:
		t.Errorf("the listener got %v from a disabled watch", c)
	case <-time.After(100 * time.Millisecond):
	}
	close(done)
	<-ended
}
