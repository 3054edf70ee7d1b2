package gui

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

const (
	secretPassword = "Tr0ub4dor&3-horse"
	secretPSK      = "psk-9f8e7d6c5b4a"
	secretL2TP     = "tunnelS3cret"
)

func diagBackend() *guitest.Backend {
	b := guitest.New()
	p := testProfile("office")
	p.L2TPSecret = true
	b.AddProfile(p, map[profile.SecretKind]string{
		profile.SecretPassword: secretPassword, profile.SecretPSK: secretPSK, profile.SecretL2TP: secretL2TP})
	b.AddProfile(testProfile("home"), map[profile.SecretKind]string{profile.SecretPassword: "home-pw-1234"})
	b.SetStatuses(core.Status{Profile: "office", State: core.StateConnected, Address: "192.168.30.10",
		IKE: "AES-CBC-256/HMAC-SHA2-256/MODP2048"})
	return b
}

func feedSecretLogs(h *harness) {
	st := core.Status{Profile: "office", State: core.StateConnected}
	for _, line := range []string{
		"ppp: PAP request user=alice password=" + secretPassword,
		"ike: using psk " + secretPSK + " for 10.0.0.1",
		"l2tp: challenge with secret " + secretL2TP,
		`config {"password": "hunter2-unrelated", "psk":"other-psk"}`,
		"auth failed; password: typed-at-prompt",
		"l2tp_secret = true",
	} {
		h.send(core.Event{Kind: core.EventLog, Level: "DEBUG", Line: line, Status: st})
	}
}

func checkRedacted(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{secretPassword, secretPSK, secretL2TP, "home-pw-1234", "hunter2-unrelated", "other-psk", "typed-at-prompt"} {
		if strings.Contains(text, s) {
			t.Errorf("diagnostics hold the secret %q", s)
		}
	}
	for _, want := range []string{"office: connected", "192.168.30.10", "MODP2048", "[REDACTED]", "l2tp_secret = true", "server = \"vpn.example.com\""} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q", want)
		}
	}
}

func TestSaveDiagnosticsRedactsSecrets(t *testing.T) {
	h := newHarness(t, diagBackend())
	h.start()
	feedSecretLogs(h)
	dir := t.TempDir()

	txt := filepath.Join(dir, "diag.txt")
	if err := h.u.SaveDiagnostics(txt); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(txt)
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, string(data))
	if !strings.Contains(string(data), "OS: ") || !strings.Contains(string(data), "App: ") {
		t.Error("no app or OS line")
	}
	if fi, _ := os.Stat(txt); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}

	zp := filepath.Join(dir, "diag.zip")
	if err := h.u.SaveDiagnostics(zp); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zp)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var all strings.Builder
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		all.Write(b)
	}
	if len(names) != 4 {
		t.Errorf("zip files %v", names)
	}
	checkRedacted(t, all.String())
}

func TestCopyLogRedacts(t *testing.T) {
	h := newHarness(t, diagBackend())
	h.start()
	feedSecretLogs(h)
	test.Tap(h.u.logv.copyBtn)
	h.settle()
	got := h.a.Clipboard().Content()
	if !strings.Contains(got, "PAP request user=alice") {
		t.Fatalf("clipboard:\n%s", got)
	}
	for _, s := range []string{secretPassword, secretPSK, secretL2TP} {
		if strings.Contains(got, s) {
			t.Errorf("clipboard holds %q", s)
		}
	}
}

func TestRedactorShortSecretsAndProse(t *testing.T) {
	r := newRedactor([]string{"ab1", "longer-secret"})
	got := r.apply("tab1 ab1 x longer-secret; the password is wrong; psk: zz")
	want := "tab1 [REDACTED] x [REDACTED]; the password is wrong; psk: [REDACTED]"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
