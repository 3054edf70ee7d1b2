package l2tp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// Transport carries L2TP datagrams to and from the peer: a connected UDP
// socket without IPsec, ESP-in-UDP with it.
type Transport interface {
	// ReadPacket reads one datagram into buf and returns where the L2TP
	// packet lies in it (a transport that decrypts in place returns an
	// offset past its own headers).
	ReadPacket(buf []byte) (off, n int, err error)
	// WritePacket sends buf[off:]. buf[:off] is headroom the transport
	// may overwrite with its own headers; capacity past len(buf) is
	// tailroom it may use for trailers. This package and tunnel leave at
	// least TransportHeadroom and TransportTailroom; a transport given
	// less than it needs copies.
	WritePacket(buf []byte, off int) error
	Close() error
}

// Errors a Conn reports; match them with errors.Is / errors.As.
var (
	// ErrNoAnswer: the peer never answered our control messages.
	ErrNoAnswer = errors.New("l2tp: no answer from the server")
	// ErrClosed: the connection was closed locally.
	ErrClosed = errors.New("l2tp: connection closed")
	// ErrTunnelAuth: tunnel authentication (RFC 2661 5.1.1) failed.
	ErrTunnelAuth = errors.New("l2tp: tunnel authentication failed")
	// ErrProtocol: the peer broke RFC 2661 in a way we cannot go on from.
	ErrProtocol = errors.New("l2tp: protocol error")
)

// PeerClosedError reports a StopCCN or CDN from the server with its
// Result Code AVP (RFC 2661 4.4.2).
type PeerClosedError struct {
	Msg     MsgType // MsgStopCCN or MsgCDN
	Result  uint16
	ErrCode uint16
	Message string
}

func (e *PeerClosedError) Error() string {
	what := "tunnel"
	if e.Msg == MsgCDN {
		what = "session"
	}
	s := fmt.Sprintf("l2tp: the server closed the %s (%v result %d", what, e.Msg, e.Result)
	if e.ErrCode != 0 {
		s += fmt.Sprintf(", error %d", e.ErrCode)
	}
	if e.Message != "" {
		s += fmt.Sprintf(": %q", e.Message)
	}
	return s + ")"
}

// Config configures a Conn.
type Config struct {
	HostName string // our Host Name AVP; default "corridor"
	// Secret enables tunnel authentication and hidden AVPs (RFC 2661
	// 4.3, 5.1.1) when non-empty.
	Secret []byte
	// RecvWindow is our Receive Window Size AVP; default 16.
	RecvWindow uint16
	// HelloInterval: a HELLO is sent after this much control silence
	// (RFC 2661 6.5); default 60s.
	HelloInterval time.Duration
	// CloseTimeout bounds the wait for the peer's acknowledgment of our
	// CDN and StopCCN; default 3s.
	CloseTimeout time.Duration
	// Reliable tunes retransmission; zero values take its defaults.
	Reliable ReliableConfig
	// OnData receives every data message of our session from the
	// receiving goroutine: buf[off:end] is the PPP frame, buf[:off] may be
	// overwritten (so the frame's payload can be handed on in place). It
	// must not keep buf.
	OnData func(buf []byte, off, end int)
	// OnDataEnd, when set, is called on the receiving goroutine after the
	// data messages of one read (a batch from a BatchReader, else one
	// datagram) went to OnData: the moment to hand on what OnData queued,
	// before the buffers are read into again.
	OnDataEnd func()
	// OnEvent receives progress reports from the control goroutine.
	OnEvent func(Event)
	Logger  *slog.Logger // protocol trace at Debug level
	Rand    io.Reader    // default crypto/rand
}

// EventKind names a step of connection establishment.
type EventKind uint8

// Events reported through Config.OnEvent.
const (
	EventTunnelUp EventKind = iota + 1
	EventSessionUp
)

// Event is a progress report.
type Event struct {
	Kind                 EventKind
	TunnelID, SessionID  uint16 // ours
	PeerTunnel, PeerSess uint16
	PeerHost             string
}

type connState uint8

