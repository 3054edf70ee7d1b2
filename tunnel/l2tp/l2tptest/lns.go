package l2tptest

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// tunnel is one control connection (RFC 2661 section 7.2, LNS side).
type tunnel struct {
	s        *Server
	peer     peer
	tid      uint16 // ours
	peerTID  uint16 // the client's Assigned Tunnel ID
	ns, nr   uint16 // 5.8: our next Ns, the Ns we expect next
	acked    bool   // a message sent while handling one carried our Nr
	closing  bool   // StopCCN sent or received: remove once handled
	sessions map[uint16]*session
}

// session is one call (RFC 2661 section 7.4.2, incoming call, LNS side).
type session struct {
	t       *tunnel
	sid     uint16 // ours
	peerSID uint16 // the client's Assigned Session ID
	up      bool
	ppp     *pppServer
}

func random16() uint16 {
	var b [2]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint16(b[:]); v != 0 {
			return v
		}
	}
}

// seqBefore compares sequence numbers modulo 2^16 (RFC 2661 5.8).
func seqBefore(a, b uint16) bool { return int16(a-b) < 0 }

func (s *Server) receive(d datagram) {
	h, off, end, err := l2tp.ParseHeader(d.b)
	if err != nil {
		return
	}
	if !h.Control {
		t := s.tunnels[h.TunnelID]
		if t == nil {
			return
		}
		if se := t.sessions[h.SessionID]; se != nil && se.up {
			se.ppp.input(d.b[off:end])
		}
		return
	}
	payload := d.b[off:end]
	t := s.tunnels[h.TunnelID]
	if h.TunnelID == 0 {
		// Only an SCCRQ may come before the client knows our tunnel ID.
		m, err := l2tp.ParseMessage(payload, nil)
		if err != nil || m == nil || m.Type != l2tp.MsgSCCRQ {
			return
		}
		ptid, _ := m.Uint16(l2tp.AVPAssignedTunnelID)
		if ptid == 0 {
			return
		}
		for _, o := range s.tunnels {
			if o.peer == d.from && o.peerTID == ptid {
				t = o // a retransmitted SCCRQ
			}
		}
		if t == nil {
			t = &tunnel{s: s, peer: d.from, peerTID: ptid, sessions: map[uint16]*session{}}
			for t.tid = random16(); s.tunnels[t.tid] != nil; t.tid = random16() {
			}
			s.tunnels[t.tid] = t
			s.count(func(st *Stats) { st.Tunnels++ })
		}
	}
	if t == nil {
		return
	}
	if len(payload) == 0 {
		return // ZLB: we do not retransmit, so acknowledgements change nothing
	}
	switch {
	case h.Ns == t.nr:
		t.nr++
	case seqBefore(h.Ns, t.nr):
		t.sendZLB() // a retransmission: acknowledge it again (5.8)
		return
	default:
		return // out of order; cannot happen on a lossless link
	}
	t.acked = false
	m, err := l2tp.ParseMessage(payload, nil)
	if err == nil && m != nil {
		t.handle(h, m)
	}
	if !t.acked {
		t.sendZLB()
	}
	if t.closing {
		delete(s.tunnels, t.tid)
	}
}

func (t *tunnel) event(kind EventKind, sid uint16, detail string, count func(*Stats)) {
	t.s.record(Event{Kind: kind, Tunnel: t.tid, Session: sid, Detail: detail}, count)
}

func (t *tunnel) handle(h l2tp.Header, m *l2tp.Message) {
	switch m.Type {
	case l2tp.MsgSCCRQ:
		r := &l2tp.Message{Type: l2tp.MsgSCCRP}
		r.Add(l2tp.AVPUint16(l2tp.AVPProtocolVersion, 0x0100))
		r.Add(l2tp.AVPString(l2tp.AVPHostName, t.s.cfg.HostName))
		r.Add(l2tp.AVPUint32(l2tp.AVPFramingCapabilities, 3))
		r.Add(l2tp.AVPUint16(l2tp.AVPAssignedTunnelID, t.tid))
		r.Add(l2tp.AVPUint16(l2tp.AVPReceiveWindowSize, 16))
		r.Add(l2tp.AVPString(l2tp.AVPVendorName, "l2tptest"))
		t.send(r, 0)
	case l2tp.MsgSCCCN:
		t.event(EventTunnelUp, 0, "", nil)
	case l2tp.MsgICRQ:
		psid, _ := m.Uint16(l2tp.AVPAssignedSessionID)
		se := &session{t: t, peerSID: psid}
		for se.sid = random16(); t.sessions[se.sid] != nil; se.sid = random16() {
		}
		t.sessions[se.sid] = se
		r := &l2tp.Message{Type: l2tp.MsgICRP}
		r.Add(l2tp.AVPUint16(l2tp.AVPAssignedSessionID, se.sid))
		t.send(r, psid)
	case l2tp.MsgICCN:
		se := t.sessions[h.SessionID]
		if se == nil || se.up {
			return
		}
		se.up = true
		t.event(EventSessionUp, se.sid, "", func(st *Stats) { st.Sessions++ })
		se.ppp = newPPPServer(se)
		se.ppp.start(time.Now())
	case l2tp.MsgCDN:
		psid, _ := m.Uint16(l2tp.AVPAssignedSessionID)
		se := t.sessions[h.SessionID]
		if se == nil {
			for _, o := range t.sessions {
				if o.peerSID == psid {
					se = o
				}
			}
		}
		rc, _, msg, _ := m.ResultCode()
		var sid uint16
		if se != nil {
			sid = se.sid
			delete(t.sessions, se.sid)
		}
		t.event(EventCDN, sid, resultDetail(rc, msg), func(st *Stats) { st.CDNs++ })
	case l2tp.MsgStopCCN:
		rc, _, msg, _ := m.ResultCode()
		t.event(EventStopCCN, 0, resultDetail(rc, msg), func(st *Stats) { st.StopCCNs++ })
		t.closing = true
	}
	// HELLO and anything else: acknowledged, nothing more.
}

