package ike

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// dropLog counts the "ike drop" records of a logger at Debug level.
type dropLog struct{ n atomic.Int64 }

func (*dropLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *dropLog) WithAttrs([]slog.Attr) slog.Handler     { return l }
func (l *dropLog) WithGroup(string) slog.Handler          { return l }
func (l *dropLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "ike drop" {
		l.n.Add(1)
	}
	return nil
}

// TestForgeriesDropped: datagrams that do not decrypt, parse or
// authenticate during Main Mode and Quick Mode are dropped and counted,
// and the exchange goes on to the real answer.
func TestForgeriesDropped(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *testResponder)
		drops int
	}{
		{"clear NO-PROPOSAL-CHOSEN before MM2", func(r *testResponder) { r.forgeMM2Notify = NotifyNoProposalChosen }, 1},
		{"clear INVALID-COOKIE and garbled MM6 before MM6", func(r *testResponder) { r.forgeMM6 = true }, 2},
		{"garbled QM2 and informational before QM2", func(r *testResponder) { r.forgeQM2 = true }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResponder(t, "k")
			tc.setup(r)
			r.start()
			cfg := r.config()
			var log dropLog
			cfg.Logger = slog.New(&log)
			c, err := dialTest(cfg)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if n := c.Dropped(); n < uint64(tc.drops) {
				t.Errorf("Dropped() = %d, want at least %d", n, tc.drops)
			}
			if n := log.n.Load(); n < int64(tc.drops) {
				t.Errorf("%d drops logged, want at least %d", n, tc.drops)
			}
		})
	}
}

// TestWrongPSKWaits: a HASH_R that never verifies is still reported as
// a wrong pre-shared key, but only once the retransmissions run out (a
// forger cannot end the exchange), and within their total.
func TestWrongPSKWaits(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k")
	r.wrongPSK = true
	r.start()
	cfg := r.config()
	start := time.Now()
	c, err := dialTest(cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded")
	}
	if !errors.Is(err, ErrPeerAuth) || !strings.Contains(err.Error(), "pre-shared key") {
		t.Errorf("err = %v", err)
	}
	// One more MM5 when our MM3 was retransmitted (a responder slow on a
	// loaded machine) and its second MM4 came back.
	if s := r.stats(); s.mm5 < len(cfg.Retransmit) || s.mm5 > len(cfg.Retransmit)+1 {
		t.Errorf("MM5 sent %d times, want %d (the retransmissions)", s.mm5, len(cfg.Retransmit))
	}
	if d := time.Since(start); d > total(cfg.Retransmit)+time.Second {
		t.Errorf("Dial took %v", d)
	}
}

// TestServerLifetimeClamped: lifetimes the server sets, of any size and
// encoding, are clamped to [60 s, 24 h].
func TestServerLifetimeClamped(t *testing.T) {
	big := Attr{Type: p1AttrLifeDur, Value: 1<<64 - 1} // 8 bytes of 0xff
	var16 := Attr{Type: p1AttrLifeDur, Var: append([]byte{1}, make([]byte, 15)...)}
	cases := []struct {
		name string
		a    Attr
		want time.Duration
	}{
		{"8-byte huge", big, 24 * time.Hour},
		{"16-byte variable", var16, 24 * time.Hour},
		{"1 s", Attr{Type: p1AttrLifeDur, Value: 1}, time.Minute},
		{"2 h in 4 bytes", Attr{Type: p1AttrLifeDur, Var: []byte{0, 0, 0x1c, 0x20}}, 2 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResponder(t, "k")
			mm, qm := tc.a, tc.a
			qm.Type = p2AttrLifeDur
			r.mmLife, r.qmLife = &mm, &qm
			r.start()
			cfg := r.config()
			cfg.IKELifetime, cfg.ESPLifetime = 48*time.Hour, 48*time.Hour
			c, err := dialTest(cfg)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if got := c.Info().Lifetime; got != tc.want {
				t.Errorf("ESP lifetime %v, want %v", got, tc.want)
			}
			if got := c.ike.lifetime; got != tc.want {
				t.Errorf("IKE lifetime %v, want %v", got, tc.want)
			}
		})
	}
	// RESPONDER-LIFETIME (RFC 2407 4.6.3.1) is clamped the same way.
	b := appendAttr(appendAttr(nil, Attr{Type: p2AttrLifeType, Value: lifeSeconds}), Attr{Type: p2AttrLifeDur, Value: 1<<63 + 5})
	if d, ok := responderLifetime(b); !ok || d != 24*time.Hour {
		t.Errorf("RESPONDER-LIFETIME of 2^63 s: %v %v", d, ok)
	}
	// A Life Duration counts in the unit of the Life Type before it
	// (RFC 2407 4.5): kilobytes first, then seconds.
	b = appendAttr(appendAttr(nil, Attr{Type: p2AttrLifeType, Value: 2}), Attr{Type: p2AttrLifeDur, Value: 5})
	b = appendAttr(appendAttr(b, Attr{Type: p2AttrLifeType, Value: lifeSeconds}), Attr{Type: p2AttrLifeDur, Value: 3600})
	if d, ok := responderLifetime(b); !ok || d != time.Hour {
		t.Errorf("kilobytes then seconds: %v %v", d, ok)
	}
}

