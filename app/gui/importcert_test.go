package gui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// serviceHarness is a harness whose UI works on a real core.Service (a
// store in a temporary folder, the keychain mocked in memory).
func serviceHarness(t *testing.T) (*harness, *core.Service) {
	t.Helper()
	keyring.MockInit()
	st, err := profile.OpenStore(filepath.Join(t.TempDir(), "corridor"), profile.NewKeyring())
	if err != nil {
		t.Fatal(err)
	}
	svc := core.NewService(st, &upEngine{})
	return newHarnessOn(t, guitest.New(), svc), svc
}

// logText is the UI's log, one line per entry.
func logText(u *UI) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var b strings.Builder
	for _, l := range u.logs {
		b.WriteString(l.Level + " " + l.Profile + " " + l.Text + "\n")
	}
	return b.String()
}

// An Apple profile whose PKCS#12 payload has no password: the import
// asks for it in a password dialog before saving anything; a wrong
// password says so and asks again; the right one imports the profile with
// its certificate, the key in the keychain, the password nowhere.
func TestImportAsksCertificatePassword(t *testing.T) {
	h, svc := serviceHarness(t)
	u := h.u
	data, err := os.ReadFile(filepath.Join("..", "..", "core", "profile", "testdata", "apple", "l2tp-cert-nopass.mobileconfig"))
	if err != nil {
		t.Fatal(err)
	}
	u.importData("office.mobileconfig", data)
	h.settle()
	f := u.importAsk
	if f == nil || h.w.Canvas().Overlays().Top() == nil {
		t.Fatal("no password dialog")
	}
	if !f.entry.Password || !strings.Contains(f.text, `The certificate payload "laptop-42" in office.mobileconfig is protected by a password`) {
		t.Errorf("dialog: password entry %v, text %q", f.entry.Password, f.text)
	}
	if ps, _ := svc.Profiles(); len(ps) != 0 {
		t.Fatalf("%d profiles saved before the password was typed", len(ps))
	}
	f.dlg.Submit() // nothing typed: the Import button is off
	h.settle()
	if u.importAsk != f {
		t.Fatal("an empty password was submitted")
	}

	test.Type(f.entry, "typed-wrong-pw")
	f.dlg.Submit()
	h.settle()
	g := u.importAsk
	if g == nil || g == f || !strings.Contains(g.text, `That password does not open the certificate payload "laptop-42"`) {
		t.Fatalf("wrong password: dialog %v", g)
	}
	if f.entry.Text != "" {
		t.Error("the typed password stayed in the entry")
	}
	if ps, _ := svc.Profiles(); len(ps) != 0 {
		t.Fatalf("%d profiles saved with a wrong password", len(ps))
	}

	test.Type(g.entry, "testdata-p12")
	g.dlg.Submit()
	h.settle()
	if u.importAsk != nil {
		t.Fatal("the dialog came back after the right password")
	}
	p, err := svc.Profile("Example Certificate VPN")
	if err != nil || !p.UsesCert() || p.ServerID != "vpn.example.org" {
		t.Fatalf("imported profile: %v, certificate %v", err, p.UsesCert())
	}
	if k, err := svc.Secret(p.Name, profile.SecretCertKey); err != nil || !strings.Contains(k, "PRIVATE KEY") {
		t.Errorf("no key in the keychain: %v", err)
	}
	if u.selected != p.Name || strings.Contains(u.importNote, "Please note") {
		t.Errorf("selected %q, note %q", u.selected, u.importNote)
	}
	logs := logText(u)
	if strings.Contains(logs, "testdata-p12") || strings.Contains(logs, "typed-wrong-pw") || strings.Contains(logs, "PRIVATE KEY") {
		t.Errorf("a secret in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "imported from office.mobileconfig") {
		t.Errorf("log:\n%s", logs)
	}
}

// Skip imports the profile without the certificate; the "Imported"
// dialog and the log say so and how to add it in the editor.
func TestImportSkipCertificate(t *testing.T) {
	h, svc := serviceHarness(t)
	u := h.u
	data, err := os.ReadFile(filepath.Join("..", "..", "core", "profile", "testdata", "apple", "l2tp-cert-nopass.mobileconfig"))
	if err != nil {
		t.Fatal(err)
	}
	u.importData("office.mobileconfig", data)
	h.settle()
	f := u.importAsk
	if f == nil {
		t.Fatal("no password dialog")
	}
	f.dlg.Hide() // "Skip certificate"
	h.settle()
	if u.importAsk != nil {
		t.Fatal("asked again after Skip")
	}
	p, err := svc.Profile("Example Certificate VPN")
	if err != nil || p.UsesCert() {
		t.Fatalf("skipped: %v, certificate %v", err, p.UsesCert())
	}
	if _, err := svc.Secret(p.Name, profile.SecretCertKey); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("a key in the keychain: %v", err)
	}
	want := `the certificate payload "laptop-42" was not imported (it needs its password, which was not given): the profile has no certificate until you add it: Edit, Certificate`
	if !strings.Contains(u.importNote, "Please note") || !strings.Contains(u.importNote, want) {
		t.Errorf("Imported dialog says %q", u.importNote)
	}
	if logs := logText(u); !strings.Contains(logs, "WARN Example Certificate VPN import: "+want) {
		t.Errorf("log:\n%s", logs)
	}
}

// Back from the certificate to the pre-shared key in the editor: the
// certificate's private key leaves the keychain.
func TestEditorCertToPSKDeletesKey(t *testing.T) {
	h, svc := serviceHarness(t)
	cert, err := os.ReadFile(certTestdata(t, "client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(certTestdata(t, "client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	p := testProfile("office")
	p.Cert = string(cert)
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretCertKey: string(key)}); err != nil {
		t.Fatal(err)
	}
	h.u.loadProfiles()
	h.settle()
	e := h.edit("office")
	if e.cert.kind.Selected != certChoices[1] {
		t.Fatalf("a certificate profile opens as %q", e.cert.kind.Selected)
	}
	e.cert.kind.SetSelected(certChoices[0])
	test.Type(e.psk, "new-psk")
	if e.save.Disabled() {
		t.Fatalf("cannot save: %v", visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	got, err := svc.Profile("office")
	if err != nil || got.UsesCert() {
		t.Fatalf("saved: %v, certificate %v", err, got.UsesCert())
	}
	if _, err := svc.Secret("office", profile.SecretCertKey); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("the certificate's key is still in the keychain (%v)", err)
	}
	if psk, _ := svc.Secret("office", profile.SecretPSK); psk != "new-psk" {
		t.Errorf("psk %q", psk)
	}
}
