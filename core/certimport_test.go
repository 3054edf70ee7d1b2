package core

import (
	"crypto/rsa"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
)

// memKeychain is a keychain in memory that counts its calls.
type memKeychain struct {
	mu    sync.Mutex
	vals  map[string]string
	calls int
}

func (m *memKeychain) key(p string, k profile.SecretKind) string { return p + "/" + string(k) }

func (m *memKeychain) Get(p string, k profile.SecretKind) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	v, ok := m.vals[m.key(p, k)]
	if !ok {
		return "", profile.ErrNoSecret
	}
	return v, nil
}

func (m *memKeychain) Set(p string, k profile.SecretKind, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.vals == nil {
		m.vals = map[string]string{}
	}
	m.vals[m.key(p, k)] = v
	return nil
}

func (m *memKeychain) Delete(p string, k profile.SecretKind) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	delete(m.vals, m.key(p, k))
	return nil
}

func (m *memKeychain) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// certTestService is a Service on a store in a temporary folder with a
// keychain in memory.
func certTestService(t *testing.T) (*Service, *memKeychain) {
	t.Helper()
	kc := &memKeychain{}
	st, err := profile.OpenStore(filepath.Join(t.TempDir(), "corridor"), kc)
	if err != nil {
		t.Fatal(err)
	}
	return NewService(st, &upRecorder{}), kc
}

