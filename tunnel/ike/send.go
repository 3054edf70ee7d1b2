package ike

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// The outbound data path, one L2TP datagram (WritePacket, from any
// goroutine: the tunnel's device reader, the L2TP and PPP control
// goroutines), in place in the caller's buffer; off is where the L2TP
// datagram starts, end = len(buf):
//
//	tx gate entered                Close waits for the packet before it
//	                               wipes the keys
//	less room than txHeadroom in   copied to buf[txHeadroom:] of a pooled
//	  front or txTailroom behind   buffer first (control messages of
//	                               l2tp and tunnel leave the room)
//	inner UDP header               buf[off-8 : off]: ports L2TPPort,
//	                               checksum 0 (RFC 3948 3.1.1)
//	ESP header and IV              buf[off-8-head : off-8]   } esp.SA.Seal:
//	padding, pad length, next      buf[end : end+tail]       } encrypts
//	  header 17, ICV                                         } buf[off-8 :
//	                                                         } end+tail-ICV]
//	sequence number past seqRekey  routineIKE is asked for a new SA pair
//	socket write to server:4500    buf[off-8-head : end+tail]; the kernel
//	                               adds UDP (8) and IPv4 (20)
//
// head is 24 for AES-CBC, 16 for AES-GCM and 3DES-CBC; tail is at most 33
// (AES-CBC with HMAC-SHA2-256-128). ESP carries no non-ESP marker: only
// IKE messages on port 4500 do (send).

// What encap writes around an L2TP datagram, from the sizes of the layers
// below: the inner UDP header and the longest ESP header and IV in front,
// the longest ESP padding, trailer and ICV behind.
const (
	txHeadroom = l2tp.UDPHeaderLen + esp.MaxHeadLen
	txTailroom = esp.MaxTailLen
)

// L2TP leaves that much room (a compile error otherwise).
const (
	_ uint = l2tp.TransportHeadroom - txHeadroom
	_ uint = l2tp.TransportTailroom - txTailroom
)

// ipProtoUDP is UDP's IP protocol number: ESP's next header for the inner
// UDP header, and the protocol of the Quick Mode IDs.
const ipProtoUDP = 17

// seqRekey is the outbound sequence number that triggers a rekey.
const seqRekey = 0xf0000000

// poolBufSize is the size of the pooled buffers for datagrams without the
// room: an L2TP datagram carrying a 1500-byte packet and the room around
// it, rounded up.
const poolBufSize = 2048

// bufPool holds buffers for packets without enough head- or tailroom.
var bufPool = sync.Pool{New: func() any { b := make([]byte, poolBufSize); return &b }}

// WritePacket implements l2tp.Transport: buf[off:] is an L2TP datagram.
func (c *Conn) WritePacket(buf []byte, off int) error {
	var tmp *[]byte
	start, stop, b, err := c.encap(buf, off, &tmp)
	if tmp != nil {
		defer bufPool.Put(tmp)
	}
	if err != nil {
		return err
	}
	_, err = c.udp.WriteToUDPAddrPort(b[start:stop], netip.AddrPortFrom(c.server, c.nattPort))
	return err
}

// encap seals the L2TP datagram buf[off:] into an ESP packet, in place
// when buf has the room, otherwise in a pooled buffer it returns in *tmp.
func (c *Conn) encap(buf []byte, off int, tmp **[]byte) (int, int, []byte, error) {
	if c.closing.Load() || !c.txGate.enter() {
		return 0, 0, nil, net.ErrClosed
	}
	defer c.txGate.leave()
	sa := c.out.Load()
	end := len(buf)
	if off < txHeadroom || cap(buf)-end < txTailroom {
		p := bufPool.Get().(*[]byte)
		*tmp = p
		nb := (*p)[:cap(*p)]
		n := end - off
		if txHeadroom+n+txTailroom > len(nb) {
			return 0, 0, nil, fmt.Errorf("ike: packet of %d bytes too large", n)
		}
		copy(nb[txHeadroom:], buf[off:end])
		buf, end, off = nb[:txHeadroom+n], txHeadroom+n, txHeadroom
	}
	// The inner UDP header (RFC 768); checksum 0 is allowed for IPv4 and
	// ESP's ICV protects the datagram (RFC 3948 3.1.1 leaves it to us).
	putInnerUDP(buf[off-l2tp.UDPHeaderLen:off], c.cfg.L2TPPort, end-off)
	start, stop, err := sa.Seal(buf[:end], off-l2tp.UDPHeaderLen, end, ipProtoUDP)
	if err == nil && sa.SeqNumber() >= seqRekey {
		// RFC 4303 3.3.3: the counter must not cycle; rekey well before.
		c.askRekey()
	}
	if err != nil {
		if errors.Is(err, esp.ErrSeqExhausted) {
			c.askRekey()
		}
		return 0, 0, nil, err
	}
	return start, stop, buf, nil
}

