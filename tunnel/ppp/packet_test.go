package ppp

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		proto   Protocol
		payload []byte
	}{
		{"address and control", []byte{0xff, 0x03, 0xc0, 0x21, 1, 2, 0, 4}, ProtoLCP, []byte{1, 2, 0, 4}},
		{"no address and control", []byte{0xc0, 0x21, 9, 9}, ProtoLCP, []byte{9, 9}},
		{"ipcp", []byte{0xff, 0x03, 0x80, 0x21}, ProtoIPCP, []byte{}},
		{"compressed protocol", []byte{0x21, 0x45, 0x00}, ProtoIPv4, []byte{0x45, 0x00}},
		{"compressed protocol after FF 03", []byte{0xff, 0x03, 0x21, 0x45}, ProtoIPv4, []byte{0x45}},
		{"compressed protocol alone", []byte{0x57}, ProtoIPv6, []byte{}},
		// 0xff not followed by 0x03 is an odd first octet: a one-byte protocol.
		{"lone ff", []byte{0xff, 0x21}, Protocol(0xff), []byte{0x21}},
		{"ff 03 inside a two-byte protocol", []byte{0xff, 0x03, 0x00, 0x21, 0x45}, ProtoIPv4, []byte{0x45}},
	}
	for _, tt := range tests {
		proto, payload, err := ParseFrame(tt.in)
		if err != nil {
			t.Errorf("%s: ParseFrame(% x) error %v", tt.name, tt.in, err)
			continue
		}
		if proto != tt.proto || !bytes.Equal(payload, tt.payload) {
			t.Errorf("%s: ParseFrame(% x) = %v, % x; want %v, % x", tt.name, tt.in, proto, payload, tt.proto, tt.payload)
		}
	}
}

func TestParseFrameAliasesInput(t *testing.T) {
	in := []byte{0xff, 0x03, 0xc0, 0x21, 7}
	_, payload, err := ParseFrame(in)
	if err != nil {
		t.Fatal(err)
	}
	payload[0] = 8
	if in[4] != 8 {
		t.Error("ParseFrame copied the payload; it should alias the input")
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseFrame(in) }); n != 0 {
		t.Errorf("ParseFrame allocates %v times", n)
	}
}

func TestParseFrameMalformed(t *testing.T) {
	for _, in := range [][]byte{
		nil,
		{},
		{0xff, 0x03},             // header only
		{0xc0},                   // even first octet, no second
		{0xff, 0x03, 0xc0},       // same after the header
		{0xc0, 0x22, 1, 2, 3, 4}, // even low octet
		{0x80, 0x20},             // even low octet
		{0x00, 0x00},
	} {
		if proto, payload, err := ParseFrame(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseFrame(% x) = %v, % x, %v; want ErrMalformed", in, proto, payload, err)
		}
	}
}

func TestPutFrameHeader(t *testing.T) {
	b := make([]byte, FrameHeaderLen+2)
	PutFrameHeader(b, ProtoIPCP)
	if !bytes.Equal(b[:4], []byte{0xff, 0x03, 0x80, 0x21}) {
		t.Errorf("PutFrameHeader = % x", b[:4])
	}
	b[4], b[5] = 0xaa, 0xbb
	proto, payload, err := ParseFrame(b)
	if err != nil || proto != ProtoIPCP || !bytes.Equal(payload, []byte{0xaa, 0xbb}) {
		t.Errorf("ParseFrame(PutFrameHeader) = %v, % x, %v", proto, payload, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("PutFrameHeader on 3 bytes did not panic")
		}
	}()
	PutFrameHeader(make([]byte, 3), ProtoLCP)
}

