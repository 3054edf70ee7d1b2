package l2tp

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The AVP header (RFC 2661 section 4.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|M|H| rsvd  |      Length       |           Vendor ID           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Attribute Type        |        Attribute Value...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	avpHeaderLen   = 6
	avpMaxLen      = 0x03ff // 10-bit Length field
	avpMaxValueLen = avpMaxLen - avpHeaderLen
	avpFlagM       = 0x8000
	avpFlagH       = 0x4000
	avpReserved    = 0x3c00
	avpLengthMask  = 0x03ff
)

// MsgType is the value of the Message Type AVP (RFC 2661 section 3.2).
type MsgType uint16

// Control message types (RFC 2661 section 3.2).
const (
	MsgSCCRQ   MsgType = 1
	MsgSCCRP   MsgType = 2
	MsgSCCCN   MsgType = 3
	MsgStopCCN MsgType = 4
	MsgHello   MsgType = 6
	MsgOCRQ    MsgType = 7
	MsgOCRP    MsgType = 8
	MsgOCCN    MsgType = 9
	MsgICRQ    MsgType = 10
	MsgICRP    MsgType = 11
	MsgICCN    MsgType = 12
	MsgCDN     MsgType = 14
	MsgWEN     MsgType = 15
	MsgSLI     MsgType = 16
)

