package core

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel/ipv6"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// ipv6RootEnv is set in the re-executed test binary; it holds the host's
// network namespace, which the child checks it does not share.
const ipv6RootEnv = "CORRIDOR_CORE_IPV6_ROOT_NS"

// TestIPv6OfferRoot brings a full-tunnel profile with ipv6 = true up
// through the RealStack against a local L2TP server (IPV6CP on), on a
// real TUN device and the real Router, in a private network namespace
// (this test binary re-executed under "unshare --net"). The server's
// IPv6 offer is injected as the tunnel reports it (the protocol that
// produces it is tested in tunnel/ipv6); the test checks the kernel:
// IPv6 blocked before the offer, the address on the device and IPv6
// routed through it after, and everything as before once the link is
// closed.
func TestIPv6OfferRoot(t *testing.T) {
	if host := os.Getenv(ipv6RootEnv); host != "" {
		ipv6OfferInNamespace(t, host)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: opens a TUN device and changes routes in a private network namespace")
	}
	for _, tool := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("needs /dev/net/tun: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	self, _ := os.Readlink("/proc/self/ns/net")
	cmd := exec.CommandContext(ctx, "unshare", "--net", "--", os.Args[0],
		"-test.run=^TestIPv6OfferRoot$", "-test.v", "-test.count=1", "-test.timeout=80s")
	cmd.Env = append(os.Environ(), ipv6RootEnv+"="+self)
	out, err := cmd.CombinedOutput()
	t.Logf("child in a private network namespace:\n%s", out)
	if err != nil && bytes.HasPrefix(out, []byte("unshare: ")) {
		t.Skipf("cannot create a network namespace: %s", bytes.TrimSpace(out))
	}
	if err != nil {
		t.Fatalf("test in the namespace failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: TestIPv6OfferRoot") {
		t.Skip("skipped inside the namespace")
	}
	if !strings.Contains(string(out), "--- PASS: TestIPv6OfferRoot") {
		t.Fatal("child did not report a pass")
	}
}

func ipRoot(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// routes6 is the IPv6 main table without link-local routes, which the
// kernel adds when it likes.
func routes6(t *testing.T) string {
	var keep []string
	for _, l := range strings.Split(ipRoot(t, "-6", "route", "show", "table", "main"), "\n") {
		if !strings.HasPrefix(l, "fe80::") && !strings.HasPrefix(l, "multicast") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func ipv6OfferInNamespace(t *testing.T, host string) {
	if self, _ := os.Readlink("/proc/self/ns/net"); self == "" || self == host {
		t.Fatalf("not in a private network namespace: host %q, here %q", host, self)
	}
	if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
		t.Skipf("needs IPv6 in the kernel: %v", err)
	}
	ipRoot(t, "link", "set", "lo", "up")
	// An uplink with an IPv6 default route, which the full tunnel must
	// take over (blocked first, then through the device).
	ipRoot(t, "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink0p")
	ipRoot(t, "link", "set", "uplink0p", "up")
	ipRoot(t, "link", "set", "uplink0", "up")
	ipRoot(t, "-6", "addr", "add", "2001:db8:1::2/64", "dev", "uplink0", "nodad")
	ipRoot(t, "-6", "route", "add", "default", "via", "2001:db8:1::1", "dev", "uplink0")
	before := routes6(t)

	srv := l2tptest.NewServer(l2tptest.Config{User: "u", Password: "pw", Address: netip.MustParseAddr("10.99.0.2"),
		PeerAddress: netip.MustParseAddr("10.99.0.1"), IPv6: true})
	defer srv.Close()
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stack := &RealStack{IfName: "corr6t0", RouterOptions: []platform.RouterOption{
		platform.WithJournalDir(filepath.Join(dir, "journal")), platform.WithDNSBackend(platform.DNSResolvConf),
		platform.WithResolvConf(resolv), platform.WithRouterLogger(log)}}
	p := profile.NewProfile("six")
	p.Server, p.User, p.IPsec, p.FullTunnel, p.IPv6 = addr.String(), "u", false, true, true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link, err := stack.Up(ctx, UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw"}}, log, func(Stage) {})
	if err != nil {
		t.Fatalf("Up: %v\n%s", err, logs.String())
	}
	closed := false
	defer func() {
		if !closed {
			link.Close(context.Background())
		}
	}()
	if got := routes6(t); !strings.Contains(got, "unreachable ::/1 dev lo metric 1") {
		t.Errorf("IPv6 not blocked before the offer:\n%s", got)
	}

	offer := ipv6.Config{Addrs: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::5/64")},
		Routes: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::/64")}, Default: true,
		DNS: []netip.Addr{netip.MustParseAddr("2001:db8:5::53")}, Source: "slaac"}
	link.(*realLink).sess.v6.offer(offer) // as the tunnel's StageIPv6Config does
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(link.Info().IPv6, []string{"2001:db8:5::5/64"}) {
		if time.Now().After(deadline) {
			t.Fatalf("the offer was not applied within 10 s:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	table := routes6(t)
	t.Logf("IPv6 routes with the offer:\n%s", table)
	for _, want := range []string{"::/1 dev corr6t0", "8000::/1 dev corr6t0", "2001:db8:5::/64 dev corr6t0"} {
		if !strings.Contains(table, want) {
			t.Errorf("no %q", want)
		}
	}
	if strings.Contains(table, "unreachable") {
		t.Error("the block is still there")
	}
	if got := ipRoot(t, "-6", "addr", "show", "dev", "corr6t0"); !strings.Contains(got, "inet6 2001:db8:5::5/64 scope global") {
		t.Errorf("device addresses:\n%s", got)
	}
	if got := ipRoot(t, "-6", "route", "get", "2a00:1450::1"); !strings.Contains(got, "dev corr6t0") {
		t.Errorf("IPv6 does not go through the tunnel: %s", got)
	}
	if got, _ := os.ReadFile(resolv); !strings.Contains(string(got), "nameserver 2001:db8:5::53\n") {
		t.Errorf("resolv.conf: %q", got)
	}
	if !strings.Contains(logs.String(), "ipv6: address 2001:db8:5::5/64, all IPv6 through the tunnel") {
		t.Errorf("log:\n%s", logs.String())
	}

	closed = true
	if err := link.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := routes6(t); got != before {
		t.Errorf("IPv6 routes after Close:\n%s\nwant, byte for byte:\n%s", got, before)
	}
	if got, _ := os.ReadFile(resolv); string(got) != "nameserver 192.0.2.53\n" {
		t.Errorf("resolv.conf after Close: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal", "corr6t0.json")); !os.IsNotExist(err) {
		t.Errorf("journal after Close: %v", err)
	}
	if out, err := exec.Command("ip", "link", "show", "corr6t0").CombinedOutput(); err == nil {
		t.Errorf("the device is still there: %s", out)
	}
}
