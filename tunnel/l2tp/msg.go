package l2tp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

var (
	ErrMissingAVP     = errors.New("l2tp: missing mandatory AVP")         // wrapped with which AVP and message
	ErrBadAVP         = errors.New("l2tp: malformed AVP")                 // lengths, reserved bits (4.1), wrong value size
	ErrNoMessageType  = errors.New("l2tp: first AVP is not Message Type") // 4.4.1
	ErrHiddenNoSecret = errors.New("l2tp: hidden AVP but no tunnel secret")
)

// UnknownMandatoryError reports an unrecognised AVP with the M bit set (RFC
// 2661 4.1): the caller must end the session (CDN) or tunnel (StopCCN) with
// Result Code 2 and Error Code 8. An unknown message type whose Message Type
// AVP has the M bit set is reported with Type AVPMessageType: the tunnel
// must be cleared (4.4.1).
type UnknownMandatoryError struct {
	Msg    MsgType
	Vendor uint16
	Type   AVPType
}

func (e *UnknownMandatoryError) Error() string {
	if e.Vendor == 0 && e.Type == AVPMessageType {
		return fmt.Sprintf("l2tp: unknown message type %d with the M bit set (RFC 2661 4.4.1)", uint16(e.Msg))
	}
	if e.Vendor != 0 {
		return fmt.Sprintf("l2tp: unknown mandatory AVP vendor %d type %d in %v (RFC 2661 4.1)", e.Vendor, uint16(e.Type), e.Msg)
	}
	return fmt.Sprintf("l2tp: unknown mandatory AVP type %d in %v (RFC 2661 4.1)", uint16(e.Type), e.Msg)
}

// msgInfo describes a control message of RFC 2661 section 6.
type msgInfo struct {
	name      string
	section   string    // of RFC 2661
	mustExist []AVPType // besides Message Type
}

// msgTable is the per-message schema: the AVPs RFC 2661 section 6 lists as
// required for each message. Optional AVPs are not listed: anything known
// is accepted anywhere.
var msgTable = [...]msgInfo{
	MsgSCCRQ:   {"SCCRQ", "6.1", []AVPType{AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID}},
	MsgSCCRP:   {"SCCRP", "6.2", []AVPType{AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID}},
	MsgSCCCN:   {"SCCCN", "6.3", nil},
	MsgStopCCN: {"StopCCN", "6.4", []AVPType{AVPAssignedTunnelID, AVPResultCode}},
	MsgHello:   {"HELLO", "6.5", nil},
	MsgOCRQ: {"OCRQ", "6.9", []AVPType{AVPAssignedSessionID, AVPCallSerialNumber, AVPMinimumBPS, AVPMaximumBPS,
		AVPBearerType, AVPFramingType, AVPCalledNumber}},
	MsgOCRP: {"OCRP", "6.10", []AVPType{AVPAssignedSessionID}},
	MsgOCCN: {"OCCN", "6.11", []AVPType{AVPTxConnectSpeed, AVPFramingType}},
	MsgICRQ: {"ICRQ", "6.6", []AVPType{AVPAssignedSessionID, AVPCallSerialNumber}},
	MsgICRP: {"ICRP", "6.7", []AVPType{AVPAssignedSessionID}},
	MsgICCN: {"ICCN", "6.8", []AVPType{AVPTxConnectSpeed, AVPFramingType}},
	MsgCDN:  {"CDN", "6.12", []AVPType{AVPResultCode, AVPAssignedSessionID}},
	MsgWEN:  {"WEN", "6.13", []AVPType{AVPCallErrors}},
	MsgSLI:  {"SLI", "6.14", []AVPType{AVPACCM}},
}

// Message is a parsed control message. A zero-length body (ZLB), a control
// frame with no AVPs at all, is represented by a nil *Message.
type Message struct {
	Type MsgType
	AVPs []AVP // excluding the Message Type AVP; in wire order
}

