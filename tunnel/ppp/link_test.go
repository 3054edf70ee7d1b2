package ppp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Authentication-Protocol option data a server offers (RFC 1661 6.2).
var (
	offerEAP      = []byte{0xc2, 0x27}
	offerMSCHAPv2 = []byte{0xc2, 0x23, CHAPAlgMSv2}
	offerPAP      = []byte{0xc0, 0x23}
)

var (
	srvAddr    = netip.MustParseAddr("192.168.30.1")
	clientAddr = netip.MustParseAddr("192.168.30.10")
)

// rxPkt is a packet the fake server received from the link.
type rxPkt struct {
	proto Protocol
	code  Code
	id    byte
	data  []byte // after the 4-byte header, up to Length
	raw   []byte
	at    time.Time // when the link sent it
}

// fakeServer is a scripted PPP server in the style of SoftEther: it
// rejects Magic-Number, offers EAP, then MS-CHAPv2, then PAP, moving on
// after each Nak, authenticates for real (MS-CHAPv2 per RFC 2759) and
// assigns 192.168.30.10 through IPCP. Its handler runs on the Link's Run
// goroutine (through the Sender) and answers through Link.Input.
type fakeServer struct {
	t        *testing.T
	user     string
	password string

	// script
	offers       [][]byte   // auth options offered in turn; the last one is repeated; nil: no Auth option
	acceptMagic  bool       // Ack Magic-Number instead of rejecting it
	noChallenge  bool       // never start CHAP
	chapBadS     bool       // answer MS-CHAPv2 with a wrong authenticator response
	chapFail     bool       // answer MS-CHAPv2 with E=691 whatever the password
	chapLoseOK   bool       // the first Success is lost; a repeated Response gets it (RFC 1994 4.1)
	chapMute     bool       // never answer a CHAP Response
	papNakOnce   bool       // Nak the first PAP request and renegotiate LCP
	papNakAlways bool       // Nak every PAP request, nothing else
	papIgnore    int        // ignore this many PAP requests (a slow server)
	termOnRej    bool       // a rejected auth option: Terminate-Request, then silence
	termOnNak    bool       // a Nak'd auth option: Terminate-Request, then silence
	chapMoveOn   bool       // like SoftEther: the Success is lost, IPCP starts anyway, repeated Responses are ignored
	assign       netip.Addr // the address IPCP assigns; zero: clientAddr
	ownAddr      netip.Addr // the server's own IPCP address; zero: srvAddr
	dns          netip.Addr // the DNS server IPCP gives; zero: srvAddr
	noEchoReply  bool       // do not answer the link's Echo-Requests
	ipcpSilent   bool       // never answer IPCP
	noTermAck    bool       // do not answer Terminate-Request
	ipcpLag      bool       // like SoftEther: an IPCP packet is handled only when the next packet arrives
	v6           *v6Server  // answers IPV6CP (ipv6cp_test.go); nil: ignores it

	mu          sync.Mutex
	link        *Link
	rx          []rxPkt
	silent      bool
	id          byte
	offer       int
	lcpReqID    byte
	lcpReq      []byte
	ackedPeer   bool // we acked the link's LCP request
	gotAck      bool // the link acked ours
	authStarted bool
	chapID      byte
	authChal    [16]byte
	ntVerified  bool
	papReqs     int
	chapLost    bool
	papNaked    bool
	clientMagic uint32
	echoReplies chan rxPkt
	protoRejs   chan rxPkt
	termReqs    chan rxPkt
	held        *rxPkt // ipcpLag: the IPCP packet waiting for the next arrival
}

func newFakeServer(t *testing.T) *fakeServer {
	return &fakeServer{
		t: t, user: "alice", password: "s3cret",
		offers:      [][]byte{offerEAP, offerMSCHAPv2, offerPAP},
		echoReplies: make(chan rxPkt, 16),
		protoRejs:   make(chan rxPkt, 16),
		termReqs:    make(chan rxPkt, 16),
	}
}

func (s *fakeServer) nextID() byte {
	s.id++
	return s.id
}

// sendLCPReq sends the server's LCP Configure-Request: MRU 1400 and the
// current auth offer.
func (s *fakeServer) sendLCPReq() {
	opts := AppendOption(nil, lcpOptMRU, []byte{0x05, 0x78})
	if offer := s.offers[min(s.offer, len(s.offers)-1)]; offer != nil {
		opts = AppendOption(opts, lcpOptAuth, offer)
	}
	s.lcpReqID = s.nextID()
	s.lcpReq = opts
	s.out(ProtoLCP, AppendCP(nil, CodeConfReq, s.lcpReqID, opts))
}

func (s *fakeServer) currentOffer() AuthMethod {
	m, _ := authFromOption(s.offers[min(s.offer, len(s.offers)-1)])
	return m
}

func (s *fakeServer) out(proto Protocol, pkt []byte) { s.link.Input(proto, pkt) }

