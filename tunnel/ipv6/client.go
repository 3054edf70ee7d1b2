package ipv6

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// RFC 4861 section 10 host constants and RFC 8415 section 7.6
// transmission parameters, the defaults of Options.
const (
	MaxRtrSolicitations     = 3                // MAX_RTR_SOLICITATIONS
	RtrSolicitationInterval = 4 * time.Second  // RTR_SOLICITATION_INTERVAL
	dhcpIRT                 = time.Second      // SOL_TIMEOUT, REQ_TIMEOUT, INF_TIMEOUT
	dhcpRenewIRT            = 10 * time.Second // REN_TIMEOUT, REB_TIMEOUT
	dhcpMRT                 = 30 * time.Second
	dhcpMaxSends            = 5
)

// Timer is a pending call of Options.AfterFunc; *time.Timer is one.
type Timer interface{ Stop() bool }

// Options tune a Client; the zero value means the RFC defaults.
type Options struct {
	// RSInterval and MaxRS: router solicitations are sent MaxRS times,
	// RSInterval apart, until an advertisement arrives (RFC 4861 6.3.7;
	// defaults 4 s and 3). The first goes at once: RFC 4861's random
	// delay of up to 1 s spreads the solicitations of many hosts on a
	// shared link, and a PPP link has one.
	RSInterval time.Duration
	MaxRS      int
	// DHCPTimeout is the first DHCPv6 retransmission timeout, doubled
	// after each send up to 30 s (RFC 8415 15: IRT 1 s; without the
	// random factor, which spreads many clients of a link and ours has
	// one). DHCPMaxSends bounds every exchange (default 5): RFC 8415
	// retransmits a Solicit forever, but a server that never answered
	// five will not answer the sixth any time soon.
	DHCPTimeout  time.Duration
	DHCPMaxSends int
	// RenewTimeout is the first retransmission timeout of Renew and
	// Rebind (RFC 8415 7.6: REN_TIMEOUT, REB_TIMEOUT, 10 s).
	RenewTimeout time.Duration
	// AfterFunc and Now replace time.AfterFunc and time.Now (tests).
	AfterFunc func(time.Duration, func()) Timer
	Now       func() time.Time
	// Rand is the source of DHCPv6 transaction IDs (default crypto/rand).
	Rand io.Reader
}

// dhcpState is where the DHCPv6 client is (RFC 8415 section 18).
type dhcpState uint8

const (
	dhcpIdle       dhcpState = iota
	dhcpSoliciting           // Solicit sent, waiting for an Advertise (18.2.1)
	dhcpRequesting           // Request sent, waiting for a Reply (18.2.2)
	dhcpBound                // an address is ours
	dhcpRenewing             // Renew sent at T1 (18.2.4)
	dhcpRebinding            // Rebind sent at T2 (18.2.5)
	dhcpInforming            // Information-Request sent (18.2.6)
	dhcpInformed             // its Reply taken
	dhcpFailed               // no (usable) answer; not tried again on this link
	dhcpReleased             // the lease was given back (Release): the link is closing
)

