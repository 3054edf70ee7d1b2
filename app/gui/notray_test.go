package gui

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core"
)

// fakeTray stands in for the desktop shell's tray watch.
type fakeTray struct{ up atomic.Bool }

func (f *fakeTray) available() bool { return f.up.Load() }

// withTray gives h's UI a fake tray (present or not) and counts the
// OnQuit calls.
func withTray(h *harness, present bool) (*fakeTray, *atomic.Int64) {
	tr := &fakeTray{}
	tr.up.Store(present)
	h.u.SetTrayAvailable(tr.available)
	quits := &atomic.Int64{}
	h.u.OnQuit(func() { quits.Add(1) })
	return tr, quits
}

// hasText reports whether a label or text under o says something
// containing s.
func hasText(o fyne.CanvasObject, s string) bool {
	switch v := o.(type) {
	case *widget.Label:
		return strings.Contains(v.Text, s)
	case *canvas.Text:
		return strings.Contains(v.Text, s)
	case *fyne.Container:
		for _, c := range v.Objects {
			if hasText(c, s) {
				return true
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			if hasText(c, s) {
				return true
			}
		}
	}
	return false
}

// With no tray to stay in and nothing up, closing the window quits the
// app at once (no dialog, no "still running" note); when a tray appears
// later, closing hides the window as before.
func TestCloseWithoutTrayQuits(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	tr, quits := withTray(h, false)
	h.start()

	u.closeWindow()
	h.settle()
	if quits.Load() != 1 {
		t.Fatalf("no tray, nothing up: %d quits, want 1", quits.Load())
	}
	if u.win.Canvas().Overlays().Top() != nil {
		t.Error("a dialog opened with nothing to disconnect")
	}
	if hasNotification(h, "system tray") {
		t.Error("told the user that the app stays in a tray that is not there")
	}
	for _, c := range h.b.Calls() {
		if strings.HasPrefix(c, "disconnect") {
			t.Errorf("call %q with nothing up", c)
		}
	}

	// A panel with a tray starts: the window hides again.
	tr.up.Store(true)
	u.closeWindow()
	h.settle()
	if quits.Load() != 1 {
		t.Errorf("with a tray: %d quits, want still 1", quits.Load())
	}
	if !hasNotification(h, "system tray") {
		t.Errorf("with a tray: no note that the app stays there: %v", h.notifications())
	}
}

// With a tray, closing hides the window even with a session up (as
// before): no question, no disconnect, no quit.
func TestCloseWithTrayHides(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	_, quits := withTray(h, true)
	h.start()
	h.state(core.Status{Profile: "office", State: core.StateConnected})

	u.closeWindow()
	h.settle()
	if quits.Load() != 0 || u.win.Canvas().Overlays().Top() != nil || h.b.Called("disconnect office") {
		t.Errorf("with a tray: quits %d, dialog %v, calls %v", quits.Load(), u.win.Canvas().Overlays().Top() != nil, h.b.Calls())
	}
	if !hasNotification(h, "system tray") {
		t.Error("no note that the app stays in the tray")
	}
}

// With no tray and a session connected, closing asks "Quit and
// disconnect?": Cancel keeps the app and the session; agreeing
// disconnects through the backend, then quits.
func TestCloseWithoutTrayAsksWhenConnected(t *testing.T) {
	h := newHarness(t, newBackendWith("office", "home"))
	u := h.u
	_, quits := withTray(h, false)
	h.start()
	h.state(core.Status{Profile: "office", State: core.StateConnected, Address: "192.168.30.10"})

	u.closeWindow()
	h.settle()
	top := u.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no question before quitting with office connected")
	}
	if !hasText(top, "Quit and disconnect?") || !hasText(top, "office (connected)") || hasText(top, "home") {
		t.Error("the dialog does not ask \"Quit and disconnect?\" about office (connected) only")
	}
	if quits.Load() != 0 {
		t.Fatal("quit before the user answered")
	}
	tapDialog(t, u, "Cancel")
	h.settle()
	if quits.Load() != 0 || h.b.Called("disconnect office") {
		t.Fatalf("after Cancel: quits %d, calls %v", quits.Load(), h.b.Calls())
	}
	if u.win.Canvas().Overlays().Top() != nil {
		t.Error("the dialog stays after Cancel")
	}

	u.closeWindow()
	h.settle()
	tapDialog(t, u, "Quit and disconnect")
	h.settle()
	if !h.b.Called("disconnect office") || h.b.Called("disconnect home") {
		t.Errorf("calls %v, want a disconnect of office only", h.b.Calls())
	}
	if quits.Load() != 1 {
		t.Errorf("%d quits after \"Quit and disconnect\", want 1", quits.Load())
	}
	// The disconnect was the user's: no "disconnected unexpectedly".
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	for _, n := range h.notifications() {
		if strings.Contains(n.Content, "unexpectedly") {
			t.Errorf("notification %q", n.Content)
		}
	}
}

// A connect still on its way to the helper when the user quits (its
// Connect call has not returned) is ended before the app quits: the quit
// waits for the call, which then disconnects what it started.
func TestQuitWithoutTrayEndsConnectOnItsWay(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	_, quits := withTray(h, false)
	h.start()
	release := h.b.BlockConnect()
	defer release()
	u.connect("office")
	if !h.b.WaitCall("connect office", 5*time.Second) {
		t.Fatalf("no connect: %v", h.b.Calls())
	}
	h.loop.run()

	u.closeWindow()
	h.loop.run()
	if top := u.win.Canvas().Overlays().Top(); top == nil || !hasText(top, "office (connecting)") {
		t.Fatal("no question about office (connecting)")
	}
	tapDialog(t, u, "Quit and disconnect")
	if !h.b.WaitCall("disconnect office", 5*time.Second) {
		t.Fatalf("no disconnect: %v", h.b.Calls())
	}
	time.Sleep(50 * time.Millisecond)
	h.loop.run()
	if quits.Load() != 0 {
		t.Fatal("quit while the Connect call was still on its way")
	}
	release()
	h.settle()
	if quits.Load() != 1 {
		t.Fatalf("%d quits, want 1", quits.Load())
	}
	var got []string
	for _, c := range h.b.Calls() {
		if strings.HasSuffix(c, " office") || strings.HasSuffix(c, "returned") {
			got = append(got, c)
		}
	}
	if want := "connect office|disconnect office|connect office returned|disconnect office"; strings.Join(got, "|") != want {
		t.Errorf("calls %v, want %s", got, want)
	}
}
