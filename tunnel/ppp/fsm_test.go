package ppp

import (
	"bytes"
	"errors"
	"testing"
)

// sentPkt is one control packet an fsm sent.
type sentPkt struct {
	proto Protocol
	code  Code
	id    byte
	data  []byte
}

// fakeLayer records the this-layer actions of an fsm and answers check
// from a script.
type fakeLayer struct {
	req []byte // options of our Configure-Request

	// checkFn classifies a peer request; nil: Ack everything.
	checkFn func(opts []Option, failuresLeft bool) (Code, []byte)
	// rejectErr is returned by rejected.
	rejectErr error

	failuresLeft []bool
	acks, naks   int
	rejects      int
	ups, downs   int
	finishes     int
	reason       error
	log          []string // up, down, finished in order
}

func (l *fakeLayer) request(b []byte) []byte { return append(b, l.req...) }

func (l *fakeLayer) check(opts []Option, failuresLeft bool) (Code, []byte) {
	l.failuresLeft = append(l.failuresLeft, failuresLeft)
	if l.checkFn != nil {
		return l.checkFn(opts, failuresLeft)
	}
	var b []byte
	for _, o := range opts {
		b = AppendOption(b, o.Type, o.Data)
	}
	return CodeConfAck, b
}

func (l *fakeLayer) acked([]Option)  { l.acks++ }
func (l *fakeLayer) nakked([]Option) { l.naks++ }
func (l *fakeLayer) rejected([]Option) error {
	l.rejects++
	return l.rejectErr
}
func (l *fakeLayer) up()   { l.ups++; l.log = append(l.log, "up") }
func (l *fakeLayer) down() { l.downs++; l.log = append(l.log, "down") }
func (l *fakeLayer) finished(reason error) {
	l.finishes++
	l.reason = reason
	l.log = append(l.log, "finished")
}

type fsmHarness struct {
	t    *testing.T
	f    *fsm
	l    *fakeLayer
	sent []sentPkt
}

var testReq = []byte{1, 4, 0x05, 0x78} // MRU 1400

func newHarness(t *testing.T, cfg fsmConfig) *fsmHarness {
	h := &fsmHarness{t: t, l: &fakeLayer{req: testReq}}
	h.f = newFSM(ProtoLCP, cfg, h.l, func(proto Protocol, pkt []byte) {
		code, id, data, err := ParseCP(pkt)
		if err != nil {
			t.Fatalf("fsm sent a malformed packet % x: %v", pkt, err)
		}
		// pkt is the fsm's scratch buffer: copy.
		h.sent = append(h.sent, sentPkt{proto, code, id, append([]byte(nil), data...)})
	})
	return h
}

// start runs Open and Up and returns our first Configure-Request.
func (h *fsmHarness) start() sentPkt {
	h.t.Helper()
	h.f.Open()
	h.f.Up()
	h.wantState(stReqSent)
	p := h.only(CodeConfReq)
	if !bytes.Equal(p.data, testReq) {
		h.t.Fatalf("Configure-Request options % x, want % x", p.data, testReq)
	}
	return p
}

// take returns and forgets the packets sent so far.
func (h *fsmHarness) take() []sentPkt {
	s := h.sent
	h.sent = nil
	return s
}

// only expects exactly one packet of code to have been sent, and returns it.
func (h *fsmHarness) only(code Code) sentPkt {
	h.t.Helper()
	s := h.take()
	if len(s) != 1 || s[0].code != code {
		h.t.Fatalf("sent %v, want one %v", s, code)
	}
	if s[0].proto != ProtoLCP {
		h.t.Fatalf("sent protocol %v", s[0].proto)
	}
	return s[0]
}

func (h *fsmHarness) none() {
	h.t.Helper()
	if s := h.take(); len(s) != 0 {
		h.t.Fatalf("sent %v, want nothing", s)
	}
}

func (h *fsmHarness) wantState(s state) {
	h.t.Helper()
	if h.f.state != s {
		h.t.Fatalf("state %v, want %v", h.f.state, s)
	}
}