func TestProtocolAndCodeString(t *testing.T) {
	for p, want := range map[Protocol]string{
		ProtoIPv4: "IPv4", ProtoIPv6: "IPv6", ProtoIPCP: "IPCP", ProtoCCP: "CCP", ProtoIPv6CP: "IPv6CP",
		ProtoLCP: "LCP", ProtoPAP: "PAP", ProtoCHAP: "CHAP", ProtoEAP: "EAP", 0x1234: "Protocol(0x1234)",
	} {
		if got := p.String(); got != want {
			t.Errorf("Protocol(%#x).String() = %q, want %q", uint16(p), got, want)
		}
	}
	for c, want := range map[Code]string{
		0: "Code(0)", CodeConfReq: "Configure-Request", CodeConfRej: "Configure-Reject",
		CodeProtoRej: "Protocol-Reject", CodeDiscard: "Discard-Request", 12: "Code(12)", 255: "Code(255)",
	} {
		if got := c.String(); got != want {
			t.Errorf("Code(%d).String() = %q, want %q", uint8(c), got, want)
		}
	}
}

func TestParseCP(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		code Code
		id   byte
		data []byte
	}{
		{"empty data", []byte{5, 7, 0, 4}, CodeTermReq, 7, []byte{}},
		{"data", []byte{1, 2, 0, 8, 5, 6, 1, 2}, CodeConfReq, 2, []byte{5, 6, 1, 2}},
		{"padding ignored", []byte{9, 3, 0, 8, 0, 0, 0, 0, 0xee, 0xee}, CodeEchoReq, 3, []byte{0, 0, 0, 0}},
		{"padding after empty data", []byte{6, 1, 0, 4, 0, 0, 0}, CodeTermAck, 1, []byte{}},
		{"unknown code", []byte{200, 1, 0, 5, 1}, 200, 1, []byte{1}},
	}
	for _, tt := range tests {
		code, id, data, err := ParseCP(tt.in)
		if err != nil {
			t.Errorf("%s: ParseCP(% x) error %v", tt.name, tt.in, err)
			continue
		}
		if code != tt.code || id != tt.id || !bytes.Equal(data, tt.data) {
			t.Errorf("%s: ParseCP(% x) = %v, %d, % x; want %v, %d, % x", tt.name, tt.in, code, id, data, tt.code, tt.id, tt.data)
		}
	}
}

func TestParseCPMalformed(t *testing.T) {
	for _, in := range [][]byte{
		nil,
		{1},
		{1, 2, 0},
		{1, 2, 0, 3},          // Length below the header
		{1, 2, 0, 0},          // Length 0
		{1, 2, 0, 5},          // Length beyond the packet
		{1, 2, 0xff, 0xff, 0}, // far beyond
		{1, 2, 0x01, 0x04, 1, 2, 3, 4},
	} {
		if code, id, data, err := ParseCP(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCP(% x) = %v, %d, % x, %v; want ErrMalformed", in, code, id, data, err)
		}
	}
}

func TestAppendCPRoundTrip(t *testing.T) {
	for _, data := range [][]byte{nil, {}, {1}, bytes.Repeat([]byte{0xab}, 300), bytes.Repeat([]byte{1}, 0xffff-4)} {
		prefix := []byte{0xc0, 0x21}
		pkt := AppendCP(prefix, CodeConfNak, 0x42, data)
		if !bytes.Equal(pkt[:2], []byte{0xc0, 0x21}) {
			t.Fatalf("AppendCP clobbered the prefix: % x", pkt[:2])
		}
		pkt = pkt[2:]
		if len(pkt) != 4+len(data) {
			t.Fatalf("AppendCP of %d data bytes made %d bytes", len(data), len(pkt))
		}
		code, id, got, err := ParseCP(pkt)
		if err != nil || code != CodeConfNak || id != 0x42 || !bytes.Equal(got, data) {
			t.Errorf("ParseCP(AppendCP(%d bytes)) = %v, %d, %d bytes, %v", len(data), code, id, len(got), err)
		}
	}
}

