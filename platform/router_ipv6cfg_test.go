package platform

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The IPv6 configuration of a session, as the tunnel's ipv6.Config gives
// it: a SLAAC address in an on-link /64, a route information prefix, and
// an IPv6 DNS server beside the IPv4 one.
var (
	addr6   = netip.MustParsePrefix("2001:db8:1::5/64")
	onLink6 = netip.MustParsePrefix("2001:db8:1::/64")
	route6  = netip.MustParsePrefix("2001:db8:ff00::/40")
	dns6    = netip.MustParseAddr("2001:db8:1::53")
)

func fullWithIPv6(iface string) NetConfig {
	return NetConfig{Interface: iface, Local: localAddr, Server: server, FullTunnel: true,
		DNS: []netip.Addr{dnsA, dns6}, Addrs6: []netip.Prefix{addr6}, Routes6: []netip.Prefix{onLink6, route6}, Default6: true}
}

// TestLinuxIPv6Config: a full tunnel whose session offers IPv6 puts the
// address on the device, routes its prefixes and both IPv6 halves
// through it (no unreachable block), gives resolved both DNS servers, and
// Close undoes all of it in reverse.
func TestLinuxIPv6Config(t *testing.T) {
	runCommandCases(t, linuxItems, []commandCase{
		{
			name:    "full tunnel with IPv6 offered",
			cfg:     fullWithIPv6("corridor0"),
			ipv6:    true,
			outputs: map[string]string{ipGetCommand: ipGetViaGW},
			wantSet: []string{
				"ip -4 route get 203.0.113.5",
				"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
				"ip -4 route add 0.0.0.0/1 dev corridor0",
				"ip -4 route add 128.0.0.0/1 dev corridor0",
				"ip -6 addr add 2001:db8:1::5/64 dev corridor0 nodad noprefixroute",
				"ip -6 route add ::/1 dev corridor0",
				"ip -6 route add 8000::/1 dev corridor0",
				"ip -6 route add 2001:db8:1::/64 dev corridor0",
				"ip -6 route add 2001:db8:ff00::/40 dev corridor0",
				"resolvectl dns corridor0 10.0.0.53 2001:db8:1::53",
				"resolvectl domain corridor0 ~.",
				"resolvectl default-route corridor0 yes",
			},
			wantClose: []string{
				"resolvectl revert corridor0",
				"ip -6 route del 2001:db8:ff00::/40 dev corridor0",
				"ip -6 route del 2001:db8:1::/64 dev corridor0",
				"ip -6 route del 8000::/1 dev corridor0",
				"ip -6 route del ::/1 dev corridor0",
				"ip -6 addr del 2001:db8:1::5/64 dev corridor0",
				"ip -4 route del 128.0.0.0/1 dev corridor0",
				"ip -4 route del 0.0.0.0/1 dev corridor0",
				"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
			},
		},
		{
			name: "split tunnel with IPv6 routes, duplicates dropped",
			cfg: NetConfig{Interface: "corridor1", Local: localAddr, Server: server, Routes: splitRoutes[:1],
				Addrs6: []netip.Prefix{addr6}, Routes6: []netip.Prefix{route6, route6, netip.MustParsePrefix("2001:db8:ff00::1/40")}},
			ipv6: true,
			wantSet: []string{
				"ip -4 route add 10.77.0.0/16 dev corridor1",
				"ip -6 addr add 2001:db8:1::5/64 dev corridor1 nodad noprefixroute",
				"ip -6 route add 2001:db8:ff00::/40 dev corridor1",
			},
			wantClose: []string{
				"ip -6 route del 2001:db8:ff00::/40 dev corridor1",
				"ip -6 addr del 2001:db8:1::5/64 dev corridor1",
				"ip -4 route del 10.77.0.0/16 dev corridor1",
			},
		},
	})
}

