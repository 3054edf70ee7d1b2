package l2tptest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"time"

	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// Option types the server speaks (RFC 1661 6, RFC 1332 3, RFC 1877).
const (
	lcpOptMRU   = 1
	lcpOptAuth  = 3
	lcpOptMagic = 5

	ipcpOptAddress = 3
	ipcpOptDNS1    = 129
	ipcpOptDNS2    = 131

	ipv6cpOptIID = 1

	maxSends = 10 // Max-Configure (RFC 1661 4.6), also for Challenges
)

type phase uint8

const (
	phLCP phase = iota
	phAuth
	phNetwork
	phDead
)

// retx is a packet sent on a restart timer until it is answered.
type retx struct {
	proto ppp.Protocol
	pkt   []byte
	sends int
	due   time.Time // zero: stopped
}

// pppServer is the authenticator end of one session's PPP link.
type pppServer struct {
	se    *session
	cfg   *Config
	phase phase
	now   time.Time

	auth      string // the method we ask for
	magic     uint32
	lcpID     byte
	lcpReq    retx
	lcpAcked  bool // our Configure-Request was acknowledged
	lcpAcking bool // we acknowledged the client's

	chapID     byte
	challenge  [16]byte
	chap       retx
	answered   bool   // a Response or Authenticate-Request got its answer
	answer     []byte // the answer packet, resent for a repeated request; nil if dropped
	answerProt ppp.Protocol

	ipcpID     byte
	ipcpReq    retx
	ipcpAcked  bool
	ipcpAcking bool
	ipcpUp     bool
	peerAddr   bool // our Configure-Request carries PeerAddress

	v6ID     byte
	v6Req    retx
	v6Acked  bool
	v6Acking bool
	v6Up     bool
	v6Naked  bool
	v6Client uint64 // the client's identifier, as acknowledged
	rejID    byte   // Identifier of our last Protocol-Reject
}

func newPPPServer(se *session) *pppServer {
	var b [4]byte
	rand.Read(b[:])
	return &pppServer{se: se, cfg: &se.t.s.cfg, auth: se.t.s.cfg.Auth,
		magic: binary.BigEndian.Uint32(b[:]) | 1, peerAddr: se.t.s.cfg.PeerAddress.Is4()}
}

func (p *pppServer) ipcpOpen() bool { return p.ipcpUp }
func (p *pppServer) ipv6Open() bool { return p.v6Up }

func (p *pppServer) event(kind EventKind, detail string, count func(*Stats)) {
	p.se.t.event(kind, p.se.sid, detail, count)
}

func (p *pppServer) start(now time.Time) {
	p.now = now
	p.sendLCPReq()
}

// transmit sends r now and arms its restart timer.
func (p *pppServer) transmit(r *retx) {
	r.sends++
	p.se.sendPPP(r.proto, r.pkt)
	r.due = p.now.Add(p.cfg.RestartInterval)
	if r.sends >= maxSends {
		r.due = time.Time{}
	}
}

func (p *pppServer) nextDue() time.Time {
	var next time.Time
	for _, r := range [...]*retx{&p.lcpReq, &p.chap, &p.ipcpReq, &p.v6Req} {
		if !r.due.IsZero() && (next.IsZero() || r.due.Before(next)) {
			next = r.due
		}
	}
	return next
}

func (p *pppServer) fire(now time.Time) {
	p.now = now
	for _, r := range [...]*retx{&p.lcpReq, &p.chap, &p.ipcpReq, &p.v6Req} {
		if !r.due.IsZero() && !r.due.After(now) && p.phase != phDead {
			p.transmit(r)
		}
	}
}