func (h *fsmHarness) in(code Code, id byte, data []byte) {
	h.t.Helper()
	if err := h.f.input(code, id, data); err != nil {
		h.t.Fatalf("input(%v, %d, % x) = %v", code, id, data, err)
	}
}

// peerReq is a Configure-Request from the peer: Auth PAP.
var peerReq = []byte{3, 4, 0xc0, 0x23}

func TestFSMOpenUpSendsRequest(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.f.Open()
	h.wantState(stStarting)
	h.none()
	// Packets before Up are discarded (RFC 1661 4.1: Starting).
	h.in(CodeConfReq, 1, peerReq)
	h.in(CodeTermReq, 1, nil)
	h.none()
	h.f.Up()
	h.wantState(stReqSent)
	p := h.only(CodeConfReq)
	if !bytes.Equal(p.data, testReq) || !h.f.timerOn {
		t.Errorf("request % x, timer %v", p.data, h.f.timerOn)
	}

	// Up before Open: Closed, then Open sends.
	h = newHarness(t, fsmConfig{})
	h.f.Up()
	h.wantState(stClosed)
	h.none()
	h.f.Open()
	h.wantState(stReqSent)
	h.only(CodeConfReq)
}

func TestFSMAckThenRequestOpens(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stAckRcvd)
	if h.l.acks != 1 || h.l.ups != 0 {
		t.Fatalf("acks %d ups %d", h.l.acks, h.l.ups)
	}
	h.none()
	h.in(CodeConfReq, 9, peerReq)
	h.wantState(stOpened)
	ack := h.only(CodeConfAck)
	if ack.id != 9 || !bytes.Equal(ack.data, peerReq) {
		t.Errorf("Ack id %d data % x", ack.id, ack.data)
	}
	if h.l.ups != 1 || h.l.downs != 0 || h.f.timerOn || !h.f.Opened() {
		t.Errorf("ups %d downs %d timer %v", h.l.ups, h.l.downs, h.f.timerOn)
	}
}

func TestFSMRequestThenAckOpens(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfReq, 9, peerReq)
	h.wantState(stAckSent)
	h.only(CodeConfAck)
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stOpened)
	h.none()
	if h.l.ups != 1 || h.l.acks != 1 || h.f.timerOn {
		t.Errorf("ups %d acks %d timer %v", h.l.ups, h.l.acks, h.f.timerOn)
	}
}

func TestFSMBadRequestIsNakked(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.l.checkFn = func([]Option, bool) (Code, []byte) { return CodeConfNak, []byte{3, 4, 0xc0, 0x23} }
	h.start()
	h.in(CodeConfReq, 4, []byte{3, 4, 0xc2, 0x27})
	h.wantState(stReqSent)
	nak := h.only(CodeConfNak)
	if nak.id != 4 || !bytes.Equal(nak.data, []byte{3, 4, 0xc0, 0x23}) {
		t.Errorf("Nak id %d data % x", nak.id, nak.data)
	}
	// RCR- in Ack-Sent goes back to Req-Sent.
	h.l.checkFn = nil
	h.in(CodeConfReq, 5, peerReq)
	h.wantState(stAckSent)
	h.take()
	h.l.checkFn = func([]Option, bool) (Code, []byte) { return CodeConfRej, []byte{7, 2} }
	h.in(CodeConfReq, 6, []byte{7, 2})
	h.wantState(stReqSent)
	if rej := h.only(CodeConfRej); rej.id != 6 {
		t.Errorf("Reject id %d", rej.id)
	}
}

