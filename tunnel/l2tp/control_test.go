package l2tp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The control tests run a Conn over ctlPipe, an in-memory Transport, against
// fakeLNS, a scripted server driven from the test goroutine. The fake parses
// what the Conn sends with ParseHeader and ParseMessage and answers with
// frames built by AppendControl and Message.AppendTo, keeping its own Ns and
// Nr.

// ctlConfig is the configuration of the control tests: short timers.
func ctlConfig() Config {
	return Config{
		HelloInterval: 100 * time.Millisecond,
		CloseTimeout:  200 * time.Millisecond,
		Reliable: ReliableConfig{
			InitialTimeout: 20 * time.Millisecond,
			MaxTimeout:     minMaxTimeout,
			AckDelay:       10 * time.Millisecond,
		},
	}
}

// ctlDatagram is one datagram the Conn wrote, with the time it did.
type ctlDatagram struct {
	b  []byte
	at time.Time
}

// ctlPipe is an in-memory Transport. ReadPacket blocks until the test
// injects a datagram (a nil one makes it return ErrDropped), an error, or
// Close; WritePacket copies buf[off:] to out.
type ctlPipe struct {
	in      chan []byte
	readErr chan error
	out     chan ctlDatagram
	closed  chan struct{}
	once    sync.Once
	inOff   int // where ReadPacket puts the datagram in buf
}

func newCtlPipe() *ctlPipe {
	return &ctlPipe{
		in:      make(chan []byte, 64),
		readErr: make(chan error, 1),
		out:     make(chan ctlDatagram, 1024),
		closed:  make(chan struct{}),
		inOff:   5, // an odd offset, as after a transport's own header
	}
}

func (p *ctlPipe) ReadPacket(buf []byte) (off, n int, err error) {
	select {
	case b := <-p.in:
		if b == nil {
			return 0, 0, ErrDropped
		}
		return p.inOff, copy(buf[p.inOff:], b), nil
	case err := <-p.readErr:
		return 0, 0, err
	case <-p.closed:
		return 0, 0, net.ErrClosed
	}
}

func (p *ctlPipe) WritePacket(buf []byte, off int) error {
	d := ctlDatagram{b: bytes.Clone(buf[off:]), at: time.Now()}
	select {
	case <-p.closed:
		return net.ErrClosed
	default:
	}
	select {
	case p.out <- d:
		return nil
	default:
		return errors.New("ctlPipe: output queue full")
	}
}

func (p *ctlPipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// ctlFrame is one datagram from the Conn as the fake saw it.
type ctlFrame struct {
	h   Header
	m   *Message // nil for a ZLB or a data message
	raw []byte
	at  time.Time // when the Conn wrote it
	dup bool      // a retransmission of a message already received
}

func (f ctlFrame) String() string {
	if !f.h.Control {
		return "data"
	}
	return f.m.String()
}

// fakeLNS is the scripted server.
type fakeLNS struct {
	t      *testing.T
	p      *ctlPipe
	secret []byte

	tid, sid         uint16 // the fake's tunnel and session IDs
	connTID, connSID uint16 // the Conn's, learned from SCCRQ and ICRQ
	ns, nr           uint16
	seen             []ctlFrame // every frame received, in order
}

// recv returns the next datagram from the Conn, or false after d.
func (f *fakeLNS) recv(d time.Duration) (ctlFrame, bool) {
	f.t.Helper()
	var dg ctlDatagram
	select {
	case dg = <-f.p.out:
	default:
		if d <= 0 {
			return ctlFrame{}, false
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case dg = <-f.p.out:
		case <-tm.C:
			return ctlFrame{}, false
		}
	}
	fr := ctlFrame{raw: dg.b, at: dg.at}
	h, off, end, err := ParseHeader(dg.b)
	if err != nil {
		f.t.Fatalf("fake LNS: bad header from the Conn: %v: % x", err, dg.b)
	}
	fr.h = h
	if !h.Control {
		f.seen = append(f.seen, fr)
		return fr, true
	}
	if end != len(dg.b) {
		f.t.Errorf("control frame Length %d, datagram %d octets", end, len(dg.b))
	}
	fr.m, err = ParseMessage(dg.b[off:end], f.secret)
	if err != nil {
		f.t.Fatalf("fake LNS: bad message from the Conn: %v: % x", err, dg.b)
	}
	if fr.m != nil {
		switch {
		case h.Ns == f.nr:
			f.nr++
		case seqBefore(h.Ns, f.nr):
			fr.dup = true
		default:
			f.t.Fatalf("fake LNS: %v with Ns %d, expected %d", fr.m.Type, h.Ns, f.nr)
		}
	}
	f.seen = append(f.seen, fr)
	return fr, true
}

// expect returns the next new control message, which must be of type typ.
// It skips ZLBs, data, retransmissions, and HELLOs (which it acknowledges)
// unless typ is MsgHello.
func (f *fakeLNS) expect(typ MsgType) ctlFrame {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		fr, ok := f.recv(time.Until(deadline))
		if !ok {
			f.t.Fatalf("fake LNS: no %v from the Conn", typ)
		}
		if !fr.h.Control || fr.m == nil || fr.dup {
			continue
		}
		if fr.m.Type == MsgHello && typ != MsgHello {
			f.sendZLB()
			continue
		}
		if fr.m.Type != typ {
			f.t.Fatalf("fake LNS: got %v, want %v", fr.m, typ)
		}
		return fr
	}
}

// expectAck waits for a control frame whose Nr acknowledges every message
// of the fake before nr.
func (f *fakeLNS) expectAck(nr uint16, d time.Duration) ctlFrame {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		fr, ok := f.recv(time.Until(deadline))
		if !ok {
			f.t.Fatalf("fake LNS: no acknowledgement up to Nr %d", nr)
		}
		if fr.h.Control && !seqBefore(fr.h.Nr, nr) {
			return fr
		}
	}
}

// quiet fails if the Conn sends a new control message (not a ZLB, not a
// retransmission) within d.
func (f *fakeLNS) quiet(d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for {
		fr, ok := f.recv(time.Until(deadline))
		if !ok {
			return
		}
		if fr.h.Control && fr.m != nil && !fr.dup {
			if fr.m.Type == MsgHello {
				f.sendZLB()
				continue
			}
			f.t.Fatalf("fake LNS: unexpected %v", fr.m)
		}
	}
}

// send sends m on session sid and returns the frame.
func (f *fakeLNS) send(m *Message, sid uint16) []byte {
	f.t.Helper()
	p, err := m.AppendTo(nil, f.secret, nil)
	if err != nil {
		f.t.Fatalf("fake LNS: encode %v: %v", m.Type, err)
	}
	fr := AppendControl(nil, f.connTID, sid, f.ns, f.nr, p)
	f.ns++
	f.inject(fr)
	return fr
}

