package gui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// routeDNSFields are the editor's fields that do not apply in proxy mode.
func routeDNSFields(e *editor) map[string]fyne.Disableable {
	return map[string]fyne.Disableable{"tunnel": e.tunnel, "routes": e.routes, "classful": e.classful,
		"dns": e.dns, "dns_servers": e.dnsServers, "domains": e.domains}
}

// proxyShown reports whether the proxy address row shows.
func proxyShown(e *editor) bool { return e.proxyRow[0].Visible() && e.proxyRow[1].Visible() }

// Ticking "Connect without admin rights" shows the proxy address and
// the note, disables routes and DNS, and saves mode = "proxy" with the
// typed address; clearing it again gives the fields back.
func TestEditorProxyModeSaves(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	u := h.u
	e := h.edit("office")
	if e.proxyMode.Checked || proxyShown(e) || e.proxyNote.Visible() {
		t.Fatalf("a TUN profile: box ticked %v, proxy field shown %v, note shown %v",
			e.proxyMode.Checked, proxyShown(e), e.proxyNote.Visible())
	}
	if !strings.Contains(e.proxyMode.Text, "without admin rights") {
		t.Errorf("check box %q", e.proxyMode.Text)
	}
	e.tunnel.SetSelected(tunnelChoices[1])
	test.Type(e.routes, "10.0.0.0/8")
	e.dns.SetSelected(dnsChoices[2])
	test.Type(e.dnsServers, "10.0.0.53")

	test.Tap(e.proxyMode)
	if !proxyShown(e) || !e.proxyNote.Visible() {
		t.Fatal("proxy mode: the proxy address or the note is not shown")
	}
	if !strings.Contains(e.proxyNote.Text, "nothing on this computer is changed") {
		t.Errorf("note %q", e.proxyNote.Text)
	}
	for name, w := range routeDNSFields(e) {
		if !w.Disabled() {
			t.Errorf("proxy mode: %s is enabled", name)
		}
	}
	if e.proxy.PlaceHolder != profile.DefaultProxy {
		t.Errorf("placeholder %q", e.proxy.PlaceHolder)
	}
	e.proxy.SetText("")
	test.Type(e.proxy, "127.0.0.1:1090")
	if m := shown(e, "proxy"); m != "" || e.save.Disabled() {
		t.Fatalf("a loopback address: message %q, Save disabled %v (%v)", m, e.save.Disabled(), visibleMessages(e))
	}

	// Clearing the box enables the fields again; ticking it keeps them.
	test.Tap(e.proxyMode)
	for name, w := range routeDNSFields(e) {
		if w.Disabled() {
			t.Errorf("TUN mode again: %s is disabled", name)
		}
	}
	if proxyShown(e) || e.proxyNote.Visible() {
		t.Error("TUN mode again: the proxy address or the note still shows")
	}
	test.Tap(e.proxyMode)

	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("saves %+v", saves)
	}
	p := saves[0].Profile
	if p.Mode != profile.ModeProxy || p.Proxy != "127.0.0.1:1090" {
		t.Errorf("saved mode %q proxy %q, want proxy 127.0.0.1:1090", p.Mode, p.Proxy)
	}
	// What routes and DNS held is kept for TUN mode.
	if p.FullTunnel || strings.Join(p.Routes, ",") != "10.0.0.0/8" || p.DNS != profile.DNSCustom {
		t.Errorf("saved routes %v (full %v), dns %q", p.Routes, p.FullTunnel, p.DNS)
	}
	if u.editing != nil {
		t.Errorf("the editor stays open: %v", visibleMessages(e))
	}
}

// The proxy asks for no password, so its address must be a loopback one:
// another is refused under the field, with Save disabled. The address
// does not matter in TUN mode: a bad one typed there does not block Save.
func TestEditorProxyAddressMustBeLoopback(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	test.Tap(e.proxyMode)
	e.proxy.SetText("")
	test.Type(e.proxy, "0.0.0.0:1080")
	if m := shown(e, "proxy"); !strings.Contains(m, "loopback") {
		t.Errorf("proxy message %q, want the loopback one", m)
	}
	if !e.save.Disabled() {
		t.Error("Save enabled with the proxy on 0.0.0.0")
	}
	e.proxy.SetText("127.0.0.1:1080x")
	if m := shown(e, "proxy"); !strings.Contains(m, "ADDR:PORT") || !e.save.Disabled() {
		t.Errorf("proxy 127.0.0.1:1080x: message %q, Save disabled %v", m, e.save.Disabled())
	}

	test.Tap(e.proxyMode)
	if m := shown(e, "proxy"); m != "" || e.save.Disabled() {
		t.Fatalf("TUN mode with a bad proxy address typed: message %q, Save disabled %v", m, e.save.Disabled())
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("saves %+v", saves)
	}
	if p := saves[0].Profile; p.IsProxy() || p.Proxy != profile.DefaultProxy {
		t.Errorf("saved mode %q proxy %q, want TUN and the stored proxy address", p.Mode, p.Proxy)
	}
}