func resultDetail(rc uint16, msg string) string {
	d := "result " + strconv.Itoa(int(rc))
	if msg != "" {
		d += " " + msg
	}
	return d
}

// send sends a control message in session sid (0 for the tunnel), its Nr
// acknowledging everything received so far.
func (t *tunnel) send(m *l2tp.Message, sid uint16) {
	payload, err := m.AppendTo(nil, nil, nil)
	if err != nil {
		panic("l2tptest: encode " + m.Type.String() + ": " + err.Error())
	}
	t.peer.send(l2tp.AppendControl(nil, t.peerTID, sid, t.ns, t.nr, payload))
	t.ns++
	t.acked = true
}

func (t *tunnel) sendZLB() {
	t.peer.send(l2tp.AppendControl(nil, t.peerTID, 0, t.ns, t.nr, nil))
}

// stop sends a StopCCN and forgets the tunnel.
func (t *tunnel) stop(result, errCode uint16, msg string) {
	m := &l2tp.Message{Type: l2tp.MsgStopCCN}
	m.Add(l2tp.AVPUint16(l2tp.AVPAssignedTunnelID, t.tid))
	m.Add(l2tp.ResultCodeAVP(result, errCode, msg))
	t.send(m, 0)
	t.event(EventSentStopCCN, 0, resultDetail(result, msg), nil)
	delete(t.s.tunnels, t.tid)
}

// clear sends a CDN for the session and forgets it.
func (se *session) clear(result, errCode uint16, msg string) {
	m := &l2tp.Message{Type: l2tp.MsgCDN}
	m.Add(l2tp.ResultCodeAVP(result, errCode, msg))
	m.Add(l2tp.AVPUint16(l2tp.AVPAssignedSessionID, se.sid))
	se.t.send(m, se.peerSID)
	se.t.event(EventSentCDN, se.sid, resultDetail(result, msg), nil)
	delete(se.t.sessions, se.sid)
	se.up = false
}

// sendPPP sends a PPP frame of proto in a data message of the session.
func (se *session) sendPPP(proto ppp.Protocol, pkt []byte) {
	if !se.up {
		return
	}
	b := make([]byte, l2tp.DataHeaderLen+ppp.FrameHeaderLen+len(pkt))
	l2tp.PutDataHeader(b, se.t.peerTID, se.peerSID)
	ppp.PutFrameHeader(b[l2tp.DataHeaderLen:], proto)
	copy(b[l2tp.DataHeaderLen+ppp.FrameHeaderLen:], pkt)
	se.t.peer.send(b)
}

func (se *session) sendIPv4(pkt []byte) {
	se.sendPPP(ppp.ProtoIPv4, pkt)
	se.t.s.count(func(st *Stats) { st.IPv4Out++ })
}

func (se *session) sendIPv6(pkt []byte) {
	se.sendPPP(ppp.ProtoIPv6, pkt)
	se.t.s.count(func(st *Stats) { st.IPv6Out++ })
}

// sendIPv6Control sends a router advertisement or DHCPv6 answer (not
// counted as IPv6Out).
func (se *session) sendIPv6Control(pkt []byte) { se.sendPPP(ppp.ProtoIPv6, pkt) }

// after runs f on the server goroutine d from now.
func (s *Server) after(d time.Duration, f func()) {
	s.later = append(s.later, delayed{time.Now().Add(d), f})
}

// nextDue is the earliest PPP restart timer of any session, or delayed
// action.
func (s *Server) nextDue() time.Time {
	var next time.Time
	for _, l := range s.later {
		if next.IsZero() || l.at.Before(next) {
			next = l.at
		}
	}
	for _, t := range s.tunnels {
		for _, se := range t.sessions {
			if se.ppp == nil {
				continue
			}
			if d := se.ppp.nextDue(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
	}
	return next
}

func (s *Server) fireTimers(now time.Time) {
	var due []func()
	keep := s.later[:0]
	for _, l := range s.later {
		if l.at.After(now) {
			keep = append(keep, l)
		} else {
			due = append(due, l.f)
		}
	}
	s.later = keep
	for _, f := range due {
		f()
	}
	for _, t := range s.tunnels {
		for _, se := range t.sessions {
			if se.ppp != nil {
				se.ppp.fire(now)
			}
		}
	}
}