// TestLinuxIPv6ConfigConverges: the IPv6 configuration arriving after the
// full tunnel is up replaces the unreachable block with routes through
// the device; a changed offer moves only what changed; IPv6 going away
// brings the block back.
func TestLinuxIPv6ConfigConverges(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, withIPv6(t))
	base := NetConfig{Interface: "corridor0", Local: localAddr, Server: server, FullTunnel: true, DNS: []netip.Addr{dnsA}}
	if err := tr.Set(&base); err != nil {
		t.Fatal(err)
	}
	tr.run.take()
	with := base
	with.Addrs6, with.Default6, with.DNS = []netip.Prefix{addr6}, true, []netip.Addr{dnsA, dns6}
	if err := tr.Set(&with); err != nil {
		t.Fatal(err)
	}
	// The routes through the device come before the block goes: no
	// moment without either.
	wantList(t, "IPv6 offered", tr.run.take(), []string{
		"resolvectl revert corridor0",
		"ip -6 addr add 2001:db8:1::5/64 dev corridor0 nodad noprefixroute",
		"ip -6 route add ::/1 dev corridor0",
		"ip -6 route add 8000::/1 dev corridor0",
		"resolvectl dns corridor0 10.0.0.53 2001:db8:1::53",
		"resolvectl domain corridor0 ~.",
		"resolvectl default-route corridor0 yes",
		"ip -6 route del unreachable 8000::/1 metric 1",
		"ip -6 route del unreachable ::/1 metric 1",
	})
	renumbered := with
	renumbered.Addrs6 = []netip.Prefix{netip.MustParsePrefix("2001:db8:2::5/64")}
	if err := tr.Set(&renumbered); err != nil {
		t.Fatal(err)
	}
	wantList(t, "renumbered", tr.run.take(), []string{
		"ip -6 addr del 2001:db8:1::5/64 dev corridor0",
		"ip -6 addr add 2001:db8:2::5/64 dev corridor0 nodad noprefixroute",
	})
	if err := tr.Set(&base); err != nil {
		t.Fatal(err)
	}
	// Undone newest first: the renumbered address was added last.
	wantList(t, "IPv6 withdrawn", tr.run.take(), []string{
		"ip -6 addr del 2001:db8:2::5/64 dev corridor0",
		"resolvectl revert corridor0",
		"ip -6 route del 8000::/1 dev corridor0",
		"ip -6 route del ::/1 dev corridor0",
		"ip -6 route add unreachable ::/1 metric 1",
		"ip -6 route add unreachable 8000::/1 metric 1",
		"resolvectl dns corridor0 10.0.0.53",
		"resolvectl domain corridor0 ~.",
		"resolvectl default-route corridor0 yes",
	})
	for _, u := range tr.journalUndo(t, "corridor0") {
		if strings.Contains(u, "2001:db8") {
			t.Errorf("journal still holds %q", u)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left after Close: %+v", j)
	}
}

// TestResolvConfIPv6: resolv.conf takes IPv6 nameservers as they are
// written (glibc reads "nameserver 2001:db8::53").
func TestResolvConfIPv6(t *testing.T) {
	got := string(resolvConfContent("corridor0", []netip.Addr{dnsA, dns6}, []string{"corp.example"}))
	want := "# written by Corridor for corridor0; the original is restored on disconnect\n" +
		"nameserver 10.0.0.53\nnameserver 2001:db8:1::53\nsearch corp.example\n"
	if got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
}

