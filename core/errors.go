package core

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// Class groups failures by what the user can do about them. Front ends
// map classes to exit codes and icons.
type Class uint8

// Failure classes.
const (
	ClassInternal Class = iota // a bug or an unexpected condition
	ClassUsage                 // the request itself is wrong
	ClassAuth                  // the server rejected the credentials
	ClassNoAnswer              // the server did not answer, or stopped answering
	ClassProtocol              // the server broke off or spoke unexpectedly
	ClassLocal                 // this machine could not do its part (device, socket)
)

// classNames are the classes as text: their String, and their form on the
// helper's socket and in the event stream.
var classNames = [...]string{ClassInternal: "internal", ClassUsage: "usage", ClassAuth: "authentication",
	ClassNoAnswer: "no answer", ClassProtocol: "protocol", ClassLocal: "local"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return classNames[ClassInternal]
}

// Failure codes: an ErrorInfo's Code, stable for scripts. Each class has
// one; some failures have a finer one.
const (
	CodeInternal          = "internal"
	CodeUsage             = "usage"
	CodeAuthFailed        = "auth-failed"
	CodeNoAnswer          = "no-answer"
	CodeProtocol          = "protocol"
	CodeLocal             = "local"
	CodeAuthMethodRefused = "auth-method-refused" // the two sides allow no common sign-in method (class authentication)
	CodeProposalsRefused  = "proposals-refused"   // the server accepts none of the IKE/ESP proposals (class protocol or no answer)
	CodeSecretMissing     = "secret-missing"      // the profile's password, PSK or L2TP secret is not in the keychain (class usage)
)

// Codes lists every failure code.
var Codes = []string{CodeInternal, CodeUsage, CodeAuthFailed, CodeNoAnswer, CodeProtocol, CodeLocal,
	CodeAuthMethodRefused, CodeProposalsRefused, CodeSecretMissing}

var classCodes = [...]string{ClassInternal: CodeInternal, ClassUsage: CodeUsage, ClassAuth: CodeAuthFailed,
	ClassNoAnswer: CodeNoAnswer, ClassProtocol: CodeProtocol, ClassLocal: CodeLocal}

// Code is the class's failure code ("auth-failed").
func (c Class) Code() string {
	if int(c) < len(classCodes) {
		return classCodes[c]
	}
	return CodeInternal
}

// codeOf is the finest code a class and hint key tell.
func codeOf(c Class, k HintKey) string {
	switch k {
	case HintAllowAuth, HintAuthMethod:
		return CodeAuthMethodRefused
	case HintProposals, HintESPProposal:
		return CodeProposalsRefused
	case HintStorePassword, HintStorePSK, HintStoreL2TPSecret:
		return CodeSecretMissing
	}
	return c.Code()
}

// Code is e's failure code (see Codes).
func (e *Error) Code() string { return codeOf(e.Class, e.HintKey) }

// MarshalText writes the class as its String ("authentication").
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads what MarshalText wrote. A name this build does not
// know (from a newer helper) reads as ClassInternal rather than failing
// the whole message it came in.
func (c *Class) UnmarshalText(b []byte) error {
	*c = ClassInternal
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
		}
	}
	return nil
}

// Error is a failure explained for a person: Msg in plain words, Hint on
// what to try. Err keeps the technical cause for traces.
//
// Hint is core's own wording and names no front end's controls. Where
// the advice is to use a control (a flag, a field, a command), HintKey
// names it and HintArg says what it is about, so that each front end
// words it in its own terms (app/cli names its flags, app/gui its
// fields); a front end that does not know the key shows Hint.
type Error struct {
	Class   Class
	Msg     string
	Hint    string
	HintKey HintKey
	HintArg string
	Err     error
}

// HintKey names the advice of an Error (see Error).
type HintKey string

