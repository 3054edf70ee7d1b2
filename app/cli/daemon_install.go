package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/platform"
)

// corridor daemon install|uninstall: the privileged helper as a launchd
// daemon on macOS. This file holds what can be checked anywhere: the
// plist's text and the steps, which act on the machine only through a
// launchdHost (the real one in daemon_install_darwin.go, a fake in
// daemon_install_test.go). Elsewhere daemon_install_other.go says what to
// use instead.
//
// Status: compiled for darwin and tested on Linux with a fake host (the
// golden plist, the exact launchctl command lines, the refusals). None of
// it has run on a Mac: launchd has never loaded this plist.

const (
	launchdLabel  = "io.github.corridorvpn.corridor" // the app ID (FyneApp.toml)
	launchdPlist  = "/Library/LaunchDaemons/" + launchdLabel + ".plist"
	launchdLogDir = "/Library/Logs/Corridor"
	launchdLog    = launchdLogDir + "/helper.log"
	// launchdGroup is whose members may use the helper, besides root.
	// macOS's own "admin" group (the administrators, gid 80) rather than a
	// "corridor" group of our own: it exists on every Mac, so install
	// creates no account in Directory Services (dseditgroup), a step that
	// could not be tried here at all; and its members can become root
	// anyway, so admitting them grants nothing new. The price: standard
	// (non-admin) users are refused. corridor daemon install --group
	// names another, existing group.
	launchdGroup = "admin"
	// launchdExitTimeout is the seconds launchd waits after SIGTERM before
	// SIGKILL (its default is 20): the helper ends its sessions and
	// restores routes and DNS first, within 20 s of its own.
	launchdExitTimeout = 30
)

// launchdJob is what the plist starts.
type launchdJob struct {
	Exe    string // absolute path of the corridor executable
	Socket string // the helper's socket (daemon.DefaultSocket on macOS)
	Group  string
}

// Args is the job's ProgramArguments.
func (j launchdJob) Args() []string {
	return []string{j.Exe, "daemon", "--socket", j.Socket, "--group", j.Group}
}

var plistTemplate = template.Must(template.New("plist").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{.Label}}</string>
	<key>ProgramArguments</key>
	<array>
{{- range .Args}}
		<string>{{.}}</string>
{{- end}}
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<true/>
	<key>ExitTimeOut</key>
	<integer>{{.ExitTimeout}}</integer>
	<key>StandardErrorPath</key>
	<string>{{.Log}}</string>
