package platform

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runnerNSEnv is set in the copy of this test binary that runs in a private
// network namespace; it holds the host's namespace identity.
const runnerNSEnv = "CORRIDOR_RUNNER_TEST_NS"

// TestExecRunnerLocaleRoot runs the real ip under a German locale of the
// process, in a private network namespace (this test binary re-executed
// under "unshare --net"): adding a route that exists must be classified as
// "exists" and deleting a missing one as "gone", because the runner gives
// every command LC_ALL=C.
func TestExecRunnerLocaleRoot(t *testing.T) {
	if host := os.Getenv(runnerNSEnv); host != "" {
		testRunnerLocaleInNetns(t, host)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: adds routes in a private network namespace (unshare --net)")
	}
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "unshare", "--net", "--",
		os.Args[0], "-test.run=^TestExecRunnerLocaleRoot$", "-test.v", "-test.count=1", "-test.timeout=50s")
	c.Env = append(os.Environ(), runnerNSEnv+"="+nsIdentity())
	out, err := c.CombinedOutput()
	t.Logf("child in a private network namespace:\n%s", out)
	if err != nil && strings.HasPrefix(string(out), "unshare: ") {
		t.Skipf("cannot create a network namespace: %s", strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("test in the namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestExecRunnerLocaleRoot") {
		t.Fatal("child did not report a pass")
	}
}

func testRunnerLocaleInNetns(t *testing.T, host string) {
	if net := strings.Fields(nsIdentity())[0]; net == strings.Fields(host)[0] {
		t.Fatalf("not in a private network namespace (%s)", net)
	}
	t.Setenv("LANG", "de_DE.UTF-8")
	t.Setenv("LC_ALL", "de_DE.UTF-8")
	t.Setenv("LANGUAGE", "de")
	r := ExecRunner{}
	out, err := r.Run(cmd("sh", "-c", "echo $LC_ALL"))
	if err != nil || strings.TrimSpace(string(out)) != "C" {
		t.Fatalf("the command saw LC_ALL=%q (%v), want C", out, err)
	}
	ipRun(t, "link", "set", "lo", "up")
	add := cmd("ip", "-4", "route", "add", "10.55.0.0/16", "dev", "lo")
	if _, err := r.Run(add); err != nil {
		t.Fatalf("first add: %v", err)
	}
	_, err = r.Run(add)
	t.Logf("adding it again: %v", err)
	if err == nil || !isExists(err) || isGone(err) {
		t.Errorf("adding an existing route: %v; want it classified as exists", err)
	}
	del := cmd("ip", "-4", "route", "del", "10.55.0.0/16", "dev", "lo")
	if _, err := r.Run(del); err != nil {
		t.Fatalf("first del: %v", err)
	}
	_, err = r.Run(del)
	t.Logf("deleting it again: %v", err)
	if err == nil || !isGone(err) || isExists(err) {
		t.Errorf("deleting a missing route: %v; want it classified as gone", err)
	}
	_, err = r.Run(cmd("ip", "-4", "route", "del", "10.55.0.0/16", "dev", "nonexistent0"))
	t.Logf("deleting through a missing device: %v", err)
	if !isGone(err) {
		t.Errorf("deleting through a missing device: %v; want it classified as gone", err)
	}
}
