package platform

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// routeExit0 is what macOS's route(8) prints when the kernel refuses an
// add, with exit status 0 (route.c: warn() on stderr, then its own line
// on stdout; runDarwinRoute asks for both, stderr first).
func routeExit0(cmd, dest, gw, why, words string) string {
	return "route: writing to routing socket: " + why + "\n" + cmd + " net " + dest + ": gateway " + gw + ": " + words + "\n"
}

// captureRunner records the Commands themselves (flags included).
type captureRunner struct {
	cmds []Command
	out  string
}

func (r *captureRunner) Run(c Command) ([]byte, error) {
	r.cmds = append(r.cmds, c)
	return []byte(r.out), nil
}

// TestRunDarwinRoute: route's failures, which exit 0, become
// CommandErrors the Router's checks read; its successes pass; stderr is
// asked for.
func TestRunDarwinRoute(t *testing.T) {
	r := &captureRunner{out: "add net 10.77.0.0/16: gateway utun5\n"}
	out, err := runDarwinRoute(r, cmd("route", "-n", "add", "-net", "10.77.0.0/16", "-interface", "utun5"))
	if err != nil || string(out) != r.out || !r.cmds[0].stderrToo {
		t.Errorf("success: %q, %v, stderrToo %v", out, err, r.cmds[0].stderrToo)
	}
	r.out = routeExit0("add", "10.77.0.0/16", "utun5", "File exists", "File exists")
	_, err = runDarwinRoute(r, cmd("route", "-n", "add", "-net", "10.77.0.0/16", "-interface", "utun5"))
	if !errors.Is(err, errRouteFailed) || !isExists(err) || isGone(err) {
		t.Errorf("exists: %v (exists %v, gone %v)", err, isExists(err), isGone(err))
	}
	r.out = routeExit0("delete", "10.77.0.0/16", "utun5", "No such process", "not in table")
	_, err = runDarwinRoute(r, cmd("route", "-n", "delete", "-net", "10.77.0.0/16", "-interface", "utun5"))
	if !errors.Is(err, errRouteFailed) || !isGone(err) || isExists(err) {
		t.Errorf("gone: %v (exists %v, gone %v)", err, isExists(err), isGone(err))
	}
}

// TestDarwinRouterExit0Failures: the macOS Router judges route(8) by its
// words: a route that exists is left to its owner (not journaled, not
// removed), another refusal stops Set, and an undo of a route already
// gone counts as done.
func TestDarwinRouterExit0Failures(t *testing.T) {
	tr := newTestRouter(t, darwinItems, nil)
	tr.run.outputs = map[string]string{
		"route -n add -net 10.77.0.0/16 -interface utun5": routeExit0("add", "10.77.0.0/16", "utun5", "File exists", "File exists"),
	}
	cfg := &NetConfig{Interface: "utun5", Server: server, Routes: splitRoutes}
	if err := tr.Set(cfg); err != nil {
		t.Fatalf("Set: %v", err)
	}
	tr.run.take()
	if undo := tr.journalUndo(t, "utun5"); slices.Contains(undo, "route -n delete -net 10.77.0.0/16 -interface utun5") || len(undo) != len(splitRoutes)-1 {
		t.Errorf("journal %q", undo)
	}
	tr.run.outputs = map[string]string{
		"route -n delete -net 172.16.5.0/24 -interface utun5": routeExit0("delete", "172.16.5.0/24", "utun5", "No such process", "not in table"),
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := tr.run.take(); slices.Contains(got, "route -n delete -net 10.77.0.0/16 -interface utun5") {
		t.Errorf("Close removed a route it did not add: %q", got)
	}
	if j := tr.journal(t, "utun5"); j != nil {
		t.Errorf("journal left: %+v", j)
	}

	tr2 := newTestRouter(t, darwinItems, nil)
	tr2.run.outputs = map[string]string{
		"route -n add -net 10.77.0.0/16 -interface utun5": routeExit0("add", "10.77.0.0/16", "utun5", "Network is unreachable", "Network is unreachable"),
	}
	if err := tr2.Set(&NetConfig{Interface: "utun5", Server: server, Routes: splitRoutes[:1]}); err == nil || !strings.Contains(err.Error(), "Network is unreachable") {
		t.Errorf("Set with a refused route: %v", err)
	}
	if j := tr2.journal(t, "utun5"); j != nil {
		t.Errorf("journal left after a refused route: %+v", j)
	}
}

// TestDarwinPathToExit0: route -n get for an address no route covers
// exits 0 too, with the refusal on stderr: no path.
func TestDarwinPathToExit0(t *testing.T) {
	r := &fakeRunner{outputs: map[string]string{"route -n get 198.51.100.9": "route: writing to routing socket: No such process\n"}}
	if got, err := darwinPathTo(r, netip.MustParseAddr("198.51.100.9")); err != nil || got != "" {
		t.Errorf("no route: %q, %v", got, err)
	}
}
