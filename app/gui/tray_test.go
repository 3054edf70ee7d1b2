package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/corridorvpn/corridor/assets"
	"github.com/corridorvpn/corridor/core"
)

func menuLabels(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		if it.IsSeparator {
			out = append(out, "---")
			continue
		}
		out = append(out, it.Label)
	}
	return out
}

func menuItem(t *testing.T, m *fyne.Menu, label string) *fyne.MenuItem {
	t.Helper()
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
	}
	t.Fatalf("no %q in %v", label, menuLabels(m))
	return nil
}

func TestTrayMenuFollowsState(t *testing.T) {
	h := newHarness(t, newBackendWith("office", "home"))
	u := h.u
	h.start()

	check := func(when string, state TrayState, icon fyne.Resource, title string) {
		t.Helper()
		if got := u.TrayState(); got != state {
			t.Errorf("%s: state %v, want %v", when, got, state)
		}
		if got := u.TrayIcon(); got != icon {
			t.Errorf("%s: icon %s, want %s", when, got.Name(), icon.Name())
		}
		if got := u.TrayTitle(); !strings.Contains(got, title) {
			t.Errorf("%s: title %q, want %q in it", when, got, title)
		}
	}

	m := u.TrayMenu()
	if got := strings.Join(menuLabels(m), "|"); got != "Connect home|Connect office|Disconnect|Show window|---|Quit" {
		t.Fatalf("menu %s", got)
	}
	if !menuItem(t, m, "Quit").IsQuit {
		t.Error("Quit is not marked IsQuit")
	}
	if !menuItem(t, m, "Disconnect").Disabled {
		t.Error("Disconnect enabled with nothing up")
	}
	check("idle", TrayDisconnected, assets.TrayDisconnected, "Corridor: disconnected")

	changes := h.trays.Load()
	h.state(core.Status{Profile: "office", State: core.StateIKEPhase1})
	if h.trays.Load() == changes {
		t.Error("OnTrayChange not called on connecting")
	}
	m = u.TrayMenu()
	if menuItem(t, m, "Disconnect").Disabled || !menuItem(t, m, "Connect office").Disabled || menuItem(t, m, "Connect home").Disabled {
		t.Errorf("connecting: Disconnect/Connect entries wrong")
	}
	check("connecting", TrayConnecting, assets.TrayConnecting, "connecting to office")

	h.state(core.Status{Profile: "office", State: core.StateConnected})
	m = u.TrayMenu()
	if menuItem(t, m, "Disconnect").Disabled || !menuItem(t, m, "Connect office").Checked {
		t.Error("connected: Disconnect disabled or office not checked")
	}
	check("connected", TrayConnected, assets.TrayConnected, "Corridor: connected to office")

	// Stats events do not churn the tray.
	changes = h.trays.Load()
	h.send(core.Event{Kind: core.EventStats, Status: core.Status{Profile: "office", State: core.StateConnected, Stats: core.Stats{RxRate: 5}}})
	if h.trays.Load() != changes {
		t.Error("OnTrayChange called for a stats event")
	}

	// The tray's actions.
	menuItem(t, m, "Connect home").Action()
	menuItem(t, m, "Disconnect").Action()
	h.settle()
	if !h.b.Called("connect home") || !h.b.Called("disconnect office") {
		t.Errorf("tray actions: calls %v", h.b.Calls())
	}

	h.state(core.Status{Profile: "home", State: core.StateFailed, Error: &core.ErrorInfo{Msg: "no answer from 10.0.0.1"}})
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	check("failed", TrayError, assets.TrayError, "home failed: no answer")
	if !menuItem(t, u.TrayMenu(), "Disconnect").Disabled {
		t.Error("Disconnect enabled after everything went down")
	}

	h.state(core.Status{Profile: "home", State: core.StateIdle})
	check("idle again", TrayDisconnected, assets.TrayDisconnected, "disconnected")

	quit := false
	u.OnQuit(func() { quit = true })
	menuItem(t, u.TrayMenu(), "Quit").Action()
	if !quit {
		t.Error("Quit did not call the OnQuit function")
	}
}

func TestTrayIconsAreDistinct(t *testing.T) {
	seen := map[string]TrayState{}
	for _, s := range []TrayState{TrayDisconnected, TrayConnecting, TrayConnected, TrayError} {
		r := trayIcon(s)
		if len(r.Content()) < 100 || !strings.HasPrefix(string(r.Content()), "\x89PNG") {
			t.Errorf("%v: icon is not a PNG", s)
		}
		if prev, dup := seen[string(r.Content())]; dup {
			t.Errorf("%v and %v share an icon", s, prev)
		}
		seen[string(r.Content())] = s
	}
}

func TestShowWindowAndCloseKeepsTray(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	h.w.Resize(fyne.NewSize(1000, 700))
	u.closeWindow()
	if got := h.a.Preferences().Float(PrefWindowWidth); got != 1000 {
		t.Errorf("saved width %v", got)
	}
	if got := h.a.Preferences().Float(PrefWindowHeight); got != 700 {
		t.Errorf("saved height %v", got)
	}
	if !hasNotification(h, "system tray") {
		t.Errorf("no note that the app stays in the tray: %v", h.notifications())
	}
	u.closeWindow()
	if n := len(h.notifications()); n != 1 {
		t.Errorf("%d notifications after two closes, want 1", n)
	}
	menuItem(t, u.TrayMenu(), "Show window").Action()
	if got := u.savedSize(); got != fyne.NewSize(1000, 700) {
		t.Errorf("restored size %v", got)
	}
}
