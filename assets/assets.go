// Package assets embeds Corridor's images: the application icon and the
// tray icons, one per connection state. The tray icons differ in shape,
// not only in colour, so that they read on any panel and for anyone:
// disconnected is a grey hollow ring, connecting an amber ring broken into
// dashes, connected a green disc with a check cut out, error a red
// triangle with an exclamation mark cut out. They are 64x64 PNGs drawn
// antialiased by gentray.go (go generate ./assets); icon.png is 256x256.
package assets

//go:generate go run gentray.go

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
