package l2tp

import (
	"bytes"
	"crypto/md5"
	"errors"
	"testing"
)

// zeros is a padding source that yields zero bytes, so vectors are fixed.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestHideValueVectors(t *testing.T) {
	secret := []byte("secret")
	rv := mustHex(t, "000102030405060708090a0b0c0d0e0f")
	tests := []struct {
		name  string
		typ   AVPType
		value []byte
		want  string
	}{
		{
			// One block. Subformat: length 0002, value 1267 (4711), then
			// 12 octets of (zero) padding up to 16.
			//   MD5(0009 | "secret" | 00..0f) = be681dc7 dfe444d9 cd76415a bc1af578
			//   (checked with: printf '\x00\x09secret\x00\x01...\x0f' | md5sum)
			//   0002 1267 XOR be68 1dc7 = be6a 0fa0; the zero padding
			//   leaves the rest of the key as it is.
			name:  "AssignedTunnelID, one block",
			typ:   AVPAssignedTunnelID,
			value: []byte{0x12, 0x67},
			want:  "be6a0fa0 dfe444d9 cd76415a bc1af578",
		},
		{
			// Two blocks. Subformat: 0013 (19) | "Corridor VPN client" |
			// 11 zero octets = 32 octets.
			//   b1 = MD5(0008 | "secret" | 00..0f) = 8fe64968 61be4dac 2a6a3cb6 b8d92963
			//   c1 = 0013436f 72726964 6f722056 504e2063 XOR b1
			//      = 8ff50a07 13cc24c8 45181ce0 e8970900
			//   b2 = MD5("secret" | c1)              = 1ef0c75e c0981321 b86c3e51 23b78624
			//   c2 = 6c69656e 74000000 00000000 00000000 XOR b2
			//      = 7299a230 b4981321 b86c3e51 23b78624
			// (MD5 values computed with Python's hashlib.)
			name:  "VendorName, two blocks",
			typ:   AVPVendorName,
			value: []byte("Corridor VPN client"),
			want:  "8ff50a07 13cc24c8 45181ce0 e8970900 7299a230 b4981321 b86c3e51 23b78624",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hideValue(tt.typ, tt.value, secret, rv, zeros{})
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("hidden % x\nwant   % x", got, want)
			}
			back, err := unhideValue(tt.typ, got, secret, rv)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, tt.value) {
				t.Errorf("unhidden %q, want %q", back, tt.value)
			}
		})
	}
	// The key stream of the first block, recomputed here directly.
	k := md5.Sum(append(append([]byte{0, 9}, secret...), rv...))
	if want := mustHex(t, "be681dc7dfe444d9cd76415abc1af578"); !bytes.Equal(k[:], want) {
		t.Fatalf("md5 sanity: % x", k)
	}
}

func TestHiddenRoundTrip(t *testing.T) {
	secret := []byte("a tunnel secret")
	rv := []byte{0xde, 0xad, 0xbe, 0xef}
	for _, n := range []int{0, 1, 13, 14, 15, 16, 30, 31, 32, 100, 1000, avpMaxValueLen - 2} {
		value := make([]byte, n)
		for i := range value {
			value[i] = byte(i*7 + 1)
		}
		h, err := hideValue(AVPCalledNumber, value, secret, rv, bytes.NewReader(bytes.Repeat([]byte{0x55}, 2000)))
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		wantLen := min((2+n+15)/16*16, avpMaxValueLen)
		if len(h) != wantLen {
			t.Errorf("len %d: hidden length %d, want %d (padded to 16)", n, len(h), wantLen)
		}
		back, err := unhideValue(AVPCalledNumber, h, secret, rv)
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if !bytes.Equal(back, value) {
			t.Errorf("len %d: round trip mismatch", n)
		}
		// The type is part of the key: unhiding as another type fails or
		// yields something else.
		if other, err := unhideValue(AVPCallingNumber, h, secret, rv); err == nil && n > 0 && bytes.Equal(other, value) {
			t.Errorf("len %d: type not bound into the key", n)
		}
	}
	if _, err := hideValue(AVPCalledNumber, make([]byte, avpMaxValueLen-1), secret, rv, zeros{}); !errors.Is(err, ErrBadAVP) {
		t.Errorf("too long: err = %v", err)
	}
	if _, err := hideValue(AVPCalledNumber, []byte("x"), secret, rv, bytes.NewReader(nil)); err == nil {
		t.Error("no error when the padding source fails")
	}
}

func TestUnhideErrors(t *testing.T) {
	secret := []byte("secret")
	rv := mustHex(t, "000102030405060708090a0b0c0d0e0f")
	h, err := hideValue(AVPAssignedTunnelID, []byte{0x12, 0x67}, secret, rv, zeros{})
	if err != nil {
		t.Fatal(err)
	}
	// A wrong secret decodes the length field to garbage: here 0x466a
	// octets in a 14-octet value, which the length check catches.
	if v, err := unhideValue(AVPAssignedTunnelID, h, []byte("wrong"), rv); !errors.Is(err, ErrBadAVP) {
		t.Errorf("wrong secret: value % x, err %v", v, err)
	}
	if v, err := unhideValue(AVPAssignedTunnelID, h, secret, rv[1:]); err == nil && bytes.Equal(v, []byte{0x12, 0x67}) {
		t.Error("wrong random vector still decodes")
	}
	if _, err := unhideValue(AVPAssignedTunnelID, h, secret, nil); !errors.Is(err, errNoRandomVector) || !errors.Is(err, ErrBadAVP) {
		t.Errorf("missing RV: err = %v", err)
	}
	if _, err := hideValue(AVPAssignedTunnelID, []byte{1, 2}, secret, nil, zeros{}); !errors.Is(err, errNoRandomVector) {
		t.Errorf("hide without RV: err = %v", err)
	}
	if _, err := unhideValue(AVPAssignedTunnelID, h, nil, rv); !errors.Is(err, ErrHiddenNoSecret) {
		t.Errorf("no secret: err = %v", err)
	}
	if _, err := hideValue(AVPAssignedTunnelID, []byte{1, 2}, nil, rv, zeros{}); !errors.Is(err, ErrHiddenNoSecret) {
		t.Errorf("hide without secret: err = %v", err)
	}
	if _, err := unhideValue(AVPAssignedTunnelID, []byte{1}, secret, rv); !errors.Is(err, ErrBadAVP) {
		t.Errorf("1-octet hidden value: err = %v", err)
	}
}

func TestChallengeResponse(t *testing.T) {
	secret := []byte("secret")
	challenge := mustHex(t, "0102030405060708090a0b0c0d0e0f10")
	tests := []struct {
		typ  MsgType
		want string
	}{
		// MD5(02 | "secret" | 0102..10) and MD5(03 | ...), computed with
		// Python's hashlib over the concatenation.
		{MsgSCCRP, "4b70dce87d3df35da19cdda9873ac3e8"},
		{MsgSCCCN, "d3776537e116356a60d5b181d29ec9f9"},
	}
	for _, tt := range tests {
		got := ChallengeResponse(tt.typ, secret, challenge)
		if want := mustHex(t, tt.want); !bytes.Equal(got[:], want) {
			t.Errorf("%v: % x, want % x", tt.typ, got, want)
		}
		// And with crypto/md5 directly over the concatenation.
		direct := md5.Sum(append(append([]byte{byte(tt.typ)}, secret...), challenge...))
		if got != direct {
			t.Errorf("%v: differs from md5.Sum over the concatenation", tt.typ)
		}
	}
}
