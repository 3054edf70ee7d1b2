package ike

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// Responder is a minimal IKEv1 responder for tests and benchmarks (the
// benchmark peer of build/benchpeer); the client never calls it, and the
// shipped binary does not contain it (nothing outside tests and build/
// refers to it). It answers Main Mode with a pre-shared key (RFC 2409 5.4),
// NAT traversal as in RFC 3947 only, Quick Mode without PFS for UDP-
// encapsulated transport mode (RFC 3947 5.2) and R-U-THERE (RFC 3706), and
// hands out each negotiated ESP SA pair as a Child.
//
// It is transport-agnostic: the caller reads its UDP sockets, passes each
// IKE message to Handle (without the non-ESP marker on the NAT-T port) and
// sends back what Handle returns (with the marker on the NAT-T port). It
// does not retransmit: a repeated message gets the same answer again. It
// keeps every IKE SA it established (one client is the use).
//
// The formulas are those of the initiator (conn.go), seen from the other
// side; the fault-injecting test responder (responder_test.go) is the
// fuller model.
type Responder struct {
	PSK []byte
	IKE []IKESuite // accepted phase-1 suites, first match in the client's order wins; nil: DefaultIKE and LegacyIKE
	ESP []ESPSuite // accepted phase-2 suites (PFS is not supported); nil: DefaultESP
	// Local is our address as the initiator addresses us, for NAT-D and
	// NAT-OA; Ports are our IKE and NAT-T ports (0: 500 and 4500).
	Local netip.Addr
	Ports [2]uint16
	Rand  io.Reader // nil: crypto/rand
	// Cert, when set, authenticates with RSA signatures instead of PSK
	// (cert_responder.go).
	Cert *ResponderCert

	mu       sync.Mutex
	sessions map[[8]byte]*respSession
}

// Child is an ESP SA pair a Quick Mode established: In opens the client's
// packets, Out seals ours; Client is where the client's Quick Mode came
// from (its NAT-T address and port).
type Child struct {
	In, Out *esp.SA
	Suite   ESPSuite
	Client  netip.AddrPort
}

type respSession struct {
	sa          *ikeSA
	saiBody     []byte
	mm1, mm2    []byte
	mm3, mm4    []byte
	mm5, mm6    []byte
	gxi, gxr    []byte
	established bool
	qm          map[uint32]*respQM
}

type respQM struct {
	q1, q2          []byte
	q2last          []byte
	mb              [4]byte
	ni, nr          []byte
	initSPI, ourSPI []byte
	suite           ESPSuite
	done            bool
}

var errResponder = errors.New("ike responder")

// Handle processes one IKE message msg from the initiator at from, which
// arrived on our IKE port (floated false) or on our NAT-T port (floated
// true, marker stripped). It returns the messages to send back to from
// (to be sent from the same port, with the marker when floated), and the
// Child a completed Quick Mode (message 3) established, if any. Messages it
// cannot use are dropped with an error saying why.
func (r *Responder) Handle(msg []byte, from netip.AddrPort, floated bool) (replies [][]byte, child *Child, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions == nil {
		r.sessions = map[[8]byte]*respSession{}
	}
	msg = bytes.Clone(msg) // kept to recognise retransmissions
	h, body, err := ParseHeader(msg)
	if err != nil {
		return nil, nil, err
	}
	enc := h.Flags()&FlagEncryption != 0
	s := r.sessions[h.ICookie()]
	switch {
	case h.Exchange() == ExchangeMain && !enc && h.RCookie() == [8]byte{}:
		return r.mm1(s, msg, h)
	case s == nil || h.RCookie() != s.sa.cr:
		return nil, nil, fmt.Errorf("%w: unknown cookies", errResponder)
	case h.Exchange() == ExchangeMain && !enc:
		return r.mm3(s, msg, from, floated)
	case h.Exchange() == ExchangeMain:
		return r.mm5(s, msg, h, body)
	case !s.established:
		return nil, nil, fmt.Errorf("%w: %v before Main Mode completed", errResponder, h.Exchange())
	case h.Exchange() == ExchangeQuick && enc:
		return r.quick(s, msg, h, body, from)
	case h.Exchange() == ExchangeInformational && enc:
		return r.info(s, h, body)
	}
	return nil, nil, fmt.Errorf("%w: ignored %v", errResponder, h.Exchange())
}

func (r *Responder) rnd(n int) []byte {
	rd := r.Rand
	if rd == nil {
		rd = rand.Reader
	}
	b := make([]byte, n)
	io.ReadFull(rd, b)
	return b
}

