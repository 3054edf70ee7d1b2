package platform

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// twoRouters are the Routers of two tunnels in one process, sharing the
// journal directory and resolv.conf, as the helper's sessions do.
func twoRouters(t *testing.T, backend DNSBackend) (a, b *testRouter) {
	t.Helper()
	a = newTestRouter(t, linuxItems, nil, WithDNSBackend(backend))
	b = newTestRouter(t, linuxItems, nil, WithJournalDir(a.dir), WithResolvConf(a.resolvConf), WithDNSBackend(backend))
	b.dir, b.resolvConf = a.dir, a.resolvConf
	return a, b
}

var (
	tunA = &NetConfig{Interface: "corridor0", Local: localAddr, Routes: splitRoutes[:1], DNS: []netip.Addr{dnsA}, Domains: []string{"a.example"}}
	tunB = &NetConfig{Interface: "corridor1", Local: netip.MustParseAddr("192.168.31.10"), Routes: splitRoutes[1:],
		DNS: []netip.Addr{netip.MustParseAddr("192.168.31.1")}, Domains: []string{"b.example"}}
)

// With resolv.conf, the first tunnel owns the file; the second one's DNS
// is not applied (and its Router says so), and whichever goes first, the
// original comes back byte for byte.
func TestResolvConfTwoTunnels(t *testing.T) {
	for _, aFirst := range []bool{true, false} {
		name := "owner goes last"
		if aFirst {
			name = "owner goes first"
		}
		t.Run(name, func(t *testing.T) {
			a, b := twoRouters(t, DNSResolvConf)
			original := []byte("# from DHCP\nnameserver 192.0.2.53\n")
			if err := os.WriteFile(a.resolvConf, original, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := a.Set(tunA); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(tunB); err != nil {
				t.Fatal(err)
			}
			wantA := string(resolvConfContent("corridor0", tunA.DNS, tunA.Domains))
			assertFile(t, a.resolvConf, []byte(wantA), 0o644)
			if a.DNSNote() != "" {
				t.Errorf("owner's note: %q", a.DNSNote())
			}
			if n := b.DNSNote(); !strings.Contains(n, "DNS servers [192.168.31.1] not set") || !strings.Contains(n, "the tunnel on corridor0") {
				t.Errorf("second tunnel's note: %q", n)
			}
			wantList(t, "journal of corridor1", b.journalUndo(t, "corridor1"), []string{"ip -4 route del 172.16.5.0/24 dev corridor1"})
			first, second := a, b
			if !aFirst {
				first, second = b, a
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			if aFirst {
				assertFile(t, a.resolvConf, original, 0o644)
			} else {
				assertFile(t, a.resolvConf, []byte(wantA), 0o644)
			}
			if err := second.Close(); err != nil {
				t.Fatal(err)
			}
			assertFile(t, a.resolvConf, original, 0o644)

			// The file is free again: the next tunnel gets it.
			if err := b.Set(tunB); err != nil {
				t.Fatal(err)
			}
			if b.DNSNote() != "" {
				t.Errorf("note after the owner left: %q", b.DNSNote())
			}
			assertFile(t, a.resolvConf, resolvConfContent("corridor1", tunB.DNS, tunB.Domains), 0o644)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			assertFile(t, a.resolvConf, original, 0o644)
		})
	}
}

// A resolv.conf that another process's Router wrote, and whose journal is
// there, belongs to that process: it is neither captured as the original
// nor overwritten.
func TestResolvConfHeldByAnotherProcess(t *testing.T) {
	a, b := twoRouters(t, DNSResolvConf)
	if err := os.WriteFile(a.resolvConf, []byte("nameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(tunA); err != nil {
		t.Fatal(err)
	}
	// Forget the in-process owner, as if a lived in another process.
	releaseResolvConf(a.resolvConf, "corridor0")
	if err := b.Set(tunB); err != nil {
		t.Fatal(err)
	}
	if n := b.DNSNote(); !strings.Contains(n, "corridor0") {
		t.Errorf("note: %q", n)
	}
	assertFile(t, a.resolvConf, resolvConfContent("corridor0", tunA.DNS, tunA.Domains), 0o644)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, a.resolvConf, []byte("nameserver 192.0.2.53\n"), 0o644)
}

// With systemd-resolved, each tunnel's link gets its own servers and
// domains, and each undo forgets only its own link (fake runner: resolved
// does not run on the machines the tests run on).
func TestResolvedTwoTunnels(t *testing.T) {
	a, b := twoRouters(t, DNSResolved)
	if err := a.Set(tunA); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(tunB); err != nil {
		t.Fatal(err)
	}
	wantList(t, "corridor0", a.run.take(), []string{
		"ip -4 route add 10.77.0.0/16 dev corridor0",
		"resolvectl dns corridor0 10.0.0.53",
		"resolvectl domain corridor0 a.example",
		"resolvectl default-route corridor0 no",
	})
	wantList(t, "corridor1", b.run.take(), []string{
		"ip -4 route add 172.16.5.0/24 dev corridor1",
		"resolvectl dns corridor1 192.168.31.1",
		"resolvectl domain corridor1 b.example",
		"resolvectl default-route corridor1 no",
	})
	if a.DNSNote() != "" || b.DNSNote() != "" {
		t.Errorf("notes: %q %q", a.DNSNote(), b.DNSNote())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "corridor0 down", a.run.take(), []string{"resolvectl revert corridor0", "ip -4 route del 10.77.0.0/16 dev corridor0"})
	if got := b.run.take(); len(got) != 0 {
		t.Errorf("corridor1 touched by corridor0's down: %v", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "corridor1 down", b.run.take(), []string{"resolvectl revert corridor1", "ip -4 route del 172.16.5.0/24 dev corridor1"})
}

// When the owner goes, the next Set of a tunnel whose DNS was skipped
// takes resolv.conf over (journaling the original anew); its routes are
// left as they are.
func TestResolvConfTakenOver(t *testing.T) {
	a, b := twoRouters(t, DNSResolvConf)
	original := []byte("nameserver 192.0.2.53\n")
	if err := os.WriteFile(a.resolvConf, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(tunA); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(tunB); err != nil {
		t.Fatal(err)
	}
	b.run.take()
	// Nothing changes while the owner is there.
	if err := b.Set(tunB); err != nil {
		t.Fatal(err)
	}
	if b.DNSNote() == "" || len(b.run.take()) != 0 {
		t.Errorf("second Set with the owner there: note %q", b.DNSNote())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, a.resolvConf, original, 0o644)
	if err := b.Set(tunB); err != nil {
		t.Fatal(err)
	}
	if got := b.run.take(); len(got) != 0 {
		t.Errorf("takeover ran commands: %v", got)
	}
	if b.DNSNote() != "" {
		t.Errorf("note after the takeover: %q", b.DNSNote())
	}
	assertFile(t, a.resolvConf, resolvConfContent("corridor1", tunB.DNS, tunB.Domains), 0o644)
	wantList(t, "journal of corridor1", b.journalUndo(t, "corridor1"),
		[]string{"restore " + a.resolvConf, "ip -4 route del 172.16.5.0/24 dev corridor1"})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, a.resolvConf, original, 0o644)
}

// macOS, two split tunnels at once (fake runner: never run on a Mac). The
// kernel numbers the utun devices, so the tunnels are utun3 and utun4: each
// has its own dynamic-store DNS service, whose match domains scope its
// servers to its domains, its own routes and journal; closing either
// leaves the other's in force, and Recover after a crash undoes both.
func TestDarwinTwoTunnels(t *testing.T) {
	cfgA, cfgB := *tunA, *tunB
	cfgA.Interface, cfgB.Interface = "utun3", "utun4"
	for _, firstGoes := range []string{"utun3", "utun4"} {
		t.Run(firstGoes+" goes first", func(t *testing.T) {
			a := newTestRouter(t, darwinItems, nil)
			b := newTestRouter(t, darwinItems, nil, WithJournalDir(a.dir))
			b.dir = a.dir
			if err := a.Set(&cfgA); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(&cfgB); err != nil {
				t.Fatal(err)
			}
			wantList(t, "utun3", a.run.take(), []string{
				"route -n add -net 10.77.0.0/16 -interface utun3",
				"scutil <<EOF\nd.init\nd.add ServerAddresses * 10.0.0.53\nd.add SearchDomains * a.example\n" +
					"d.add SupplementalMatchDomains * a.example\nset State:/Network/Service/corridor-utun3/DNS\nquit\nEOF",
			})
			wantList(t, "utun4", b.run.take(), []string{
				"route -n add -net 172.16.5.0/24 -interface utun4",
				"scutil <<EOF\nd.init\nd.add ServerAddresses * 192.168.31.1\nd.add SearchDomains * b.example\n" +
					"d.add SupplementalMatchDomains * b.example\nset State:/Network/Service/corridor-utun4/DNS\nquit\nEOF",
			})
			first, second, keep := a, b, "utun4"
			if firstGoes == "utun4" {
				first, second, keep = b, a, "utun3"
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			for _, c := range first.run.take() {
				if !strings.Contains(c, firstGoes) {
					t.Errorf("closing %s ran %q", firstGoes, c)
				}
			}
			if got := second.run.take(); len(got) != 0 {
				t.Errorf("%s touched by the other's down: %q", keep, got)
			}
			if j := second.journal(t, keep); j == nil || len(j.Entries) != 2 {
				t.Errorf("journal of %s after the other's down: %+v", keep, j)
			}
			if err := second.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("Recover", func(t *testing.T) {
		a := newTestRouter(t, darwinItems, nil)
		b := newTestRouter(t, darwinItems, nil, WithJournalDir(a.dir))
		if err := a.Set(&cfgA); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(&cfgB); err != nil {
			t.Fatal(err)
		}
		run := &fakeRunner{}
		if err := Recover(WithRouterRunner(run), WithJournalDir(a.dir), WithResolvConf(a.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
			t.Fatal(err)
		}
		got := run.take()
		slices.Sort(got)
		wantList(t, "Recover", got, []string{
			"route -n delete -net 10.77.0.0/16 -interface utun3",
			"route -n delete -net 172.16.5.0/24 -interface utun4",
			"scutil <<EOF\nremove State:/Network/Service/corridor-utun3/DNS\nquit\nEOF",
			"scutil <<EOF\nremove State:/Network/Service/corridor-utun4/DNS\nquit\nEOF",
		})
	})
}
