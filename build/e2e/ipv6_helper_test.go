package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/core"
)

// IPv6 inside the tunnel, end to end through the real helper and the real
// kernel. SoftEther opens IPV6CP but sends no router advertisement
// (ipv6_test.go), so the server here is build/benchpeer: IKE, L2TP and PPP
// from the tunnel packages (l2tptest answers router solicitations with
// the advertisement -ipv6-ra scripts, and DHCPv6 with -dhcpv6), IPv4 and
// IPv6 data forwarded to and from a TUN device of its own that holds
// 10.237.0.1 and 2001:db8:6::1. The client is "corridor daemon" in the
// client namespace, driven by corridor profile add/up/status/down as a
// user would, with a profile of ipv6 = true.

const (
	v6hNet     = "10.236.0"         // the veth /24: server .1, client .2
	v6hPrefix  = "2001:db8:6::/64"  // the advertised prefix
	v6hRouter  = "2001:db8:6::1"    // benchpeer's TUN
	v6hDNS     = "2001:db8:6::53"   // RDNSS (and DHCPv6 option 23)
	v6hDNS4    = "10.237.0.53"      // IPCP's DNS (RFC 1877), with -dns
	v6hDomain  = "corp.example"     // DNSSL (and DHCPv6 option 24), with -ipv6-domain
	v6hRoute   = "2001:db8:77::/48" // a Route Information option (RFC 4191), with -ipv6-route
	v6hDHCP    = "2001:db8:6::100"  // the DHCPv6 IA_NA address
	v6hOutside = "2001:db8:99::1"   // an address no route but the tunnel's covers
	v6hDev     = "corridor0"        // the helper's first device
	v6hUser    = "alice"            // benchpeer's PPP user
	v6hTunPeer = "10.237.0.1"       // benchpeer's IPCP address
	v6hTunAddr = "10.237.0.2"       // what IPCP gives the client
)

var (
	benchpeerOnce sync.Once
	benchpeerBin  string
	benchpeerErr  error
)

// buildBenchpeer builds build/benchpeer next to the corridor binary (the
// directory TestMain removes at the end).
func buildBenchpeer(t *testing.T) string {
	t.Helper()
	benchpeerOnce.Do(func() {
		bin := filepath.Join(filepath.Dir(corridorBin), "benchpeer")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/corridorvpn/corridor/build/benchpeer").CombinedOutput()
		if err != nil {
			benchpeerErr = fmt.Errorf("go build benchpeer: %v\n%s", err, out)
			return
		}
		benchpeerBin = bin
	})
	if benchpeerErr != nil {
		t.Fatal(benchpeerErr)
	}
	return benchpeerBin
}

// v6hRig is a pair of namespaces joined by a veth, benchpeer in the
// server one and corridor daemon in the client one.
type v6hRig struct {
	*daemonRig
	s       *softether.Server // the namespaces and credentials only: no SoftEther runs
	peer    *exec.Cmd
	peerLog *syncLog
}

