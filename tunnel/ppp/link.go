package ppp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Link. The zero value of every field but User and
// Password has a sensible default.
type Config struct {
	User     string
	Password string
	// Auth lists the methods the user allows, most preferred first.
	// Empty means MS-CHAPv2 only. PAP and CHAP-MD5 are used only when
	// listed; a server asking for no authentication at all is accepted
	// only when AuthNone is listed. A server that insists on anything
	// else ends the link with an *AuthRefusedError.
	Auth []AuthMethod
	// MRU we ask for; 0 means 1500 (not requested).
	MRU int
	// NoMagic stops us from requesting a Magic-Number.
	NoMagic bool
	// NoDNS stops us from asking for DNS servers (RFC 1877).
	NoDNS bool
	// IPv6 negotiates IPV6CP (RFC 5072) once IPCP has opened, or when the
	// peer starts it (see startIPv6CP). Off, the link answers IPV6CP with
	// Protocol-Reject and sends no IPV6CP, as it always has. IPV6CP
	// failing (the server rejecting it, not answering, Protocol-Reject)
	// ends IPV6CP only: IPv4 goes on.
	IPv6 bool

	// RestartInterval is the first restart timer period; each further
	// retransmission doubles it up to MaxRestartInterval. RFC 1661 4.6
	// suggests 3 s, but an LNS that starts pppd late (xl2tpd) misses our
	// first request, and SoftEther sometimes ignores the IPCP request that
	// follows its Nak (see NudgeDelay); starting short saves seconds of
	// connect time. Retransmissions keep their Identifier, so a late Ack
	// still counts.
	RestartInterval    time.Duration // default 500ms
	MaxRestartInterval time.Duration // default 4s
	MaxConfigure       int           // default 10
	MaxTerminate       int           // default 2
	MaxFailure         int           // default 5

	// EchoInterval is the LCP keepalive period; negative disables it.
	EchoInterval time.Duration // default 10s
	// EchoFailures unanswered echoes in a row declare the link dead.
	EchoFailures int // default 3
	// NudgeDelay: an IPCP Configure-Request we send once the peer has
	// answered in IPCP is followed this much later by an LCP
	// Discard-Request (RFC 1661 5.9: the peer silently discards it),
	// unless IPCP is open by then. SoftEther's PPP loop handles one
	// received packet per wake-up, so when our Configure-Request and our
	// Configure-Ack of its request arrive together, the second stays
	// queued and the Configure-Request that follows its Nak waits behind
	// it for the next arrival: our restart timer. The Discard-Request is
	// that next arrival; up to three follow, each twice as late, in case
	// more than one packet is queued. Not before the peer's first IPCP
	// answer: SoftEther allocates the address by DHCP while handling our
	// first request, and a packet arriving meanwhile delays its answer.
	// Negative disables it.
	NudgeDelay time.Duration // default 30ms
	// StallWait and RestartOnStall: a peer whose own packets are lost
	// resends them only on its restart timer (SoftEther and pppd: 3 s).
	// When our LCP Configure-Request has been acknowledged but the
	// peer's own Configure-Request has not come for StallWait, or LCP is
	// open and the CHAP Challenge has not come for StallWait (SoftEther
	// sends it 0.3 s after; pppd at once), and RestartOnStall is set, Run
	// ends with ErrStalled so that the caller can start over in a new
	// L2TP session, which costs a round trip instead of that timer.
	// Without RestartOnStall the link waits, as RFC 1661 does.
	StallWait      time.Duration // default 1s
	RestartOnStall bool
	// AuthTimeout bounds the authentication phase.
	AuthTimeout time.Duration // default 20s

	Logger *slog.Logger // protocol trace at Debug level; nil: none
	Rand   io.Reader    // nil: crypto/rand
}

