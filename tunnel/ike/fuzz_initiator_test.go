package ike

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"testing"
	"time"
)

// fuzzNet is the initiator's socket and clock in FuzzInitiator: what the
// initiator sends goes at once to a testResponder without sockets, and
// what the responder sends comes back through the fuzz script, which
// delivers, drops, repeats, damages it or slips forgeries in front of it.
// The clock moves only when the initiator waits on an empty socket: it
// jumps to the deadline. Nothing sleeps and everything is bounded.
type fuzzNet struct {
	t        testing.TB
	r        *testResponder
	script   []byte
	now      time.Time
	deadline time.Time
	inbox    []fuzzDgram
	client   netip.AddrPort
	steps    int
	closed   bool
}

type fuzzDgram struct {
	b    []byte
	port uint16
}

// maxFuzzSteps bounds the reads and writes of one run: an initiator that
// needs more does not finish.
const maxFuzzSteps = 5000

func (n *fuzzNet) step() {
	if n.steps++; n.steps > maxFuzzSteps {
		n.t.Fatalf("the initiator is still talking after %d reads and writes", maxFuzzSteps)
	}
}

// next consumes one byte of the script; an exhausted script says 0
// (deliver).
func (n *fuzzNet) next() byte {
	if len(n.script) == 0 {
		return 0
	}
	b := n.script[0]
	n.script = n.script[1:]
	return b
}

// take consumes up to k bytes of the script.
func (n *fuzzNet) take(k int) []byte {
	k = min(k, len(n.script))
	b := append([]byte(nil), n.script[:k]...)
	n.script = n.script[k:]
	return b
}

// fromServer is the responder's output hook: the script decides the
// datagram's fate.
func (n *fuzzNet) fromServer(b []byte, port uint16) {
	b = append([]byte(nil), b...)
	switch n.next() % 8 {
	case 4: // lost
	case 5: // repeated
		n.inbox = append(n.inbox, fuzzDgram{b, port}, fuzzDgram{b, port})
	case 6: // one byte damaged
		if len(b) > 0 {
			i := int(binary.BigEndian.Uint16(append(n.take(2), 0, 0))) % len(b)
			b[i] ^= n.next() | 1
		}
		n.inbox = append(n.inbox, fuzzDgram{b, port})
	case 7: // a forgery first: raw bytes, or sealed with the real keys
		n.inbox = append(n.inbox, n.forgery(b, port), fuzzDgram{b, port})
	default:
		n.inbox = append(n.inbox, fuzzDgram{b, port})
	}
}

// forgery makes a datagram from the script, shaped after b: either raw
// bytes behind b's ISAKMP header, or, when b is an encrypted Quick Mode
// or Informational message of an IKE SA the responder has, a message of
// the same exchange whose payloads come from the script but whose
// encryption and HASH are right (what a server with bugs could send).
func (n *fuzzNet) forgery(b []byte, port uint16) fuzzDgram {
	mode := n.next()
	body := n.take(int(n.next()))
	off := 0
	if port == n.r.nattPort {
		off = 4 // non-ESP marker
	}
	h, _, err := ParseHeader(b[min(off, len(b)):])
	if err != nil || mode%2 == 0 {
		raw := append([]byte(nil), b[:min(len(b), off+HeaderLen)]...)
		raw = append(raw, body...)
		if len(raw) >= off+HeaderLen && mode%4 == 0 {
			Header(raw[off:]).setLength(len(raw) - off)
		}
		return fuzzDgram{raw, port}
	}
	s := n.r.sessions[h.ICookie()]
	if s == nil || s.sa.block == nil || h.Flags()&FlagEncryption == 0 || len(body) == 0 {
		return fuzzDgram{b, port}
	}
	sa := s.sa
	mid := h.MessageID()
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	prefix, iv := mb[:], sa.p2IV(mid)
	if h.Exchange() == ExchangeQuick {
		q := s.qm[mid]
		if q == nil {
			return fuzzDgram{b, port}
		}
		prefix = append(mb[:], q.ni...)
		iv = lastBlock(q.q1[HeaderLen:], sa.block.BlockSize())
	} else if h.Exchange() == ExchangeInformational {
		// A message ID of its own, or it is a replay.
		mid ^= uint32(mode) << 8
		binary.BigEndian.PutUint32(mb[:], mid)
		prefix, iv = mb[:], sa.p2IV(mid)
	} else {
		return fuzzDgram{b, port}
	}
	// HASH | body, with body's first byte as the type of the payload
	// after HASH.
	rest := body[1:]
	hash := prf(sa.suite.Hash, sa.keys.a, prefix, rest)
	plain := append([]byte{body[0], 0, 0, 0}, hash...)
	binary.BigEndian.PutUint16(plain[2:], uint16(4+len(hash)))
	plain = append(plain, rest...)
	m := &Message{ICookie: sa.ci, RCookie: sa.cr, Exchange: h.Exchange(), Flags: FlagEncryption, MessageID: mid}
	out := appendHeader(nil, m)
	Header(out).setNextPayload(PayloadHash)
	out = append(out, encrypt(sa.block, iv, plain)...)
	Header(out).setLength(len(out))
	return fuzzDgram{append(make([]byte, off), out...), port}
}

