package gui

import (
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core/profile"
)

func TestWelcomeWithoutDemo(t *testing.T) {
	h := newHarness(t, guitest.New())
	u := h.u
	u.getenv = func(string) string { return "" }
	u.refreshAll()
	if len(u.right.Objects) != 1 || u.right.Objects[0] != u.welcome.content {
		t.Fatal("no welcome for an empty profile list")
	}
	if u.welcome.demoBtn.Visible() {
		t.Error("demo offered without CORRIDOR_DEMO_SERVER")
	}
	if !u.welcome.addBtn.Visible() {
		t.Error("no Add profile call to action")
	}
	test.Tap(u.welcome.addBtn)
	if u.editing == nil {
		t.Error("Add profile did not open the editor")
	}
}

func TestWelcomeAddsLocalDemo(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	psk := filepath.Join(dir, "psk")
	if err := os.WriteFile(pw, []byte("demo-password-77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(psk, []byte("demo-psk-88\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvDemoServer: "10.99.0.1", EnvDemoUser: "alice",
		EnvDemoPasswordFile: pw, EnvDemoPSKFile: psk}
	h := newHarness(t, guitest.New())
	u := h.u
	u.getenv = func(k string) string { return env[k] }
	u.refreshAll()
	if !u.welcome.demoBtn.Visible() || u.welcome.demoBtn.Text != "Add the Local demo profile" {
		t.Fatal("no Local demo offer with CORRIDOR_DEMO_SERVER set")
	}
	test.Tap(u.welcome.demoBtn)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("saves %+v", saves)
	}
	s := saves[0]
	if s.Profile.Name != DemoProfileName || s.Profile.Server != "10.99.0.1" || s.Profile.User != "alice" || !s.Profile.IPsec {
		t.Errorf("demo profile %+v", s.Profile)
	}
	if s.Secrets[profile.SecretPassword] != "demo-password-77" || s.Secrets[profile.SecretPSK] != "demo-psk-88" {
		t.Errorf("demo secrets %v", keys(s.Secrets))
	}
	if u.selected != DemoProfileName || u.right.Objects[0] != u.detail.content {
		t.Errorf("after adding: selected %q", u.selected)
	}
}
