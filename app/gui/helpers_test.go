package gui

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// harness is a UI on Fyne's test app with the fake backend.
type harness struct {
	t      *testing.T
	u      *UI
	b      *guitest.Backend
	a      fyne.App
	w      fyne.Window
	cancel context.CancelFunc

	mu    sync.Mutex
	notes []*fyne.Notification
	trays atomic.Int64
}

func newHarness(t *testing.T, b *guitest.Backend) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	h := &harness{t: t, b: b, a: a, w: w}
	u := New(a, w, b)
	u.tickEvery = 0
	u.pingEvery = 5 * time.Millisecond
	u.callTimeout = 2 * time.Second
	u.notify = func(n *fyne.Notification) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notes = append(h.notes, n)
	}
	u.OnTrayChange(func() { h.trays.Add(1) })
	h.u = u
	t.Cleanup(func() {
		if h.cancel != nil {
			h.cancel()
		}
		u.bg.Wait()
		w.Close()
	})
	return h
}

// start runs Start and waits until the UI has the helper's statuses.
func (h *harness) start() {
	h.t.Helper()
	h.startNoWait()
	h.waitCounter("status snapshot", &h.u.syncs, 1)
}

// startNoWait runs Start.
func (h *harness) startNoWait() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.u.Start(ctx)
}

// send feeds one event and waits until the UI has applied it.
func (h *harness) send(ev core.Event) {
	h.t.Helper()
	n := h.u.events.Load()
	if err := h.b.Send(ev); err != nil {
		h.t.Fatal(err)
	}
	h.waitCounter("event", &h.u.events, n+1)
}

// state sends an EventState for st.
func (h *harness) state(st core.Status) {
	h.t.Helper()
	h.send(core.Event{Kind: core.EventState, Status: st})
}

func (h *harness) waitCounter(what string, c *atomic.Int64, n int64) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Load() < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s %d (have %d)", what, n, c.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// settle waits for the background calls of user actions.
func (h *harness) settle() { h.u.bg.Wait() }

func (h *harness) notifications() []*fyne.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*fyne.Notification(nil), h.notes...)
}

// testProfile is a valid profile with IPsec.
func testProfile(name string) profile.Profile {
	p := profile.NewProfile(name)
	p.Server = "vpn.example.com"
	p.User = "alice"
	return p
}

func newBackendWith(names ...string) *guitest.Backend {
	b := guitest.New()
	for _, n := range names {
		b.AddProfile(testProfile(n), map[profile.SecretKind]string{
			profile.SecretPassword: "pw-of-" + n, profile.SecretPSK: "psk-of-" + n})
	}
	return b
}
