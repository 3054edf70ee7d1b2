package l2tp

import (
	"errors"
	"time"
)

// ErrRetriesExceeded is returned by Reliable.Poll once a control message has
// been retransmitted ReliableConfig.MaxRetries times without being
// acknowledged. RFC 2661 section 5.8 says the tunnel must then be cleaned up.
var ErrRetriesExceeded = errors.New("l2tp: peer stopped acknowledging control messages")

// Defaults for ReliableConfig fields left zero.
const (
	defaultPeerWindow     = 4 // 5.8: a peer that sends no Receive Window Size AVP has a window of 4
	defaultRecvWindow     = 16
	defaultInitialTimeout = time.Second
	defaultMaxTimeout     = 8 * time.Second
	defaultMaxRetries     = 5
	defaultAckDelay       = 200 * time.Millisecond

	// minMaxTimeout is the smallest backoff cap allowed: 5.8 requires the
	// cap on the retransmission interval to be no less than 8 seconds.
	minMaxTimeout = 8 * time.Second
)

// ReliableConfig parameterises a Reliable engine. Zero fields take defaults.
type ReliableConfig struct {
	// PeerWindow is the peer's Receive Window Size (5.8): the most
	// unacknowledged messages we may have outstanding. Default 4 when 0.
	// It can be changed later with SetPeerWindow once the SCCRP arrives.
	PeerWindow uint16
	// RecvWindow is our own window: how many out-of-order messages are
	// buffered while waiting for a gap to fill (default 16). It should be
	// the value advertised in our Receive Window Size AVP.
	RecvWindow uint16
	// InitialTimeout is the delay before the first retransmission
	// (default 1s).
	InitialTimeout time.Duration
	// MaxTimeout caps the exponential backoff (default 8s). Values below
	// 8s are raised to 8s, the minimum cap allowed by 5.8.
	MaxTimeout time.Duration
	// MaxRetries is how many times one message is retransmitted before
	// Poll reports ErrRetriesExceeded (default 5).
	MaxRetries int
	// AckDelay is how long to wait for an outgoing message to piggyback
	// Nr on before sending a ZLB acknowledgement. 0 means the default of
	// 200ms; a negative value means acknowledge immediately.
	AckDelay time.Duration
}

// sent is a control message that has been given an Ns and transmitted at
// least once, and is waiting to be acknowledged.
type sent struct {
	frame   []byte
	ns      uint16
	retries int           // retransmissions so far
	timeout time.Duration // current retransmission interval
	due     time.Time     // when the next retransmission is due
}

// Reliable is the reliable-delivery engine of one control connection (RFC
// 2661 section 5.8). It is a pure state machine: it starts no goroutines and
// reads no clock. The caller feeds it arriving control frames (Receive),
// outgoing control messages (Queue) and the current time (Poll), and
// transmits whatever Poll returns. Call Poll after every Receive or Queue and
// again at the time Poll last asked for.
//
// Slow start and congestion avoidance (appendix A) are not implemented: the
// sender keeps up to the peer's full Receive Window Size in flight. 5.8 leaves
// them optional, and control traffic is a handful of messages.
//
// A Reliable is not safe for concurrent use.
type Reliable struct {
	// cfg is the configuration in effect, defaults applied: AckDelay is
	// 0 for "immediately", PeerWindow follows SetPeerWindow.
	cfg ReliableConfig

	peerTunnelID uint16

	// Sending side.
	queue    [][]byte // queued, not yet given an Ns
	inflight []sent   // sent and unacknowledged, in Ns order, consecutive Ns
	nextNs   uint16   // Ns of the next new message
	err      error    // sticky ErrRetriesExceeded

	// Receiving side.
	nextNr  uint16   // Ns we expect next; the Nr we send
	ooo     [][]byte // ring of out-of-order messages; ooo[(head+d)%len] holds Ns nextNr+d
	oooHead int

	ackPending bool      // an acknowledgement is owed to the peer
	ackAt      time.Time // when to send it as a ZLB if nothing piggybacks it

	// Poll's output buffers, reused across calls.
	out [][]byte
	zlb []byte
}

// NewReliable returns an engine with nothing queued, Ns and Nr both 0 as
// required for the first message of a control connection (5.8).
func NewReliable(cfg ReliableConfig) *Reliable {
	if cfg.PeerWindow == 0 {
		cfg.PeerWindow = defaultPeerWindow
	}
	if cfg.RecvWindow == 0 {
		cfg.RecvWindow = defaultRecvWindow
	}
	if cfg.RecvWindow > 1<<15 {
		// Beyond half the sequence space "before" and "after" are
		// ambiguous (5.8 compares sequence numbers modulo 2^16).
		cfg.RecvWindow = 1 << 15
	}
	if cfg.InitialTimeout <= 0 {
		cfg.InitialTimeout = defaultInitialTimeout
	}
	if cfg.MaxTimeout == 0 {
		cfg.MaxTimeout = defaultMaxTimeout
	}
	if cfg.MaxTimeout < minMaxTimeout {
		cfg.MaxTimeout = minMaxTimeout
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = defaultMaxRetries
	}
	switch {
	case cfg.AckDelay == 0:
		cfg.AckDelay = defaultAckDelay
	case cfg.AckDelay < 0:
		cfg.AckDelay = 0
	}
	return &Reliable{
		cfg: cfg,
		ooo: make([][]byte, cfg.RecvWindow),
		zlb: make([]byte, 0, ControlHeaderLen),
	}
}

