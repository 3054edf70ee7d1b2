package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

func TestExplain(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.1:1701")
	cases := []struct {
		err   error
		class Class
		msg   string
	}{
		{fmt.Errorf("wrapped: %w", &ppp.AuthError{Method: ppp.AuthMSCHAPv2, User: "alice", Detail: "E=691"}),
			ClassAuth, `authentication failed: the server rejected user "alice" (MS-CHAPv2 E=691)`},
		{&ppp.AuthError{Method: ppp.AuthPAP, User: "bob"}, ClassAuth, `the server rejected user "bob" (PAP)`},
		{fmt.Errorf("%w: the server asked for EAP", ppp.ErrAuthMethod), ClassAuth, "asked for EAP"},
		{ppp.ErrMutualAuth, ClassAuth, "could not prove"},
		{fmt.Errorf("%w: x", l2tp.ErrNoAnswer), ClassNoAnswer, "no answer from the server at 10.0.0.1:1701"},
		{ppp.ErrEchoTimeout, ClassNoAnswer, "stopped answering keepalives"},
		{&l2tp.PeerClosedError{Msg: l2tp.MsgStopCCN, Result: 2}, ClassProtocol, "closed the tunnel"},
		{&ppp.TerminatedError{Proto: ppp.ProtoLCP, Message: "bye"}, ClassProtocol, `ended the PPP link ("bye")`},
		{fmt.Errorf("%w: odd", ppp.ErrProtocol), ClassProtocol, "broke the protocol"},
		{context.Canceled, ClassNoAnswer, "gave up"},
		{fmt.Errorf("%w (sent 6 times)", ike.ErrNoAnswer), ClassNoAnswer, "no answer from 10.0.0.1 to IPsec (IKE on UDP 500)"},
		{fmt.Errorf("%w: after 15s", ike.ErrPSK), ClassAuth, "the pre-shared key is probably wrong"},
		{fmt.Errorf("ike: main mode msg 6: %w", ike.ErrPeerAuth), ClassAuth, "pre-shared key is wrong"},
		{&ike.NotifyError{Phase: "phase 2", Type: ike.NotifyNoProposalChosen, Offer: "aes128gcm16"}, ClassProtocol,
			"accepted none of the encryption settings we offered for phase 2 (aes128gcm16)"},
		{&ike.NotifyError{Phase: "phase 1", Type: ike.NotifyInvalidIDInformation}, ClassProtocol, "refused our identity"},
		{fmt.Errorf("%w (group fqdn \"g\"): %w", ike.ErrAggressiveRefused, &ike.NotifyError{Phase: "phase 1", Type: ike.NotifyAuthenticationFailed}),
			ClassAuth, "the server refused our group name (IKE Aggressive Mode)"},
		{fmt.Errorf("ike: aggressive mode msg 2: %w", ike.ErrPeerAuth), ClassAuth, "pre-shared key is wrong"},
		{ike.ErrQuickMode, ClassNoAnswer, "quick mode"},
		{ike.ErrNoNATT, ClassProtocol, "NAT traversal"},
		{fmt.Errorf("l2tp: transport: %w", ike.ErrPeerDead), ClassNoAnswer, "dead peer detection"},
		{ike.ErrPeerDeleted, ClassProtocol, "closed the IPsec connection"},
		{errors.New("strange"), ClassInternal, "strange"},
	}
	for _, c := range cases {
		e := explain(c.err, server, nil)
		if e.Class != c.class || !strings.Contains(e.Msg, c.msg) || e.Hint == "" {
			t.Errorf("explain(%v) = {%v %q hint %q}, want class %v containing %q", c.err, e.Class, e.Msg, e.Hint, c.class, c.msg)
		}
		if !errors.Is(e, c.err) && !errors.Is(e.Err, c.err) {
			t.Errorf("explain(%v) lost the cause", c.err)
		}
	}
}

