package platform

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/tun"
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
	o := buildOptions(append([]Option{withCreate(createWintun)}, opts...))
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

// createWintun creates the adapter with the GUID adapterGUID derives from
// its name, so that Windows keeps one network profile per adapter name
// instead of filing a new one at each connect. Wintun calls the GUID
// "requested": should Windows refuse it (an adapter left behind with the
// same GUID, say), the adapter is created with a random one instead.
func createWintun(name string, mtu int) (tun.Device, error) {
	u := adapterGUID(name)
	guid := windows.GUID{
		Data1: binary.BigEndian.Uint32(u[0:4]),
		Data2: binary.BigEndian.Uint16(u[4:6]),
		Data3: binary.BigEndian.Uint16(u[6:8]),
	}
	copy(guid.Data4[:], u[8:16])
	dev, err := tun.CreateTUNWithRequestedGUID(name, &guid, mtu)
	if err == nil {
		return dev, nil
	}
	if dev, err2 := tun.CreateTUN(name, mtu); err2 == nil {
		return dev, nil
	}
	return nil, err
}
