package ike

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// testResponder is a minimal IKEv1 responder (Main Mode with a pre-shared
// key, Quick Mode, NAT-T per RFC 3947 or the drafts, DPD) and ESP-in-UDP
// peer, on two loopback UDP sockets standing in for ports 500 and 4500.
// It decrypts the client's ESP and echoes the inner UDP payload back. It
// is built from the package's own pieces, used from the responder's side
// of every formula. Its knobs inject faults.
//
// Everything it does happens under mu, one datagram at a time.
type testResponder struct {
	psk       []byte
	ikeAccept []IKESuite // phase-1 suites it accepts
	espAccept []ESPSuite // phase-2 suites it accepts

	// Knobs, set before Dial.
	silent       bool // no answer at all
	dropMM5      bool // wrong PSK as a real server sees it: MM5 dropped
	wrongPSK     bool // it uses another PSK: HASH_R fails at the initiator
	noProposalP1 bool // NO-PROPOSAL-CHOSEN to MM1, in the clear
	noProposalP2 bool // NO-PROPOSAL-CHOSEN to QM1, in an encrypted informational
	invalidMM5   NotifyType
	dupMM2       bool   // MM2 sent twice
	dropFirstQM3 bool   // the first QM3 is ignored and QM2 resent
	noQM         bool   // Quick Mode is never answered
	espAfterQM3  bool   // send an ESP packet with the new SA as soon as QM3 is in
	dpdInQM      bool   // send R-U-THERE (seq 4242) between QM1 and QM2
	draftNATT    bool   // announce draft-02 NAT-T instead of RFC 3947
	noNATT       bool   // announce no NAT-T at all
	noDPD        bool   // no DPD vendor ID
	shortKE      *dhKey // its Diffie-Hellman half, whose public value starts with a zero byte: sent without it (as SoftEther does)
	fakeNAT      bool   // its NAT-D says the client came from elsewhere
	qmLifetime   time.Duration
	// Faults of the security issue: forgeries an off-path attacker who
	// sees our cookies could send, and answers that break the rules.
	forgeMM2Notify NotifyType // a clear notification just before MM2
	forgeMM6       bool       // a clear INVALID-COOKIE and a garbled MM6 before the real one
	forgeQM2       bool       // a garbled QM2 and a garbled informational before the real QM2
	mmLife, qmLife *Attr      // the Life Duration attribute of the chosen transform
	qmNonce        []byte     // Nr of QM2
	qmSPI          []byte     // the responder's SPI in QM2
	qmIDs          [][]byte   // the ID payloads of QM2 instead of the echo
	// Aggressive Mode (RFC 2409 5.4), answered as charon answers it: an
	// IDii it does not know gets a clear AUTHENTICATION-FAILED.
	amGroup     string // the group name it knows ("": any)
	amGroupType uint8  // the ID type it wants with amGroup (0: IDFQDN)
	amIDr       []byte // its IDir body (nil: ID_IPV4_ADDR 0.0.0.0)
	amBadIDr    bool   // HASH_R covers another IDir than the one sent
	amDropAM3   bool   // the first AM3 is dropped and AM2 sent again
	// cert, when set, makes it answer Main Mode with RSA signatures
	// (RFC 2409 5.1) instead of the pre-shared key (cert_test.go).
	cert *rCertAuth
	// lns, when set (attachLNS), gets the L2TP datagrams the client sends
	// in ESP instead of the echo, and its answers go back in ESP: the
	// whole stack runs over this responder.
	lns l2tp.Transport
	// Knobs that may change while it runs.
	ignoreQM    atomic.Bool // drop Quick Modes once an SA pair exists
	mute        atomic.Bool // drop every datagram (a dead peer)
	noDPDAnswer atomic.Bool // do not answer R-U-THERE

	ikeConn, nattConn *net.UDPConn
	// Without sockets (FuzzInitiator): out takes each datagram as it
	// goes on the wire from port, and rng is the randomness.
	out               func(b []byte, port uint16)
	rng               io.Reader
	ikePort, nattPort uint16
	wg                sync.WaitGroup

	mu       sync.Mutex
	sessions map[[8]byte]*rSession
	cur      *rSession      // the latest established IKE SA
	client   netip.AddrPort // the client on our 4500 socket
	inSAs    map[uint32]*esp.SA
	children []*rChild // in the order they were installed
	lastInfo []byte    // the last informational datagram sent (for replays)
	st       rStats
	events   []string
}

// rStats is what the responder saw.
type rStats struct {
	mm1, mm3, mm5           int
	mm5OnIKE                int
	ikeOnNATT, ikeOnIKE     int // IKE messages per socket
	natSeen                 bool
	natdServerOK            bool
	espOnNATT, espOnIKE     int // ESP (or anything not IKE) per socket
	espBad, espUnknownSPI   int
	espEchoed               int
	espSeqs                 []uint32 // of the client's ESP packets, in arrival order
	keepalives              int
	qm1, qmDone, qmIgnored  int
	qm3Dropped              int
	badHash                 int
	dpdReq, dpdAck          []uint32
	deletes                 []rDelete
	muted                   int
	initialContact          bool
	lastQMEncap             uint64
	lastQMHadNATOA, pfsUsed bool
	am1, am3, am3OnIKE      int
	am3Dropped              int
	amIDi                   ID   // the identity of the last AM1
	certReqs                int  // CERTREQ payloads in MM3
	clientSigOK             bool // the client's SIG_I verified with the key of its CERT
	clientChainOK           bool // its certificate verified against cert.clientCA
	clientID                ID   // its IDii in MM5
	am3Clear                bool // an AM3 came unencrypted
}

type rDelete struct {
	proto uint8
	spi   []byte
	ci    [8]byte
}

