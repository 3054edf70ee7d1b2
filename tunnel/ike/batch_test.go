package ike

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

// batchReader reads with ReadPackets until the Conn closes and hands on
// every L2TP datagram, in order, and the number of dropped batch members.
type batchReader struct {
	pkts    chan []byte
	dropped chan struct{}
	done    chan error
}

func startBatchReader(t *testing.T, c *Conn) *batchReader {
	rd := &batchReader{pkts: make(chan []byte, 1024), dropped: make(chan struct{}, 1024), done: make(chan error, 1)}
	n := c.BatchSize()
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, c.BufSize())
	}
	offs, sizes := make([]int, n), make([]int, n)
	go func() {
		for range 100_000 {
			count, err := c.ReadPackets(bufs, offs, sizes)
			for i := range count {
				if sizes[i] == 0 {
					rd.dropped <- struct{}{}
					continue
				}
				rd.pkts <- bytes.Clone(bufs[i][offs[i] : offs[i]+sizes[i]])
			}
			if err != nil && err != l2tp.ErrDropped {
				rd.done <- err
				return
			}
		}
		rd.done <- nil
	}()
	t.Cleanup(func() {
		c.Close()
		select {
		case <-rd.done:
		case <-time.After(5 * time.Second):
			t.Error("ReadPackets did not return after Close")
		}
	})
	return rd
}

// next returns the next datagram, or fails after d.
func (rd *batchReader) next(t *testing.T, d time.Duration) []byte {
	t.Helper()
	select {
	case p := <-rd.pkts:
		return p
	case <-time.After(d):
		t.Fatal("no datagram")
		return nil
	}
}

// nextOr returns the next datagram, or nil after d.
func (rd *batchReader) nextOr(d time.Duration) []byte {
	select {
	case p := <-rd.pkts:
		return p
	case <-time.After(d):
		return nil
	}
}

// spreadAlways makes the test's batches go to the crypto workers whatever
// the number of cores (with at least two Ps).
func spreadAlways(t *testing.T) {
	old := parallelMinProcs.Load()
	parallelMinProcs.Store(1)
	prev := runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
	t.Cleanup(func() { parallelMinProcs.Store(old); runtime.GOMAXPROCS(prev) })
}

// sendBatch sends n payloads of the given sizes through WritePackets.
func sendBatch(t *testing.T, c *Conn, base int, sizes []int) [][]byte {
	t.Helper()
	bufs := make([][]byte, len(sizes))
	offs := make([]int, len(sizes))
	var want [][]byte
	for i, n := range sizes {
		p := l2tpPayload(base+i, n)
		want = append(want, p)
		bufs[i] = make([]byte, 64+n, 64+n+64)
		copy(bufs[i][64:], p)
		offs[i] = 64
	}
	sent, err := c.WritePackets(bufs, offs)
	if err != nil || sent != len(sizes) {
		t.Fatalf("WritePackets: %d of %d sent, %v", sent, len(sizes), err)
	}
	return want
}

