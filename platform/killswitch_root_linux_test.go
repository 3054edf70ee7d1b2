package platform

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const killSwitchNSEnv = "CORRIDOR_KILLSWITCH_TEST_NS"

// TestKillSwitchRoot: in a private network namespace with a peer
// namespace holding two addresses, the server's and another's, the
// block lets pings to the server through and drops the other's; after
// Unblock both answer; a block left by a "crash" is lifted by Recover.
func TestKillSwitchRoot(t *testing.T) {
	if os.Getenv(killSwitchNSEnv) != "" {
		testKillSwitchInNamespace(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: nftables in a private network namespace")
	}
	for _, tool := range []string{"ip", "unshare", "nft", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", os.Args[0], "-test.run=^TestKillSwitchRoot$", "-test.v", "-test.count=1", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), killSwitchNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child in a private network namespace:\n%s", out)
	if err != nil && bytes.HasPrefix(out, []byte("unshare: ")) {
		t.Skipf("cannot create a namespace: %s", bytes.TrimSpace(out))
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: TestKillSwitchRoot") {
		t.Fatalf("test in the namespace failed: %v", err)
	}
}

func testKillSwitchInNamespace(t *testing.T) {
	peer := fmt.Sprintf("corridor-kstest-%d", os.Getpid())
	ipRun(t, "netns", "add", peer)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peer).Run() })
	ipRun(t, "link", "add", "ks0", "type", "veth", "peer", "name", "ks0p")
	ipRun(t, "link", "set", "ks0p", "netns", peer)
	ipRun(t, "addr", "add", "10.77.0.2/24", "dev", "ks0")
	ipRun(t, "link", "set", "ks0", "up")
	ipRun(t, "link", "set", "lo", "up")
	for _, args := range [][]string{
		{"addr", "add", "10.77.0.1/24", "dev", "ks0p"},
		{"addr", "add", "10.77.0.3/24", "dev", "ks0p"},
		{"link", "set", "ks0p", "up"},
		{"link", "set", "lo", "up"},
	} {
		ipRun(t, append([]string{"-n", peer}, args...)...)
	}
	answers := func(addr string) bool {
		return exec.Command("ping", "-c", "1", "-W", "1", addr).Run() == nil
	}
	if !answers("10.77.0.1") || !answers("10.77.0.3") {
		t.Fatal("the peer does not answer before the block")
	}
	dir := filepath.Join(t.TempDir(), "journal")
	k, err := NewKillSwitch("corridor0", WithJournalDir(dir), WithRouterLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Block(netip.MustParseAddr("10.77.0.1")); err != nil {
		t.Fatal(err)
	}
	if !answers("10.77.0.1") {
		t.Error("the server does not answer through the block")
	}
	if answers("10.77.0.3") {
		t.Error("another address answers through the block")
	}
	if !answers("127.0.0.1") {
		t.Error("loopback blocked")
	}
	if err := k.Unblock(); err != nil {
		t.Fatal(err)
	}
	if !answers("10.77.0.3") {
		t.Error("another address does not answer after Unblock")
	}
	if out, _ := exec.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "corridor_ks_") {
		t.Errorf("a table left after Unblock:\n%s", out)
	}

	// The helper "crashes" while blocking: Recover lifts the block.
	k2, _ := NewKillSwitch("corridor0", WithJournalDir(dir))
	if err := k2.Block(netip.MustParseAddr("10.77.0.1")); err != nil {
		t.Fatal(err)
	}
	if answers("10.77.0.3") {
		t.Error("another address answers through the second block")
	}
	if err := Recover(WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatal(err)
	}
	if !answers("10.77.0.3") {
		t.Error("still blocked after Recover")
	}
}
