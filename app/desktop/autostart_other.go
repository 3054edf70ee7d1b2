//go:build !linux

package desktop

import "github.com/corridorvpn/corridor/app/gui"

// Starting at login is not done here yet on this system (a Run key on
// Windows, a login item on macOS): nil, and Settings shows the option
// disabled.
func autostart() (gui.Autostart, error) {
	return nil, nil
}