const (
	stWaitSCCRP connState = iota
	stWaitICRP
	stEstablished
	stClosing
	stDone
)

// Buffer sizes of the receive path: one datagram of any size UDP carries
// on an Ethernet path, plus headroom.
const rxBufSize = 2048

// Conn is one L2TP control connection from the LAC side with one session
// (RFC 2661 sections 5-7). Run owns its state; the data path calls
// SendData and receives through Config.OnData.
type Conn struct {
	cfg Config
	tr  Transport
	log *slog.Logger
	rel *Reliable

	ourTID    uint16
	ourSID    atomic.Uint32 // changes with NewSession; read by the receiving goroutine
	peerTID   atomic.Uint32
	peerSID   atomic.Uint32
	sessionUp atomic.Bool

	ctrl      chan []byte
	closeCh   chan struct{}
	closeOnce sync.Once
	abandon   atomic.Bool // Abandon: send CDN and StopCCN once, wait for nothing
	upCh      chan struct{}
	rxErr     chan error
	newSess   chan chan struct{} // NewSession requests to Run
	runDone   chan struct{}      // closed when Run returns
	sessCh    chan struct{}      // closed when the current session is up

	state     connState
	err       error
	challenge []byte // the Challenge we sent, when a secret is set
	lastCtrl  time.Time
	closeBy   time.Time
	serial    uint32
	peerHost  string
}

