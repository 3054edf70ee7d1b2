// Package assets embeds Corridor's images: the application icon and the
// tray icons, one per connection state (disconnected: grey corridor;
// connecting: amber badge; connected: green badge; error: red badge).
// They are 64x64 PNGs (icon.png 256x256), drawn to stay readable on light
// and dark panels.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

var (
	//go:embed icon.png
	iconPNG []byte
	//go:embed tray-disconnected.png
	trayDisconnectedPNG []byte
	//go:embed tray-connecting.png
	trayConnectingPNG []byte
	//go:embed tray-connected.png
	trayConnectedPNG []byte
	//go:embed tray-error.png
	trayErrorPNG []byte
)

// The images as Fyne resources.
var (
	Icon             fyne.Resource = fyne.NewStaticResource("icon.png", iconPNG)
	TrayDisconnected fyne.Resource = fyne.NewStaticResource("tray-disconnected.png", trayDisconnectedPNG)
	TrayConnecting   fyne.Resource = fyne.NewStaticResource("tray-connecting.png", trayConnectingPNG)
	TrayConnected    fyne.Resource = fyne.NewStaticResource("tray-connected.png", trayConnectedPNG)
	TrayError        fyne.Resource = fyne.NewStaticResource("tray-error.png", trayErrorPNG)
)