// Hint keys, and what HintArg holds with them.
const (
	HintProbe       HintKey = "probe"        // the server may ignore our proposals: probe it (HintArg: its address)
	HintProposals   HintKey = "proposals"    // set the IKE/ESP proposals, or allow legacy crypto
	HintESPProposal HintKey = "esp-proposal" // quick mode went unanswered: try another ESP proposal
	HintAuthMethod  HintKey = "auth-method"  // allow another PPP authentication method
	// The server insists on a method the profile refuses: allow it if
	// the server is trusted. HintArg is the methods to allow, preferred
	// first, as --auth and a profile's auth list spell them
	// ("mschapv2,pap"; "none" for a server that asks for no
	// authentication).
	HintAllowAuth     HintKey = "allow-auth"
	HintTraceAdmin    HintKey = "trace-admin"    // a verbose trace, for the server's administrator
	HintTraceProtocol HintKey = "trace-protocol" // a verbose trace, for the administrator or the developers
	HintTracePPP      HintKey = "trace-ppp"      // PPP went silent: try again, then a trace for the administrator
	HintTraceTimeout  HintKey = "trace-timeout"  // the tunnel did not come up in time: a trace shows where it stops
	HintTraceReport   HintKey = "trace-report"   // an internal error: report it with a trace
	// Store a missing secret of the profile named HintArg.
	HintStorePassword   HintKey = "store-password"
	HintStorePSK        HintKey = "store-psk"
	HintStoreL2TPSecret HintKey = "store-l2tp-secret"
	// Another live session is in the way (a full tunnel, or routes that
	// overlap): disconnect the profile named HintArg first.
	HintDisconnectFirst HintKey = "disconnect-first"
)

// HintKeys lists every hint key, for front ends' tests that each has
// their wording.
var HintKeys = []HintKey{HintProbe, HintProposals, HintESPProposal, HintAuthMethod, HintAllowAuth, HintTraceAdmin, HintTraceProtocol,
	HintTracePPP, HintTraceTimeout, HintTraceReport, HintStorePassword, HintStorePSK, HintStoreL2TPSecret, HintDisconnectFirst}

// StoreHint is the key of the advice to store a missing secret.
func StoreHint(k profile.SecretKind) HintKey {
	if k == profile.SecretCertKey {
		return "" // no client has words for it yet: the Hint text says it
	}
	return HintKey("store-" + string(k))
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Info is e as plain data, for the event stream and the helper's socket.
func (e *Error) Info() *ErrorInfo {
	return &ErrorInfo{Class: e.Class, Code: e.Code(), Msg: e.Msg, Hint: e.Hint, HintKey: e.HintKey, HintArg: e.HintArg}
}

// Err is the *Error that i describes (without the technical cause, which
// does not travel).
func (i *ErrorInfo) Err() *Error {
	return &Error{Class: i.Class, Msg: i.Msg, Hint: i.Hint, HintKey: i.HintKey, HintArg: i.HintArg}
}

// AsError returns the *Error that err is or wraps, or else an internal
// error with err's text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Class: ClassInternal, Msg: err.Error(), Err: err}
}

