package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// charon as an IKEv1 Main Mode responder that authenticates with RSA
// signatures (RFC 2409 5.1), with certificates the test makes: a CA, the
// server's certificate (on .1, for vpn.charon.test and its address), an
// expired one (on .3), and the client's. As for Aggressive Mode, its
// kernel-libipsec cannot install transport-mode SAs, so the check is the
// handshake on the wire up to the Quick Mode SAs.
const (
	certNet     = "10.99.162"
	certServer  = certNet + ".1"
	certExpired = certNet + ".3" // serves an expired certificate
	certName    = "vpn.charon.test"
)

// certPKI is the test's certificates as PEM.
type certPKI struct {
	caPEM, otherCAPEM         []byte
	serverPEM, expiredPEM     []byte
	serverKeyPEM              []byte
	clientPEM, clientKeyPEM   []byte
	rogueClientPEM            []byte // mallory's certificate from the other CA (key rogueKeyPEM)
	rogueKeyPEM               []byte
	clientKeyDER              []byte
	serverSubject, clientSubj string
}

func makeCertPKI(t *testing.T) *certPKI {
	t.Helper()
	keys := make([]*rsa.PrivateKey, 5) // CA, other CA, server, client, mallory
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	now := time.Now()
	serial := int64(0)
	mk := func(tmpl, parent *x509.Certificate, pub *rsa.PublicKey, signer *rsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		if tmpl.NotBefore.IsZero() {
			tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	caT := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: []string{"Corridor E2E"}},
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	var p certPKI
	ca, caPEM := mk(caT("Corridor E2E CA"), nil, &keys[0].PublicKey, keys[0])
	otherCA, otherCAPEM := mk(caT("Some Other CA"), nil, &keys[1].PublicKey, keys[1])
	p.otherCAPEM = otherCAPEM
	p.caPEM = caPEM
	srv, srvPEM := mk(&x509.Certificate{Subject: pkix.Name{CommonName: certName, Organization: []string{"Corridor E2E"}},
		DNSNames: []string{certName}, IPAddresses: []net.IP{net.ParseIP(certServer)},
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, &keys[2].PublicKey, keys[0])
	p.serverPEM, p.serverSubject = srvPEM, srv.Subject.String()
	_, p.expiredPEM = mk(&x509.Certificate{Subject: pkix.Name{CommonName: "old." + certName, Organization: []string{"Corridor E2E"}},
		DNSNames: []string{"old." + certName}, IPAddresses: []net.IP{net.ParseIP(certExpired)},
		KeyUsage:  x509.KeyUsageDigitalSignature,
		NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}, ca, &keys[2].PublicKey, keys[0])
	cl, clPEM := mk(&x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"Corridor E2E"}},
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, &keys[3].PublicKey, keys[0])
	p.clientPEM, p.clientSubj = clPEM, cl.Subject.String()
	_, p.rogueClientPEM = mk(&x509.Certificate{Subject: pkix.Name{CommonName: "mallory", Organization: []string{"Corridor E2E"}},
		KeyUsage: x509.KeyUsageDigitalSignature}, otherCA, &keys[4].PublicKey, keys[1])
	p.rogueKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keys[4])})
	p.serverKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keys[2])})
	p.clientKeyDER = x509.MarshalPKCS1PrivateKey(keys[3])
	p.clientKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: p.clientKeyDER})
	return &p
}

func startCharonCerts(t *testing.T, p *certPKI) *charonRig {
	t.Helper()
	conn := func(name, addr, cert string) string {
		return fmt.Sprintf(`  %[1]s {
    version = 1
    local_addrs = %[2]s
    proposals = aes256-sha256-modp2048
    send_cert = always
    local {
      auth = pubkey
      certs = %[3]s
    }
    remote {
      auth = pubkey
      cacerts = ca.pem
    }
    children {
      l2tp-%[1]s {
        local_ts = %[2]s[udp/1701]
        remote_ts = dynamic[udp/1701]
        esp_proposals = aes128gcm16,aes128-sha256,aes128-sha1
        mode = transport
      }
    }
  }
`, name, addr, cert)
	}
	swan := "connections {\n" + conn("cert", certServer, "server.pem") + conn("expired", certExpired, "expired.pem") + "}\n"
	return startCharonSpec(t, charonSpec{tag: "cmc", net: certNet, more: []string{"3"}, swan: swan,
		files: map[string][]byte{
			"x509ca/ca.pem":    p.caPEM,
			"x509/server.pem":  p.serverPEM,
			"x509/expired.pem": p.expiredPEM,
			"rsa/server.key":   p.serverKeyPEM,
		}})
}

