package ike

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to every parser of the package; none
// may panic, and what parses must hold together.
func FuzzParse(f *testing.F) {
	// A real MM1 as Dial builds it.
	offer := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoISAKMP}}}
	for i, s := range append(append([]IKESuite(nil), DefaultIKE...), LegacyIKE...) {
		offer.Proposals[0].Transforms = append(offer.Proposals[0].Transforms, p1Transform(i+1, s, 8*time.Hour))
	}
	saBody := offer.Append(nil)
	mm1 := (&Message{ICookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: ExchangeMain, Payloads: []Payload{
		{PayloadSA, saBody},
		{PayloadVendorID, vidRFC3947}, {PayloadVendorID, vidDraft03},
		{PayloadVendorID, vidDraft02n}, {PayloadVendorID, vidDraft02},
		{PayloadVendorID, vidDPD},
	}}).Marshal()
	f.Add(mm1)
	f.Add(saBody)
	// A Quick Mode offer.
	qm := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoESP, SPI: []byte{0x81, 2, 3, 4}}}}
	for i, s := range DefaultESP {
		qm.Proposals[0].Transforms = append(qm.Proposals[0].Transforms, p2Transform(i+1, s, natt{rfc: true}, time.Hour))
	}
	f.Add(qm.Append(nil))
	f.Add(testSA().Append(nil))
	// Handcrafted.
	f.Add([]byte{})
	f.Add(make([]byte, HeaderLen))
	f.Add(Notify{Protocol: protoISAKMP, Type: NotifyRUThere, SPI: make([]byte, 16), Data: []byte{0, 0, 0, 1}}.Append(nil))
	f.Add(Delete{Protocol: protoESP, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}}.Append(nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0}) // a Delete of 0 SPIs of size 0
	f.Add(ID{Type: IDIPv4Addr, Protocol: 17, Port: 1701, Data: []byte{10, 0, 0, 1}}.Append(nil))
	f.Add(mustHex("80010007000c0004000186a0002100ff"))
	trailing := append(append([]byte(nil), mm1...), 0, 0, 0, 0)
	Header(trailing).setLength(len(trailing))
	f.Add(trailing)
	info := (&Message{Exchange: ExchangeInformational, Payloads: []Payload{
		{PayloadNotify, Notify{Protocol: protoESP, Type: NotifyNoProposalChosen}.Append(nil)},
		{PayloadDelete, Delete{Protocol: protoISAKMP, SPIs: [][]byte{make([]byte, 16)}}.Append(nil)},
	}}).Marshal()
	f.Add(info)

	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := ParseClear(b); err == nil {
			// What parsed marshals to the same length and parses the same
			// (RESERVED bytes and the minor version are not kept).
			h, _, _ := ParseHeader(b)
			again := m.Marshal()
			m2, err := ParseClear(again)
			if err != nil || len(again) != int(h.Length()) {
				t.Fatalf("re-marshalled message of %d bytes (was %d): %v", len(again), h.Length(), err)
			}
			if m2.ICookie != m.ICookie || m2.RCookie != m.RCookie || m2.Exchange != m.Exchange ||
				m2.Flags != m.Flags || m2.MessageID != m.MessageID || m2.Types() != m.Types() {
				t.Fatalf("re-marshalled message differs: %+v, %+v", m2, m)
			}
			for i := range m.Payloads {
				if !bytes.Equal(m.Payloads[i].Body, m2.Payloads[i].Body) {
					t.Fatalf("payload %d differs", i)
				}
			}
		}
		if h, body, err := ParseHeader(b); err == nil {
			if int(h.Length()) != HeaderLen+len(body) {
				t.Fatalf("Length %d, body %d", h.Length(), len(body))
			}
			if ps, rest, err := ParsePayloads(h.NextPayload(), body); err == nil {
				n := rest
				for _, p := range ps {
					n += 4 + len(p.Body)
				}
				if n != len(body) || len(ps) > 64 {
					t.Fatalf("%d payloads cover %d of %d bytes", len(ps), n, len(body))
				}
			}
		}
		if sa, err := ParseSA(b); err == nil {
			// Its encoding parses to the same structure.
			sa2, err := ParseSA(sa.Append(nil))
			if err != nil {
				t.Fatalf("re-encoded SA does not parse: %v", err)
			}
			if len(sa2.Proposals) != len(sa.Proposals) {
				t.Fatalf("%d proposals, then %d", len(sa.Proposals), len(sa2.Proposals))
			}
			for i, p := range sa.Proposals {
				q := sa2.Proposals[i]
				if len(q.Transforms) != len(p.Transforms) || !bytes.Equal(q.SPI, p.SPI) {
					t.Fatalf("proposal %d changed", i)
				}
				for j, tr := range p.Transforms {
					for k, a := range tr.Attrs {
						if q.Transforms[j].Attrs[k].Value != a.Value {
							t.Fatalf("attribute %d.%d.%d changed", i, j, k)
						}
					}
				}
			}
		}
		if id, err := ParseID(b); err == nil {
			_ = id.String()
			if !bytes.Equal(id.Append(nil), b) {
				t.Fatal("ID does not round trip")
			}
		}
		if n, err := ParseNotify(b); err == nil {
			_ = n.Type.String() + n.Type.Words()
			// The DOI is not checked; the rest round trips.
			if !bytes.Equal(n.Append(nil)[4:], b[4:]) {
				t.Fatal("notification does not round trip")
			}
		}
		if d, err := ParseDelete(b); err == nil {
			if len(d.SPIs) != int(binary.BigEndian.Uint16(b[6:])) {
				t.Fatalf("%d SPIs", len(d.SPIs))
			}
		}
		if as, err := parseAttrs(b); err == nil && len(as) > maxAttrsPerTransfm {
			t.Fatalf("%d attributes", len(as))
		}
		responderLifetime(b)
	})
}
