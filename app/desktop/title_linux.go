package desktop

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// Fyne sets the tray item's title once, to the app's name; the connection
// state goes there too. On Linux the tray item is a StatusNotifierItem on
// the session bus whose Title property is writable: it is set through the
// process's shared session bus connection (the one the tray item lives
// on, so that the NewTitle signal comes from the item's own name), off
// the UI goroutine, latest value wins.
var trayTitle struct {
	once sync.Once
	ch   chan string
	done chan struct{}
}

func setTrayTitle(title string) {
	t := &trayTitle
	t.once.Do(func() {
		t.ch = make(chan string, 1)
		t.done = make(chan struct{})
		go titleLoop(t.ch, t.done)
	})
	select {
	case <-t.done:
		return
	default:
	}
	for {
		select {
		case t.ch <- title:
			return
		default:
			select { // drop a value not yet sent: only the latest counts
			case <-t.ch:
			default:
			}
		}
	}
}

func closeTrayTitle() {
	t := &trayTitle
	t.once.Do(func() { t.done = make(chan struct{}) })
	select {
	case <-t.done:
	default:
		close(t.done)
	}
}

func titleLoop(ch <-chan string, done <-chan struct{}) {
	var conn *dbus.Conn // shared: never closed here
	item := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	for {
		var title string
		select {
		case <-done:
			return
		case title = <-ch:
		}
		// The tray comes up asynchronously: retry briefly until the item
		// is on the bus.
		for try := 0; try < 20; try++ {
			if conn == nil {
				c, err := dbus.SessionBus()
				if err != nil {
					return // no session bus: no tray either
				}
				conn = c
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := conn.Object(item, "/StatusNotifierItem").CallWithContext(ctx, "org.freedesktop.DBus.Properties.Set", 0,
				"org.kde.StatusNotifierItem", "Title", dbus.MakeVariant(title)).Err
			cancel()
			if err == nil {
				// Trays listen for NewTitle rather than PropertiesChanged.
				conn.Emit("/StatusNotifierItem", "org.kde.StatusNotifierItem.NewTitle")
				break
			}
			select {
			case <-done:
				return
			case title = <-ch: // a newer title replaces this one
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}
