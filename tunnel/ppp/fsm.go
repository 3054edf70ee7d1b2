package ppp

import (
	"bytes"
	"fmt"
)

// state is a state of the option negotiation automaton (RFC 1661 4.2).
type state uint8

const (
	stInitial state = iota
	stStarting
	stClosed
	stStopped
	stClosing
	stStopping
	stReqSent
	stAckRcvd
	stAckSent
	stOpened
)

var stateNames = [...]string{"Initial", "Starting", "Closed", "Stopped", "Closing",
	"Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"}

func (s state) String() string { return stateNames[s] }

// layer is what a control protocol (LCP, IPCP) plugs into the automaton:
// its options and the this-layer actions of RFC 1661 4.4.
type layer interface {
	// request appends the options of our next Configure-Request.
	request(b []byte) []byte
	// check classifies the peer's Configure-Request (RFC 1661 5.1-5.4) and
	// returns the reply code (Ack, Nak or Rej) and its options, or code 0
	// when the layer has closed the automaton instead of replying.
	check(opts []Option, failuresLeft bool) (Code, []byte)
	// acked is called with a valid Configure-Ack's options.
	acked(opts []Option)
	// nakked adjusts our next request after a Configure-Nak.
	nakked(opts []Option)
	// rejected removes options the peer rejected; an error means we cannot
	// do without one of them and the layer must finish.
	rejected(opts []Option) error
	up()
	down()
	finished(reason error)
}

// fsmConfig holds the counters of RFC 1661 4.6.
type fsmConfig struct {
	MaxConfigure int // default 10
	MaxTerminate int // default 2
	MaxFailure   int // default 5
}

// fsm is the option negotiation automaton of RFC 1661 section 4, shared by
// LCP and IPCP. It is driven by one goroutine; it keeps no clock: a restart
// timer is "running" when timerOn is true and the owner calls timeout()
// when it fires, using attempt to compute a backoff.
type fsm struct {
	proto Protocol
	cfg   fsmConfig
	l     layer
	send  func(proto Protocol, pkt []byte)

	state    state
	restarts int  // restart counter (4.6)
	failures int  // Configure-Naks sent since the last Ack (Max-Failure)
	attempt  int  // requests sent since the last irc, for timer backoff
	timerOn  bool // restart timer running
	timerGen int  // bumped whenever the restart timer is (re)started
	reqID    byte // identifier of our outstanding Configure-Request / Terminate-Request
	reqAcked bool // the request with reqID has been acknowledged
	nextID   byte
	lastReq  []byte // options of our outstanding Configure-Request
	scratch  []byte
	reason   error // why we are closing, handed to finished()
}

func newFSM(proto Protocol, cfg fsmConfig, l layer, send func(Protocol, []byte)) *fsm {
	if cfg.MaxConfigure <= 0 {
		cfg.MaxConfigure = 10
	}
	if cfg.MaxTerminate <= 0 {
		cfg.MaxTerminate = 2
	}
	if cfg.MaxFailure <= 0 {
		cfg.MaxFailure = 5
	}
	return &fsm{proto: proto, cfg: cfg, l: l, send: send, nextID: 1}
}

// Up is the lower layer being ready (RFC 1661 4.1 "Up").
func (f *fsm) Up() {
	switch f.state {
	case stInitial:
		f.state = stClosed
	case stStarting:
		f.irc(f.cfg.MaxConfigure)
		f.scr()
		f.state = stReqSent
	}
}

// Down is the lower layer going away.
func (f *fsm) Down() {
	switch f.state {
	case stClosed, stClosing:
		f.state = stInitial
	case stStopped, stStopping, stReqSent, stAckRcvd, stAckSent:
		f.timerOn = false
		f.state = stStarting
	case stOpened:
		f.l.down()
		f.state = stStarting
	}
}

// Open is the administrative Open event.
func (f *fsm) Open() {
	switch f.state {
	case stInitial:
		f.state = stStarting
	case stClosed:
		f.irc(f.cfg.MaxConfigure)
		f.scr()
		f.state = stReqSent
	case stClosing:
		f.state = stStopping
	}
}

// Close is the administrative Close event; reason is reported by finished().
func (f *fsm) Close(reason error) {
	f.reason = reason
	switch f.state {
	case stStarting:
		f.state = stInitial
		f.l.finished(reason)
	case stStopped:
		f.state = stClosed
	case stStopping:
		f.state = stClosing
	case stReqSent, stAckRcvd, stAckSent:
		f.irc(f.cfg.MaxTerminate)
		f.str()
		f.state = stClosing
	case stOpened:
		f.l.down()
		f.irc(f.cfg.MaxTerminate)
		f.str()
		f.state = stClosing
	}
}

