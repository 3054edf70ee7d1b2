package gui

import (
	"encoding/json"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core/profile"
)

// shown returns the message next to a field, "" when none is visible.
func shown(e *editor, field string) string {
	l := e.errs[field]
	if l == nil || !l.Visible() {
		return ""
	}
	return l.Text
}

func TestEditorValidationAsYouType(t *testing.T) {
	h := newHarness(t, newBackendWith("home"))
	u := h.u
	u.editNew()
	e := u.editing
	if e == nil {
		t.Fatal("no editor open")
	}
	if !e.save.Disabled() {
		t.Error("Save is enabled on an empty form")
	}
	if m := shown(e, "server"); m != "" {
		t.Errorf("untouched server shows %q", m)
	}

	test.Type(e.name, "office")
	test.Type(e.server, "https://vpn.example.com")
	if m := shown(e, "server"); !strings.Contains(m, "without a scheme") {
		t.Errorf("server message = %q, want the scheme message", m)
	}
	if !e.save.Disabled() {
		t.Error("Save enabled with a bad server")
	}
	e.server.SetText("")
	test.Type(e.server, "vpn.example.com")
	if m := shown(e, "server"); m != "" {
		t.Errorf("good server still shows %q", m)
	}
	test.Type(e.user, "alice")
	test.Type(e.password, "s3cret-Passw0rd")
	test.Type(e.psk, "shared-PSK-value")
	if e.save.Disabled() {
		t.Fatalf("Save disabled for a valid profile; messages: %v", visibleMessages(e))
	}

	// A bad MTU.
	test.Type(e.mtu, "9000")
	if m := shown(e, "mtu"); !strings.Contains(m, "576") {
		t.Errorf("mtu message = %q", m)
	}
	if !e.save.Disabled() {
		t.Error("Save enabled with MTU 9000")
	}
	if !e.advanced.Items[0].Open {
		t.Error("the Advanced section stays closed over a problem in it")
	}
	e.mtu.SetText("")
	test.Type(e.mtu, "abc")
	if m := shown(e, "mtu"); !strings.Contains(m, "number") {
		t.Errorf("mtu message for letters = %q", m)
	}
	e.mtu.SetText("1400")
	if m := shown(e, "mtu"); m != "" || e.save.Disabled() {
		t.Errorf("MTU 1400: message %q, save disabled %v", m, e.save.Disabled())
	}

	// Split tunnel: a route with host bits, then fixed.
	e.tunnel.SetSelected(tunnelChoices[1])
	if m := shown(e, "routes"); !strings.Contains(m, "at least one route") {
		t.Errorf("split tunnel without routes: message %q", m)
	}
	test.Type(e.routes, "10.1.2.3/8")
	if m := shown(e, "routes"); !strings.Contains(m, "host bits") {
		t.Errorf("route message = %q", m)
	}
	if !e.save.Disabled() {
		t.Error("Save enabled with a bad route")
	}
	e.routes.SetText("10.0.0.0/8\n192.168.10.0/24")
	if m := shown(e, "routes"); m != "" {
		t.Errorf("good routes still show %q", m)
	}
	if e.save.Disabled() {
		t.Fatalf("Save disabled after fixing: %v", visibleMessages(e))
	}

	// A duplicate name.
	e.name.SetText("home")
	if m := shown(e, "name"); !strings.Contains(m, "exists") {
		t.Errorf("name message = %q", m)
	}
	e.name.SetText("office")

	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("SaveProfile calls: %d", len(saves))
	}
	s := saves[0]
	if s.Profile.Name != "office" || s.Profile.Server != "vpn.example.com" || s.Profile.MTU != 1400 || s.Profile.FullTunnel ||
		strings.Join(s.Profile.Routes, ",") != "10.0.0.0/8,192.168.10.0/24" {
		t.Errorf("saved profile %+v", s.Profile)
	}
	want := map[profile.SecretKind]string{profile.SecretPassword: "s3cret-Passw0rd", profile.SecretPSK: "shared-PSK-value"}
	if len(s.Secrets) != len(want) {
		t.Errorf("secrets map %v, want %v", keys(s.Secrets), want)
	}
	for k, v := range want {
		if s.Secrets[k] != v {
			t.Errorf("secret %s = %q, want %q", k, s.Secrets[k], v)
		}
	}
	js, _ := json.Marshal(s.Profile)
	for _, v := range want {
		if strings.Contains(string(js), v) {
			t.Errorf("the profile itself holds a secret: %s", js)
		}
	}
	if u.editing != nil {
		t.Error("the editor stays open after a save")
	}
	if u.selected != "office" {
		t.Errorf("selected %q after save", u.selected)
	}
}

