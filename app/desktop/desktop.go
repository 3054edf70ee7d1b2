// Package desktop is Corridor's desktop app: it creates the Fyne app and
// its main window, puts the UI of package gui in it, keeps a system tray
// icon with the connection menu, and joins them to core.Service (the
// user's profiles and keychain, the privileged helper over its socket).
//
// Closing the window hides it: the app stays in the tray until Quit.
// Where no tray shows the icon (on Linux: no StatusNotifier watcher on
// the session bus, e.g. GNOME without the AppIndicator extension),
// closing the window quits instead, after asking when sessions are up.
// Settings can make the app start at login (an XDG autostart entry on
// Linux, running "corridor gui --hidden").
// One instance runs per session: on Linux the app owns the D-Bus name
// AppID, and a second start calls its Activate method (the window comes
// forward) and exits.
// Everything a test can exercise without a display lives in package gui;
// this package is the thin part that needs the real driver.
package desktop

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/app/gui"
	"github.com/corridorvpn/corridor/assets"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/core/profile"
)

// The app's identity; FyneApp.toml beside main.go says the same for the
// packaging tool.
const (
	AppID   = "io.github.corridorvpn.corridor"
	Name    = "Corridor"
	Version = "0.1.0"
	Build   = 1
)

const usageText = `Usage: corridor [gui] [--hidden]

Starts the Corridor desktop app: a window with your profiles and a tray
icon with the connection menu. Closing the window keeps the app in the
tray; Quit in the tray menu ends it (connections stay up: the helper
keeps them). Where no tray shows the icon, closing the window quits the
app and disconnects (it asks first when something is connected). The
helper (corridor daemon) must run for connections. When the app already
runs, starting it again brings its window forward.

Environment:
  CORRIDOR_CONFIG_DIR   where profiles live (default: the user's config folder)
  CORRIDOR_SOCKET       the helper's socket (default ` + daemon.DefaultSocket + `)

Run "corridor help" for the command line.

Flags:
`

