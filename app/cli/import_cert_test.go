package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/zalando/go-keyring"
)

// corridor profile import of a certificate VPN: an Apple profile's
// PKCS#12 payload opens with --p12-password-file (read once, from a file
// or standard input); without it, or with a wrong one, the profile is
// imported without its certificate and the warnings say in plain words
// that the password must be given. A NetworkManager connection's
// certificate files are read on this computer. No password or key shows.
func TestProfileImportCertificate(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	testdata, err := filepath.Abs(filepath.Join("..", "..", "core", "profile", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("testdata-p12\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("not-it\n"), 0o600)
	keyPEM, _ := os.ReadFile(filepath.Join(testdata, "cert", "client-key.pem"))
	leak := func(what, s string) {
		for _, secret := range []string{"testdata-p12", "nm-keypass", string(keyPEM[40:100]), "PRIVATE KEY"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows a secret: %s", what, s)
			}
		}
	}
	certOf := func(name string) (cert, key string) {
		t.Helper()
		_, show, _ := run(t, "", "profile", "show", name)
		leak("show", show)
		key, _ = keyring.Get(profile.KeyringService, name+"/"+string(profile.SecretCertKey))
		return show, key
	}
	nopass := filepath.Join(testdata, "apple", "l2tp-cert-nopass.mobileconfig")

	code, out, errs := run(t, "", "profile", "import", nopass)
	if code != ExitOK || !strings.Contains(out, `imported profile "Example Certificate VPN"`) ||
		!strings.Contains(errs, "its password must be given when importing (corridor profile import FILE --p12-password-file PASSWORD-FILE") ||
		!strings.Contains(errs, "the certificate was not imported: the certificate payload \"laptop-42\" is a PKCS#12 file protected by a password the imported file does not hold: give its password") {
		t.Errorf("no password: exit %d\n%s\n%s", code, out, errs)
	}
	leak("import", out+errs)
	if show, key := certOf("Example Certificate VPN"); !strings.Contains(show, `cert = ""`) || key != "" {
		t.Errorf("imported without its password, yet a certificate:\n%s", show)
	}

	code, out, errs = run(t, "", "profile", "import", "--p12-password-file", wrong, nopass)
	if code != ExitOK || !strings.Contains(errs, "the certificate was not imported: the certificate payload \"laptop-42\": the password does not open it") {
		t.Errorf("wrong password: exit %d\n%s\n%s", code, out, errs)
	}
	leak("import", out+errs)

	code, out, errs = run(t, "testdata-p12\n", "profile", "import", "--p12-password-file", "-", nopass)
	if code != ExitOK || !strings.Contains(out, `imported profile "Example Certificate VPN (3)"`) || strings.Contains(errs, "certificate") {
		t.Errorf("password from stdin: exit %d\n%s\n%s", code, out, errs)
	}
	leak("import", out+errs)
	if show, key := certOf("Example Certificate VPN (3)"); strings.Count(show, "BEGIN CERTIFICATE") != 3 || !strings.Contains(show, `server_id = "vpn.example.org"`) || !strings.Contains(key, "PRIVATE KEY") {
		t.Errorf("imported with its password:\n%s", show)
	}

	// NetworkManager: the files it names, here.
	nm, _ := os.ReadFile(filepath.Join(testdata, "nm", "cert.nmconnection"))
	text := strings.NewReplacer("/etc/ipsec.d/cacerts/", testdata+"/cert/", "/etc/ipsec.d/certs/", testdata+"/cert/", "/etc/ipsec.d/private/", testdata+"/cert/").Replace(string(nm))
	file := filepath.Join(dir, "office.nmconnection")
	os.WriteFile(file, []byte(text), 0o600)
	code, out, errs = run(t, "", "profile", "import", file)
	if code != ExitOK || strings.Contains(errs, "certificate") || !strings.Contains(out, "2 secrets to the keychain") {
		t.Errorf("NetworkManager: exit %d\n%s\n%s", code, out, errs)
	}
	leak("import", out+errs)
	if show, key := certOf("Office certificate"); strings.Count(show, "BEGIN CERTIFICATE") != 2 || !strings.Contains(show, `server_id = "vpn.example.com"`) || !strings.Contains(key, "PRIVATE KEY") {
		t.Errorf("NetworkManager import:\n%s", show)
	}
	// The same connection where the files are not: imported without them.
	code, _, errs = run(t, "", "profile", "import", filepath.Join(testdata, "nm", "cert.nmconnection"))
	if code != ExitOK || !strings.Contains(errs, "they are read when the import runs there; otherwise copy them here") ||
		!strings.Contains(errs, "the certificate was not imported: the certificate file /etc/ipsec.d/certs/client.pem (from the imported file)") {
		t.Errorf("NetworkManager without its files: exit %d\n%s", code, errs)
	}
	if code, _, errs := run(t, "", "profile", "import", "--p12-password-file", pw, filepath.Join(testdata, "nm", "office.nmconnection")); code != ExitUsage || !strings.Contains(errs, "no certificate that needs a password") {
		t.Errorf("--p12-password-file for a PSK connection: exit %d, %s", code, errs)
	}
}
