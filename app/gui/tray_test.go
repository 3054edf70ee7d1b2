package gui

import (
	"bytes"
	"image/png"
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

	labels := func(when, want string) *fyne.Menu {
		t.Helper()
		m := u.TrayMenu()
		if got := strings.Join(menuLabels(m), "|"); got != want {
			t.Errorf("%s: menu %s, want %s", when, got, want)
		}
		return m
	}

	// Nothing up: no Disconnect entry at all.
	m := labels("idle", "Connect home|Connect office|Show window|---|Quit")
	if !menuItem(t, m, "Quit").IsQuit {
		t.Error("Quit is not marked IsQuit")
	}
	check("idle", TrayDisconnected, assets.TrayDisconnected, "Corridor: disconnected")

	changes := h.trays.Load()
	h.state(core.Status{Profile: "office", State: core.StateIKEPhase1})
	if h.trays.Load() == changes {
		t.Error("OnTrayChange not called on connecting")
	}
	// One profile on its way: its own Disconnect, no "Disconnect all".
	m = labels("connecting", "Connect home|Connect office|Disconnect office|Show window|---|Quit")
	if menuItem(t, m, "Disconnect office").Disabled || !menuItem(t, m, "Connect office").Disabled || menuItem(t, m, "Connect home").Disabled {
		t.Errorf("connecting: Disconnect/Connect entries wrong")
	}
	check("connecting", TrayConnecting, assets.TrayConnecting, "connecting to office")

	h.state(core.Status{Profile: "office", State: core.StateConnected})
	m = labels("connected", "Connect home|Connect office|Disconnect office|Show window|---|Quit")
	if menuItem(t, m, "Disconnect office").Disabled || !menuItem(t, m, "Connect office").Checked {
		t.Error("connected: Disconnect office disabled or office not checked")
	}
	check("connected", TrayConnected, assets.TrayConnected, "Corridor: connected to office")

	// Stats events do not churn the tray.
	changes = h.trays.Load()
	h.send(core.Event{Kind: core.EventStats, Status: core.Status{Profile: "office", State: core.StateConnected, Stats: core.Stats{RxRate: 5}}})
	if h.trays.Load() != changes {
		t.Error("OnTrayChange called for a stats event")
	}

	// The tray's actions: Connect home, then two sessions up, each with
	// its own Disconnect plus "Disconnect all".
	menuItem(t, m, "Connect home").Action()
	h.settle()
	if !h.b.Called("connect home") {
		t.Errorf("Connect home: calls %v", h.b.Calls())
	}
	h.state(core.Status{Profile: "home", State: core.StateConnected})
	m = labels("two up", "Connect home|Connect office|Disconnect home|Disconnect office|Disconnect all|Show window|---|Quit")
	menuItem(t, m, "Disconnect office").Action()
	h.settle()
	if !h.b.Called("disconnect office") || h.b.Called("disconnect home") {
		t.Errorf("Disconnect office: calls %v, want office only", h.b.Calls())
	}
	h.state(core.Status{Profile: "office", State: core.StateDisconnecting})
	m = labels("office disconnecting", "Connect home|Connect office|Disconnect home|Disconnect office|Disconnect all|Show window|---|Quit")
	if !menuItem(t, m, "Disconnect office").Disabled || menuItem(t, m, "Disconnect home").Disabled {
		t.Error("disconnecting: Disconnect office should be disabled, Disconnect home enabled")
	}
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	labels("home up", "Connect home|Connect office|Disconnect home|Show window|---|Quit")
	h.state(core.Status{Profile: "office", State: core.StateConnected})
	menuItem(t, labels("two up again", "Connect home|Connect office|Disconnect home|Disconnect office|Disconnect all|Show window|---|Quit"), "Disconnect all").Action()
	h.settle()
	n := 0
	for _, c := range h.b.Calls() {
		if c == "disconnect office" || c == "disconnect home" {
			n++
		}
	}
	if !h.b.Called("disconnect home") || n != 3 {
		t.Errorf("Disconnect all: calls %v, want home and office (again)", h.b.Calls())
	}

	h.state(core.Status{Profile: "home", State: core.StateFailed, Error: &core.ErrorInfo{Msg: "no answer from 10.0.0.1"}})
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	check("failed", TrayError, assets.TrayError, "home failed: no answer")
	labels("everything down", "Connect home|Connect office|Show window|---|Quit")

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

// alphaMask is the icon's coverage scaled down to n x n (box filter over
// the alpha channel only), thresholded at half: what is left of the icon
// without its colour, at a tray's size.
func alphaMask(t *testing.T, r fyne.Resource, n int) []bool {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(r.Content()))
	if err != nil {
		t.Fatalf("%s: %v", r.Name(), err)
	}
	b := img.Bounds()
	if b.Dx() != b.Dy() || b.Dx()%n != 0 {
		t.Fatalf("%s: %v is not a square divisible by %d", r.Name(), b, n)
	}
	k := b.Dx() / n
	mask := make([]bool, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			var sum uint32
			for dy := 0; dy < k; dy++ {
				for dx := 0; dx < k; dx++ {
					_, _, _, a := img.At(b.Min.X+x*k+dx, b.Min.Y+y*k+dy).RGBA()
					sum += a
				}
			}
			mask[y*n+x] = sum/uint32(k*k) >= 0x8000
		}
	}
	return mask
}

// The tray model picks one icon per state, and the four icons differ in
// shape (their alpha masks), not only in colour: at 64 px and scaled down
// to 32 and 16 px, every pair differs in at least a fifth of the pixels
// either covers.
func TestTrayIconsDifferInShape(t *testing.T) {
	states := []TrayState{TrayDisconnected, TrayConnecting, TrayConnected, TrayError}
	names := map[string]TrayState{}
	for _, s := range states {
		r := trayIcon(s)
		if prev, dup := names[r.Name()]; dup {
			t.Errorf("%v and %v both show %s", s, prev, r.Name())
		}
		names[r.Name()] = s
	}
	for _, n := range []int{64, 32, 16} {
		masks := map[TrayState][]bool{}
		for _, s := range states {
			masks[s] = alphaMask(t, trayIcon(s), n)
		}
		for i, a := range states {
			for _, b := range states[i+1:] {
				var diff, union int
				for p := range masks[a] {
					if masks[a][p] || masks[b][p] {
						union++
					}
					if masks[a][p] != masks[b][p] {
						diff++
					}
				}
				if union == 0 || diff*5 < union {
					t.Errorf("%d px: %v and %v differ in %d of %d covered pixels: too alike in shape", n, a, b, diff, union)
				} else {
					t.Logf("%d px: %v vs %v: %d of %d covered pixels differ", n, a, b, diff, union)
				}
			}
		}
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