</dict>
</plist>
`))

// launchdPlistText is the property list of the helper's launchd daemon:
// started at boot (RunAtLoad) and again whenever it exits (KeepAlive),
// its log (the helper logs to standard error) in launchdLog. Every value
// is XML character data, escaped here (text/template does not).
func launchdPlistText(j launchdJob) string {
	var b strings.Builder
	args := j.Args()
	for i, a := range args {
		args[i] = xmlEscape(a)
	}
	err := plistTemplate.Execute(&b, struct {
		Label, Log  string
		Args        []string
		ExitTimeout int
	}{xmlEscape(launchdLabel), xmlEscape(launchdLog), args, launchdExitTimeout})
	if err != nil {
		panic(err) // a fixed template over strings cannot fail
	}
	return b.String()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

// The launchctl command lines. "bootstrap"/"bootout" with a domain
// target are the interface of launchctl(1) since macOS 10.10; "load -w"
// and "unload" are its legacy ones.
func bootstrapCmd() platform.Command {
	return platform.Command{Args: []string{"launchctl", "bootstrap", "system", launchdPlist}}
}

func bootoutCmd() platform.Command {
	return platform.Command{Args: []string{"launchctl", "bootout", "system/" + launchdLabel}}
}

// launchdHost is everything install and uninstall do to the machine.
type launchdHost struct {
	// runner runs launchctl.
	runner platform.Runner
	euid   func() int
	// executable is this program's absolute path, symlinks resolved.
	executable func() (string, error)
	// owner is the owner and mode of path itself (lstat(2)).
	owner       func(path string) (uid uint32, mode fs.FileMode, err error)
	groupExists func(name string) bool
	// mkdirAll and writeFile leave what they make owned by root:wheel;
	// writeFile replaces path atomically with exactly the mode perm.
	mkdirAll  func(path string, perm fs.FileMode) error
	writeFile func(path string, data []byte, perm fs.FileMode) error
	remove    func(path string) error
}

// notRoot is the refusal of a non-root caller.
func notRoot(sub string) error {
	return &core.Error{Class: core.ClassUsage, Msg: "corridor daemon " + sub + " changes the system's launchd daemons and must run as root",
		Hint: "sudo corridor daemon " + sub}
}

func localError(msg string, err error) error {
	return &core.Error{Class: core.ClassLocal, Msg: fmt.Sprintf("%s: %v", msg, err), Err: err}
}

// checkRootOwned refuses an executable that anyone but root could
// replace: launchd runs it as root at every boot, so the file and every
// directory above it must belong to root and be writable by no group
// and no one else.
func checkRootOwned(h launchdHost, exe string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("the executable's path %q is not absolute", exe)
	}
	for p := exe; ; p = filepath.Dir(p) {
		uid, mode, err := h.owner(p)
		if err != nil {
			return err
		}
		if uid != 0 || mode.Perm()&0o022 != 0 || mode&fs.ModeSymlink != 0 {
			return &core.Error{Class: core.ClassUsage,
				Msg: fmt.Sprintf("launchd would run %s as root, but %s is not root's alone (owner uid %d, mode %v)", exe, p, uid, mode),
				Hint: "copy corridor where only root can write and install from there: " +
					"sudo install -d -o root -g wheel -m 0755 /usr/local/libexec/corridor && " +
					"sudo install -o root -g wheel -m 0755 corridor /usr/local/libexec/corridor/ && " +
					"sudo /usr/local/libexec/corridor/corridor daemon install"}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// launchdNotLoaded reports whether launchctl bootout failed because the
// job is not loaded: "Boot-out failed: 3: No such process", or "Could
// not find specified service" (exit 113) on some versions. These words
// are from launchctl's documented and reported output; they have not been
// seen here.
func launchdNotLoaded(err error) bool {
	var ce *platform.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	return ce.ExitCode == 113 || strings.Contains(ce.Output, "No such process") ||
		strings.Contains(ce.Output, "Could not find")
}

// launchdInstall writes the plist and loads it: the helper starts at
// once and at every boot. Run again, it replaces the job (bootout of the
// old one first: bootstrap refuses a loaded label).
func launchdInstall(h launchdHost, socket, group string, w io.Writer) error {
	if h.euid() != 0 {
		return notRoot("install")
	}
	if !h.groupExists(group) {
		return &core.Error{Class: core.ClassUsage, Msg: fmt.Sprintf("no group %q on this system", group),
			Hint: "name an existing group with --group (default " + launchdGroup + ")"}
	}
	exe, err := h.executable()
	if err != nil {
		return localError("finding this program's path", err)
	}
	if err := checkRootOwned(h, exe); err != nil {
		var ce *core.Error
		if errors.As(err, &ce) {
			return err
		}
		return localError("checking "+exe, err)
	}
	job := launchdJob{Exe: exe, Socket: socket, Group: group}
	if _, _, err := h.owner(launchdPlist); err == nil {
		if _, err := h.runner.Run(bootoutCmd()); err != nil && !launchdNotLoaded(err) {
			return localError("stopping the installed helper", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return localError("reading "+launchdPlist, err)
	}
	if err := h.mkdirAll(launchdLogDir, 0o755); err != nil {
		return localError("creating the log folder", err)
	}
	if err := h.writeFile(launchdPlist, []byte(launchdPlistText(job)), 0o644); err != nil {
		return localError("writing "+launchdPlist, err)
	}
	if _, err := h.runner.Run(bootstrapCmd()); err != nil {
		return localError("loading "+launchdPlist, err)
	}
	fmt.Fprintf(w, "installed the Corridor helper as the launchd daemon %s (%s)\n", launchdLabel, launchdPlist)
	fmt.Fprintf(w, "it runs %s, listens on %s for root and the group %s, and logs to %s\n",
		strings.Join(job.Args(), " "), socket, group, launchdLog)
	return nil
}

// launchdUninstall stops the helper (SIGTERM: it ends its sessions and
// restores routes and DNS first) and removes the plist; the log stays.
func launchdUninstall(h launchdHost, w io.Writer) error {
	if h.euid() != 0 {
		return notRoot("uninstall")
	}
	_, _, err := h.owner(launchdPlist)
	installed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return localError("reading "+launchdPlist, err)
	}
	loaded := true
	if _, err := h.runner.Run(bootoutCmd()); err != nil {
		if !launchdNotLoaded(err) {
			// Still running, maybe: keep the plist, so that the job
			// and its file do not part ways.
			return localError("stopping the helper", err)
		}
		loaded = false
	}
	if !installed && !loaded {
		fmt.Fprintf(w, "the Corridor helper is not installed (no %s, no job %s)\n", launchdPlist, launchdLabel)
		return nil
	}
	if installed {
		if err := h.remove(launchdPlist); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return localError("removing "+launchdPlist, err)
		}
	}
	fmt.Fprintf(w, "uninstalled the Corridor helper (%s); its log stays in %s\n", launchdLabel, launchdLog)
	return nil
}

const daemonServiceHelp = `
Subcommands (macOS only; compiled and tested with fakes, never run on a Mac):
  corridor daemon install [--group GROUP]   run the helper as the launchd daemon ` + launchdLabel + `
  corridor daemon uninstall                 stop it and remove ` + launchdPlist + `