func (f *fakeLNS) sendZLB() { f.inject(AppendControl(nil, f.connTID, 0, f.ns, f.nr, nil)) }

func (f *fakeLNS) inject(b []byte) {
	select {
	case f.p.in <- b:
	case <-time.After(time.Second):
		f.t.Fatal("fake LNS: the Conn does not read")
	}
}

// sccrp is a valid SCCRP from the fake, extra AVPs appended.
func (f *fakeLNS) sccrp(extra ...AVP) *Message {
	m := &Message{Type: MsgSCCRP, AVPs: []AVP{
		AVPUint16(AVPProtocolVersion, 0x0100),
		AVPString(AVPHostName, "fake-lns"),
		AVPUint32(AVPFramingCapabilities, 3),
		AVPUint16(AVPAssignedTunnelID, f.tid),
		AVPUint16(AVPReceiveWindowSize, 8),
	}}
	m.AVPs = append(m.AVPs, extra...)
	return m
}

func (f *fakeLNS) icrp(extra ...AVP) *Message {
	m := &Message{Type: MsgICRP, AVPs: []AVP{AVPUint16(AVPAssignedSessionID, f.sid)}}
	m.AVPs = append(m.AVPs, extra...)
	return m
}

// onSCCRQ reads the SCCRQ and learns the Conn's tunnel ID.
func (f *fakeLNS) onSCCRQ() ctlFrame {
	f.t.Helper()
	rq := f.expect(MsgSCCRQ)
	f.connTID = avpU16(f.t, rq.m, AVPAssignedTunnelID)
	return rq
}

// tunnelUp answers the SCCRQ and reads SCCCN and ICRQ, learning the Conn's
// session ID.
func (f *fakeLNS) tunnelUp() (scccn, icrq ctlFrame) {
	f.t.Helper()
	f.onSCCRQ()
	f.send(f.sccrp(), 0)
	scccn = f.expect(MsgSCCCN)
	icrq = f.expect(MsgICRQ)
	f.connSID = avpU16(f.t, icrq.m, AVPAssignedSessionID)
	return scccn, icrq
}

// ctlRun is a Conn under test with its fake server.
type ctlRun struct {
	t      *testing.T
	pipe   *ctlPipe
	lns    *fakeLNS
	conn   *Conn
	events chan Event
	data   chan []byte

	done     chan error
	finished bool
	err      error
}

// tLogWriter passes the Conn's debug trace to t.Log until the test ends.
type tLogWriter struct {
	mu   *sync.Mutex
	t    *testing.T
	done *bool
}

