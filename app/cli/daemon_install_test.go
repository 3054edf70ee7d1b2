package cli

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/platform"
)

// These tests check corridor daemon install|uninstall (macOS) on any
// system, with a fake host: the golden plist, the exact launchctl
// command lines, and the refusals. launchd itself was never involved.

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	testExe    = "/usr/local/libexec/corridor/corridor"
	testSocket = "/var/run/corridor/corridor.sock" // daemon.DefaultSocket on darwin
)

type fakeFile struct {
	uid  uint32
	mode fs.FileMode
	data string
}

// fakeLaunchd is a Mac as launchdHost sees it: files with owners, a
// launchctl that records its command lines and fails as told.
type fakeLaunchd struct {
	euid   int
	files  map[string]fakeFile
	groups map[string]bool
	cmds   [][]string
	fail   map[string]error // by the command's second word (bootstrap, bootout)
	log    []string         // mkdir, write, remove, in order
}

func newFakeLaunchd() *fakeLaunchd {
	f := &fakeLaunchd{files: map[string]fakeFile{}, groups: map[string]bool{"admin": true, "staff": true, "wheel": true}}
	for _, d := range []string{"/", "/usr", "/usr/local", "/usr/local/libexec", "/usr/local/libexec/corridor", "/Library", "/Library/LaunchDaemons"} {
		f.files[d] = fakeFile{uid: 0, mode: fs.ModeDir | 0o755}
	}
	f.files[testExe] = fakeFile{uid: 0, mode: 0o755}
	return f
}

func (f *fakeLaunchd) Run(c platform.Command) ([]byte, error) {
	f.cmds = append(f.cmds, c.Args)
	if len(c.Args) > 1 {
		if err := f.fail[c.Args[1]]; err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (f *fakeLaunchd) host() launchdHost {
	return launchdHost{
		runner:     f,
		euid:       func() int { return f.euid },
		executable: func() (string, error) { return testExe, nil },
		owner: func(path string) (uint32, fs.FileMode, error) {
			fi, ok := f.files[path]
			if !ok {
				return 0, 0, &fs.PathError{Op: "lstat", Path: path, Err: fs.ErrNotExist}
			}
			return fi.uid, fi.mode, nil
		},
		groupExists: func(name string) bool { return f.groups[name] },
		mkdirAll: func(path string, perm fs.FileMode) error {
			f.log = append(f.log, fmt.Sprintf("mkdir %s %v", path, perm))
			f.files[path] = fakeFile{mode: fs.ModeDir | perm}
			return nil
		},
		writeFile: func(path string, data []byte, perm fs.FileMode) error {
			f.log = append(f.log, fmt.Sprintf("write %s %v", path, perm))
			f.files[path] = fakeFile{mode: perm, data: string(data)}
			return nil
		},
		remove: func(path string) error {
			f.log = append(f.log, "remove "+path)
			if _, ok := f.files[path]; !ok {
				return &fs.PathError{Op: "remove", Path: path, Err: fs.ErrNotExist}
			}
			delete(f.files, path)
			return nil
		},
	}
}

// launchctlErr is launchctl failing with code and msg.
func launchctlErr(code int, msg string) error {
	return &platform.CommandError{ExitCode: code, Output: msg, Err: fmt.Errorf("exit status %d", code)}
}

var (
	bootstrapArgv = []string{"launchctl", "bootstrap", "system", "/Library/LaunchDaemons/io.github.corridorvpn.corridor.plist"}
	bootoutArgv   = []string{"launchctl", "bootout", "system/io.github.corridorvpn.corridor"}
)

func wantArgv(t *testing.T, got [][]string, want ...[]string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("launchctl commands:\n got  %q\n want %q", got, want)
	}
}

func goldenPlist(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", launchdLabel+".plist"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLaunchdPlistGolden(t *testing.T) {
	got := launchdPlistText(launchdJob{Exe: testExe, Socket: testSocket, Group: launchdGroup})
	path := filepath.Join("testdata", launchdLabel+".plist")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := goldenPlist(t); got != want {
		t.Errorf("plist differs from %s (go test -run TestLaunchdPlistGolden -update rewrites it):\n%s", path, got)
	}
	wellFormed(t, got)
}

// wellFormed parses the plist as XML (the DTD is not fetched).
func wellFormed(t *testing.T, text string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(text))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, text)
		}
	}
}

