package platform

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// step is one Set (cfg nil: Close) and what it must do and leave.
type step struct {
	name        string
	cfg         *NetConfig
	wantCmds    []string
	wantJournal []string // keys, in journal order
}

func runSteps(t *testing.T, tr *testRouter, iface string, steps []step) {
	t.Helper()
	for _, s := range steps {
		var err error
		if s.cfg == nil {
			err = tr.Close()
		} else {
			err = tr.Set(s.cfg)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantList(t, s.name+" commands", tr.run.take(), s.wantCmds)
		wantList(t, s.name+" journal", journalKeys(tr.journal(t, iface)), s.wantJournal)
	}
}

func TestRouterSetDiff(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{
		ipGetCommand:                   ipGetViaGW,
		"ip -4 route get 198.51.100.9": ipGetOther,
	})
	cfg1 := &NetConfig{Interface: "corridor0", Local: localAddr, Server: server, FullTunnel: true,
		Routes: splitRoutes[:1], DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example"}}
	cfg2 := &NetConfig{Interface: "corridor0", Local: localAddr, Server: server, FullTunnel: true,
		Routes: splitRoutes[1:], DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example"}}
	// The server moves into 128.0.0.0/1's half: that route must make way for
	// the new host route to be looked up, and come back after it.
	cfg3 := &NetConfig{Interface: "corridor0", Local: localAddr, Server: otherServer, FullTunnel: true,
		Routes: splitRoutes[1:], DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example"}}
	// Split tunnel: the halves and the host route go.
	cfg4 := &NetConfig{Interface: "corridor0", Local: localAddr, Server: otherServer,
		Routes: splitRoutes[1:], ClassfulRoute: true}

	runSteps(t, tr, "corridor0", []step{
		{
			name: "cfg1",
			cfg:  cfg1,
			wantCmds: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"ip -4 route add 10.77.0.0/16 dev corridor0",
				"resolvectl dns corridor0 10.0.0.53",
				"resolvectl domain corridor0 corp.example ~.",
				"resolvectl default-route corridor0 yes",
			},
			wantJournal: []string{
				"host 203.0.113.5", "route 0.0.0.0/1", "route 128.0.0.0/1", "route 10.77.0.0/16",
				"dns resolved 10.0.0.53 search corp.example all",
			},
		},
		{
			name: "cfg2: other split route, other DNS",
			cfg:  cfg2,
			wantCmds: []string{
				"resolvectl revert corridor0",
				"ip -4 route del 10.77.0.0/16 dev corridor0",
				"ip -4 route add 172.16.5.0/24 dev corridor0",
				"resolvectl dns corridor0 10.0.0.53 10.0.0.54",
				"resolvectl domain corridor0 corp.example ~.",
				"resolvectl default-route corridor0 yes",
			},
			wantJournal: []string{
				"host 203.0.113.5", "route 0.0.0.0/1", "route 128.0.0.0/1", "route 172.16.5.0/24",
				"dns resolved 10.0.0.53,10.0.0.54 search corp.example all",
			},
		},
		{
			name: "cfg2 again: nothing",
			cfg:  cfg2,
			wantJournal: []string{
				"host 203.0.113.5", "route 0.0.0.0/1", "route 128.0.0.0/1", "route 172.16.5.0/24",
				"dns resolved 10.0.0.53,10.0.0.54 search corp.example all",
			},
		},
		{
			name: "cfg3: other server",
			cfg:  cfg3,
			wantCmds: []string{
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route get 198.51.100.9",
				"ip -4 route replace 198.51.100.9/32 via 192.0.2.254 dev wlan0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
			},
			wantJournal: []string{
				"route 0.0.0.0/1", "route 172.16.5.0/24",
				"dns resolved 10.0.0.53,10.0.0.54 search corp.example all",
				"host 198.51.100.9", "route 128.0.0.0/1",
			},
		},
		{
			name: "cfg4: split tunnel",
			cfg:  cfg4,
			wantCmds: []string{
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 198.51.100.9/32 via 192.0.2.254 dev wlan0",
				"resolvectl revert corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route add 192.168.30.0/24 dev corridor0",
			},
			wantJournal: []string{"route 172.16.5.0/24", "route 192.168.30.0/24"},
		},
		{
			name: "nil",
			wantCmds: []string{
				"ip -4 route del 192.168.30.0/24 dev corridor0",
				"ip -4 route del 172.16.5.0/24 dev corridor0",
			},
		},
	})
	if _, err := os.Stat(journalPath(tr.dir, "corridor0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after Close: %v", err)
	}
}

func TestRouterSplitToFullTunnelMovesCoveringRoute(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW})
	// A split route that covers the server (a loop the user asked for)
	// must not be in place while the server's route is looked up.
	wide := []netip.Prefix{netip.MustParsePrefix("203.0.0.0/8")}
	runSteps(t, tr, "corridor0", []step{
		{
			name:        "split",
			cfg:         &NetConfig{Interface: "corridor0", Routes: wide},
			wantCmds:    []string{"ip -4 route add 203.0.0.0/8 dev corridor0"},
			wantJournal: []string{"route 203.0.0.0/8"},
		},
		{
			name: "full",
			cfg:  &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, Routes: wide},
			wantCmds: []string{
				"ip -4 route del 203.0.0.0/8 dev corridor0",
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"ip -4 route add 203.0.0.0/8 dev corridor0",
			},
			wantJournal: []string{"host 203.0.113.5", "route 0.0.0.0/1", "route 128.0.0.0/1", "route 203.0.0.0/8"},
		},
	})
}

