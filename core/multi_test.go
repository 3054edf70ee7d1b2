package core

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
)

// addrLink is a fakeLink with its own addresses.
type addrLink struct {
	*fakeLink
	local, peer, iface string
}

func (l addrLink) Info() LinkInfo {
	i := l.fakeLink.Info()
	i.Address, i.Peer, i.Interface = l.local, l.peer, l.iface
	return i
}

// connectsAs connects with the given addresses, running the Manager's
// address check as the RealStack does, before the device would open.
func connectsAs(local, peer string) func(context.Context, func(Stage)) (Link, error) {
	return func(ctx context.Context, progress func(Stage)) (Link, error) {
		if err := addrCheckFrom(ctx)(netip.MustParseAddr(local), netip.MustParseAddr(peer)); err != nil {
			return nil, err
		}
		allStages(progress)
		return addrLink{fakeLink: newFakeLink(), local: local, peer: peer, iface: "corridor-" + local}, nil
	}
}

func splitProfile(name string, routes ...string) profile.Profile {
	p := testProfile()
	p.Name, p.FullTunnel, p.Routes = name, false, routes
	return p
}

func fullProfile(name string) profile.Profile {
	p := testProfile()
	p.Name, p.FullTunnel = name, true
	return p
}

// waitProfile waits until profile's session is in state want.
func (h *harness) waitProfile(name string, want State) Status {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sts, _ := h.m.Status(context.Background())
		for _, st := range sts {
			if st.Profile == name && st.State == want {
				return st
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	sts, _ := h.m.Status(context.Background())
	h.t.Fatalf("%s: no %v within 5 s; sessions %+v", name, want, sts)
	return Status{}
}

func (h *harness) up(p profile.Profile) error {
	return h.m.Up(context.Background(), UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw"}})
}

// refusal checks err is the plain-words refusal naming other.
func refusal(t *testing.T, err error, other string, words ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if e.Class != ClassUsage || e.HintKey != HintDisconnectFirst || e.HintArg != other || e.Hint == "" {
		t.Errorf("refusal: class %v hint key %q arg %q hint %q", e.Class, e.HintKey, e.HintArg, e.Hint)
	}
	for _, w := range words {
		if !strings.Contains(e.Msg, w) {
			t.Errorf("refusal %q lacks %q", e.Msg, w)
		}
	}
}

// Two split tunnels with disjoint routes run side by side; a full tunnel
// is refused beside them, and either down leaves the other up.
func TestManagerTwoSplitTunnels(t *testing.T) {
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"), connectsAs("192.168.31.10", "192.168.31.1"))
	if err := h.up(splitProfile("a", "192.168.30.0/24", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	if err := h.up(splitProfile("b", "192.168.31.0/24", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("b", StateConnected)

	err := h.up(fullProfile("c"))
	refusal(t, err, "a", `profile "c" sends all traffic through its tunnel`, `profile "a" is connected`, "cannot share the machine")

	if err := h.m.Down(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateIdle)
	if st := h.waitProfile("b", StateConnected); st.Address != "192.168.31.10" {
		t.Errorf("b: %+v", st)
	}
	// Still refused: b is up.
	refusal(t, h.up(fullProfile("c")), "b")
}

// While a full tunnel is up (or connecting), nothing else starts.
func TestManagerFullTunnelAlone(t *testing.T) {
	block := make(chan struct{})
	h := newHarness(t, func(ctx context.Context, progress func(Stage)) (Link, error) {
		progress(Stage{Name: "resolve", Next: StateIKEPhase1})
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return connectsAs("192.168.30.10", "192.168.30.1")(ctx, progress)
	}, connectsAs("192.168.31.10", "192.168.31.1"))
	if err := h.up(fullProfile("office")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("office", StateIKEPhase1)
	refusal(t, h.up(splitProfile("lab", "10.9.0.0/16")), "office",
		`profile "office" sends all traffic through its tunnel and is IKE: authenticating`, "no other tunnel can run beside it")
	close(block)
	h.waitProfile("office", StateConnected)
	refusal(t, h.up(splitProfile("lab", "10.9.0.0/16")), "office", "is connected")
	// A second full tunnel: refused, in the words of the new one.
	refusal(t, h.up(fullProfile("home")), "office", `profile "home" sends all traffic through its tunnel, and profile "office" is connected`)
	if err := h.m.Down(context.Background(), "office"); err != nil {
		t.Fatal(err)
	}
	if err := h.up(splitProfile("lab", "10.9.0.0/16")); err != nil {
		t.Fatalf("after the full tunnel went: %v", err)
	}
	h.waitProfile("lab", StateConnected)
}

// Overlapping routes are refused at Up; so is a route over the other
// tunnel's own addresses.
func TestManagerOverlappingRoutes(t *testing.T) {
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"))
	if err := h.up(splitProfile("a", "10.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	refusal(t, h.up(splitProfile("b", "192.168.50.0/24", "10.20.0.0/16")), "a",
		`profile "b" routes 10.20.0.0/16 through its tunnel, which overlaps 10.0.0.0/8 of profile "a"`)
	refusal(t, h.up(splitProfile("b", "192.168.30.0/24")), "a",
		`profile "b" routes 192.168.30.0/24 through its tunnel, which contains 192.168.30.10 of profile "a"'s connection`)
	if sts, _ := h.m.Status(context.Background()); len(sts) != 1 {
		t.Errorf("refused profiles left sessions: %+v", sts)
	}
}

// A server that assigns an address inside another tunnel's routes fails
// the new session before its device opens, with the same words, and the
// other session stays.
func TestManagerAssignedAddressConflict(t *testing.T) {
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"), connectsAs("10.1.2.3", "10.1.2.1"), connectsAs("192.168.30.10", "192.168.30.1"))
	if err := h.up(splitProfile("a", "192.168.30.0/24", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	if err := h.up(splitProfile("b", "172.16.0.0/12")); err != nil {
		t.Fatal(err)
	}
	st := h.waitProfile("b", StateFailed)
	if st.Error == nil || st.Error.HintKey != HintDisconnectFirst ||
		!strings.Contains(st.Error.Msg, `the server of profile "b" assigned the tunnel address 10.1.2.3, which is inside 10.1.0.0/16, a route of profile "a"`) {
		t.Errorf("b: %+v", st.Error)
	}
	// The same address as a's tunnel, from another server.
	if err := h.up(splitProfile("b", "172.16.0.0/12")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("b", StateFailed)
	h.waitProfile("a", StateConnected)
}

// Devices are named corridor0, corridor1, ... per live session, skipping
// names another process's device holds, and a name comes free again when
// its session ends.
func TestRealStackDeviceNames(t *testing.T) {
	taken := map[string]bool{"corridor1": true}
	old := interfaceExists
	interfaceExists = func(n string) bool { return taken[n] }
	t.Cleanup(func() { interfaceExists = old })
	var r RealStack
	a, b := r.ifname(), r.ifname()
	if a != "corridor0" || b != "corridor2" {
		t.Fatalf("names %q %q, want corridor0 corridor2", a, b)
	}
	r.release(a)
	if c := r.ifname(); c != "corridor0" {
		t.Errorf("after release: %q", c)
	}
}

// Beside another user's session the refusal names only its profile and
// state (as Status shows them), never its routes or addresses, and does
// not suggest disconnecting what this user cannot.
func TestManagerConflictWithAnotherUsersSession(t *testing.T) {
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"))
	alice := WithCaller(context.Background(), Caller{UID: 1001})
	bob := WithCaller(context.Background(), Caller{UID: 1002})
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw"}
	if err := h.m.Up(alice, UpRequest{Profile: splitProfile("a", "10.0.0.0/8"), Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	for _, p := range []profile.Profile{splitProfile("b", "10.20.0.0/16"), splitProfile("b", "192.168.30.0/24"), fullProfile("b")} {
		err := h.m.Up(bob, UpRequest{Profile: p, Secrets: secrets})
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%v: want a refusal, got %v", p.Routes, err)
		}
		if strings.Contains(e.Msg, "10.0.0.0/8") || strings.Contains(e.Msg, "192.168.30.10") || e.HintKey != "" ||
			!strings.Contains(e.Hint, "belongs to another user") || !strings.Contains(e.Msg, `profile "a"`) {
			t.Errorf("%v: %q (hint %q, key %q)", p.Routes, e.Msg, e.Hint, e.HintKey)
		}
	}
	// Alice herself gets the details.
	err := h.m.Up(alice, UpRequest{Profile: splitProfile("c", "10.20.0.0/16"), Secrets: secrets})
	refusal(t, err, "a", "overlaps 10.0.0.0/8")
}

// A profile with the classful route claims its address's classful
// network once assigned: another tunnel's routes may not overlap it, in
// either order.
func TestManagerClassfulRouteConflict(t *testing.T) {
	classfulProfile := func(name string) profile.Profile {
		p := splitProfile(name)
		p.ClassfulRoute = true
		return p
	}
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"), connectsAs("10.5.0.10", "10.5.0.1"), connectsAs("172.20.0.10", "172.20.0.1"))
	if err := h.up(splitProfile("a", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	if err := h.up(classfulProfile("b")); err != nil {
		t.Fatal(err)
	}
	st := h.waitProfile("b", StateFailed)
	if st.Error == nil || !strings.Contains(st.Error.Msg, `profile "b" routes the classful network 10.0.0.0/8 of its assigned address 10.5.0.10 through its tunnel, which overlaps the routes or addresses of profile "a"`) {
		t.Errorf("b: %+v", st.Error)
	}
	// The other order: c's classful 172.20.0.0/16 is claimed once it is up.
	if err := h.up(classfulProfile("c")); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("c", StateConnected)
	refusal(t, h.up(splitProfile("d", "172.20.5.0/24")), "c", "overlaps 172.20.0.0/16 of profile \"c\"")
}

// Two split tunnels whose DNS domains overlap (equal, or one under the
// other, in any case) both come up, and the second one's up says so in a
// progress line naming the first; disjoint domains say nothing.
func TestManagerSharedDNSDomain(t *testing.T) {
	// In the order of the ups: a, c, b.
	h := newHarness(t, connectsAs("192.168.30.10", "192.168.30.1"), connectsAs("192.168.32.10", "192.168.32.1"),
		connectsAs("192.168.31.10", "192.168.31.1"))
	a := splitProfile("a", "192.168.30.0/24")
	a.Domains = []string{"corp.example"}
	if err := h.up(a); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("a", StateConnected)
	c := splitProfile("c", "192.168.32.0/24")
	c.Domains = []string{"other.example", "xcorp.example"}
	if err := h.up(c); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("c", StateConnected)
	b := splitProfile("b", "192.168.31.0/24")
	b.Domains = []string{"eu.CORP.example"}
	if err := h.up(b); err != nil {
		t.Fatal(err)
	}
	h.waitProfile("b", StateConnected)
	notes := map[string][]string{}
	for done := false; !done; {
		select {
		case ev := <-h.events:
			if ev.Kind == EventProgress && strings.HasPrefix(ev.Line, "dns: profile") {
				notes[ev.Status.Profile] = append(notes[ev.Status.Profile], ev.Line)
			}
		default:
			done = true
		}
	}
	if len(notes["a"]) != 0 || len(notes["c"]) != 0 {
		t.Errorf("notes for a or c: %q", notes)
	}
	if got := notes["b"]; len(got) != 1 || !strings.Contains(got[0], `profile "a" also has the DNS domain corp.example (this one: eu.CORP.example)`) {
		t.Errorf("b's notes %q", got)
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"corp.example", "corp.example.", true}, {"a.corp.example", "corp.example", true},
		{"corp.example", "xcorp.example", false}, {"corp.example", "example.corp", false},
	} {
		if got := domainsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("domainsOverlap(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
