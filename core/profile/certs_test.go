package profile

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestProfileCertValidate(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if s, err := ParseKeyPEM(keyPEM); err != nil || !s.Public().(*rsa.PublicKey).Equal(&k.PublicKey) {
		t.Fatalf("ParseKeyPEM: %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(p *Profile)
		field string // "" valid
	}{
		{"certificate", func(p *Profile) { p.Cert, p.CA, p.ServerID = certPEM, certPEM, "CN=vpn" }, ""},
		{"no IPsec", func(p *Profile) { p.Cert, p.IPsec = certPEM, false }, "cert"},
		{"aggressive", func(p *Profile) { p.Cert, p.Aggressive, p.Group = certPEM, true, "g" }, "cert"},
		{"not PEM", func(p *Profile) { p.Cert = "junk" }, "cert"},
		{"CA not PEM", func(p *Profile) { p.Cert, p.CA = certPEM, "junk" }, "ca"},
		{"CA without a certificate", func(p *Profile) { p.CA = certPEM }, "cert"},
		{"server ID with a control character", func(p *Profile) { p.Cert, p.ServerID = certPEM, "a\nb" }, "server_id"},
	} {
		p := NewProfile("office")
		p.Server, p.User = "vpn.example.com", "alice"
		c.edit(&p)
		err := p.Validate()
		var es ValidationErrors
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && (!errors.As(err, &es) || es.For(c.field) == ""):
			t.Errorf("%s: %v, want an error on %s", c.name, err, c.field)
		}
		if c.field == "" && (!p.UsesCert() || strings.Contains(p.Cert, "PRIVATE")) {
			t.Errorf("%s: UsesCert %v", c.name, p.UsesCert())
		}
	}
}