// explain turns a stack error into an *Error.
func explain(err error, server netip.AddrPort, tr refuser) *Error {
	var (
		ne  *ike.NotifyError
		ae  *ppp.AuthError
		are *ppp.AuthRefusedError
		pce *l2tp.PeerClosedError
		te  *ppp.TerminatedError
		ce  *Error
	)
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, ike.ErrNoAnswer):
		return &Error{Class: ClassNoAnswer, Err: err,
			Msg:     fmt.Sprintf("no answer from %v to IPsec (IKE on UDP 500): the server is unreachable, filtered, or does not run L2TP/IPsec", server.Addr()),
			Hint:    "check the address, and that no firewall drops UDP ports 500 and 4500; servers also stay silent to proposals they refuse: probing the server shows which ones it accepts",
			HintKey: HintProbe, HintArg: server.Addr().String()}
	case errors.Is(err, ike.ErrServerCertUntrusted), errors.Is(err, ike.ErrServerCertExpired),
		errors.Is(err, ike.ErrServerCertInvalid), errors.Is(err, ike.ErrServerNoCert):
		return &Error{Class: ClassAuth, Err: err, Msg: strings.TrimPrefix(err.Error(), "ike: "),
			Hint: "this may not be the real server; if it is, check the CA file (--ca) with your administrator"}
	case errors.Is(err, ike.ErrServerIdentity):
		return &Error{Class: ClassAuth, Err: err, Msg: strings.TrimPrefix(err.Error(), "ike: "),
			Hint: "this may not be the real server; if it is, connect to the name its certificate carries, or give the identity it should prove (--server-id)"}
	case errors.Is(err, ike.ErrServerSignature):
		return &Error{Class: ClassAuth, Err: err, Msg: strings.TrimPrefix(err.Error(), "ike: ") + ": it does not hold that certificate's key",
			Hint: "this is not the server the certificate names; do not connect"}
	case errors.Is(err, ike.ErrCertRefused):
		return &Error{Class: ClassAuth, Err: err,
			Msg:  "the server stopped answering once we proved our certificate: it does not accept our certificate or its identity",
			Hint: "check with your administrator that the server trusts the CA of your certificate and knows its subject"}
	case errors.Is(err, ike.ErrCertConfig):
		return &Error{Class: ClassUsage, Err: err, Msg: strings.TrimPrefix(err.Error(), "ike: ")}
	case errors.Is(err, ike.ErrPSK):
		return &Error{Class: ClassAuth, Err: err,
			Msg:  "the server stopped answering once we proved the pre-shared key: the pre-shared key is probably wrong",
			Hint: "check the pre-shared key (PSK, \"shared secret\") with your administrator; it is not your password"}
	case errors.Is(err, ike.ErrPeerAuth):
		return &Error{Class: ClassAuth, Err: err,
			Msg:  "the server's proof of the pre-shared key does not match ours: the pre-shared key is wrong",
			Hint: "check the pre-shared key (PSK) with your administrator"}
	case errors.Is(err, ike.ErrAggressiveRefused):
		return &Error{Class: ClassAuth, Err: err,
			Msg:  "the server refused our group name (IKE Aggressive Mode): it does not know the group, wants it as another ID type, or does not allow Aggressive Mode",
			Hint: "check the group name and its type (FQDN, or key ID as Cisco-style gateways expect) with your administrator"}
	case errors.As(err, &ne) && ne.Type == ike.NotifyNoProposalChosen:
		msg := fmt.Sprintf("the server accepted none of the encryption settings we offered for %s", ne.Phase)
		if ne.Offer != "" {
			msg += " (" + ne.Offer + ")"
		}
		return &Error{Class: ClassProtocol, Err: err, Msg: msg,
			Hint: "ask your administrator which proposals the server accepts and set them as the profile's IKE and ESP proposals; an old server may need legacy crypto (3DES, SHA1, MODP1024)", HintKey: HintProposals}
	case errors.As(err, &ne):
		return &Error{Class: ClassProtocol, Err: err, Msg: fmt.Sprintf("IPsec %s failed: %s (%v)", ne.Phase, ne.Type.Words(), ne.Type),
			Hint: "send a verbose trace of the connection to the server's administrator", HintKey: HintTraceAdmin}
	case errors.Is(err, ike.ErrQuickMode):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: "the server set up IPsec (phase 1) but did not answer the request for the L2TP security association (quick mode)",
			Hint: "the server may refuse every ESP proposal without saying so; ask which ones it accepts, or try the ESP proposal aes128-sha1", HintKey: HintESPProposal}
	case errors.Is(err, ike.ErrNoNATT):
		return &Error{Class: ClassProtocol, Err: err, Msg: "the server does not support NAT traversal (RFC 3947), which Corridor needs to carry IPsec over UDP",
			Hint: "ask your administrator to enable NAT traversal (nat_traversal=yes / encapsulation)"}
	case errors.Is(err, ike.ErrPeerDead):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: "the connection died: the server stopped answering (IPsec dead peer detection)",
			Hint: "the network or the server went away; reconnect when it is back"}
	case errors.Is(err, ike.ErrPeerDeleted):
		return &Error{Class: ClassProtocol, Err: err, Msg: "the server closed the IPsec connection",
			Hint: "the server ended the connection; its log says why"}
	case errors.As(err, &ae):
		msg := fmt.Sprintf("authentication failed: the server rejected user %q (%v", ae.User, ae.Method)
		if ae.Detail != "" {
			msg += " " + ae.Detail
		}
		return &Error{Class: ClassAuth, Msg: msg + ")", Err: err,
			Hint: `check the user name and password; some servers want the name as DOMAIN\user or user@hub`}
	case errors.As(err, &are):
		return refusedAuth(are, err, tr != nil)
	case errors.Is(err, ppp.ErrAuthMethod):
		return &Error{Class: ClassAuth, Msg: "authentication failed: " + trimPrefix(err), Err: err,
			Hint: "allow another authentication method if your administrator says it is safe", HintKey: HintAuthMethod}
	case errors.Is(err, ppp.ErrMutualAuth):
		return &Error{Class: ClassAuth, Msg: "the server could not prove that it knows your password (MS-CHAPv2 mutual authentication failed)", Err: err,
			Hint: "this server may not be the one you meant to reach; check the address before retrying"}
	case errors.Is(err, tunnel.ErrPortUnreachable), errors.Is(err, l2tp.ErrNoAnswer):
		if errors.Is(err, tunnel.ErrPortUnreachable) || (tr != nil && tr.Refused()) {
			return &Error{Class: ClassNoAnswer, Err: err,
				Msg:  fmt.Sprintf("nothing answers L2TP at %v: the host says the UDP port is closed", server),
				Hint: "check the port and that the server has L2TP enabled"}
		}
		return &Error{Class: ClassNoAnswer, Err: err,
			Msg:  fmt.Sprintf("no answer from the server at %v (L2TP over UDP)", server),
			Hint: "check the address, that the server has L2TP enabled, and that no firewall blocks UDP port " + fmt.Sprint(server.Port())}
	case errors.Is(err, ppp.ErrEchoTimeout):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: "the connection died: the server stopped answering keepalives",
			Hint: "the network or the server went away; reconnect when it is back"}
	case errors.Is(err, ppp.ErrAuthNoAnswer):
		return &Error{Class: ClassNoAnswer, Err: err,
			Msg: fmt.Sprintf("the server did not answer our sign-in (PPP authentication), even after starting over %d times",
				tunnel.MaxSessionRestarts),
			Hint: "the server's PPP side may be down or overloaded; try again, and send a verbose trace to its administrator if it persists", HintKey: HintTracePPP}
	case errors.Is(err, ppp.ErrNoAnswer):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: "the server stopped answering during PPP negotiation: " + trimPrefix(err),
			Hint: "the server's PPP side may be down or overloaded; try again, and send a verbose trace to its administrator if it persists", HintKey: HintTracePPP}
	case errors.Is(err, l2tp.ErrTunnelAuth):
		return &Error{Class: ClassAuth, Err: err, Msg: trimPrefix(err),
			Hint: "check the L2TP tunnel secret (it is not the IPsec pre-shared key)"}
	case errors.As(err, &pce):
		return &Error{Class: ClassProtocol, Err: err, Msg: trimPrefix(err),
			Hint: "the server ended the connection; its log says why"}
	case errors.As(err, &te):
		return &Error{Class: ClassProtocol, Err: err, Msg: "the server ended the PPP link" + termWords(te),
			Hint: "the server ended the connection; its log says why"}
	case errors.Is(err, ppp.ErrBadAddress):
		return &Error{Class: ClassProtocol, Err: err, Msg: "the server gave an address no computer can use: " + badAddressWords(err),
			Hint: "the server's address pool for VPN clients is probably misconfigured; tell its administrator what this message says"}
	case errors.Is(err, ppp.ErrProtocol), errors.Is(err, l2tp.ErrProtocol):
		return &Error{Class: ClassProtocol, Err: err, Msg: "the server's reply broke the protocol: " + trimPrefix(err),
			Hint: "send a verbose trace of the connection to the server's administrator or to us", HintKey: HintTraceProtocol}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: fmt.Sprintf("gave up waiting for the server at %v: the tunnel did not come up within %v", server, connectTimeout),
			Hint: "the server answers but does not complete the connection; a verbose trace shows where it stops", HintKey: HintTraceTimeout}
	case errors.Is(err, context.Canceled):
		return &Error{Class: ClassNoAnswer, Err: err, Msg: "gave up waiting for the server",
			Hint: "the connection was cancelled before it came up"}
	}
	return &Error{Class: ClassInternal, Err: err, Msg: err.Error(), Hint: "report it with a verbose trace of the connection", HintKey: HintTraceReport}
}