func TestParseOptions(t *testing.T) {
	in := []byte{
		1, 4, 0x05, 0xdc, // MRU 1500
		3, 5, 0xc2, 0x23, 0x81, // Auth MS-CHAPv2
		7, 2, // PFC, no data
		5, 6, 1, 2, 3, 4, // Magic
	}
	opts, err := ParseOptions(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{
		{1, []byte{0x05, 0xdc}},
		{3, []byte{0xc2, 0x23, 0x81}},
		{7, []byte{}},
		{5, []byte{1, 2, 3, 4}},
	}
	if len(opts) != len(want) {
		t.Fatalf("ParseOptions = %v, want %v", opts, want)
	}
	var re []byte
	for i, o := range opts {
		if o.Type != want[i].Type || !bytes.Equal(o.Data, want[i].Data) {
			t.Errorf("option %d = %+v, want %+v", i, o, want[i])
		}
		re = AppendOption(re, o.Type, o.Data)
	}
	if !bytes.Equal(re, in) {
		t.Errorf("AppendOption round trip = % x, want % x", re, in)
	}
	// Data aliases the input.
	opts[0].Data[0] = 0x04
	if in[2] != 0x04 {
		t.Error("option Data does not alias the input")
	}

	if opts, err := ParseOptions(nil); err != nil || opts != nil {
		t.Errorf("ParseOptions(nil) = %v, %v", opts, err)
	}
}

func TestParseOptionsMalformed(t *testing.T) {
	for _, in := range [][]byte{
		{1},                   // no length octet
		{1, 0},                // length 0
		{1, 1},                // length 1, below the header
		{1, 3},                // length past the end
		{1, 4, 0x05},          // length past the end
		{7, 2, 1},             // good option then a truncated one
		{7, 2, 5, 6, 1, 2, 3}, // good option then one a byte short
		{3, 255, 0xc0, 0x23},
	} {
		if opts, err := ParseOptions(in); !errors.Is(err, ErrMalformed) || opts != nil {
			t.Errorf("ParseOptions(% x) = %v, %v; want nil, ErrMalformed", in, opts, err)
		}
	}
}

func TestAppendOption(t *testing.T) {
	b := AppendOption([]byte{0xaa}, 3, []byte{0xc0, 0x23})
	if !bytes.Equal(b, []byte{0xaa, 3, 4, 0xc0, 0x23}) {
		t.Errorf("AppendOption = % x", b)
	}
	b = AppendOption(nil, 8, nil)
	if !bytes.Equal(b, []byte{8, 2}) {
		t.Errorf("AppendOption without data = % x", b)
	}
	// The longest option: 253 data octets, Length 255.
	data := bytes.Repeat([]byte{9}, 253)
	b = AppendOption(nil, 200, data)
	opts, err := ParseOptions(b)
	if err != nil || len(opts) != 1 || opts[0].Type != 200 || !bytes.Equal(opts[0].Data, data) {
		t.Errorf("ParseOptions(AppendOption(253 bytes)) = %v, %v", opts, err)
	}
}

func TestParseAuthMethods(t *testing.T) {
	got, err := ParseAuthMethods(" MSCHAPv2, pap ,chap")
	if err != nil || len(got) != 3 || got[0] != AuthMSCHAPv2 || got[1] != AuthPAP || got[2] != AuthCHAPMD5 {
		t.Errorf("ParseAuthMethods = %v, %v", got, err)
	}
	for _, s := range []string{"", "eap", "pap,pap", "pap,,chap"} {
		if got, err := ParseAuthMethods(s); err == nil {
			t.Errorf("ParseAuthMethods(%q) = %v, want an error", s, got)
		}
	}
}

func TestAuthOptionRoundTrip(t *testing.T) {
	for _, m := range []AuthMethod{AuthPAP, AuthCHAPMD5, AuthMSCHAPv2} {
		got, name := authFromOption(authOption(m))
		if got != m || name != m.String() {
			t.Errorf("authFromOption(authOption(%v)) = %v, %q", m, got, name)
		}
	}
	for in, want := range map[string]string{
		"\xc2\x27":     "EAP",
		"\xc2\x23\x80": "MS-CHAPv1",
		"\xc0":         "malformed",
		"\xc0\x23\x00": "PAP 00", // PAP with a stray octet is not PAP
	} {
		if m, name := authFromOption([]byte(in)); m != AuthNone || name != want {
			t.Errorf("authFromOption(% x) = %v, %q; want none, %q", in, m, name, want)
		}
	}
}
