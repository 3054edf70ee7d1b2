package ike

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// rCertAuth makes the test responder answer Main Mode with RSA
// signatures (RFC 2409 5.1), as charon does.
type rCertAuth struct {
	chain    []*x509.Certificate // its certificate, leaf first
	key      *rsa.PrivateKey
	clientCA *x509.CertPool // checks the client's certificate (nil: not checked)
	idr      []byte         // its IDir body (nil: ID_DER_ASN1_DN of its leaf)
	badSig   bool           // SIG_R signs something other than HASH_R
	noCert   bool           // MM6 without CERT
}

// certMM5 answers MM5 of certificate authentication: it checks SIG_I with
// the key of the client's CERT and sends IDir, CERT, SIG_R.
func (r *testResponder) certMM5(s *rSession, msg []byte, h Header, body []byte, from netip.AddrPort) {
	sa := s.sa
	bs := sa.block.BlockSize()
	iv := digest(sa.suite.Hash, s.gxi, s.gxr)[:bs]
	ps, _, _, err := sa.open(h, body, iv)
	if err != nil {
		r.eventf("MM5: %v", err)
		return
	}
	var idi, sig []byte
	var certs [][]byte
	for _, p := range ps {
		switch p.Type {
		case PayloadID:
			idi = p.Body
		case PayloadSig:
			sig = p.Body
		case PayloadCert:
			if len(p.Body) > 1 && p.Body[0] == certX509Sig {
				certs = append(certs, p.Body[1:])
			}
		case PayloadNotify:
			if n, err := ParseNotify(p.Body); err == nil && n.Type == NotifyInitialContact {
				r.st.initialContact = true
			}
		}
	}
	if idi == nil || sig == nil || len(certs) == 0 {
		r.st.badHash++
		r.eventf("MM5 without ID, SIG or CERT")
		return
	}
	cc, err := x509.ParseCertificate(certs[0])
	if err != nil {
		r.st.badHash++
		return
	}
	// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b),
	// signed without a DigestInfo.
	hashI := prf(sa.suite.Hash, sa.keys.skeyid, s.gxi, s.gxr, sa.ci[:], sa.cr[:], s.saiBody, idi)
	if err := rsa.VerifyPKCS1v15(cc.PublicKey.(*rsa.PublicKey), crypto.Hash(0), hashI, sig); err != nil {
		r.st.badHash++
		r.eventf("MM5: SIG_I does not verify")
		return
	}
	r.st.clientSigOK = true
	r.st.clientID, _ = ParseID(append([]byte(nil), idi...))
	if r.cert.clientCA != nil {
		inter := x509.NewCertPool()
		for _, der := range certs[1:] {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		if _, err := cc.Verify(x509.VerifyOptions{Roots: r.cert.clientCA, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			r.eventf("MM5: client certificate: %v", err)
			return
		}
		r.st.clientChainOK = true
	}
	leaf := r.cert.chain[0]
	idr := r.cert.idr
	if idr == nil {
		idr = ID{Type: IDDERASN1DN, Data: leaf.RawSubject}.Append(nil)
	}
	// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
	hashR := prf(sa.suite.Hash, sa.keys.skeyid, s.gxr, s.gxi, sa.cr[:], sa.ci[:], s.saiBody, idr)
	signed := hashR
	if r.cert.badSig {
		signed = prf(sa.suite.Hash, sa.keys.skeyid, []byte("something else"))
	}
	sigR, err := rsa.SignPKCS1v15(rand.Reader, r.cert.key, crypto.Hash(0), signed)
	if err != nil {
		r.eventf("MM6: %v", err)
		return
	}
	out := []Payload{{PayloadID, idr}}
	if !r.cert.noCert {
		out = append(out, certPayloads(r.cert.chain)...)
	}
	out = append(out, Payload{PayloadSig, sigR})
	s.mm6, sa.lastIV = sa.seal(ExchangeMain, 0, lastBlock(body, bs), out)
	s.mm5 = msg
	s.established = true
	r.cur = s
	r.client = from
	r.eventf("MM6 (certificate): IKE SA %x established", sa.ci)
	r.send(true, from, s.mm6)
}

// Keys of the test PKI, made once per test binary (RSA 2048 takes a
// while): two CAs, a server and a client.
var (
	pkiOnce sync.Once
	pkiKeys [4]*rsa.PrivateKey
)

func testKeys(t testing.TB) [4]*rsa.PrivateKey {
	pkiOnce.Do(func() {
		for i := range pkiKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			pkiKeys[i] = k
		}
	})
	return pkiKeys
}

// testPKI is a CA, a server and a client certificate made by the test.
type testPKI struct {
	ca, otherCA         *x509.Certificate
	caKey, otherCAKey   *rsa.PrivateKey
	server, client      *x509.Certificate
	serverKey, userKey  *rsa.PrivateKey
	serial              int64
	notBefore, notAfter time.Time
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	k := testKeys(t)
	p := &testPKI{caKey: k[0], otherCAKey: k[1], serverKey: k[2], userKey: k[3],
		notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(24 * time.Hour)}
	p.ca = p.makeCA(t, "Corridor Test CA", p.caKey)
	p.otherCA = p.makeCA(t, "Some Other CA", p.otherCAKey)
	p.server = p.issue(t, p.ca, p.caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "vpn.example.test", Organization: []string{"Corridor Test"}},
		DNSNames:    []string{"vpn.example.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}, &p.serverKey.PublicKey)
	p.client = p.issue(t, p.ca, p.caKey, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "alice", Organization: []string{"Corridor Test"}},
		DNSNames: []string{"alice.example.test"},
	}, &p.userKey.PublicKey)
	return p
}

