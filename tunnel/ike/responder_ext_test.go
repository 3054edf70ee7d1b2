package ike

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// TestResponderDial runs a real initiator (Dial) against the exported
// Responder over loopback and passes ESP both ways with the SA pair the
// Responder hands out, for each suite the benchmark peer uses.
func TestResponderDial(t *testing.T) {
	for _, suite := range []ESPSuite{{Suite: esp.AESGCM16, KeyLen: 16}, {Suite: esp.AESCBC_HMACSHA1, KeyLen: 16}} {
		t.Run(suite.Notation(), func(t *testing.T) { testResponderDial(t, suite) })
	}
}

func testResponderDial(t *testing.T, suite ESPSuite) {
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	ikeConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nattConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		ikeConn.Close()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() {
		ikeConn.Close()
		nattConn.Close()
		wg.Wait() // no t.Logf after the test ends
	}()
	ports := [2]uint16{uint16(ikeConn.LocalAddr().(*net.UDPAddr).Port), uint16(nattConn.LocalAddr().(*net.UDPAddr).Port)}
	r := &Responder{PSK: []byte("bench psk"), ESP: []ESPSuite{suite}, Local: lo, Ports: ports}

	children := make(chan *Child, 4)
	espIn := make(chan []byte, 16)
	serve := func(c *net.UDPConn, floated bool) {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			b := buf[:n]
			if floated {
				if len(b) < 4 || b[0]|b[1]|b[2]|b[3] != 0 {
					select {
					case espIn <- bytes.Clone(b): // ESP, or a 1-byte NAT keepalive (not within this test)
					default:
					}
					continue
				}
				b = b[4:]
			}
			replies, ch, err := r.Handle(b, from, floated)
			if err != nil {
				t.Logf("responder: %v", err)
			}
			for _, m := range replies {
				if floated {
					m = append(make([]byte, 4), m...)
				}
				c.WriteToUDPAddrPort(m, from)
			}
			if ch != nil {
				select {
				case children <- ch:
				default:
				}
			}
		}
	}
	wg.Add(2)
	go serve(ikeConn, false)
	go serve(nattConn, true)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := Config{PSK: []byte("bench psk"), serverPorts: ports,
		Retransmit: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}}
	c, err := Dial(ctx, lo, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if got := c.Info().ESP; got != suite {
		t.Errorf("negotiated %v, want %v", got, suite)
	}
	var ch *Child
	select {
	case ch = <-children:
	case <-ctx.Done():
		t.Fatal("no Child from the responder")
	}
	if ch.In.SPI() != c.Info().OutSPI || ch.Out.SPI() != c.Info().InSPI {
		t.Errorf("SPIs: responder in %08x out %08x, client out %08x in %08x", ch.In.SPI(), ch.Out.SPI(), c.Info().OutSPI, c.Info().InSPI)
	}

	// Client to responder.
	payload := []byte("an L2TP datagram, as far as ESP knows")
	buf := make([]byte, l2tp.TransportHeadroom+len(payload), l2tp.TransportHeadroom+len(payload)+l2tp.TransportTailroom)
	copy(buf[l2tp.TransportHeadroom:], payload)
	if err := c.WritePacket(buf, l2tp.TransportHeadroom); err != nil {
		t.Fatal(err)
	}
	var pkt []byte
	select {
	case pkt = <-espIn:
	case <-ctx.Done():
		t.Fatal("no ESP packet at the responder")
	}
	off, end, next, err := ch.In.Open(pkt, 0, len(pkt))
	if err != nil || next != 17 {
		t.Fatalf("responder Open: %v, next header %d", err, next)
	}
	u := pkt[off:end]
	if binary.BigEndian.Uint16(u) != 1701 || !bytes.Equal(u[8:], payload) {
		t.Fatalf("responder got % x, want UDP 1701 and %q", u, payload)
	}

	// Responder to client: the same inner datagram, echoed.
	out := make([]byte, 64+len(u)+64)
	copy(out[64:], u)
	start, stop, err := ch.Out.Seal(out, 64, 64+len(u), 17)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nattConn.WriteToUDPAddrPort(out[start:stop], ch.Client); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 2048)
	for {
		o, n, err := c.ReadPacket(rb)
		if err == l2tp.ErrDropped {
			continue
		}
		if err != nil {
			t.Fatalf("client ReadPacket: %v", err)
		}
		if !bytes.Equal(rb[o:o+n], payload) {
			t.Fatalf("client got %q, want %q", rb[o:o+n], payload)
		}
		break
	}
}
