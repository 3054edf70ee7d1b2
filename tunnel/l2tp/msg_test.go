package l2tp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// controlVectors are whole control frames as a peer sends them. To add a
// captured frame, paste its UDP payload as one more row; want is the
// Message.String() trace of what it must parse to.
var controlVectors = []struct {
	name   string
	frame  string
	secret string
	tunnel uint16 // header Tunnel ID
	want   string
}{
	{
		// Hand-assembled in the shape SoftEther's SCCRP has: capabilities,
		// Host Name, Vendor Name, Assigned Tunnel ID, window 16.
		name: "SCCRP, SoftEther shape",
		frame: `c802 006a 4711 0000 0000 0001
			8008 0000 0000 0002
			8008 0000 0002 0100
			800a 0000 0003 00000003
			800a 0000 0004 00000000
			800f 0000 0007 76706e736572766572
			001b 0000 0008 536f66744574686572 20 436f72706f726174696f6e
			8008 0000 0009 3039
			8008 0000 000a 0010`,
		tunnel: 0x4711,
		want: `SCCRP ProtocolVersion=1.0 FramingCapabilities=0x3 BearerCapabilities=0x0 HostName="vpnserver" ` +
			`VendorName="SoftEther Corporation" AssignedTunnelID=12345 ReceiveWindowSize=16`,
	},
	{
		// The hidden value is the one worked out in TestHideValueVectors.
		name: "SCCRP with hidden Assigned Tunnel ID",
		frame: `c802 005b 4711 0000 0000 0001
			8008 0000 0000 0002
			8008 0000 0002 0100
			800a 0000 0003 00000001
			8009 0000 0007 76706e
			8016 0000 0024 000102030405060708090a0b0c0d0e0f
			c016 0000 0009 be6a0fa0dfe444d9cd76415abc1af578`,
		secret: "secret",
		tunnel: 0x4711,
		want:   `SCCRP ProtocolVersion=1.0 FramingCapabilities=0x1 HostName="vpn" RandomVector=<16 bytes> AssignedTunnelID(H)=4711`,
	},
	{
		name:   "HELLO",
		frame:  "c802 0014 4711 0000 0002 0002 8008 0000 0000 0006",
		tunnel: 0x4711,
		want:   "HELLO",
	},
	{
		name:   "ZLB",
		frame:  "c802 000c 4711 0000 0003 0002",
		tunnel: 0x4711,
		want:   "ZLB",
	},
	{
		name:   "ICRP",
		frame:  "c802 001c 4711 0005 0001 0002 8008 0000 0000 000b 8008 0000 000e 0099",
		tunnel: 0x4711,
		want:   "ICRP AssignedSessionID=153",
	},
	{
		name:   "CDN with error and message",
		frame:  "c802 0027 4711 0005 0004 0003 8008 0000 0000 000e 800b 0000 0001 0002 0006 78 8008 0000 000e 0099",
		tunnel: 0x4711,
		want:   `CDN ResultCode=2/6 "x" AssignedSessionID=153`,
	},
	{
		name:   "StopCCN",
		frame:  "c802 0026 4711 0000 0005 0004 8008 0000 0000 0004 8008 0000 0009 3039 800a 0000 0001 0001 0000",
		tunnel: 0x4711,
		want:   "StopCCN AssignedTunnelID=12345 ResultCode=1/0",
	},
}

func TestControlVectors(t *testing.T) {
	for _, tt := range controlVectors {
		t.Run(tt.name, func(t *testing.T) {
			frame := mustHex(t, tt.frame)
			h, off, end, err := ParseHeader(frame)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if !h.Control || h.TunnelID != tt.tunnel || end != len(frame) {
				t.Fatalf("header %+v end %d of %d", h, end, len(frame))
			}
			var secret []byte
			if tt.secret != "" {
				secret = []byte(tt.secret)
			}
			m, err := ParseMessage(frame[off:end], secret)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if got := m.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if m == nil {
				return
			}
			// Encode again: AVPs that were not hidden come out byte for
			// byte as they came in.
			out, err := m.AppendTo(nil, secret, zeros{})
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if tt.secret == "" && !bytes.Equal(out, frame[off:end]) {
				t.Errorf("re-encoded % x\nwant         % x", out, frame[off:end])
			}
			m2, err := ParseMessage(out, secret)
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if m2.String() != tt.want {
				t.Errorf("reparsed %s", m2)
			}
		})
	}
}

