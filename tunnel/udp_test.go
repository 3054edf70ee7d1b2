package tunnel

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// TestUDPPortUnreachable: datagrams to a loopback port nobody listens on
// come back as ICMP port unreachable; after refusalLimit of them with no
// answer, ReadPacket gives up with ErrPortUnreachable.
func TestUDPPortUnreachable(t *testing.T) {
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close() // now nothing listens on addr
	tr, err := DialUDP(t.Context(), addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	buf := make([]byte, 64)
	var errs []error
	for i := 0; i < refusalLimit; i++ {
		if err := tr.WritePacket(buf, 0); err != nil {
			t.Fatal(err)
		}
		tr.c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err := tr.ReadPacket(buf)
		errs = append(errs, err)
	}
	for i, err := range errs[:refusalLimit-1] {
		if !errors.Is(err, l2tp.ErrDropped) {
			t.Errorf("read %d: %v, want l2tp.ErrDropped", i, err)
		}
	}
	if !errors.Is(errs[refusalLimit-1], ErrPortUnreachable) || !tr.Refused() {
		t.Errorf("read %d: %v (refused %v), want ErrPortUnreachable", refusalLimit-1, errs[refusalLimit-1], tr.Refused())
	}
}