func (t MsgType) String() string {
	if int(t) < len(msgTable) && msgTable[t].name != "" {
		return msgTable[t].name
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

func (t MsgType) known() bool { return int(t) < len(msgTable) && msgTable[t].name != "" }

// AVPType is an IETF attribute type (RFC 2661 section 4.4).
type AVPType uint16

// Attribute types of RFC 2661 section 4.4. Type 20 is unassigned.
const (
	AVPMessageType           AVPType = 0
	AVPResultCode            AVPType = 1
	AVPProtocolVersion       AVPType = 2
	AVPFramingCapabilities   AVPType = 3
	AVPBearerCapabilities    AVPType = 4
	AVPTieBreaker            AVPType = 5
	AVPFirmwareRevision      AVPType = 6
	AVPHostName              AVPType = 7
	AVPVendorName            AVPType = 8
	AVPAssignedTunnelID      AVPType = 9
	AVPReceiveWindowSize     AVPType = 10
	AVPChallenge             AVPType = 11
	AVPQ931CauseCode         AVPType = 12
	AVPChallengeResponse     AVPType = 13
	AVPAssignedSessionID     AVPType = 14
	AVPCallSerialNumber      AVPType = 15
	AVPMinimumBPS            AVPType = 16
	AVPMaximumBPS            AVPType = 17
	AVPBearerType            AVPType = 18
	AVPFramingType           AVPType = 19
	AVPCalledNumber          AVPType = 21
	AVPCallingNumber         AVPType = 22
	AVPSubAddress            AVPType = 23
	AVPTxConnectSpeed        AVPType = 24
	AVPPhysicalChannelID     AVPType = 25
	AVPInitialRecvLCPConfReq AVPType = 26
	AVPLastSentLCPConfReq    AVPType = 27
	AVPLastRecvLCPConfReq    AVPType = 28
	AVPProxyAuthenType       AVPType = 29
	AVPProxyAuthenName       AVPType = 30
	AVPProxyAuthenChallenge  AVPType = 31
	AVPProxyAuthenID         AVPType = 32
	AVPProxyAuthenResponse   AVPType = 33
	AVPCallErrors            AVPType = 34
	AVPACCM                  AVPType = 35
	AVPRandomVector          AVPType = 36
	AVPPrivateGroupID        AVPType = 37
	AVPRxConnectSpeed        AVPType = 38
	AVPSequencingRequired    AVPType = 39
)

func (t AVPType) String() string {
	if in := lookupAVP(0, t); in != nil {
		return in.name
	}
	return "AVPType(" + strconv.Itoa(int(t)) + ")"
}

// avpKind says how a value is laid out, for checks and traces.
type avpKind uint8

const (
	kindBytes      avpKind = iota // opaque, printed in hex
	kindSecret                    // opaque, only its length is printed
	kindUint16                    // 2 octets
	kindUint32                    // 4 octets
	kindBits32                    // 4-octet bit mask, printed in hex
	kindUint64                    // 8 octets (Tie Breaker), printed in hex
	kindString                    // text
	kindEmpty                     // no value
	kindMsgType                   // 4.4.1
	kindResultCode                // 4.4.2: result, [error, [message]]
	kindVersion                   // 4.4.3: version, revision octets
	kindQ931                      // 4.4.4: cause code, msg code, [advisory]
	kindCallErrors                // 4.4.6: reserved + six counters
	kindACCM                      // 4.4.6: reserved + send, receive ACCM
)

// avpInfo describes one IETF attribute of RFC 2661 section 4.4.
type avpInfo struct {
	name      string
	kind      avpKind
	min, max  int  // bounds of the value length
	mandatory bool // the M bit the RFC requires of a sender
	hideable  bool // whether the H bit may be set
}

// avpTable is the one description of every RFC 2661 AVP: parsing, encoding,
// constructors and traces all read it. Each row follows its subsection of
// 4.4 for the length, "The M bit for this AVP MUST be set to ..." and
// "This AVP MAY/MUST NOT be hidden".
var avpTable = [...]avpInfo{
	AVPMessageType:           {"MessageType", kindMsgType, 2, 2, true, false},                      // 4.4.1
	AVPRandomVector:          {"RandomVector", kindSecret, 1, avpMaxValueLen, true, false},         // 4.4.1
	AVPResultCode:            {"ResultCode", kindResultCode, 2, avpMaxValueLen, true, false},       // 4.4.2
	AVPProtocolVersion:       {"ProtocolVersion", kindVersion, 2, 2, true, false},                  // 4.4.3
	AVPFramingCapabilities:   {"FramingCapabilities", kindBits32, 4, 4, true, true},                // 4.4.3
	AVPBearerCapabilities:    {"BearerCapabilities", kindBits32, 4, 4, true, true},                 // 4.4.3
	AVPTieBreaker:            {"TieBreaker", kindUint64, 8, 8, false, false},                       // 4.4.3
	AVPFirmwareRevision:      {"FirmwareRevision", kindUint16, 2, 2, false, true},                  // 4.4.3
	AVPHostName:              {"HostName", kindString, 1, avpMaxValueLen, true, false},             // 4.4.3
	AVPVendorName:            {"VendorName", kindString, 0, avpMaxValueLen, false, true},           // 4.4.3
	AVPAssignedTunnelID:      {"AssignedTunnelID", kindUint16, 2, 2, true, true},                   // 4.4.3
	AVPReceiveWindowSize:     {"ReceiveWindowSize", kindUint16, 2, 2, true, false},                 // 4.4.3
	AVPChallenge:             {"Challenge", kindSecret, 1, avpMaxValueLen, true, true},             // 4.4.3
	AVPChallengeResponse:     {"ChallengeResponse", kindSecret, 16, 16, true, true},                // 4.4.3
	AVPQ931CauseCode:         {"Q931CauseCode", kindQ931, 3, avpMaxValueLen, true, false},          // 4.4.4
	AVPAssignedSessionID:     {"AssignedSessionID", kindUint16, 2, 2, true, true},                  // 4.4.4
	AVPCallSerialNumber:      {"CallSerialNumber", kindUint32, 4, 4, true, true},                   // 4.4.4
	AVPMinimumBPS:            {"MinimumBPS", kindUint32, 4, 4, true, true},                         // 4.4.4
	AVPMaximumBPS:            {"MaximumBPS", kindUint32, 4, 4, true, true},                         // 4.4.4
	AVPBearerType:            {"BearerType", kindBits32, 4, 4, true, true},                         // 4.4.4
	AVPFramingType:           {"FramingType", kindBits32, 4, 4, true, true},                        // 4.4.4
	AVPCalledNumber:          {"CalledNumber", kindString, 0, avpMaxValueLen, true, true},          // 4.4.4
	AVPCallingNumber:         {"CallingNumber", kindString, 0, avpMaxValueLen, true, true},         // 4.4.4
	AVPSubAddress:            {"SubAddress", kindString, 0, avpMaxValueLen, true, true},            // 4.4.4
	AVPTxConnectSpeed:        {"TxConnectSpeed", kindUint32, 4, 4, true, true},                     // 4.4.4
	AVPRxConnectSpeed:        {"RxConnectSpeed", kindUint32, 4, 4, false, true},                    // 4.4.4
	AVPPhysicalChannelID:     {"PhysicalChannelID", kindUint32, 4, 4, false, true},                 // 4.4.4
	AVPPrivateGroupID:        {"PrivateGroupID", kindBytes, 0, avpMaxValueLen, false, true},        // 4.4.4
	AVPSequencingRequired:    {"SequencingRequired", kindEmpty, 0, 0, true, false},                 // 4.4.4
	AVPInitialRecvLCPConfReq: {"InitialRecvLCPConfReq", kindBytes, 0, avpMaxValueLen, false, true}, // 4.4.5
	AVPLastSentLCPConfReq:    {"LastSentLCPConfReq", kindBytes, 0, avpMaxValueLen, false, true},    // 4.4.5
	AVPLastRecvLCPConfReq:    {"LastRecvLCPConfReq", kindBytes, 0, avpMaxValueLen, false, true},    // 4.4.5
	AVPProxyAuthenType:       {"ProxyAuthenType", kindUint16, 2, 2, false, true},                   // 4.4.5
	AVPProxyAuthenName:       {"ProxyAuthenName", kindString, 0, avpMaxValueLen, false, true},      // 4.4.5
	AVPProxyAuthenChallenge:  {"ProxyAuthenChallenge", kindSecret, 0, avpMaxValueLen, false, true}, // 4.4.5
	AVPProxyAuthenID:         {"ProxyAuthenID", kindUint16, 2, 2, false, true},                     // 4.4.5
	AVPProxyAuthenResponse:   {"ProxyAuthenResponse", kindSecret, 0, avpMaxValueLen, false, true},  // 4.4.5
	AVPCallErrors:            {"CallErrors", kindCallErrors, 26, 26, true, true},                   // 4.4.6
	AVPACCM:                  {"ACCM", kindACCM, 10, 10, true, true},                               // 4.4.6
}

// lookupAVP returns the table row of an IETF attribute, or nil for vendor
// attributes and unassigned types.
func lookupAVP(vendor uint16, t AVPType) *avpInfo {
	if vendor != 0 || int(t) >= len(avpTable) || avpTable[t].name == "" {
		return nil
	}
	return &avpTable[t]
}

// check validates the length of a value against the table.
func (in *avpInfo) check(v []byte) error {
	if len(v) < in.min || len(v) > in.max {
		if in.min == in.max {
			return fmt.Errorf("%w: %s value is %d octets, want %d (RFC 2661 4.4)", ErrBadAVP, in.name, len(v), in.min)
		}
		return fmt.Errorf("%w: %s value is %d octets, want %d..%d (RFC 2661 4.4)", ErrBadAVP, in.name, len(v), in.min, in.max)
	}
	// 4.4.2: the Error Code is present or absent as a whole.
	if in.kind == kindResultCode && len(v) == 3 {
		return fmt.Errorf("%w: ResultCode value is 3 octets (RFC 2661 4.4.2)", ErrBadAVP)
	}
	return nil
}

// AVP is one attribute-value pair of a control message.
type AVP struct {
	Mandatory bool
	Hidden    bool   // received hidden (already decrypted in Value), or to be hidden on encode
	Vendor    uint16 // 0 = IETF
	Type      AVPType
	Value     []byte // on parse: a slice into the input, or into a decrypted copy for hidden AVPs
}

func defaultMandatory(t AVPType) bool {
	if in := lookupAVP(0, t); in != nil {
		return in.mandatory
	}
	return false
}

// AVPUint16 returns an IETF AVP with a 2-octet value, its M bit as RFC 2661
// requires of the type.
func AVPUint16(t AVPType, v uint16) AVP {
	return AVP{Mandatory: defaultMandatory(t), Type: t, Value: binary.BigEndian.AppendUint16(nil, v)}
}

// AVPUint32 returns an IETF AVP with a 4-octet value, its M bit as RFC 2661
// requires of the type.
func AVPUint32(t AVPType, v uint32) AVP {
	return AVP{Mandatory: defaultMandatory(t), Type: t, Value: binary.BigEndian.AppendUint32(nil, v)}
}

// AVPBytes returns an IETF AVP holding a copy of b, its M bit as RFC 2661
// requires of the type.
func AVPBytes(t AVPType, b []byte) AVP {
	return AVP{Mandatory: defaultMandatory(t), Type: t, Value: append([]byte{}, b...)}
}

// AVPString returns an IETF AVP holding s, its M bit as RFC 2661 requires of
// the type.
func AVPString(t AVPType, s string) AVP {
	return AVP{Mandatory: defaultMandatory(t), Type: t, Value: []byte(s)}
}

// ResultCodeAVP returns a Result Code AVP (RFC 2661 4.4.2). The Error Code is
// included when errCode or msg is non-zero, the message when non-empty.
//
// (It cannot be called AVPResultCode: that is the attribute type.)
func ResultCodeAVP(result, errCode uint16, msg string) AVP {
	v := binary.BigEndian.AppendUint16(nil, result)
	if errCode != 0 || msg != "" {
		v = binary.BigEndian.AppendUint16(v, errCode)
		v = append(v, msg...)
	}
	return AVP{Mandatory: true, Type: AVPResultCode, Value: v}
}

// appendAVP appends the wire form of an AVP whose value is already final
// (hidden or not). The caller has checked len(value) <= avpMaxValueLen.
func appendAVP(b []byte, mandatory, hidden bool, vendor uint16, t AVPType, value []byte) []byte {
	w := uint16(avpHeaderLen + len(value))
	if mandatory {
		w |= avpFlagM
	}
	if hidden {
		w |= avpFlagH
	}
	b = binary.BigEndian.AppendUint16(b, w)
	b = binary.BigEndian.AppendUint16(b, vendor)
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	return append(b, value...)
}

// String decodes the AVP for protocol traces, e.g. AssignedTunnelID=4711,
// HostName="vpn", ResultCode=2/6 "msg". Secrets (Challenge, Challenge
// Response, Random Vector, proxy authentication data) are shown by length
// only: traces end up in bug reports.
func (a AVP) String() string {
	var sb strings.Builder
	in := lookupAVP(a.Vendor, a.Type)
	if in != nil {
		sb.WriteString(in.name)
	} else if a.Vendor != 0 {
		fmt.Fprintf(&sb, "Vendor%d:%d", a.Vendor, a.Type)
	} else {
		sb.WriteString(a.Type.String())
	}
	if a.Hidden || (in == nil && a.Mandatory) {
		sb.WriteByte('(')
		if in == nil && a.Mandatory {
			sb.WriteByte('M')
		}
		if a.Hidden {
			sb.WriteByte('H')
		}
		sb.WriteByte(')')
	}
	kind := kindBytes
	if in != nil {
		kind = in.kind
		if in.check(a.Value) != nil {
			fmt.Fprintf(&sb, "=<bad length %d>", len(a.Value))
			return sb.String()
		}
	}
	if kind == kindEmpty {
		return sb.String()
	}
	sb.WriteByte('=')
	v := a.Value
	be := binary.BigEndian
	switch kind {
	case kindSecret:
		fmt.Fprintf(&sb, "<%d bytes>", len(v))
	case kindUint16:
		sb.WriteString(strconv.Itoa(int(be.Uint16(v))))
	case kindUint32:
		sb.WriteString(strconv.FormatUint(uint64(be.Uint32(v)), 10))
	case kindBits32:
		fmt.Fprintf(&sb, "%#x", be.Uint32(v))
	case kindUint64:
		fmt.Fprintf(&sb, "%#016x", be.Uint64(v))
	case kindString:
		sb.WriteString(strconv.Quote(string(v)))
	case kindMsgType:
		sb.WriteString(MsgType(be.Uint16(v)).String())
	case kindResultCode:
		sb.WriteString(strconv.Itoa(int(be.Uint16(v))))
		if len(v) >= 4 {
			fmt.Fprintf(&sb, "/%d", be.Uint16(v[2:]))
		}
		if len(v) > 4 {
			sb.WriteByte(' ')
			sb.WriteString(strconv.Quote(string(v[4:])))
		}
	case kindVersion:
		fmt.Fprintf(&sb, "%d.%d", v[0], v[1])
	case kindQ931:
		fmt.Fprintf(&sb, "%d/%d", be.Uint16(v), v[2])
		if len(v) > 3 {
			sb.WriteByte(' ')
			sb.WriteString(strconv.Quote(string(v[3:])))
		}
	case kindCallErrors:
		fmt.Fprintf(&sb, "crc:%d framing:%d overrun:%d buffer:%d timeout:%d alignment:%d",
			be.Uint32(v[2:]), be.Uint32(v[6:]), be.Uint32(v[10:]),
			be.Uint32(v[14:]), be.Uint32(v[18:]), be.Uint32(v[22:]))
	case kindACCM:
		fmt.Fprintf(&sb, "send:%#08x recv:%#08x", be.Uint32(v[2:]), be.Uint32(v[6:]))
	default:
		const maxHex = 32
		if len(v) > maxHex {
			fmt.Fprintf(&sb, "%x...(%d bytes)", v[:maxHex], len(v))
		} else {
			sb.WriteString(hex.EncodeToString(v))
		}
	}
	return sb.String()
}
