package ppp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// newTestLCP returns the LCP of a Link that also accepts no
// authentication, so that requests without an Auth option test only the
// option at hand.
func newTestLCP() *lcp {
	l := NewLink(Config{User: "u", Password: "p", Auth: []AuthMethod{AuthMSCHAPv2, AuthNone}},
		func(Protocol, []byte) error { return nil }, nil)
	return l.lcpL
}

func TestLCPNaksTinyMRU(t *testing.T) {
	c := newTestLCP()
	code, reply := c.check([]Option{{Type: lcpOptMRU, Data: []byte{0x00, 0x40}}}, true)
	want := AppendOption(nil, lcpOptMRU, binary.BigEndian.AppendUint16(nil, minAcceptedMRU))
	if code != CodeConfNak || !bytes.Equal(reply, want) {
		t.Fatalf("MRU 64: %v % x, want Configure-Nak % x", code, reply, want)
	}
	code, _ = c.check([]Option{{Type: lcpOptMRU, Data: []byte{0x05, 0x00}}}, true)
	if code != CodeConfAck || c.peerMRU != 1280 {
		t.Fatalf("MRU 1280: %v, peerMRU %d", code, c.peerMRU)
	}
}

func TestLCPMagicLoopKeepsOurNumber(t *testing.T) {
	c := newTestLCP()
	c.request(nil) // picks our magic
	ours := c.magic
	data := binary.BigEndian.AppendUint32(nil, ours)
	code, reply := c.check([]Option{{Type: lcpOptMagic, Data: data}}, true)
	if code != CodeConfNak {
		t.Fatalf("peer magic equal to ours: %v, want Configure-Nak", code)
	}
	opts, err := ParseOptions(reply)
	if err != nil || len(opts) != 1 || binary.BigEndian.Uint32(opts[0].Data) == ours {
		t.Fatalf("Nak suggests % x; want a different magic than ours (%08x)", reply, ours)
	}
	if c.magic != ours {
		t.Fatalf("our magic changed from %08x to %08x without a new request", ours, c.magic)
	}
}
