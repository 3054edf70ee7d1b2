package ike

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func testMessage() *Message {
	return &Message{
		ICookie:   [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		RCookie:   [8]byte{9, 10, 11, 12, 13, 14, 15, 16},
		Exchange:  ExchangeMain,
		MessageID: 0x01020304,
		Payloads: []Payload{
			{PayloadSA, []byte("sa-body-bytes")},
			{PayloadVendorID, vidRFC3947},
			{PayloadNATD, bytes.Repeat([]byte{0xaa}, 20)},
			{PayloadNonce, []byte{1}},
		},
	}
}

func TestMessageMarshalParseRoundTrip(t *testing.T) {
	m := testMessage()
	b := m.Marshal()
	want := HeaderLen
	for _, p := range m.Payloads {
		want += 4 + len(p.Body)
	}
	if len(b) != want {
		t.Fatalf("marshalled %d bytes, want %d", len(b), want)
	}
	h, body, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.ICookie() != m.ICookie || h.RCookie() != m.RCookie || h.Exchange() != ExchangeMain ||
		h.MessageID() != 0x01020304 || h.Length() != uint32(len(b)) || h.NextPayload() != PayloadSA ||
		h.Flags() != 0 || b[hdrVersion] != 0x10 {
		t.Fatalf("header fields wrong: % x", b[:HeaderLen])
	}
	if len(body) != len(b)-HeaderLen {
		t.Fatalf("body of %d bytes", len(body))
	}
	got, err := ParseClear(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ICookie != m.ICookie || got.RCookie != m.RCookie || got.Exchange != m.Exchange ||
		got.Flags != m.Flags || got.MessageID != m.MessageID || len(got.Payloads) != len(m.Payloads) {
		t.Fatalf("parsed %+v", got)
	}
	for i, p := range got.Payloads {
		if p.Type != m.Payloads[i].Type || !bytes.Equal(p.Body, m.Payloads[i].Body) {
			t.Errorf("payload %d: %v % x, want %v % x", i, p.Type, p.Body, m.Payloads[i].Type, m.Payloads[i].Body)
		}
	}
	if got.Types() != "SA,VID,NAT-D,NONCE" {
		t.Errorf("Types() = %q", got.Types())
	}
	if p, ok := got.Find(PayloadNATD); !ok || len(p.Body) != 20 {
		t.Errorf("Find(NAT-D) = %v %v", p, ok)
	}
	if _, ok := got.Find(PayloadKE); ok {
		t.Error("Find(KE) found a payload that is not there")
	}
	if n := len(got.All(PayloadVendorID)); n != 1 {
		t.Errorf("All(VID) = %d payloads", n)
	}
	// A message without payloads: Next Payload 0, 28 bytes.
	e := (&Message{Exchange: ExchangeInformational}).Marshal()
	if len(e) != HeaderLen || e[hdrNext] != 0 {
		t.Fatalf("empty message % x", e)
	}
	if em, err := ParseClear(e); err != nil || len(em.Payloads) != 0 {
		t.Fatalf("empty message parsed as %v, %v", em, err)
	}
}

func TestAppendParsePayloads(t *testing.T) {
	ps := []Payload{{PayloadHash, []byte("hash")}, {PayloadNotify, []byte("notify!")}, {PayloadDelete, nil}}
	b := AppendPayloads([]byte{0xee}, ps) // appends after what is there
	if b[0] != 0xee {
		t.Fatal("AppendPayloads overwrote dst")
	}
	b = b[1:]
	// Chain: HASH -> N -> D -> none, lengths include the generic header.
	if b[0] != byte(PayloadNotify) || binary.BigEndian.Uint16(b[2:]) != 8 {
		t.Fatalf("first generic header % x", b[:4])
	}
	got, rest, err := ParsePayloads(PayloadHash, b)
	if err != nil || rest != 0 || len(got) != 3 {
		t.Fatalf("ParsePayloads = %v, %d, %v", got, rest, err)
	}
	for i := range ps {
		if got[i].Type != ps[i].Type || !bytes.Equal(got[i].Body, ps[i].Body) {
			t.Errorf("payload %d = %v", i, got[i])
		}
	}
	// Padding after the last payload is counted, not parsed.
	padded := append(append([]byte(nil), b...), 0, 0, 0, 7)
	if got, rest, err := ParsePayloads(PayloadHash, padded); err != nil || rest != 4 || len(got) != 3 {
		t.Fatalf("padded: %v, %d, %v", got, rest, err)
	}
	// First payload none: nothing parsed, everything is rest.
	if got, rest, err := ParsePayloads(PayloadNone, b); err != nil || rest != len(b) || len(got) != 0 {
		t.Fatalf("none: %v, %d, %v", got, rest, err)
	}
	if AppendPayloads(nil, nil) != nil {
		t.Error("AppendPayloads(nil, nil) appended something")
	}
}

func TestParseHeaderStrict(t *testing.T) {
	good := testMessage().Marshal()
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	setLen := func(b []byte, n uint32) []byte { binary.BigEndian.PutUint32(b[hdrLength:], n); return b }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"27 bytes", good[:27], ErrShort},
		{"version 2.0", mod(func(b []byte) []byte { b[hdrVersion] = 0x20; return b }), ErrVersion},
		{"version 0.1", mod(func(b []byte) []byte { b[hdrVersion] = 0x01; return b }), ErrVersion},
		{"length 27", mod(func(b []byte) []byte { return setLen(b, 27) }), ErrLength},
		{"length 0", mod(func(b []byte) []byte { return setLen(b, 0) }), ErrLength},
		{"length past datagram", mod(func(b []byte) []byte { return setLen(b, uint32(len(b)+1)) }), ErrLength},
		{"length huge", mod(func(b []byte) []byte { return setLen(b, 0xffffffff) }), ErrLength},
	}
	for _, c := range cases {
		if _, _, err := ParseHeader(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// Minor version 1.1 is accepted (RFC 2408 5.1 rejects only the major).
	if _, _, err := ParseHeader(mod(func(b []byte) []byte { b[hdrVersion] = 0x11; return b })); err != nil {
		t.Errorf("version 1.1: %v", err)
	}
	// A datagram longer than Length: the body stops at Length.
	long := append(append([]byte(nil), good...), 1, 2, 3)
	_, body, err := ParseHeader(long)
	if err != nil || len(body) != len(good)-HeaderLen {
		t.Fatalf("junk after Length: body %d bytes, %v", len(body), err)
	}
	if _, err := ParseClear(long); err != nil {
		t.Fatalf("ParseClear with junk past Length: %v", err)
	}
	// Exactly a header.
	hdr := setLen(append([]byte(nil), good[:HeaderLen]...), HeaderLen)
	if _, body, err := ParseHeader(hdr); err != nil || len(body) != 0 {
		t.Fatalf("bare header: %d, %v", len(body), err)
	}
}

func TestParsePayloadsMalformed(t *testing.T) {
	b := AppendPayloads(nil, []Payload{{PayloadHash, []byte("abcd")}, {PayloadNonce, []byte("xyz")}})
	mod := func(f func(b []byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	cases := []struct {
		name  string
		first PayloadType
		b     []byte
	}{
		{"no bytes", PayloadHash, nil},
		{"header cut short", PayloadHash, b[:3]},
		{"length 3", PayloadHash, mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 3) })},
		{"length 0", PayloadHash, mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], 0) })},
		{"length past end", PayloadHash, mod(func(b []byte) { binary.BigEndian.PutUint16(b[2:], uint16(len(b)+1)) })},
		{"second cut", PayloadHash, b[:len(b)-1]},
		{"chain continues past end", PayloadHash, mod(func(b []byte) { b[8] = byte(PayloadVendorID) })},
	}
	for _, c := range cases {
		if _, _, err := ParsePayloads(c.first, c.b); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: err %v, want ErrPayload", c.name, err)
		}
	}
	// At most 64 payloads.
	many := make([]Payload, 64)
	for i := range many {
		many[i] = Payload{PayloadVendorID, []byte{byte(i)}}
	}
	if ps, _, err := ParsePayloads(PayloadVendorID, AppendPayloads(nil, many)); err != nil || len(ps) != 64 {
		t.Fatalf("64 payloads: %d, %v", len(ps), err)
	}
	many = append(many, Payload{PayloadVendorID, nil})
	if _, _, err := ParsePayloads(PayloadVendorID, AppendPayloads(nil, many)); !errors.Is(err, ErrPayload) {
		t.Fatalf("65 payloads: %v", err)
	}
}

