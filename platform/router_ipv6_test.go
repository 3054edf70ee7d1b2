package platform

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestCheckUndoIPv6Block: the undo of a full tunnel's IPv6 block is a
// shape the journal may hold; anything near it is not.
func TestCheckUndoIPv6Block(t *testing.T) {
	for _, p := range []string{"::/1", "8000::/1"} {
		c := cmd("ip", "-6", "route", "del", "unreachable", p, "metric", "1")
		if err := checkUndoCommand(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, a := range [][]string{
		{"ip", "-6", "route", "del", "unreachable", "::/0", "metric", "1"},
		{"ip", "-6", "route", "del", "unreachable", "::/1", "metric", "1", "table", "local"},
		{"ip", "-6", "route", "del", "unreachable", "::/1", "metric"},
		{"ip", "-6", "route", "del", "prohibit", "8000::/1", "metric", "1"},
		{"ip", "-6", "route", "add", "unreachable", "::/1", "metric", "1"},
		{"ip", "-6", "route", "del", "::/0", "dev", "corridor0"},
		{"ip", "-6", "route", "del", "10.0.0.0/8", "dev", "corridor0"},
		{"ip", "-6", "addr", "del", "2001:db8::5/64", "dev", "-x"},
		{"ip", "-6", "addr", "del", "unreachable", "::/1", "metric", "1"},
		{"ip", "-4", "route", "del", "unreachable", "::/1", "metric", "1"},
		{"ip", "-6", "route", "del", "unreachable", "0.0.0.0/1", "metric", "1"},
	} {
		if err := checkUndoCommand(cmd(a...)); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

// TestLinuxIPv6BlockFollowsFullTunnel: switching a session between full
// and split tunnel adds and removes the IPv6 block, and only it.
func TestLinuxIPv6BlockFollowsFullTunnel(t *testing.T) {
	tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, withIPv6(t))
	full := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true, Routes: splitRoutes[:1]}
	split := &NetConfig{Interface: "corridor0", Server: server, Routes: splitRoutes[:1]}
	if err := tr.Set(split); err != nil {
		t.Fatal(err)
	}
	wantList(t, "split", tr.run.take(), []string{"ip -4 route add 10.77.0.0/16 dev corridor0"})
	if err := tr.Set(full); err != nil {
		t.Fatal(err)
	}
	wantList(t, "split to full", tr.run.take(), []string{
		"ip -4 route get 203.0.113.5",
		"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
		"ip -4 route add 0.0.0.0/1 dev corridor0",
		"ip -4 route add 128.0.0.0/1 dev corridor0",
		"ip -6 route add unreachable ::/1 metric 1",
		"ip -6 route add unreachable 8000::/1 metric 1",
	})
	if got := journalKeys(tr.journal(t, "corridor0")); !strings.Contains(strings.Join(got, ","), "unreachable6 ::/1,unreachable6 8000::/1") {
		t.Errorf("journal keys %q", got)
	}
	if err := tr.Set(split); err != nil {
		t.Fatal(err)
	}
	// The block goes last (removeLast): it only ever holds IPv6 back.
	wantList(t, "full to split", tr.run.take(), []string{
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
		"ip -6 route del unreachable 8000::/1 metric 1",
		"ip -6 route del unreachable ::/1 metric 1",
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close", tr.run.take(), []string{"ip -4 route del 10.77.0.0/16 dev corridor0"})
}

// TestLinuxIPv6Unsupported: a kernel without IPv6 (no if_inet6, or "ip -6"
// refused with EAFNOSUPPORT) is not an error: the block is skipped and
// nothing IPv6 is journaled or undone.
func TestLinuxIPv6Unsupported(t *testing.T) {
	want4 := []string{
		"ip -4 route get 203.0.113.5",
		"ip -4 route replace 203.0.113.5/32 via 192.0.2.1 dev eth0",
		"ip -4 route add 0.0.0.0/1 dev corridor0",
		"ip -4 route add 128.0.0.0/1 dev corridor0",
	}
	close4 := []string{
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
	}
	cfg := &NetConfig{Interface: "corridor0", Server: server, FullTunnel: true}

	t.Run("no if_inet6", func(t *testing.T) {
		tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}) // IPv6 off by default
		if err := tr.Set(cfg); err != nil {
			t.Fatalf("Set: %v", err)
		}
		wantList(t, "Set", tr.run.take(), want4)
		if err := tr.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantList(t, "Close", tr.run.take(), close4)
	})

	t.Run("EAFNOSUPPORT", func(t *testing.T) {
		tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, withIPv6(t))
		tr.run.setFail(map[string]error{
			"ip -6 route add": exitErr(2, "RTNETLINK answers: Address family not supported by protocol"),
		})
		if err := tr.Set(cfg); err != nil {
			t.Fatalf("Set: %v", err)
		}
		wantList(t, "Set", tr.run.take(), append(want4,
			"ip -6 route add unreachable ::/1 metric 1",
			"ip -6 route add unreachable 8000::/1 metric 1"))
		for _, u := range tr.journalUndo(t, "corridor0") {
			if strings.HasPrefix(u, "ip -6") {
				t.Errorf("journal holds %q", u)
			}
		}
		if err := tr.Set(cfg); err != nil {
			t.Fatalf("second Set: %v", err)
		}
		wantList(t, "second Set", tr.run.take(), nil)
		if err := tr.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantList(t, "Close", tr.run.take(), close4)
	})

	t.Run("other failure is an error", func(t *testing.T) {
		tr := newTestRouter(t, linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, withIPv6(t))
		tr.run.setFail(map[string]error{
			"ip -6 route add": exitErr(2, "RTNETLINK answers: Operation not permitted"),
		})
		if err := tr.Set(cfg); err == nil {
			t.Fatal("Set succeeded with the IPv6 block refused")
		}
		tr.run.setFail(nil)
		tr.run.take()
		if err := tr.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantList(t, "Close", tr.run.take(), close4)
	})

	t.Run("undo tolerates EAFNOSUPPORT", func(t *testing.T) {
		if !isGone(&CommandError{Args: []string{"ip", "-6", "route", "del", "unreachable", "::/1", "metric", "1"}, ExitCode: 2,
			Output: "RTNETLINK answers: Address family not supported by protocol"}) {
			t.Error("not gone")
		}
	})
}

// TestCheckUndoIPv6BlockDarwinWindows: the undo of the IPv6 block of
// macOS (route) and Windows (netsh spelling) may be journaled; anything
// near it may not.
func TestCheckUndoIPv6BlockDarwinWindows(t *testing.T) {
	for _, p := range []string{"::/1", "8000::/1"} {
		for _, c := range []Command{
			cmd("route", "-n", "delete", "-inet6", p, "::1"),
			cmd("netsh", "interface", "ipv6", "delete", "route", "prefix="+p, "interface=Corridor VPN", "store=active"),
		} {
			if err := checkUndoCommand(c); err != nil {
				t.Errorf("%s: %v", c, err)
			}
		}
	}
	for _, a := range [][]string{
		{"route", "-n", "delete", "-inet6", "::/0", "::1"},
		{"route", "-n", "delete", "-inet6", "::/1", "fe80::1"},
		{"route", "-n", "delete", "-inet6", "::/1", "::1", "-reject"},
		{"route", "-n", "add", "-inet6", "::/1", "::1", "-reject"},
		{"route", "-n", "delete", "-inet", "::/1", "::1"},
		{"route", "-n", "delete", "-inet6", "0.0.0.0/1", "::1"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=::/0", "interface=Corridor", "store=active"},
		{"netsh", "interface", "ipv6", "add", "route", "prefix=::/1", "interface=Corridor", "store=active"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=::/1", "interface=Corridor", "store=persistent"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=::/1", "interface=Corridor", "nexthop=::1", "store=active"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=::/1", "interface=Bob's", "store=active"},
		{"netsh", "interface", "ipv6", "delete", "route", "prefix=0.0.0.0/1", "interface=Corridor", "store=active"},
	} {
		if err := checkUndoCommand(cmd(a...)); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

// TestDarwinIPv6BlockFollowsFullTunnel: on macOS, switching between full
// and split tunnel adds and removes the two reject routes, and only them;
// a reject route someone else added is left to its owner.
func TestDarwinIPv6BlockFollowsFullTunnel(t *testing.T) {
	tr := newTestRouter(t, darwinItems, map[string]string{"route -n get 203.0.113.5": darwinGetViaGW})
	full := &NetConfig{Interface: "utun5", Server: server, FullTunnel: true, Routes: splitRoutes[:1]}
	split := &NetConfig{Interface: "utun5", Server: server, Routes: splitRoutes[:1]}
	if err := tr.Set(split); err != nil {
		t.Fatal(err)
	}
	wantList(t, "split", tr.run.take(), []string{"route -n add -net 10.77.0.0/16 -interface utun5"})
	if err := tr.Set(full); err != nil {
		t.Fatal(err)
	}
	wantList(t, "split to full", tr.run.take(), []string{
		"route -n get 203.0.113.5",
		"route -n add -host 203.0.113.5 192.168.1.1",
		"route -n add -net 0.0.0.0/1 -interface utun5",
		"route -n add -net 128.0.0.0/1 -interface utun5",
		"route -n add -inet6 ::/1 ::1 -reject",
		"route -n add -inet6 8000::/1 ::1 -reject",
	})
	if got := strings.Join(journalKeys(tr.journal(t, "utun5")), ","); !strings.Contains(got, "unreachable6 ::/1,unreachable6 8000::/1") {
		t.Errorf("journal keys %q", got)
	}
	if err := tr.Set(split); err != nil {
		t.Fatal(err)
	}
	wantList(t, "full to split", tr.run.take(), []string{
		"route -n delete -inet6 8000::/1 ::1",
		"route -n delete -inet6 ::/1 ::1",
		"route -n delete -net 128.0.0.0/1 -interface utun5",
		"route -n delete -net 0.0.0.0/1 -interface utun5",
		"route -n delete -host 203.0.113.5 192.168.1.1",
	})

	// Another VPN's ::/1: left alone, not journaled, not removed.
	tr.run.setFail(map[string]error{"route -n add -inet6 ::/1": exitErr(1, "route: writing to routing socket: File exists\nadd net ::/1: gateway ::1: File exists")})
	if err := tr.Set(full); err != nil {
		t.Fatalf("Set with ::/1 taken: %v", err)
	}
	tr.run.take()
	for _, u := range tr.journalUndo(t, "utun5") {
		if u == "route -n delete -inet6 ::/1 ::1" {
			t.Errorf("journal holds %q for a route it did not add", u)
		}
	}
	tr.run.setFail(nil)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if got := tr.run.take(); slices.Contains(got, "route -n delete -inet6 ::/1 ::1") || !slices.Contains(got, "route -n delete -inet6 8000::/1 ::1") {
		t.Errorf("Close ran %q", got)
	}
}

// TestWindowsIPv6Block: on Windows the block is two IPv6 routes into the
// adapter through the IP Helper API; an adapter without IPv6 (IPv6 off on
// the machine) skips it without journaling anything, and any other
// failure stops Set.
func TestWindowsIPv6Block(t *testing.T) {
	cfg := NetConfig{Interface: "Corridor", Server: serverLAN, FullTunnel: true}
	outputs := map[string]string{winFind("192.0.2.7"): winGetDirect}
	want4 := []string{
		"AddRoute 0x11 192.0.2.7/32 via invalid IP metric 0",
		"AddRoute 0x2b 0.0.0.0/1 via invalid IP metric 0",
		"AddRoute 0x2b 128.0.0.0/1 via invalid IP metric 0",
	}
	close4 := []string{
		"DeleteRoute 0x2b 128.0.0.0/1 via invalid IP",
		"DeleteRoute 0x2b 0.0.0.0/1 via invalid IP",
		"DeleteRoute 0x11 192.0.2.7/32 via invalid IP",
	}

	t.Run("full to split and back", func(t *testing.T) {
		tr, n, _ := newWindowsIPHelperRouter(t, outputs)
		if err := tr.Set(&cfg); err != nil {
			t.Fatal(err)
		}
		wantList(t, "Set", n.take(), append(slices.Clone(want4),
			"AddRoute 0x2b ::/1 via invalid IP metric 0",
			"AddRoute 0x2b 8000::/1 via invalid IP metric 0"))
		split := cfg
		split.FullTunnel, split.Routes = false, splitRoutes[:1]
		if err := tr.Set(&split); err != nil {
			t.Fatal(err)
		}
		wantList(t, "full to split", n.take(), append([]string{
			"DeleteRoute 0x2b 8000::/1 via invalid IP",
			"DeleteRoute 0x2b ::/1 via invalid IP"}, append(close4,
			"AddRoute 0x2b 10.77.0.0/16 via invalid IP metric 0")...))
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		wantList(t, "Close", n.take(), []string{"DeleteRoute 0x2b 10.77.0.0/16 via invalid IP"})
	})

	t.Run("adapter without IPv6", func(t *testing.T) {
		tr, n, _ := newWindowsIPHelperRouter(t, outputs)
		n.noIPv6 = map[uint64]bool{0x2b: true}
		if err := tr.Set(&cfg); err != nil {
			t.Fatalf("Set: %v", err)
		}
		wantList(t, "Set", n.take(), want4)
		for _, u := range tr.journalUndo(t, "Corridor") {
			if strings.Contains(u, "ipv6") {
				t.Errorf("journal holds %q", u)
			}
		}
		if err := tr.Set(&cfg); err != nil {
			t.Fatalf("second Set: %v", err)
		}
		wantList(t, "second Set", n.take(), nil)
		if err := tr.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantList(t, "Close", n.take(), close4)
	})

	t.Run("undo on an adapter that lost IPv6 counts as done", func(t *testing.T) {
		tr, n, _ := newWindowsIPHelperRouter(t, outputs)
		if err := tr.Set(&cfg); err != nil {
			t.Fatal(err)
		}
		n.take()
		n.noIPv6 = map[uint64]bool{0x2b: true}
		if err := tr.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wantList(t, "Close", n.take(), close4)
		if j := tr.journal(t, "Corridor"); j != nil {
			t.Errorf("journal left: %+v", j)
		}
	})

	t.Run("route exists", func(t *testing.T) {
		tr, n, _ := newWindowsIPHelperRouter(t, outputs)
		n.fail = map[string]error{"AddRoute 0x2b 8000::/1": errObjectExists}
		if err := tr.Set(&cfg); err != nil {
			t.Fatalf("Set: %v", err)
		}
		n.take()
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		wantList(t, "Close", n.take(), append([]string{"DeleteRoute 0x2b ::/1 via invalid IP"}, close4...))
	})

	t.Run("other failure is an error", func(t *testing.T) {
		tr, n, _ := newWindowsIPHelperRouter(t, outputs)
		denied := syscall.Errno(5)
		n.fail = map[string]error{"AddRoute 0x2b ::/1": denied}
		if err := tr.Set(&cfg); !errors.Is(err, denied) {
			t.Fatalf("Set: %v, want the call's error", err)
		}
		n.fail = nil
		n.take()
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		wantList(t, "Close", n.take(), close4)
	})
}