// The batched outbound path, WritePackets (l2tp.BatchWriter; the
// tunnel's device reader: one batch of L2TP datagrams per TUN read), in
// place in the caller's buffers, as wireguard-go moves packets: many per
// system call, the cryptography spread over the cores:
//
//	tx gate entered once           Close waits for the batch
//	esp.SA.Reserve(n)              n sequence numbers, in batch order
//	inner UDP headers              as encap writes them, in order
//	esp.SA.SealAt, in shares       the caller seals the first share, the
//	                               crypto workers the others (batch.go,
//	                               cryptoShares: with 4 or more cores)
//	sequence number past seqRekey  routineIKE is asked for a new SA pair
//	batchIO.send                   in batch order: Linux coalesces runs of
//	                               equal-sized packets with UDP GSO and
//	                               sends every run in one sendmmsg; without
//	                               GSO, one sendmmsg (batchio_linux.go)
//
// A batch with a datagram lacking the room, or a Conn without a batchIO,
// goes through WritePacket one datagram at a time.

// WritePackets implements l2tp.BatchWriter: it seals the L2TP datagrams
// bufs[i][offs[i]:] in place, numbered in order, and sends them in order.
func (c *Conn) WritePackets(bufs [][]byte, offs []int) (int, error) {
	n := len(bufs)
	room := c.bio != nil && n > 1
	for i := 0; room && i < n; i++ {
		room = offs[i] >= txHeadroom && cap(bufs[i])-len(bufs[i]) >= txTailroom
	}
	if !room {
		// One at a time; a datagram without the room is copied.
		for i, b := range bufs {
			if err := c.WritePacket(b, offs[i]); err != nil {
				return i, err
			}
		}
		return n, nil
	}
	if n > rxBatch {
		sent, err := c.WritePackets(bufs[:rxBatch], offs[:rxBatch])
		if err != nil {
			return sent, err
		}
		more, err := c.WritePackets(bufs[rxBatch:], offs[rxBatch:])
		return sent + more, err
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	if c.closing.Load() || !c.txGate.enter() {
		return 0, net.ErrClosed
	}
	defer c.txGate.leave()
	sa := c.out.Load()
	first, err := sa.Reserve(n)
	if err != nil {
		c.askRekey()
		return 0, err
	}
	for i, buf := range bufs {
		// The inner UDP header, as encap writes it (RFC 3948 3.1.1).
		putInnerUDP(buf[offs[i]-l2tp.UDPHeaderLen:offs[i]], c.cfg.L2TPPort, len(buf)-offs[i])
	}
	b := c.txb
	b.sa, b.first, b.bufs, b.offs = sa, first, bufs, offs
	b.spread(n)
	b.sa, b.bufs, b.offs = nil, nil, nil
	if sa.SeqNumber() >= seqRekey {
		c.askRekey() // RFC 4303 3.3.3: rekey well before the counter cycles
	}
	pkts := c.txPkts[:n]
	for i := range n {
		if b.errs[i] != nil {
			return 0, b.errs[i] // cannot happen: the room was checked
		}
		pkts[i] = bufs[i][b.start[i]:b.stop[i]]
	}
	sent, err := c.bio.send(pkts)
	clear(pkts)
	return sent, err
}

// askRekey asks routineIKE for a new SA pair, once.
func (c *Conn) askRekey() {
	select {
	case c.rekeyCh <- struct{}{}:
	default:
	}
}
