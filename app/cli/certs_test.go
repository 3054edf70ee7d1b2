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
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/zalando/go-keyring"
)

var (
	cliKeysOnce sync.Once
	cliKeys     [2]*rsa.PrivateKey
)

// certFiles writes a CA, a client certificate and its key (and a second
// key) as PEM files in a temporary directory.
type certFiles struct {
	dir, ca, cert, key, otherKey string
	keyDER                       []byte
}

func writeCertFiles(t *testing.T) certFiles {
	t.Helper()
	cliKeysOnce.Do(func() {
		for i := range cliKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			cliKeys[i] = k
		}
	})
	caKey, userKey := cliKeys[0], cliKeys[1]
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	userT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	userDER, err := x509.CreateCertificate(rand.Reader, userT, ca, &userKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f := certFiles{dir: t.TempDir()}
	f.ca, f.cert, f.key, f.otherKey = filepath.Join(f.dir, "ca.pem"), filepath.Join(f.dir, "cert.pem"), filepath.Join(f.dir, "key.pem"), filepath.Join(f.dir, "other.pem")
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	os.WriteFile(f.ca, pemOf("CERTIFICATE", caDER), 0o644)
	// The client certificate followed by its chain.
	os.WriteFile(f.cert, append(pemOf("CERTIFICATE", userDER), pemOf("CERTIFICATE", caDER)...), 0o644)
	f.keyDER, _ = x509.MarshalPKCS8PrivateKey(userKey)
	os.WriteFile(f.key, pemOf("PRIVATE KEY", f.keyDER), 0o600)
	os.WriteFile(f.otherKey, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(caKey)), 0o600)
	return f
}

