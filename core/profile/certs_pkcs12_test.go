package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/youmark/pkcs8"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

var (
	p12KeysOnce sync.Once
	p12Keys     [2]*rsa.PrivateKey
)

// p12Chain is a CA and a client certificate signed by it, made for the
// test.
type p12Chain struct {
	caKey, key *rsa.PrivateKey
	ca, leaf   *x509.Certificate
}

func makeP12Chain(t *testing.T) p12Chain {
	t.Helper()
	p12KeysOnce.Do(func() {
		for i := range p12Keys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			p12Keys[i] = k
		}
	})
	c := p12Chain{caKey: p12Keys[0], key: p12Keys[1]}
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "P12 Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caT, caT, &c.caKey.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c.ca, _ = x509.ParseCertificate(der)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "laptop-7"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err = x509.CreateCertificate(rand.Reader, leafT, c.ca, &c.key.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c.leaf, _ = x509.ParseCertificate(der)
	return c
}

// PKCS#12 files written by go-pkcs12's modern (AES-256, PBKDF2) and legacy
// (3DES, RC2) encoders, and by openssl pkcs12 -export when it is
// installed, open with their password: the key, the client's certificate
// first, then the chain. A wrong password, a file without a key, an EC key
// and files of another kind give plain words without the password.
func TestParsePKCS12(t *testing.T) {
	c := makeP12Chain(t)
	const pw = "p12-Pw-4Lq8"
	files := map[string][]byte{}
	for name, enc := range map[string]*pkcs12.Encoder{"modern": pkcs12.Modern, "legacy-3des": pkcs12.LegacyDES, "legacy-rc2": pkcs12.LegacyRC2} {
		b, err := enc.Encode(c.key, c.leaf, []*x509.Certificate{c.ca}, pw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files[name] = b
	}
	// The chain in the "wrong" order: the CA's certificate first.
	b, err := pkcs12.Modern.Encode(c.key, c.ca, []*x509.Certificate{c.leaf}, pw)
	if err != nil {
		t.Fatal(err)
	}
	files["ca-first"] = b
	if openssl, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		w := func(n string, b []byte) string {
			p := filepath.Join(dir, n)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		kp := w("key.pem", []byte(KeyPEM(c.key)))
		cp := w("cert.pem", []byte(CertsPEM([]*x509.Certificate{c.leaf})))
		chp := w("chain.pem", []byte(CertsPEM([]*x509.Certificate{c.ca})))
		pwp := w("pw", []byte(pw+"\n"))
		for name, extra := range map[string][]string{"openssl": nil, "openssl-legacy": {"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}} {
			out := filepath.Join(dir, name+".p12")
			args := append([]string{"pkcs12", "-export", "-inkey", kp, "-in", cp, "-certfile", chp, "-passout", "file:" + pwp, "-out", out}, extra...)
			if msg, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v: %s", args, err, msg)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = b
		}
	} else {
		t.Log("openssl is not installed: only go-pkcs12's files are read")
	}
	for name, b := range files {
		p, err := ParsePKCS12(b, pw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !p.Key.Equal(c.key) || len(p.Certs) != 2 || !p.Certs[0].Equal(c.leaf) || !p.Certs[1].Equal(c.ca) {
			t.Errorf("%s: key ok %v, %d certificates", name, p.Key.Equal(c.key), len(p.Certs))
		}
		// What a profile and the keychain keep reads back.
		if k, err := ParseKeyPEM([]byte(KeyPEM(p.Key))); err != nil || !k.(*rsa.PrivateKey).Equal(c.key) {
			t.Errorf("%s: KeyPEM does not read back: %v", name, err)
		}
		if cs, err := ParseCertsPEM([]byte(CertsPEM(p.Certs))); err != nil || len(cs) != 2 || !cs[0].Equal(c.leaf) {
			t.Errorf("%s: CertsPEM does not read back: %v", name, err)
		}
		_, err = ParsePKCS12(b, pw+"x")
		if !errors.Is(err, ErrWrongPassword) || strings.Contains(err.Error(), pw) {
			t.Errorf("%s with a wrong password: %v", name, err)
		}
	}

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecT := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "ec"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecDER, _ := x509.CreateCertificate(rand.Reader, ecT, c.ca, &ecKey.PublicKey, c.caKey)
	ecCert, _ := x509.ParseCertificate(ecDER)
	ecP12, err := pkcs12.Modern.Encode(ecKey, ecCert, nil, pw)
	if err != nil {
		t.Fatal(err)
	}
	noKey, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{c.leaf}, pw)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := pkcs12.Modern.Encode(c.caKey, c.leaf, nil, pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name string
		data []byte
		want string
	}{
		{"EC key", ecP12, "only RSA keys"},
		{"certificates only", noKey, "holds no private key"},
		{"key of another certificate", otherKey, "none of its certificates belongs to its private key"},
		{"PEM", []byte(CertsPEM([]*x509.Certificate{c.leaf})), "a PEM file, not a PKCS#12 file"},
		{"empty", nil, "not a PKCS#12 file"},
		{"damaged", files["modern"][:200], "not a PKCS#12 file, or a damaged one"},
		{"too large", make([]byte, maxPKCS12+1), "too large"},
	} {
		_, err := ParsePKCS12(bad.data, pw)
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: %v, want %q", bad.name, err, bad.want)
		}
	}
}

// An encrypted PKCS#8 key (PBES2: AES with PBKDF2, or scrypt; and what
// openssl pkcs8 -topk8 writes, when installed) opens with its passphrase;
// a wrong one, OpenSSL's legacy encryption and an EC key give plain
// words. ParseKeyPEM, which reads the keychain's copy, still refuses an
// encrypted key.
func TestParseEncryptedKeyPEM(t *testing.T) {
	c := makeP12Chain(t)
	const pw = "key-Pw-9Tz"
	blocks := map[string][]byte{}
	for name, opts := range map[string]*pkcs8.Opts{
		"aes256-pbkdf2": {Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 2048, HMACHash: crypto.SHA256}},
		"aes128-scrypt": {Cipher: pkcs8.AES128CBC, KDFOpts: pkcs8.ScryptOpts{SaltSize: 16, CostParameter: 1 << 10, BlockSize: 8, ParallelizationParameter: 1}},
	} {
		der, err := pkcs8.MarshalPrivateKey(c.key, []byte(pw), opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		blocks[name] = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		kp, pwp, out := filepath.Join(dir, "key.pem"), filepath.Join(dir, "pw"), filepath.Join(dir, "enc.pem")
		os.WriteFile(kp, []byte(KeyPEM(c.key)), 0o600)
		os.WriteFile(pwp, []byte(pw+"\n"), 0o600)
		if msg, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", "aes256", "-in", kp, "-passout", "file:"+pwp, "-out", out).CombinedOutput(); err != nil {
			t.Fatalf("openssl pkcs8: %v: %s", err, msg)
		}
		blocks["openssl"], _ = os.ReadFile(out)
	} else {
		t.Log("openssl is not installed: only pkcs8's encrypted keys are read")
	}
	for name, b := range blocks {
		if !KeyEncrypted(b) {
			t.Errorf("%s: KeyEncrypted false", name)
		}
		k, err := ParseEncryptedKeyPEM(b, pw)
		if err != nil || !k.Equal(c.key) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := ParseEncryptedKeyPEM(b, "wrong"); !errors.Is(err, ErrWrongPassword) {
			t.Errorf("%s with a wrong passphrase: %v", name, err)
		}
		if _, err := ParseKeyPEM(b); err == nil || !strings.Contains(err.Error(), "--key-password-file") {
			t.Errorf("%s: ParseKeyPEM: %v", name, err)
		}
	}
	plain := []byte(KeyPEM(c.key))
	if KeyEncrypted(plain) {
		t.Error("KeyEncrypted true for a clear key")
	}
	if k, err := ParseEncryptedKeyPEM(plain, ""); err != nil || !k.Equal(c.key) {
		t.Errorf("clear key: %v", err)
	}
	legacy := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("opaque")})
	if !KeyEncrypted(legacy) {
		t.Error("KeyEncrypted false for a legacy encrypted key")
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := pkcs8.MarshalPrivateKey(ecKey, []byte(pw), nil)
	for _, bad := range []struct {
		name string
		data []byte
		want string
	}{
		{"legacy", legacy, "legacy encryption"},
		{"EC", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: ecDER}), "only RSA keys"},
		{"damaged", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}), "Corridor cannot read"},
		{"no key", []byte(CertsPEM([]*x509.Certificate{c.leaf})), "no PEM private key"},
	} {
		_, err := ParseEncryptedKeyPEM(bad.data, pw)
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), pw) {
			t.Errorf("%s: %v, want %q", bad.name, err, bad.want)
		}
	}
}
