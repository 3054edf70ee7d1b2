package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

const defaultName = "corridor0"

// OpenTUN creates the device, sets its MTU, gives it the address Local with
// peer Peer (a point-to-point /32) and brings it up. On any error it removes
// the device again. Routes through it are the Router's.
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
	t, err := openDevice(o, name, cfg.MTU, func(err error) error {
		return fmt.Errorf("platform: creating TUN %q: %w", name, err)
	})
	if err != nil {
		return nil, err
	}
	if err := t.configure(cfg); err != nil {
		if cerr := t.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	o.log.Info("tun up", "name", t.name, "local", cfg.Local, "peer", cfg.Peer, "mtu", cfg.MTU)
	return t, nil
}

// configure applies address and link state; both vanish with the device.
func (t *TUN) configure(cfg TUNConfig) error {
	addr := []string{"ip", "addr", "add"}
	if cfg.Peer.IsValid() {
		// "peer" makes the kernel add the host route to the peer itself.
		addr = append(addr, cfg.Local.String(), "peer", cfg.Peer.String())
	} else {
		addr = append(addr, netip.PrefixFrom(cfg.Local, cfg.Local.BitLen()).String())
	}
	addr = append(addr, "dev", t.name)
	if err := t.run(addr...); err != nil {
		return err
	}
	if cfg.IPv6 {
		if err := t.run("ip", "link", "set", "dev", t.name, "addrgenmode", "none"); err != nil {
			return err
		}
		// The router advertisements that come through the tunnel are the
		// tunnel's own autoconfiguration's (tunnel/ipv6) and never reach
		// the device. Left to accept them (accept_ra 1, the default), the
		// kernel would solicit routers through the tunnel once the
		// link-local address is on, and again and again, backing off to
		// once an hour, for as long as the device is up
		// (router_solicitations -1; RFC 7559): each one answered by the
		// server. Best effort: without sysctl only those packets go out.
		if err := t.run("sysctl", "-q", "-w", "net/ipv6/conf/"+t.name+"/accept_ra=0"); err != nil {
			t.log.Warn("ipv6: could not stop the kernel's own router solicitations", "dev", t.name, "err", err)
		}
	}
	return t.run("ip", "link", "set", "dev", t.name, "mtu", strconv.Itoa(cfg.MTU), "up")
}