// TestBatchEcho: batches of equal and mixed sizes go out numbered in
// order and in order on the wire (the responder sees 1, 2, 3, ...), and
// their echoes come back through ReadPackets in order, for AES-GCM and
// AES-CBC with HMAC-SHA1.
func TestBatchEcho(t *testing.T) {
	for _, tc := range []struct{ suite, mode string }{
		{"aes128gcm16", "one goroutine"}, {"aes128-sha1", "one goroutine"},
		{"aes128gcm16", "spread"}, {"aes128-sha1", "spread"},
	} {
		suite := tc.suite
		t.Run(suite+" "+tc.mode, func(t *testing.T) {
			spread0 := spreadCount.Load()
			if tc.mode == "spread" {
				spreadAlways(t)
				defer func() {
					if spreadCount.Load() == spread0 && batchedIO() {
						t.Error("no batch went to the crypto workers")
					}
				}()
			}
			r := newTestResponder(t, "secret psk")
			cfg := r.config()
			cfg.ESP = mustESP(t, suite)
			r.start()
			c, err := dialTest(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rd := startBatchReader(t, c)
			// Each batch's echoes are read before the next goes out: a
			// burst of more than about 100 datagrams overflows a
			// socket's default receive buffer (208 KiB) on loopback.
			var equal, mixed, small []int
			for i := range 48 {
				equal = append(equal, 1200) // one GSO run where the kernel has GSO
				if i%16 == 15 {
					equal = append(equal, 40+i) // a shorter one ends a run
				}
			}
			for i := range 30 {
				mixed = append(mixed, 12+(i*137)%1400)
			}
			for i := range rxBatch + 6 {
				small = append(small, 60+i%7) // more than one sendmmsg
			}
			var want [][]byte
			for _, sizes := range [][]int{equal, mixed, small, equal[:5]} {
				batch := sendBatch(t, c, len(want), sizes)
				for i, w := range batch {
					got := rd.nextOr(2 * time.Second)
					if got == nil {
						s := r.stats()
						t.Fatalf("echo %d of %d missing; the responder saw %d ESP packets, %d bad, echoed %d; %d dropped members", len(want)+i, len(want)+len(batch), s.espOnNATT, s.espBad, s.espEchoed, len(rd.dropped))
					}
					if !bytes.Equal(got, w) {
						t.Fatalf("echo %d: %d bytes (first % x), want %d (first % x)", len(want)+i, len(got), got[:min(8, len(got))], len(w), w[:8])
					}
				}
				want = append(want, batch...)
			}
			s := r.stats()
			if len(s.espSeqs) != len(want) {
				t.Fatalf("the responder saw %d ESP packets, want %d", len(s.espSeqs), len(want))
			}
			for i, seq := range s.espSeqs {
				if seq != uint32(i+1) {
					t.Fatalf("ESP packet %d on the wire has number %d (numbers %v)", i, seq, s.espSeqs)
				}
			}
		})
	}
}

// TestBatchDroppedMembers: a forgery, a replay, a datagram from another
// port and a NAT keepalive among the server's packets are dropped as
// batch members (size 0), and the packets around them arrive intact.
func TestBatchDroppedMembers(t *testing.T) {
	spreadAlways(t)
	r := newTestResponder(t, "secret psk")
	r.start()
	c, err := dialTest(r.config())
	if err != nil {
		t.Fatal(err)
	}
	// The responder learns where we are from our first ESP packet.
	rd := startBatchReader(t, c)
	sendBatch(t, c, 0, []int{20})
	rd.next(t, 5*time.Second)

	r.mu.Lock()
	out := r.children[0].out
	seal := func(i int) []byte {
		u := make([]byte, 8+100)
		binary.BigEndian.PutUint16(u, 1701)
		binary.BigEndian.PutUint16(u[2:], 1701)
		binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
		copy(u[8:], l2tpPayload(1000+i, 100))
		buf := make([]byte, 64+len(u)+64)
		copy(buf[64:], u)
		start, stop, err := out.Seal(buf, 64, 64+len(u), 17)
		if err != nil {
			t.Fatal(err)
		}
		return buf[start:stop]
	}
	var wire [][]byte
	good := 0
	for i := range 12 {
		p := seal(i)
		wire = append(wire, p)
		good++
		switch i {
		case 3:
			forged := bytes.Clone(p)
			forged[len(forged)-1] ^= 1
			wire = append(wire, forged)
		case 6:
			wire = append(wire, bytes.Clone(p)) // a replay
		case 8:
			wire = append(wire, []byte{0xff}) // a NAT keepalive
		}
	}
	client := r.client
	r.mu.Unlock()
	for _, p := range wire {
		if _, err := r.nattConn.WriteToUDPAddrPort(p, client); err != nil {
			t.Fatal(err)
		}
	}
	// From the server's address but another port: not the server's ESP.
	if _, err := r.ikeConn.WriteToUDPAddrPort(seal(99), client); err != nil {
		t.Fatal(err)
	}
	for i := range good {
		got := rd.next(t, 5*time.Second)
		if want := l2tpPayload(1000+i, 100); !bytes.Equal(got, want) {
			t.Fatalf("datagram %d: % x..., want % x...", i, got[:8], want[:8])
		}
	}
	deadline := time.After(5 * time.Second)
	for drops := 0; drops < 4; drops++ {
		select {
		case <-rd.dropped:
		case <-deadline:
			t.Fatalf("%d dropped members reported, want 4", drops)
		}
	}
	select {
	case p := <-rd.pkts:
		t.Fatalf("an extra datagram: % x", p[:8])
	case <-time.After(50 * time.Millisecond):
	}
}

// batchedIO reports whether this system has the batched socket I/O
// (Linux): elsewhere ReadPackets and WritePackets go one datagram at a time.
func batchedIO() bool { return runtime.GOOS == "linux" }