// corridor connect --cert --key [--ca] [--server-id] turns into
// certificate authentication for IKE; the flags are refused where they
// make no sense, and no key material reaches the output.
func TestConnectCertFlags(t *testing.T) {
	cf := writeCertFiles(t)
	pw := filepath.Join(cf.dir, "pw")
	psk := filepath.Join(cf.dir, "psk")
	os.WriteFile(pw, []byte("pw-Xy9q\n"), 0o600)
	os.WriteFile(psk, []byte("psk-Zr4w\n"), 0o600)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	ecFile := filepath.Join(cf.dir, "ec.pem")
	os.WriteFile(ecFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), 0o600)
	encFile := filepath.Join(cf.dir, "enc.pem")
	os.WriteFile(encFile, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")}), 0o600)

	base := []string{"connect", "--user", "a", "--password-file", pw}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cert", cf.cert, "x"}, "--cert and --key go together"},
		{[]string{"--key", cf.key, "x"}, "--cert and --key go together"},
		{[]string{"--cert", cf.cert, "--key", cf.key, "--psk-file", psk, "x"}, "--cert and --psk-file exclude each other"},
		{[]string{"--psk-file", psk, "--ca", cf.ca, "x"}, "--ca and --server-id go with --cert"},
		{[]string{"--psk-file", psk, "--server-id", "CN=x", "x"}, "--ca and --server-id go with --cert"},
		{[]string{"--no-ipsec", "--cert", cf.cert, "--key", cf.key, "x"}, "need IPsec"},
		{[]string{"--cert", cf.cert, "--key", cf.key, "--aggressive", "--group", "g", "x"}, "Main Mode only"},
		{[]string{"--cert", cf.cert + ".nope", "--key", cf.key, "x"}, "--cert " + cf.cert + ".nope"},
		{[]string{"--cert", cf.key, "--key", cf.key, "x"}, "no PEM certificate"},
		{[]string{"--cert", cf.cert, "--key", cf.otherKey, "x"}, "is not the key of the first certificate"},
		{[]string{"--cert", cf.cert, "--key", cf.cert, "x"}, "no PEM private key"},
		{[]string{"--cert", cf.cert, "--key", ecFile, "x"}, "only RSA keys"},
		{[]string{"--cert", cf.cert, "--key", encFile, "x"}, "encrypted with a passphrase"},
		{[]string{"--cert", cf.cert, "--key", cf.key, "--ca", cf.key, "x"}, "--ca " + cf.key + ": no PEM certificate"},
	} {
		code, _, stderr := run(t, "", append(base, c.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
		keyB64 := base64.StdEncoding.EncodeToString(cf.keyDER)
		if strings.Contains(stderr, keyB64[40:80]) || strings.Contains(stderr, "pw-Xy9q") || strings.Contains(stderr, "psk-Zr4w") {
			t.Errorf("%v: stderr shows a secret", c.args)
		}
	}

	// The flags as IKE gets them.
	fs, f := newConnectFlags(io.Discard)
	if err := fs.Parse([]string{"--cert", cf.cert, "--key", cf.key, "--ca", cf.ca, "--server-id", "CN=vpn", "--user", "alice"}); err != nil {
		t.Fatal(err)
	}
	ca, err := loadCertAuth(f, nil, func(w string) { t.Errorf("warning %q", w) })
	if err != nil {
		t.Fatal(err)
	}
	f.certAuth = ca
	cfg, err := f.config("vpn.example.com", map[profile.SecretKind]string{profile.SecretPassword: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ic := cfg.IPsec
	if ic == nil || ic.PSK != nil || ic.Cert != ca || len(ca.Cert) != 2 || ca.Cert[0].Subject.CommonName != "alice" ||
		len(ca.CA) != 1 || ca.CA[0].Subject.CommonName != "Test CA" || ca.ServerID != "CN=vpn" || ca.Key == nil {
		t.Errorf("IPsec config %+v, cert auth %+v", ic, ca)
	}

	code, help, _ := run(t, "", "connect", "--help")
	for _, want := range []string{"-cert FILE", "-key FILE", "-ca FILE", "-server-id ID"} {
		if code != ExitOK || !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// A private key file others can read gets advice to chmod it.
func TestCertKeyFileModeAdvice(t *testing.T) {
	cf := writeCertFiles(t)
	var warned []string
	warn := func(w string) { warned = append(warned, w) }
	if _, err := readPEMKey(cf.key, nil, warn); err != nil || len(warned) != 0 {
		t.Fatalf("0600 key: %v, warnings %q", err, warned)
	}
	if err := os.Chmod(cf.key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPEMKey(cf.key, nil, warn); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "chmod 600") || !strings.Contains(warned[0], cf.key) {
		t.Errorf("warnings %q", warned)
	}
}

// corridor profile add/edit --cert --key --ca --server-id keeps the
// certificates in the profile and the key in the keychain; the profile
// then connects with the certificate instead of a pre-shared key.
func TestProfileCertFlags(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	cf := writeCertFiles(t)
	code, _, errs := run(t, "", "profile", "add", "office", "--server", "vpn.example.com", "--user", "alice", "--ask-password",
		"--cert", cf.cert, "--key", cf.key, "--ca", cf.ca, "--server-id", "CN=vpn")
	if code != ExitOK {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	_, out, _ := run(t, "", "profile", "show", "office")
	keyB64 := base64.StdEncoding.EncodeToString(cf.keyDER)
	if !strings.Contains(out, "BEGIN CERTIFICATE") || !strings.Contains(out, `server_id = "CN=vpn"`) || strings.Contains(out, keyB64[40:80]) || strings.Contains(out, "PRIVATE KEY-") {
		t.Errorf("show:\n%s", out)
	}
	key, err := keyring.Get(profile.KeyringService, "office/"+string(profile.SecretCertKey))
	if err != nil || !strings.Contains(key, "PRIVATE KEY") {
		t.Fatalf("keychain: %v", err)
	}
	svc, err := openService("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Store().Get("office")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := svc.Secrets(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := secrets[profile.SecretPSK]; ok || secrets[profile.SecretCertKey] == "" {
		t.Errorf("secrets read for a certificate profile: %v kinds", len(secrets))
	}
	secrets[profile.SecretPassword] = "pw"
	cfg, err := core.ConnectConfigFor(p, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if ic := cfg.IPsec; ic == nil || ic.PSK != nil || ic.Cert == nil || len(ic.Cert.Cert) != 2 || len(ic.Cert.CA) != 1 || ic.Cert.ServerID != "CN=vpn" || ic.Cert.Key == nil {
		t.Errorf("IPsec config %+v", cfg.IPsec)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"profile", "add", "home", "--server", "h", "--user", "a", "--ask-password", "--cert", cf.cert}, "--cert needs --key"},
		{[]string{"profile", "edit", "office", "--key", cf.otherKey}, "not the key of the profile's certificate"},
		{[]string{"profile", "edit", "office", "--aggressive", "--group", "g"}, "Main Mode only"},
		{[]string{"profile", "edit", "office", "--no-ipsec"}, "turn IPsec on"},
	} {
		code, _, errs := run(t, "", c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q, want %q", c.args, code, errs, c.want)
		}
	}
	// Back to a pre-shared key (edit does not insist on one being
	// stored, as for other profiles: connect does).
	if code, _, errs := run(t, "", "profile", "edit", "office", "--cert", "none"); code != ExitOK {
		t.Errorf("--cert none: exit %d, %q", code, errs)
	}
	if _, out, _ := run(t, "", "profile", "show", "office"); !strings.Contains(out, `cert = ""`) || !strings.Contains(out, `ca = ""`) {
		t.Errorf("show after --cert none:\n%s", out)
	}
	if _, err := keyring.Get(profile.KeyringService, "office/"+string(profile.SecretCertKey)); err == nil {
		t.Error("the certificate's key is still in the keychain after --cert none")
	}
}
