package cli

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/zalando/go-keyring"
)

// upEngine is statusEngine that keeps the UpRequests it gets.
type upEngine struct {
	statusEngine
	mu  sync.Mutex
	ups []core.UpRequest
}

func (e *upEngine) Up(_ context.Context, req core.UpRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	// The helper wipes its copy of the secrets after Up: keep our own.
	// (it zeroes the strings' bytes, so copy those too).
	cp := map[profile.SecretKind]string{}
	for k, v := range req.Secrets {
		cp[k] = strings.Clone(v)
	}
	req.Secrets = cp
	e.ups = append(e.ups, req)
	return nil
}

func (e *upEngine) requests() []core.UpRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]core.UpRequest(nil), e.ups...)
}

// serveUp serves e on a helper socket, like serveStatus.
func serveUp(t *testing.T, e core.Engine) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the helper's peer credentials are only implemented on Linux")
	}
	path := filepath.Join(t.TempDir(), "h.sock")
	s := &daemon.Server{Engine: e, Allow: func(uint32, uint32) bool { return true }}
	if err := s.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

// profile add --ask-password saves a profile that asks, with only the PSK
// in the keychain; up reads the password from --password-file - into the
// UpRequest; without a file and without a terminal, up is a usage error.
func TestUpAskPassword(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	code, out, errs := run(t, "psk-Kq3\n", "profile", "add", "office", "--server", "vpn.example.com",
		"--user", "alice", "--ask-password", "--psk-file", "-")
	if code != ExitOK {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "(psk stored in the keychain)") {
		t.Errorf("add: %q", out)
	}
	sec := profile.NewKeyring()
	if _, err := sec.Get("office", profile.SecretPassword); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("a password is stored: %v", err)
	}
	_, out, _ = run(t, "", "profile", "show", "office")
	if !strings.Contains(out, "ask_password = true") || !strings.Contains(out, "# password: asked at each connect") {
		t.Errorf("show:\n%s", out)
	}

	eng := &upEngine{}
	sock := serveUp(t, eng)

	// Not a terminal, no file: plain words, exit 2, nothing sent.
	code, _, errs = run(t, "", "up", "office", "--socket", sock, "--wait", "0")
	if code != ExitUsage || !strings.Contains(errs, "asks for its password at each connect") ||
		!strings.Contains(errs, "--password-file") {
		t.Errorf("up without a terminal: exit %d, stderr %q", code, errs)
	}
	if n := len(eng.requests()); n != 0 {
		t.Errorf("%d UpRequests without a password", n)
	}

	code, out, errs = run(t, "pw-typed-7\n", "up", "office", "--socket", sock, "--wait", "0", "--password-file", "-")
	if code != ExitOK {
		t.Fatalf("up --password-file -: exit %d: %s", code, errs)
	}
	if strings.Contains(out+errs, "pw-typed-7") {
		t.Error("the password shows in the output")
	}
	ups := eng.requests()
	if len(ups) != 1 {
		t.Fatalf("%d UpRequests", len(ups))
	}
	if got := ups[0].Secrets; got[profile.SecretPassword] != "pw-typed-7" || got[profile.SecretPSK] != "psk-Kq3" {
		t.Errorf("UpRequest secrets: password %q, psk %q", got[profile.SecretPassword], got[profile.SecretPSK])
	}
	if _, err := sec.Get("office", profile.SecretPassword); !errors.Is(err, profile.ErrNoSecret) {
		t.Errorf("the typed password was stored: %v", err)
	}

	// --ask-password with --password-file: they exclude each other.
	code, _, errs = run(t, "x\n", "profile", "edit", "office", "--password-file", "-")
	if code != ExitUsage || !strings.Contains(errs, "exclude each other") {
		t.Errorf("edit --password-file on an asking profile: exit %d, %q", code, errs)
	}
	// edit --ask-password=false --password-file: back to the keychain.
	code, _, errs = run(t, "pw-stored\n", "profile", "edit", "office", "--ask-password=false", "--password-file", "-")
	if code != ExitOK {
		t.Fatalf("edit back: exit %d: %s", code, errs)
	}
	if v, err := sec.Get("office", profile.SecretPassword); v != "pw-stored" || err != nil {
		t.Errorf("stored password %q, %v", v, err)
	}
}

// On a machine with no keychain, a profile that asks for both secrets is
// saved, and profile show reports no keychain error for the L2TP secret
// it does not use.
func TestShowWithoutKeychain(t *testing.T) {
	keyring.MockInitWithError(errors.New("no OS keychain is available"))
	t.Cleanup(keyring.MockInit)
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	if code, _, errs := run(t, "", "profile", "add", "office", "--server", "vpn.example.com",
		"--user", "alice", "--ask-password", "--ask-psk"); code != ExitOK {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	_, out, _ := run(t, "", "profile", "show", "office")
	if strings.Contains(out, "keychain error") || !strings.Contains(out, "# l2tp-secret: not used by this profile") ||
		!strings.Contains(out, "# psk: asked at each connect") {
		t.Errorf("show:\n%s", out)
	}
}
