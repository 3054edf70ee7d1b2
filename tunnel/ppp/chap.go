package ppp

import (
	"crypto/md5"
	"fmt"
)

// CHAP packet codes (RFC 1994 section 4).
const (
	CHAPChallenge = 1
	CHAPResponse  = 2
	CHAPSuccess   = 3
	CHAPFailure   = 4
)

// CHAP algorithms: the Algorithm octet that follows the protocol number in
// the LCP Authentication-Protocol option (RFC 1994 section 3; 0x81 is
// MS-CHAPv2, RFC 2759 section 2).
const (
	CHAPAlgMD5  = 5
	CHAPAlgMSv2 = 0x81
)

// CHAPChallengeMsg is a decoded Challenge packet.
type CHAPChallengeMsg struct {
	ID    byte   // Identifier, echoed in the Response
	Value []byte // the challenge value; a copy, not aliasing the packet
	Name  string // the authenticator's name; may be empty
}

// ParseCHAPChallenge parses a Challenge packet (RFC 1994 section 4.1):
// Code 1, Identifier, Length, Value-Size, Value, Name. The Name is whatever
// follows Value up to Length. Octets after Length are padding (RFC 1661
// section 5) and ignored. A Value-Size of zero is refused: the RFC requires
// "one or more octets" and an empty challenge would make the response a
// replayable constant.
func ParseCHAPChallenge(pkt []byte) (CHAPChallengeMsg, error) {
	code, id, data, err := splitAuthPacket(pkt, "CHAP Challenge")
	if err != nil {
		return CHAPChallengeMsg{}, err
	}
	if code != CHAPChallenge {
		return CHAPChallengeMsg{}, fmt.Errorf("CHAP Challenge: code %d is not Challenge: %w", code, ErrMalformed)
	}
	if len(data) < 1 {
		return CHAPChallengeMsg{}, fmt.Errorf("CHAP Challenge: no Value-Size octet: %w", ErrMalformed)
	}
	vs := int(data[0])
	if vs == 0 {
		return CHAPChallengeMsg{}, fmt.Errorf("CHAP Challenge: Value-Size is 0: %w", ErrMalformed)
	}
	if 1+vs > len(data) {
		return CHAPChallengeMsg{}, fmt.Errorf("CHAP Challenge: Value-Size %d exceeds the %d octets left: %w", vs, len(data)-1, ErrMalformed)
	}
	return CHAPChallengeMsg{
		ID:    id,
		Value: append([]byte(nil), data[1:1+vs]...),
		Name:  string(data[1+vs:]),
	}, nil
}

// ParseCHAPStatus parses a Success or Failure packet (RFC 1994 section
// 4.2): Code 3 or 4, Identifier, Length, Message. For MS-CHAPv2 the message
// is "S=..." on Success (see CheckAuthenticatorResponse) and "E=... R=..."
// on Failure (see ParseMSCHAPv2Failure).
func ParseCHAPStatus(pkt []byte) (code, id byte, msg string, err error) {
	code, id, data, err := splitAuthPacket(pkt, "CHAP status")
	if err != nil {
		return 0, 0, "", err
	}
	if code != CHAPSuccess && code != CHAPFailure {
		return 0, 0, "", fmt.Errorf("CHAP status: code %d is not Success or Failure: %w", code, ErrMalformed)
	}
	return code, id, string(data), nil
}

// CHAPMD5Response computes the CHAP-MD5 Response value, the MD5 digest of
// the Identifier, then the secret, then the challenge value (RFC 1994
// section 4.1: "the Identifier, followed by the "secret", followed by the
// Challenge Value").
func CHAPMD5Response(id byte, secret string, challenge []byte) [16]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// maxCHAPValue is the longest Value a one-octet Value-Size can describe.
const maxCHAPValue = 255

// AppendCHAPResponse appends a complete Response packet to b (RFC 1994
// section 4.1): Code 2, Identifier id, Length, Value-Size, Value, Name.
// For MS-CHAPv2 the Name is the user name exactly as configured, domain
// prefix included (RFC 2759 section 4), and value is MSCHAPv2Response.
//
// A value longer than 255 octets, or a name that would push Length past
// 65535, cannot be encoded and is cut to fit; neither happens with the
// 16-octet MD5 or 49-octet MS-CHAPv2 values and a sane user name.
func AppendCHAPResponse(b []byte, id byte, value []byte, name string) []byte {
	if len(value) > maxCHAPValue {
		value = value[:maxCHAPValue]
	}
	name = clip(name, 0xffff-5-len(value))
	n := 4 + 1 + len(value) + len(name)
	b = append(b, CHAPResponse, id, byte(n>>8), byte(n), byte(len(value)))
	b = append(b, value...)
	return append(b, name...)
}
