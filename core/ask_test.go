package core

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
)

// refusingKeychain is a machine without a keychain: every call fails
// with ErrNoKeychain.
type refusingKeychain struct{}

func (refusingKeychain) Get(string, profile.SecretKind) (string, error) {
	return "", profile.ErrNoKeychain
}
func (refusingKeychain) Set(string, profile.SecretKind, string) error { return profile.ErrNoKeychain }
func (refusingKeychain) Delete(string, profile.SecretKind) error      { return profile.ErrNoKeychain }

// upRecorder is an Engine that keeps the UpRequests.
type upRecorder struct {
	mu  sync.Mutex
	ups []UpRequest
}

func (e *upRecorder) Up(_ context.Context, req UpRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ups = append(e.ups, req)
	return nil
}
func (e *upRecorder) Down(context.Context, string) error       { return nil }
func (e *upRecorder) Status(context.Context) ([]Status, error) { return nil, nil }
func (e *upRecorder) Subscribe(ctx context.Context) (<-chan Event, error) {
	ch := make(chan Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// A profile that asks for its password and PSK saves and connects on a
// machine without a keychain: the typed secrets go to the engine, and
// nothing is asked of the keychain.
func TestServiceAskProfileWithoutKeychain(t *testing.T) {
	st, err := profile.OpenStore(filepath.Join(t.TempDir(), "corridor"), refusingKeychain{})
	if err != nil {
		t.Fatal(err)
	}
	eng := &upRecorder{}
	svc := NewService(st, eng)
	p := profile.NewProfile("work")
	p.Server, p.User = "vpn.example.com", "alice"
	p.AskPassword, p.AskPSK = true, true
	// Typed-in secrets handed to SaveProfile are not stored either.
	if err := svc.SaveProfile(p, map[profile.SecretKind]string{profile.SecretPassword: "not-stored"}); err != nil {
		t.Fatalf("SaveProfile = %v", err)
	}
	// The same profile without asking still needs the keychain.
	q := p
	q.Name, q.AskPassword, q.AskPSK = "stored", false, false
	if err := svc.SaveProfile(q, map[profile.SecretKind]string{profile.SecretPassword: "pw"}); !errors.Is(err, profile.ErrNoKeychain) {
		t.Errorf("SaveProfile without asking = %v, want ErrNoKeychain", err)
	}

	ctx := context.Background()
	err = svc.Connect(ctx, "work")
	var ce *Error
	if !errors.As(err, &ce) || ce.Class != ClassUsage || !errors.Is(err, profile.ErrNoSecret) {
		t.Fatalf("Connect without typed secrets = %v", err)
	}
	typed := map[profile.SecretKind]string{profile.SecretPassword: "typed-pw", profile.SecretPSK: "typed-psk"}
	if err := svc.ConnectWith(ctx, "work", typed); err != nil {
		t.Fatalf("ConnectWith = %v", err)
	}
	if len(eng.ups) != 1 {
		t.Fatalf("%d UpRequests", len(eng.ups))
	}
	got := eng.ups[0].Secrets
	if got[profile.SecretPassword] != "typed-pw" || got[profile.SecretPSK] != "typed-psk" || len(got) != 2 {
		t.Errorf("UpRequest secrets = %v", got)
	}
}
