package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports a packet or message that does not follow its wire
// format: too short, a Length field that disagrees with the bytes present,
// or a field that cannot be decoded. Errors from this package wrap it with
// context; test for it with errors.Is.
var ErrMalformed = errors.New("ppp: malformed packet")

// PAP packet codes (RFC 1334 section 2.2).
const (
	PAPAuthRequest = 1
	PAPAuthAck     = 2
	PAPAuthNak     = 3
)

// MaxPAPFieldLen is the longest Peer-ID or Password a PAP
// Authenticate-Request can carry: each is preceded by a one-octet length
// (RFC 1334 section 2.2.1).
const MaxPAPFieldLen = 255

// AppendPAPRequest appends a complete PAP Authenticate-Request packet to b:
// Code 1, Identifier id, Length, Peer-ID Length, Peer-ID, Passwd-Length,
// Password (RFC 1334 section 2.2.1).
//
// A user or password longer than MaxPAPFieldLen bytes cannot be encoded and
// is cut to that length, so the server will refuse it; callers should reject
// such credentials when they are configured.
func AppendPAPRequest(b []byte, id byte, user, password string) []byte {
	user = clip(user, MaxPAPFieldLen)
	password = clip(password, MaxPAPFieldLen)
	n := 4 + 1 + len(user) + 1 + len(password)
	b = append(b, PAPAuthRequest, id, byte(n>>8), byte(n))
	b = append(b, byte(len(user)))
	b = append(b, user...)
	b = append(b, byte(len(password)))
	return append(b, password...)
}

// ParsePAPReply parses an Authenticate-Ack or Authenticate-Nak packet
// (RFC 1334 section 2.2.2): Code, Identifier, Length, Msg-Length, Message.
//
// Octets after Length are link padding and ignored (RFC 1661 section 5). A
// packet whose Length is exactly 4, with no Msg-Length octet at all, is
// accepted as an empty message: some servers send their Ack that way. A
// Msg-Length that runs past Length is an error.
func ParsePAPReply(pkt []byte) (code, id byte, msg string, err error) {
	code, id, data, err := splitAuthPacket(pkt, "PAP reply")
	if err != nil {
		return 0, 0, "", err
	}
	if code != PAPAuthAck && code != PAPAuthNak {
		return 0, 0, "", fmt.Errorf("PAP reply: code %d is not Authenticate-Ack or -Nak: %w", code, ErrMalformed)
	}
	if len(data) == 0 {
		return code, id, "", nil
	}
	m := int(data[0])
	if 1+m > len(data) {
		return 0, 0, "", fmt.Errorf("PAP reply: Msg-Length %d exceeds the %d octets left: %w", m, len(data)-1, ErrMalformed)
	}
	return code, id, string(data[1 : 1+m]), nil
}

// splitAuthPacket checks the Code, Identifier and Length header shared by
// PAP and CHAP packets (RFC 1334 section 2.2, RFC 1994 section 4) and
// returns the Data field, which aliases pkt. Length must cover the 4-octet
// header and must not run past pkt; octets after Length are padding (RFC
// 1661 section 5) and dropped.
func splitAuthPacket(pkt []byte, what string) (code, id byte, data []byte, err error) {
	if len(pkt) < 4 {
		return 0, 0, nil, fmt.Errorf("%s: %d octets, shorter than the 4-octet header: %w", what, len(pkt), ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(pkt[2:4]))
	if n < 4 {
		return 0, 0, nil, fmt.Errorf("%s: Length %d is below the 4-octet header: %w", what, n, ErrMalformed)
	}
	if n > len(pkt) {
		return 0, 0, nil, fmt.Errorf("%s: Length %d exceeds the %d octets received: %w", what, n, len(pkt), ErrMalformed)
	}
	return pkt[0], pkt[1], pkt[4:n], nil
}

// clip returns the first n bytes of s, or s itself if it is not longer.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