func (c *Config) setDefaults() {
	if len(c.Auth) == 0 {
		c.Auth = []AuthMethod{AuthMSCHAPv2}
	}
	if c.MRU == 0 {
		c.MRU = defaultMRU
	}
	if c.RestartInterval <= 0 {
		c.RestartInterval = 500 * time.Millisecond
	}
	if c.MaxRestartInterval < c.RestartInterval {
		c.MaxRestartInterval = max(4*time.Second, c.RestartInterval)
	}
	// The FSMs default these too, but authentication retries read them
	// from here.
	if c.MaxConfigure <= 0 {
		c.MaxConfigure = 10
	}
	if c.MaxTerminate <= 0 {
		c.MaxTerminate = 2
	}
	if c.MaxFailure <= 0 {
		c.MaxFailure = 5
	}
	if c.EchoInterval == 0 {
		c.EchoInterval = 10 * time.Second
	}
	if c.EchoFailures <= 0 {
		c.EchoFailures = 3
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 20 * time.Second
	}
	if c.StallWait <= 0 {
		c.StallWait = time.Second
	}
	if c.NudgeDelay == 0 {
		c.NudgeDelay = 30 * time.Millisecond
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
}

// EventKind names a step of link establishment.
type EventKind uint8

// Events a Link reports through its OnEvent callback.
const (
	EventLCPUp EventKind = iota + 1
	EventAuthOK
	EventIPCPUp
	// EventIPv6CPUp: IPV6CP opened (Config.IPv6); IPv6 packets may flow.
	EventIPv6CPUp
)

// Event is a progress report; Auth is set for EventAuthOK, IP for
// EventIPCPUp, IPv6 for EventIPv6CPUp.
type Event struct {
	Kind EventKind
	Auth AuthMethod
	IP   IPInfo
	IPv6 IPv6Info
}

// Sender transmits one PPP control packet of proto (without the PPP frame
// header: the caller adds the frame and tunnel headers).
type Sender func(proto Protocol, pkt []byte) error

type frame struct {
	proto Protocol
	pkt   []byte
}

// Link is the client end of one PPP link: LCP, authentication, IPCP and
// the LCP keepalive. One goroutine (Run) owns all of its state; packets
// arrive through Input from any goroutine.
type Link struct {
	cfg     Config
	send    Sender
	onEvent func(Event)
	log     *slog.Logger

	in      chan frame
	closeCh chan struct{}
	closeMu sync.Once

	lcpL  *lcp
	lcp   *fsm
	ipcpL *ipcp
	ipcp  *fsm
	v6L   *ipv6cp
	v6    *fsm // IPV6CP; stays Initial unless Config.IPv6

	ipOpen atomic.Bool // IPCP opened: IPv4 packets may flow
	v6Open atomic.Bool // IPV6CP opened: IPv6 packets may flow

	// owned by Run
	now    time.Time
	timers [7]timer // lcp, ipcp, auth, echo, nudge, stall, ipv6cp
	// stall detection (Config.StallWait): which wait is armed, and what
	// the peer has shown of its LCP since the link started.
	stallKind   int // 0 none, 1 waiting for the peer's Configure-Request, 2 for the CHAP Challenge
	lcpAcked    bool
	peerReqSeen bool
	err         error
	done        bool
	auth        authState
	echoID      byte
	echoMiss    int
	discardID   byte
	ipcpHeard   bool // an IPCP packet came from the peer since LCP opened
	nudges      int  // Discard-Requests sent since the last armNudge
	infoMu      sync.Mutex
	info        IPInfo
	info6       IPv6Info
	v6Dead      bool // IPV6CP gave up: its packets get Protocol-Reject as with IPv6 off
	upOnce      bool
	authOK      AuthMethod
	authRounds  int
	refusal     *AuthRefusedError // the server insisted on a method we refuse
	upSignal    chan struct{}
}

type timer struct {
	at  time.Time
	gen int // fsm timerGen the timer was armed for
}

const (
	tLCP = iota
	tIPCP
	tAuth
	tEcho
	tNudge
	tStall
	tIPv6CP
)

// NewLink returns a link that sends through send and reports progress to
// onEvent (called from the Run goroutine; may be nil).
func NewLink(cfg Config, send Sender, onEvent func(Event)) *Link {
	cfg.setDefaults()
	l := &Link{cfg: cfg, send: send, onEvent: onEvent, log: cfg.Logger,
		in: make(chan frame, 64), closeCh: make(chan struct{}), upSignal: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	fc := fsmConfig{MaxConfigure: cfg.MaxConfigure, MaxTerminate: cfg.MaxTerminate, MaxFailure: cfg.MaxFailure}
	l.lcpL = &lcp{link: l, mru: cfg.MRU, wantMagic: !cfg.NoMagic}
	l.lcp = newFSM(ProtoLCP, fc, l.lcpL, l.sendCP)
	l.ipcpL = newIPCP(l, !cfg.NoDNS)
	l.ipcp = newFSM(ProtoIPCP, fc, l.ipcpL, l.sendCP)
	l.v6L = newIPv6CP(l)
	l.v6 = newFSM(ProtoIPv6CP, fc, l.v6L, l.sendCP)
	return l
}

// Input hands a received PPP frame's protocol and payload to the link.
// It copies pkt and never blocks: when the link is not keeping up, the
// frame is dropped as a lossy line would (PPP retransmits).
func (l *Link) Input(proto Protocol, pkt []byte) {
	select {
	case l.in <- frame{proto, append([]byte(nil), pkt...)}:
	default:
	}
}

// Close asks for a graceful LCP Terminate; Run returns once the peer
// acknowledged it or the terminate retries ran out.
func (l *Link) Close() { l.closeMu.Do(func() { close(l.closeCh) }) }

// Up is closed when IPCP has opened for the first time.
func (l *Link) Up() <-chan struct{} { return l.upSignal }

// IPv4Open reports whether IPv4 packets may be sent and received now.
func (l *Link) IPv4Open() bool { return l.ipOpen.Load() }

// IPv6Open reports whether IPv6 packets may be sent and received now
// (Config.IPv6 and IPV6CP opened).
func (l *Link) IPv6Open() bool { return l.v6Open.Load() }

// IPv6Info returns what IPV6CP negotiated when it last opened.
func (l *Link) IPv6Info() IPv6Info {
	l.infoMu.Lock()
	defer l.infoMu.Unlock()
	return l.info6
}

// Info returns the addresses IPCP negotiated.
func (l *Link) Info() IPInfo {
	l.infoMu.Lock()
	defer l.infoMu.Unlock()
	return l.info
}

// AuthFailure returns the authentication failure the link saw before it
// ended (a PAP Authenticate-Nak or CHAP Failure, an *AuthError), the
// refusal of the server's authentication method (an *AuthRefusedError,
// also when the server's latest LCP request asked for a method we Nak'd
// and nothing followed), or nil. A server may end the L2TP session instead
// of PPP after rejecting a password or our Nak; the caller then reports
// this rather than the session's end. Call after Run returns.
func (l *Link) AuthFailure() error {
	if l.auth.nak || l.auth.failed != nil {
		return l.authError()
	}
	if l.refusal != nil {
		return l.refusal
	}
	if !l.lcp.Opened() && l.lcpL.lastRefused != "" {
		return l.refusedError(l.lcpL.lastRefused)
	}
	return nil
}

// PeerMRU is the MRU the peer asked for: the largest packet we may send.
func (l *Link) PeerMRU() int { return l.lcpL.peerMRU }

// Run negotiates the link and keeps it up until ctx ends, Close is
// called, or the link fails. It returns nil after a local Close that the
// peer acknowledged (or that timed out), the failure otherwise.
func (l *Link) Run(ctx context.Context) error {
	l.now = time.Now()
	l.lcp.Open()
	l.lcp.Up()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	closeCh := l.closeCh
	for !l.done {
		l.armTimers()
		next := l.nextDeadline()
		if next.IsZero() {
			t.Reset(time.Hour)
		} else {
			t.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			l.ipOpen.Store(false)
			l.v6Open.Store(false)
			return ctx.Err()
		case f := <-l.in:
			l.now = time.Now()
			l.handle(f.proto, f.pkt)
		case <-closeCh:
			closeCh = nil
			l.now = time.Now()
			l.lcp.Close(nil)
			if l.lcp.state != stClosing { // nothing to terminate
				l.finish(nil)
			}
		case <-t.C:
			l.now = time.Now()
			l.fireTimers()
		}
	}
	l.ipOpen.Store(false)
	l.v6Open.Store(false)
	return l.err
}

func (l *Link) finish(err error) {
	if l.done {
		return
	}
	l.done, l.err = true, err
}

// fail ends the link with err, telling the peer (LCP Terminate) when LCP
// is still up. A peer that stopped answering echoes gets one
// Terminate-Request and no wait for its Ack: the lower layer is as good as
// down (RFC 1661 4.4, Down), and retransmitting to it only delays the
// report. So does a server that did not answer our authentication
// (ErrAuthNoAnswer): the caller tears the session down and starts afresh,
// so waiting for the Ack would only delay that.
func (l *Link) fail(err error) {
	if l.err == nil {
		l.err = err
	}
	if errors.Is(err, ErrEchoTimeout) || errors.Is(err, ErrAuthNoAnswer) || errors.Is(err, ErrStalled) {
		if l.lcp.state == stOpened {
			l.transmit(ProtoLCP, AppendCP(nil, CodeTermReq, l.nextLCPID(), nil))
		}
		l.finish(l.err)
		return
	}
	if l.lcp.state == stOpened || l.lcp.state == stReqSent || l.lcp.state == stAckSent || l.lcp.state == stAckRcvd {
		l.lcp.Close(err)
		return
	}
	l.finish(l.err)
}

// stallCondition says which stall, if any, the link is waiting through.
func (l *Link) stallCondition() int {
	switch {
	case !l.lcp.Opened() && l.lcpAcked && !l.peerReqSeen:
		return 1
	case l.lcp.Opened() && (l.auth.method == AuthCHAPMD5 || l.auth.method == AuthMSCHAPv2) &&
		l.auth.chapChallenge == nil && l.authOK == AuthNone:
		return 2
	}
	return 0
}

func (l *Link) armTimers() {
	if !l.cfg.RestartOnStall {
		l.timers[tStall].at = time.Time{}
	} else if k := l.stallCondition(); k != l.stallKind {
		l.stallKind = k
		l.timers[tStall].at = time.Time{}
		if k != 0 {
			l.timers[tStall].at = l.now.Add(l.cfg.StallWait)
		}
	}
	for i, f := range [...]*fsm{tLCP: l.lcp, tIPCP: l.ipcp, tIPv6CP: l.v6} {
		if f == nil {
			continue
		}
		tm := &l.timers[i]
		if !f.timerOn {
			tm.at = time.Time{}
			continue
		}
		if tm.at.IsZero() || tm.gen != f.timerGen {
			tm.gen = f.timerGen
			d := l.cfg.RestartInterval << max(f.attempt-1, 0)
			tm.at = l.now.Add(min(d, l.cfg.MaxRestartInterval))
		}
	}
}

func (l *Link) nextDeadline() time.Time {
	var next time.Time
	for _, tm := range l.timers {
		if !tm.at.IsZero() && (next.IsZero() || tm.at.Before(next)) {
			next = tm.at
		}
	}
	return next
}

func (l *Link) fireTimers() {
	for i := range l.timers {
		tm := &l.timers[i]
		if tm.at.IsZero() || tm.at.After(l.now) {
			continue
		}
		tm.at = time.Time{}
		switch i {
		case tLCP:
			l.lcp.timeout()
		case tIPCP:
			l.ipcp.timeout()
		case tIPv6CP:
			l.v6.timeout()
		case tAuth:
			l.authTimeout()
		case tEcho:
			l.echoTick()
		case tNudge:
			l.nudge()
		case tStall:
			if l.stallKind == 1 {
				l.fail(fmt.Errorf("ppp: the server acknowledged our LCP request but sent none of its own within %v: %w", l.cfg.StallWait, ErrStalled))
			} else if l.stallKind == 2 {
				l.fail(fmt.Errorf("ppp: LCP is open but the server sent no %v challenge within %v: %w", l.auth.method, l.cfg.StallWait, ErrStalled))
			}
		}
		if l.done {
			return
		}
	}
}

func (l *Link) handle(proto Protocol, pkt []byte) {
	switch proto {
	case ProtoLCP:
		l.handleLCP(pkt)
		return
	}
	if !l.lcp.Opened() {
		return // RFC 1661 3.4: only LCP before the link is established
	}
	if l.chapAwaitingStatus() && isNCP(proto) && len(pkt) > 0 && Code(pkt[0]) == CodeConfReq {
		// The server has moved on to the network phase (RFC 1661 3.6),
		// so it sent its Success and it was lost; SoftEther never repeats
		// it. Not an implicit Success: without it the MS-CHAPv2
		// authenticator response (RFC 2759 5) is unverified.
		l.fail(fmt.Errorf("ppp: no answer to our %v response (sent %s): the server went on to %v, so its answer was lost: %w",
			l.auth.method, timesWord(l.auth.respSends), proto, ErrAuthNoAnswer))
		return
	}
	switch proto {
	case ProtoPAP:
		l.handlePAP(pkt)
	case ProtoCHAP:
		l.handleCHAP(pkt)
	case ProtoIPCP:
		code, id, data, err := ParseCP(pkt)
		if err != nil {
			l.log.Debug("ppp recv malformed", "proto", proto, "err", err)
			return
		}
		l.trace("recv", proto, code, id, data)
		if !l.ipcp.Opened() && l.ipcp.state == stInitial {
			return // before authentication: discarded (RFC 1661 3.5)
		}
		l.ipcpHeard = true
		if err := l.ipcp.input(code, id, data); errors.Is(err, errUnknownCode) {
			l.sendCP(ProtoIPCP, AppendCP(nil, CodeCodeRej, l.nextLCPID(), pkt))
		}
	case ProtoIPv6CP:
		if !l.cfg.IPv6 || l.v6Dead {
			l.protocolReject(proto, pkt)
			return
		}
		code, id, data, err := ParseCP(pkt)
		if err != nil {
			l.log.Debug("ppp recv malformed", "proto", proto, "err", err)
			return
		}
		l.trace("recv", proto, code, id, data)
		if st := l.ipcp.state; st == stInitial || st == stStarting {
			return // before the network phase: discarded (RFC 1661 3.5)
		}
		if st := l.v6.state; st == stInitial || st == stStarting {
			l.startIPv6CP() // the peer starts IPV6CP before our IPCP opened
		}
		if err := l.v6.input(code, id, data); errors.Is(err, errUnknownCode) {
			l.sendCP(ProtoIPv6CP, AppendCP(nil, CodeCodeRej, l.nextLCPID(), pkt))
		}
	case ProtoIPv4:
		// IPv4 normally bypasses the link on the data path; a packet
		// here arrived before IPCP opened and is dropped.
	case ProtoIPv6:
		// Likewise IPv6 once IPV6CP is negotiated; without Config.IPv6
		// it is an unsupported protocol.
		if !l.cfg.IPv6 || l.v6Dead {
			l.protocolReject(proto, pkt)
		}
	default:
		l.protocolReject(proto, pkt)
	}
}

// protocolReject: RFC 1661 5.7: an unsupported protocol (CCP, IPV6CP
// without Config.IPv6, ...) is answered with Protocol-Reject while LCP is
// Opened.
func (l *Link) protocolReject(proto Protocol, pkt []byte) {
	l.log.Debug("ppp protocol-reject", "proto", proto)
	data := binary.BigEndian.AppendUint16(nil, uint16(proto))
	data = append(data, pkt[:min(len(pkt), max(l.lcpL.peerMRU-8, 0))]...)
	l.sendCP(ProtoLCP, AppendCP(nil, CodeProtoRej, l.nextLCPID(), data))
}

func (l *Link) nextLCPID() byte {
	l.lcp.nextID++
	return l.lcp.nextID
}

func (l *Link) handleLCP(pkt []byte) {
	code, id, data, err := ParseCP(pkt)
	if err != nil {
		l.log.Debug("ppp recv malformed", "proto", ProtoLCP, "err", err)
		return
	}
	l.trace("recv", ProtoLCP, code, id, data)
	switch code {
	case CodeEchoReq:
		if l.lcp.Opened() && len(data) >= 4 { // RFC 1661 5.8
			reply := binary.BigEndian.AppendUint32(nil, l.lcpL.magic)
			reply = append(reply, data[4:]...)
			l.sendCP(ProtoLCP, AppendCP(nil, CodeEchoReply, id, reply))
		}
		return
	case CodeEchoReply:
		if l.lcp.Opened() && id == l.echoID {
			l.echoMiss = 0
		}
		return
	case CodeDiscard:
		return
	case CodeProtoRej:
		if len(data) >= 2 && Protocol(binary.BigEndian.Uint16(data)) == ProtoIPCP {
			l.fail(fmt.Errorf("ppp: the server does not speak IPCP (Protocol-Reject): %w", ErrProtocol))
		}
		if len(data) >= 2 && Protocol(binary.BigEndian.Uint16(data)) == ProtoIPv6CP && l.cfg.IPv6 && l.lcp.Opened() {
			// RFC 1661 5.7: stop sending IPV6CP at once; IPv4 goes on.
			l.ipv6cpGiveUp(errors.New("ipv6cp: the server does not speak IPV6CP (Protocol-Reject)"))
		}
		return
	case CodeTermReq:
		if st := l.lcp.state; (st == stReqSent || st == stAckRcvd || st == stAckSent) && l.lcpL.lastRefused != "" && l.refusal == nil {
			// The server ends the link rather than move from a method we
			// Nak'd to one we allow: acknowledge (RFC 1661 5.5) and report
			// the refusal now, not after our requests time out.
			l.refusal = l.refusedError(l.lcpL.lastRefused)
			l.lcp.input(code, id, data)
			l.finish(l.refusal)
			return
		}
		if l.authOK == AuthNone && l.lcp.Opened() && (l.auth.attempts > 0 || l.auth.chapResp != nil) && l.auth.failed == nil {
			// Ending the link in answer to our credentials is how some
			// servers (SoftEther with PAP) say the password is wrong.
			l.auth.failed = &AuthError{Method: l.auth.method, User: l.cfg.User}
			if l.auth.nakMsg != "" {
				l.auth.failed.Detail = fmt.Sprintf("%q", l.auth.nakMsg)
			}
		}
		if l.auth.failed != nil {
			l.lcp.reason = l.auth.failed
		}
	}
	switch code {
	case CodeConfReq:
		l.peerReqSeen = true
	case CodeConfAck:
		l.lcpAcked = true
	}
	if err := l.lcp.input(code, id, data); errors.Is(err, errUnknownCode) {
		l.sendCP(ProtoLCP, AppendCP(nil, CodeCodeRej, l.nextLCPID(), pkt[:min(len(pkt), 1400)]))
	}
}

// lcpUp: the link is established; authenticate (RFC 1661 3.5) or go
// straight to the network phase.
func (l *Link) lcpUp() {
	l.emit(Event{Kind: EventLCPUp})
	l.echoMiss = 0
	if l.cfg.EchoInterval > 0 {
		l.timers[tEcho].at = l.now.Add(l.cfg.EchoInterval)
	}
	l.ipcpHeard = false
	l.startAuth(l.lcpL.auth)
}

func (l *Link) lcpDown() {
	l.timers[tEcho].at = time.Time{}
	l.timers[tAuth].at = time.Time{}
	l.ipcp.Down()
	l.ipOpen.Store(false)
	l.v6.Down()
	l.v6Open.Store(false)
}

func (l *Link) lcpFinished(reason error) {
	// LCP's own silence (or stop) after we refused the method the
	// server's latest request asked for means "no acceptable method"; a
	// later no-answer (CHAP, PAP, IPCP) went through fail(), which set
	// l.err.
	if l.err == nil && l.lcpL.lastRefused != "" &&
		((reason == nil && l.lcp.state == stStopped) || errors.Is(reason, ErrNoAnswer)) {
		l.refusal = l.refusedError(l.lcpL.lastRefused)
		reason = l.refusal
	}
	if reason == nil {
		reason = l.err
	}
	l.finish(reason)
}

func (l *Link) refusedError(wanted string) *AuthRefusedError {
	return &AuthRefusedError{Wanted: wanted, Allowed: slices.Clone(l.cfg.Auth)}
}

// refuseAuth ends the link: the server insists on an authentication (or
// none) the profile does not allow.
func (l *Link) refuseAuth(wanted string) {
	if l.refusal == nil {
		l.refusal = l.refusedError(wanted)
	}
	l.fail(l.refusal)
}

// preferredAuth is the method our Naks suggest: the first allowed one
// other than AuthNone, or AuthNone.
func (l *Link) preferredAuth() AuthMethod {
	for _, m := range l.cfg.Auth {
		if m != AuthNone {
			return m
		}
	}
	return AuthNone
}

// isNCP: RFC 1661 section 2, Protocol field: values 0x8000-0xbfff are
// Network Control Protocols.
func isNCP(p Protocol) bool { return p >= 0x8000 && p <= 0xbfff }

func (l *Link) authDone(m AuthMethod) {
	l.timers[tAuth].at = time.Time{}
	l.auth = authState{}
	l.authOK = m
	if m != AuthNone {
		l.emit(Event{Kind: EventAuthOK, Auth: m})
	}
	l.ipcp.Up()
	l.ipcp.Open()
}

// startIPv6CP opens IPV6CP (Config.IPv6) once IPCP has opened, or earlier
// when the peer starts it. Not together with IPCP: SoftEther (5.01.9674)
// stops answering for about 4 s when our first IPV6CP request arrives
// (the length of its router solicitation wait, 2 tries 2 s apart, for a
// router advertisement SecureNAT never sends). With both NCPs at once
// its IPCP answers came that much later and connecting took 9 s instead
// of 1 s; after IPCP the connection is up at the usual time and IPv4
// pauses for those seconds instead. A Discard-Request nudge (as for IPCP,
// Config.NudgeDelay) does not shorten that wait: tried.
func (l *Link) startIPv6CP() {
	if !l.cfg.IPv6 || l.v6Dead {
		return
	}
	if l.v6.state == stInitial {
		l.v6.Open()
	}
	if l.v6.state == stStarting {
		l.v6.Up()
	}
}

func (l *Link) ipcpUp() {
	info := l.ipcpL.info()
	l.infoMu.Lock()
	l.info = info
	l.infoMu.Unlock()
	l.ipOpen.Store(true)
	l.emit(Event{Kind: EventIPCPUp, IP: info})
	if !l.upOnce {
		l.upOnce = true
		close(l.upSignal)
	}
	l.startIPv6CP()
}

func (l *Link) ipcpDown() { l.ipOpen.Store(false) }

func (l *Link) ipv6cpUp() {
	info := l.v6L.info()
	l.infoMu.Lock()
	l.info6 = info
	l.infoMu.Unlock()
	l.v6Open.Store(true)
	l.emit(Event{Kind: EventIPv6CPUp, IPv6: info})
}

func (l *Link) ipv6cpDown() { l.v6Open.Store(false) }

// ipv6cpFinished: IPV6CP ended (rejected, unanswered, terminated); the
// link goes on with IPv4 and treats later IPV6CP packets as an
// unsupported protocol.
func (l *Link) ipv6cpFinished(reason error) {
	l.v6Open.Store(false)
	if !l.lcp.Opened() {
		return // LCP going down took IPV6CP with it; LCP reports why
	}
	l.v6Dead = true
	l.log.Info("ipv6cp: IPv6 is off for this link; IPv4 goes on", "reason", reason)
}

// ipv6cpGiveUp stops IPV6CP without a word to the peer (a Protocol-Reject
// or too many Naks) and keeps it stopped for the rest of the link.
func (l *Link) ipv6cpGiveUp(reason error) {
	l.v6.kill()
	l.ipv6cpFinished(reason)
}

func (l *Link) echoTick() {
	if !l.lcp.Opened() {
		return
	}
	if l.echoMiss >= l.cfg.EchoFailures {
		l.fail(fmt.Errorf("%w (%d unanswered, %v apart)", ErrEchoTimeout, l.echoMiss, l.cfg.EchoInterval))
		return
	}
	l.echoMiss++
	l.echoID++
	l.sendCP(ProtoLCP, AppendCP(nil, CodeEchoReq, l.echoID, binary.BigEndian.AppendUint32(nil, l.lcpL.magic)))
	l.timers[tEcho].at = l.now.Add(l.cfg.EchoInterval)
}

func (l *Link) allowed(m AuthMethod) bool {
	for _, a := range l.cfg.Auth {
		if a == m {
			return true
		}
	}
	return false
}

func (l *Link) random32() uint32 {
	var b [4]byte
	for {
		if _, err := io.ReadFull(l.cfg.Rand, b[:]); err != nil {
			return 0x5a5a5a5a
		}
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

func (l *Link) emit(e Event) {
	if l.onEvent != nil {
		l.onEvent(e)
	}
}

func (l *Link) sendCP(proto Protocol, pkt []byte) {
	l.transmit(proto, pkt)
	if proto == ProtoIPCP && len(pkt) > 0 && Code(pkt[0]) == CodeConfReq {
		l.armNudge()
	}
}

func (l *Link) transmit(proto Protocol, pkt []byte) {
	if code, id, data, err := ParseCP(pkt); err == nil {
		l.trace("send", proto, code, id, data)
	}
	if err := l.send(proto, pkt); err != nil {
		l.log.Debug("ppp send failed", "proto", proto, "err", err)
	}
}

// armNudge schedules a Discard-Request NudgeDelay from now (see
// Config.NudgeDelay) unless one is already due, the peer has not answered
// in IPCP yet, or IPCP is open.
func (l *Link) armNudge() {
	if l.cfg.NudgeDelay > 0 && l.timers[tNudge].at.IsZero() && l.ipcpHeard && l.lcp.Opened() && !l.ipOpen.Load() {
		l.nudges = 0
		l.timers[tNudge].at = l.now.Add(l.cfg.NudgeDelay)
	}
}

const maxNudges = 4 // Discard-Requests per armNudge

// nudge sends the Discard-Request armNudge scheduled. RFC 1661 5.9 allows
// it only in the LCP Opened state; it carries our Magic-Number.
func (l *Link) nudge() {
	if !l.lcp.Opened() || l.ipOpen.Load() {
		return
	}
	l.discardID++
	l.transmit(ProtoLCP, AppendCP(nil, CodeDiscard, l.discardID, binary.BigEndian.AppendUint32(nil, l.lcpL.magic)))
	if l.nudges++; l.nudges < maxNudges {
		l.timers[tNudge].at = l.now.Add(l.cfg.NudgeDelay << l.nudges)
	}
}

// trace logs a decoded control packet. Authentication packets are logged
// by code and length only: they carry the password (PAP) or values
// derived from it.
func (l *Link) trace(dir string, proto Protocol, code Code, id byte, data []byte) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	switch proto {
	case ProtoLCP, ProtoIPCP, ProtoIPv6CP:
		attrs := []any{"proto", proto.String(), "code", code.String(), "id", id}
		if code <= CodeConfRej {
			attrs = append(attrs, "options", describeOptions(proto, data))
		}
		l.log.Debug("ppp "+dir, attrs...)
	default:
		l.log.Debug("ppp "+dir, "proto", proto.String(), "code", authCodeName(proto, byte(code)), "id", id, "len", len(data))
	}
}

func describeOptions(proto Protocol, data []byte) string {
	opts, err := ParseOptions(data)
	if err != nil {
		return "malformed"
	}
	parts := make([]string, 0, len(opts))
	for _, o := range opts {
		parts = append(parts, describeOption(proto, o))
	}
	return strings.Join(parts, " ")
}

func describeOption(proto Protocol, o Option) string {
	if proto == ProtoLCP {
		switch {
		case o.Type == lcpOptMRU && len(o.Data) == 2:
			return fmt.Sprintf("MRU=%d", binary.BigEndian.Uint16(o.Data))
		case o.Type == lcpOptAuth:
			_, name := authFromOption(o.Data)
			return "Auth=" + name
		case o.Type == lcpOptMagic && len(o.Data) == 4:
			return fmt.Sprintf("Magic=0x%08x", binary.BigEndian.Uint32(o.Data))
		case o.Type == lcpOptACCM:
			return fmt.Sprintf("ACCM=%x", o.Data)
		case o.Type == lcpOptPFC:
			return "PFC"
		case o.Type == lcpOptACFC:
			return "ACFC"
		}
	} else if proto == ProtoIPv6CP {
		if o.Type == ipv6cpOptIID && len(o.Data) == ipv6cpIIDLen {
			return fmt.Sprintf("IID=%016x", binary.BigEndian.Uint64(o.Data))
		}
	} else if len(o.Data) == 4 {
		ip := fmt.Sprintf("%d.%d.%d.%d", o.Data[0], o.Data[1], o.Data[2], o.Data[3])
		switch o.Type {
		case ipcpOptAddress:
			return "Address=" + ip
		case ipcpOptDNS1:
			return "DNS1=" + ip
		case ipcpOptDNS2:
			return "DNS2=" + ip
		}
	}
	return fmt.Sprintf("opt%d=%x", o.Type, o.Data)
}

// authCodeName names a PAP or CHAP code for traces.
func authCodeName(proto Protocol, code byte) string {
	names := map[Protocol][]string{
		ProtoPAP:  {"", "Authenticate-Request", "Authenticate-Ack", "Authenticate-Nak"},
		ProtoCHAP: {"", "Challenge", "Response", "Success", "Failure"},
	}[proto]
	if int(code) < len(names) && code != 0 {
		return names[code]
	}
	return fmt.Sprintf("code %d", code)
}
