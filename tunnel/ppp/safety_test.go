package ppp

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// --- 1. Safe default authentication ---

func TestConfigDefaultAuthIsMSCHAPv2(t *testing.T) {
	var c Config
	c.setDefaults()
	if !slices.Equal(c.Auth, []AuthMethod{AuthMSCHAPv2}) {
		t.Errorf("default Auth = %v, want [MS-CHAPv2] only", c.Auth)
	}
}

func TestParseAuthMethodsNone(t *testing.T) {
	got, err := ParseAuthMethods("mschapv2, None")
	if err != nil || !slices.Equal(got, []AuthMethod{AuthMSCHAPv2, AuthNone}) {
		t.Errorf("ParseAuthMethods = %v, %v; want [MS-CHAPv2 none]", got, err)
	}
	if AuthNone.String() != "none" {
		t.Errorf("AuthNone.String() = %q", AuthNone.String())
	}
	if _, err := ParseAuthMethods("none,none"); err == nil {
		t.Error("none listed twice accepted")
	}
}

// defaultAuthConfig is testConfig with the default (empty) Auth.
func defaultAuthConfig() Config {
	cfg := testConfig()
	cfg.Auth = nil
	return cfg
}

// checkRefused asserts that err is an *AuthRefusedError for wanted and
// not a wrong password.
func checkRefused(t *testing.T, err error, wanted string) *AuthRefusedError {
	t.Helper()
	t.Log(err)
	var re *AuthRefusedError
	if !errors.As(err, &re) {
		t.Fatalf("Run = %v, want *AuthRefusedError", err)
	}
	if re.Wanted != wanted || !slices.Equal(re.Allowed, []AuthMethod{AuthMSCHAPv2}) {
		t.Errorf("AuthRefusedError %+v, want Wanted %q, Allowed [MS-CHAPv2]", re, wanted)
	}
	var ae *AuthError
	if errors.As(err, &ae) || errors.Is(err, ErrAuthFailed) {
		t.Errorf("a refused method reported as a rejected password: %v", err)
	}
	if !errors.Is(err, ErrAuthMethod) {
		t.Errorf("%v does not wrap ErrAuthMethod", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, wanted) || !strings.Contains(msg, "not allowed") || !strings.Contains(msg, "MS-CHAPv2") {
		t.Errorf("message %q does not name %s as not allowed", msg, wanted)
	}
	return re
}

// With the default Auth, SoftEther (EAP, MS-CHAPv2, PAP in turn) still
// connects with MS-CHAPv2: EAP is Nak'd towards MS-CHAPv2.
func TestLinkDefaultAuthSoftEther(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, defaultAuthConfig(), srv)
	r.waitUp()
	evs, _ := r.ev.get()
	if len(evs) != 3 || evs[1].Kind != EventAuthOK || evs[1].Auth != AuthMSCHAPv2 {
		t.Fatalf("events %+v, want AuthOK(MS-CHAPv2)", evs)
	}
	naks := lcpNaks(srv.received())
	if len(naks) != 1 || !bytes.Equal(naks[0], AppendOption(nil, lcpOptAuth, offerMSCHAPv2)) {
		t.Errorf("LCP Naks % x, want one asking for MS-CHAPv2", naks)
	}
	r.closeAndWait()
}

// A server that insists on PAP (re-sends it after every Nak) is refused
// by the default profile: no PAP request ever leaves, and the error names
// PAP.
func TestLinkDefaultAuthRefusesPAPServer(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{offerPAP}
	start := time.Now()
	r := startLink(t, defaultAuthConfig(), srv)
	err := r.wait()
	checkRefused(t, err, "PAP")
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
	rx := srv.received()
	if n := count(rx, ProtoPAP, PAPAuthRequest); n != 0 {
		t.Errorf("%d PAP requests sent to a server we refuse", n)
	}
	naks := lcpNaks(rx)
	if len(naks) == 0 {
		t.Fatal("PAP was never Nak'd")
	}
	for _, n := range naks {
		if !bytes.Equal(n, AppendOption(nil, lcpOptAuth, offerMSCHAPv2)) {
			t.Errorf("Nak % x, want one suggesting MS-CHAPv2", n)
		}
	}
	if count(rx, ProtoLCP, CodeTermReq) == 0 {
		t.Error("the link did not terminate LCP")
	}
	if af := r.l.AuthFailure(); !errors.Is(af, ErrAuthMethod) {
		t.Errorf("AuthFailure() = %v, want the refusal", af)
	}
}

