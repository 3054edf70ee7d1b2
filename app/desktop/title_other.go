//go:build !linux

package desktop

// The tray title stays the app's name where Fyne offers no way to change
// it.
func setTrayTitle(string) {}

func closeTrayTitle() {}