func TestRouterInterfaceChange(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil)
	runSteps(t, tr, "corridor0", []step{{
		name:        "on corridor0",
		cfg:         &NetConfig{Interface: "corridor0", Routes: splitRoutes[:1]},
		wantCmds:    []string{"ip -4 route add 10.77.0.0/16 dev corridor0"},
		wantJournal: []string{"route 10.77.0.0/16"},
	}})
	runSteps(t, tr, "corridor1", []step{{
		name: "on corridor1",
		cfg:  &NetConfig{Interface: "corridor1", Routes: splitRoutes[:1]},
		wantCmds: []string{
			"ip -4 route del 10.77.0.0/16 dev corridor0",
			"ip -4 route add 10.77.0.0/16 dev corridor1",
		},
		wantJournal: []string{"route 10.77.0.0/16"},
	}})
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal of corridor0 left: %+v", j)
	}
	tr.Close()
}

func TestRouterUndoToleratesGone(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW})
	cfg := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}
	if err := tr.Set(cfg); err != nil {
		t.Fatal(err)
	}
	tr.run.take()
	// The device went away first: the kernel dropped its routes, resolved
	// forgot the link. The host route was removed by hand.
	tr.run.setFail(map[string]error{
		"ip -4 route del 0.0.0.0/1":   exitErr(1, "Cannot find device \"corridor0\""), // ip's own error
		"ip -4 route del 128.0.0.0/1": errors.New("RTNETLINK answers: No such device"),
		"ip -4 route del 203.":        errors.New("RTNETLINK answers: No such process"),
		"resolvectl revert":           errors.New("Failed to resolve interface \"corridor0\": No such device"),
	})
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v, want nil: everything was already gone", err)
	}
	if got := len(tr.run.take()); got != 4 {
		t.Errorf("Close ran %d commands, want 4", got)
	}
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left: %+v", j)
	}
}