// Client configures IPv6 on one PPP link once IPV6CP has opened: it
// solicits a router advertisement, takes addresses (SLAAC, RFC 4862),
// routes (RFC 4861 L flag, RFC 4191) and DNS (RFC 8106) from it, runs
// DHCPv6 (RFC 8415) when its M or O flag asks, and reports the result
// whenever it changes. Its methods are safe for concurrent use.
//
// A DHCPv6 address is renewed at T1 and rebound at T2 (RFC 8415 18.2.4,
// 18.2.5), each exchange bounded like the others.
//
// Lifetimes count down, on one timer armed for the earliest expiry (and
// re-armed at each change; Stop stops it): an item goes, and the change
// is reported, when a later advertisement gives it lifetime 0 or when its
// lifetime runs out without a refresh. So the default router goes when
// its router lifetime expires (RFC 4861 6.3.4), a prefix (its SLAAC
// address and on-link route) at the end of its valid lifetime (RFC 4862
// 5.5.3 e, RFC 4861 6.3.4), a route information option at the end of its
// route lifetime (RFC 4191 3.1; ::/0 is a default of its own lifetime),
// RDNSS servers and DNSSL domains at the end of theirs (RFC 8106 5.1,
// 5.2), and a DHCPv6 address at the end of its valid lifetime when no
// Renew or Rebind extended it (RFC 8415 18.2.10.1); once every leased
// address is gone the client solicits again (RFC 8415 18.2.5). An
// infinite lifetime (0xffffffff; the router lifetime has none) never
// runs out. Preferred lifetimes are not tracked: Config has no notion of
// a deprecated address.
//
// RFC 4862 5.5.3 e's two-hour rule is not applied: an advertisement may
// cut a SLAAC address's remaining valid lifetime short, or to 0. The rule
// keeps a forged advertisement from another node of a shared link from
// taking a host's addresses away, and exempts an authenticated
// advertisement ("e.g., via Secure Neighbor Discovery"). A PPP link
// (RFC 5072) has one other node, the server, and its advertisements reach
// us only through the authenticated L2TP/IPsec session: no third party
// can send one, and the server that gave the prefix may take it back.
//
// Release gives a DHCPv6 lease back when the link is about to close.
// What it does not do: pick among several DHCPv6 servers (the first
// valid Advertise is taken: a PPP link has one server).
//
// Config.Source: "slaac" when the addresses come from the advertisement
// (or, with no address at all, the advertisement gave the rest), "dhcpv6"
// when DHCPv6 gave the address and the advertisement none, and
// "slaac+dhcpv6" when both contributed (SLAAC addresses with DHCPv6 DNS
// after the O flag, say).
type Client struct {
	iid    uint64
	local  netip.Addr
	send   func([]byte) error
	report func(Config)
	opt    Options
	log    *slog.Logger

	mu      sync.Mutex
	stopped bool
	timer   Timer // the pending RS or DHCPv6 retransmission
	gen     uint64

	// The lifetime timer: one, for the earliest expiry (lifeAt).
	life    Timer
	lifeGen uint64
	lifeAt  time.Time

	rsSent int
	gotRA  bool

	// From advertisements, in the order first seen; each item goes at
	// its end (a zero end: an infinite lifetime).
	prefixes []prefixState // valid lifetime > 0
	routes   []timed[netip.Prefix]
	def      bool      // router lifetime > 0 (RFC 4861 6.3.4)
	defEnd   time.Time // when the router lifetime runs out
	rdnss    []timed[netip.Addr]
	dnssl    []timed[string]

	// DHCPv6.
	dstate   dhcpState
	txid     [3]byte
	sends    int
	rt       time.Duration
	started  time.Time // first transmission of the exchange (elapsed time, 21.9)
	serverID []byte
	offer    []iaAddr
	dAddrs   []timed[netip.Addr]
	dDNS     []netip.Addr
	dDomains []string
	rebindAt time.Time // T2 of the bound lease

	last Config
}

// timed is an item with a lifetime: it goes at end, or never when end is
// zero (an infinite lifetime, 0xffffffff).
type timed[T any] struct {
	v   T
	end time.Time
}

// prefixState is a prefix of the advertisements, going at the end of its
// valid lifetime (address and on-link route alike, RFC 4862 5.5.3 e and
// RFC 4861 6.3.4).
type prefixState struct {
	PrefixInfo
	end time.Time
}

// until is when a lifetime of secs seconds from now runs out: zero for
// infinity (RFC 4861 4.6.2, RFC 4191 2.3, RFC 8106 5.1, RFC 8415 21.6).
func until(now time.Time, secs uint32) time.Time {
	if secs == 0xffffffff {
		return time.Time{}
	}
	return now.Add(time.Duration(secs) * time.Second)
}

// gone reports whether end has come by now (never for a zero end).
func gone(end, now time.Time) bool { return !end.IsZero() && !end.After(now) }

