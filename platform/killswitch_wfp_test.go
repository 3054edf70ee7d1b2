package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

// fakeWFP records the kill switch's WFP calls. These tests are all there
// is of the Windows kill switch: none of it has run on Windows.
type fakeWFP struct {
	calls     []string
	dns       []netip.Addr
	enableErr error
}

func (f *fakeWFP) Enable(dns []netip.Addr) error {
	f.calls = append(f.calls, fmt.Sprintf("Enable %v", dns))
	return f.enableErr
}

func (f *fakeWFP) Disable() { f.calls = append(f.calls, "Disable") }

func (f *fakeWFP) DNSServers(except string) ([]netip.Addr, error) {
	f.calls = append(f.calls, "DNSServers except "+except)
	return f.dns, nil
}

func (f *fakeWFP) take() []string {
	c := f.calls
	f.calls = nil
	return c
}

func newTestWFPKillSwitch(t *testing.T, shared *wfpShared, iface string) *KillSwitch {
	t.Helper()
	impl, err := newWFPKillSwitch(shared, iface)
	if err != nil {
		t.Fatal(err)
	}
	return &KillSwitch{impl: impl, log: slog.New(slog.DiscardHandler)}
}

// TestWFPKillSwitchShared: two sessions' kill switches share the
// process's one WFP block: the first Block turns it on, with the other
// adapters' DNS servers (sorted, once each, no unspecified address), the
// last Unblock turns it off; a second Block or Unblock of the same
// switch does nothing.
func TestWFPKillSwitchShared(t *testing.T) {
	fw := &fakeWFP{dns: []netip.Addr{
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("2001:db8::53"),
		netip.MustParseAddr("192.168.1.1"), netip.IPv4Unspecified(), netip.MustParseAddr("10.0.0.53"),
	}}
	shared := &wfpShared{fw: fw}
	a := newTestWFPKillSwitch(t, shared, "Corridor")
	b := newTestWFPKillSwitch(t, shared, "Corridor (2)")
	srv := netip.MustParseAddr("203.0.113.5")

	if err := a.Block(srv); err != nil {
		t.Fatal(err)
	}
	wantList(t, "first Block", fw.take(), []string{"DNSServers except Corridor", "Enable [10.0.0.53 192.168.1.1 2001:db8::53]"})
	if err := a.Block(srv); err != nil {
		t.Fatal(err)
	}
	if err := b.Block(srv); err != nil {
		t.Fatal(err)
	}
	wantList(t, "second Blocks", fw.take(), nil)
	if !a.Blocking() || !b.Blocking() {
		t.Error("not blocking")
	}
	if err := a.Unblock(); err != nil {
		t.Fatal(err)
	}
	if err := a.Unblock(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "first Unblock", fw.take(), nil)
	if err := b.Unblock(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "last Unblock", fw.take(), []string{"Disable"})
	if a.Blocking() || b.Blocking() {
		t.Error("still blocking")
	}
	if err := a.Block(srv); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Block again", fw.take(), []string{"DNSServers except Corridor", "Enable [10.0.0.53 192.168.1.1 2001:db8::53]"})
}

// TestWFPKillSwitchFailure: a block WFP refuses is an error, leaves
// nothing held, and the next Block tries again; bad names and IPv6
// servers are refused before WFP is touched.
func TestWFPKillSwitchFailure(t *testing.T) {
	denied := errors.New("Access is denied.")
	fw := &fakeWFP{enableErr: denied}
	shared := &wfpShared{fw: fw}
	k := newTestWFPKillSwitch(t, shared, "Corridor")
	srv := netip.MustParseAddr("203.0.113.5")
	if err := k.Block(srv); !errors.Is(err, denied) || !strings.Contains(err.Error(), "kill switch") {
		t.Fatalf("Block: %v", err)
	}
	if k.Blocking() || shared.users != 0 {
		t.Errorf("after a failed Block: blocking %v, users %d", k.Blocking(), shared.users)
	}
	fw.take()
	fw.enableErr = nil
	if err := k.Block(srv); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Block after the failure", fw.take(), []string{"DNSServers except Corridor", "Enable []"})
	if err := k.Unblock(); err != nil {
		t.Fatal(err)
	}
	if err := shared.release(); err == nil {
		t.Error("a release without an acquire passed")
	}
	if err := newTestWFPKillSwitch(t, shared, "Corridor").Block(netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("an IPv6 server was accepted")
	}
	if _, err := newWFPKillSwitch(shared, "Bob's VPN"); err == nil {
		t.Error("a bad adapter name was accepted")
	}
	wantList(t, "WFP calls", fw.take(), []string{"Disable"})
}