// ParseMessage parses the AVPs of a control message payload (after the
// header). secret may be nil; hidden AVPs are decrypted with it and the most
// recent Random Vector AVP (4.3). ParseMessage returns (nil, nil) for an
// empty payload (ZLB).
//
// Values of AVPs that were not hidden are slices of payload, which must not
// be reused while the Message is in use. Random Vector AVPs are kept in
// AVPs, where AppendTo reuses them for the hidden AVPs that follow.
//
// Unknown AVPs without the M bit, vendor-specific or IETF, are kept and
// otherwise ignored. When the whole message is well formed but holds an
// unknown AVP with the M bit, the error is an *UnknownMandatoryError and the
// message parsed so far is returned with it, for the reply. An unknown
// message type without the M bit is returned without checks beyond the AVP
// format, whatever AVPs it holds; the caller may ignore it (4.4.1).
func ParseMessage(payload, secret []byte) (*Message, error) {
	if len(payload) == 0 {
		return nil, nil
	}
	m := &Message{}
	var (
		rv      []byte
		unknown *UnknownMandatoryError
		first   = true
	)
	for b := payload; len(b) > 0; {
		if len(b) < avpHeaderLen {
			return nil, fmt.Errorf("%w: %d trailing octets, shorter than an AVP header (RFC 2661 4.1)", ErrBadAVP, len(b))
		}
		w := binary.BigEndian.Uint16(b)
		if w&avpReserved != 0 {
			return nil, fmt.Errorf("%w: reserved bits set in AVP header %#04x (RFC 2661 4.1)", ErrBadAVP, w)
		}
		n := int(w & avpLengthMask)
		if n < avpHeaderLen || n > len(b) {
			return nil, fmt.Errorf("%w: AVP length %d with %d octets left (RFC 2661 4.1)", ErrBadAVP, n, len(b))
		}
		a := AVP{
			Mandatory: w&avpFlagM != 0,
			Hidden:    w&avpFlagH != 0,
			Vendor:    binary.BigEndian.Uint16(b[2:]),
			Type:      AVPType(binary.BigEndian.Uint16(b[4:])),
			Value:     b[avpHeaderLen:n:n],
		}
		// Whatever the AVP, known or not, its Length says where the next
		// one starts.
		b = b[n:]

		isMsgType := first
		if first {
			// 4.4.1: the Message Type AVP MUST be the first AVP.
			if a.Vendor != 0 || a.Type != AVPMessageType {
				return nil, ErrNoMessageType
			}
			first = false
		}
		in := lookupAVP(a.Vendor, a.Type)
		if a.Hidden {
			if in != nil && !in.hideable {
				return nil, fmt.Errorf("%w: %s must not be hidden (RFC 2661 4.4)", ErrBadAVP, in.name)
			}
			if len(secret) == 0 {
				return nil, ErrHiddenNoSecret
			}
			v, err := unhideValue(a.Type, a.Value, secret, rv)
			if err != nil {
				return nil, err
			}
			a.Value = v
		}
		if in != nil {
			if err := in.check(a.Value); err != nil {
				return nil, err
			}
		} else if a.Mandatory && unknown == nil {
			unknown = &UnknownMandatoryError{Vendor: a.Vendor, Type: a.Type}
		}
		if isMsgType {
			m.Type = MsgType(binary.BigEndian.Uint16(a.Value))
			if !m.Type.known() && a.Mandatory {
				unknown = &UnknownMandatoryError{Type: AVPMessageType}
			}
			continue
		}
		if a.Vendor == 0 && a.Type == AVPRandomVector {
			rv = a.Value
		}
		m.AVPs = append(m.AVPs, a)
	}
	if unknown != nil && !m.Type.known() && unknown.Type != AVPMessageType {
		// 4.4.1: a message of unknown type without the M bit may be
		// ignored as a whole, unknown mandatory AVPs and all.
		unknown = nil
	}
	if unknown != nil {
		unknown.Msg = m.Type
		return m, unknown
	}
	if m.Type.known() {
		mi := &msgTable[m.Type]
		var missing []string
		for _, t := range mi.mustExist {
			if _, ok := m.Get(t); !ok {
				missing = append(missing, t.String())
			}
		}
		if missing != nil {
			return nil, fmt.Errorf("%w: %s without %s (RFC 2661 %s)", ErrMissingAVP, mi.name, strings.Join(missing, ", "), mi.section)
		}
	}
	return m, nil
}

// Get returns the first IETF AVP of type t.
func (m *Message) Get(t AVPType) (AVP, bool) {
	for _, a := range m.AVPs {
		if a.Vendor == 0 && a.Type == t {
			return a, true
		}
	}
	return AVP{}, false
}

