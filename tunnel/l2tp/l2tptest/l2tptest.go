// Package l2tptest provides a small scripted L2TP network server (LNS) with
// a PPP server behind it, for tests of the client side.
//
// The server speaks the LNS side of RFC 2661: SCCRQ/SCCRP/SCCCN,
// ICRQ/ICRP/ICCN, HELLO, CDN and StopCCN, with Ns/Nr sequencing and ZLB
// acknowledgements (section 5.8) but without retransmission: it is meant
// for lossless links. Inside each session it runs the authenticator side
// of PPP: LCP (RFC 1661), CHAP (RFC 1994) with MD5 or MS-CHAPv2 (RFC 2759),
// PAP (RFC 1334), IPCP (RFC 1332) with DNS addresses (RFC 1877), and,
// with Config.IPv6, IPV6CP (RFC 5072; otherwise it is Protocol-Rejected),
// and behind it, when scripted (Config.RA, Config.DHCPv6), a router that
// answers router solicitations (RFC 4861) and a DHCPv6 server (RFC 8415:
// IA_NA and Information-Request). PPP
// Configure-Requests and CHAP Challenges are retransmitted on a restart
// timer, as a real PPP peer does.
//
// A Server is used in one of two ways, or both at once:
//
//   - in memory: Transport returns an l2tp.Transport connected to the
//     server goroutine;
//   - over UDP: ListenUDP("127.0.0.1:0") returns an address that a client
//     (the corridor binary, say) can connect to.
//
// Misbehaviour is scripted through Config: which authentication method the
// server asks for and whether it insists, which addresses IPCP hands out,
// CHAP Successes it silently drops (as SoftEther's are sometimes lost and
// never repeated), a CDN after a failed authentication. Server.StopCCN and
// Server.CDN end tunnels and sessions from the server side. What happened
// is recorded as Events and counted in Stats.
package l2tptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// Authentication methods for Config.Auth.
const (
	AuthMSCHAPv2 = "mschapv2"
	AuthPAP      = "pap"
	AuthCHAPMD5  = "chap-md5"
	AuthNone     = "none"
)

// Config scripts a Server. The zero value asks for MS-CHAPv2 from user ""
// with password "" and assigns 10.99.0.2.
type Config struct {
	// User and Password are the credentials the server accepts.
	User, Password string
	// Auth is the method the server asks for in its LCP Configure-Request:
	// AuthMSCHAPv2 (default when empty), AuthPAP, AuthCHAPMD5, or AuthNone
	// (no Authentication-Protocol option).
	Auth string
	// InsistAuth: when the client Naks the Authentication-Protocol option,
	// the server asks for the same method again. Otherwise it moves on to
	// the method the client suggested, if it knows it. A client that
	// Rejects the option is sent an LCP Terminate-Request either way.
	InsistAuth bool

	// Address is what IPCP assigns the client (default 10.99.0.2). It may
	// be any IPv4 address, 0.0.0.0 and 127.0.0.1 included.
	Address netip.Addr
	// PeerAddress is the server's own address in its IPCP
	// Configure-Request (default 10.99.0.1).
	PeerAddress netip.Addr
	// DNS lists up to two DNS server addresses IPCP hands out (RFC 1877);
	// with none, the client's DNS options are rejected.
	DNS []netip.Addr

	// DropSuccesses: the server silently does not send its first
	// DropSuccesses CHAP Successes (counted over the server's life, across
	// sessions). Like SoftEther it never repeats a Success: it ignores
	// repeated Responses and moves on to IPCP by sending its
	// Configure-Request.
	DropSuccesses int
	// BadAuthenticator makes the MS-CHAPv2 Success carry an authenticator
	// response computed from the wrong password (RFC 2759 section 5), which
	// the client must refuse.
	BadAuthenticator bool
	// HoldAuth: the server checks the client's credentials but never
	// answers them (no Success, Failure, Authenticate-Ack or -Nak) and
	// stays in the authentication phase.
	HoldAuth bool
	// CDNOnAuthFailure: after a CHAP Failure or PAP Authenticate-Nak the
	// server also clears the session with a CDN, CDNDelay later (at once
	// when 0).
	CDNOnAuthFailure bool
	CDNDelay         time.Duration

	// EchoIPv4: IPv4 packets from the client are sent back with source
	// and destination addresses swapped (besides being queued on
	// Packets).
	EchoIPv4 bool

	// IPv6: the server negotiates IPV6CP (RFC 5072) with its own
	// Interface-Identifier IPv6IID (default 0x0200_5eff_fe00_0001) and
	// passes IPv6 packets (protocol 0x0057) once it is open: queued on
	// Packets, echoed with the addresses swapped when EchoIPv6 is set. A
	// client identifier that is zero or equals the server's is Nak'd with
	// a suggestion. Without IPv6 the server answers IPV6CP with an LCP
	// Protocol-Reject, as pppd without IPv6 support does.
	IPv6     bool
	IPv6IID  uint64
	EchoIPv6 bool
	// IPv6NakIID: the server Naks the client's first IPV6CP request,
	// suggesting this identifier instead (0: no such Nak).
	IPv6NakIID uint64
	// RA: the server answers each router solicitation (ICMPv6 133) with
	// this advertisement; nil: it sends none, as SoftEther's SecureNAT.
	// SendRA sends one unsolicited. Router solicitations and DHCPv6
	// messages are never queued on Packets, echoed or counted as IPv6In.
	RA *RA
	// DHCPv6: the server answers DHCPv6 (RFC 8415) Solicit, Request and
	// Information-Request; nil: it answers none.
	DHCPv6 *DHCPv6
	// RestartInterval is the PPP restart timer of the server's
	// Configure-Requests and CHAP Challenges; default 1s. Each is sent at
	// most 10 times.
	RestartInterval time.Duration
	// HostName is the server's Host Name AVP; default "l2tptest".
	HostName string
	// OnEvent, if set, is called for every event from the server
	// goroutine; it must not block.
	OnEvent func(Event)
}

