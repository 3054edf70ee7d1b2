package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// The Aggressive Mode check box shows its warning and enables the group
// name while on; a group name is then required; the profile saves with
// it and its type; IPsec off disables it all.
func TestEditorAggressiveMode(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	if e.aggressive.Checked || e.aggressiveWarn.Visible() || !e.group.Disabled() || !e.groupType.Disabled() {
		t.Fatal("a Main Mode profile: Aggressive Mode on, its warning shown or the group name enabled")
	}
	if e.aggressive.Text != "Aggressive Mode (less secure)" {
		t.Errorf("check box %q", e.aggressive.Text)
	}
	e.aggressive.SetChecked(true)
	if !e.aggressiveWarn.Visible() || e.group.Disabled() || e.groupType.Disabled() {
		t.Fatal("Aggressive Mode on: no warning, or the group name disabled")
	}
	if !strings.Contains(e.aggressiveWarn.Text, "hash of the pre-shared key") {
		t.Errorf("warning %q", e.aggressiveWarn.Text)
	}
	if m := shown(e, "group"); !strings.Contains(m, "group name") || !e.save.Disabled() {
		t.Errorf("no group name: message %q, save disabled %v", m, e.save.Disabled())
	}
	if !e.advanced.Items[0].Open {
		t.Error("the Advanced section stays closed over the group name's problem")
	}
	test.Type(e.group, "vpn-users ")
	e.groupType.SetSelected(groupTypeChoices[1])
	if m := shown(e, "group"); m != "" || e.save.Disabled() {
		t.Fatalf("group name typed: message %q, save disabled %v: %v", m, e.save.Disabled(), visibleMessages(e))
	}

	e.ipsec.SetChecked(false)
	if !e.aggressive.Disabled() || e.aggressiveWarn.Visible() || !e.group.Disabled() {
		t.Error("IPsec off: Aggressive Mode still enabled or its warning shown")
	}
	if p, msgs := e.problems(); p.Aggressive || len(msgs) != 0 {
		t.Errorf("IPsec off: Aggressive %v, messages %v", p.Aggressive, msgs)
	}
	e.ipsec.SetChecked(true)

	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("SaveProfile calls: %d", len(saves))
	}
	if p := saves[0].Profile; !p.Aggressive || p.Group != "vpn-users" || p.GroupType != profile.GroupKeyID {
		t.Errorf("saved %+v", p)
	}

	// Opened again: the settings are back, the warning shows.
	e = h.edit("office")
	if !e.aggressive.Checked || !e.aggressiveWarn.Visible() || e.group.Text != "vpn-users" || e.groupType.Selected != groupTypeChoices[1] {
		t.Errorf("reopened: aggressive %v warning %v group %q type %q", e.aggressive.Checked, e.aggressiveWarn.Visible(),
			e.group.Text, e.groupType.Selected)
	}
}

// The profile's summary names Aggressive Mode and its group.
func TestIdleViewAggressive(t *testing.T) {
	test.NewTempApp(t)
	v := newIdleView()
	p := testProfile("office")
	v.update(p, core.Status{})
	if got := v.values["Encryption"].Text; strings.Contains(got, "Aggressive") {
		t.Errorf("Main Mode profile: %q", got)
	}
	p.Aggressive, p.Group = true, "vpn-users"
	v.update(p, core.Status{})
	if got := v.values["Encryption"].Text; !strings.Contains(got, `Aggressive Mode as group "vpn-users" (less secure)`) {
		t.Errorf("Aggressive Mode profile: %q", got)
	}
}