func (p *testPKI) makeCA(t testing.TB, name string, key *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: p.notBefore, NotAfter: p.notAfter.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue signs tmpl (subject, names; validity from p unless tmpl sets it)
// with the CA.
func (p *testPKI) issue(t testing.TB, ca *x509.Certificate, caKey *rsa.PrivateKey, tmpl *x509.Certificate, pub *rsa.PublicKey) *x509.Certificate {
	t.Helper()
	p.serial++
	tmpl.SerialNumber = big.NewInt(p.serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = p.notBefore, p.notAfter
	}
	if tmpl.KeyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certSetup is a responder that authenticates with the server
// certificate and a client configuration with the client certificate.
func certSetup(t *testing.T, p *testPKI) (*testResponder, Config) {
	r := newTestResponder(t, "")
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	r.cert = &rCertAuth{chain: []*x509.Certificate{p.server}, key: p.serverKey, clientCA: pool}
	cfg := r.config()
	cfg.PSK = nil
	cfg.Cert = []*x509.Certificate{p.client}
	cfg.Key = p.userKey
	cfg.CA = []*x509.Certificate{p.ca}
	return r, cfg
}

func TestCertMainMode(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name  string
		setup func(r *testResponder, cfg *Config)
	}{
		{"address in the SAN", nil},
		{"host name given", func(r *testResponder, cfg *Config) { cfg.ServerName = "vpn.example.test" }},
		{"server ID a DN, in OpenSSL order", func(r *testResponder, cfg *Config) {
			cfg.ServerID = "O=Corridor Test, CN=vpn.example.test"
		}},
		{"server ID an FQDN, IDir an FQDN", func(r *testResponder, cfg *Config) {
			cfg.ServerID = "vpn.example.test"
			r.cert.idr = ID{Type: IDFQDN, Data: []byte("vpn.example.test")}.Append(nil)
		}},
		{"IDir an address", func(r *testResponder, cfg *Config) {
			r.cert.idr = ID{Type: IDIPv4Addr, Data: []byte{127, 0, 0, 1}}.Append(nil)
		}},
		{"server chain with an intermediate", func(r *testResponder, cfg *Config) {
			inter := p.issue(t, p.ca, p.caKey, &x509.Certificate{Subject: pkix.Name{CommonName: "Intermediate"},
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, &p.otherCAKey.PublicKey)
			leaf := p.issue(t, inter, p.otherCAKey, &x509.Certificate{Subject: pkix.Name{CommonName: "vpn2"},
				IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, &p.serverKey.PublicKey)
			r.cert.chain = []*x509.Certificate{leaf, inter}
		}},
		{"legacy 3des-sha1-modp1024", func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "3des-sha1-modp1024")
			cfg.ESP = mustESP(t, "aes128-sha1")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, cfg := certSetup(t, p)
			if tc.setup != nil {
				tc.setup(r, &cfg)
			}
			r.start()
			c, rd := mustDial(t, cfg)
			if !r.waitFor(time.Second, func(s rStats) bool { return s.qmDone == 1 }) {
				t.Fatal("the responder did not complete Quick Mode")
			}
			for i := 0; i < 10; i++ {
				echo(t, c, rd, l2tpPayload(i, 40+i*100), i%2 == 0)
			}
			s := r.stats()
			if !s.clientSigOK || !s.clientChainOK || s.badHash != 0 {
				t.Errorf("client SIG_I ok %v, chain ok %v, bad %d", s.clientSigOK, s.clientChainOK, s.badHash)
			}
			if s.clientID.Type != IDDERASN1DN || string(s.clientID.Data) != string(p.client.RawSubject) {
				t.Errorf("client ID %v, want the DN of its certificate", s.clientID)
			}
			if s.certReqs != 1 || !s.initialContact {
				t.Errorf("CERTREQ %d, INITIAL-CONTACT %v", s.certReqs, s.initialContact)
			}
			if s.espEchoed != 10 {
				t.Errorf("echoed %d", s.espEchoed)
			}
		})
	}
}

func TestCertMainModeFailures(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name  string
		setup func(r *testResponder, cfg *Config)
		want  error
		words []string // in the error's text
	}{
		{"wrong CA", func(r *testResponder, cfg *Config) { cfg.CA = []*x509.Certificate{p.otherCA} },
			ErrServerCertUntrusted, []string{"not signed by a CA we trust", "Corridor Test CA", "the CA file given"}},
		{"expired server certificate", func(r *testResponder, cfg *Config) {
			r.cert.chain[0] = p.issue(t, p.ca, p.caKey, &x509.Certificate{Subject: pkix.Name{CommonName: "old"},
				IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
				NotBefore:   time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, &p.serverKey.PublicKey)
		}, ErrServerCertExpired, []string{"expired", "\"CN=old\"", "valid from"}},
		{"mismatched identity (host name)", func(r *testResponder, cfg *Config) { cfg.ServerName = "vpn.other.test" },
			ErrServerIdentity, []string{"for another server", "vpn.other.test", "vpn.example.test"}},
		{"mismatched identity (DN)", func(r *testResponder, cfg *Config) { cfg.ServerID = "CN=vpn.other.test" },
			ErrServerIdentity, []string{"CN=vpn.other.test", "its subject is"}},
		{"IDir not in the certificate", func(r *testResponder, cfg *Config) {
			r.cert.idr = ID{Type: IDFQDN, Data: []byte("evil.example.test")}.Append(nil)
		}, ErrServerIdentity, []string{"ID payload", "evil.example.test"}},
		{"server's SIG invalid", func(r *testResponder, cfg *Config) { r.cert.badSig = true },
			ErrServerSignature, []string{"signature does not verify"}},
		{"server sends no certificate", func(r *testResponder, cfg *Config) { r.cert.noCert = true },
			ErrServerNoCert, []string{"sent no certificate"}},
		{"server does not trust us", func(r *testResponder, cfg *Config) {
			other := x509.NewCertPool()
			other.AddCert(p.otherCA)
			r.cert.clientCA = other
		}, ErrCertRefused, []string{"certificate authentication", "message 5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, cfg := certSetup(t, p)
			r.cert.chain = []*x509.Certificate{p.server}
			tc.setup(r, &cfg)
			r.start()
			start := time.Now()
			_, err := dialTest(cfg)
			t.Logf("error: %v", err)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Dial: %v, want %v", err, tc.want)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// A verdict on the server's certificate comes at once, not
			// after the retransmissions.
			if tc.want != ErrCertRefused && time.Since(start) > 300*time.Millisecond {
				t.Errorf("took %v", time.Since(start))
			}
			if s := r.stats(); s.qm1 != 0 {
				t.Errorf("Quick Mode started (%d) after a failed authentication", s.qm1)
			}
		})
	}
}

func TestCertConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name  string
		setup func(cfg *Config)
		words string
	}{
		{"no key", func(cfg *Config) { cfg.Key = nil }, "need both"},
		{"key of another certificate", func(cfg *Config) { cfg.Key = p.serverKey }, "does not belong"},
		{"with a PSK too", func(cfg *Config) { cfg.PSK = []byte("x") }, "pre-shared key and a certificate"},
		{"aggressive", func(cfg *Config) { cfg.Aggressive, cfg.GroupID = true, "g" }, "aggressive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Cert: []*x509.Certificate{p.client}, Key: p.userKey}
			tc.setup(&cfg)
			_, err := Dial(t.Context(), loopback, cfg)
			if !errors.Is(err, ErrCertConfig) || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("Dial: %v, want %v saying %q", err, ErrCertConfig, tc.words)
			}
		})
	}
}

