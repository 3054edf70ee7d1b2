package ike

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// The batched data path's machinery: the crypto workers that seal and
// open shares of a batch in parallel, and the batchIO that moves a batch
// with few system calls. WritePackets (send.go) and ReadPackets
// (receive.go) use them; their pipelines are described there. A Conn
// whose socket is not a *net.UDPConn (the tests' in-memory fakes) has no
// batchIO: it reads one datagram at a time (BatchSize 1) and WritePackets
// writes one after the other.

// rxBatch is the most datagrams one ReadPackets returns, and the most
// one batchIO.send passes to the kernel at once.
const rxBatch = 64

// minShare is the fewest packets a crypto worker is handed: below that,
// waking a worker costs more than the work.
const minShare = 8

// parallelMinProcs is the fewest Ps (GOMAXPROCS) with which a batch is
// spread over the crypto workers. Measured with build/bench-e2e.sh on 2
// cores (iperf3 at both ends and the peer on the same machine): spreading
// cost 0-17% of GCM's and 25-29% of CBC's TCP throughput and ~20% more
// CPU per GB, since the two directions' goroutines already keep both cores
// busy. With 4 or more there are cores to spare; that was not measured
// here (no such machine). Tests lower it to run the parallel path.
var parallelMinProcs atomic.Int32

func init() { parallelMinProcs.Store(4) }

// spreadCount counts the batches spread over the workers (for tests).
var spreadCount atomic.Uint64

// cryptoShares is how many shares a batch of n packets is cut into.
func cryptoShares(n int) int {
	procs := runtime.GOMAXPROCS(0)
	if procs < int(parallelMinProcs.Load()) {
		return 1
	}
	return max(1, min(procs, n/minShare))
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
	spreadCount.Add(1)
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