// Routes and DNS do not apply in proxy mode: a bad route typed before
// the box was ticked does not block Save (its field is disabled), and
// the stored routes are kept.
func TestEditorProxyModeIgnoresBadRoute(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	e.tunnel.SetSelected(tunnelChoices[1])
	test.Type(e.routes, "10.1.2.3/8")
	if m := shown(e, "routes"); !strings.Contains(m, "host bits") || !e.save.Disabled() {
		t.Fatalf("bad route: message %q, Save disabled %v", m, e.save.Disabled())
	}
	test.Tap(e.proxyMode)
	if m := shown(e, "routes"); m != "" || e.save.Disabled() {
		t.Fatalf("proxy mode with a bad route typed: message %q, Save disabled %v", m, e.save.Disabled())
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("saves %+v", saves)
	}
	if p := saves[0].Profile; !p.IsProxy() || !p.FullTunnel || len(p.Routes) != 0 {
		t.Errorf("saved mode %q, full tunnel %v, routes %v; want proxy with the stored full tunnel", p.Mode, p.FullTunnel, p.Routes)
	}
}

// A saved proxy-mode profile opens with the box ticked, its address
// filled in, routes and DNS disabled; saving it unchanged keeps both.
func TestEditorLoadsProxyProfile(t *testing.T) {
	b := newBackendWith()
	p := testProfile("socks")
	p.Mode, p.Proxy = profile.ModeProxy, "[::1]:9050"
	b.AddProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	h := newHarness(t, b)
	e := h.edit("socks")
	if !e.proxyMode.Checked || e.proxy.Text != "[::1]:9050" || !proxyShown(e) || !e.proxyNote.Visible() {
		t.Fatalf("proxy profile: box ticked %v, proxy %q (shown %v), note shown %v",
			e.proxyMode.Checked, e.proxy.Text, proxyShown(e), e.proxyNote.Visible())
	}
	for name, w := range routeDNSFields(e) {
		if !w.Disabled() {
			t.Errorf("proxy profile: %s is enabled", name)
		}
	}
	if e.dirty() {
		t.Error("loading marked the editor as edited")
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("saves %+v (messages %v)", saves, visibleMessages(e))
	}
	if got := saves[0].Profile; got.Mode != profile.ModeProxy || got.Proxy != "[::1]:9050" {
		t.Errorf("saved mode %q proxy %q", got.Mode, got.Proxy)
	}
}

// A connected proxy-mode session shows where its proxy listens, with a
// Copy button and how to use it, and no TUN device; a TUN session shows
// none of that.
func TestConnectedProxySession(t *testing.T) {
	b := newBackendWith("office")
	p := testProfile("socks")
	p.Mode = profile.ModeProxy
	b.AddProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	h := newHarness(t, b)
	u := h.u
	h.start()
	u.selectProfile("socks")
	d := u.detail
	if !strings.Contains(d.idle.values["Traffic"].Text, "proxy on 127.0.0.1:1080") {
		t.Errorf("idle Traffic %q", d.idle.values["Traffic"].Text)
	}
	h.state(core.Status{Profile: "socks", State: core.StateConnected, Address: "192.168.30.10", MTU: 1400,
		Proxy: "127.0.0.1:1080"})
	if !d.conn.content.Visible() || !d.conn.proxyBox.Visible() {
		t.Fatal("the connected proxy session's proxy is not shown")
	}
	if got := d.conn.proxyLine.Text; got != "Proxy: socks5 and http on 127.0.0.1:1080" {
		t.Errorf("proxy line %q", got)
	}
	for _, want := range []string{"SOCKS5 127.0.0.1:1080", "ALL_PROXY=socks5h://127.0.0.1:1080", "https_proxy=http://127.0.0.1:1080"} {
		if !strings.Contains(d.conn.proxyHow.Text, want) {
			t.Errorf("how-to %q lacks %q", d.conn.proxyHow.Text, want)
		}
	}
	if got := d.conn.values["Interface"].Text; !strings.Contains(got, "no TUN device") {
		t.Errorf("Interface %q", got)
	}
	noted := false
	for _, n := range h.notifications() {
		noted = noted || strings.Contains(n.Content, "through the proxy on 127.0.0.1:1080")
	}
	if !noted {
		t.Error("the connected notification does not say where the proxy is")
	}
	copyBtn := findButton(d.conn.content, "Copy")
	if copyBtn == nil {
		t.Fatal("no Copy button")
	}
	h.a.Clipboard().SetContent("")
	test.Tap(copyBtn)
	h.settle()
	if got := h.a.Clipboard().Content(); got != "127.0.0.1:1080" {
		t.Errorf("clipboard %q, want 127.0.0.1:1080", got)
	}

	u.selectProfile("office")
	h.state(core.Status{Profile: "office", State: core.StateConnected, Address: "192.168.30.11", Interface: "corridor0"})
	if d.conn.proxyBox.Visible() {
		t.Error("a TUN session shows a proxy")
	}
	if got := d.conn.values["Interface"].Text; got != "corridor0" {
		t.Errorf("Interface %q", got)
	}
}

