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

	loop  *uiLoop
	mu    sync.Mutex
	notes []*fyne.Notification
	trays atomic.Int64
}

// uiLoop stands in for Fyne's goroutine in the tests: the UI's do queues
// its function here and the test goroutine runs the queue (run, settle,
// waitFor). Fyne's test driver would run it at once on the background
// goroutine that asked, racing the test's own widget calls.
type uiLoop struct {
	u  *UI
	mu sync.Mutex
	fs []func()
}

// serialize makes u's do queue onto a loop that the test goroutine runs.
func serialize(u *UI) *uiLoop {
	l := &uiLoop{u: u}
	u.doFn = func(f func()) {
		l.mu.Lock()
		l.fs = append(l.fs, f)
		l.mu.Unlock()
	}
	return l
}

// run runs the queued functions, those they queue included, and says
// how many ran.
func (l *uiLoop) run() int {
	n := 0
	for i := 0; i < 10000; i++ {
		l.mu.Lock()
		fs := l.fs
		l.fs = nil
		l.mu.Unlock()
		if len(fs) == 0 {
			break
		}
		for _, f := range fs {
			f()
		}
		n += len(fs)
	}
	return n
}

// settle waits for the background calls of user actions and runs what
// they handed to the UI, until neither is left.
func (l *uiLoop) settle() {
	for i := 0; i < 1000; i++ {
		l.u.bg.Wait()
		if l.run() == 0 {
			return
		}
	}
	panic("uiLoop: the UI's background work did not settle after 1000 rounds")
}

// waitFor runs the loop until c reaches n, for at most 5 s.
func (l *uiLoop) waitFor(t *testing.T, what string, c *atomic.Int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.run()
		if c.Load() >= n {
			l.run()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s %d (have %d)", what, n, c.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func newHarness(t *testing.T, b *guitest.Backend) *harness {
	t.Helper()
	return newHarnessOn(t, b, b)
}

// newHarnessOn is newHarness with the UI on front, a backend built
// around b.
func newHarnessOn(t *testing.T, b *guitest.Backend, front Backend) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	h := &harness{t: t, b: b, a: a, w: w}
	u := New(a, w, front)
	u.tickEvery = 0
	u.pingEvery = 5 * time.Millisecond
	u.callTimeout = 2 * time.Second
	h.loop = serialize(u)
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
	h.loop.waitFor(h.t, what, c, n)
}

// settle waits for the background calls of user actions and applies
// their results to the widgets.
func (h *harness) settle() { h.loop.settle() }

// edit opens the editor on the saved profile name and waits until its
// stored secrets are in the fields.
func (h *harness) edit(name string) *editor {
	h.u.editExisting(name)
	e := h.u.editing
	<-e.loaded
	h.settle()
	return e
}

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
