package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// UDPTransport carries L2TP directly in UDP (RFC 2661 8.1), without IPsec.
// It satisfies l2tp.Transport.
type UDPTransport struct {
	c       *net.UDPConn
	refused atomic.Bool
}

// DialUDP opens a UDP socket connected to server (host:port). localPort 0
// picks an ephemeral source port; 1701 is what some servers expect.
func DialUDP(ctx context.Context, server string, localPort int) (*UDPTransport, error) {
	d := net.Dialer{LocalAddr: &net.UDPAddr{Port: localPort}}
	c, err := d.DialContext(ctx, "udp4", server)
	if err != nil {
		return nil, fmt.Errorf("tunnel: udp %s: %w", server, err)
	}
	return &UDPTransport{c: c.(*net.UDPConn)}, nil
}

// ReadPacket implements l2tp.Transport.
func (u *UDPTransport) ReadPacket(buf []byte) (int, int, error) {
	n, err := u.c.Read(buf)
	if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
		// An ICMP port unreachable came back for an earlier datagram: keep
		// reading, but remember it to explain a timeout.
		u.refused.Store(true)
		return 0, 0, l2tp.ErrDropped
	}
	return 0, n, err
}

// WritePacket implements l2tp.Transport.
func (u *UDPTransport) WritePacket(buf []byte, off int) error {
	_, err := u.c.Write(buf[off:])
	if err != nil && errors.Is(err, syscall.ECONNREFUSED) {
		u.refused.Store(true)
		return nil
	}
	return err
}

// Close implements l2tp.Transport.
func (u *UDPTransport) Close() error { return u.c.Close() }

// Refused reports whether the server's host answered with ICMP port
// unreachable: nothing listens on the port.
func (u *UDPTransport) Refused() bool { return u.refused.Load() }

// LocalAddr is the socket's local address.
func (u *UDPTransport) LocalAddr() net.Addr { return u.c.LocalAddr() }