func TestParseClearRejects(t *testing.T) {
	good := testMessage().Marshal()
	// Trailing bytes covered by Length are not padding in a clear message.
	trail := append(append([]byte(nil), good...), 0, 0, 0, 0)
	Header(trail).setLength(len(trail))
	if _, err := ParseClear(trail); !errors.Is(err, ErrNotPadding) {
		t.Errorf("trailing bytes: %v", err)
	}
	enc := append([]byte(nil), good...)
	enc[hdrFlags] |= FlagEncryption
	if _, err := ParseClear(enc); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted: %v", err)
	}
	bad := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(bad[HeaderLen+2:], 2)
	if _, err := ParseClear(bad); !errors.Is(err, ErrPayload) {
		t.Errorf("bad payload: %v", err)
	}
	if _, err := ParseClear(good[:20]); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
}

func TestTypeStrings(t *testing.T) {
	for e, want := range map[ExchangeType]string{ExchangeMain: "Main Mode", ExchangeAggressive: "Aggressive Mode",
		ExchangeInformational: "Informational", ExchangeQuick: "Quick Mode", 99: "exchange 99"} {
		if e.String() != want {
			t.Errorf("%d: %q", uint8(e), e.String())
		}
	}
	for p, want := range map[PayloadType]string{PayloadSA: "SA", PayloadNATD: "NAT-D", PayloadNATDDraft: "NAT-D(draft)",
		PayloadDelete: "D", 77: "payload-77"} {
		if p.String() != want {
			t.Errorf("%d: %q", uint8(p), p.String())
		}
	}
}

