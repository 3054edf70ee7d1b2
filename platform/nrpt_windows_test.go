package platform

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// wineNet is the winNet of TestNRPTRegistryWine: the registry and the DNS
// cache for real (ipHelper), the IP Helper calls of the adapters faked (no
// Wintun adapter under Wine).
type wineNet struct{ *fakeWinNet }

func (w wineNet) SetRegValues(key string, values []regValue) error {
	w.call("SetRegValues %s", key)
	return ipHelper{}.SetRegValues(key, values)
}

func (w wineNet) DeleteRegKey(key string) error {
	w.call("DeleteRegKey %s", key)
	return ipHelper{}.DeleteRegKey(key)
}

func (w wineNet) RegKeyExists(key string) (bool, error) { return ipHelper{}.RegKeyExists(key) }

func (w wineNet) FlushDNSCache() error {
	w.call("FlushDNSCache")
	return ipHelper{}.FlushDNSCache()
}

// TestNRPTRegistryWine runs the NRPT rules of two split tunnels against
// a real registry: the values and their types as the DNS Client reads
// them, one rule per tunnel, closing one leaving the other, and Recover
// after a crash, through the registry API (winNetRunner) and through
// reg.exe and ipconfig.exe as the journal spells them (Recover's own
// runner). It writes to HKEY_LOCAL_MACHINE, so it runs only when asked
// (CORRIDOR_WINE_REGISTRY=1): build/wine/wine-test.sh runs it under Wine in
// a prefix of its own. Never run on Windows.
func TestNRPTRegistryWine(t *testing.T) {
	if os.Getenv("CORRIDOR_WINE_REGISTRY") != "1" {
		t.Skip("writes NRPT rules into HKEY_LOCAL_MACHINE: runs only with CORRIDOR_WINE_REGISTRY=1 (build/wine/wine-test.sh, in a Wine prefix of its own)")
	}
	keyA, keyB := nrptRuleKey(nrptRuleID("corridor0", 0)), nrptRuleKey(nrptRuleID("corridor1", 0))
	exists := func(key string) bool {
		t.Helper()
		ok, err := ipHelper{}.RegKeyExists(key)
		if err != nil {
			t.Fatalf("RegKeyExists %s: %v", key, err)
		}
		return ok
	}
	for _, k := range []string{keyA, keyB} {
		if exists(k) {
			t.Fatalf("%s exists before the test", k)
		}
	}
	// Not t.TempDir: Go's RemoveAll of it fails under Wine 8 ("Invalid
	// function"), which would fail the test; the prefix goes anyway.
	tmp, err := os.MkdirTemp("", "corridor-nrpt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(tmp); err != nil {
			t.Logf("removing %s: %v", tmp, err)
		}
	})
	dir := filepath.Join(tmp, "journal")
	if err := secureJournalDir(dir); err != nil {
		t.Fatalf("secureJournalDir: %v", err)
	}
	n := wineNet{newNRPTFake()}
	// Not newTestRouter, whose t.TempDir fails the same way.
	mk := func() *router {
		return newRouter(windowsIPHelperItems, WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}}), WithJournalDir(dir),
			WithResolvConf(filepath.Join(tmp, "resolv.conf")), WithRouterLogger(testLogger(t)))
	}
	a, b := mk(), mk()
	if err := a.Set(&splitNet); err != nil {
		t.Fatalf("Set corridor0: %v", err)
	}
	if err := b.Set(&splitNet2); err != nil {
		t.Fatalf("Set corridor1: %v", err)
	}

	// The values, read back with their types.
	var k registry.Key
	k, err = registry.OpenKey(registry.LOCAL_MACHINE, keyA, registry.QUERY_VALUE)
	if err != nil {
		t.Fatalf("opening %s: %v", keyA, err)
	}
	for _, v := range nrptValues("corridor0", splitNet.DNS, nrptNames(splitNet.Domains)) {
		switch v.Kind {
		case regSZ:
			got, typ, err := k.GetStringValue(v.Name)
			if err != nil || typ != registry.SZ || got != v.Str {
				t.Errorf("%s: %q type %d err %v; want REG_SZ %q", v.Name, got, typ, err, v.Str)
			}
		case regMultiSZ:
			got, typ, err := k.GetStringsValue(v.Name)
			if err != nil || typ != registry.MULTI_SZ || !slices.Equal(got, v.Strs) {
				t.Errorf("%s: %q type %d err %v; want REG_MULTI_SZ %q", v.Name, got, typ, err, v.Strs)
			}
		case regDWORD:
			got, typ, err := k.GetIntegerValue(v.Name)
			if err != nil || typ != registry.DWORD || got != uint64(v.DWord) {
				t.Errorf("%s: %d type %d err %v; want REG_DWORD %d", v.Name, got, typ, err, v.DWord)
			}
		}
		t.Logf("HKLM\\%s: %v", keyA, v)
	}
	k.Close()
	if !exists(keyB) {
		t.Errorf("no rule %s for the second tunnel", keyB)
	}

	// Closing the first leaves the second's rule.
	if err := a.Close(); err != nil {
		t.Fatalf("Close corridor0: %v", err)
	}
	if exists(keyA) || !exists(keyB) {
		t.Errorf("after closing corridor0: rule A %v, rule B %v; want only B", exists(keyA), exists(keyB))
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close corridor1: %v", err)
	}
	if exists(keyB) {
		t.Errorf("%s left after Close", keyB)
	}

	// A crash with both up, then Recover through the registry API.
	crash := func() {
		t.Helper()
		a, b := mk(), mk()
		if err := a.Set(&splitNet); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(&splitNet2); err != nil {
			t.Fatal(err)
		}
		if !exists(keyA) || !exists(keyB) {
			t.Fatal("the rules were not written")
		}
	}
	crash()
	if err := Recover(WithRouterRunner(winNetRunner{n: n, next: &fakeRunner{}}), WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
		t.Errorf("Recover (winNetRunner): %v", err)
	}
	if exists(keyA) || exists(keyB) {
		t.Errorf("rules left after Recover (winNetRunner): A %v, B %v", exists(keyA), exists(keyB))
	}

	// And through the programs the journal names, as Recover runs them
	// (reg.exe and ipconfig.exe of this system; the netsh lines of the
	// adapters go to a fake: there is no adapter). Wine 8's ipconfig has
	// no /flushdns: its failure counts as nothing to undo (isGone).
	crash()
	if err := secureJournalDir(dir); err != nil {
		t.Fatalf("secureJournalDir: %v", err)
	}
	progs := progRunner{progs: []string{"reg", "ipconfig"}, next: &fakeRunner{}}
	err = Recover(WithRouterRunner(&progs), WithJournalDir(dir), WithRouterLogger(testLogger(t)))
	t.Logf("Recover through reg.exe and ipconfig.exe: %v; ran %q", err, progs.ran)
	if exists(keyA) || exists(keyB) {
		t.Errorf("rules left after Recover through reg.exe: A %v, B %v", exists(keyA), exists(keyB))
	}
	if err != nil {
		t.Errorf("Recover through reg.exe: %v", err)
	}
	// A rule already gone: reg.exe's failure reads as gone.
	_, err = ExecRunner{}.Run(cmd("reg", "delete", nrptHKLM+keyA, "/f"))
	t.Logf("reg delete of a missing key: %v", err)
	var ce *CommandError
	if !errors.As(err, &ce) || !isGone(err) {
		t.Errorf("reg delete of a missing key: %v; want a failure isGone reads as gone", err)
	}
	if _, err := os.Stat(dir); err == nil {
		if des, _ := os.ReadDir(dir); len(des) > 0 {
			t.Errorf("journals left: %v", des)
		}
	}
}

// progRunner runs the programs named for real and the rest through next.
type progRunner struct {
	progs []string
	next  Runner
	ran   []string
}

func (p *progRunner) Run(c Command) ([]byte, error) {
	if len(c.Args) > 0 && slices.Contains(p.progs, c.Args[0]) {
		p.ran = append(p.ran, c.String())
		return ExecRunner{}.Run(c)
	}
	return p.next.Run(c)
}