func TestRouterUndoFailureKeepsJournal(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW})
	cfg := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true}
	if err := tr.Set(cfg); err != nil {
		t.Fatal(err)
	}
	tr.run.take()
	perm := errors.New("RTNETLINK answers: Operation not permitted")
	tr.run.setFail(map[string]error{"ip -4 route del 128.": perm})
	if err := tr.Close(); !errors.Is(err, perm) || !strings.Contains(err.Error(), "route 128.0.0.0/1") {
		t.Fatalf("Close: %v, want the failure naming the item", err)
	}
	wantList(t, "failed Close", tr.run.take(), []string{
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
	})
	wantList(t, "journal after failed Close", journalKeys(tr.journal(t, "corridor0")), []string{"route 128.0.0.0/1"})
	tr.run.setFail(nil)
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantList(t, "second Close", tr.run.take(), []string{"ip -4 route del 128.0.0.0/1 dev corridor0"})
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left: %+v", j)
	}
}

func TestRouterAddFailure(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW})
	perm := errors.New("RTNETLINK answers: Operation not permitted")
	tr.run.setFail(map[string]error{"ip -4 route add 128.": perm})
	cfg := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}
	if err := tr.Set(cfg); !errors.Is(err, perm) {
		t.Fatalf("Set: %v, want %v", err, perm)
	}
	wantList(t, "Set", tr.run.take(), []string{
		"ip -4 route get 203.0.113.5",
		"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
		"ip -4 route add 0.0.0.0/1 dev corridor0",
		"ip -4 route add 128.0.0.0/1 dev corridor0", // fails
		"ip -4 route del 128.0.0.0/1 dev corridor0", // its undo, in case half of it happened
	})
	wantList(t, "journal", journalKeys(tr.journal(t, "corridor0")), []string{"host 203.0.113.5", "route 0.0.0.0/1"})
	// Retrying converges from there.
	tr.run.setFail(nil)
	if err := tr.Set(cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "retry", tr.run.take(), []string{
		"ip -4 route add 128.0.0.0/1 dev corridor0",
		"resolvectl dns corridor0 10.0.0.53",
		"resolvectl domain corridor0 ~.",
		"resolvectl default-route corridor0 yes",
	})
	tr.Close()
}

func TestRouterPartialDNSFailureUndone(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil)
	bad := errors.New("Failed to set DNS configuration: Unit dbus-org.freedesktop.resolve1.service not found.")
	tr.run.setFail(map[string]error{"resolvectl domain": bad})
	cfg := &NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example"}}
	if err := tr.Set(cfg); !errors.Is(err, bad) {
		t.Fatalf("Set: %v", err)
	}
	wantList(t, "Set", tr.run.take(), []string{
		"resolvectl dns corridor0 10.0.0.53",
		"resolvectl domain corridor0 corp.example",
		"resolvectl revert corridor0",
	})
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left: %+v", j)
	}
}

func TestRouterRouteAlreadyPresentIsNotOurs(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil)
	tr.run.setFail(map[string]error{"ip -4 route add 172.16.5.0/24": errors.New("RTNETLINK answers: File exists")})
	cfg := &NetConfig{Interface: "corridor0", Routes: splitRoutes}
	if err := tr.Set(cfg); err != nil {
		t.Fatalf("Set: %v", err)
	}
	wantList(t, "journal", journalKeys(tr.journal(t, "corridor0")), []string{"route 10.77.0.0/16"})
	tr.run.take()
	tr.run.setFail(nil)
	if err := tr.Set(cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "second Set", tr.run.take(), nil)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close leaves the route it did not add", tr.run.take(), []string{"ip -4 route del 10.77.0.0/16 dev corridor0"})
}

func TestRouterServerRouteThroughTunnel(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{
		ipGetCommand: "203.0.113.5 dev corridor0 src 192.168.30.10 uid 0\n    cache\n"})
	err := tr.Set(&NetConfig{Interface: "corridor0", Server: server, FullTunnel: true})
	if err == nil || !strings.Contains(err.Error(), "already goes through corridor0") {
		t.Errorf("Set: %v, want a refusal", err)
	}
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal: %+v", j)
	}
}

