package ppp

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// patternReader is a deterministic Rand for fuzzing.
type patternReader struct{ n byte }

func (r *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		r.n += 0x3d
		b[i] = r.n
	}
	return len(b), nil
}

// fuzzLink returns a Link whose LCP has opened with auth (AuthNone, which
// the profile allows, goes on to IPCP), driven by hand on the calling
// goroutine: no Run.
func fuzzLink(auth AuthMethod, debug, ipv6 bool) *Link {
	cfg := Config{
		User: "u", Password: "p",
		Auth:            []AuthMethod{AuthMSCHAPv2, AuthPAP, AuthCHAPMD5, AuthNone},
		RestartInterval: 10 * time.Millisecond,
		EchoInterval:    30 * time.Millisecond,
		AuthTimeout:     50 * time.Millisecond,
		Rand:            &patternReader{},
		IPv6:            ipv6,
	}
	if debug { // exercise the trace formatting too
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l := NewLink(cfg, func(Protocol, []byte) error { return nil }, func(Event) {})
	l.now = time.Unix(1e9, 0)
	l.lcp.Open()
	l.lcp.Up()
	l.handle(ProtoLCP, AppendCP(nil, CodeConfAck, l.lcp.reqID, l.lcp.lastReq))
	var opts []byte
	if auth != AuthNone {
		opts = AppendOption(nil, lcpOptAuth, authOption(auth))
	}
	l.handle(ProtoLCP, AppendCP(nil, CodeConfReq, 1, opts))
	return l
}

// FuzzPPP feeds arbitrary bytes to the frame, control packet and option
// parsers and, split into packets, to a Link's receive path for LCP, IPCP,
// PAP, CHAP and an unsupported protocol, with timers firing in between.
// Nothing may panic.
func FuzzPPP(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4})
	f.Add([]byte{0, 0, 9, 1, 0, 8, 0, 0, 0, 0})                                                 // LCP Echo-Request
	f.Add([]byte{1, 1, 1, 1, 0, 10, 3, 6, 10, 0, 0, 1})                                         // IPCP Configure-Request
	f.Add([]byte{2, 2, 2, 0, 0, 5, 0})                                                          // PAP Ack
	f.Add([]byte{3, 3, 1, 1, 0, 21, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}) // CHAP Challenge
	f.Add([]byte{0, 1, 5, 9, 0, 4, 6, 0xff})                                                    // Terminate-Request, then time
	f.Add([]byte{0, 0, 1, 5, 0, 12, 3, 4, 0xc0, 0x23, 5, 6, 1, 2, 3, 4})                        // LCP renegotiation
	f.Add([]byte{8, 0x44, 14, 1, 1, 0, 14, 1, 10, 0, 0, 0, 0, 0, 0, 0, 0})                      // IPV6CP Configure-Request, IID 0
	f.Add(append([]byte{3, 1, 3, 2, 0, 46}, "S=0000000000000000000000000000000000000000"...))

	f.Fuzz(fuzzPPP)
}

func fuzzPPP(t *testing.T, b []byte) {
	// Parsers on the whole input.
	if proto, payload, err := ParseFrame(b); err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseFrame error %v", err)
		}
	} else if len(payload) >= len(b) || !bytes.HasSuffix(b, payload) || proto == 0 {
		t.Fatalf("ParseFrame(% x) = %v, % x", b, proto, payload)
	}
	if code, id, data, err := ParseCP(b); err == nil {
		if len(b) < 4+len(data) || !bytes.Equal(AppendCP(nil, code, id, data), b[:4+len(data)]) {
			t.Fatalf("ParseCP(% x) does not round-trip", b)
		}
	} else if !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseCP error %v", err)
	}
	if opts, err := ParseOptions(b); err == nil {
		var re []byte
		for _, o := range opts {
			re = AppendOption(re, o.Type, o.Data)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("ParseOptions(% x) does not round-trip: % x", b, re)
		}
	} else if !errors.Is(err, ErrMalformed) {
		t.Fatalf("ParseOptions error %v", err)
	}
	_ = describeOptions(ProtoLCP, b)
	_ = describeOptions(ProtoIPCP, b)
	_ = describeOptions(ProtoIPv6CP, b)

	if len(b) < 1 {
		return
	}
	auths := [...]AuthMethod{AuthNone, AuthPAP, AuthCHAPMD5, AuthMSCHAPv2}
	l := fuzzLink(auths[b[0]%4], b[0]&4 != 0, b[0]&8 != 0)
	// Then records: selector, length, payload. Bounded, so that
	// minimizing a long input stays quick.
	b = b[1:min(len(b), 1024)]
	for records := 0; len(b) >= 2 && !l.done && records < 64; records++ {
		sel, n := b[0], int(b[1])
		b = b[2:]
		n = min(n, len(b))
		pkt := b[:n]
		b = b[n:]
		switch sel % 6 {
		case 0:
			l.handle(ProtoLCP, pkt)
		case 1:
			l.handle(ProtoIPCP, pkt)
		case 2:
			l.handle(ProtoPAP, pkt)
		case 3:
			l.handle(ProtoCHAP, pkt)
		case 4:
			if sel&0x40 != 0 {
				l.handle(ProtoIPv6CP, pkt) // with Config.IPv6 when b[0]&8
			} else {
				l.handle(Protocol(0x8000|uint16(sel)<<1|1), pkt)
			}
		case 5: // time passes
			l.now = l.now.Add(time.Duration(sel) * time.Millisecond)
			l.armTimers()
			l.fireTimers()
		}
		l.armTimers()
		_ = l.nextDeadline()
	}
	_ = l.AuthFailure()
	_ = l.Info()
	_ = l.IPv4Open()
	_ = l.IPv6Open()
	_ = l.IPv6Info()
}