func TestLaunchdPlistEscapes(t *testing.T) {
	exe := "/Users/a&b/<x>/corridor"
	got := launchdPlistText(launchdJob{Exe: exe, Socket: testSocket, Group: "staff"})
	wellFormed(t, got)
	if !strings.Contains(got, "<string>/Users/a&amp;b/&lt;x&gt;/corridor</string>") {
		t.Errorf("path not escaped:\n%s", got)
	}
	// The strings, read back, are the job's arguments.
	var v struct {
		Strings []string `xml:"dict>array>string"`
	}
	if err := xml.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
	if want := []string{exe, "daemon", "--socket", testSocket, "--group", "staff"}; !reflect.DeepEqual(v.Strings, want) {
		t.Errorf("ProgramArguments = %q, want %q", v.Strings, want)
	}
}

func TestLaunchdInstall(t *testing.T) {
	f := newFakeLaunchd()
	var out bytes.Buffer
	if err := launchdInstall(f.host(), testSocket, launchdGroup, &out); err != nil {
		t.Fatal(err)
	}
	wantArgv(t, f.cmds, bootstrapArgv)
	if want := []string{"mkdir /Library/Logs/Corridor -rwxr-xr-x", "write /Library/LaunchDaemons/io.github.corridorvpn.corridor.plist -rw-r--r--"}; !reflect.DeepEqual(f.log, want) {
		t.Errorf("steps %q, want %q", f.log, want)
	}
	if got := f.files[launchdPlist].data; got != goldenPlist(t) {
		t.Errorf("installed plist differs from the golden one:\n%s", got)
	}
	for _, w := range []string{launchdLabel, testExe + " daemon --socket " + testSocket + " --group admin", launchdLog} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

// Installing over an installed helper stops the old job first;
// bootstrap would refuse a loaded label.
func TestLaunchdReinstall(t *testing.T) {
	for _, tt := range []struct {
		name    string
		bootout error
		wantErr bool
	}{
		{"loaded", nil, false},
		{"not loaded", launchctlErr(3, "Boot-out failed: 3: No such process"), false},
		{"not found", launchctlErr(113, "Could not find specified service"), false},
		{"bootout fails", launchctlErr(5, "Boot-out failed: 5: Input/output error"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLaunchd()
			f.files[launchdPlist] = fakeFile{uid: 0, mode: 0o644, data: "old"}
			f.fail = map[string]error{"bootout": tt.bootout}
			err := launchdInstall(f.host(), testSocket, launchdGroup, io.Discard)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "stopping the installed helper") {
					t.Errorf("err = %v", err)
				}
				wantArgv(t, f.cmds, bootoutArgv)
				if f.files[launchdPlist].data != "old" {
					t.Error("the plist was replaced after a failed bootout")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantArgv(t, f.cmds, bootoutArgv, bootstrapArgv)
		})
	}
}

func TestLaunchdUninstall(t *testing.T) {
	for _, tt := range []struct {
		name              string
		installed         bool
		bootout           error
		wantErr, wantGone bool
		wantOut           string
	}{
		{"installed and loaded", true, nil, false, true, "uninstalled"},
		{"installed, not loaded", true, launchctlErr(3, "Boot-out failed: 3: No such process"), false, true, "uninstalled"},
		{"loaded without plist", false, nil, false, true, "uninstalled"},
		{"not installed", false, launchctlErr(3, "Boot-out failed: 3: No such process"), false, true, "not installed"},
		{"bootout fails: the plist stays", true, launchctlErr(5, "Boot-out failed: 5: Input/output error"), true, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLaunchd()
			if tt.installed {
				f.files[launchdPlist] = fakeFile{uid: 0, mode: 0o644, data: "x"}
			}
			f.fail = map[string]error{"bootout": tt.bootout}
			var out bytes.Buffer
			err := launchdUninstall(f.host(), &out)
			wantArgv(t, f.cmds, bootoutArgv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			_, there := f.files[launchdPlist]
			if there == tt.wantGone {
				t.Errorf("plist there %v after uninstall; steps %q", there, f.log)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output %q lacks %q", out.String(), tt.wantOut)
			}
		})
	}
}

// Not root, no group, an executable others could replace: refused
// before anything runs or is written.
func TestLaunchdRefusals(t *testing.T) {
	type setup func(f *fakeLaunchd)
	for _, tt := range []struct {
		name, sub string
		setup     setup
		group     string
		wantExit  int
		want      []string
	}{
		{"install not root", "install", func(f *fakeLaunchd) { f.euid = 501 }, "admin", ExitUsage,
			[]string{"must run as root", "hint: sudo corridor daemon install"}},
		{"uninstall not root", "uninstall", func(f *fakeLaunchd) { f.euid = 501 }, "", ExitUsage,
			[]string{"must run as root", "hint: sudo corridor daemon uninstall"}},
		{"no such group", "install", func(f *fakeLaunchd) {}, "corridor", ExitUsage,
			[]string{`no group "corridor"`}},
		{"executable in a user's folder", "install", func(f *fakeLaunchd) {
			f.files["/usr/local/libexec/corridor"] = fakeFile{uid: 501, mode: fs.ModeDir | 0o755}
		}, "admin", ExitUsage, []string{"is not root's alone", "owner uid 501", "sudo install -o root"}},
		{"group-writable executable", "install", func(f *fakeLaunchd) {
			f.files[testExe] = fakeFile{uid: 0, mode: 0o775}
		}, "admin", ExitUsage, []string{testExe + " is not root's alone"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeLaunchd()
			tt.setup(f)
			var err error
			if tt.sub == "install" {
				err = launchdInstall(f.host(), testSocket, tt.group, io.Discard)
			} else {
				err = launchdUninstall(f.host(), io.Discard)
			}
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *core.Error", err)
			}
			var stderr bytes.Buffer
			if code := fail(&stderr, err); code != tt.wantExit {
				t.Errorf("exit %d, want %d", code, tt.wantExit)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("message lacks %q:\n%s", w, stderr.String())
				}
			}
			wantArgv(t, f.cmds)
			if len(f.log) != 0 {
				t.Errorf("steps taken: %q", f.log)
			}
		})
	}
}

