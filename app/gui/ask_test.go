package gui

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/zalando/go-keyring"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// upEngine is a core.Engine without sessions that keeps its UpRequests.
type upEngine struct {
	mu  sync.Mutex
	ups []core.UpRequest
}

func (e *upEngine) Up(_ context.Context, req core.UpRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ups = append(e.ups, req)
	return nil
}
func (e *upEngine) Down(context.Context, string) error            { return nil }
func (e *upEngine) Status(context.Context) ([]core.Status, error) { return nil, nil }
func (e *upEngine) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func (e *upEngine) requests() []core.UpRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]core.UpRequest(nil), e.ups...)
}

// Connect on a profile that asks for its password opens a password
// dialog; what is typed there reaches the engine's UpRequest (through the
// real core.Service), and the keychain holds no password.
func TestConnectAskProfileShowsPasswordDialog(t *testing.T) {
	keyring.MockInit()
	st, err := profile.OpenStore(filepath.Join(t.TempDir(), "corridor"), profile.NewKeyring())
	if err != nil {
		t.Fatal(err)
	}
	eng := &upEngine{}
	svc := core.NewService(st, eng)
	p := testProfile("office")
	p.AskPassword = true
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPSK: "psk-of-office"}); err != nil {
		t.Fatal(err)
	}

	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	u := New(a, w, svc)
	u.tickEvery = 0
	u.pingEvery = 5 * time.Millisecond
	u.callTimeout = 2 * time.Second
	loop := serialize(u)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); u.bg.Wait(); w.Close() })
	u.Start(ctx)
	loop.waitFor(t, "status snapshot", &u.syncs, 1)
	u.selectProfile("office")
	if u.detail.action.Disabled() {
		t.Fatal("Connect is disabled")
	}

	test.Tap(u.detail.action)
	f := u.asking
	if f == nil || w.Canvas().Overlays().Top() == nil {
		t.Fatal("Connect on an asking profile shows no dialog")
	}
	if _, ok := f.entries[profile.SecretPSK]; ok || len(f.entries) != 1 {
		t.Errorf("the dialog asks for %d secrets, want the password only", len(f.entries))
	}
	if n := len(eng.requests()); n != 0 {
		t.Fatalf("%d UpRequests before the password was typed", n)
	}
	pw := f.entries[profile.SecretPassword]
	if !pw.Password {
		t.Error("the password entry shows what is typed")
	}
	test.Type(pw, "typed-Pw-42")
	f.dlg.Submit()
	loop.settle()

	ups := eng.requests()
	if len(ups) != 1 {
		t.Fatalf("%d UpRequests, want 1", len(ups))
	}
	if got := ups[0].Secrets; got[profile.SecretPassword] != "typed-Pw-42" || got[profile.SecretPSK] != "psk-of-office" {
		t.Errorf("UpRequest secrets: password %q, psk %q", got[profile.SecretPassword], got[profile.SecretPSK])
	}
	if u.asking != nil || pw.Text != "" {
		t.Error("the dialog or its text outlived the connect")
	}
	if _, err := st.Secrets().Get("office", profile.SecretPassword); err == nil {
		t.Error("the typed password was stored")
	}

	// Cancel connects nothing.
	u.setStatus(core.Status{Profile: "office", State: core.StateIdle, Since: time.Now()}, false)
	test.Tap(u.detail.action)
	if u.asking == nil {
		t.Fatal("no dialog the second time")
	}
	test.Type(u.asking.entries[profile.SecretPassword], "not-sent")
	u.asking.dlg.Hide()
	loop.settle()
	if n := len(eng.requests()); n != 1 {
		t.Errorf("%d UpRequests after Cancel, want still 1", n)
	}
}

// The editor's "Ask for the password at every connect" check box: no
// password needed to save, none handed to the keychain, ask_password set.
func TestEditorAskPasswordCheckbox(t *testing.T) {
	h := newHarness(t, newBackendWith("home"))
	u := h.u
	u.editNew()
	e := u.editing
	if e == nil {
		t.Fatal("no editor open")
	}
	if !strings.Contains(e.askPassword.Text, "Ask for the password at every connect") {
		t.Errorf("check box %q", e.askPassword.Text)
	}
	test.Type(e.name, "office")
	test.Type(e.server, "vpn.example.com")
	test.Type(e.user, "alice")
	test.Type(e.psk, "shared-PSK-value")
	test.Type(e.password, "typed-then-asked")
	test.Tap(e.askPassword)
	if !e.askPassword.Checked || !e.password.Disabled() {
		t.Fatalf("checked %v, password entry disabled %v", e.askPassword.Checked, e.password.Disabled())
	}
	if e.save.Disabled() {
		t.Fatalf("Save disabled; messages: %v", visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 {
		t.Fatalf("%d saves", len(saves))
	}
	s := saves[0]
	if !s.Profile.AskPassword {
		t.Error("saved without ask_password")
	}
	if _, ok := s.Secrets[profile.SecretPassword]; ok {
		t.Error("a password went to the keychain")
	}
	if s.Secrets[profile.SecretPSK] != "shared-PSK-value" {
		t.Errorf("psk %q", s.Secrets[profile.SecretPSK])
	}
}
