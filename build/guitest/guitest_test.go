// Package guitest runs the real desktop app (the corridor binary, built
// with cgo) in a private X server (Xvfb), with a private D-Bus session and
// an unlocked gnome-keyring: it waits for the window, takes screenshots
// (build/out/gui/*.png, listed in build/out/gui/screenshots.txt), and
// drives the tray menu the way a panel does, over D-Bus
// (StatusNotifierItem + com.canonical.dbusmenu). As root it also connects
// a real tunnel to a SoftEther server from the tray.
//
// Tools: Xvfb, xdotool, ImageMagick's import, dbus-daemon,
// gnome-keyring-daemon (build/setup.sh installs them); without them the
// tests skip with a message.
package guitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/build/testenv"
	"github.com/corridorvpn/corridor/core"
)

var (
	corridorBin string
	outDir      string // build/out/gui
	buildErr    error
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	outDir = filepath.Join(filepath.Dir(file), "..", "out", "gui")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Remove(filepath.Join(outDir, "screenshots.txt"))
	dir, err := os.MkdirTemp("", "corridor-guitest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 0
	if missing := missingTools(); missing == "" {
		corridorBin = filepath.Join(dir, "corridor")
		build := exec.Command("go", "build", "-o", corridorBin, "github.com/corridorvpn/corridor")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if buildErr = build.Run(); buildErr != nil {
			fmt.Fprintln(os.Stderr, "guitest: go build:", buildErr)
			code = 1
		} else {
			fmt.Printf("guitest: built corridor with cgo in %v\n", time.Since(start).Round(time.Millisecond))
		}
	}
	if code == 0 {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func missingTools() string {
	var missing []string
	for _, tool := range []string{"Xvfb", "xdotool", "import", "dbus-daemon", "gnome-keyring-daemon", "gcc", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return strings.Join(missing, ", ")
}

func needTools(t *testing.T) {
	t.Helper()
	if m := missingTools(); m != "" {
		t.Skipf("needs %s (apt packages xvfb xdotool imagemagick dbus-daemon gnome-keyring gcc pkg-config and the Fyne build headers; build/setup.sh installs them)", m)
	}
}

// session is a private desktop: an X server, a D-Bus session bus and an
// unlocked gnome-keyring, with HOME and the XDG folders in a temporary
// directory (nothing touches a real user's files or keyring).
type session struct {
	t       *testing.T
	env     []string
	display string
	busAddr string
	bus     *dbus.Conn // the test's own connection to the session bus
}

func newSession(t *testing.T) *session {
	t.Helper()
	needTools(t)
	home := t.TempDir()
	s := &session{t: t}
	s.env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + home, "XDG_DATA_HOME=" + home + "/data",
		"XDG_CONFIG_HOME=" + home + "/config", "XDG_CACHE_HOME=" + home + "/cache", "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}
	if v := os.Getenv("CORRIDOR_NO_QUIT_GUARD"); v != "" { // build/fyne-quit-race.sh GUARD=off
		s.env = append(s.env, "CORRIDOR_NO_QUIT_GUARD="+v)
	}

	// Xvfb picks a free display itself and writes its number to -displayfd.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var xlog bytes.Buffer
	x := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset")
	x.ExtraFiles = []*os.File{w}
	x.Stdout, x.Stderr = &xlog, &xlog
	if err := x.Start(); err != nil {
		t.Fatalf("Xvfb: %v", err)
	}
	w.Close()
	xdone := make(chan struct{})
	go func() { x.Wait(); close(xdone) }()
	t.Cleanup(func() { stop(x.Process, xdone, 5*time.Second) })
	num := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		num <- strings.TrimSpace(line)
	}()
	select {
	case n := <-num:
		if n == "" {
			t.Fatalf("Xvfb did not start:\n%s", xlog.String())
		}
		s.display = ":" + n
	case <-time.After(30 * time.Second):
		t.Fatalf("Xvfb did not report a display in 30 s:\n%s", xlog.String())
	}
	s.env = append(s.env, "DISPLAY="+s.display)

	// The session bus.
	s.busAddr = testenv.SessionBus(t, s.env)
	s.env = append(s.env, "DBUS_SESSION_BUS_ADDRESS="+s.busAddr)
	if s.bus, err = dbus.Connect(s.busAddr); err != nil {
		t.Fatalf("connecting to the session bus: %v", err)
	}
	t.Cleanup(func() { s.bus.Close() })

	// gnome-keyring with its Secret Service, unlocked with a throwaway
	// password (without --unlock it would want a prompter).
	s.env = append(s.env, testenv.Keyring(t, s.env)...)
	// It daemonized: find it by the bus name it owns, end it by its PID.
	if pid, err := s.ownerPID("org.freedesktop.secrets", 10*time.Second); err != nil {
		t.Fatalf("gnome-keyring-daemon: %v", err)
	} else {
		t.Cleanup(func() { killPid(int(pid)) })
	}
	return s
}

// ownerPID waits until name has an owner on the session bus and returns
// the owner's process ID.
func (s *session) ownerPID(name string, wait time.Duration) (uint32, error) {
	deadline := time.Now().Add(wait)
	for {
		var pid uint32
		err := s.bus.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid)
		if err == nil {
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s has no owner on the session bus after %v: %v", name, wait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stop(p *os.Process, done <-chan struct{}, wait time.Duration) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(wait):
		p.Kill()
		<-done
	}
}

func killPid(pid int) {
	if pid > 1 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

// run runs a command with the session's environment (plus extra) and a
// timeout; it returns the combined output and the exit code.
func (s *session) run(timeout time.Duration, extra []string, name string, args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append([]string(nil), s.env...), extra...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), code
}

// addProfile saves a profile with corridor profile add (secrets to the
// session's keyring).
func (s *session) addProfile(extra []string, name, server, user, password, psk string) {
	s.t.Helper()
	dir := s.t.TempDir()
	pw, pskf := filepath.Join(dir, "pw"), filepath.Join(dir, "psk")
	os.WriteFile(pw, []byte(password+"\n"), 0o600)
	os.WriteFile(pskf, []byte(psk+"\n"), 0o600)
	out, code := s.run(30*time.Second, extra, corridorBin, "profile", "add", name, "--server", server, "--user", user,
		"--password-file", pw, "--psk-file", pskf)
	if code != 0 {
		s.t.Fatalf("corridor profile add %s: exit %d\n%s", name, code, out)
	}
	os.Remove(pw)
	os.Remove(pskf)
}

// app is a running corridor gui.
type app struct {
	s     *session
	cmd   *exec.Cmd
	log   *syncBuf
	done  chan struct{}
	start time.Time
	item  string          // its StatusNotifierItem bus name
	menu  dbus.ObjectPath // its dbusmenu object
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// trayWatcher answers a StatusNotifierItem's registration, as a desktop's
// tray host does.
type trayWatcher struct{}

func (trayWatcher) RegisterStatusNotifierItem(string) *dbus.Error { return nil }

// trayHost makes the test's bus connection the StatusNotifierWatcher: the
// app then sees a tray.
func (s *session) trayHost() {
	s.t.Helper()
	if err := s.bus.Export(trayWatcher{}, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		s.t.Fatal(err)
	}
	r, err := s.bus.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		s.t.Fatalf("owning org.kde.StatusNotifierWatcher: %v (reply %v)", err, r)
	}
}

func (s *session) startApp(extra []string) *app {
	s.t.Helper()
	a := &app{s: s, log: &syncBuf{}, done: make(chan struct{})}
	a.cmd = exec.Command(corridorBin, "gui")
	// GOTRACEBACK=all: a hang dumps every goroutine (stacks).
	a.cmd.Env = append(append(append([]string(nil), s.env...), extra...), "GOTRACEBACK=all")
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	a.start = time.Now()
	if err := a.cmd.Start(); err != nil {
		s.t.Fatalf("corridor gui: %v", err)
	}
	go func() { a.cmd.Wait(); close(a.done) }()
	s.t.Cleanup(func() {
		stop(a.cmd.Process, a.done, 15*time.Second)
		if s.t.Failed() {
			s.t.Logf("corridor gui output:\n%s", a.log.String())
		}
	})
	a.item = fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", a.cmd.Process.Pid)
	return a
}

// stacks makes a hung app print its goroutines (SIGQUIT) and waits up
// to 5 s for it to end, so that the output logged by the cleanup shows
// where it hung.
func (a *app) stacks() {
	a.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
	}
}

func (a *app) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// waitWindow waits (bounded) until the main window is mapped and returns
// its X window ID and how long after the process start that was.
func (a *app) waitWindow(wait time.Duration) (string, time.Duration) {
	a.s.t.Helper()
	out, code := a.s.run(wait, nil, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^Corridor$")
	took := time.Since(a.start)
	if code != 0 || strings.TrimSpace(out) == "" {
		a.s.t.Fatalf("no visible window named Corridor within %v (exit %d, %q); app output:\n%s", wait, code, out, a.log.String())
	}
	return strings.Fields(out)[0], took
}

func (a *app) visible() bool {
	out, _ := a.s.run(10*time.Second, nil, "xdotool", "search", "--onlyvisible", "--name", "^Corridor$")
	return strings.TrimSpace(out) != ""
}

// screenshot saves the screen to build/out/gui/NAME.png and prints the path.
func (a *app) screenshot(name string) string {
	a.s.t.Helper()
	path, _ := filepath.Abs(filepath.Join(outDir, name+".png"))
	out, code := a.s.run(30*time.Second, nil, "import", "-window", "root", path)
	if code != 0 {
		a.s.t.Fatalf("import: exit %d\n%s", code, out)
	}
	a.s.t.Logf("screenshot: %s", path)
	if f, err := os.OpenFile(filepath.Join(outDir, "screenshots.txt"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, "%s: %s\n", a.s.t.Name(), path)
		f.Close()
	}
	return path
}

// waitTray waits until the app owns its StatusNotifierItem name and reads
// the menu's object path from the item's Menu property.
func (a *app) waitTray(wait time.Duration) {
	a.s.t.Helper()
	if _, err := a.s.ownerPID(a.item, wait); err != nil {
		a.s.t.Fatalf("tray: %v; app output:\n%s", err, a.log.String())
	}
	v, err := a.s.bus.Object(a.item, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		a.s.t.Fatalf("tray: Menu property: %v", err)
	}
	p, ok := v.Value().(dbus.ObjectPath)
	if !ok || !p.IsValid() {
		a.s.t.Fatalf("tray: Menu property is %v", v)
	}
	a.menu = p
}

// title is the tray item's Title property.
func (a *app) title() string {
	v, err := a.s.bus.Object(a.item, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.Title")
	if err != nil {
		return ""
	}
	s, _ := v.Value().(string)
	return s
}

func (a *app) waitTitle(want string, wait time.Duration) {
	a.s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := a.title()
		if got == want {
			return
		}
		if time.Now().After(deadline) || a.exited() {
			a.s.t.Fatalf("tray title %q, want %q (waited %v)", got, want, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// menuItem is one entry of the tray menu as a panel sees it.
type menuItem struct {
	ID      int32
	Label   string
	Enabled bool
	Visible bool
	Checked bool
	Sep     bool
}

func (m menuItem) String() string {
	if m.Sep {
		return "----"
	}
	s := fmt.Sprintf("%d:%q", m.ID, m.Label)
	if !m.Enabled {
		s += " (disabled)"
	}
	if m.Checked {
		s += " (checked)"
	}
	return s
}

// layout calls com.canonical.dbusmenu.GetLayout(0, -1, []) and flattens
// the tree.
func (a *app) layout() []menuItem {
	a.s.t.Helper()
	var rev uint32
	var root dbusLayout
	err := a.s.bus.Object(a.item, a.menu).Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root)
	if err != nil {
		a.s.t.Fatalf("tray: GetLayout: %v", err)
	}
	var out []menuItem
	var walk func(children []dbus.Variant)
	walk = func(children []dbus.Variant) {
		for _, c := range children {
			f, ok := c.Value().([]interface{})
			if !ok || len(f) != 3 {
				a.s.t.Fatalf("tray: unexpected layout node %v", c)
			}
			id, _ := f[0].(int32)
			props, _ := f[1].(map[string]dbus.Variant)
			it := menuItem{ID: id, Enabled: true, Visible: true}
			if v, ok := props["label"]; ok {
				it.Label, _ = v.Value().(string)
			}
			if v, ok := props["enabled"]; ok {
				it.Enabled, _ = v.Value().(bool)
			}
			if v, ok := props["visible"]; ok {
				it.Visible, _ = v.Value().(bool)
			}
			if v, ok := props["toggle-state"]; ok {
				n, _ := v.Value().(int32)
				it.Checked = n == 1
			}
			if v, ok := props["type"]; ok {
				typ, _ := v.Value().(string)
				it.Sep = typ == "separator"
			}
			if it.Visible {
				out = append(out, it)
			}
			kids, _ := f[2].([]dbus.Variant)
			walk(kids)
		}
	}
	walk(root.Children)
	return out
}

type dbusLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func find(items []menuItem, label string) (menuItem, bool) {
	for _, it := range items {
		if it.Label == label {
			return it, true
		}
	}
	return menuItem{}, false
}

// waitItem waits until the menu has an item labelled label whose enabled
// state is enabled, and returns it.
func (a *app) waitItem(label string, enabled bool, wait time.Duration) menuItem {
	a.s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		items := a.layout()
		if it, ok := find(items, label); ok && it.Enabled == enabled {
			return it
		}
		if time.Now().After(deadline) || a.exited() {
			a.s.t.Fatalf("tray: no item %q (enabled %v) after %v; menu: %v", label, enabled, wait, items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// click sends the event a panel sends when the user clicks an item.
func (a *app) click(it menuItem) {
	a.s.t.Helper()
	call := a.s.bus.Object(a.item, a.menu).Call("com.canonical.dbusmenu.Event", 0, it.ID, "clicked",
		dbus.MakeVariant(int32(0)), uint32(0))
	if call.Err != nil {
		a.s.t.Fatalf("tray: Event(%v, clicked): %v", it, call.Err)
	}
}

func labels(items []menuItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.String())
	}
	return out
}

// TestEntryPoint: no arguments or "gui" is the desktop app (which says so
// when there is no display), anything else the command line.
func TestEntryPoint(t *testing.T) {
	needTools(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no DISPLAY, no WAYLAND_DISPLAY
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "no display for the desktop app"},
		{[]string{"gui"}, 2, "no display for the desktop app"},
		{[]string{"gui", "--help"}, 0, "Usage: corridor [gui] [--hidden]"},
		{[]string{"help"}, 0, "corridor connect [flags] SERVER[:PORT]"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
	} {
		cmd := exec.Command(corridorBin, tc.args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("corridor %v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
}

// TestWindowAndTray: the app starts without a helper, shows its window
// (screenshot), says in the tray that the helper is not running, lists
// the profiles in the tray menu (no Disconnect entry with nothing up);
// closing the window (Ctrl+W) hides it and keeps the app in the tray,
// "Show window" brings it back, so does starting the app again (which
// exits 0: one instance), and "Quit" ends the app.
func TestWindowAndTray(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	// No helper listens on this socket: the app must say so.
	extra := []string{"CORRIDOR_CONFIG_DIR=" + filepath.Join(dir, "config"), "CORRIDOR_SOCKET=" + filepath.Join(dir, "none.sock")}
	s.addProfile(extra, "office", "vpn.example.test", "alice", "pw-1", "psk-1")
	s.addProfile(extra, "home lab", "10.99.0.1", "bob", "pw-2", "psk-2")
	// A tray host is there: closing the window hides it (without one the
	// app quits, TestCloseWithoutTrayQuits).
	s.trayHost()

	a := s.startApp(extra)
	win, took := a.waitWindow(60 * time.Second)
	t.Logf("window %s mapped within %v of the process start (xdotool --sync polls every 0.5 s; build/measure-gui.sh times it finer)", win, took.Round(time.Millisecond))
	a.waitTray(30 * time.Second)
	t.Logf("tray: %s, menu %s", a.item, a.menu)
	a.waitTitle("Corridor: the helper is not running", 30*time.Second)
	time.Sleep(500 * time.Millisecond) // let the banner draw
	a.screenshot("window-no-helper")

	items := a.layout()
	t.Logf("tray menu: %v", labels(items))
	for _, want := range []struct {
		label   string
		enabled bool
	}{{"Connect home lab", true}, {"Connect office", true}, {"Show window", true}, {"Quit", true}} {
		it, ok := find(items, want.label)
		if !ok {
			t.Errorf("tray menu lacks %q", want.label)
		} else if it.Enabled != want.enabled {
			t.Errorf("tray item %v: enabled %v, want %v", it, it.Enabled, want.enabled)
		}
	}
	for _, it := range items {
		if strings.HasPrefix(it.Label, "Disconnect") {
			t.Errorf("tray item %v with nothing up", it)
		}
	}

	// Ctrl+W closes (hides) the window; the app stays in the tray.
	if out, code := s.run(10*time.Second, nil, "xdotool", "windowfocus", "--sync", win, "key", "--clearmodifiers", "ctrl+w"); code != 0 {
		t.Fatalf("xdotool key ctrl+w: exit %d %s", code, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.visible() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if a.visible() {
		t.Errorf("the window is still visible after Ctrl+W")
	}
	if a.exited() {
		t.Fatalf("the app ended when its window was closed; output:\n%s", a.log.String())
	}
	show, _ := find(a.layout(), "Show window")
	a.click(show)
	if _, took := a.waitWindow(20 * time.Second); took <= 0 {
		t.Fatal("no window after Show window")
	}

	// One instance: with the window hidden again, a second "corridor gui"
	// calls the first one's Activate over D-Bus and exits 0; the first
	// one's window comes back.
	if out, code := s.run(10*time.Second, nil, "xdotool", "windowfocus", "--sync", win, "key", "--clearmodifiers", "ctrl+w"); code != 0 {
		t.Fatalf("xdotool key ctrl+w: exit %d %s", code, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for a.visible() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if a.visible() {
		t.Fatal("the window is still visible after a second Ctrl+W")
	}
	if out, code := s.run(20*time.Second, extra, corridorBin, "gui"); code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("second corridor gui: exit %d, want 0 with \"already running\":\n%s", code, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !a.visible() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if !a.visible() {
		t.Error("the second start did not bring the first one's window back")
	} else {
		t.Log("a second corridor gui exited 0 and brought the first window back")
	}

	quit, _ := find(a.layout(), "Quit")
	a.click(quit)
	select {
	case <-a.done:
		if code := a.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("corridor gui exit %d after Quit; output:\n%s", code, a.log.String())
		}
		// Fyne 2.8.1's Run can hang after Quit; the app's guard ends it
		// then (app/desktop/quitguard.go) and says so.
		if strings.Contains(a.log.String(), "had not finished quitting") {
			t.Log("Fyne hung after Quit; the quit guard ended the app")
		}
	case <-time.After(15 * time.Second):
		a.stacks()
		t.Fatalf("corridor gui still runs 15 s after Quit in the tray menu (its goroutines are in the output below)")
	}
	if strings.Contains(a.log.String(), "panic") {
		t.Errorf("the app's output mentions a panic:\n%s", a.log.String())
	}
}

// TestCloseWithoutTrayQuits: on a desktop without a tray host (nobody
// owns org.kde.StatusNotifierWatcher, as on GNOME without the AppIndicator
// extension), closing the window with nothing connected quits the app
// instead of hiding it where it could not be reached.
func TestCloseWithoutTrayQuits(t *testing.T) {
	s := newSession(t)
	dir := t.TempDir()
	extra := []string{"CORRIDOR_CONFIG_DIR=" + filepath.Join(dir, "config"), "CORRIDOR_SOCKET=" + filepath.Join(dir, "none.sock")}
	s.addProfile(extra, "office", "vpn.example.test", "alice", "pw-1", "psk-1")
	a := s.startApp(extra)
	win, _ := a.waitWindow(60 * time.Second)
	time.Sleep(500 * time.Millisecond) // let it settle
	if out, code := s.run(10*time.Second, nil, "xdotool", "windowfocus", "--sync", win, "key", "--clearmodifiers", "ctrl+w"); code != 0 {
		t.Fatalf("xdotool key ctrl+w: exit %d %s", code, out)
	}
	select {
	case <-a.done:
		if code := a.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("corridor gui exit %d after closing its window; output:\n%s", code, a.log.String())
		}
	case <-time.After(15 * time.Second):
		a.stacks()
		t.Fatalf("corridor gui still runs 15 s after its window was closed with no tray (its goroutines are in the output below)")
	}
}

var pingReceived = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (packets )?received`)

// TestTrayConnectsRealTunnel: as root, a real SoftEther server and the
// corridor daemon in its client namespace; the app, started as a user
// would (keychain, config dir, the daemon's socket), connects the profile
// from the tray menu; the tunnel carries pings; Disconnect in the tray
// ends it.
func TestTrayConnectsRealTunnel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, runs SoftEther VPN Server, the helper and a TUN device")
	}
	needTools(t)
	srv := softether.Start(t)
	s := newSession(t)
	dir := t.TempDir()
	socket := filepath.Join(dir, "corridor.sock")
	extra := []string{"CORRIDOR_CONFIG_DIR=" + filepath.Join(dir, "config"), "CORRIDOR_SOCKET=" + socket}

	// ip netns exec bind-mounts /etc/netns/NS/resolv.conf over
	// /etc/resolv.conf: the helper's DNS changes stay in the namespace.
	nsdir := filepath.Join("/etc/netns", srv.ClientNS)
	if err := os.MkdirAll(nsdir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(nsdir) })
	if err := os.WriteFile(filepath.Join(nsdir, "resolv.conf"), []byte("nameserver 10.99.99.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The helper in the client namespace.
	dlog := &syncBuf{}
	d := srv.Command(context.Background(), corridorBin, "daemon", "-v", "--socket", socket, "--journal", filepath.Join(dir, "journal"))
	d.Stdout, d.Stderr = dlog, dlog
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	ddone := make(chan struct{})
	go func() { d.Wait(); close(ddone) }()
	t.Cleanup(func() {
		stop(d.Process, ddone, 20*time.Second)
		if t.Failed() {
			t.Logf("daemon log:\n%s", dlog.String())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("the daemon does not listen; log:\n%s", dlog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	s.addProfile(extra, "office", srv.Addr, srv.User, srv.Password, srv.PSK)
	a := s.startApp(extra)
	a.waitWindow(60 * time.Second)
	a.waitTray(30 * time.Second)
	a.waitTitle("Corridor: disconnected", 30*time.Second)

	connect := a.waitItem("Connect office", true, 10*time.Second)
	t.Logf("tray menu: %v", labels(a.layout()))
	start := time.Now()
	a.click(connect)

	// The helper reports the session connected.
	var st core.Status
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, code := s.run(10*time.Second, extra, corridorBin, "status", "--json")
		var rep core.StatusReport
		if code == 0 && json.Unmarshal([]byte(out), &rep) == nil && rep.Version == core.StatusReportVersion && len(rep.Sessions) == 1 {
			st = rep.Sessions[0]
			if st.State == core.StateConnected {
				break
			}
			if st.State == core.StateFailed {
				t.Fatalf("the session failed: %+v", st.Error)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected 90 s after the tray click; last status exit %d:\n%s", code, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("connected %v after the tray click: %s on %s via %s (%s, %s)", time.Since(start).Round(time.Millisecond),
		st.Address, st.Interface, st.Server, st.IKE, st.ESP)
	if st.Interface != "corridor0" || !strings.HasPrefix(st.Address, "192.168.30.") {
		t.Errorf("status %+v", st)
	}

	// Packets through the tunnel.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	out, _ := srv.Command(ctx, "ping", "-c", "5", "-i", "0.3", "-W", "2", "-I", "corridor0", "192.168.30.1").CombinedOutput()
	cancel()
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping output not understood:\n%s", out)
	}
	if n, _ := strconv.Atoi(string(m[2])); n < 4 {
		t.Errorf("ping 192.168.30.1 through corridor0: %s of 5 answered\n%s", m[2], out)
	} else {
		t.Logf("ping 192.168.30.1 through corridor0: %s of 5 answered", m[2])
	}

	// The app shows it: tray title, checked entry, "Disconnect office".
	a.waitTitle("Corridor: connected to office", 15*time.Second)
	disc := a.waitItem("Disconnect office", true, 10*time.Second)
	if it, _ := find(a.layout(), "Connect office"); !it.Checked || it.Enabled {
		t.Errorf("tray item %v: want checked and disabled while connected", it)
	}
	time.Sleep(1500 * time.Millisecond) // a few traffic graph samples
	a.screenshot("window-connected")

	a.click(disc)
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, code := s.run(10*time.Second, extra, corridorBin, "status", "--json")
		var rep core.StatusReport
		if code == 0 && json.Unmarshal([]byte(out), &rep) == nil && rep.Version == core.StatusReportVersion &&
			(len(rep.Sessions) == 0 || rep.Sessions[0].State == core.StateIdle) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not idle 30 s after Disconnect in the tray; status exit %d:\n%s", code, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	a.waitTitle("Corridor: disconnected", 15*time.Second)
	if srv.Command(context.Background(), "ip", "link", "show", "corridor0").Run() == nil {
		t.Errorf("corridor0 still exists after Disconnect")
	}
	a.waitItem("Connect office", true, 10*time.Second)
	a.screenshot("window-disconnected")
}
