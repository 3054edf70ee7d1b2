// Package platform performs the per-OS side effects of a tunnel: the TUN
// device with its address and MTU, and the Router for routes and DNS. It
// never imports tunnel/, core/ or app/.
//
// The device itself comes from wireguard-go's tun package; everything that is
// configured around it (addresses, link state, routes) goes through a Runner
// that executes the OS's own tools, so tests can assert the exact commands
// without privileges (the approach of tailscale's wgengine/router). Per-OS code
// lives in files named by GOOS suffix; tun_default.go is the stub for systems
// that are not supported yet.
package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// MinWriteOffset is the least headroom, in bytes, that Write needs in front
// of every packet. On Linux the device is opened with IFF_VNET_HDR (for TCP and
// UDP offload), and wireguard-go writes a 10-byte struct virtio_net_hdr into
// the bytes just before each packet; it rejects a smaller offset with
// "invalid offset". Other systems need less; callers should always reserve at
// least this much.
const MinWriteOffset = 10

// TUNConfig describes the device OpenTUN creates.
type TUNConfig struct {
	// Name is the requested interface name; "" means the OS default
	// ("corridor0" on Linux). On Linux a name containing "%d" lets the kernel
	// pick the first free number; TUN.Name reports the result.
	Name string
	// MTU of the device, in bytes of IP packet.
	MTU int
	// Local is our address, as negotiated by IPCP.
	Local netip.Addr
	// Peer is the server's address from IPCP. It may be the zero Addr when
	// the server gave none; then the address is configured without a peer
	// and no peer route exists.
	Peer netip.Addr
	// IPv6: IPV6CP will supply the IPv6 link-local address (AddLinkLocal),
	// so the system makes none of its own (Linux: addrgenmode none): its
	// router solicitations and neighbour discovery then come from the
	// negotiated address (RFC 5072 section 5). Ignored elsewhere so far.
	IPv6 bool
}

// Routes through the device are the Router's (router.go): it journals each
// before adding it, so that they are removed even after a crash.

// Option adjusts OpenTUN.
type Option func(*options)

type options struct {
	runner Runner
	log    *slog.Logger
	// create opens the device; tests replace it to run without privileges.
	create func(name string, mtu int) (tun.Device, error)
}

// WithRunner makes OpenTUN and Close run OS commands through r instead of
// executing them.
func WithRunner(r Runner) Option { return func(o *options) { o.runner = r } }

// WithLogger sets the logger for configuration steps and device events.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// withCreate substitutes the device constructor (tests only).
func withCreate(f func(name string, mtu int) (tun.Device, error)) Option {
	return func(o *options) { o.create = f }
}

func buildOptions(opts []Option) options {
	o := options{runner: ExecRunner{}, create: tun.CreateTUN}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// TUN is an open, configured device. Its Read, Write and BatchSize methods
// are those of wireguard-go's tun.Device: batched, with offset headroom in
// front of each packet.
type TUN struct {
	dev    tun.Device
	name   string
	runner Runner
	log    *slog.Logger
	// drained is closed when the device's event channel has ended (its
	// Close closes it): Close waits for that, briefly, so the drain's
	// last log line comes before Close returns.
	drained chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Name returns the interface name the OS gave the device.
func (t *TUN) Name() string { return t.name }

// Read reads one or more packets into bufs, each starting at offset, and
// stores their lengths in sizes; it returns the number of packets. len(sizes)
// must be at least len(bufs). Each buffer must hold offset+MTU bytes. On Linux
// a single TCP or UDP super-packet from the kernel (GSO) is split into several
// packets, so pass BatchSize() buffers: with fewer, a large one fails with
// tun.ErrTooManySegments. After Close it returns an error matching
// os.ErrClosed.
func (t *TUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.dev.Read(bufs, sizes, offset)
	if err != nil && t.closed.Load() {
		return n, os.ErrClosed
	}
	return n, err
}

// Write writes the packets bufs[i][offset:] to the OS and returns len(bufs)
// on success. offset must be at least MinWriteOffset, and the bytes in front
// of each packet may be overwritten. On Linux, Write may coalesce packets
// (GRO): it may extend a buffer into its spare capacity and reorder the
// elements of bufs, so each element must own its whole capacity. On error,
// some packets of the batch may have been delivered; the count is then 0 and
// retrying is not useful. After Close it returns an error matching
// os.ErrClosed.
func (t *TUN) Write(bufs [][]byte, offset int) (int, error) {
	_, err := t.dev.Write(bufs, offset)
	if err != nil {
		if t.closed.Load() {
			return 0, os.ErrClosed
		}
		return 0, err
	}
	// wireguard-go's Linux device returns bytes, not packets; report packets
	// as the tun.Device contract documents.
	return len(bufs), nil
}

// BatchSize returns the most packets one Read returns or one Write should
// carry; it does not change while the device is open.
func (t *TUN) BatchSize() int { return t.dev.BatchSize() }

// drainWait bounds how long Close waits for the device's events to end.
const drainWait = time.Second

// Close removes the device, and with it its address and the routes through
// it. It is idempotent and may run while a Read is blocked; that Read then
// returns an error matching os.ErrClosed.
func (t *TUN) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		if err := t.dev.Close(); err != nil {
			t.closeErr = fmt.Errorf("platform: closing %s: %w", t.name, err)
		}
		if t.drained != nil {
			select {
			case <-t.drained:
			case <-time.After(drainWait):
			}
		}
		t.log.Info("tun closed", "name", t.name, "err", t.closeErr)
	})
	return t.closeErr
}

