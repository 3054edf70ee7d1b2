package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/youmark/pkcs8"
	"github.com/zalando/go-keyring"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

const (
	p12Pass = "p12-Gh7w"
	keyPass = "keyPass-Rb2m"
)

// p12Files adds to certFiles: the client certificate, its key and the CA
// as a PKCS#12 file (modern encryption) and its password file, the key
// encrypted under a passphrase (PKCS#8) and its passphrase file, and a
// PKCS#12 file with an EC key.
type p12Files struct {
	certFiles
	p12, p12Legacy, p12Pass, encKey, keyPass, ecP12 string
}

func writeP12Files(t *testing.T) p12Files {
	t.Helper()
	f := p12Files{certFiles: writeCertFiles(t)}
	b, _ := os.ReadFile(f.cert)
	certs, err := profile.ParseCertsPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	userKey, caKey := cliKeys[1], cliKeys[0]
	w := func(name string, b []byte) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		enc  *pkcs12.Encoder
		dest *string
		name string
	}{{pkcs12.Modern, &f.p12, "client.p12"}, {pkcs12.LegacyDES, &f.p12Legacy, "legacy.p12"}} {
		der, err := c.enc.Encode(userKey, certs[0], certs[1:], p12Pass)
		if err != nil {
			t.Fatal(err)
		}
		*c.dest = w(c.name, der)
	}
	f.p12Pass = w("p12pass", []byte(p12Pass+"\n"))
	encDER, err := pkcs8.MarshalPrivateKey(userKey, []byte(keyPass), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.encKey = w("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encDER}))
	f.keyPass = w("keypass", []byte(keyPass+"\n"))
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecT := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "ec"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	ecDER, err := x509.CreateCertificate(rand.Reader, ecT, certs[1], &ecKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ecCert, _ := x509.ParseCertificate(ecDER)
	ecP12, err := pkcs12.Modern.Encode(ecKey, ecCert, nil, p12Pass)
	if err != nil {
		t.Fatal(err)
	}
	f.ecP12 = w("ec.p12", ecP12)
	return f
}

// noSecret fails t when s shows the key, a password or the PKCS#12 file.
func (f p12Files) noSecret(t *testing.T, what, s string) {
	t.Helper()
	keyB64 := base64.StdEncoding.EncodeToString(f.keyDER)
	p12, _ := os.ReadFile(f.p12)
	for _, secret := range []string{keyB64[40:80], p12Pass, keyPass, "pw-Xy9q", base64.StdEncoding.EncodeToString(p12)[40:80]} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %q", what, s)
		}
	}
}

