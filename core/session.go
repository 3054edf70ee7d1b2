// Package core holds what every Corridor front end shares: bringing a
// session up through the userspace stack (tunnel) onto an OS device
// (platform), and explaining failures in plain words.
package core

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/ipv6"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// Overhead of raw L2TP in UDP over IPv4: IPv4 20, UDP 8, L2TP data header 6
// and PPP frame header 4.
const rawL2TPOverhead = 20 + 8 + l2tp.DataHeaderLen + ppp.FrameHeaderLen

// connectTimeout bounds bringing the tunnel up, all stages together.
const connectTimeout = 60 * time.Second

// ConnectConfig is one connection attempt.
type ConnectConfig struct {
	Server    string // host or host:port
	LocalPort int    // L2TP source port; 0 ephemeral
	User      string
	Password  string
	Auth      []ppp.AuthMethod // allowed, preferred first; nil: ppp's default (MS-CHAPv2 only)
	IfName    string           // TUN device name; "" the platform default
	MTU       int              // 0: computed from the overhead and the server's MRU
	// TunnelSecret enables L2TP tunnel authentication (RFC 2661 5.1.1).
	TunnelSecret []byte
	// EchoInterval / EchoFailures tune the LCP keepalive (0: defaults).
	EchoInterval time.Duration
	EchoFailures int
	// IPv6 negotiates IPV6CP next to IPCP (ppp.Config.IPv6, experimental):
	// IPv6 packets then pass between the device and the tunnel, and the
	// IPv6 configuration the server offers (router advertisement,
	// DHCPv6) is kept for the OS layer (ipv6.go).
	IPv6 bool

	// IPsec, when set, runs L2TP inside ESP (L2TP/IPsec); nil: raw L2TP.
	IPsec *IPsecConfig

	Logger  *slog.Logger // protocol trace at Debug level
	OnStage func(Stage)  // progress, from protocol goroutines
	// TUNOptions are passed to platform.OpenTUN (tests inject a runner).
	TUNOptions []platform.Option
	// Userspace puts a userspace network stack (platform.Netstack) where
	// the TUN device would be: no privileges, no device, routes or DNS
	// on the machine; this process reaches the tunnel through
	// Session.Netstack (corridor connect --proxy). IfName and TUNOptions
	// are then unused.
	Userspace bool
	// CheckAddrs, when set, decides whether the addresses IPCP assigned
	// may be used beside the other tunnels of this machine (the
	// Manager's check, multi.go): an error fails the connect before the
	// device opens.
	CheckAddrs func(local, peer netip.Addr) error
}

// IPsecConfig is the IPsec part of a connection.
type IPsecConfig struct {
	PSK         []byte
	IKE         []ike.IKESuite // nil: ike.DefaultIKE
	ESP         []ike.ESPSuite // nil: ike.DefaultESP
	ESPLifetime time.Duration  // 0: the ike default
	IKELifetime time.Duration  // 0: the ike default
	// Aggressive runs IKE Aggressive Mode with GroupID as the identity
	// (GroupIDType ike.IDFQDN, the default, or ike.IDKeyID) instead of
	// Main Mode: only for servers that need it (it exposes a hash of the
	// pre-shared key to anyone who asks, RFC 2409 5).
	Aggressive  bool
	GroupID     string
	GroupIDType uint8
	// Cert, when set, authenticates with a certificate (Main Mode with
	// RSA signatures, RFC 2409 5.1) instead of PSK.
	Cert *CertAuth
}

// CertAuth is certificate authentication for IKE: our certificate
// (leaf first, then its chain) and its private key, the CAs that may
// sign the server's certificate (nil: the system's roots), and the
// identity the server must prove (a DN, host name or address; "": the
// server as the user wrote it, against its subject alternative names).
// The key is a secret: never logged.
type CertAuth struct {
	Cert     []*x509.Certificate
	Key      crypto.Signer
	CA       []*x509.Certificate
	ServerID string
}