func TestSoftEtherSCCRPAccessors(t *testing.T) {
	frame := mustHex(t, controlVectors[0].frame)
	_, off, end, _ := ParseHeader(frame)
	m, err := ParseMessage(frame[off:end], nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != MsgSCCRP {
		t.Errorf("type %v", m.Type)
	}
	if v, ok := m.Uint16(AVPAssignedTunnelID); !ok || v != 12345 {
		t.Errorf("AssignedTunnelID = %d, %v", v, ok)
	}
	if v, ok := m.Uint16(AVPReceiveWindowSize); !ok || v != 16 {
		t.Errorf("ReceiveWindowSize = %d, %v", v, ok)
	}
	if v, ok := m.Uint32(AVPFramingCapabilities); !ok || v != 3 {
		t.Errorf("FramingCapabilities = %d, %v", v, ok)
	}
	if v, ok := m.Bytes(AVPHostName); !ok || string(v) != "vpnserver" {
		t.Errorf("HostName = %q, %v", v, ok)
	}
	if a, ok := m.Get(AVPVendorName); !ok || a.Mandatory || a.Hidden || string(a.Value) != "SoftEther Corporation" {
		t.Errorf("VendorName = %+v, %v", a, ok)
	}
	if _, ok := m.Get(AVPChallenge); ok {
		t.Error("found a Challenge")
	}
	if _, ok := m.Uint32(AVPAssignedTunnelID); ok {
		t.Error("Uint32 of a 2-octet AVP")
	}
	if _, _, _, ok := m.ResultCode(); ok {
		t.Error("ResultCode of an SCCRP")
	}
}

func sameAVPs(t *testing.T, got, want []AVP) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d AVPs, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Mandatory != w.Mandatory || g.Hidden != w.Hidden || g.Vendor != w.Vendor || g.Type != w.Type || !bytes.Equal(g.Value, w.Value) {
			t.Errorf("AVP %d: got %+v, want %+v", i, g, w)
		}
	}
}

func hiddenAVP(a AVP) AVP { a.Hidden = true; return a }

