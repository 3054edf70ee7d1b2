package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
)

// TestManagerSessionOwnership: a session belongs to the user who started
// it. Another user sees that it exists and its state, nothing more, gets
// no progress, log or statistics events of it, and cannot take it down
// (named: refused; "down" with no name: only the caller's own); root can.
func TestManagerSessionOwnership(t *testing.T) {
	h := newHarness(t, connects(newFakeLink()), connects(newFakeLink()))
	alice := WithCaller(context.Background(), Caller{UID: 1001})
	bob := WithCaller(context.Background(), Caller{UID: 1002})
	root := WithCaller(context.Background(), Caller{UID: 0, Admin: true})

	bctx, bcancel := context.WithCancel(bob)
	defer bcancel()
	bobEvents, _ := h.m.Subscribe(bctx)

	req := UpRequest{Profile: testProfile(), Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw"}}
	if err := h.m.Up(alice, req); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)

	// What bob saw: only state changes, redacted.
	deadline := time.After(2 * time.Second)
	sawConnected := false
	for !sawConnected {
		select {
		case ev := <-bobEvents:
			if ev.Kind != EventState {
				t.Errorf("bob got a %s event of alice's session: %+v", ev.Kind, ev)
			}
			if !ev.Status.OtherUser || ev.Status.Detail != "" || ev.Status.Address != "" || ev.Line != "" {
				t.Errorf("bob's event shows details: %+v", ev)
			}
			sawConnected = ev.Status.State == StateConnected
		case <-deadline:
			t.Fatal("bob never saw alice's session connect")
		}
	}

	st, _ := h.m.Status(bob)
	if len(st) != 1 || st[0].State != StateConnected || !st[0].OtherUser || st[0].Address != "" || st[0].Interface != "" || st[0].Detail != "" {
		t.Errorf("bob's status %+v, want only that it exists and is connected", st)
	}
	st, _ = h.m.Status(alice)
	if len(st) != 1 || st[0].OtherUser || st[0].Interface == "" {
		t.Errorf("alice's status %+v, want her session in full", st)
	}

	ctx, cancel := context.WithTimeout(bob, 2*time.Second)
	defer cancel()
	err := h.m.Down(ctx, "work")
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrNotOwner) || ce.Class != ClassUsage {
		t.Errorf("bob's down work: %v, want a usage error (not the owner)", err)
	}
	if err := h.m.Down(ctx, ""); err != nil {
		t.Errorf("bob's down (all of his): %v", err)
	}
	if st, _ := h.m.Status(alice); st[0].State != StateConnected {
		t.Fatalf("alice's session is %s after bob's downs, want connected", st[0].State)
	}

	// Root may.
	rctx, rcancel := context.WithTimeout(root, 5*time.Second)
	defer rcancel()
	if err := h.m.Down(rctx, "work"); err != nil {
		t.Fatalf("root's down: %v", err)
	}
	if st, _ := h.m.Status(alice); st[0].State != StateIdle {
		t.Errorf("after root's down: %s", st[0].State)
	}

	// And alice may take down her own, also with no name.
	if err := h.m.Up(alice, req); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)
	actx, acancel := context.WithTimeout(alice, 5*time.Second)
	defer acancel()
	if err := h.m.Down(actx, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.m.Status(alice); st[0].State != StateIdle {
		t.Errorf("after alice's down: %s", st[0].State)
	}
}

