package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCharonCertificatesP12: the client's certificate and key as files
// that OpenSSL 3 makes by default, each opened with a password read once
// from a file: a PKCS#12 file (openssl pkcs12 -export: AES-256-CBC with
// PBKDF2, RFC 7292 with RFC 8018 PBES2) through corridor connect --p12
// --p12-password-file, and an encrypted PKCS#8 key (openssl pkcs8 -topk8
// -v2 aes256) through --key --key-password-file. Against charon
// authenticating with RSA signatures, Main Mode and Quick Mode complete;
// the passwords and the key appear nowhere in corridor's output.
func TestCharonCertificatesP12(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs strongSwan's charon")
	}
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("needs the openssl command to make the PKCS#12 file and the encrypted key as users get them")
	}
	p := makeCertPKI(t)
	r := startCharonCerts(t, p)
	dir := t.TempDir()
	w := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	const p12Pass, keyPass = "p12-E2e-Vb4", "key-E2e-Hn8"
	cert, key, ca := w("client.pem", p.clientPEM), w("client.key", p.clientKeyPEM), w("ca.pem", p.caPEM)
	p12PassFile, keyPassFile, pw := w("p12pass", []byte(p12Pass+"\n")), w("keypass", []byte(keyPass+"\n")), w("password", []byte("pw-unused-3\n"))
	p12, encKey := filepath.Join(dir, "client.p12"), filepath.Join(dir, "client-enc.key")
	for _, args := range [][]string{
		{"pkcs12", "-export", "-in", cert, "-inkey", key, "-certfile", ca, "-passout", "file:" + p12PassFile, "-out", p12},
		{"pkcs8", "-topk8", "-v2", "aes256", "-in", key, "-passout", "file:" + keyPassFile, "-out", encKey},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v: %s", args, err, out)
		}
	}
	keyB64 := base64.StdEncoding.EncodeToString(p.clientKeyDER)

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"p12", []string{"--p12", p12, "--p12-password-file", p12PassFile}},
		{"encrypted key", []string{"--cert", cert, "--key", encKey, "--key-password-file", keyPassFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"netns", "exec", r.cns, corridorBin, "connect", "-v", "--user", "alice",
				"--password-file", pw, "--ca", ca, "--ifname", "cmctun0"}, tc.extra...)
			before := len(r.log())
			c := startCmd(t, exec.CommandContext(context.Background(), "ip", append(args, certServer)...))
			p1 := c.waitLine("ike: main mode established", 15*time.Second)
			p2 := c.waitLine("ipsec: sa established", 15*time.Second)
			t.Logf("%v after start: %s; %s", time.Since(c.start).Round(time.Millisecond), p1, p2)
			c.cmd.Process.Signal(syscall.SIGTERM)
			c.exit(15 * time.Second)
			// charon checked our signature with the key the file held.
			auth := regexp.MustCompile(`authentication of '` + regexp.QuoteMeta(dnSwan(p.clientSubj)) + `' with RSA_EMSA_PKCS1_NULL successful`)
			var log string
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if log = r.log()[before:]; auth.MatchString(log) {
					break
				}
			}
			if !auth.MatchString(log) {
				t.Errorf("charon's log lacks %v", auth)
			}
			out := c.stderr() + c.stdout()
			if !strings.Contains(c.stderr(), "server certificate verified") {
				t.Errorf("corridor's trace does not show the server's certificate verified")
			}
			for _, secret := range []string{p12Pass, keyPass, keyB64[40:80]} {
				if strings.Contains(out, secret) {
					t.Errorf("corridor's output shows a secret")
				}
			}
		})
	}
}