// corridorCert runs corridor connect -v --cert --key in the client
// namespace against server, with the extra flags.
func (r *charonRig) corridorCert(t *testing.T, p *certPKI, server string, extra ...string) *client {
	return r.corridorCertPEM(t, p.clientPEM, p.clientKeyPEM, server, extra...)
}

func (r *charonRig) corridorCertPEM(t *testing.T, certPEM, keyPEM []byte, server string, extra ...string) *client {
	t.Helper()
	dir := t.TempDir()
	pw, cert, key := filepath.Join(dir, "password"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(pw, []byte("pw-unused-3\n"), 0o600)
	os.WriteFile(cert, certPEM, 0o644)
	os.WriteFile(key, keyPEM, 0o600)
	args := append([]string{"netns", "exec", r.cns, corridorBin, "connect", "-v", "--user", "alice",
		"--password-file", pw, "--cert", cert, "--key", key, "--ifname", "cmctun0"}, extra...)
	return startCmd(t, exec.CommandContext(context.Background(), "ip", append(args, server)...))
}

// writeTemp writes data to a file in a fresh temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCharonCertificates: corridor connect --cert --key --ca against
// charon authenticating with RSA signatures: Main Mode and Quick Mode
// complete on the wire with the right CA, with --server-id as a DN and
// as the host name (charon logs our signature as RSA_EMSA_PKCS1_NULL:
// PKCS#1 v1.5 without DigestInfo, as it signs its own); a wrong CA, a mismatched identity and an expired
// server certificate end in Corridor's plain words naming the check
// that failed, with exit code 3, before Quick Mode; so does a client
// certificate charon does not trust (after the retransmissions: charon's
// refusal is not authenticated).
func TestCharonCertificates(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs strongSwan's charon")
	}
	p := makeCertPKI(t)
	r := startCharonCerts(t, p)
	ca := writeTemp(t, "ca.pem", p.caPEM)
	otherCA := writeTemp(t, "other-ca.pem", p.otherCAPEM)
	keyB64 := base64.StdEncoding.EncodeToString(p.clientKeyDER)

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"address in the SAN", []string{"--ca", ca}},
		{"server-id a DN", []string{"--ca", ca, "--server-id", "O=Corridor E2E, CN=" + certName}},
		{"server-id the host name", []string{"--ca", ca, "--server-id", certName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.log())
			c := r.corridorCert(t, p, certServer, tc.extra...)
			p1 := c.waitLine("ike: main mode established", 15*time.Second)
			p2 := c.waitLine("ipsec: sa established", 15*time.Second)
			t.Logf("%v after start: %s; %s", time.Since(c.start).Round(time.Millisecond), p1, p2)
			// The client stays up until charon has our QM3, which a lost
			// datagram could delay (qm3Wait): stopped at once, a lost QM3
			// failed this test once in CI.
			log := r.waitLog(before, qm3Parsed, qm3Wait)
			c.cmd.Process.Signal(syscall.SIGTERM)
			c.exit(15 * time.Second)
			if qm3Parsed.MatchString(log) {
				log = r.log()[before:] // and what came after
			}
			qm3 := qm3Parsed
			// charon's side of the wire, message by message (RFC 2409 5.1
			// with RFC 3947 NAT-D, then Quick Mode 5.5).
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`parsed ID_PROT request 0 \[ SA V V V V V \]`),
				regexp.MustCompile(`parsed ID_PROT request 0 \[ KE No NAT-D NAT-D CERTREQ \]`),
				regexp.MustCompile(`parsed ID_PROT request 0 \[ ID CERT SIG N\(INITIAL_CONTACT\) \]`),
				regexp.MustCompile(`received end entity cert "` + regexp.QuoteMeta(dnSwan(p.clientSubj)) + `"`),
				regexp.MustCompile(`authentication of '` + regexp.QuoteMeta(dnSwan(p.clientSubj)) + `' with RSA_EMSA_PKCS1_NULL successful`),
				regexp.MustCompile(`generating ID_PROT response 0 \[ ID CERT SIG \]`),
				regexp.MustCompile(`IKE_SA cert\[\d+\] established between ` + regexp.QuoteMeta(certServer)),
				regexp.MustCompile(`parsed QUICK_MODE request \d+ \[ HASH SA No ID ID NAT-OA NAT-OA \]`),
				regexp.MustCompile(`generating QUICK_MODE response \d+ \[ HASH SA No ID ID NAT-OA NAT-OA \]`),
				qm3,
			} {
				if !want.MatchString(log) {
					t.Errorf("charon's log lacks %v", want)
				}
			}
			if !strings.Contains(c.stderr(), "server certificate verified") {
				t.Errorf("corridor's trace does not show the server's certificate verified")
			}
			if strings.Contains(c.stderr()+c.stdout(), keyB64[40:80]) {
				t.Errorf("the private key appears in corridor's output")
			}
		})
	}

	t.Run("failures", func(t *testing.T) {
		var wg sync.WaitGroup
		// The last waits out the retransmissions (15.5 s): all run at once.
		type failure struct {
			name, server string
			extra        []string
			want         string
			rogue        bool
		}
		for _, tc := range []failure{
			{"wrong CA", certServer, []string{"--ca", otherCA},
				`the server's certificate is not signed by a CA we trust: certificate "` + p.serverSubject + `"`, false},
			{"mismatched identity", certServer, []string{"--ca", ca, "--server-id", "vpn.other.test"},
				"the server's certificate is for another server: we want vpn.other.test", false},
			{"mismatched DN", certServer, []string{"--ca", ca, "--server-id", "CN=vpn.other.test"},
				`the server's certificate is for another server: we want "CN=vpn.other.test"`, false},
			{"expired server certificate", certExpired, []string{"--ca", ca},
				"the server's certificate has expired or is not yet valid", false},
			// Without --ca: the system's roots, and a CERTREQ that names no CA.
			{"system roots", certServer, nil,
				"the server's certificate is not signed by a CA we trust: certificate \"" + p.serverSubject + "\"", false},
			{"the server does not trust our certificate", certServer, []string{"--ca", ca},
				"the server stopped answering once we proved our certificate", true},
		} {
			cert, key := p.clientPEM, p.clientKeyPEM
			if tc.rogue {
				cert, key = p.rogueClientPEM, p.rogueKeyPEM
			}
			c := r.corridorCertPEM(t, cert, key, tc.server, tc.extra...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-c.waited:
				case <-time.After(25 * time.Second):
					t.Errorf("%s: corridor still running after 25 s", tc.name)
					return
				}
				code, took := c.exit(time.Second)
				if code != 3 || !strings.Contains(c.stderr(), "corridor: "+tc.want) || !strings.Contains(c.stderr(), "hint: ") {
					t.Errorf("%s: exit %d after %v, stderr:\n%s", tc.name, code, took, c.stderr())
				}
				if strings.Contains(c.stdout(), "ipsec: sa established") {
					t.Errorf("%s: Quick Mode ran", tc.name)
				}
				if strings.Contains(c.stderr()+c.stdout(), keyB64[40:80]) {
					t.Errorf("%s: the private key appears in corridor's output", tc.name)
				}
				var last string
				for _, l := range strings.Split(strings.TrimSpace(c.stderr()), "\n") {
					if strings.HasPrefix(l, "corridor: ") {
						last = l
					}
				}
				t.Logf("%s: exit %d after %v: %s", tc.name, code, took.Round(10*time.Millisecond), last)
			}()
		}
		wg.Wait()
		if log := r.log(); !regexp.MustCompile(`no trusted RSA public key found for 'O=Corridor E2E, CN=mallory'`).MatchString(log) {
			t.Errorf("charon's log does not show it refusing the rogue client certificate")
		}
	})
}

// dnSwan writes a DN as charon logs it: "O=Corridor E2E, CN=alice" (Go's
// String is "CN=alice,O=Corridor E2E": the other order, no spaces).
func dnSwan(goDN string) string {
	parts := strings.Split(goDN, ",")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ", ")
}
