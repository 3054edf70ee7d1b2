package gui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/corridorvpn/corridor/core/profile"
)

// certTestdata is core/profile's certificate fixtures: a CA, a client
// certificate, its key (clear and encrypted with "nm-keypass") and a
// .p12 of both (password "testdata-p12").
func certTestdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "core", "profile", "testdata", "cert", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// noCertSecret fails t when a saved profile or its secrets hold a file
// password, or the profile holds key material.
func noCertSecret(t *testing.T, sc profile.Profile, secrets map[profile.SecretKind]string) {
	t.Helper()
	js, _ := json.Marshal(sc)
	if strings.Contains(string(js), "PRIVATE KEY") {
		t.Error("the profile holds a private key")
	}
	for k, v := range secrets {
		if strings.Contains(v, "testdata-p12") || strings.Contains(v, "nm-keypass") {
			t.Errorf("secret %s holds a file password", k)
		}
	}
	if strings.Contains(string(js), "testdata-p12") || strings.Contains(string(js), "nm-keypass") {
		t.Error("the profile holds a file password")
	}
}

// Certificate authentication in the editor: choosing "Certificate" shows
// the certificate rows and turns the pre-shared key off; a PEM
// certificate needs its key file (and the password of an encrypted key);
// the profile saves with the certificate and CA, the key goes to the
// keychain decrypted, the password nowhere. Reopened, the profile shows
// its certificate and saves without choosing files again; back to the
// pre-shared key, the key is asked for again.
func TestEditorCertificatePEM(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	c := e.cert
	if c.kind.Selected != certChoices[0] || c.certRows[0][1].Visible() || e.psk.Disabled() {
		t.Fatal("a PSK profile opens with certificate rows shown or the PSK off")
	}
	c.kind.SetSelected(certChoices[1])
	if !c.certRows[0][1].Visible() || !c.certRows[3][1].Visible() || !e.psk.Disabled() {
		t.Fatal("Certificate chosen: its rows hidden or the PSK still on")
	}
	if m := strings.ToLower(shown(e, "cert")); !strings.Contains(m, "choose this computer's certificate") || !e.save.Disabled() {
		t.Errorf("no certificate yet: message %q, save disabled %v", m, e.save.Disabled())
	}
	test.Type(c.certFile, certTestdata(t, "client.pem"))
	if m := strings.ToLower(shown(e, fieldCertKey)); !strings.Contains(m, "choose the certificate's private key file") {
		t.Errorf("no key file: %q", m)
	}
	test.Type(c.keyFile, certTestdata(t, "ca.pem"))
	if m := strings.ToLower(shown(e, fieldCertKey)); !strings.Contains(m, "no pem private key") {
		t.Errorf("a certificate as the key: %q", m)
	}
	c.keyFile.SetText(certTestdata(t, "client-key-enc.pem"))
	if m := strings.ToLower(shown(e, fieldCertPass)); !strings.Contains(m, "the key file is encrypted: enter its password") {
		t.Errorf("encrypted key without its password: %q", m)
	}
	test.Type(c.password, "wrong")
	if m := strings.ToLower(shown(e, fieldCertPass)); !strings.Contains(m, "the password does not open it") || !e.save.Disabled() {
		t.Errorf("wrong password: %q", m)
	}
	c.password.SetText("nm-keypass")
	test.Type(c.caFile, certTestdata(t, "missing.pem"))
	if m := strings.ToLower(shown(e, "ca")); m != "there is no such file." {
		t.Errorf("missing CA file: %q", m)
	}
	c.caFile.SetText(certTestdata(t, "ca.pem"))
	test.Type(c.serverID, "CN=vpn.example.com")
	if e.save.Disabled() {
		t.Fatalf("a complete certificate: save disabled: %v", visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("SaveProfile calls: %d", len(saves))
	}
	sp, ss := saves[0].Profile, saves[0].Secrets
	certs, err := profile.ParseCertsPEM([]byte(sp.Cert))
	if err != nil || len(certs) != 1 || certs[0].Subject.CommonName != "laptop-42.example.org" || !strings.Contains(sp.CA, "BEGIN CERTIFICATE") || sp.ServerID != "CN=vpn.example.com" {
		t.Errorf("saved %+v (%v)", sp, err)
	}
	key, err := profile.ParseKeyPEM([]byte(ss[profile.SecretCertKey]))
	if err != nil || profile.KeyEncrypted([]byte(ss[profile.SecretCertKey])) || !key.(*rsa.PrivateKey).PublicKey.Equal(certs[0].PublicKey) {
		t.Errorf("keychain key: %v", err)
	}
	if _, ok := ss[profile.SecretPSK]; ok {
		t.Error("a PSK saved with a certificate")
	}
	noCertSecret(t, sp, ss)

	// Reopened: the certificate is there; no files needed to save.
	e = h.edit("office")
	c = e.cert
	if c.kind.Selected != certChoices[1] || !c.current.Visible() || !strings.Contains(c.current.Text, "laptop-42.example.org") || !strings.Contains(c.current.Text, "Example Office CA") {
		t.Errorf("reopened: kind %q, note %q", c.kind.Selected, c.current.Text)
	}
	if c.password.Text != "" {
		t.Error("the file password came back")
	}
	if e.save.Disabled() {
		t.Errorf("reopened certificate profile cannot save: %v", visibleMessages(e))
	}
	// IPsec off: no certificate (it needs IPsec), nothing to fix.
	e.ipsec.SetChecked(false)
	if p, msgs := e.problems(); p.Cert != "" || len(msgs) != 0 || c.certRows[0][1].Visible() {
		t.Errorf("IPsec off: cert %v, messages %v", p.Cert != "", msgs)
	}
	e.ipsec.SetChecked(true)
	// Back to the pre-shared key: it is needed again (the fake keychain
	// still has the old one, so clear it from the field's view).
	e.stored[profile.SecretPSK] = ""
	e.psk.SetText("")
	c.kind.SetSelected(certChoices[0])
	if m := strings.ToLower(shown(e, fieldPSK)); !strings.Contains(m, "pre-shared key") || c.certRows[0][1].Visible() || e.psk.Disabled() {
		t.Errorf("back to PSK: message %q", m)
	}
	if p, _ := e.problems(); p.Cert != "" || p.CA != "" || p.ServerID != "" {
		t.Errorf("back to PSK: %+v", p)
	}
}

// A .p12 file: the key row is off, its password is asked for in the
// password entry (wrong: plain words), and it saves the certificate with
// its chain and the key, never the password. An EC key in a .p12 is
// refused in plain words.
func TestEditorCertificateP12(t *testing.T) {
	h := newHarness(t, newBackendWith("home"))
	e := h.edit("home")
	c := e.cert
	c.kind.SetSelected(certChoices[1])
	test.Type(c.certFile, certTestdata(t, "client.p12"))
	if !c.keyFile.Disabled() {
		t.Error("a .p12 chosen: the key file row stays on")
	}
	if m := strings.ToLower(shown(e, fieldCertPass)); !strings.Contains(m, "enter the password of the .p12 file") {
		t.Errorf("no password: %q", m)
	}
	test.Type(c.password, "nope")
	if m := strings.ToLower(shown(e, fieldCertPass)); !strings.Contains(m, "the password does not open it") || !e.save.Disabled() {
		t.Errorf("wrong password: %q", m)
	}
	c.password.SetText("testdata-p12")
	if e.save.Disabled() {
		t.Fatalf("right password: %v", visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("SaveProfile calls: %d", len(saves))
	}
	sp, ss := saves[0].Profile, saves[0].Secrets
	if certs, err := profile.ParseCertsPEM([]byte(sp.Cert)); err != nil || len(certs) != 2 || sp.CA != "" {
		t.Errorf("saved certificates: %v, CA %q", err, sp.CA)
	}
	if _, err := profile.ParseKeyPEM([]byte(ss[profile.SecretCertKey])); err != nil {
		t.Errorf("keychain key: %v", err)
	}
	noCertSecret(t, sp, ss)

	// An EC key.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "ec"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	cert, _ := x509.ParseCertificate(der)
	b, err := pkcs12.Modern.Encode(k, cert, nil, "ec-pw")
	if err != nil {
		t.Fatal(err)
	}
	ec := filepath.Join(t.TempDir(), "ec.pfx")
	os.WriteFile(ec, b, 0o600)
	e = h.edit("home")
	c = e.cert
	c.certFile.SetText(ec)
	c.password.SetText("ec-pw")
	if m := strings.ToLower(shown(e, "cert")); !strings.Contains(m, "an ec key: only rsa keys are supported") || !e.save.Disabled() {
		t.Errorf("EC key: %q", m)
	}
}

// Duplicating a certificate profile copies its certificate and, on save,
// its key from the original's keychain entry.
func TestEditorCertificateDuplicate(t *testing.T) {
	b := newBackendWith()
	certPEM, _ := os.ReadFile(certTestdata(t, "client.pem"))
	keyPEM, _ := os.ReadFile(certTestdata(t, "client-key.pem"))
	p := testProfile("office")
	p.Cert = string(certPEM)
	b.AddProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw-of-office", profile.SecretCertKey: string(keyPEM)})
	h := newHarness(t, b)
	h.u.editDuplicate("office")
	e := h.u.editing
	<-e.loaded
	h.settle()
	if e.cert.kind.Selected != certChoices[1] || e.save.Disabled() {
		t.Fatalf("duplicate: kind %q, save disabled %v: %v", e.cert.kind.Selected, e.save.Disabled(), visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 || saves[0].Profile.Name == "office" || saves[0].Profile.Cert != string(certPEM) || saves[0].Secrets[profile.SecretCertKey] != string(keyPEM) {
		t.Fatalf("saves %d", len(saves))
	}
}