// Stage is a progress report of Connect.
type Stage struct {
	Name   string // "resolve", "ipsec", "l2tp", "ppp", "device"
	Detail string // the line to show, e.g. "ppp auth ok (MS-CHAPv2)"
	// Next is the state this step leads to ("" for lines that do not move
	// the session along, such as a rekey).
	Next State
}

// Session is a connected tunnel on a configured device.
type Session struct {
	server netip.Addr
	ike    *ike.Conn // nil without IPsec
	tun    *tunnel.Tunnel
	dev    device
	ns     *platform.Netstack // the device in userspace mode, else nil
	info   ppp.IPInfo
	mtu    int
	v6     *ipv6Watch
	done   chan struct{}
	err    error
}

// device is what a session's packets go to: a *platform.TUN or a
// *platform.Netstack.
type device interface {
	tunnel.Device
	Name() string
	Close() error
}

// Connect resolves the server, brings the L2TP/PPP stack up, and
// configures the device. On any failure everything it set up is undone
// before it returns. The error is an *Error with a plain-words message.
func Connect(ctx context.Context, cfg ConnectConfig) (*Session, error) {
	stage := func(name, detail string, next State) {
		if cfg.OnStage != nil {
			cfg.OnStage(Stage{Name: name, Detail: detail, Next: next})
		}
	}
	server, err := resolve(ctx, cfg.Server)
	if err != nil {
		return nil, err
	}
	first := StateL2TPTunnel
	if cfg.IPsec != nil {
		first = StateIKEPhase1
	}
	stage("resolve", "server "+server.String(), first)

	var tr l2tp.Transport
	var ref refuser
	var ikeConn *ike.Conn
	overhead := rawL2TPOverhead
	if cfg.IPsec != nil {
		upCtx, cancel := context.WithTimeout(ctx, connectTimeout)
		icfg := ike.Config{
			PSK: cfg.IPsec.PSK, IKE: cfg.IPsec.IKE, ESP: cfg.IPsec.ESP, ESPLifetime: cfg.IPsec.ESPLifetime, IKELifetime: cfg.IPsec.IKELifetime,
			Aggressive: cfg.IPsec.Aggressive, GroupID: cfg.IPsec.GroupID, GroupIDType: cfg.IPsec.GroupIDType,
			Logger: cfg.Logger, OnStage: func(s ike.Stage) { stage("ipsec", s.String(), ipsecNext(s)) },
		}
		if ca := cfg.IPsec.Cert; ca != nil {
			icfg.PSK = nil
			icfg.Cert, icfg.Key, icfg.CA, icfg.ServerID = ca.Cert, ca.Key, ca.CA, ca.ServerID
			icfg.ServerName = serverHost(cfg.Server)
		}
		c, err := ike.Dial(upCtx, server.Addr(), icfg)
		cancel()
		if err != nil {
			e := explain(err, netip.AddrPortFrom(server.Addr(), 500), nil)
			if cfg.IPsec.Aggressive {
				e = aggressiveHint(e)
			}
			return nil, e
		}
		tr, ikeConn = c, c
		head, tail := c.Info().ESP.Suite.Overhead()
		// IPv4, UDP 4500, ESP head, inner UDP, L2TP, PPP, ESP trailer.
		overhead = 20 + 8 + head + 8 + l2tp.DataHeaderLen + ppp.FrameHeaderLen + tail
	} else {
		u, err := tunnel.DialUDP(ctx, server.String(), cfg.LocalPort)
		if err != nil {
			return nil, &Error{Class: ClassLocal, Msg: "could not open a UDP socket: " + err.Error(),
				Hint: "is another L2TP client (xl2tpd) holding the source port?", Err: err}
		}
		tr, ref = u, u
	}
	ll := &linkLocal{log: cfg.Logger}
	v6 := newIPv6Watch(cfg.Logger)
	tcfg := tunnel.Config{
		L2TP: l2tp.Config{Secret: cfg.TunnelSecret, Logger: cfg.Logger},
		PPP: ppp.Config{User: cfg.User, Password: cfg.Password, Auth: cfg.Auth,
			EchoInterval: cfg.EchoInterval, EchoFailures: cfg.EchoFailures, IPv6: cfg.IPv6, Logger: cfg.Logger},
		Logger:  cfg.Logger,
		OnStage: func(s tunnel.Stage) { onTunnelStage(s, stage, ll, v6) },
	}
	// The tunnel outlives Connect's ctx: it is ended by Session.Close.
	t := tunnel.Start(context.WithoutCancel(ctx), tr, tcfg)
	// Every stage has its own timers, but a server that acknowledges
	// without ever answering must not hold us forever.
	upCtx, cancelUp := context.WithTimeout(ctx, connectTimeout)
	defer cancelUp()
	info, err := t.WaitUp(upCtx)
	if err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.Close(closeCtx)
		return nil, explain(err, server, ref)
	}
	// In userspace mode no route is added, so no address can cut the
	// path to the server.
	if e := vetAddresses(info, cfg.Logger); e != nil && !cfg.Userspace {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.Close(closeCtx)
		return nil, e
	}
	if cfg.CheckAddrs != nil && !cfg.Userspace {
		if err := cfg.CheckAddrs(info.Local, info.Peer); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			t.Close(closeCtx)
			return nil, err
		}
	}

	mtu := cfg.MTU
	if mtu == 0 {
		mtu = min(1500-overhead, t.PeerMRU())
	}
	// IPv6 on the device needs an MTU of at least 1280; below it the
	// kernel gives the device no IPv6 at all (Linux: "ip link set ...
	// addrgenmode none" fails with EAFNOSUPPORT), and the whole connect
	// failed for what only IPv6 needs. IPv4 goes on; IPv6 stays blocked
	// as for a session without it (a full tunnel's block).
	ipv6On, ipv6Note := ipv6OnDevice(cfg.IPv6 && !cfg.Userspace, mtu)
	if ipv6Note != "" {
		v6.disable()
		if cfg.Logger != nil {
			cfg.Logger.Warn("ipv6: " + ipv6Note)
		}
		ipv6Note = "; " + ipv6Note
	}
	var dev device
	var ns *platform.Netstack
	if cfg.Userspace {
		ns, err = platform.OpenNetstack(info.Local, info.DNS, mtu)
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			t.Close(closeCtx)
			return nil, &Error{Class: ClassLocal, Msg: "could not start the userspace network stack: " + err.Error(), Err: err}
		}
		dev = ns
		stage("device", fmt.Sprintf("userspace network stack (no TUN device) mtu %d", mtu), StateConfiguringOS)
	} else {
		tdev, err := platform.OpenTUN(platform.TUNConfig{Name: cfg.IfName, MTU: mtu, Local: info.Local, Peer: info.Peer, IPv6: ipv6On}, cfg.TUNOptions...)
		if err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			t.Close(closeCtx)
			return nil, &Error{Class: ClassLocal, Msg: "could not set up the network device: " + err.Error(),
				Hint: "creating a TUN device needs root (or CAP_NET_ADMIN)", Err: err}
		}
		dev = tdev
		stage("device", fmt.Sprintf("device %s mtu %d%s", dev.Name(), mtu, ipv6Note), StateConfiguringOS)
		if ipv6On {
			ll.device(tdev)
		}
	}
	t.Attach(dev)
	s := &Session{server: server.Addr(), ike: ikeConn, tun: t, dev: dev, ns: ns, info: info, mtu: mtu, v6: v6, done: make(chan struct{})}
	go func() {
		<-t.Done()
		dev.Close() // also ends the device reading routine
		if err := t.Err(); err != nil {
			s.err = explain(err, server, ref)
		}
		close(s.done)
	}()
	return s, nil
}