// syncLog is benchpeer's output, written by two goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startV6h sets up the namespaces, benchpeer with peerFlags and the
// daemon. Everything is undone when the test ends, failed or not: the
// daemon first (it restores the client namespace), then benchpeer, then
// the namespaces.
func startV6h(t *testing.T, tag string, peerFlags ...string) *v6hRig {
	t.Helper()
	bin := buildBenchpeer(t)
	id := os.Getpid() % 100000
	s := &softether.Server{Name: "benchpeer", Addr: v6hNet + ".1",
		ServerNS: fmt.Sprintf("v6h%d%ss", id, tag), ClientNS: fmt.Sprintf("v6h%d%sc", id, tag),
		User: v6hUser, Password: "v6h-pass-" + strconv.Itoa(id), PSK: "v6h-psk-" + strconv.Itoa(id)}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{s.ServerNS, s.ClientNS} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Fatalf("namespace %s exists (left over? ip netns del %s)", ns, ns)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", s.ServerNS).Run()
		exec.Command("ip", "netns", "del", s.ClientNS).Run()
	})
	sh("ip", "netns", "add", s.ServerNS)
	sh("ip", "netns", "add", s.ClientNS)
	sh("ip", "link", "add", "v6hv0", "netns", s.ServerNS, "type", "veth", "peer", "name", "v6hv1", "netns", s.ClientNS)
	sh("ip", "-n", s.ServerNS, "addr", "add", v6hNet+".1/24", "dev", "v6hv0")
	sh("ip", "-n", s.ClientNS, "addr", "add", v6hNet+".2/24", "dev", "v6hv1")
	for _, ns := range []string{s.ServerNS, s.ClientNS} {
		sh("ip", "-n", ns, "link", "set", "lo", "up")
	}
	// The veth carries IPv4 only: without a link-local address of its own
	// (which the kernel would add a moment after the link comes up) the
	// IPv6 table holds nothing that changes while the test runs.
	sh("ip", "-n", s.ServerNS, "link", "set", "v6hv0", "addrgenmode", "none", "up")
	sh("ip", "-n", s.ClientNS, "link", "set", "v6hv1", "addrgenmode", "none", "up")

	dir := t.TempDir()
	pw, psk := filepath.Join(dir, "password"), filepath.Join(dir, "psk")
	if err := os.WriteFile(pw, []byte(s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(psk, []byte(s.PSK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &v6hRig{s: s, peerLog: &syncLog{}}
	args := append([]string{"netns", "exec", s.ServerNS, bin, "-listen", s.Addr, "-psk-file", psk, "-user", s.User,
		"-password-file", pw, "-tun", "v6hpeer0", "-local", v6hTunPeer, "-client", v6hTunAddr, "-v"}, peerFlags...)
	r.peer = exec.Command("ip", args...)
	r.peer.Stderr = r.peerLog
	stdout, err := r.peer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.peer.Start(); err != nil {
		t.Fatal(err)
	}
	peerDone := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.peerLog.Write([]byte(sc.Text() + "\n"))
			if strings.HasPrefix(sc.Text(), "ready") {
				select {
				case ready <- sc.Text():
				default:
				}
			}
		}
		r.peer.Wait()
		close(peerDone)
	}()
	t.Cleanup(func() {
		r.peer.Process.Signal(os.Interrupt)
		select {
		case <-peerDone:
		case <-time.After(5 * time.Second):
			r.peer.Process.Kill()
			<-peerDone
		}
		// Its counters, on exit: what it forwarded each way.
		for _, l := range strings.Split(r.peerLog.String(), "\n") {
			if strings.HasPrefix(l, "benchpeer: in:") || t.Failed() {
				t.Logf("benchpeer: %s", l)
			}
		}
	})
	select {
	case l := <-ready:
		t.Logf("benchpeer %s", l)
	case <-peerDone:
		t.Fatalf("benchpeer ended before it was ready:\n%s", r.peerLog.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("benchpeer not ready within 10 s:\n%s", r.peerLog.String())
	}
	r.daemonRig = newDaemonRig(t, s)
	return r
}

// routes6 is the client namespace's main IPv6 routing table.
func (r *v6hRig) routes6() string { return r.ns("ip", "-6", "route", "show", "table", "main") }

// iid is the interface identifier of the link-local address IPV6CP gave
// the device (fe80::IID/64), which SLAAC puts behind the prefix.
func (r *v6hRig) iid(t *testing.T) netip.Addr {
	t.Helper()
	out := r.ns("ip", "-6", "-o", "addr", "show", "dev", v6hDev, "scope", "link")
	m := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no link-local address on %s:\n%s", v6hDev, out)
	}
	ll := netip.MustParseAddr(m[1]).As16()
	g := netip.MustParsePrefix(v6hPrefix).Addr().As16()
	copy(g[8:], ll[8:])
	return netip.AddrFrom16(g)
}

// waitIPv6 polls corridor status --json (at most 10 s) until the session
// reports want among its IPv6 addresses, and returns that status.
func (r *v6hRig) waitIPv6(t *testing.T, want ...string) core.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := r.status()
		missing := ""
		for _, w := range want {
			if !slices.Contains(st.IPv6, w) {
				missing = w
			}
		}
		if missing == "" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status lacks IPv6 address %s after 10 s: %+v", missing, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ping6 pings dst from the client namespace and returns the replies.
func (r *v6hRig) ping6(t *testing.T, dst string, count int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	out, _ := r.s.Command(ctx, "ping", "-6", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2", dst).CombinedOutput()
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping -6 output not understood:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[2]))
	t.Logf("ping -6 -c %d %s: %d replies", count, dst, n)
	return n
}

