package ike

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// Config is what an IKE initiator needs. PSK is a secret: it is never
// logged nor put in an error.
type Config struct {
	PSK []byte
	IKE []IKESuite // phase-1 offer in order of preference; nil: DefaultIKE
	ESP []ESPSuite // phase-2 offer; nil: DefaultESP

	IKELifetime time.Duration // proposed phase-1 lifetime; default 8h
	ESPLifetime time.Duration // proposed phase-2 lifetime; default 1h

	// Aggressive runs Aggressive Mode instead of Main Mode, with GroupID
	// as our identity (aggressive.go): only when the profile asks for it.
	// GroupIDType is IDFQDN (0 means it too) or IDKeyID.
	Aggressive  bool
	GroupID     string
	GroupIDType uint8

	// Certificate authentication (Main Mode with RSA signatures, RFC
	// 2409 5.1, cert.go) instead of PSK: Cert is our certificate, leaf
	// first, then its chain; Key its private key (RSA; never logged).
	// CA holds the CAs that may sign the server's certificate (nil: the
	// system's roots). ServerID is the identity the server's certificate
	// must name: a DN ("CN=vpn.example.com"), a host name or an address;
	// "" means ServerName, the host name the user connects to, matched
	// against the subject alternative names ("": the server's address).
	Cert       []*x509.Certificate
	Key        crypto.Signer
	CA         []*x509.Certificate
	ServerID   string
	ServerName string

	// L2TPPort is the UDP port of L2TP on both sides, carried in the
	// Quick Mode IDs and the inner UDP header; default 1701.
	L2TPPort uint16

	// Retransmit is the wait after each send of one of our messages
	// before it is sent again; after the last wait the exchange fails.
	// Default 0.5, 1, 2, 3, 4, 5 s (15.5 s in all).
	Retransmit []time.Duration

	KeepaliveInterval time.Duration // NAT keepalive (RFC 3948 4); default 20s
	DPDInterval       time.Duration // idle time before R-U-THERE; default 10s
	DPDTimeout        time.Duration // idle time that declares the peer dead; default 25s

	// serverPorts overrides 500 and 4500 (tests run a responder on
	// unprivileged loopback ports).
	serverPorts [2]uint16

	// NoForceEncaps sends our true NAT-D hash instead of forcing the
	// server to believe in a NAT (for tests of NAT detection only).
	NoForceEncaps bool

	OnStage func(Stage)  // progress, with String() in plain words
	Logger  *slog.Logger // protocol trace at Debug level
	Rand    io.Reader    // nil: crypto/rand

	// now is the clock of the exchanges (tests give a fake one with a
	// fake socket); nil: time.Now.
	now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.IKE) == 0 {
		c.IKE = DefaultIKE
	}
	if len(c.ESP) == 0 {
		c.ESP = DefaultESP
	}
	if c.IKELifetime <= 0 {
		c.IKELifetime = 8 * time.Hour
	}
	if c.ESPLifetime <= 0 {
		c.ESPLifetime = time.Hour
	}
	if c.L2TPPort == 0 {
		c.L2TPPort = 1701
	}
	if len(c.Retransmit) == 0 {
		c.Retransmit = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}
	}
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = 20 * time.Second
	}
	if c.DPDInterval <= 0 {
		c.DPDInterval = 10 * time.Second
	}
	if c.DPDTimeout <= c.DPDInterval {
		// Within 30 s of the last packet, counting the 1 s tick.
		c.DPDTimeout = max(25*time.Second, 2*c.DPDInterval)
	}
	if c.OnStage == nil {
		c.OnStage = func(Stage) {}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
}

// Ports of IKE (RFC 2408) and IKE/ESP with NAT traversal (RFC 3948).
const (
	portIKE  = 500
	portNATT = 4500
)

// inbound is the set of ESP SAs we accept: the current one and, for a
// while after a rekey, the one before it.
type inbound struct {
	cur, prev *esp.SA
}

// packetConn is the socket a Conn runs over: a *net.UDPConn, or in
// tests an in-memory fake that keeps its own clock.
type packetConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// Conn is an IKE session with its ESP SAs: an l2tp.Transport that
// carries L2TP in ESP in UDP. One goroutine reads (ReadPacket); writes may
// come from several.
type Conn struct {
	cfg    Config
	udp    packetConn
	local  netip.AddrPort
	server netip.Addr
	log    *slog.Logger

	ikePort, nattPort uint16 // the server's: 500 and 4500

	port    atomic.Uint32 // server port for IKE: 500, then 4500
	started atomic.Bool   // ReadPacket owns the socket; IKE arrives on ikeCh
	ikeCh   chan []byte
	rekeyCh chan struct{}

	info     atomic.Pointer[Info]
	out      atomic.Pointer[esp.SA]
	in       atomic.Pointer[inbound]
	lastRecv atomic.Int64 // unix nanos of the last authentic datagram
	// rxSeen is set for each authentic ESP packet; the IKE goroutine turns
	// it into lastRecv once per tick (no clock read per packet).
	rxSeen atomic.Bool
	// dropped counts IKE datagrams of an exchange in progress that did
	// not decrypt, parse or authenticate, and replays.
	dropped atomic.Uint64

	// Owned by the IKE goroutine (Dial before it starts).
	ike     *ikeSA
	child   *childSA
	retired *childSA          // the pair a rekey replaced, until retire
	replies map[string][]byte // a peer message we answered -> our answer
	dpdSeq  uint32

	closeOnce sync.Once
	closing   atomic.Bool // set when Close begins: later writes fail at once
	doneOnce  sync.Once
	done      chan struct{}
	stop      context.CancelFunc
	errMu     sync.Mutex
	err       error
	routine   sync.WaitGroup

	// The batched data path (batch.go): nil bio without a *net.UDPConn.
	bio    batchIO
	txMu   sync.Mutex // WritePackets: txb and txPkts
	txb    *batch
	txPkts [][]byte
	rxb    *batch // ReadPackets (one goroutine)
	rxFrom []netip.AddrPort

	// The data path passes a gate for every packet it seals or opens;
	// Close shuts both before it wipes the keys. Each sits on a cache
	// line of its own: the reader and the writers run on different cores.
	_      [64]byte
	txGate gate
	_      [64]byte
	rxGate gate
	_      [64]byte
}