// The messages the LAC sends or receives, built with the constructors,
// through the wire and back.
func TestMessageRoundTrip(t *testing.T) {
	secret := []byte("tunnel secret")
	challenge := mustHex(t, "00112233445566778899aabbccddeeff")
	resp := ChallengeResponse(MsgSCCCN, secret, challenge)
	tests := []struct {
		typ  MsgType
		avps []AVP
	}{
		{MsgSCCRQ, []AVP{
			AVPBytes(AVPProtocolVersion, []byte{1, 0}),
			AVPString(AVPHostName, "corridor"),
			AVPUint32(AVPFramingCapabilities, 3),
			AVPUint32(AVPBearerCapabilities, 0),
			AVPUint16(AVPFirmwareRevision, 0x0100),
			AVPString(AVPVendorName, "Corridor"),
			AVPUint16(AVPAssignedTunnelID, 0xbeef),
			AVPUint16(AVPReceiveWindowSize, 8),
			AVPBytes(AVPChallenge, challenge),
			AVPBytes(AVPTieBreaker, mustHex(t, "0102030405060708")),
		}},
		{MsgSCCRP, []AVP{
			AVPBytes(AVPProtocolVersion, []byte{1, 0}),
			AVPUint32(AVPFramingCapabilities, 1),
			AVPString(AVPHostName, "lns"),
			AVPUint16(AVPAssignedTunnelID, 7),
			AVPBytes(AVPChallenge, challenge),
			AVPBytes(AVPChallengeResponse, challenge),
		}},
		{MsgSCCCN, []AVP{AVPBytes(AVPChallengeResponse, resp[:])}},
		{MsgSCCCN, nil},
		{MsgStopCCN, []AVP{AVPUint16(AVPAssignedTunnelID, 0xbeef), ResultCodeAVP(2, 8, "unknown mandatory AVP")}},
		{MsgHello, nil},
		{MsgICRQ, []AVP{AVPUint16(AVPAssignedSessionID, 1), AVPUint32(AVPCallSerialNumber, 42), AVPUint32(AVPBearerType, 0)}},
		{MsgICRP, []AVP{AVPUint16(AVPAssignedSessionID, 0x1234)}},
		{MsgICCN, []AVP{AVPUint32(AVPTxConnectSpeed, 100000000), AVPUint32(AVPFramingType, 1), AVPUint32(AVPRxConnectSpeed, 1), AVPBytes(AVPSequencingRequired, nil)}},
		{MsgCDN, []AVP{ResultCodeAVP(3, 0, ""), AVPUint16(AVPAssignedSessionID, 1), AVPBytes(AVPQ931CauseCode, []byte{0, 16, 0})}},
		// With hiding (4.3).
		{MsgSCCRQ, []AVP{
			AVPBytes(AVPProtocolVersion, []byte{1, 0}),
			AVPString(AVPHostName, "corridor"),
			hiddenAVP(AVPUint32(AVPFramingCapabilities, 3)),
			hiddenAVP(AVPUint16(AVPAssignedTunnelID, 0xbeef)),
			hiddenAVP(AVPBytes(AVPChallenge, challenge)),
		}},
		{MsgSCCCN, []AVP{hiddenAVP(AVPBytes(AVPChallengeResponse, resp[:]))}},
		{MsgICRQ, []AVP{hiddenAVP(AVPUint16(AVPAssignedSessionID, 1)), AVPUint32(AVPCallSerialNumber, 42),
			hiddenAVP(AVPString(AVPCallingNumber, "5551234"))}},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			m := &Message{Type: tt.typ}
			for _, a := range tt.avps {
				m.Add(a)
			}
			payload, err := m.AppendTo(nil, secret, nil)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			frame := AppendControl(nil, 0x4711, 3, 1, 2, payload)
			h, off, end, err := ParseHeader(frame)
			if err != nil {
				t.Fatal(err)
			}
			if h.SessionID != 3 || h.Ns != 1 || h.Nr != 2 {
				t.Errorf("header %+v", h)
			}
			got, err := ParseMessage(frame[off:end], secret)
			if err != nil {
				t.Fatalf("ParseMessage: %v\n%s", err, m)
			}
			if got.Type != tt.typ {
				t.Errorf("type %v", got.Type)
			}
			want := tt.avps
			hidden := false
			for _, a := range want {
				hidden = hidden || a.Hidden
			}
			if hidden {
				// A Random Vector AVP comes in before the first hidden
				// AVP, and only once.
				rvs := 0
				for i, a := range got.AVPs {
					if a.Type == AVPRandomVector {
						rvs++
						if len(a.Value) != 16 || !got.AVPs[i+1].Hidden {
							t.Errorf("Random Vector %+v not before the first hidden AVP", a)
						}
						got.AVPs = append(got.AVPs[:i:i], got.AVPs[i+1:]...)
						break
					}
				}
				if rvs != 1 {
					t.Errorf("%d Random Vectors", rvs)
				}
			}
			sameAVPs(t, got.AVPs, want)
			// Hidden values are not on the wire in the clear.
			for _, a := range want {
				if a.Hidden && len(a.Value) >= 6 && bytes.Contains(payload, a.Value) {
					t.Errorf("%v value in clear on the wire", a.Type)
				}
			}
		})
	}
}

