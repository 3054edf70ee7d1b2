package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fakeRunner is a Runner that records commands (a command with stdin as
// "name args <<EOF\nstdin EOF"), answers from a table of exact command
// lines, and fails commands starting with one of the fail keys. A failure
// is a *CommandError: the one given, or exit status 2 (iproute2's for a
// refusal of the kernel) wrapping the error given.
type fakeRunner struct {
	mu      sync.Mutex
	cmds    []string
	outputs map[string]string
	fail    map[string]error
}

func (f *fakeRunner) Run(c Command) ([]byte, error) {
	line := c.String()
	if c.Stdin != "" {
		line += " <<EOF\n" + c.Stdin + "EOF"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, line)
	for prefix, err := range f.fail {
		if strings.HasPrefix(c.String(), prefix) {
			if ce, ok := err.(*CommandError); ok {
				ce2 := *ce
				ce2.Args = c.Args
				return nil, &ce2
			}
			return nil, &CommandError{Args: c.Args, ExitCode: 2, Output: err.Error(), Err: fakeExit{2, err}}
		}
	}
	return []byte(f.outputs[c.String()]), nil
}

// fakeExit is the cause of a fake failure: an exit status, and the error
// the test gave, for errors.Is.
type fakeExit struct {
	code  int
	cause error
}

func (e fakeExit) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e fakeExit) Unwrap() error { return e.cause }

// exitErr is a failure with exit status code that printed msg.
func exitErr(code int, msg string) *CommandError {
	return &CommandError{ExitCode: code, Output: msg, Err: fakeExit{code, errors.New(msg)}}
}

func (f *fakeRunner) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cmds
	f.cmds = nil
	return c
}

func (f *fakeRunner) setFail(m map[string]error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = m
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Outputs of the route queries, as the tools print them.
const (
	ipGetViaGW  = "203.0.113.5 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0 \n    cache \n"
	ipGetDirect = "192.0.2.7 dev eth0 src 192.0.2.2 uid 0 \n    cache \n"
	ipGetOther  = "198.51.100.9 via 192.0.2.254 dev wlan0 src 192.0.2.2 uid 0 \n    cache \n"

	darwinGetViaGW = `   route to: 203.0.113.5
destination: default
       mask: default
    gateway: 192.168.1.1
  interface: en0
      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING>
 recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire
       0         0         0         0         0         0      1500         0
`
	darwinGetDirect = `   route to: 192.168.1.7
destination: 192.168.1.0
       mask: 255.255.255.0
  interface: en0
      flags: <UP,DONE,CLONING,STATIC>
`
	winGetViaGW  = "\xef\xbb\xbf{\"InterfaceIndex\":12,\"InterfaceAlias\":\"Ethernet\",\"NextHop\":\"192.168.1.1\"}\r\n"
	winGetDirect = "{\"InterfaceIndex\":7,\"InterfaceAlias\":\"Wi-Fi\",\"NextHop\":\"0.0.0.0\"}\r\n"
)

var (
	server       = netip.MustParseAddr("203.0.113.5")
	serverLAN    = netip.MustParseAddr("192.0.2.7")
	otherServer  = netip.MustParseAddr("198.51.100.9")
	dnsA         = netip.MustParseAddr("10.0.0.53")
	dnsB         = netip.MustParseAddr("10.0.0.54")
	localAddr    = netip.MustParseAddr("192.168.30.10")
	splitRoutes  = []netip.Prefix{netip.MustParsePrefix("10.77.0.0/16"), netip.MustParsePrefix("172.16.5.0/24")}
	ipGetCommand = "ip -4 route get 203.0.113.5"
)

type planner = func(*NetConfig, *routerEnv) ([]item, error)

// testRouter is a router with a fake runner, a temporary journal directory
// and a temporary resolv.conf.
type testRouter struct {
	*router
	run        *fakeRunner
	dir        string
	resolvConf string
}

func newTestRouter(t *testing.T, build planner, outputs map[string]string, opts ...RouterOption) *testRouter {
	t.Helper()
	tmp := t.TempDir()
	tr := &testRouter{
		run:        &fakeRunner{outputs: outputs},
		dir:        filepath.Join(tmp, "journal"),
		resolvConf: filepath.Join(tmp, "resolv.conf"),
	}
	// IPv6 is off unless a test gives withIPv6(t): the full-tunnel cases
	// that do not say otherwise are those of a machine without IPv6.
	opts = append([]RouterOption{
		WithRouterRunner(tr.run), WithJournalDir(tr.dir), WithResolvConf(tr.resolvConf),
		WithRouterLogger(testLogger(t)), WithDNSBackend(DNSResolved),
		withInet6File(filepath.Join(tmp, "no-if_inet6")),
	}, opts...)
	tr.router = newRouter(build, opts...)
	return tr
}

// withIPv6 makes the router see a kernel with IPv6 (an if_inet6 file).
func withIPv6(t *testing.T) RouterOption {
	t.Helper()
	f := filepath.Join(t.TempDir(), "if_inet6")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return withInet6File(f)
}

// journal reads the router's journal; nil when there is none.
func (tr *testRouter) journal(t *testing.T, iface string) *journalFile {
	t.Helper()
	data, err := os.ReadFile(journalPath(tr.dir, iface))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var j journalFile
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatalf("journal: %v\n%s", err, data)
	}
	return &j
}

