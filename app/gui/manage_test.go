package gui

import (
	"fmt"
	"testing"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

func TestImportSelectsProfileAndKeepsOpenEditor(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	data := profile.ExportProfile(testProfile("branch"))

	u.importData("branch.toml", data)
	h.settle()
	if !h.b.Called("import branch.toml") {
		t.Fatalf("Import not called: %v", h.b.Calls())
	}
	if u.selected != "branch" || len(u.listRows) != 2 {
		t.Fatalf("after import: selected %q, %d rows", u.selected, len(u.listRows))
	}

	// An import that lands while the editor is open leaves it open, even
	// though the list's rows move.
	u.editExisting("office")
	<-u.editing.loaded
	h.settle()
	u.importData("aaa.toml", profile.ExportProfile(testProfile("aaa")))
	h.settle()
	if u.editing == nil {
		t.Error("the import closed the open editor")
	}
}

func TestDeleteProfile(t *testing.T) {
	h := newHarness(t, newBackendWith("office", "home"))
	h.start()
	u := h.u
	h.state(core.Status{Profile: "office", State: core.StateConnected})
	u.selectProfile("office")
	u.deleteProfile("office")
	h.settle()
	if !h.b.Called("disconnect office") || !h.b.Called("remove office") {
		t.Errorf("calls %v", h.b.Calls())
	}
	if u.hasProfile("office") || u.selected != "home" {
		t.Errorf("after delete: selected %q", u.selected)
	}
	if u.TrayState() != TrayDisconnected {
		t.Errorf("tray %v after deleting the connected profile", u.TrayState())
	}
}

func TestLogIsBounded(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	for i := 0; i < maxLogLines+10; i++ {
		u.logf("INFO", "office", "line %d", i)
	}
	logs := u.logCopy()
	if len(logs) > maxLogLines || len(logs) < maxLogLines*8/10 {
		t.Errorf("%d lines kept", len(logs))
	}
	if want := fmt.Sprintf("line %d", maxLogLines+9); logs[len(logs)-1].Text != want {
		t.Errorf("last line %q", logs[len(logs)-1].Text)
	}
	if got := len(u.logv.grid.Rows); got != len(logs) {
		t.Errorf("log view shows %d rows of %d", got, len(logs))
	}
}
