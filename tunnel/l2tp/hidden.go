package l2tp

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
)

// Hidden AVPs (RFC 2661 section 4.3). The value of a hidden AVP is the
// "Hidden AVP Subformat"
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Length of Original Value     |   Original Attribute Value ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	...                             |             Padding ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// XORed with a key stream: block 1 with MD5(attribute type + secret + RV),
// block i+1 with MD5(secret + cipher block i). The last block may be short.

var errNoRandomVector = fmt.Errorf("%w: hidden AVP without a preceding Random Vector (RFC 2661 4.3)", ErrBadAVP)

// hideValue returns the hidden form of value for an AVP of type typ. The
// subformat is padded with bytes from rnd up to a multiple of 16 octets (as
// far as the AVP length allows), so that the length of short values such as
// passwords does not show.
func hideValue(typ AVPType, value, secret, rv []byte, rnd io.Reader) ([]byte, error) {
	if len(secret) == 0 {
		return nil, ErrHiddenNoSecret
	}
	if len(rv) == 0 {
		return nil, errNoRandomVector
	}
	n := 2 + len(value)
	if n > avpMaxValueLen {
		return nil, fmt.Errorf("%w: %v value of %d octets too long to hide", ErrBadAVP, typ, len(value))
	}
	total := min((n+15)&^15, avpMaxValueLen)
	out := make([]byte, total)
	binary.BigEndian.PutUint16(out, uint16(len(value)))
	copy(out[2:], value)
	if _, err := io.ReadFull(rnd, out[n:]); err != nil {
		return nil, fmt.Errorf("l2tp: hidden AVP padding: %w", err)
	}
	hiddenXOR(typ, out, secret, rv, true)
	return out, nil
}

// unhideValue reverses hideValue: it returns a new slice holding the
// original value. A wrong secret or Random Vector yields garbage, which is
// caught here only when the decoded length does not fit.
func unhideValue(typ AVPType, hidden, secret, rv []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, ErrHiddenNoSecret
	}
	if len(rv) == 0 {
		return nil, errNoRandomVector
	}
	if len(hidden) < 2 {
		return nil, fmt.Errorf("%w: hidden %v value of %d octets (RFC 2661 4.3)", ErrBadAVP, typ, len(hidden))
	}
	buf := append([]byte(nil), hidden...)
	hiddenXOR(typ, buf, secret, rv, false)
	n := int(binary.BigEndian.Uint16(buf))
	if n > len(buf)-2 {
		return nil, fmt.Errorf("%w: hidden %v claims %d octets in %d (wrong tunnel secret?) (RFC 2661 4.3)", ErrBadAVP, typ, n, len(buf)-2)
	}
	return buf[2 : 2+n : 2+n], nil
}

// hiddenXOR encrypts (encrypt=true) or decrypts b in place.
func hiddenXOR(typ AVPType, b, secret, rv []byte, encrypt bool) {
	h := md5.New()
	var t [2]byte
	binary.BigEndian.PutUint16(t[:], uint16(typ))
	h.Write(t[:])
	h.Write(secret)
	h.Write(rv)
	var key, prev [md5.Size]byte
	h.Sum(key[:0])
	for i := 0; i < len(b); i += md5.Size {
		blk := b[i:min(i+md5.Size, len(b))]
		if i > 0 {
			// The chain runs over the previous cipher block (always a
			// full 16 octets here, as only the last block is short).
			h.Reset()
			h.Write(secret)
			h.Write(prev[:])
			h.Sum(key[:0])
		}
		if !encrypt {
			copy(prev[:], blk)
		}
		for j := range blk {
			blk[j] ^= key[j]
		}
		if encrypt {
			copy(prev[:], blk)
		}
	}
}