// NewClient returns a client for the link where our interface identifier
// is iid (our link-local address fe80::iid, RFC 5072 5). send takes an
// IPv6 packet for the tunnel; report gets each new Config (called with
// the client's lock held: it must not call back into the client, and
// must not block). Start begins.
func NewClient(iid uint64, send func([]byte) error, report func(Config), opt Options, log *slog.Logger) *Client {
	if opt.RSInterval <= 0 {
		opt.RSInterval = RtrSolicitationInterval
	}
	if opt.MaxRS <= 0 {
		opt.MaxRS = MaxRtrSolicitations
	}
	if opt.DHCPTimeout <= 0 {
		opt.DHCPTimeout = dhcpIRT
	}
	if opt.RenewTimeout <= 0 {
		opt.RenewTimeout = dhcpRenewIRT
	}
	if opt.DHCPMaxSends <= 0 {
		opt.DHCPMaxSends = dhcpMaxSends
	}
	if opt.AfterFunc == nil {
		opt.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	binary.BigEndian.PutUint64(a[8:], iid)
	return &Client{iid: iid, local: netip.AddrFrom16(a), send: send, report: report, opt: opt, log: log}
}

// Start sends the first router solicitation.
func (c *Client) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.rsSent > 0 {
		return
	}
	c.solicit()
}

// Stop ends the client: no more packets, timers or reports.
func (c *Client) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.stopTimer()
	c.stopLife()
}

// Release gives the DHCPv6 addresses back to the server that leased
// them (RFC 8415 18.2.7), for a link about to close, and reports whether
// it sent a Release. It is sent once, from the link-local address, and
// not retransmitted: the link goes down right after, and a Release that
// is lost only leaves the lease to run out at the server. After it the
// client renews nothing and takes no Reply; the addresses stay in the
// reported Config (the caller is taking the link down). Without a lease
// it sends nothing.
func (c *Client) Release() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.serverID == nil || len(c.dAddrs) == 0 {
		return false
	}
	switch c.dstate {
	case dhcpBound, dhcpRenewing, dhcpRebinding:
	default:
		return false
	}
	if _, err := io.ReadFull(c.opt.Rand, c.txid[:]); err != nil {
		return false
	}
	c.stopTimer() // no Renew or Rebind after this
	c.dstate = dhcpReleased
	addrs := make([]netip.Addr, len(c.dAddrs))
	for i, a := range c.dAddrs {
		addrs[i] = a.v
	}
	msg := dhcpReleaseMsg(c.txid, duid(c.iid), c.serverID, c.iaid(), addrs)
	// RFC 8415 18.2.7: not from an address being released; link-local
	// and link-scoped like every message here (7.1).
	if err := c.send(udpPacket(c.local, AllDHCP, dhcpClientPort, dhcpServerPort, 1, msg)); err != nil {
		c.log.Debug("ipv6: dhcpv6 release not sent", "err", err)
		return false
	}
	c.log.Debug("ipv6: dhcpv6 lease released", "addrs", addrs)
	return true
}

// Config is the configuration last reported (zero before the first).
func (c *Client) Config() Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Input takes an inbound IPv6 packet for which IsControl holds and
// reports whether the client consumed it: every router advertisement
// (valid or not: the OS must not act on one behind our back, as a Linux
// TUN with accept_ra would, configuring the same prefix twice) and every
// DHCPv6 message to the client port (we are the DHCPv6 client of this
// link). Anything else is left to the caller.
func (c *Client) Input(pkt []byte) bool {
	h, err := parseHeader(pkt)
	if err != nil {
		return false
	}
	switch {
	case h.next == protoICMPv6 && len(h.payload) > 0 && h.payload[0] == icmpRouterAdvertisement:
		ra, err := ParseRA(pkt)
		if err != nil {
			c.log.Debug("ipv6: router advertisement dropped", "err", err)
			return true
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.stopped {
			c.handleRA(ra)
		}
		return true
	case h.next == protoUDP && len(h.payload) >= 8 && binary.BigEndian.Uint16(h.payload[2:]) == dhcpClientPort:
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.stopped {
			c.handleDHCP(h)
		}
		return true
	}
	return false
}

func (c *Client) stopTimer() {
	c.gen++
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// arm calls f after d with the lock held, unless the client stopped or
// armed another timer meanwhile.
func (c *Client) arm(d time.Duration, f func()) {
	c.stopTimer()
	gen := c.gen
	c.timer = c.opt.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopped || c.gen != gen {
			return
		}
		c.timer = nil
		f()
	})
}

