package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// fakeWinNet records the IP Helper calls, one line each, and knows a few
// interfaces. These tests are all there is of the Windows Router and
// TUN setup: none of it has run on Windows.
type fakeWinNet struct {
	calls   []string
	aliases map[string]uint64
	indexes map[uint32]uint64
	fail    map[string]error      // by call prefix
	noIPv6  map[uint64]bool       // interfaces without IPv6
	reg     map[string][]regValue // HKLM keys and their values (nrpt_test.go)
}

func newFakeWinNet() *fakeWinNet {
	return &fakeWinNet{
		aliases: map[string]uint64{"Corridor VPN": 0x2a, "Corridor": 0x2b, "Bob (2)": 0x2c, "Ethernet": 0x10},
		indexes: map[uint32]uint64{12: 0x10, 7: 0x11},
		reg:     map[string][]regValue{},
	}
}

func (f *fakeWinNet) call(format string, args ...any) error {
	line := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, line)
	for prefix, err := range f.fail {
		if strings.HasPrefix(line, prefix) {
			return err
		}
	}
	return nil
}

func (f *fakeWinNet) take() []string {
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeWinNet) LUIDByAlias(alias string) (uint64, error) {
	if l, ok := f.aliases[alias]; ok {
		return l, nil
	}
	return 0, errNotFound
}

func (f *fakeWinNet) LUIDByIndex(index uint32) (uint64, error) {
	if l, ok := f.indexes[index]; ok {
		return l, nil
	}
	return 0, errFileNotFound
}

func (f *fakeWinNet) SetAddress(luid uint64, addr netip.Prefix) error {
	return f.call("SetAddress %#x %v", luid, addr)
}

func (f *fakeWinNet) SetMTU(luid uint64, mtu int) error { return f.call("SetMTU %#x %d", luid, mtu) }

func (f *fakeWinNet) SetMetric(luid uint64, metric uint32) error {
	return f.call("SetMetric %#x %d", luid, metric)
}

func (f *fakeWinNet) AddRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr, metric uint32) error {
	return f.call("AddRoute %#x %v via %v metric %d", luid, dst, nextHop, metric)
}

func (f *fakeWinNet) DeleteRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr) error {
	return f.call("DeleteRoute %#x %v via %v", luid, dst, nextHop)
}

func (f *fakeWinNet) AddAddress(luid uint64, addr netip.Prefix) error {
	return f.call("AddAddress %#x %v", luid, addr)
}

func (f *fakeWinNet) DeleteAddress(luid uint64, addr netip.Addr) error {
	return f.call("DeleteAddress %#x %v", luid, addr)
}

// HasIPv6 is a query: not recorded among the calls.
func (f *fakeWinNet) HasIPv6(luid uint64) (bool, error) { return !f.noIPv6[luid], nil }

func (f *fakeWinNet) SetDNS(luid uint64, servers []netip.Addr, domains []string) error {
	return f.call("SetDNS %#x %v %q", luid, servers, domains)
}

// windowsIPHelperCase is one config, the IP Helper calls Set and Close
// make, and the undo the journal holds (netsh spelling).
type windowsIPHelperCase struct {
	name        string
	cfg         NetConfig
	outputs     map[string]string
	wantSet     []string
	wantJournal []string
	wantClose   []string
}

func winFind(a string) string { return strings.Join(windowsFindRoute(netip.MustParseAddr(a)), " ") }

