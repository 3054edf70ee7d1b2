package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel"
)

// fakeClock fires After channels only when the test advances time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	waits  chan time.Duration // every After call, for the test to see
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), waits: make(chan time.Duration, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	select {
	case c.waits <- d:
	default:
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

type fakeLink struct {
	done   chan struct{}
	err    error
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	stats  tunnel.Stats
}

func newFakeLink() *fakeLink {
	return &fakeLink{done: make(chan struct{}), closed: make(chan struct{})}
}

func (l *fakeLink) Info() LinkInfo {
	return LinkInfo{Server: "10.0.0.1", Interface: "corridor0", Address: "192.168.30.10", Peer: "192.168.30.1",
		DNS: []string{"192.168.30.1"}, MTU: 1401, IKE: "AES-CBC-256/SHA2-256/MODP2048", ESP: "AES-CBC-128/HMAC-SHA1-96"}
}
func (l *fakeLink) Stats() tunnel.Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}
func (l *fakeLink) Done() <-chan struct{} { return l.done }
func (l *fakeLink) Err() error            { return l.err }
func (l *fakeLink) Close(context.Context) error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// drop ends the link by itself with err.
func (l *fakeLink) drop(err error) {
	l.err = err
	close(l.done)
}

// fakeStack answers each Up with the next scripted outcome.
type fakeStack struct {
	mu      sync.Mutex
	script  []func(ctx context.Context, progress func(Stage)) (Link, error)
	calls   int
	upCalls chan UpRequest
}

func (s *fakeStack) Up(ctx context.Context, req UpRequest, _ *slog.Logger, progress func(Stage)) (Link, error) {
	s.mu.Lock()
	i := s.calls
	s.calls++
	s.mu.Unlock()
	if s.upCalls != nil {
		s.upCalls <- req
	}
	if i >= len(s.script) {
		return nil, &Error{Class: ClassInternal, Msg: "script exhausted"}
	}
	return s.script[i](ctx, progress)
}

// allStages reports every step of an L2TP/IPsec connect.
func allStages(progress func(Stage)) {
	for _, st := range []Stage{
		{Name: "resolve", Detail: "server 10.0.0.1:1701", Next: StateIKEPhase1},
		{Name: "ipsec", Detail: "ike: main mode established (AES-CBC-256/SHA2-256/MODP2048)", Next: StateIKEPhase2},
		{Name: "ipsec", Detail: "ipsec: sa established (ESP AES-CBC-128/HMAC-SHA1-96, udp-encap 4500)", Next: StateL2TPTunnel},
		{Name: "l2tp", Detail: "l2tp tunnel up", Next: StateL2TPSession},
		{Name: "l2tp", Detail: "l2tp session up", Next: StatePPPLCP},
		{Name: "ppp", Detail: "ppp lcp opened", Next: StatePPPAuth},
		{Name: "ppp", Detail: "ppp auth ok (MS-CHAPv2)", Next: StatePPPIPCP},
		{Name: "ppp", Detail: "ipcp: 192.168.30.10", Next: StateConfiguringOS},
		{Name: "os", Detail: "os: only the server's network through the tunnel"},
	} {
		progress(st)
	}
}

func connects(l *fakeLink) func(context.Context, func(Stage)) (Link, error) {
	return func(_ context.Context, progress func(Stage)) (Link, error) {
		allStages(progress)
		return l, nil
	}
}

func fails(e *Error) func(context.Context, func(Stage)) (Link, error) {
	return func(_ context.Context, progress func(Stage)) (Link, error) {
		progress(Stage{Name: "resolve", Next: StateIKEPhase1})
		return nil, e
	}
}

// failsIn fails with e after the connect reached state.
func failsIn(state State, e *Error) func(context.Context, func(Stage)) (Link, error) {
	return func(_ context.Context, progress func(Stage)) (Link, error) {
		for _, st := range ConnectStates[1:] {
			progress(Stage{Name: string(st), Next: st})
			if st == state {
				break
			}
		}
		return nil, e
	}
}

func testProfile() profile.Profile {
	p := profile.NewProfile("work")
	p.Server, p.User = "vpn.example.com", "alice"
	return p
}

type harness struct {
	t      *testing.T
	m      *Manager
	clock  *fakeClock
	stack  *fakeStack
	events <-chan Event
	cancel context.CancelFunc
}

func newHarness(t *testing.T, script ...func(context.Context, func(Stage)) (Link, error)) *harness {
	return newHarnessStats(t, time.Second, script...)
}

// newHarnessStats sets the statistics interval; reconnect tests use a long
// one so that the only timers they see are the backoff waits.
func newHarnessStats(t *testing.T, every time.Duration, script ...func(context.Context, func(Stage)) (Link, error)) *harness {
	h := &harness{t: t, clock: newFakeClock(), stack: &fakeStack{script: script}}
	h.m = NewManager(h.stack, WithClock(h.clock), WithStatsInterval(every))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.events, _ = h.m.Subscribe(ctx)
	t.Cleanup(func() {
		ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		h.m.Close(ctx)
		cancel()
	})
	return h
}

// waitState returns the states passed through until want (inclusive).
func (h *harness) waitState(want State) ([]State, Status) {
	h.t.Helper()
	var seen []State
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-h.events:
			if ev.Kind != EventState {
				continue
			}
			seen = append(seen, ev.Status.State)
			if ev.Status.State == want {
				return seen, ev.Status
			}
		case <-deadline:
			h.t.Fatalf("no %v within 5 s; saw %v", want, seen)
		}
	}
}