// timeout is the restart timer expiring (TO+ or TO-).
func (f *fsm) timeout() {
	if !f.timerOn {
		return
	}
	f.timerOn = false
	if f.restarts > 0 { // TO+
		switch f.state {
		case stClosing, stStopping:
			f.str()
		case stReqSent, stAckRcvd:
			f.resend()
			f.state = stReqSent
		case stAckSent:
			f.resend()
		}
		return
	}
	switch f.state { // TO-
	case stClosing:
		f.state = stClosed
		f.l.finished(f.reasonOr(nil))
	case stStopping:
		f.state = stStopped
		f.l.finished(f.reasonOr(nil))
	case stReqSent, stAckRcvd, stAckSent:
		f.state = stStopped
		f.l.finished(f.reasonOr(fmt.Errorf("%v: %w", f.proto, ErrNoAnswer)))
	}
}

func (f *fsm) reasonOr(err error) error {
	if f.reason != nil {
		return f.reason
	}
	return err
}

// input handles one received control packet of this protocol. It returns
// false for codes the automaton does not know, which the caller handles
// (Echo, Discard for LCP) or answers with Code-Reject.
func (f *fsm) input(code Code, id byte, data []byte) error {
	if f.state == stInitial || f.state == stStarting {
		return nil // RFC 1661 4.1: no packets expected; discard
	}
	switch code {
	case CodeConfReq:
		opts, err := ParseOptions(data)
		if err != nil {
			return err
		}
		f.rcr(id, opts)
	case CodeConfAck:
		if id != f.reqID || !bytes.Equal(data, f.lastReq) || f.reqAcked {
			// RFC 1661 5.2: an Ack not matching the outstanding request is
			// discarded; so is a second Ack of the same request, which a
			// retransmission with an unchanged Identifier can cause.
			return nil
		}
		f.reqAcked = true
		opts, _ := ParseOptions(data)
		f.rca(opts)
	case CodeConfNak, CodeConfRej:
		if id != f.reqID {
			return nil
		}
		opts, err := ParseOptions(data)
		if err != nil {
			return err
		}
		if code == CodeConfNak {
			f.l.nakked(opts)
		} else if err := f.l.rejected(opts); err != nil {
			f.rxjMinus(err)
			return nil
		}
		f.rcn()
	case CodeTermReq:
		f.rtr(id, data)
	case CodeTermAck:
		f.rta()
	case CodeCodeRej:
		// RFC 1661 5.6: a rejected Configure/Terminate code is catastrophic.
		if len(data) >= 1 && Code(data[0]) >= CodeConfReq && Code(data[0]) <= CodeTermAck {
			f.rxjMinus(fmt.Errorf("%v: peer rejected code %v: %w", f.proto, Code(data[0]), ErrProtocol))
		} else if f.state == stAckRcvd {
			f.state = stReqSent
		}
	default:
		return errUnknownCode
	}
	return nil
}

func (f *fsm) rcr(id byte, opts []Option) {
	switch f.state {
	case stClosed:
		f.sendPkt(CodeTermAck, id, nil)
		return
	case stClosing, stStopping:
		return
	}
	code, reply := f.l.check(opts, f.failures < f.cfg.MaxFailure)
	if code == 0 {
		return // the layer ended the negotiation itself: no reply
	}
	if code == CodeConfNak {
		f.failures++
	}
	good := code == CodeConfAck
	switch f.state {
	case stStopped:
		f.irc(f.cfg.MaxConfigure)
		f.scr()
		f.sendPkt(code, id, reply)
		f.state = stReqSent
		if good {
			f.state = stAckSent
		}
	case stReqSent, stAckSent:
		f.sendPkt(code, id, reply)
		f.state = stReqSent
		if good {
			f.state = stAckSent
		}
	case stAckRcvd:
		f.sendPkt(code, id, reply)
		if good {
			f.failures = 0
			f.state = stOpened
			f.timerOn = false
			f.l.up()
		}
	case stOpened:
		f.l.down()
		f.irc(f.cfg.MaxConfigure)
		f.scr()
		f.sendPkt(code, id, reply)
		f.state = stReqSent
		if good {
			f.state = stAckSent
		}
	}
}

