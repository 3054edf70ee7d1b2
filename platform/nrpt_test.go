package platform

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The registry of fakeWinNet: keys under HKLM and their values.

func (f *fakeWinNet) SetRegValues(key string, values []regValue) error {
	if err := f.call("SetRegValues %s", key); err != nil {
		return err
	}
	f.reg[key] = slices.Clone(values)
	return nil
}

func (f *fakeWinNet) DeleteRegKey(key string) error {
	if err := f.call("DeleteRegKey %s", key); err != nil {
		return err
	}
	if _, ok := f.reg[key]; !ok {
		return errFileNotFound
	}
	delete(f.reg, key)
	return nil
}

// RegKeyExists is a query: not recorded among the calls.
func (f *fakeWinNet) RegKeyExists(key string) (bool, error) {
	_, ok := f.reg[key]
	return ok, nil
}

func (f *fakeWinNet) FlushDNSCache() error { return f.call("FlushDNSCache") }

// ruleKeys lists the NRPT rules in the fake registry.
func (f *fakeWinNet) ruleKeys() []string {
	var keys []string
	for k := range f.reg {
		if strings.HasPrefix(k, nrptLocalBase+`\`) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

var (
	corpDNS  = []netip.Addr{dnsA, netip.MustParseAddr("10.0.0.54")}
	splitNet = NetConfig{Interface: "corridor0", Local: localAddr, Server: server, Routes: splitRoutes[:1],
		DNS: corpDNS, Domains: []string{"corp.example", "ad.corp.example"}}
	splitNet2 = NetConfig{Interface: "corridor1", Local: netip.MustParseAddr("192.168.31.10"), Server: netip.MustParseAddr("198.51.100.9"),
		Routes: splitRoutes[1:], DNS: []netip.Addr{netip.MustParseAddr("192.168.31.1")}, Domains: []string{"b.example"}}
)

// newNRPTFake is a fakeWinNet with the adapters corridor0 and corridor1.
func newNRPTFake() *fakeWinNet {
	n := newFakeWinNet()
	n.aliases["corridor0"], n.aliases["corridor1"] = 0x30, 0x31
	return n
}

// newNRPTRouter is the Windows Router over n, with a journal directory of
// its own unless dir is given.
func newNRPTRouter(t *testing.T, n *fakeWinNet, dir string, opts ...RouterOption) *testRouter {
	t.Helper()
	if dir != "" {
		opts = append(opts, WithJournalDir(dir))
	}
	tr := newTestRouter(t, windowsIPHelperItems, nil, append([]RouterOption{WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}})}, opts...)...)
	if dir != "" {
		tr.dir = dir
	}
	return tr
}

func TestNRPTRuleID(t *testing.T) {
	a, b := nrptRuleID("corridor0", 0), nrptRuleID("corridor1", 0)
	if a != nrptRuleID("corridor0", 0) {
		t.Errorf("not the same on a second call: %s", a)
	}
	if a == b || a == nrptRuleID("corridor0", 1) {
		t.Errorf("the same GUID for two adapters or parts: %s %s %s", a, b, nrptRuleID("corridor0", 1))
	}
	for _, id := range []string{a, b, nrptRuleID("Bob (2)", 3)} {
		if !nrptRuleIDOK(id) {
			t.Errorf("nrptRuleIDOK(%q) = false", id)
		}
	}
	for _, bad := range []string{
		strings.ToUpper(a), strings.Trim(a, "{}"), a[:15] + "4" + a[16:], a[:20] + "c" + a[21:],
		"{5abe529b-675b-4486-8459-25a634dacc23}", "", "{}", a + "x", strings.Replace(a, "-", "_", 1),
	} {
		if nrptRuleIDOK(bad) {
			t.Errorf("nrptRuleIDOK(%q) = true", bad)
		}
	}
}

// TestNRPTSplitTunnel: a split tunnel with domains gets an NRPT rule for
// its domains (the registry values of [MS-GPNRPT] 2.2.2) and a DNS cache
// flush; its adapter keeps the search domains but no servers. The undo is
// journaled as reg.exe and ipconfig lines that Recover accepts; Close
// deletes the rule, flushes, and leaves the registry as it was.
func TestNRPTSplitTunnel(t *testing.T) {
	n := newNRPTFake()
	tr := newNRPTRouter(t, n, "")
	if err := tr.Set(&splitNet); err != nil {
		t.Fatal(err)
	}
	id := nrptRuleID("corridor0", 0)
	key := nrptLocalBase + `\` + id
	wantList(t, "Set", n.take(), []string{
		"AddRoute 0x30 10.77.0.0/16 via invalid IP metric 0",
		`SetDNS 0x30 [] ["corp.example" "ad.corp.example"]`,
		"SetRegValues " + key,
		"FlushDNSCache",
	})
	want := []regValue{
		{Name: "Version", Kind: regDWORD, DWord: 1},
		{Name: "Name", Kind: regMultiSZ, Strs: []string{"corp.example", ".corp.example", "ad.corp.example", ".ad.corp.example"}},
		{Name: "GenericDNSServers", Kind: regSZ, Str: "10.0.0.53;10.0.0.54"},
		{Name: "ConfigOptions", Kind: regDWORD, DWord: 8},
		{Name: "IPSECCARestriction", Kind: regSZ},
		{Name: "DisplayName", Kind: regSZ, Str: "Corridor corridor0"},
		{Name: "Comment", Kind: regSZ, Str: "Corridor VPN: these names go to the DNS servers of the tunnel on corridor0; removed when it disconnects"},
	}
	if got := n.reg[key]; !reflect.DeepEqual(got, want) {
		t.Errorf("rule values:\n got  %v\n want %v", got, want)
	}
	wantList(t, "journal undo", tr.journalUndo(t, "corridor0"), []string{
		`reg delete HKLM\` + key + ` /f`,
		"ipconfig /flushdns",
		"netsh interface ipv4 set dnsservers name=corridor0 source=dhcp",
		"netsh interface ipv4 delete route prefix=10.77.0.0/16 interface=corridor0 store=active",
	})
	for _, e := range tr.journal(t, "corridor0").Entries {
		for _, c := range e.Undo {
			if err := checkUndoCommand(c); err != nil {
				t.Errorf("journal entry %q: %v", e.Key, err)
			}
		}
	}
	if err := tr.Set(&splitNet); err != nil {
		t.Fatal(err)
	}
	wantList(t, "second Set", n.take(), nil)

	// Another domain: the rule is replaced, nothing else changes but the
	// adapter's search list.
	more := splitNet
	more.Domains = append(slices.Clone(splitNet.Domains), "corp.test")
	if err := tr.Set(&more); err != nil {
		t.Fatal(err)
	}
	wantList(t, "domains changed", n.take(), []string{
		"DeleteRegKey " + key, "FlushDNSCache",
		"SetDNS 0x30 [] []",
		`SetDNS 0x30 [] ["corp.example" "ad.corp.example" "corp.test"]`,
		"SetRegValues " + key, "FlushDNSCache",
	})

	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Close", n.take(), []string{
		"DeleteRegKey " + key, "FlushDNSCache",
		"SetDNS 0x30 [] []",
		"DeleteRoute 0x30 10.77.0.0/16 via invalid IP",
	})
	if len(n.reg) != 0 {
		t.Errorf("registry after Close: %v", n.reg)
	}
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left: %+v", j)
	}
}

// TestNRPTFullTunnelCatchAll: a full tunnel with DNS servers keeps the
// adapter's servers and search domains and gets one rule for the
// namespace "." (every name) with its servers, so that Windows' smart
// multi-homed resolution cannot ask the LAN's server; the rule goes with
// Close and with a Set that drops the full tunnel's DNS.
func TestNRPTFullTunnelCatchAll(t *testing.T) {
	full := splitNet
	full.FullTunnel, full.Routes, full.Server = true, nil, serverLAN
	n := newNRPTFake()
	tr := newTestRouter(t, windowsIPHelperItems, nil, WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{outputs: map[string]string{winFind("192.0.2.7"): winGetDirect}}}))
	if err := tr.Set(&full); err != nil {
		t.Fatal(err)
	}
	calls := n.take()
	if want := `SetDNS 0x30 [10.0.0.53 10.0.0.54] ["corp.example" "ad.corp.example"]`; !slices.Contains(calls, want) {
		t.Errorf("calls %q lack %q", calls, want)
	}
	key := nrptLocalBase + `\` + nrptRuleID("corridor0", 0)
	if !slices.Contains(calls, "SetRegValues "+key) || !slices.Contains(calls, "FlushDNSCache") {
		t.Errorf("calls %q lack the rule %s and the flush", calls, key)
	}
	if keys := n.ruleKeys(); len(keys) != 1 {
		t.Fatalf("rules %q, want one", keys)
	}
	vals := map[string]regValue{}
	for _, v := range n.reg[key] {
		vals[v.Name] = v
	}
	if got := vals["Name"].Strs; !slices.Equal(got, []string{"."}) {
		t.Errorf("Name %q, want [.]", got)
	}
	if got := vals["GenericDNSServers"].Str; got != "10.0.0.53;10.0.0.54" {
		t.Errorf("GenericDNSServers %q", got)
	}
	if got := vals["ConfigOptions"].DWord; got != nrptGenericDNSServers {
		t.Errorf("ConfigOptions %d", got)
	}
	for _, e := range tr.journal(t, "corridor0").Entries {
		for _, c := range e.Undo {
			if err := checkUndoCommand(c); err != nil {
				t.Errorf("journal entry %q: %v", e.Key, err)
			}
		}
	}
	// The same tunnel without DNS servers: the rule goes.
	noDNS := full
	noDNS.DNS, noDNS.Domains = nil, nil
	if err := tr.Set(&noDNS); err != nil {
		t.Fatal(err)
	}
	if len(n.reg) != 0 {
		t.Errorf("registry after DNS dropped: %v", n.reg)
	}
	if err := tr.Set(&full); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if len(n.reg) != 0 {
		t.Errorf("registry after Close: %v", n.reg)
	}
}

// TestNRPTNotForDomainless: a split tunnel without domains keeps the
// adapter's servers (as before) and gets no rule.
func TestNRPTNotForDomainless(t *testing.T) {
	noDomains := splitNet
	noDomains.Domains = nil
	for _, tc := range []struct {
		name    string
		cfg     NetConfig
		wantDNS string
	}{
		{"split tunnel without domains", noDomains, `SetDNS 0x30 [10.0.0.53 10.0.0.54] []`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNRPTFake()
			tr := newTestRouter(t, windowsIPHelperItems, nil, WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{outputs: map[string]string{winFind("192.0.2.7"): winGetDirect}}}))
			if err := tr.Set(&tc.cfg); err != nil {
				t.Fatal(err)
			}
			calls := n.take()
			if !slices.Contains(calls, tc.wantDNS) {
				t.Errorf("calls %q lack %q", calls, tc.wantDNS)
			}
			for _, c := range calls {
				if strings.Contains(c, "Reg") || strings.Contains(c, "Flush") {
					t.Errorf("registry or cache touched: %q", c)
				}
			}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			if len(n.reg) != 0 {
				t.Errorf("registry: %v", n.reg)
			}
		})
	}
}

// TestNRPTManyDomains: more than 25 domains (50 names) take several rules,
// each of at most 50 names, all undone.
func TestNRPTManyDomains(t *testing.T) {
	cfg := splitNet
	cfg.Domains = nil
	for i := range 30 {
		cfg.Domains = append(cfg.Domains, fmt.Sprintf("d%02d.example", i))
	}
	n := newNRPTFake()
	tr := newNRPTRouter(t, n, "")
	if err := tr.Set(&cfg); err != nil {
		t.Fatal(err)
	}
	keys := n.ruleKeys()
	want := []string{nrptLocalBase + `\` + nrptRuleID("corridor0", 0), nrptLocalBase + `\` + nrptRuleID("corridor0", 1)}
	slices.Sort(want)
	wantList(t, "rules", keys, want)
	var names []string
	for _, k := range keys {
		for _, v := range n.reg[k] {
			if v.Name == "Name" {
				if len(v.Strs) > nrptMaxNames {
					t.Errorf("%s: %d names", k, len(v.Strs))
				}
				names = append(names, v.Strs...)
			}
		}
	}
	if len(names) != 60 || !slices.Contains(names, ".d29.example") || !slices.Contains(names, "d00.example") {
		t.Errorf("names of the rules (%d): %q", len(names), names)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if len(n.reg) != 0 {
		t.Errorf("registry after Close: %v", n.reg)
	}
}

// TestNRPTTwoTunnels: two split tunnels at once, as the helper's sessions
// run them (one journal directory, one machine): each has its own rule
// and journal, and closing either leaves the other's rule, adapter DNS and
// routes in force.
func TestNRPTTwoTunnels(t *testing.T) {
	for _, firstGoes := range []string{"corridor0", "corridor1"} {
		t.Run(firstGoes+" goes first", func(t *testing.T) {
			n := newNRPTFake()
			a := newNRPTRouter(t, n, "")
			b := newNRPTRouter(t, n, a.dir)
			if err := a.Set(&splitNet); err != nil {
				t.Fatal(err)
			}
			if err := b.Set(&splitNet2); err != nil {
				t.Fatal(err)
			}
			keyA, keyB := nrptLocalBase+`\`+nrptRuleID("corridor0", 0), nrptLocalBase+`\`+nrptRuleID("corridor1", 0)
			wantList(t, "rules", n.ruleKeys(), sorted(keyA, keyB))
			wantList(t, "journal of corridor1", b.journalUndo(t, "corridor1"), []string{
				`reg delete HKLM\` + keyB + ` /f`,
				"ipconfig /flushdns",
				"netsh interface ipv4 set dnsservers name=corridor1 source=dhcp",
				"netsh interface ipv4 delete route prefix=172.16.5.0/24 interface=corridor1 store=active",
			})
			n.take()
			first, second, keep, keepIface := a, b, keyB, "corridor1"
			if firstGoes == "corridor1" {
				first, second, keep, keepIface = b, a, keyA, "corridor0"
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			for _, c := range n.take() {
				if strings.Contains(c, keep) || strings.Contains(c, fmt.Sprintf("%#x", n.aliases[keepIface])) {
					t.Errorf("closing %s touched the other tunnel: %q", firstGoes, c)
				}
			}
			wantList(t, "rules left", n.ruleKeys(), []string{keep})
			if second.journal(t, keepIface) == nil {
				t.Errorf("the journal of %s went with the other tunnel", keepIface)
			}
			if err := second.Close(); err != nil {
				t.Fatal(err)
			}
			if len(n.reg) != 0 {
				t.Errorf("registry after both closed: %v", n.reg)
			}
		})
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestNRPTRecover: the helper dies with two split tunnels up (Wintun takes
// the adapters with it; the NRPT rules stay, in the registry, across a
// reboot too). Recover replays both journals: through the registry API
// when the Router's runner is winNetRunner, and as reg.exe and ipconfig
// lines otherwise (Recover's own runner on Windows), where reg.exe saying
// the key is gone counts as undone.
func TestNRPTRecover(t *testing.T) {
	crash := func(t *testing.T) (dir string) {
		n := newNRPTFake()
		a := newNRPTRouter(t, n, "")
		b := newNRPTRouter(t, n, a.dir)
		if err := a.Set(&splitNet); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(&splitNet2); err != nil {
			t.Fatal(err)
		}
		return a.dir
	}
	keyA, keyB := nrptLocalBase+`\`+nrptRuleID("corridor0", 0), nrptLocalBase+`\`+nrptRuleID("corridor1", 0)

	t.Run("winNetRunner", func(t *testing.T) {
		dir := crash(t)
		n := newNRPTFake()
		n.reg[keyA], n.reg[keyB] = nil, nil // the rules outlived the process
		delete(n.aliases, "corridor0")      // the adapters did not
		delete(n.aliases, "corridor1")
		if err := Recover(WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}}), WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		calls := n.take()
		for _, k := range []string{keyA, keyB} {
			if !slices.Contains(calls, "DeleteRegKey "+k) {
				t.Errorf("Recover did not delete %s: %q", k, calls)
			}
		}
		if len(n.reg) != 0 {
			t.Errorf("registry after Recover: %v", n.reg)
		}
	})
	t.Run("reg.exe", func(t *testing.T) {
		dir := crash(t)
		gone := &CommandError{Args: []string{"reg"}, ExitCode: 1, Output: "ERROR: The system was unable to find the specified registry key or value."}
		// And a cache that cannot be flushed (the DNS Client stopped; Wine's
		// ipconfig has no /flushdns) does not keep the journal.
		noFlush := &CommandError{Args: []string{"ipconfig", "/flushdns"}, ExitCode: 1, Output: "Could not flush the DNS Resolver Cache: Function failed during execution."}
		run := &fakeRunner{fail: map[string]error{`reg delete HKLM\` + keyB: gone, "ipconfig": noFlush}}
		if err := Recover(WithRouterRunner(run), WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		got := run.take()
		for _, want := range []string{`reg delete HKLM\` + keyA + ` /f`, `reg delete HKLM\` + keyB + ` /f`, "ipconfig /flushdns"} {
			if !slices.Contains(got, want) {
				t.Errorf("Recover ran %q, not %q", got, want)
			}
		}
		if des, err := os.ReadDir(dir); err == nil && len(des) != 0 {
			t.Errorf("journals left: %v", des)
		}
	})
}

// TestNRPTGroupPolicyWarning: with Group Policy's NRPT in the registry,
// the rule is still written, and the Router warns that Windows may not
// use it.
func TestNRPTGroupPolicyWarning(t *testing.T) {
	var buf bytes.Buffer
	n := newNRPTFake()
	n.reg[nrptGPBase] = nil
	tr := newNRPTRouter(t, n, "", WithRouterLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err := tr.Set(&splitNet); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Group Policy sets this machine's NRPT rules") {
		t.Errorf("no warning in the log:\n%s", buf.String())
	}
	if len(n.ruleKeys()) != 1 {
		t.Errorf("rules: %q", n.ruleKeys())
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	delete(n.reg, nrptGPBase)
	if err := tr.Set(&splitNet); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "Group Policy") {
		t.Errorf("a warning without Group Policy:\n%s", buf.String())
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestNRPTCommands: what winNetRunner takes for its own, and what the
// journal's checks accept; anything else is run as it is or refused.
func TestNRPTCommands(t *testing.T) {
	id := nrptRuleID("corridor0", 0)
	regDel := []string{"reg", "delete", `HKLM\` + nrptLocalBase + `\` + id, "/f"}
	if !nrptUndoOK(regDel) || !nrptUndoOK([]string{"ipconfig", "/flushdns"}) {
		t.Fatal("the undo lines are refused")
	}
	for _, bad := range [][]string{
		{"reg", "delete", `HKLM\SYSTEM\CurrentControlSet\Services\Dnscache`, "/f"},
		{"reg", "delete", `HKLM\` + nrptLocalBase, "/f"},
		{"reg", "delete", `HKLM\` + nrptLocalBase + `\` + id + `\x`, "/f"},
		{"reg", "delete", `HKLM\` + nrptGPBase + `\` + id, "/f"},
		{"reg", "delete", `HKLM\` + nrptLocalBase + `\` + id},
		{"reg", "add", `HKLM\` + nrptLocalBase + `\` + id, "/f"},
		{"reg", "delete", `HKCU\` + nrptLocalBase + `\` + id, "/f"},
		{"ipconfig", "/release"},
		{"ipconfig", "/flushdns", "x"},
	} {
		if nrptUndoOK(bad) {
			t.Errorf("nrptUndoOK(%q) = true", bad)
		}
		if err := checkUndoCommand(Command{Args: bad}); err == nil {
			t.Errorf("checkUndoCommand(%q) accepted it", bad)
		}
		if _, ok, _ := parseWinNetCommand(Command{Args: bad}); ok {
			t.Errorf("winNetRunner takes %q for its own", bad)
		}
	}
	if err := checkUndoCommand(Command{Args: regDel, Stdin: "x"}); err == nil {
		t.Error("an undo with stdin accepted")
	}
	op, ok, err := parseWinNetCommand(Command{Args: []string{"winipcfg", "set-nrpt", "rule=" + id, "interface=Bob (2)", "servers=10.0.0.53,fd00::53", "domains=corp.example"}})
	if err != nil || !ok || op.kind != "set-nrpt" || op.regKey != nrptLocalBase+`\`+id || op.alias != "Bob (2)" ||
		len(op.servers) != 2 || !slices.Equal(op.domains, []string{"corp.example"}) {
		t.Errorf("set-nrpt: %+v %v %v", op, ok, err)
	}
	for _, bad := range [][]string{
		{"winipcfg", "set-nrpt", "rule={x}", "interface=a", "servers=10.0.0.53", "domains=corp.example"},
		{"winipcfg", "set-nrpt", "rule=" + id, "interface=a", "servers=", "domains=corp.example"},
		{"winipcfg", "set-nrpt", "rule=" + id, "interface=a", "servers=10.0.0.53", "domains="},
		{"winipcfg", "set-nrpt", "rule=" + id, "interface=a", "servers=10.0.0.53", "domains=a b"},
		{"winipcfg", "set-nrpt", "rule=" + id, "interface=a", "servers=nope", "domains=corp.example"},
		{"winipcfg", "set-nrpt", "rule=" + id, "interface=a/b", "servers=10.0.0.53", "domains=corp.example"},
		{"winipcfg", "set-nrpt", "rule=" + id, "servers=10.0.0.53", "domains=corp.example"},
		{"winipcfg", "frobnicate"},
	} {
		if _, ok, err := parseWinNetCommand(Command{Args: bad}); ok || err == nil {
			t.Errorf("%q: ok %v, err %v; want an error", bad, ok, err)
		}
	}
	// Search domains without servers: the adapter of a scoped tunnel.
	op, ok, err = parseWinNetCommand(Command{Args: []string{"winipcfg", "set-dns", "interface=corridor0", "servers=", "domains=corp.example"}})
	if err != nil || !ok || len(op.servers) != 0 || !slices.Equal(op.domains, []string{"corp.example"}) {
		t.Errorf("set-dns without servers: %+v %v %v", op, ok, err)
	}
	if _, ok, err := parseWinNetCommand(Command{Args: []string{"winipcfg", "set-dns", "interface=corridor0", "servers=", "domains="}}); ok || err == nil {
		t.Errorf("set-dns with neither servers nor domains: ok %v, err %v", ok, err)
	}
	// A failed delete of a missing key reads as gone, in reg.exe's words.
	err = winNetCommandError(Command{Args: regDel}, errFileNotFound)
	if !isGone(err) {
		t.Errorf("isGone(%v) = false", err)
	}
}
