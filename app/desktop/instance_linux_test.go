package desktop

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/corridorvpn/corridor/build/testenv"
)

// privateBus starts a session bus of the test's own and points
// DBUS_SESSION_BUS_ADDRESS at it.
func privateBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed: the one-instance test needs a private session bus")
	}
	addr := testenv.SessionBus(t, os.Environ())
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	return addr
}

func owner(t *testing.T, addr string) string {
	t.Helper()
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var o string
	if err := c.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, AppID).Store(&o); err != nil {
		return ""
	}
	return o
}

// The first instance owns the name and serves Activate; a second one
// finds the name taken, calls Activate and is told to exit; once the
// first goes, the next start is first again.
func TestOneInstance(t *testing.T) {
	addr := privateBus(t)

	activated := make(chan struct{}, 4)
	first, release, err := claimInstance(func() { activated <- struct{}{} }, true)
	if err != nil || !first {
		t.Fatalf("first start: first %v, err %v", first, err)
	}
	if owner(t, addr) == "" {
		t.Fatalf("nobody owns %s after the first start", AppID)
	}

	first2, release2, err := claimInstance(func() { t.Error("the second instance's Activate was called") }, true)
	if err != nil || first2 || release2 != nil {
		t.Fatalf("second start: first %v, release %v, err %v", first2, release2 != nil, err)
	}
	select {
	case <-activated:
	case <-time.After(5 * time.Second):
		t.Fatal("the first instance's Activate was not called")
	}

	// --hidden (autostart): the second start exits without activating.
	if first3, _, err := claimInstance(nil, false); err != nil || first3 {
		t.Fatalf("hidden second start: first %v, err %v", first3, err)
	}
	select {
	case <-activated:
		t.Error("a hidden second start called Activate")
	case <-time.After(200 * time.Millisecond):
	}

	// The real entry point: a second "corridor gui" exits 0 at once,
	// before it opens any window (DISPLAY need not work).
	t.Setenv("DISPLAY", ":none")
	var b bytes.Buffer
	if code := run(nil, &b); code != 0 || !strings.Contains(b.String(), "already running") {
		t.Errorf("second corridor gui: exit %d, %q", code, b.String())
	}
	select {
	case <-activated:
	case <-time.After(5 * time.Second):
		t.Fatal("a second corridor gui did not activate the first")
	}

	// The first instance goes: the name is free for the next start.
	release()
	deadline := time.Now().Add(5 * time.Second)
	for owner(t, addr) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("%s still owned after release", AppID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first4, release4, err := claimInstance(nil, true)
	if err != nil || !first4 {
		t.Fatalf("start after the first quit: first %v, err %v", first4, err)
	}
	release4()
}

// Without a session bus the app starts anyway (claimInstance says why).
func TestOneInstanceNoBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+t.TempDir()+"/none")
	first, release, err := claimInstance(nil, true)
	if err == nil || first || release != nil {
		t.Errorf("no bus: first %v, release %v, err %v", first, release != nil, err)
	}
}
