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

// The batched inbound path, ReadPackets (l2tp.BatchReader; l2tp's
// receiving goroutine), in place in its buffers:
//
//	batchIO.recv                   up to rxBatch datagrams (recvmmsg)
//	per datagram, in order         not from the server, IKE, keepalives:
//	                               as ReadPacket does (size 0: dropped)
//	rx gate entered once           Close waits for the batch
//	esp.SA.Fresh, in order         the anti-replay window: a cheap drop of
//	                               what it would refuse, before any crypto
//	esp.SA.Unseal, in shares       ICV, decryption and padding, in parallel
//	                               on the crypto workers (batch.go; with 4
//	                               or more cores)
//	esp.SA.Accept, in order        the window moves for each verified
//	                               packet; a number twice in one batch is
//	                               refused the second time (RFC 4303 3.4.3)
//	inner UDP header               cut off; the L2TP datagram's bounds go
//	                               back in offs and sizes
//
// The buffers are rxBufSize long, room for the TUN device's GRO (below).

// BatchSize implements l2tp.BatchReader: 1 without a batchIO (l2tp then
// calls ReadPacket).
func (c *Conn) BatchSize() int {
	if c.bio == nil {
		return 1
	}
	return rxBatch
}

// BufSize implements l2tp.BatchReader. A datagram takes at most 2048
// bytes, but the buffers are 64 KiB: the tunnel hands the packets to the
// TUN device in place, and wireguard-go's Linux device coalesces the
// segments of a TCP stream (GRO) into the spare capacity of the first
// one's buffer, so that the kernel takes one large segment per flow
// instead of one write per packet. Pages never written stay out of
// memory.
func (c *Conn) BufSize() int { return rxBufSize }

// rxBufSize is the size of ReadPackets' buffers: room for a coalesced TCP
// segment of 64 KiB (tun.Device's GRO).
const rxBufSize = 65536

// ReadPackets implements l2tp.BatchReader: up to BatchSize datagrams,
// each ESP packet opened in place, the L2TP datagram of buffer i at
// bufs[i][offs[i]:offs[i]+sizes[i]] (size 0: dropped).
func (c *Conn) ReadPackets(bufs [][]byte, offs, sizes []int) (int, error) {
	if c.bio == nil {
		off, n, err := c.ReadPacket(bufs[0])
		if err != nil {
			return 0, err
		}
		offs[0], sizes[0] = off, n
		return 1, nil
	}
	n := min(len(bufs), rxBatch)
	count, err := c.bio.recv(bufs[:n], sizes[:n], c.rxFrom[:n])
	if err != nil {
		if e := c.Err(); e != nil {
			return 0, e
		}
		return 0, err
	}
	b := c.rxb
	if !c.rxGate.enter() {
		return 0, l2tp.ErrDropped // closed: the next read fails
	}
	defer c.rxGate.leave()
	in := c.in.Load()
	work := false
	for i := range count {
		b.sas[i], b.errs[i] = nil, nil
		from, m := c.rxFrom[i], sizes[i]
		sizes[i] = 0
		if from.Addr().Unmap() != c.server {
			continue
		}
		if p, ok := c.ikePayload(bufs[i][:m], from.Port()); ok {
			select {
			case c.ikeCh <- append([]byte(nil), p...):
			default:
			}
			continue
		}
		spi, ok := esp.PeekSPI(bufs[i][:m])
		if from.Port() != c.nattPort || !ok {
			continue // a keepalive (RFC 3948 2.3) or junk
		}
		sa := in.cur
		if in.prev != nil && spi == in.prev.SPI() {
			sa = in.prev
		}
		seq, err := sa.Fresh(bufs[i][:m])
		if err != nil {
			c.log.Debug("esp drop", "spi", spi, "err", err)
			continue
		}
		b.sas[i], b.seq[i], b.sizes[i] = sa, seq, m
		work = true
	}
	if !work {
		return count, nil
	}
	b.bufs = bufs
	b.spread(count)
	b.bufs = nil
	seen := false
	for i := range count {
		sa := b.sas[i]
		if sa == nil {
			continue
		}
		b.sas[i] = nil
		if b.errs[i] != nil {
			c.log.Debug("esp drop", "spi", sa.SPI(), "err", b.errs[i])
			continue
		}
		if !sa.Accept(b.seq[i]) {
			c.log.Debug("esp drop", "spi", sa.SPI(), "err", esp.ErrReplay)
			continue
		}
		seen = true
		// Transport mode carries the inner UDP datagram of L2TP.
		off, end := b.start[i], b.stop[i]
		if b.next[i] != ipProtoUDP || end-off < l2tp.UDPHeaderLen {
			continue
		}
		offs[i], sizes[i] = off+l2tp.UDPHeaderLen, end-off-l2tp.UDPHeaderLen
	}
	if seen && !c.rxSeen.Load() {
		c.rxSeen.Store(true)
	}
	return count, nil
}
