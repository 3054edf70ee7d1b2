package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestConnectUsageErrors(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("pw-Xy9q\n"), 0o600)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw}, "exactly one SERVER"},
		{"two servers", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "x", "y"}, "exactly one SERVER"},
		{"ipsec", []string{"connect", "--user", "a", "--password-file", pw, "x"}, "--no-ipsec"},
		{"no user", []string{"connect", "--no-ipsec", "--password-file", pw, "x"}, "--user is required"},
		{"no password", []string{"connect", "--no-ipsec", "--user", "a", "x"}, "--password-file is required"},
		{"bad auth", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--auth", "eap", "x"}, `unknown authentication method "eap"`},
		{"bad mtu", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--mtu", "9000", "x"}, "--mtu"},
		{"short keepalive", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--keepalive", "100ms", "x"}, "--keepalive must be"},
		{"negative keepalive", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--keepalive", "-1s", "x"}, "--keepalive must be"},
		{"keepalive failures", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--keepalive-failures", "0", "x"}, "--keepalive-failures"},
		{"missing file", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw + "nope", "x"}, "password file"},
		{"empty stdin", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", "-", "x"}, "password file: empty"},
		{"ipv6 with proxy", []string{"connect", "--no-ipsec", "--user", "a", "--password-file", pw, "--proxy", "1080", "--ipv6", "x"}, "--ipv6 needs a TUN device"},
		{"unknown flag", []string{"connect", "--bogus"}, "flag provided but not defined"},
		{"unknown command", []string{"dance"}, `unknown command "dance"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := run(t, "", c.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q lacks %q", stderr, c.want)
			}
			if strings.Contains(stderr, "pw-Xy9q") {
				t.Errorf("stderr shows the password")
			}
		})
	}
}

func TestConnectHelpListsExitCodes(t *testing.T) {
	code, stderr, errs := run(t, "", "connect", "--help") // on stdout
	if code != ExitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"-password-file", "-auth", "mschapv2, pap, chap, none", "MS-CHAPv2 only", "--no-ipsec and --auth pap", "NOT encrypted", "-keepalive", "-keepalive-failures", "Exit codes:", "3  authentication failed", "4  no answer", "6  local failure", "-proxy", "-proxy-allow-remote", "ALL_PROXY=socks5h://127.0.0.1:PORT", "no admin rights"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestReadSecret(t *testing.T) {
	s, err := readSecret("-", strings.NewReader("pa ss\r\nignored\n"))
	if err != nil || s != "pa ss" {
		t.Fatalf("got %q, %v", s, err)
	}
	s, err = readSecret("-", strings.NewReader("no-newline"))
	if err != nil || s != "no-newline" {
		t.Fatalf("got %q, %v", s, err)
	}
}