func TestRecoverReplaysJournalOfAnotherRouter(t *testing.T) {
	crashed := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, WithDNSBackend(DNSResolvConf))
	original := []byte("nameserver 192.0.2.53\noptions edns0\n")
	if err := os.WriteFile(crashed.resolvConf, original, 0o640); err != nil {
		t.Fatal(err)
	}
	cfg := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}
	if err := crashed.Set(cfg); err != nil {
		t.Fatal(err)
	}
	other := newTestRouter(t, linuxItems, nil)
	if err := other.Set(&NetConfig{Interface: "corridor1", Routes: splitRoutes[:1]}); err != nil {
		t.Fatal(err)
	}
	// Both journals live in one directory, and a journal write cut short.
	if err := os.Rename(journalPath(other.dir, "corridor1"), journalPath(crashed.dir, "corridor1")); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(crashed.dir, ".corridor2.json.tmp-99")
	os.WriteFile(tmp, []byte("{"), 0o600)
	// "crashed" is abandoned without Close, as after kill -9.

	run := &fakeRunner{}
	if err := Recover(WithRouterRunner(run), WithJournalDir(crashed.dir), WithResolvConf(crashed.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	wantList(t, "Recover", run.take(), []string{
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
		"ip -4 route del 10.77.0.0/16 dev corridor1",
	})
	assertFile(t, crashed.resolvConf, original, 0o640)
	if _, err := os.Stat(crashed.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal directory after Recover: %v", err)
	}
	// Nothing left: a second Recover does nothing.
	if err := Recover(WithRouterRunner(run), WithJournalDir(crashed.dir)); err != nil {
		t.Errorf("second Recover: %v", err)
	}
	wantList(t, "second Recover", run.take(), nil)
}

func TestRecoverKeepsWhatItCouldNotUndo(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil)
	if err := tr.Set(&NetConfig{Interface: "corridor0", Routes: splitRoutes}); err != nil {
		t.Fatal(err)
	}
	perm := errors.New("RTNETLINK answers: Operation not permitted")
	run := &fakeRunner{fail: map[string]error{"ip -4 route del 10.77": perm}}
	if err := Recover(WithRouterRunner(run), WithJournalDir(tr.dir)); !errors.Is(err, perm) {
		t.Fatalf("Recover: %v, want %v", err, perm)
	}
	wantList(t, "journal after failed Recover", journalKeys(tr.journal(t, "corridor0")), []string{"route 10.77.0.0/16"})
	run.setFail(nil)
	if err := Recover(WithRouterRunner(run), WithJournalDir(tr.dir)); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Recover", run.take(), []string{
		"ip -4 route del 172.16.5.0/24 dev corridor0",
		"ip -4 route del 10.77.0.0/16 dev corridor0",
		"ip -4 route del 10.77.0.0/16 dev corridor0",
	})
}

func TestRecoverRejectsBadJournal(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corridor0.json"), []byte(`{"version": 9, "entries": []}`), 0o600)
	if err := Recover(WithRouterRunner(&fakeRunner{}), WithJournalDir(dir)); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("Recover: %v, want a version error", err)
	}
	if err := Recover(WithRouterRunner(&fakeRunner{}), WithJournalDir(filepath.Join(dir, "none"))); err != nil {
		t.Errorf("Recover without a directory: %v", err)
	}
}

func TestSetAdoptsStaleJournal(t *testing.T) {
	crashed := newTestRouter(t, linuxItems, nil)
	if err := crashed.Set(&NetConfig{Interface: "corridor0", Routes: splitRoutes[:1]}); err != nil {
		t.Fatal(err)
	}
	next := newRouter(linuxItems, WithRouterRunner(crashed.run), WithJournalDir(crashed.dir), WithDNSBackend(DNSResolved))
	crashed.run.take()
	if err := next.Set(&NetConfig{Interface: "corridor0", Routes: splitRoutes[:1]}); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Set", crashed.run.take(), []string{
		"ip -4 route del 10.77.0.0/16 dev corridor0", // the stale journal
		"ip -4 route add 10.77.0.0/16 dev corridor0",
	})
	next.Close()
}

