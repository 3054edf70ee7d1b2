package desktop

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
)

// On Linux Fyne's tray icon is a StatusNotifierItem: it shows only where
// a StatusNotifier host runs (a panel's tray: KDE, XFCE, most others;
// GNOME only with the AppIndicator extension), and hosts find items
// through the watcher, which owns the name snWatcher on the session bus.
// With nobody owning that name no tray shows the icon, and a hidden
// window could not be brought back: closing the window then quits (the
// UI asks trayWatch.Available at each close). The watch follows the
// name's owner, so a panel that starts later counts from then on.
const snWatcher = "org.kde.StatusNotifierWatcher"

// trayWatch follows whether anybody owns snWatcher on a bus.
type trayWatch struct {
	conn *dbus.Conn
	up   atomic.Bool
	sig  chan *dbus.Signal
	done chan struct{} // closed when the loop ends (the connection closed)
}

// trayHost says whether a system tray shows the app's icon now, for
// gui.UI.SetTrayAvailable, and stops following it. Without a session bus
// there is no StatusNotifier tray either: it says no (and why, to
// stderr's caller through err).
func trayHost() (available func() bool, stop func(), err error) {
	w, err := watchTray()
	if err != nil {
		return func() bool { return false }, func() {}, err
	}
	return w.Available, w.Close, nil
}

// watchTray follows snWatcher on the session bus ($DBUS_SESSION_BUS_ADDRESS),
// on a private connection of its own.
func watchTray() (*trayWatch, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("no session bus to find a system tray on: %w", err)
	}
	w, err := watchTrayOn(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

// watchTrayOn follows snWatcher on conn, which Close closes.
func watchTrayOn(conn *dbus.Conn) (*trayWatch, error) {
	w := &trayWatch{conn: conn, sig: make(chan *dbus.Signal, 16), done: make(chan struct{})}
	// The match first, then the question: an owner that comes between
	// the two is not missed (its signal is applied after the answer,
	// and signals come in order).
	err := conn.AddMatchSignal(
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, snWatcher))
	if err != nil {
		return nil, fmt.Errorf("watching %s on the session bus: %w", snWatcher, err)
	}
	conn.Signal(w.sig)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, snWatcher).Store(&has); err != nil {
		conn.RemoveSignal(w.sig)
		return nil, fmt.Errorf("asking the session bus whether %s has an owner: %w", snWatcher, err)
	}
	w.up.Store(has)
	go w.loop()
	return w, nil
}

func (w *trayWatch) loop() {
	defer close(w.done)
	for s := range w.sig { // closed when the connection closes
		if owner, ok := ownerChange(s); ok {
			w.up.Store(owner != "")
		}
	}
	w.up.Store(false) // the bus is gone: so is the tray
}

// ownerChange reads a NameOwnerChanged signal about snWatcher: the new
// owner ("": none).
func ownerChange(s *dbus.Signal) (owner string, ok bool) {
	if s == nil || s.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(s.Body) != 3 {
		return "", false
	}
	name, ok1 := s.Body[0].(string)
	owner, ok2 := s.Body[2].(string)
	if !ok1 || !ok2 || name != snWatcher {
		return "", false
	}
	return owner, true
}

// Available reports whether a StatusNotifier watcher runs now.
func (w *trayWatch) Available() bool { return w.up.Load() }

// Close stops following and closes the connection.
func (w *trayWatch) Close() {
	w.conn.Close()
	<-w.done
}