func (p *pppServer) input(frame []byte) {
	p.now = time.Now()
	proto, pkt, err := ppp.ParseFrame(frame)
	if err != nil || p.phase == phDead {
		return
	}
	switch proto {
	case ppp.ProtoLCP:
		p.lcpInput(pkt)
	case ppp.ProtoCHAP:
		if p.phase >= phAuth {
			p.chapInput(pkt)
		}
	case ppp.ProtoPAP:
		if p.phase >= phAuth {
			p.papInput(pkt)
		}
	case ppp.ProtoIPCP:
		if p.phase == phNetwork {
			p.ipcpInput(pkt)
		}
	case ppp.ProtoIPv6CP:
		if !p.cfg.IPv6 {
			if p.phase != phLCP { // RFC 1661 5.7: only while LCP is Opened
				p.rejID++
				p.sendCP(ppp.ProtoLCP, ppp.CodeProtoRej, p.rejID, append([]byte{0x80, 0x57}, pkt...))
			}
			return
		}
		if p.phase == phNetwork {
			p.ipv6cpInput(pkt)
		}
	case ppp.ProtoIPv6:
		if p.v6Up && p.ipv6Control(pkt) {
			return
		}
		if p.v6Up {
			s := p.se.t.s
			s.count(func(st *Stats) { st.IPv6In++ })
			p.deliver(pkt, s.cfg.EchoIPv6, 6, 8, 16, p.se.sendIPv6)
		}
	case ppp.ProtoIPv4:
		if p.ipcpUp {
			s := p.se.t.s
			s.count(func(st *Stats) { st.IPv4In++ })
			p.deliver(pkt, s.cfg.EchoIPv4, 4, 12, 4, p.se.sendIPv4)
		}
	}
}

// deliver hands an IP packet of version v to Packets and, when echo is
// set, sends it back with its source and destination addresses (n bytes
// each, the source at offset src) swapped: that leaves the IPv4 header
// checksum and the upper-layer checksums (whose pseudo-header sums both
// addresses) valid.
func (p *pppServer) deliver(pkt []byte, echo bool, v byte, src, n int, send func([]byte)) {
	s := p.se.t.s
	select {
	case s.pkts <- append([]byte(nil), pkt...):
	default:
	}
	if !echo || len(pkt) < src+2*n || pkt[0]>>4 != v {
		return
	}
	e := append([]byte(nil), pkt...)
	a := append([]byte(nil), e[src:src+n]...)
	copy(e[src:src+n], e[src+n:src+2*n])
	copy(e[src+n:src+2*n], a)
	send(e)
}

// LCP (RFC 1661).

func authOption(method string) []byte {
	switch method {
	case AuthPAP:
		return []byte{0xc0, 0x23}
	case AuthCHAPMD5:
		return []byte{0xc2, 0x23, ppp.CHAPAlgMD5}
	case AuthMSCHAPv2:
		return []byte{0xc2, 0x23, ppp.CHAPAlgMSv2}
	}
	return nil
}

func methodOf(opt []byte) string {
	switch {
	case bytes.Equal(opt, []byte{0xc0, 0x23}):
		return AuthPAP
	case bytes.Equal(opt, []byte{0xc2, 0x23, ppp.CHAPAlgMD5}):
		return AuthCHAPMD5
	case bytes.Equal(opt, []byte{0xc2, 0x23, ppp.CHAPAlgMSv2}):
		return AuthMSCHAPv2
	}
	return ""
}

func (p *pppServer) sendLCPReq() {
	var opts []byte
	if a := authOption(p.auth); a != nil {
		opts = ppp.AppendOption(opts, lcpOptAuth, a)
	}
	if p.magic != 0 {
		opts = ppp.AppendOption(opts, lcpOptMagic, binary.BigEndian.AppendUint32(nil, p.magic))
	}
	p.lcpID++
	p.lcpAcked = false
	p.lcpReq = retx{proto: ppp.ProtoLCP, pkt: ppp.AppendCP(nil, ppp.CodeConfReq, p.lcpID, opts)}
	p.transmit(&p.lcpReq)
}