var _ l2tp.Transport = (*Conn)(nil) // send.go and receive.go

// Info describes what was negotiated.
type Info struct {
	IKE      IKESuite
	ESP      ESPSuite
	NATT     string // "RFC 3947" or "draft"
	NAT      bool   // a NAT was detected (besides our forced one)
	Local    netip.AddrPort
	Server   netip.AddrPort
	InSPI    uint32
	OutSPI   uint32
	Lifetime time.Duration
}

// Info reports what is negotiated now (it changes with rekeys).
func (c *Conn) Info() Info { return *c.info.Load() }

// publish snapshots the negotiated state for Info; the IKE goroutine
// calls it after each change.
func (c *Conn) publish() {
	in := c.in.Load()
	c.info.Store(&Info{IKE: c.ike.suite, ESP: c.child.suite, NATT: c.ike.natt.String(), NAT: c.ike.natFound,
		Local: c.local, Server: netip.AddrPortFrom(c.server, uint16(c.port.Load())),
		InSPI: in.cur.SPI(), OutSPI: c.out.Load().SPI(), Lifetime: c.child.lifetime})
}

// Dial runs Main Mode and Quick Mode with server (an IPv4 address; port
// 500 is implied) and returns a Conn ready to carry L2TP.
func Dial(ctx context.Context, server netip.Addr, cfg Config) (*Conn, error) {
	cfg.setDefaults()
	if !server.Is4() {
		return nil, fmt.Errorf("ike: server %v is not an IPv4 address", server)
	}
	if cfg.certMode() {
		if err := checkCertConfig(&cfg); err != nil {
			return nil, err
		}
	} else if len(cfg.PSK) == 0 {
		return nil, errors.New("ike: empty pre-shared key")
	}
	if err := checkPFS(cfg.ESP); err != nil {
		return nil, err
	}
	// Learn the source address the kernel picks toward the server: it goes
	// into our IDs, NAT-D and NAT-OA.
	probe, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(server, c0IKEPort(cfg))))
	if err != nil {
		return nil, fmt.Errorf("ike: no route to %v: %w", server, err)
	}
	localIP := probe.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	probe.Close()
	u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(localIP, 0)))
	if err != nil {
		return nil, fmt.Errorf("ike: udp socket: %w", err)
	}
	c := newConn(cfg, u, netip.AddrPortFrom(localIP, u.LocalAddr().(*net.UDPAddr).AddrPort().Port()), server)
	if err := c.handshake(ctx); err != nil {
		u.Close()
		c.wipeKeys()
		return nil, err
	}
	c.start()
	return c, nil
}

// newConn makes the Conn of an initiator at local on socket u; cfg has
// its defaults. The Conn keeps a copy of the pre-shared key, which Close
// wipes; the caller's is left alone.
func newConn(cfg Config, u packetConn, local netip.AddrPort, server netip.Addr) *Conn {
	cfg.PSK = bytes.Clone(cfg.PSK)
	c := &Conn{
		cfg: cfg, udp: u, server: server, log: cfg.Logger, local: local,
		ikeCh:   make(chan []byte, 16),
		rekeyCh: make(chan struct{}, 1),
		replies: map[string][]byte{},
		done:    make(chan struct{}),
	}
	c.ikePort, c.nattPort = portIKE, portNATT
	if cfg.serverPorts[0] != 0 {
		c.ikePort, c.nattPort = cfg.serverPorts[0], cfg.serverPorts[1]
	}
	if uc, ok := u.(*net.UDPConn); ok {
		c.bio = newBatchIO(uc, netip.AddrPortFrom(server, c.nattPort))
	}
	if c.bio != nil {
		c.txb, c.rxb = newBatch(false, rxBatch), newBatch(true, rxBatch)
		c.txPkts, c.rxFrom = make([][]byte, rxBatch), make([]netip.AddrPort, rxBatch)
	}
	c.port.Store(uint32(c.ikePort))
	c.lastRecv.Store(cfg.now().UnixNano())
	return c
}

// handshake runs Main Mode and Quick Mode; on success the SAs are in
// place.
func (c *Conn) handshake(ctx context.Context) error {
	sa, err := c.mainMode(ctx)
	if err != nil {
		return err
	}
	c.ike = sa
	st := Stage{Kind: StagePhase1, IKE: sa.suite, NATT: sa.natt.String(), NAT: sa.natFound, Aggressive: c.cfg.Aggressive}
	if c.cfg.certMode() {
		st.Cert = certName(c.cfg.Cert[0]) // the leaf: our identity
	}
	c.cfg.OnStage(st)
	ch, err := c.quickMode(ctx, sa)
	if err != nil {
		c.sendDelete(sa, nil)
		return err
	}
	c.install(ch)
	c.publish()
	c.cfg.OnStage(Stage{Kind: StagePhase2, ESP: ch.suite, Port: c.nattPort})
	return nil
}