// authReasons say why Corridor refuses a method unless told otherwise.
var authReasons = map[string]string{
	"PAP":          "it sends the password readable to anyone holding the pre-shared key",
	"CHAP-MD5":     "anyone holding the pre-shared key who records the exchange can try passwords offline, and the server never proves it is the real one",
	authNoneWanted: "the server would not check who you are, and you could not tell it is the real server",
}

// authNoneWanted is ppp.AuthRefusedError's Wanted for a server that asks
// for no authentication at all.
const authNoneWanted = "no authentication"

// authTokens are the methods Corridor can answer as --auth and a
// profile's auth list spell them, by the names ppp gives them.
var authTokens = map[string]string{"MS-CHAPv2": "mschapv2", "PAP": "pap", "CHAP-MD5": "chap", authNoneWanted: "none"}

// refusedAuth explains a server that insists on a method the profile
// refuses. The password was never sent. plain: the connection has no
// IPsec (explain has a plain UDP transport's refuser only then).
func refusedAuth(are *ppp.AuthRefusedError, err error, plain bool) *Error {
	token, known := authTokens[are.Wanted]
	if !known {
		return &Error{Class: ClassAuth, Err: err,
			Msg:  fmt.Sprintf("the server asked for %s, which Corridor does not support", are.Wanted),
			Hint: "ask your administrator to allow MS-CHAPv2 for L2TP clients"}
	}
	allowed := make([]string, 0, len(are.Allowed)+1)
	// Corridor's default (ppp's, and a profile's): MS-CHAPv2 only.
	isDefault := len(are.Allowed) == 1 && are.Allowed[0] == ppp.AuthMSCHAPv2
	for _, m := range are.Allowed {
		if t := authTokens[m.String()]; t != "" && m != ppp.AuthNone {
			allowed = append(allowed, t)
		}
	}
	arg := strings.Join(append(allowed, token), ",")
	if token == "none" {
		arg = "none" // a server that asks for nothing uses no method anyway
	}
	wanted := are.Wanted
	if token == "none" {
		wanted = "no authentication at all"
	}
	msg := fmt.Sprintf("the server asked for %s, which Corridor does not allow by default", wanted)
	if !isDefault {
		words := make([]string, len(are.Allowed))
		for i, m := range are.Allowed {
			words[i] = m.String()
		}
		msg = fmt.Sprintf("the server asked for %s, which this connection does not allow (it allows %s)", wanted, strings.Join(words, ", "))
	}
	if r := authReasons[are.Wanted]; plain && are.Wanted == "PAP" {
		msg += " (it sends the password readable to anyone on the network path: this connection has no IPsec)"
	} else if r != "" {
		msg += " (" + r + ")"
	}
	return &Error{Class: ClassAuth, Err: err, Msg: msg,
		Hint:    "if you trust this server, allow " + token + " in the profile's authentication methods",
		HintKey: HintAllowAuth, HintArg: arg}
}