// The signature is PKCS#1 v1.5 over the hash itself, without DigestInfo
// (strongSwan's SIGN_RSA_EMSA_PKCS1_NULL): the padded block decrypts to
// 00 01 FF.. 00 HASH.
func TestSignHashHasNoDigestInfo(t *testing.T) {
	k := testKeys(t)[3]
	hash := []byte("0123456789abcdef0123")
	sig, err := signHash(k, rand.Reader, hash)
	if err != nil {
		t.Fatal(err)
	}
	m := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, k.Size()))
	if m[0] != 0 || m[1] != 1 || m[len(m)-len(hash)-1] != 0 || string(m[len(m)-len(hash):]) != string(hash) {
		t.Errorf("encoded message % x", m[len(m)-len(hash)-4:])
	}
	for _, b := range m[2 : len(m)-len(hash)-1] {
		if b != 0xff {
			t.Fatalf("padding not all FF: % x", m[:len(m)-len(hash)])
		}
	}
}

func TestSameDN(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"CN=vpn,O=Example", "O=Example, CN=vpn", true},
		{"CN=vpn,O=Example", "cn=vpn,o=Example", true},
		{"CN=vpn,O=Example", "CN=vpn", false},
		{"CN=vpn", "CN=vpn2", false},
		{"junk", "junk", false},
	} {
		if got := sameDN(c.a, c.b); got != c.want {
			t.Errorf("sameDN(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// TestCertFullStack: L2TP and PPP (MS-CHAPv2, IPCP) over ESP after Main
// Mode with certificates, against the test responder with an L2TP server
// behind it.
func TestCertFullStack(t *testing.T) {
	p := newTestPKI(t)
	r, cfg := certSetup(t, p)
	srv := l2tptest.NewServer(l2tptest.Config{User: "alice", Password: "correct horse", RestartInterval: 300 * time.Millisecond,
		DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	defer srv.Close()
	r.attachLNS(t, srv.Transport())
	r.start()
	c, err := dialTest(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tun := tunnel.Start(context.Background(), c, tunnel.Config{
		L2TP: l2tp.Config{Reliable: l2tp.ReliableConfig{InitialTimeout: 500 * time.Millisecond, AckDelay: 5 * time.Millisecond}},
		PPP: ppp.Config{User: "alice", Password: "correct horse", RestartInterval: 100 * time.Millisecond,
			MaxRestartInterval: 400 * time.Millisecond, EchoInterval: -1},
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tun.Close(ctx)
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := tun.WaitUp(ctx)
	if err != nil {
		t.Fatalf("WaitUp: %v (server events %v)", err, srv.Events())
	}
	if info.Local != netip.MustParseAddr("10.99.0.2") || len(info.DNS) != 1 {
		t.Errorf("IPCP: %+v", info)
	}
	if s := r.stats(); !s.clientSigOK || !s.clientChainOK || s.qmDone != 1 || s.espOnNATT == 0 {
		t.Errorf("client SIG_I %v, chain %v, Quick Modes %d, ESP %d", s.clientSigOK, s.clientChainOK, s.qmDone, s.espOnNATT)
	}
}

// TestCertRekeyIKE: the IKE SA is renewed with a new Main Mode that
// authenticates with the certificates again, and checks the server's
// again.
func TestCertRekeyIKE(t *testing.T) {
	p := newTestPKI(t)
	r, cfg := certSetup(t, p)
	r.start()
	cfg.IKELifetime = 2 * time.Second
	cfg.DPDInterval = 400 * time.Millisecond
	var stages stageLog
	cfg.OnStage = stages.add
	c, rd := mustDial(t, cfg)
	old := r.ikeCookies()
	deadline := time.Now().Add(4 * time.Second)
	for stages.count("ike: main mode rekeyed") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stages.count("ike: main mode rekeyed") < 1 {
		t.Fatalf("no IKE rekey: %s", stages.String())
	}
	if !r.waitFor(time.Second, func(s rStats) bool {
		return len(s.deletes) == 1 && s.deletes[0].proto == protoISAKMP && bytes.Equal(s.deletes[0].spi, old)
	}) {
		t.Fatalf("Deletes %+v", r.stats().deletes)
	}
	if s := r.stats(); s.mm1 != 2 || s.certReqs != 2 || s.badHash != 0 {
		t.Errorf("MM1 %d, CERTREQ %d, bad %d", s.mm1, s.certReqs, s.badHash)
	}
	echo(t, c, rd, []byte("after the IKE rekey"), true)
	if err := c.Err(); err != nil {
		t.Error(err)
	}
}
