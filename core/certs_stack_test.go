package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// certPeer is an L2TP/IPsec server on loopback for a certificate
// profile: ike.Responder with RSA signatures on UDP 500 and 4500 of
// addr, ESP in UDP to and from an l2tptest server.
type certPeer struct {
	resp      *ike.Responder
	ikeC, nat *net.UDPConn
	lns       l2tp.Transport
	mu        sync.Mutex
	child     *ike.Child
	clients   []*x509.Certificate // leaves whose SIG_I verified
	wg        sync.WaitGroup
}

func startCertPeer(t *testing.T, addr netip.Addr, chain []*x509.Certificate, key *rsa.PrivateKey, clientCA []*x509.Certificate, lns l2tp.Transport) *certPeer {
	t.Helper()
	p := &certPeer{lns: lns}
	p.resp = &ike.Responder{Local: addr, Cert: &ike.ResponderCert{Chain: chain, Key: key, ClientCA: clientCA,
		OnClient: func(_ ike.ID, c []*x509.Certificate) {
			p.mu.Lock()
			p.clients = append(p.clients, c[0])
			p.mu.Unlock()
		}}}
	var err error
	if p.ikeC, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 500))); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			t.Skipf("UDP %v:500 is taken (an IKE daemon on this machine?): %v", addr, err)
		}
		t.Fatal(err)
	}
	if p.nat, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 4500))); err != nil {
		p.ikeC.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			t.Skipf("UDP %v:4500 is taken: %v", addr, err)
		}
		t.Fatal(err)
	}
	p.wg.Add(3)
	go p.serve(p.ikeC, false)
	go p.serve(p.nat, true)
	go p.fromLNS()
	t.Cleanup(func() {
		p.ikeC.Close()
		p.nat.Close()
		lns.Close()
		p.wg.Wait()
	})
	return p
}

// serve reads one socket: IKE (on 4500 after the non-ESP marker, RFC
// 3948 2.2), NAT keepalives, and ESP to the LNS.
func (p *certPeer) serve(c *net.UDPConn, natt bool) {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		switch {
		case natt && n == 1 && b[0] == 0xff: // keepalive (RFC 3948 2.3)
		case natt && n >= 4 && b[0]|b[1]|b[2]|b[3] == 0:
			p.ike(c, b[4:], from, true)
		case !natt:
			p.ike(c, b, from, false)
		default:
			p.esp(b)
		}
	}
}

func (p *certPeer) ike(c *net.UDPConn, msg []byte, from netip.AddrPort, floated bool) {
	replies, ch, _ := p.resp.Handle(msg, from, floated)
	for _, m := range replies {
		if floated {
			m = append(make([]byte, 4), m...)
		}
		c.WriteToUDPAddrPort(m, from)
	}
	if ch != nil {
		p.mu.Lock()
		p.child = ch
		p.mu.Unlock()
	}
}

// esp opens the client's ESP and hands the L2TP datagram to the LNS.
func (p *certPeer) esp(b []byte) {
	p.mu.Lock()
	ch := p.child
	p.mu.Unlock()
	if ch == nil {
		return
	}
	if spi, ok := esp.PeekSPI(b); !ok || spi != ch.In.SPI() {
		return
	}
	off, end, next, err := ch.In.Open(b, 0, len(b))
	if err != nil || next != 17 || end-off < 8 {
		return
	}
	p.lns.WritePacket(bytes.Clone(b[off:end]), 8) // past the inner UDP header
}