func (w tLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// startCtl starts a Conn with cfg (OnEvent, OnData and Logger are set here
// unless given) and its Run.
func startCtl(t *testing.T, cfg Config) *ctlRun {
	t.Helper()
	p := newCtlPipe()
	r := &ctlRun{
		t: t, pipe: p,
		lns:    &fakeLNS{t: t, p: p, tid: 0x1929, sid: 0x0001},
		events: make(chan Event, 16),
		data:   make(chan []byte, 64),
		done:   make(chan error, 1),
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(e Event) {
			select {
			case r.events <- e:
			default:
				t.Error("too many events")
			}
		}
	}
	if cfg.OnData == nil {
		cfg.OnData = func(buf []byte, off, end int) {
			select {
			case r.data <- bytes.Clone(buf[off:end]):
			default:
			}
		}
	}
	var mu sync.Mutex
	logDone := false
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tLogWriter{&mu, t, &logDone}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r.conn = NewConn(p, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() { r.done <- r.conn.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if !r.finished {
			select {
			case <-r.done:
			case <-time.After(5 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		}
		p.Close()
		mu.Lock()
		logDone = true
		mu.Unlock()
	})
	return r
}

// wait returns Run's result, failing the test if it takes longer than d.
func (r *ctlRun) wait(d time.Duration) error {
	r.t.Helper()
	if r.finished {
		return r.err
	}
	select {
	case r.err = <-r.done:
		r.finished = true
		return r.err
	case <-time.After(d):
		r.t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

// notDone fails if Run has returned.
func (r *ctlRun) notDone() {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.finished, r.err = true, err
		r.t.Fatalf("Run returned early: %v", err)
	default:
	}
}

func (r *ctlRun) waitEstablished() {
	r.t.Helper()
	select {
	case <-r.conn.Established():
	case err := <-r.done:
		r.finished, r.err = true, err
		r.t.Fatalf("Run returned before the session came up: %v", err)
	case <-time.After(2 * time.Second):
		r.t.Fatal("session not established")
	}
}

// establish runs the whole handshake and returns the ICCN.
func (r *ctlRun) establish() ctlFrame {
	r.t.Helper()
	f := r.lns
	f.tunnelUp()
	f.send(f.icrp(), f.connSID)
	iccn := f.expect(MsgICCN)
	f.sendZLB()
	r.waitEstablished()
	return iccn
}

// closeGracefully closes the Conn, acknowledges its CDN and StopCCN and
// checks that Run returns nil.
func (r *ctlRun) closeGracefully() {
	r.t.Helper()
	r.conn.Close()
	r.lns.expect(MsgCDN)
	r.lns.expect(MsgStopCCN)
	r.lns.sendZLB()
	if err := r.wait(2 * time.Second); err != nil {
		r.t.Fatalf("Run after Close: %v", err)
	}
}

func avpU16(t *testing.T, m *Message, typ AVPType) uint16 {
	t.Helper()
	v, ok := m.Uint16(typ)
	if !ok {
		t.Fatalf("%v without a 2-octet %v", m, typ)
	}
	return v
}

func checkResult(t *testing.T, fr ctlFrame, result, errCode uint16) {
	t.Helper()
	rc, ec, _, ok := fr.m.ResultCode()
	if !ok || rc != result || ec != errCode {
		t.Errorf("%v: Result Code %d/%d (present %v), want %d/%d", fr.m, rc, ec, ok, result, errCode)
	}
}

func checkHeader(t *testing.T, fr ctlFrame, tunnel, session, ns, nr uint16) {
	t.Helper()
	if fr.h.TunnelID != tunnel || fr.h.SessionID != session || fr.h.Ns != ns || fr.h.Nr != nr {
		t.Errorf("%v: header tunnel %d session %d Ns %d Nr %d, want %d %d %d %d",
			fr, fr.h.TunnelID, fr.h.SessionID, fr.h.Ns, fr.h.Nr, tunnel, session, ns, nr)
	}
}

func TestConnEstablish(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	if err := r.conn.SendData(make([]byte, 64), 32); !errors.Is(err, ErrClosed) {
		t.Errorf("SendData before establishment: %v, want ErrClosed", err)
	}

	rq := f.onSCCRQ()
	checkHeader(t, rq, 0, 0, 0, 0)
	ourT, ourS, peerT, peerS := r.conn.IDs()
	if f.connTID == 0 || f.connTID != ourT {
		t.Errorf("SCCRQ Assigned Tunnel ID %d, IDs() says %d", f.connTID, ourT)
	}
	if peerT != 0 || peerS != 0 {
		t.Errorf("peer IDs %d/%d before SCCRP", peerT, peerS)
	}
	if v, ok := rq.m.Bytes(AVPProtocolVersion); !ok || !bytes.Equal(v, []byte{1, 0}) {
		t.Errorf("SCCRQ Protocol Version % x, want 01 00", v)
	}
	if v, ok := rq.m.Bytes(AVPHostName); !ok || string(v) != "corridor" {
		t.Errorf("SCCRQ Host Name %q, want the default %q", v, "corridor")
	}
	if v, ok := rq.m.Uint32(AVPFramingCapabilities); !ok || v&1 == 0 {
		t.Errorf("SCCRQ Framing Capabilities %#x (%v), want synchronous framing", v, ok)
	}
	if v := avpU16(t, rq.m, AVPReceiveWindowSize); v != 16 {
		t.Errorf("SCCRQ Receive Window Size %d, want the default 16", v)
	}
	if _, ok := rq.m.Get(AVPChallenge); ok {
		t.Error("SCCRQ carries a Challenge without a secret")
	}
	for _, a := range rq.m.AVPs {
		if a.Vendor == 0 && a.Type != AVPVendorName && !a.Mandatory {
			t.Errorf("SCCRQ %v without the M bit (RFC 2661 4.4.3)", a)
		}
	}

	f.send(f.sccrp(), 0)
	scccn := f.expect(MsgSCCCN)
	checkHeader(t, scccn, f.tid, 0, 1, 1)
	if _, ok := scccn.m.Get(AVPChallengeResponse); ok {
		t.Error("SCCCN carries a Challenge Response without a secret")
	}
	icrq := f.expect(MsgICRQ)
	checkHeader(t, icrq, f.tid, 0, 2, 1)
	f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)
	if f.connSID == 0 || f.connSID != ourS {
		t.Errorf("ICRQ Assigned Session ID %d, IDs() says %d", f.connSID, ourS)
	}
	if _, ok := icrq.m.Uint32(AVPCallSerialNumber); !ok {
		t.Error("ICRQ without Call Serial Number")
	}

	select {
	case <-r.conn.Established():
		t.Fatal("established before ICRP")
	default:
	}
	f.send(f.icrp(), f.connSID)
	iccn := f.expect(MsgICCN)
	checkHeader(t, iccn, f.tid, f.sid, 3, 2)
	if _, ok := iccn.m.Uint32(AVPTxConnectSpeed); !ok {
		t.Error("ICCN without Tx Connect Speed")
	}
	if v, ok := iccn.m.Uint32(AVPFramingType); !ok || v != 1 {
		t.Errorf("ICCN Framing Type %#x (%v), want synchronous (1)", v, ok)
	}
	f.sendZLB()
	r.waitEstablished()

	if a, b, c, d := r.conn.IDs(); a != f.connTID || b != f.connSID || c != f.tid || d != f.sid {
		t.Errorf("IDs() = %d %d %d %d, want %d %d %d %d", a, b, c, d, f.connTID, f.connSID, f.tid, f.sid)
	}
	for i, want := range []EventKind{EventTunnelUp, EventSessionUp} {
		select {
		case e := <-r.events:
			if e.Kind != want || e.TunnelID != f.connTID || e.SessionID != f.connSID || e.PeerTunnel != f.tid || e.PeerHost != "fake-lns" {
				t.Errorf("event %d: %+v, want kind %d", i, e, want)
			}
			if want == EventSessionUp && e.PeerSess != f.sid {
				t.Errorf("SessionUp PeerSess %d, want %d", e.PeerSess, f.sid)
			}
		default:
			t.Fatalf("event %d (%d) missing", i, want)
		}
	}
	r.closeGracefully()
	select {
	case e := <-r.events:
		t.Errorf("extra event %+v", e)
	default:
	}
}

func TestConnRandomIDs(t *testing.T) {
	tids, sids := map[uint16]bool{}, map[uint16]bool{}
	for range 4 {
		c := NewConn(newCtlPipe(), Config{})
		tid, sid, _, _ := c.IDs()
		if tid == 0 || sid == 0 {
			t.Fatalf("IDs %d/%d: 0 is reserved (RFC 2661 3.1)", tid, sid)
		}
		tids[tid], sids[sid] = true, true
	}
	// Four equal random 16-bit IDs happen once in 2^48 runs.
	if len(tids) == 1 || len(sids) == 1 {
		t.Errorf("four Conns chose tunnel IDs %v, session IDs %v: not random", tids, sids)
	}
	// Zero draws are skipped.
	rnd := bytes.NewReader([]byte{0, 0, 0x12, 0x34, 0, 0, 0, 0, 0x56, 0x78, 0, 9, 1, 2, 3, 4})
	c := NewConn(newCtlPipe(), Config{Rand: rnd})
	if tid, sid, _, _ := c.IDs(); tid != 0x1234 || sid != 0x5678 {
		t.Errorf("IDs %#x/%#x from a reader yielding zeros first, want 0x1234/0x5678", tid, sid)
	}
	// A failing reader still gives nonzero IDs.
	c = NewConn(newCtlPipe(), Config{Rand: bytes.NewReader(nil)})
	if tid, sid, _, _ := c.IDs(); tid == 0 || sid == 0 {
		t.Errorf("IDs %d/%d from an empty reader", tid, sid)
	}
}

func TestConnData(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	r.establish()

	// Sending: the header goes in place in front of buf[off:].
	frame := []byte("\xff\x03\xc0\x21\x01\x02\x00\x04")
	const off = 40
	buf := make([]byte, off+len(frame))
	copy(buf[off:], frame)
	if err := r.conn.SendData(buf, off); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, DataHeaderLen, DataHeaderLen+len(frame))
	PutDataHeader(want, f.tid, f.sid)
	want = append(want, frame...)
	if !bytes.Equal(buf[off-DataHeaderLen:], want) {
		t.Errorf("buf after SendData % x, want % x in place", buf[off-DataHeaderLen:], want)
	}
	for {
		fr, ok := f.recv(time.Second)
		if !ok {
			t.Fatal("data message not sent")
		}
		if fr.h.Control {
			continue
		}
		if !bytes.Equal(fr.raw, want) {
			t.Errorf("data message % x, want % x", fr.raw, want)
		}
		break
	}

	// Receiving.
	data := func(flags uint16, tunnel, session uint16, ns, nr uint16, pad int, payload []byte, trailer []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, flags|version2)
		lenAt := -1
		if flags&flagL != 0 {
			lenAt = len(b)
			b = append(b, 0, 0)
		}
		b = binary.BigEndian.AppendUint16(b, tunnel)
		b = binary.BigEndian.AppendUint16(b, session)
		if flags&flagS != 0 {
			b = binary.BigEndian.AppendUint16(b, ns)
			b = binary.BigEndian.AppendUint16(b, nr)
		}
		if flags&flagO != 0 {
			b = binary.BigEndian.AppendUint16(b, uint16(pad))
			b = append(b, make([]byte, pad)...)
		}
		b = append(b, payload...)
		if lenAt >= 0 {
			binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)))
		}
		return append(b, trailer...)
	}
	frames := [][]byte{
		[]byte("\xff\x03\xc0\x21\x09\x00\x00\x08abcd"),
		[]byte("\xff\x03\x80\x21\x01\x03\x00\x04"),
		[]byte("\xff\x03\x00\x21E\x00"),
		[]byte("\xff\x03\xc0\x23\x01"),
	}
	T, S := f.connTID, f.connSID
	for _, b := range [][]byte{
		data(0, T, S+1, 0, 0, 0, []byte("wrong session"), nil),
		data(0, T+1, S, 0, 0, 0, []byte("wrong tunnel"), nil),
		nil, // dropped by the transport
		data(0, T, S, 0, 0, 0, frames[0], nil),
		data(flagL, T, S, 0, 0, 0, frames[1], []byte("\xde\xad")), // junk past Length
		data(0, T, S+1, 0, 0, 0, []byte("wrong session"), nil),
		data(flagS|flagO, T, S, 5, 7, 3, frames[2], nil),
		data(flagL|flagS|flagO, T, S, 6, 7, 1, frames[3], []byte("x")),
		{0x00}, // runt
	} {
		f.inject(b)
	}
	for i, want := range frames {
		select {
		case got := <-r.data:
			if !bytes.Equal(got, want) {
				t.Errorf("OnData %d: % x, want % x", i, got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("OnData %d: nothing", i)
		}
	}
	select {
	case got := <-r.data:
		t.Errorf("OnData: extra % x", got)
	case <-time.After(30 * time.Millisecond):
	}
	r.notDone()
	r.closeGracefully()
	if err := r.conn.SendData(buf, off); !errors.Is(err, ErrClosed) {
		t.Errorf("SendData after Close: %v, want ErrClosed", err)
	}
}

func TestConnPeerCDN(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	r.establish()

	// A CDN for some other session is acknowledged and ignored.
	f.send(&Message{Type: MsgCDN, AVPs: []AVP{ResultCodeAVP(3, 0, ""), AVPUint16(AVPAssignedSessionID, f.sid+1)}}, f.connSID+1)
	f.expectAck(f.ns, time.Second)
	f.quiet(50 * time.Millisecond)
	r.notDone()

	f.send(&Message{Type: MsgCDN, AVPs: []AVP{ResultCodeAVP(2, 6, "bye"), AVPUint16(AVPAssignedSessionID, f.sid)}}, f.connSID)
	stop := f.expect(MsgStopCCN) // and no CDN back
	if stop.h.Nr != f.ns || stop.h.SessionID != 0 || stop.h.TunnelID != f.tid {
		t.Errorf("StopCCN header %+v: want tunnel %d, session 0, Nr %d acknowledging the CDN", stop.h, f.tid, f.ns)
	}
	if v := avpU16(t, stop.m, AVPAssignedTunnelID); v != f.connTID {
		t.Errorf("StopCCN Assigned Tunnel ID %d, want %d", v, f.connTID)
	}
	checkResult(t, stop, 1, 0)
	if err := r.conn.SendData(make([]byte, 64), 32); !errors.Is(err, ErrClosed) {
		t.Errorf("SendData after the peer's CDN: %v, want ErrClosed", err)
	}
	f.sendZLB()
	err := r.wait(time.Second)
	var pe *PeerClosedError
	if !errors.As(err, &pe) || pe.Msg != MsgCDN || pe.Result != 2 || pe.ErrCode != 6 || pe.Message != "bye" {
		t.Fatalf("Run: %v, want PeerClosedError{CDN, 2, 6, bye}", err)
	}
	if s := err.Error(); !strings.Contains(s, "session") || !strings.Contains(s, `"bye"`) {
		t.Errorf("error text %q", s)
	}
}

func TestConnPeerStopCCN(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	r.establish()

	f.send(&Message{Type: MsgStopCCN, AVPs: []AVP{AVPUint16(AVPAssignedTunnelID, f.tid), ResultCodeAVP(6, 0, "shutting down")}}, 0)
	stopNs := f.ns - 1
	err := r.wait(2 * time.Second)
	var pe *PeerClosedError
	if !errors.As(err, &pe) || pe.Msg != MsgStopCCN || pe.Result != 6 || pe.Message != "shutting down" {
		t.Fatalf("Run: %v, want PeerClosedError{StopCCN, 6}", err)
	}
	if s := err.Error(); !strings.Contains(s, "tunnel") {
		t.Errorf("error text %q", s)
	}
	// Everything the Conn wrote is queued by now.
	acked := false
	for {
		fr, ok := f.recv(0)
		if !ok {
			break
		}
		if fr.h.Control && !seqBefore(fr.h.Nr, stopNs+1) {
			acked = true
		}
		if fr.m != nil && !fr.dup {
			t.Errorf("the Conn answered StopCCN with %v", fr.m)
		}
	}
	if !acked {
		t.Error("Run returned without acknowledging the StopCCN (RFC 2661 5.7)")
	}
}

func TestConnLocalClose(t *testing.T) {
	t.Run("acknowledged", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		r.establish()
		r.conn.Close()
		r.conn.Close() // idempotent
		cdn := f.expect(MsgCDN)
		if cdn.h.TunnelID != f.tid || cdn.h.SessionID != f.sid {
			t.Errorf("CDN to tunnel %d session %d, want %d %d", cdn.h.TunnelID, cdn.h.SessionID, f.tid, f.sid)
		}
		if v := avpU16(t, cdn.m, AVPAssignedSessionID); v != f.connSID {
			t.Errorf("CDN Assigned Session ID %d, want ours %d", v, f.connSID)
		}
		checkResult(t, cdn, 3, 0)
		stop := f.expect(MsgStopCCN)
		checkHeader(t, stop, f.tid, 0, cdn.h.Ns+1, f.ns)
		if v := avpU16(t, stop.m, AVPAssignedTunnelID); v != f.connTID {
			t.Errorf("StopCCN Assigned Tunnel ID %d, want %d", v, f.connTID)
		}
		checkResult(t, stop, 1, 0)
		f.sendZLB()
		start := time.Now()
		if err := r.wait(time.Second); err != nil {
			t.Fatalf("Run: %v, want nil", err)
		}
		if d := time.Since(start); d > 150*time.Millisecond {
			t.Errorf("Run took %v after the acknowledgement; CloseTimeout is not a delay", d)
		}
	})
	t.Run("unacknowledged", func(t *testing.T) {
		cfg := ctlConfig()
		r := startCtl(t, cfg)
		f := r.lns
		r.establish()
		start := time.Now()
		r.conn.Close()
		err := r.wait(cfg.CloseTimeout + 500*time.Millisecond)
		d := time.Since(start)
		if err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
		if d < cfg.CloseTimeout-10*time.Millisecond || d > cfg.CloseTimeout+200*time.Millisecond {
			t.Errorf("Run returned %v after Close, want about CloseTimeout %v", d, cfg.CloseTimeout)
		}
		var cdn, stop int
		for _, fr := range f.seen {
			if fr.m != nil && fr.m.Type == MsgCDN {
				cdn++
			}
			if fr.m != nil && fr.m.Type == MsgStopCCN {
				stop++
			}
		}
		for {
			fr, ok := f.recv(0)
			if !ok {
				break
			}
			if fr.m != nil && fr.m.Type == MsgCDN {
				cdn++
			}
			if fr.m != nil && fr.m.Type == MsgStopCCN {
				stop++
			}
		}
		if cdn < 2 || stop < 2 {
			t.Errorf("%d CDN and %d StopCCN sent, want retransmissions of both", cdn, stop)
		}
	})
	t.Run("before SCCRP", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		r.lns.onSCCRQ()
		r.conn.Close()
		if err := r.wait(time.Second); err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		p := newCtlPipe()
		c := NewConn(p, ctlConfig())
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := c.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run: %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestConnNoAnswer(t *testing.T) {
	cfg := ctlConfig()
	cfg.Reliable.MaxRetries = 4
	r := startCtl(t, cfg)
	err := r.wait(4 * time.Second)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Run: %v, want ErrNoAnswer", err)
	}
	var at []time.Time
	for {
		fr, ok := r.lns.recv(0)
		if !ok {
			break
		}
		if fr.m == nil || fr.m.Type != MsgSCCRQ || fr.h.Ns != 0 {
			t.Fatalf("sent %v Ns %d, want only SCCRQ Ns 0", fr, fr.h.Ns)
		}
		at = append(at, fr.at)
	}
	if len(at) != 1+cfg.Reliable.MaxRetries {
		t.Fatalf("SCCRQ sent %d times, want 1 + %d retransmissions", len(at), cfg.Reliable.MaxRetries)
	}
	// RFC 2661 5.8: exponential backoff from InitialTimeout.
	nominal := cfg.Reliable.InitialTimeout
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		g := at[i].Sub(at[i-1])
		gaps = append(gaps, g)
		if g < nominal*9/10 || g > nominal*3/2+15*time.Millisecond {
			t.Errorf("retransmission %d after %v, want about %v", i, g, nominal)
		}
		nominal *= 2
	}
	t.Logf("retransmission gaps %v", gaps)
}