// The new ppp failures read in plain words, in the class whose exit code
// says what to do.
func TestExplainAuthRefusedNoAnswerBadAddress(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.1:1701")
	cases := []struct {
		err     error
		class   Class
		msg     []string
		not     string
		hintKey HintKey
		hintArg string
	}{
		{fmt.Errorf("tunnel: %w", &ppp.AuthRefusedError{Wanted: "PAP", Allowed: []ppp.AuthMethod{ppp.AuthMSCHAPv2}}), ClassAuth,
			[]string{"the server asked for PAP, which Corridor does not allow by default", "readable to anyone holding the pre-shared key"},
			"rejected", HintAllowAuth, "mschapv2,pap"},
		{&ppp.AuthRefusedError{Wanted: "no authentication", Allowed: []ppp.AuthMethod{ppp.AuthMSCHAPv2}}, ClassAuth,
			[]string{"asked for no authentication at all", "could not tell it is the real server"}, "", HintAllowAuth, "none"},
		{&ppp.AuthRefusedError{Wanted: "CHAP-MD5", Allowed: []ppp.AuthMethod{ppp.AuthMSCHAPv2, ppp.AuthPAP}}, ClassAuth,
			[]string{"asked for CHAP-MD5, which this connection does not allow (it allows MS-CHAPv2, PAP)"}, "by default",
			HintAllowAuth, "mschapv2,pap,chap"},
		{&ppp.AuthRefusedError{Wanted: "EAP", Allowed: []ppp.AuthMethod{ppp.AuthMSCHAPv2}}, ClassAuth,
			[]string{"asked for EAP, which Corridor does not support"}, "", "", ""},
		{fmt.Errorf("ppp: no answer to our MS-CHAPv2 response (sent 3 times over 9s): %w", ppp.ErrAuthNoAnswer), ClassNoAnswer,
			[]string{"the server did not answer our sign-in (PPP authentication), even after starting over 3 times"}, "closed",
			HintTracePPP, ""},
		{fmt.Errorf("ppp: ipcp: the server assigned 127.0.0.1, a loopback address: %w", ppp.ErrBadAddress), ClassProtocol,
			[]string{"the server gave an address no computer can use: the server assigned 127.0.0.1, a loopback address"},
			"unusable IPv4 address", "", ""},
	}
	for _, c := range cases {
		e := explain(c.err, server, nil)
		for _, m := range c.msg {
			if !strings.Contains(e.Msg, m) {
				t.Errorf("explain(%v).Msg = %q, want it to contain %q", c.err, e.Msg, m)
			}
		}
		if e.Class != c.class || e.Hint == "" || e.HintKey != c.hintKey || e.HintArg != c.hintArg {
			t.Errorf("explain(%v) = {%v hint %q key %q arg %q}, want class %v key %q arg %q", c.err, e.Class, e.Hint, e.HintKey, e.HintArg,
				c.class, c.hintKey, c.hintArg)
		}
		if c.not != "" && strings.Contains(e.Msg, c.not) {
			t.Errorf("explain(%v).Msg = %q, should not say %q", c.err, e.Msg, c.not)
		}
		if !errors.Is(e.Err, c.err) {
			t.Errorf("explain(%v) lost the cause", c.err)
		}
	}
}

// Without IPsec (explain gets the plain UDP transport's refuser), PAP's
// password is readable to anyone on the path, not only PSK holders.
func TestExplainPAPRefusedPlainL2TP(t *testing.T) {
	e := explain(&ppp.AuthRefusedError{Wanted: "PAP", Allowed: []ppp.AuthMethod{ppp.AuthMSCHAPv2}},
		netip.MustParseAddrPort("10.0.0.1:1701"), fakeRefuser{})
	if !strings.Contains(e.Msg, "the server asked for PAP, which Corridor does not allow by default (it sends the password readable to anyone on the network path: this connection has no IPsec)") ||
		e.Class != ClassAuth || e.HintArg != "mschapv2,pap" {
		t.Errorf("got %+v", e)
	}
}

type fakeRefuser struct{}

func (fakeRefuser) Refused() bool { return false }

func TestResolve(t *testing.T) {
	ap, err := resolve(context.Background(), "10.1.2.3")
	if err != nil || ap.String() != "10.1.2.3:1701" {
		t.Fatalf("got %v, %v", ap, err)
	}
	ap, err = resolve(context.Background(), "10.1.2.3:1702")
	if err != nil || ap.Port() != 1702 {
		t.Fatalf("got %v, %v", ap, err)
	}
	var ce *Error
	if _, err := resolve(context.Background(), "10.1.2.3:0"); !errors.As(err, &ce) || ce.Class != ClassUsage {
		t.Fatalf("port 0: %v", err)
	}
	if _, err := resolve(context.Background(), "[::1]:1701"); !errors.As(err, &ce) || ce.Class != ClassUsage {
		t.Fatalf("IPv6: %v", err)
	}
}

func TestClassText(t *testing.T) {
	for c := ClassInternal; c <= ClassLocal; c++ {
		b, err := c.MarshalText()
		if err != nil || string(b) != c.String() {
			t.Errorf("%v: MarshalText %q, %v", c, b, err)
		}
		var back Class = 99
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Errorf("%q: UnmarshalText gave %v, %v", b, back, err)
		}
	}
	var c Class = ClassAuth
	if err := c.UnmarshalText([]byte("from a newer helper")); err != nil || c != ClassInternal {
		t.Errorf("unknown class: %v, %v", c, err)
	}
	// On the wire a class is its name, as before the classes had a text form.
	js, err := json.Marshal((&Error{Class: ClassNoAnswer, Msg: "m", Hint: "h", HintKey: HintProbe, HintArg: "10.0.0.1"}).Info())
	if err != nil || string(js) != `{"class":"no answer","code":"no-answer","msg":"m","hint":"h","hint_key":"probe","hint_arg":"10.0.0.1"}` {
		t.Fatalf("json %s, %v", js, err)
	}
	var info ErrorInfo
	if err := json.Unmarshal(js, &info); err != nil {
		t.Fatal(err)
	}
	if e := info.Err(); e.Class != ClassNoAnswer || e.Msg != "m" || e.Hint != "h" || e.HintKey != HintProbe || e.HintArg != "10.0.0.1" {
		t.Errorf("round trip %+v", e)
	}
}

