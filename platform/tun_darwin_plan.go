package platform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file opens and configures a macOS utun device. It has no GOOS
// suffix so that its tests run on Linux with a fake device and a fake
// Runner; tun_darwin.go only calls it. None of it has run on a Mac: it is
// compiled (GOOS=darwin) and tested with fakes only.
//
// macOS names every TUN device utunN and the kernel picks N: the device is
// asked for as "utun" from wireguard-go's tun.CreateTUN (which opens the
// com.apple.net.utun_control socket and sets the MTU itself), and its
// name comes back from Name(). The address, the MTU again (so that the
// log shows a command a user can repeat) and the up state are then set
// with one ifconfig(8) command.

// darwinTUNRequest is the name that lets the kernel pick the unit.
const darwinTUNRequest = "utun"

// darwinTUNName is the name to ask tun.CreateTUN for, given the requested
// one: "utun" or "utunN" as they are; anything else, such as the
// helper's "corridor0" or Linux's "corridor%d", is not a name macOS can
// give a TUN device, and means "let the kernel pick" (ignored is true,
// so that the caller can say so in the log).
func darwinTUNName(requested string) (name string, ignored bool) {
	if requested == darwinTUNRequest {
		return requested, false
	}
	if n, ok := strings.CutPrefix(requested, darwinTUNRequest); ok && n != "" {
		if _, err := strconv.ParseUint(n, 10, 32); err == nil {
			return requested, false
		}
	}
	return darwinTUNRequest, requested != ""
}

// validDarwinIfName: letters and digits only, as the kernel's utunN names
// are (a name is passed to ifconfig as one argument, but it is checked
// anyway, as darwinItems does).
func validDarwinIfName(name string) bool {
	if name == "" || len(name) > 15 {
		return false
	}
	for _, ch := range name {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			return false
		}
	}
	return true
}

// darwinTUNPlan returns the commands that configure the open device name
// for cfg (already validated): its point-to-point address, MTU and up
// state in one ifconfig(8) call,
//
//	ifconfig utun4 inet 192.168.30.10 192.168.30.1 netmask 255.255.255.255 mtu 1400 up
//
// A utun interface is point-to-point and needs a destination; without a
// peer from IPCP, the local address is its own destination (as
// wireguard-tools' wg-quick does on macOS), so that no peer route exists.
// IPCP negotiates IPv4 only; an IPv6 address is refused rather than
// configured by commands nobody has run.
func darwinTUNPlan(name string, cfg TUNConfig) ([]Command, error) {
	if !validDarwinIfName(name) {
		return nil, fmt.Errorf("platform: invalid macOS interface name %q", name)
	}
	if !cfg.Local.Is4() {
		return nil, fmt.Errorf("platform: IPv6 TUN address %v: not supported on macOS yet", cfg.Local)
	}
	dest := cfg.Local
	if cfg.Peer.IsValid() {
		dest = cfg.Peer
	}
	return []Command{cmd("ifconfig", name, "inet", cfg.Local.String(), dest.String(),
		"netmask", "255.255.255.255", "mtu", strconv.Itoa(cfg.MTU), "up")}, nil
}

// openDarwinTUN is OpenTUN on macOS: it creates the device with o.create
// (tun.CreateTUN there, a fake in tests), reads the name the kernel gave
// it, and runs darwinTUNPlan through o.runner. On any error it closes the
// device again, which removes it with its address.
func openDarwinTUN(cfg TUNConfig, o options) (*TUN, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if !cfg.Local.Is4() {
		// Refused before a device exists (darwinTUNPlan says why).
		_, err := darwinTUNPlan(darwinTUNRequest, cfg)
		return nil, err
	}
	name, ignored := darwinTUNName(cfg.Name)
	if ignored {
		o.log.Info("tun: macOS names TUN devices utunN; the kernel picks the number", "requested", cfg.Name)
	}
	t, err := openDevice(o, name, cfg.MTU, func(err error) error {
		return fmt.Errorf("platform: creating TUN %q: %w", name, err)
	})
	if err != nil {
		return nil, err
	}
	name = t.name
	plan, err := darwinTUNPlan(name, cfg)
	if err == nil {
		for _, c := range plan {
			if err = t.run(c.Args...); err != nil {
				break
			}
		}
	}
	if err != nil {
		if cerr := t.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	o.log.Info("tun up", "name", name, "local", cfg.Local, "peer", cfg.Peer, "mtu", cfg.MTU)
	return t, nil
}
