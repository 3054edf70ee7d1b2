//go:build !linux

package desktop

// Windows' notification area and macOS's menu bar are always there: the
// window hides into them. (nil: gui.UI assumes a tray.)
func trayHost() (available func() bool, stop func(), err error) {
	return nil, func() {}, nil
}
