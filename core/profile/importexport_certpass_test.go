package profile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OpenCert tells a missing password (ErrPasswordNeeded: ask for it) from a
// wrong one (ErrWrongPassword: say so, ask again), for a PKCS#12 payload
// and for an encrypted key file; SkipCert drops the pending certificate
// and its warning for the one given.
func TestOpenCertPasswordNeededOrWrong(t *testing.T) {
	f := readCertFixtures(t)
	ims, err := ImportFile("nopass.mobileconfig", readTestdata(t, "apple", "l2tp-cert-nopass.mobileconfig"))
	if err != nil || len(ims) != 1 {
		t.Fatalf("%d profiles, %v", len(ims), err)
	}
	im := ims[0]
	if im.Cert.Name() != `payload "laptop-42"` {
		t.Errorf("name %q", im.Cert.Name())
	}
	err = im.OpenCert(nil, "")
	if !errors.Is(err, ErrPasswordNeeded) || errors.Is(err, ErrWrongPassword) {
		t.Errorf("no password: %v, want ErrPasswordNeeded only", err)
	}
	err = im.OpenCert(nil, "not-it")
	if !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrPasswordNeeded) {
		t.Errorf("wrong password: %v, want ErrWrongPassword only", err)
	}
	noSecrets(t, "error", err.Error(), f)
	im.SkipCert("skipped: add it later")
	if im.Cert != nil || im.Profile.Cert != "" || im.Secrets[SecretCertKey] != "" {
		t.Errorf("after SkipCert: pending %v, cert %q", im.Cert, im.Profile.Cert)
	}
	if len(im.Warnings) != 1 || im.Warnings[0] != "skipped: add it later" {
		t.Errorf("warnings after SkipCert %q", im.Warnings)
	}
	im.SkipCert("again") // nothing pending: nothing changes
	if len(im.Warnings) != 1 {
		t.Errorf("a second SkipCert added a warning: %q", im.Warnings)
	}

	// NetworkManager: an encrypted key file without machine-certpass.
	nm := strings.Replace(string(readTestdata(t, "nm", "cert.nmconnection")), "machine-certpass=nm-keypass\n", "", 1)
	ims, err = ImportFile("cert.nmconnection", []byte(nm))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"/etc/ipsec.d/cacerts/ca.der":             "ca.der",
		"/etc/ipsec.d/certs/client.pem":           "client.pem",
		"/etc/ipsec.d/private/client-key-enc.pem": "client-key-enc.pem",
	}
	readFile := func(name string) ([]byte, error) {
		if n, ok := files[name]; ok {
			return os.ReadFile(filepath.Join("testdata", "cert", n))
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	im = ims[0]
	if im.Cert == nil || im.Cert.Password != "" || im.Cert.Name() != "/etc/ipsec.d/certs/client.pem" {
		t.Fatalf("pending %+v", im.Cert)
	}
	err = im.OpenCert(readFile, "")
	if !errors.Is(err, ErrPasswordNeeded) || !strings.Contains(err.Error(), "client-key-enc.pem is encrypted with a passphrase") {
		t.Errorf("encrypted key, no passphrase: %v", err)
	}
	err = im.OpenCert(readFile, "not-it")
	if !errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrPasswordNeeded) {
		t.Errorf("encrypted key, wrong passphrase: %v", err)
	}
	if err := im.OpenCert(readFile, "nm-keypass"); err != nil {
		t.Fatal(err)
	}
	f.check(t, "typed passphrase", im, 1, "vpn.example.com")
}

// A PayloadCertificateUUID that names the profile's CA (root) payload
// instead of an identity: the warning says what the payload is, not that
// it is missing.
func TestImportMobileconfigCertificateUUIDNamesRoot(t *testing.T) {
	doc := strings.Replace(string(readTestdata(t, "apple", "l2tp-cert-nopass.mobileconfig")),
		"<key>PayloadCertificateUUID</key>\n\t\t\t\t<string>0C1D4A77-2E5B-4B8A-A3F1-6D2C9E0B7A11</string>",
		"<key>PayloadCertificateUUID</key>\n\t\t\t\t<string>3F6B8D10-5A2C-4E7B-8C9D-0E1F2A3B4C5D</string>", 1)
	if !strings.Contains(doc, "<string>3F6B8D10-5A2C-4E7B-8C9D-0E1F2A3B4C5D</string>\n\t\t\t\t<key>RemoteIdentifier") {
		t.Fatal("the fixture's PayloadCertificateUUID was not replaced")
	}
	ims, err := ImportMobileconfig([]byte(doc))
	if err != nil || len(ims) != 1 {
		t.Fatalf("%d profiles, %v", len(ims), err)
	}
	im := ims[0]
	if im.Cert != nil || im.Profile.Cert != "" {
		t.Errorf("a CA payload became the profile's certificate: pending %+v", im.Cert)
	}
	w := strings.Join(im.Warnings, "\n")
	want := `its PayloadCertificateUUID 3F6B8D10-5A2C-4E7B-8C9D-0E1F2A3B4C5D names the CA (root) certificate payload "Example Office CA" (com.apple.security.root), a certificate without its private key`
	if !strings.Contains(w, want) || strings.Contains(w, "is not in this profile") {
		t.Errorf("warnings %q\nwant one with %q", im.Warnings, want)
	}
}