// Main runs the desktop app with the arguments after "gui" and returns
// the exit code.
func Main(args []string) int { return run(args, os.Stderr) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hidden := fs.Bool("hidden", false, "start in the tray with the window hidden (for autostart; the window shows when no tray appears within a few seconds)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), usageText); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "corridor: unknown command %q (run \"corridor help\")\n", fs.Arg(0))
		return 2
	}
	if msg := noDisplay(); msg != "" {
		fmt.Fprintf(stderr, "corridor: %s\n", msg)
		fmt.Fprintln(stderr, `hint: run "corridor help" for the command line`)
		return 2
	}

	// One instance: a second start brings the first one's window forward
	// and exits (with --hidden, as from autostart, it just exits).
	var showWin atomic.Pointer[func()]
	first, release, err := claimInstance(func() {
		if f := showWin.Load(); f != nil {
			(*f)()
		}
	}, !*hidden)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "corridor: %v (starting anyway)\n", err)
	case !first:
		if *hidden {
			fmt.Fprintln(stderr, "corridor: already running")
		} else {
			fmt.Fprintln(stderr, "corridor: already running; brought its window forward")
		}
		return 0
	default:
		defer release()
	}

	a := app.NewWithID(AppID)
	// Every quit arms the guard: Fyne 2.8.1's Run can hang after Quit.
	guard := newQuitGuard(quitWait, stderr, os.Exit)
	defer guard.returned()
	defer guard.armOnSignal()()
	quit := func() {
		guard.arm()
		a.Quit()
	}
	if a.Metadata().Name == "" {
		// Built with go build (not the fyne tool): no packaged metadata.
		app.SetMetadata(fyne.AppMetadata{ID: AppID, Name: Name, Version: Version, Build: Build, Icon: assets.Icon})
	}
	a.SetIcon(assets.Icon)

	// The main window is created before the tray: Fyne treats the first
	// window as the master window. gui.New gives it its content, its
	// remembered size (Fyne preferences, never below gui.MinWindowSize)
	// and the close intercept that hides it (saving the size).
	w := a.NewWindow(Name)
	w.SetIcon(assets.Icon)

	svc, err := openService()
	if err != nil {
		fmt.Fprintf(stderr, "corridor: %v\n", err)
		showFatal(w, err, quit)
		return 1
	}

	u := gui.New(a, w, svc)
	show := func() { fyne.Do(u.ShowWindow) }
	showWin.Store(&show)
	// Settings: starting at login.
	if as, err := autostart(); err != nil {
		fmt.Fprintf(stderr, "corridor: starting at login cannot be set here: %v\n", err)
	} else {
		u.SetAutostart(as)
	}
	// The tray: its menu has "Show window". (SetSystemTrayWindow is not
	// used: it would replace the close intercept gui.New set.) Whether a
	// tray shows the icon decides what closing the window does.
	var trayUp func() bool
	tray, hasTray := a.(desktop.App)
	if hasTray {
		tray.SetSystemTrayMenu(u.TrayMenu())
		tray.SetSystemTrayIcon(u.TrayIcon())
		setTrayTitle(u.TrayTitle())
		u.OnTrayChange(func() {
			tray.SetSystemTrayMenu(u.TrayMenu())
			tray.SetSystemTrayIcon(u.TrayIcon())
			setTrayTitle(u.TrayTitle())
		})
		up, stop, err := trayHost()
		if err != nil {
			fmt.Fprintf(stderr, "corridor: %v; closing the window quits the app\n", err)
		}
		defer stop()
		trayUp = up
		u.SetTrayAvailable(trayUp)
	} else {
		// No tray with this driver: closing the window ends the app.
		w.SetCloseIntercept(func() { u.SaveWindowSize(); quit() })
	}
	// Quit in the tray menu (gui saves the window size first).
	u.OnQuit(quit)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Lifecycle().SetOnStarted(func() { u.Start(ctx) })
	a.Lifecycle().SetOnStopped(func() {
		cancel()
		closeTrayTitle()
	})

	switch {
	case !*hidden || !hasTray:
		u.ShowWindow()
	case trayUp != nil && !trayUp():
		// Started hidden (at login) with no tray yet: a panel that starts
		// at the same time gets a few seconds, then the window shows (a
		// hidden app with no tray could not be reached).
		go showUnlessTray(ctx, trayUp, 10*time.Second, show)
	}
	a.Run()
	return 0
}

// showUnlessTray calls show unless a tray appears (available says so)
// within wait or ctx ends first.
func showUnlessTray(ctx context.Context, available func() bool, wait time.Duration, show func()) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(min(wait/10, 250*time.Millisecond) + time.Millisecond)
	defer poll.Stop()
	for !available() {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			if !available() {
				show()
			}
			return
		case <-poll.C:
		}
	}
}

// noDisplay explains why no window can open, or returns "".
func noDisplay() string {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return "no display for the desktop app (neither DISPLAY nor WAYLAND_DISPLAY is set)"
		}
	}
	return ""
}

// showFatal shows an error that keeps the app from working, then quits
// when the window closes.
func showFatal(w fyne.Window, err error, quit func()) {
	msg := widget.NewLabel("Corridor cannot start:\n\n" + err.Error())
	msg.Wrapping = fyne.TextWrapWord
	w.SetContent(container.NewBorder(nil, widget.NewButton("Quit", quit), nil, nil, msg))
	w.SetCloseIntercept(quit)
	w.ShowAndRun()
}

// openService opens the profile store (the user's config folder, or
// $CORRIDOR_CONFIG_DIR) with the OS keychain, and the helper's client
// ($CORRIDOR_SOCKET or the default socket) - as the command line does.
func openService() (*core.Service, error) {
	dir := os.Getenv("CORRIDOR_CONFIG_DIR")
	if dir == "" {
		var err error
		if dir, err = profile.DefaultConfigDir(); err != nil {
			return nil, err
		}
	}
	st, err := profile.OpenStore(dir, profile.NewKeyring())
	if err != nil {
		return nil, err
	}
	socket := os.Getenv("CORRIDOR_SOCKET")
	if socket == "" {
		socket = daemon.DefaultSocket
	}
	return core.NewService(st, daemon.NewSplit(socket)), nil
}