type rSession struct {
	sa                 *ikeSA // the responder's view of the IKE SA
	saiBody            []byte
	mm1, mm2           []byte
	mm3, mm4           []byte
	mm5, mm6           []byte
	gxi, gxr           []byte
	amIDi              []byte // Aggressive Mode: the IDii body of AM1
	established, atNAT bool
	qm                 map[uint32]*rQM
}

type rQM struct {
	q1, q2          []byte
	q2last          []byte
	mb              [4]byte
	ni, nr, gxy     []byte
	initSPI, ourSPI []byte
	suite           ESPSuite
	done            bool
}

type rChild struct {
	in, out         *esp.SA
	initSPI, ourSPI uint32
	suite           ESPSuite
}

func newTestResponder(t testing.TB, psk string) *testResponder {
	t.Helper()
	r := &testResponder{
		psk:       []byte(psk),
		ikeAccept: append(append([]IKESuite(nil), DefaultIKE...), LegacyIKE...),
		espAccept: append(append([]ESPSuite(nil), DefaultESP...), LegacyESP...),
		sessions:  map[[8]byte]*rSession{},
		inSAs:     map[uint32]*esp.SA{},
		rng:       rand.Reader,
	}
	var err error
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if r.ikeConn, err = net.ListenUDP("udp4", lo); err != nil {
		t.Fatal(err)
	}
	if r.nattConn, err = net.ListenUDP("udp4", lo); err != nil {
		r.ikeConn.Close()
		t.Fatal(err)
	}
	r.ikePort = uint16(r.ikeConn.LocalAddr().(*net.UDPAddr).Port)
	r.nattPort = uint16(r.nattConn.LocalAddr().(*net.UDPAddr).Port)
	t.Cleanup(func() {
		r.close()
		if t.Failed() {
			r.mu.Lock()
			t.Logf("responder events:\n  %s", strings.Join(r.events, "\n  "))
			r.mu.Unlock()
		}
	})
	return r
}

// start serves both sockets until close. Knobs are read without locking:
// set them before start.
func (r *testResponder) start() *testResponder {
	r.wg.Add(2)
	go r.serve(r.ikeConn, false)
	go r.serve(r.nattConn, true)
	return r
}

func (r *testResponder) close() {
	r.ikeConn.Close()
	r.nattConn.Close()
	r.wg.Wait()
}

func (r *testResponder) config() Config {
	return Config{
		PSK:         r.psk,
		serverPorts: [2]uint16{r.ikePort, r.nattPort},
		Retransmit:  []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
	}
}

func (r *testResponder) eventf(format string, a ...any) {
	if len(r.events) < 1000 {
		r.events = append(r.events, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, a...))
	}
}

// stats returns a copy of what the responder saw.
func (r *testResponder) stats() rStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st
	s.dpdReq = append([]uint32(nil), s.dpdReq...)
	s.dpdAck = append([]uint32(nil), s.dpdAck...)
	s.deletes = append([]rDelete(nil), s.deletes...)
	s.espSeqs = append([]uint32(nil), s.espSeqs...)
	return s
}

// waitFor polls cond on the stats every 5 ms until it holds or d passes.
func (r *testResponder) waitFor(d time.Duration, cond func(s rStats) bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond(r.stats()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *testResponder) serve(conn *net.UDPConn, floated bool) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	// Ends when close closes the socket.
	for i := 0; i < 10_000_000; i++ {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		b := append([]byte(nil), buf[:n]...)
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		r.mu.Lock()
		r.handle(b, from, floated)
		r.mu.Unlock()
	}
}

// send writes msg to the client from the 4500 socket when floated, with
// the non-ESP marker (RFC 3948 2.2), else from the IKE socket.
func (r *testResponder) send(floated bool, to netip.AddrPort, msg []byte) {
	if floated {
		msg = append(make([]byte, 4), msg...)
	}
	if r.out != nil {
		port := r.ikePort
		if floated {
			port = r.nattPort
		}
		r.out(msg, port)
		return
	}
	if floated {
		r.nattConn.WriteToUDPAddrPort(msg, to)
		return
	}
	r.ikeConn.WriteToUDPAddrPort(msg, to)
}

func (r *testResponder) handle(b []byte, from netip.AddrPort, floated bool) {
	if r.mute.Load() {
		r.st.muted++
		return
	}
	if !floated {
		if _, _, err := ParseHeader(b); err != nil {
			r.st.espOnIKE++
			r.eventf("non-IKE datagram of %d bytes on the IKE port", len(b))
			return
		}
		r.st.ikeOnIKE++
		r.handleIKE(b, from, false)
		return
	}
	switch {
	case len(b) == 1 && b[0] == 0xff:
		r.st.keepalives++
	case len(b) >= 4 && b[0]|b[1]|b[2]|b[3] == 0:
		r.st.ikeOnNATT++
		r.handleIKE(b[4:], from, true)
	default:
		if spi, ok := esp.PeekSPI(b); ok {
			r.handleESP(b, spi, from)
			return
		}
		r.eventf("junk of %d bytes on 4500", len(b))
	}
}

func (r *testResponder) handleIKE(msg []byte, from netip.AddrPort, floated bool) {
	h, body, err := ParseHeader(msg)
	if err != nil {
		r.eventf("bad IKE message: %v", err)
		return
	}
	enc := h.Flags()&FlagEncryption != 0
	switch {
	case h.Exchange() == ExchangeMain && !enc && h.RCookie() == [8]byte{}:
		r.mm1(msg, from, floated)
	case h.Exchange() == ExchangeMain && !enc:
		r.mm3(msg, from, floated)
	case h.Exchange() == ExchangeMain:
		r.mm5(msg, h, body, from, floated)
	case h.Exchange() == ExchangeAggressive && h.RCookie() == [8]byte{}:
		r.am1(msg, from, floated)
	case h.Exchange() == ExchangeAggressive:
		r.am3(msg, h, body, from, floated)
	case h.Exchange() == ExchangeQuick && enc:
		r.quick(msg, h, body, from, floated)
	case h.Exchange() == ExchangeInformational && enc:
		r.info(h, body)
	default:
		r.eventf("ignored %v flags %d", h.Exchange(), h.Flags())
	}
}