func (r *Responder) port(floated bool) uint16 {
	switch {
	case floated && r.Ports[1] != 0:
		return r.Ports[1]
	case floated:
		return portNATT
	case r.Ports[0] != 0:
		return r.Ports[0]
	}
	return portIKE
}

// mm1 answers Main Mode message 1 with our choice of the offered
// transforms (the first we accept) and the RFC 3947 and DPD vendor IDs.
func (r *Responder) mm1(s *respSession, msg []byte, h Header) ([][]byte, *Child, error) {
	if s != nil {
		if bytes.Equal(msg, s.mm1) {
			return [][]byte{s.mm2}, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: a second MM1 with the same cookie", errResponder)
	}
	m, err := ParseClear(msg)
	if err != nil {
		return nil, nil, err
	}
	p, ok := m.Find(PayloadSA)
	if !ok {
		return nil, nil, fmt.Errorf("%w: MM1 without SA", errResponder)
	}
	offer, err := ParseSA(p.Body)
	if err != nil || len(offer.Proposals) != 1 || offer.Proposals[0].Protocol != protoISAKMP {
		return nil, nil, fmt.Errorf("%w: MM1 offer: %v", errResponder, err)
	}
	if !hasVID(m, vidRFC3947) {
		return nil, nil, fmt.Errorf("%w: MM1 without the RFC 3947 vendor ID", errResponder)
	}
	accept := r.IKE
	if accept == nil {
		accept = append(append([]IKESuite(nil), DefaultIKE...), LegacyIKE...)
	}
	for _, t := range offer.Proposals[0].Transforms {
		suite, err := r.p1Match(t, accept)
		if err != nil {
			continue
		}
		ci := h.ICookie()
		var cr [8]byte
		copy(cr[:], r.rnd(8))
		s = &respSession{sa: &ikeSA{suite: suite, ci: ci, cr: cr, natt: natt{rfc: true}}, saiBody: p.Body, mm1: msg,
			qm: map[uint32]*respQM{}}
		ps := []Payload{{PayloadSA, (&SA{Proposals: []Proposal{{Num: offer.Proposals[0].Num, Protocol: protoISAKMP,
			Transforms: []Transform{t}}}}).Append(nil)}, {PayloadVendorID, vidRFC3947}}
		if hasVID(m, vidDPD) {
			ps = append(ps, Payload{PayloadVendorID, vidDPD})
		}
		s.mm2 = (&Message{ICookie: ci, RCookie: cr, Exchange: ExchangeMain, Payloads: ps}).Marshal()
		r.sessions[ci] = s
		return [][]byte{s.mm2}, nil, nil
	}
	return nil, nil, fmt.Errorf("%w: no acceptable phase-1 transform", errResponder)
}

// mm3 answers the key exchange: our KE, nonce and NAT-D hashes, and
// derives the phase-1 keys.
func (r *Responder) mm3(s *respSession, msg []byte, from netip.AddrPort, floated bool) ([][]byte, *Child, error) {
	if s.mm3 != nil {
		if bytes.Equal(msg, s.mm3) {
			return [][]byte{s.mm4}, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: a different MM3", errResponder)
	}
	m, err := ParseClear(msg)
	if err != nil {
		return nil, nil, err
	}
	ke, ok1 := m.Find(PayloadKE)
	ni, ok2 := m.Find(PayloadNonce)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%w: MM3 without KE or nonce", errResponder)
	}
	sa := s.sa
	rd := r.Rand
	if rd == nil {
		rd = rand.Reader
	}
	dh, err := newDH(sa.suite.Group, rd)
	if err != nil {
		return nil, nil, err
	}
	gxy, err := dh.shared(ke.Body)
	if err != nil {
		return nil, nil, err
	}
	nr := r.rnd(24)
	sa.keys = r.p1Keys(sa.suite, ni.Body, nr, gxy, sa.ci, sa.cr)
	if sa.block, err = blockCipher(sa.suite.Cipher, sa.keys.encKey); err != nil {
		return nil, nil, err
	}
	local := r.Local
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
	}
	us := netip.AddrPortFrom(local, r.port(floated))
	nt := sa.natt.natdType()
	// RFC 3947 3.2: first the initiator as we see it, then ourselves.
	s.mm4 = (&Message{ICookie: sa.ci, RCookie: sa.cr, Exchange: ExchangeMain, Payloads: []Payload{
		{PayloadKE, dh.pub}, {PayloadNonce, nr},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, from)},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, us)},
	}}).Marshal()
	s.mm3, s.gxi, s.gxr = msg, ke.Body, dh.pub
	return [][]byte{s.mm4}, nil, nil
}