func keys(m map[profile.SecretKind]string) []profile.SecretKind {
	var out []profile.SecretKind
	for k := range m {
		out = append(out, k)
	}
	return out
}

func visibleMessages(e *editor) map[string]string {
	out := map[string]string{}
	_, msgs := e.problems()
	for f, m := range msgs {
		out[f] = m
	}
	return out
}

func TestEditorEditExistingKeepsSecretsInKeychain(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	u.editExisting("office")
	e := u.editing
	<-e.loaded
	h.settle()
	if e.password.Text != "pw-of-office" || !e.password.Password {
		t.Errorf("password field %q (masked %v), want the stored value, masked", e.password.Text, e.password.Password)
	}
	if e.save.Disabled() {
		t.Fatalf("Save disabled on a valid stored profile: %v", visibleMessages(e))
	}
	// Legacy crypto shows its warning.
	e.legacy.SetChecked(true)
	if !e.legacyWarn.Visible() {
		t.Error("no warning for legacy crypto")
	}
	e.legacy.SetChecked(false)

	e.server.SetText("10.0.0.300")
	if m := shown(e, "server"); m == "" {
		t.Error("no message for 10.0.0.300")
	}
	e.server.SetText("10.0.0.1")
	e.name.SetText("office2")
	test.Tap(e.save)
	h.settle()
	if !h.b.Called("rename office office2") {
		t.Errorf("no rename; calls %v", h.b.Calls())
	}
	saves := h.b.Saves()
	if len(saves) != 1 || saves[0].Profile.Server != "10.0.0.1" {
		t.Fatalf("saves %+v", saves)
	}
	if len(saves[0].Secrets) != 0 {
		t.Errorf("unchanged secrets sent again: %v", keys(saves[0].Secrets))
	}
}

func TestEditorDuplicateCopiesSecrets(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	u.editDuplicate("office")
	e := u.editing
	<-e.loaded
	h.settle()
	if e.name.Text != "office (2)" {
		t.Errorf("duplicate named %q", e.name.Text)
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 || saves[0].Profile.Name != "office (2)" {
		t.Fatalf("saves %+v", saves)
	}
	if saves[0].Secrets[profile.SecretPassword] != "pw-of-office" || saves[0].Secrets[profile.SecretPSK] != "psk-of-office" {
		t.Errorf("duplicate's secrets %v", keys(saves[0].Secrets))
	}
}

func TestEditorIPsecOffDisablesPSK(t *testing.T) {
	h := newHarness(t, newBackendWith())
	u := h.u
	u.editNew()
	e := u.editing
	e.ipsec.SetChecked(false)
	if !e.psk.Disabled() || !e.ipsecWarn.Visible() {
		t.Error("IPsec off: PSK field enabled or no warning")
	}
	test.Type(e.name, "plain")
	test.Type(e.server, "10.0.0.1")
	test.Type(e.user, "bob")
	test.Type(e.password, "pw")
	if e.save.Disabled() {
		t.Fatalf("Save disabled without IPsec: %v", visibleMessages(e))
	}
}

// The warning under the IPsec toggle says that the password and the
// traffic go unencrypted; it shows while IPsec is off, at once for a
// profile saved (or imported) with IPsec off, and goes when it is on.
func TestEditorIPsecOffWarning(t *testing.T) {
	b := newBackendWith("office")
	plain := testProfile("plain")
	plain.IPsec = false
	b.AddProfile(plain, map[profile.SecretKind]string{profile.SecretPassword: "pw"})
	h := newHarness(t, b)
	u := h.u
	u.editExistingNow("plain")
	e := u.editing
	if !e.ipsecWarn.Visible() || e.ipsec.Checked {
		t.Fatal("a profile with IPsec off: no warning")
	}
	if !strings.Contains(e.ipsecWarn.Text, "password and all traffic cross the network unencrypted") {
		t.Errorf("warning %q", e.ipsecWarn.Text)
	}
	e.ipsec.SetChecked(true)
	if e.ipsecWarn.Visible() {
		t.Error("IPsec on: the warning still shows")
	}
	e.ipsec.SetChecked(false)
	if !e.ipsecWarn.Visible() {
		t.Error("IPsec off again: no warning")
	}
	u.editExistingNow("office")
	if e := u.editing; e.ipsecWarn.Visible() {
		t.Error("a profile with IPsec on shows the warning")
	}
}

// findButton returns the visible button labelled text under o.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	switch v := o.(type) {
	case *widget.Button:
		if v.Text == text && v.Visible() {
			return v
		}
	case *fyne.Container:
		for _, c := range v.Objects {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	case fyne.Widget:
		r := test.WidgetRenderer(v)
		for _, c := range r.Objects() {
			if b := findButton(c, text); b != nil {
				return b
			}
		}
	}
	return nil
}