func TestFSMMaxFailure(t *testing.T) {
	const maxFailure = 3
	h := newHarness(t, fsmConfig{MaxFailure: maxFailure})
	h.l.checkFn = func(_ []Option, failuresLeft bool) (Code, []byte) {
		if failuresLeft {
			return CodeConfNak, []byte{3, 4, 0xc0, 0x23}
		}
		return CodeConfRej, []byte{3, 4, 0xc2, 0x27}
	}
	h.start()
	for i := range maxFailure + 2 {
		h.in(CodeConfReq, byte(10+i), []byte{3, 4, 0xc2, 0x27})
	}
	want := []bool{true, true, true, false, false}
	if len(h.l.failuresLeft) != len(want) {
		t.Fatalf("failuresLeft %v, want %v", h.l.failuresLeft, want)
	}
	for i := range want {
		if h.l.failuresLeft[i] != want[i] {
			t.Fatalf("failuresLeft %v, want %v", h.l.failuresLeft, want)
		}
	}
	var codes []Code
	for _, p := range h.take() {
		codes = append(codes, p.code)
	}
	if len(codes) != 5 || codes[2] != CodeConfNak || codes[3] != CodeConfRej || codes[4] != CodeConfRej {
		t.Errorf("sent %v", codes)
	}
}

func TestFSMMaxFailureResetWhenOpened(t *testing.T) {
	h := newHarness(t, fsmConfig{MaxFailure: 2})
	nak := true
	h.l.checkFn = func(opts []Option, _ bool) (Code, []byte) {
		if nak {
			return CodeConfNak, []byte{3, 4, 0xc0, 0x23}
		}
		return CodeConfAck, AppendOption(nil, opts[0].Type, opts[0].Data)
	}
	req := h.start()
	h.in(CodeConfReq, 1, peerReq)
	nak = false
	h.in(CodeConfReq, 2, peerReq)
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stOpened)
	// The peer renegotiates: a fresh count of failures.
	nak = true
	h.in(CodeConfReq, 3, peerReq)
	h.in(CodeConfReq, 4, peerReq)
	if got := h.l.failuresLeft; len(got) != 4 || !got[2] || !got[3] {
		t.Errorf("failuresLeft %v: the count was not reset when the layer opened", got)
	}
}

func TestFSMTimeoutResendsSameID(t *testing.T) {
	const maxConf = 4
	h := newHarness(t, fsmConfig{MaxConfigure: maxConf})
	req := h.start()
	gen := h.f.timerGen
	for i := 1; i < maxConf; i++ {
		if !h.f.timerOn {
			t.Fatalf("timer off after %d requests", i)
		}
		h.f.timeout()
		p := h.only(CodeConfReq)
		if p.id != req.id || !bytes.Equal(p.data, req.data) {
			t.Fatalf("retransmission %d: id %d data % x, want id %d data % x", i, p.id, p.data, req.id, req.data)
		}
		if h.f.attempt != i+1 || h.f.timerGen == gen {
			t.Fatalf("retransmission %d: attempt %d, timer not restarted", i, h.f.attempt)
		}
		gen = h.f.timerGen
		h.wantState(stReqSent)
	}
	if h.l.finishes != 0 {
		t.Fatal("finished early")
	}
	h.f.timeout() // TO-
	h.none()
	h.wantState(stStopped)
	if h.l.finishes != 1 || !errors.Is(h.l.reason, ErrNoAnswer) {
		t.Fatalf("finished %d times with %v, want ErrNoAnswer", h.l.finishes, h.l.reason)
	}
	if h.f.timerOn {
		t.Error("timer still on")
	}
	// A stale timer does nothing.
	h.f.timeout()
	if h.l.finishes != 1 {
		t.Error("timeout with the timer off finished again")
	}
}

func TestFSMLateAckOfRetransmission(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.f.timeout()
	h.only(CodeConfReq)
	h.in(CodeConfReq, 7, peerReq)
	h.wantState(stAckSent)
	h.take()
	// The Ack of the first copy counts (same Identifier).
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stOpened)
	// The Ack of the retransmission is a duplicate: ignored, not a
	// renegotiation (regression: it used to leave Opened).
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stOpened)
	h.none()
	if h.l.ups != 1 || h.l.downs != 0 || h.l.acks != 1 {
		t.Errorf("ups %d downs %d acks %d", h.l.ups, h.l.downs, h.l.acks)
	}
}