// Uint16 returns the value of the first IETF AVP of type t if it has 2 octets.
func (m *Message) Uint16(t AVPType) (uint16, bool) {
	a, ok := m.Get(t)
	if !ok || len(a.Value) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(a.Value), true
}

// Uint32 returns the value of the first IETF AVP of type t if it has 4 octets.
func (m *Message) Uint32(t AVPType) (uint32, bool) {
	a, ok := m.Get(t)
	if !ok || len(a.Value) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(a.Value), true
}

// Bytes returns the value of the first IETF AVP of type t.
func (m *Message) Bytes(t AVPType) ([]byte, bool) {
	a, ok := m.Get(t)
	return a.Value, ok
}

// Add appends a to the message's AVPs.
func (m *Message) Add(a AVP) { m.AVPs = append(m.AVPs, a) }

// ResultCode decodes a Result Code AVP (4.4.2): result, error code (if
// present), message (if present).
func (m *Message) ResultCode() (result, errCode uint16, msg string, ok bool) {
	v, ok := m.Bytes(AVPResultCode)
	if !ok || len(v) < 2 {
		return 0, 0, "", false
	}
	result = binary.BigEndian.Uint16(v)
	if len(v) >= 4 {
		errCode = binary.BigEndian.Uint16(v[2:])
		msg = string(v[4:])
	}
	return result, errCode, msg, true
}

// AppendTo appends the message's AVPs (Message Type first, then AVPs in
// order) to b. AVPs with Hidden set are encrypted with secret; a fresh
// Random Vector AVP (16 random bytes from rnd) is inserted before the first
// hidden one (4.3), unless a Random Vector AVP of the message precedes it.
// rnd nil means crypto/rand. It is an error to set Hidden on an AVP the
// table forbids hiding, or without a secret; IETF AVPs must have values of
// the size RFC 2661 gives. On error b is returned unchanged in length.
func (m *Message) AppendTo(b, secret []byte, rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	start := len(b)
	fail := func(err error) ([]byte, error) { return b[:start], err }
	// 4.4.1: the M bit MUST be set for all message types of RFC 2661; an
	// unknown type (only ever re-encoded, never originated) goes without.
	b = appendAVP(b, m.Type.known(), false, 0, AVPMessageType, binary.BigEndian.AppendUint16(nil, uint16(m.Type)))
	var rv []byte
	for _, a := range m.AVPs {
		in := lookupAVP(a.Vendor, a.Type)
		if in != nil {
			if err := in.check(a.Value); err != nil {
				return fail(err)
			}
		}
		if len(a.Value) > avpMaxValueLen {
			return fail(fmt.Errorf("%w: %v value of %d octets too long (RFC 2661 4.1)", ErrBadAVP, a.Type, len(a.Value)))
		}
		if !a.Hidden {
			if a.Vendor == 0 && a.Type == AVPRandomVector {
				rv = a.Value
			}
			b = appendAVP(b, a.Mandatory, false, a.Vendor, a.Type, a.Value)
			continue
		}
		if in != nil && !in.hideable {
			return fail(fmt.Errorf("%w: %s must not be hidden (RFC 2661 4.4)", ErrBadAVP, in.name))
		}
		if len(secret) == 0 {
			return fail(ErrHiddenNoSecret)
		}
		if rv == nil {
			rv = make([]byte, 16)
			if _, err := io.ReadFull(rnd, rv); err != nil {
				return fail(fmt.Errorf("l2tp: random vector: %w", err))
			}
			b = appendAVP(b, true, false, 0, AVPRandomVector, rv)
		}
		hv, err := hideValue(a.Type, a.Value, secret, rv, rnd)
		if err != nil {
			return fail(err)
		}
		b = appendAVP(b, a.Mandatory, true, a.Vendor, a.Type, hv)
	}
	return b, nil
}

// String formats the message for protocol traces: "SCCRP
// AssignedTunnelID=1 ...", or "ZLB" for a nil message.
func (m *Message) String() string {
	if m == nil {
		return "ZLB"
	}
	var sb strings.Builder
	sb.WriteString(m.Type.String())
	for _, a := range m.AVPs {
		sb.WriteByte(' ')
		sb.WriteString(a.String())
	}
	return sb.String()
}
