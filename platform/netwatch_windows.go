package platform

import (
	"context"
	"errors"
	"net/netip"

	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// WatchNetwork reports changes of this machine's IPv4 routes, unicast
// addresses and IP interfaces from the IP Helper API's notifications
// (NotifyRouteChange2 and friends, through winipcfg): a value on the
// channel says "something changed; look again" (changes that come
// together are one value). The channel closes when ctx ends. Compiled
// only: never run on Windows.
func WatchNetwork(ctx context.Context) (<-chan struct{}, error) {
	out := make(chan struct{}, 1)
	signal := func(notificationType winipcfg.MibNotificationType, family winipcfg.AddressFamily) {
		if !winNotifyChange(uint32(notificationType), uint16(family)) {
			return
		}
		select {
		case out <- struct{}{}:
		default: // one is pending already
		}
	}
	var cbs []winipcfg.ChangeCallback
	unregister := func() {
		for _, cb := range cbs {
			cb.Unregister()
		}
	}
	rc, err := winipcfg.RegisterRouteChangeCallback(func(t winipcfg.MibNotificationType, r *winipcfg.MibIPforwardRow2) {
		if r != nil {
			signal(t, r.DestinationPrefix.RawPrefix.Family)
		}
	})
	if err != nil {
		return nil, errors.Join(errors.New("platform: route notifications"), err)
	}
	cbs = append(cbs, rc)
	ac, err := winipcfg.RegisterUnicastAddressChangeCallback(func(t winipcfg.MibNotificationType, a *winipcfg.MibUnicastIPAddressRow) {
		if a != nil {
			signal(t, a.Address.Family)
		}
	})
	if err != nil {
		unregister()
		return nil, errors.Join(errors.New("platform: address notifications"), err)
	}
	cbs = append(cbs, ac)
	ic, err := winipcfg.RegisterInterfaceChangeCallback(func(t winipcfg.MibNotificationType, i *winipcfg.MibIPInterfaceRow) {
		if i != nil {
			signal(t, i.Family)
		}
	})
	if err != nil {
		unregister()
		return nil, errors.Join(errors.New("platform: interface notifications"), err)
	}
	cbs = append(cbs, ic)
	go func() {
		<-ctx.Done()
		// Unregister waits for callbacks that are running, so none
		// sends after the close.
		unregister()
		close(out)
	}()
	return out, nil
}

// PathTo describes the route Windows gives dst ("dev Ethernet via
// 192.168.1.1"), from PowerShell's Find-NetRoute; "" when none covers it.
func PathTo(dst netip.Addr) (string, error) { return windowsPathTo(ExecRunner{}, dst) }