// fromLNS seals the LNS's datagrams (in UDP 1701) into ESP to the client.
func (p *certPeer) fromLNS() {
	defer p.wg.Done()
	buf := make([]byte, 65536)
	for {
		off, n, err := p.lns.ReadPacket(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		ch := p.child
		p.mu.Unlock()
		if ch == nil {
			continue
		}
		u := make([]byte, 64+8+n+64)
		binary.BigEndian.PutUint16(u[64:], 1701)
		binary.BigEndian.PutUint16(u[66:], 1701)
		binary.BigEndian.PutUint16(u[68:], uint16(8+n))
		copy(u[72:], buf[off:off+n])
		start, stop, err := ch.Out.Seal(u, 64, 72+n, 17)
		if err != nil {
			continue
		}
		p.nat.WriteToUDPAddrPort(u[start:stop], ch.Client)
	}
}

// A certificate profile connects through the helper's own path (Service,
// Manager, ProxyStack: what "corridor daemon --user" runs for proxy-mode
// profiles) against our IKE responder with RSA signatures, on loopback:
// the private key comes from the (fake) keychain, the responder checks
// the client's signature and chain, the client checks the server's
// certificate against the profile's CA and its address, L2TP and PPP come
// up over ESP. The debug log of the whole connect holds no key material.
// Root: the responder listens on UDP 500 and 4500 (of 127.91.16.1).
func TestCertProfileThroughManager(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test IKE responder listens on UDP port 500 (run as root)")
	}
	stubRouting(t, nil, nil, nil)
	keyring.MockInit()
	server := netip.MustParseAddr("127.91.16.1")

	// The client's certificate and key: core/profile's fixtures.
	td := filepath.Join("profile", "testdata", "cert")
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(td, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	clientCert, clientCA, keyPEM := read("client.pem"), read("ca.pem"), read("client-key.pem")
	cas, _ := profile.ParseCertsPEM(clientCA)
	// The server's: a self-signed certificate for its address.
	srvKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "vpn test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{server.AsSlice()},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &srvKey.PublicKey, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, _ := x509.ParseCertificate(der)

	lns := l2tptest.NewServer(l2tptest.Config{User: "alice", Password: "pw-Tq7", Address: netip.MustParseAddr("10.99.0.2"),
		PeerAddress: netip.MustParseAddr("10.99.0.1")})
	defer lns.Close()
	peer := startCertPeer(t, server, []*x509.Certificate{srvCert}, srvKey, cas, lns.Transport())

	st, err := profile.OpenStore(filepath.Join(t.TempDir(), "corridor"), profile.NewKeyring())
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(&ProxyStack{Listen: func(netip.AddrPort) (net.Listener, error) { return proxyLn, nil }},
		WithManagerLogger(log), WithStatsInterval(time.Hour))
	svc := NewService(st, m)
	p := profile.NewProfile("office")
	p.Server, p.User, p.Mode, p.Proxy = server.String(), "alice", profile.ModeProxy, proxyLn.Addr().String()
	p.Cert, p.CA = string(clientCert), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw-Tq7", profile.SecretCertKey: string(keyPEM)}); err != nil {
		t.Fatal(err)
	}
	stored, err := keyring.Get(profile.KeyringService, "office/"+string(profile.SecretCertKey))
	if err != nil || stored != string(keyPEM) {
		t.Fatalf("the key is not in the keychain: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer m.Close(context.Background())
	// The event stream (what the helper's socket carries to front ends
	// and the journal), as JSON.
	evCtx, evCancel := context.WithCancel(ctx)
	events, err := m.Subscribe(evCtx)
	if err != nil {
		t.Fatal(err)
	}
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		for ev := range events {
			b, _ := json.Marshal(ev)
			logs.Write(append(b, '\n'))
		}
	}()
	if err := svc.Connect(ctx, "office"); err != nil {
		t.Fatal(err)
	}
	var last Status
	for i := 0; i < 1500; i++ { // at most 30 s
		sts, _ := m.Status(ctx)
		if len(sts) == 1 {
			last = sts[0]
		}
		if last.State == StateConnected || last.Error != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last.State != StateConnected {
		t.Fatalf("state %v, error %+v; log:\n%s", last.State, last.Error, logs.String())
	}
	peer.mu.Lock()
	clients := peer.clients
	peer.mu.Unlock()
	key, err := profile.ParseKeyPEM([]byte(stored))
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 1 || clients[0].Subject.CommonName != "laptop-42.example.org" || !key.(*rsa.PrivateKey).PublicKey.Equal(clients[0].PublicKey) {
		t.Errorf("the responder verified %d client signatures", len(clients))
	}
	if s := lns.Stats(); s.IPCPUp != 1 {
		t.Errorf("LNS stats %+v", s)
	}
	if err := svc.Disconnect(ctx, "office"); err != nil {
		t.Error(err)
	}
	evCancel()
	<-evDone

	// No key material in the log (nor in the profile's file).
	blk, _ := pem.Decode(keyPEM)
	b64 := base64.StdEncoding.EncodeToString(blk.Bytes)
	out := logs.String()
	for _, want := range []string{"main mode established", `"state":"connected"`, "10.99.0.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("the events lack %q:\n%s", want, out)
		}
	}
	for i := 0; i+64 <= len(b64); i += 64 {
		if strings.Contains(out, b64[i:i+64]) {
			t.Fatal("the log holds the private key")
		}
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "pw-Tq7") {
		t.Error("the log holds a secret")
	}
	t.Logf("%d bytes of events and log checked", len(out))

	// The same profile with a CA that did not sign the server's
	// certificate: the connect fails with the check named, and is not
	// retried.
	p.Name, p.CA, p.Reconnect = "wrong-ca", string(clientCA), false
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw-Tq7", profile.SecretCertKey: string(keyPEM)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Connect(ctx, "wrong-ca"); err != nil {
		t.Fatal(err)
	}
	var failed Status
	for i := 0; i < 1500; i++ { // at most 30 s
		sts, _ := m.Status(ctx)
		for _, st := range sts {
			if st.Profile == "wrong-ca" {
				failed = st
			}
		}
		if failed.Error != nil || failed.State == StateConnected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if failed.Error == nil || failed.Error.Class != ClassAuth || !strings.Contains(failed.Error.Msg, "not signed by a CA we trust") {
		t.Errorf("wrong CA: state %v, error %+v", failed.State, failed.Error)
	}
}