func TestAppendToErrors(t *testing.T) {
	prefix := []byte{1, 2, 3}
	tests := []struct {
		name   string
		avp    AVP
		secret []byte
		want   error
	}{
		{"hidden Host Name (4.4.3)", hiddenAVP(AVPString(AVPHostName, "x")), []byte("s"), ErrBadAVP},
		{"hidden Random Vector (4.4.1)", hiddenAVP(AVPBytes(AVPRandomVector, []byte{1})), []byte("s"), ErrBadAVP},
		{"hidden Result Code", hiddenAVP(ResultCodeAVP(1, 0, "")), []byte("s"), ErrBadAVP},
		{"hidden without secret", hiddenAVP(AVPUint16(AVPAssignedTunnelID, 1)), nil, ErrHiddenNoSecret},
		{"wrong size", AVPUint32(AVPAssignedTunnelID, 1), nil, ErrBadAVP},
		{"3-octet Result Code", AVPBytes(AVPResultCode, []byte{0, 1, 0}), nil, ErrBadAVP},
		{"empty Host Name", AVPString(AVPHostName, ""), nil, ErrBadAVP},
		{"vendor value too long", AVP{Vendor: 9, Type: 1, Value: make([]byte, 1018)}, nil, ErrBadAVP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Type: MsgSCCRQ, AVPs: []AVP{tt.avp}}
			out, err := m.AppendTo(append([]byte(nil), prefix...), tt.secret, zeros{})
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Errorf("b changed on error: % x", out)
			}
		})
	}
	// The longest value that fits.
	m := &Message{Type: MsgHello, AVPs: []AVP{{Vendor: 9, Type: 1, Value: make([]byte, 1017)}}}
	if _, err := m.AppendTo(nil, nil, nil); err != nil {
		t.Errorf("1017-octet value: %v", err)
	}
}

// A Random Vector the message already has is used for the hidden AVPs that
// follow it; no second one is made.
func TestAppendToUsesGivenRandomVector(t *testing.T) {
	rv := mustHex(t, "000102030405060708090a0b0c0d0e0f")
	m := &Message{Type: MsgSCCRP, AVPs: []AVP{
		AVPBytes(AVPProtocolVersion, []byte{1, 0}),
		AVPUint32(AVPFramingCapabilities, 1),
		AVPString(AVPHostName, "vpn"),
		AVPBytes(AVPRandomVector, rv),
		hiddenAVP(AVPUint16(AVPAssignedTunnelID, 4711)),
	}}
	out, err := m.AppendTo(nil, []byte("secret"), zeros{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, controlVectors[1].frame)[ControlHeaderLen:]
	if !bytes.Equal(out, want) {
		t.Errorf("got  % x\nwant % x", out, want)
	}
}

func TestParseMessageSkipsUnknown(t *testing.T) {
	// Each unknown AVP's value looks like an Assigned Tunnel ID AVP of
	// 0xffff: a parser that does not skip by Length would find it.
	tests := []struct {
		name   string
		avp    string
		vendor uint16
		typ    AVPType
	}{
		{"vendor AVP", "000e 0137 0005 8008 0000 0009 ffff", 311, 5},
		{"unassigned IETF type 20", "000e 0000 0014 8008 0000 0009 ffff", 0, 20},
		{"IETF type 200", "000e 0000 00c8 8008 0000 0009 ffff", 0, 200},
		{"empty vendor AVP", "0006 0009 0001", 9, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := mustHex(t, `8008 0000 0000 000b`+tt.avp+`8008 0000 000e 0042 8008 0000 0009 0001`)
			m, err := ParseMessage(payload, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.AVPs) != 3 {
				t.Fatalf("AVPs: %v", m.AVPs)
			}
			u := m.AVPs[0]
			if u.Vendor != tt.vendor || u.Type != tt.typ || u.Mandatory || !bytes.Equal(u.Value, mustHex(t, tt.avp)[6:]) {
				t.Errorf("unknown AVP kept as %+v", u)
			}
			if v, _ := m.Uint16(AVPAssignedSessionID); v != 0x42 {
				t.Errorf("AssignedSessionID = %#x", v)
			}
			if v, _ := m.Uint16(AVPAssignedTunnelID); v != 1 {
				t.Errorf("AssignedTunnelID = %#x: the unknown AVP's value was parsed as AVPs", v)
			}
			if _, ok := m.Get(tt.typ); ok && tt.vendor != 0 {
				t.Error("Get found a vendor AVP")
			}
		})
	}
}

