package platform

import (
	"fmt"
	"runtime"
)

// defaultWindowsTUNName names the Wintun adapter when TUNConfig.Name is
// empty: the adapter name in the Control Panel and in "ipconfig".
const defaultWindowsTUNName = "corridor0"

// OpenTUN creates a Wintun adapter through wireguard-go's tun package
// (tun.CreateTUN, which loads wintun.dll from the executable's directory or
// System32) and gives it its address, MTU, metric and the route to the
// peer through the IP Helper API (configureWindowsTUN, windowsnet.go).
// Closing it removes the adapter and all of these with it.
//
// Compiled for windows/amd64 and windows/arm64 only: it has never run on
// Windows. What is tested, on Linux, is the message for a missing
// wintun.dll (wintunerr.go) and the calls configureWindowsTUN makes.
// Needs Administrator rights (the Corridor service).
func OpenTUN(cfg TUNConfig, opts ...Option) (*TUN, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	name := cfg.Name
	if name == "" {
		name = defaultWindowsTUNName
	}
	t, err := openDevice(o, name, cfg.MTU, func(err error) error {
		err = wintunError(err, name, runtime.GOARCH)
		o.log.Error("tun create failed", "name", name, "err", err)
		return err
	})
	if err != nil {
		return nil, err
	}
	dev := t.dev
	native, ok := dev.(interface{ LUID() uint64 })
	if !ok {
		dev.Close()
		return nil, fmt.Errorf("platform: the device %s has no interface LUID (%T)", t.name, dev)
	}
	if err := configureWindowsTUN(ipHelper{}, native.LUID(), cfg); err != nil {
		dev.Close()
		return nil, fmt.Errorf("platform: configuring %s: %w", t.name, err)
	}
	o.log.Info("tun open", "name", t.name, "mtu", cfg.MTU, "local", cfg.Local, "peer", cfg.Peer)
	return t, nil
}