// rnd is n bytes from the responder's randomness.
func (r *testResponder) rnd(n int) []byte {
	b := make([]byte, n)
	io.ReadFull(r.rng, b)
	return b
}

func rnd(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// clearNotify sends an unencrypted Informational with one notification.
func (r *testResponder) clearNotify(ci, cr [8]byte, typ NotifyType, floated bool, to netip.AddrPort) {
	m := (&Message{ICookie: ci, RCookie: cr, Exchange: ExchangeInformational, Payloads: []Payload{
		{PayloadNotify, Notify{Protocol: protoISAKMP, Type: typ}.Append(nil)}}}).Marshal()
	r.send(floated, to, m)
}

func (r *testResponder) mm1(msg []byte, from netip.AddrPort, floated bool) {
	r.st.mm1++
	r.eventf("MM1 from %v", from)
	if r.silent {
		return
	}
	h := Header(msg)
	ci := h.ICookie()
	if s := r.sessions[ci]; s != nil {
		if bytes.Equal(msg, s.mm1) {
			r.send(floated, from, s.mm2)
		}
		return
	}
	m, err := ParseClear(msg)
	if err != nil {
		return
	}
	var cr [8]byte
	copy(cr[:], r.rnd(8))
	if r.noProposalP1 {
		r.clearNotify(ci, cr, NotifyNoProposalChosen, floated, from)
		return
	}
	p, ok := m.Find(PayloadSA)
	if !ok {
		return
	}
	offer, err := ParseSA(p.Body)
	if err != nil || len(offer.Proposals) != 1 || offer.Proposals[0].Protocol != protoISAKMP {
		r.eventf("MM1 offer: %v", err)
		return
	}
	var chosen Transform
	var suite IKESuite
	found := false
	for _, t := range offer.Proposals[0].Transforms {
		auth := uint64(authPSK)
		if r.cert != nil {
			auth = authRSASig
		}
		if s, err := matchP1Auth(t, r.ikeAccept, auth); err == nil {
			chosen, suite, found = t, s, true
			break
		}
	}
	if !found {
		r.clearNotify(ci, cr, NotifyNoProposalChosen, floated, from)
		return
	}
	s := &rSession{sa: &ikeSA{suite: suite, ci: ci, cr: cr}, saiBody: p.Body, mm1: msg, qm: map[uint32]*rQM{}}
	if r.mmLife != nil {
		chosen = withAttr(chosen, *r.mmLife)
	}
	ps := []Payload{{PayloadSA, (&SA{Proposals: []Proposal{{Num: offer.Proposals[0].Num, Protocol: protoISAKMP,
		Transforms: []Transform{chosen}}}}).Append(nil)}}
	switch {
	case r.noNATT:
	case r.draftNATT:
		if !hasVID(m, vidDraft02n) {
			return
		}
		s.sa.natt = natt{draft: true}
		ps = append(ps, Payload{PayloadVendorID, vidDraft02n})
	default:
		if !hasVID(m, vidRFC3947) {
			return
		}
		s.sa.natt = natt{rfc: true}
		ps = append(ps, Payload{PayloadVendorID, vidRFC3947})
	}
	if !r.noDPD && hasVID(m, vidDPD) {
		ps = append(ps, Payload{PayloadVendorID, vidDPD})
	}
	s.mm2 = (&Message{ICookie: ci, RCookie: cr, Exchange: ExchangeMain, Payloads: ps}).Marshal()
	r.sessions[ci] = s
	r.eventf("MM2: %v", suite)
	if r.forgeMM2Notify != 0 {
		r.clearNotify(ci, cr, r.forgeMM2Notify, floated, from)
	}
	r.send(floated, from, s.mm2)
	if r.dupMM2 {
		r.send(floated, from, s.mm2)
	}
}

func (r *testResponder) mm3(msg []byte, from netip.AddrPort, floated bool) {
	h := Header(msg)
	s := r.sessions[h.ICookie()]
	if s == nil || h.RCookie() != s.sa.cr {
		return
	}
	r.st.mm3++
	r.eventf("MM3 from %v", from)
	if s.mm3 != nil {
		if bytes.Equal(msg, s.mm3) {
			r.send(floated, from, s.mm4)
		}
		return
	}
	m, err := ParseClear(msg)
	if err != nil {
		return
	}
	ke, ok1 := m.Find(PayloadKE)
	ni, ok2 := m.Find(PayloadNonce)
	if !ok1 || !ok2 {
		r.eventf("MM3 without KE or nonce")
		return
	}
	sa := s.sa
	dh, err := newDH(sa.suite.Group, r.rng)
	if err != nil {
		return
	}
	if r.shortKE != nil && r.shortKE.p.Cmp(dh.p) == 0 {
		dh = &dhKey{p: r.shortKE.p, x: r.shortKE.x, pub: bytes.TrimLeft(r.shortKE.pub, "\x00")}
	}
	gxy, err := dh.shared(ke.Body)
	if err != nil {
		r.eventf("MM3: %v", err)
		return
	}
	nr := r.rnd(24)
	psk := r.psk
	if r.wrongPSK {
		psk = []byte("some other pre-shared key")
	}
	sa.keys = deriveP1(sa.suite, psk, ni.Body, nr, gxy, sa.ci, sa.cr)
	if r.cert != nil {
		sa.keys = deriveP1Sig(sa.suite, ni.Body, nr, gxy, sa.ci, sa.cr)
		r.st.certReqs += len(m.All(PayloadCertReq))
	}
	if sa.block, err = blockCipher(sa.suite.Cipher, sa.keys.encKey); err != nil {
		return
	}
	// The initiator's NAT-D: first us as it addresses us, then itself.
	port := r.ikePort
	if floated {
		port = r.nattPort
	}
	us := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
	nt := sa.natt.natdType()
	natds := m.All(nt)
	if len(natds) >= 2 {
		r.st.natdServerOK = bytes.Equal(natds[0].Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, us))
		honest := false
		for _, p := range natds[1:] {
			honest = honest || bytes.Equal(p.Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, from))
		}
		s.atNAT = !honest
		r.st.natSeen = s.atNAT
	}
	// Ours: first the initiator as we see it, then ourselves.
	seen := from
	if r.fakeNAT {
		seen = netip.MustParseAddrPort("198.51.100.7:31000")
	}
	s.mm4 = (&Message{ICookie: sa.ci, RCookie: sa.cr, Exchange: ExchangeMain, Payloads: []Payload{
		{PayloadKE, dh.pub}, {PayloadNonce, nr},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, seen)},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, us)},
	}}).Marshal()
	s.mm3, s.gxi, s.gxr = msg, ke.Body, dh.pub
	r.eventf("MM4 (NAT at the initiator: %v)", s.atNAT)
	r.send(floated, from, s.mm4)
}