// TestDarwinIPv6Config: the macOS commands of the same configuration.
func TestDarwinIPv6Config(t *testing.T) {
	runCommandCases(t, darwinItems, []commandCase{{
		name:    "full tunnel with IPv6 offered",
		cfg:     fullWithIPv6("utun4"),
		outputs: map[string]string{"route -n get 203.0.113.5": darwinGetViaGW},
		wantSet: []string{
			"route -n get 203.0.113.5",
			"route -n add -host 203.0.113.5 192.168.1.1",
			"route -n add -net 0.0.0.0/1 -interface utun4",
			"route -n add -net 128.0.0.0/1 -interface utun4",
			"ifconfig utun4 inet6 2001:db8:1::5/64 alias",
			"route -n add -inet6 ::/1 -interface utun4",
			"route -n add -inet6 8000::/1 -interface utun4",
			"route -n add -inet6 2001:db8:1::/64 -interface utun4",
			"route -n add -inet6 2001:db8:ff00::/40 -interface utun4",
			"scutil <<EOF\nd.init\nd.add ServerAddresses * 10.0.0.53 2001:db8:1::53\nd.add SupplementalMatchDomains * \"\"\nset State:/Network/Service/corridor-utun4/DNS\nquit\nEOF",
		},
		wantClose: []string{
			"scutil <<EOF\nremove State:/Network/Service/corridor-utun4/DNS\nquit\nEOF",
			"route -n delete -inet6 2001:db8:ff00::/40 -interface utun4",
			"route -n delete -inet6 2001:db8:1::/64 -interface utun4",
			"route -n delete -inet6 8000::/1 -interface utun4",
			"route -n delete -inet6 ::/1 -interface utun4",
			"ifconfig utun4 inet6 2001:db8:1::5 -alias",
			"route -n delete -net 128.0.0.0/1 -interface utun4",
			"route -n delete -net 0.0.0.0/1 -interface utun4",
			"route -n delete -host 203.0.113.5 192.168.1.1",
		},
	}})
}

