package gui

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// logHas reports whether a log line of level says something containing s.
func logHas(u *UI, level, s string) bool {
	for _, l := range u.logCopy() {
		if l.Level == level && strings.Contains(l.Text, s) {
			return true
		}
	}
	return false
}

// count is how many times call was made.
func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

// Ticking "Start Corridor when I log in" writes the XDG autostart entry
// (in the test's folder) with the Exec line that starts the app hidden;
// clearing it removes the file.
func TestSettingsStartAtLogin(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	path := filepath.Join(t.TempDir(), "config", "autostart", "corridor.desktop")
	u.SetAutostart(&XDGAutostart{Path: path, Command: []string{"corridor", "gui", "--hidden"}})
	s := u.settings
	if s.login.Checked || s.login.Disabled() {
		t.Fatalf("no entry yet: checked %v, disabled %v", s.login.Checked, s.login.Disabled())
	}
	if !strings.Contains(s.loginNote.Text, "system tray") {
		t.Errorf("note %q", s.loginNote.Text)
	}

	test.Tap(s.login)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("after ticking the box: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	if lines[0] != "[Desktop Entry]" || !slices.Contains(lines, "Type=Application") || !slices.Contains(lines, "Exec=corridor gui --hidden") {
		t.Errorf("entry:\n%s", data)
	}
	if !logHas(u, "INFO", "will start when you log in") {
		t.Error("no log line for the change")
	}

	// A new run finds the entry: the box shows ticked.
	h2 := newHarness(t, newBackendWith("office"))
	h2.u.SetAutostart(&XDGAutostart{Path: path, Command: []string{"corridor", "gui", "--hidden"}})
	if !h2.u.settings.login.Checked {
		t.Error("an existing entry shows unticked")
	}

	test.Tap(s.login)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after clearing the box the entry is still there: %v", err)
	}
	if s.login.Checked {
		t.Error("the box is still ticked")
	}
}

// A failure to write the entry is shown, and the box goes back.
func TestSettingsStartAtLoginFails(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "autostart"), nil, 0o600); err != nil { // a file where the folder should be
		t.Fatal(err)
	}
	u.SetAutostart(&XDGAutostart{Path: filepath.Join(dir, "autostart", "corridor.desktop"), Command: []string{"corridor", "gui", "--hidden"}})
	test.Tap(u.settings.login)
	if u.settings.login.Checked {
		t.Error("the box stays ticked after the entry could not be written")
	}
	if top := u.win.Canvas().Overlays().Top(); top == nil || !hasText(top, "autostart folder") {
		t.Error("the error is not shown")
	}
	if !logHas(u, "ERROR", "could not change starting at login") {
		t.Error("the error is not logged")
	}
}

// Without a way to start at login (SetAutostart never called, as on
// systems without one yet), the box is disabled with a note.
func TestSettingsStartAtLoginNotAvailable(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	s := h.u.settings
	if !s.login.Disabled() || s.login.Checked || s.loginNote.Text != "Not available on this system yet." {
		t.Errorf("disabled %v, checked %v, note %q", s.login.Disabled(), s.login.Checked, s.loginNote.Text)
	}
}