func TestJournalContents(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, WithDNSBackend(DNSResolvConf))
	os.WriteFile(tr.resolvConf, []byte("nameserver 192.0.2.53\n"), 0o644)
	if err := tr.Set(&NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}); err != nil {
		t.Fatal(err)
	}
	j := tr.journal(t, "corridor0")
	if j.Version != 1 || j.Interface != "corridor0" || j.PID != os.Getpid() {
		t.Errorf("journal header: %+v", j)
	}
	wantList(t, "undo", tr.journalUndo(t, "corridor0"), []string{
		"restore " + tr.resolvConf,
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
	})
	r := j.Entries[3].Restore
	if r == nil || !r.Exists || string(r.Data) != "nameserver 192.0.2.53\n" || r.Mode != 0o644 || r.Written != sha256Hex(resolvConfContent("corridor0", []netip.Addr{dnsA}, nil)) {
		t.Errorf("resolv.conf backup: %+v", r)
	}
	fi, err := os.Stat(journalPath(tr.dir, "corridor0"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal file: %v, %v; want mode 0600", fi, err)
	}
	des, _ := os.ReadDir(tr.dir)
	if len(des) != 1 {
		t.Errorf("journal directory holds %d files, want 1 (no temp files)", len(des))
	}
	tr.Close()
}

func TestJournalPathNames(t *testing.T) {
	for iface, want := range map[string]string{
		"corridor0":    "corridor0.json",
		"Corridor VPN": "Corridor_VPN-",
		".hidden":      "_hidden-",
		"a:b*c":        "a_b_c-",
	} {
		got := filepath.Base(journalPath("/j", iface))
		if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ".json") || strings.ContainsAny(got, ` :*`) {
			t.Errorf("journalPath(%q) = %q, want %q...", iface, got, want)
		}
	}
	if journalPath("/j", "a b") == journalPath("/j", "a_b") {
		t.Error("sanitised names collide")
	}
}

func TestDNSBackendDetection(t *testing.T) {
	cfg := &NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}}
	resolved := t.TempDir()
	for _, tc := range []struct {
		name    string
		dir     string
		fail    map[string]error
		want    DNSBackend
		wantRun []string
	}{
		{"resolved running", resolved, nil, DNSResolved, []string{"resolvectl status", "resolvectl dns corridor0 10.0.0.53"}},
		{"resolved not answering", resolved, map[string]error{"resolvectl status": errors.New("Failed to connect to bus")}, DNSResolvConf, []string{"resolvectl status"}},
		{"no resolved", filepath.Join(resolved, "absent"), nil, DNSResolvConf, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSAuto), withResolvedDir(tc.dir))
			tr.run.setFail(tc.fail)
			if err := tr.Set(cfg); err != nil {
				t.Fatal(err)
			}
			if tr.env.detected != tc.want {
				t.Errorf("detected %v, want %v", tr.env.detected, tc.want)
			}
			wantList(t, "Set", tr.run.take(), tc.wantRun)
			tr.run.setFail(nil)
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if DNSResolved.String() != "systemd-resolved" || DNSBackend(7).String() != "DNSBackend(7)" {
		t.Error("DNSBackend.String")
	}
}

