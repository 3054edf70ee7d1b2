package gui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// The editor's kill switch: offered for a full tunnel, saved when ticked;
// disabled (and not saved) for a split tunnel or in proxy mode.
func TestEditorKillSwitch(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	if e.killSwitch.Checked || e.killSwitch.Disabled() {
		t.Fatalf("a full tunnel: kill switch ticked %v, disabled %v", e.killSwitch.Checked, e.killSwitch.Disabled())
	}
	test.Tap(e.killSwitch)
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 || !saves[0].Profile.KillSwitch {
		t.Fatalf("saves %+v, want kill_switch on", saves)
	}

	e = h.edit("office")
	if !e.killSwitch.Checked {
		t.Fatal("the saved kill switch is not ticked when editing again")
	}
	e.tunnel.SetSelected(tunnelChoices[1])
	test.Type(e.routes, "10.0.0.0/8")
	if !e.killSwitch.Disabled() {
		t.Error("the kill switch is enabled for a split tunnel")
	}
	test.Tap(e.save)
	h.settle()
	if saves := h.b.Saves(); len(saves) != 2 || saves[1].Profile.KillSwitch || saves[1].Profile.FullTunnel {
		t.Errorf("split tunnel saved %+v, want kill_switch off", saves[len(saves)-1].Profile)
	}
}