func TestConnUnknownAVP(t *testing.T) {
	t.Run("mandatory in ICRP", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.tunnelUp()
		f.send(f.icrp(AVP{Mandatory: true, Vendor: 9, Type: 99, Value: []byte{1, 2}}), f.connSID)
		var fr ctlFrame
		for {
			fr = f.expectAck(f.ns, time.Second)
			if fr.m != nil && !fr.dup {
				break
			}
		}
		if fr.m.Type != MsgStopCCN && fr.m.Type != MsgCDN {
			t.Fatalf("answer to an unknown mandatory AVP: %v, want StopCCN or CDN", fr.m)
		}
		checkResult(t, fr, 2, 8)
		if fr.m.Type == MsgCDN {
			checkResult(t, f.expect(MsgStopCCN), 2, 8)
		}
		f.sendZLB()
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
		select {
		case <-r.conn.Established():
			t.Error("established")
		default:
		}
	})
	t.Run("optional in SCCRP", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.onSCCRQ()
		f.send(f.sccrp(
			AVP{Vendor: 9, Type: 99, Value: []byte("ignore me")},
			AVP{Type: 250, Value: []byte{1}},
		), 0)
		f.expect(MsgSCCCN)
		icrq := f.expect(MsgICRQ)
		f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)
		f.send(f.icrp(AVP{Vendor: 311, Type: 1, Value: []byte{0}}), f.connSID)
		f.expect(MsgICCN)
		f.sendZLB()
		r.waitEstablished()
		r.closeGracefully()
	})
	t.Run("mandatory in SCCRP", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.onSCCRQ()
		f.send(f.sccrp(AVP{Mandatory: true, Type: 250, Value: []byte{1}}), 0)
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
	})
}

