package tunnel

import (
	"testing"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// TestHeadroom: the room around an outbound packet holds the largest
// stack of headers written in place for every ESP suite: PPP, L2TP, the
// inner UDP header and ESP's header and IV in front, ESP's padding,
// trailer and ICV behind. The outer UDP and IPv4 headers are the kernel's
// and the non-ESP marker goes only in front of IKE messages, which are
// not built in these buffers.
func TestHeadroom(t *testing.T) {
	suites := 0
	for s := esp.Suite(1); ; s++ {
		head, tail := s.Overhead()
		if head == 0 {
			break
		}
		suites++
		if need := ppp.FrameHeaderLen + l2tp.DataHeaderLen + l2tp.UDPHeaderLen + head; Headroom < need || l2tp.TransportHeadroom < need-ppp.FrameHeaderLen-l2tp.DataHeaderLen {
			t.Errorf("%v: %d bytes of headers in front, Headroom %d, l2tp.TransportHeadroom %d", s, need, Headroom, l2tp.TransportHeadroom)
		}
		if Tailroom < tail || l2tp.TransportTailroom < tail {
			t.Errorf("%v: %d bytes behind, Tailroom %d, l2tp.TransportTailroom %d", s, tail, Tailroom, l2tp.TransportTailroom)
		}
	}
	if suites < 6 {
		t.Errorf("only %d ESP suites checked", suites)
	}
	if BufSize < Headroom+MaxMTU+Tailroom {
		t.Errorf("BufSize %d < Headroom %d + MaxMTU %d + Tailroom %d", BufSize, Headroom, MaxMTU, Tailroom)
	}
}
