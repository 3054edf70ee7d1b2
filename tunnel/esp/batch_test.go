package esp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
)

// sealBatchParallel numbers n payloads in order with Reserve and seals
// them on several goroutines with SealAt, as a batched data path does.
func sealBatchParallel(t *testing.T, tx *SA, n, workers int) [][]byte {
	t.Helper()
	first, err := tx.Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	pkts := make([][]byte, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				payload := fmt.Sprintf("packet %04d of the batch ......", i)
				buf := make([]byte, 64+len(payload), 64+len(payload)+MaxTailLen)
				copy(buf[64:], payload)
				start, stop, err := tx.SealAt(buf, 64, len(buf), 17, first+uint64(i))
				if err != nil {
					t.Error(err)
					return
				}
				pkts[i] = buf[start:stop]
			}
		}()
	}
	wg.Wait()
	return pkts
}

// TestReserveSealAtOrder: a batch sealed in parallel carries the sequence
// numbers of its order, and each packet opens to its own payload.
func TestReserveSealAtOrder(t *testing.T) {
	for _, c := range allConfigs() {
		t.Run(c.String(), func(t *testing.T) {
			tx, rx := pair(t, c.suite, c.encKeyLen)
			sealOne(t, tx, "one before the batch") // number 1
			pkts := sealBatchParallel(t, tx, 40, 4)
			for i, p := range pkts {
				if got := Header(p).Seq(); got != uint32(i+2) {
					t.Fatalf("packet %d has number %d, want %d", i, got, i+2)
				}
				off, end, _, err := rx.Open(p, 0, len(p))
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if want := fmt.Sprintf("packet %04d of the batch ......", i); string(p[off:end]) != want {
					t.Fatalf("packet %d opened to %q", i, p[off:end])
				}
			}
			if tx.SeqNumber() != 41 {
				t.Errorf("SeqNumber %d after 41 packets", tx.SeqNumber())
			}
		})
	}
}

func TestReserveExhausted(t *testing.T) {
	tx := mustSA(t, AESGCM16, 16)
	tx.seq.Store(math.MaxUint32 - 3)
	if _, err := tx.Reserve(4); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("Reserve past 2^32-1: %v", err)
	}
	tx.seq.Store(math.MaxUint32 - 3)
	first, err := tx.Reserve(3)
	if err != nil || first != math.MaxUint32-2 {
		t.Fatalf("Reserve up to 2^32-1: %d %v", first, err)
	}
}

func TestSealAtUnreservedPanics(t *testing.T) {
	tx := mustSA(t, AESGCM16, 16)
	defer func() {
		if recover() == nil {
			t.Error("SealAt with a number never reserved did not panic")
		}
	}()
	buf := make([]byte, 64, 64+MaxTailLen)
	tx.SealAt(buf, 32, 64, 17, 5)
}

// openBatch opens pkts as a parallel data path does: Fresh in order,
// Unseal on several goroutines, Accept in order. It returns the payloads
// accepted, nil for a dropped packet, and the drop reasons.
func openBatch(rx *SA, pkts [][]byte, workers int) ([][]byte, []error) {
	n := len(pkts)
	out := make([][]byte, n)
	errs := make([]error, n)
	seqs := make([]uint32, n)
	for i, p := range pkts {
		seqs[i], errs[i] = rx.Fresh(p)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if errs[i] != nil {
					continue
				}
				off, end, _, err := rx.Unseal(pkts[i], 0, len(pkts[i]))
				if err != nil {
					errs[i] = err
					continue
				}
				out[i] = pkts[i][off:end]
			}
		}()
	}
	wg.Wait()
	for i := range pkts {
		if errs[i] == nil && !rx.Accept(seqs[i]) {
			errs[i], out[i] = ErrReplay, nil
		}
	}
	return out, errs
}

