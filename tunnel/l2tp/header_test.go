package l2tp

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// mustHex decodes hex, ignoring spaces, newlines and "|" separators, so that
// vectors can be laid out field by field or pasted from a capture.
func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("mustHex(%q): %v", s, err)
	}
	return b
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     Header
		off, end int
	}{
		{
			name: "control ZLB",
			in:   "c802 000c 1267 0000 0003 0005",
			want: Header{Control: true, HasLength: true, HasSeq: true, Length: 12, TunnelID: 0x1267, Ns: 3, Nr: 5},
			off:  12, end: 12,
		},
		{
			name: "control with payload and trailing bytes",
			in:   "c802 0014 0001 0002 fffe ffff | 8008 0000 0000 0006 | eeee",
			want: Header{Control: true, HasLength: true, HasSeq: true, Length: 20, TunnelID: 1, SessionID: 2, Ns: 0xfffe, Nr: 0xffff},
			off:  12, end: 20,
		},
		{
			name: "control reserved x bits ignored (3.1)",
			in:   "f8f2 000c 0001 0000 0000 0000",
			want: Header{Control: true, HasLength: true, HasSeq: true, Length: 12, TunnelID: 1},
			off:  12, end: 12,
		},
		{
			name: "data, 6-byte header",
			in:   "0002 4711 0815 | ff03 c021",
			want: Header{TunnelID: 0x4711, SessionID: 0x0815},
			off:  6, end: 10,
		},
		{
			name: "data with L",
			in:   "4002 000c 0001 0002 | ff03 c021 | 9999",
			want: Header{HasLength: true, Length: 12, TunnelID: 1, SessionID: 2},
			off:  8, end: 12,
		},
		{
			name: "data with S",
			in:   "0802 0001 0002 0007 0000 | ff03",
			want: Header{HasSeq: true, TunnelID: 1, SessionID: 2, Ns: 7},
			off:  10, end: 12,
		},
		{
			name: "data with O and P",
			in:   "0302 0001 0002 0003 aabbcc | ff03",
			want: Header{HasOffset: true, Priority: true, TunnelID: 1, SessionID: 2, OffsetSize: 3},
			off:  11, end: 13,
		},
		{
			name: "data with L, S, O",
			in:   "4a02 0012 0001 0002 0001 0002 0002 0000 | ff03 | 00",
			want: Header{HasLength: true, HasSeq: true, HasOffset: true, Length: 18, TunnelID: 1, SessionID: 2, Ns: 1, Nr: 2, OffsetSize: 2},
			off:  16, end: 18,
		},
		{
			name: "offset to exactly the end",
			in:   "0202 0001 0002 0002 0000",
			want: Header{HasOffset: true, TunnelID: 1, SessionID: 2, OffsetSize: 2},
			off:  10, end: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.in)
			h, off, end, err := ParseHeader(b)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if h != tt.want || off != tt.off || end != tt.end {
				t.Errorf("got %+v off=%d end=%d\nwant %+v off=%d end=%d", h, off, end, tt.want, tt.off, tt.end)
			}
		})
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrShort},
		{"one byte", "c8", ErrShort},
		{"data header cut", "0002 0001 00", ErrShort},
		{"control header cut", "c802 000c 0001 0000 0000 00", ErrShort},
		{"L set, no room", "4002 0008 0001", ErrShort},
		{"O set, no room for offset size", "0202 0001 0002", ErrShort},
		{"version 3 (L2TPv3)", "c803 000c 0001 0000 0000 0000", ErrVersion},
		{"version 1 (L2F)", "0001 0001 0002", ErrVersion},
		{"version 0", "0000 0001 0002", ErrVersion},
		{"control without L (3.1)", "8802 0001 0000 0000 0000", ErrFlags},
		{"control without S (3.1)", "c002 000c 0001 0000 0000 0000", ErrFlags},
		{"control with O (3.1)", "ca02 000e 0001 0000 0000 0000 0000", ErrFlags},
		{"length below header", "c802 000b 0001 0000 0000 0000", ErrLength},
		{"length zero", "c802 0000 0001 0000 0000 0000", ErrLength},
		{"length past end", "c802 000d 0001 0000 0000 0000", ErrLength},
		{"data length below header", "4002 0007 0001 0002", ErrLength},
		{"offset past end", "0202 0001 0002 0003 0000", ErrFlags},
		{"offset past Length", "4202 000a 0001 0002 0001 ffff", ErrFlags},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseHeader(mustHex(t, tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendControlRoundTrip(t *testing.T) {
	payload := mustHex(t, "8008 0000 0000 0006")
	prefix := []byte{0xaa, 0xbb}
	frame := AppendControl(append([]byte(nil), prefix...), 0x1234, 0x5678, 9, 10, payload)
	if string(frame[:2]) != string(prefix) {
		t.Fatalf("prefix overwritten: % x", frame)
	}
	frame = frame[2:]
	want := mustHex(t, "c802 0014 1234 5678 0009 000a 8008 0000 0000 0006")
	if string(frame) != string(want) {
		t.Fatalf("frame = % x\nwant    % x", frame, want)
	}
	h, off, end, err := ParseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	wantH := Header{Control: true, HasLength: true, HasSeq: true, Length: 20, TunnelID: 0x1234, SessionID: 0x5678, Ns: 9, Nr: 10}
	if h != wantH {
		t.Errorf("header %+v, want %+v", h, wantH)
	}
	if got := frame[off:end]; string(got) != string(payload) {
		t.Errorf("payload % x, want % x", got, payload)
	}

	SetNsNr(frame, 0xfffe, 3)
	h, _, _, err = ParseHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h.Ns != 0xfffe || h.Nr != 3 || h.TunnelID != 0x1234 || h.SessionID != 0x5678 || h.Length != 20 {
		t.Errorf("after SetNsNr: %+v", h)
	}
	if string(frame[ControlHeaderLen:]) != string(payload) {
		t.Errorf("SetNsNr touched the payload")
	}

	zlb := AppendControl(nil, 1, 0, 0, 0, nil)
	if len(zlb) != ControlHeaderLen {
		t.Errorf("ZLB is %d bytes", len(zlb))
	}
}

func TestPutDataHeader(t *testing.T) {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03}
	PutDataHeader(b, 0x4711, 0x0815)
	if want := mustHex(t, "0002 4711 0815 ff03"); string(b) != string(want) {
		t.Fatalf("got % x, want % x", b, want)
	}
	h, off, end, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Control || h.HasLength || h.HasSeq || h.HasOffset || h.TunnelID != 0x4711 || h.SessionID != 0x0815 || off != DataHeaderLen || end != len(b) {
		t.Errorf("got %+v off=%d end=%d", h, off, end)
	}
}

func TestParseHeaderNoAllocs(t *testing.T) {
	frames := [][]byte{
		mustHex(t, "0002 4711 0815 ff03 c021"),
		mustHex(t, "4a02 0012 0001 0002 0001 0002 0002 0000 ff03"),
		AppendControl(nil, 1, 2, 3, 4, []byte{1, 2, 3, 4, 5, 6}),
		mustHex(t, "c803 000c"), // error path
		mustHex(t, "8802 0001 0000 0000 0000"),
	}
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			h, off, end, _ := ParseHeader(f)
			sink += off + end + int(h.TunnelID)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseHeader allocates %v times per run", allocs)
	}
	_ = sink
}

func BenchmarkParseHeaderData(b *testing.B) {
	f := make([]byte, 1400)
	PutDataHeader(f, 1, 2)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := ParseHeader(f); err != nil {
			b.Fatal(err)
		}
	}
}
