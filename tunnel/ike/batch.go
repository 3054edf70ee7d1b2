package ike

import (
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// The batched data path (l2tp.BatchWriter and l2tp.BatchReader), as
// wireguard-go moves packets: many per system call, the cryptography
// spread over the cores, every packet in place in its caller's buffer.
//
// Outbound, WritePackets (the tunnel's device reader: one batch of L2TP
// datagrams per TUN read):
//
//	tx gate entered once           Close waits for the batch
//	Reserve(n)                     n sequence numbers, in batch order
//	inner UDP headers              as encap writes them, in order
//	SealAt, in shares              the caller seals the first share, the
//	                               crypto workers the others (cryptoShares)
//	sequence number past seqRekey  routineIKE is asked for a new SA pair
//	batchIO.send                   in batch order: Linux coalesces runs of
//	                               equal-sized packets with UDP GSO and
//	                               sends every run in one sendmmsg; without
//	                               GSO, one sendmmsg; elsewhere a write each
//
// Inbound, ReadPackets (l2tp's receiving goroutine):
//
//	batchIO.recv                   up to rxBatch datagrams (recvmmsg)
//	per datagram, in order         not from the server, IKE, keepalives:
//	                               as ReadPacket does (size 0: dropped)
//	rx gate entered once           Close waits for the batch
//	esp.SA.Fresh, in order         the anti-replay window: a cheap drop of
//	                               what it would refuse, before any crypto
//	esp.SA.Unseal, in shares       ICV, decryption and padding, in parallel
//	esp.SA.Accept, in order        the window moves for each verified
//	                               packet; a number twice in one batch is
//	                               refused the second time
//	inner UDP header               cut off; the L2TP datagram's bounds go
//	                               back in offs and sizes
//
// A Conn whose socket is not a *net.UDPConn (the tests' in-memory fakes)
// has no batchIO: it reads one datagram at a time (BatchSize 1) and
// WritePackets writes one after the other.

// rxBatch is the most datagrams one ReadPackets returns, and the most
// one batchIO.send passes to the kernel at once.
const rxBatch = 64

// minShare is the fewest packets a crypto worker is handed: below that,
// waking a worker costs more than the work.
const minShare = 8

// cryptoShares is how many shares a batch of n packets is cut into.
func cryptoShares(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minShare))
}

// A cryptoJob is one share of a batch for a crypto worker: packets
// lo..hi-1 of b.
type cryptoJob struct {
	b      *batch
	lo, hi int
}

// cryptoWorkers run shares of batches for every Conn: GOMAXPROCS at the
// first batch, minus one for the goroutine that hands them out and does
// its own share. They hold no keys between jobs.
var (
	cryptoOnce sync.Once
	cryptoJobs chan cryptoJob
)

func startCryptoWorkers() {
	n := max(1, runtime.GOMAXPROCS(0)-1)
	cryptoJobs = make(chan cryptoJob, 4*n)
	for range n {
		go func() {
			for j := range cryptoJobs {
				j.b.run(j.lo, j.hi)
				j.b.wg.Done()
			}
		}()
	}
}

// batch is the state of one batch being sealed or opened: owned by the
// goroutine of WritePackets or ReadPackets, shared with the workers
// between spread's start and end.
type batch struct {
	open bool // Unseal (ReadPackets), else SealAt (WritePackets)
	wg   sync.WaitGroup

	// Sealing: packet i is bufs[i][offs[i]-8:len(bufs[i])] with its
	// inner UDP header, sealed with sequence number first+i.
	sa    *esp.SA
	first uint64
	// Opening: packet i is bufs[i][:sizes[i]], for sas[i] (nil: dropped).
	sas []*esp.SA
	seq []uint32

	bufs  [][]byte
	offs  []int
	sizes []int
	// Results: the bounds of packet i after sealing or opening, and
	// what failed (nil: fine).
	start, stop []int
	next        []byte
	errs        []error
}

func newBatch(open bool, n int) *batch {
	return &batch{open: open,
		sas: make([]*esp.SA, n), seq: make([]uint32, n), sizes: make([]int, n),
		start: make([]int, n), stop: make([]int, n), next: make([]byte, n), errs: make([]error, n)}
}

// spread runs b over packets 0..n-1: the caller's share first, the
// others on the crypto workers, and returns when all are done.
func (b *batch) spread(n int) {
	shares := cryptoShares(n)
	if shares == 1 {
		b.run(0, n)
		return
	}
	cryptoOnce.Do(startCryptoWorkers)
	per := (n + shares - 1) / shares
	for lo := per; lo < n; lo += per {
		b.wg.Add(1)
		cryptoJobs <- cryptoJob{b, lo, min(lo+per, n)}
	}
	b.run(0, per)
	b.wg.Wait()
}

// run seals or opens packets lo..hi-1.
func (b *batch) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		if b.open {
			if b.sas[i] == nil {
				continue
			}
			off, end, next, err := b.sas[i].Unseal(b.bufs[i], 0, b.sizes[i])
			b.start[i], b.stop[i], b.next[i], b.errs[i] = off, end, next, err
			continue
		}
		start, stop, err := b.sa.SealAt(b.bufs[i], b.offs[i]-l2tp.UDPHeaderLen, len(b.bufs[i]), ipProtoUDP, b.first+uint64(i))
		b.start[i], b.stop[i], b.errs[i] = start, stop, err
	}
}

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
	if !c.txGate.enter() {
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

// batchIO moves batches of datagrams between a Conn and its socket.
type batchIO interface {
	// send writes each of pkts to the server's NAT-T port, in order,
	// and returns how many went out.
	send(pkts [][]byte) (int, error)
	// recv reads up to len(bufs) datagrams, at least one, into bufs,
	// with their sizes and sources.
	recv(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error)
}

// putInnerUDP writes the inner UDP header of an L2TP datagram of n
// bytes: ports port, checksum 0 (RFC 3948 3.1.1; ESP's ICV protects it).
func putInnerUDP(u []byte, port uint16, n int) {
	_ = u[7]
	u[0], u[1] = byte(port>>8), byte(port)
	u[2], u[3] = byte(port>>8), byte(port)
	l := l2tp.UDPHeaderLen + n
	u[4], u[5] = byte(l>>8), byte(l)
	u[6], u[7] = 0, 0
}