// tapDialog taps the button labelled text in the topmost dialog.
func tapDialog(t *testing.T, u *UI, text string) {
	t.Helper()
	top := u.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatalf("no dialog open to tap %q", text)
	}
	b := findButton(top, text)
	if b == nil {
		t.Fatalf("the dialog has no %q button", text)
	}
	test.Tap(b)
}

func rowOf(u *UI, name string) widget.ListItemID {
	for i, p := range u.listRows {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// TestEditorAsksBeforeDiscardingEdits: choosing another profile in the
// list while the editor holds unsaved changes asks first; "Keep editing"
// keeps the editor and its text, "Discard" shows the other profile. An
// untouched editor is left without asking.
func TestEditorAsksBeforeDiscardingEdits(t *testing.T) {
	h := newHarness(t, newBackendWith("home", "office"))
	u := h.u
	u.selectProfile("office") // as a click in the list, then Edit
	u.editExisting("office")
	<-u.editing.loaded
	h.settle()

	// Untouched: no question.
	u.list.Select(rowOf(u, "home"))
	if u.editing != nil || u.selected != "home" {
		t.Fatalf("untouched editor: editing %v, selected %q; want the editor left for home", u.editing != nil, u.selected)
	}
	if u.win.Canvas().Overlays().Top() != nil {
		t.Error("a dialog opened for an untouched editor")
	}

	u.selectProfile("office")
	u.editExisting("office")
	<-u.editing.loaded
	h.settle()
	e := u.editing
	e.server.SetText("")
	test.Type(e.server, "vpn2.example.com")
	u.list.Select(rowOf(u, "home"))
	if u.editing != e {
		t.Fatal("the editor closed without asking")
	}
	tapDialog(t, u, "Keep editing")
	if u.editing != e || e.server.Text != "vpn2.example.com" {
		t.Fatalf("after Keep editing: editor %v, server %q", u.editing == e, e.server.Text)
	}
	if u.selected != "office" {
		t.Errorf("selection %q after Keep editing, want office", u.selected)
	}

	// Add (Ctrl+N) asks too; Discard goes on.
	u.editNew()
	if u.editing != e {
		t.Fatal("Add replaced the edited profile without asking")
	}
	tapDialog(t, u, "Discard")
	if u.editing == nil || u.editing == e || u.editing.orig != "" {
		t.Fatalf("after Discard: want a new-profile editor")
	}
	if h.b.Called("save office") {
		t.Error("the discarded edits were saved")
	}
}
