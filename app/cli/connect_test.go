package cli

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// corridor connect with default flags connects as a saved profile with
// default fields does: one place for the defaults.
func TestConnectDefaultsAreTheProfiles(t *testing.T) {
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"}
	for _, args := range [][]string{{"--psk-file", "f"}, {"--psk-file", "f", "--legacy-crypto"}, {"--no-ipsec"}} {
		fs, f := newConnectFlags(io.Discard)
		if err := fs.Parse(append(args, "--user", "alice")); err != nil {
			t.Fatal(err)
		}
		got, err := f.config("vpn.example.com", secrets)
		if err != nil {
			t.Fatal(err)
		}
		p := profile.NewProfile("office")
		p.Server, p.User, p.IPsec, p.LegacyCrypto = "vpn.example.com", "alice", !f.noIPsec, f.legacy
		want, err := core.ConnectConfigFor(p, secrets)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v:\nconnect %+v\nprofile %+v", args, got, want)
		}
		if got.EchoInterval != 5*time.Second || got.EchoFailures != 5 {
			t.Errorf("%v: keepalive %v x %d, want 5s x 5", args, got.EchoInterval, got.EchoFailures)
		}
	}
}

func TestConnectKeepaliveFlags(t *testing.T) {
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw"}
	fs, f := newConnectFlags(io.Discard)
	if err := fs.Parse([]string{"--no-ipsec", "--user", "a", "--keepalive", "0", "--keepalive-failures", "2"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config("10.0.0.1:1702", secrets)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EchoInterval >= 0 || cfg.EchoFailures != 2 || cfg.Server != "10.0.0.1:1702" {
		t.Errorf("keepalive %v x %d, server %q", cfg.EchoInterval, cfg.EchoFailures, cfg.Server)
	}
}
