package desktop

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/corridorvpn/corridor/app/gui"
)

// autostartFile is the name of the app's XDG autostart entry.
const autostartFile = "corridor.desktop"

// autostart is how the app starts at login on Linux: an XDG autostart
// entry, $XDG_CONFIG_HOME/autostart/corridor.desktop (by default
// ~/.config/autostart), that runs "corridor gui --hidden".
func autostart() (gui.Autostart, error) {
	path, err := autostartPath(os.Getenv, os.UserHomeDir)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &gui.XDGAutostart{Path: path, Command: autostartCommand(exe, exec.LookPath)}, nil
}

// autostartPath is where the entry goes: in $XDG_CONFIG_HOME/autostart,
// or ~/.config/autostart when that is unset or not an absolute path (the
// XDG Base Directory Specification ignores a relative one).
func autostartPath(getenv func(string) string, home func() (string, error)) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		h, err := home()
		if err != nil {
			return "", err
		}
		if h == "" {
			return "", errors.New("no home folder to keep the autostart entry in")
		}
		dir = filepath.Join(h, ".config")
	}
	return filepath.Join(dir, "autostart", autostartFile), nil
}

// autostartCommand is the command of the entry: "corridor gui --hidden"
// when "corridor" on $PATH is this program (as installed by the
// packages), otherwise this program by its full path (a build of one's
// own, run from its folder).
func autostartCommand(exe string, lookPath func(string) (string, error)) []string {
	prog := exe
	if found, err := lookPath("corridor"); err == nil && sameFile(found, exe) {
		prog = "corridor"
	}
	return []string{prog, "gui", "--hidden"}
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
