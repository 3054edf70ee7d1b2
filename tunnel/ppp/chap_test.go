package ppp

import (
	"bytes"
	"crypto/md5"
	"errors"
	"testing"
)

func TestCHAPMD5Response(t *testing.T) {
	// Known answers computed outside Go (Python hashlib.md5 over
	// id || secret || challenge).
	for _, c := range []struct {
		id        byte
		secret    string
		challenge string
		want      string
	}{
		{0x01, "secret", "000102030405060708090A0B0C0D0E0F", "740e86463bda3a4d7017d6e0fba0699d"},
		{0x2a, "hunter2", "0123456789abcdef", "794a3c6389e558e9f2dc301dd16e4faf"},
	} {
		got := CHAPMD5Response(c.id, c.secret, authHex(t, c.challenge))
		if !bytes.Equal(got[:], authHex(t, c.want)) {
			t.Errorf("CHAPMD5Response(%d, %q, %s) = %x, want %s", c.id, c.secret, c.challenge, got, c.want)
		}
	}
	// And against crypto/md5 over the explicit concatenation of RFC 1994
	// section 4.1, for an Identifier and challenge of every size class.
	for _, id := range []byte{0, 1, 0x7f, 0xff} {
		for _, n := range []int{1, 8, 16, 255} {
			ch := bytes.Repeat([]byte{byte(n)}, n)
			msg := append(append([]byte{id}, "pa55 w\x00rd"...), ch...)
			if got, want := CHAPMD5Response(id, "pa55 w\x00rd", ch), md5.Sum(msg); got != want {
				t.Errorf("CHAPMD5Response(id %d, %d-octet challenge) = %x, want %x", id, n, got, want)
			}
		}
	}
}

func TestAppendCHAPResponse(t *testing.T) {
	val := []byte{0xde, 0xad, 0xbe, 0xef}
	got := AppendCHAPResponse([]byte{0xc2, 0x23}, 9, val, "bob")
	want := []byte{0xc2, 0x23, 2, 9, 0, 12, 4, 0xde, 0xad, 0xbe, 0xef, 'b', 'o', 'b'}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendCHAPResponse = % X, want % X", got, want)
	}
	if got := AppendCHAPResponse(nil, 1, []byte{7}, ""); !bytes.Equal(got, []byte{2, 1, 0, 6, 1, 7}) {
		t.Errorf("AppendCHAPResponse with empty name = % X", got)
	}
	// Over-long fields are cut so that the packet stays self-consistent.
	long := AppendCHAPResponse(nil, 1, make([]byte, 300), string(make([]byte, 70000)))
	if len(long) != 0xffff || int(long[2])<<8|int(long[3]) != 0xffff || long[4] != 255 {
		t.Errorf("over-long response: %d octets, Length %d, Value-Size %d", len(long), int(long[2])<<8|int(long[3]), long[4])
	}
}

// TestCHAPResponseRoundTrip feeds a response built by AppendCHAPResponse
// back through the generic header check and the fields, as a server would.
func TestCHAPResponseRoundTrip(t *testing.T) {
	ch := CHAPChallengeMsg{ID: 200, Value: authHex(t, "00112233445566778899AABBCCDDEEFF"), Name: "srv"}
	sum := CHAPMD5Response(ch.ID, "s3cret", ch.Value)
	pkt := AppendCHAPResponse(nil, ch.ID, sum[:], `DOM\alice`)
	code, id, data, err := splitAuthPacket(pkt, "test")
	if err != nil || code != CHAPResponse || id != 200 {
		t.Fatalf("splitAuthPacket = %d %d %v", code, id, err)
	}
	if int(data[0]) != 16 || !bytes.Equal(data[1:17], sum[:]) || string(data[17:]) != `DOM\alice` {
		t.Errorf("response data % X", data)
	}
}

func TestParseCHAPChallenge(t *testing.T) {
	pkt := []byte{1, 0x42, 0, 14, 4, 0xa, 0xb, 0xc, 0xd, 'h', 'u', 'b', '0', '1'}
	c, err := ParseCHAPChallenge(append(pkt, 0, 0, 0)) // with link padding
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 0x42 || !bytes.Equal(c.Value, []byte{0xa, 0xb, 0xc, 0xd}) || c.Name != "hub01" {
		t.Errorf("ParseCHAPChallenge = %+v", c)
	}
	pkt[5] = 0xff
	if c.Value[0] != 0xa {
		t.Error("Value aliases the packet buffer")
	}
	c, err = ParseCHAPChallenge([]byte{1, 7, 0, 6, 1, 0x55})
	if err != nil || c.Name != "" || !bytes.Equal(c.Value, []byte{0x55}) {
		t.Errorf("challenge without a name: %+v, %v", c, err)
	}
}

func TestParseCHAPChallengeRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"nil", nil},
		{"3 octets", []byte{1, 1, 0}},
		{"Length 3", []byte{1, 1, 0, 3, 1, 9}},
		{"Length 0", []byte{1, 1, 0, 0, 1, 9}},
		{"Length beyond packet", []byte{1, 1, 0, 7, 1, 9}},
		{"Length 0xffff", []byte{1, 1, 0xff, 0xff, 1, 9}},
		{"no Value-Size", []byte{1, 1, 0, 4}},
		{"no Value-Size, padded", []byte{1, 1, 0, 4, 1, 9}},
		{"Value-Size 0", []byte{1, 1, 0, 5, 0}},
		{"Value-Size past Length", []byte{1, 1, 0, 6, 2, 9, 9}},
		{"Value-Size past packet", []byte{1, 1, 0, 6, 16, 9}},
		{"Response code", []byte{2, 1, 0, 6, 1, 9}},
		{"Success code", []byte{3, 1, 0, 6, 1, 9}},
	} {
		if m, err := ParseCHAPChallenge(c.pkt); err == nil {
			t.Errorf("%s: ParseCHAPChallenge(% X) = %+v, want an error", c.name, c.pkt, m)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", c.name, err)
		}
	}
}

func TestParseCHAPStatus(t *testing.T) {
	for _, c := range []struct {
		pkt  []byte
		code byte
		id   byte
		msg  string
	}{
		{append([]byte{3, 5, 0, 11}, "Welcome"...), CHAPSuccess, 5, "Welcome"},
		{append([]byte{4, 6, 0, 9}, "E=691"...), CHAPFailure, 6, "E=691"},
		{[]byte{3, 7, 0, 4}, CHAPSuccess, 7, ""},
		{[]byte{4, 8, 0, 5, 'x', 'y', 'z'}, CHAPFailure, 8, "x"}, // padding ignored
	} {
		code, id, msg, err := ParseCHAPStatus(c.pkt)
		if err != nil || code != c.code || id != c.id || msg != c.msg {
			t.Errorf("ParseCHAPStatus(% X) = %d, %d, %q, %v; want %d, %d, %q", c.pkt, code, id, msg, err, c.code, c.id, c.msg)
		}
	}
	for _, pkt := range [][]byte{
		nil,
		{3},
		{3, 1, 0},
		{3, 1, 0, 3},
		{3, 1, 0, 5},
		{3, 1, 1, 0, 'a'},
		{1, 1, 0, 4},
		{2, 1, 0, 4},
		{5, 1, 0, 4},
	} {
		if _, _, _, err := ParseCHAPStatus(pkt); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCHAPStatus(% X) error = %v, want ErrMalformed", pkt, err)
		}
	}
}
