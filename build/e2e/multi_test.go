package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/core"
)

// TestDaemonTwoTunnels: two SoftEther servers (veth nets 10.99.0/10.99.1,
// SecureNAT 192.168.30/192.168.31) reached from one client namespace, one
// helper, two split-tunnel profiles up at once on corridor0 and corridor1
// with pings through both; a full tunnel beside them is refused in plain
// words; down of one leaves the other working with its routes (and hands
// resolv.conf to it); down of the other restores routes and resolv.conf
// byte for byte.
func TestDaemonTwoTunnels(t *testing.T) {
	t0 := time.Now()
	a, b, r, routesBefore, resolvBefore, upOut := twoTunnels(t)
	sts := r.statuses()
	if len(sts) != 2 || sts[0].Profile != "alpha" || sts[1].Profile != "beta" ||
		sts[0].State != core.StateConnected || sts[1].State != core.StateConnected ||
		sts[0].Interface != "corridor0" || sts[1].Interface != "corridor1" ||
		!strings.HasPrefix(sts[0].Address, "192.168.30.") || !strings.HasPrefix(sts[1].Address, "192.168.31.") {
		t.Fatalf("status --json: %+v", sts)
	}
	if out, code := r.cli(10*time.Second, "", "status"); code != 0 ||
		!strings.Contains(out, "alpha: connected for ") || !strings.Contains(out, " on corridor0 via "+a.Addr) ||
		!strings.Contains(out, "beta: connected for ") || !strings.Contains(out, " on corridor1 via "+b.Addr) {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	// Routed, not only bound: no -I, the kernel picks each device.
	for _, c := range []struct{ host, dev string }{{a.VPNHost, "corridor0"}, {b.VPNHost, "corridor1"}} {
		if got := r.ns("ip", "-4", "route", "get", c.host); !strings.Contains(got, "dev "+c.dev) {
			t.Errorf("route to %s: %s", c.host, got)
		}
		if got := pingHost(t, a, "", c.host, 3); got != 3 {
			t.Errorf("ping %s through %s: %d of 3", c.host, c.dev, got)
		}
	}
	// The first tunnel owns resolv.conf; the second one's DNS is skipped
	// and says so.
	if rc := mustRead(t, r.resolv); !strings.Contains(rc, "nameserver "+a.VPNHost) || strings.Contains(rc, b.VPNHost) {
		t.Errorf("resolv.conf with two tunnels:\n%s", rc)
	}
	if !strings.Contains(upOut["beta"], "DNS servers ["+b.VPNHost+"] not set: /etc/resolv.conf already carries the DNS of the tunnel on corridor0") {
		t.Errorf("the second tunnel does not say its DNS was not applied")
	}
	// status says so too, for as long as it lasts.
	heldNote := `DNS for profile "beta" is not in use: profile "alpha" holds resolv.conf`
	if sts[0].DNSNote != "" || !strings.HasPrefix(sts[1].DNSNote, heldNote) {
		t.Errorf("status --json dns_note: alpha %q, beta %q", sts[0].DNSNote, sts[1].DNSNote)
	}
	if out, _ := r.cli(10*time.Second, "", "status"); !strings.Contains(out, "\n  note: "+heldNote) {
		t.Errorf("status does not show beta's DNS note:\n%s", out)
	}

	// A full tunnel cannot join them.
	out, code := r.cli(30*time.Second, "", "up", "gamma")
	t.Logf("corridor up gamma (full tunnel): exit %d\n%s", code, out)
	if code == 0 || !strings.Contains(out, `profile "gamma" sends all traffic through its tunnel, and profile "alpha" is connected`) ||
		!strings.Contains(out, "corridor down alpha") {
		t.Errorf("full tunnel beside two split tunnels: exit %d, want the plain-words refusal", code)
	}
	if n := len(r.statuses()); n != 2 {
		t.Errorf("%d sessions after the refusal, want 2", n)
	}

	betaRoutes := r.ns("ip", "-4", "route", "show", "dev", "corridor1")
	if out, code := r.cli(30*time.Second, "", "down", "alpha"); code != 0 {
		t.Fatalf("down alpha: exit %d\n%s", code, out)
	}
	sts = r.statuses()
	if len(sts) != 1 || sts[0].Profile != "beta" || sts[0].State != core.StateConnected {
		// A session that was taken down may still be listed as idle.
		var live []core.Status
		for _, st := range sts {
			if st.State != core.StateIdle {
				live = append(live, st)
			}
		}
		if len(live) != 1 || live[0].Profile != "beta" || live[0].State != core.StateConnected {
			t.Errorf("after down alpha: %+v", sts)
		}
	}
	if r.ns("ip", "link", "show", "corridor0") != "" && !strings.Contains(r.ns("ip", "link", "show", "corridor0"), "does not exist") {
		t.Errorf("corridor0 still there after down alpha")
	}
	if got := r.ns("ip", "-4", "route", "show", "dev", "corridor1"); got != betaRoutes {
		t.Errorf("beta's routes changed by down alpha:\nbefore:\n%s\nafter:\n%s", betaRoutes, got)
	}
	if got := pingHost(t, a, "", b.VPNHost, 3); got != 3 {
		t.Errorf("ping %s after down alpha: %d of 3", b.VPNHost, got)
	}
	// The owner has gone: the other tunnel takes resolv.conf over.
	if rc := mustRead(t, r.resolv); !strings.HasPrefix(rc, "# written by Corridor for corridor1;") || !strings.Contains(rc, "nameserver "+b.VPNHost+"\n") {
		t.Errorf("resolv.conf after its owner went:\n%s", rc)
	}
	for _, st := range r.statuses() {
		if st.Profile == "beta" && st.DNSNote != "" {
			t.Errorf("beta's DNS note after the takeover: %q", st.DNSNote)
		}
	}

	if out, code := r.cli(30*time.Second, "", "down", "beta"); code != 0 {
		t.Fatalf("down beta: exit %d\n%s", code, out)
	}
	if after := r.routes(); after != routesBefore {
		t.Errorf("routes after both downs differ:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after both downs differs:\nbefore:\n%q\nafter:\n%q", resolvBefore, after)
	}
	if entries, _ := os.ReadDir(r.journal); len(entries) != 0 {
		t.Errorf("journal not empty after both downs: %v", entries)
	}
	scanForSecrets(t, r, a)
	t.Logf("whole test body %v", time.Since(t0).Round(10*time.Millisecond))
}

// twoTunnels starts two SoftEther servers (the second in the first's client
// namespace), a helper there, profiles alpha (split, server a), beta
// (split, server b) and gamma (full tunnel, server a), and brings alpha
// and beta up. It returns the routes and resolv.conf from before, and
// the output of each up.
func twoTunnels(t *testing.T) (a, b *softether.Server, r *daemonRig, routesBefore, resolvBefore string, upOut map[string]string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, runs two SoftEther VPN Servers and TUN devices")
	}
	t0 := time.Now()
	a = softether.Start(t)
	b = softether.StartWith(t, softether.Options{Net: "10.99.1", VPNNet: "192.168.31", Join: a})
	t.Logf("two servers ready in %v: %s (VPN %s) and %s (VPN %s), client namespace %s",
		time.Since(t0).Round(10*time.Millisecond), a.Addr, a.VPNHost, b.Addr, b.VPNHost, a.ClientNS)
	r = newDaemonRig(t, a)
	routesBefore, resolvBefore = r.routes(), mustRead(t, r.resolv)
	addProfileFor(r, a, "alpha", "--full-tunnel=false", "--route", "192.168.30.0/24")
	addProfileFor(r, b, "beta", "--full-tunnel=false", "--route", "192.168.31.0/24")
	addProfileFor(r, a, "gamma", "--full-tunnel")

	upOut = map[string]string{}
	for _, p := range []struct{ name, dev, net string }{{"alpha", "corridor0", "192.168.30."}, {"beta", "corridor1", "192.168.31."}} {
		start := time.Now()
		out, code := r.cli(90*time.Second, "", "up", p.name)
		t.Logf("corridor up %s (%v):\n%s", p.name, time.Since(start).Round(time.Millisecond), out)
		upOut[p.name] = out
		if code != 0 || !strings.Contains(out, "connected: "+p.name+" interface "+p.dev+" address "+p.net) {
			t.Fatalf("up %s: exit %d", p.name, code)
		}
	}
	return a, b, r, routesBefore, resolvBefore, upOut
}

