package profile

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// certFixtures reads testdata/cert: the CA, the client certificate and
// its key, as generate.go.txt made them.
type certFixtures struct {
	ca, leaf *x509.Certificate
	key      *rsa.PrivateKey
	keyPEM   string
}

func readCertFixtures(t *testing.T) certFixtures {
	t.Helper()
	ca, err := ParseCertsPEM(readTestdata(t, "cert", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ParseCertsPEM(readTestdata(t, "cert", "client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	kb := readTestdata(t, "cert", "client-key.pem")
	k, err := ParseKeyPEM(kb)
	if err != nil {
		t.Fatal(err)
	}
	return certFixtures{ca: ca[0], leaf: leaf[0], key: k.(*rsa.PrivateKey), keyPEM: string(kb)}
}

// check fails t unless im carries the fixtures' certificate: the client
// certificate (then its chain) and the CA in the profile, the key in the
// secrets, no pre-shared key, nothing pending, and a valid profile.
func (f certFixtures) check(t *testing.T, name string, im Imported, chain int, serverID string) {
	t.Helper()
	p := im.Profile
	certs, err := ParseCertsPEM([]byte(p.Cert))
	if err != nil || len(certs) != chain || !certs[0].Equal(f.leaf) {
		t.Errorf("%s: certificate %d (%v), want %d starting with the client's", name, len(certs), err, chain)
	}
	cas, err := ParseCertsPEM([]byte(p.CA))
	if err != nil || len(cas) != 1 || !cas[0].Equal(f.ca) {
		t.Errorf("%s: CA %v", name, err)
	}
	if p.ServerID != serverID {
		t.Errorf("%s: server ID %q, want %q", name, p.ServerID, serverID)
	}
	k, err := ParseKeyPEM([]byte(im.Secrets[SecretCertKey]))
	if err != nil || !k.(*rsa.PrivateKey).Equal(f.key) {
		t.Errorf("%s: key in the secrets: %v", name, err)
	}
	if _, ok := im.Secrets[SecretPSK]; ok || im.Cert != nil || !p.UsesCert() {
		t.Errorf("%s: PSK %v, pending %+v, UsesCert %v", name, ok, im.Cert, p.UsesCert())
	}
	if err := p.Validate(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	for _, w := range im.Warnings {
		if strings.Contains(w, "certificate") {
			t.Errorf("%s: warning left: %s", name, w)
		}
	}
	if strings.Contains(p.Cert+p.CA, "PRIVATE") {
		t.Errorf("%s: key material in the profile", name)
	}
}

// noSecrets fails t when s holds a password of the fixtures or key
// material.
func noSecrets(t *testing.T, what, s string, f certFixtures) {
	t.Helper()
	for _, secret := range []string{"testdata-p12", "nm-keypass", f.keyPEM[40:100], "PRIVATE KEY"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
}

// An Apple profile whose VPN payload authenticates IPsec with the
// certificate its PayloadCertificateUUID names: a PKCS#12 payload with
// its Password opens at import (the key to the secrets, the certificate
// and chain into the profile, the root payload as the CA, IPSec
// RemoteIdentifier as the server identity). Without the password the
// certificate stays pending with a plain-words warning that it must be
// given, and opens once it is.
func TestImportMobileconfigCertificate(t *testing.T) {
	f := readCertFixtures(t)
	ims, err := ImportFile("cert.mobileconfig", readTestdata(t, "apple", "l2tp-cert.mobileconfig"))
	if err != nil || len(ims) != 1 {
		t.Fatalf("%d profiles, %v", len(ims), err)
	}
	im := ims[0]
	if im.Profile.Name != "Example Certificate VPN" || im.Profile.Server != "vpn.example.org" || im.Profile.User != "erin" {
		t.Errorf("profile %+v", im.Profile)
	}
	f.check(t, "with its password", im, 2, "vpn.example.org")
	noSecrets(t, "warnings", strings.Join(im.Warnings, "\n"), f)

	ims, err = ImportFile("nopass.mobileconfig", readTestdata(t, "apple", "l2tp-cert-nopass.mobileconfig"))
	if err != nil || len(ims) != 1 {
		t.Fatalf("%d profiles, %v", len(ims), err)
	}
	im = ims[0]
	if im.Cert == nil || !im.Cert.NeedsPassword() || im.Profile.Cert != "" || im.Secrets[SecretCertKey] != "" {
		t.Fatalf("without the password: pending %+v, cert %q", im.Cert, im.Profile.Cert)
	}
	if len(im.Warnings) != 1 || !strings.Contains(im.Warnings[0], `payload "laptop-42", a PKCS#12 file protected by a password this profile does not hold: its password must be given`) {
		t.Errorf("warnings %q", im.Warnings)
	}
	if err := im.Profile.Validate(); err != nil {
		t.Errorf("pending profile: %v", err)
	}
	err = im.OpenCert(nil, "")
	if err == nil || !strings.Contains(err.Error(), "protected by a password the imported file does not hold: give its password") {
		t.Errorf("no password: %v", err)
	}
	err = im.OpenCert(nil, "not-it")
	if !errors.Is(err, ErrWrongPassword) || im.Cert == nil {
		t.Errorf("wrong password: %v", err)
	}
	noSecrets(t, "error", err.Error(), f)
	if err := im.OpenCert(nil, "testdata-p12"); err != nil {
		t.Fatal(err)
	}
	f.check(t, "password given", im, 2, "vpn.example.org")
	if len(im.Warnings) != 0 {
		t.Errorf("warnings left %q", im.Warnings)
	}

	// A certificate the profile does not hold, and an unknown method.
	doc := func(ipsec string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadContent</key><array>
<dict><key>PayloadType</key><string>com.apple.vpn.managed</string><key>VPNType</key><string>L2TP</string><key>UserDefinedName</key><string>x</string>
<key>PPP</key><dict><key>CommRemoteAddress</key><string>vpn.example.com</string></dict>
<key>IPSec</key><dict>` + ipsec + `</dict></dict></array></dict></plist>`)
	}
	ims, err = ImportMobileconfig(doc(`<key>AuthenticationMethod</key><string>Certificate</string><key>PayloadCertificateUUID</key><string>AAAA</string>`))
	if err != nil || len(ims) != 1 || ims[0].Cert != nil || ims[0].Profile.Cert != "" ||
		len(ims[0].Warnings) != 1 || !strings.Contains(ims[0].Warnings[0], "its certificate (PayloadCertificateUUID AAAA) is not in this profile: give it with corridor profile edit \"x\" --p12 FILE") {
		t.Errorf("missing certificate payload: %v, %+v", err, ims)
	}
}

// A NetworkManager-l2tp connection with machine-auth-type=tls names its
// certificate files (machine-cert, machine-key, machine-ca; a .p12 for
// both) and maybe their password (machine-certpass); ipsec-remote-id, or
// the older ipsec-gateway-id, is the server's identity. The import leaves
// them pending with a warning naming the files; OpenCert reads them.
func TestImportNMConnectionCertificate(t *testing.T) {
	f := readCertFixtures(t)
	// The files as they sit on the computer the connection came from.
	files := map[string]string{
		"/etc/ipsec.d/cacerts/ca.der":                "ca.der",
		"/etc/ipsec.d/certs/client.pem":              "client.pem",
		"/etc/ipsec.d/private/client-key-enc.pem":    "client-key-enc.pem",
		"/home/grace/vpn/ca.pem":                     "ca.pem",
		"/home/grace/vpn/client.p12":                 "client.p12",
		"/home/grace/vpn/client-key.pem":             "client-key.pem",
		"/home/grace/vpn/client-key-enc.pem":         "client-key-enc.pem",
		"/home/grace/vpn/client.pfx-named-otherwise": "client.p12",
	}
	readFile := func(name string) ([]byte, error) {
		if n, ok := files[name]; ok {
			return os.ReadFile(filepath.Join("testdata", "cert", n))
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}

	im, err := ImportFile("cert.nmconnection", readTestdata(t, "nm", "cert.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	one := im[0]
	c := one.Cert
	if c == nil || c.CertFile != "/etc/ipsec.d/certs/client.pem" || c.KeyFile != "/etc/ipsec.d/private/client-key-enc.pem" ||
		c.CAFile != "/etc/ipsec.d/cacerts/ca.der" || c.P12File != "" || c.ServerID != "vpn.example.com" || c.NeedsPassword() {
		t.Fatalf("pending %+v", c)
	}
	if one.Secrets[SecretPassword] != "frank-pw" || one.Profile.Cert != "" {
		t.Errorf("secrets %d, cert %q", len(one.Secrets), one.Profile.Cert)
	}
	if len(one.Warnings) != 1 || !strings.Contains(one.Warnings[0], "/etc/ipsec.d/certs/client.pem, /etc/ipsec.d/private/client-key-enc.pem, /etc/ipsec.d/cacerts/ca.der") {
		t.Errorf("warnings %q", one.Warnings)
	}
	noSecrets(t, "warnings", strings.Join(one.Warnings, "\n"), f)
	if err := one.OpenCert(readFile, ""); err != nil {
		t.Fatal(err)
	}
	f.check(t, "PEM files, encrypted key", one, 1, "vpn.example.com")

	ims, err := ImportFile("p12.nmconnection", readTestdata(t, "nm", "cert-p12.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	p12 := ims[0]
	if c := p12.Cert; c == nil || c.P12File != "/home/grace/vpn/client.p12" || c.CertFile != "" || !c.NeedsPassword() || c.ServerID != "CN=vpn.example.com, O=Example" {
		t.Fatalf("pending %+v", c)
	}
	if err := p12.OpenCert(readFile, ""); err == nil || !strings.Contains(err.Error(), "the certificate /home/grace/vpn/client.p12 is a PKCS#12 file protected by a password") {
		t.Errorf("no password: %v", err)
	}
	if err := p12.OpenCert(readFile, "testdata-p12"); err != nil {
		t.Fatal(err)
	}
	f.check(t, "PKCS#12", p12, 2, "CN=vpn.example.com, O=Example")

	// Files that are missing, wrong or not the pair; and a PKCS#12 file
	// under another name, found by its content.
	base := string(readTestdata(t, "nm", "cert-p12.nmconnection"))
	for _, c := range []struct {
		cert, key, pass, want string
	}{
		{"/home/grace/vpn/missing.pem", "/home/grace/vpn/client-key.pem", "", "the certificate file /home/grace/vpn/missing.pem (from the imported file): open /home/grace/vpn/missing.pem: file does not exist"},
		{"/home/grace/vpn/ca.pem", "/home/grace/vpn/client-key.pem", "", "is not the key of the certificate /home/grace/vpn/ca.pem"},
		{"/home/grace/vpn/client-key.pem", "/home/grace/vpn/client-key.pem", "", "the certificate file /home/grace/vpn/client-key.pem: no PEM certificate"},
		{"/home/grace/vpn/ca.pem", "", "", "comes without its private key (machine-key)"},
		{"/etc/ipsec.d/certs/client.pem", "/home/grace/vpn/client-key-enc.pem", "", "encrypted with a passphrase the imported file does not hold"},
		{"/etc/ipsec.d/certs/client.pem", "/home/grace/vpn/client-key-enc.pem", "wrong", "the password does not open it"},
		{"/home/grace/vpn/client.pfx-named-otherwise", "", "testdata-p12", ""},
	} {
		text := strings.NewReplacer("machine-cert=/home/grace/vpn/client.p12", "machine-cert="+c.cert, "machine-key=/home/grace/vpn/client.p12", "machine-key="+c.key).Replace(base)
		im, err := ImportNMConnection([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		err = im.OpenCert(readFile, c.pass)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.cert, err)
		case c.want == "":
			f.check(t, c.cert, im, 2, "CN=vpn.example.com, O=Example")
		case err == nil || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s + %s: %v, want %q", c.cert, c.key, err, c.want)
		case im.Cert == nil || im.Profile.Cert != "":
			t.Errorf("%s: a failed OpenCert changed the import", c.cert)
		}
		if err != nil {
			noSecrets(t, "error", err.Error(), f)
		}
	}
	// No machine-cert at all: a warning, nothing pending.
	im2, err := ImportNMConnection([]byte(strings.NewReplacer("machine-cert=/home/grace/vpn/client.p12\n", "", "machine-key=/home/grace/vpn/client.p12\n", "").Replace(base)))
	if err != nil || im2.Cert != nil || len(im2.Warnings) != 1 || !strings.Contains(im2.Warnings[0], "names no certificate file (machine-cert)") {
		t.Errorf("no machine-cert: %v, %+v", err, im2)
	}
}

// An imported certificate profile goes to the store as any other: the
// certificates in the file, the key in the keychain.
func TestImportCertificateToStore(t *testing.T) {
	f := readCertFixtures(t)
	s := newTestStore(t)
	ims, err := ImportFile("cert.mobileconfig", readTestdata(t, "apple", "l2tp-cert.mobileconfig"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Import(ims[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.Secrets().Get(p.Name, SecretCertKey)
	if err != nil || key != ims[0].Secrets[SecretCertKey] {
		t.Errorf("keychain: %v", err)
	}
	data, err := os.ReadFile(s.path(p.Name))
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "profile file", string(data), f)
	if got, err := s.Get(p.Name); err != nil || got.Cert != ims[0].Profile.Cert || got.CA == "" || got.ServerID != "vpn.example.org" {
		t.Errorf("stored profile: %v", err)
	}
}
