package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Parse errors. Each names the rule of RFC 2408 it enforces.
var (
	ErrShort      = errors.New("ike: message too short")
	ErrVersion    = errors.New("ike: not ISAKMP version 1.0")               // RFC 2408 3.1
	ErrLength     = errors.New("ike: length field disagrees with the data") // RFC 2408 3.1, 3.2
	ErrPayload    = errors.New("ike: malformed payload")                    // RFC 2408 3.2
	ErrProposal   = errors.New("ike: malformed proposal")                   // RFC 2408 3.5, 3.6
	ErrAttribute  = errors.New("ike: malformed attribute")                  // RFC 2408 3.3
	ErrNotPadding = errors.New("ike: data after the last payload of a clear message")
)

// HeaderLen is the size of the ISAKMP header.
const HeaderLen = 28

// Header is a view of an ISAKMP header (RFC 2408 3.1).
type Header []byte

// Offsets in the ISAKMP header.
const (
	hdrICookie  = 0
	hdrRCookie  = 8
	hdrNext     = 16
	hdrVersion  = 17
	hdrExchange = 18
	hdrFlags    = 19
	hdrMsgID    = 20
	hdrLength   = 24
)

// ISAKMP version 1.0: major 1, minor 0.
const version10 = 0x10

func (h Header) ICookie() (c [8]byte)         { copy(c[:], h[hdrICookie:]); return }
func (h Header) RCookie() (c [8]byte)         { copy(c[:], h[hdrRCookie:]); return }
func (h Header) NextPayload() PayloadType     { return PayloadType(h[hdrNext]) }
func (h Header) Exchange() ExchangeType       { return ExchangeType(h[hdrExchange]) }
func (h Header) Flags() uint8                 { return h[hdrFlags] }
func (h Header) MessageID() uint32            { return binary.BigEndian.Uint32(h[hdrMsgID:]) }
func (h Header) Length() uint32               { return binary.BigEndian.Uint32(h[hdrLength:]) }
func (h Header) setLength(n int)              { binary.BigEndian.PutUint32(h[hdrLength:], uint32(n)) }
func (h Header) setNextPayload(t PayloadType) { h[hdrNext] = byte(t) }

// Header flags (RFC 2408 3.1).
const (
	FlagEncryption = 1
	FlagCommit     = 2
	FlagAuthOnly   = 4
)

// ExchangeType names an ISAKMP exchange (RFC 2408 3.1, RFC 2409 5).
type ExchangeType uint8

// Exchanges this initiator takes part in.
const (
	ExchangeMain          ExchangeType = 2 // Identity Protection
	ExchangeAggressive    ExchangeType = 4
	ExchangeInformational ExchangeType = 5
	ExchangeQuick         ExchangeType = 32
)

func (e ExchangeType) String() string {
	switch e {
	case ExchangeMain:
		return "Main Mode"
	case ExchangeAggressive:
		return "Aggressive Mode"
	case ExchangeInformational:
		return "Informational"
	case ExchangeQuick:
		return "Quick Mode"
	}
	return fmt.Sprintf("exchange %d", uint8(e))
}

// PayloadType is the Next Payload value of RFC 2408 3.1 and its
// extensions.
type PayloadType uint8

// Payload types.
const (
	PayloadNone       PayloadType = 0
	PayloadSA         PayloadType = 1
	PayloadProposal   PayloadType = 2
	PayloadTransform  PayloadType = 3
	PayloadKE         PayloadType = 4
	PayloadID         PayloadType = 5
	PayloadCert       PayloadType = 6
	PayloadCertReq    PayloadType = 7
	PayloadHash       PayloadType = 8
	PayloadSig        PayloadType = 9
	PayloadNonce      PayloadType = 10
	PayloadNotify     PayloadType = 11
	PayloadDelete     PayloadType = 12
	PayloadVendorID   PayloadType = 13
	PayloadNATD       PayloadType = 20  // RFC 3947
	PayloadNATOA      PayloadType = 21  // RFC 3947
	PayloadNATDDraft  PayloadType = 130 // draft-ietf-ipsec-nat-t-ike-02/03
	PayloadNATOADraft PayloadType = 131
)

var payloadNames = map[PayloadType]string{
	PayloadSA: "SA", PayloadProposal: "P", PayloadTransform: "T", PayloadKE: "KE",
	PayloadID: "ID", PayloadCert: "CERT", PayloadCertReq: "CR", PayloadHash: "HASH",
	PayloadSig: "SIG", PayloadNonce: "NONCE", PayloadNotify: "N", PayloadDelete: "D",
	PayloadVendorID: "VID", PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
	PayloadNATDDraft: "NAT-D(draft)", PayloadNATOADraft: "NAT-OA(draft)",
}

func (t PayloadType) String() string {
	if n, ok := payloadNames[t]; ok {
		return n
	}
	return fmt.Sprintf("payload-%d", uint8(t))
}

