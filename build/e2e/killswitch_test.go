package e2e

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// TestKillSwitch: a full-tunnel profile with the kill switch. The server
// freezes; once the session is given up, the client namespace reaches the
// VPN server's address (for the reconnect) and nothing else: a host on
// the client's own LAN, reachable without the tunnel, does not answer.
// The server resumes: connected again, the block is gone. It freezes
// again, and corridor down lifts the block at once.
func TestKillSwitch(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for keepalives twice")
	}
	s := server(t)
	// A second address on the server's end of the veth: a LAN host the
	// client reaches directly, not through the tunnel.
	const lanHost = "10.99.0.5"
	if out, err := exec.Command("ip", "-n", s.ServerNS, "addr", "add", lanHost+"/24", "dev", s.Name+"v0").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v %s", err, out)
	}
	r := newDaemonRig(t, s)
	r.addProfile("office", "--keepalive", "1s", "--kill-switch")
	if out, code := r.cli(90*time.Second, "", "up", "office"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	reaches := func(addr string) bool {
		return s.Command(context.Background(), "ping", "-c", "1", "-W", "1", addr).Run() == nil
	}
	tables := func() string {
		out, _ := s.Command(context.Background(), "nft", "list", "tables").CombinedOutput()
		return string(out)
	}
	if !reaches(lanHost) {
		t.Fatal("the LAN host does not answer while connected")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, corridorBin, "watch", "--json", "--stats")
	watch.Env = r.env
	events := watchEvents(t, watch)
	waitEvent(t, events, 10*time.Second, func(ev core.Event) bool { return ev.Kind == core.EventStats })

	freeze := func() {
		t.Helper()
		if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, 30*time.Second, func(ev core.Event) bool {
			return ev.Kind == core.EventLog && strings.Contains(ev.Line, "kill switch: traffic is blocked")
		})
	}
	resume := func() { syscall.Kill(s.PID, syscall.SIGCONT) }
	defer resume()

	freeze()
	if !strings.Contains(tables(), "corridor_ks_corridor0") {
		t.Errorf("no kill switch table while blocked:\n%s", tables())
	}
	if reaches(lanHost) {
		t.Error("the LAN host answers while the kill switch blocks")
	}
	if !reaches(s.Addr) {
		t.Error("the VPN server is not reachable through the block (the reconnect needs it)")
	}
	resume()
	// The block goes once the new session is up, just before it
	// counts as connected.
	waitEvent(t, events, 60*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventLog && strings.Contains(ev.Line, "kill switch: block lifted")
	})
	waitEvent(t, events, 10*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventState && ev.Status.State == core.StateConnected
	})
	if strings.Contains(tables(), "corridor_ks_") {
		t.Errorf("a kill switch table after reconnecting:\n%s", tables())
	}
	if !reaches(lanHost) {
		t.Error("the LAN host does not answer after reconnecting")
	}

	freeze()
	if reaches(lanHost) {
		t.Error("the LAN host answers during the second block")
	}
	if out, code := r.cli(30*time.Second, "", "down", "office"); code != 0 {
		t.Errorf("down: exit %d\n%s", code, out)
	}
	if strings.Contains(tables(), "corridor_ks_") {
		t.Errorf("a kill switch table after down:\n%s", tables())
	}
	if !reaches(lanHost) {
		t.Error("the LAN host does not answer after down")
	}
}