// EventKind names something the server saw or did.
type EventKind uint8

// Events, in the order they normally happen.
const (
	EventTunnelUp       EventKind = iota + 1 // SCCCN received
	EventSessionUp                           // ICCN received: a session opened
	EventLCPUp                               // LCP opened
	EventAuthNak                             // the client Nak'd our Authentication-Protocol (Detail: its suggestion)
	EventAuthRefused                         // the client Rejected our Authentication-Protocol
	EventAuthOK                              // good credentials (Detail: method)
	EventAuthFailed                          // bad credentials (Detail: method)
	EventSuccessDropped                      // a CHAP Success was not sent (Config.DropSuccesses)
	EventIPCPUp                              // IPCP opened (Detail: the client's address)
	EventLCPTerminate                        // LCP Terminate-Request received
	EventCDN                                 // CDN received
	EventStopCCN                             // StopCCN received
	EventSentCDN                             // the server sent a CDN
	EventSentStopCCN                         // the server sent a StopCCN
	EventIPv6CPUp                            // IPV6CP opened (Detail: the client's link-local address)
	EventRS                                  // a router solicitation (Detail: its source)
	EventDHCPv6                              // a DHCPv6 message from the client (Detail: its type, "Solicit", ...)
	EventBadIPv6Control                      // a malformed RS or DHCPv6 datagram, bad checksum included (Detail: why)
)