func (n *fuzzNet) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n.step()
	if n.closed {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	if len(n.inbox) == 0 {
		if !n.deadline.IsZero() && n.deadline.After(n.now) {
			n.now = n.deadline
		}
		return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
	}
	d := n.inbox[0]
	n.inbox = n.inbox[1:]
	return copy(b, d.b), netip.AddrPortFrom(loopback, d.port), nil
}

func (n *fuzzNet) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	n.step()
	if n.closed {
		return 0, net.ErrClosed
	}
	n.r.mu.Lock()
	n.r.handle(append([]byte(nil), b...), n.client, to.Port() == n.r.nattPort)
	n.r.mu.Unlock()
	return len(b), nil
}

func (n *fuzzNet) SetReadDeadline(t time.Time) error { n.deadline = t; return nil }
func (n *fuzzNet) Close() error                      { n.closed = true; return nil }

// deliver hands what is queued to the initiator as the IKE goroutine
// would: ReadPacket, then the IKE messages it set aside.
func (n *fuzzNet) deliver(c *Conn) {
	buf := make([]byte, 65536)
	for len(n.inbox) > 0 && !n.closed {
		c.ReadPacket(buf)
		for len(c.ikeCh) > 0 {
			c.unsolicited(<-c.ikeCh)
		}
	}
}

// FuzzInitiator drives the whole initiator, Main Mode and Quick Mode
// and then informational exchanges and ESP, against the test responder
// through a script of faults and forgeries (see fuzzNet). Whatever the
// server sends, the initiator must not panic nor hang, and what it
// settles on must be within bounds.
func FuzzInitiator(f *testing.F) {
	f.Add([]byte{})                          // a clean exchange
	f.Add([]byte{4, 0, 4})                   // MM2 lost, then MM4 lost
	f.Add([]byte{5, 5, 5, 5, 5})             // every answer twice
	f.Add([]byte{0, 0, 6, 0, 40, 0x55})      // MM6 damaged
	f.Add([]byte{0, 0, 0, 6, 0, 60, 1})      // QM2 damaged
	f.Add([]byte{7, 0, 8, 1, 2, 3, 4, 5, 6}) // raw bytes before MM2
	// QM2 forged with the real keys: payloads SA, then a nonce of 4 bytes.
	f.Add([]byte{0, 0, 0, 7, 1, 9, byte(PayloadNonce), 0, 0, 0, 8, 1, 2, 3, 4})
	// After Dial: R-U-THERE, its replay, a sealed informational, ESP,
	// Delete.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 3, 1, 2, 3, 4, 9, byte(PayloadNotify), 0, 0, 0, 12, 0, 0, 0, 1, 4, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 5, 0, 2, 40, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, script []byte) { fuzzInitiator(t, script, false) })
}