// After an Ack, our request is retransmitted when the restart timer
// expires in Ack-Rcvd (RFC 1661 4.1: TO+ in Ack-Rcvd is scr, Req-Sent). The
// peer's Ack of that retransmission must count: otherwise the link can
// never open and the automaton gives up with "no answer" although the peer
// answers every request.
func TestFSMAckAfterRetransmissionInAckRcvd(t *testing.T) {
	h := newHarness(t, fsmConfig{MaxConfigure: 3})
	req := h.start()
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stAckRcvd)
	if !h.f.timerOn {
		t.Fatal("restart timer stopped in Ack-Rcvd")
	}
	h.f.timeout() // the peer's request was lost
	h.wantState(stReqSent)
	p := h.only(CodeConfReq)
	h.in(CodeConfAck, p.id, p.data) // the peer acks the retransmission
	h.wantState(stAckRcvd)
	h.in(CodeConfReq, 8, peerReq)
	h.wantState(stOpened)
	if h.l.ups != 1 || h.l.finishes != 0 {
		t.Errorf("ups %d finishes %d", h.l.ups, h.l.finishes)
	}
}

func TestFSMAckMismatchDiscarded(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfAck, req.id+1, req.data)
	h.wantState(stReqSent)
	h.in(CodeConfAck, req.id, []byte{1, 4, 0x05, 0xdc}) // different value
	h.wantState(stReqSent)
	h.in(CodeConfAck, req.id, nil) // options missing
	h.wantState(stReqSent)
	h.in(CodeConfAck, req.id, append(append([]byte(nil), req.data...), 7, 2)) // extra option
	h.wantState(stReqSent)
	h.none()
	if h.l.acks != 0 {
		t.Errorf("acked %d times", h.l.acks)
	}
	// Naks and Rejects with a stale id are discarded too.
	h.in(CodeConfNak, req.id-1, []byte{1, 4, 0x05, 0xdc})
	h.in(CodeConfRej, req.id+1, req.data)
	h.none()
	if h.l.naks != 0 || h.l.rejects != 0 {
		t.Errorf("naks %d rejects %d", h.l.naks, h.l.rejects)
	}
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stAckRcvd)
}

func TestFSMNakAndRejectSendNewRequest(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfNak, req.id, []byte{1, 4, 0x05, 0xdc})
	p := h.only(CodeConfReq)
	if p.id == req.id || h.l.naks != 1 {
		t.Errorf("request after Nak has id %d (old %d), naks %d", p.id, req.id, h.l.naks)
	}
	h.in(CodeConfRej, p.id, []byte{1, 4, 0x05, 0x78})
	p2 := h.only(CodeConfReq)
	if p2.id == p.id || h.l.rejects != 1 {
		t.Errorf("request after Reject has id %d (old %d), rejects %d", p2.id, p.id, h.l.rejects)
	}
	// The Ack of the superseded request no longer counts.
	h.in(CodeConfAck, p.id, p.data)
	h.wantState(stReqSent)
	// Malformed option lists are refused.
	if err := h.f.input(CodeConfNak, p2.id, []byte{1, 9}); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed Nak: %v", err)
	}
	if err := h.f.input(CodeConfReq, 3, []byte{1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed request: %v", err)
	}
	h.none()
}

func TestFSMRejectWeCannotDoWithout(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.l.rejectErr = errors.New("need that option")
	req := h.start()
	h.in(CodeConfRej, req.id, req.data)
	h.wantState(stStopped)
	h.none()
	if h.l.finishes != 1 || h.l.reason != h.l.rejectErr || h.f.timerOn {
		t.Errorf("finished %d with %v, timer %v", h.l.finishes, h.l.reason, h.f.timerOn)
	}
}

func openHarness(t *testing.T, cfg fsmConfig) (*fsmHarness, sentPkt) {
	h := newHarness(t, cfg)
	req := h.start()
	h.in(CodeConfReq, 1, peerReq)
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stOpened)
	h.take()
	return h, req
}