// mm5 checks HASH_I and answers with our identity and HASH_R.
func (r *Responder) mm5(s *respSession, msg []byte, h Header, body []byte) ([][]byte, *Child, error) {
	if s.mm4 == nil {
		return nil, nil, fmt.Errorf("%w: MM5 before MM3", errResponder)
	}
	if s.mm5 != nil {
		if bytes.Equal(msg, s.mm5) {
			return [][]byte{s.mm6}, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: a different MM5", errResponder)
	}
	sa := s.sa
	bs := sa.block.BlockSize()
	iv := digest(sa.suite.Hash, s.gxi, s.gxr)[:bs]
	ps, _, _, err := sa.open(h, body, iv)
	if err != nil {
		return nil, nil, err
	}
	if r.Cert != nil {
		return r.certMM5(s, msg, body, ps)
	}
	var idi, hashI []byte
	for _, p := range ps {
		switch p.Type {
		case PayloadID:
			idi = p.Body
		case PayloadHash:
			hashI = p.Body
		}
	}
	// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
	want := prf(sa.suite.Hash, sa.keys.skeyid, s.gxi, s.gxr, sa.ci[:], sa.cr[:], s.saiBody, idi)
	if idi == nil || !hmac.Equal(hashI, want) {
		return nil, nil, fmt.Errorf("%w: HASH_I does not verify (another pre-shared key?)", errResponder)
	}
	local := r.Local
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
	}
	a := local.As4()
	idr := ID{Type: IDIPv4Addr, Data: a[:]}.Append(nil)
	// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
	hashR := prf(sa.suite.Hash, sa.keys.skeyid, s.gxr, s.gxi, sa.cr[:], sa.ci[:], s.saiBody, idr)
	// Appendix B: MM6 continues the CBC chain of MM5.
	s.mm6, sa.lastIV = sa.seal(ExchangeMain, 0, lastBlock(body, bs), []Payload{{PayloadID, idr}, {PayloadHash, hashR}})
	s.mm5 = msg
	s.established = true
	return [][]byte{s.mm6}, nil, nil
}

// quick handles Quick Mode messages 1 and 3.
func (r *Responder) quick(s *respSession, msg []byte, h Header, body []byte, from netip.AddrPort) ([][]byte, *Child, error) {
	sa := s.sa
	mid := h.MessageID()
	q := s.qm[mid]
	if q == nil {
		return r.qm1(s, msg, h, body, from)
	}
	if bytes.Equal(msg, q.q1) {
		return [][]byte{q.q2}, nil, nil
	}
	if q.done {
		return nil, nil, nil
	}
	// QM3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
	ps, _, _, err := sa.open(h, body, q.q2last)
	if err != nil {
		return nil, nil, err
	}
	want := prf(sa.suite.Hash, sa.keys.a, []byte{0}, q.mb[:], q.ni, q.nr)
	if len(ps) == 0 || ps[0].Type != PayloadHash || !hmac.Equal(ps[0].Body, want) {
		return nil, nil, fmt.Errorf("%w: HASH(3) does not verify", errResponder)
	}
	// KEYMAT per direction: the SPI is the receiver's (RFC 2409 5.5).
	n := q.suite.Suite.KeyMaterialLen(q.suite.KeyLen)
	kin := keymat(sa.suite.Hash, sa.keys.d, nil, protoESP, q.ourSPI, q.ni, q.nr, n)
	kout := keymat(sa.suite.Hash, sa.keys.d, nil, protoESP, q.initSPI, q.ni, q.nr, n)
	ch := &Child{Suite: q.suite, Client: from}
	if ch.In, err = esp.NewSA(binary.BigEndian.Uint32(q.ourSPI), q.suite.Suite, kin); err != nil {
		return nil, nil, err
	}
	if ch.Out, err = esp.NewSA(binary.BigEndian.Uint32(q.initSPI), q.suite.Suite, kout); err != nil {
		return nil, nil, err
	}
	clear(kin)
	clear(kout)
	q.done = true
	return nil, ch, nil
}