func (c *Client) stopLife() {
	c.lifeGen++
	c.lifeAt = time.Time{}
	if c.life != nil {
		c.life.Stop()
		c.life = nil
	}
}

// armLife arms the lifetime timer for the earliest expiry of all items,
// or stops it when every lifetime is infinite (or nothing is held). A
// timer already armed for that instant is left be.
func (c *Client) armLife() {
	var first time.Time
	next := func(end time.Time) {
		if !end.IsZero() && (first.IsZero() || end.Before(first)) {
			first = end
		}
	}
	for _, p := range c.prefixes {
		next(p.end)
	}
	for _, r := range c.routes {
		next(r.end)
	}
	if c.def {
		next(c.defEnd)
	}
	for _, r := range c.rdnss {
		next(r.end)
	}
	for _, d := range c.dnssl {
		next(d.end)
	}
	for _, a := range c.dAddrs {
		next(a.end)
	}
	if c.life != nil && first.Equal(c.lifeAt) {
		return
	}
	c.stopLife()
	if first.IsZero() {
		return
	}
	c.lifeAt = first
	gen := c.lifeGen
	c.life = c.opt.AfterFunc(max(first.Sub(c.opt.Now()), 0), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.stopped || c.lifeGen != gen {
			return
		}
		c.life, c.lifeAt = nil, time.Time{}
		c.expire(c.opt.Now())
		c.update()
	})
}

// expire drops every item whose lifetime has run out by now. When the
// last leased DHCPv6 address goes, the client solicits again (RFC 8415
// 18.2.5: the Rebind ends when the valid lifetimes of all addresses have
// expired, and the client locates a new server with a Solicit).
func (c *Client) expire(now time.Time) {
	c.prefixes = slices.DeleteFunc(c.prefixes, func(p prefixState) bool { return gone(p.end, now) })
	c.routes = slices.DeleteFunc(c.routes, func(r timed[netip.Prefix]) bool { return gone(r.end, now) })
	if c.def && gone(c.defEnd, now) {
		c.def = false
	}
	c.rdnss = slices.DeleteFunc(c.rdnss, func(r timed[netip.Addr]) bool { return gone(r.end, now) })
	c.dnssl = slices.DeleteFunc(c.dnssl, func(d timed[string]) bool { return gone(d.end, now) })
	had := len(c.dAddrs)
	c.dAddrs = slices.DeleteFunc(c.dAddrs, func(a timed[netip.Addr]) bool { return gone(a.end, now) })
	if len(c.dAddrs) == had {
		return
	}
	c.offer = slices.DeleteFunc(c.offer, func(o iaAddr) bool {
		return !slices.ContainsFunc(c.dAddrs, func(a timed[netip.Addr]) bool { return a.v == o.Addr })
	})
	c.log.Info("ipv6: a DHCPv6 address expired without renewal", "left", len(c.dAddrs))
	if len(c.dAddrs) == 0 && (c.dstate == dhcpBound || c.dstate == dhcpRenewing || c.dstate == dhcpRebinding) {
		c.stopTimer()
		c.startDHCP(dhcpSolicit)
	}
}

// solicit sends a router solicitation (RFC 4861 6.3.7) and arms the next,
// up to MaxRS of them.
func (c *Client) solicit() {
	c.rsSent++
	if err := c.send(RouterSolicitation(c.local)); err != nil {
		c.log.Debug("ipv6: router solicitation not sent", "err", err)
	} else {
		c.log.Debug("ipv6: router solicitation sent", "n", c.rsSent, "of", c.opt.MaxRS)
	}
	c.arm(c.opt.RSInterval, func() {
		if c.gotRA {
			return
		}
		if c.rsSent >= c.opt.MaxRS {
			c.log.Info("ipv6: no router advertisement; the link keeps its link-local address only", "solicitations", c.rsSent)
			return
		}
		c.solicit()
	})
}