// A server that ends the link after our Nak of PAP: the refusal is
// reported at once, not after our Configure-Requests time out.
func TestLinkPAPServerTerminatesAfterNak(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{offerPAP}
	srv.termOnNak = true
	cfg := defaultAuthConfig()
	cfg.RestartInterval = time.Second
	cfg.MaxRestartInterval = time.Second
	start := time.Now()
	r := startLink(t, cfg, srv)
	err := r.wait()
	checkRefused(t, err, "PAP")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("refusal took %v, want no wait for a restart timer", d)
	}
	if n := count(srv.received(), ProtoLCP, CodeTermAck); n != 1 {
		t.Errorf("%d Terminate-Acks, want 1", n)
	}
}

// The server asks for no authentication: Nak'd with an Auth option
// (RFC 1661 5.3), and refused when it does not move.
func TestLinkNoAuthServerRefused(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{nil}
	r := startLink(t, defaultAuthConfig(), srv)
	err := r.wait()
	checkRefused(t, err, "no authentication")
	evs, _ := r.ev.get()
	for _, e := range evs {
		t.Errorf("event %+v from a server that would not authenticate", e)
	}
	naks := lcpNaks(srv.received())
	if len(naks) == 0 || !bytes.Equal(naks[0], AppendOption(nil, lcpOptAuth, offerMSCHAPv2)) {
		t.Errorf("LCP Naks % x, want ones adding Auth MS-CHAPv2", naks)
	}
	if r.l.IPv4Open() {
		t.Error("IPv4 open without authentication")
	}
}

// A server that asks for no authentication first and for MS-CHAPv2 after
// our Nak connects with MS-CHAPv2.
func TestLinkNoAuthServerNakkedToMSCHAPv2(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{nil, offerMSCHAPv2}
	r := startLink(t, defaultAuthConfig(), srv)
	r.waitUp()
	evs, _ := r.ev.get()
	if len(evs) != 3 || evs[1].Kind != EventAuthOK || evs[1].Auth != AuthMSCHAPv2 {
		t.Fatalf("events %+v, want AuthOK(MS-CHAPv2)", evs)
	}
	r.closeAndWait()
}

// "No authentication" is accepted when the profile lists it.
func TestLinkNoAuthAllowedExplicitly(t *testing.T) {
	for _, auth := range [][]AuthMethod{{AuthNone}, {AuthMSCHAPv2, AuthNone}} {
		srv := newFakeServer(t)
		srv.offers = [][]byte{nil}
		cfg := testConfig()
		cfg.Auth = auth
		r := startLink(t, cfg, srv)
		r.waitUp()
		evs, _ := r.ev.get()
		if len(evs) != 2 || evs[0].Kind != EventLCPUp || evs[1].Kind != EventIPCPUp {
			t.Errorf("Auth %v: events %+v, want LCPUp, IPCPUp", auth, evs)
		}
		if n := len(lcpNaks(srv.received())); n != 0 {
			t.Errorf("Auth %v: %d LCP Naks", auth, n)
		}
		r.closeAndWait()
	}
}

// A profile allowing only "none" rejects (cannot Nak towards anything) a
// server's PAP.
func TestLinkOnlyNoneRejectsPAP(t *testing.T) {
	srv := newFakeServer(t)
	srv.offers = [][]byte{offerPAP}
	cfg := testConfig()
	cfg.Auth = []AuthMethod{AuthNone}
	srv.termOnRej = true
	r := startLink(t, cfg, srv)
	err := r.wait()
	var re *AuthRefusedError
	if !errors.As(err, &re) || re.Wanted != "PAP" || !slices.Equal(re.Allowed, []AuthMethod{AuthNone}) {
		t.Errorf("Run = %v, want *AuthRefusedError for PAP allowing none", err)
	}
	rx := srv.received()
	if n := len(lcpNaks(rx)); n != 0 {
		t.Errorf("%d Naks with nothing to suggest", n)
	}
	if count(rx, ProtoLCP, CodeConfRej) == 0 {
		t.Error("PAP not rejected")
	}
	if n := count(rx, ProtoPAP, PAPAuthRequest); n != 0 {
		t.Errorf("%d PAP requests", n)
	}
}

// --- 2. IPCP address checks ---

func TestLinkIPCPBadLocalAddress(t *testing.T) {
	for addr, why := range map[string]string{
		"127.0.0.1":       "loopback",
		"224.0.0.5":       "multicast",
		"255.255.255.255": "broadcast",
		"169.254.7.7":     "link-local",
		"0.0.0.0":         "unspecified",
	} {
		srv := newFakeServer(t)
		srv.assign = netip.MustParseAddr(addr)
		r := startLink(t, testConfig(), srv)
		err := r.wait()
		t.Log(err)
		if !errors.Is(err, ErrBadAddress) || !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), addr) ||
			!strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "assigned") {
			t.Errorf("assigned %s: Run = %v, want ErrBadAddress naming it %s", addr, err, why)
		}
		if r.l.IPv4Open() {
			t.Errorf("assigned %s: IPv4 open", addr)
		}
		select {
		case <-r.l.Up():
			t.Errorf("assigned %s: Up closed", addr)
		default:
		}
	}
}