func TestSetRejectsBadConfig(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		name string
		cfg  NetConfig
		want string
	}{
		{"no interface", NetConfig{Routes: splitRoutes}, "interface name"},
		{"slash in interface", NetConfig{Interface: "../x"}, "interface name"},
		{"newline in interface", NetConfig{Interface: "a\nb"}, "interface name"},
		{"Linux name too long", NetConfig{Interface: "corridor-is-too-long", Routes: splitRoutes}, "Linux interface name"},
		{"full tunnel without server", NetConfig{Interface: "corridor0", FullTunnel: true}, "server address"},
		{"IPv6 server", NetConfig{Interface: "corridor0", Server: v6}, "server address"},
		{"IPv6 route", NetConfig{Interface: "corridor0", Routes: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}, "only IPv4"},
		{"invalid route", NetConfig{Interface: "corridor0", Routes: []netip.Prefix{{}}}, "invalid route"},
		{"classful without local", NetConfig{Interface: "corridor0", ClassfulRoute: true}, "local address"},
		{"classful of class D", NetConfig{Interface: "corridor0", Local: netip.MustParseAddr("224.0.0.5"), ClassfulRoute: true}, "class D or E"},
		{"IPv6 local", NetConfig{Interface: "corridor0", Local: v6}, "not IPv4"},
		{"link-local IPv6 DNS", NetConfig{Interface: "corridor0", DNS: []netip.Addr{netip.MustParseAddr("fe80::1")}}, "DNS server"},
		{"multicast DNS", NetConfig{Interface: "corridor0", DNS: []netip.Addr{netip.MustParseAddr("ff02::fb")}}, "DNS server"},
		{"IPv4 address as IPv6 address", NetConfig{Interface: "corridor0", Addrs6: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}, "IPv6 address"},
		{"link-local IPv6 address", NetConfig{Interface: "corridor0", Addrs6: []netip.Prefix{netip.MustParsePrefix("fe80::5/64")}}, "IPv6 address"},
		{"IPv4 route as IPv6 route", NetConfig{Interface: "corridor0", Routes6: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "IPv6 route"},
		{"link-local IPv6 route", NetConfig{Interface: "corridor0", Routes6: []netip.Prefix{netip.MustParsePrefix("fe80::/64")}}, "IPv6 route"},
		{"domain with a newline", NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example\nnameserver 6.6.6.6"}}, "search domain"},
		{"domain with a space", NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}, Domains: []string{"a b"}}, "search domain"},
		{"empty label", NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}, Domains: []string{"a..b"}}, "search domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestRouter(t, linuxItems, nil)
			err := tr.Set(&tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "platform: ") {
				t.Errorf("Set: %v, want an error about %q", err, tc.want)
			}
			wantList(t, "commands", tr.run.take(), nil)
		})
	}
	// darwin is stricter about names.
	tr := newTestRouter(t, darwinItems, nil)
	if err := tr.Set(&NetConfig{Interface: "utun 5", Routes: splitRoutes}); err == nil {
		t.Error("darwin accepted an interface name with a space")
	}
}

func TestNormalize(t *testing.T) {
	mapped := netip.AddrFrom16(localAddr.As16())
	c, err := (&NetConfig{
		Interface: "corridor0",
		Local:     mapped,
		Server:    netip.AddrFrom16(server.As16()),
		Routes: []netip.Prefix{
			netip.MustParsePrefix("::ffff:10.77.0.0/112"),
			netip.MustParsePrefix("10.77.3.4/16"),
		},
		DNS:     []netip.Addr{dnsA, netip.AddrFrom16(dnsA.As16()), dnsB},
		Domains: []string{"corp.example.", "corp.example"},
	}).normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.Local != localAddr || c.Server != server {
		t.Errorf("addresses not unmapped: %v %v", c.Local, c.Server)
	}
	wantList(t, "routes", prefixStrings(c.Routes), []string{"10.77.0.0/16"})
	if len(c.DNS) != 2 || c.DNS[0] != dnsA || c.DNS[1] != dnsB {
		t.Errorf("DNS = %v", c.DNS)
	}
	wantList(t, "domains", c.Domains, []string{"corp.example"})

	for addr, want := range map[string]string{
		"10.1.2.3": "10.0.0.0/8", "127.0.0.1": "127.0.0.0/8", "172.20.1.9": "172.20.0.0/16",
		"191.255.0.1": "191.255.0.0/16", "192.168.30.10": "192.168.30.0/24", "223.1.2.3": "223.1.2.0/24",
	} {
		p, ok := classfulNetwork(netip.MustParseAddr(addr))
		if !ok || p.String() != want {
			t.Errorf("classfulNetwork(%s) = %v, %v; want %s", addr, p, ok, want)
		}
	}
	if _, ok := classfulNetwork(netip.MustParseAddr("240.0.0.1")); ok {
		t.Error("class E has a classful network")
	}
}