// handleRA takes a valid advertisement (RFC 4861 6.3.4, RFC 4862 5.5.3,
// RFC 4191 3.1, RFC 8106 5.3.1).
func (c *Client) handleRA(ra RA) {
	if !c.gotRA {
		c.gotRA = true
		if c.dstate == dhcpIdle {
			c.stopTimer() // no more solicitations (RFC 4861 6.3.7)
		}
	}
	now := c.opt.Now()
	// RFC 4861 6.3.4: the router lifetime restarts the default router's
	// timer; 0 times it out at once. It is at most 18.2 hours, never
	// infinite.
	c.def = ra.RouterLifetime > 0
	c.defEnd = now.Add(time.Duration(ra.RouterLifetime) * time.Second)
	for _, p := range ra.Prefixes {
		c.prefix(p, now)
	}
	for _, r := range ra.Routes {
		// RFC 4191 2.3 allows ::/0: a default route (config), with the
		// option's own lifetime. A known route takes the new lifetime
		// and keeps its place (RFC 4191 3.1).
		c.routes = withLifetime(c.routes, []netip.Prefix{r.Prefix}, until(now, r.Lifetime), r.Lifetime > 0)
	}
	for _, r := range ra.RDNSS {
		c.rdnss = withLifetime(c.rdnss, r.Servers, until(now, r.Lifetime), r.Lifetime > 0)
	}
	for _, d := range ra.DNSSL {
		c.dnssl = withLifetime(c.dnssl, d.Domains, until(now, d.Lifetime), d.Lifetime > 0)
	}
	// RFC 4861 4.2: M means addresses from DHCPv6 (and O is then
	// redundant); O alone, other configuration from it (RFC 8415 18.2.6).
	switch {
	case ra.Managed && (c.dstate == dhcpIdle || c.dstate == dhcpInformed):
		c.startDHCP(dhcpSolicit)
	case ra.Other && !ra.Managed && c.dstate == dhcpIdle:
		c.startDHCP(dhcpInfoRequest)
	}
	c.update()
}

// prefix applies one Prefix Information option: the L flag to the routes
// (RFC 4861 6.3.4), the A flag to our SLAAC addresses (RFC 4862 5.5.3).
// A link-local prefix is ignored, and so is one whose preferred lifetime
// exceeds its valid lifetime (5.5.3 b, c). The valid lifetime restarts
// the prefix's timer: a zero one withdraws it at once, a short one
// shortens it (no two-hour rule: see Client).
func (c *Client) prefix(p PrefixInfo, now time.Time) {
	if p.Prefix.Addr().IsLinkLocalUnicast() || p.Preferred > p.Valid {
		return
	}
	i := slices.IndexFunc(c.prefixes, func(q prefixState) bool { return q.Prefix == p.Prefix })
	if p.Valid == 0 {
		if i >= 0 {
			c.prefixes = slices.Delete(c.prefixes, i, i+1)
		}
		return
	}
	if i >= 0 {
		// Flags of a known prefix: an L or A once given stays until the
		// prefix is withdrawn (RFC 4861 6.3.4: a clear L flag says
		// nothing about on-link status; RFC 4862 5.5.3 a: a clear A flag
		// leaves the address be).
		q := &c.prefixes[i]
		q.OnLink, q.Autonomous = q.OnLink || p.OnLink, q.Autonomous || p.Autonomous
		q.Valid, q.Preferred = p.Valid, p.Preferred
		q.end = until(now, p.Valid)
		return
	}
	if !p.OnLink && !p.Autonomous {
		return
	}
	c.prefixes = append(c.prefixes, prefixState{PrefixInfo: p, end: until(now, p.Valid)})
}

