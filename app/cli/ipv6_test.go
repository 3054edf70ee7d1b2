package cli

import (
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/zalando/go-keyring"
)

// profile add --ipv6 saves ipv6 = true; edit --ipv6=false turns it off;
// a proxy-mode profile refuses it with the field's words; IPv6 DNS
// servers are taken with it.
func TestProfileIPv6Flag(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	code, _, errs := run(t, "pw\n", "profile", "add", "office", "--server", "vpn.example.com", "--user", "alice",
		"--no-ipsec", "--full-tunnel", "--ipv6", "--dns", "10.0.0.53,2001:db8::53", "--password-file", "-")
	if code != ExitOK {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	_, out, _ := run(t, "", "profile", "show", "office")
	if !strings.Contains(out, "\nipv6 = true\n") || !strings.Contains(out, `dns_servers = ["10.0.0.53", "2001:db8::53"]`) {
		t.Errorf("show after add --ipv6:\n%s", out)
	}
	dir, err := configDir()
	if err != nil {
		t.Fatal(err)
	}
	store, err := profile.OpenStore(dir, profile.NewKeyring())
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.Get("office")
	if err != nil || !p.IPv6 {
		t.Fatalf("stored profile: ipv6 %v, %v", p.IPv6, err)
	}
	cfg, err := core.ConnectConfigFor(p, map[profile.SecretKind]string{profile.SecretPassword: "pw"})
	if err != nil || !cfg.IPv6 {
		t.Errorf("ConnectConfigFor: IPv6 %v, %v", cfg.IPv6, err)
	}

	// IPv6 DNS servers need IPv6 inside the tunnel.
	code, _, errs = run(t, "", "profile", "edit", "office", "--ipv6=false")
	if code != ExitUsage || !strings.Contains(errs, "2001:db8::53") || !strings.Contains(errs, "ipv6") {
		t.Errorf("edit --ipv6=false with an IPv6 DNS server: exit %d, %q", code, errs)
	}
	if code, _, errs = run(t, "", "profile", "edit", "office", "--ipv6=false", "--dns", "server"); code != ExitOK {
		t.Fatalf("edit --ipv6=false --dns server: exit %d: %s", code, errs)
	}
	_, out, _ = run(t, "", "profile", "show", "office")
	if !strings.Contains(out, "\nipv6 = false\n") {
		t.Errorf("show after --ipv6=false:\n%s", out)
	}
	code, _, errs = run(t, "", "profile", "edit", "office", "--ipv6", "--proxy", "1080")
	if code != ExitUsage || !strings.Contains(errs, "IPv6 inside the tunnel needs TUN mode") {
		t.Errorf("edit --ipv6 --proxy: exit %d, %q", code, errs)
	}
}

// status shows the device's IPv6 addresses and the IPv6 part of the
// counters when there is one.
func TestStatusIPv6(t *testing.T) {
	st := core.Status{Profile: "office", State: core.StateConnected, Interface: "corridor0", Server: "203.0.113.5",
		Address: "192.168.30.10", IPv6: []string{"2001:db8:1::5/64"},
		Stats: core.Stats{RxBytes: 5000, TxBytes: 3000, RxBytes6: 1200, TxBytes6: 800, RxPackets6: 3, TxPackets6: 2}}
	code, out, errs := run(t, "", "status", "--socket", serveStatus(t, []core.Status{st}))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "192.168.30.10 and 2001:db8:1::5/64 on corridor0") || !strings.Contains(out, "of which IPv6 in 1200 B, out 800 B") {
		t.Errorf("status:\n%s", out)
	}
	st.IPv6, st.Stats = nil, core.Stats{RxBytes: 5000}
	_, out, _ = run(t, "", "status", "--socket", serveStatus(t, []core.Status{st}))
	if strings.Contains(out, "IPv6") || strings.Contains(out, " and ") {
		t.Errorf("status without IPv6:\n%s", out)
	}
}

// status puts a connected tunnel's DNS note (its DNS is not in use) on a
// line of its own; --json has it as dns_note.
func TestStatusDNSNote(t *testing.T) {
	note := `DNS for profile "office" is not in use: profile "lab" holds resolv.conf`
	st := core.Status{Profile: "office", State: core.StateConnected, Interface: "corridor1", Server: "203.0.113.5",
		Address: "192.168.31.10", DNS: []string{"192.168.31.1"}, DNSNote: note}
	sock := serveStatus(t, []core.Status{st})
	code, out, errs := run(t, "", "status", "--socket", sock)
	if code != ExitOK || !strings.Contains(out, "\n  note: "+note+"\n") {
		t.Errorf("status: exit %d %s\n%s", code, errs, out)
	}
	_, out, _ = run(t, "", "status", "--json", "--socket", sock)
	if !strings.Contains(out, `"dns_note": "DNS for profile \"office\" is not in use`) {
		t.Errorf("status --json:\n%s", out)
	}
	st.DNSNote = ""
	_, out, _ = run(t, "", "status", "--socket", serveStatus(t, []core.Status{st}))
	if strings.Contains(out, "note:") {
		t.Errorf("status without a note:\n%s", out)
	}
}
