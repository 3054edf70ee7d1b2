package platform

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

// pump copies packets from a to b until a is closed.
func pump(a interface {
	Read([][]byte, []int, int) (int, error)
}, b interface {
	Write([][]byte, int) (int, error)
}) {
	buf := make([]byte, 2048)
	sizes := []int{0}
	for {
		n, err := a.Read([][]byte{buf}, sizes, 16)
		if err != nil {
			return
		}
		if n == 1 {
			b.Write([][]byte{buf[:16+sizes[0]]}, 16)
		}
	}
}

// peerStack is a second userspace stack wired back to back with s: the
// "server side" of the tunnel.
func peerStack(t *testing.T, s *Netstack, addr netip.Addr) *netstack.Net {
	t.Helper()
	dev, n, err := netstack.CreateNetTUN([]netip.Addr{addr}, nil, 1400)
	if err != nil {
		t.Fatal(err)
	}
	go pump(s, dev)
	go pump(dev, s)
	t.Cleanup(func() { s.Close(); closePeer(dev) })
	return n
}

func closePeer(dev tun.Device) {
	go func() { // drain, as Netstack.Close does
		b := [][]byte{make([]byte, 65536)}
		for {
			if _, err := dev.Read(b, []int{0}, 0); err != nil {
				return
			}
		}
	}()
	dev.Close()
}

func TestNetstackDialThroughStack(t *testing.T) {
	local, peer := netip.MustParseAddr("192.168.30.10"), netip.MustParseAddr("192.168.30.1")
	s, err := OpenNetstack(local, nil, 1400)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != NetstackName || s.BatchSize() != 1 {
		t.Errorf("name %q batch %d", s.Name(), s.BatchSize())
	}
	pn := peerStack(t, s, peer)
	l, err := pn.ListenTCPAddrPort(netip.AddrPortFrom(peer, 80))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "hello")
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.DialContext(ctx, "tcp", "192.168.30.1:80")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if string(b) != "hello" {
		t.Errorf("read %q, %v", b, err)
	}

	_, err = s.DialContext(ctx, "tcp", "192.168.30.1:81")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want ECONNREFUSED", err)
	}
	if _, err := s.DialContext(ctx, "tcp", "intranet.example:80"); err == nil {
		t.Error("a name was dialed: DialContext must take IP:port only")
	}
	if _, err := s.LookupHost(ctx, "intranet.example"); !errors.Is(err, ErrNoDNS) {
		t.Errorf("lookup without DNS: %v, want ErrNoDNS", err)
	}
	if a, err := s.LookupHost(ctx, "10.1.2.3"); err != nil || len(a) != 1 || a[0] != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("address lookup: %v %v", a, err)
	}
	s.Close()
	s.Close()
	if _, err := s.Read([][]byte{make([]byte, 100)}, []int{0}, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

func TestOpenNetstackBadInput(t *testing.T) {
	if _, err := OpenNetstack(netip.Addr{}, nil, 1400); err == nil {
		t.Error("no address accepted")
	}
	if _, err := OpenNetstack(netip.MustParseAddr("10.0.0.1"), nil, 20); err == nil {
		t.Error("MTU 20 accepted")
	}
}

// Close must neither hang nor panic while the stack has packets to send
// and nobody reads them (the tunnel's reader has already gone): here, SYNs
// of dials that can never complete.
func TestNetstackCloseWithNoReader(t *testing.T) {
	s, err := OpenNetstack(netip.MustParseAddr("192.168.30.10"), nil, 1400)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan struct{}, 10)
	for i := range 10 {
		go func() {
			s.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)).String())
			dialed <- struct{}{}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung with unread packets")
	}
	cancel()
	for range 10 {
		select {
		case <-dialed:
		case <-time.After(5 * time.Second):
			t.Fatal("a dial did not return after Close")
		}
	}
}