// TestManagerWipesSecrets: the session's copy of the secrets is
// overwritten when it ends for good, and the caller's map is not touched.
func TestManagerWipesSecrets(t *testing.T) {
	h := newHarness(t, connects(newFakeLink()))
	h.stack.upCalls = make(chan UpRequest, 1)
	mine := map[profile.SecretKind]string{profile.SecretPassword: "hunter2-password"}
	if err := h.m.Up(context.Background(), UpRequest{Profile: testProfile(), Secrets: mine}); err != nil {
		t.Fatal(err)
	}
	got := <-h.stack.upCalls
	pw := got.Secrets[profile.SecretPassword]
	if pw != "hunter2-password" {
		t.Fatalf("the stack got %q", pw)
	}
	h.waitState(StateConnected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.m.Down(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if pw != string(make([]byte, len("hunter2-password"))) {
		t.Errorf("the session's password after down: %q, want zeros", pw)
	}
	if len(got.Secrets) != 0 {
		t.Errorf("the session's secrets after down: %d left", len(got.Secrets))
	}
	if mine[profile.SecretPassword] != "hunter2-password" {
		t.Errorf("the caller's map was changed")
	}
}

// TestCallerSameUser: uids decide between unix callers, SIDs between
// Windows callers (whose uids are all 0), and the two kinds never match.
func TestCallerSameUser(t *testing.T) {
	const alice, bob = "S-1-5-21-1004336348-1177238915-682003330-1001", "S-1-5-21-1004336348-1177238915-682003330-1002"
	for _, tc := range []struct {
		a, b Caller
		want bool
	}{
		{Caller{UID: 1001}, Caller{UID: 1001}, true},
		{Caller{UID: 1001}, Caller{UID: 1002}, false},
		{Caller{UID: 0}, Caller{UID: 0, Admin: true}, true},
		{Caller{SID: alice}, Caller{SID: alice}, true},
		{Caller{SID: alice}, Caller{SID: bob}, false}, // both uid 0: the SIDs decide
		{Caller{SID: alice}, Caller{UID: 0}, false},
		{Caller{UID: 0}, Caller{SID: alice}, false},
		{Caller{UID: 7, SID: alice}, Caller{UID: 8, SID: alice}, true},
	} {
		if got := tc.a.SameUser(tc.b); got != tc.want {
			t.Errorf("%+v.SameUser(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestManagerSessionOwnershipBySID: on Windows the helper knows callers
// by SID (their uids are all 0): a session is its starter's, another
// SID sees it redacted and cannot take it down, an admin can.
func TestManagerSessionOwnershipBySID(t *testing.T) {
	h := newHarness(t, connects(newFakeLink()))
	alice := WithCaller(context.Background(), Caller{SID: "S-1-5-21-1-2-3-1001"})
	bob := WithCaller(context.Background(), Caller{SID: "S-1-5-21-1-2-3-1002"})
	system := WithCaller(context.Background(), Caller{SID: "S-1-5-18", Admin: true})

	req := UpRequest{Profile: testProfile(), Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw"}}
	if err := h.m.Up(alice, req); err != nil {
		t.Fatal(err)
	}
	h.waitState(StateConnected)

	if st, _ := h.m.Status(bob); len(st) != 1 || !st[0].OtherUser || st[0].Interface != "" {
		t.Errorf("bob's status %+v, want alice's session redacted", st)
	}
	if st, _ := h.m.Status(alice); len(st) != 1 || st[0].OtherUser || st[0].Interface == "" {
		t.Errorf("alice's status %+v, want her session in full", st)
	}
	ctx, cancel := context.WithTimeout(bob, 2*time.Second)
	defer cancel()
	if err := h.m.Down(ctx, "work"); !errors.Is(err, ErrNotOwner) {
		t.Errorf("bob's down work: %v, want not the owner", err)
	}
	if st, _ := h.m.Status(alice); st[0].State != StateConnected {
		t.Fatalf("alice's session is %s after bob's down, want connected", st[0].State)
	}
	sctx, scancel := context.WithTimeout(system, 5*time.Second)
	defer scancel()
	if err := h.m.Down(sctx, "work"); err != nil {
		t.Fatalf("SYSTEM's down: %v", err)
	}
	if st, _ := h.m.Status(alice); st[0].State != StateIdle {
		t.Errorf("after SYSTEM's down: %s", st[0].State)
	}
}
