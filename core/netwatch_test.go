package core

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
)

// fakeNet is a network whose path to every address the test sets, with
// a change signal.
type fakeNet struct {
	mu      sync.Mutex
	path    string
	changes chan struct{}
}

func newFakeNet(path string) *fakeNet { return &fakeNet{path: path, changes: make(chan struct{}, 1)} }

func (n *fakeNet) watch() NetWatch {
	return NetWatch{Settle: time.Millisecond,
		Changes: func(ctx context.Context) (<-chan struct{}, error) {
			out := make(chan struct{})
			go func() {
				defer close(out)
				for {
					select {
					case <-ctx.Done():
						return
					case <-n.changes:
						select {
						case out <- struct{}{}:
						case <-ctx.Done():
							return
						}
					}
				}
			}()
			return out, nil
		},
		PathTo: func(netip.Addr) (string, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.path, nil
		}}
}

// set changes the path and signals it.
func (n *fakeNet) set(path string) {
	n.mu.Lock()
	n.path = path
	n.mu.Unlock()
	n.changes <- struct{}{}
}

func newNetHarness(t *testing.T, n *fakeNet, script ...func(context.Context, func(Stage)) (Link, error)) *harness {
	h := &harness{t: t, clock: newFakeClock(), stack: &fakeStack{script: script}}
	// A long statistics interval: the only clock waits are backoffs.
	h.m = NewManager(h.stack, WithClock(h.clock), WithStatsInterval(time.Hour), WithNetWatch(n.watch()))
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

func upWork(t *testing.T, h *harness) {
	t.Helper()
	if err := h.m.Up(context.Background(), UpRequest{Profile: testProfile(),
		Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "k"}}); err != nil {
		t.Fatal(err)
	}
}

// TestNetworkChangeReconnectsAtOnce: the path to the server moves (Wi-Fi
// to Ethernet): the connected session is ended and connected again at
// once, with no backoff on the clock; the reason says what changed.
func TestNetworkChangeReconnectsAtOnce(t *testing.T) {
	n := newFakeNet("dev wlan0 via 192.168.1.1")
	l1, l2 := newFakeLink(), newFakeLink()
	h := newNetHarness(t, n, connects(l1), connects(l2))
	upWork(t, h)
	h.waitState(StateConnected)

	n.set("dev wlan0 via 192.168.1.1") // something else changed: nothing to do
	n.set("")                          // the network is gone: the keepalives judge
	n.set("dev corridor0")             // into the session's own device: gone too
	time.Sleep(50 * time.Millisecond)
	select {
	case <-l1.closed:
		t.Fatal("the link was closed for a change that left its path, or for no path")
	default:
	}

	n.set("dev eth0 via 10.0.0.1")
	seen, st := h.waitState(StateConnected)
	if !strings.Contains(strings.Join(statesText(seen), " "), "reconnecting") {
		t.Errorf("states %v, want a reconnect", seen)
	}
	select {
	case <-l1.closed:
	default:
		t.Error("the old link was not closed")
	}
	if st.Attempt != 1 {
		t.Errorf("attempt %d", st.Attempt)
	}
	select {
	case d := <-h.clock.waits:
		if d != time.Hour {
			t.Errorf("the manager waited %v on the clock before reconnecting", d)
		}
	default:
	}
}

// TestNetworkBackWakesTheWait: the link dropped while the network was
// gone; the wait before the next attempt ends when the network comes
// back, without the clock moving.
func TestNetworkBackWakesTheWait(t *testing.T) {
	n := newFakeNet("dev eth0 via 10.0.0.1")
	l1, l2 := newFakeLink(), newFakeLink()
	h := newNetHarness(t, n, connects(l1),
		fails(&Error{Class: ClassNoAnswer, Msg: "the network is unreachable"}), connects(l2))
	upWork(t, h)
	h.waitState(StateConnected)
	n.set("")
	l1.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	h.waitTimer(firstBackoff) // the first retry fails (no network) ...
	h.clock.Advance(firstBackoff)
	h.waitState(StateReconnecting)
	h.waitTimer(2 * firstBackoff) // ... and the next waits 2 s
	n.set("dev eth0 via 10.0.0.1")
	_, st := h.waitState(StateConnected) // without advancing the clock
	if st.Attempt != 2 {
		t.Errorf("attempt %d, want 2", st.Attempt)
	}
}

// TestNetworkChangeRestartsASilentAttempt: an attempt that has heard
// nothing yet (IKE main mode) starts over when the path changes; the
// same path does not restart it.
func TestNetworkChangeRestartsASilentAttempt(t *testing.T) {
	n := newFakeNet("dev eth0 via 10.0.0.1")
	l1, l2 := newFakeLink(), newFakeLink()
	started := make(chan struct{}, 4)
	hang := func(ctx context.Context, progress func(Stage)) (Link, error) {
		progress(Stage{Name: "resolve", Next: StateIKEPhase1})
		started <- struct{}{}
		<-ctx.Done()
		return nil, &Error{Class: ClassNoAnswer, Msg: "cancelled"}
	}
	h := newNetHarness(t, n, connects(l1), hang, connects(l2))
	upWork(t, h)
	h.waitState(StateConnected)
	n.set("")
	l1.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	h.waitTimer(firstBackoff)
	h.clock.Advance(firstBackoff)
	<-started // the attempt hangs in IKE main mode, with no path
	n.set("dev eth0 via 10.0.0.1")
	_, st := h.waitState(StateConnected)
	if st.State != StateConnected {
		t.Fatal(st.State)
	}
}

func statesText(sts []State) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = string(s)
	}
	return out
}