func (r *testResponder) mm5(msg []byte, h Header, body []byte, from netip.AddrPort, floated bool) {
	s := r.sessions[h.ICookie()]
	if s == nil || h.RCookie() != s.sa.cr || s.mm4 == nil {
		return
	}
	r.st.mm5++
	r.eventf("MM5 from %v floated %v", from, floated)
	if !floated {
		// It saw a NAT in front of the initiator (the forced one): the
		// initiator must float to 4500 (RFC 3947 4).
		r.st.mm5OnIKE++
		return
	}
	if r.dropMM5 {
		return
	}
	if r.invalidMM5 != 0 {
		r.clearNotify(s.sa.ci, s.sa.cr, r.invalidMM5, true, from)
		return
	}
	if s.mm5 != nil {
		if bytes.Equal(msg, s.mm5) {
			r.send(true, from, s.mm6)
		}
		return
	}
	sa := s.sa
	bs := sa.block.BlockSize()
	if r.cert != nil {
		r.certMM5(s, msg, h, body, from)
		return
	}
	if !r.wrongPSK {
		iv := digest(sa.suite.Hash, s.gxi, s.gxr)[:bs]
		ps, _, _, err := sa.open(h, body, iv)
		if err != nil {
			r.eventf("MM5: %v", err)
			return
		}
		var idi, hashI []byte
		for _, p := range ps {
			switch p.Type {
			case PayloadID:
				idi = p.Body
			case PayloadHash:
				hashI = p.Body
			case PayloadNotify:
				if n, err := ParseNotify(p.Body); err == nil && n.Type == NotifyInitialContact {
					r.st.initialContact = true
				}
			}
		}
		// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
		want := prf(sa.suite.Hash, sa.keys.skeyid, s.gxi, s.gxr, sa.ci[:], sa.cr[:], s.saiBody, idi)
		if idi == nil || !hmac.Equal(hashI, want) {
			r.st.badHash++
			r.eventf("MM5: HASH_I does not verify")
			return
		}
	}
	// SoftEther answers with 0.0.0.0 as its identity.
	idr := ID{Type: IDIPv4Addr, Data: []byte{0, 0, 0, 0}}.Append(nil)
	// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
	hashR := prf(sa.suite.Hash, sa.keys.skeyid, s.gxr, s.gxi, sa.cr[:], sa.ci[:], s.saiBody, idr)
	// Appendix B: MM6 continues the CBC chain of MM5.
	s.mm6, sa.lastIV = sa.seal(ExchangeMain, 0, lastBlock(body, bs), []Payload{{PayloadID, idr}, {PayloadHash, hashR}})
	s.mm5 = msg
	s.established = true
	r.cur = s
	r.client = from
	r.eventf("MM6: IKE SA %x established", sa.ci)
	if r.forgeMM6 {
		r.clearNotify(sa.ci, sa.cr, NotifyInvalidCookie, true, from)
		r.send(true, from, r.garbled(s.mm6))
	}
	r.send(true, from, s.mm6)
}

func (r *testResponder) quick(msg []byte, h Header, body []byte, from netip.AddrPort, floated bool) {
	s := r.sessions[h.ICookie()]
	if s == nil || !s.established || h.RCookie() != s.sa.cr {
		return
	}
	sa := s.sa
	mid := h.MessageID()
	q := s.qm[mid]
	if q == nil {
		r.qm1(s, msg, h, body, from, floated)
		return
	}
	if bytes.Equal(msg, q.q1) {
		r.send(floated, from, q.q2)
		return
	}
	if q.done {
		return
	}
	// QM3: HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
	ps, _, _, err := sa.open(h, body, q.q2last)
	if err != nil {
		r.eventf("QM3: %v", err)
		return
	}
	want := prf(sa.suite.Hash, sa.keys.a, []byte{0}, q.mb[:], q.ni, q.nr)
	if len(ps) == 0 || ps[0].Type != PayloadHash || !hmac.Equal(ps[0].Body, want) {
		r.st.badHash++
		r.eventf("QM3: HASH(3) does not verify")
		return
	}
	if r.dropFirstQM3 && r.st.qm3Dropped == 0 {
		r.st.qm3Dropped++
		r.eventf("QM3 dropped; QM2 resent")
		r.send(floated, from, q.q2)
		return
	}
	// KEYMAT per direction: the SPI is the receiver's.
	n := q.suite.Suite.KeyMaterialLen(q.suite.KeyLen)
	kin := keymat(sa.suite.Hash, sa.keys.d, q.gxy, protoESP, q.ourSPI, q.ni, q.nr, n)
	kout := keymat(sa.suite.Hash, sa.keys.d, q.gxy, protoESP, q.initSPI, q.ni, q.nr, n)
	ch := &rChild{initSPI: binary.BigEndian.Uint32(q.initSPI), ourSPI: binary.BigEndian.Uint32(q.ourSPI), suite: q.suite}
	if ch.in, err = esp.NewSA(ch.ourSPI, q.suite.Suite, kin); err != nil {
		r.eventf("QM3: %v", err)
		return
	}
	if ch.out, err = esp.NewSA(ch.initSPI, q.suite.Suite, kout); err != nil {
		r.eventf("QM3: %v", err)
		return
	}
	q.done = true
	r.inSAs[ch.ourSPI] = ch.in
	r.children = append(r.children, ch)
	r.client = from
	r.st.qmDone++
	r.eventf("QM3: ESP SA pair in %08x out %08x (%v)", ch.ourSPI, ch.initSPI, q.suite)
	if r.espAfterQM3 {
		p := fmt.Appendf(nil, "first packet of SA %08x", ch.initSPI)
		u := make([]byte, 8+len(p))
		binary.BigEndian.PutUint16(u, 1701)
		binary.BigEndian.PutUint16(u[2:], 1701)
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		copy(u[8:], p)
		r.sealTo(len(r.children)-1, u)
	}
}