// FuzzInitiatorAggressive is FuzzInitiator with Aggressive Mode for
// phase 1 (aggressive.go).
func FuzzInitiatorAggressive(f *testing.F) {
	f.Add([]byte{})                    // a clean exchange
	f.Add([]byte{4, 0})                // AM2 lost
	f.Add([]byte{5, 5, 5, 5})          // every answer twice
	f.Add([]byte{6, 0, 90, 0x55})      // AM2 damaged
	f.Add([]byte{7, 0, 8, 1, 2, 3, 4}) // raw bytes before AM2
	f.Add([]byte{0, 6, 0, 60, 1})      // QM2 damaged
	f.Add([]byte{0, 0, 0, 1, 0, 3, 1}) // after Dial: R-U-THERE
	f.Fuzz(func(t *testing.T, script []byte) { fuzzInitiator(t, script, true) })
}

// fuzzInitiator is one run of FuzzInitiator (Main Mode) or
// FuzzInitiatorAggressive.
func fuzzInitiator(t *testing.T, script []byte, aggressive bool) {
	seed := [32]byte{}
	copy(seed[:], script)
	n := &fuzzNet{t: t, script: script, now: time.Unix(1_700_000_000, 0),
		client: netip.AddrPortFrom(loopback, 40000)}
	r := &testResponder{psk: []byte("k"), ikePort: portIKE, nattPort: portNATT,
		ikeAccept: append(append([]IKESuite(nil), DefaultIKE...), LegacyIKE...),
		espAccept: append(append([]ESPSuite(nil), DefaultESP...), LegacyESP...),
		sessions:  map[[8]byte]*rSession{}, inSAs: map[uint32]*esp.SA{},
		rng: rand.NewChaCha8(seed), out: n.fromServer}
	n.r = r
	cfg := Config{PSK: []byte("k"), IKE: mustIKE(t, "aes128-sha1-modp1024"), ESP: mustESP(t, "aes128-sha1"),
		Retransmit: []time.Duration{time.Second, time.Second, time.Second},
		Rand:       rand.NewChaCha8([32]byte{1}), now: func() time.Time { return n.now },
		Aggressive: aggressive, GroupID: "g"}
	cfg.setDefaults()
	c := newConn(cfg, n, n.client, loopback)
	if err := c.handshake(context.Background()); err != nil {
		if errors.Is(err, errTimeout) {
			t.Fatalf("a bare timeout leaked: %v", err)
		}
		return
	}
	if d := c.child.lifetime; d < minLife || d > cfg.ESPLifetime {
		t.Fatalf("ESP lifetime %v", d)
	}
	if d := c.ike.lifetime; d < minLife || d > cfg.IKELifetime {
		t.Fatalf("IKE lifetime %v", d)
	}
	if spi := c.out.Load().SPI(); spi < 256 {
		t.Fatalf("outbound SPI %d", spi)
	}
	n.deliver(c)
	// After Dial: the script has the server send things.
	for i := 0; i < 32 && len(n.script) > 0 && !n.closed; i++ {
		r.mu.Lock()
		switch op := n.next(); op % 6 {
		case 0:
			r.mu.Unlock()
			r.sendRUThere(binary.BigEndian.Uint32(append(n.take(4), 0, 0, 0, 0)))
			r.mu.Lock()
		case 1:
			if r.lastInfo != nil {
				r.send(true, r.client, r.lastInfo)
			}
		case 2:
			port := []uint16{portIKE, portNATT}[op/8%2]
			n.inbox = append(n.inbox, fuzzDgram{n.take(int(n.next())), port})
		case 3:
			// A sealed informational with the script's payloads.
			if r.cur != nil && r.lastInfo != nil {
				n.inbox = append(n.inbox, n.forgery(append(make([]byte, 4), r.lastInfo...), portNATT))
			}
		case 4:
			if len(r.children) > 0 {
				r.mu.Unlock()
				r.sendESP(len(r.children)-1, n.take(int(n.next())))
				r.mu.Lock()
			}
		case 5:
			if r.cur != nil && len(r.children) > 0 {
				r.mu.Unlock()
				if op/8%2 == 0 {
					r.sendDeleteESP()
				} else {
					r.sendDeleteIKE()
				}
				r.mu.Lock()
			}
		}
		r.mu.Unlock()
		n.deliver(c)
	}
	c.Close()
}