func TestStoreHint(t *testing.T) {
	want := map[profile.SecretKind]HintKey{profile.SecretPassword: HintStorePassword, profile.SecretPSK: HintStorePSK,
		profile.SecretL2TP: HintStoreL2TPSecret}
	for _, k := range profile.SecretKinds {
		if StoreHint(k) != want[k] {
			t.Errorf("StoreHint(%q) = %q, want %q", k, StoreHint(k), want[k])
		}
	}
}

// Every error in JSON has a machine-readable code beside the words: the
// class's, or a finer one; an ErrorInfo built without one (or from an
// older helper) is written with its class's.
func TestErrorInfoCode(t *testing.T) {
	cases := []struct {
		e    *Error
		want string
	}{
		{&Error{Class: ClassAuth, Msg: "rejected"}, CodeAuthFailed},
		{&Error{Class: ClassNoAnswer, Msg: "silent"}, CodeNoAnswer},
		{&Error{Class: ClassProtocol, Msg: "x"}, CodeProtocol},
		{&Error{Class: ClassLocal, Msg: "x"}, CodeLocal},
		{&Error{Class: ClassUsage, Msg: "x"}, CodeUsage},
		{&Error{Class: ClassInternal, Msg: "x"}, CodeInternal},
		{&Error{Class: ClassAuth, Msg: "x", HintKey: HintAllowAuth, HintArg: "pap"}, CodeAuthMethodRefused},
		{&Error{Class: ClassProtocol, Msg: "x", HintKey: HintProposals}, CodeProposalsRefused},
		{&Error{Class: ClassUsage, Msg: "x", HintKey: HintStorePSK}, CodeSecretMissing},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.e.Info())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["code"] != c.want || m["msg"] != c.e.Msg {
			t.Errorf("%+v: %s, want code %q", c.e, b, c.want)
		}
		if !slices.Contains(Codes, c.want) {
			t.Errorf("Codes lacks %q", c.want)
		}
	}
	b, _ := json.Marshal(&ErrorInfo{Class: ClassLocal, Msg: "no TUN"})
	if !strings.Contains(string(b), `"code":"local"`) {
		t.Errorf("an ErrorInfo without a code: %s", b)
	}
	var back ErrorInfo
	if err := json.Unmarshal([]byte(`{"class":"no answer","msg":"m"}`), &back); err != nil || back.Class != ClassNoAnswer {
		t.Fatalf("an older helper's error: %+v, %v", back, err)
	}
	b, _ = json.Marshal(back)
	if !strings.Contains(string(b), `"code":"no-answer"`) {
		t.Errorf("re-encoded: %s", b)
	}
}

// With Aggressive Mode the hints of a silent server and of a wrong key
// name the group name too; other failures keep theirs.
func TestAggressiveHint(t *testing.T) {
	server := netip.MustParseAddrPort("10.0.0.1:500")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w (aggressive mode message 1 sent 6 times)", ike.ErrNoAnswer), "silent to a group name they do not know"},
		{fmt.Errorf("ike: aggressive mode msg 2: %w", ike.ErrPeerAuth), "also check the group name"},
		{ike.ErrQuickMode, "never confirms phase 1"},
		{ike.ErrNoNATT, ""},
	} {
		plain := explain(c.err, server, nil)
		e := aggressiveHint(explain(c.err, server, nil))
		if c.want == "" {
			if e.Hint != plain.Hint {
				t.Errorf("%v: hint %q changed to %q", c.err, plain.Hint, e.Hint)
			}
			continue
		}
		if !strings.HasPrefix(e.Hint, plain.Hint) || !strings.Contains(e.Hint, c.want) || e.Class != plain.Class {
			t.Errorf("%v: hint %q, want %q and then %q", c.err, e.Hint, plain.Hint, c.want)
		}
	}
}

// A profile's Aggressive Mode settings reach the IKE configuration; a
// Main Mode profile keeps its group name out of it.
func TestConnectConfigForAggressive(t *testing.T) {
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"}
	p := profile.NewProfile("work")
	p.Server, p.User = "vpn.example.com", "alice"
	p.Aggressive, p.Group, p.GroupType = true, "vpn-users", profile.GroupKeyID
	cfg, err := ConnectConfigFor(p, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if ic := cfg.IPsec; !ic.Aggressive || ic.GroupID != "vpn-users" || ic.GroupIDType != ike.IDKeyID {
		t.Errorf("IPsec config %+v", ic)
	}
	p.GroupType = ""
	if cfg, _ = ConnectConfigFor(p, secrets); cfg.IPsec.GroupIDType != ike.IDFQDN {
		t.Errorf("default group type %d", cfg.IPsec.GroupIDType)
	}
	p.Aggressive = false
	if cfg, _ = ConnectConfigFor(p, secrets); cfg.IPsec.Aggressive || cfg.IPsec.GroupID != "" {
		t.Errorf("Main Mode profile: %+v", cfg.IPsec)
	}
}