func TestConnProtocolErrors(t *testing.T) {
	t.Run("SCCRP without Host Name", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.onSCCRQ()
		m := f.sccrp()
		m.AVPs = append(m.AVPs[:1], m.AVPs[2:]...)
		f.send(m, 0)
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
	})
	t.Run("SCCRP with tunnel ID 0", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.onSCCRQ()
		f.tid = 0
		f.send(f.sccrp(), 0)
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
	})
	t.Run("ICRP with session ID 0", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.tunnelUp()
		f.sid = 0
		f.send(f.icrp(), f.connSID)
		checkResult(t, f.expect(MsgStopCCN), 2, 5)
		f.sendZLB()
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
	})
	t.Run("ICRP without Assigned Session ID", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		f := r.lns
		f.tunnelUp()
		f.send(&Message{Type: MsgICRP}, f.connSID)
		checkResult(t, f.expect(MsgStopCCN), 2, 2)
		f.sendZLB()
		if err := r.wait(time.Second); !errors.Is(err, ErrProtocol) {
			t.Errorf("Run: %v, want ErrProtocol", err)
		}
	})
	t.Run("transport error", func(t *testing.T) {
		r := startCtl(t, ctlConfig())
		r.lns.onSCCRQ()
		boom := errors.New("boom")
		r.pipe.readErr <- boom
		if err := r.wait(time.Second); !errors.Is(err, boom) {
			t.Errorf("Run: %v, want the transport's error", err)
		}
	})
}

