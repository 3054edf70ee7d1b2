package ppp

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a Link reports; match them with errors.Is / errors.As.
var (
	// ErrNoAnswer: a control protocol sent Max-Configure requests without
	// an answer (RFC 1661 4.6).
	ErrNoAnswer = errors.New("ppp: no answer from the peer")
	// ErrProtocol: the peer broke the protocol in a way we cannot go on from.
	ErrProtocol = errors.New("ppp: protocol error")
	// ErrAuthFailed: the server rejected our credentials.
	ErrAuthFailed = errors.New("ppp: authentication failed")
	// ErrAuthMethod: the server offered no method the user allowed.
	ErrAuthMethod = errors.New("ppp: no acceptable authentication method")
	// ErrMutualAuth: the server failed to prove it knows the password
	// (MS-CHAPv2 authenticator response, RFC 2759 section 5).
	ErrMutualAuth = errors.New("ppp: server failed mutual authentication")
	// ErrEchoTimeout: LCP echo requests went unanswered.
	ErrEchoTimeout = errors.New("ppp: peer stopped answering LCP echo requests")
	// ErrAuthNoAnswer: our CHAP or MS-CHAPv2 Response got neither Success
	// nor Failure: the answer was lost (the server went on to IPCP, or
	// ignored our resends). It wraps ErrNoAnswer. The link ends at once
	// with one LCP Terminate-Request and no wait for its Ack; a fresh
	// L2TP session and Link may well succeed.
	ErrAuthNoAnswer error = &wrapped{"ppp: the server did not answer our authentication", ErrNoAnswer}
	// ErrStalled: the peer should have spoken and has not (see
	// Config.StallWait); returned only when Config.RestartOnStall is set.
	// It wraps ErrNoAnswer. The link ends at once, as for ErrAuthNoAnswer.
	ErrStalled error = &wrapped{"ppp: the server stopped short during link setup", ErrNoAnswer}
	// ErrBadAddress: IPCP ended with an address no host can use (RFC 6890
	// special-purpose addresses: loopback, multicast, broadcast,
	// link-local, unspecified). It wraps ErrProtocol.
	ErrBadAddress error = &wrapped{"ppp: unusable IPv4 address", ErrProtocol}
	// ErrClosed: the link was closed locally.
	ErrClosed = errors.New("ppp: link closed")

	errUnknownCode = errors.New("ppp: unknown code")
)

// wrapped is a sentinel error that also matches a more general one.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// TerminatedError reports that the peer sent a Terminate-Request.
type TerminatedError struct {
	Proto   Protocol
	Message string // the Terminate-Request's data, often a reason text
}

func (e *TerminatedError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("ppp: peer terminated %v: %q", e.Proto, e.Message)
	}
	return fmt.Sprintf("ppp: peer terminated %v", e.Proto)
}

// AuthError details an authentication failure; it wraps ErrAuthFailed.
type AuthError struct {
	Method AuthMethod
	User   string
	Detail string // e.g. "E=691" with the server's words
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("ppp: authentication failed: the server rejected user %q (%v", e.User, e.Method)
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s + ")"
}

func (e *AuthError) Unwrap() error { return ErrAuthFailed }

// AuthRefusedError reports that the server asked for an authentication
// method the profile does not allow (or for no authentication at all when
// the profile requires one), and would not move to an allowed one. It
// wraps ErrAuthMethod; it is not an *AuthError: the password was never
// tried.
type AuthRefusedError struct {
	// Wanted is the server's request in words: "PAP", "CHAP-MD5", "EAP",
	// "no authentication", ...
	Wanted  string
	Allowed []AuthMethod // the profile's methods, most preferred first
}

func (e *AuthRefusedError) Error() string {
	allowed := make([]string, len(e.Allowed))
	for i, m := range e.Allowed {
		allowed[i] = m.String()
	}
	return fmt.Sprintf("ppp: the server asked for %s, which is not allowed (allowed: %s)",
		e.Wanted, strings.Join(allowed, ", "))
}

func (e *AuthRefusedError) Unwrap() error { return ErrAuthMethod }
