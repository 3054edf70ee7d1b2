package ike

import (
	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// The inbound data path, one datagram (ReadPacket, on the one goroutine
// that reads: l2tp's receiving goroutine), in place in its buffer:
//
//	socket read                    buf[0:n]; not from the server: dropped
//	port 500, or marker 0 0 0 0    an IKE message (RFC 3948 2.2): a copy
//	  on port 4500                 goes to routineIKE (ikeCh), dropped here
//	shorter than an ESP header     a NAT keepalive (RFC 3948 2.3): dropped
//	ESP header and IV              buf[0:head]; the SPI picks the SA, the
//	                               current one or the one a rekey replaced
//	rx gate entered                Close waits for the packet before it
//	                               wipes the keys
//	anti-replay, ICV, decryption   esp.SA.Open, in place; the padding,
//	                               trailer and ICV are cut off
//	inner UDP header               buf[head : head+8] (next header 17)
//	L2TP datagram                  buf[head+8 : end], returned as (off, n);
//	                               l2tp parses it where it lies
//
// head is 24 for AES-CBC, 16 for AES-GCM and 3DES-CBC. Nothing is copied
// unless it is an IKE message.

// nonESPMarkerLen is the four zero bytes in front of an IKE message on
// port 4500 that tell it apart from ESP, whose SPI is never 0 (RFC 3948
// 2.2).
const nonESPMarkerLen = 4

// ReadPacket implements l2tp.Transport: it returns the L2TP datagram of
// the next ESP packet, decrypted in place; IKE messages go to the IKE
// goroutine and NAT keepalives are dropped.
func (c *Conn) ReadPacket(buf []byte) (int, int, error) {
	n, from, err := c.udp.ReadFromUDPAddrPort(buf)
	if err != nil {
		if e := c.Err(); e != nil {
			return 0, 0, e
		}
		return 0, 0, err
	}
	if from.Addr().Unmap() != c.server {
		return 0, 0, l2tp.ErrDropped
	}
	if b, ok := c.ikePayload(buf[:n], from.Port()); ok {
		select {
		case c.ikeCh <- append([]byte(nil), b...):
		default:
		}
		return 0, 0, l2tp.ErrDropped
	}
	if from.Port() != c.nattPort {
		return 0, 0, l2tp.ErrDropped
	}
	return c.decap(buf, n)
}

// ikePayload returns the IKE message in a datagram from port, if it is one.
func (c *Conn) ikePayload(b []byte, port uint16) ([]byte, bool) {
	switch {
	case port == c.ikePort:
		return b, len(b) >= HeaderLen
	case len(b) >= nonESPMarkerLen+HeaderLen && b[0]|b[1]|b[2]|b[3] == 0:
		return b[nonESPMarkerLen:], true
	}
	return nil, false
}

// decap opens the ESP packet buf[:n] in place and returns where its L2TP
// datagram lies.
func (c *Conn) decap(buf []byte, n int) (int, int, error) {
	spi, ok := esp.PeekSPI(buf[:n])
	if !ok {
		return 0, 0, l2tp.ErrDropped // keepalive (RFC 3948 2.3) or junk
	}
	if !c.rxGate.enter() {
		return 0, 0, l2tp.ErrDropped // closed: the next read fails
	}
	defer c.rxGate.leave()
	in := c.in.Load()
	sa := in.cur
	if in.prev != nil && spi == in.prev.SPI() {
		sa = in.prev
	}
	off, end, next, err := sa.Open(buf, 0, n)
	if err != nil {
		c.log.Debug("esp drop", "spi", spi, "err", err)
		return 0, 0, l2tp.ErrDropped
	}
	if !c.rxSeen.Load() {
		c.rxSeen.Store(true)
	}
	// Transport mode carries the inner UDP datagram of L2TP.
	if next != ipProtoUDP || end-off < l2tp.UDPHeaderLen {
		return 0, 0, l2tp.ErrDropped
	}
	return off + l2tp.UDPHeaderLen, end - off - l2tp.UDPHeaderLen, nil
}
