package ppp

import (
	"errors"
	"fmt"
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
	// ErrClosed: the link was closed locally.
	ErrClosed = errors.New("ppp: link closed")

	errUnknownCode = errors.New("ppp: unknown code")
)

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