// recv is the Link's Sender.
func (s *fakeServer) recv(proto Protocol, pkt []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := append([]byte(nil), pkt...)
	p := rxPkt{proto: proto, raw: raw, at: time.Now()}
	if code, id, data, err := ParseCP(raw); err == nil {
		p.code, p.id, p.data = code, id, data
	} else {
		s.t.Errorf("link sent a malformed %v packet % x: %v", proto, pkt, err)
		return nil
	}
	s.rx = append(s.rx, p)
	if s.silent {
		return nil
	}
	if s.ipcpLag {
		if h := s.held; h != nil {
			s.held = nil
			s.ipcp(*h)
		}
		if proto == ProtoIPCP {
			s.held = &p
			return nil
		}
	}
	switch proto {
	case ProtoLCP:
		s.lcp(p)
	case ProtoCHAP:
		s.chap(p)
	case ProtoPAP:
		s.pap(p)
	case ProtoIPCP:
		if !s.ipcpSilent {
			s.ipcp(p)
		}
	case ProtoIPv6CP:
		if s.v6 != nil {
			s.ipv6cp(p)
		}
	}
	return nil
}

func (s *fakeServer) lcp(p rxPkt) {
	switch p.code {
	case CodeConfReq:
		opts, err := ParseOptions(p.data)
		if err != nil {
			s.t.Errorf("link sent malformed LCP options: %v", err)
			return
		}
		var rej []byte
		for _, o := range opts {
			if o.Type == lcpOptMagic {
				if s.acceptMagic {
					s.clientMagic = binary.BigEndian.Uint32(o.Data)
				} else {
					rej = AppendOption(rej, o.Type, o.Data)
				}
			}
		}
		if rej != nil {
			s.out(ProtoLCP, AppendCP(nil, CodeConfRej, p.id, rej))
		} else {
			s.out(ProtoLCP, AppendCP(nil, CodeConfAck, p.id, p.data))
			s.ackedPeer = true
		}
		if s.lcpReqID == 0 {
			s.sendLCPReq()
		}
		s.maybeStartAuth()
	case CodeConfAck:
		if p.id == s.lcpReqID && bytes.Equal(p.data, s.lcpReq) {
			s.gotAck = true
			s.maybeStartAuth()
		}
	case CodeConfNak:
		if p.id == s.lcpReqID && s.termOnNak {
			s.out(ProtoLCP, AppendCP(nil, CodeTermReq, s.nextID(), []byte("no acceptable auth")))
			s.silent = true
			return
		}
		if p.id == s.lcpReqID {
			s.offer++
			s.sendLCPReq()
		}
	case CodeConfRej:
		if p.id == s.lcpReqID && s.termOnRej {
			s.out(ProtoLCP, AppendCP(nil, CodeTermReq, s.nextID(), []byte("no acceptable auth")))
			s.silent = true
		}
	case CodeTermReq:
		push(s.termReqs, p)
		if !s.noTermAck {
			s.out(ProtoLCP, AppendCP(nil, CodeTermAck, p.id, nil))
		}
	case CodeEchoReq:
		if !s.noEchoReply {
			s.out(ProtoLCP, AppendCP(nil, CodeEchoReply, p.id, append([]byte{0, 0, 0, 0}, p.data[4:]...)))
		}
	case CodeEchoReply:
		push(s.echoReplies, p)
	case CodeProtoRej:
		push(s.protoRejs, p)
	}
}

// maybeStartAuth begins the authentication phase once LCP is open on both
// sides. CHAP starts with the server's Challenge; PAP waits for the link.
func (s *fakeServer) maybeStartAuth() {
	if !s.ackedPeer || !s.gotAck || s.authStarted {
		return
	}
	s.authStarted = true
	if s.offers[min(s.offer, len(s.offers)-1)] == nil {
		s.sendIPCPReq() // no authentication
		return
	}
	if s.currentOffer() == AuthMSCHAPv2 && !s.noChallenge {
		for i := range s.authChal {
			s.authChal[i] = byte(0x10*i + 3)
		}
		s.chapID = s.nextID()
		data := append([]byte{16}, s.authChal[:]...)
		data = append(data, "softether"...)
		s.out(ProtoCHAP, AppendCP(nil, CHAPChallenge, s.chapID, data))
	}
}

func (s *fakeServer) chap(p rxPkt) {
	if p.code != CHAPResponse || p.id != s.chapID {
		s.t.Errorf("unexpected CHAP packet code %d id %d", p.code, p.id)
		return
	}
	if s.chapMute || (s.chapMoveOn && s.chapLost) {
		return
	}
	if len(p.data) < 1+MSCHAPv2ResponseLen || p.data[0] != MSCHAPv2ResponseLen {
		s.t.Errorf("MS-CHAPv2 Response value of %d bytes", p.data[0])
		return
	}
	v := p.data[1 : 1+MSCHAPv2ResponseLen]
	name := string(p.data[1+MSCHAPv2ResponseLen:])
	var peerChal [16]byte
	var nt [24]byte
	copy(peerChal[:], v[0:16])
	copy(nt[:], v[24:48])
	if !bytes.Equal(v[16:24], make([]byte, 8)) || v[48] != 0 {
		s.t.Errorf("MS-CHAPv2 reserved octets or flags not zero: % x", v)
	}
	want := GenerateNTResponse(s.authChal, peerChal, s.user, s.password)
	ok := name == s.user && nt == want
	s.ntVerified = ok
	if !ok || s.chapFail {
		msg := "E=691 R=0 C=" + strings.ToUpper(hex.EncodeToString(s.authChal[:])) + " V=3"
		s.out(ProtoCHAP, AppendCP(nil, CHAPFailure, p.id, []byte(msg)))
		return
	}
	resp := GenerateAuthenticatorResponse(s.password, nt, peerChal, s.authChal, s.user)
	if s.chapBadS {
		resp = "S=" + strings.Repeat("0", 40)
	}
	if s.chapLoseOK && !s.chapLost {
		s.chapLost = true
		return // sent, and lost on the way
	}
	if s.chapMoveOn {
		s.chapLost = true
		s.sendIPCPReq() // the Success was sent and lost; IPCP goes on
		return
	}
	s.out(ProtoCHAP, AppendCP(nil, CHAPSuccess, p.id, []byte(resp)))
	s.sendIPCPReq()
}