func TestFSMTerminateRequestInOpened(t *testing.T) {
	h, _ := openHarness(t, fsmConfig{})
	h.in(CodeTermReq, 0x33, []byte("bye now"))
	ack := h.only(CodeTermAck)
	if ack.id != 0x33 {
		t.Errorf("Terminate-Ack id %d", ack.id)
	}
	h.wantState(stStopping)
	if h.l.downs != 1 || h.l.finishes != 0 || !h.f.timerOn {
		t.Fatalf("downs %d finishes %d timer %v", h.l.downs, h.l.finishes, h.f.timerOn)
	}
	// A repeated Terminate-Request is acknowledged again.
	h.in(CodeTermReq, 0x34, nil)
	h.only(CodeTermAck)
	h.f.timeout()
	h.none()
	h.wantState(stStopped)
	var te *TerminatedError
	if h.l.finishes != 1 || !errors.As(h.l.reason, &te) || te.Proto != ProtoLCP || te.Message != "bye now" {
		t.Fatalf("finished %d with %#v", h.l.finishes, h.l.reason)
	}
	if got := te.Error(); got != `ppp: peer terminated LCP: "bye now"` {
		t.Errorf("Error() = %q", got)
	}
	if got := (&TerminatedError{Proto: ProtoIPCP}).Error(); got != "ppp: peer terminated IPCP" {
		t.Errorf("Error() = %q", got)
	}
	if want := []string{"up", "down", "finished"}; len(h.l.log) != 3 || h.l.log[1] != want[1] || h.l.log[2] != want[2] {
		t.Errorf("actions %v, want %v", h.l.log, want)
	}
}

func TestFSMTerminateRequestBeforeOpened(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfAck, req.id, req.data)
	h.wantState(stAckRcvd)
	h.in(CodeTermReq, 5, nil)
	if ack := h.only(CodeTermAck); ack.id != 5 {
		t.Errorf("Terminate-Ack id %d", ack.id)
	}
	h.wantState(stReqSent)
	if h.l.downs != 0 || h.l.finishes != 0 {
		t.Errorf("downs %d finishes %d", h.l.downs, h.l.finishes)
	}
}

func TestFSMCloseInOpened(t *testing.T) {
	h, _ := openHarness(t, fsmConfig{})
	h.f.Close(nil)
	h.wantState(stClosing)
	tr := h.only(CodeTermReq)
	if h.l.downs != 1 || !h.f.timerOn {
		t.Fatalf("downs %d timer %v", h.l.downs, h.f.timerOn)
	}
	// Configure-Requests are ignored while Closing.
	h.in(CodeConfReq, 9, peerReq)
	h.none()
	h.in(CodeTermAck, tr.id, nil)
	h.wantState(stClosed)
	if h.l.finishes != 1 || h.l.reason != nil || h.f.timerOn {
		t.Fatalf("finished %d with %v, timer %v", h.l.finishes, h.l.reason, h.f.timerOn)
	}
	// In Closed, a Configure-Request is answered with Terminate-Ack.
	h.in(CodeConfReq, 10, peerReq)
	if ack := h.only(CodeTermAck); ack.id != 10 {
		t.Errorf("Terminate-Ack id %d", ack.id)
	}
}

func TestFSMCloseTimesOut(t *testing.T) {
	h, _ := openHarness(t, fsmConfig{MaxTerminate: 3})
	reason := errors.New("going away")
	h.f.Close(reason)
	h.only(CodeTermReq)
	for range 2 {
		h.f.timeout()
		h.only(CodeTermReq)
	}
	h.f.timeout()
	h.none()
	h.wantState(stClosed)
	if h.l.finishes != 1 || h.l.reason != reason {
		t.Errorf("finished %d with %v, want %v", h.l.finishes, h.l.reason, reason)
	}
}

func TestFSMCloseBeforeOpened(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.f.Open()
	h.f.Close(ErrClosed) // Starting: nothing sent
	h.wantState(stInitial)
	h.none()
	if h.l.finishes != 1 || h.l.reason != ErrClosed {
		t.Errorf("finished %d with %v", h.l.finishes, h.l.reason)
	}

	h = newHarness(t, fsmConfig{})
	h.start()
	h.f.Close(nil)
	h.wantState(stClosing)
	h.only(CodeTermReq)
	if h.l.downs != 0 {
		t.Error("down() called for a layer that was never up")
	}
}