// SetPeerWindow sets the peer's Receive Window Size, normally from the
// Receive Window Size AVP of its SCCRQ or SCCRP (5.8). 0 selects the default
// of 4. Frames already in flight are unaffected; a smaller window just delays
// new ones.
func (r *Reliable) SetPeerWindow(n uint16) {
	if n == 0 {
		n = defaultPeerWindow
	}
	r.cfg.PeerWindow = n
}

// SetPeerTunnelID sets the tunnel ID written into ZLB acknowledgements (the
// peer's Assigned Tunnel ID). Until it is called ZLBs carry tunnel ID 0.
func (r *Reliable) SetPeerTunnelID(id uint16) { r.peerTunnelID = id }

// Queue adds a control frame built with AppendControl to the send queue. The
// caller sets the tunnel and session IDs; the engine writes Ns and Nr when
// the frame is sent. The engine owns frame afterwards and rewrites its Ns and
// Nr fields in place.
func (r *Reliable) Queue(frame []byte) {
	if len(frame) < ControlHeaderLen {
		panic("l2tp: Reliable.Queue: frame shorter than a control header")
	}
	r.queue = append(r.queue, frame)
}

// seqBefore reports whether sequence number a comes before b in the modulo
// 2^16 ordering of 5.8: b-a, taken as a signed 16-bit number, is positive.
func seqBefore(a, b uint16) bool { return int16(a-b) < 0 }

// Receive processes the sequence fields of an arriving control frame. h is
// the frame's header as returned by ParseHeader and frame the whole
// datagram.
//
// Nr acknowledges every outstanding message with Ns before it (5.8). The
// returned messages are those now deliverable in order: frame itself if it
// carries the expected Ns, followed by any buffered messages whose gap it
// filled. Each is a copy of the whole frame that the caller owns. A ZLB (no
// payload after the header) only acknowledges and is never delivered. A
// duplicate (Ns before the expected one) is not delivered, but an immediate
// ZLB acknowledgement is scheduled because the peer evidently lost ours. A
// message ahead of the expected one is buffered if it falls within
// RecvWindow and dropped otherwise.
//
// Call Poll afterwards: an acknowledgement may be due, or the peer's window
// may have opened for queued messages.
func (r *Reliable) Receive(now time.Time, h Header, frame []byte) (deliver [][]byte) {
	if !h.Control || !h.HasSeq {
		return nil
	}
	r.ack(h.Nr)

	if r.isZLB(h, frame) {
		// 5.8: a ZLB carries the next Ns its sender would use but does
		// not consume it; there is nothing to deliver or acknowledge.
		return nil
	}

	d := h.Ns - r.nextNr // distance ahead of the expected Ns, modulo 2^16
	switch {
	case seqBefore(h.Ns, r.nextNr):
		// 5.8: a duplicate must still be acknowledged; our earlier
		// acknowledgement was probably lost. Do it now, not after AckDelay.
		r.scheduleAck(now, true)
		return nil
	case d == 0:
		deliver = append(deliver, clone(frame))
		r.advance()
		for r.ooo[r.oooHead] != nil {
			deliver = append(deliver, r.ooo[r.oooHead])
			r.advance()
		}
		r.scheduleAck(now, false)
		return deliver
	case int(d) < len(r.ooo):
		i := (r.oooHead + int(d)) % len(r.ooo)
		if r.ooo[i] == nil {
			r.ooo[i] = clone(frame)
		}
		// No selective acknowledgement exists; the delayed ack of
		// what we have in order is all the peer can be told.
		r.scheduleAck(now, false)
		return nil
	default:
		// Beyond our receive window: the peer overran the window we
		// advertised. Drop it; it will be retransmitted.
		return nil
	}
}

// isZLB reports whether frame is a Zero-Length Body message: a control
// header with no AVPs after it (5.8).
func (r *Reliable) isZLB(h Header, frame []byte) bool {
	end := len(frame)
	if h.HasLength && int(h.Length) < end {
		end = int(h.Length)
	}
	hdr := ControlHeaderLen
	if h.HasOffset {
		hdr += 2 + int(h.OffsetSize)
	}
	return end <= hdr
}

// advance consumes the expected Ns: the receive window slides by one.
func (r *Reliable) advance() {
	r.ooo[r.oooHead] = nil
	r.oooHead = (r.oooHead + 1) % len(r.ooo)
	r.nextNr++
}