func prefixStrings(ps []netip.Prefix) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return s
}

func TestParseRouteQueries(t *testing.T) {
	for _, tc := range []struct {
		out, gw, dev string
	}{
		{ipGetViaGW, "192.0.2.1", "eth0"},
		{ipGetDirect, "", "eth0"},
		{"203.0.113.5 via inet 192.0.2.1 dev eth0 src 192.0.2.2\n", "192.0.2.1", "eth0"},
		{"203.0.113.5 via 192.0.2.1 dev eth0 table 200 src 192.0.2.2 uid 0\n", "192.0.2.1", "eth0"},
	} {
		gw, dev, err := parseIPRouteGet([]byte(tc.out))
		if err != nil || dev != tc.dev || (tc.gw == "") == gw.IsValid() || (gw.IsValid() && gw.String() != tc.gw) {
			t.Errorf("parseIPRouteGet(%q) = %v, %q, %v", tc.out, gw, dev, err)
		}
	}
	for _, bad := range []string{"", "local 192.0.2.2 dev lo table local src 192.0.2.2 uid 0\n", "unreachable 203.0.113.5\n", "203.0.113.5 via nonsense dev eth0\n", "203.0.113.5 via 192.0.2.1\n"} {
		if _, _, err := parseIPRouteGet([]byte(bad)); err == nil {
			t.Errorf("parseIPRouteGet(%q) succeeded", bad)
		}
	}

	for _, tc := range []struct {
		out, gw, dev string
	}{
		{darwinGetViaGW, "192.168.1.1", "en0"},
		{darwinGetDirect, "", "en0"},
		{"   route to: 192.168.1.7\n    gateway: link#4\n  interface: en0\n", "", "en0"},
	} {
		gw, dev, err := parseDarwinRouteGet([]byte(tc.out))
		if err != nil || dev != tc.dev || (tc.gw == "") == gw.IsValid() || (gw.IsValid() && gw.String() != tc.gw) {
			t.Errorf("parseDarwinRouteGet(%q) = %v, %q, %v", tc.out, gw, dev, err)
		}
	}
	if _, _, err := parseDarwinRouteGet([]byte("route: writing to routing socket: not in table\n")); err == nil {
		t.Error("parseDarwinRouteGet accepted an answer without interface")
	}

	idx, alias, gw, err := parseFindNetRoute([]byte(winGetViaGW))
	if err != nil || idx != 12 || alias != "Ethernet" || gw.String() != "192.168.1.1" {
		t.Errorf("parseFindNetRoute = %d %q %v %v", idx, alias, gw, err)
	}
	if idx, _, gw, err := parseFindNetRoute([]byte(winGetDirect)); err != nil || idx != 7 || gw.IsValid() {
		t.Errorf("parseFindNetRoute(on link) = %d %v %v", idx, gw, err)
	}
	for _, bad := range []string{"", "\r\n", "[1,2]", `{"InterfaceIndex":0,"NextHop":"1.2.3.4"}`, `{"InterfaceIndex":3,"NextHop":"fe80::1"}`} {
		if _, _, _, err := parseFindNetRoute([]byte(bad)); err == nil {
			t.Errorf("parseFindNetRoute(%q) succeeded", bad)
		}
	}
}

func TestDefaultJournalDir(t *testing.T) {
	if got := defaultJournalDir("linux"); got != "/var/lib/corridor/journal" {
		t.Errorf("linux: %q", got)
	}
	if got := defaultJournalDir("darwin"); got != "/var/run/corridor/journal" {
		t.Errorf("darwin: %q", got)
	}
	t.Setenv("ProgramData", `D:\PD`)
	if got := defaultJournalDir("windows"); got != `D:\PD\Corridor\journal` {
		t.Errorf("windows: %q", got)
	}
}