var windowsIPHelperCases = []windowsIPHelperCase{
	{
		name: "full tunnel via gateway with DNS",
		cfg: NetConfig{Interface: "Corridor VPN", Local: localAddr, Server: server, FullTunnel: true,
			DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example", "example.org"}},
		outputs: map[string]string{winFind("203.0.113.5"): winGetViaGW},
		wantSet: []string{
			"AddRoute 0x10 203.0.113.5/32 via 192.168.1.1 metric 0",
			"AddRoute 0x2a 0.0.0.0/1 via invalid IP metric 0",
			"AddRoute 0x2a 128.0.0.0/1 via invalid IP metric 0",
			"AddRoute 0x2a ::/1 via invalid IP metric 0",
			"AddRoute 0x2a 8000::/1 via invalid IP metric 0",
			`SetDNS 0x2a [10.0.0.53 10.0.0.54] ["corp.example" "example.org"]`,
			// every name to the tunnel's servers (nrptCatchAll)
			"SetRegValues " + nrptKeyOf("Corridor VPN"),
			"FlushDNSCache",
		},
		wantJournal: []string{
			`reg delete HKLM\` + nrptKeyOf("Corridor VPN") + ` /f`,
			"ipconfig /flushdns",
			"netsh interface ipv4 set dnsservers name=Corridor VPN source=dhcp",
			"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor VPN store=active",
			"netsh interface ipv6 delete route prefix=::/1 interface=Corridor VPN store=active",
			"netsh interface ipv4 delete route prefix=128.0.0.0/1 interface=Corridor VPN store=active",
			"netsh interface ipv4 delete route prefix=0.0.0.0/1 interface=Corridor VPN store=active",
			"netsh interface ipv4 delete route prefix=203.0.113.5/32 interface=12 nexthop=192.168.1.1 store=active",
		},
		wantClose: []string{
			"DeleteRegKey " + nrptKeyOf("Corridor VPN"),
			"FlushDNSCache",
			"SetDNS 0x2a [] []",
			"DeleteRoute 0x2a 8000::/1 via invalid IP",
			"DeleteRoute 0x2a ::/1 via invalid IP",
			"DeleteRoute 0x2a 128.0.0.0/1 via invalid IP",
			"DeleteRoute 0x2a 0.0.0.0/1 via invalid IP",
			"DeleteRoute 0x10 203.0.113.5/32 via 192.168.1.1",
		},
	},
	{
		name:    "full tunnel, server on link, DNS off",
		cfg:     NetConfig{Interface: "Corridor", Server: serverLAN, FullTunnel: true},
		outputs: map[string]string{winFind("192.0.2.7"): winGetDirect},
		wantSet: []string{
			"AddRoute 0x11 192.0.2.7/32 via invalid IP metric 0",
			"AddRoute 0x2b 0.0.0.0/1 via invalid IP metric 0",
			"AddRoute 0x2b 128.0.0.0/1 via invalid IP metric 0",
			"AddRoute 0x2b ::/1 via invalid IP metric 0",
			"AddRoute 0x2b 8000::/1 via invalid IP metric 0",
		},
		wantJournal: []string{
			"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor store=active",
			"netsh interface ipv6 delete route prefix=::/1 interface=Corridor store=active",
			"netsh interface ipv4 delete route prefix=128.0.0.0/1 interface=Corridor store=active",
			"netsh interface ipv4 delete route prefix=0.0.0.0/1 interface=Corridor store=active",
			"netsh interface ipv4 delete route prefix=192.0.2.7/32 interface=7 store=active",
		},
		wantClose: []string{
			"DeleteRoute 0x2b 8000::/1 via invalid IP",
			"DeleteRoute 0x2b ::/1 via invalid IP",
			"DeleteRoute 0x2b 128.0.0.0/1 via invalid IP",
			"DeleteRoute 0x2b 0.0.0.0/1 via invalid IP",
			"DeleteRoute 0x11 192.0.2.7/32 via invalid IP",
		},
	},
	{
		name: "split tunnel with classful route, one DNS server without domains",
		cfg: NetConfig{Interface: "Bob (2)", Local: netip.MustParseAddr("172.20.1.9"), Server: server,
			Routes: splitRoutes, ClassfulRoute: true, DNS: []netip.Addr{dnsA}},
		wantSet: []string{
			"AddRoute 0x2c 10.77.0.0/16 via invalid IP metric 0",
			"AddRoute 0x2c 172.16.5.0/24 via invalid IP metric 0",
			"AddRoute 0x2c 172.20.0.0/16 via invalid IP metric 0",
			"SetDNS 0x2c [10.0.0.53] []",
		},
		wantJournal: []string{
			"netsh interface ipv4 set dnsservers name=Bob (2) source=dhcp",
			"netsh interface ipv4 delete route prefix=172.20.0.0/16 interface=Bob (2) store=active",
			"netsh interface ipv4 delete route prefix=172.16.5.0/24 interface=Bob (2) store=active",
			"netsh interface ipv4 delete route prefix=10.77.0.0/16 interface=Bob (2) store=active",
		},
		wantClose: []string{
			"SetDNS 0x2c [] []",
			"DeleteRoute 0x2c 172.20.0.0/16 via invalid IP",
			"DeleteRoute 0x2c 172.16.5.0/24 via invalid IP",
			"DeleteRoute 0x2c 10.77.0.0/16 via invalid IP",
		},
	},
}

// newWindowsIPHelperRouter is the Windows Router's planner and runner
// over fakes: the IP Helper API and, for PowerShell, a fakeRunner.
func newWindowsIPHelperRouter(t *testing.T, outputs map[string]string) (*testRouter, *fakeWinNet, *fakeRunner) {
	n := newFakeWinNet()
	ps := &fakeRunner{outputs: outputs}
	tr := newTestRouter(t, windowsIPHelperItems, nil, WithRouterRunner(winNetRunner{n: n, next: ps}))
	return tr, n, ps
}

// TestWindowsIPHelperRouter: the exact IP Helper calls of Set and Close,
// the netsh spelling of their undo in the journal, nothing on a second Set
// or Close, and the undo in reverse order.
func TestWindowsIPHelperRouter(t *testing.T) {
	for _, tc := range windowsIPHelperCases {
		t.Run(tc.name, func(t *testing.T) {
			tr, n, ps := newWindowsIPHelperRouter(t, tc.outputs)
			if err := tr.Set(&tc.cfg); err != nil {
				t.Fatalf("Set: %v", err)
			}
			wantList(t, "Set", n.take(), tc.wantSet)
			var wantPS []string
			if tc.outputs != nil {
				wantPS = []string{winFind(tc.cfg.Server.String())}
			}
			wantList(t, "commands run", ps.take(), wantPS)
			wantList(t, "journal undo", tr.journalUndo(t, tc.cfg.Interface), tc.wantJournal)
			if err := tr.Set(&tc.cfg); err != nil {
				t.Fatalf("second Set: %v", err)
			}
			wantList(t, "second Set", n.take(), nil)
			if err := tr.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			wantList(t, "Close", n.take(), tc.wantClose)
			wantList(t, "commands run on Close", ps.take(), nil)
			if j := tr.journal(t, tc.cfg.Interface); j != nil {
				t.Errorf("journal left after Close: %+v", j)
			}
			if err := tr.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			wantList(t, "second Close", n.take(), nil)
		})
	}
}

// TestWindowsIPHelperDNSOnOff: DNS added to a running tunnel and taken
// away again touches DNS only.
func TestWindowsIPHelperDNSOnOff(t *testing.T) {
	tr, n, _ := newWindowsIPHelperRouter(t, nil)
	cfg := NetConfig{Interface: "Corridor VPN", Local: localAddr, Server: server, Routes: splitRoutes[:1]}
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Set", n.take(), []string{"AddRoute 0x2a 10.77.0.0/16 via invalid IP metric 0"})
	cfg.DNS, cfg.Domains = []netip.Addr{dnsA}, []string{"corp.example"}
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	// A split tunnel with domains: its servers through an NRPT rule
	// (nrpt.go), the search domains on the adapter.
	wantList(t, "DNS on", n.take(), []string{`SetDNS 0x2a [] ["corp.example"]`, "SetRegValues " + nrptLocalBase + `\` + nrptRuleID("Corridor VPN", 0), "FlushDNSCache"})
	cfg.Domains = nil
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "domains off", n.take(), []string{"DeleteRegKey " + nrptLocalBase + `\` + nrptRuleID("Corridor VPN", 0), "FlushDNSCache",
		"SetDNS 0x2a [] []", "SetDNS 0x2a [10.0.0.53] []"})
	cfg.DNS = nil
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "DNS off", n.take(), []string{"SetDNS 0x2a [] []"})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close", n.take(), []string{"DeleteRoute 0x2a 10.77.0.0/16 via invalid IP"})
}

// TestWindowsIPHelperRecover: a Router that crashed leaves a journal that
// journaltrust.go accepts as it is, and Recover replays it, newest first,
// through the IP Helper API; a device that is gone by then (Wintun
// removes the adapter of a process that dies) counts as undone.
func TestWindowsIPHelperRecover(t *testing.T) {
	for _, tc := range windowsIPHelperCases {
		t.Run(tc.name, func(t *testing.T) {
			crashed, _, _ := newWindowsIPHelperRouter(t, tc.outputs)
			if err := crashed.Set(&tc.cfg); err != nil {
				t.Fatal(err)
			}
			j := crashed.journal(t, tc.cfg.Interface)
			for _, e := range j.Entries {
				for _, c := range e.Undo {
					if err := checkUndoCommand(c); err != nil {
						t.Errorf("journal entry %q: %v", e.Key, err)
					}
				}
			}
			n := newFakeWinNet()
			if err := Recover(WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}}), WithJournalDir(crashed.dir),
				WithResolvConf(crashed.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
				t.Fatalf("Recover: %v", err)
			}
			wantList(t, "Recover", n.take(), tc.wantClose)

			// Again, with the adapter gone: only the host route is left to
			// remove, and Recover succeeds.
			crashed2, _, _ := newWindowsIPHelperRouter(t, tc.outputs)
			if err := crashed2.Set(&tc.cfg); err != nil {
				t.Fatal(err)
			}
			n = newFakeWinNet()
			delete(n.aliases, tc.cfg.Interface)
			if err := Recover(WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}}), WithJournalDir(crashed2.dir),
				WithResolvConf(crashed2.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
				t.Fatalf("Recover without the adapter: %v", err)
			}
			var want []string
			for _, c := range tc.wantClose {
				if !strings.Contains(c, fmt.Sprintf("%#x", newFakeWinNet().aliases[tc.cfg.Interface])) {
					want = append(want, c)
				}
			}
			wantList(t, "Recover without the adapter", n.take(), want)
			if j := crashed2.journal(t, tc.cfg.Interface); j != nil {
				t.Errorf("journal left: %+v", j)
			}
		})
	}
}

// TestWindowsIPHelperRouteExists: a route someone else added is left to
// its owner: not journaled, not removed.
func TestWindowsIPHelperRouteExists(t *testing.T) {
	tr, n, _ := newWindowsIPHelperRouter(t, nil)
	n.fail = map[string]error{"AddRoute 0x2a 10.77.0.0/16": errObjectExists}
	cfg := NetConfig{Interface: "Corridor VPN", Local: localAddr, Server: server, Routes: splitRoutes}
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	n.take()
	wantList(t, "journal", tr.journalUndo(t, "Corridor VPN"), []string{
		"netsh interface ipv4 delete route prefix=172.16.5.0/24 interface=Corridor VPN store=active",
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close", n.take(), []string{"DeleteRoute 0x2a 172.16.5.0/24 via invalid IP"})
}

// TestWindowsIPHelperFailure: a call that fails stops Set with the error
// and undoes the change it belonged to; what was done stays journaled.
func TestWindowsIPHelperFailure(t *testing.T) {
	tr, n, _ := newWindowsIPHelperRouter(t, nil)
	denied := syscall.Errno(5)
	n.fail = map[string]error{"SetDNS 0x2a [10.0.0.53]": denied}
	cfg := NetConfig{Interface: "Corridor VPN", Local: localAddr, Server: server, Routes: splitRoutes[:1], DNS: []netip.Addr{dnsA}}
	err := tr.Set(&cfg)
	if !errors.Is(err, denied) {
		t.Fatalf("Set: %v, want the call's error", err)
	}
	wantList(t, "Set", n.take(), []string{
		"AddRoute 0x2a 10.77.0.0/16 via invalid IP metric 0",
		"SetDNS 0x2a [10.0.0.53] []",
		"SetDNS 0x2a [] []",
	})
	wantList(t, "journal", tr.journalUndo(t, "Corridor VPN"), []string{
		"netsh interface ipv4 delete route prefix=10.77.0.0/16 interface=Corridor VPN store=active",
	})
}

// TestWindowsIPHelperBadName: names whose journal Recover would refuse
// (journaltrust.go), or that read as an interface index, are refused
// before anything is done.
func TestWindowsIPHelperBadName(t *testing.T) {
	for _, name := range []string{"12", "Bob's VPN", "a\u2019b", "x=y", ""} {
		tr, n, _ := newWindowsIPHelperRouter(t, nil)
		if err := tr.Set(&NetConfig{Interface: name, Local: localAddr, Server: server, Routes: splitRoutes}); err == nil {
			t.Errorf("Set with interface %q succeeded", name)
		}
		wantList(t, "calls for "+name, n.take(), nil)
	}
}

func TestParseWinNetCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string // "" for a command left to the next runner, "error" for a refused one
	}{
		{"netsh interface ipv4 add route prefix=0.0.0.0/1 interface=Corridor VPN store=active", "add-route Corridor VPN 0 0.0.0.0/1 invalid IP"},
		{"netsh interface ipv4 delete route prefix=203.0.113.5/32 interface=12 nexthop=192.168.1.1 store=active", "delete-route  12 203.0.113.5/32 192.168.1.1"},
		{"netsh interface ipv4 set dnsservers name=Corridor source=dhcp", "flush-dns Corridor 0 invalid Prefix invalid IP"},
		{"winipcfg set-dns interface=Corridor servers=10.0.0.53,10.0.0.54 domains=a.example", "set-dns Corridor 0 invalid Prefix invalid IP [10.0.0.53 10.0.0.54] [a.example]"},
		{"winipcfg set-dns interface=Corridor servers= domains=", "error"},
		{"winipcfg set-dns interface=Corridor servers=fe80::1 domains=", "error"},
		{"winipcfg rm -rf", "error"},
		{"netsh interface ipv4 set dnsservers name=Corridor source=static address=10.0.0.53 register=none validate=no", ""},
		{"netsh interface ipv4 add route prefix=::/1 interface=Corridor store=active", ""},
		{"netsh interface ipv6 add route prefix=::/1 interface=Corridor VPN store=active", "add-route Corridor VPN 0 ::/1 invalid IP"},
		{"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor store=active", "delete-route Corridor 0 8000::/1 invalid IP"},
		{"netsh interface ipv6 add route prefix=::/0 interface=Corridor store=active", ""},
		{"netsh interface ipv6 add route prefix=::/1 interface=12 store=active", ""},
		{"netsh interface ipv6 add route prefix=::/1 interface=Corridor nexthop=::1 store=active", ""},
		{"netsh interface ipv6 add route prefix=0.0.0.0/1 interface=Corridor store=active", ""},
		{"netsh interface ipv4 add route prefix=0.0.0.0/1 interface=Corridor store=persistent", ""},
		{"netsh interface ipv4 add route prefix=0.0.0.0/1 interface=Corridor metric=1 store=active", ""},
		{winFind("203.0.113.5"), ""},
	} {
		op, ok, err := parseWinNetCommand(Command{Args: splitCommandLine(tc.line)})
		got := ""
		switch {
		case err != nil:
			got = "error"
		case ok:
			got = fmt.Sprintf("%s %s %d %v %v", op.kind, op.alias, op.index, op.prefix, op.nextHop)
			if op.kind == "set-dns" {
				got += fmt.Sprintf(" %v %v", op.servers, op.domains)
			}
		}
		if got != tc.want {
			t.Errorf("%s:\n got  %q\n want %q", tc.line, got, tc.want)
		}
	}
}

// splitCommandLine splits at spaces, except inside "interface=" and
// "name=" values, which run to the next key=value word (test only).
func splitCommandLine(s string) []string {
	var out []string
	for _, w := range strings.Split(s, " ") {
		if len(out) > 0 && !strings.Contains(w, "=") && (strings.HasPrefix(out[len(out)-1], "interface=") || strings.HasPrefix(out[len(out)-1], "name=")) {
			out[len(out)-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

// TestWinNetCommandError: the IP Helper's error numbers become the words
// isExists and isGone know, whatever the language of the system.
func TestWinNetCommandError(t *testing.T) {
	route := cmd("netsh", "interface", "ipv4", "delete", "route", "prefix=0.0.0.0/1", "interface=Corridor", "store=active")
	for _, tc := range []struct {
		err          error
		exists, gone bool
	}{
		{errObjectExists, true, false},
		{errAlreadyExists, true, false},
		{errNotFound, false, true},
		{errFileNotFound, false, true},
		{fmt.Errorf("wrapped: %w", errNotFound), false, true},
		{syscall.Errno(5), false, false},
	} {
		err := winNetCommandError(route, tc.err)
		if isExists(err) != tc.exists || isGone(err) != tc.gone {
			t.Errorf("%v: exists %v gone %v, want %v %v", tc.err, isExists(err), isGone(err), tc.exists, tc.gone)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v: the number is lost: %v", tc.err, err)
		}
	}
}

func TestConfigureWindowsTUN(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  TUNConfig
		fail map[string]error
		want []string
		err  bool
	}{
		{"with peer", TUNConfig{MTU: 1400, Local: localAddr, Peer: netip.MustParseAddr("192.168.30.1")}, nil, []string{
			"SetAddress 0x2a 192.168.30.10/32",
			"SetMTU 0x2a 1400",
			"SetMetric 0x2a 5",
			"AddRoute 0x2a 192.168.30.1/32 via invalid IP metric 0",
		}, false},
		{"without peer", TUNConfig{MTU: 1280, Local: localAddr}, nil, []string{
			"SetAddress 0x2a 192.168.30.10/32",
			"SetMTU 0x2a 1280",
			"SetMetric 0x2a 5",
		}, false},
		{"MTU refused", TUNConfig{MTU: 1280, Local: localAddr}, map[string]error{"SetMTU": syscall.Errno(87)}, []string{
			"SetAddress 0x2a 192.168.30.10/32",
			"SetMTU 0x2a 1280",
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeWinNet()
			n.fail = tc.fail
			cfg, err := tc.cfg.validate()
			if err != nil {
				t.Fatal(err)
			}
			err = configureWindowsTUN(n, 0x2a, cfg)
			if (err != nil) != tc.err {
				t.Errorf("err = %v, want error %v", err, tc.err)
			}
			wantList(t, "calls", n.take(), tc.want)
		})
	}
}

// nrptKeyOf is the registry key of the first NRPT rule of iface.
func nrptKeyOf(iface string) string { return nrptLocalBase + `\` + nrptRuleID(iface, 0) }