// v6hCase is one profile against one benchpeer.
type v6hCase struct {
	name      string
	tag       string // in the namespace names
	peerFlags []string
	full      bool     // --full-tunnel
	withdraw  bool     // the server withdraws its default route and offers it again
	kill9     bool     // the daemon is killed (SIGKILL) instead of corridor down
	dns4      bool     // IPCP also hands out an IPv4 DNS server (v6hDNS4)
	reconnect bool     // the server freezes until the session is lost, then the daemon reconnects
	addrs     []string // expected on the device besides SLAAC's PREFIX::IID/64 (the DHCPv6 /128)
}

// TestIPv6Helper: IPv6 inside the tunnel through corridor daemon against
// benchpeer's router advertisement (RFC 4861, SLAAC RFC 4862, RDNSS and
// DNSSL RFC 8106, route information RFC 4191) and DHCPv6 (RFC 8415): the
// device's addresses, the IPv6 routes, resolv.conf and status --json
// while connected, IPv6 pings through the tunnel with the per-family
// counters, and nothing left after down; for a full and a split tunnel,
// a default route withdrawn and offered again, the daemon killed and its
// journal replayed, a reconnect, a server without IPv6 and an MTU too
// small for IPv6.
func TestIPv6Helper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, runs benchpeer and corridor daemon with TUN devices")
	}
	if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
		t.Skip("needs a kernel with IPv6 (/proc/net/if_inet6 is missing)")
	}
	ra := []string{"-ipv6-ra", v6hPrefix, "-ipv6-dns", v6hDNS}
	for _, c := range []v6hCase{
		{name: "FullSLAAC", tag: "a", peerFlags: append(slices.Clone(ra), "-dns", v6hDNS4, "-ipv6-domain", v6hDomain), full: true, dns4: true},
		{name: "FullDHCPv6", tag: "b", peerFlags: append(slices.Clone(ra), "-dhcpv6", v6hDHCP, "-ipv6-domain", v6hDomain), full: true, addrs: []string{v6hDHCP + "/128"}},
		{name: "Split", tag: "c", peerFlags: append(slices.Clone(ra), "-ipv6-route", v6hRoute), full: false},
		{name: "Withdraw", tag: "d", peerFlags: ra, full: true, withdraw: true},
		{name: "Kill9", tag: "e", peerFlags: ra, full: true, kill9: true},
		{name: "Reconnect", tag: "h", peerFlags: ra, full: true, reconnect: true},
	} {
		t.Run(c.name, func(t *testing.T) { ipv6HelperCase(t, c) })
	}
	t.Run("NoIPv6Server", func(t *testing.T) { ipv6HelperNoIPv6(t, "f", nil, nil, "") })
	// A tunnel MTU below IPv6's minimum: the device cannot have IPv6, the
	// session comes up without it and says why.
	t.Run("SmallMTU", func(t *testing.T) {
		ipv6HelperNoIPv6(t, "g", ra, []string{"--mtu", "1200"}, "device "+v6hDev+" mtu 1200; no IPv6 on the device: IPv6 needs an MTU of at least 1280")
	})
}

