package core

import (
	"context"
	"unsafe"

	"github.com/corridorvpn/corridor/core/profile"
)

// Caller is the user a request to the Manager comes from: the helper
// learns the uid from the socket's peer credentials on unix, and the
// user's SID from the named pipe's client process on Windows
// (core/daemon). A session belongs to the caller who started it. Another
// caller may see that it exists and its state, but not its details or
// log lines, and may not take it down; an admin (root; on Windows SYSTEM
// or an elevated member of Administrators) may.
type Caller struct {
	UID uint32
	// SID is the Windows security identifier of the user ("S-1-5-21-…"),
	// or "" on unix. A caller with a SID is known by it alone: its UID
	// means nothing (it is 0).
	SID   string
	Admin bool
}

// SameUser reports whether c and o are the same user: the same SID when
// either has one (Windows), else the same uid (unix). A caller with a
// SID is never the same user as one without.
func (c Caller) SameUser(o Caller) bool {
	if c.SID != "" || o.SID != "" {
		return c.SID == o.SID
	}
	return c.UID == o.UID
}

type callerKey struct{}

// WithCaller returns ctx carrying c; the Manager's methods read it.
// Without one (the in-process front ends, tests) a request has every
// right, as the process has.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the caller of ctx, or nil for an unrestricted one.
func callerFrom(ctx context.Context) *Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return &c
	}
	return nil
}

// mayControl: whether caller c may see the details of, and take down, a
// session started by owner (nil: started in process).
func mayControl(c, owner *Caller) bool {
	return c == nil || c.Admin || (owner != nil && owner.SameUser(*c))
}

// redacted is what a caller who does not own a session sees of it: that
// it exists, and its state.
func redacted(st Status) Status {
	return Status{Profile: st.Profile, State: st.State, Since: st.Since, Connected: st.Connected,
		Attempt: st.Attempt, NextTry: st.NextTry, OtherUser: true}
}

// cloneSecrets copies the secrets into memory the Manager owns, so that
// WipeSecrets can overwrite them when the session ends for good whatever
// the caller's strings were (literals live in read-only memory).
func cloneSecrets(in map[profile.SecretKind]string) map[profile.SecretKind]string {
	out := make(map[profile.SecretKind]string, len(in))
	for k, v := range in {
		b := make([]byte, len(v))
		copy(b, v)
		out[k] = unsafe.String(unsafe.SliceData(b), len(b))
	}
	return out
}

// WipeSecrets overwrites and forgets secrets made by cloneSecrets (or
// decoded from JSON: heap memory): nothing of them stays in the helper's
// memory once their session has ended. No goroutine may use them after.
func WipeSecrets(m map[profile.SecretKind]string) {
	for k, v := range m {
		WipeString(v)
		delete(m, k)
	}
}

// WipeString overwrites the bytes of s with zeros. s must be heap memory
// the caller owns (made from a []byte, decoded from JSON), never a
// literal, and unused afterwards.
func WipeString(s string) {
	if len(s) == 0 {
		return
	}
	clear(unsafe.Slice(unsafe.StringData(s), len(s)))
}