// TestWindowsIPv6Config: the IP Helper calls of the same configuration on
// Windows (the halves into the adapter, which now carries IPv6), the
// netsh spelling of their undo, and DNS of both families in one call.
func TestWindowsIPv6Config(t *testing.T) {
	tr, n, _ := newWindowsIPHelperRouter(t, map[string]string{winFind("203.0.113.5"): winGetViaGW})
	cfg := fullWithIPv6("Corridor")
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Set", n.take(), []string{
		"AddRoute 0x10 203.0.113.5/32 via 192.168.1.1 metric 0",
		"AddRoute 0x2b 0.0.0.0/1 via invalid IP metric 0",
		"AddRoute 0x2b 128.0.0.0/1 via invalid IP metric 0",
		"AddAddress 0x2b 2001:db8:1::5/64",
		"AddRoute 0x2b 2001:db8:1::/64 via invalid IP metric 0",
		"AddRoute 0x2b 2001:db8:ff00::/40 via invalid IP metric 0",
		"AddRoute 0x2b ::/1 via invalid IP metric 0",
		"AddRoute 0x2b 8000::/1 via invalid IP metric 0",
		"SetDNS 0x2b [10.0.0.53 2001:db8:1::53] []",
		"SetRegValues " + nrptKeyOf("Corridor"),
		"FlushDNSCache",
	})
	wantList(t, "journal undo", tr.journalUndo(t, "Corridor"), []string{
		`reg delete HKLM\` + nrptKeyOf("Corridor") + ` /f`,
		"ipconfig /flushdns",
		"netsh interface ipv4 set dnsservers name=Corridor source=dhcp",
		"netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor store=active",
		"netsh interface ipv6 delete route prefix=::/1 interface=Corridor store=active",
		"netsh interface ipv6 delete route prefix=2001:db8:ff00::/40 interface=Corridor store=active",
		"netsh interface ipv6 delete route prefix=2001:db8:1::/64 interface=Corridor store=active",
		"netsh interface ipv6 delete address interface=Corridor address=2001:db8:1::5 store=active",
		"netsh interface ipv4 delete route prefix=128.0.0.0/1 interface=Corridor store=active",
		"netsh interface ipv4 delete route prefix=0.0.0.0/1 interface=Corridor store=active",
		"netsh interface ipv4 delete route prefix=203.0.113.5/32 interface=12 nexthop=192.168.1.1 store=active",
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close", n.take(), []string{
		"DeleteRegKey " + nrptKeyOf("Corridor"),
		"FlushDNSCache",
		"SetDNS 0x2b [] []",
		"DeleteRoute 0x2b 8000::/1 via invalid IP",
		"DeleteRoute 0x2b ::/1 via invalid IP",
		"DeleteRoute 0x2b 2001:db8:ff00::/40 via invalid IP",
		"DeleteRoute 0x2b 2001:db8:1::/64 via invalid IP",
		"DeleteAddress 0x2b 2001:db8:1::5",
		"DeleteRoute 0x2b 128.0.0.0/1 via invalid IP",
		"DeleteRoute 0x2b 0.0.0.0/1 via invalid IP",
		"DeleteRoute 0x10 203.0.113.5/32 via 192.168.1.1",
	})
}

// TestWindowsIPv6BlockToDefault: on Windows the block and the IPv6
// default are the same routes into the adapter: the offer of a default
// (and its withdrawal) adds the address and changes no route.
func TestWindowsIPv6BlockToDefault(t *testing.T) {
	tr, n, _ := newWindowsIPHelperRouter(t, map[string]string{winFind("203.0.113.5"): winGetViaGW})
	base := NetConfig{Interface: "Corridor", Local: localAddr, Server: server, FullTunnel: true}
	if err := tr.Set(&base); err != nil {
		t.Fatal(err)
	}
	n.take()
	with := base
	with.Addrs6, with.Default6 = []netip.Prefix{addr6}, true
	if err := tr.Set(&with); err != nil {
		t.Fatal(err)
	}
	wantList(t, "default offered", n.take(), []string{"AddAddress 0x2b 2001:db8:1::5/64"})
	if err := tr.Set(&base); err != nil {
		t.Fatal(err)
	}
	wantList(t, "default withdrawn", n.take(), []string{"DeleteAddress 0x2b 2001:db8:1::5"})
}

// TestCheckUndoIPv6Config: every undo the IPv6 configuration journals on
// the three systems is one a journal may hold; near misses are not.
func TestCheckUndoIPv6Config(t *testing.T) {
	for _, a := range [][]string{
		{"ip", "-6", "route", "del", "2001:db8:ff00::/40", "dev", "corridor0"},
		{"ip", "-6", "route", "del", "::/1", "dev", "corridor0"},
		{"ip", "-6", "addr", "del", "2001:db8:1::5/64", "dev", "corridor0"},
		{"route", "-n", "delete", "-inet6", "2001:db8:1::/64", "-interface", "utun4"},
		{"ifconfig", "utun4", "inet6", "2001:db8:1::5", "-alias"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=2001:db8:1::/64", "interface=Corridor", "store=active"},
		{"netsh", "interface", "ipv6", "delete", "address", "interface=Corridor", "address=2001:db8:1::5", "store=active"},
	} {
		if err := checkUndoCommand(cmd(a...)); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	for _, a := range [][]string{
		{"ip", "-6", "route", "del", "2001:db8:ff00::1/40", "dev", "corridor0"}, // not masked
		{"ip", "-6", "route", "del", "::/0", "dev", "corridor0"},
		{"ip", "-6", "addr", "del", "10.0.0.1/24", "dev", "corridor0"},
		{"ip", "-6", "addr", "flush", "2001:db8:1::5/64", "dev", "corridor0"},
		{"ip", "-6", "addr", "del", "2001:db8:1::5/64", "dev", "corridor0", "x"},
		{"route", "-n", "delete", "-inet6", "2001:db8:1::/64", "-interface", "utun-4"},
		{"route", "-n", "delete", "-inet6", "::/0", "-interface", "utun4"},
		{"ifconfig", "utun4", "inet6", "2001:db8:1::5", "alias"},
		{"ifconfig", "utun4", "inet", "10.0.0.1", "-alias"},
		{"ifconfig", "utun4", "inet6", "2001:db8:1::5/64", "-alias"},
		{"ifconfig", "utun4", "down"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=2001:db8:1::/64", "interface=12", "store=active"},
		{"netsh", "interface", "ipv6", "delete", "address", "interface=Corridor", "address=10.0.0.1", "store=active"},
		{"netsh", "interface", "ipv6", "add", "address", "interface=Corridor", "address=2001:db8:1::5", "store=active"},
	} {
		if err := checkUndoCommand(cmd(a...)); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

// TestParseWinNetIPv6: the IPv6 address and route lines winNetRunner
// executes, and IPv6 DNS servers in set-dns.
func TestParseWinNetIPv6(t *testing.T) {
	for line, want := range map[string]string{
		"netsh interface ipv6 add address interface=Corridor address=2001:db8:1::5/64 store=active":    "add-address Corridor 2001:db8:1::5/64",
		"netsh interface ipv6 delete address interface=Corridor address=2001:db8:1::5 store=active":    "delete-address Corridor 2001:db8:1::5/128",
		"netsh interface ipv6 add route prefix=2001:db8:1::/64 interface=Corridor store=active":        "add-route Corridor 2001:db8:1::/64",
		"netsh interface ipv6 add address interface=12 address=2001:db8:1::5/64 store=active":          "",
		"netsh interface ipv6 add address interface=Corridor address=2001:db8:1::5 store=active":       "",
		"netsh interface ipv6 delete address interface=Corridor address=2001:db8:1::5/64 store=active": "",
		"winipcfg set-dns interface=Corridor servers=10.0.0.53,2001:db8:1::53 domains=":                "set-dns Corridor [10.0.0.53 2001:db8:1::53]",
	} {
		op, ok, err := parseWinNetCommand(cmd(strings.Fields(line)...))
		got := ""
		switch {
		case err != nil:
			got = "error"
		case ok && op.kind == "set-dns":
			got = "set-dns " + op.alias + " [" + strings.Join(addrStrings(op.servers), " ") + "]"
		case ok:
			got = op.kind + " " + op.alias + " " + op.prefix.String()
		}
		if got != want {
			t.Errorf("%s:\n got  %q\n want %q", line, got, want)
		}
	}
}

func addrStrings(a []netip.Addr) []string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return s
}

// TestRecoverIPv6Config: the journal of an IPv6 configuration, left by a
// router that crashed, is trusted and replayed on every system: Recover
// runs exactly its undo, the IPv6 lines included.
func TestRecoverIPv6Config(t *testing.T) {
	for _, tc := range []struct {
		name    string
		build   planner
		outputs map[string]string
		iface   string
		want6   []string
	}{
		{"linux", linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, "corridor0",
			[]string{"ip -6 addr del 2001:db8:1::5/64 dev corridor0", "ip -6 route del 8000::/1 dev corridor0"}},
		{"darwin", darwinItems, map[string]string{"route -n get 203.0.113.5": darwinGetViaGW}, "utun4",
			[]string{"ifconfig utun4 inet6 2001:db8:1::5 -alias", "route -n delete -inet6 2001:db8:ff00::/40 -interface utun4"}},
		{"windows", windowsItems, map[string]string{winFind("203.0.113.5"): winGetViaGW}, "Corridor",
			[]string{"netsh interface ipv6 delete address interface=Corridor address=2001:db8:1::5 store=active",
				"netsh interface ipv6 delete route prefix=::/1 interface=Corridor store=active"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crashed := newTestRouter(t, tc.build, tc.outputs, withIPv6(t))
			cfg := fullWithIPv6(tc.iface)
			if err := crashed.Set(&cfg); err != nil {
				t.Fatal(err)
			}
			want := crashed.journalUndo(t, tc.iface)
			for _, w := range tc.want6 {
				if !slices.Contains(want, w) {
					t.Errorf("journal lacks %q: %q", w, want)
				}
			}
			run := &fakeRunner{}
			if err := Recover(WithRouterRunner(run), WithJournalDir(crashed.dir), WithResolvConf(crashed.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
				t.Fatalf("Recover: %v", err)
			}
			wantList(t, "Recover", run.take(), want)
		})
	}
}