// The entry's Exec value quotes what needs it (Desktop Entry
// Specification), and an entry switched off by the desktop's own tools
// counts as off.
func TestXDGAutostartEntry(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"corridor", "gui", "--hidden"}, `corridor gui --hidden`},
		{[]string{"/home/al ice/bin/corridor", "gui"}, `"/home/al ice/bin/corridor" gui`},
		{[]string{`/opt/a$b"c\d/corridor`}, `"/opt/a\\$b\\"c\\\\d/corridor"`},
		{[]string{"/opt/100%/corridor"}, `/opt/100%%/corridor`},
	} {
		if got := ExecLine(tc.args); got != tc.want {
			t.Errorf("ExecLine(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}

	dir := t.TempDir()
	x := &XDGAutostart{Path: filepath.Join(dir, "corridor.desktop"), Command: []string{"corridor", "gui", "--hidden"}}
	if on, err := x.Enabled(); on || err != nil {
		t.Errorf("no file: on %v, err %v", on, err)
	}
	for _, off := range []string{"Hidden=true", "X-GNOME-Autostart-enabled=false"} {
		if err := os.WriteFile(x.Path, []byte("[Desktop Entry]\nExec=corridor gui --hidden\n"+off+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if on, err := x.Enabled(); on || err != nil {
			t.Errorf("%s: on %v, err %v", off, on, err)
		}
	}
	if err := x.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	if on, err := x.Enabled(); !on || err != nil {
		t.Errorf("rewritten: on %v, err %v", on, err)
	}
	if err := x.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := x.SetEnabled(false); err != nil {
		t.Errorf("removing an absent entry: %v", err)
	}
	if err := (&XDGAutostart{Path: x.Path, Command: []string{"corridor\n[x]"}}).SetEnabled(true); err == nil {
		t.Error("a command with a line break was written")
	}
}

// The profile chosen under "When Corridor starts, connect" is stored in
// the app's preferences; "Don't connect" removes it.
func TestSettingsChooseStartConnect(t *testing.T) {
	h := newHarness(t, newBackendWith("office", "home"))
	u := h.u
	sel := u.settings.connect
	if got := strings.Join(sel.Options, "|"); got != "Don't connect|home|office" {
		t.Fatalf("options %s", got)
	}
	sel.SetSelected("office")
	if got := h.a.Preferences().String(PrefStartConnect); got != "office" {
		t.Errorf("stored %q, want office", got)
	}
	sel.SetSelectedIndex(0)
	if got := h.a.Preferences().String(PrefStartConnect); got != "" {
		t.Errorf("stored %q after \"Don't connect\"", got)
	}
}

// The chosen profile is connected once the helper's first status
// snapshot is in, and once only: not again when the helper comes back.
func TestConnectAtStart(t *testing.T) {
	b := newBackendWith("office", "home")
	h := newHarness(t, b)
	u := h.u
	h.a.Preferences().SetString(PrefStartConnect, "office")
	h.start()
	h.settle()
	calls := b.Calls()
	if count(calls, "connect office") != 1 || count(calls, "connect home") != 0 {
		t.Fatalf("calls %v, want one connect of office", calls)
	}
	st, cn := -1, -1
	for i, c := range calls {
		if c == "status" && st < 0 {
			st = i
		}
		if c == "connect office" {
			cn = i
		}
	}
	if st < 0 || cn < st {
		t.Errorf("calls %v: the connect came before the status snapshot", calls)
	}
	if !logHas(u, "INFO", "connecting at start") {
		t.Error("no log line for the connect at start")
	}

	// The helper goes and comes back: a new snapshot, no new connect.
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	b.EndStream()
	h.waitCounter("status snapshot", &u.syncs, 2)
	h.settle()
	if n := count(b.Calls(), "connect office"); n != 1 {
		t.Errorf("%d connects of office after the helper came back, want 1", n)
	}
}

// Nothing is connected before the helper's status snapshot: while the
// helper is away a (TUN) profile waits for it.
func TestConnectAtStartWaitsForHelper(t *testing.T) {
	b := newBackendWith("office")
	b.SetPingError(errors.New("no helper"))
	h := newHarness(t, b)
	u := h.u
	h.a.Preferences().SetString(PrefStartConnect, "office")
	h.startNoWait()
	h.waitCounter("ping", &u.pings, 3)
	h.settle()
	if b.Called("connect office") {
		t.Fatalf("connected with the helper away: %v", b.Calls())
	}
	b.SetPingError(nil)
	h.waitCounter("status snapshot", &u.syncs, 1)
	h.settle()
	if n := count(b.Calls(), "connect office"); n != 1 {
		t.Errorf("%d connects once the helper answered, want 1 (%v)", n, b.Calls())
	}
}

// A profile that is connected already (the helper kept its session
// while the app was closed) is not connected again.
func TestConnectAtStartAlreadyConnected(t *testing.T) {
	b := newBackendWith("office")
	b.SetStatuses(core.Status{Profile: "office", State: core.StateConnected, Address: "192.168.30.10"})
	h := newHarness(t, b)
	u := h.u
	h.a.Preferences().SetString(PrefStartConnect, "office")
	h.start()
	h.settle()
	if b.Called("connect office") {
		t.Errorf("connected again: %v", b.Calls())
	}
	if !logHas(u, "INFO", "not connecting it again") {
		t.Error("no log line saying why")
	}
	if got := h.a.Preferences().String(PrefStartConnect); got != "office" {
		t.Errorf("setting %q, want it kept", got)
	}
}

// A profile that no longer exists clears the setting, with a warning in
// the log, and nothing is connected.
func TestConnectAtStartRemovedProfile(t *testing.T) {
	b := newBackendWith("office")
	h := newHarness(t, b)
	u := h.u
	h.a.Preferences().SetString(PrefStartConnect, "gone")
	h.start()
	h.settle()
	for _, c := range b.Calls() {
		if strings.HasPrefix(c, "connect") {
			t.Errorf("call %q", c)
		}
	}
	if got := h.a.Preferences().String(PrefStartConnect); got != "" {
		t.Errorf("setting %q, want it cleared", got)
	}
	if !logHas(u, "WARN", `"gone"`) || !logHas(u, "WARN", "no longer exists") {
		t.Errorf("no warning in the log: %v", u.logCopy())
	}
	if u.settings.connect.SelectedIndex() != 0 {
		t.Errorf("Settings shows %q", u.settings.connect.Selected)
	}
}

// A proxy-mode profile needs no helper: with the helper away it is
// connected after this user's own sessions are known.
func TestConnectAtStartProxyWithoutHelper(t *testing.T) {
	b := newBackendWith("office")
	px := testProfile("socks")
	px.Mode = profile.ModeProxy
	b.AddProfile(px, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	b.SetPingError(errors.New("no helper"))
	ue := &fakeUserEngine{events: make(chan core.Event)}
	h := newHarnessOn(t, b, splitBackend{Backend: b, user: ue})
	h.a.Preferences().SetString(PrefStartConnect, "socks")
	h.startNoWait()
	deadline := time.Now().Add(5 * time.Second)
	for !b.Called("connect socks") {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy-mode profile was not connected with the helper away: %v", b.Calls())
		}
		h.loop.run()
		time.Sleep(time.Millisecond)
	}
	h.waitCounter("ping", &h.u.pings, h.u.pings.Load()+3)
	h.settle()
	if n := count(b.Calls(), "connect socks"); n != 1 {
		t.Errorf("%d connects, want 1", n)
	}
}

// Renaming the chosen profile keeps it chosen; deleting it clears the
// choice.
func TestStartConnectFollowsRenameAndDelete(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	h.a.Preferences().SetString(PrefStartConnect, "office")
	u.editExisting("office")
	e := u.editing
	<-e.loaded
	h.settle()
	e.name.SetText("work")
	test.Tap(e.save)
	h.settle()
	if got := h.a.Preferences().String(PrefStartConnect); got != "work" {
		t.Fatalf("after the rename: setting %q, want work", got)
	}
	if u.settings.connect.Selected != "work" {
		t.Errorf("Settings shows %q", u.settings.connect.Selected)
	}
	u.deleteProfile("work")
	h.settle()
	if got := h.a.Preferences().String(PrefStartConnect); got != "" {
		t.Errorf("after the delete: setting %q", got)
	}
}