var eventNames = [...]string{"", "TunnelUp", "SessionUp", "LCPUp", "AuthNak", "AuthRefused",
	"AuthOK", "AuthFailed", "SuccessDropped", "IPCPUp", "LCPTerminate", "CDN", "StopCCN",
	"SentCDN", "SentStopCCN", "IPv6CPUp", "RS", "DHCPv6", "BadIPv6Control"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one thing the server saw or did.
type Event struct {
	Kind    EventKind
	Tunnel  uint16 // the server's tunnel ID
	Session uint16 // the server's session ID; 0 for tunnel events
	Detail  string
}

func (e Event) String() string {
	if e.Detail == "" {
		return e.Kind.String()
	}
	return e.Kind.String() + "(" + e.Detail + ")"
}

// Stats counts events over the server's life.
type Stats struct {
	Tunnels          int // SCCRQs that opened a tunnel
	Sessions         int // sessions opened (ICCN received)
	CDNs             int // CDNs received
	StopCCNs         int // StopCCNs received
	LCPTerminates    int // LCP Terminate-Requests received
	AuthOK           int
	AuthFailed       int
	SuccessesDropped int
	RepeatsIgnored   int // CHAP Responses ignored after a dropped Success
	IPCPUp           int
	IPv4In, IPv4Out  int // data packets from and to clients
	IPv6CPUp         int
	IPv6In, IPv6Out  int // data packets: router solicitations and DHCPv6 are not counted here
	RSIn, RAOut      int // router solicitations received, advertisements sent
	DHCPv6In         int // DHCPv6 messages received (well-formed)
	DHCPv6Out        int
	BadIPv6Control   int
}

// Server is the scripted LNS. Its methods are safe for concurrent use.
type Server struct {
	cfg Config

	in    chan datagram
	cmd   chan func()
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	pkts  chan []byte
	udpMu sync.Mutex
	udp   []*net.UDPConn

	mu     sync.Mutex
	events []Event
	stats  Stats
	notify chan struct{} // closed and replaced on every event

	// Owned by the server goroutine.
	tunnels   map[uint16]*tunnel
	dropsLeft int
	later     []delayed // actions scheduled with after
}

// delayed is an action the server goroutine runs at a given time.
type delayed struct {
	at time.Time
	f  func()
}

// datagram is one L2TP datagram from a client.
type datagram struct {
	from peer
	b    []byte
}

// peer is where a client's datagrams come from and replies go.
type peer interface {
	send(b []byte)
}

// NewServer starts a server. Close stops it.
func NewServer(cfg Config) *Server {
	if cfg.Auth == "" {
		cfg.Auth = AuthMSCHAPv2
	}
	if !cfg.Address.IsValid() {
		cfg.Address = netip.AddrFrom4([4]byte{10, 99, 0, 2})
	}
	if !cfg.PeerAddress.IsValid() {
		cfg.PeerAddress = netip.AddrFrom4([4]byte{10, 99, 0, 1})
	}
	if cfg.RestartInterval <= 0 {
		cfg.RestartInterval = time.Second
	}
	if cfg.HostName == "" {
		cfg.HostName = "l2tptest"
	}
	if cfg.IPv6IID == 0 {
		cfg.IPv6IID = 0x0200_5eff_fe00_0001
	}
	s := &Server{cfg: cfg, in: make(chan datagram, 1024), cmd: make(chan func()),
		done: make(chan struct{}), pkts: make(chan []byte, 256), notify: make(chan struct{}),
		tunnels: map[uint16]*tunnel{}, dropsLeft: cfg.DropSuccesses}
	s.wg.Add(1)
	go s.run()
	return s
}

// Close stops the server and its UDP sockets. Transports from Transport
// stay usable (their writes go nowhere) until the client closes them.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.udpMu.Lock()
		for _, c := range s.udp {
			c.Close()
		}
		s.udpMu.Unlock()
	})
	s.wg.Wait()
	return nil
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Events returns every event so far, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// WaitEvent returns the first event of kind, waiting for it if it has not
// happened yet.
func (s *Server) WaitEvent(ctx context.Context, kind EventKind) (Event, error) {
	for {
		s.mu.Lock()
		for _, e := range s.events {
			if e.Kind == kind {
				s.mu.Unlock()
				return e, nil
			}
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("l2tptest: waiting for %v: %w", kind, ctx.Err())
		}
	}
}

// Packets delivers the IPv4 packets clients sent (a copy each). When
// nobody reads, packets beyond its buffer of 256 are dropped.
func (s *Server) Packets() <-chan []byte { return s.pkts }

// SendIP sends the IPv4 packet pkt to the client of every session whose
// IPCP is open, or the IPv6 packet pkt (version 6) to those whose IPV6CP
// is open, and returns how many sessions that was.
func (s *Server) SendIP(pkt []byte) (int, error) {
	n := 0
	v6 := len(pkt) > 0 && pkt[0]>>4 == 6
	err := s.do(func() {
		for _, t := range s.tunnels {
			for _, se := range t.sessions {
				switch {
				case v6 && se.ppp.ipv6Open():
					se.sendIPv6(pkt)
					n++
				case !v6 && se.ppp.ipcpOpen():
					se.sendIPv4(pkt)
					n++
				}
			}
		}
	})
	return n, err
}

// StopCCN clears every tunnel from the server side (RFC 2661 5.7) with
// the given Result Code AVP, and returns how many there were.
func (s *Server) StopCCN(result, errCode uint16, msg string) (int, error) {
	n := 0
	err := s.do(func() {
		for _, t := range s.tunnels {
			t.stop(result, errCode, msg)
			n++
		}
	})
	return n, err
}

