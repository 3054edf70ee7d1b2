package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	bi := func(main string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/corridorvpn/corridor", Version: main}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	plat := runtime.GOOS + "/" + runtime.GOARCH
	const rev = "abc1234def5678abc1234def5678abc1234def56"
	cases := []struct {
		name, version string
		bi            *debug.BuildInfo
		want          string
	}{
		{"dirty checkout", "", bi("v0.0.0-20261202085010-abc1234def56+dirty", "vcs.revision", rev, "vcs.modified", "true"),
			"corridor " + defaultVersion + " (commit abc1234, dirty) go1.26.8 " + plat},
		{"clean checkout", "", bi("(devel)", "vcs.revision", rev, "vcs.modified", "false"),
			"corridor " + defaultVersion + " (commit abc1234) go1.26.8 " + plat},
		{"ldflags", "0.3.0", bi("(devel)", "vcs.revision", rev), "corridor 0.3.0 (commit abc1234) go1.26.8 " + plat},
		{"go install of a release", "", bi("v0.2.0"), "corridor 0.2.0 (commit unknown) go1.26.8 " + plat},
		{"no build info", "0.3.0", nil, "corridor 0.3.0 (commit unknown) " + runtime.Version() + " " + plat},
	}
	for _, c := range cases {
		if got := versionLine(c.version, c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVersionCommands(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errs := run(t, "", args...)
		if code != ExitOK || errs != "" || !strings.HasPrefix(out, "corridor ") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, _, errs := run(t, "", "version", "extra"); code != ExitUsage || errs == "" {
		t.Errorf("version extra: exit %d, stderr %q", code, errs)
	}
}

// everyCommand is each command and subcommand line of the table.
func everyCommand() [][]string {
	var all [][]string
	for _, c := range commands {
		all = append(all, []string{c.name})
		if c.name == "profile" {
			for _, s := range c.subs {
				all = append(all, []string{c.name, s})
			}
		}
	}
	return all
}

// Every --help and -h, at the top and of every command, prints to
// standard output and exits 0; a bad flag is a usage error on standard
// error with exit 2.
func TestHelpEveryCommand(t *testing.T) {
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	t.Setenv("CORRIDOR_SOCKET", filepath.Join(t.TempDir(), "none.sock"))
	tops := [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}}
	for _, cmd := range everyCommand() {
		for _, h := range []string{"--help", "-h"} {
			tops = append(tops, append(append([]string(nil), cmd...), h))
		}
		tops = append(tops, append([]string{"help"}, cmd...))
	}
	// A help flag after a command's arguments counts too.
	tops = append(tops, []string{"up", "work", "--help"}, []string{"profile", "edit", "work", "-h"}, []string{"profile", "--help"})
	for _, args := range tops {
		if args[0] == "help" && len(args) > 1 && args[1] == "help" {
			continue
		}
		code, out, errs := run(t, "", args...)
		if code != ExitOK || errs != "" || !strings.Contains(strings.ToLower(out), "usage") {
			t.Errorf("corridor %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errs, out)
		}
	}
	for _, cmd := range everyCommand() {
		if cmd[0] == "help" {
			continue
		}
		args := append(append([]string(nil), cmd...), "--no-such-flag")
		code, out, errs := run(t, "", args...)
		if code != ExitUsage || out != "" || !strings.Contains(errs, "no-such-flag") {
			t.Errorf("corridor %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
		}
	}
	if code, out, errs := run(t, ""); code != ExitUsage || out != "" || !strings.Contains(errs, "Usage") {
		t.Errorf("corridor alone: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, out, errs := run(t, "", "help", "dance"); code != ExitUsage || out != "" || errs == "" {
		t.Errorf("corridor help dance: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestProfileListNames(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CORRIDOR_CONFIG_DIR", dir)
	os.MkdirAll(filepath.Join(dir, "profiles"), 0o700)
	for _, n := range []string{"work", "Local demo"} {
		os.WriteFile(filepath.Join(dir, "profiles", n+".toml"), []byte("name = \""+n+"\"\nserver = \"vpn.example.com\"\nuser = \"u\"\n"), 0o600)
	}
	code, out, errs := run(t, "", "profile", "list", "--names")
	if code != ExitOK || out != "Local demo\nwork\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// Each completion script is generated from the command table, and parses
// in its shell where that shell is installed.
func TestCompletionScripts(t *testing.T) {
	for _, sh := range completionShells {
		t.Run(sh, func(t *testing.T) {
			code, out, errs := run(t, "", "completion", sh)
			if code != ExitOK || errs != "" || len(out) < 200 {
				t.Fatalf("exit %d, stderr %q, %d bytes", code, errs, len(out))
			}
			for _, want := range []string{"connect", "profile", "password-file", "names", "add", "status", "json", "socket"} {
				if !strings.Contains(out, want) {
					t.Errorf("the script lacks %q", want)
				}
			}
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("%s is not installed: the script is not parsed", sh)
			}
			f := filepath.Join(t.TempDir(), "corridor."+sh)
			os.WriteFile(f, []byte(out), 0o644)
			if b, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", sh, err, b)
			}
		})
	}
	if code, _, errs := run(t, "", "completion", "tcsh"); code != ExitUsage || !strings.Contains(errs, "tcsh") {
		t.Errorf("completion tcsh: exit %d, stderr %q", code, errs)
	}
}

// The bash script completes for real: commands, subcommands, flags.
func TestBashCompletionCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	_, script, _ := run(t, "", "completion", "bash")
	f := filepath.Join(t.TempDir(), "corridor.bash")
	os.WriteFile(f, []byte(script), 0o644)
	complete := func(words ...string) string {
		t.Helper()
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _corridor; printf '%s\n' "${COMPREPLY[@]}"`
		b, err := exec.Command(bash, append([]string{"-c", prog, "x", f}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", words, err, b)
		}
		return string(b)
	}
	if got := complete("corridor", "sta"); got != "status\n" {
		t.Errorf("corridor sta: %q", got)
	}
	if got := complete("corridor", "profile", "ex"); got != "export\n" {
		t.Errorf("corridor profile ex: %q", got)
	}
	if got := complete("corridor", "status", "--j"); got != "--json\n" {
		t.Errorf("corridor status --j: %q", got)
	}
	if got := complete("corridor", "profile", "add", "x", "--psk"); got != "--psk-file\n" {
		t.Errorf("corridor profile add x --psk: %q", got)
	}
}