// config assembles what the advertisements and DHCPv6 gave so far.
func (c *Client) config() Config {
	var cfg Config
	for _, p := range c.prefixes {
		// RFC 4862 5.5.3 d: the prefix and our 64-bit identifier must
		// make 128 bits; other lengths give no address.
		if p.Autonomous && p.Prefix.Bits() == 64 {
			a := p.Prefix.Addr().As16()
			binary.BigEndian.PutUint64(a[8:], c.iid)
			cfg.Addrs = append(cfg.Addrs, netip.PrefixFrom(netip.AddrFrom16(a), 64))
		}
	}
	slaacAddrs := len(cfg.Addrs) > 0
	for _, a := range c.dAddrs {
		cfg.Addrs = appendNew(cfg.Addrs, netip.PrefixFrom(a.v, 128))
	}
	for _, p := range c.prefixes {
		if p.OnLink {
			cfg.Routes = appendNew(cfg.Routes, p.Prefix)
		}
	}
	cfg.Default = c.def
	for _, r := range c.routes {
		if r.v.Bits() == 0 {
			cfg.Default = true // ::/0 (RFC 4191 2.3)
			continue
		}
		cfg.Routes = appendNew(cfg.Routes, r.v)
	}
	for _, a := range c.rdnss {
		cfg.DNS = appendNew(cfg.DNS, a.v)
	}
	for _, a := range c.dDNS {
		cfg.DNS = appendNew(cfg.DNS, a)
	}
	for _, d := range c.dnssl {
		cfg.Domains = appendNew(cfg.Domains, d.v)
	}
	for _, d := range c.dDomains {
		cfg.Domains = appendNew(cfg.Domains, d)
	}
	fromRA := len(c.prefixes) > 0 || len(c.routes) > 0 || c.def || len(c.rdnss) > 0 || len(c.dnssl) > 0
	fromDHCP := len(c.dAddrs) > 0 || len(c.dDNS) > 0 || len(c.dDomains) > 0
	slaac := slaacAddrs || (fromRA && len(cfg.Addrs) == 0)
	switch {
	case slaac && fromDHCP:
		cfg.Source = "slaac+dhcpv6"
	case fromDHCP:
		cfg.Source = "dhcpv6"
	case slaac:
		cfg.Source = "slaac"
	}
	return cfg
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// update re-arms the lifetime timer and reports the configuration when
// it changed.
func (c *Client) update() {
	c.armLife()
	cfg := c.config()
	if cfg.Equal(c.last) {
		return
	}
	c.last = cfg
	c.log.Info("ipv6: configuration", "config", cfg.String())
	if c.report != nil {
		c.report(cfg)
	}
}

// startDHCP begins a Solicit or Information-Request exchange.
func (c *Client) startDHCP(typ byte) {
	if _, err := io.ReadFull(c.opt.Rand, c.txid[:]); err != nil {
		c.log.Info("ipv6: no random transaction id; DHCPv6 not started", "err", err)
		c.dstate = dhcpFailed
		return
	}
	c.dstate = dhcpSoliciting
	if typ == dhcpInfoRequest {
		c.dstate = dhcpInforming
	}
	c.sends, c.rt, c.started = 0, c.opt.DHCPTimeout, c.opt.Now()
	c.serverID, c.offer = nil, nil
	c.dhcpSend()
}

// dhcpSend sends the current exchange's message and arms its
// retransmission (RFC 8415 15: RT doubles up to MRT; at most
// DHCPMaxSends messages).
func (c *Client) dhcpSend() {
	var typ byte
	switch c.dstate {
	case dhcpSoliciting:
		typ = dhcpSolicit
	case dhcpRequesting:
		typ = dhcpRequest
	case dhcpInforming:
		typ = dhcpInfoRequest
	case dhcpRenewing:
		typ = dhcpRenew
	case dhcpRebinding:
		typ = dhcpRebind
	default:
		return
	}
	c.sends++
	// Elapsed Time (21.9): hundredths of a second since the exchange's
	// first message, 0xffff at most.
	elapsed := uint16(0xffff)
	if e := c.opt.Now().Sub(c.started) / (10 * time.Millisecond); e < 0xffff {
		elapsed = uint16(max(e, 0))
	}
	serverID := c.serverID
	if typ == dhcpRebind {
		serverID = nil // RFC 8415 18.2.5: to any server
	}
	msg := dhcpRequestMsg(typ, c.txid, duid(c.iid), serverID, c.iaid(), c.offer, elapsed)
	// Hop limit 1: the destination is link-scoped (RFC 8415 7.1).
	if err := c.send(udpPacket(c.local, AllDHCP, dhcpClientPort, dhcpServerPort, 1, msg)); err != nil {
		c.log.Debug("ipv6: dhcpv6 message not sent", "err", err)
	} else {
		c.log.Debug("ipv6: dhcpv6 message sent", "type", typ, "n", c.sends)
	}
	rt := c.rt
	c.rt = min(2*c.rt, dhcpMRT)
	if typ == dhcpRenew {
		rt = min(rt, c.rebindAt.Sub(c.opt.Now())) // RFC 8415 18.2.4: Renew until T2
	}
	c.arm(rt, func() {
		if typ == dhcpRenew && !c.opt.Now().Before(c.rebindAt) {
			c.renew(dhcpRebinding) // T2: any server may extend the lease
			return
		}
		if c.sends < c.opt.DHCPMaxSends {
			c.dhcpSend()
			return
		}
		c.log.Info("ipv6: no answer from a DHCPv6 server", "messages", c.sends, "type", typ)
		switch {
		case typ == dhcpRenew && c.rebindAt.After(c.opt.Now()):
			c.dstate = dhcpBound
			c.arm(c.rebindAt.Sub(c.opt.Now()), func() { c.renew(dhcpRebinding) })
		case typ == dhcpRenew:
			c.renew(dhcpRebinding)
		case typ == dhcpRebind:
			// Nobody renewed the lease: the address stays until its
			// valid lifetime runs out (expire).
			c.dstate = dhcpBound
		default:
			c.dstate = dhcpFailed
		}
	})
}

// scheduleRenew arms the Renew at T1 and notes T2 (RFC 8415 18.2.4,
// 21.4): T1 and T2 of the IA_NA, or, where the server left them 0, 0.5
// and 0.8 times the shortest preferred lifetime (its suggested values).
// An infinite T1 (or lifetime) means no renewal.
func (c *Client) scheduleRenew(m dhcpMsg) {
	t1, t2 := m.T1, m.T2
	if t1 == 0 || t2 == 0 {
		pref := uint32(0xffffffff)
		for _, a := range m.Addrs {
			pref = min(pref, a.Preferred)
		}
		if pref == 0xffffffff {
			return
		}
		t1, t2 = pref/2, pref/10*8
	}
	if t1 == 0xffffffff || t1 == 0 {
		return
	}
	t2 = max(t2, t1)
	now := c.opt.Now()
	c.rebindAt = now.Add(time.Duration(t2) * time.Second)
	c.arm(time.Duration(t1)*time.Second, func() { c.renew(dhcpRenewing) })
}

// renew starts a Renew or Rebind exchange for the bound address.
func (c *Client) renew(st dhcpState) {
	if _, err := io.ReadFull(c.opt.Rand, c.txid[:]); err != nil {
		return
	}
	c.dstate = st
	c.sends, c.rt, c.started = 0, c.opt.RenewTimeout, c.opt.Now()
	c.dhcpSend()
}

// iaid is our IA_NA's identifier (RFC 8415 12): the low 32 bits of the
// interface identifier, stable for the link.
func (c *Client) iaid() uint32 { return uint32(c.iid) }

// handleDHCP takes a DHCPv6 message to our client port (RFC 8415 16: it
// must carry our transaction ID and Client Identifier; Advertise and
// Reply need a Server Identifier).
func (c *Client) handleDHCP(h header) {
	u := h.payload
	if binary.BigEndian.Uint16(u[0:]) != dhcpServerPort || int(binary.BigEndian.Uint16(u[4:])) != len(u) {
		c.log.Debug("ipv6: dhcpv6 datagram dropped: bad ports or length")
		return
	}
	// RFC 8200 8.1: a zero UDP checksum is invalid over IPv6.
	if binary.BigEndian.Uint16(u[6:]) == 0 || Checksum(h.src, h.dst, protoUDP, u) != 0 {
		c.log.Debug("ipv6: dhcpv6 datagram dropped: bad checksum")
		return
	}
	m, err := parseDHCPv6(u[8:])
	if err != nil {
		c.log.Debug("ipv6: dhcpv6 message dropped", "err", err)
		return
	}
	if m.TxID != c.txid || !bytes.Equal(m.ClientID, duid(c.iid)) || m.ServerID == nil {
		return // RFC 8415 16.3, 16.10: not an answer to us
	}
	switch {
	case c.dstate == dhcpSoliciting && m.Type == dhcpAdvertise:
		// RFC 8415 18.2.9: an Advertise without addresses is ignored;
		// the first with one is taken (one server on a PPP link).
		if m.Status != dhcpStatusSuccess || !m.HasIA || m.IAStatus != dhcpStatusSuccess || len(m.Addrs) == 0 {
			c.log.Debug("ipv6: dhcpv6 advertise without an address ignored", "status", m.Status, "ia-status", m.IAStatus)
			return
		}
		c.serverID = append([]byte(nil), m.ServerID...)
		c.offer = m.Addrs
		c.dstate = dhcpRequesting
		if _, err := io.ReadFull(c.opt.Rand, c.txid[:]); err != nil {
			c.dstate = dhcpFailed
			return
		}
		c.sends, c.rt, c.started = 0, c.opt.DHCPTimeout, c.opt.Now()
		c.dhcpSend()
	case (c.dstate == dhcpRequesting || c.dstate == dhcpRenewing || c.dstate == dhcpRebinding) && m.Type == dhcpReply:
		c.stopTimer()
		if m.Status != dhcpStatusSuccess || m.IAStatus != dhcpStatusSuccess || len(m.Addrs) == 0 {
			if c.dstate != dhcpRequesting {
				// RFC 8415 18.2.10.1: the server no longer has our
				// binding (NoBinding, say): start over.
				c.log.Info("ipv6: the DHCPv6 server did not renew our address; soliciting again", "status", m.Status, "ia-status", m.IAStatus)
				c.dAddrs = nil
				c.update()
				c.startDHCP(dhcpSolicit)
				return
			}
			// RFC 8415 18.2.10.1 would try other servers or start over;
			// with one server that refused, we stop.
			c.log.Info("ipv6: the DHCPv6 server gave no address", "status", m.Status, "ia-status", m.IAStatus)
			c.dstate = dhcpFailed
			return
		}
		if c.dstate == dhcpRebinding {
			c.serverID = append([]byte(nil), m.ServerID...) // the server that answered
		}
		c.dstate = dhcpBound
		c.offer = m.Addrs
		c.dAddrs = c.dAddrs[:0]
		now := c.opt.Now()
		for _, a := range m.Addrs {
			// RFC 8415 18.2.10.1: the valid lifetime of the Reply.
			c.dAddrs = append(c.dAddrs, timed[netip.Addr]{v: a.Addr, end: until(now, a.Valid)})
		}
		c.dDNS, c.dDomains = m.DNS, m.Domains
		c.update()
		c.scheduleRenew(m)
	case c.dstate == dhcpInforming && m.Type == dhcpReply:
		c.stopTimer()
		c.dstate = dhcpInformed
		c.dDNS, c.dDomains = m.DNS, m.Domains
		c.update()
	}
}

// withLifetime adds items to list or gives those already there the new
// end (live: a lifetime above zero), or takes them out (a zero lifetime
// withdraws them, RFC 8106 5.1 and 5.2, RFC 4191 3.1), keeping the order
// they first came in.
func withLifetime[T comparable](list []timed[T], items []T, end time.Time, live bool) []timed[T] {
	for _, it := range items {
		i := slices.IndexFunc(list, func(e timed[T]) bool { return e.v == it })
		switch {
		case !live && i >= 0:
			list = slices.Delete(list, i, i+1)
		case live && i >= 0:
			list[i].end = end
		case live:
			list = append(list, timed[T]{v: it, end: end})
		}
	}
	return list
}
