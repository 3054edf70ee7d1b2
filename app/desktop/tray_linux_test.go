package desktop

import (
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// waitTray waits until w says want.
func waitTray(t *testing.T, w *trayWatch, want bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for w.Available() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: tray available %v, want %v", what, !want, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// On a private session bus: no watcher, no tray; a StatusNotifier
// watcher claims its name (as a panel does when it starts), and the tray
// counts; it goes (release, or its process ends), and it no longer does.
func TestTrayWatch(t *testing.T) {
	addr := privateBus(t)
	w, err := watchTray()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Available() {
		t.Fatal("a tray with nobody owning " + snWatcher)
	}

	panel, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer panel.Close()
	if r, err := panel.RequestName(snWatcher, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("claiming %s: %v %v", snWatcher, r, err)
	}
	waitTray(t, w, true, "a watcher started")
	if _, err := panel.ReleaseName(snWatcher); err != nil {
		t.Fatal(err)
	}
	waitTray(t, w, false, "the watcher released its name")

	// A watcher already there when the app starts counts from the start;
	// its process ending (the connection closing) ends the tray.
	panel2, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := panel2.RequestName(snWatcher, dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	w2, err := watchTray()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if !w2.Available() {
		t.Error("a watcher present at start does not count")
	}
	panel2.Close()
	waitTray(t, w2, false, "the watcher's process ended")

	// Closing the watch ends its loop.
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if w.Available() {
		t.Error("a closed watch says a tray is there")
	}
}

// Without a session bus there is no StatusNotifier tray: trayHost says
// none (and why), so closing the window quits.
func TestTrayHostNoBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	available, stop, err := trayHost()
	defer stop()
	if err == nil || available == nil || available() {
		t.Errorf("no bus: err %v, available %v", err, available != nil && available())
	}
}

// Only NameOwnerChanged signals about the watcher's name count.
func TestOwnerChange(t *testing.T) {
	sig := func(name string, body ...any) *dbus.Signal { return &dbus.Signal{Name: name, Body: body} }
	for _, tc := range []struct {
		s     *dbus.Signal
		owner string
		ok    bool
	}{
		{sig("org.freedesktop.DBus.NameOwnerChanged", snWatcher, "", ":1.5"), ":1.5", true},
		{sig("org.freedesktop.DBus.NameOwnerChanged", snWatcher, ":1.5", ""), "", true},
		{sig("org.freedesktop.DBus.NameOwnerChanged", "org.other", "", ":1.5"), "", false},
		{sig("org.freedesktop.DBus.NameAcquired", snWatcher), "", false},
		{sig("org.freedesktop.DBus.NameOwnerChanged", snWatcher, "", 7), "", false},
		{nil, "", false},
	} {
		if owner, ok := ownerChange(tc.s); owner != tc.owner || ok != tc.ok {
			t.Errorf("%+v: %q %v, want %q %v", tc.s, owner, ok, tc.owner, tc.ok)
		}
	}
}