func TestLinkIPCPBadPeerAddress(t *testing.T) {
	for addr, why := range map[string]string{
		"127.0.0.2":       "loopback",
		"239.1.1.1":       "multicast",
		"255.255.255.255": "broadcast",
		"169.254.0.1":     "link-local",
	} {
		srv := newFakeServer(t)
		srv.ownAddr = netip.MustParseAddr(addr)
		r := startLink(t, testConfig(), srv)
		err := r.wait()
		t.Log(err)
		if !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), why) ||
			!strings.Contains(err.Error(), "its own address") {
			t.Errorf("server address %s: Run = %v, want ErrBadAddress naming it %s", addr, err, why)
		}
	}
}

// A server that gives 0.0.0.0 as its own address (asking us for one)
// still connects, as before: its address is unknown.
func TestLinkIPCPPeerAddressZero(t *testing.T) {
	srv := newFakeServer(t)
	srv.ownAddr = netip.IPv4Unspecified()
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	if info := r.l.Info(); info.Peer.IsValid() || info.Local != clientAddr {
		t.Errorf("Info() = %+v, want local %v and no peer", info, clientAddr)
	}
	r.closeAndWait()
}

// An unusable DNS server is dropped, not fatal.
func TestLinkIPCPBadDNSDropped(t *testing.T) {
	for _, addr := range []string{"127.0.0.53", "224.0.0.251", "255.255.255.255", "169.254.169.254"} {
		srv := newFakeServer(t)
		srv.dns = netip.MustParseAddr(addr)
		r := startLink(t, testConfig(), srv)
		r.waitUp()
		if info := r.l.Info(); len(info.DNS) != 0 || info.Local != clientAddr {
			t.Errorf("DNS %s: Info() = %+v, want no DNS", addr, info)
		}
		r.closeAndWait()
	}
}

// --- 3. A lost CHAP Success costs little ---

// SoftEther: the Success is lost, the server goes on with IPCP and
// ignores our repeated Response. The link fails at once with
// ErrAuthNoAnswer, never treating IPCP as success, and does not wait for
// a Terminate-Ack.
func TestLinkCHAPSuccessLostServerMovesOn(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapMoveOn = true
	srv.noTermAck = true
	cfg := testConfig()
	cfg.AuthTimeout = 4 * time.Second
	cfg.RestartInterval = time.Second // a resend or a wait for Terminate-Ack would show
	cfg.MaxRestartInterval = time.Second
	start := time.Now()
	r := startLink(t, cfg, srv)
	err := r.wait()
	d := time.Since(start)
	t.Log(err, d)
	if !errors.Is(err, ErrAuthNoAnswer) || !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Run = %v, want ErrAuthNoAnswer", err)
	}
	if !strings.Contains(err.Error(), "no answer to our MS-CHAPv2 response") {
		t.Errorf("message %q", err)
	}
	if d > 500*time.Millisecond {
		t.Errorf("Run took %v, want well under a restart interval", d)
	}
	evs, _ := r.ev.get()
	for _, e := range evs {
		if e.Kind != EventLCPUp {
			t.Errorf("event %+v: IPCP taken for a Success", e)
		}
	}
	if r.l.IPv4Open() {
		t.Error("IPv4 open")
	}
	rx := srv.received()
	if n := count(rx, ProtoLCP, CodeTermReq); n > 1 {
		t.Errorf("%d Terminate-Requests, want at most 1", n)
	}
	if n := count(rx, ProtoIPCP, CodeConfAck) + count(rx, ProtoIPCP, CodeConfReq); n != 0 {
		t.Errorf("%d IPCP packets sent before authentication", n)
	}
	if af := r.l.AuthFailure(); af != nil {
		t.Errorf("AuthFailure() = %v, want nil (not a wrong password)", af)
	}
}

// Any NCP, not only IPCP, shows that the server moved on.
func TestLinkCHAPWaitingNCPConfReq(t *testing.T) {
	srv := newFakeServer(t)
	srv.chapMute = true
	cfg := testConfig()
	cfg.AuthTimeout = 4 * time.Second
	cfg.RestartInterval = time.Second
	cfg.MaxRestartInterval = time.Second
	r := startLink(t, cfg, srv)
	deadline := time.Now().Add(2 * time.Second)
	for count(srv.received(), ProtoCHAP, CHAPResponse) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no CHAP Response")
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.out(ProtoIPv6CP, AppendCP(nil, CodeConfReq, 1, AppendOption(nil, 1, make([]byte, 8))))
	if err := r.wait(); !errors.Is(err, ErrAuthNoAnswer) {
		t.Fatalf("Run = %v, want ErrAuthNoAnswer", err)
	}
}
