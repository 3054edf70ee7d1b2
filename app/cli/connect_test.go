package cli

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel/ppp"
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

// --auth none and --no-ipsec connect, with a warning line each on
// stderr; the default --auth is MS-CHAPv2 only.
func TestConnectWarnings(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--psk-file", "f"}, nil},
		{[]string{"--psk-file", "f", "--auth", "mschapv2,none"}, []string{"--auth none: the server will not check who you are and you cannot tell it is the real server; anyone with the pre-shared key can pose as it"}},
		{[]string{"--no-ipsec"}, []string{"--no-ipsec: " + profile.PlainL2TPWarning}},
		{[]string{"--no-ipsec", "--auth", "pap"}, []string{"--no-ipsec: " + profile.PlainL2TPWarning}},
		{[]string{"--no-ipsec", "--auth", "none"}, []string{"--no-ipsec: " + profile.PlainL2TPWarning, "--auth none: the server will not check who you are"}},
	}
	for _, c := range cases {
		fs, f := newConnectFlags(io.Discard)
		if err := fs.Parse(append(c.args, "--user", "alice")); err != nil {
			t.Fatal(err)
		}
		got := f.warnings()
		if len(got) != len(c.want) {
			t.Errorf("%v: warnings %q, want %q", c.args, got, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%v: warning %q, want %q", c.args, got[i], c.want[i])
			}
		}
		if _, err := f.config("vpn.example.com", map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"}); err != nil {
			t.Errorf("%v: %v", c.args, err)
		}
	}
	if !strings.Contains(profile.PlainL2TPWarning, "password and all traffic cross the network unencrypted") {
		t.Errorf("warning %q", profile.PlainL2TPWarning)
	}
	fs, f := newConnectFlags(io.Discard)
	if err := fs.Parse([]string{"--psk-file", "f"}); err != nil || f.auth != "mschapv2" {
		t.Errorf("default --auth %q, %v", f.auth, err)
	}
	cfg, err := f.config("vpn.example.com", map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"})
	if err != nil || !reflect.DeepEqual(cfg.Auth, []ppp.AuthMethod{ppp.AuthMSCHAPv2}) {
		t.Errorf("default auth %v, %v", cfg.Auth, err)
	}
}

// --ipv6 (experimental) turns IPV6CP on; without it the connection is as
// before.
func TestConnectIPv6Flag(t *testing.T) {
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw"}
	for _, ipv6 := range []bool{false, true} {
		fs, f := newConnectFlags(io.Discard)
		args := []string{"--no-ipsec", "--user", "a"}
		if ipv6 {
			args = append(args, "--ipv6")
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.config("10.0.0.1", secrets)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.IPv6 != ipv6 {
			t.Errorf("%v: IPv6 = %v", args, cfg.IPv6)
		}
	}
}