// testSA has two proposals with several transforms and attributes of
// every encoding.
func testSA() *SA {
	return &SA{Proposals: []Proposal{
		{Num: 1, Protocol: protoISAKMP, Transforms: []Transform{
			p1Transform(1, IKESuite{CipherAESCBC, 32, HashSHA256, MODP2048}, 8*time.Hour),
			{Num: 2, ID: transformKeyIKE, Attrs: []Attr{
				{Type: p1AttrEnc, Value: uint64(Cipher3DES)},
				{Type: p1AttrLifeType, Value: lifeSeconds},
				{Type: p1AttrLifeDur, Value: 100000},                     // > 65535: variable, 4 bytes
				{Type: 200, Value: 1 << 40},                              // variable, 8 bytes
				{Type: 201, Var: []byte("a variable attribute value!!")}, // explicit, > 8 bytes
				{Type: 202, Value: 65535},                                // still basic
			}},
			{Num: 3, ID: transformKeyIKE},
		}},
		{Num: 2, Protocol: protoESP, SPI: []byte{0xc1, 2, 3, 4}, Transforms: []Transform{
			{Num: 1, ID: espIDGCM16, Attrs: []Attr{{Type: p2AttrEncap, Value: encapUDPTransportRFC}, {Type: p2AttrKeyLen, Value: 128}}},
			{Num: 2, ID: espIDAES, Attrs: []Attr{{Type: p2AttrAuth, Value: 2}, {Type: p2AttrKeyLen, Value: 256}, {Type: 33, Var: []byte{}}}},
		}},
	}}
}