func (p *pppServer) sendCP(proto ppp.Protocol, code ppp.Code, id byte, data []byte) {
	p.se.sendPPP(proto, ppp.AppendCP(nil, code, id, data))
}

func (p *pppServer) lcpInput(pkt []byte) {
	code, id, data, err := ppp.ParseCP(pkt)
	if err != nil {
		return
	}
	switch code {
	case ppp.CodeConfReq:
		if p.phase != phLCP {
			// RFC 1661 4.3 (Opened, RCR): the link renegotiates.
			p.phase, p.lcpAcking = phLCP, false
			p.chap.due, p.ipcpReq.due, p.ipcpUp = time.Time{}, time.Time{}, false
			p.v6Req.due, p.v6Up, p.v6Acking = time.Time{}, false, false
			p.sendLCPReq()
		}
		opts, err := ppp.ParseOptions(data)
		if err != nil {
			return
		}
		var rej []byte
		for _, o := range opts {
			switch {
			case o.Type == lcpOptMRU && len(o.Data) == 2, o.Type == lcpOptMagic && len(o.Data) == 4:
			default:
				rej = ppp.AppendOption(rej, o.Type, o.Data)
			}
		}
		if rej != nil {
			p.sendCP(ppp.ProtoLCP, ppp.CodeConfRej, id, rej)
			return
		}
		p.sendCP(ppp.ProtoLCP, ppp.CodeConfAck, id, data)
		p.lcpAcking = true
	case ppp.CodeConfAck:
		if id != p.lcpID || p.phase != phLCP {
			return
		}
		p.lcpAcked = true
		p.lcpReq.due = time.Time{}
	case ppp.CodeConfNak:
		if id != p.lcpID || p.phase != phLCP {
			return
		}
		opts, _ := ppp.ParseOptions(data)
		for _, o := range opts {
			switch o.Type {
			case lcpOptAuth:
				m := methodOf(o.Data)
				p.event(EventAuthNak, m, nil)
				if !p.cfg.InsistAuth && m != "" {
					p.auth = m
				}
			case lcpOptMagic:
				p.magic++
			}
		}
		p.sendLCPReq()
	case ppp.CodeConfRej:
		if id != p.lcpID || p.phase != phLCP {
			return
		}
		opts, _ := ppp.ParseOptions(data)
		for _, o := range opts {
			switch o.Type {
			case lcpOptAuth:
				// An authenticator that requires authentication cannot
				// go on without it: end the link (RFC 1661 4.1).
				p.event(EventAuthRefused, p.auth, nil)
				p.lcpReq.due = time.Time{}
				p.sendCP(ppp.ProtoLCP, ppp.CodeTermReq, p.lcpID+100, []byte("authentication required"))
				p.phase = phDead
				return
			case lcpOptMagic:
				p.magic = 0
			}
		}
		p.sendLCPReq()
	case ppp.CodeTermReq:
		p.sendCP(ppp.ProtoLCP, ppp.CodeTermAck, id, nil)
		p.event(EventLCPTerminate, string(data), func(st *Stats) { st.LCPTerminates++ })
		p.phase = phDead
		p.ipcpUp, p.v6Up = false, false
		return
	case ppp.CodeTermAck:
		p.phase = phDead
		return
	case ppp.CodeEchoReq:
		if p.phase != phLCP && len(data) >= 4 {
			r := binary.BigEndian.AppendUint32(nil, p.magic)
			p.sendCP(ppp.ProtoLCP, ppp.CodeEchoReply, id, append(r, data[4:]...))
		}
		return
	default: // Discard-Request, Echo-Reply, Code- and Protocol-Reject
		return
	}
	if p.phase == phLCP && p.lcpAcked && p.lcpAcking {
		p.event(EventLCPUp, "", nil)
		p.startAuth()
	}
}

// Authentication (RFC 1994, RFC 2759, RFC 1334).