// Payload is one payload of a message: its type and its body, without the
// 4-byte generic payload header (RFC 2408 3.2).
type Payload struct {
	Type PayloadType
	Body []byte
}

// Message is a parsed or to-be-built ISAKMP message.
type Message struct {
	ICookie, RCookie [8]byte
	Exchange         ExchangeType
	Flags            uint8
	MessageID        uint32
	Payloads         []Payload
}

// Find returns the first payload of type t.
func (m *Message) Find(t PayloadType) (Payload, bool) {
	for _, p := range m.Payloads {
		if p.Type == t {
			return p, true
		}
	}
	return Payload{}, false
}

// All returns the payloads of type t.
func (m *Message) All(t PayloadType) []Payload {
	var ps []Payload
	for _, p := range m.Payloads {
		if p.Type == t {
			ps = append(ps, p)
		}
	}
	return ps
}

// Types lists the payload types in order, for traces.
func (m *Message) Types() string {
	s := ""
	for i, p := range m.Payloads {
		if i > 0 {
			s += ","
		}
		s += p.Type.String()
	}
	return s
}

// ParseHeader checks the fixed header of a datagram and returns it and
// the message body (still encrypted when FlagEncryption is set).
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) < HeaderLen {
		return nil, nil, ErrShort
	}
	h := Header(b[:HeaderLen])
	// RFC 2408 5.1: a major version we do not speak is rejected.
	if b[hdrVersion]>>4 != 1 {
		return nil, nil, ErrVersion
	}
	n := h.Length()
	// RFC 2408 3.1: Length is the whole message, header included. A
	// datagram longer than Length carries junk; a shorter one is cut.
	if n < HeaderLen || n > uint32(len(b)) {
		return nil, nil, fmt.Errorf("%w: header says %d bytes, datagram has %d", ErrLength, n, len(b))
	}
	return h, b[HeaderLen:n], nil
}

// ParsePayloads walks the payload chain starting with type first
// (RFC 2408 3.2). It returns the payloads and how many bytes followed the
// last one: after decryption that is padding (RFC 2408 3.1 allows it),
// in a clear message the caller should treat it as an error.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, int, error) {
	var ps []Payload
	next := first
	for next != PayloadNone {
		if len(b) < 4 {
			return nil, 0, fmt.Errorf("%w: %v payload header cut short", ErrPayload, next)
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n < 4 || n > len(b) {
			return nil, 0, fmt.Errorf("%w: %v payload length %d with %d bytes left", ErrPayload, next, n, len(b))
		}
		ps = append(ps, Payload{Type: next, Body: b[4:n]})
		next = PayloadType(b[0])
		b = b[n:]
		if len(ps) > 64 {
			return nil, 0, fmt.Errorf("%w: more than 64 payloads", ErrPayload)
		}
	}
	return ps, len(b), nil
}

// AppendPayloads appends ps with their generic headers, chained, and
// returns the type of the first (the header's Next Payload).
func AppendPayloads(dst []byte, ps []Payload) []byte {
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type
		}
		dst = append(dst, byte(next), 0)
		dst = binary.BigEndian.AppendUint16(dst, uint16(4+len(p.Body)))
		dst = append(dst, p.Body...)
	}
	return dst
}

// appendHeader appends a header for m with Next Payload first and a zero
// length, to be set by setLength.
func appendHeader(dst []byte, m *Message) []byte {
	dst = append(dst, m.ICookie[:]...)
	dst = append(dst, m.RCookie[:]...)
	first := PayloadNone
	if len(m.Payloads) > 0 {
		first = m.Payloads[0].Type
	}
	dst = append(dst, byte(first), version10, byte(m.Exchange), m.Flags)
	dst = binary.BigEndian.AppendUint32(dst, m.MessageID)
	return binary.BigEndian.AppendUint32(dst, 0)
}

// Marshal encodes m in the clear (FlagEncryption must not be set).
func (m *Message) Marshal() []byte {
	b := appendHeader(make([]byte, 0, 512), m)
	b = AppendPayloads(b, m.Payloads)
	Header(b).setLength(len(b))
	return b
}

// ParseClear parses an unencrypted message.
func ParseClear(b []byte) (*Message, error) {
	h, body, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Flags()&FlagEncryption != 0 {
		return nil, fmt.Errorf("ike: %v message is encrypted", h.Exchange())
	}
	ps, rest, err := ParsePayloads(h.NextPayload(), body)
	if err != nil {
		return nil, err
	}
	if rest != 0 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrNotPadding, rest)
	}
	return headerMessage(h, ps), nil
}

func headerMessage(h Header, ps []Payload) *Message {
	return &Message{
		ICookie: h.ICookie(), RCookie: h.RCookie(), Exchange: h.Exchange(),
		Flags: h.Flags(), MessageID: h.MessageID(), Payloads: ps,
	}
}
