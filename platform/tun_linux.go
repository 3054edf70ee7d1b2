package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

const defaultName = "corridor0"

// OpenTUN creates the device, sets its MTU, gives it the address Local with
// peer Peer (a point-to-point /32), brings it up and adds the routes. On any
// error it undoes what it had already done.
//
// The address is configured with iproute2 rather than netlink so that every
// step is a command a user can read in the log and repeat by hand.
func OpenTUN(cfg TUNConfig, opts ...Option) (*TUN, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	name := cfg.Name
	if name == "" {
		name = defaultName
	}
	dev, err := o.create(name, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("platform: creating TUN %q: %w", name, err)
	}
	if name, err = dev.Name(); err != nil {
		dev.Close()
		return nil, fmt.Errorf("platform: reading TUN name: %w", err)
	}
	t := &TUN{dev: dev, name: name, runner: o.runner, log: o.log}
	// Drain device events: wireguard-go's listeners block on a small channel
	// otherwise, and would then never exit after Close.
	go func() {
		for ev := range dev.Events() {
			o.log.Debug("tun event", "name", name, "event", ev)
		}
	}()

	if err := t.configure(cfg); err != nil {
		if uerr := t.Close(); uerr != nil {
			o.log.Warn("tun rollback incomplete", "name", name, "err", uerr)
			err = errors.Join(err, uerr)
		}
		return nil, err
	}
	o.log.Info("tun up", "name", name, "local", cfg.Local, "peer", cfg.Peer, "mtu", cfg.MTU, "routes", cfg.Routes)
	return t, nil
}

// configure applies address, link state and routes. The address and link
// state vanish with the device, so only routes record an undo command.
func (t *TUN) configure(cfg TUNConfig) error {
	addr := []string{"addr", "add"}
	if cfg.Peer.IsValid() {
		// "peer" makes the kernel add the host route to the peer itself.
		addr = append(addr, cfg.Local.String(), "peer", cfg.Peer.String())
	} else {
		addr = append(addr, netip.PrefixFrom(cfg.Local, cfg.Local.BitLen()).String())
	}
	addr = append(addr, "dev", t.name)
	if err := t.run(nil, "ip", addr...); err != nil {
		return err
	}
	if err := t.run(nil, "ip", "link", "set", "dev", t.name, "mtu", strconv.Itoa(cfg.MTU), "up"); err != nil {
		return err
	}
	for _, r := range cfg.Routes {
		p := r.String()
		if err := t.run([]string{"ip", "route", "del", p, "dev", t.name}, "ip", "route", "add", p, "dev", t.name); err != nil {
			return err
		}
	}
	return nil
}
