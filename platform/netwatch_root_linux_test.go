package platform

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// netwatchNSEnv is set in the re-executed test binary that runs in a
// private network namespace.
const netwatchNSEnv = "CORRIDOR_NETWATCH_TEST_NS"

// TestNetworkWatchRoot: in a private network namespace, WatchNetwork
// reports a link coming up, an address, a route and the link going down,
// and PathTo follows each.
func TestNetworkWatchRoot(t *testing.T) {
	if os.Getenv(netwatchNSEnv) != "" {
		testNetworkWatchInNamespace(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: adds links and routes in a private network namespace")
	}
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", os.Args[0], "-test.run=^TestNetworkWatchRoot$", "-test.v", "-test.count=1", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), netwatchNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child in a private network namespace:\n%s", out)
	if err != nil && bytes.HasPrefix(out, []byte("unshare: ")) {
		t.Skipf("cannot create a namespace: %s", bytes.TrimSpace(out))
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNetworkWatchRoot") {
		t.Fatalf("test in the namespace failed: %v", err)
	}
}

func testNetworkWatchInNamespace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := WatchNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// drain empties the channel, waits for a change (or not) and says
	// whether one came within d.
	drain := func() {
		for {
			select {
			case <-ch:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	changed := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: the channel closed", what)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: no change reported within 3 s", what)
		}
	}
	server := netip.MustParseAddr("203.0.113.10")
	path := func() string {
		p, err := PathTo(server)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := path(); p != "" {
		t.Fatalf("path in an empty namespace %q", p)
	}
	addLink(t, "nw0")
	changed("link up")
	drain()
	ipRun(t, "addr", "add", "10.77.0.2/24", "dev", "nw0")
	changed("address")
	drain()
	ipRun(t, "route", "add", "default", "via", "10.77.0.1")
	changed("default route")
	if p := path(); p != "dev nw0 via 10.77.0.1" {
		t.Errorf("path with the default route %q", p)
	}
	drain()
	ipRun(t, "link", "set", "nw0", "down")
	changed("link down")
	if p := path(); p != "" {
		t.Errorf("path with the link down %q, want none", p)
	}
	drain()
	ipRun(t, "link", "set", "nw0", "up")
	changed("link up again")
	cancel()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the channel did not close after ctx ended")
		}
	}
}