// ipv6MinMTU is the smallest link MTU IPv6 runs on (RFC 8200 section 5).
const ipv6MinMTU = 1280

// ipv6OnDevice decides whether a session that wants IPv6 inside the
// tunnel gets it on a device of this MTU, and if not, says why.
func ipv6OnDevice(want bool, mtu int) (bool, string) {
	if !want {
		return false, ""
	}
	if mtu < ipv6MinMTU {
		return false, fmt.Sprintf("no IPv6 on the device: IPv6 needs an MTU of at least %d (RFC 8200 section 5), this tunnel's is %d", ipv6MinMTU, mtu)
	}
	return true, ""
}

// onTunnelStage reports a tunnel stage as progress and hands what IPv6
// needs to the goroutines that act on it: it runs on the protocol's
// goroutine and must not block.
func onTunnelStage(s tunnel.Stage, stage func(name, detail string, next State), ll *linkLocal, v6 *ipv6Watch) {
	name := "l2tp"
	if s.Kind >= tunnel.StageLCP {
		name = "ppp"
	}
	stage(name, s.String(), tunnelNext[s.Kind])
	switch s.Kind {
	case tunnel.StageIPv6CP:
		go ll.address(s.IPv6.Local) // runs a command: not on the PPP goroutine
	case tunnel.StageIPv6Config:
		v6.offer(s.IPv6Config) // applied by the link's own goroutine (ipv6.go)
	}
}