func (r *testResponder) qm1(s *rSession, msg []byte, h Header, body []byte, from netip.AddrPort, floated bool) {
	sa := s.sa
	mid := h.MessageID()
	if r.noQM || (r.ignoreQM.Load() && len(r.children) > 0) {
		r.st.qmIgnored++
		return
	}
	ps, plain, last, err := sa.open(h, body, sa.p2IV(mid))
	if err != nil {
		r.eventf("QM1: %v", err)
		return
	}
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	// HASH(1) = prf(SKEYID_a, M-ID | the rest).
	if err := sa.checkHash(ps, plain, mb[:]); err != nil {
		r.st.badHash++
		r.eventf("QM1: %v", err)
		return
	}
	r.st.qm1++
	var saP, ni, ke Payload
	var ids, natoa []Payload
	for _, p := range ps[1:] {
		switch p.Type {
		case PayloadSA:
			saP = p
		case PayloadNonce:
			ni = p
		case PayloadKE:
			ke = p
		case PayloadID:
			ids = append(ids, p)
		case PayloadNATOA, PayloadNATOADraft:
			natoa = append(natoa, p)
		}
	}
	offer, err := ParseSA(saP.Body)
	if err != nil || ni.Body == nil || len(offer.Proposals) != 1 || len(offer.Proposals[0].SPI) != 4 ||
		offer.Proposals[0].Protocol != protoESP || len(ids) != 2 {
		r.eventf("QM1 malformed: %v", err)
		return
	}
	r.st.lastQMHadNATOA = len(natoa) == 2 && natoa[0].Type == sa.natt.natoaType()
	prop := offer.Proposals[0]
	var chosen Transform
	var suite ESPSuite
	found := false
	for _, t := range prop.Transforms {
		// UDP-encapsulated transport mode of the negotiated NAT-T flavour.
		if e, _ := t.Attr(p2AttrEncap); e != sa.natt.encapTransport() {
			continue
		}
		if es, err := matchP2(t, r.espAccept, sa.natt); err == nil {
			chosen, suite, found = t, es, true
			break
		}
	}
	if r.noProposalP2 || !found {
		r.sendInfo(s, []Payload{{PayloadNotify, Notify{Protocol: protoESP, Type: NotifyNoProposalChosen, SPI: prop.SPI}.Append(nil)}})
		r.eventf("QM1: NO-PROPOSAL-CHOSEN")
		return
	}
	r.st.lastQMEncap, _ = chosen.Attr(p2AttrEncap)
	if r.qmLife != nil {
		chosen = withAttr(chosen, *r.qmLife)
	}
	if r.qmLifetime != 0 {
		var as []Attr
		for _, a := range chosen.Attrs {
			if a.Type == p2AttrLifeDur {
				a = Attr{Type: p2AttrLifeDur, Value: uint64(r.qmLifetime / time.Second)}
			}
			as = append(as, a)
		}
		chosen.Attrs = as
	}
	q := &rQM{q1: msg, mb: mb, ni: ni.Body, nr: r.rnd(32), initSPI: prop.SPI, suite: suite}
	q.ourSPI = r.rnd(4)
	q.ourSPI[0] |= 0x80
	if r.qmSPI != nil {
		q.ourSPI = r.qmSPI
	}
	if r.qmNonce != nil {
		q.nr = r.qmNonce
	}
	reply := []Payload{
		{PayloadSA, (&SA{Proposals: []Proposal{{Num: prop.Num, Protocol: protoESP, SPI: q.ourSPI, Transforms: []Transform{chosen}}}}).Append(nil)},
		{PayloadNonce, q.nr},
	}
	if suite.PFS != 0 {
		if ke.Body == nil {
			r.eventf("QM1: PFS without KE")
			return
		}
		dh, err := newDH(suite.PFS, r.rng)
		if err != nil {
			return
		}
		if q.gxy, err = dh.shared(ke.Body); err != nil {
			r.eventf("QM1: %v", err)
			return
		}
		reply = append(reply, Payload{PayloadKE, dh.pub})
		r.st.pfsUsed = true
	}
	if r.qmIDs != nil {
		ids = nil
		for _, b := range r.qmIDs {
			ids = append(ids, Payload{PayloadID, b})
		}
	}
	reply = append(reply, ids...)
	// RFC 3947 5.2: the responder sends NAT-OA when it chose UDP transport.
	reply = append(reply, Payload{sa.natt.natoaType(), appendNATOA(nil, from.Addr())},
		Payload{sa.natt.natoaType(), appendNATOA(nil, netip.AddrFrom4([4]byte{127, 0, 0, 1}))})
	// HASH(2) = prf(SKEYID_a, M-ID | Ni_b | the rest); the IV continues QM1's chain.
	q.q2, q.q2last = sa.seal(ExchangeQuick, mid, last, sa.hashed(append(mb[:], q.ni...), reply))
	s.qm[mid] = q
	if r.dpdInQM {
		r.sendInfo(s, []Payload{{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyRUThere, SPI: cookies(sa),
			Data: binary.BigEndian.AppendUint32(nil, 4242)}.Append(nil)}})
	}
	r.eventf("QM2 mid %08x: %v spi %x", mid, suite, q.ourSPI)
	if r.forgeQM2 {
		r.send(floated, from, r.garbled(q.q2))
		info, _ := sa.seal(ExchangeInformational, mid^1, sa.p2IV(mid^1), sa.hashed([]byte{0, 0, 0, 0}, []Payload{
			{PayloadNotify, Notify{Protocol: protoESP, Type: NotifyNoProposalChosen}.Append(nil)}}))
		r.send(floated, from, info) // its HASH is over the wrong M-ID
	}
	r.send(floated, from, q.q2)
}