// TestParallelOpenReorderedBatch: a batch that arrives out of order, with
// a duplicate, a forgery and a packet from before the window, loses
// exactly those three; the rest open whatever their order.
func TestParallelOpenReorderedBatch(t *testing.T) {
	for _, c := range allConfigs() {
		t.Run(c.String(), func(t *testing.T) {
			tx, rx := pair(t, c.suite, c.encKeyLen)
			old := sealOne(t, tx, "an old packet")
			for range ReplayWindow + 10 {
				sealOne(t, tx, "filler") // numbers the receiver never sees
			}
			pkts := sealBatchParallel(t, tx, 12, 3)
			// Arrival order: reversed, with packet 5 twice (once at the
			// end), a forged copy of packet 7 and the old packet.
			var in [][]byte
			for i := len(pkts) - 1; i >= 0; i-- {
				in = append(in, pkts[i])
			}
			forged := bytes.Clone(pkts[7])
			forged[len(forged)-1] ^= 1
			dup := bytes.Clone(pkts[5])
			in = append(in, forged, dup, old)
			// The genuine packet 7 comes after its forgery: a forgery
			// must not move the window past it.
			in[len(pkts)-1-7], in[len(pkts)] = in[len(pkts)], in[len(pkts)-1-7]
			out, errs := openBatch(rx, in, 4)
			accepted := map[string]bool{}
			for i, p := range out {
				if p != nil {
					if accepted[string(p)] {
						t.Fatalf("%q accepted twice", p)
					}
					accepted[string(p)] = true
					continue
				}
				if errs[i] == nil {
					t.Fatalf("packet %d dropped without a reason", i)
				}
			}
			for i := range pkts {
				if want := fmt.Sprintf("packet %04d of the batch ......", i); !accepted[want] {
					t.Errorf("%q not accepted", want)
				}
			}
			if len(accepted) != len(pkts) {
				t.Errorf("%d accepted, want %d", len(accepted), len(pkts))
			}
			for i, want := range map[int]error{len(in) - 1: ErrReplay, len(in) - 2: ErrReplay} {
				if !errors.Is(errs[i], want) {
					t.Errorf("arrival %d: %v, want %v", i, errs[i], want)
				}
			}
			// The batch again: every packet is a replay now.
			_, errs = openBatch(rx, pkts, 2)
			for i, err := range errs {
				if !errors.Is(err, ErrReplay) {
					t.Errorf("replayed packet %d: %v", i, err)
				}
			}
		})
	}
}

// TestParallelOpenMatchesOpen: for random arrival orders, duplicates and
// forgeries, the three-step open accepts exactly what Open accepts one
// packet at a time.
func TestParallelOpenMatchesOpen(t *testing.T) {
	for seed := range uint64(50) {
		tx, _ := pair(t, AESGCM16, 16)
		rxA, rxB := mustSA(t, AESGCM16, 16), mustSA(t, AESGCM16, 16)
		var stream [][]byte
		for i := range 300 {
			p := sealOne(t, tx, fmt.Sprintf("p%d", i))
			stream = append(stream, p)
		}
		// A deterministic shuffle by seed, duplicates and forgeries.
		x := seed*0x9e3779b97f4a7c15 + 1
		next := func(n int) int { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return int(x % uint64(n)) }
		var in [][]byte
		for range 400 {
			p := bytes.Clone(stream[next(len(stream))])
			if next(10) == 0 {
				p[len(p)-1] ^= 0x40
			}
			in = append(in, p)
		}
		var want []string
		for _, p := range in {
			q := bytes.Clone(p)
			if off, end, _, err := rxA.Open(q, 0, len(q)); err == nil {
				want = append(want, string(q[off:end]))
			}
		}
		var got []string
		for b := 0; b < len(in); b += 32 {
			batch := make([][]byte, 0, 32)
			for _, p := range in[b:min(b+32, len(in))] {
				batch = append(batch, bytes.Clone(p))
			}
			out, _ := openBatch(rxB, batch, 3)
			for _, p := range out {
				if p != nil {
					got = append(got, string(p))
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: batches accepted\n%v\nOpen accepted\n%v", seed, got, want)
		}
	}
}