func (f *fsm) rca(opts []Option) {
	switch f.state {
	case stClosed, stStopped:
		f.sendPkt(CodeTermAck, f.reqID, nil)
	case stReqSent:
		f.l.acked(opts)
		f.irc(f.cfg.MaxConfigure)
		// The restart timer keeps running in Ack-Rcvd (RFC 1661 4.1, TO+
		// in Ack-Rcvd) so that a lost peer request is noticed.
		f.state = stAckRcvd
	case stAckRcvd: // crossed connection
		f.scr()
		f.state = stReqSent
	case stAckSent:
		f.l.acked(opts)
		f.irc(f.cfg.MaxConfigure)
		f.failures = 0
		f.state = stOpened
		f.timerOn = false
		f.l.up()
	case stOpened:
		f.l.down()
		f.scr()
		f.state = stReqSent
	}
}

func (f *fsm) rcn() {
	switch f.state {
	case stClosed, stStopped:
		f.sendPkt(CodeTermAck, f.reqID, nil)
	case stReqSent, stAckSent:
		f.irc(f.cfg.MaxConfigure)
		f.scr()
	case stAckRcvd:
		f.scr()
		f.state = stReqSent
	case stOpened:
		f.l.down()
		f.scr()
		f.state = stReqSent
	}
}

func (f *fsm) rtr(id byte, data []byte) {
	switch f.state {
	case stReqSent, stAckRcvd, stAckSent:
		f.sendPkt(CodeTermAck, id, nil)
		f.state = stReqSent
	case stOpened:
		if f.reason == nil {
			f.reason = &TerminatedError{Proto: f.proto, Message: string(data)}
		}
		f.l.down()
		f.restarts = 0
		f.sendPkt(CodeTermAck, id, nil)
		// zrc: wait one restart period in Stopping before finishing.
		f.attempt = 0
		f.startTimer()
		f.state = stStopping
	default:
		f.sendPkt(CodeTermAck, id, nil)
	}
}

func (f *fsm) rta() {
	switch f.state {
	case stClosing:
		f.timerOn = false
		f.state = stClosed
		f.l.finished(f.reasonOr(nil))
	case stStopping:
		f.timerOn = false
		f.state = stStopped
		f.l.finished(f.reasonOr(nil))
	case stAckRcvd:
		f.state = stReqSent
	case stOpened:
		f.l.down()
		f.scr()
		f.state = stReqSent
	}
}

// rxjMinus is a catastrophic reject (RXJ-).
func (f *fsm) rxjMinus(err error) {
	f.reason = err
	switch f.state {
	case stClosed, stStopped:
		f.l.finished(err)
	case stClosing:
		f.state = stClosed
		f.timerOn = false
		f.l.finished(err)
	case stStopping, stReqSent, stAckRcvd, stAckSent:
		f.state = stStopped
		f.timerOn = false
		f.l.finished(err)
	case stOpened:
		f.l.down()
		f.irc(f.cfg.MaxTerminate)
		f.str()
		f.state = stStopping
	}
}

func (f *fsm) irc(n int) {
	f.restarts = n
	f.attempt = 0
}

func (f *fsm) scr() {
	f.nextID++
	f.reqID = f.nextID
	f.reqAcked = false
	f.lastReq = f.l.request(f.lastReq[:0])
	f.resend()
}

// resend retransmits the outstanding Configure-Request unchanged, with the
// same Identifier (RFC 1661 5.1 allows it), so that a late Ack of the
// first copy still counts. The copy is a request of its own: one Ack of it
// counts even after an earlier copy was acknowledged (TO+ in Ack-Rcvd).
func (f *fsm) resend() {
	f.reqAcked = false
	f.sendPkt(CodeConfReq, f.reqID, f.lastReq)
	f.restarts--
	f.attempt++
	f.startTimer()
}

func (f *fsm) startTimer() {
	f.timerOn = true
	f.timerGen++
}

func (f *fsm) str() {
	f.nextID++
	f.reqID = f.nextID
	f.sendPkt(CodeTermReq, f.reqID, nil)
	f.restarts--
	f.attempt++
	f.startTimer()
}

func (f *fsm) sendPkt(code Code, id byte, data []byte) {
	f.scratch = AppendCP(f.scratch[:0], code, id, data)
	f.send(f.proto, f.scratch)
}

// kill stops the automaton without sending anything (for a protocol the
// peer Protocol-Rejected, RFC 1661 5.7): This-Layer-Down if it was
// Opened, then Initial, where it ignores every packet and event but Up.
func (f *fsm) kill() {
	if f.state == stOpened {
		f.l.down()
	}
	f.timerOn = false
	f.state = stInitial
}

// Opened reports whether the layer is up.
func (f *fsm) Opened() bool { return f.state == stOpened }