// AddLinkLocal gives the device the IPv6 link-local address a (fe80::IID
// from IPV6CP, RFC 5072 section 5) as a /64, so that the kernel can
// solicit routers and autoconfigure from their advertisements through
// the tunnel. IPV6CP has already made the identifier unique on the link
// (RFC 5072 4.1), so duplicate address detection is skipped. The address
// vanishes with the device. Linux only so far; elsewhere it returns an
// error matching errors.ErrUnsupported.
func (t *TUN) AddLinkLocal(a netip.Addr) error {
	c, err := linkLocalCommand(runtime.GOOS, t.name, a)
	if err != nil {
		return err
	}
	return t.run(c...)
}

// linkLocalCommand is AddLinkLocal's command on goos.
func linkLocalCommand(goos, dev string, a netip.Addr) ([]string, error) {
	if !a.Is6() || a.Is4In6() || !a.IsLinkLocalUnicast() {
		return nil, fmt.Errorf("platform: %v is not an IPv6 link-local address", a)
	}
	if goos != "linux" {
		return nil, fmt.Errorf("platform: IPv6 link-local address on %s: %w", goos, errors.ErrUnsupported)
	}
	return []string{"ip", "-6", "addr", "add", netip.PrefixFrom(a, 64).String(), "dev", dev, "nodad"}, nil
}

// run executes one configuration command.
func (t *TUN) run(args ...string) error {
	c := cmd(args...)
	t.log.Debug("platform command", "cmd", c.String())
	_, err := t.runner.Run(c)
	return err
}

// validate checks cfg and returns it normalised: IPv4-mapped addresses
// unmapped, an unspecified peer dropped.
func (cfg TUNConfig) validate() (TUNConfig, error) {
	if cfg.MTU < 68 || cfg.MTU > 65535 {
		return cfg, fmt.Errorf("platform: MTU %d out of range 68..65535", cfg.MTU)
	}
	if !cfg.Local.IsValid() || cfg.Local.IsUnspecified() {
		return cfg, fmt.Errorf("platform: invalid local address %v", cfg.Local)
	}
	cfg.Local = cfg.Local.Unmap()
	if cfg.Peer.IsValid() {
		cfg.Peer = cfg.Peer.Unmap()
		if cfg.Peer.IsUnspecified() {
			cfg.Peer = netip.Addr{} // 0.0.0.0 from IPCP means "none"
		} else if cfg.Peer.Is4() != cfg.Local.Is4() {
			return cfg, fmt.Errorf("platform: local %v and peer %v are of different families", cfg.Local, cfg.Peer)
		}
	}
	return cfg, nil
}

// openDevice creates the TUN device name through o.create, takes the name
// the system gave it (macOS picks utunN, Windows keeps the adapter's) and
// drains its events: wireguard-go's listeners send them on a small
// channel and would otherwise block, and never exit after Close.
// createErr words a creation failure for the system.
func openDevice(o options, name string, mtu int, createErr func(error) error) (*TUN, error) {
	dev, err := o.create(name, mtu)
	if err != nil {
		return nil, createErr(err)
	}
	if name, err = dev.Name(); err != nil {
		dev.Close()
		return nil, fmt.Errorf("platform: reading TUN name: %w", err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range dev.Events() {
			o.log.Debug("tun event", "name", name, "event", ev)
		}
	}()
	return &TUN{dev: dev, name: name, runner: o.runner, log: o.log, drained: drained}, nil
}