// journalUndo lists the undo actions in the journal, one string each, in
// the order undoing runs them: entries newest first, the commands of one
// entry in order ("restore PATH" for a file).
func (tr *testRouter) journalUndo(t *testing.T, iface string) []string {
	t.Helper()
	j := tr.journal(t, iface)
	if j == nil {
		return nil
	}
	var s []string
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if e.Restore != nil {
			s = append(s, "restore "+e.Restore.Path)
		}
		for _, c := range e.Undo {
			line := strings.Join(c.Args, " ")
			if c.Stdin != "" {
				line += " <<EOF\n" + c.Stdin + "EOF"
			}
			s = append(s, line)
		}
	}
	return s
}

func journalKeys(j *journalFile) []string {
	if j == nil {
		return nil
	}
	var k []string
	for _, e := range j.Entries {
		k = append(k, e.Key)
	}
	return k
}

func wantList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// commandCase is one config and the exact commands Set and Close run.
type commandCase struct {
	name      string
	cfg       NetConfig
	backend   DNSBackend
	ipv6      bool // the machine has IPv6
	outputs   map[string]string
	wantSet   []string
	wantClose []string
}

func runCommandCases(t *testing.T, build planner, cases []commandCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := tc.backend
			if backend == DNSAuto {
				backend = DNSResolved
			}
			opts := []RouterOption{WithDNSBackend(backend)}
			if tc.ipv6 {
				opts = append(opts, withIPv6(t))
			}
			tr := newTestRouter(t, build, tc.outputs, opts...)
			if err := tr.Set(&tc.cfg); err != nil {
				t.Fatalf("Set: %v", err)
			}
			wantList(t, "Set", tr.run.take(), tc.wantSet)
			// The journal holds exactly the undo of what was done.
			if got := tr.journalUndo(t, tc.cfg.Interface); !reflect.DeepEqual(got, tc.wantClose) && backend != DNSResolvConf {
				t.Errorf("journal undo:\n got  %q\n want %q", got, tc.wantClose)
			}
			// Set again with the same config: nothing to do.
			if err := tr.Set(&tc.cfg); err != nil {
				t.Fatalf("second Set: %v", err)
			}
			wantList(t, "second Set", tr.run.take(), nil)
			if err := tr.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			wantList(t, "Close", tr.run.take(), tc.wantClose)
			if j := tr.journal(t, tc.cfg.Interface); j != nil {
				t.Errorf("journal left after Close: %+v", j)
			}
			if err := tr.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			wantList(t, "second Close", tr.run.take(), nil)
		})
	}
}