// NewConn prepares a connection over tr; Run starts it.
func NewConn(tr Transport, cfg Config) *Conn {
	if cfg.HostName == "" {
		cfg.HostName = "corridor"
	}
	if cfg.RecvWindow == 0 {
		cfg.RecvWindow = 16
	}
	if cfg.HelloInterval <= 0 {
		cfg.HelloInterval = 60 * time.Second
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 3 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.Reliable.RecvWindow = cfg.RecvWindow
	c := &Conn{cfg: cfg, tr: tr, log: cfg.Logger,
		ctrl: make(chan []byte, 32), closeCh: make(chan struct{}),
		upCh: make(chan struct{}), rxErr: make(chan error, 1), newSess: make(chan chan struct{}), runDone: make(chan struct{})}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.rel = NewReliable(cfg.Reliable)
	// RFC 2661 3.1: IDs are chosen by each side; 0 is reserved. A random
	// tunnel ID per connection also keeps servers that key tunnels by
	// (address, ID) from confusing us with a previous connection.
	c.ourTID = c.random16()
	c.ourSID.Store(uint32(c.random16()))
	c.sessCh = c.upCh
	c.serial = uint32(c.random16())
	return c
}

func (c *Conn) random16() uint16 {
	var b [2]byte
	for {
		if _, err := io.ReadFull(c.cfg.Rand, b[:]); err != nil {
			return 0x4c32
		}
		if v := binary.BigEndian.Uint16(b[:]); v != 0 {
			return v
		}
	}
}

// Established is closed once the session is up and SendData may be used.
func (c *Conn) Established() <-chan struct{} { return c.upCh }

// IDs returns our and the peer's tunnel and session IDs (peer's are 0
// until known).
func (c *Conn) IDs() (ourTunnel, ourSession, peerTunnel, peerSession uint16) {
	return c.ourTID, uint16(c.ourSID.Load()), uint16(c.peerTID.Load()), uint16(c.peerSID.Load())
}

// Close asks for a graceful teardown (CDN, then StopCCN); Run returns when
// the peer acknowledged them or CloseTimeout passed.
func (c *Conn) Close() { c.closeOnce.Do(func() { close(c.closeCh) }) }

// Abandon is Close for a peer known to be gone (its PPP stopped answering
// keepalives): CDN and StopCCN are sent once, as a courtesy, and Run
// returns without waiting for their acknowledgment or retransmitting them.
func (c *Conn) Abandon() {
	c.abandon.Store(true)
	c.Close()
}

// NewSession ends the current session (CDN) and opens a new one in the same
// tunnel, for a PPP link that has to start over (a server that lost our
// authentication and will not repeat its answer). SendData fails with
// ErrClosed until the returned channel is closed, which happens once the
// new session is up. If the connection is not established, or ends
// first, the channel is never closed: wait for Run's result too.
func (c *Conn) NewSession() <-chan struct{} {
	up := make(chan struct{})
	select {
	case c.newSess <- up:
	case <-c.closeCh:
	case <-c.runDone:
	}
	return up
}

// SendData sends the PPP frame buf[off:] as a data message of our session.
// It writes the data header in place at buf[off-DataHeaderLen:off], so off
// must leave that much room plus whatever the transport needs. It may be
// called from any goroutine once Established is closed.
func (c *Conn) SendData(buf []byte, off int) error {
	if !c.sessionUp.Load() {
		return ErrClosed
	}
	off -= DataHeaderLen
	PutDataHeader(buf[off:], uint16(c.peerTID.Load()), uint16(c.peerSID.Load()))
	return c.tr.WritePacket(buf, off)
}

// SendDataBatch sends the PPP frames bufs[i][offs[i]:] as data messages of
// our session, in order, like SendData each, and moves offs[i] to where
// each datagram starts. A BatchWriter transport sends them all in one go;
// another gets them one by one. It returns the first error and how many
// frames were sent before it.
func (c *Conn) SendDataBatch(bufs [][]byte, offs []int) (int, error) {
	if !c.sessionUp.Load() {
		return 0, ErrClosed
	}
	tid, sid := uint16(c.peerTID.Load()), uint16(c.peerSID.Load())
	for i, b := range bufs {
		offs[i] -= DataHeaderLen
		PutDataHeader(b[offs[i]:], tid, sid)
	}
	if bw, ok := c.tr.(BatchWriter); ok {
		return bw.WritePackets(bufs, offs)
	}
	for i, b := range bufs {
		if err := c.tr.WritePacket(b, offs[i]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

// Run establishes the tunnel and session and keeps them until ctx ends,
// Close is called, or the connection fails. After a local Close it returns
// nil; otherwise the reason. It closes neither the transport nor stops the
// peer's data; the caller closes the transport after Run returns, which
// ends the receiving goroutine.
func (c *Conn) Run(ctx context.Context) error {
	defer close(c.runDone)
	go c.routineReceive()
	now := time.Now()
	c.lastCtrl = now
	c.sendSCCRQ()
	t := time.NewTimer(0)
	defer t.Stop()
	closeCh := c.closeCh
	for c.state != stDone {
		now = time.Now()
		out, next, err := c.rel.Poll(now)
		for _, f := range out {
			c.write(f)
		}
		if err != nil {
			if c.state != stClosing {
				// While closing, the reason (nil after a local Close)
				// is already set; a peer that does not acknowledge
				// our CDN and StopCCN only ends the wait early.
				c.fail(fmt.Errorf("%w: %v", ErrNoAnswer, err))
			}
			c.state = stDone
			break
		}
		if c.state == stClosing && ((c.rel.Idle() && !c.rel.AckPending()) || now.After(c.closeBy)) {
			c.state = stDone
			break
		}
		// HELLO keepalive (RFC 2661 6.5) after control silence, one at a
		// time: while a message is unacknowledged its retransmissions
		// already probe the peer.
		wake := now.Add(time.Hour)
		if c.state == stEstablished && c.rel.Idle() {
			helloAt := c.lastCtrl.Add(c.cfg.HelloInterval)
			if !now.Before(helloAt) {
				c.send(&Message{Type: MsgHello}, 0)
				continue
			}
			wake = helloAt
		}
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		if c.state == stClosing && c.closeBy.Before(wake) {
			wake = c.closeBy
		}
		t.Reset(max(wake.Sub(now), time.Millisecond))
		select {
		case <-ctx.Done():
			c.fail(ctx.Err())
			c.state = stDone
		case err := <-c.rxErr:
			c.fail(fmt.Errorf("l2tp: transport: %w", err))
			c.state = stDone
		case f := <-c.ctrl:
			c.receive(f)
		case up := <-c.newSess:
			c.restartSession(up)
		case <-closeCh:
			closeCh = nil
			c.shutdown(nil, 0, 0)
			if c.abandon.Load() && c.state == stClosing {
				// Poll writes CDN and StopCCN once at the top of the
				// loop; the past deadline then ends it.
				c.closeBy = time.Time{}
			}
		case <-t.C:
		}
	}
	c.sessionUp.Store(false)
	return c.err
}

func (c *Conn) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// shutdown starts the teardown: CDN for an established session, then
// StopCCN (RFC 2661 5.7, 5.9). reason nil is a local administrative close.
func (c *Conn) shutdown(reason error, result, errCode uint16) {
	if c.state == stClosing || c.state == stDone {
		return
	}
	c.fail(reason)
	if reason == nil {
		c.err = nil
	}
	if c.state == stWaitSCCRP && c.peerTID.Load() == 0 {
		c.state = stDone // nobody to tell
		return
	}
	if c.sessionUp.Load() || c.peerSID.Load() != 0 {
		cr, ce := uint16(3), uint16(0) // 3: administrative disconnect (4.4.2)
		if reason != nil {
			cr, ce = 2, errCode
		}
		cdn := &Message{Type: MsgCDN}
		cdn.Add(ResultCodeAVP(cr, ce, ""))
		cdn.Add(AVPUint16(AVPAssignedSessionID, uint16(c.ourSID.Load())))
		c.send(cdn, uint16(c.peerSID.Load()))
	}
	c.sessionUp.Store(false)
	sr, se := uint16(1), uint16(0) // 1: general request to clear
	if reason != nil {
		sr, se = result, errCode
	}
	stop := &Message{Type: MsgStopCCN}
	stop.Add(AVPUint16(AVPAssignedTunnelID, c.ourTID))
	stop.Add(ResultCodeAVP(sr, se, ""))
	c.send(stop, 0)
	c.state = stClosing
	c.closeBy = time.Now().Add(c.cfg.CloseTimeout)
}

func (c *Conn) sendSCCRQ() {
	m := &Message{Type: MsgSCCRQ}
	m.Add(AVPUint16(AVPProtocolVersion, 0x0100)) // version 1 revision 0 (4.4.3)
	m.Add(AVPString(AVPHostName, c.cfg.HostName))
	m.Add(AVPUint32(AVPFramingCapabilities, 3)) // sync and async
	m.Add(AVPUint16(AVPAssignedTunnelID, c.ourTID))
	m.Add(AVPUint16(AVPReceiveWindowSize, c.cfg.RecvWindow))
	m.Add(AVPString(AVPVendorName, "Corridor"))
	if len(c.cfg.Secret) > 0 {
		c.challenge = make([]byte, 16)
		io.ReadFull(c.cfg.Rand, c.challenge)
		m.Add(AVPBytes(AVPChallenge, c.challenge))
	}
	c.send(m, 0)
}

func (c *Conn) send(m *Message, sessionID uint16) {
	payload, err := m.AppendTo(nil, c.cfg.Secret, c.cfg.Rand)
	if err != nil {
		c.fail(fmt.Errorf("l2tp: encode %v: %w", m.Type, err))
		c.state = stDone
		return
	}
	c.log.Debug("l2tp send", "msg", m.String(), "tunnel", c.peerTID.Load(), "session", sessionID)
	c.rel.Queue(AppendControl(make([]byte, 0, ControlHeaderLen+len(payload)), uint16(c.peerTID.Load()), sessionID, 0, 0, payload))
	c.lastCtrl = time.Now()
}

func (c *Conn) write(frame []byte) {
	// Control messages are rare; a copy buys the transport its room.
	buf := make([]byte, TransportHeadroom+len(frame), TransportHeadroom+len(frame)+TransportTailroom)
	copy(buf[TransportHeadroom:], frame)
	if err := c.tr.WritePacket(buf, TransportHeadroom); err != nil {
		c.log.Debug("l2tp send failed", "err", err)
	}
}

// The room a Transport may write around an L2TP datagram, derived from
// the largest transport: ESP in UDP (ike.Conn, RFC 3948) writes the inner
// UDP header of L2TP and the ESP header and IV in front of it, and the
// ESP padding, trailer and ICV behind; UDPTransport writes nothing in
// place (the kernel adds UDP and IPv4). The control messages sent here
// leave exactly this room; package tunnel adds its own headers on top.
const (
	// UDPHeaderLen is the size of a UDP header (RFC 768).
	UDPHeaderLen = 8
	// TransportHeadroom is the inner UDP header and the longest ESP
	// header and IV: 8 + 8 + 16.
	TransportHeadroom = UDPHeaderLen + esp.MaxHeadLen
	// TransportTailroom is the longest ESP padding, pad length, next
	// header and ICV: 15 + 2 + 16.
	TransportTailroom = esp.MaxTailLen
)

func (c *Conn) receive(frame []byte) {
	h, _, _, err := ParseHeader(frame)
	if err != nil {
		return
	}
	for _, f := range c.rel.Receive(time.Now(), h, frame) {
		c.lastCtrl = time.Now()
		c.handle(f)
		if c.state == stDone {
			return
		}
	}
}

func (c *Conn) handle(frame []byte) {
	h, off, end, err := ParseHeader(frame)
	if err != nil {
		return
	}
	m, err := ParseMessage(frame[off:end], c.cfg.Secret)
	var um *UnknownMandatoryError
	switch {
	case errors.As(err, &um):
		// RFC 2661 4.1: an unknown AVP with the M bit set ends the session
		// (CDN) or the tunnel (StopCCN) with Result 2, Error 8.
		c.log.Debug("l2tp recv unknown mandatory AVP", "err", err)
		c.shutdown(fmt.Errorf("%w: %v", ErrProtocol, err), 2, 8)
		return
	case err != nil:
		c.log.Debug("l2tp recv malformed", "err", err)
		if c.state == stWaitSCCRP || c.state == stWaitICRP {
			c.shutdown(fmt.Errorf("%w: %v", ErrProtocol, err), 2, 2)
		}
		return
	case m == nil:
		return // ZLB
	}
	c.log.Debug("l2tp recv", "msg", m.String(), "tunnel", h.TunnelID, "session", h.SessionID)
	switch m.Type {
	case MsgSCCRP:
		c.onSCCRP(m)
	case MsgICRP:
		c.onICRP(m, h)
	case MsgHello, MsgWEN, MsgSLI:
		// Acknowledged by the reliable layer; nothing else to do.
	case MsgStopCCN:
		rc, ec, msg, _ := m.ResultCode()
		c.fail(&PeerClosedError{Msg: MsgStopCCN, Result: rc, ErrCode: ec, Message: msg})
		c.sessionUp.Store(false)
		if c.peerTID.Load() == 0 {
			// StopCCN before SCCRP: its Assigned Tunnel ID (6.4) is the
			// only way to address the acknowledgement.
			if tid, ok := m.Uint16(AVPAssignedTunnelID); ok {
				c.rel.SetPeerTunnelID(tid)
			}
		}
		// Stay briefly so that the reliable layer acknowledges it (5.7).
		c.state = stClosing
		c.closeBy = time.Now().Add(500 * time.Millisecond)
	case MsgCDN:
		sid, _ := m.Uint16(AVPAssignedSessionID)
		if h.SessionID != uint16(c.ourSID.Load()) && sid != uint16(c.peerSID.Load()) {
			return
		}
		rc, ec, msg, _ := m.ResultCode()
		c.fail(&PeerClosedError{Msg: MsgCDN, Result: rc, ErrCode: ec, Message: msg})
		c.sessionUp.Store(false)
		c.peerSID.Store(0)
		// Our only session is gone: clear the tunnel too.
		c.shutdown(c.err, 1, 0)
	default:
		c.log.Debug("l2tp recv unexpected message ignored", "msg", m.Type)
	}
}

func (c *Conn) onSCCRP(m *Message) {
	if c.state != stWaitSCCRP {
		return
	}
	tid, _ := m.Uint16(AVPAssignedTunnelID)
	if tid == 0 {
		c.shutdown(fmt.Errorf("%w: SCCRP assigns tunnel ID 0", ErrProtocol), 2, 3)
		return
	}
	c.peerTID.Store(uint32(tid))
	c.rel.SetPeerTunnelID(tid)
	if w, ok := m.Uint16(AVPReceiveWindowSize); ok && w > 0 {
		c.rel.SetPeerWindow(w)
	}
	if host, ok := m.Bytes(AVPHostName); ok {
		c.peerHost = string(host)
	}
	scccn := &Message{Type: MsgSCCCN}
	peerChal, hasChal := m.Bytes(AVPChallenge)
	if len(c.cfg.Secret) > 0 {
		// RFC 2661 5.1.1: the LNS proves it knows the secret.
		resp, ok := m.Bytes(AVPChallengeResponse)
		want := ChallengeResponse(MsgSCCRP, c.cfg.Secret, c.challenge)
		if !ok || subtle.ConstantTimeCompare(resp, want[:]) != 1 {
			c.shutdown(fmt.Errorf("%w: the server's Challenge Response does not match the tunnel secret", ErrTunnelAuth), 4, 0)
			return
		}
	}
	if hasChal {
		if len(c.cfg.Secret) == 0 {
			c.shutdown(fmt.Errorf("%w: the server requires a tunnel secret and the profile has none", ErrTunnelAuth), 4, 0)
			return
		}
		r := ChallengeResponse(MsgSCCCN, c.cfg.Secret, peerChal)
		scccn.Add(AVPBytes(AVPChallengeResponse, r[:]))
	}
	c.send(scccn, 0)
	c.emit(Event{Kind: EventTunnelUp})
	c.sendICRQ()
}

func (c *Conn) sendICRQ() {
	icrq := &Message{Type: MsgICRQ}
	icrq.Add(AVPUint16(AVPAssignedSessionID, uint16(c.ourSID.Load())))
	icrq.Add(AVPUint32(AVPCallSerialNumber, c.serial))
	c.send(icrq, 0)
	c.state = stWaitICRP
}

// restartSession ends the established session with a CDN (result 3,
// administrative, RFC 2661 4.4.2) and asks for a new one in the same
// tunnel with a fresh session ID and call serial number (5.6: each
// session is set up by its own ICRQ/ICRP/ICCN). up is closed once the new
// session is established.
func (c *Conn) restartSession(up chan struct{}) {
	if c.state != stEstablished {
		// Still setting up, closing or closed: nothing to restart; the
		// caller learns the outcome from Run's result.
		return
	}
	old := uint16(c.ourSID.Load())
	cdn := &Message{Type: MsgCDN}
	cdn.Add(ResultCodeAVP(3, 0, ""))
	cdn.Add(AVPUint16(AVPAssignedSessionID, old))
	c.send(cdn, uint16(c.peerSID.Load()))
	c.sessionUp.Store(false)
	c.peerSID.Store(0)
	sid := c.random16()
	for sid == old {
		sid = c.random16()
	}
	c.ourSID.Store(uint32(sid))
	c.serial++
	c.sessCh = up
	c.sendICRQ()
}

func (c *Conn) onICRP(m *Message, h Header) {
	if c.state != stWaitICRP || h.SessionID != uint16(c.ourSID.Load()) {
		return
	}
	sid, _ := m.Uint16(AVPAssignedSessionID)
	if sid == 0 {
		c.shutdown(fmt.Errorf("%w: ICRP assigns session ID 0", ErrProtocol), 2, 5)
		return
	}
	c.peerSID.Store(uint32(sid))
	iccn := &Message{Type: MsgICCN}
	iccn.Add(AVPUint32(AVPTxConnectSpeed, 100000000))
	iccn.Add(AVPUint32(AVPFramingType, 1)) // synchronous framing (4.4.5)
	c.send(iccn, sid)
	c.state = stEstablished
	c.sessionUp.Store(true)
	c.emit(Event{Kind: EventSessionUp})
	close(c.sessCh)
}

func (c *Conn) emit(e Event) {
	if c.cfg.OnEvent == nil {
		return
	}
	e.TunnelID, e.SessionID = c.ourTID, uint16(c.ourSID.Load())
	e.PeerTunnel, e.PeerSess = uint16(c.peerTID.Load()), uint16(c.peerSID.Load())
	e.PeerHost = c.peerHost
	c.cfg.OnEvent(e)
}

// routineReceive reads datagrams until the transport is closed. Data
// messages of our session go straight to OnData from this goroutine;
// control messages are copied to Run.
func (c *Conn) routineReceive() {
	if br, ok := c.tr.(BatchReader); ok && br.BatchSize() > 1 {
		c.receiveBatches(br)
		return
	}
	buf := make([]byte, rxBufSize)
	for {
		off, n, err := c.tr.ReadPacket(buf)
		if err != nil {
			if errors.Is(err, ErrDropped) {
				continue
			}
			c.rxFailed(err)
			return
		}
		c.dispatch(buf, off, n)
		if c.cfg.OnDataEnd != nil {
			c.cfg.OnDataEnd()
		}
	}
}

// receiveBatches is routineReceive over a BatchReader: each read brings
// up to BatchSize datagrams, dispatched in order, then OnDataEnd.
func (c *Conn) receiveBatches(br BatchReader) {
	n := br.BatchSize()
	bufs := make([][]byte, n)
	offs := make([]int, n)
	sizes := make([]int, n)
	for i := range bufs {
		bufs[i] = make([]byte, br.BufSize())
	}
	for {
		count, err := br.ReadPackets(bufs, offs, sizes)
		for i := range count {
			if sizes[i] > 0 {
				c.dispatch(bufs[i], offs[i], sizes[i])
			}
		}
		if count > 0 && c.cfg.OnDataEnd != nil {
			c.cfg.OnDataEnd()
		}
		if err != nil {
			if errors.Is(err, ErrDropped) {
				continue
			}
			c.rxFailed(err)
			return
		}
	}
}

func (c *Conn) rxFailed(err error) {
	select {
	case c.rxErr <- err:
	default:
	}
}

// dispatch routes one received datagram, buf[off:off+n]: control messages
// are copied to Run, our session's data messages go to OnData in place.
func (c *Conn) dispatch(buf []byte, off, n int) {
	pkt := buf[off : off+n]
	h, hoff, end, err := ParseHeader(pkt)
	if err != nil || h.TunnelID != c.ourTID {
		return
	}
	if h.Control {
		select {
		case c.ctrl <- append([]byte(nil), pkt[:end]...):
		default: // overloaded: the peer retransmits (5.8)
		}
		return
	}
	if h.SessionID == uint16(c.ourSID.Load()) && c.cfg.OnData != nil {
		c.cfg.OnData(buf, off+hoff, off+end)
	}
}

// BatchWriter is a Transport that sends several datagrams at once (one
// system call for many, where the OS allows).
type BatchWriter interface {
	// WritePackets sends bufs[i][offs[i]:] for each i, in order, with
	// the room around each as WritePacket has it. It returns how many
	// were sent and the first error.
	WritePackets(bufs [][]byte, offs []int) (int, error)
}

// BatchReader is a Transport that reads several datagrams at once.
type BatchReader interface {
	// ReadPackets reads up to len(bufs) datagrams, one into each buffer,
	// and returns how many buffers it used; the L2TP packet of buffer i
	// lies at bufs[i][offs[i]:offs[i]+sizes[i]], and sizes[i] is 0 for
	// a datagram the transport dropped (as ReadPacket's ErrDropped). An
	// error ends the reading unless it is ErrDropped.
	ReadPackets(bufs [][]byte, offs, sizes []int) (int, error)
	// BatchSize is the most datagrams one ReadPackets returns.
	BatchSize() int
	// BufSize is the size each buffer must have.
	BufSize() int
}

// ErrDropped is what a Transport returns from ReadPacket for a datagram it
// discarded (a failed integrity check, say) without the connection ending;
// the receive loop then reads the next one.
var ErrDropped = errors.New("l2tp: datagram dropped by transport")