// TestDaemonTwoTunnelsKill9Recovers: the helper is killed with SIGKILL
// while two tunnels are up; the next helper replays both journals (one
// with resolv.conf, one without) and routes and resolv.conf are as before.
func TestDaemonTwoTunnelsKill9Recovers(t *testing.T) {
	_, _, r, routesBefore, resolvBefore, _ := twoTunnels(t)
	if entries, _ := os.ReadDir(r.journal); len(entries) != 2 {
		t.Errorf("journals with two tunnels up: %v, want two", entries)
	}
	r.daemon.Process.Kill()
	<-r.waited
	left := r.routes()
	t.Logf("after kill -9: routes\n%sresolv.conf:\n%s", left, mustRead(t, r.resolv))
	if left == routesBefore && mustRead(t, r.resolv) == resolvBefore {
		t.Fatalf("kill -9 left nothing behind: the test proves nothing")
	}
	r.startDaemon()
	if after := r.routes(); after != routesBefore {
		t.Errorf("routes after recovery differ:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after recovery differs:\nbefore:\n%q\nafter:\n%q", resolvBefore, after)
	}
	if entries, _ := os.ReadDir(r.journal); len(entries) != 0 {
		t.Errorf("journal not empty after recovery: %v", entries)
	}
}

// addProfileFor is daemonRig.addProfile for a server other than the rig's.
func addProfileFor(r *daemonRig, s *softether.Server, name string, extra ...string) {
	r.t.Helper()
	dir := r.t.TempDir()
	pw, psk := filepath.Join(dir, "pw"), filepath.Join(dir, "psk")
	os.WriteFile(pw, []byte(s.Password+"\n"), 0o600)
	os.WriteFile(psk, []byte(s.PSK+"\n"), 0o600)
	args := append([]string{"profile", "add", name, "--server", s.Addr, "--user", s.User,
		"--password-file", pw, "--psk-file", psk}, extra...)
	out, code := r.cli(30*time.Second, "", args...)
	if code != 0 {
		r.t.Fatalf("profile add %s: exit %d\n%s", name, code, out)
	}
	os.Remove(pw)
	os.Remove(psk)
}

// statuses is status --json with any number of sessions, in profile order.
func (r *daemonRig) statuses() []core.Status {
	r.t.Helper()
	out, code := r.cli(10*time.Second, "", "status", "--json")
	var rep core.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Version != core.StatusReportVersion {
		r.t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	return rep.Sessions
}

// pingHost pings host from s's client namespace, through ifname when not
// "", and returns how many answers came back.
func pingHost(t *testing.T, s *softether.Server, ifname, host string, count int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	args := []string{"-c", strconv.Itoa(count), "-i", "0.3", "-W", "2"}
	if ifname != "" {
		args = append(args, "-I", ifname)
	}
	out, _ := s.Command(ctx, "ping", append(args, host)...).CombinedOutput()
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping output not understood:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[2]))
	return n
}