// linkLocal puts the IPv6 link-local address IPV6CP negotiated (ConnectConfig.IPv6)
// on the TUN device, once both exist: IPV6CP usually opens after the
// device is configured. With it the kernel solicits routers through the
// tunnel and autoconfigures from their advertisements, if the server
// sends any. A failure is logged; IPv4 is not affected.
type linkLocal struct {
	log   *slog.Logger
	mu    sync.Mutex
	dev   *platform.TUN
	addr  netip.Addr
	added netip.Addr
}

func (l *linkLocal) device(d *platform.TUN) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dev = d
	l.apply()
}

func (l *linkLocal) address(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr = a
	l.apply()
}

func (l *linkLocal) apply() {
	if l.dev == nil || !l.addr.IsValid() || l.addr == l.added {
		return
	}
	if err := l.dev.AddLinkLocal(l.addr); err != nil {
		if l.log != nil {
			l.log.Warn("ipv6: could not add the link-local address", "addr", l.addr, "dev", l.dev.Name(), "err", err)
		}
		return
	}
	l.added = l.addr
}

// defaultGateways and localPrefixes read this machine's routing; tests
// replace them.
var (
	defaultGateways = platform.DefaultGateways
	localPrefixes   = platform.LocalPrefixes
)

// vetAddresses checks the addresses IPCP gave against this machine's
// routing (checkAddresses), logging what is allowed but worth knowing. A
// routing table it cannot read skips the gateway check.
func vetAddresses(info ppp.IPInfo, log *slog.Logger) *Error {
	gateways, err := defaultGateways()
	if err != nil {
		gateways = nil
	}
	locals, _ := localPrefixes()
	e, note := checkAddresses(info, gateways, locals)
	if note != "" && log != nil {
		log.Info(note)
	}
	return e
}

// checkAddresses decides about the addresses IPCP gave, before any device
// opens. A server whose own address (or ours) is one of this machine's
// default gateways is refused: the host route to it through the tunnel
// would swallow the path to the server itself. An address inside a local
// network is allowed (split tunnels into a LAN-like range are common);
// note says so, for the log.
func checkAddresses(info ppp.IPInfo, gateways []netip.Addr, locals []netip.Prefix) (e *Error, note string) {
	for _, gw := range gateways {
		switch gw {
		case info.Peer:
			return &Error{Class: ClassProtocol,
				Msg: fmt.Sprintf("the server gave its own address as %v, which is your default gateway; a route to it through the tunnel "+
					"would cut this machine off from the server, so Corridor set nothing up", gw),
				Hint: "the server's address pool overlaps your local network: ask its administrator to use another range, or connect from another network",
				Err:  fmt.Errorf("core: IPCP peer address %v is a default gateway", gw)}, ""
		case info.Local:
			return &Error{Class: ClassProtocol,
				Msg: fmt.Sprintf("the server assigned you %v, which is your default gateway's address; taking it "+
					"would cut this machine off from the server, so Corridor set nothing up", gw),
				Hint: "the server's address pool overlaps your local network: ask its administrator to use another range, or connect from another network",
				Err:  fmt.Errorf("core: IPCP address %v is a default gateway", gw)}, ""
		}
	}
	for _, p := range locals {
		if p.Contains(info.Local) {
			return nil, fmt.Sprintf("the tunnel address %v is inside your local network %v", info.Local, p)
		}
	}
	return nil, ""
}