// start hands the socket to ReadPacket and the IKE SA to routineIKE.
func (c *Conn) start() {
	c.udp.SetReadDeadline(time.Time{}) // from now on ReadPacket blocks
	rctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.started.Store(true)
	c.routine.Add(1)
	go c.routineIKE(rctx)
}

// Dropped reports how many IKE datagrams were dropped because they did
// not decrypt, parse or authenticate while an exchange waited for its
// answer, or were replays. Each is also logged at Debug level ("ike drop").
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// drop counts and logs a datagram that failed in exchange what.
func (c *Conn) drop(what string, err error) {
	c.dropped.Add(1)
	c.log.Debug("ike drop", "exchange", what, "err", err)
}

func c0IKEPort(cfg Config) uint16 {
	if cfg.serverPorts[0] != 0 {
		return cfg.serverPorts[0]
	}
	return portIKE
}

func checkPFS(ss []ESPSuite) error {
	for _, s := range ss[1:] {
		if s.PFS != ss[0].PFS {
			return errors.New("ike: all ESP proposals must use the same PFS group")
		}
	}
	return nil
}

// install makes ch the current SA pair, keeping the previous inbound SA.
func (c *Conn) install(ch *childSA) {
	if in := c.in.Load(); in == nil || in.cur != ch.in {
		c.addInbound(ch.in)
	}
	c.out.Store(ch.out)
	c.child = ch
}

// addInbound starts accepting sa; the current inbound SA becomes the
// previous one.
func (c *Conn) addInbound(sa *esp.SA) {
	prev := c.in.Load()
	n := &inbound{cur: sa}
	if prev != nil {
		n.prev = prev.cur
	}
	c.in.Store(n)
}

// send writes one IKE message to the server, with the non-ESP marker on
// port 4500 (RFC 3948 2.2).
func (c *Conn) send(msg []byte) error {
	port := uint16(c.port.Load())
	b := msg
	if port == c.nattPort {
		b = make([]byte, nonESPMarkerLen+len(msg))
		copy(b[nonESPMarkerLen:], msg)
	}
	_, err := c.udp.WriteToUDPAddrPort(b, netip.AddrPortFrom(c.server, port))
	return err
}

var errTimeout = errors.New("ike: timeout")