// fakeUserEngine is this user's own session runner as the UI sees it:
// the test sends its events.
type fakeUserEngine struct {
	events chan core.Event
	status []core.Status
}

func (f *fakeUserEngine) Up(context.Context, core.UpRequest) error { return nil }
func (f *fakeUserEngine) Down(context.Context, string) error       { return nil }
func (f *fakeUserEngine) Status(context.Context) ([]core.Status, error) {
	return f.status, nil
}
func (f *fakeUserEngine) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	out := make(chan core.Event)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-f.events:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
func (f *fakeUserEngine) Running(context.Context) bool { return true }
func (f *fakeUserEngine) Start(context.Context) error  { return nil }

// splitBackend is the fake backend with a user engine beside it, as
// core.Service has with a core.Split.
type splitBackend struct {
	*guitest.Backend
	user *fakeUserEngine
}

func (b splitBackend) UserEngine() core.UserEngine { return b.user }

// TestProxyProfileWithoutHelper: with the helper away, a proxy-mode
// profile can still be connected (its session runs in the user's own
// runner) while a TUN profile cannot, and the runner's events reach the
// view: connected, with the proxy address; a session the runner already
// had shows at start.
func TestProxyProfileWithoutHelper(t *testing.T) {
	b := newBackendWith("office")
	px := testProfile("socks")
	px.Mode = profile.ModeProxy
	b.AddProfile(px, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	b.SetPingError(guitest.HelperDown())
	ue := &fakeUserEngine{events: make(chan core.Event),
		status: []core.Status{{Profile: "socks", State: core.StateIKEPhase1, Since: time.Now()}}}
	h := newHarnessOn(t, b, splitBackend{Backend: b, user: ue})
	u := h.u
	h.startNoWait()
	h.waitCounter("ping", &u.pings, 1)

	u.selectProfile("office")
	if !u.detail.action.Disabled() {
		t.Error("Connect enabled for a TUN profile while the helper is down")
	}
	// The runner's session at start shows (its status snapshot).
	deadline := time.Now().Add(5 * time.Second)
	for u.status("socks").State != core.StateIKEPhase1 {
		if time.Now().After(deadline) {
			t.Fatalf("the runner's session did not show: %+v", u.status("socks"))
		}
		h.loop.run()
		time.Sleep(time.Millisecond)
	}
	n := u.events.Load()
	ue.events <- core.Event{Kind: core.EventState, Status: core.Status{Profile: "socks", State: core.StateIdle, Since: time.Now()}}
	h.waitCounter("event", &u.events, n+1)
	u.selectProfile("socks")
	if u.detail.action.Disabled() {
		t.Fatal("Connect disabled for a proxy-mode profile while the helper is down")
	}
	test.Tap(u.detail.action)
	h.settle()
	if !b.Called("connect socks") {
		t.Fatalf("no connect: %v", b.Calls())
	}
	n = u.events.Load()
	ue.events <- core.Event{Kind: core.EventState, Status: core.Status{Profile: "socks", State: core.StateConnected,
		Since: time.Now(), Connected: time.Now(), Address: "192.168.30.10", Interface: "userspace", Proxy: "127.0.0.1:1080"}}
	h.waitCounter("event", &u.events, n+1)
	if st := u.status("socks"); st.State != core.StateConnected || st.Proxy != "127.0.0.1:1080" {
		t.Errorf("status after the runner's event: %+v", st)
	}
	if u.TrayState() != TrayConnected {
		t.Errorf("tray %v, want connected", u.TrayState())
	}
}