func TestSARoundTrip(t *testing.T) {
	in := testSA()
	b := in.Append([]byte("prefix"))
	if string(b[:6]) != "prefix" {
		t.Fatal("Append overwrote dst")
	}
	b = b[6:]
	if binary.BigEndian.Uint32(b) != doiIPsec || binary.BigEndian.Uint32(b[4:]) != sitIdentityOnly {
		t.Fatalf("DOI/situation % x", b[:8])
	}
	out, err := ParseSA(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Proposals) != len(in.Proposals) {
		t.Fatalf("%d proposals", len(out.Proposals))
	}
	for i, p := range in.Proposals {
		q := out.Proposals[i]
		if q.Num != p.Num || q.Protocol != p.Protocol || !bytes.Equal(q.SPI, p.SPI) || len(q.Transforms) != len(p.Transforms) {
			t.Fatalf("proposal %d: %+v", i, q)
		}
		for j, tr := range p.Transforms {
			u := q.Transforms[j]
			if u.Num != tr.Num || u.ID != tr.ID || len(u.Attrs) != len(tr.Attrs) {
				t.Fatalf("proposal %d transform %d: %+v", i, j, u)
			}
			for k, a := range tr.Attrs {
				g := u.Attrs[k]
				if g.Type != a.Type {
					t.Errorf("attr %d.%d.%d type %d, want %d", i, j, k, g.Type, a.Type)
				}
				if a.Var != nil {
					if !bytes.Equal(g.Var, a.Var) {
						t.Errorf("attr %d.%d.%d var % x", i, j, k, g.Var)
					}
				} else if g.Value != a.Value {
					t.Errorf("attr %d.%d.%d value %d, want %d", i, j, k, g.Value, a.Value)
				}
			}
		}
	}
	// The life duration of 100000 s travelled as a variable attribute of 4 bytes.
	tr := out.Proposals[0].Transforms[1]
	if v, ok := tr.Attr(p1AttrLifeDur); !ok || v != 100000 || len(tr.Attrs[2].Var) != 4 {
		t.Errorf("life duration %d %v var % x", v, ok, tr.Attrs[2].Var)
	}
	if len(tr.Attrs[3].Var) != 8 || tr.Attrs[3].Value != 1<<40 {
		t.Errorf("64-bit attribute % x = %d", tr.Attrs[3].Var, tr.Attrs[3].Value)
	}
	if tr.Attrs[4].Value != 0 {
		t.Errorf("a variable attribute longer than 8 bytes has Value %d", tr.Attrs[4].Value)
	}
	if _, ok := tr.Attr(999); ok {
		t.Error("Attr(999) found")
	}
	// Encodings, byte for byte.
	for _, c := range []struct {
		a    Attr
		want string
	}{
		{Attr{Type: p1AttrLifeDur, Value: 65535}, "800cffff"},
		{Attr{Type: p1AttrLifeDur, Value: 65536}, "000c000400010000"},
		{Attr{Type: p1AttrLifeDur, Value: 100000}, "000c0004000186a0"},
		{Attr{Type: 5, Value: 1 << 32}, "000500080000000100000000"},
		{Attr{Type: 5, Var: []byte{1, 2}}, "000500020102"},
		{Attr{Type: 0x8005, Value: 1}, "80050001"}, // the AF bit of the type is the encoding's
	} {
		if got := appendAttr(nil, c.a); !bytes.Equal(got, mustHex(c.want)) {
			t.Errorf("appendAttr(%+v) = %x, want %s", c.a, got, c.want)
		}
	}
}

// saBytes returns the SA payload body of a one-proposal SA with
// transforms ts, and the offsets of the proposal and of each transform.
func saBytes(ts ...Transform) ([]byte, int, []int) {
	b := (&SA{Proposals: []Proposal{{Num: 1, Protocol: protoESP, SPI: []byte{0x81, 1, 1, 1}, Transforms: ts}}}).Append(nil)
	var offs []int
	o := 8 + 8 + 4
	for range ts {
		offs = append(offs, o)
		o += int(binary.BigEndian.Uint16(b[o+2:]))
	}
	return b, 8, offs
}

