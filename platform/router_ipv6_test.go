package platform

import (
	"strings"
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
		{"ip", "-6", "route", "del", "::/1", "dev", "corridor0"},
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
	wantList(t, "full to split", tr.run.take(), []string{
		"ip -6 route del unreachable 8000::/1 metric 1",
		"ip -6 route del unreachable ::/1 metric 1",
		"ip -4 route del 128.0.0.0/1 dev corridor0",
		"ip -4 route del 0.0.0.0/1 dev corridor0",
		"ip -4 route del 203.0.113.5/32 via 192.0.2.1 dev eth0",
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