func TestDaemonServiceElsewhere(t *testing.T) {
	for _, tt := range []struct {
		goos, sub string
		want      []string
	}{
		{"linux", "install", []string{"macOS only", ".deb or .rpm package", "systemctl status corridor.socket"}},
		{"linux", "uninstall", []string{"macOS only", "apt-get remove corridor"}},
		{"windows", "install", []string{"macOS only", "on windows yet"}},
	} {
		if got := unsupportedDaemonService(tt.goos, tt.sub); !containsAll(got, tt.want) {
			t.Errorf("%s %s: %q lacks one of %q", tt.goos, tt.sub, got, tt.want)
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	code, out, errs := run(t, "", "daemon", "install")
	if code != ExitUsage || out != "" || !containsAll(errs, []string{"macOS only", "systemd"}) {
		t.Errorf("daemon install on Linux: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = run(t, "", "daemon", "uninstall")
	if code != ExitUsage || out != "" || !strings.Contains(errs, "macOS only") {
		t.Errorf("daemon uninstall on Linux: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestDaemonServiceHelp(t *testing.T) {
	for _, args := range [][]string{{"daemon", "install", "--help"}, {"daemon", "uninstall", "-h"}, {"help", "daemon", "install"}} {
		code, out, errs := run(t, "", args...)
		if code != ExitOK || errs != "" || !strings.Contains(out, "Usage: corridor daemon") || !strings.Contains(out, "never run on a Mac") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, out, _ := run(t, "", "daemon", "install", "--help"); code != ExitOK || !strings.Contains(out, "-group GROUP") {
		t.Errorf("install --help lacks --group: %q", out)
	}
	if code, out, errs := run(t, "", "daemon", "--help"); code != ExitOK || errs != "" || !strings.Contains(out, "corridor daemon install") {
		t.Errorf("daemon --help: exit %d, stdout %q", code, out)
	}
	if code, _, errs := run(t, "", "daemon", "install", "extra"); code != ExitUsage || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("daemon install extra: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := run(t, "", "daemon", "uninstall", "--group", "admin"); code != ExitUsage || !strings.Contains(errs, "group") {
		t.Errorf("daemon uninstall --group: exit %d, stderr %q", code, errs)
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