// info handles an encrypted Informational exchange.
func (r *testResponder) info(h Header, body []byte) {
	s := r.sessions[h.ICookie()]
	if s == nil || !s.established || h.RCookie() != s.sa.cr {
		return
	}
	sa := s.sa
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], h.MessageID())
	ps, plain, _, err := sa.open(h, body, sa.p2IV(h.MessageID()))
	if err != nil {
		r.eventf("informational: %v", err)
		return
	}
	if err := sa.checkHash(ps, plain, mb[:]); err != nil {
		r.st.badHash++
		r.eventf("informational: %v", err)
		return
	}
	for _, p := range ps[1:] {
		switch p.Type {
		case PayloadNotify:
			n, err := ParseNotify(p.Body)
			if err != nil || len(n.Data) != 4 || !bytes.Equal(n.SPI, cookies(sa)) {
				r.eventf("informational: bad notification")
				continue
			}
			seq := binary.BigEndian.Uint32(n.Data)
			switch n.Type {
			case NotifyRUThere:
				r.st.dpdReq = append(r.st.dpdReq, seq)
				r.eventf("R-U-THERE %d", seq)
				if !r.noDPDAnswer.Load() {
					r.sendInfo(s, []Payload{{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyRUThereAck, SPI: cookies(sa), Data: n.Data}.Append(nil)}})
				}
			case NotifyRUThereAck:
				r.st.dpdAck = append(r.st.dpdAck, seq)
				r.eventf("R-U-THERE-ACK %d", seq)
			}
		case PayloadDelete:
			d, err := ParseDelete(p.Body)
			if err != nil {
				continue
			}
			for _, spi := range d.SPIs {
				r.st.deletes = append(r.st.deletes, rDelete{proto: d.Protocol, spi: spi, ci: sa.ci})
				r.eventf("Delete proto %d spi %x", d.Protocol, spi)
			}
		}
	}
}

// sendInfo sends an Informational exchange protected by s (RFC 2409 5.7).
func (r *testResponder) sendInfo(s *rSession, ps []Payload) {
	mid := binary.BigEndian.Uint32(r.rnd(4)) | 1
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	msg, _ := s.sa.seal(ExchangeInformational, mid, s.sa.p2IV(mid), s.sa.hashed(mb[:], ps))
	r.lastInfo = msg
	r.send(true, r.client, msg)
}

// replayInfo sends the last informational datagram again, unchanged.
func (r *testResponder) replayInfo() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.send(true, r.client, r.lastInfo)
}

// garbled is msg with its encrypted body replaced by random bytes: what a
// forger who knows the cookies but not the keys can send.
func (r *testResponder) garbled(msg []byte) []byte {
	b := bytes.Clone(msg)
	copy(b[HeaderLen:], r.rnd(len(b)-HeaderLen))
	return b
}

// withAttr returns t with attribute a in place of the one of its type.
func withAttr(t Transform, a Attr) Transform {
	var as []Attr
	for _, x := range t.Attrs {
		if x.Type == a.Type {
			x = a
		}
		as = append(as, x)
	}
	t.Attrs = as
	return t
}

func (r *testResponder) handleESP(b []byte, spi uint32, from netip.AddrPort) {
	r.st.espOnNATT++
	r.st.espSeqs = append(r.st.espSeqs, esp.Header(b).Seq())
	in := r.inSAs[spi]
	if in == nil {
		r.st.espUnknownSPI++
		r.eventf("ESP for unknown SPI %08x", spi)
		return
	}
	off, end, next, err := in.Open(b, 0, len(b))
	if err != nil || next != 17 || end-off < 8 {
		r.st.espBad++
		r.eventf("ESP %08x: %v next %d", spi, err, next)
		return
	}
	u := b[off:end]
	if binary.BigEndian.Uint16(u) != 1701 || binary.BigEndian.Uint16(u[2:]) != 1701 || int(binary.BigEndian.Uint16(u[4:])) != len(u) {
		r.st.espBad++
		r.eventf("ESP %08x: inner UDP header % x", spi, u[:8])
		return
	}
	r.client = from
	if r.lns != nil {
		r.lns.WritePacket(bytes.Clone(u), 8)
		return
	}
	// Echo the datagram, inner UDP header and all, with the newest SA.
	if r.sealTo(len(r.children)-1, u) == nil {
		r.st.espEchoed++
	}
}

// sealTo sends the inner UDP datagram u in ESP with the outbound SA of
// child i.
func (r *testResponder) sealTo(i int, u []byte) error {
	out := r.children[i].out
	buf := make([]byte, 64+len(u)+64)
	copy(buf[64:], u)
	start, stop, err := out.Seal(buf, 64, 64+len(u), 17)
	if err != nil {
		return err
	}
	if r.out != nil {
		r.out(buf[start:stop], r.nattPort)
		return nil
	}
	_, err = r.nattConn.WriteToUDPAddrPort(buf[start:stop], r.client)
	return err
}

