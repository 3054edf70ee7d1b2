package gui

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Autostart starts the app when the user logs in. The desktop shell
// hands one to SetAutostart where the system has a way to do it (an XDG
// autostart entry on Linux); without one, Settings shows the option
// disabled.
type Autostart interface {
	// Enabled reports whether the app starts at login.
	Enabled() (bool, error)
	// SetEnabled turns starting at login on or off.
	SetEnabled(on bool) error
	// Where says where the setting lives, for the log (a file's path).
	Where() string
}

// XDGAutostart is an XDG autostart entry (Desktop Application Autostart
// Specification): a desktop entry in $XDG_CONFIG_HOME/autostart that the
// session starts at login. Turning it on writes the file, turning it off
// removes it.
type XDGAutostart struct {
	// Path of the entry, e.g. ~/.config/autostart/corridor.desktop.
	Path string
	// Command and its arguments, e.g. corridor gui --hidden; each is
	// quoted as the Desktop Entry Specification's Exec key wants.
	Command []string
}

var _ Autostart = (*XDGAutostart)(nil)

// Where is the entry's path.
func (x *XDGAutostart) Where() string { return x.Path }

// Enabled reports whether the entry exists and is not switched off
// (Hidden=true, or X-GNOME-Autostart-enabled=false as GNOME's tools
// write).
func (x *XDGAutostart) Enabled() (bool, error) {
	data, err := os.ReadFile(x.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the autostart entry: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if (k == "Hidden" && v == "true") || (k == "X-GNOME-Autostart-enabled" && v == "false") {
			return false, nil
		}
	}
	return true, nil
}

// SetEnabled writes the entry (creating its folder) or removes it.
func (x *XDGAutostart) SetEnabled(on bool) error {
	if !on {
		if err := os.Remove(x.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the autostart entry: %w", err)
		}
		return nil
	}
	if len(x.Command) == 0 {
		return errors.New("no command to start at login")
	}
	for _, a := range x.Command {
		if strings.ContainsAny(a, "\r\n") {
			return fmt.Errorf("the command to start at login has a line break in %q", a)
		}
	}
	if err := os.MkdirAll(filepath.Dir(x.Path), 0o700); err != nil {
		return fmt.Errorf("creating the autostart folder: %w", err)
	}
	// Write a new file and rename it over the old one: the session never
	// reads half an entry.
	tmp, err := os.CreateTemp(filepath.Dir(x.Path), ".corridor-autostart-*")
	if err != nil {
		return fmt.Errorf("writing the autostart entry: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(x.entry())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), x.Path)
	}
	if err != nil {
		return fmt.Errorf("writing the autostart entry: %w", err)
	}
	return nil
}

// entry is the desktop entry's text.
func (x *XDGAutostart) entry() string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Corridor\n" +
		"Comment=Starts Corridor in the system tray when you log in\n" +
		"Exec=" + ExecLine(x.Command) + "\n" +
		"Icon=io.github.corridorvpn.corridor\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// ExecLine is the value of a desktop entry's Exec key that runs args:
// an argument with a reserved character is quoted, '"', '`', '$' and '\'
// inside quotes are escaped, '%' is doubled (Desktop Entry Specification,
// "The Exec key"), and then, since Exec is a string value, every '\' is
// escaped once more.
func ExecLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`") {
			var b strings.Builder
			b.WriteByte('"')
			for _, r := range a {
				if strings.ContainsRune("\"`$\\", r) {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteByte('"')
			a = b.String()
		}
		out[i] = strings.ReplaceAll(a, `\`, `\\`)
	}
	return strings.Join(out, " ")
}