func (p *pppServer) startAuth() {
	p.answered, p.answer = false, nil
	switch p.auth {
	case AuthNone:
		p.startIPCP()
	case AuthPAP:
		p.phase = phAuth // the client speaks first
	default:
		p.phase = phAuth
		rand.Read(p.challenge[:])
		p.chapID++
		b := []byte{ppp.CHAPChallenge, p.chapID, 0, 0, byte(len(p.challenge))}
		b = append(b, p.challenge[:]...)
		b = append(b, p.cfg.HostName...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		p.chap = retx{proto: ppp.ProtoCHAP, pkt: b}
		p.transmit(&p.chap)
	}
}

// authPacket builds a CHAP Success/Failure (code, id, message) or, with a
// length-prefixed message, a PAP Authenticate-Ack/Nak.
func authPacket(code, id byte, msg string, pap bool) []byte {
	b := []byte{code, id, 0, 0}
	if pap {
		b = append(b, byte(len(msg)))
	}
	b = append(b, msg...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func (p *pppServer) chapInput(pkt []byte) {
	if len(pkt) < 5 || pkt[0] != ppp.CHAPResponse || pkt[1] != p.chapID || p.auth == AuthPAP {
		return
	}
	n := int(binary.BigEndian.Uint16(pkt[2:]))
	vs := int(pkt[4])
	if n > len(pkt) || 5+vs > n {
		return
	}
	value, name := pkt[5:5+vs], string(pkt[5+vs:n])
	if p.answered {
		if p.answer != nil {
			p.se.sendPPP(ppp.ProtoCHAP, p.answer) // RFC 1994 4.2: same answer
		} else {
			p.se.t.s.count(func(st *Stats) { st.RepeatsIgnored++ })
		}
		return
	}
	p.chap.due = time.Time{}
	p.answered = true
	var ok bool
	var success string
	switch p.auth {
	case AuthCHAPMD5:
		want := ppp.CHAPMD5Response(p.chapID, p.cfg.Password, p.challenge[:])
		ok = name == p.cfg.User && bytes.Equal(value, want[:])
		success = "Welcome"
	case AuthMSCHAPv2:
		if len(value) != ppp.MSCHAPv2ResponseLen {
			break
		}
		var peerChal [16]byte
		var nt [24]byte
		copy(peerChal[:], value[:16])
		copy(nt[:], value[24:48])
		want := ppp.GenerateNTResponse(p.challenge, peerChal, name, p.cfg.Password)
		ok = name == p.cfg.User && nt == want
		pw := p.cfg.Password
		if p.cfg.BadAuthenticator {
			pw += "x"
		}
		success = ppp.GenerateAuthenticatorResponse(pw, nt, peerChal, p.challenge, name) + " M=Access granted"
	}
	if !ok {
		msg := "Access denied"
		if p.auth == AuthMSCHAPv2 {
			msg = "E=691 R=0 C=" + strings.ToUpper(hex.EncodeToString(p.challenge[:])) + " V=3 M=Authentication failure"
		}
		p.authFailed(ppp.ProtoCHAP, authPacket(ppp.CHAPFailure, p.chapID, msg, false))
		return
	}
	p.event(EventAuthOK, p.auth, func(st *Stats) { st.AuthOK++ })
	if p.cfg.HoldAuth {
		return
	}
	s := p.se.t.s
	if s.dropsLeft > 0 {
		s.dropsLeft--
		p.event(EventSuccessDropped, "", func(st *Stats) { st.SuccessesDropped++ })
	} else {
		p.answer = authPacket(ppp.CHAPSuccess, p.chapID, success, false)
		p.se.sendPPP(ppp.ProtoCHAP, p.answer)
	}
	p.startIPCP()
}

func (p *pppServer) papInput(pkt []byte) {
	if p.auth != AuthPAP || len(pkt) < 6 || pkt[0] != ppp.PAPAuthRequest {
		return
	}
	id := pkt[1]
	n := int(binary.BigEndian.Uint16(pkt[2:]))
	if n > len(pkt) {
		return
	}
	d := pkt[4:n]
	if len(d) < 1 || 1+int(d[0]) >= len(d) {
		return
	}
	user := string(d[1 : 1+d[0]])
	d = d[1+d[0]:]
	if 1+int(d[0]) > len(d) {
		return
	}
	pw := string(d[1 : 1+d[0]])
	if p.answered {
		if p.answer != nil {
			p.answer[1] = id
			p.se.sendPPP(ppp.ProtoPAP, p.answer)
		}
		return
	}
	p.answered = true
	if user != p.cfg.User || pw != p.cfg.Password {
		p.authFailed(ppp.ProtoPAP, authPacket(ppp.PAPAuthNak, id, "Login incorrect", true))
		return
	}
	p.event(EventAuthOK, AuthPAP, func(st *Stats) { st.AuthOK++ })
	if p.cfg.HoldAuth {
		return
	}
	p.answer = authPacket(ppp.PAPAuthAck, id, "Login ok", true)
	p.se.sendPPP(ppp.ProtoPAP, p.answer)
	p.startIPCP()
}

func (p *pppServer) authFailed(proto ppp.Protocol, answer []byte) {
	p.event(EventAuthFailed, p.auth, func(st *Stats) { st.AuthFailed++ })
	if p.cfg.HoldAuth {
		return
	}
	p.answer = answer
	p.se.sendPPP(proto, answer)
	if !p.cfg.CDNOnAuthFailure {
		return
	}
	p.phase = phDead
	se := p.se
	clear := func() {
		if se.t.s.tunnels[se.t.tid] == se.t && se.t.sessions[se.sid] == se {
			se.clear(2, 0, "authentication failed")
		}
	}
	if p.cfg.CDNDelay <= 0 {
		clear()
		return
	}
	p.se.t.s.after(p.cfg.CDNDelay, clear)
}

// IPCP (RFC 1332, RFC 1877).

func (p *pppServer) startIPCP() {
	p.phase = phNetwork
	p.sendIPCPReq()
	if p.cfg.IPv6 {
		p.sendIPv6CPReq()
	}
}

func (p *pppServer) sendIPCPReq() {
	var opts []byte
	if p.peerAddr {
		a := p.cfg.PeerAddress.As4()
		opts = ppp.AppendOption(opts, ipcpOptAddress, a[:])
	}
	p.ipcpID++
	p.ipcpAcked = false
	p.ipcpReq = retx{proto: ppp.ProtoIPCP, pkt: ppp.AppendCP(nil, ppp.CodeConfReq, p.ipcpID, opts)}
	p.transmit(&p.ipcpReq)
}

func (p *pppServer) ipcpInput(pkt []byte) {
	code, id, data, err := ppp.ParseCP(pkt)
	if err != nil {
		return
	}
	switch code {
	case ppp.CodeConfReq:
		opts, err := ppp.ParseOptions(data)
		if err != nil {
			return
		}
		var rej, nak []byte
		for _, o := range opts {
			var want netip.Addr
			switch {
			case o.Type == ipcpOptAddress && len(o.Data) == 4:
				want = p.cfg.Address
			case o.Type == ipcpOptDNS1 && len(o.Data) == 4 && len(p.cfg.DNS) > 0:
				want = p.cfg.DNS[0]
			case o.Type == ipcpOptDNS2 && len(o.Data) == 4 && len(p.cfg.DNS) > 1:
				want = p.cfg.DNS[1]
			default:
				rej = ppp.AppendOption(rej, o.Type, o.Data)
				continue
			}
			if w := want.As4(); !bytes.Equal(o.Data, w[:]) {
				nak = ppp.AppendOption(nak, o.Type, w[:])
			}
		}
		switch {
		case rej != nil:
			p.sendCP(ppp.ProtoIPCP, ppp.CodeConfRej, id, rej)
		case nak != nil:
			p.sendCP(ppp.ProtoIPCP, ppp.CodeConfNak, id, nak)
		default:
			p.sendCP(ppp.ProtoIPCP, ppp.CodeConfAck, id, data)
			p.ipcpAcking = true
		}
	case ppp.CodeConfAck:
		if id == p.ipcpID {
			p.ipcpAcked = true
			p.ipcpReq.due = time.Time{}
		}
	case ppp.CodeConfNak, ppp.CodeConfRej:
		if id == p.ipcpID {
			p.peerAddr = false
			p.sendIPCPReq()
		}
	case ppp.CodeTermReq:
		p.sendCP(ppp.ProtoIPCP, ppp.CodeTermAck, id, nil)
		p.ipcpUp, p.ipcpAcking = false, false
	}
	if !p.ipcpUp && p.ipcpAcked && p.ipcpAcking {
		p.ipcpUp = true
		p.event(EventIPCPUp, p.cfg.Address.String(), func(st *Stats) { st.IPCPUp++ })
	}
}

// IPV6CP (RFC 5072).

func (p *pppServer) sendIPv6CPReq() {
	p.v6ID++
	p.v6Acked = false
	opts := ppp.AppendOption(nil, ipv6cpOptIID, binary.BigEndian.AppendUint64(nil, p.cfg.IPv6IID))
	p.v6Req = retx{proto: ppp.ProtoIPv6CP, pkt: ppp.AppendCP(nil, ppp.CodeConfReq, p.v6ID, opts)}
	p.transmit(&p.v6Req)
}

func (p *pppServer) ipv6cpInput(pkt []byte) {
	code, id, data, err := ppp.ParseCP(pkt)
	if err != nil {
		return
	}
	switch code {
	case ppp.CodeConfReq:
		opts, err := ppp.ParseOptions(data)
		if err != nil {
			return
		}
		var rej, nak []byte
		var client uint64
		for _, o := range opts {
			if o.Type != ipv6cpOptIID || len(o.Data) != 8 {
				rej = ppp.AppendOption(rej, o.Type, o.Data)
				continue
			}
			client = binary.BigEndian.Uint64(o.Data)
			switch {
			case p.cfg.IPv6NakIID != 0 && !p.v6Naked:
				p.v6Naked = true
				nak = ppp.AppendOption(nak, o.Type, binary.BigEndian.AppendUint64(nil, p.cfg.IPv6NakIID))
			case client == 0 || client == p.cfg.IPv6IID:
				// RFC 5072 4.1: suggest a different, non-zero one.
				nak = ppp.AppendOption(nak, o.Type, binary.BigEndian.AppendUint64(nil, p.cfg.IPv6IID^0xffff))
			}
		}
		switch {
		case rej != nil:
			p.sendCP(ppp.ProtoIPv6CP, ppp.CodeConfRej, id, rej)
		case nak != nil:
			p.sendCP(ppp.ProtoIPv6CP, ppp.CodeConfNak, id, nak)
		default:
			p.sendCP(ppp.ProtoIPv6CP, ppp.CodeConfAck, id, data)
			p.v6Acking = true
			p.v6Client = client
		}
	case ppp.CodeConfAck:
		if id == p.v6ID {
			p.v6Acked = true
			p.v6Req.due = time.Time{}
		}
	case ppp.CodeConfNak, ppp.CodeConfRej:
		// This server insists on its identifier: ask again.
		if id == p.v6ID {
			p.sendIPv6CPReq()
		}
	case ppp.CodeTermReq:
		p.sendCP(ppp.ProtoIPv6CP, ppp.CodeTermAck, id, nil)
		p.v6Up, p.v6Acking = false, false
	}
	if !p.v6Up && p.v6Acked && p.v6Acking {
		p.v6Up = true
		p.event(EventIPv6CPUp, ppp.LinkLocal(p.v6Client).String(), func(st *Stats) { st.IPv6CPUp++ })
	}
}