// waitTimer waits until the manager waits for d on the clock.
func (h *harness) waitTimer(d time.Duration) {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-h.clock.waits:
			if got == d {
				return
			}
		case <-deadline:
			h.t.Fatalf("the manager never waited %v", d)
		}
	}
}

func TestManagerConnectStates(t *testing.T) {
	l := newFakeLink()
	h := newHarness(t, connects(l))
	p := testProfile()
	if err := h.m.Up(context.Background(), UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "k"}}); err != nil {
		t.Fatal(err)
	}
	seen, st := h.waitState(StateConnected)
	want := []State{StateResolving, StateIKEPhase1, StateIKEPhase2, StateL2TPTunnel, StateL2TPSession,
		StatePPPLCP, StatePPPAuth, StatePPPIPCP, StateConfiguringOS, StateConnected}
	if len(seen) != len(want) {
		t.Fatalf("states %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("states %v, want %v", seen, want)
		}
	}
	if st.Address != "192.168.30.10" || st.ESP != "AES-CBC-128/HMAC-SHA1-96" || st.Connected.IsZero() || st.Error != nil {
		t.Errorf("connected status %+v", st)
	}
	if err := h.m.Up(context.Background(), UpRequest{Profile: p}); !errors.Is(err, ErrBusy) {
		t.Errorf("second Up = %v, want ErrBusy", err)
	}
	// Statistics with rates.
	l.mu.Lock()
	l.stats = tunnel.Stats{TxBytes: 3000, RxBytes: 6000, TxPackets: 3, RxPackets: 6}
	l.mu.Unlock()
	h.waitTimer(time.Second)
	h.clock.Advance(time.Second)
	for ev := range h.events {
		if ev.Kind == EventStats {
			if ev.Status.Stats.TxBytes != 3000 || ev.Status.Stats.RxRate != 6000 {
				t.Errorf("stats %+v, want 3000 bytes out and 6000 B/s in", ev.Status.Stats)
			}
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.m.Down(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	seen, _ = h.waitState(StateIdle)
	if seen[0] != StateDisconnecting {
		t.Errorf("states after Down %v, want disconnecting then idle", seen)
	}
	select {
	case <-l.closed:
	default:
		t.Error("link not closed after Down")
	}
}

func TestManagerReconnectsAfterDrop(t *testing.T) {
	l1, l2 := newFakeLink(), newFakeLink()
	noAnswer := &Error{Class: ClassNoAnswer, Msg: "the connection died: the server stopped answering (IPsec dead peer detection)"}
	h := newHarnessStats(t, time.Hour, connects(l1), fails(noAnswer), fails(noAnswer), connects(l2))
	p := testProfile()
	h.m.Up(context.Background(), UpRequest{Profile: p})
	h.waitState(StateConnected)
	l1.drop(noAnswer)
	_, st := h.waitState(StateReconnecting)
	if st.Error == nil || st.Error.Msg != noAnswer.Msg || st.Attempt != 1 {
		t.Errorf("reconnecting status %+v, want the drop's reason and attempt 1", st)
	}
	select {
	case <-l1.closed:
	case <-time.After(time.Second):
		t.Error("dropped link not closed (routes and DNS would stay)")
	}
	// Backoff doubles: 1 s, 2 s, 4 s.
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		h.waitTimer(d)
		h.clock.Advance(d)
	}
	_, st = h.waitState(StateConnected)
	if st.Error != nil || st.Attempt != 3 {
		t.Errorf("reconnected status %+v, want no error, attempt 3", st)
	}
}

func TestManagerBackoffIsCapped(t *testing.T) {
	noAnswer := &Error{Class: ClassNoAnswer, Msg: "no answer"}
	l := newFakeLink()
	script := []func(context.Context, func(Stage)) (Link, error){connects(l)}
	for i := 0; i < 8; i++ {
		script = append(script, fails(noAnswer))
	}
	h := newHarnessStats(t, time.Hour, script...)
	h.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	h.waitState(StateConnected)
	l.drop(noAnswer)
	for _, d := range []time.Duration{1, 2, 4, 8, 16, 30, 30} {
		h.waitTimer(d * time.Second)
		h.clock.Advance(d * time.Second)
	}
}

func TestManagerAuthFailureDoesNotRetry(t *testing.T) {
	auth := &Error{Class: ClassAuth, Msg: "authentication failed", Hint: "check the password"}
	h := newHarness(t, fails(auth))
	h.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	_, st := h.waitState(StateFailed)
	if st.Error == nil || st.Error.Class != ClassAuth || st.Error.Hint != "check the password" {
		t.Errorf("failed status %+v", st)
	}
	if h.stack.calls != 1 {
		t.Errorf("%d connect attempts, want 1", h.stack.calls)
	}
}

func TestManagerNoReconnectWhenDisabled(t *testing.T) {
	l := newFakeLink()
	h := newHarness(t, connects(l))
	p := testProfile()
	p.Reconnect = false
	h.m.Up(context.Background(), UpRequest{Profile: p})
	h.waitState(StateConnected)
	l.drop(&Error{Class: ClassNoAnswer, Msg: "dead"})
	_, st := h.waitState(StateFailed)
	if st.Error == nil || st.Error.Msg != "dead" {
		t.Errorf("status %+v", st)
	}
}

func TestManagerCancelWhileConnecting(t *testing.T) {
	started := make(chan struct{})
	h := newHarness(t, func(ctx context.Context, progress func(Stage)) (Link, error) {
		progress(Stage{Name: "resolve", Next: StateIKEPhase1})
		close(started)
		<-ctx.Done()
		return nil, &Error{Class: ClassNoAnswer, Msg: "gave up", Err: ctx.Err()}
	})
	h.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.m.Down(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateIdle)
	st, _ := h.m.Status(ctx)
	if len(st) != 1 || st[0].State != StateIdle {
		t.Errorf("status %+v", st)
	}
}

func TestManagerRejectsInvalidProfile(t *testing.T) {
	h := newHarness(t)
	p := testProfile()
	p.Server = ""
	var e *Error
	if err := h.m.Up(context.Background(), UpRequest{Profile: p}); !errors.As(err, &e) || e.Class != ClassUsage {
		t.Errorf("Up(invalid) = %v, want a usage *Error", err)
	}
}

// TestManagerFirstConnectTriesOnceMore: a first connect that got to PPP
// and then heard nothing more (a lost CHAP Success) is tried once more
// after 1 s; a second such failure, or one before the server ever
// answered, is final.
func TestManagerFirstConnectTriesOnceMore(t *testing.T) {
	lost := &Error{Class: ClassNoAnswer, Msg: "the server stopped answering during PPP negotiation"}
	l := newFakeLink()
	h := newHarness(t, failsIn(StatePPPAuth, lost), connects(l))
	h.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	_, st := h.waitState(StateReconnecting)
	if st.Error == nil || st.Error.Msg != lost.Msg {
		t.Errorf("reconnecting status %+v, want the failure's reason", st)
	}
	h.waitTimer(time.Second)
	h.clock.Advance(time.Second)
	h.waitState(StateConnected)
	if h.stack.calls != 2 {
		t.Errorf("%d connect attempts, want 2", h.stack.calls)
	}

	// Twice in a row: failed after the second.
	h2 := newHarness(t, failsIn(StatePPPIPCP, lost), failsIn(StatePPPLCP, lost), connects(newFakeLink()))
	h2.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	h2.waitState(StateReconnecting)
	h2.waitTimer(time.Second)
	h2.clock.Advance(time.Second)
	_, st = h2.waitState(StateFailed)
	if h2.stack.calls != 2 || st.Error == nil || st.Error.Msg != lost.Msg {
		t.Errorf("after two failures: %d attempts, status %+v; want 2 and failed", h2.stack.calls, st)
	}
}

// TestManagerFirstConnectNoAnswerFails: nothing ever answered (IKE phase
// 1), or reconnect is off: the first connect fails at once.
func TestManagerFirstConnectNoAnswerFails(t *testing.T) {
	silent := &Error{Class: ClassNoAnswer, Msg: "the server does not answer IKE"}
	h := newHarness(t, failsIn(StateIKEPhase1, silent), connects(newFakeLink()))
	h.m.Up(context.Background(), UpRequest{Profile: testProfile()})
	h.waitState(StateFailed)
	if h.stack.calls != 1 {
		t.Errorf("%d connect attempts, want 1", h.stack.calls)
	}

	lost := &Error{Class: ClassNoAnswer, Msg: "lost in PPP"}
	h2 := newHarness(t, failsIn(StatePPPAuth, lost), connects(newFakeLink()))
	p := testProfile()
	p.Reconnect = false
	h2.m.Up(context.Background(), UpRequest{Profile: p})
	h2.waitState(StateFailed)
	if h2.stack.calls != 1 {
		t.Errorf("reconnect off: %d connect attempts, want 1", h2.stack.calls)
	}
}