// tunnelNext maps a completed tunnel stage to the state it leads to.
var tunnelNext = map[tunnel.StageKind]State{
	tunnel.StageL2TPTunnel:  StateL2TPSession,
	tunnel.StageL2TPSession: StatePPPLCP,
	tunnel.StageLCP:         StatePPPAuth,
	tunnel.StageAuth:        StatePPPIPCP,
	tunnel.StageIPCP:        StateConfiguringOS,
}

// ipsecNext maps an IKE progress step to the state it leads to.
func ipsecNext(s ike.Stage) State {
	switch s.Kind {
	case ike.StagePhase1:
		return StateIKEPhase2
	case ike.StagePhase2:
		return StateL2TPTunnel
	}
	return ""
}

// serverHost is the host part of a server as the user wrote it (HOST
// or HOST:PORT): the name its certificate must carry.
func serverHost(server string) string {
	if host, _, err := net.SplitHostPort(server); err == nil {
		return host
	}
	return server
}

func resolve(ctx context.Context, server string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(server)
	if err != nil {
		host, portStr = server, strconv.Itoa(profile.DefaultL2TPPort)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, &Error{Class: ClassUsage, Msg: fmt.Sprintf("bad server port %q", portStr),
			Hint: "write the server as HOST or HOST:PORT"}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Unmap().Is4() {
			return netip.AddrPort{}, &Error{Class: ClassUsage, Msg: "IPv6 servers are not supported yet: " + host}
		}
		return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, &Error{Class: ClassNoAnswer, Msg: fmt.Sprintf("could not resolve %q", host),
			Hint: "check the server name and your DNS", Err: err}
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(port)), nil
}

// Info returns the negotiated addresses.
func (s *Session) Info() ppp.IPInfo { return s.info }

// Server is the address of the server connected to.
func (s *Session) Server() netip.Addr { return s.server }

// Suites names the negotiated IKE and ESP suites ("" without IPsec).
func (s *Session) Suites() (ikeSuite, espSuite string) {
	if s.ike == nil {
		return "", ""
	}
	i := s.ike.Info()
	return i.IKE.String(), i.ESP.String()
}

// Interface is the device name (platform.NetstackName in userspace mode).
func (s *Session) Interface() string { return s.dev.Name() }

// Netstack is the userspace network stack of a session connected with
// ConnectConfig.Userspace, through which this process opens connections
// into the tunnel; nil for a TUN session.
func (s *Session) Netstack() *platform.Netstack { return s.ns }

// MTU is the device MTU.
func (s *Session) MTU() int { return s.mtu }

// Stats returns the data counters.
func (s *Session) Stats() tunnel.Stats { return s.tun.Stats() }

// IPv6Config is the latest IPv6 configuration the server offered
// (ConnectConfig.IPv6), and whether one came.
func (s *Session) IPv6Config() (ipv6.Config, bool) { return s.v6.latest() }

// watchIPv6 calls f, on a goroutine of its own, with the IPv6
// configuration the server offers each time it changes (at once when one
// came already), until the session ends.
func (s *Session) watchIPv6(f func(ipv6.Config)) { go s.v6.run(f, s.done) }

// Done is closed when the session has ended (after Close, or when the
// tunnel failed); Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is the reason the session ended by itself (an *Error), or nil.
func (s *Session) Err() error { return s.err }

// Close disconnects gracefully (LCP Terminate, CDN, StopCCN), removes the
// device, and waits at most until ctx ends.
func (s *Session) Close(ctx context.Context) error {
	err := s.tun.Close(ctx)
	s.dev.Close()
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