// TestQuickModeAnswerChecks: an authenticated QM2 that breaks the rules
// fails Dial with a clear error.
func TestQuickModeAnswerChecks(t *testing.T) {
	otherID := ID{Type: IDIPv4Addr, Protocol: 17, Port: 1701, Data: []byte{10, 9, 8, 7}}.Append(nil)
	cases := []struct {
		name  string
		setup func(r *testResponder)
		want  string
	}{
		{"nonce of 4 bytes", func(r *testResponder) { r.qmNonce = rnd(4) }, "nonce"},
		{"nonce of 257 bytes", func(r *testResponder) { r.qmNonce = rnd(257) }, "nonce"},
		{"SPI 255", func(r *testResponder) { r.qmSPI = []byte{0, 0, 0, 255} }, "SPI"},
		{"SPI 0", func(r *testResponder) { r.qmSPI = []byte{0, 0, 0, 0} }, "SPI"},
		{"IDcr changed", func(r *testResponder) {
			r.qmIDs = [][]byte{ID{Type: IDIPv4Addr, Protocol: 17, Port: 1701, Data: loopback.AsSlice()}.Append(nil), otherID}
		}, "ID"},
		{"one ID", func(r *testResponder) { r.qmIDs = [][]byte{otherID} }, "ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResponder(t, "k")
			tc.setup(r)
			r.start()
			c, err := dialTest(r.config())
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, ErrQuickModeAnswer) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v", err)
			}
		})
	}
	// A nonce of 8 and one of 256 bytes are fine (RFC 2409 5).
	for _, n := range []int{8, 256} {
		r := newTestResponder(t, "k")
		r.qmNonce = rnd(n)
		r.start()
		c, err := dialTest(r.config())
		if err != nil {
			t.Fatalf("nonce of %d bytes: %v", n, err)
		}
		c.Close()
	}
}

// TestInformationalReplay: a replayed authenticated informational
// message is ignored.
func TestInformationalReplay(t *testing.T) {
	r := newTestResponder(t, "k").start()
	c, _ := mustDial(t, r.config())
	acks := func(seq uint32) func(s rStats) int {
		return func(s rStats) int {
			n := 0
			for _, a := range s.dpdAck {
				if a == seq {
					n++
				}
			}
			return n
		}
	}
	r.sendRUThere(5)
	if !r.waitFor(2*time.Second, func(s rStats) bool { return acks(5)(s) == 1 }) {
		t.Fatal("no R-U-THERE-ACK")
	}
	r.replayInfo()
	r.replayInfo()
	r.sendRUThere(6)
	if !r.waitFor(2*time.Second, func(s rStats) bool { return acks(6)(s) == 1 }) {
		t.Fatal("no R-U-THERE-ACK to a new R-U-THERE")
	}
	time.Sleep(50 * time.Millisecond)
	if n := acks(5)(r.stats()); n != 1 {
		t.Errorf("the replayed R-U-THERE was answered: %d ACKs", n)
	}
	if err := c.Err(); err != nil {
		t.Error(err)
	}
}

func TestMsgIDSet(t *testing.T) {
	var s msgIDs
	for i := uint32(1); i <= 3*maxMsgIDs; i++ {
		if !s.add(i) {
			t.Fatalf("%d seen before", i)
		}
		if s.add(i) {
			t.Fatalf("%d added twice", i)
		}
	}
	if !s.add(1) {
		t.Error("the oldest ID is still held: the set is not bounded")
	}
	if s.add(3 * maxMsgIDs) {
		t.Error("the newest ID was forgotten")
	}
	if len(s.set) > maxMsgIDs {
		t.Errorf("%d IDs held", len(s.set))
	}
}

var _ = bytes.Equal