// waitRoutes6 polls the client's IPv6 table (at most 5 s) until ok.
func (r *v6hRig) waitRoutes6(t *testing.T, what string, ok func(table string) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		table := r.routes6()
		if ok(table) {
			return table
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s; ip -6 route:\n%s", what, table)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signalPeer sends sig to benchpeer and waits for its "ra: ..." line.
func (r *v6hRig) signalPeer(t *testing.T, sig os.Signal, want string) {
	t.Helper()
	before := strings.Count(r.peerLog.String(), want)
	if err := r.peer.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && strings.Count(r.peerLog.String(), want) == before; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Count(r.peerLog.String(), want) == before {
		t.Fatalf("benchpeer did not say %q within 5 s", want)
	}
}

// withdraw: the server's unsolicited advertisement with router lifetime 0
// (RFC 4861 6.3.4) takes the IPv6 default away: a full tunnel blocks IPv6
// outside the tunnel again (unreachable halves instead of the routes
// through the device) while the prefix still goes through it; the next
// advertisement with a lifetime gives the halves back.
func (r *v6hRig) withdraw(t *testing.T) {
	t.Helper()
	r.signalPeer(t, syscall.SIGUSR1, "ra: router lifetime 0 sent to 1 sessions")
	start := time.Now()
	table := r.waitRoutes6(t, "blocked after the withdrawal", func(tb string) bool {
		return strings.Contains(tb, "unreachable ::/1 ") && strings.Contains(tb, "unreachable 8000::/1 ") && !strings.Contains(tb, "::/1 dev "+v6hDev)
	})
	t.Logf("default withdrawn: blocked after %v:\n%s", time.Since(start).Round(time.Millisecond), table)
	if get := r.ns("ip", "-6", "route", "get", v6hOutside); !strings.Contains(get, "No route to host") {
		t.Errorf("after the withdrawal %s is not blocked: %s", v6hOutside, get)
	}
	if !strings.Contains(table, v6hPrefix+" dev "+v6hDev+" ") {
		t.Errorf("the prefix's route went with the default")
	}
	if got := r.ping6(t, v6hRouter, 1); got != 1 {
		t.Errorf("ping -6 %s (the prefix, still through the tunnel): %d of 1", v6hRouter, got)
	}
	r.signalPeer(t, syscall.SIGUSR2, "ra: router lifetime 1800 sent to 1 sessions")
	start = time.Now()
	table = r.waitRoutes6(t, "routed again after the new advertisement", func(tb string) bool {
		return !strings.Contains(tb, "unreachable") && strings.Contains(tb, "::/1 dev "+v6hDev+" ") && strings.Contains(tb, "8000::/1 dev "+v6hDev+" ")
	})
	t.Logf("default offered again: routed after %v", time.Since(start).Round(time.Millisecond))
}

// reconnect freezes benchpeer (SIGSTOP) until the daemon gives the
// session up, resumes it, and checks that the new session's IPv6 is set
// up like the first one's: its own address (IPV6CP negotiated a new
// identifier) in place of the old, all IPv6 through the device again, and
// pings pass.
func (r *v6hRig) reconnect(t *testing.T, old string) {
	t.Helper()
	if err := syscall.Kill(r.peer.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			syscall.Kill(r.peer.Process.Pid, syscall.SIGCONT)
		}
	}()
	for st := r.status(); st.State == core.StateConnected; st = r.status() {
		if time.Since(stopped) > 20*time.Second {
			t.Fatalf("the frozen server was not noticed within 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("session lost %v after the server froze", time.Since(stopped).Round(100*time.Millisecond))
	syscall.Kill(r.peer.Process.Pid, syscall.SIGCONT)
	resumed = true
	resume := time.Now()
	var st core.Status
	for st = r.status(); st.State != core.StateConnected || len(st.IPv6) == 0; st = r.status() {
		if time.Since(resume) > 20*time.Second {
			t.Fatalf("not reconnected with IPv6 within 20 s of the server resuming: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	now := r.iid(t).String() + "/64"
	t.Logf("reconnected with IPv6 %v after the server resumed: status ipv6 %v (before %s)", time.Since(resume).Round(100*time.Millisecond), st.IPv6, old)
	if !slices.Contains(st.IPv6, now) || slices.Contains(st.IPv6, old) && old != now {
		t.Errorf("status ipv6 %v after the reconnect, want %s and not %s", st.IPv6, now, old)
	}
	table6 := r.routes6()
	if !strings.Contains(table6, "::/1 dev "+v6hDev+" ") || !strings.Contains(table6, "8000::/1 dev "+v6hDev+" ") || strings.Contains(table6, "unreachable") {
		t.Errorf("IPv6 not through the tunnel after the reconnect:\n%s", table6)
	}
	if got := r.ping6(t, v6hRouter, 2); got != 2 {
		t.Errorf("ping -6 after the reconnect: %d of 2", got)
	}
}

// ipv6HelperNoIPv6: a full-tunnel profile with ipv6 = true and extra
// profile flags, where IPv6 cannot come up: against a server without IPv6
// (benchpeer without -ipv6-ra Protocol-Rejects IPV6CP, as pppd without
// IPv6 does), or on a device whose MTU is too small for IPv6 (then
// corridor up shows note). IPv4 works, no IPv6 address is reported, and
// the full tunnel blocks IPv6 outside it until down.
func ipv6HelperNoIPv6(t *testing.T, tag string, peerFlags, profileFlags []string, note string) {
	start := time.Now()
	r := startV6h(t, tag, peerFlags...)
	routes6Before, resolvBefore := r.routes6(), mustRead(t, r.resolv)
	r.addProfile("v6", append([]string{"--ipv6", "--full-tunnel"}, profileFlags...)...)
	out, code := r.cli(30*time.Second, "", "up", "v6")
	t.Logf("corridor up:\n%s", out)
	if code != 0 || !strings.Contains(out, "connected: v6 interface "+v6hDev+" address "+v6hTunAddr) {
		t.Fatalf("up: exit %d", code)
	}
	if note != "" && !strings.Contains(out, note) {
		t.Errorf("corridor up does not say %q", note)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ping, _ := r.s.Command(ctx, "ping", "-c", "3", "-i", "0.2", "-W", "2", v6hTunPeer).CombinedOutput()
	if m := pingReceived.FindSubmatch(ping); m == nil || string(m[2]) != "3" {
		t.Errorf("IPv4 ping through the tunnel:\n%s", ping)
	}
	st := r.status()
	table6 := r.routes6()
	get := r.ns("ip", "-6", "route", "get", v6hRouter)
	t.Logf("status ipv6 %v; ip -6 route:\n%sroute get %s: %s", st.IPv6, table6, v6hRouter, get)
	if len(st.IPv6) != 0 || st.Stats.TxBytes6 != 0 || st.Stats.RxBytes6 != 0 {
		t.Errorf("IPv6 reported without IPv6 at the server: %+v", st)
	}
	if !strings.Contains(table6, "unreachable ::/1 ") || !strings.Contains(table6, "unreachable 8000::/1 ") || !strings.Contains(get, "No route to host") {
		t.Errorf("IPv6 not blocked in a full tunnel whose server has no IPv6")
	}
	if out, code := r.cli(30*time.Second, "", "down", "v6"); code != 0 {
		t.Errorf("down: exit %d\n%s", code, out)
	}
	if after := r.routes6(); after != routes6Before {
		t.Errorf("IPv6 routes after down differ:\nbefore:\n%s\nafter:\n%s", routes6Before, after)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after down differs")
	}
	t.Logf("case took %v", time.Since(start).Round(time.Millisecond))
}

func ipv6HelperCase(t *testing.T, c v6hCase) {
	start := time.Now()
	r := startV6h(t, c.tag, c.peerFlags...)
	routesBefore, routes6Before, resolvBefore := r.routes(), r.routes6(), mustRead(t, r.resolv)
	// A split tunnel needs an IPv4 route of its own (profile.Validate);
	// benchpeer's side of the tunnel is in it.
	args := []string{"--ipv6", "--full-tunnel=false", "--route", "10.237.0.0/24"}
	if c.full {
		args = []string{"--ipv6", "--full-tunnel"}
	}
	if c.reconnect {
		// Five unanswered LCP echoes a second apart end the session.
		args = append(args, "--keepalive", "1s")
	}
	r.addProfile("v6", args...)
	setup := time.Since(start)

	up := time.Now()
	out, code := r.cli(30*time.Second, "", "up", "v6")
	t.Logf("corridor up (%v):\n%s", time.Since(up).Round(time.Millisecond), out)
	if code != 0 || !strings.Contains(out, "connected: v6 interface "+v6hDev+" address "+v6hTunAddr) {
		t.Fatalf("up: exit %d", code)
	}
	// The advertisement answers the first router solicitation, sent when
	// IPV6CP opens; the offer reaches the OS on the link's goroutine.
	want := []string{r.iid(t).String() + "/64"}
	want = append(want, c.addrs...)
	st := r.waitIPv6(t, want...)
	t.Logf("IPv6 configured %v after up began: status ipv6 %v dns %v", time.Since(up).Round(time.Millisecond), st.IPv6, st.DNS)
	if len(st.IPv6) != len(want) {
		t.Errorf("status ipv6 %v, want exactly %v", st.IPv6, want)
	}
	// The IPv6 DNS server comes with the addresses (one Set): status
	// lists it beside IPCP's.
	if !slices.Contains(st.DNS, v6hDNS) || (c.dns4 && !slices.Contains(st.DNS, v6hDNS4)) {
		t.Errorf("status dns %v, want %s (and %s when IPCP gives one)", st.DNS, v6hDNS, v6hDNS4)
	}
	// The kernel leaves router solicitation to the tunnel (platform
	// OpenTUN: accept_ra 0), which consumes the advertisements: the
	// kernel's own would go on for as long as the device is up.
	if ra := strings.TrimSpace(r.ns("sysctl", "-n", "net/ipv6/conf/"+v6hDev+"/accept_ra")); ra != "0" {
		t.Errorf("%s accept_ra = %q, want 0", v6hDev, ra)
	}

	addrs := r.ns("ip", "-6", "addr", "show", "dev", v6hDev)
	table6 := r.routes6()
	t.Logf("ip -6 addr show dev %s:\n%sip -6 route:\n%s", v6hDev, addrs, table6)
	for _, a := range want {
		if !strings.Contains(addrs, "inet6 "+a+" scope global") {
			t.Errorf("device lacks %s", a)
		}
	}
	if !strings.Contains(table6, v6hPrefix+" dev "+v6hDev+" ") {
		t.Errorf("no route of the on-link prefix %s through %s", v6hPrefix, v6hDev)
	}
	if strings.Contains(table6, "unreachable") {
		t.Errorf("IPv6 still blocked though the server offered a default route")
	}
	halves := strings.Contains(table6, "::/1 dev "+v6hDev+" ") && strings.Contains(table6, "8000::/1 dev "+v6hDev+" ")
	get := r.ns("ip", "-6", "route", "get", v6hOutside)
	t.Logf("ip -6 route get %s: %s", v6hOutside, get)
	if c.full {
		if !halves {
			t.Errorf("full tunnel: ::/1 and 8000::/1 not routed through %s", v6hDev)
		}
		if !strings.Contains(get, "dev "+v6hDev) {
			t.Errorf("full tunnel: %s does not go through the tunnel", v6hOutside)
		}
	} else {
		if strings.Contains(table6, "::/1 ") {
			t.Errorf("split tunnel: the IPv6 halves are routed")
		}
		if strings.Contains(get, "dev "+v6hDev) {
			t.Errorf("split tunnel: %s goes through the tunnel", v6hOutside)
		}
	}
	// resolv.conf can lag the status by nothing: both come from one Set.
	rc := mustRead(t, r.resolv)
	if !strings.Contains(rc, "nameserver "+v6hDNS+"\n") {
		t.Errorf("resolv.conf lacks nameserver %s:\n%s", v6hDNS, rc)
	}
	if slices.Contains(c.peerFlags, "-ipv6-domain") && !regexp.MustCompile(`(?m)^search .*\b`+regexp.QuoteMeta(v6hDomain)+`\b`).MatchString(rc) {
		t.Errorf("resolv.conf lacks search domain %s:\n%s", v6hDomain, rc)
	}
	if slices.Contains(c.peerFlags, "-ipv6-route") {
		// The offered route goes through the tunnel, split or not.
		get := r.ns("ip", "-6", "route", "get", "2001:db8:77::1")
		t.Logf("ip -6 route get 2001:db8:77::1: %s", get)
		if !strings.Contains(table6, v6hRoute+" dev "+v6hDev+" ") || !strings.Contains(get, "dev "+v6hDev) {
			t.Errorf("the offered route %s does not go through %s", v6hRoute, v6hDev)
		}
	}
	if c.dns4 {
		// The IPv6 servers join the IPv4 ones, after them (core/ipv6.go).
		i4, i6 := strings.Index(rc, "nameserver "+v6hDNS4+"\n"), strings.Index(rc, "nameserver "+v6hDNS+"\n")
		t.Logf("resolv.conf while connected:\n%s", rc)
		if i4 < 0 || i6 < i4 {
			t.Errorf("resolv.conf does not list %s, then %s", v6hDNS4, v6hDNS)
		}
	}

	// IPv6 through the tunnel to benchpeer's TUN, and the IPv6 counters.
	if got := r.ping6(t, v6hRouter, 3); got != 3 {
		t.Errorf("ping -6 %s through the tunnel: %d of 3", v6hRouter, got)
	}
	st2 := r.status()
	s1, s2 := st.Stats, st2.Stats
	t.Logf("IPv6 counters: before ping tx %d B/%d pkts rx %d B/%d pkts; after tx %d B/%d pkts rx %d B/%d pkts (all: tx %d rx %d B)",
		s1.TxBytes6, s1.TxPackets6, s1.RxBytes6, s1.RxPackets6, s2.TxBytes6, s2.TxPackets6, s2.RxBytes6, s2.RxPackets6, s2.TxBytes, s2.RxBytes)
	// An echo request or reply of ping's default 56 bytes: 40 + 8 + 56.
	const echo6 = 104
	if s2.TxPackets6 < s1.TxPackets6+3 || s2.RxPackets6 < s1.RxPackets6+3 ||
		s2.TxBytes6 < s1.TxBytes6+3*echo6 || s2.RxBytes6 < s1.RxBytes6+3*echo6 {
		t.Errorf("IPv6 counters did not grow by three echoes each way")
	}
	if s2.TxBytes < s2.TxBytes6 || s2.RxBytes < s2.RxBytes6 {
		t.Errorf("the IPv6 counters exceed the totals")
	}
	out, code = r.cli(30*time.Second, "", "status")
	t.Logf("corridor status:\n%s", out)
	if code != 0 || !strings.Contains(out, want[0]) {
		t.Errorf("corridor status (exit %d) does not show %s", code, want[0])
	}
	if c.withdraw {
		r.withdraw(t)
	}
	if c.reconnect {
		r.reconnect(t, want[0])
	}

	down := time.Now()
	if c.kill9 {
		// The journal of the killed daemon is replayed by the next one.
		r.daemon.Process.Kill()
		<-r.waited
		t.Logf("after kill -9: ip -6 route:\n%sresolv.conf:\n%s", r.routes6(), mustRead(t, r.resolv))
		if mustRead(t, r.resolv) == resolvBefore {
			t.Errorf("kill -9 left resolv.conf as before: the recovery proves nothing")
		}
		r.startDaemon()
		t.Logf("recovered by the next daemon (%v)", time.Since(down).Round(time.Millisecond))
		logMu.Lock()
		t.Logf("the next daemon's log:\n%s", r.log.String())
		logMu.Unlock()
	} else {
		out, code = r.cli(30*time.Second, "", "down", "v6")
		if code != 0 {
			t.Errorf("down: exit %d\n%s", code, out)
		}
		t.Logf("corridor down (%v)", time.Since(down).Round(time.Millisecond))
		if slices.Contains(c.peerFlags, "-dhcpv6") {
			// down gave the lease back (RFC 8415 18.2.7) before PPP ended.
			rel := "dhcpv6: Release " + v6hDHCP
			for i := 0; i < 40 && !strings.Contains(r.peerLog.String(), rel); i++ {
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(r.peerLog.String(), rel) {
				t.Errorf("benchpeer saw no %q after down:\n%s", rel, r.peerLog.String())
			}
		}
	}
	if after := r.routes(); after != routesBefore {
		t.Errorf("IPv4 routes after down differ:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	if after := r.routes6(); after != routes6Before {
		t.Errorf("IPv6 routes after down differ:\nbefore:\n%s\nafter:\n%s", routes6Before, after)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after down differs:\nbefore:\n%q\nafter:\n%q", resolvBefore, after)
	}
	if r.s.Command(context.Background(), "ip", "link", "show", v6hDev).Run() == nil {
		t.Errorf("device %s still exists after down", v6hDev)
	}
	if all := r.ns("ip", "-6", "addr", "show"); strings.Contains(all, "2001:db8:6:") {
		t.Errorf("an address of %s is left after down:\n%s", v6hPrefix, all)
	}
	scanForSecrets(t, r.daemonRig, r.s)
	t.Logf("case took %v (namespaces, benchpeer, keyring, daemon and profile: %v)", time.Since(start).Round(time.Millisecond), setup.Round(time.Millisecond))
}