func TestConnTunnelAuth(t *testing.T) {
	secret := []byte("s3cret")
	fakeChal := []byte("the LNS's challenge!")
	start := func(t *testing.T, secret []byte) (*ctlRun, []byte) {
		cfg := ctlConfig()
		cfg.Secret = secret
		r := startCtl(t, cfg)
		r.lns.secret = secret
		rq := r.lns.onSCCRQ()
		chal, ok := rq.m.Bytes(AVPChallenge)
		if len(secret) > 0 && (!ok || len(chal) != 16) {
			t.Fatalf("SCCRQ Challenge % x (present %v), want 16 octets", chal, ok)
		}
		return r, chal
	}
	t.Run("ok", func(t *testing.T) {
		r, chal := start(t, secret)
		f := r.lns
		resp := ChallengeResponse(MsgSCCRP, secret, chal)
		f.send(f.sccrp(AVPBytes(AVPChallengeResponse, resp[:]), AVPBytes(AVPChallenge, fakeChal)), 0)
		scccn := f.expect(MsgSCCCN)
		want := ChallengeResponse(MsgSCCCN, secret, fakeChal)
		if got, ok := scccn.m.Bytes(AVPChallengeResponse); !ok || !bytes.Equal(got, want[:]) {
			t.Errorf("SCCCN Challenge Response % x, want % x", got, want)
		}
		icrq := f.expect(MsgICRQ)
		f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)
		// With a secret the LNS may hide AVPs (RFC 2661 4.3).
		sid := AVPUint16(AVPAssignedSessionID, f.sid)
		sid.Hidden = true
		f.send(&Message{Type: MsgICRP, AVPs: []AVP{sid}}, f.connSID)
		f.expect(MsgICCN)
		f.sendZLB()
		r.waitEstablished()
		if _, _, _, ps := r.conn.IDs(); ps != f.sid {
			t.Errorf("peer session %d from a hidden AVP, want %d", ps, f.sid)
		}
		r.closeGracefully()
	})
	t.Run("challenges differ", func(t *testing.T) {
		_, c1 := start(t, secret)
		_, c2 := start(t, secret)
		if bytes.Equal(c1, c2) {
			t.Error("two Conns sent the same Challenge")
		}
	})
	fail := func(t *testing.T, r *ctlRun) {
		t.Helper()
		checkResult(t, r.lns.expect(MsgStopCCN), 4, 0)
		r.lns.sendZLB()
		if err := r.wait(time.Second); !errors.Is(err, ErrTunnelAuth) {
			t.Errorf("Run: %v, want ErrTunnelAuth", err)
		}
		select {
		case <-r.conn.Established():
			t.Error("established")
		default:
		}
	}
	t.Run("wrong secret", func(t *testing.T) {
		r, chal := start(t, secret)
		resp := ChallengeResponse(MsgSCCRP, []byte("guess"), chal)
		r.lns.send(r.lns.sccrp(AVPBytes(AVPChallengeResponse, resp[:])), 0)
		fail(t, r)
	})
	t.Run("wrong identifier", func(t *testing.T) {
		r, chal := start(t, secret)
		resp := ChallengeResponse(MsgSCCCN, secret, chal)
		r.lns.send(r.lns.sccrp(AVPBytes(AVPChallengeResponse, resp[:])), 0)
		fail(t, r)
	})
	t.Run("no response", func(t *testing.T) {
		r, _ := start(t, secret)
		r.lns.send(r.lns.sccrp(), 0)
		fail(t, r)
	})
	t.Run("challenged without secret", func(t *testing.T) {
		r, _ := start(t, nil)
		r.lns.send(r.lns.sccrp(AVPBytes(AVPChallenge, fakeChal)), 0)
		fail(t, r)
	})
}

func TestConnHello(t *testing.T) {
	cfg := ctlConfig()
	r := startCtl(t, cfg)
	f := r.lns
	iccn := r.establish()

	hello := f.expect(MsgHello)
	if d := hello.at.Sub(iccn.at); d < cfg.HelloInterval-time.Millisecond {
		t.Errorf("HELLO %v after the ICCN, want HelloInterval %v of silence", d, cfg.HelloInterval)
	}
	if hello.h.SessionID != 0 || hello.h.TunnelID != f.tid {
		t.Errorf("HELLO header %+v", hello.h)
	}
	f.sendZLB()

	// The LNS's HELLO, and a message the LAC does not expect, are
	// acknowledged and change nothing.
	f.send(&Message{Type: MsgHello}, 0)
	f.expectAck(f.ns, 500*time.Millisecond)
	f.send(&Message{Type: MsgOCRP, AVPs: []AVP{AVPUint16(AVPAssignedSessionID, 7)}}, 0)
	f.expectAck(f.ns, 500*time.Millisecond)

	// Keepalives go on while the peer acknowledges them.
	f.expect(MsgHello)
	f.sendZLB()
	r.notDone()
	r.closeGracefully()
}

func TestConnDuplicateSCCRP(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	f.onSCCRQ()
	sccrp := f.send(f.sccrp(), 0)
	f.expect(MsgSCCCN)
	icrq := f.expect(MsgICRQ)
	f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)

	// The LNS did not see our acknowledgement and sends the SCCRP again.
	f.inject(sccrp)
	f.quiet(80 * time.Millisecond)

	f.send(f.icrp(), f.connSID)
	f.expect(MsgICCN)
	f.sendZLB()
	r.waitEstablished()
	r.closeGracefully()

	count := map[MsgType]map[uint16]bool{}
	for _, fr := range f.seen {
		if fr.m != nil {
			if count[fr.m.Type] == nil {
				count[fr.m.Type] = map[uint16]bool{}
			}
			count[fr.m.Type][fr.h.Ns] = true
		}
	}
	if len(count[MsgSCCCN]) != 1 || len(count[MsgICRQ]) != 1 {
		t.Errorf("SCCCN sent with Ns %v, ICRQ with Ns %v: want one each", count[MsgSCCCN], count[MsgICRQ])
	}
}

