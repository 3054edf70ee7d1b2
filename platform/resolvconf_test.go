package platform

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// assertFile checks that path is a regular file holding data with mode.
func assertFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", path, fi.Mode())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != mode {
		t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%s holds\n%q\nwant\n%q", path, got, data)
	}
}

var resolvConfCfg = &NetConfig{Interface: "corridor0", Routes: splitRoutes[:1],
	DNS: []netip.Addr{dnsA, dnsB}, Domains: []string{"corp.example", "lab.example"}}

const wantResolvConf = "# written by Corridor for corridor0; the original is restored on disconnect\n" +
	"nameserver 10.0.0.53\n" +
	"nameserver 10.0.0.54\n" +
	"search corp.example lab.example\n"

func TestResolvConfRegularFile(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSResolvConf))
	// Odd bytes (no final newline, CRLF, a comment) and mode must survive.
	original := []byte("# from DHCP\r\nnameserver 192.0.2.53\noptions edns0 trust-ad")
	if err := os.WriteFile(tr.resolvConf, original, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tr.resolvConf, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := tr.Set(resolvConfCfg); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, []byte(wantResolvConf), 0o640)
	wantList(t, "journal", tr.journalUndo(t, "corridor0"), []string{"restore " + tr.resolvConf, "ip -4 route del 10.77.0.0/16 dev corridor0"})

	// New servers: the original comes back, then the new file is written.
	cfg2 := *resolvConfCfg
	cfg2.DNS = []netip.Addr{dnsB}
	cfg2.Domains = nil
	if err := tr.Set(&cfg2); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, []byte("# written by Corridor for corridor0; the original is restored on disconnect\nnameserver 10.0.0.54\n"), 0o640)
	if r := tr.journal(t, "corridor0").Entries[1].Restore; r == nil || !bytes.Equal(r.Data, original) {
		t.Errorf("backup after the change of servers: %+v", r)
	}

	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, original, 0o640)
	des, _ := os.ReadDir(filepath.Dir(tr.resolvConf))
	for _, de := range des {
		if de.Name() != "resolv.conf" && de.Name() != "journal" {
			t.Errorf("left behind: %s", de.Name())
		}
	}
}

func TestResolvConfSymlink(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSResolvConf))
	dir := filepath.Dir(tr.resolvConf)
	target := filepath.Join(dir, "stub-resolv.conf")
	stub := []byte("nameserver 127.0.0.53\n")
	os.WriteFile(target, stub, 0o644)
	if err := os.Symlink("stub-resolv.conf", tr.resolvConf); err != nil {
		t.Skipf("symlink: %v", err)
	}
	if err := tr.Set(resolvConfCfg); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, []byte(wantResolvConf), 0o644)
	assertFile(t, target, stub, 0o644) // the link was replaced, not its target
	if r := tr.journal(t, "corridor0").Entries[1].Restore; r == nil || r.Symlink != "stub-resolv.conf" || r.Data != nil {
		t.Errorf("backup: %+v", r)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(tr.resolvConf); err != nil || got != "stub-resolv.conf" {
		t.Errorf("after Close: link %q, %v; want stub-resolv.conf", got, err)
	}
	assertFile(t, target, stub, 0o644)
}

func TestResolvConfMissing(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSResolvConf))
	if err := tr.Set(resolvConfCfg); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, []byte(wantResolvConf), 0o644)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tr.resolvConf); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close: %v, want no file as before", err)
	}
}

func TestResolvConfReplacedBySomeoneElse(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSResolvConf))
	os.WriteFile(tr.resolvConf, []byte("nameserver 192.0.2.53\n"), 0o644)
	if err := tr.Set(resolvConfCfg); err != nil {
		t.Fatal(err)
	}
	// A DHCP client renews its lease meanwhile and writes its own file.
	renewed := []byte("nameserver 192.0.2.99\n")
	os.WriteFile(tr.resolvConf, renewed, 0o644)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	assertFile(t, tr.resolvConf, renewed, 0o644)
	if j := tr.journal(t, "corridor0"); j != nil {
		t.Errorf("journal left: %+v", j)
	}
}

func TestResolvConfNotAFile(t *testing.T) {
	tr := newTestRouter(t, linuxItems, nil, WithDNSBackend(DNSResolvConf))
	if err := os.Mkdir(tr.resolvConf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tr.Set(resolvConfCfg); err == nil {
		t.Fatal("Set succeeded over a directory")
	}
	// The route before it stays, journaled; Close removes it.
	wantList(t, "journal", journalKeys(tr.journal(t, "corridor0")), []string{"route 10.77.0.0/16"})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}