func (s *fakeServer) pap(p rxPkt) {
	if p.code != PAPAuthRequest || len(p.data) < 1 || len(p.data) < 2+int(p.data[0]) {
		s.t.Errorf("malformed PAP request % x", p.raw)
		return
	}
	s.papReqs++
	if s.papReqs <= s.papIgnore {
		return
	}
	user := string(p.data[1 : 1+p.data[0]])
	rest := p.data[1+p.data[0]:]
	pass := string(rest[1 : 1+rest[0]])
	switch {
	case s.papNakOnce && !s.papNaked:
		// Our LCP did not consider itself open: Nak, then renegotiate.
		s.papNaked = true
		s.out(ProtoPAP, AppendCP(nil, PAPAuthNak, p.id, append([]byte{6}, "not yet"...)))
		s.ackedPeer, s.gotAck, s.authStarted = false, false, false
		s.sendLCPReq()
	case s.papNakAlways:
		s.out(ProtoPAP, AppendCP(nil, PAPAuthNak, p.id, append([]byte{12}, "bad password"...)))
	case user == s.user && pass == s.password:
		s.out(ProtoPAP, AppendCP(nil, PAPAuthAck, p.id, []byte{0}))
		s.sendIPCPReq()
	default:
		// SoftEther: no Authenticate-Nak, the link just ends.
		s.out(ProtoLCP, AppendCP(nil, CodeTermReq, s.nextID(), nil))
	}
}

func (s *fakeServer) sendIPCPReq() {
	if s.ipcpSilent {
		return
	}
	a := or(s.ownAddr, srvAddr).As4()
	s.out(ProtoIPCP, AppendCP(nil, CodeConfReq, s.nextID(), AppendOption(nil, ipcpOptAddress, a[:])))
}

func (s *fakeServer) ipcp(p rxPkt) {
	if p.code != CodeConfReq {
		return
	}
	opts, err := ParseOptions(p.data)
	if err != nil {
		s.t.Errorf("link sent malformed IPCP options: %v", err)
		return
	}
	var rej, nak []byte
	for _, o := range opts {
		switch {
		case o.Type == ipcpOptDNS2:
			rej = AppendOption(rej, o.Type, o.Data)
		case o.Type == ipcpOptAddress && netip.AddrFrom4([4]byte(o.Data)) != or(s.assign, clientAddr):
			a := or(s.assign, clientAddr).As4()
			nak = AppendOption(nak, o.Type, a[:])
		case o.Type == ipcpOptDNS1 && netip.AddrFrom4([4]byte(o.Data)) != or(s.dns, srvAddr):
			a := or(s.dns, srvAddr).As4()
			nak = AppendOption(nak, o.Type, a[:])
		}
	}
	switch {
	case rej != nil:
		s.out(ProtoIPCP, AppendCP(nil, CodeConfRej, p.id, rej))
	case nak != nil:
		s.out(ProtoIPCP, AppendCP(nil, CodeConfNak, p.id, nak))
	default:
		s.out(ProtoIPCP, AppendCP(nil, CodeConfAck, p.id, p.data))
	}
}

// or returns a, or def when a is the zero Addr.
func or(a, def netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return def
}

// push hands p to a test without ever blocking the Link's goroutine.
func push(ch chan rxPkt, p rxPkt) {
	select {
	case ch <- p:
	default:
	}
}

// received returns a copy of what the link sent so far.
func (s *fakeServer) received() []rxPkt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rxPkt(nil), s.rx...)
}

func (s *fakeServer) locked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// eventLog collects the Link's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
	e.at = append(e.at, time.Now())
}

func (e *eventLog) get() ([]Event, []time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...), append([]time.Time(nil), e.at...)
}

type linkRun struct {
	t      *testing.T
	l      *Link
	srv    *fakeServer
	ev     *eventLog
	ctx    context.Context
	cancel context.CancelFunc
	errc   chan error
}

func testConfig() Config {
	return Config{
		User:               "alice",
		Password:           "s3cret",
		Auth:               []AuthMethod{AuthMSCHAPv2, AuthPAP},
		RestartInterval:    20 * time.Millisecond,
		MaxRestartInterval: 80 * time.Millisecond,
		EchoInterval:       -1,
		AuthTimeout:        500 * time.Millisecond,
	}
}