// scheduleAck records that the peer is owed an acknowledgement, due after
// AckDelay or, if now is set, immediately. An earlier deadline is kept.
func (r *Reliable) scheduleAck(now time.Time, immediately bool) {
	at := now
	if !immediately {
		at = now.Add(r.cfg.AckDelay)
	}
	if !r.ackPending || at.Before(r.ackAt) {
		r.ackAt = at
	}
	r.ackPending = true
}

// ack removes from the in-flight list every message acknowledged by nr, that
// is every message with Ns before nr (5.8). An nr older than what is already
// acknowledged (a reordered frame) or acknowledging messages never sent is
// ignored.
func (r *Reliable) ack(nr uint16) {
	if len(r.inflight) == 0 {
		return
	}
	k := int(nr - r.inflight[0].ns) // messages acknowledged, modulo 2^16
	if k == 0 || k > len(r.inflight) {
		return
	}
	n := copy(r.inflight, r.inflight[k:])
	for i := n; i < len(r.inflight); i++ {
		r.inflight[i] = sent{} // release the frame
	}
	r.inflight = r.inflight[:n]
}

// Poll returns the frames to transmit at now, with Ns and Nr filled in:
// retransmissions that are due, new messages the peer's window admits, and a
// ZLB acknowledgement if one is due and no other frame carries the current
// Nr. next is when Poll wants to be called again, or the zero time if nothing
// is pending; Receive and Queue may make it earlier.
//
// Retransmissions follow 5.8: the first comes InitialTimeout after the
// original transmission, each further one after twice the previous interval,
// capped at MaxTimeout. Each message keeps its own timer and retry count; a
// retransmission of one message does not restart the timers of others.
// Retransmissions carry the current Nr. Once a message has been
// retransmitted MaxRetries times and its next retransmission falls due
// without an acknowledgement, Poll returns ErrRetriesExceeded, and does so on
// every later call.
//
// The returned slice and the frames in it alias the engine's storage and are
// valid only until the next call to Poll. When there is nothing to send Poll
// does not allocate.
func (r *Reliable) Poll(now time.Time) (out [][]byte, next time.Time, err error) {
	if r.err != nil {
		return nil, time.Time{}, r.err
	}
	out = r.out[:0]
	sentNr := false

	for i := range r.inflight {
		s := &r.inflight[i]
		if now.Before(s.due) {
			continue
		}
		if s.retries >= r.cfg.MaxRetries {
			r.err = ErrRetriesExceeded
			r.out = out[:0]
			return nil, time.Time{}, r.err
		}
		s.retries++
		s.timeout *= 2
		if s.timeout > r.cfg.MaxTimeout {
			s.timeout = r.cfg.MaxTimeout
		}
		s.due = now.Add(s.timeout)
		SetNsNr(s.frame, s.ns, r.nextNr)
		out = append(out, s.frame)
		sentNr = true
	}

	// 5.8: no more than the peer's Receive Window Size of messages may be
	// outstanding.
	for len(r.queue) > 0 && len(r.inflight) < int(r.cfg.PeerWindow) {
		f := r.queue[0]
		n := copy(r.queue, r.queue[1:])
		r.queue[n] = nil
		r.queue = r.queue[:n]

		SetNsNr(f, r.nextNs, r.nextNr)
		r.inflight = append(r.inflight, sent{
			frame:   f,
			ns:      r.nextNs,
			timeout: r.cfg.InitialTimeout,
			due:     now.Add(r.cfg.InitialTimeout),
		})
		r.nextNs++
		out = append(out, f)
		sentNr = true
	}

	if sentNr {
		// The current Nr went out piggybacked; no ZLB is needed.
		r.ackPending = false
	} else if r.ackPending && !now.Before(r.ackAt) {
		// 5.8: a ZLB carries the next Ns we will send but does not
		// consume it, and is itself never acknowledged or retransmitted.
		r.zlb = AppendControl(r.zlb[:0], r.peerTunnelID, 0, r.nextNs, r.nextNr, nil)
		out = append(out, r.zlb)
		r.ackPending = false
	}

	for i := range r.inflight {
		if next.IsZero() || r.inflight[i].due.Before(next) {
			next = r.inflight[i].due
		}
	}
	if r.ackPending && (next.IsZero() || r.ackAt.Before(next)) {
		next = r.ackAt
	}
	r.out = out
	return out, next, nil
}

// Idle reports whether every queued message has been sent and acknowledged.
// An acknowledgement owed to the peer does not count: poll until its time if
// the peer's last message must be acknowledged (for example after StopCCN).
func (r *Reliable) Idle() bool { return len(r.queue) == 0 && len(r.inflight) == 0 }

// AckPending reports whether an acknowledgement is owed to the peer and has
// not been sent yet.
func (r *Reliable) AckPending() bool { return r.ackPending }

// NextNs returns the Ns the next new message will carry.
func (r *Reliable) NextNs() uint16 { return r.nextNs }

// NextNr returns the Ns expected next from the peer, the Nr we send.
func (r *Reliable) NextNr() uint16 { return r.nextNr }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
