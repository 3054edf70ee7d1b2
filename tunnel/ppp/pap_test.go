package ppp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestAppendPAPRequest(t *testing.T) {
	got := AppendPAPRequest(nil, 7, "alice", "s3cret")
	want := []byte{
		0x01, 0x07, 0x00, 0x11, // Code, Identifier, Length 17
		0x05, 'a', 'l', 'i', 'c', 'e', // Peer-ID Length, Peer-ID
		0x06, 's', '3', 'c', 'r', 'e', 't', // Passwd-Length, Password
	}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendPAPRequest = % X, want % X", got, want)
	}
	if got := AppendPAPRequest([]byte{0xc0, 0x23}, 0xff, "", ""); !bytes.Equal(got, []byte{0xc0, 0x23, 1, 0xff, 0, 6, 0, 0}) {
		t.Errorf("AppendPAPRequest with a prefix and empty fields = % X", got)
	}
}

func TestAppendPAPRequestLongFields(t *testing.T) {
	user := strings.Repeat("u", 300)
	pass := strings.Repeat("p", 256)
	pkt := AppendPAPRequest(nil, 1, user, pass)
	if n := 4 + 1 + 255 + 1 + 255; len(pkt) != n || int(pkt[2])<<8|int(pkt[3]) != n {
		t.Fatalf("packet of %d octets with Length %d", len(pkt), int(pkt[2])<<8|int(pkt[3]))
	}
	if pkt[4] != 255 || pkt[4+1+255] != 255 {
		t.Errorf("field lengths %d and %d, want 255 and 255", pkt[4], pkt[4+1+255])
	}
	// Exactly 255 octets is the limit and is kept whole.
	pkt = AppendPAPRequest(nil, 1, user[:255], "")
	if pkt[4] != 255 || string(pkt[5:260]) != user[:255] {
		t.Error("a 255-octet user was altered")
	}
}

func TestParsePAPReply(t *testing.T) {
	for _, c := range []struct {
		name string
		pkt  []byte
		code byte
		id   byte
		msg  string
	}{
		{"ack", append([]byte{2, 7, 0, 13, 8}, "Login ok"...), PAPAuthAck, 7, "Login ok"},
		{"nak", append([]byte{3, 8, 0, 19, 14}, "Password wrong"...), PAPAuthNak, 8, "Password wrong"},
		{"empty message", []byte{2, 9, 0, 5, 0}, PAPAuthAck, 9, ""},
		{"no Msg-Length", []byte{2, 10, 0, 4}, PAPAuthAck, 10, ""},
		{"padding after Length", []byte{3, 11, 0, 6, 1, 'x', 0, 0}, PAPAuthNak, 11, "x"},
		{"Msg-Length short of Length", []byte{2, 12, 0, 7, 1, 'x', 'y'}, PAPAuthAck, 12, "x"},
	} {
		code, id, msg, err := ParsePAPReply(c.pkt)
		if err != nil || code != c.code || id != c.id || msg != c.msg {
			t.Errorf("%s: ParsePAPReply(% X) = %d, %d, %q, %v; want %d, %d, %q", c.name, c.pkt, code, id, msg, err, c.code, c.id, c.msg)
		}
	}
}

func TestParsePAPReplyRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"nil", nil},
		{"3 octets", []byte{2, 1, 0}},
		{"Length 0", []byte{2, 1, 0, 0, 0}},
		{"Length 3", []byte{2, 1, 0, 3, 0}},
		{"Length beyond packet", []byte{2, 1, 0, 6, 0}},
		{"Length 0x0100 in 5 octets", []byte{2, 1, 1, 0, 0}},
		{"Msg-Length past Length", []byte{2, 1, 0, 6, 2, 'x', 'y'}},
		{"Msg-Length past packet", []byte{2, 1, 0, 5, 1}},
		{"Authenticate-Request", append(AppendPAPRequest(nil, 1, "", ""), 0)},
		{"code 0", []byte{0, 1, 0, 5, 0}},
		{"code 4", []byte{4, 1, 0, 5, 0}},
	} {
		if code, id, msg, err := ParsePAPReply(c.pkt); err == nil {
			t.Errorf("%s: ParsePAPReply(% X) = %d, %d, %q; want an error", c.name, c.pkt, code, id, msg)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", c.name, err)
		}
	}
}