// recv returns the next IKE datagram from the server before deadline.
func (c *Conn) recv(ctx context.Context, deadline time.Time) ([]byte, error) {
	if c.started.Load() {
		t := time.NewTimer(deadline.Sub(c.cfg.now()))
		defer t.Stop()
		select {
		case b := <-c.ikeCh:
			return b, nil
		case <-t.C:
			return nil, errTimeout
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	buf := make([]byte, 65536)
	for {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		// Wake at least every 200 ms to notice a cancelled context.
		now := c.cfg.now()
		d := min(deadline.Sub(now), 200*time.Millisecond)
		if d <= 0 {
			return nil, errTimeout
		}
		c.udp.SetReadDeadline(now.Add(d))
		n, from, err := c.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return nil, fmt.Errorf("ike: read: %w", err)
		}
		if from.Addr().Unmap() != c.server {
			continue
		}
		if b, ok := c.ikePayload(buf[:n], from.Port()); ok {
			return append([]byte(nil), b...), nil
		}
	}
}

// verdict is what an exchange makes of a datagram.
type verdict int

const (
	notMine  verdict = iota // not of this exchange: handed to unsolicited
	dropped                 // of this exchange but bad: counted, keep waiting
	handled                 // consumed (an informational acted on)
	answered                // the answer: the exchange goes on
)

// roundTrip sends out and waits for a datagram accept answers, resending
// out on the retransmission schedule, which bounds the wait. A datagram
// accept drops (it did not decrypt, parse or authenticate) is counted and
// the wait goes on: a forger who sees our cookies must not end the
// exchange. An error from accept ends it. A repeat of prev (the peer
// message out answers) means out was lost: it is sent again at once.
func (c *Conn) roundTrip(ctx context.Context, what string, out, prev []byte, accept func([]byte) (verdict, error)) error {
	for i, wait := range c.cfg.Retransmit {
		if i > 0 {
			c.log.Debug("ike retransmit", "try", i+1)
		}
		if err := c.send(out); err != nil {
			return fmt.Errorf("ike: send: %w", err)
		}
		deadline := c.cfg.now().Add(wait)
		for {
			b, err := c.recv(ctx, deadline)
			if err == errTimeout {
				break
			}
			if err != nil {
				return err
			}
			if prev != nil && bytes.Equal(b, prev) {
				c.log.Debug("ike: peer repeated its message; resending ours")
				c.send(out)
				continue
			}
			v, err := accept(b)
			switch {
			case v == dropped:
				c.drop(what, err)
			case err != nil:
				return err
			case v == answered:
				return nil
			case v == notMine:
				c.unsolicited(b)
			}
		}
	}
	return errTimeout
}

// dhResult is a Diffie-Hellman half made ahead of its use.
type dhResult struct {
	group Group
	key   *dhKey
	err   error
}

// mainMode runs the six messages of Main Mode with a pre-shared key
// (RFC 2409 5.4) or RSA signatures (5.1, cert.go) plus NAT-T (RFC 3947
// 3, 4).
func (c *Conn) mainMode(ctx context.Context) (*ikeSA, error) {
	cfg := &c.cfg
	if cfg.Aggressive {
		return c.aggressiveMode(ctx)
	}
	certs := cfg.certMode()
	auth := uint64(authPSK)
	if certs {
		auth = authRSASig
	}
	sa := &ikeSA{lifetime: cfg.IKELifetime}
	ck, err := random(cfg.Rand, 8)
	if err != nil {
		return nil, err
	}
	copy(sa.ci[:], ck)
	offer := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoISAKMP}}}
	for i, s := range cfg.IKE {
		offer.Proposals[0].Transforms = append(offer.Proposals[0].Transforms, withAuth(p1Transform(i+1, s, cfg.IKELifetime), auth))
	}
	saBody := offer.Append(nil)
	// Our Diffie-Hellman half is made while messages 1 and 2 are on the
	// wire (a MODP2048 exponentiation is about a millisecond): for the
	// group of the preferred proposal, which servers nearly always pick.
	// Only with the system's randomness: an injected reader (tests) is
	// read in order, on this goroutine.
	var early <-chan dhResult
	if cfg.Rand == rand.Reader {
		ch := make(chan dhResult, 1)
		early = ch
		go func(g Group) {
			k, err := newDH(g, rand.Reader)
			ch <- dhResult{g, k, err}
		}(cfg.IKE[0].Group)
	}
	m1 := (&Message{ICookie: sa.ci, Exchange: ExchangeMain, Payloads: []Payload{
		{PayloadSA, saBody},
		{PayloadVendorID, vidRFC3947}, {PayloadVendorID, vidDraft03},
		{PayloadVendorID, vidDraft02n}, {PayloadVendorID, vidDraft02},
		{PayloadVendorID, vidDPD},
	}}).Marshal()
	c.log.Debug("ike send", "msg", "MM1", "offer", Notations(cfg.IKE))

	// Message 2: the chosen proposal. Nothing of Main Mode before message
	// 6 is authenticated: anyone who sees message 1 can answer it. A bad
	// answer or an error notification is dropped and kept as the
	// diagnosis for when the retransmissions run out.
	var m2 *Message
	var m2raw []byte
	var m2v mm2
	var notice error
	err = c.roundTrip(ctx, "main mode 1", m1, nil, func(b []byte) (verdict, error) {
		h, _, err := ParseHeader(b)
		if err != nil {
			return dropped, fmt.Errorf("main mode msg 2: %w", err)
		}
		if h.ICookie() != sa.ci {
			return notMine, nil
		}
		m, err := ParseClear(b)
		if err != nil {
			return dropped, fmt.Errorf("main mode msg 2: %w", err)
		}
		if m.Exchange == ExchangeInformational {
			if n, ok := errorNotify(m.Payloads); ok {
				notice = &NotifyError{Phase: "phase 1", Type: n.Type, Offer: Notations(cfg.IKE)}
				return dropped, notice
			}
			return notMine, nil
		}
		if m.Exchange != ExchangeMain {
			return notMine, nil
		}
		v, err := checkMM2(m, cfg, auth)
		if err != nil {
			notice = err
			return dropped, err
		}
		m2, m2raw, m2v = m, b, v
		return answered, nil
	})
	if err == errTimeout {
		if notice != nil {
			return nil, fmt.Errorf("%w (unauthenticated, and no other answer to main mode message 1 in %v)", notice, total(cfg.Retransmit))
		}
		return nil, fmt.Errorf("%w (main mode message 1 sent %d times over %v; offered %s)",
			ErrNoAnswer, len(cfg.Retransmit), total(cfg.Retransmit), Notations(cfg.IKE))
	}
	if err != nil {
		return nil, err
	}
	c.log.Debug("ike recv", "msg", "MM2", "payloads", m2.Types())
	sa.cr = m2.RCookie
	sa.suite, sa.natt, sa.dpd = m2v.suite, m2v.natt, m2v.dpd
	if m2v.life != 0 {
		sa.lifetime = min(m2v.life, cfg.IKELifetime)
	}
	if sa.block, err = blockCipher(sa.suite.Cipher, make([]byte, sa.suite.KeyLen)); err != nil {
		return nil, err
	}

	// Message 3: KE, Ni, NAT-D of the server and of us.
	var dh *dhKey
	if early != nil {
		if r := <-early; r.err == nil && r.group == sa.suite.Group {
			dh = r.key
		}
	}
	if dh == nil {
		if dh, err = newDH(sa.suite.Group, cfg.Rand); err != nil {
			return nil, err
		}
	}
	ni, err := random(cfg.Rand, nonceLen)
	if err != nil {
		return nil, err
	}
	serverAP := netip.AddrPortFrom(c.server, uint16(c.port.Load()))
	natdLocal := natdHash(sa.suite.Hash, sa.ci, sa.cr, c.local)
	if !cfg.NoForceEncaps {
		// strongSwan's forceencaps: a hash of nothing real, so the server
		// sees a NAT in front of us and floats to 4500 with us. A UDP
		// socket cannot carry bare ESP.
		junk, err := random(cfg.Rand, len(natdLocal))
		if err != nil {
			return nil, err
		}
		natdLocal = junk
	}
	nt := sa.natt.natdType()
	m3ps := []Payload{
		{PayloadKE, dh.pub}, {PayloadNonce, ni},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, serverAP)}, {nt, natdLocal},
	}
	if certs {
		// RFC 2409 5.1 leaves CERTREQ to either side; charon sends its
		// certificate when asked (its default send_cert = ifasked).
		m3ps = append(m3ps, certReqs(cfg)...)
	}
	m3 := (&Message{ICookie: sa.ci, RCookie: sa.cr, Exchange: ExchangeMain, Payloads: m3ps}).Marshal()
	c.log.Debug("ike send", "msg", "MM3")
	var m4 *Message
	var m4raw, gxr, nr, gxy []byte
	notice = nil
	err = c.roundTrip(ctx, "main mode 3", m3, m2raw, func(b []byte) (verdict, error) {
		h, _, err := ParseHeader(b)
		if err != nil {
			return dropped, fmt.Errorf("main mode msg 4: %w", err)
		}
		if h.ICookie() != sa.ci || h.RCookie() != sa.cr {
			return notMine, nil
		}
		m, err := ParseClear(b)
		if err != nil {
			return dropped, fmt.Errorf("main mode msg 4: %w", err)
		}
		if m.Exchange == ExchangeInformational {
			if n, ok := errorNotify(m.Payloads); ok {
				notice = &NotifyError{Phase: "phase 1", Type: n.Type}
				return dropped, notice
			}
			return notMine, nil
		}
		if m.Exchange != ExchangeMain {
			return notMine, nil
		}
		ke, ok := m.Find(PayloadKE)
		if !ok {
			return dropped, errors.New("main mode msg 4: no KE")
		}
		// RFC 2409 5: nonces of 8 to 256 bytes.
		n, ok := m.Find(PayloadNonce)
		if !ok || len(n.Body) < 8 || len(n.Body) > 256 {
			notice = errors.New("ike: main mode msg 4: missing or bad nonce (RFC 2409 5)")
			return dropped, notice
		}
		k, err := dh.shared(ke.Body)
		if err != nil {
			notice = fmt.Errorf("ike: main mode msg 4: %w", err)
			return dropped, notice
		}
		if len(ke.Body) < len(dh.pub) {
			c.log.Debug("ike: the server's public value came without its leading zero bytes (RFC 2409 5 wants them)",
				"bytes", len(ke.Body), "want", len(dh.pub))
		}
		m4, m4raw, gxr, nr, gxy = m, b, ke.Body, n.Body, k
		return answered, nil
	})
	if err == errTimeout {
		if notice != nil {
			return nil, fmt.Errorf("%w (unauthenticated, and no other answer to main mode message 3 in %v)", notice, total(cfg.Retransmit))
		}
		return nil, fmt.Errorf("ike: main mode msg 3: no answer (the server answered message 1): %w", ErrNoAnswer)
	}
	if err != nil {
		return nil, err
	}
	c.log.Debug("ike recv", "msg", "MM4", "payloads", m4.Types())
	if certs {
		sa.keys = deriveP1Sig(sa.suite, ni, nr, gxy, sa.ci, sa.cr)
	} else {
		sa.keys = deriveP1(sa.suite, cfg.PSK, ni, nr, gxy, sa.ci, sa.cr)
	}
	clear(gxy)
	if sa.block, err = blockCipher(sa.suite.Cipher, sa.keys.encKey); err != nil {
		return nil, err
	}
	c.detectNAT(sa, m4.All(nt), serverAP)

	// Message 5, encrypted, to port 4500 (RFC 3947 4: float).
	c.port.Store(uint32(c.nattPort))
	idi := ID{Type: IDIPv4Addr}
	a4 := c.local.Addr().As4()
	idi.Data = a4[:]
	if certs {
		idi = ourCertID(cfg)
	}
	idiBody := idi.Append(nil)
	hashI := prf(sa.suite.Hash, sa.keys.skeyid, dh.pub, gxr, sa.ci[:], sa.cr[:], saBody, idiBody)
	iv := digest(sa.suite.Hash, dh.pub, gxr)[:sa.block.BlockSize()]
	cookies := append(append([]byte(nil), sa.ci[:]...), sa.cr[:]...)
	m5ps := []Payload{{PayloadID, idiBody}, {PayloadHash, hashI}}
	if certs {
		// MM5 = IDii, [CERT], SIG_I (RFC 2409 5.1).
		sig, err := signHash(cfg.Key, cfg.Rand, hashI)
		if err != nil {
			return nil, fmt.Errorf("%w: signing: %v", ErrCertConfig, err)
		}
		m5ps = append(append([]Payload{{PayloadID, idiBody}}, certPayloads(cfg.Cert)...), Payload{PayloadSig, sig})
	}
	m5, m5last := sa.seal(ExchangeMain, 0, iv, append(m5ps,
		Payload{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyInitialContact, SPI: cookies}.Append(nil)}))
	c.log.Debug("ike send", "msg", "MM5", "id", idi)
	// Message 6 is the first that proves the server knows the key. What
	// does not decrypt or verify is dropped; if nothing better comes
	// before the retransmissions run out, the failures say the PSK is
	// wrong.
	var idr ID
	var badHashR int
	var said NotifyType
	err = c.roundTrip(ctx, "main mode 5", m5, m4raw, func(b []byte) (verdict, error) {
		h, body, err := ParseHeader(b)
		if err != nil {
			return dropped, fmt.Errorf("main mode msg 6: %w", err)
		}
		if h.ICookie() != sa.ci || h.RCookie() != sa.cr {
			return notMine, nil
		}
		if h.Exchange() == ExchangeInformational && h.Flags()&FlagEncryption == 0 {
			m, err := ParseClear(b)
			if err != nil {
				return dropped, fmt.Errorf("main mode msg 6: %w", err)
			}
			if n, ok := errorNotify(m.Payloads); ok {
				said = n.Type
				return dropped, fmt.Errorf("main mode msg 6: unauthenticated %v", n.Type)
			}
			return notMine, nil
		}
		if h.Exchange() != ExchangeMain || h.Flags()&FlagEncryption == 0 {
			return notMine, nil
		}
		ps, _, last, err := sa.open(h, body, m5last)
		if err != nil {
			badHashR++
			return dropped, fmt.Errorf("main mode msg 6: %w", err)
		}
		var hashR []byte
		var idrBody []byte
		var pc peerCert
		for _, p := range ps {
			switch p.Type {
			case PayloadID:
				idrBody = p.Body
			case PayloadHash:
				hashR = p.Body
			case PayloadSig:
				pc.sig = p.Body
			case PayloadCert:
				if len(p.Body) > 1 && p.Body[0] == certX509Sig {
					pc.certs = append(pc.certs, p.Body[1:])
				}
			}
		}
		want := prf(sa.suite.Hash, sa.keys.skeyid, gxr, dh.pub, sa.cr[:], sa.ci[:], saBody, idrBody)
		if certs {
			// It decrypted with keys only our Diffie-Hellman peer holds:
			// what it says about its certificate ends the exchange.
			if idrBody == nil || pc.sig == nil {
				return answered, fmt.Errorf("ike: main mode msg 6: %w: want ID and SIG (RFC 2409 5.1), got %d payloads", ErrPayload, len(ps))
			}
			rid, err := ParseID(idrBody)
			if err != nil {
				return answered, fmt.Errorf("ike: main mode msg 6: %w", err)
			}
			leaf, err := checkServerCert(cfg, pc, rid, want, c.serverName())
			if err != nil {
				return answered, err
			}
			c.log.Debug("ike: server certificate verified", "subject", leaf.Subject.String())
			idr = rid
			sa.lastIV = last
			return answered, nil
		}
		if idrBody == nil || hashR == nil {
			badHashR++
			return dropped, errors.New("main mode msg 6: no ID or HASH")
		}
		if !hmac.Equal(hashR, want) {
			badHashR++
			return dropped, errors.New("main mode msg 6: HASH_R does not verify")
		}
		// RFC 2409 5: the responder's identity need not be its address;
		// SoftEther answers 0.0.0.0.
		idr, _ = ParseID(idrBody)
		sa.lastIV = last
		return answered, nil
	})
	if err == errTimeout {
		switch said {
		case 0:
		case NotifyInvalidCookie, NotifyInvalidHashInfo, NotifyAuthenticationFailed,
			NotifyPayloadMalformed, NotifyInvalidPayloadType:
		default:
			if badHashR == 0 {
				return nil, fmt.Errorf("%w (unauthenticated, and no other answer to main mode message 5 in %v)",
					&NotifyError{Phase: "phase 1", Type: said}, total(cfg.Retransmit))
			}
		}
		switch {
		case certs && said != 0:
			return nil, fmt.Errorf("%w (then it sent %v)", ErrCertRefused, said)
		case certs:
			return nil, fmt.Errorf("%w: no answer to message 5 after %v", ErrCertRefused, total(cfg.Retransmit))
		case badHashR > 0:
			return nil, fmt.Errorf("ike: main mode msg 6: %w (%d answers in %v, none verified)",
				ErrPeerAuth, badHashR, total(cfg.Retransmit))
		case said != 0:
			// It could not decrypt or verify message 5 (SoftEther answers
			// INVALID-COOKIE once it has dropped the half-open SA after 10 s
			// of our retransmissions).
			return nil, fmt.Errorf("%w (then it sent %v)", ErrPSK, said)
		}
		return nil, fmt.Errorf("%w: no answer to message 5 after %v", ErrPSK, total(cfg.Retransmit))
	}
	if err != nil {
		return nil, err
	}
	c.log.Debug("ike recv", "msg", "MM6", "id", idr)
	sa.born = c.cfg.now()
	return sa, nil
}