// CDN clears every session from the server side (RFC 2661 5.6) with the
// given Result Code AVP, and returns how many there were.
func (s *Server) CDN(result, errCode uint16, msg string) (int, error) {
	n := 0
	err := s.do(func() {
		for _, t := range s.tunnels {
			for _, se := range t.sessions {
				se.clear(result, errCode, msg)
				n++
			}
		}
	})
	return n, err
}

var errServerClosed = errors.New("l2tptest: server closed")

// do runs f on the server goroutine and waits for it.
func (s *Server) do(f func()) error {
	ran := make(chan struct{})
	select {
	case s.cmd <- func() { f(); close(ran) }:
	case <-s.done:
		return errServerClosed
	}
	select {
	case <-ran:
		return nil
	case <-s.done:
		return errServerClosed
	}
}

// record notes an event (server goroutine).
func (s *Server) record(e Event, count func(*Stats)) {
	s.mu.Lock()
	s.events = append(s.events, e)
	if count != nil {
		count(&s.stats)
	}
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// run is the server goroutine: it owns the tunnels.
func (s *Server) run() {
	defer s.wg.Done()
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		next := s.nextDue()
		if next.IsZero() {
			tm.Reset(time.Hour)
		} else {
			tm.Reset(max(time.Until(next), 0))
		}
		select {
		case d := <-s.in:
			s.receive(d)
		case f := <-s.cmd:
			f()
		case <-tm.C:
			s.fireTimers(time.Now())
		case <-s.done:
			return
		}
	}
}

// Transport returns a new in-memory l2tp.Transport whose datagrams go to
// the server, as if from a client of its own address.
func (s *Server) Transport() l2tp.Transport {
	return &pipe{s: s, toClient: make(chan []byte, 1024), closed: make(chan struct{})}
}

// pipe is the client end of an in-memory link to the server.
type pipe struct {
	s        *Server
	toClient chan []byte
	closed   chan struct{}
	once     sync.Once
}

// ReadPacket blocks for the server's next datagram; a server going away
// is silent, as on UDP. It returns net.ErrClosed after Close.
func (p *pipe) ReadPacket(buf []byte) (int, int, error) {
	select {
	case b := <-p.toClient:
		return 0, copy(buf, b), nil
	case <-p.closed:
		return 0, 0, net.ErrClosed
	}
}

// WritePacket hands a copy of buf[off:] to the server.
func (p *pipe) WritePacket(buf []byte, off int) error {
	select {
	case <-p.closed:
		return net.ErrClosed
	default:
	}
	d := datagram{from: p, b: append([]byte(nil), buf[off:]...)}
	select {
	case p.s.in <- d:
	case <-p.s.done: // lost, as to a server that is gone
	case <-p.closed:
		return net.ErrClosed
	}
	return nil
}

func (p *pipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// send delivers a server datagram; when the client does not keep up it is
// dropped, as UDP would.
func (p *pipe) send(b []byte) {
	select {
	case <-p.closed:
	case p.toClient <- b:
	default:
	}
}

// ListenUDP makes the server also listen on UDP at addr ("127.0.0.1:0"
// picks a free port) and returns the address to give clients. Each
// client address and port is a peer of its own.
func (s *Server) ListenUDP(addr string) (*net.UDPAddr, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, err
	}
	s.udpMu.Lock()
	select {
	case <-s.done:
		s.udpMu.Unlock()
		c.Close()
		return nil, errServerClosed
	default:
	}
	s.udp = append(s.udp, c)
	s.udpMu.Unlock()
	s.wg.Add(1)
	go s.readUDP(c)
	return c.LocalAddr().(*net.UDPAddr), nil
}

func (s *Server) readUDP(c *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error for an earlier reply, say
		}
		d := datagram{from: udpPeer{c, from}, b: append([]byte(nil), buf[:n]...)}
		select {
		case s.in <- d:
		case <-s.done:
			return
		}
	}
}

// udpPeer is a client on UDP; comparable, so tunnels can be matched to it.
type udpPeer struct {
	c    *net.UDPConn
	addr netip.AddrPort
}

func (u udpPeer) send(b []byte) { u.c.WriteToUDPAddrPort(b, u.addr) }