// startLink runs a Link against srv. Every wait is bounded by a 5 s context.
func startLink(t *testing.T, cfg Config, srv *fakeServer) *linkRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	r := &linkRun{t: t, srv: srv, ev: &eventLog{}, ctx: ctx, cancel: cancel, errc: make(chan error, 1)}
	r.l = NewLink(cfg, srv.recv, r.ev.add)
	srv.link = r.l
	go func() { r.errc <- r.l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.errc:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// wait returns Run's result.
func (r *linkRun) wait() error {
	r.t.Helper()
	select {
	case err := <-r.errc:
		r.errc <- err // for Cleanup
		return err
	case <-r.ctx.Done():
		r.t.Fatal("timed out waiting for Run to return")
	}
	return nil
}

func (r *linkRun) waitUp() {
	r.t.Helper()
	select {
	case <-r.l.Up():
	case err := <-r.errc:
		r.errc <- err
		r.t.Fatalf("Run returned %v before IPCP opened", err)
	case <-r.ctx.Done():
		r.t.Fatal("timed out waiting for IPCP")
	}
}

func recvPkt(t *testing.T, ctx context.Context, ch chan rxPkt, what string) rxPkt {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-ctx.Done():
		t.Fatalf("timed out waiting for %s", what)
	}
	return rxPkt{}
}

func (r *linkRun) closeAndWait() {
	r.t.Helper()
	r.l.Close()
	if err := r.wait(); err != nil {
		r.t.Fatalf("Run after Close = %v, want nil", err)
	}
	if r.l.IPv4Open() {
		r.t.Error("IPv4Open after Run returned")
	}
}

func lcpNaks(rx []rxPkt) [][]byte {
	var out [][]byte
	for _, p := range rx {
		if p.proto == ProtoLCP && p.code == CodeConfNak {
			out = append(out, p.data)
		}
	}
	return out
}

func count(rx []rxPkt, proto Protocol, code Code) int {
	n := 0
	for _, p := range rx {
		if p.proto == proto && p.code == code {
			n++
		}
	}
	return n
}

func TestLinkMSCHAPv2SoftEther(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()

	evs, _ := r.ev.get()
	if len(evs) != 3 || evs[0].Kind != EventLCPUp || evs[1].Kind != EventAuthOK || evs[1].Auth != AuthMSCHAPv2 || evs[2].Kind != EventIPCPUp {
		t.Fatalf("events %+v, want LCPUp, AuthOK(MS-CHAPv2), IPCPUp", evs)
	}
	ip := evs[2].IP
	if ip.Local != clientAddr || ip.Peer != srvAddr || len(ip.DNS) != 1 || ip.DNS[0] != srvAddr {
		t.Errorf("IPCPUp %+v, want local %v peer %v dns [%v]", ip, clientAddr, srvAddr, srvAddr)
	}
	if got := ip.String(); got != "192.168.30.10 dns 192.168.30.1" {
		t.Errorf("IPInfo.String() = %q", got)
	}
	if !r.l.IPv4Open() {
		t.Error("IPv4Open false after IPCPUp")
	}
	if info := r.l.Info(); info.Local != clientAddr || info.Peer != srvAddr {
		t.Errorf("Info() = %+v", info)
	}
	if got := r.l.PeerMRU(); got != 1400 {
		t.Errorf("PeerMRU() = %d, want 1400", got)
	}
	var verified bool
	srv.locked(func() { verified = srv.ntVerified })
	if !verified {
		t.Error("the server did not verify the NT-Response")
	}
	rx := srv.received()
	// The link Nak'd EAP towards MS-CHAPv2, then acked MS-CHAPv2.
	naks := lcpNaks(rx)
	if len(naks) != 1 || !bytes.Equal(naks[0], AppendOption(nil, lcpOptAuth, offerMSCHAPv2)) {
		t.Errorf("LCP Naks % x, want one asking for MS-CHAPv2", naks)
	}
	// After the Magic-Number reject, the link asked for nothing.
	var last []byte
	for _, p := range rx {
		if p.proto == ProtoLCP && p.code == CodeConfReq {
			last = p.data
		}
	}
	if len(last) != 0 {
		t.Errorf("last LCP request % x, want empty", last)
	}
	if r.l.AuthFailure() != nil {
		t.Errorf("AuthFailure = %v", r.l.AuthFailure())
	}
	r.closeAndWait()
	if n := count(srv.received(), ProtoLCP, CodeTermReq); n != 1 {
		t.Errorf("%d Terminate-Requests, want 1", n)
	}
}

func TestLinkMSCHAPv2BadAuthenticatorResponse(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapBadS = true
	r := startLink(t, testConfig(), srv)
	err := r.wait()
	if !errors.Is(err, ErrMutualAuth) {
		t.Fatalf("Run = %v, want ErrMutualAuth", err)
	}
	if errors.Is(err, ErrAuthFailed) {
		t.Error("a mutual authentication failure reported as a rejected password")
	}
	evs, _ := r.ev.get()
	for _, e := range evs {
		if e.Kind != EventLCPUp {
			t.Errorf("event %+v after a bad authenticator response", e)
		}
	}
	if count(srv.received(), ProtoLCP, CodeTermReq) == 0 {
		t.Error("the link did not terminate LCP")
	}
}

func TestLinkMSCHAPv2Failure(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapFail = true
	r := startLink(t, testConfig(), srv)
	err := r.wait()
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("Run = %v, want *AuthError", err)
	}
	if ae.Method != AuthMSCHAPv2 || ae.User != "alice" || !strings.Contains(ae.Detail, "E=691") {
		t.Errorf("AuthError %+v", ae)
	}
	if !strings.Contains(err.Error(), "E=691") || !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("message %q", err)
	}
	if r.l.AuthFailure() == nil {
		t.Error("AuthFailure() = nil")
	}
}