// serverName is the name the server's certificate must carry when
// Config.ServerID is empty: the host name the user gave, else the
// address.
func (c *Conn) serverName() string {
	if c.cfg.ServerName != "" {
		return c.cfg.ServerName
	}
	return c.server.String()
}

// mm2 is what Main Mode message 2 settles.
type mm2 struct {
	suite IKESuite
	life  time.Duration // 0: none given
	natt  natt
	dpd   bool
}

// detectNAT reads the server's NAT-D payloads (RFC 3947 3.2): the first
// hashes us as it sees us, the others its own addresses; a mismatch in
// either means a NAT on the way.
func (c *Conn) detectNAT(sa *ikeSA, natds []Payload, serverAP netip.AddrPort) {
	if len(natds) >= 2 {
		sa.natFound = !bytes.Equal(natds[0].Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, c.local))
		own := false
		for _, p := range natds[1:] {
			own = own || bytes.Equal(p.Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, serverAP))
		}
		sa.natFound = sa.natFound || !own
	}
	c.log.Debug("ike nat detection", "nat", sa.natFound, "natd", len(natds))
}

// checkMM2 reads the server's choice in message 2 (checkP1Choice).
func checkMM2(m *Message, cfg *Config, auth uint64) (mm2, error) {
	v, err := checkP1Choice(m, cfg.IKE, auth)
	if err != nil && err != ErrNoNATT {
		err = fmt.Errorf("ike: main mode msg 2: %w", err)
	}
	return v, err
}

