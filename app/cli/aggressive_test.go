package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/zalando/go-keyring"
)

// corridor connect --aggressive --group NAME [--group-type keyid] asks
// IKE for Aggressive Mode with that identity, with a warning; the flags
// are refused where they make no sense.
func TestConnectAggressiveFlags(t *testing.T) {
	secrets := map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"}
	for _, c := range []struct {
		args     []string
		wantType uint8
	}{
		{[]string{"--aggressive", "--group", "vpn-users"}, ike.IDFQDN},
		{[]string{"--aggressive", "--group", "vpn-users", "--group-type", "keyid"}, ike.IDKeyID},
	} {
		fs, f := newConnectFlags(io.Discard)
		if err := fs.Parse(append(c.args, "--psk-file", "f", "--user", "alice")); err != nil {
			t.Fatal(err)
		}
		cfg, err := f.config("vpn.example.com", secrets)
		if err != nil {
			t.Fatal(err)
		}
		if ic := cfg.IPsec; !ic.Aggressive || ic.GroupID != "vpn-users" || ic.GroupIDType != c.wantType {
			t.Errorf("%v: IPsec config %+v", c.args, ic)
		}
		w := f.warnings()
		if len(w) != 1 || w[0] != "--aggressive: "+profile.AggressiveWarning {
			t.Errorf("%v: warnings %q", c.args, w)
		}
	}
	if !strings.Contains(profile.AggressiveWarning, "guess the key offline") {
		t.Errorf("warning %q", profile.AggressiveWarning)
	}

	dir := t.TempDir()
	pw, psk := filepath.Join(dir, "pw"), filepath.Join(dir, "psk")
	os.WriteFile(pw, []byte("pw-Xy9q\n"), 0o600)
	os.WriteFile(psk, []byte("psk-Zr4w\n"), 0o600)
	base := []string{"connect", "--user", "a", "--password-file", pw}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--psk-file", psk, "--aggressive", "x"}, "--aggressive needs --group NAME"},
		{[]string{"--psk-file", psk, "--group", "g", "x"}, "--group and --group-type go with --aggressive"},
		{[]string{"--psk-file", psk, "--group-type", "keyid", "x"}, "--group and --group-type go with --aggressive"},
		{[]string{"--no-ipsec", "--aggressive", "--group", "g", "x"}, "--aggressive need IPsec"},
		{[]string{"--psk-file", psk, "--aggressive", "--group", "g", "--group-type", "dn", "x"}, `--group-type: "dn" is not a group ID type`},
		{[]string{"--psk-file", psk, "--aggressive", "--group", "a\tb", "x"}, "--group: contains control characters"},
	} {
		code, _, stderr := run(t, "", append(base, c.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
		if strings.Contains(stderr, "psk-Zr4w") || strings.Contains(stderr, "pw-Xy9q") {
			t.Errorf("%v: stderr shows a secret", c.args)
		}
	}
	code, help, _ := run(t, "", "connect", "--help")
	for _, want := range []string{"-aggressive", "-group NAME", "-group-type TYPE", "keyid", "LESS SECURE"} {
		if code != ExitOK || !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// corridor profile add/edit --aggressive --group NAME --group-type keyid
// saves the keys, with the warning; edit --aggressive=false goes back to
// Main Mode.
func TestProfileAggressiveFlags(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	code, _, errs := run(t, "psk-Kq3\n", "profile", "add", "office", "--server", "vpn.example.com",
		"--user", "alice", "--ask-password", "--psk-file", "-", "--aggressive", "--group", "vpn-users", "--group-type", "keyid")
	if code != ExitOK || !strings.Contains(errs, "warning: "+profile.AggressiveWarning) {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	_, out, _ := run(t, "", "profile", "show", "office")
	for _, want := range []string{"aggressive = true", `group = "vpn-users"`, `group_type = "keyid"`} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs = run(t, "", "profile", "edit", "office", "--group", ""); code != ExitUsage || !strings.Contains(errs, "group: enter the group name") {
		t.Errorf("edit --group '': exit %d, %q", code, errs)
	}
	if code, _, errs = run(t, "", "profile", "edit", "office", "--aggressive=false"); code != ExitOK || strings.Contains(errs, "warning") {
		t.Errorf("edit --aggressive=false: exit %d, %q", code, errs)
	}
	if _, out, _ = run(t, "", "profile", "show", "office"); !strings.Contains(out, "aggressive = false") || !strings.Contains(out, `group = "vpn-users"`) {
		t.Errorf("show after edit:\n%s", out)
	}
}