// sendESP sends payload as L2TP-over-UDP in ESP with child i's outbound SA.
func (r *testResponder) sendESP(i int, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u, 1701)
	binary.BigEndian.PutUint16(u[2:], 1701)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	return r.sealTo(i, u)
}

// sendRUThere sends R-U-THERE with seq over the current IKE SA.
func (r *testResponder) sendRUThere(seq uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.cur
	r.sendInfo(s, []Payload{{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyRUThere, SPI: cookies(s.sa),
		Data: binary.BigEndian.AppendUint32(nil, seq)}.Append(nil)}})
}

// sendDeleteESP deletes the newest ESP SA pair: the Delete names our
// inbound SPI (RFC 2408 3.15), the client's outbound one.
func (r *testResponder) sendDeleteESP() {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.children[len(r.children)-1]
	spi := binary.BigEndian.AppendUint32(nil, ch.ourSPI)
	r.sendInfo(r.cur, []Payload{{PayloadDelete, Delete{Protocol: protoESP, SPIs: [][]byte{spi}}.Append(nil)}})
}

// sendDeleteSPI sends a Delete for an ESP SPI of our choosing.
func (r *testResponder) sendDeleteSPI(spi uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendInfo(r.cur, []Payload{{PayloadDelete, Delete{Protocol: protoESP, SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, spi)}}.Append(nil)}})
}

// sendDeleteIKE deletes the current IKE SA.
func (r *testResponder) sendDeleteIKE() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendInfo(r.cur, []Payload{{PayloadDelete, Delete{Protocol: protoISAKMP, SPIs: [][]byte{cookies(r.cur.sa)}}.Append(nil)}})
}

// child returns a copy of child i's SPIs.
func (r *testResponder) child(i int) (ourSPI, initSPI uint32, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.children) {
		return 0, 0, false
	}
	return r.children[i].ourSPI, r.children[i].initSPI, true
}

// ikeCookies returns the cookies of the current IKE SA.
func (r *testResponder) ikeCookies() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cookies(r.cur.sa)
}

// am1 answers Aggressive Mode message 1 with AM2: its whole side of the
// exchange, HASH_R included (RFC 2409 5.4, RFC 3947 3.2).
func (r *testResponder) am1(msg []byte, from netip.AddrPort, floated bool) {
	r.st.am1++
	r.eventf("AM1 from %v", from)
	if r.silent {
		return
	}
	ci := Header(msg).ICookie()
	if s := r.sessions[ci]; s != nil {
		if bytes.Equal(msg, s.mm1) {
			r.send(floated, from, s.mm2)
		}
		return
	}
	m, err := ParseClear(msg)
	if err != nil {
		r.eventf("AM1: %v", err)
		return
	}
	var cr [8]byte
	copy(cr[:], r.rnd(8))
	if r.noProposalP1 {
		r.clearNotify(ci, cr, NotifyNoProposalChosen, floated, from)
		return
	}
	p, ok1 := m.Find(PayloadSA)
	ke, ok2 := m.Find(PayloadKE)
	ni, ok3 := m.Find(PayloadNonce)
	idp, ok4 := m.Find(PayloadID)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		r.eventf("AM1 without SA, KE, nonce or ID: %v", m.Types())
		return
	}
	offer, err := ParseSA(p.Body)
	if err != nil || len(offer.Proposals) != 1 || offer.Proposals[0].Protocol != protoISAKMP {
		r.eventf("AM1 offer: %v", err)
		return
	}
	var chosen Transform
	var suite IKESuite
	found := false
	groups := map[Group]bool{}
	for _, t := range offer.Proposals[0].Transforms {
		g, _ := t.Attr(p1AttrGroup)
		groups[Group(g)] = true
		if s, err := matchP1(t, r.ikeAccept); err == nil && !found {
			chosen, suite, found = t, s, true
		}
	}
	if len(groups) != 1 {
		// RFC 2409 5: one Diffie-Hellman group in Aggressive Mode.
		r.eventf("AM1 offers %d groups", len(groups))
		r.clearNotify(ci, cr, NotifyBadProposalSyntax, floated, from)
		return
	}
	if !found {
		r.clearNotify(ci, cr, NotifyNoProposalChosen, floated, from)
		return
	}
	id, err := ParseID(idp.Body)
	if err != nil {
		return
	}
	r.st.amIDi = ID{Type: id.Type, Data: bytes.Clone(id.Data)}
	want := r.amGroupType
	if want == 0 {
		want = IDFQDN
	}
	if r.amGroup != "" && (id.Type != want || string(id.Data) != r.amGroup) {
		r.eventf("AM1: unknown identity %v", id)
		r.clearNotify(ci, cr, NotifyAuthenticationFailed, floated, from)
		return
	}
	s := &rSession{sa: &ikeSA{suite: suite, ci: ci, cr: cr}, saiBody: p.Body, mm1: msg, amIDi: idp.Body, qm: map[uint32]*rQM{}}
	sa := s.sa
	ps := []Payload{{PayloadSA, (&SA{Proposals: []Proposal{{Num: offer.Proposals[0].Num, Protocol: protoISAKMP,
		Transforms: []Transform{chosen}}}}).Append(nil)}}
	var vids []Payload
	switch {
	case r.noNATT:
	case r.draftNATT:
		if !hasVID(m, vidDraft02n) {
			return
		}
		sa.natt = natt{draft: true}
		vids = append(vids, Payload{PayloadVendorID, vidDraft02n})
	default:
		if !hasVID(m, vidRFC3947) {
			return
		}
		sa.natt = natt{rfc: true}
		vids = append(vids, Payload{PayloadVendorID, vidRFC3947})
	}
	if !r.noDPD && hasVID(m, vidDPD) {
		vids = append(vids, Payload{PayloadVendorID, vidDPD})
	}
	dh, err := newDH(sa.suite.Group, r.rng)
	if err != nil {
		return
	}
	gxy, err := dh.shared(ke.Body)
	if err != nil {
		r.eventf("AM1: %v", err)
		return
	}
	nr := r.rnd(24)
	psk := r.psk
	if r.wrongPSK {
		psk = []byte("some other pre-shared key")
	}
	sa.keys = deriveP1(sa.suite, psk, ni.Body, nr, gxy, sa.ci, sa.cr)
	if sa.block, err = blockCipher(sa.suite.Cipher, sa.keys.encKey); err != nil {
		return
	}
	idr := r.amIDr
	if idr == nil {
		idr = ID{Type: IDIPv4Addr, Data: []byte{0, 0, 0, 0}}.Append(nil)
	}
	hashed := idr
	if r.amBadIDr {
		hashed = ID{Type: IDFQDN, Data: []byte("someone.else.example")}.Append(nil)
	}
	// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
	hashR := prf(sa.suite.Hash, sa.keys.skeyid, dh.pub, ke.Body, sa.cr[:], sa.ci[:], s.saiBody, hashed)
	ps = append(ps, Payload{PayloadKE, dh.pub}, Payload{PayloadNonce, nr}, Payload{PayloadID, idr}, Payload{PayloadHash, hashR})
	ps = append(ps, vids...)
	if !r.noNATT {
		port := r.ikePort
		if floated {
			port = r.nattPort
		}
		us := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
		seen := from
		if r.fakeNAT {
			seen = netip.MustParseAddrPort("198.51.100.7:31000")
		}
		nt := sa.natt.natdType()
		ps = append(ps, Payload{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, seen)}, Payload{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, us)})
	}
	s.mm2 = (&Message{ICookie: ci, RCookie: cr, Exchange: ExchangeAggressive, Payloads: ps}).Marshal()
	s.gxi, s.gxr = ke.Body, dh.pub
	r.sessions[ci] = s
	r.eventf("AM2: %v", suite)
	if r.forgeMM2Notify != 0 {
		r.clearNotify(ci, cr, r.forgeMM2Notify, floated, from)
	}
	r.send(floated, from, s.mm2)
	if r.dupMM2 {
		r.send(floated, from, s.mm2)
	}
}