func TestParseMessageErrors(t *testing.T) {
	const sccrp = `8008 0000 0000 0002 8008 0000 0002 0100 800a 0000 0003 00000003 8009 0000 0007 76706e 8008 0000 0009 0001`
	tests := []struct {
		name    string
		payload string
		secret  string
		want    error
		unknown *UnknownMandatoryError
		text    string // in the error message
	}{
		{name: "valid SCCRP", payload: sccrp},
		{name: "unknown mandatory IETF AVP", payload: sccrp + "8008 0000 0063 0000", unknown: &UnknownMandatoryError{Msg: MsgSCCRP, Type: 99}},
		{name: "unknown mandatory vendor AVP", payload: sccrp + "8006 0137 0005", unknown: &UnknownMandatoryError{Msg: MsgSCCRP, Vendor: 311, Type: 5}},
		{name: "unknown mandatory IETF type 20 before others", payload: "8008 0000 0000 000b 8008 0000 0014 0000 8008 0000 000e 0001",
			unknown: &UnknownMandatoryError{Msg: MsgICRP, Type: 20}},
		{name: "unknown mandatory, then a truncated AVP", payload: sccrp + "8008 0000 0063 0000 8010 0000 0009", want: ErrBadAVP},
		{name: "unknown message type with M (4.4.1)", payload: "8008 0000 0000 0063 8008 0000 0009 0001", unknown: &UnknownMandatoryError{Msg: 99, Type: AVPMessageType}},
		{name: "unknown message type without M", payload: "0008 0000 0000 0063 8008 0000 0009 0001"},
		{name: "unknown mandatory AVP in an unknown message type without M", payload: "0008 0000 0000 0063 8008 0000 0063 0000"},
		{name: "reserved message type 5 with M", payload: "8008 0000 0000 0005", unknown: &UnknownMandatoryError{Msg: 5, Type: AVPMessageType}},
		{name: "SCCRP without Host Name", payload: "8008 0000 0000 0002 8008 0000 0002 0100 800a 0000 0003 00000003 8008 0000 0009 0001",
			want: ErrMissingAVP, text: "SCCRP without HostName (RFC 2661 6.2)"},
		{name: "SCCRP with only Message Type", payload: "8008 0000 0000 0002",
			want: ErrMissingAVP, text: "ProtocolVersion, HostName, FramingCapabilities, AssignedTunnelID"},
		{name: "vendor AVP does not stand in for Host Name", payload: "8008 0000 0000 0002 8008 0000 0002 0100 800a 0000 0003 00000003 0009 0137 0007 76706e 8008 0000 0009 0001",
			want: ErrMissingAVP, text: "HostName"},
		{name: "ICRP without Assigned Session ID", payload: "8008 0000 0000 000b", want: ErrMissingAVP, text: "AssignedSessionID"},
		{name: "StopCCN without Result Code", payload: "8008 0000 0000 0004 8008 0000 0009 0001", want: ErrMissingAVP, text: "ResultCode"},
		{name: "StopCCN without Assigned Tunnel ID", payload: "8008 0000 0000 0004 8008 0000 0001 0001", want: ErrMissingAVP, text: "AssignedTunnelID"},
		{name: "CDN without Result Code", payload: "8008 0000 0000 000e 8008 0000 000e 0001", want: ErrMissingAVP, text: "CDN without ResultCode"},
		{name: "CDN without Assigned Session ID", payload: "8008 0000 0000 000e 8008 0000 0001 0001", want: ErrMissingAVP, text: "AssignedSessionID"},
		{name: "ICCN without Framing Type", payload: "8008 0000 0000 000c 800a 0000 0018 00000001", want: ErrMissingAVP, text: "FramingType"},
		{name: "first AVP not Message Type (4.4.1)", payload: "8008 0000 0009 0001 8008 0000 0000 0006", want: ErrNoMessageType},
		{name: "first AVP a vendor type 0", payload: "8008 0137 0000 0006", want: ErrNoMessageType},
		{name: "Message Type of 3 octets", payload: "8009 0000 0000 000600", want: ErrBadAVP},
		{name: "hidden Message Type", payload: "8016 0000 0024 00000000000000000000000000000000 c008 0000 0000 0006", secret: "s", want: ErrNoMessageType},
		{name: "reserved bit in first AVP (4.1)", payload: "8408 0000 0000 0006", want: ErrBadAVP, text: "reserved"},
		{name: "reserved bit in later AVP (4.1)", payload: "8008 0000 0000 0006 0408 0000 0063 0000", want: ErrBadAVP},
		{name: "reserved bits in unknown AVP (4.1)", payload: "8008 0000 0000 0006 3c08 0137 0001 0000", want: ErrBadAVP},
		{name: "AVP length 5", payload: "8008 0000 0000 0006 0005 0000 0063", want: ErrBadAVP},
		{name: "AVP length 0", payload: "8008 0000 0000 0006 0000 0000 0063", want: ErrBadAVP},
		{name: "AVP length past end", payload: "8008 0000 0000 0006 000a 0000 0063 0000", want: ErrBadAVP},
		{name: "first AVP length past end", payload: "8009 0000 0000 0006", want: ErrBadAVP},
		{name: "trailing bytes", payload: "8008 0000 0000 0006 0000 00", want: ErrBadAVP},
		{name: "Assigned Tunnel ID of 3 octets", payload: "8008 0000 0000 0004 8009 0000 0009 000001 8008 0000 0001 0001", want: ErrBadAVP, text: "AssignedTunnelID"},
		{name: "Result Code of 3 octets (4.4.2)", payload: "8008 0000 0000 0004 8008 0000 0009 0001 8009 0000 0001 000100", want: ErrBadAVP},
		{name: "Challenge Response of 15 octets", payload: "8008 0000 0000 0003 8015 0000 000d 000102030405060708090a0b0c0d0e", want: ErrBadAVP},
		{name: "empty Host Name", payload: "8008 0000 0000 0006 8006 0000 0007", want: ErrBadAVP},
		{name: "Sequencing Required with a value", payload: "8008 0000 0000 0006 8007 0000 0027 00", want: ErrBadAVP},
		{name: "hidden AVP, no secret", payload: "8008 0000 0000 000b 8016 0000 0024 000102030405060708090a0b0c0d0e0f c016 0000 000e be6a0fa0dfe444d9cd76415abc1af578",
			want: ErrHiddenNoSecret},
		{name: "hidden AVP, no Random Vector (4.3)", payload: "8008 0000 0000 000b c016 0000 000e be6a0fa0dfe444d9cd76415abc1af578", secret: "secret",
			want: ErrBadAVP, text: "Random Vector"},
		{name: "hidden AVP, wrong secret", payload: "8008 0000 0000 000b 8016 0000 0024 000102030405060708090a0b0c0d0e0f c016 0000 0009 be6a0fa0dfe444d9cd76415abc1af578",
			secret: "wrong", want: ErrBadAVP},
		{name: "hidden Host Name (4.4.3)", payload: "8008 0000 0000 0006 8016 0000 0024 000102030405060708090a0b0c0d0e0f c008 0000 0007 0000", secret: "s",
			want: ErrBadAVP, text: "HostName must not be hidden"},
		{name: "hidden unknown AVP without M, decrypted and kept",
			payload: "8008 0000 0000 0006 8016 0000 0024 000102030405060708090a0b0c0d0e0f 4016 0000 0009 be6a0fa0dfe444d9cd76415abc1af578", secret: "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var secret []byte
			if tt.secret != "" {
				secret = []byte(tt.secret)
			}
			m, err := ParseMessage(mustHex(t, tt.payload), secret)
			if tt.unknown != nil {
				var ue *UnknownMandatoryError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want UnknownMandatoryError", err)
				}
				if *ue != *tt.unknown {
					t.Errorf("got %+v, want %+v", *ue, *tt.unknown)
				}
				if m == nil || m.Type != tt.unknown.Msg {
					t.Errorf("message returned with the error: %v", m)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && m != nil {
				t.Errorf("message returned with %v", err)
			}
			if err == nil && m == nil {
				t.Error("nil message")
			}
			if tt.text != "" && !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not mention %q", err, tt.text)
			}
		})
	}
}