func TestLinuxRouterCommands(t *testing.T) {
	runCommandCases(t, linuxItems, []commandCase{
		{
			name:    "full tunnel via gateway",
			cfg:     NetConfig{Interface: "corridor0", Local: localAddr, Server: server, FullTunnel: true},
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
			},
			wantClose: []string{
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name:    "full tunnel with IPv6 blocked",
			cfg:     NetConfig{Interface: "corridor0", Local: localAddr, Server: server, FullTunnel: true},
			ipv6:    true,
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"ip -6 route add unreachable ::/1 metric 1",
				"ip -6 route add unreachable 8000::/1 metric 1",
			},
			wantClose: []string{
				"ip -6 route del unreachable 8000::/1 metric 1",
				"ip -6 route del unreachable ::/1 metric 1",
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name: "full tunnel with IPv6 blocked and DNS via resolved",
			cfg: NetConfig{Interface: "corridor0", Server: server, FullTunnel: true,
				DNS: []netip.Addr{dnsA}},
			ipv6:    true,
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"ip -6 route add unreachable ::/1 metric 1",
				"ip -6 route add unreachable 8000::/1 metric 1",
				"resolvectl dns corridor0 10.0.0.53",
				"resolvectl domain corridor0 ~.",
				"resolvectl default-route corridor0 yes",
			},
			wantClose: []string{
				"resolvectl revert corridor0",
				"ip -6 route del unreachable 8000::/1 metric 1",
				"ip -6 route del unreachable ::/1 metric 1",
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name: "split tunnel leaves IPv6 alone",
			cfg:  NetConfig{Interface: "corridor0", Server: server, Routes: splitRoutes[:1]},
			ipv6: true,
			wantSet: []string{
				"ip -4 route add 10.77.0.0/16 dev corridor0",
			},
			wantClose: []string{
				"ip -4 route del 10.77.0.0/16 dev corridor0",
			},
		},
		{
			name:    "full tunnel, server directly connected",
			cfg:     NetConfig{Interface: "corridor0", Server: serverLAN, FullTunnel: true},
			outputs: map[string]string{"ip -4 route get 192.0.2.7": ipGetDirect},
			wantSet: []string{
				"ip -4 route get 192.0.2.7",
				"ip -4 route replace 192.0.2.7/32 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
			},
			wantClose: []string{
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 192.0.2.7/32 dev eth0",
			},
		},
		{
			name: "split tunnel with classful route",
			cfg: NetConfig{Interface: "ppp7", Local: localAddr, Server: server, Routes: append(splitRoutes,
				netip.MustParsePrefix("10.77.1.2/16"), // same network, unmasked
			), ClassfulRoute: true},
			wantSet: []string{
				"ip -4 route add 10.77.0.0/16 dev ppp7",
				"ip -4 route add 172.16.5.0/24 dev ppp7",
				"ip -4 route add 192.168.30.0/24 dev ppp7",
			},
			wantClose: []string{
				"ip -4 route del 192.168.30.0/24 dev ppp7",
				"ip -4 route del 172.16.5.0/24 dev ppp7",
				"ip -4 route del 10.77.0.0/16 dev ppp7",
			},
		},
		{
			name: "split tunnel covering the server, class A local",
			cfg: NetConfig{Interface: "ppp7", Local: netip.MustParseAddr("10.1.2.3"), Server: server,
				Routes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, ClassfulRoute: true},
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 203.0.113.0/24 dev ppp7",
				"ip -4 route add 10.0.0.0/8 dev ppp7",
			},
			wantClose: []string{
				"ip -4 route del 10.0.0.0/8 dev ppp7",
				"ip -4 route del 203.0.113.0/24 dev ppp7",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name: "DNS via resolved, full tunnel",
			cfg: NetConfig{Interface: "corridor0", Server: server, FullTunnel: true,
				DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example.", "lab.corp.example"}},
			backend: DNSResolved,
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"resolvectl dns corridor0 10.0.0.53 10.0.0.54",
				"resolvectl domain corridor0 corp.example lab.corp.example ~.",
				"resolvectl default-route corridor0 yes",
			},
			wantClose: []string{
				"resolvectl revert corridor0",
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name: "DNS via resolved, split tunnel with a domain",
			cfg: NetConfig{Interface: "corridor0", Server: server, Routes: splitRoutes[:1],
				DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example"}},
			backend: DNSResolved,
			wantSet: []string{
				"ip -4 route add 10.77.0.0/16 dev corridor0",
				"resolvectl dns corridor0 10.0.0.53",
				"resolvectl domain corridor0 corp.example",
				"resolvectl default-route corridor0 no",
			},
			wantClose: []string{
				"resolvectl revert corridor0",
				"ip -4 route del 10.77.0.0/16 dev corridor0",
			},
		},
		{
			name:    "DNS via resolved, split tunnel without domains",
			cfg:     NetConfig{Interface: "corridor0", DNS: []netip.Addr{dnsA}},
			backend: DNSResolved,
			wantSet: []string{"resolvectl dns corridor0 10.0.0.53"},
			wantClose: []string{
				"resolvectl revert corridor0",
			},
		},
		{
			name: "DNS via resolv.conf runs no command",
			cfg: NetConfig{Interface: "corridor0", Routes: splitRoutes[:1],
				DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example"}},
			backend:   DNSResolvConf,
			wantSet:   []string{"ip -4 route add 10.77.0.0/16 dev corridor0"},
			wantClose: []string{"ip -4 route del 10.77.0.0/16 dev corridor0"},
		},
		{
			name: "route 0.0.0.0/0 means full tunnel",
			cfg: NetConfig{Interface: "corridor0", Server: server,
				Routes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}},
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
			},
			wantClose: []string{
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
	})
}

func TestDarwinRouterCommands(t *testing.T) {
	runCommandCases(t, darwinItems, []commandCase{
		{
			name: "full tunnel via gateway with DNS",
			cfg: NetConfig{Interface: "utun5", Local: localAddr, Server: server, FullTunnel: true,
				DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example"}},
			outputs: map[string]string{"route -n get 203.0.113.5": darwinGetViaGW},
			wantSet: []string{
				"route -n get 203.0.113.5",
				"route -n add -host 203.0.113.5 192.168.1.1",
				"route -n add -net 0.0.0.0/1 -interface utun5",
				"route -n add -net 128.0.0.0/1 -interface utun5",
				"route -n add -inet6 ::/1 ::1 -reject",
				"route -n add -inet6 8000::/1 ::1 -reject",
				"scutil <<EOF\n" +
					"d.init\n" +
					"d.add ServerAddresses * 10.0.0.53 10.0.0.54\n" +
					"d.add SearchDomains * corp.example\n" +
					"d.add SupplementalMatchDomains * \"\" corp.example\n" +
					"set State:/Network/Service/corridor-utun5/DNS\n" +
					"quit\n" +
					"EOF",
			},
			wantClose: []string{
				"scutil <<EOF\nremove State:/Network/Service/corridor-utun5/DNS\nquit\nEOF",
				"route -n delete -inet6 8000::/1 ::1",
				"route -n delete -inet6 ::/1 ::1",
				"route -n delete -net 128.0.0.0/1 -interface utun5",
				"route -n delete -net 0.0.0.0/1 -interface utun5",
				"route -n delete -host 203.0.113.5 192.168.1.1",
			},
		},
		{
			name:    "full tunnel, server directly connected",
			cfg:     NetConfig{Interface: "utun5", Server: netip.MustParseAddr("192.168.1.7"), FullTunnel: true},
			outputs: map[string]string{"route -n get 192.168.1.7": darwinGetDirect},
			wantSet: []string{
				"route -n get 192.168.1.7",
				"route -n add -host 192.168.1.7 -interface en0",
				"route -n add -net 0.0.0.0/1 -interface utun5",
				"route -n add -net 128.0.0.0/1 -interface utun5",
				"route -n add -inet6 ::/1 ::1 -reject",
				"route -n add -inet6 8000::/1 ::1 -reject",
			},
			wantClose: []string{
				"route -n delete -inet6 8000::/1 ::1",
				"route -n delete -inet6 ::/1 ::1",
				"route -n delete -net 128.0.0.0/1 -interface utun5",
				"route -n delete -net 0.0.0.0/1 -interface utun5",
				"route -n delete -host 192.168.1.7 -interface en0",
			},
		},
		{
			name: "split tunnel with classful route and split DNS",
			cfg: NetConfig{Interface: "utun5", Local: localAddr, Server: server, Routes: splitRoutes, ClassfulRoute: true,
				DNS: []netip.Addr{dnsA}, Domains: []string{"corp.example"}},
			wantSet: []string{
				"route -n add -net 10.77.0.0/16 -interface utun5",
				"route -n add -net 172.16.5.0/24 -interface utun5",
				"route -n add -net 192.168.30.0/24 -interface utun5",
				"scutil <<EOF\n" +
					"d.init\n" +
					"d.add ServerAddresses * 10.0.0.53\n" +
					"d.add SearchDomains * corp.example\n" +
					"d.add SupplementalMatchDomains * corp.example\n" +
					"set State:/Network/Service/corridor-utun5/DNS\n" +
					"quit\n" +
					"EOF",
			},
			wantClose: []string{
				"scutil <<EOF\nremove State:/Network/Service/corridor-utun5/DNS\nquit\nEOF",
				"route -n delete -net 192.168.30.0/24 -interface utun5",
				"route -n delete -net 172.16.5.0/24 -interface utun5",
				"route -n delete -net 10.77.0.0/16 -interface utun5",
			},
		},
	})
}

func TestWindowsRouterCommands(t *testing.T) {
	find := func(a string) string {
		return "powershell -NoProfile -NonInteractive -Command Find-NetRoute -RemoteIPAddress '" + a +
			"' | Where-Object NextHop | Select-Object -First 1 InterfaceIndex,InterfaceAlias,NextHop | ConvertTo-Json -Compress"
	}
	runCommandCases(t, windowsItems, []commandCase{
		{
			name: "full tunnel via gateway with DNS",
			cfg: NetConfig{Interface: "Corridor VPN", Local: localAddr, Server: server, FullTunnel: true,
				DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example"}},
			outputs: map[string]string{find("203.0.113.5"): winGetViaGW},
			wantSet: []string{
				find("203.0.113.5"),
				"netsh interface ipv4 add route prefix=203.0.113.5/32 interface=12 nexthop=192.168.1.1 store=active",
				"netsh interface ipv4 add route prefix=0.0.0.0/1 interface=Corridor VPN store=active",
				"netsh interface ipv4 add route prefix=128.0.0.0/1 interface=Corridor VPN store=active",
				"netsh interface ipv6 add route prefix=::/1 interface=Corridor VPN store=active",
				"netsh interface ipv6 add route prefix=8000::/1 interface=Corridor VPN store=active",
				"netsh interface ipv4 set dnsservers name=Corridor VPN source=static address=10.0.0.53 register=none validate=no",
				"netsh interface ipv4 add dnsservers name=Corridor VPN address=10.0.0.54 index=2 validate=no",
				"powershell -NoProfile -NonInteractive -Command Set-DnsClient -InterfaceAlias 'Corridor VPN' -ConnectionSpecificSuffix 'corp.example'",
			},
			wantClose: []string{
				"powershell -NoProfile -NonInteractive -Command Set-DnsClient -InterfaceAlias 'Corridor VPN' -ResetConnectionSpecificSuffix",
				"netsh interface ipv4 set dnsservers name=Corridor VPN source=dhcp",
				"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor VPN store=active",
				"netsh interface ipv6 delete route prefix=::/1 interface=Corridor VPN store=active",
				"netsh interface ipv4 delete route prefix=128.0.0.0/1 interface=Corridor VPN store=active",
				"netsh interface ipv4 delete route prefix=0.0.0.0/1 interface=Corridor VPN store=active",
				"netsh interface ipv4 delete route prefix=203.0.113.5/32 interface=12 nexthop=192.168.1.1 store=active",
			},
		},
		{
			name:    "full tunnel, server on link",
			cfg:     NetConfig{Interface: "Corridor", Server: serverLAN, FullTunnel: true},
			outputs: map[string]string{find("192.0.2.7"): winGetDirect},
			wantSet: []string{
				find("192.0.2.7"),
				"netsh interface ipv4 add route prefix=192.0.2.7/32 interface=7 store=active",
				"netsh interface ipv4 add route prefix=0.0.0.0/1 interface=Corridor store=active",
				"netsh interface ipv4 add route prefix=128.0.0.0/1 interface=Corridor store=active",
				"netsh interface ipv6 add route prefix=::/1 interface=Corridor store=active",
				"netsh interface ipv6 add route prefix=8000::/1 interface=Corridor store=active",
			},
			wantClose: []string{
				"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor store=active",
				"netsh interface ipv6 delete route prefix=::/1 interface=Corridor store=active",
				"netsh interface ipv4 delete route prefix=128.0.0.0/1 interface=Corridor store=active",
				"netsh interface ipv4 delete route prefix=0.0.0.0/1 interface=Corridor store=active",
				"netsh interface ipv4 delete route prefix=192.0.2.7/32 interface=7 store=active",
			},
		},
		{
			name: "split tunnel with classful route, one DNS server, apostrophe in name",
			cfg: NetConfig{Interface: "Bob's VPN", Local: netip.MustParseAddr("172.20.1.9"), Routes: splitRoutes[1:], ClassfulRoute: true,
				DNS: []netip.Addr{dnsA}},
			wantSet: []string{
				"netsh interface ipv4 add route prefix=172.16.5.0/24 interface=Bob's VPN store=active",
				"netsh interface ipv4 add route prefix=172.20.0.0/16 interface=Bob's VPN store=active",
				"netsh interface ipv4 set dnsservers name=Bob's VPN source=static address=10.0.0.53 register=none validate=no",
			},
			wantClose: []string{
				"netsh interface ipv4 set dnsservers name=Bob's VPN source=dhcp",
				"netsh interface ipv4 delete route prefix=172.20.0.0/16 interface=Bob's VPN store=active",
				"netsh interface ipv4 delete route prefix=172.16.5.0/24 interface=Bob's VPN store=active",
			},
		},
	})
}