func total(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// quickMode negotiates an ESP SA pair for L2TP in transport mode over UDP
// (RFC 2409 5.5, RFC 3947 5).
func (c *Conn) quickMode(ctx context.Context, sa *ikeSA) (*childSA, error) {
	cfg := &c.cfg
	ch := &childSA{lifetime: cfg.ESPLifetime}
	midb, err := random(cfg.Rand, 4)
	if err != nil {
		return nil, err
	}
	mid := binary.BigEndian.Uint32(midb) | 1
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	spib, err := random(cfg.Rand, 4)
	if err != nil {
		return nil, err
	}
	spib[0] |= 0x80 // never a reserved SPI (RFC 4303 2.1: 1-255)
	ni, err := random(cfg.Rand, nonceLen)
	if err != nil {
		return nil, err
	}
	offer := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoESP, SPI: spib}}}
	for i, s := range cfg.ESP {
		offer.Proposals[0].Transforms = append(offer.Proposals[0].Transforms, p2Transform(i+1, s, sa.natt, cfg.ESPLifetime))
	}
	ps := []Payload{{PayloadSA, offer.Append(nil)}, {PayloadNonce, ni}}
	var dh *dhKey
	if g := cfg.ESP[0].PFS; g != 0 {
		if dh, err = newDH(g, cfg.Rand); err != nil {
			return nil, err
		}
		ps = append(ps, Payload{PayloadKE, dh.pub})
	}
	la, sa4 := c.local.Addr().As4(), c.server.As4()
	idciBody := ID{Type: IDIPv4Addr, Protocol: ipProtoUDP, Port: cfg.L2TPPort, Data: la[:]}.Append(nil)
	idcrBody := ID{Type: IDIPv4Addr, Protocol: ipProtoUDP, Port: cfg.L2TPPort, Data: sa4[:]}.Append(nil)
	ps = append(ps, Payload{PayloadID, idciBody}, Payload{PayloadID, idcrBody},
		// RFC 3947 5.2: in transport mode both original addresses.
		Payload{sa.natt.natoaType(), appendNATOA(nil, c.local.Addr())},
		Payload{sa.natt.natoaType(), appendNATOA(nil, c.server)})
	q1, q1last := sa.seal(ExchangeQuick, mid, sa.p2IV(mid), sa.hashed(mb[:], ps))
	c.log.Debug("ike send", "msg", "QM1", "mid", mid, "offer", Notations(cfg.ESP))

	var nr, outSPI, gxy []byte
	var q2last, q2raw []byte
	var unverified int
	err = c.roundTrip(ctx, "quick mode 1", q1, nil, func(b []byte) (verdict, error) {
		h, body, err := ParseHeader(b)
		if err != nil {
			return dropped, fmt.Errorf("quick mode msg 2: %w", err)
		}
		if h.ICookie() != sa.ci || h.RCookie() != sa.cr || h.Flags()&FlagEncryption == 0 {
			return notMine, nil
		}
		if h.Exchange() == ExchangeInformational {
			ps, err := c.openInfo(sa, h, body)
			if err != nil {
				return dropped, err
			}
			if n, ok := errorNotify(ps); ok {
				return handled, &NotifyError{Phase: "phase 2", Type: n.Type, Offer: Notations(cfg.ESP)}
			}
			c.informational(sa, ps)
			return handled, nil
		}
		if h.Exchange() != ExchangeQuick || h.MessageID() != mid {
			return notMine, nil
		}
		ps, plain, last, err := sa.open(h, body, q1last)
		if err != nil {
			unverified++
			return dropped, fmt.Errorf("quick mode msg 2: %w", err)
		}
		// HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest) (RFC 2409 5.5).
		if err := sa.checkHash(ps, plain, append(mb[:], ni...)); err != nil {
			unverified++
			return dropped, fmt.Errorf("quick mode msg 2: %w", err)
		}
		// Only the server holds SKEYID_a: from here on the message is
		// authentic. If it still breaks the rules, the server will send
		// the same answer to every retransmission, so waiting would only
		// turn a clear error into a misleading timeout: fail at once.
		q, err := checkQM2(ps[1:], idciBody, idcrBody)
		if err != nil {
			return answered, fmt.Errorf("ike: quick mode msg 2: %w", err)
		}
		if q.ke != nil {
			if dh == nil {
				return answered, fmt.Errorf("ike: quick mode msg 2: %w: KE without PFS", ErrQuickModeAnswer)
			}
			if gxy, err = dh.shared(q.ke); err != nil {
				return answered, fmt.Errorf("ike: quick mode msg 2: %w", err)
			}
		} else if dh != nil {
			return answered, fmt.Errorf("ike: quick mode msg 2: %w: PFS asked but no KE", ErrQuickModeAnswer)
		}
		if ch.suite, err = matchP2(q.chosen, cfg.ESP, sa.natt); err != nil {
			return answered, fmt.Errorf("ike: quick mode msg 2: %w", err)
		}
		for _, d := range []time.Duration{q.life, q.respLife} {
			if d != 0 {
				ch.lifetime = min(ch.lifetime, d)
			}
		}
		nr, outSPI = q.nr, q.spi
		q2last, q2raw = last, b
		return answered, nil
	})
	if err == errTimeout {
		if unverified > 0 {
			return nil, fmt.Errorf("%w after %v (offered %s; %d answers did not verify)",
				ErrQuickMode, total(cfg.Retransmit), Notations(cfg.ESP), unverified)
		}
		return nil, fmt.Errorf("%w after %v (offered %s)", ErrQuickMode, total(cfg.Retransmit), Notations(cfg.ESP))
	}
	if err != nil {
		return nil, err
	}
	c.log.Debug("ike recv", "msg", "QM2", "suite", ch.suite.String(), "spi", fmt.Sprintf("%x", outSPI), "lifetime", ch.lifetime)

	n := ch.suite.Suite.KeyMaterialLen(ch.suite.KeyLen)
	kin := keymat(sa.suite.Hash, sa.keys.d, gxy, protoESP, spib, ni, nr, n)
	kout := keymat(sa.suite.Hash, sa.keys.d, gxy, protoESP, outSPI, ni, nr, n)
	defer clear(kin) // the SAs keep copies
	defer clear(kout)
	if ch.in, err = esp.NewSA(binary.BigEndian.Uint32(spib), ch.suite.Suite, kin); err != nil {
		return nil, err
	}
	if ch.out, err = esp.NewSA(binary.BigEndian.Uint32(outSPI), ch.suite.Suite, kout); err != nil {
		return nil, err
	}

	// Message 3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b). The server
	// may use the new SA as soon as it has QM3: accept it first.
	h3 := prf(sa.suite.Hash, sa.keys.a, []byte{0}, mb[:], ni, nr)
	q3, _ := sa.seal(ExchangeQuick, mid, q2last, []Payload{{PayloadHash, h3}})
	c.addInbound(ch.in)
	if err := c.send(q3); err != nil {
		return nil, fmt.Errorf("ike: quick mode msg 3: %w", err)
	}
	c.log.Debug("ike send", "msg", "QM3")
	// If QM3 is lost the server repeats QM2: answer it again.
	c.replies = map[string][]byte{string(q2raw): q3}
	ch.born = c.cfg.now()
	return ch, nil
}