`

// daemonServiceCmd is corridor daemon install|uninstall: the flags here,
// so that --help works everywhere; the work in daemonService (per OS).
func daemonServiceCmd(sub string, args []string, env Env) int {
	header := "Usage: corridor daemon uninstall\n\n" +
		"macOS only: stops the helper (launchctl bootout system/" + launchdLabel + ";\n" +
		"it ends its sessions first) and removes " + launchdPlist + ".\n" +
		"Compiled and tested with fakes on Linux; never run on a Mac.\n"
	if sub == "install" {
		header = "Usage: corridor daemon install [--group GROUP]\n\n" +
			"macOS only: writes " + launchdPlist + " (mode 0644, root:wheel) and loads it\n" +
			"(launchctl bootstrap system): the helper then starts at once and at every boot,\n" +
			"and logs to " + launchdLog + ". Run it as root, from a corridor executable that\n" +
			"only root can write. Compiled and tested with fakes on Linux; never run on a Mac.\n"
	}
	fs := newFlagSet("daemon "+sub, header)
	group := ""
	if sub == "install" {
		fs.StringVar(&group, "group", launchdGroup, "members of `GROUP` may use the helper (besides root)")
	}
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, "daemon "+sub, "unexpected argument %q", fs.Arg(0))
	}
	return daemonService(sub, group, env)
}

// unsupportedDaemonService is what install and uninstall say on goos,
// where there is no launchd.
func unsupportedDaemonService(goos, sub string) string {
	msg := "corridor daemon " + sub + " sets up the helper as a launchd daemon: it is for macOS only.\n"
	switch {
	case goos == "linux" && sub == "install":
		msg += "On Linux, install the .deb or .rpm package instead (make packages; see \"Install (packages)\"\n" +
			"in the README): it runs the helper as a systemd service started by corridor.socket\n" +
			"(sudo systemctl status corridor.socket shows it); without a package, run sudo corridor daemon.\n"
	case goos == "linux":
		msg += "On Linux the helper comes with the .deb or .rpm package: remove the package\n" +
			"(sudo apt-get remove corridor, or sudo dnf remove corridor), or stop it with\n" +
			"sudo systemctl disable --now corridor.socket corridor.service.\n"
	default:
		msg += "The helper cannot be installed as a service on " + goos + " yet.\n"
	}
	return msg
}
