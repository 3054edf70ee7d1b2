package desktop

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// One instance: the first app claims the well-known name AppID on the
// session bus and serves Activate on it; a later start finds the name
// taken, calls Activate (the first app brings its window forward) and
// exits. The name lives on a private connection of its own, so it goes
// with the process, or with release.
const (
	instancePath  = dbus.ObjectPath("/io/github/corridorvpn/corridor")
	instanceIface = AppID
)

// activator is the object behind the name.
type activator struct{ activate func() }

// Activate brings the running app's window forward.
func (a activator) Activate() *dbus.Error {
	if a.activate != nil {
		a.activate()
	}
	return nil
}

// claimInstance claims AppID on the session bus ($DBUS_SESSION_BUS_ADDRESS).
// first reports whether this process is the first instance; then release
// gives the name back. When another instance holds the name, its Activate
// has been called (unless activateOther is false) and first is false. An
// error means no session bus (or a broken one): the caller runs anyway.
func claimInstance(activate func(), activateOther bool) (first bool, release func(), err error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false, nil, err
	}
	first, err = claim(conn, activate, activateOther)
	if err != nil || !first {
		conn.Close()
		return first, nil, err
	}
	return true, func() { conn.Close() }, nil
}

// claim requests AppID on conn (never queueing behind another owner) and,
// when it gets it, serves Activate there, calling activate from the bus's
// goroutine. When the name is taken, it calls the owner's Activate (if
// activateOther).
func claim(conn *dbus.Conn, activate func(), activateOther bool) (bool, error) {
	// Export first so that Activate answers as soon as the name is ours.
	if err := conn.Export(activator{activate}, instancePath, instanceIface); err != nil {
		return false, err
	}
	reply, err := conn.RequestName(AppID, dbus.NameFlagDoNotQueue)
	if err != nil {
		return false, fmt.Errorf("claim %s on the session bus: %w", AppID, err)
	}
	switch reply {
	case dbus.RequestNameReplyPrimaryOwner, dbus.RequestNameReplyAlreadyOwner:
		return true, nil
	}
	conn.Export(nil, instancePath, instanceIface)
	if !activateOther {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Object(AppID, instancePath).CallWithContext(ctx, instanceIface+".Activate", 0).Err; err != nil {
		return false, fmt.Errorf("another Corridor holds %s but did not answer Activate: %w", AppID, err)
	}
	return false, nil
}