// The wrong password with MS-CHAPv2: the server's NT-Response check fails.
func TestLinkMSCHAPv2WrongPassword(t *testing.T) {
	srv := newFakeServer(t)
	cfg := testConfig()
	cfg.Password = "wrong"
	r := startLink(t, cfg, srv)
	if err := r.wait(); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("Run = %v, want ErrAuthFailed", err)
	}
}

func TestLinkPAP(t *testing.T) {
	srv := newFakeServer(t)
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthPAP}
	r := startLink(t, cfg, srv)
	r.waitUp()
	evs, _ := r.ev.get()
	if len(evs) != 3 || evs[1].Kind != EventAuthOK || evs[1].Auth != AuthPAP {
		t.Fatalf("events %+v", evs)
	}
	naks := lcpNaks(srv.received())
	want := AppendOption(nil, lcpOptAuth, offerPAP)
	if len(naks) != 2 || !bytes.Equal(naks[0], want) || !bytes.Equal(naks[1], want) {
		t.Errorf("LCP Naks % x, want two asking for PAP (EAP, MS-CHAPv2)", naks)
	}
	if r.l.AuthFailure() != nil {
		t.Errorf("AuthFailure = %v", r.l.AuthFailure())
	}
	r.closeAndWait()
}

func TestLinkPAPWrongPasswordTerminates(t *testing.T) {
	srv := newFakeServer(t)
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthPAP}
	cfg.Password = "wrong"
	r := startLink(t, cfg, srv)
	err := r.wait()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Method != AuthPAP || ae.User != "alice" {
		t.Fatalf("Run = %v, want *AuthError for PAP", err)
	}
	if af := r.l.AuthFailure(); af == nil || !errors.Is(af, ErrAuthFailed) {
		t.Errorf("AuthFailure() = %v", af)
	}
	if n := count(srv.received(), ProtoLCP, CodeTermAck); n != 1 {
		t.Errorf("%d Terminate-Acks, want 1", n)
	}
}

// A server slower than the restart timer gets the PAP request again; with
// the default Max-Configure the link keeps asking instead of giving up
// after the first timeout (CI saw SoftEther reject after 515 ms).
func TestLinkPAPRetransmitsToSlowServer(t *testing.T) {
	for _, pw := range []string{"s3cret", "wrong"} {
		srv := newFakeServer(t)
		srv.papIgnore = 2
		cfg := testConfig()
		cfg.Auth = []AuthMethod{AuthPAP}
		cfg.MaxConfigure = 0 // the default
		cfg.Password = pw
		r := startLink(t, cfg, srv)
		if pw == "s3cret" {
			r.waitUp()
			r.closeAndWait()
		} else {
			var ae *AuthError
			if err := r.wait(); !errors.As(err, &ae) {
				t.Fatalf("wrong password: Run = %v, want *AuthError", err)
			}
		}
		var reqs int
		srv.locked(func() { reqs = srv.papReqs })
		if reqs != 3 {
			t.Errorf("password %q: %d PAP requests, want 3", pw, reqs)
		}
	}
}

// SoftEther Naks PAP when its LCP is not open yet (our Configure-Ack was
// lost) and sends a fresh Configure-Request: the link must renegotiate and
// retry, not report a wrong password.
func TestLinkPAPNakThenRenegotiation(t *testing.T) {
	srv := newFakeServer(t)
	srv.papNakOnce = true
	srv.offers = [][]byte{offerPAP}
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthPAP}
	r := startLink(t, cfg, srv)
	r.waitUp()
	evs, _ := r.ev.get()
	var kinds []EventKind
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) != 4 || kinds[0] != EventLCPUp || kinds[1] != EventLCPUp || kinds[2] != EventAuthOK || kinds[3] != EventIPCPUp {
		t.Errorf("events %v, want LCPUp, LCPUp, AuthOK, IPCPUp", kinds)
	}
	var reqs int
	srv.locked(func() { reqs = srv.papReqs })
	if reqs != 2 {
		t.Errorf("%d PAP requests, want 2", reqs)
	}
	if r.l.AuthFailure() != nil {
		t.Errorf("AuthFailure = %v", r.l.AuthFailure())
	}
	r.closeAndWait()
}

// A PAP Nak with no renegotiation is a wrong password, reported with the
// server's message once the short wait is over.
func TestLinkPAPNakWithoutRenegotiation(t *testing.T) {
	srv := newFakeServer(t)
	srv.papNakAlways = true
	srv.offers = [][]byte{offerPAP}
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthPAP}
	r := startLink(t, cfg, srv)
	err := r.wait()
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Method != AuthPAP || ae.Detail != `"bad password"` {
		t.Fatalf("Run = %v, want *AuthError for PAP with the server's message", err)
	}
	if af := r.l.AuthFailure(); af == nil {
		t.Error("AuthFailure() = nil")
	}
}

