package core

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// blockingStack is fakeStack with a kill switch that records its use.
type blockingStack struct {
	*fakeStack
	mu  sync.Mutex
	log []string
}

func (b *blockingStack) Block(server netip.Addr, iface string) (func() error, error) {
	b.mu.Lock()
	b.log = append(b.log, "block "+server.String()+" "+iface)
	b.mu.Unlock()
	return func() error {
		b.mu.Lock()
		b.log = append(b.log, "unblock")
		b.mu.Unlock()
		return nil
	}, nil
}

func (b *blockingStack) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

func waitCalls(t *testing.T, b *blockingStack, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(b.calls()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("kill switch calls %v, want %d", b.calls(), n)
		}
		time.Sleep(time.Millisecond)
	}
	return b.calls()
}

// TestKillSwitchBlocksUntilBack: a full tunnel with the kill switch that
// drops by itself is blocked before its link is closed, and unblocked
// once connected again; a disconnect while blocked lifts the block; a
// profile without it is never blocked.
func TestKillSwitchBlocksUntilBack(t *testing.T) {
	l1, l2, l3 := newFakeLink(), newFakeLink(), newFakeLink()
	fs := &fakeStack{script: []func(context.Context, func(Stage)) (Link, error){connects(l1), connects(l2), connects(l3)}}
	bs := &blockingStack{fakeStack: fs}
	h := &harness{t: t, clock: newFakeClock(), stack: fs}
	h.m = NewManager(bs, WithClock(h.clock), WithStatsInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.events, _ = h.m.Subscribe(ctx)
	t.Cleanup(func() {
		c, cc := context.WithTimeout(context.Background(), 5*time.Second)
		defer cc()
		h.m.Close(c)
	})
	p := testProfile()
	p.KillSwitch = true
	if err := h.m.Up(context.Background(), UpRequest{Profile: p}); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)
	l1.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	if got := waitCalls(t, bs, 1); got[0] != "block 10.0.0.1 corridor0" {
		t.Fatalf("calls %v", got)
	}
	select {
	case <-l1.closed:
	default:
		t.Error("the dropped link was not closed")
	}
	h.waitTimer(firstBackoff)
	h.clock.Advance(firstBackoff)
	h.waitState(StateConnected)
	if got := waitCalls(t, bs, 2); got[1] != "unblock" {
		t.Fatalf("calls %v", got)
	}

	// Dropped again, and the user disconnects while it is blocked.
	l2.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	waitCalls(t, bs, 3)
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := h.m.Down(dctx, p.Name); err != nil {
		t.Fatal(err)
	}
	if got := bs.calls(); len(got) != 4 || got[3] != "unblock" {
		t.Errorf("after down: calls %v", got)
	}

	// Without the kill switch: no block.
	p.KillSwitch = false
	if err := h.m.Up(context.Background(), UpRequest{Profile: p}); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)
	l3.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	if got := bs.calls(); len(got) != 4 {
		t.Errorf("a profile without the kill switch was blocked: %v", got)
	}
}