// qm1 picks the first offered ESP transform we accept and answers with
// our SPI, nonce, the echoed IDs and NAT-OA.
func (r *Responder) qm1(s *respSession, msg []byte, h Header, body []byte, from netip.AddrPort) ([][]byte, *Child, error) {
	sa := s.sa
	mid := h.MessageID()
	ps, plain, last, err := sa.open(h, body, sa.p2IV(mid))
	if err != nil {
		return nil, nil, err
	}
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	// HASH(1) = prf(SKEYID_a, M-ID | the rest).
	if err := sa.checkHash(ps, plain, mb[:]); err != nil {
		return nil, nil, err
	}
	var saP, ni Payload
	var ids []Payload
	for _, p := range ps[1:] {
		switch p.Type {
		case PayloadSA:
			saP = p
		case PayloadNonce:
			ni = p
		case PayloadID:
			ids = append(ids, p)
		}
	}
	offer, err := ParseSA(saP.Body)
	if err != nil || ni.Body == nil || len(offer.Proposals) != 1 || len(offer.Proposals[0].SPI) != 4 ||
		offer.Proposals[0].Protocol != protoESP || len(ids) != 2 {
		return nil, nil, fmt.Errorf("%w: malformed QM1: %v", errResponder, err)
	}
	accept := r.ESP
	if accept == nil {
		accept = DefaultESP
	}
	prop := offer.Proposals[0]
	for _, t := range prop.Transforms {
		if e, _ := t.Attr(p2AttrEncap); e != sa.natt.encapTransport() {
			continue
		}
		suite, err := matchP2(t, accept, sa.natt)
		if err != nil || suite.PFS != 0 {
			continue
		}
		q := &respQM{q1: msg, mb: mb, ni: ni.Body, nr: r.rnd(32), initSPI: prop.SPI, suite: suite}
		q.ourSPI = r.rnd(4)
		q.ourSPI[0] |= 0x80
		local := r.Local
		if !local.IsValid() {
			local = netip.IPv4Unspecified()
		}
		reply := []Payload{
			{PayloadSA, (&SA{Proposals: []Proposal{{Num: prop.Num, Protocol: protoESP, SPI: q.ourSPI, Transforms: []Transform{t}}}}).Append(nil)},
			{PayloadNonce, q.nr},
		}
		reply = append(reply, ids...)
		// RFC 3947 5.2: the responder sends NAT-OA when it chose UDP transport.
		reply = append(reply, Payload{sa.natt.natoaType(), appendNATOA(nil, from.Addr())},
			Payload{sa.natt.natoaType(), appendNATOA(nil, local)})
		// HASH(2) = prf(SKEYID_a, M-ID | Ni_b | the rest); the IV continues QM1's chain.
		q.q2, q.q2last = sa.seal(ExchangeQuick, mid, last, sa.hashed(append(mb[:], q.ni...), reply))
		s.qm[mid] = q
		return [][]byte{q.q2}, nil, nil
	}
	// NO-PROPOSAL-CHOSEN in an informational exchange, as a server says it.
	nmid := binary.BigEndian.Uint32(r.rnd(4)) | 1
	var nb [4]byte
	binary.BigEndian.PutUint32(nb[:], nmid)
	info, _ := sa.seal(ExchangeInformational, nmid, sa.p2IV(nmid), sa.hashed(nb[:],
		[]Payload{{PayloadNotify, Notify{Protocol: protoESP, Type: NotifyNoProposalChosen, SPI: prop.SPI}.Append(nil)}}))
	return [][]byte{info}, nil, fmt.Errorf("%w: no acceptable ESP transform", errResponder)
}

// info answers R-U-THERE with R-U-THERE-ACK (RFC 3706); Deletes and other
// notifications are read and ignored.
func (r *Responder) info(s *respSession, h Header, body []byte) ([][]byte, *Child, error) {
	sa := s.sa
	mid := h.MessageID()
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	ps, plain, _, err := sa.open(h, body, sa.p2IV(mid))
	if err != nil {
		return nil, nil, err
	}
	if err := sa.checkHash(ps, plain, mb[:]); err != nil {
		return nil, nil, err
	}
	var out [][]byte
	for _, p := range ps[1:] {
		if p.Type != PayloadNotify {
			continue
		}
		n, err := ParseNotify(p.Body)
		if err != nil || n.Type != NotifyRUThere || len(n.Data) != 4 || !bytes.Equal(n.SPI, cookies(sa)) {
			continue
		}
		amid := binary.BigEndian.Uint32(r.rnd(4)) | 1
		var ab [4]byte
		binary.BigEndian.PutUint32(ab[:], amid)
		ack, _ := sa.seal(ExchangeInformational, amid, sa.p2IV(amid), sa.hashed(ab[:], []Payload{{PayloadNotify,
			Notify{Protocol: protoISAKMP, Type: NotifyRUThereAck, SPI: cookies(sa), Data: n.Data}.Append(nil)}}))
		out = append(out, ack)
	}
	return out, nil, nil
}
