package profile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func TestKeyringSecretsMock(t *testing.T) {
	keyring.MockInit()
	sec := NewKeyring()
	if _, err := sec.Get("work", SecretPSK); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Get absent = %v", err)
	}
	if err := sec.Delete("work", SecretPSK); err != nil {
		t.Errorf("Delete absent = %v", err)
	}
	if err := sec.Set("work", SecretPSK, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := sec.Set("work", SecretPassword, "p1"); err != nil {
		t.Fatal(err)
	}
	if v, err := sec.Get("work", SecretPSK); err != nil || v != "k1" {
		t.Errorf("Get = %q %v", v, err)
	}
	// Keyed by profile and kind: service "corridor", account "work/psk".
	if v, err := keyring.Get(KeyringService, "work/psk"); err != nil || v != "k1" {
		t.Errorf("raw entry = %q %v", v, err)
	}
	if _, err := sec.Get("other", SecretPSK); !errors.Is(err, ErrNoSecret) {
		t.Errorf("other profile = %v", err)
	}
	// An empty value deletes.
	if err := sec.Set("work", SecretPSK, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Get("work", SecretPSK); !errors.Is(err, ErrNoSecret) {
		t.Errorf("after empty Set = %v", err)
	}
	if err := sec.Delete("work", SecretPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.Get("work", SecretPassword); !errors.Is(err, ErrNoSecret) {
		t.Errorf("after Delete = %v", err)
	}
	// Bad keys never reach the keychain.
	if err := sec.Set("a/b", SecretPSK, "x"); err == nil {
		t.Error("bad profile name accepted")
	}
	if err := sec.Set("work", "token", "x"); err == nil {
		t.Error("bad kind accepted")
	}
}

func TestKeyringNoKeychain(t *testing.T) {
	const value = "Top-Secret-Value"
	keyring.MockInitWithError(errors.New("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files"))
	defer keyring.MockInit()
	sec := NewKeyring()
	errs := []error{sec.Set("work", SecretPSK, value)}
	_, err := sec.Get("work", SecretPSK)
	errs = append(errs, err, sec.Delete("work", SecretPSK))
	for _, err := range errs {
		if !errors.Is(err, ErrNoKeychain) {
			t.Errorf("%v does not wrap ErrNoKeychain", err)
			continue
		}
		msg := err.Error()
		for _, want := range []string{"no OS keychain is available", "does not store secrets in files", `profile "work"`, "ServiceUnknown"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, value) {
			t.Errorf("the secret is in the error: %s", msg)
		}
	}
	// Even a backend whose error echoed the value would not leak it.
	keyring.MockInitWithError(errors.New("backend failed storing " + value))
	if err := sec.Set("work", SecretPSK, value); !errors.Is(err, ErrNoKeychain) || strings.Contains(err.Error(), value) {
		t.Errorf("echoing backend: %v", err)
	}
	keyring.MockInitWithError(keyring.ErrSetDataTooBig)
	if err := sec.Set("work", SecretPSK, value); !errors.Is(err, ErrSecretTooLong) || errors.Is(err, ErrNoKeychain) {
		t.Errorf("too big = %v", err)
	}
}

func TestKeyringTimeout(t *testing.T) {
	k := &keyringSecrets{timeout: 20 * time.Millisecond}
	block := make(chan struct{})
	defer close(block)
	err := k.call(func() error { <-block; return nil })
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("call = %v", err)
	}
}

const realKeyringEnv = "CORRIDOR_TEST_REAL_KEYRING"

// TestRealKeyring stores, reads, moves and deletes secrets in a real
// Secret Service: gnome-keyring on a private D-Bus session bus, with HOME
// and the XDG folders in a temp folder so that no real keyring is touched.
// The test binary runs itself again inside `dbus-run-session`.
func TestRealKeyring(t *testing.T) {
	if os.Getenv(realKeyringEnv) == "1" {
		realKeyringChild(t)
		return
	}
	if testing.Short() {
		t.Skip("-short")
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install the Debian/Ubuntu packages gnome-keyring and dbus-daemon (apt-get install --no-install-recommends gnome-keyring dbus-daemon) to run this test", tool)
		}
	}
	home := t.TempDir()
	for _, d := range []string{"config", "data", "cache", "run"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dbus-run-session", "--", "sh", "-c",
		`printf pw | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null && exec "$0" "$@"`,
		os.Args[0], "-test.run", "^TestRealKeyring$", "-test.count=1", "-test.v")
	var env []string
	for _, e := range os.Environ() {
		switch k, _, _ := strings.Cut(e, "="); k {
		case "DBUS_SESSION_BUS_ADDRESS", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
			"GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK", realKeyringEnv:
			continue
		}
		env = append(env, e)
	}
	cmd.Env = append(env, "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
		realKeyringEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRealKeyring") {
		t.Fatalf("real keyring run: %v\n%s", err, out)
	}
	t.Logf("gnome-keyring on a private session bus:\n%s", out)
}

func realKeyringChild(t *testing.T) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("no session bus in the child")
	}
	sec := NewKeyring()
	const psk, pw = "real PSK ünïcode \\ \"q\"", "real password; with = signs"
	if err := sec.Set("real test", SecretPSK, psk); err != nil {
		t.Fatal(err)
	}
	if err := sec.Set("real test", SecretPassword, pw); err != nil {
		t.Fatal(err)
	}
	if v, err := sec.Get("real test", SecretPSK); err != nil || v != psk {
		t.Fatalf("Get psk = %q, %v", v, err)
	}
	if v, err := sec.Get("real test", SecretPassword); err != nil || v != pw {
		t.Fatalf("Get password = %q, %v", v, err)
	}
	if _, err := sec.Get("real test", SecretL2TP); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("Get absent = %v", err)
	}
	// Overwrite, not duplicate.
	if err := sec.Set("real test", SecretPSK, "second"); err != nil {
		t.Fatal(err)
	}
	if v, _ := sec.Get("real test", SecretPSK); v != "second" {
		t.Fatalf("after overwrite %q", v)
	}

	// Through a store: rename moves and delete removes for real.
	s, err := OpenStore(filepath.Join(t.TempDir(), "corridor"), sec)
	if err != nil {
		t.Fatal(err)
	}
	p := NewProfile("real test")
	p.Server, p.User = "vpn.example.com", "alice"
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("real test", "renamed"); err != nil {
		t.Fatal(err)
	}
	if v, err := sec.Get("renamed", SecretPassword); err != nil || v != pw {
		t.Fatalf("after rename: %q %v", v, err)
	}
	if _, err := sec.Get("real test", SecretPassword); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("old name after rename: %v", err)
	}
	if err := s.Delete("renamed"); err != nil {
		t.Fatal(err)
	}
	for _, k := range SecretKinds {
		if _, err := sec.Get("renamed", k); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("%s after delete: %v", k, err)
		}
	}
	if err := sec.Delete("renamed", SecretPSK); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
}