// qm2 is what an authentic Quick Mode message 2 settles.
type qm2 struct {
	chosen         Transform
	spi, nr, ke    []byte
	life, respLife time.Duration // 0: none given
}

// checkQM2 reads the payloads after HASH(2) and enforces what an
// answer must hold; idci and idcr are the bodies of our IDs.
func checkQM2(ps []Payload, idci, idcr []byte) (qm2, error) {
	var q qm2
	var ids [][]byte
	for _, p := range ps {
		switch p.Type {
		case PayloadSA:
			if q.spi != nil {
				return q, fmt.Errorf("%w: two SA payloads", ErrQuickModeAnswer)
			}
			s, err := ParseSA(p.Body)
			if err != nil {
				return q, err
			}
			// RFC 2408 4.2: one proposal, one transform, of our offer.
			if len(s.Proposals) != 1 || len(s.Proposals[0].Transforms) != 1 ||
				s.Proposals[0].Protocol != protoESP || len(s.Proposals[0].SPI) != 4 {
				return q, fmt.Errorf("%w: want one ESP transform", ErrProposal2)
			}
			q.chosen, q.spi = s.Proposals[0].Transforms[0], s.Proposals[0].SPI
		case PayloadNonce:
			q.nr = p.Body
		case PayloadKE:
			q.ke = p.Body
		case PayloadID:
			ids = append(ids, p.Body)
		case PayloadNotify:
			if n, err := ParseNotify(p.Body); err == nil && n.Type == NotifyResponderLifetime {
				q.respLife, _ = responderLifetime(n.Data)
			}
		}
	}
	if q.spi == nil {
		return q, fmt.Errorf("%w: no SA payload", ErrQuickModeAnswer)
	}
	// RFC 4303 2.1: SPIs 1 to 255 are reserved by IANA, 0 is never sent.
	if spi := binary.BigEndian.Uint32(q.spi); spi < 256 {
		return q, fmt.Errorf("%w: reserved SPI %d (RFC 4303 2.1)", ErrQuickModeAnswer, spi)
	}
	// RFC 2409 5 and RFC 2408 3.13: a nonce of 8 to 256 bytes.
	if len(q.nr) < 8 || len(q.nr) > 256 {
		return q, fmt.Errorf("%w: nonce of %d bytes (RFC 2409 5: 8 to 256)", ErrQuickModeAnswer, len(q.nr))
	}
	// RFC 2409 5.5: the responder's IDci and IDcr, when it sends them,
	// are the ones we proposed, both of them.
	if len(ids) != 0 && (len(ids) != 2 || !bytes.Equal(ids[0], idci) || !bytes.Equal(ids[1], idcr)) {
		return q, fmt.Errorf("%w: its %d ID payloads are not our IDci and IDcr (RFC 2409 5.5)", ErrQuickModeAnswer, len(ids))
	}
	q.life, _ = lifeOf(q.chosen, p2AttrLifeType, p2AttrLifeDur)
	return q, nil
}

