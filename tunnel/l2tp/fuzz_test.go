package l2tp

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzSecret is the tunnel secret of the hidden-AVP seeds.
var fuzzSecret = []byte("secret")

func addControlSeeds(f *testing.F) {
	for _, v := range controlVectors {
		f.Add(mustHex(f, v.frame))
	}
	seeds := []*Message{
		{Type: MsgSCCRQ, AVPs: []AVP{
			AVPBytes(AVPProtocolVersion, []byte{1, 0}), AVPString(AVPHostName, "h"), AVPUint32(AVPFramingCapabilities, 3),
			AVPUint16(AVPAssignedTunnelID, 1), AVPBytes(AVPTieBreaker, make([]byte, 8)),
			hiddenAVP(AVPBytes(AVPChallenge, []byte("0123456789abcdefXYZ"))), {Vendor: 311, Type: 1, Value: []byte{1, 2, 3}},
		}},
		{Type: MsgCDN, AVPs: []AVP{ResultCodeAVP(2, 8, "m"), AVPUint16(AVPAssignedSessionID, 1), AVPBytes(AVPQ931CauseCode, []byte{0, 1, 2, 'x'})}},
		{Type: MsgWEN, AVPs: []AVP{AVPBytes(AVPCallErrors, make([]byte, 26))}},
		{Type: MsgSLI, AVPs: []AVP{AVPBytes(AVPACCM, make([]byte, 10))}},
		{Type: 99, AVPs: []AVP{{Mandatory: true, Type: 77}}},
	}
	for _, m := range seeds {
		p, err := m.AppendTo(nil, fuzzSecret, zeros{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(AppendControl(nil, 1, 2, 3, 4, p))
	}
}

func FuzzParseControl(f *testing.F) {
	addControlSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, off, end, err := ParseHeader(b)
		if err != nil || !h.Control {
			return
		}
		payload := b[off:end]
		m, err := ParseMessage(payload, fuzzSecret)
		var ue *UnknownMandatoryError
		switch {
		case errors.As(err, &ue):
			if m == nil {
				t.Fatal("no message with UnknownMandatoryError")
			}
			if ue.Type == AVPMessageType {
				return // re-encoded without the M bit, by design
			}
		case err != nil:
			return
		case m == nil:
			if len(payload) != 0 {
				t.Fatal("nil message for a non-empty payload")
			}
			return
		}
		_ = m.String()

		p2, err := m.AppendTo(nil, fuzzSecret, zeros{})
		if err != nil {
			t.Fatalf("AppendTo of a parsed message: %v\n%s", err, m)
		}
		frame := AppendControl(nil, h.TunnelID, h.SessionID, h.Ns, h.Nr, p2)
		h2, off2, end2, err := ParseHeader(frame)
		if err != nil {
			t.Fatalf("ParseHeader of AppendControl: %v", err)
		}
		if h2.TunnelID != h.TunnelID || h2.SessionID != h.SessionID || h2.Ns != h.Ns || h2.Nr != h.Nr {
			t.Fatalf("header %+v, was %+v", h2, h)
		}
		m2, err2 := ParseMessage(frame[off2:end2], fuzzSecret)
		if (err == nil) != (err2 == nil) && ue == nil {
			t.Fatalf("reparse: %v", err2)
		}
		if ue != nil {
			var ue2 *UnknownMandatoryError
			if !errors.As(err2, &ue2) || *ue2 != *ue {
				t.Fatalf("reparse: %v, was %v", err2, ue)
			}
		} else if err2 != nil {
			t.Fatalf("reparse: %v", err2)
		}
		if m2.Type != m.Type || len(m2.AVPs) != len(m.AVPs) {
			t.Fatalf("reparsed %s\nwas      %s", m2, m)
		}
		for i, a := range m.AVPs {
			a2 := m2.AVPs[i]
			if a2.Mandatory != a.Mandatory || a2.Hidden != a.Hidden || a2.Vendor != a.Vendor || a2.Type != a.Type || !bytes.Equal(a2.Value, a.Value) {
				t.Fatalf("AVP %d: %+v, was %+v", i, a2, a)
			}
		}
		// Without hidden AVPs, encoding is canonical.
		hidden := false
		for _, a := range m.AVPs {
			hidden = hidden || a.Hidden
		}
		// (The Message Type AVP is always 8 octets; its M bit is set
		// for known types whatever the peer sent.)
		if !hidden && (!bytes.Equal(p2[8:], payload[8:]) || !bytes.Equal(p2[1:8], payload[1:8])) {
			t.Fatalf("re-encoded % x\nwas          % x", p2, payload)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	addControlSeeds(f)
	for _, s := range []string{
		"0002 4711 0815 ff03 c021",
		"4a02 0012 0001 0002 0001 0002 0002 0000 ff03 00",
		"0302 0001 0002 0003 aabbcc ff03",
		"c803 000c 0001 0000 0000 0000",
		"8802 0001 0000 0000 0000",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, off, end, err := ParseHeader(b)
		if err != nil {
			if off != 0 || end != 0 {
				t.Fatalf("error %v with off=%d end=%d", err, off, end)
			}
			return
		}
		if b[1]&0x0f != 2 {
			t.Fatal("accepted version", b[1]&0x0f)
		}
		if off < DataHeaderLen || off > end || end > len(b) {
			t.Fatalf("off=%d end=%d len=%d", off, end, len(b))
		}
		if h.HasLength && end != int(h.Length) || !h.HasLength && end != len(b) {
			t.Fatalf("end=%d with %+v", end, h)
		}
		if h.Control {
			if !h.HasLength || !h.HasSeq || h.HasOffset || off != ControlHeaderLen {
				t.Fatalf("control header %+v off=%d", h, off)
			}
			again := AppendControl(nil, h.TunnelID, h.SessionID, h.Ns, h.Nr, b[off:end])
			h2, off2, end2, err := ParseHeader(again)
			h2.Priority = h.Priority
			if err != nil || h2 != h || off2 != off || end2 != end {
				t.Fatalf("rebuilt %+v %d %d %v, was %+v %d %d", h2, off2, end2, err, h, off, end)
			}
		}
		if !h.HasLength && !h.HasSeq && !h.HasOffset {
			if off != DataHeaderLen {
				t.Fatalf("plain data header, off=%d", off)
			}
			var d [DataHeaderLen]byte
			PutDataHeader(d[:], h.TunnelID, h.SessionID)
			if h2, _, _, err := ParseHeader(d[:]); err != nil || h2.TunnelID != h.TunnelID || h2.SessionID != h.SessionID || h2.Control {
				t.Fatalf("PutDataHeader: %+v %v", h2, err)
			}
		}
	})
}