// am3 checks HASH_I and the initiator's NAT-D in Aggressive Mode message
// 3 and establishes the IKE SA.
func (r *testResponder) am3(msg []byte, h Header, body []byte, from netip.AddrPort, floated bool) {
	s := r.sessions[h.ICookie()]
	if s == nil || h.RCookie() != s.sa.cr || s.amIDi == nil || s.established {
		return
	}
	r.st.am3++
	r.eventf("AM3 from %v floated %v", from, floated)
	if !floated {
		r.st.am3OnIKE++
		return
	}
	if r.amDropAM3 && r.st.am3Dropped == 0 {
		r.st.am3Dropped++
		r.eventf("AM3 dropped; AM2 resent")
		r.send(true, from, s.mm2)
		return
	}
	sa := s.sa
	bs := sa.block.BlockSize()
	var ps []Payload
	if h.Flags()&FlagEncryption == 0 {
		r.st.am3Clear = true
		m, err := ParseClear(msg)
		if err != nil {
			return
		}
		ps = m.Payloads
		sa.lastIV = digest(sa.suite.Hash, s.gxi, s.gxr)[:bs]
	} else {
		var err error
		ps, _, sa.lastIV, err = sa.open(h, body, digest(sa.suite.Hash, s.gxi, s.gxr)[:bs])
		if err != nil {
			r.eventf("AM3: %v", err)
			return
		}
	}
	var hashI []byte
	var natds []Payload
	for _, p := range ps {
		switch p.Type {
		case PayloadHash:
			hashI = p.Body
		case sa.natt.natdType():
			natds = append(natds, p)
		case PayloadNotify:
			if n, err := ParseNotify(p.Body); err == nil && n.Type == NotifyInitialContact {
				r.st.initialContact = true
			}
		}
	}
	// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
	want := prf(sa.suite.Hash, sa.keys.skeyid, s.gxi, s.gxr, sa.ci[:], sa.cr[:], s.saiBody, s.amIDi)
	if !hmac.Equal(hashI, want) {
		r.st.badHash++
		r.eventf("AM3: HASH_I does not verify")
		return
	}
	if len(natds) >= 2 {
		us := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), r.ikePort)
		r.st.natdServerOK = bytes.Equal(natds[0].Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, us))
		honest := false
		for _, p := range natds[1:] {
			// The initiator hashed the address it sent AM1 from: its
			// 4500 socket is the same one.
			honest = honest || bytes.Equal(p.Body, natdHash(sa.suite.Hash, sa.ci, sa.cr, from))
		}
		s.atNAT = !honest
		r.st.natSeen = s.atNAT
	}
	s.mm5 = msg
	s.established = true
	r.cur = s
	r.client = from
	r.eventf("AM3: IKE SA %x established (NAT at the initiator: %v)", sa.ci, s.atNAT)
}

// attachLNS makes lns the L2TP server behind the responder (see lns); its
// datagrams go to the client in ESP with the newest SA pair. Call it
// before start; the pump ends when lns is closed.
func (r *testResponder) attachLNS(t testing.TB, lns l2tp.Transport) {
	r.lns = lns
	done := make(chan struct{})
	t.Cleanup(func() { lns.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			off, n, err := lns.ReadPacket(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			ok := len(r.children) > 0
			r.mu.Unlock()
			if ok {
				r.sendESP(len(r.children)-1, bytes.Clone(buf[off:off+n]))
			}
		}
	}()
}