// responderLifetime reads the attributes of a RESPONDER-LIFETIME
// notification (RFC 2407 4.6.3.1).
func responderLifetime(b []byte) (time.Duration, bool) {
	as, err := parseAttrs(b)
	if err != nil {
		return 0, false
	}
	return lifeOf(Transform{Attrs: as}, p2AttrLifeType, p2AttrLifeDur)
}

// Err reports why the IKE session ended, if it did.
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Done is closed when the IKE session ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

func (c *Conn) fail(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.udp.Close() // wakes ReadPacket, which reports Err
	c.doneOnce.Do(func() { close(c.done) })
}

// Close implements l2tp.Transport: it deletes the SAs at the server
// (RFC 2408 3.15), closes the socket and wipes the keys (wipeKeys).
// Packets written after Close fail with net.ErrClosed.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		// Writes fail from here on, not only once the IKE goroutine has
		// ended and the DELETE is out, which a busy machine can delay.
		c.closing.Store(true)
		if c.stop != nil {
			c.stop()
			c.routine.Wait()
		}
		c.errMu.Lock()
		alive := c.err == nil
		c.errMu.Unlock()
		if alive && c.ike != nil {
			c.sendDelete(c.ike, c.child)
		}
		c.fail(net.ErrClosed)
		// The IKE goroutine has ended; once the packets being sealed
		// and opened are out, nothing uses the keys any more.
		c.txGate.close()
		c.rxGate.close()
		c.wipeKeys()
	})
	return nil
}
