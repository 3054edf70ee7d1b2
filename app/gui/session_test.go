package gui

import (
	"math"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

func TestConnectFlowProgressConnectedCancel(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	h.start()
	if u.selected != "office" {
		t.Fatalf("selected %q", u.selected)
	}
	d := u.detail
	if d.action.Text != "Connect" || d.action.Disabled() {
		t.Fatalf("action button %q disabled=%v", d.action.Text, d.action.Disabled())
	}
	test.Tap(d.action)
	h.settle()
	if !h.b.Called("connect office") {
		t.Fatalf("Connect not called: %v", h.b.Calls())
	}
	if !d.prog.content.Visible() || d.prog.current != 0 {
		t.Errorf("after Connect: progress visible %v, current %d", d.prog.content.Visible(), d.prog.current)
	}

	start := time.Now()
	for i, s := range stages {
		h.state(core.Status{Profile: "office", State: s, Since: start, Detail: "working on " + string(s)})
		if !d.prog.content.Visible() {
			t.Fatalf("%s: progress view hidden", s)
		}
		if d.prog.current != i {
			t.Fatalf("%s: current stage %d, want %d", s, d.prog.current, i)
		}
		for j, l := range d.prog.labels {
			hl := l.Importance == widget.HighImportance && l.TextStyle.Bold
			if hl != (j == i) {
				t.Errorf("%s: stage %d (%s) highlighted=%v", s, j, stages[j], hl)
			}
		}
		if !strings.HasPrefix(d.prog.elapsed.Text, "Elapsed ") {
			t.Errorf("%s: elapsed %q", s, d.prog.elapsed.Text)
		}
		if !strings.Contains(d.prog.detail.Text, string(s)) {
			t.Errorf("%s: detail %q", s, d.prog.detail.Text)
		}
		if u.TrayState() != TrayConnecting {
			t.Errorf("%s: tray %v", s, u.TrayState())
		}
	}

	up := core.Status{Profile: "office", State: core.StateConnected, Since: start, Connected: start,
		Server: "203.0.113.5", Address: "192.168.30.10", Peer: "192.168.30.1", DNS: []string{"192.168.30.1"},
		Interface: "corridor0", MTU: 1400,
		IKE: "AES-CBC-256/HMAC-SHA2-256/MODP2048", ESP: "AES-CBC-128/HMAC-SHA1-96"}
	h.state(up)
	if !d.conn.content.Visible() || d.prog.content.Visible() {
		t.Fatal("connected view not shown")
	}
	for field, want := range map[string]string{"Server": "203.0.113.5", "Address": "192.168.30.10", "DNS": "192.168.30.1",
		"IKE": "MODP2048", "ESP": "HMAC-SHA1-96", "Interface": "corridor0"} {
		if got := d.conn.values[field].Text; !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q in it", field, got, want)
		}
	}
	if d.action.Text != "Disconnect" {
		t.Errorf("action %q while connected", d.action.Text)
	}
	for i := 1; i <= 3; i++ {
		st := up
		st.Stats = core.Stats{RxBytes: uint64(i) * 1500000, TxBytes: uint64(i) * 20000, RxPackets: uint64(i) * 1000, TxPackets: uint64(i) * 200,
			RxRate: float64(i) * 100000, TxRate: 2000}
		h.send(core.Event{Kind: core.EventStats, Status: st})
	}
	if got := d.conn.values["Received"].Text; !strings.Contains(got, "4.5 MB") || !strings.Contains(got, "3,000") || !strings.Contains(got, "300 kB/s") {
		t.Errorf("Received = %q", got)
	}
	if got := d.conn.values["Sent"].Text; !strings.Contains(got, "60 kB") || !strings.Contains(got, "2.0 kB/s") {
		t.Errorf("Sent = %q", got)
	}
	rx, tx := d.conn.graph.Samples()
	if len(rx) != 3 || rx[2] != 300000 || tx[0] != 2000 {
		t.Errorf("graph samples %v %v", rx, tx)
	}
	if !hasNotification(h, "Connected to office") {
		t.Errorf("no connected notification: %v", h.notifications())
	}

	// Disconnect, then a new connect cancelled at the PPP stage.
	test.Tap(d.action)
	h.settle()
	if !h.b.Called("disconnect office") {
		t.Fatal("Disconnect not called")
	}
	h.state(core.Status{Profile: "office", State: core.StateDisconnecting})
	h.state(core.Status{Profile: "office", State: core.StateIdle})
	if hasNotification(h, "unexpectedly") {
		t.Error("a disconnect the user asked for was reported as unexpected")
	}
	calls := len(h.b.Calls())
	h.state(core.Status{Profile: "office", State: core.StatePPPAuth})
	if !d.prog.cancel.Visible() || d.action.Visible() {
		t.Error("Cancel hidden or Connect shown while connecting")
	}
	test.Tap(d.prog.cancel)
	h.settle()
	if got := h.b.Calls()[calls:]; !contains(got, "disconnect office") {
		t.Errorf("Cancel did not call Disconnect: %v", got)
	}
}

