package core

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/platform"
)

// noteRouter is a platform Router whose DNS note is set by the test; a Set
// clears it when free is true (the holder of resolv.conf has gone).
type noteRouter struct {
	note string
	free bool
	sets int
}

func (r *noteRouter) Set(*platform.NetConfig) error {
	r.sets++
	if r.free {
		r.note = ""
	}
	return nil
}
func (r *noteRouter) Close() error    { return nil }
func (r *noteRouter) DNSNote() string { return r.note }

func linkOf(name string, rt *noteRouter, dns ...string) *realLink {
	nc := &platform.NetConfig{Interface: "corridor-" + name}
	for _, d := range dns {
		nc.DNS = append(nc.DNS, netip.MustParseAddr(d))
	}
	p := testProfile()
	p.Name = name
	return &realLink{router: rt, nc: nc, base: nc, profile: p, log: slog.New(slog.DiscardHandler)}
}

// Linux with resolv.conf and two split tunnels: the second tunnel's DNS is
// not in use, and the words say whose tunnel holds the file and what to
// install for DNS per tunnel.
func TestDNSHeldWords(t *testing.T) {
	var r RealStack
	if w := r.dnsHeldWords("beta"); !strings.Contains(w, `DNS for profile "beta" is not in use: another Corridor tunnel holds resolv.conf`) ||
		!strings.Contains(w, "install systemd-resolved for DNS per tunnel") {
		t.Errorf("no holder known: %q", w)
	}
	r.links = map[*realLink]bool{
		linkOf("nodns", &noteRouter{}):                                   true, // no DNS asked for: holds nothing
		linkOf("gamma", &noteRouter{note: "held elsewhere"}, "10.9.0.1"): true, // waiting itself
		linkOf("alpha", &noteRouter{}, "192.168.30.1"):                   true,
	}
	w := r.dnsHeldWords("beta")
	want := `DNS for profile "beta" is not in use: profile "alpha" holds resolv.conf, and one resolv.conf cannot send each tunnel's names to its own servers; ` +
		`install systemd-resolved for DNS per tunnel (without it, this tunnel's DNS takes over when the other disconnects)`
	if w != want {
		t.Errorf("words:\n got  %q\n want %q", w, want)
	}
}

// When the holder goes, the waiting tunnel's Router is set again, and the
// log says, by profile, that its DNS is in use now; a tunnel whose DNS is
// in force is left alone.
func TestRetryDNSNamesProfile(t *testing.T) {
	var buf bytes.Buffer
	waiting := &noteRouter{note: "held by corridor0", free: true}
	l := linkOf("beta", waiting, "192.168.31.1")
	l.log = slog.New(slog.NewTextHandler(&buf, nil))
	l.retryDNS()
	if waiting.sets != 1 || waiting.note != "" {
		t.Errorf("sets %d, note %q", waiting.sets, waiting.note)
	}
	if !strings.Contains(buf.String(), `DNS for profile \"beta\" now in use ([192.168.31.1])`) {
		t.Errorf("log: %s", buf.String())
	}
	inForce := &noteRouter{}
	linkOf("alpha", inForce, "192.168.30.1").retryDNS()
	if inForce.sets != 0 {
		t.Errorf("a tunnel whose DNS is in force was set again")
	}
}

// The kill switch with several tunnels, on every system (the rule is the
// Manager's, not the platform's): a split tunnel cannot have one, and
// while a full tunnel's kill switch blocks traffic (it dropped and is
// reconnecting), no split tunnel may start, and the block stays.
func TestKillSwitchBesideSplitTunnels(t *testing.T) {
	l1, l2 := newFakeLink(), newFakeLink()
	fs := &fakeStack{script: []func(context.Context, func(Stage)) (Link, error){connects(l1), connects(l2)}}
	bs := &blockingStack{fakeStack: fs}
	h := &harness{t: t, clock: newFakeClock(), stack: fs}
	h.m = NewManager(bs, WithClock(h.clock), WithStatsInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.events, _ = h.m.Subscribe(ctx)
	t.Cleanup(func() {
		c, cc := context.WithTimeout(context.Background(), 5*time.Second)
		defer cc()
		h.m.Close(c)
	})

	split := splitProfile("lab", "10.9.0.0/16")
	split.KillSwitch = true
	err := h.up(split)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "the kill switch needs a full tunnel") {
		t.Fatalf("split tunnel with a kill switch: %v", err)
	}

	full := fullProfile("office")
	full.KillSwitch = true
	if err := h.up(full); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)
	l1.drop(&Error{Class: ClassNoAnswer, Msg: "the server stopped answering"})
	h.waitState(StateReconnecting)
	if got := waitCalls(t, bs, 1); got[0] != "block 10.0.0.1 corridor0" {
		t.Fatalf("calls %v", got)
	}
	refusal(t, h.up(splitProfile("lab", "10.9.0.0/16")), "office",
		`profile "office" sends all traffic through its tunnel and is reconnecting`, "no other tunnel can run beside it")
	if got := bs.calls(); len(got) != 1 {
		t.Errorf("the refusal touched the block: %v", got)
	}
	if sts, _ := h.m.Status(context.Background()); len(sts) != 1 {
		t.Errorf("sessions after the refusal: %+v", sts)
	}
}

// The Router's warnings (Group Policy overriding Windows NRPT rules, a
// route someone else added) reach the session's log; its per-command
// lines do not.
func TestRouterWarnings(t *testing.T) {
	var buf bytes.Buffer
	session := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := slog.New(warnOnly{session.Handler()}).With("interface", "corridor1")
	l.Debug("platform command", "cmd", "route add")
	l.Info("router set")
	l.Warn("Group Policy sets this machine's NRPT rules")
	got := buf.String()
	if strings.Contains(got, "platform command") || strings.Contains(got, "router set") {
		t.Errorf("debug or info lines passed:\n%s", got)
	}
	if !strings.Contains(got, "Group Policy sets this machine's NRPT rules") || !strings.Contains(got, "interface=corridor1") {
		t.Errorf("the warning is missing:\n%s", got)
	}
}

// Status carries the note while the DNS is not in use (Info's DNSNote),
// and loses it once the holder has gone and the DNS took over.
func TestLinkDNSNote(t *testing.T) {
	r := &RealStack{}
	alpha := linkOf("alpha", &noteRouter{}, "192.168.30.1")
	beta := linkOf("beta", &noteRouter{note: "held by corridor0", free: true}, "192.168.31.1")
	alpha.stack, beta.stack = r, r
	r.links = map[*realLink]bool{alpha: true, beta: true}
	if n := alpha.dnsNote(); n != "" {
		t.Errorf("the holder has a note: %q", n)
	}
	want := `DNS for profile "beta" is not in use: profile "alpha" holds resolv.conf`
	if n := beta.dnsNote(); !strings.HasPrefix(n, want) {
		t.Errorf("the waiting tunnel's note %q, want it to start %q", n, want)
	}
	delete(r.links, alpha) // alpha disconnected: beta's Router is set again
	beta.retryDNS()
	if n := beta.dnsNote(); n != "" {
		t.Errorf("note after the takeover: %q", n)
	}
	if n := linkOf("solo", &noteRouter{}, "10.0.0.1").dnsNote(); n != "" {
		t.Errorf("a link without a stack: %q", n)
	}
}
