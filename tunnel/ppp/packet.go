package ppp

import (
	"encoding/binary"
	"fmt"
)

// Protocol is a PPP protocol number (RFC 1661 section 2, IANA "PPP DLL
// Protocol Numbers").
type Protocol uint16

// Protocol numbers this package speaks or names in traces.
const (
	ProtoIPv4   Protocol = 0x0021
	ProtoIPv6   Protocol = 0x0057
	ProtoIPCP   Protocol = 0x8021
	ProtoCCP    Protocol = 0x80fd
	ProtoIPv6CP Protocol = 0x8057
	ProtoLCP    Protocol = 0xc021
	ProtoPAP    Protocol = 0xc023
	ProtoCHAP   Protocol = 0xc223
	ProtoEAP    Protocol = 0xc227
)

func (p Protocol) String() string {
	switch p {
	case ProtoIPv4:
		return "IPv4"
	case ProtoIPv6:
		return "IPv6"
	case ProtoIPCP:
		return "IPCP"
	case ProtoCCP:
		return "CCP"
	case ProtoIPv6CP:
		return "IPv6CP"
	case ProtoLCP:
		return "LCP"
	case ProtoPAP:
		return "PAP"
	case ProtoCHAP:
		return "CHAP"
	case ProtoEAP:
		return "EAP"
	}
	return fmt.Sprintf("Protocol(0x%04x)", uint16(p))
}

// FrameHeaderLen is the size of the header this package writes in front
// of every PPP frame: the HDLC-like Address and Control fields (0xff 0x03,
// RFC 1662 section 3.1, kept inside L2TP by RFC 2661 section 3.1 unless
// ACFC is negotiated, which we never request) and the two-byte protocol.
const FrameHeaderLen = 4

// PutFrameHeader writes the 4-byte frame header for proto at b[0:4].
func PutFrameHeader(b []byte, proto Protocol) {
	_ = b[3]
	b[0] = 0xff
	b[1] = 0x03
	b[2] = byte(proto >> 8)
	b[3] = byte(proto)
}

// ParseFrame splits a received PPP frame into its protocol and payload. It
// accepts frames with or without the Address and Control fields and with a
// compressed one-byte protocol field (RFC 1661 section 6.5: a protocol
// number whose first octet is odd). It does not allocate.
func ParseFrame(b []byte) (Protocol, []byte, error) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) == 0 {
		return 0, nil, ErrMalformed
	}
	if b[0]&1 == 1 { // compressed protocol field
		return Protocol(b[0]), b[1:], nil
	}
	if len(b) < 2 || b[1]&1 == 0 { // RFC 1661 2: the least significant octet is odd
		return 0, nil, ErrMalformed
	}
	return Protocol(binary.BigEndian.Uint16(b)), b[2:], nil
}

// Code is the Code field of an LCP-like control packet (RFC 1661 section 5).
type Code uint8

// Control packet codes (RFC 1661 section 5).
const (
	CodeConfReq   Code = 1
	CodeConfAck   Code = 2
	CodeConfNak   Code = 3
	CodeConfRej   Code = 4
	CodeTermReq   Code = 5
	CodeTermAck   Code = 6
	CodeCodeRej   Code = 7
	CodeProtoRej  Code = 8
	CodeEchoReq   Code = 9
	CodeEchoReply Code = 10
	CodeDiscard   Code = 11
)

var codeNames = [...]string{"", "Configure-Request", "Configure-Ack", "Configure-Nak",
	"Configure-Reject", "Terminate-Request", "Terminate-Ack", "Code-Reject",
	"Protocol-Reject", "Echo-Request", "Echo-Reply", "Discard-Request"}

func (c Code) String() string {
	if int(c) < len(codeNames) && c != 0 {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// ParseCP parses a control packet (Code, Identifier, Length, Data; RFC
// 1661 section 5). Octets beyond Length are padding and ignored; a Length
// beyond the packet is an error (section 5: "silently discarded").
func ParseCP(b []byte) (code Code, id byte, data []byte, err error) {
	if len(b) < 4 {
		return 0, 0, nil, fmt.Errorf("control packet of %d bytes: %w", len(b), ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 4 || n > len(b) {
		return 0, 0, nil, fmt.Errorf("control packet length %d of %d bytes: %w", n, len(b), ErrMalformed)
	}
	return Code(b[0]), b[1], b[4:n], nil
}

// AppendCP appends a control packet with the given code, identifier and data.
func AppendCP(b []byte, code Code, id byte, data []byte) []byte {
	n := 4 + len(data)
	b = append(b, byte(code), id, byte(n>>8), byte(n))
	return append(b, data...)
}

// Option is one configuration option (RFC 1661 section 6): Type, Length, Data.
type Option struct {
	Type byte
	Data []byte
}

// ParseOptions splits the Data of a Configure-* packet into options. Each
// option's Length must be at least 2 and inside the packet (RFC 1661 6).
// The returned Data slices alias b.
func ParseOptions(b []byte) ([]Option, error) {
	var opts []Option
	for len(b) > 0 {
		if len(b) < 2 || b[1] < 2 || int(b[1]) > len(b) {
			return nil, fmt.Errorf("option list: %w", ErrMalformed)
		}
		opts = append(opts, Option{Type: b[0], Data: b[2:b[1]]})
		b = b[b[1]:]
	}
	return opts, nil
}

// AppendOption appends one option in wire form.
func AppendOption(b []byte, typ byte, data []byte) []byte {
	b = append(b, typ, byte(2+len(data)))
	return append(b, data...)
}