// corridor connect --p12 FILE --p12-password-file FILE, and --key with
// --key-password-file: the certificate, chain and key as IKE gets them;
// wrong passwords, an EC key and flags that do not go together are
// refused in plain words, without any secret in the output.
func TestConnectP12Flags(t *testing.T) {
	f := writeP12Files(t)
	pw := filepath.Join(f.dir, "pw")
	os.WriteFile(pw, []byte("pw-Xy9q\n"), 0o600)
	wrong := filepath.Join(f.dir, "wrong")
	os.WriteFile(wrong, []byte("not-it\n"), 0o600)
	psk := filepath.Join(f.dir, "psk")
	os.WriteFile(psk, []byte("psk-Zr4w\n"), 0o600)
	base := []string{"connect", "--user", "a", "--password-file", pw}
	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--p12", f.p12, "x"}, "", "--p12 and --p12-password-file go together"},
		{[]string{"--p12-password-file", f.p12Pass, "x"}, "", "--p12 and --p12-password-file go together"},
		{[]string{"--p12", f.p12, "--p12-password-file", f.p12Pass, "--cert", f.cert, "--key", f.key, "x"}, "", "--p12 holds the certificate and its key"},
		{[]string{"--p12", f.p12, "--p12-password-file", f.p12Pass, "--psk-file", psk, "x"}, "", "--p12 and --psk-file exclude each other"},
		{[]string{"--p12", f.p12, "--p12-password-file", f.p12Pass, "--aggressive", "--group", "g", "x"}, "", "Main Mode only"},
		{[]string{"--no-ipsec", "--p12", f.p12, "--p12-password-file", f.p12Pass, "x"}, "", "need IPsec"},
		{[]string{"--psk-file", psk, "--key-password-file", f.keyPass, "x"}, "", "--key-password-file goes with --key"},
		{[]string{"--p12", f.p12, "--p12-password-file", "-", "--l2tp-secret-file", "-", "x"}, "a\nb\n", "only one of"},
		{[]string{"--p12", f.p12, "--p12-password-file", wrong, "x"}, "", "--p12 " + f.p12 + ": the password does not open it"},
		{[]string{"--p12", f.p12, "--p12-password-file", f.p12Pass + ".nope", "x"}, "", "PKCS#12 password file"},
		{[]string{"--p12", f.ecP12, "--p12-password-file", f.p12Pass, "x"}, "", "an EC key: only RSA keys are supported"},
		{[]string{"--p12", f.cert, "--p12-password-file", f.p12Pass, "x"}, "", "a PEM file, not a PKCS#12 file"},
		{[]string{"--cert", f.cert, "--key", f.encKey, "x"}, "", "--key-password-file FILE"},
		{[]string{"--cert", f.cert, "--key", f.encKey, "--key-password-file", wrong, "x"}, "", "--key " + f.encKey + ": the password does not open it"},
	} {
		code, _, stderr := run(t, c.stdin, append(base, c.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
		f.noSecret(t, strings.Join(c.args, " "), stderr)
	}

	// What IKE gets: the key, the client certificate first, its chain,
	// the CA of --ca. The passwords come from files or standard input.
	for _, c := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"--p12", f.p12, "--p12-password-file", f.p12Pass}, ""},
		{[]string{"--p12", f.p12Legacy, "--p12-password-file", "-"}, p12Pass + "\n"},
		{[]string{"--cert", f.cert, "--key", f.encKey, "--key-password-file", f.keyPass}, ""},
		{[]string{"--cert", f.cert, "--key", f.encKey, "--key-password-file", "-"}, keyPass + "\r\n"},
	} {
		fs, cf := newConnectFlags(io.Discard)
		if err := fs.Parse(append(c.args, "--ca", f.ca, "--server-id", "CN=vpn", "--user", "alice")); err != nil {
			t.Fatal(err)
		}
		if msg := cf.certUsage(); msg != "" {
			t.Fatalf("%v: %s", c.args, msg)
		}
		ca, err := loadCertAuth(cf, strings.NewReader(c.stdin), func(w string) { t.Errorf("warning %q", w) })
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		cf.certAuth = ca
		cfg, err := cf.config("vpn.example.com", map[profile.SecretKind]string{profile.SecretPassword: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := ca.Key.(*rsa.PrivateKey)
		if ic := cfg.IPsec; ic == nil || ic.PSK != nil || ic.Cert != ca || len(ca.Cert) != 2 || ca.Cert[0].Subject.CommonName != "alice" ||
			ca.Cert[1].Subject.CommonName != "Test CA" || len(ca.CA) != 1 || ca.ServerID != "CN=vpn" || key == nil || !key.Equal(cliKeys[1]) {
			t.Errorf("%v: IPsec config %+v, cert auth %+v", c.args, cfg.IPsec, ca)
		}
	}

	code, help, _ := run(t, "", "connect", "--help")
	for _, want := range []string{"-p12 FILE", "-p12-password-file FILE", "-key-password-file FILE", "--p12 FILE --p12-password-file FILE"} {
		if code != ExitOK || !strings.Contains(help, want) {
			t.Errorf("connect help lacks %q", want)
		}
	}
}

// corridor profile add/edit --p12 FILE --p12-password-file FILE puts the
// certificate and its chain into the profile and the key into the
// keychain; the password is stored nowhere. --key with
// --key-password-file stores the key decrypted. Bad files and passwords
// are refused in plain words and change nothing.
func TestProfileP12Flags(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	t.Setenv("CORRIDOR_CONFIG_DIR", dir)
	f := writeP12Files(t)
	wrong := filepath.Join(f.dir, "wrong")
	os.WriteFile(wrong, []byte("not-it\n"), 0o600)

	code, out, errs := run(t, p12Pass+"\n", "profile", "add", "office", "--server", "vpn.example.com", "--user", "alice", "--ask-password",
		"--p12", f.p12, "--p12-password-file", "-", "--ca", f.ca, "--server-id", "CN=vpn")
	if code != ExitOK || !strings.Contains(out, "cert-key stored in the keychain") {
		t.Fatalf("add: exit %d: %s %s", code, out, errs)
	}
	f.noSecret(t, "add", out+errs)
	_, show, _ := run(t, "", "profile", "show", "office")
	if strings.Count(show, "BEGIN CERTIFICATE") != 3 || !strings.Contains(show, `server_id = "CN=vpn"`) || strings.Contains(show, "PRIVATE KEY") {
		t.Errorf("show:\n%s", show)
	}
	f.noSecret(t, "show", show)
	// Neither the profile files nor the keychain keep the password.
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			f.noSecret(t, path, string(b))
		}
		return nil
	})
	connects := func(name string) *core.CertAuth {
		t.Helper()
		svc, err := openService("")
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Store().Get(name)
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := svc.Secrets(p)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range secrets {
			if strings.Contains(v, p12Pass) || strings.Contains(v, keyPass) {
				t.Errorf("keychain %s holds a password", k)
			}
		}
		secrets[profile.SecretPassword] = "pw"
		cfg, err := core.ConnectConfigFor(p, secrets)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.IPsec == nil || cfg.IPsec.Cert == nil {
			t.Fatalf("%s: no certificate authentication: %+v", name, cfg.IPsec)
		}
		return cfg.IPsec.Cert
	}
	ca := connects("office")
	if key, _ := ca.Key.(*rsa.PrivateKey); len(ca.Cert) != 2 || ca.Cert[0].Subject.CommonName != "alice" || len(ca.CA) != 1 || key == nil || !key.Equal(cliKeys[1]) {
		t.Errorf("office: %+v", ca)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"profile", "edit", "office", "--p12", f.p12, "--p12-password-file", wrong}, "--p12 " + f.p12 + ": the password does not open it"},
		{[]string{"profile", "edit", "office", "--p12", f.ecP12, "--p12-password-file", f.p12Pass}, "only RSA keys"},
		{[]string{"profile", "edit", "office", "--p12", f.p12}, "--p12 and --p12-password-file go together"},
		{[]string{"profile", "edit", "office", "--p12", f.p12, "--p12-password-file", f.p12Pass, "--key", f.key}, "--p12 holds the certificate and its key"},
		{[]string{"profile", "edit", "office", "--key-password-file", f.keyPass}, "--key-password-file goes with --key"},
		{[]string{"profile", "edit", "office", "--key", f.encKey}, "--key-password-file FILE"},
		{[]string{"profile", "edit", "office", "--key", f.encKey, "--key-password-file", wrong}, "the password does not open it"},
		{[]string{"profile", "edit", "office", "--p12", f.p12, "--p12-password-file", "-", "--psk-file", "-"}, "only one secret can come from standard input"},
	} {
		code, _, errs := run(t, "a\nb\n", c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q, want %q", c.args, code, errs, c.want)
		}
		f.noSecret(t, strings.Join(c.args, " "), errs)
	}
	if ca := connects("office"); len(ca.Cert) != 2 {
		t.Errorf("a refused edit changed the profile: %d certificates", len(ca.Cert))
	}

	// A PEM certificate with an encrypted key: the keychain gets the key
	// decrypted (the passphrase is not needed again to connect).
	if code, _, errs := run(t, "", "profile", "add", "home", "--server", "h.example.com", "--user", "a", "--ask-password",
		"--cert", f.cert, "--key", f.encKey, "--key-password-file", f.keyPass); code != ExitOK {
		t.Fatalf("add home: exit %d: %s", code, errs)
	}
	stored, err := keyring.Get(profile.KeyringService, "home/"+string(profile.SecretCertKey))
	if err != nil || profile.KeyEncrypted([]byte(stored)) {
		t.Fatalf("home key in the keychain: %v, encrypted %v", err, profile.KeyEncrypted([]byte(stored)))
	}
	if key, _ := connects("home").Key.(*rsa.PrivateKey); key == nil || !key.Equal(cliKeys[1]) {
		t.Error("home: not the certificate's key")
	}
	// A legacy PKCS#12 file replaces the certificate of an existing profile.
	if code, _, errs := run(t, "", "profile", "edit", "home", "--p12", f.p12Legacy, "--p12-password-file", f.p12Pass); code != ExitOK {
		t.Fatalf("edit home --p12: exit %d: %s", code, errs)
	}
	if ca := connects("home"); len(ca.Cert) != 2 {
		t.Errorf("home after --p12: %d certificates", len(ca.Cert))
	}
	code, help, _ := run(t, "", "profile", "add", "--help")
	for _, want := range []string{"-p12 FILE", "-p12-password-file FILE", "-key-password-file FILE"} {
		if !strings.Contains(help, want) {
			t.Errorf("profile help lacks %q (exit %d)", want, code)
		}
	}
}
