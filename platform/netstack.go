package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// ErrNoDNS is returned by Netstack.LookupHost when the server assigned no
// DNS server: a name cannot be resolved through the tunnel then.
var ErrNoDNS = errors.New("the VPN server assigned no DNS server")

// Netstack is a userspace TCP/IP stack (gVisor, through wireguard-go's
// tun/netstack) in place of an OS TUN device: the tunnel reads and writes
// its IP packets exactly as it does a TUN's, and this process's code opens
// connections through it with DialContext. It needs no privileges and
// changes nothing on the machine: no device, no address, no route, no DNS.
type Netstack struct {
	dev tun.Device
	net *netstack.Net
	dns []netip.Addr

	closed    atomic.Bool
	closeOnce sync.Once
}

// NetstackName is what Netstack.Name reports in place of an interface name.
const NetstackName = "userspace"

// OpenNetstack starts a userspace stack with the address local (from
// IPCP), resolving names only with the servers in dns (the DNS servers
// the VPN server assigned), never the machine's resolver.
func OpenNetstack(local netip.Addr, dns []netip.Addr, mtu int) (*Netstack, error) {
	if mtu < 68 || mtu > 65535 {
		return nil, fmt.Errorf("platform: MTU %d out of range 68..65535", mtu)
	}
	if !local.IsValid() || local.IsUnspecified() {
		return nil, fmt.Errorf("platform: invalid local address %v", local)
	}
	var servers []netip.Addr
	for _, d := range dns {
		if d.IsValid() && !d.IsUnspecified() {
			servers = append(servers, d.Unmap())
		}
	}
	dev, n, err := netstack.CreateNetTUN([]netip.Addr{local.Unmap()}, servers, mtu)
	if err != nil {
		return nil, fmt.Errorf("platform: userspace network stack: %w", err)
	}
	return &Netstack{dev: dev, net: n, dns: servers}, nil
}

// Name is NetstackName: there is no OS interface.
func (s *Netstack) Name() string { return NetstackName }

// Read returns the next packet the stack sends (one per call: BatchSize is
// 1) at bufs[0][offset:]. After Close it returns an error matching
// os.ErrClosed.
func (s *Netstack) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := s.dev.Read(bufs, sizes, offset)
	if err != nil && s.closed.Load() {
		return n, os.ErrClosed
	}
	return n, err
}

// Write hands the packets bufs[i][offset:] to the stack (it copies them)
// and returns len(bufs).
func (s *Netstack) Write(bufs [][]byte, offset int) (int, error) {
	if s.closed.Load() {
		return 0, os.ErrClosed
	}
	return s.dev.Write(bufs, offset)
}

// BatchSize is 1.
func (s *Netstack) BatchSize() int { return s.dev.BatchSize() }

// Close ends the stack and every connection through it. It is idempotent.
//
// wireguard-go's netstack hands outbound packets to Read through an
// unbuffered channel that Close closes: a packet the stack sends while it
// closes (a RST for each open connection) would block forever with no
// reader, or panic on the closed channel. So Close keeps reading (and
// dropping) until the device reports it is closed.
func (s *Netstack) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		go func() {
			bufs, sizes := [][]byte{make([]byte, 65536)}, []int{0}
			for {
				if _, err := s.dev.Read(bufs, sizes, 0); err != nil {
					return
				}
			}
		}()
		s.dev.Close()
	})
	return nil
}

// DialContext opens a connection through the tunnel to address, an
// IP:port (names go through LookupHost first: this never uses the
// machine's resolver). network is "tcp", "tcp4", "udp" or "udp4". The
// stack's failures are turned into the syscall errors a kernel socket
// gives (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT), so callers
// can test them with errors.Is.
func (s *Netstack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("platform: want IP:port, got %q", address)}
	}
	var c net.Conn
	switch network {
	case "tcp", "tcp4", "tcp6":
		c, err = s.net.DialContextTCPAddrPort(ctx, ap)
	case "udp", "udp4", "udp6":
		c, err = s.net.DialUDPAddrPort(netip.AddrPort{}, ap)
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if err != nil {
		return nil, stackError(err, network, ap)
	}
	return c, nil
}

// stackError maps gVisor's textual errors to syscall errnos.
func stackError(err error, network string, ap netip.AddrPort) error {
	msg := err.Error()
	for _, m := range []struct {
		text  string
		errno syscall.Errno
	}{
		{"connection was refused", syscall.ECONNREFUSED},
		{"connection reset by peer", syscall.ECONNRESET},
		{"no route to host", syscall.EHOSTUNREACH},
		{"host is down", syscall.EHOSTUNREACH},
		{"network is unreachable", syscall.ENETUNREACH},
		{"operation timed out", syscall.ETIMEDOUT},
	} {
		if strings.Contains(msg, m.text) {
			return &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: m.errno}
		}
	}
	return err
}

// LookupHost resolves host (an address is returned as is) with the DNS
// servers given to OpenNetstack, over the tunnel. Without any it fails
// with ErrNoDNS; a name that does not exist gives a *net.DNSError with
// IsNotFound set.
func (s *Netstack) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	if len(s.dns) == 0 {
		return nil, &net.DNSError{Err: ErrNoDNS.Error(), Name: host, UnwrapErr: ErrNoDNS}
	}
	names, err := s.net.LookupContextHost(ctx, host)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, n := range names {
		if a, err := netip.ParseAddr(n); err == nil {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}
