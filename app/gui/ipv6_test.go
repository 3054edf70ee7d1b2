package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// The editor's IPv6 checkbox: off for a profile without it, with its
// hint; ticked and saved as ipv6 = true; an IPv6 DNS server is refused
// under the field without it and taken with it; disabled (and not
// saved) in proxy mode.
func TestEditorIPv6(t *testing.T) {
	h := newHarness(t, newBackendWith("office"))
	e := h.edit("office")
	if e.ipv6.Checked || e.ipv6.Disabled() || e.ipv6.Text != "Use IPv6 inside the tunnel" {
		t.Fatalf("IPv6 checkbox %q: ticked %v, disabled %v", e.ipv6.Text, e.ipv6.Checked, e.ipv6.Disabled())
	}
	if !strings.Contains(e.ipv6Hint.Text, "SoftEther") || !strings.Contains(e.ipv6Hint.Text, "blocked") {
		t.Errorf("hint %q", e.ipv6Hint.Text)
	}

	e.dns.SetSelected(dnsChoices[2])
	test.Type(e.dnsServers, "10.0.0.53, 2001:db8::53")
	if m := shown(e, "dns_servers"); !strings.Contains(m, "ipv6 = true") && !strings.Contains(m, "IPv6") {
		t.Errorf("IPv6 DNS server without IPv6: message %q", m)
	}
	if !e.save.Disabled() {
		t.Error("Save enabled with an IPv6 DNS server and IPv6 off")
	}
	test.Tap(e.ipv6)
	if m := shown(e, "dns_servers"); m != "" || e.save.Disabled() {
		t.Fatalf("IPv6 on: message %q, save disabled %v: %v", m, e.save.Disabled(), visibleMessages(e))
	}
	test.Tap(e.save)
	h.settle()
	saves := h.b.Saves()
	if len(saves) != 1 || !saves[0].Profile.IPv6 || strings.Join(saves[0].Profile.DNSServers, ",") != "10.0.0.53,2001:db8::53" {
		t.Fatalf("saves %+v, want ipv6 on with both DNS servers", saves)
	}

	e = h.edit("office")
	if !e.ipv6.Checked {
		t.Fatal("the saved IPv6 setting is not ticked when editing again")
	}
	e.dns.SetSelected(dnsChoices[0])
	test.Tap(e.proxyMode)
	if !e.ipv6.Disabled() {
		t.Error("IPv6 offered in proxy mode")
	}
	test.Tap(e.save)
	h.settle()
	if saves := h.b.Saves(); len(saves) != 2 || saves[1].Profile.IPv6 || !saves[1].Profile.IsProxy() {
		t.Errorf("proxy mode saved %+v, want ipv6 off", saves[len(saves)-1].Profile)
	}
}

// The detail view: an idle profile with IPv6 says so; a connected
// session shows its IPv6 addresses and the IPv6 share of the counters,
// and nothing of the kind without them.
func TestDetailIPv6(t *testing.T) {
	b := newBackendWith("office")
	p := testProfile("six")
	p.IPv6 = true
	b.AddProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	h := newHarness(t, b)
	u := h.u
	h.start()
	d := u.detail
	if got := d.idle.values["Traffic"].Text; strings.Contains(got, "IPv6") {
		t.Errorf("office, without IPv6: Traffic %q", got)
	}
	u.selectProfile("six")
	if got := d.idle.values["Traffic"].Text; !strings.Contains(got, "IPv6 inside the tunnel") {
		t.Errorf("six: Traffic %q", got)
	}

	up := core.Status{Profile: "six", State: core.StateConnected, Server: "203.0.113.5", Address: "192.168.30.10",
		Interface: "corridor0", MTU: 1400}
	h.state(up)
	if got := d.conn.values["Address"].Text; strings.Contains(got, "IPv6") {
		t.Errorf("before the offer: Address %q", got)
	}
	up.IPv6 = []string{"2001:db8:1::5/64"}
	up.Stats = core.Stats{RxBytes: 5000, RxPackets: 10, TxBytes: 3000, TxPackets: 6, RxBytes6: 1200, RxPackets6: 3}
	h.send(core.Event{Kind: core.EventStats, Status: up})
	if got := d.conn.values["Address"].Text; !strings.Contains(got, "192.168.30.10; IPv6 2001:db8:1::5/64") {
		t.Errorf("Address %q", got)
	}
	if got := d.conn.values["Received"].Text; !strings.HasSuffix(got, " · IPv6 1.2 kB") {
		t.Errorf("Received %q", got)
	}
	if got := d.conn.values["Sent"].Text; strings.Contains(got, "IPv6") {
		t.Errorf("Sent %q: no IPv6 was sent", got)
	}
}

// A second tunnel whose DNS is not in use (another holds resolv.conf):
// the DNS field says so and the note below explains; both go once its
// DNS takes over.
func TestDetailDNSNote(t *testing.T) {
	b := newBackendWith("office")
	h := newHarness(t, b)
	u := h.u
	h.start()
	d := u.detail
	u.selectProfile("office")
	note := `DNS for profile "office" is not in use: profile "lab" holds resolv.conf, and one resolv.conf cannot send each tunnel's names to its own servers; install systemd-resolved for DNS per tunnel`
	up := core.Status{Profile: "office", State: core.StateConnected, Server: "203.0.113.5", Address: "192.168.31.10",
		Interface: "corridor1", DNS: []string{"192.168.31.1"}, DNSNote: note}
	h.state(up)
	if got := d.conn.values["DNS"].Text; got != "192.168.31.1 (not in use)" {
		t.Errorf("DNS %q", got)
	}
	if !d.conn.dnsNote.Visible() || d.conn.dnsNote.Text != note {
		t.Errorf("note visible %v, text %q", d.conn.dnsNote.Visible(), d.conn.dnsNote.Text)
	}
	up.DNSNote = ""
	h.send(core.Event{Kind: core.EventStats, Status: up})
	if got := d.conn.values["DNS"].Text; got != "192.168.31.1" {
		t.Errorf("after the takeover: DNS %q", got)
	}
	if d.conn.dnsNote.Visible() {
		t.Errorf("the note still shows after the takeover")
	}
}