// A server that offers only EAP is Nak'd Max-Failure times, then the link
// ends with an *AuthRefusedError naming EAP (RFC 1661 4.6: not
// converging) instead of rejecting the option.
func TestLinkOnlyEAP(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{offerEAP}
	srv.termOnRej = true
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthMSCHAPv2}
	cfg.MaxConfigure = 4
	r := startLink(t, cfg, srv)
	err := r.wait()
	var re *AuthRefusedError
	if !errors.Is(err, ErrAuthMethod) || !errors.As(err, &re) || re.Wanted != "EAP" ||
		!strings.Contains(err.Error(), "EAP") || !strings.Contains(err.Error(), "MS-CHAPv2") {
		t.Fatalf("Run = %v, want *AuthRefusedError naming EAP and MS-CHAPv2", err)
	}
	rx := srv.received()
	if n := len(lcpNaks(rx)); n != 5 { // default MaxFailure
		t.Errorf("%d Naks, want 5", n)
	}
	if n := count(rx, ProtoLCP, CodeConfRej); n != 0 {
		t.Errorf("%d Configure-Rejects: the link should end rather than reject authentication", n)
	}
	if n := count(rx, ProtoLCP, CodeTermReq); n != 1 {
		t.Errorf("%d Terminate-Requests, want 1", n)
	}
}

func TestLinkEchoTimeout(t *testing.T) {
	srv := newFakeServer(t)
	srv.noEchoReply = true
	cfg := testConfig()
	cfg.EchoInterval = 50 * time.Millisecond
	cfg.EchoFailures = 3
	r := startLink(t, cfg, srv)
	err := r.wait()
	end := time.Now()
	if !errors.Is(err, ErrEchoTimeout) {
		t.Fatalf("Run = %v, want ErrEchoTimeout", err)
	}
	evs, at := r.ev.get()
	if len(evs) == 0 || evs[0].Kind != EventLCPUp {
		t.Fatalf("events %+v", evs)
	}
	// Three echoes 50 ms apart, then one more interval to give up.
	if d := end.Sub(at[0]); d < 3*cfg.EchoInterval || d > 2*time.Second {
		t.Errorf("gave up %v after LCP came up, want about %v", d, 4*cfg.EchoInterval)
	}
	var echoes []rxPkt
	for _, p := range srv.received() {
		if p.proto == ProtoLCP && p.code == CodeEchoReq {
			echoes = append(echoes, p)
		}
	}
	if len(echoes) != cfg.EchoFailures {
		t.Errorf("%d Echo-Requests, want %d", len(echoes), cfg.EchoFailures)
	}
	// A dead peer gets one Terminate-Request and no wait for its Ack.
	if n := count(srv.received(), ProtoLCP, CodeTermReq); n != 1 {
		t.Errorf("%d Terminate-Requests to a dead peer, want 1", n)
	}
	for _, e := range echoes {
		if !bytes.Equal(e.data, []byte{0, 0, 0, 0}) {
			t.Errorf("Echo-Request data % x, want magic 0 (Magic-Number rejected)", e.data)
		}
	}
}

func TestLinkEchoAnswered(t *testing.T) {
	srv := newFakeServer(t)
	cfg := testConfig()
	cfg.EchoInterval = 20 * time.Millisecond
	cfg.EchoFailures = 2
	r := startLink(t, cfg, srv)
	r.waitUp()
	time.Sleep(10 * cfg.EchoInterval)
	select {
	case err := <-r.errc:
		t.Fatalf("Run = %v with echoes answered", err)
	default:
	}
	if n := count(srv.received(), ProtoLCP, CodeEchoReq); n < 4 {
		t.Errorf("%d Echo-Requests in %v", n, 10*cfg.EchoInterval)
	}

	// The server's keepalive (SoftEther: magic 0) is answered with our
	// magic, 0 since the server rejected Magic-Number.
	srv.out(ProtoLCP, AppendCP(nil, CodeEchoReq, 0x77, []byte{0, 0, 0, 0, 'h', 'i'}))
	p := recvPkt(t, r.ctx, srv.echoReplies, "Echo-Reply")
	if p.id != 0x77 || !bytes.Equal(p.data, []byte{0, 0, 0, 0, 'h', 'i'}) {
		t.Errorf("Echo-Reply id %#x data % x", p.id, p.data)
	}
	r.closeAndWait()
}

func TestLinkEchoReplyCarriesOurMagic(t *testing.T) {
	srv := newFakeServer(t)
	srv.acceptMagic = true
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	srv.out(ProtoLCP, AppendCP(nil, CodeEchoReq, 5, []byte{0, 0, 0, 0}))
	p := recvPkt(t, r.ctx, srv.echoReplies, "Echo-Reply")
	var magic uint32
	srv.locked(func() { magic = srv.clientMagic })
	if magic == 0 || p.id != 5 || len(p.data) != 4 || binary.BigEndian.Uint32(p.data) != magic {
		t.Errorf("Echo-Reply id %d data % x, want our magic %#x", p.id, p.data, magic)
	}
	// A short Echo-Request (no magic field) is not answered.
	srv.out(ProtoLCP, AppendCP(nil, CodeEchoReq, 6, []byte{0}))
	srv.out(ProtoLCP, AppendCP(nil, CodeEchoReq, 7, []byte{0, 0, 0, 0}))
	if p := recvPkt(t, r.ctx, srv.echoReplies, "Echo-Reply"); p.id != 7 {
		t.Errorf("Echo-Reply id %d, want 7 (6 was too short)", p.id)
	}
	r.closeAndWait()
}