func TestParseMessageZLB(t *testing.T) {
	for _, p := range [][]byte{nil, {}} {
		m, err := ParseMessage(p, nil)
		if m != nil || err != nil {
			t.Errorf("ParseMessage(%v) = %v, %v", p, m, err)
		}
	}
}

func TestParseMessageHiddenUnknownKept(t *testing.T) {
	payload := mustHex(t, "8008 0000 0000 0006 8016 0000 0024 000102030405060708090a0b0c0d0e0f 4016 0000 0009 be6a0fa0dfe444d9cd76415abc1af578")
	// Type 9 is known; relabel the hidden AVP as vendor 311 type 9: the
	// key depends on the type only, so it decrypts the same.
	payload[len(payload)-20] = 0x01
	payload[len(payload)-19] = 0x37
	m, err := ParseMessage(payload, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	a := m.AVPs[1]
	if a.Vendor != 311 || !a.Hidden || !bytes.Equal(a.Value, []byte{0x12, 0x67}) {
		t.Errorf("got %+v", a)
	}
}

func TestMessageResultCode(t *testing.T) {
	tests := []struct {
		avp     AVP
		result  uint16
		errCode uint16
		msg     string
	}{
		{ResultCodeAVP(1, 0, ""), 1, 0, ""},
		{ResultCodeAVP(2, 6, "bad"), 2, 6, "bad"},
		{AVPBytes(AVPResultCode, mustHex(t, "0003 0000")), 3, 0, ""},
	}
	for _, tt := range tests {
		m := &Message{Type: MsgStopCCN, AVPs: []AVP{AVPUint16(AVPAssignedTunnelID, 1), tt.avp}}
		payload, err := m.AppendTo(nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err = ParseMessage(payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, e, s, ok := m.ResultCode()
		if !ok || r != tt.result || e != tt.errCode || s != tt.msg {
			t.Errorf("%v: got %d/%d %q %v", tt.avp, r, e, s, ok)
		}
	}
}

func TestUnknownMandatoryErrorText(t *testing.T) {
	tests := []struct {
		err  *UnknownMandatoryError
		want string
	}{
		{&UnknownMandatoryError{Msg: MsgSCCRP, Type: 99}, "l2tp: unknown mandatory AVP type 99 in SCCRP (RFC 2661 4.1)"},
		{&UnknownMandatoryError{Msg: MsgICRP, Vendor: 311, Type: 5}, "l2tp: unknown mandatory AVP vendor 311 type 5 in ICRP (RFC 2661 4.1)"},
		{&UnknownMandatoryError{Msg: 99, Type: AVPMessageType}, "l2tp: unknown message type 99 with the M bit set (RFC 2661 4.4.1)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