func TestFSMDownAndUpAgain(t *testing.T) {
	h, req := openHarness(t, fsmConfig{})
	h.f.Down()
	h.wantState(stStarting)
	if h.l.downs != 1 {
		t.Fatalf("downs %d", h.l.downs)
	}
	h.f.Up()
	h.wantState(stReqSent)
	if p := h.only(CodeConfReq); p.id == req.id {
		t.Error("new negotiation reused the old Identifier")
	}
}

func TestFSMRenegotiationInOpened(t *testing.T) {
	h, req := openHarness(t, fsmConfig{})
	h.in(CodeConfReq, 20, peerReq)
	h.wantState(stAckSent)
	s := h.take()
	if len(s) != 2 || s[0].code != CodeConfReq || s[1].code != CodeConfAck || s[0].id == req.id {
		t.Fatalf("sent %v, want a new Configure-Request then Configure-Ack", s)
	}
	if h.l.downs != 1 {
		t.Errorf("downs %d", h.l.downs)
	}
	h.in(CodeConfAck, s[0].id, s[0].data)
	h.wantState(stOpened)
	if h.l.ups != 2 {
		t.Errorf("ups %d", h.l.ups)
	}
}

func TestFSMCodeReject(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.start()
	h.in(CodeCodeRej, 3, []byte{byte(CodeConfReq), 2, 0, 4})
	h.wantState(stStopped)
	if h.l.finishes != 1 || !errors.Is(h.l.reason, ErrProtocol) {
		t.Errorf("finished %d with %v, want ErrProtocol", h.l.finishes, h.l.reason)
	}

	// A rejected Echo-Request code is permitted (RXJ+).
	h = newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfAck, req.id, req.data)
	h.in(CodeCodeRej, 3, []byte{byte(CodeEchoReq), 2, 0, 8, 0, 0, 0, 0})
	h.wantState(stReqSent)
	h.in(CodeCodeRej, 4, []byte{byte(CodeDiscard)})
	h.wantState(stReqSent)
	if h.l.finishes != 0 {
		t.Error("permitted Code-Reject finished the layer")
	}

	// In Opened, a catastrophic Code-Reject terminates the link.
	h, _ = openHarness(t, fsmConfig{})
	h.in(CodeCodeRej, 3, []byte{byte(CodeTermReq)})
	h.wantState(stStopping)
	h.only(CodeTermReq)
	if h.l.downs != 1 {
		t.Errorf("downs %d", h.l.downs)
	}
	for h.f.timerOn {
		h.f.timeout()
	}
	if h.l.finishes != 1 || !errors.Is(h.l.reason, ErrProtocol) {
		t.Errorf("finished %d with %v", h.l.finishes, h.l.reason)
	}
}

func TestFSMUnknownCode(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	h.start()
	for _, c := range []Code{0, CodeProtoRej, CodeEchoReq, CodeEchoReply, CodeDiscard, 12, 255} {
		if err := h.f.input(c, 1, nil); !errors.Is(err, errUnknownCode) {
			t.Errorf("input(%v) = %v, want errUnknownCode", c, err)
		}
	}
	h.none()
	h.wantState(stReqSent)
}

func TestFSMTerminateAckInAckRcvdAndOpened(t *testing.T) {
	h := newHarness(t, fsmConfig{})
	req := h.start()
	h.in(CodeConfAck, req.id, req.data)
	h.in(CodeTermAck, 1, nil)
	h.wantState(stReqSent)

	h, req = openHarness(t, fsmConfig{})
	h.in(CodeTermAck, 1, nil) // RTA in Opened: renegotiate
	h.wantState(stReqSent)
	if p := h.only(CodeConfReq); p.id == req.id || h.l.downs != 1 {
		t.Errorf("request id %d, downs %d", p.id, h.l.downs)
	}
}

func TestFSMStateNames(t *testing.T) {
	for s := stInitial; s <= stOpened; s++ {
		if s.String() == "" {
			t.Errorf("state %d has no name", s)
		}
	}
	if stAckRcvd.String() != "Ack-Rcvd" {
		t.Error(stAckRcvd.String())
	}
}