// badAddressWords is the detail of a ppp.ErrBadAddress: which address
// and what is wrong with it ("the server assigned 127.0.0.1, a loopback
// address").
func badAddressWords(err error) string {
	s := strings.TrimSuffix(err.Error(), ": "+ppp.ErrBadAddress.Error())
	s = trimPrefix(errors.New(s))
	s = strings.TrimPrefix(s, "ipcp: ")
	if s == "" || s == ppp.ErrBadAddress.Error() {
		return "unusable IPv4 address"
	}
	return s
}

func termWords(te *ppp.TerminatedError) string {
	if te.Message == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", te.Message)
}

// refuser reports ICMP port unreachables seen by a plain UDP transport.
type refuser interface{ Refused() bool }

// trimPrefix drops a leading "pkg: " from a wrapped error's text.
func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"ppp: ", "l2tp: ", "ike: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

// aggressiveHint adds to e what differs with IKE Aggressive Mode: the
// group name selects the pre-shared key, and servers stay silent to a
// group name they do not know.
func aggressiveHint(e *Error) *Error {
	switch {
	case errors.Is(e.Err, ike.ErrNoAnswer):
		e.Hint += "; with Aggressive Mode, servers also stay silent to a group name they do not know: check the group name and its type"
	case errors.Is(e.Err, ike.ErrPeerAuth):
		e.Hint += "; with Aggressive Mode, also check the group name: it selects the key at the server"
	case errors.Is(e.Err, ike.ErrQuickMode):
		// Aggressive Mode's last message has no answer: the server may
		// have refused it without a word.
		e.Hint += "; with Aggressive Mode the server never confirms phase 1: it may also have refused our last message, or want XAUTH (a user name and password inside IKE), which Corridor does not support"
	}
	return e
}