func TestParseSARejects(t *testing.T) {
	t1 := Transform{Num: 1, ID: espIDAES, Attrs: []Attr{{Type: p2AttrKeyLen, Value: 128}, {Type: 40, Var: []byte{1, 2, 3}}}}
	t2 := Transform{Num: 2, ID: espIDGCM16}
	t3 := Transform{Num: 3, ID: espIDTDES, Attrs: []Attr{{Type: p2AttrAuth, Value: 1}}}
	good, po, to := saBytes(t1, t2, t3)
	if _, err := ParseSA(good); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	add16 := func(b []byte, at, d int) {
		binary.BigEndian.PutUint16(b[at:], uint16(int(binary.BigEndian.Uint16(b[at:]))+d))
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"short", good[:7], ErrProposal},
		{"DOI 0", mod(func(b []byte) []byte { b[3] = 0; return b }), ErrProposal},
		{"DOI 2", mod(func(b []byte) []byte { b[3] = 2; return b }), ErrProposal},
		{"no proposal", good[:8], ErrProposal},
		{"proposal next payload 5", mod(func(b []byte) []byte { b[po] = 5; return b }), ErrProposal},
		{"proposal chain past end", mod(func(b []byte) []byte { b[po] = byte(PayloadProposal); return b }), ErrProposal},
		{"proposal length 7", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[po+2:], 7); return b }), ErrProposal},
		{"proposal length past end", mod(func(b []byte) []byte { add16(b, po+2, 1); return b }), ErrProposal},
		{"SPI size past proposal", mod(func(b []byte) []byte { b[po+6] = 255; return b }), ErrProposal},
		{"transform count 2 of 3", mod(func(b []byte) []byte { b[po+7] = 2; return b }), ErrProposal},
		{"transform count 4 of 3", mod(func(b []byte) []byte { b[po+7] = 4; return b }), ErrProposal},
		{"transform count 0 of 3", mod(func(b []byte) []byte { b[po+7] = 0; return b }), ErrProposal},
		{"middle transform says last", mod(func(b []byte) []byte { b[to[1]] = 0; return b }), ErrProposal},
		{"last transform says more", mod(func(b []byte) []byte { b[to[2]] = byte(PayloadTransform); return b }), ErrProposal},
		{"transform length 7", mod(func(b []byte) []byte { binary.BigEndian.PutUint16(b[to[1]+2:], 7); return b }), ErrProposal},
		{"transform length past proposal", mod(func(b []byte) []byte { add16(b, to[2]+2, 1); return b }), ErrProposal},
		{"bytes after last transform", mod(func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			add16(b, po+2, 4)
			return b
		}), ErrProposal},
		{"variable attribute longer than transform", mod(func(b []byte) []byte {
			add16(b, to[0]+8+4+2, 1) // the second attribute's length: 3 -> 4
			return b
		}), ErrAttribute},
		{"attribute cut short", mod(func(b []byte) []byte {
			// Shrink transform 1 by 2 bytes and the proposal with it:
			// the variable attribute is left with 1 of its 3 bytes.
			add16(b, to[0]+2, -2)
			copy(b[to[0]+int(binary.BigEndian.Uint16(b[to[0]+2:])):], b[to[1]:])
			b = b[:len(b)-2]
			add16(b, po+2, -2)
			return b
		}), ErrAttribute},
	}
	for _, c := range cases {
		if _, err := ParseSA(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// Limits: 33 proposals, 65 transforms, 33 attributes.
	var ps []Proposal
	for i := 0; i < maxProposals+1; i++ {
		ps = append(ps, Proposal{Num: uint8(i), Protocol: protoESP, Transforms: []Transform{{Num: 1}}})
	}
	if _, err := ParseSA((&SA{Proposals: ps}).Append(nil)); !errors.Is(err, ErrProposal) {
		t.Errorf("33 proposals: %v", err)
	}
	if _, err := ParseSA((&SA{Proposals: ps[:maxProposals]}).Append(nil)); err != nil {
		t.Errorf("32 proposals: %v", err)
	}
	var ts []Transform
	for i := 0; i < maxTransformsPerP+1; i++ {
		ts = append(ts, Transform{Num: uint8(i)})
	}
	if _, err := ParseSA((&SA{Proposals: []Proposal{{Transforms: ts}}}).Append(nil)); !errors.Is(err, ErrProposal) {
		t.Errorf("65 transforms: %v", err)
	}
	var as []Attr
	for i := 0; i < maxAttrsPerTransfm+1; i++ {
		as = append(as, Attr{Type: uint16(i), Value: 1})
	}
	if _, err := ParseSA((&SA{Proposals: []Proposal{{Transforms: []Transform{{Attrs: as}}}}}).Append(nil)); !errors.Is(err, ErrAttribute) {
		t.Errorf("33 attributes: %v", err)
	}
}

func TestParseSATrailingProposalBytes(t *testing.T) {
	b, _, _ := saBytes(Transform{Num: 1, ID: espIDGCM16})
	b = append(b, 0xde, 0xad, 0xbe, 0xef)
	if _, err := ParseSA(b); err == nil {
		t.Fatal("bug: ParseSA accepts bytes after the last proposal (payloads.go ParseSA: no len(b) != 0 check after the proposal loop)")
	}
}

func TestParseAttrs(t *testing.T) {
	cases := []struct {
		name string
		b    string
		ok   bool
		n    int
	}{
		{"empty", "", true, 0},
		{"basic", "80010007", true, 1},
		{"variable 0 bytes", "00210000", true, 1},
		{"variable 2", "002100020102", true, 1},
		{"two", "80010007000c0004000186a0", true, 2},
		{"3 bytes", "800100", false, 0},
		{"variable past end", "0021000301", false, 0},
		{"variable len 65535", "0021ffff01020304", false, 0},
		{"trailing 2 bytes", "800100078001", false, 0},
	}
	for _, c := range cases {
		as, err := parseAttrs(mustHex(c.b))
		if (err == nil) != c.ok || len(as) != c.n {
			t.Errorf("%s: %v, %v", c.name, as, err)
		}
		if err != nil && !errors.Is(err, ErrAttribute) {
			t.Errorf("%s: %v is not ErrAttribute", c.name, err)
		}
	}
}

func TestIDRoundTrip(t *testing.T) {
	id := ID{Type: IDIPv4Addr, Protocol: 17, Port: 1701, Data: []byte{192, 0, 2, 7}}
	b := id.Append(nil)
	if !bytes.Equal(b, mustHex("011106a5c0000207")) {
		t.Fatalf("ID bytes %x", b)
	}
	got, err := ParseID(b)
	if err != nil || got.Type != id.Type || got.Protocol != 17 || got.Port != 1701 || !bytes.Equal(got.Data, id.Data) {
		t.Fatalf("ParseID = %+v, %v", got, err)
	}
	if s := got.String(); s != "192.0.2.7 (proto 17 port 1701)" {
		t.Errorf("String %q", s)
	}
	if s := (ID{Type: IDFQDN, Data: []byte("vpn.example")}).String(); s != `"vpn.example"` {
		t.Errorf("FQDN %q", s)
	}
	if s := (ID{Type: IDIPv6Addr, Data: []byte{1, 2}}).String(); s != "type 5 01 02" {
		t.Errorf("other %q", s)
	}
	if s := (ID{Type: IDIPv4Addr, Data: []byte{1, 2}}).String(); !strings.HasPrefix(s, "type 1") {
		t.Errorf("IPv4 of 2 bytes %q", s)
	}
	if got, err := ParseID([]byte{1, 0, 0, 0}); err != nil || len(got.Data) != 0 {
		t.Errorf("bare ID: %+v %v", got, err)
	}
	for n := 0; n < 4; n++ {
		if _, err := ParseID(make([]byte, n)); !errors.Is(err, ErrPayload) {
			t.Errorf("ID of %d bytes: %v", n, err)
		}
	}
	if b := appendNATOA(nil, netip.MustParseAddr("10.1.2.3")); !bytes.Equal(b, []byte{1, 0, 0, 0, 10, 1, 2, 3}) {
		t.Errorf("NAT-OA % x", b)
	}
}

func TestNotifyRoundTrip(t *testing.T) {
	ck := bytes.Repeat([]byte{7}, 16)
	n := Notify{Protocol: protoISAKMP, Type: NotifyRUThere, SPI: ck, Data: []byte{0, 0, 0, 42}}
	b := n.Append(nil)
	if binary.BigEndian.Uint32(b) != doiIPsec || b[4] != protoISAKMP || b[5] != 16 || binary.BigEndian.Uint16(b[6:]) != 36136 {
		t.Fatalf("notify bytes % x", b[:8])
	}
	got, err := ParseNotify(b)
	if err != nil || got.Protocol != n.Protocol || got.Type != n.Type || !bytes.Equal(got.SPI, ck) || !bytes.Equal(got.Data, n.Data) {
		t.Fatalf("ParseNotify = %+v, %v", got, err)
	}
	if got, err := ParseNotify(Notify{Protocol: protoESP, Type: NotifyNoProposalChosen}.Append(nil)); err != nil ||
		len(got.SPI) != 0 || len(got.Data) != 0 || got.Type != 14 {
		t.Fatalf("bare notify %+v %v", got, err)
	}
	if _, err := ParseNotify(b[:7]); !errors.Is(err, ErrPayload) {
		t.Errorf("7 bytes: %v", err)
	}
	if _, err := ParseNotify(b[:8+15]); !errors.Is(err, ErrPayload) {
		t.Errorf("SPI cut: %v", err)
	}
	// errorNotify picks the first error among the payloads.
	ps := []Payload{
		{PayloadNotify, Notify{Type: NotifyInitialContact}.Append(nil)},
		{PayloadNotify, []byte{1, 2}},
		{PayloadNotify, Notify{Type: NotifyInvalidIDInformation}.Append(nil)},
		{PayloadNotify, Notify{Type: NotifyNoProposalChosen}.Append(nil)},
	}
	if e, ok := errorNotify(ps); !ok || e.Type != NotifyInvalidIDInformation {
		t.Errorf("errorNotify = %v %v", e, ok)
	}
	if _, ok := errorNotify(ps[:2]); ok {
		t.Error("errorNotify found an error among status notifications")
	}
}

func TestDeleteRoundTrip(t *testing.T) {
	d := Delete{Protocol: protoESP, SPIs: [][]byte{{0x81, 2, 3, 4}, {0x91, 2, 3, 4}}}
	b := d.Append(nil)
	if len(b) != 16 || b[4] != protoESP || b[5] != 4 || binary.BigEndian.Uint16(b[6:]) != 2 {
		t.Fatalf("delete % x", b)
	}
	got, err := ParseDelete(b)
	if err != nil || got.Protocol != protoESP || len(got.SPIs) != 2 || !bytes.Equal(got.SPIs[1], d.SPIs[1]) {
		t.Fatalf("ParseDelete = %+v, %v", got, err)
	}
	ik := Delete{Protocol: protoISAKMP, SPIs: [][]byte{bytes.Repeat([]byte{9}, 16)}}
	if got, err := ParseDelete(ik.Append(nil)); err != nil || len(got.SPIs) != 1 || len(got.SPIs[0]) != 16 {
		t.Fatalf("ISAKMP delete %+v %v", got, err)
	}
	if got, err := ParseDelete(Delete{Protocol: protoESP}.Append(nil)); err != nil || len(got.SPIs) != 0 {
		t.Fatalf("empty delete %+v %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"7 bytes":        b[:7],
		"one SPI short":  b[:15],
		"one byte extra": append(append([]byte(nil), b...), 0),
		"count 3":        append(append([]byte(nil), b[:6]...), append([]byte{0, 3}, b[8:]...)...),
	} {
		if _, err := ParseDelete(bad); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