// softEtherCapture returns the datagrams of testdata/softether-raw-l2tp.txt
// by direction ("In" from the server, "Out" from us).
func softEtherCapture(t *testing.T) (in, out [][]byte) {
	t.Helper()
	f, err := os.Open("testdata/softether-raw-l2tp.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.SplitN(sc.Text(), "\t", 3)
		b, err := hex.DecodeString(fields[1])
		if err != nil {
			t.Fatal(err)
		}
		switch fields[0] {
		case "In":
			in = append(in, b)
		case "Out":
			out = append(out, b)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return in, out
}

// TestConnSoftEtherReplay establishes a Conn with the SCCRP, ICRP and ZLB a
// real SoftEther server sent (their Tunnel and Session IDs rewritten to the
// Conn's random ones), checks that the SCCCN and ICCN the Conn answers with
// are the bytes SoftEther accepted, and passes data both ways.
func TestConnSoftEtherReplay(t *testing.T) {
	in, out := softEtherCapture(t)
	var ctrlIn, dataIn, ctrlOut, dataOut [][]byte
	for _, b := range in {
		if b[0]&0x80 != 0 {
			ctrlIn = append(ctrlIn, b)
		} else {
			dataIn = append(dataIn, b)
		}
	}
	for _, b := range out {
		if b[0]&0x80 != 0 {
			ctrlOut = append(ctrlOut, b)
		} else {
			dataOut = append(dataOut, b)
		}
	}
	if len(ctrlIn) < 3 || len(ctrlOut) < 4 || len(dataIn) == 0 || len(dataOut) == 0 {
		t.Fatalf("capture: %d/%d control and %d/%d data messages in/out", len(ctrlIn), len(ctrlOut), len(dataIn), len(dataOut))
	}
	// As captured: SCCRP, ICRP, then a ZLB; we sent SCCRQ, SCCCN, ICRQ, ICCN.
	sccrp, icrp, zlb := bytes.Clone(ctrlIn[0]), bytes.Clone(ctrlIn[1]), bytes.Clone(ctrlIn[2])
	wantSCCCN, wantICCN := ctrlOut[1], ctrlOut[3]

	r := startCtl(t, ctlConfig())
	f := r.lns
	f.onSCCRQ()
	binary.BigEndian.PutUint16(sccrp[4:], f.connTID)
	f.inject(sccrp)
	scccn := f.expect(MsgSCCCN)
	if !bytes.Equal(scccn.raw, wantSCCCN) {
		t.Errorf("SCCCN % x\nSoftEther got % x", scccn.raw, wantSCCCN)
	}
	icrq := f.expect(MsgICRQ)
	f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)
	binary.BigEndian.PutUint16(icrp[4:], f.connTID)
	binary.BigEndian.PutUint16(icrp[6:], f.connSID)
	f.inject(icrp)
	iccn := f.expect(MsgICCN)
	if !bytes.Equal(iccn.raw, wantICCN) {
		t.Errorf("ICCN % x\nSoftEther got % x", iccn.raw, wantICCN)
	}
	binary.BigEndian.PutUint16(zlb[4:], f.connTID)
	f.inject(zlb)
	r.waitEstablished()
	if _, _, pt, ps := r.conn.IDs(); pt != 1 || ps != 1 {
		t.Errorf("peer IDs %d/%d, want SoftEther's 1/1", pt, ps)
	}
	<-r.events
	if e := <-r.events; e.Kind != EventSessionUp || e.PeerHost != "vm" {
		t.Errorf("event %+v, want SessionUp from host vm", e)
	}

	for i, b := range dataIn[:min(len(dataIn), 8)] {
		b = bytes.Clone(b)
		h, off, end, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		tp := 2
		if h.HasLength {
			tp = 4
		}
		binary.BigEndian.PutUint16(b[tp:], f.connTID)
		binary.BigEndian.PutUint16(b[tp+2:], f.connSID)
		f.inject(b)
		select {
		case got := <-r.data:
			if !bytes.Equal(got, b[off:end]) {
				t.Errorf("data %d: OnData % x, want % x", i, got, b[off:end])
			}
		case <-time.After(time.Second):
			t.Fatalf("data %d: not delivered", i)
		}
	}

	// Our first data message, byte for byte.
	ppp := dataOut[0][DataHeaderLen:]
	buf := make([]byte, 16+len(ppp))
	copy(buf[16:], ppp)
	if err := r.conn.SendData(buf, 16); err != nil {
		t.Fatal(err)
	}
	for {
		fr, ok := f.recv(time.Second)
		if !ok {
			t.Fatal("data message not sent")
		}
		if !fr.h.Control {
			if !bytes.Equal(fr.raw, dataOut[0]) {
				t.Errorf("data % x, SoftEther got % x", fr.raw, dataOut[0])
			}
			break
		}
	}

	// SoftEther's Ns for its next message is 2.
	f.ns, f.tid, f.sid = 2, 1, 1
	r.closeGracefully()
}

func TestConnPeerCDNBeforeICRP(t *testing.T) {
	// The LNS refuses the call: CDN in answer to ICRQ, addressed to the
	// session ID we assigned.
	r := startCtl(t, ctlConfig())
	f := r.lns
	f.tunnelUp()
	f.send(&Message{Type: MsgCDN, AVPs: []AVP{ResultCodeAVP(2, 4, "no resources"), AVPUint16(AVPAssignedSessionID, f.sid)}}, f.connSID)
	checkResult(t, f.expect(MsgStopCCN), 1, 0)
	f.sendZLB()
	err := r.wait(time.Second)
	var pe *PeerClosedError
	if !errors.As(err, &pe) || pe.Msg != MsgCDN || pe.Result != 2 || pe.ErrCode != 4 {
		t.Fatalf("Run: %v, want PeerClosedError{CDN, 2, 4}", err)
	}
}

func TestConnPeerStopCCNBeforeSCCRP(t *testing.T) {
	// The LNS refuses the tunnel: StopCCN in answer to SCCRQ. Its Assigned
	// Tunnel ID AVP is there so that it can be acknowledged although no
	// SCCRP told us the LNS's tunnel ID (RFC 2661 4.4.3, 6.4).
	r := startCtl(t, ctlConfig())
	f := r.lns
	f.onSCCRQ()
	f.send(&Message{Type: MsgStopCCN, AVPs: []AVP{AVPUint16(AVPAssignedTunnelID, f.tid), ResultCodeAVP(2, 6, "too many tunnels")}}, 0)
	err := r.wait(2 * time.Second)
	var pe *PeerClosedError
	if !errors.As(err, &pe) || pe.Msg != MsgStopCCN || pe.Result != 2 || pe.ErrCode != 6 {
		t.Fatalf("Run: %v, want PeerClosedError{StopCCN, 2, 6}", err)
	}
	var ack *ctlFrame
	for {
		fr, ok := f.recv(0)
		if !ok {
			break
		}
		if fr.h.Control && fr.h.Nr == f.ns {
			ack = &fr
		}
	}
	if ack == nil {
		t.Fatal("StopCCN not acknowledged")
	}
	if ack.h.TunnelID != f.tid {
		t.Errorf("StopCCN acknowledged to tunnel %d, want the StopCCN's Assigned Tunnel ID %d", ack.h.TunnelID, f.tid)
	}
}

func TestConnDeadPeer(t *testing.T) {
	// After establishment the LNS goes silent: the unanswered HELLO ends
	// the connection (RFC 2661 5.8, 6.5).
	cfg := ctlConfig()
	cfg.Reliable.MaxRetries = 2
	r := startCtl(t, cfg)
	r.establish()
	if err := r.wait(3 * time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Run: %v, want ErrNoAnswer", err)
	}
	// Only one HELLO is outstanding at a time: its retransmissions probe
	// the peer, no second HELLO piles up behind it.
	hellos, ns := 0, map[uint16]bool{}
	for {
		fr, ok := r.lns.recv(0)
		if !ok {
			break
		}
		if fr.m != nil && fr.m.Type == MsgHello {
			hellos++
			ns[fr.h.Ns] = true
		}
	}
	if len(ns) != 1 || hellos != 1+cfg.Reliable.MaxRetries {
		t.Errorf("%d HELLO transmissions with %d distinct Ns; want 1 + %d retransmissions of one HELLO", hellos, len(ns), cfg.Reliable.MaxRetries)
	}
}

func TestConnLocalCloseDeadPeer(t *testing.T) {
	// The retransmissions of CDN and StopCCN run out before CloseTimeout:
	// after a local Close, Run still returns nil (as documented), not
	// ErrNoAnswer.
	cfg := ctlConfig()
	cfg.CloseTimeout = 2 * time.Second
	cfg.Reliable.MaxRetries = 2
	r := startCtl(t, cfg)
	r.establish()
	r.conn.Close()
	if err := r.wait(cfg.CloseTimeout + 500*time.Millisecond); err != nil {
		t.Errorf("Run after Close with a dead peer: %v, want nil", err)
	}
}

// TestConnAbandon: Abandon sends CDN and StopCCN once each and Run returns
// without waiting out CloseTimeout or retransmitting them.
func TestConnAbandon(t *testing.T) {
	cfg := ctlConfig()
	cfg.CloseTimeout = 5 * time.Second
	cfg.Reliable.MaxRetries = 10
	r := startCtl(t, cfg)
	r.establish()
	start := time.Now()
	r.conn.Abandon()
	if err := r.wait(time.Second); err != nil {
		t.Errorf("Run after Abandon = %v, want nil", err)
	}
	t.Logf("Run returned %v after Abandon", time.Since(start).Round(time.Millisecond))
	r.lns.expect(MsgCDN)
	r.lns.expect(MsgStopCCN)
	// Nothing more: no retransmission of either.
	time.Sleep(100 * time.Millisecond)
	for {
		fr, ok := r.lns.recv(10 * time.Millisecond)
		if !ok {
			break
		}
		if fr.h.Control && fr.m != nil {
			t.Errorf("after Abandon the Conn also sent %v (dup %v)", fr.m.Type, fr.dup)
		}
	}
}

// TestConnNewSession: a session that has to start over is cleared with a
// CDN and replaced by a new one in the same tunnel (RFC 2661 5.6), with a
// new session ID; frames of the old session are no longer delivered.
func TestConnNewSession(t *testing.T) {
	r := startCtl(t, ctlConfig())
	f := r.lns
	r.establish()
	oldConnSID, oldSID := f.connSID, f.sid
	<-r.events // tunnel up
	<-r.events // session up

	up := r.conn.NewSession()
	cdn := f.expect(MsgCDN)
	checkResult(t, cdn, 3, 0)
	if cdn.h.SessionID != oldSID {
		t.Errorf("CDN sent to session %d, want the server's %d", cdn.h.SessionID, oldSID)
	}
	if v := avpU16(t, cdn.m, AVPAssignedSessionID); v != oldConnSID {
		t.Errorf("CDN Assigned Session ID %d, want the old %d", v, oldConnSID)
	}
	icrq := f.expect(MsgICRQ)
	f.connSID = avpU16(t, icrq.m, AVPAssignedSessionID)
	if f.connSID == oldConnSID || f.connSID == 0 {
		t.Fatalf("new ICRQ reuses session ID %d", f.connSID)
	}
	if err := r.conn.SendData(make([]byte, 64), 32); !errors.Is(err, ErrClosed) {
		t.Errorf("SendData between sessions: %v, want ErrClosed", err)
	}
	select {
	case <-up:
		t.Fatal("new session up before ICRP")
	default:
	}
	// The server's own CDN for the old session changes nothing.
	f.send(&Message{Type: MsgCDN, AVPs: []AVP{ResultCodeAVP(3, 0, ""), AVPUint16(AVPAssignedSessionID, oldSID)}}, oldConnSID)
	f.sid = 0x0002
	f.send(f.icrp(), f.connSID)
	iccn := f.expect(MsgICCN)
	if iccn.h.SessionID != f.sid {
		t.Errorf("ICCN to session %d, want %d", iccn.h.SessionID, f.sid)
	}
	f.sendZLB()
	select {
	case <-up:
	case <-time.After(2 * time.Second):
		t.Fatal("new session not up")
	}
	if e := <-r.events; e.Kind != EventSessionUp || e.SessionID != f.connSID || e.PeerSess != f.sid {
		t.Errorf("event %+v, want session up %d/%d", e, f.connSID, f.sid)
	}
	r.notDone()

	// Data: the old session's frames are dropped, the new one's delivered.
	frame := []byte("\xff\x03\xc0\x21\x09\x00\x00\x08abcd")
	old := make([]byte, DataHeaderLen, DataHeaderLen+len(frame))
	PutDataHeader(old, f.connTID, oldConnSID)
	f.inject(append(old, frame...))
	cur := make([]byte, DataHeaderLen, DataHeaderLen+len(frame))
	PutDataHeader(cur, f.connTID, f.connSID)
	f.inject(append(cur, frame...))
	select {
	case got := <-r.data:
		if !bytes.Equal(got, frame) {
			t.Errorf("OnData % x, want % x", got, frame)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no data delivered on the new session")
	}
	select {
	case got := <-r.data:
		t.Errorf("OnData: extra % x (old session?)", got)
	case <-time.After(30 * time.Millisecond):
	}
	buf := make([]byte, 64)
	if err := r.conn.SendData(buf, 32); err != nil {
		t.Fatalf("SendData on the new session: %v", err)
	}
	r.closeGracefully()

	// After Run has returned, NewSession does not block.
	done := make(chan struct{})
	go func() { r.conn.NewSession(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("NewSession blocked after Run returned")
	}
}