func TestLinkProtocolReject(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	ccp := AppendCP(nil, CodeConfReq, 1, AppendOption(nil, 18, []byte{0, 0, 0, 1})) // MPPE
	srv.out(ProtoCCP, ccp)
	p := recvPkt(t, r.ctx, srv.protoRejs, "Protocol-Reject")
	want := append([]byte{0x80, 0xfd}, ccp...)
	if !bytes.Equal(p.data, want) {
		t.Errorf("Protocol-Reject data % x, want % x", p.data, want)
	}
	// IPv6CP too; the link stays up.
	srv.out(ProtoIPv6CP, []byte{1, 1, 0, 4})
	p = recvPkt(t, r.ctx, srv.protoRejs, "Protocol-Reject")
	if !bytes.Equal(p.data, []byte{0x80, 0x57, 1, 1, 0, 4}) {
		t.Errorf("Protocol-Reject data % x", p.data)
	}
	if !r.l.IPv4Open() {
		t.Error("Protocol-Reject took the link down")
	}
	r.closeAndWait()
}

func TestLinkCodeRejectUnknownCode(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	srv.out(ProtoLCP, []byte{42, 9, 0, 5, 0xaa})
	srv.out(ProtoIPCP, []byte{42, 9, 0, 4})
	deadline := time.Now().Add(2 * time.Second)
	for {
		var lcpRej, ipcpRej []byte
		for _, p := range srv.received() {
			if p.code == CodeCodeRej && p.proto == ProtoLCP {
				lcpRej = p.data
			}
			if p.code == CodeCodeRej && p.proto == ProtoIPCP {
				ipcpRej = p.data
			}
		}
		if lcpRej != nil && ipcpRej != nil {
			if !bytes.Equal(lcpRej, []byte{42, 9, 0, 5, 0xaa}) || !bytes.Equal(ipcpRej, []byte{42, 9, 0, 4}) {
				t.Errorf("Code-Rejects % x and % x", lcpRej, ipcpRej)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Code-Reject")
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.closeAndWait()
}

func TestLinkCloseUnanswered(t *testing.T) {
	srv := newFakeServer(t)
	srv.noTermAck = true
	cfg := testConfig()
	cfg.MaxTerminate = 2
	r := startLink(t, cfg, srv)
	r.waitUp()
	r.closeAndWait()
	if n := count(srv.received(), ProtoLCP, CodeTermReq); n != 2 {
		t.Errorf("%d Terminate-Requests, want MaxTerminate = 2", n)
	}
}

func TestLinkCloseBeforeUp(t *testing.T) {
	srv := newFakeServer(t)
	srv.silent = true // a server that never answers
	r := startLink(t, testConfig(), srv)
	time.Sleep(5 * time.Millisecond)
	r.l.Close()
	r.l.Close() // idempotent
	if err := r.wait(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestLinkNoAnswer(t *testing.T) {
	srv := newFakeServer(t)
	srv.silent = true
	cfg := testConfig()
	cfg.MaxConfigure = 3
	r := startLink(t, cfg, srv)
	if err := r.wait(); !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrAuthMethod) {
		t.Fatalf("Run = %v, want ErrNoAnswer", err)
	}
	if n := count(srv.received(), ProtoLCP, CodeConfReq); n != 3 {
		t.Errorf("%d Configure-Requests, want 3", n)
	}
}

// The server refused EAP on the way (SoftEther always offers it first),
// then LCP opened with MS-CHAPv2 but the server never challenged. That is
// no answer, not "no acceptable authentication method".
func TestLinkCHAPTimeoutAfterRefusedEAP(t *testing.T) {
	srv := newFakeServer(t)
	srv.noChallenge = true
	cfg := testConfig()
	cfg.AuthTimeout = 100 * time.Millisecond
	r := startLink(t, cfg, srv)
	err := r.wait()
	if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrAuthMethod) {
		t.Fatalf("Run = %v, want ErrNoAnswer (not ErrAuthMethod)", err)
	}
}

// Likewise an IPCP that never answers after a good authentication.
func TestLinkIPCPNoAnswerAfterRefusedEAP(t *testing.T) {
	srv := newFakeServer(t)
	srv.ipcpSilent = true
	cfg := testConfig()
	cfg.MaxConfigure = 3
	r := startLink(t, cfg, srv)
	err := r.wait()
	if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrAuthMethod) || !strings.Contains(err.Error(), "IPCP") {
		t.Fatalf("Run = %v, want IPCP ErrNoAnswer (not ErrAuthMethod)", err)
	}
}

func TestLinkContextCancel(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	r.cancel()
	var err error
	select {
	case err = <-r.errc:
		r.errc <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if r.l.IPv4Open() {
		t.Error("IPv4Open after cancel")
	}
}

func TestLinkServerTerminates(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	srv.out(ProtoLCP, AppendCP(nil, CodeTermReq, 0x55, []byte("admin reset")))
	err := r.wait()
	var te *TerminatedError
	if !errors.As(err, &te) || te.Message != "admin reset" {
		t.Fatalf("Run = %v, want *TerminatedError", err)
	}
	if r.l.AuthFailure() != nil {
		t.Errorf("a Terminate after a good authentication reported as AuthFailure: %v", r.l.AuthFailure())
	}
}

// idsSentTwice returns the Identifiers of proto Configure-Requests the link
// sent more than once (retransmissions).
func idsSentTwice(rx []rxPkt, proto Protocol) []byte {
	seen := map[byte]int{}
	var twice []byte
	for _, p := range rx {
		if p.proto == proto && p.code == CodeConfReq {
			if seen[p.id]++; seen[p.id] == 2 {
				twice = append(twice, p.id)
			}
		}
	}
	return twice
}

// TestLinkNudgesLaggingServer: a server that handles an IPCP packet only
// when the next packet arrives (SoftEther's PPP loop) answers our last
// Configure-Request once the Discard-Request arrives, long before the
// restart timer would retransmit it.
func TestLinkNudgesLaggingServer(t *testing.T) {
	srv := newFakeServer(t)
	srv.ipcpLag = true
	cfg := testConfig()
	cfg.RestartInterval = 3 * time.Second
	cfg.MaxRestartInterval = 3 * time.Second
	cfg.NudgeDelay = 5 * time.Millisecond
	r := startLink(t, cfg, srv)
	r.waitUp()
	rx := srv.received()
	if twice := idsSentTwice(rx, ProtoIPCP); len(twice) != 0 {
		t.Errorf("IPCP Configure-Requests %v retransmitted: the nudge should have made them unnecessary", twice)
	}
	discards := count(rx, ProtoLCP, CodeDiscard)
	if discards == 0 {
		t.Fatal("no Discard-Request sent")
	}
	for _, p := range rx {
		if p.proto == ProtoLCP && p.code == CodeDiscard && len(p.data) != 4 {
			t.Errorf("Discard-Request data % x, want the 4-byte Magic-Number field (RFC 1661 5.9)", p.data)
		}
	}
	// Once IPCP is open, no more nudges.
	time.Sleep(50 * time.Millisecond)
	if n := count(srv.received(), ProtoLCP, CodeDiscard); n != discards {
		t.Errorf("%d Discard-Requests after IPCP opened, want none", n-discards)
	}
	r.closeAndWait()
}

// TestLinkNudgeDisabled: with NudgeDelay negative no Discard-Request is
// sent, and the same lagging server needs retransmissions to finish.
func TestLinkNudgeDisabled(t *testing.T) {
	srv := newFakeServer(t)
	srv.ipcpLag = true
	cfg := testConfig()
	cfg.NudgeDelay = -1
	r := startLink(t, cfg, srv)
	r.waitUp()
	rx := srv.received()
	if n := count(rx, ProtoLCP, CodeDiscard); n != 0 {
		t.Errorf("%d Discard-Requests with NudgeDelay < 0", n)
	}
	if twice := idsSentTwice(rx, ProtoIPCP); len(twice) == 0 {
		t.Error("no IPCP retransmission: the fake server does not lag as SoftEther does")
	}
	r.closeAndWait()
}

// TestLinkCHAPSuccessLost: the server's Success is lost; our Response goes
// again after 2*RestartInterval and the server, as RFC 1994 4.1 requires,
// answers the repeat with Success.
func TestLinkCHAPSuccessLost(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapLoseOK = true
	cfg := testConfig()
	cfg.AuthTimeout = 3 * time.Second // long: only the resend can finish in time
	r := startLink(t, cfg, srv)
	r.waitUp()
	if n := count(srv.received(), ProtoCHAP, CHAPResponse); n != 2 {
		t.Errorf("%d CHAP Responses, want 2 (the first answered by a lost Success)", n)
	}
	r.closeAndWait()
}

// TestLinkCHAPResponseUnanswered: a server that never answers our Response
// gets it four times (after 2, 4 and 8 RestartIntervals, capped), then
// authentication fails with ErrAuthNoAnswer 2*RestartInterval after the
// last, long before AuthTimeout.
func TestLinkCHAPResponseUnanswered(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapMute = true
	cfg := testConfig()
	cfg.AuthTimeout = 3 * time.Second
	r := startLink(t, cfg, srv)
	err := r.wait()
	end := time.Now()
	if !errors.Is(err, ErrAuthNoAnswer) || !errors.Is(err, ErrNoAnswer) ||
		!strings.Contains(err.Error(), "no answer to our MS-CHAPv2 response (sent 4 times") {
		t.Fatalf("Run = %v, want ErrAuthNoAnswer for our response", err)
	}
	var sent []time.Time
	for _, p := range srv.received() {
		if p.proto == ProtoCHAP && p.code == CHAPResponse {
			sent = append(sent, p.at)
		}
	}
	if len(sent) != maxCHAPResponses {
		t.Fatalf("%d CHAP Responses, want %d", len(sent), maxCHAPResponses)
	}
	// 40+80+80 ms of resends, then 40 ms for the last one.
	if d := end.Sub(sent[0]); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("gave up %v after the first Response, want about 240ms, not AuthTimeout", d)
	}
}

// TestLinkCHAPResponseUnansweredStartOver: when the caller can start over
// in a new session (RestartOnStall), an unanswered Response is sent only
// twice before the link gives up, not four times.
func TestLinkCHAPResponseUnansweredStartOver(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapMute = true
	cfg := testConfig()
	cfg.AuthTimeout = 3 * time.Second
	cfg.RestartOnStall = true
	r := startLink(t, cfg, srv)
	err := r.wait()
	if !errors.Is(err, ErrAuthNoAnswer) || !strings.Contains(err.Error(), "sent 2 times") {
		t.Fatalf("Run = %v, want ErrAuthNoAnswer after two sends", err)
	}
	n := 0
	for _, p := range srv.received() {
		if p.proto == ProtoCHAP && p.code == CHAPResponse {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d CHAP Responses, want 2", n)
	}
}