// TestRecoverAfterReboot: a journal written in an earlier boot (another
// boot ID) gets its files restored, but none of its commands run: the
// routes went with that boot, and an identical route added since must
// stay. A journal of this boot replays its commands.
func TestRecoverAfterReboot(t *testing.T) {
	bootFile := filepath.Join(t.TempDir(), "boot_id")
	old := bootIDFile
	bootIDFile = bootFile
	t.Cleanup(func() { bootIDFile = old })
	os.WriteFile(bootFile, []byte("11111111-aaaa-4bbb-8ccc-000000000001\n"), 0o600)

	crashed := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, WithDNSBackend(DNSResolvConf))
	original := []byte("nameserver 192.0.2.53\n")
	if err := os.WriteFile(crashed.resolvConf, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := crashed.Set(&NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}); err != nil {
		t.Fatal(err)
	}
	j, err := readTrustedJournal(journalPath(crashed.dir, "corridor0"), crashed.resolvConf)
	if err != nil {
		t.Fatal(err)
	}
	if j.BootID != "11111111-aaaa-4bbb-8ccc-000000000001" {
		t.Fatalf("journal boot_id %q", j.BootID)
	}
	// Power cut; the machine boots again.
	os.WriteFile(bootFile, []byte("22222222-aaaa-4bbb-8ccc-000000000002\n"), 0o600)
	run := &fakeRunner{}
	if err := Recover(WithRouterRunner(run), WithJournalDir(crashed.dir), WithResolvConf(crashed.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	wantList(t, "Recover after reboot", run.take(), nil)
	assertFile(t, crashed.resolvConf, original, 0o644)
	if _, err := os.Stat(crashed.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal directory after Recover: %v", err)
	}

	// Same boot: the commands run.
	again := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, WithDNSBackend(DNSResolvConf))
	if err := again.Set(&NetConfig{Interface: "corridor0", Routes: splitRoutes[:1]}); err != nil {
		t.Fatal(err)
	}
	run = &fakeRunner{}
	if err := Recover(WithRouterRunner(run), WithJournalDir(again.dir)); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	wantList(t, "Recover in the same boot", run.take(), []string{"ip -4 route del 10.77.0.0/16 dev corridor0"})
}

// TestRouterLocalServer: a server on loopback (a local relay in front of
// the real one) needs no host route, even in full tunnel; one the kernel
// reports as an address of this machine ("local" route) neither.
func TestRouterLocalServer(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	tr := newTestRouter(t, linuxItems, nil)
	runSteps(t, tr, "corridor0", []step{{
		name: "loopback server, full tunnel",
		cfg:  &NetConfig{Interface: "corridor0", Server: loop, FullTunnel: true},
		wantCmds: []string{
			"ip -4 route add 0.0.0.0/1 dev corridor0",
			"ip -4 route add 128.0.0.0/1 dev corridor0",
		},
		wantJournal: []string{"route 0.0.0.0/1", "route 128.0.0.0/1"},
	}})
	tr.Close()

	mine := netip.MustParseAddr("203.0.113.5")
	tr = newTestRouter(t, linuxItems, map[string]string{ipGetCommand: "local 203.0.113.5 dev lo table local src 203.0.113.5 uid 0 \n    cache <local> \n"})
	runSteps(t, tr, "corridor0", []step{{
		name: "server is a local address",
		cfg:  &NetConfig{Interface: "corridor0", Server: mine, FullTunnel: true},
		wantCmds: []string{
			"ip -4 route get 203.0.113.5",
			"ip -4 route add 0.0.0.0/1 dev corridor0",
			"ip -4 route add 128.0.0.0/1 dev corridor0",
		},
		wantJournal: []string{"host 203.0.113.5", "route 0.0.0.0/1", "route 128.0.0.0/1"},
	}})
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantList(t, "Close", tr.run.take(), []string{
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
	})
}