func certTestdata(t *testing.T, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"profile", "testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkImportedKey fails t unless the keychain holds the fixtures' client
// key for the profile name, and the profile its certificate and no PSK.
func checkImportedKey(t *testing.T, svc *Service, name string) {
	t.Helper()
	p, err := svc.Profile(name)
	if err != nil {
		t.Fatal(err)
	}
	want, err := profile.ParseKeyPEM(certTestdata(t, "cert", "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := profile.ParseCertsPEM(certTestdata(t, "cert", "client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := profile.ParseCertsPEM([]byte(p.Cert))
	if err != nil || !p.UsesCert() || !certs[0].Equal(leaf[0]) {
		t.Errorf("%s: the profile's certificate is not the client's: %v", name, err)
	}
	k, err := svc.Secret(name, profile.SecretCertKey)
	if err != nil {
		t.Fatalf("%s: no key in the keychain: %v", name, err)
	}
	got, err := profile.ParseKeyPEM([]byte(k))
	if err != nil || !got.(*rsa.PrivateKey).Equal(want) {
		t.Errorf("%s: the keychain's key is not the client's: %v", name, err)
	}
	if _, err := svc.Secret(name, profile.SecretPSK); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("%s: a pre-shared key is stored beside the certificate: %v", name, err)
	}
}

// noSecretIn fails t when s holds a password or key of the fixtures.
func noSecretIn(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{"nm-keypass", "testdata-p12", "typed-wrong-pw", "PRIVATE KEY"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds a secret (%q): %s", what, secret, s)
		}
	}
}

// A NetworkManager connection whose certificate and unencrypted key are
// files on this computer: Service.Import (the desktop app's import)
// opens them without asking, the key goes to the keychain.
func TestServiceImportNMCertificateFiles(t *testing.T) {
	svc, _ := certTestService(t)
	dir := t.TempDir()
	for _, f := range []string{"client.pem", "client-key.pem", "ca.der"} {
		if err := os.WriteFile(filepath.Join(dir, f), certTestdata(t, "cert", f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nm := string(certTestdata(t, "nm", "cert.nmconnection"))
	nm = strings.NewReplacer("/etc/ipsec.d/cacerts/ca.der", filepath.Join(dir, "ca.der"),
		"/etc/ipsec.d/certs/client.pem", filepath.Join(dir, "client.pem"),
		"/etc/ipsec.d/private/client-key-enc.pem", filepath.Join(dir, "client-key.pem"),
		"machine-certpass=nm-keypass\n", "").Replace(nm)
	got, err := svc.Import("cert.nmconnection", []byte(nm), ImportOptions{})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d profiles, %v", len(got), err)
	}
	if len(got[0].Warnings) != 0 {
		t.Errorf("warnings %q", got[0].Warnings)
	}
	checkImportedKey(t, svc, "Office certificate")
	if pw, _ := svc.Secret("Office certificate", profile.SecretPassword); pw != "frank-pw" {
		t.Errorf("password %q", pw)
	}
}

// An encrypted key file without its passphrase in the connection: the
// import saves nothing and asks (ImportPasswordError); a wrong passphrase
// says so and saves nothing; the right one imports the key.
func TestServiceImportNMEncryptedKeyAsks(t *testing.T) {
	svc, _ := certTestService(t)
	files := map[string]string{
		"/etc/ipsec.d/cacerts/ca.der":             "ca.der",
		"/etc/ipsec.d/certs/client.pem":           "client.pem",
		"/etc/ipsec.d/private/client-key-enc.pem": "client-key-enc.pem",
	}
	svc.readCertFile = func(name string) ([]byte, error) {
		if n, ok := files[name]; ok {
			return certTestdata(t, "cert", n), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	nm := strings.Replace(string(certTestdata(t, "nm", "cert.nmconnection")), "machine-certpass=nm-keypass\n", "", 1)

	_, err := svc.Import("cert.nmconnection", []byte(nm), ImportOptions{})
	var pe *ImportPasswordError
	if !errors.As(err, &pe) || pe.Wrong || !errors.Is(err, profile.ErrPasswordNeeded) || len(pe.Certs) != 1 || pe.Certs[0] != "/etc/ipsec.d/certs/client.pem" {
		t.Fatalf("no passphrase: %v (%+v)", err, pe)
	}
	if ps, _ := svc.Profiles(); len(ps) != 0 {
		t.Fatalf("%d profiles saved before the passphrase was given", len(ps))
	}
	_, err = svc.Import("cert.nmconnection", []byte(nm), ImportOptions{Password: "typed-wrong-pw"})
	if !errors.As(err, &pe) || !pe.Wrong || !errors.Is(err, profile.ErrWrongPassword) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	noSecretIn(t, "the wrong-password error", err.Error())
	if ps, _ := svc.Profiles(); len(ps) != 0 {
		t.Fatalf("%d profiles saved with a wrong passphrase", len(ps))
	}
	got, err := svc.Import("cert.nmconnection", []byte(nm), ImportOptions{Password: "nm-keypass"})
	if err != nil || len(got) != 1 || len(got[0].Warnings) != 0 {
		t.Fatalf("right passphrase: %v, %+v", err, got)
	}
	checkImportedKey(t, svc, got[0].Profile.Name)
}

// The files a NetworkManager connection names are not on this computer:
// the profile is saved without a certificate, and the warning says why
// and how to add it in the editor.
func TestServiceImportNMCertificateMissingFiles(t *testing.T) {
	svc, kc := certTestService(t)
	svc.readCertFile = func(name string) ([]byte, error) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	got, err := svc.Import("cert.nmconnection", certTestdata(t, "nm", "cert.nmconnection"), ImportOptions{})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d profiles, %v", len(got), err)
	}
	w := strings.Join(got[0].Warnings, "\n")
	if !strings.Contains(w, "the certificate was not imported: the certificate file /etc/ipsec.d/certs/client.pem") ||
		!strings.Contains(w, "Edit, Certificate") || len(got[0].Warnings) != 1 {
		t.Errorf("warnings %q", got[0].Warnings)
	}
	noSecretIn(t, "the warnings", w)
	if got[0].Profile.UsesCert() {
		t.Error("the profile has a certificate")
	}
	if _, ok := kc.vals["Office certificate/"+string(profile.SecretCertKey)]; ok {
		t.Error("a key went to the keychain")
	}
}

// An Apple profile whose PKCS#12 payload has no Password: asked for;
// skipped, the profile is saved without the certificate and says how to
// add it; with the password, the key goes to the keychain.
func TestServiceImportMobileconfigP12Password(t *testing.T) {
	data := certTestdata(t, "apple", "l2tp-cert-nopass.mobileconfig")
	svc, kc := certTestService(t)
	_, err := svc.Import("nopass.mobileconfig", data, ImportOptions{})
	var pe *ImportPasswordError
	if !errors.As(err, &pe) || pe.Wrong || len(pe.Certs) != 1 || pe.Certs[0] != `payload "laptop-42"` {
		t.Fatalf("no password: %v", err)
	}
	if kc.count() != 0 {
		t.Errorf("%d keychain calls before the password was given", kc.count())
	}

	for _, c := range []struct {
		opt  ImportOptions
		why  string
		name string
	}{
		{ImportOptions{SkipCert: true}, "it needs its password, which was not given", "Example Certificate VPN"},
		{ImportOptions{SkipCert: true, Password: "typed-wrong-pw"}, "the password given does not open it", "Example Certificate VPN (2)"},
	} {
		got, err := svc.Import("nopass.mobileconfig", data, c.opt)
		if err != nil || len(got) != 1 || got[0].Profile.Name != c.name {
			t.Fatalf("skip %+v: %v, %+v", c.opt.Password != "", err, got)
		}
		w := strings.Join(got[0].Warnings, "\n")
		if len(got[0].Warnings) != 1 || !strings.Contains(w, `the certificate payload "laptop-42" was not imported (`+c.why+`)`) ||
			!strings.Contains(w, "Edit, Certificate") || strings.Contains(w, "must be given when importing") {
			t.Errorf("skipped: warnings %q", got[0].Warnings)
		}
		noSecretIn(t, "the warnings", w)
		if got[0].Profile.UsesCert() {
			t.Error("skipped: the profile has a certificate")
		}
		if _, err := svc.Secret(c.name, profile.SecretCertKey); !errors.Is(err, profile.ErrNoSecret) {
			t.Errorf("skipped: a key in the keychain (%v)", err)
		}
	}

	got, err := svc.Import("nopass.mobileconfig", data, ImportOptions{Password: "testdata-p12"})
	if err != nil || len(got) != 1 || len(got[0].Warnings) != 0 {
		t.Fatalf("with the password: %v, %+v", err, got)
	}
	checkImportedKey(t, svc, got[0].Profile.Name)
	if got[0].Profile.ServerID != "vpn.example.org" || got[0].Profile.CA == "" {
		t.Errorf("server ID %q, CA %d bytes", got[0].Profile.ServerID, len(got[0].Profile.CA))
	}

	// The password in the file opens it: nothing to ask.
	got, err = svc.Import("cert.mobileconfig", certTestdata(t, "apple", "l2tp-cert.mobileconfig"), ImportOptions{})
	if err != nil || len(got) != 1 || len(got[0].Warnings) != 0 {
		t.Fatalf("password in the file: %v, %+v", err, got)
	}
	checkImportedKey(t, svc, got[0].Profile.Name)
}

// Saving a certificate profile back with the pre-shared key deletes the
// certificate's key from the keychain; saving a pre-shared-key profile
// does not touch the keychain beyond its own secrets.
func TestSaveProfileCertToPSKDeletesKey(t *testing.T) {
	svc, kc := certTestService(t)
	p := profile.NewProfile("office")
	p.Server, p.User = "vpn.example.com", "alice"
	p.Cert = string(certTestdata(t, "cert", "client.pem"))
	key := string(certTestdata(t, "cert", "client-key.pem"))
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretCertKey: key}); err != nil {
		t.Fatal(err)
	}
	if k, _ := svc.Secret("office", profile.SecretCertKey); k != key {
		t.Fatal("the key was not stored")
	}
	// Saving the certificate profile again keeps its key.
	if err := svc.SaveProfile(p, nil); err != nil {
		t.Fatal(err)
	}
	if k, _ := svc.Secret("office", profile.SecretCertKey); k != key {
		t.Fatal("a save of the certificate profile lost its key")
	}
	p.Cert, p.CA, p.ServerID = "", "", ""
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPSK: "psk"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Secret("office", profile.SecretCertKey); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("the certificate's key is still in the keychain (%v)", err)
	}
	if psk, _ := svc.Secret("office", profile.SecretPSK); psk != "psk" {
		t.Errorf("psk %q", psk)
	}
	n := kc.count()
	if err := svc.SaveProfile(p, nil); err != nil {
		t.Fatal(err)
	}
	if kc.count() != n {
		t.Errorf("saving a pre-shared-key profile with no new secret made %d keychain calls", kc.count()-n)
	}
}
