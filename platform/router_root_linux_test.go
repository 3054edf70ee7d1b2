package platform

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The root test of the Router runs in a private network namespace and a
// private mount namespace, made by re-executing this test binary under
// "unshare --net --mount": the routes it changes and the file it bind-mounts
// over /etc/resolv.conf exist only there, and vanish with the process.
const (
	// routerNSEnv is set in the re-executed binary; it holds the host's
	// namespace identities, which the child checks it does not share.
	routerNSEnv = "CORRIDOR_ROUTER_TEST_NS"
	// routerCrashEnv names the journal directory of a grandchild that
	// applies a config and waits to be killed with SIGKILL.
	routerCrashEnv = "CORRIDOR_ROUTER_TEST_CRASH"
	// crashMarker is the line the grandchild prints once Set returned.
	crashMarker = "CORRIDOR-ROUTER-APPLIED"
)

func nsIdentity() string {
	net, _ := os.Readlink("/proc/self/ns/net")
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	return net + " " + mnt
}

func TestRouterRoot(t *testing.T) {
	if dir := os.Getenv(routerCrashEnv); dir != "" {
		routerCrashChild(t, dir)
		return
	}
	if host := os.Getenv(routerNSEnv); host != "" {
		testRouterInNamespaces(t, host)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: changes routes in a private network namespace and bind-mounts over /etc/resolv.conf in a private mount namespace")
	}
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--mount", "--propagation", "private", "--",
		os.Args[0], "-test.run=^TestRouterRoot$", "-test.v", "-test.count=1", "-test.timeout=80s")
	cmd.Env = append(os.Environ(), routerNSEnv+"="+nsIdentity())
	out, err := cmd.CombinedOutput()
	t.Logf("child in private network and mount namespaces:\n%s", out)
	if err != nil && bytes.HasPrefix(out, []byte("unshare: ")) {
		t.Skipf("cannot create namespaces: %s", bytes.TrimSpace(out))
	}
	if err != nil {
		t.Fatalf("test in namespaces failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: TestRouterRoot") {
		t.Skip("skipped inside the namespaces")
	}
	if !strings.Contains(string(out), "--- PASS: TestRouterRoot") {
		t.Fatal("child did not report a pass")
	}
}

func ipRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addLink creates an interface that is up with a carrier: one end of a veth
// pair with its peer up too (the kernel may lack the dummy driver).
func addLink(t *testing.T, name string) {
	t.Helper()
	ipRun(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	ipRun(t, "link", "set", name+"p", "up")
	ipRun(t, "link", "set", name, "up")
}

func mainRoutes(t *testing.T) string { return ipRun(t, "-4", "route", "show", "table", "main") }

// mainRoutes6 is the IPv6 main table without its link-local routes, which
// the kernel adds when a link's fe80:: address comes, at a moment of its
// own.
func mainRoutes6(t *testing.T) string {
	var keep []string
	for _, l := range strings.Split(ipRun(t, "-6", "route", "show", "table", "main"), "\n") {
		if !strings.HasPrefix(l, "fe80::") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// route6Get is "ip -6 route get ADDR": its output, and whether it found a
// route (it fails with "No route to host" on an unreachable one).
func route6Get(t *testing.T, addr string) (string, bool) {
	t.Helper()
	out, err := exec.Command("ip", "-6", "route", "get", addr).CombinedOutput()
	return string(out), err == nil
}

// wantRoutes checks that every line of want starts some line of the table.
func wantRoutes(t *testing.T, what, table string, want, absent []string) {
	t.Helper()
	has := func(w string) bool {
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, w) {
				return true
			}
		}
		return false
	}
	for _, w := range want {
		if !has(w) {
			t.Errorf("%s: no route %q in\n%s", what, w, table)
		}
	}
	for _, w := range absent {
		if has(w) {
			t.Errorf("%s: route %q still in\n%s", what, w, table)
		}
	}
}

type fileState struct {
	data []byte
	mode fs.FileMode
}

func readState(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{data, fi.Mode().Perm()}
}

const etcResolvConf = "/etc/resolv.conf"

func testRouterInNamespaces(t *testing.T, host string) {
	// Refuse to touch the host: be sure both namespaces are new.
	self := nsIdentity()
	hf, sf := strings.Fields(host), strings.Fields(self)
	if len(hf) != 2 || len(sf) != 2 || hf[0] == sf[0] || hf[1] == sf[1] {
		t.Fatalf("not in private namespaces: host %q, here %q", host, self)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("making mounts private: %v", err)
	}

	// The "LAN": an uplink with a default route via a gateway.
	ipRun(t, "link", "set", "lo", "up")
	addLink(t, "uplink0")
	ipRun(t, "addr", "add", "192.0.2.2/24", "dev", "uplink0")
	ipRun(t, "route", "add", "default", "via", "192.0.2.1", "dev", "uplink0")
	// An IPv6 default route too, which a full tunnel must not leave usable.
	if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
		t.Skipf("needs IPv6 in the kernel: %v", err)
	}
	ipRun(t, "-6", "addr", "add", "2001:db8:1::2/64", "dev", "uplink0", "nodad")
	ipRun(t, "-6", "route", "add", "default", "via", "2001:db8:1::1", "dev", "uplink0")

	// A resolv.conf of our own over /etc/resolv.conf, seen only here.
	if _, err := os.Stat(etcResolvConf); err != nil {
		t.Skipf("needs %s to mount over: %v", etcResolvConf, err)
	}
	fake := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(fake, []byte("# from DHCP\nnameserver 192.0.2.53\noptions edns0 trust-ad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(fake, 0o640)
	if err := unix.Mount(fake, etcResolvConf, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting over %s: %v", etcResolvConf, err)
	}
	defer unix.Unmount(etcResolvConf, 0)

	t.Run("set and close", func(t *testing.T) { routerSetClose(t) })
	t.Run("crash and recover", func(t *testing.T) { routerCrashRecover(t) })
	t.Run("ipv6 config", func(t *testing.T) { routerIPv6Config(t) })
}

// routerIPv6Config: a full tunnel whose session then offers IPv6 (the
// ipv6.Config of a router advertisement) gets the address on the TUN
// device and IPv6 routed through it instead of the unreachable block;
// Close leaves the IPv6 routes and the device's addresses as they were.
func routerIPv6Config(t *testing.T) {
	tn, err := OpenTUN(TUNConfig{Name: "corridor6", MTU: 1400, Local: localAddr, Peer: netip.MustParseAddr("192.168.30.1"), IPv6: true})
	if err != nil {
		t.Fatalf("OpenTUN: %v", err)
	}
	defer tn.Close()
	if err := tn.AddLinkLocal(netip.MustParseAddr("fe80::5")); err != nil {
		t.Fatalf("AddLinkLocal: %v", err)
	}
	routesBefore, routes6Before := mainRoutes(t), mainRoutes6(t)
	addrsBefore := ipRun(t, "-6", "addr", "show", "dev", "corridor6")
	resolvBefore := readState(t, etcResolvConf)
	journal := filepath.Join(t.TempDir(), "journal")
	r, err := NewRouter(WithJournalDir(journal), WithDNSBackend(DNSResolvConf), WithRouterLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	base := &NetConfig{Interface: "corridor6", Local: localAddr, Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}
	if err := r.Set(base); err != nil {
		t.Fatalf("Set: %v", err)
	}
	wantRoutes(t, "IPv6 blocked before the offer", mainRoutes6(t), []string{"unreachable ::/1 dev lo metric 1"}, nil)

	with := *base
	with.Addrs6 = []netip.Prefix{netip.MustParsePrefix("2001:db8:5::5/64")}
	with.Routes6 = []netip.Prefix{netip.MustParsePrefix("2001:db8:5::/64"), netip.MustParsePrefix("2001:db8:77::/48")}
	with.Default6 = true
	with.DNS = []netip.Addr{dnsA, netip.MustParseAddr("2001:db8:5::53")}
	if err := r.Set(&with); err != nil {
		t.Fatalf("Set with IPv6: %v", err)
	}
	table6 := mainRoutes6(t)
	t.Logf("IPv6 after the offer:\n%s", table6)
	wantRoutes(t, "IPv6 through the tunnel", table6, []string{"::/1 dev corridor6", "8000::/1 dev corridor6",
		"2001:db8:5::/64 dev corridor6", "2001:db8:77::/48 dev corridor6", "default via 2001:db8:1::1 dev uplink0"}, []string{"unreachable"})
	if got := ipRun(t, "-6", "addr", "show", "dev", "corridor6"); !strings.Contains(got, "inet6 2001:db8:5::5/64 scope global") || strings.Contains(got, "tentative") {
		t.Errorf("device addresses after the offer:\n%s", got)
	}
	for _, a := range []string{"2a00:1450::1", "2001:db8:77::9", "2001:db8::1"} {
		if got, ok := route6Get(t, a); !ok || !strings.Contains(got, "dev corridor6") {
			t.Errorf("ip -6 route get %s: %s (found: %v), want through corridor6", a, got, ok)
		}
	}
	if got, ok := route6Get(t, "2001:db8:1::1"); !ok || !strings.Contains(got, "dev uplink0") {
		t.Errorf("IPv6 LAN not on the LAN: %s", got)
	}
	if got := string(readState(t, etcResolvConf).data); !strings.Contains(got, "nameserver 10.0.0.53\nnameserver 2001:db8:5::53\n") {
		t.Errorf("resolv.conf with IPv6 DNS: %q", got)
	}

	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := mainRoutes(t); got != routesBefore {
		t.Errorf("routes after Close:\n%s\nwant, byte for byte:\n%s", got, routesBefore)
	}
	if got := mainRoutes6(t); got != routes6Before {
		t.Errorf("IPv6 routes after Close:\n%s\nwant, byte for byte:\n%s", got, routes6Before)
	}
	if got := ipRun(t, "-6", "addr", "show", "dev", "corridor6"); got != addrsBefore {
		t.Errorf("device addresses after Close:\n%s\nwant:\n%s", got, addrsBefore)
	}
	if got := readState(t, etcResolvConf); !bytes.Equal(got.data, resolvBefore.data) {
		t.Errorf("resolv.conf after Close: %q, want %q", got.data, resolvBefore.data)
	}
	if _, err := os.Stat(journalPath(journal, "corridor6")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after Close: %v", err)
	}
}

func routerSetClose(t *testing.T) {
	tn, err := OpenTUN(TUNConfig{Name: "corridor0", MTU: 1400, Local: localAddr, Peer: netip.MustParseAddr("192.168.30.1")})
	if err != nil {
		t.Fatalf("OpenTUN: %v", err)
	}
	defer tn.Close()
	routesBefore := mainRoutes(t)
	routes6Before := mainRoutes6(t)
	get6Before, ok := route6Get(t, "2001:db8::1")
	if !ok || !strings.Contains(get6Before, "via 2001:db8:1::1 dev uplink0") {
		t.Fatalf("IPv6 not routed before Set: %s", get6Before)
	}
	resolvBefore := readState(t, etcResolvConf)
	journal := filepath.Join(t.TempDir(), "journal")

	r, err := NewRouter(WithJournalDir(journal), WithDNSBackend(DNSResolvConf), WithRouterLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &NetConfig{
		Interface: tn.Name(), Local: localAddr, Server: server, FullTunnel: true,
		Routes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16")}, ClassfulRoute: true,
		DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example"},
	}
	if err := r.Set(cfg); err != nil {
		t.Fatalf("Set: %v", err)
	}
	table := mainRoutes(t)
	t.Logf("after Set:\n%s", table)
	wantRoutes(t, "full tunnel", table, []string{
		"0.0.0.0/1 dev corridor0",
		"128.0.0.0/1 dev corridor0",
		"203.0.113.5 via 192.0.2.1 dev uplink0",
		"10.99.0.0/16 dev corridor0",
		"192.168.30.0/24 dev corridor0",
		"default via 192.0.2.1 dev uplink0",
	}, nil)
	if got := ipRun(t, "-4", "route", "get", "198.51.100.1"); !strings.Contains(got, "dev corridor0") {
		t.Errorf("traffic does not go through the tunnel: %s", got)
	}
	if got := ipRun(t, "-4", "route", "get", "203.0.113.5"); !strings.Contains(got, "via 192.0.2.1 dev uplink0") {
		t.Errorf("the server's packets would loop: %s", got)
	}
	// IPv6 cannot go around the tunnel; the IPv6 LAN stays reachable.
	table6 := mainRoutes6(t)
	t.Logf("IPv6 after Set:\n%s", table6)
	wantRoutes(t, "IPv6 block", table6, []string{"unreachable ::/1 dev lo metric 1", "unreachable 8000::/1 dev lo metric 1",
		"default via 2001:db8:1::1 dev uplink0"}, nil)
	for _, a := range []string{"2001:db8::1", "2a00:1450::1", "::ffff:1.2.3.4", "fc00::1"} {
		if got, ok := route6Get(t, a); ok || !strings.Contains(got, "No route to host") {
			t.Errorf("ip -6 route get %s while set: %s (found: %v), want unreachable", a, got, ok)
		}
	}
	if got, ok := route6Get(t, "2001:db8:1::1"); !ok || !strings.Contains(got, "dev uplink0") {
		t.Errorf("IPv6 LAN unreachable while set: %s", got)
	}
	want := "# written by Corridor for corridor0; the original is restored on disconnect\n" +
		"nameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch corp.example\n"
	if got := readState(t, etcResolvConf); string(got.data) != want || got.mode != resolvBefore.mode {
		t.Errorf("resolv.conf after Set: %q (%v), want %q (%v)", got.data, got.mode, want, resolvBefore.mode)
	}

	// The server moves to the LAN: its new host route is on-link.
	cfg2 := *cfg
	cfg2.Server = serverLAN
	cfg2.DNS = []netip.Addr{dnsB}
	if err := r.Set(&cfg2); err != nil {
		t.Fatalf("Set(cfg2): %v", err)
	}
	table = mainRoutes(t)
	t.Logf("after Set(cfg2):\n%s", table)
	wantRoutes(t, "cfg2", table, []string{"0.0.0.0/1 dev corridor0", "128.0.0.0/1 dev corridor0", "192.0.2.7 dev uplink0"},
		[]string{"203.0.113.5"})

	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := mainRoutes(t); got != routesBefore {
		t.Errorf("routes after Close:\n%s\nwant, byte for byte:\n%s", got, routesBefore)
	}
	if got := mainRoutes6(t); got != routes6Before {
		t.Errorf("IPv6 routes after Close:\n%s\nwant, byte for byte:\n%s", got, routes6Before)
	}
	if got, ok := route6Get(t, "2001:db8::1"); !ok || got != get6Before {
		t.Errorf("ip -6 route get 2001:db8::1 after Close: %s (found: %v), want as before: %s", got, ok, get6Before)
	}
	if got := readState(t, etcResolvConf); !bytes.Equal(got.data, resolvBefore.data) || got.mode != resolvBefore.mode {
		t.Errorf("resolv.conf after Close: %q (%v), want %q (%v)", got.data, got.mode, resolvBefore.data, resolvBefore.mode)
	}
	if _, err := os.Stat(journalPath(journal, "corridor0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after Close: %v", err)
	}
}

// crashConfig is what the killed grandchild applies.
func crashConfig() *NetConfig {
	return &NetConfig{
		Interface: "corridor1", Local: netip.MustParseAddr("192.168.31.10"), Server: server, FullTunnel: true,
		Routes: []netip.Prefix{netip.MustParsePrefix("10.98.0.0/16")},
		DNS:    []netip.Addr{dnsA}, Domains: []string{"corp.example"},
	}
}

// routerCrashChild applies crashConfig, says so, and waits to be killed.
func routerCrashChild(t *testing.T, dir string) {
	r, err := NewRouter(WithJournalDir(dir), WithDNSBackend(DNSResolvConf), WithRouterLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Set(crashConfig()); err != nil {
		t.Fatalf("Set: %v", err)
	}
	fmt.Fprintln(os.Stdout, crashMarker)
	os.Stdout.Sync()
	time.Sleep(60 * time.Second)
	t.Fatal("not killed within 60s")
}

func routerCrashRecover(t *testing.T) {
	// This device outlives the killed process, as a TUN kept by a surviving
	// helper would; with the child's own TUN the kernel would drop its
	// routes and there would be less to recover.
	addLink(t, "corridor1")
	defer exec.Command("ip", "link", "del", "corridor1").Run()
	ipRun(t, "addr", "add", "192.168.31.10/32", "dev", "corridor1")
	routesBefore := mainRoutes(t)
	routes6Before := mainRoutes6(t)
	resolvBefore := readState(t, etcResolvConf)
	journal := filepath.Join(t.TempDir(), "journal")

	child := exec.Command(os.Args[0], "-test.run=^TestRouterRoot$", "-test.v", "-test.count=1", "-test.timeout=70s")
	child.Env = append(os.Environ(), routerCrashEnv+"="+journal)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	applied := make(chan struct{})
	readDone := make(chan struct{})
	var mu sync.Mutex
	var childOut strings.Builder
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		marked := false
		for sc.Scan() {
			mu.Lock()
			childOut.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if sc.Text() == crashMarker && !marked {
				marked = true
				close(applied)
			}
		}
	}()
	select {
	case <-applied:
	case <-readDone:
	case <-time.After(30 * time.Second):
	}
	child.Process.Kill() // SIGKILL: no deferred function, no Close runs
	<-readDone
	werr := child.Wait()
	mu.Lock()
	t.Logf("killed child:\n%s%s", childOut.String(), stderr.String())
	mu.Unlock()
	select {
	case <-applied:
	default:
		t.Fatalf("child did not apply the config: %v", werr)
	}
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", child.ProcessState)
	}

	table := mainRoutes(t)
	t.Logf("after the crash:\n%s", table)
	wantRoutes(t, "left by the killed process", table, []string{
		"0.0.0.0/1 dev corridor1", "128.0.0.0/1 dev corridor1", "10.98.0.0/16 dev corridor1",
		"203.0.113.5 via 192.0.2.1 dev uplink0",
	}, nil)
	wantRoutes(t, "IPv6 block left by the killed process", mainRoutes6(t),
		[]string{"unreachable ::/1 dev lo metric 1", "unreachable 8000::/1 dev lo metric 1"}, nil)
	if got, ok := route6Get(t, "2001:db8::1"); ok {
		t.Errorf("IPv6 routed after the crash: %s", got)
	}
	if got := readState(t, etcResolvConf); bytes.Equal(got.data, resolvBefore.data) {
		t.Errorf("resolv.conf unchanged after the child's Set")
	}
	if _, err := os.Stat(journalPath(journal, "corridor1")); err != nil {
		t.Fatalf("no journal left by the killed process: %v", err)
	}

	if err := Recover(WithJournalDir(journal), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if got := mainRoutes(t); got != routesBefore {
		t.Errorf("routes after Recover:\n%s\nwant, byte for byte:\n%s", got, routesBefore)
	}
	if got := mainRoutes6(t); got != routes6Before {
		t.Errorf("IPv6 routes after Recover:\n%s\nwant, byte for byte:\n%s", got, routes6Before)
	}
	if got := readState(t, etcResolvConf); !bytes.Equal(got.data, resolvBefore.data) || got.mode != resolvBefore.mode {
		t.Errorf("resolv.conf after Recover: %q (%v), want %q (%v)", got.data, got.mode, resolvBefore.data, resolvBefore.mode)
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal directory after Recover: %v", err)
	}
	// Recover again: nothing to do.
	if err := Recover(WithJournalDir(journal)); err != nil {
		t.Errorf("second Recover: %v", err)
	}
}