func TestCancelBeforeConnectReturns(t *testing.T) {
	b := newBackendWith("office")
	release := b.BlockConnect()
	h := newHarness(t, b)
	h.start()
	d := h.u.detail
	test.Tap(d.action)
	if !b.WaitCall("connect office", 5*time.Second) {
		t.Fatal("Connect not called")
	}
	if !d.prog.content.Visible() || !d.prog.cancel.Visible() {
		t.Fatal("no Cancel while Connect is on its way")
	}
	test.Tap(d.prog.cancel)
	if !b.WaitCall("disconnect office", 5*time.Second) {
		t.Fatal("Cancel did not call Disconnect")
	}
	release()
	h.settle()
	calls := b.Calls()
	i := index(calls, "connect office returned")
	if i < 0 || !contains(calls[i:], "disconnect office") {
		t.Errorf("no Disconnect after the late Connect returned: %v", calls)
	}
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func hasNotification(h *harness, substr string) bool {
	for _, n := range h.notifications() {
		if strings.Contains(n.Content, substr) || strings.Contains(n.Title, substr) {
			return true
		}
	}
	return false
}

func TestErrorDisplayShowDetailsOpensLog(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	h.start()
	h.state(core.Status{Profile: "office", State: core.StateIKEPhase1})
	h.send(core.Event{Kind: core.EventLog, Level: "DEBUG", Line: "sent main mode message 5", Status: core.Status{Profile: "office", State: core.StateIKEPhase1}})
	fail := core.Status{Profile: "office", State: core.StateFailed, Error: &core.ErrorInfo{Class: core.ClassAuth,
		Msg:  "the server stopped answering once we proved the pre-shared key: the pre-shared key is probably wrong",
		Hint: "check the pre-shared key (PSK, \"shared secret\") with your administrator; it is not your password"}}
	h.state(fail)
	p := u.detail.prob
	if !p.content.Visible() {
		t.Fatal("problem view hidden")
	}
	if !strings.Contains(p.msg.Text, "pre-shared key is probably wrong") {
		t.Errorf("message %q", p.msg.Text)
	}
	if !p.hint.Visible() || !strings.Contains(p.hint.Text, "with your administrator") {
		t.Errorf("hint %q (visible %v)", p.hint.Text, p.hint.Visible())
	}
	if p.details.Text != "Show details" {
		t.Errorf("details button %q", p.details.Text)
	}
	if u.tabs.Selected() == u.logTab {
		t.Fatal("log tab selected before Show details")
	}
	test.Tap(p.details)
	if u.tabs.Selected() != u.logTab {
		t.Error("Show details did not open the log")
	}
	text := u.logv.text()
	if !strings.Contains(text, "pre-shared key is probably wrong") || !strings.Contains(text, "ERROR") || !strings.Contains(text, "main mode message 5") {
		t.Errorf("log view:\n%s", text)
	}
	if got := u.logv.grid.Text(); !strings.Contains(got, "DEBUG") {
		t.Errorf("log grid:\n%s", got)
	}
	if u.TrayState() != TrayError || !strings.Contains(u.TrayTitle(), "failed") {
		t.Errorf("tray %v %q", u.TrayState(), u.TrayTitle())
	}
	if !hasNotification(h, "Could not connect to office") {
		t.Errorf("no failure notification: %v", h.notifications())
	}
	// Warnings-only filter hides the debug line.
	u.logv.filter.SetSelected(logFilters[2])
	if strings.Contains(u.logv.grid.Text(), "main mode message 5") {
		t.Error("the filter keeps debug lines")
	}
	// Try again connects.
	test.Tap(p.again)
	h.settle()
	if !h.b.Called("connect office") {
		t.Error("Try again did not connect")
	}
}

func TestConnectErrorShowsPlainWords(t *testing.T) {
	b := newBackendWith("office")
	b.SetConnectError(&core.Error{Class: core.ClassUsage, Msg: `no password stored for profile "office"`, Err: profile.ErrNoSecret,
		Hint: "store it with: corridor profile edit office --password-file FILE"})
	h := newHarness(t, b)
	h.start()
	test.Tap(h.u.detail.action)
	h.settle()
	p := h.u.detail.prob
	if !p.content.Visible() || !strings.Contains(p.msg.Text, "No password stored") || !strings.Contains(p.hint.Text, "Edit") {
		t.Errorf("problem view: visible %v msg %q hint %q", p.content.Visible(), p.msg.Text, p.hint.Text)
	}
}

// A full tunnel refused beside another session: the window shows the
// helper's plain words and its own wording of the hint (several tunnels at
// once, core/multi.go).
func TestConnectRefusedBesideAnotherTunnel(t *testing.T) {
	b := newBackendWith("office")
	b.SetConnectError(&core.Error{Class: core.ClassUsage, HintKey: core.HintDisconnectFirst, HintArg: "lab",
		Msg:  `profile "office" sends all traffic through its tunnel, and profile "lab" is connected: a tunnel for all traffic cannot share the machine with another tunnel`,
		Hint: `disconnect profile "lab" first, or give the profiles routes that do not overlap (split tunnels)`})
	h := newHarness(t, b)
	h.start()
	test.Tap(h.u.detail.action)
	h.settle()
	p := h.u.detail.prob
	if !p.content.Visible() || !strings.Contains(p.msg.Text, "cannot share the machine with another tunnel") ||
		!strings.Contains(p.hint.Text, "Disconnect lab first") || strings.Contains(p.hint.Text, "corridor ") {
		t.Errorf("problem view: visible %v msg %q hint %q", p.content.Visible(), p.msg.Text, p.hint.Text)
	}
}

func TestNotificationsOnDropAndReconnect(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	h.start()
	h.state(core.Status{Profile: "office", State: core.StateConnected, Address: "192.168.30.10"})
	drop := &core.ErrorInfo{Msg: "the connection died: the server stopped answering keepalives"}
	h.state(core.Status{Profile: "office", State: core.StateReconnecting, Error: drop, Attempt: 1, NextTry: time.Now().Add(3 * time.Second)})
	if !hasNotification(h, "reconnecting") {
		t.Errorf("no reconnecting notification: %v", h.notifications())
	}
	p := h.u.detail.prob
	if !p.content.Visible() || !strings.Contains(p.title.Text, "reconnecting") || p.again.Text != "Cancel" {
		t.Errorf("reconnecting view: %q / %q", p.title.Text, p.again.Text)
	}
	h.state(core.Status{Profile: "office", State: core.StateResolving, Attempt: 1})
	h.state(core.Status{Profile: "office", State: core.StateConnected})
	h.state(core.Status{Profile: "office", State: core.StateFailed, Error: drop})
	if !hasNotification(h, "Disconnected from office unexpectedly") {
		t.Errorf("no unexpected-disconnect notification: %v", h.notifications())
	}
}

func TestHelperNotRunningBanner(t *testing.T) {
	b := newBackendWith("office")
	b.SetPingError(guitest.HelperDown())
	h := newHarness(t, b)
	u := h.u
	h.startNoWait()
	h.waitCounter("ping", &u.pings, 1)
	ban := u.banner
	if !ban.content.Visible() {
		t.Fatal("no banner while the helper is down")
	}
	if !strings.Contains(ban.msg.Text, "helper is not running") {
		t.Errorf("banner message %q", ban.msg.Text)
	}
	if !strings.Contains(ban.hint.Text, "sudo systemctl start corridor") || !strings.Contains(ban.hint.Text, "sudo corridor daemon") {
		t.Errorf("banner hint %q", ban.hint.Text)
	}
	test.Tap(ban.copyBtn)
	if got := h.a.Clipboard().Content(); got != "sudo systemctl start corridor" {
		t.Errorf("copied %q", got)
	}
	if u.TrayState() != TrayError || !strings.Contains(u.TrayTitle(), "helper is not running") {
		t.Errorf("tray %v %q", u.TrayState(), u.TrayTitle())
	}
	if !u.detail.action.Disabled() {
		t.Error("Connect enabled while the helper is down")
	}

	b.SetPingError(nil)
	h.waitCounter("status snapshot", &u.syncs, 1)
	if ban.content.Visible() {
		t.Error("banner still shown after the helper answered")
	}
	if u.TrayState() != TrayDisconnected {
		t.Errorf("tray %v after the helper answered", u.TrayState())
	}
}

func TestTrafficGraph(t *testing.T) {
	test.NewTempApp(t)
	g := NewTrafficGraph(5)
	w := test.NewWindow(g)
	defer w.Close()
	w.Resize(fyne.NewSize(400, 200))
	for i := 1; i <= 7; i++ {
		g.Add(float64(i*1000), float64(i*100))
	}
	rx, tx := g.Samples()
	if len(rx) != 5 || rx[0] != 3000 || rx[4] != 7000 || tx[4] != 700 {
		t.Fatalf("samples %v %v", rx, tx)
	}
	if g.Peak() != 7000 || g.Scale() != 10000 {
		t.Errorf("peak %v scale %v", g.Peak(), g.Scale())
	}
	r := test.WidgetRenderer(g).(*graphRenderer)
	if len(r.rxLines) != 4 || len(r.txLines) != 4 {
		t.Fatalf("%d/%d line segments, want 4", len(r.rxLines), len(r.txLines))
	}
	size := g.Size()
	last := r.rxLines[3]
	if last.Position2.X != size.Width {
		t.Errorf("newest sample at x=%v, want the right edge %v", last.Position2.X, size.Width)
	}
	if !(last.Position2.Y < last.Position1.Y) {
		t.Errorf("a rising rate does not go up: %v -> %v", last.Position1, last.Position2)
	}
	if r.scale.Text != "10 kB/s" {
		t.Errorf("scale label %q", r.scale.Text)
	}
	g.Add(-5, math.Inf(1)) // nonsense rates are clamped
	if g.Peak() != 7000 {
		t.Errorf("peak after bad samples %v", g.Peak())
	}
	g.Reset()
	if rx, _ := g.Samples(); len(rx) != 0 || len(r.rxLines) != 0 {
		t.Error("Reset kept samples")
	}
}

func TestNiceCeilAndFormats(t *testing.T) {
	for v, want := range map[float64]float64{1000: 1000, 1001: 2000, 2500: 5000, 7000: 10000, 12e6: 20e6} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for n, want := range map[uint64]string{0: "0 B", 999: "999 B", 1500: "1.5 kB", 4500000: "4.5 MB", 60000: "60 kB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatCount(1234567); got != "1,234,567" {
		t.Errorf("formatCount = %q", got)
	}
	if got := elapsed(3723 * time.Second); got != "1:02:03" {
		t.Errorf("elapsed = %q", got)
	}
	if got := helperCommand("start it: sudo systemctl start corridor (or: sudo corridor daemon)"); got != "sudo systemctl start corridor" {
		t.Errorf("helperCommand = %q", got)
	}
}
