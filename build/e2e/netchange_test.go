package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// TestNetworkReturn pulls the client's link down under a connected
// session, long enough for the keepalives to give the session up and for
// reconnect attempts to fail, then puts it back: the helper, following
// the kernel's network changes, connects again within 5 s of the link's
// return instead of at the next backoff step. With
// CORRIDOR_E2E_NETWATCH_OFF=1 the helper runs with --network-watch=false
// and the test only reports how long that took (for comparison).
func TestNetworkReturn(t *testing.T) {
	if testing.Short() {
		t.Skip("keeps a link down for 15 s")
	}
	off := os.Getenv("CORRIDOR_E2E_NETWATCH_OFF") == "1"
	s := server(t)
	var flags []string
	if off {
		flags = append(flags, "--network-watch=false")
	}
	r := newDaemonRig(t, s, flags...)
	r.addProfile("office", "--keepalive", "1s")
	if out, code := r.cli(90*time.Second, "", "up", "office"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, corridorBin, "watch", "--json", "--stats")
	watch.Env = r.env
	events := watchEvents(t, watch)
	waitEvent(t, events, 10*time.Second, func(ev core.Event) bool { return ev.Kind == core.EventStats })

	link := s.Name + "v1" // the client's end of the veth pair (build/softether/server.sh)
	setLink := func(state string) {
		t.Helper()
		if out, err := s.Command(context.Background(), "ip", "link", "set", link, state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s %s: %v %s", link, state, err, out)
		}
	}
	setLink("down")
	down := time.Now()
	restored := false
	defer func() {
		if !restored {
			setLink("up")
		}
	}()
	ev := waitEvent(t, events, 30*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventState && ev.Status.State == core.StateReconnecting
	})
	t.Logf("link down: the session was given up after %v (%s)", time.Since(down).Round(100*time.Millisecond), ev.Status.Error.Msg)
	// Let reconnect attempts fail on the missing network for a while.
	time.Sleep(time.Until(down.Add(15 * time.Second)))
	setLink("up")
	restored = true
	back := time.Now()
	ev = waitEvent(t, events, 90*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventState && ev.Status.State == core.StateConnected
	})
	took := time.Since(back)
	t.Logf("link up: connected again %v after the link returned (attempt %d; network watch off: %v)", took.Round(100*time.Millisecond), ev.Status.Attempt, off)
	if !off && took > 5*time.Second {
		t.Errorf("connected again %v after the link returned, want at most 5 s", took.Round(100*time.Millisecond))
	}
	if got := pingIf(t, s, "corridor0", 3); got != 3 {
		t.Errorf("ping after reconnecting: %d of 3", got)
	}
}
