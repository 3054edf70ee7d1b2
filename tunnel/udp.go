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
	c        *net.UDPConn
	refused  atomic.Bool
	refusals int  // port unreachables before any answer; read goroutine only
	answered bool // a datagram has arrived; read goroutine only
}

// ErrPortUnreachable: the server's host answered every datagram with ICMP
// port unreachable before anything else arrived: nothing listens there.
var ErrPortUnreachable = errors.New("tunnel: the server's UDP port is closed (ICMP port unreachable)")

// refusalLimit is how many port unreachables, with no answer in between,
// end the attempt. One can be stale (left by an earlier process on the
// same port); three, a retransmission apart each, are not.
const refusalLimit = 3

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
		// An ICMP port unreachable came back for an earlier datagram.
		// Before the server ever answered, a few in a row mean nobody
		// listens; once it has answered, one is a blip: keep reading.
		u.refused.Store(true)
		if u.refusals++; !u.answered && u.refusals >= refusalLimit {
			return 0, 0, ErrPortUnreachable
		}
		return 0, 0, l2tp.ErrDropped
	}
	if err == nil {
		u.answered = true
	}
	return 0, n, err
}

// WritePacket implements l2tp.Transport. It sends buf[off:] as it is and
// uses none of the room around it: the kernel adds UDP and IPv4.
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
