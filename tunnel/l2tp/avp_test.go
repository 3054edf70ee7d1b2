package l2tp

import (
	"strings"
	"testing"
)

func TestAVPTable(t *testing.T) {
	// Every RFC 2661 type 0..39 but the unassigned 20 is in the table, and
	// the constants carry the RFC's numbers.
	for i := range 40 {
		in := lookupAVP(0, AVPType(i))
		if (in == nil) != (i == 20) {
			t.Errorf("type %d: in table = %v", i, in != nil)
		}
		if in != nil && (in.min > in.max || in.max > avpMaxValueLen) {
			t.Errorf("%s: bad bounds %d..%d", in.name, in.min, in.max)
		}
	}
	if lookupAVP(0, 40) != nil || lookupAVP(311, AVPHostName) != nil {
		t.Error("lookup must miss type 40 and vendor AVPs")
	}
	numbers := map[AVPType]uint16{
		AVPMessageType: 0, AVPResultCode: 1, AVPTieBreaker: 5, AVPHostName: 7, AVPAssignedTunnelID: 9,
		AVPChallenge: 11, AVPChallengeResponse: 13, AVPAssignedSessionID: 14, AVPFramingType: 19,
		AVPCalledNumber: 21, AVPTxConnectSpeed: 24, AVPProxyAuthenResponse: 33, AVPACCM: 35,
		AVPRandomVector: 36, AVPRxConnectSpeed: 38, AVPSequencingRequired: 39,
	}
	for c, n := range numbers {
		if uint16(c) != n {
			t.Errorf("%v = %d, want %d", c, uint16(c), n)
		}
	}
	// 4.4: the AVPs that MUST NOT be hidden.
	notHideable := map[AVPType]bool{
		AVPMessageType: true, AVPRandomVector: true, AVPResultCode: true, AVPProtocolVersion: true,
		AVPTieBreaker: true, AVPHostName: true, AVPReceiveWindowSize: true, AVPQ931CauseCode: true,
		AVPSequencingRequired: true,
	}
	for i := range 40 {
		if in := lookupAVP(0, AVPType(i)); in != nil && in.hideable == notHideable[AVPType(i)] {
			t.Errorf("%s: hideable = %v", in.name, in.hideable)
		}
	}
}

func TestTypeStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{MsgSCCRQ.String(), "SCCRQ"},
		{MsgSCCRP.String(), "SCCRP"},
		{MsgStopCCN.String(), "StopCCN"},
		{MsgHello.String(), "HELLO"},
		{MsgCDN.String(), "CDN"},
		{MsgSLI.String(), "SLI"},
		{MsgType(5).String(), "MsgType(5)"},
		{MsgType(99).String(), "MsgType(99)"},
		{AVPHostName.String(), "HostName"},
		{AVPAssignedTunnelID.String(), "AssignedTunnelID"},
		{AVPSequencingRequired.String(), "SequencingRequired"},
		{AVPType(20).String(), "AVPType(20)"},
		{AVPType(99).String(), "AVPType(99)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		a         AVP
		mandatory bool
		value     string
	}{
		{AVPUint16(AVPAssignedTunnelID, 0x4711), true, "4711"},
		{AVPUint16(AVPFirmwareRevision, 0x0100), false, "0100"},
		{AVPUint16(AVPType(99), 1), false, "0001"},
		{AVPUint32(AVPFramingCapabilities, 3), true, "00000003"},
		{AVPUint32(AVPPhysicalChannelID, 7), false, "00000007"},
		{AVPBytes(AVPTieBreaker, mustHex(t, "0102030405060708")), false, "0102030405060708"},
		{AVPBytes(AVPProtocolVersion, []byte{1, 0}), true, "0100"},
		{AVPString(AVPHostName, "vpn"), true, "76706e"},
		{AVPString(AVPVendorName, "x"), false, "78"},
		{ResultCodeAVP(1, 0, ""), true, "0001"},
		{ResultCodeAVP(2, 6, "msg"), true, "00020006 6d7367"},
		{ResultCodeAVP(2, 0, "m"), true, "00020000 6d"},
	}
	for _, tt := range tests {
		if tt.a.Mandatory != tt.mandatory || tt.a.Hidden || tt.a.Vendor != 0 || string(tt.a.Value) != string(mustHex(t, tt.value)) {
			t.Errorf("%v: got %+v, want M=%v value %s", tt.a.Type, tt.a, tt.mandatory, tt.value)
		}
	}
	// AVPBytes copies.
	b := []byte{1, 2}
	a := AVPBytes(AVPChallenge, b)
	b[0] = 9
	if a.Value[0] != 1 {
		t.Error("AVPBytes aliases its argument")
	}
}

func TestAVPString(t *testing.T) {
	tests := []struct {
		a    AVP
		want string
	}{
		{AVPUint16(AVPAssignedTunnelID, 4711), "AssignedTunnelID=4711"},
		{AVPString(AVPHostName, "vpn"), `HostName="vpn"`},
		{ResultCodeAVP(2, 6, "msg"), `ResultCode=2/6 "msg"`},
		{ResultCodeAVP(1, 0, ""), `ResultCode=1`},
		{AVPBytes(AVPResultCode, mustHex(t, "00010000")), `ResultCode=1/0`},
		{AVPBytes(AVPProtocolVersion, []byte{1, 0}), "ProtocolVersion=1.0"},
		{AVPUint32(AVPFramingCapabilities, 3), "FramingCapabilities=0x3"},
		{AVPUint32(AVPCallSerialNumber, 4000000000), "CallSerialNumber=4000000000"},
		{AVPBytes(AVPTieBreaker, mustHex(t, "0102030405060708")), "TieBreaker=0x0102030405060708"},
		{AVPBytes(AVPSequencingRequired, nil), "SequencingRequired"},
		{AVPUint16(AVPMessageType, 2), "MessageType=SCCRP"},
		{AVPBytes(AVPQ931CauseCode, mustHex(t, "0010 02 6f6b")), `Q931CauseCode=16/2 "ok"`},
		{AVPBytes(AVPACCM, mustHex(t, "0000 ffffffff 00000000")), "ACCM=send:0xffffffff recv:0x00000000"},
		{AVPBytes(AVPCallErrors, mustHex(t, "0000 00000001 00000002 00000003 00000004 00000005 00000006")),
			"CallErrors=crc:1 framing:2 overrun:3 buffer:4 timeout:5 alignment:6"},
		{AVPBytes(AVPPrivateGroupID, []byte{0xca, 0xfe}), "PrivateGroupID=cafe"},
		{AVP{Hidden: true, Mandatory: true, Type: AVPAssignedSessionID, Value: []byte{0, 9}}, "AssignedSessionID(H)=9"},
		{AVPUint16(AVPAssignedTunnelID, 1).withValue([]byte{1}), "AssignedTunnelID=<bad length 1>"},
		{AVP{Vendor: 311, Type: 5, Value: []byte{1, 2}}, "Vendor311:5=0102"},
		{AVP{Mandatory: true, Vendor: 311, Type: 5}, "Vendor311:5(M)="},
		{AVP{Type: 99, Value: make([]byte, 40)}, "AVPType(99)=" + strings.Repeat("00", 32) + "...(40 bytes)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func (a AVP) withValue(v []byte) AVP { a.Value = v; return a }

// Traces go into bug reports: authentication material is shown by length.
func TestAVPStringHidesSecrets(t *testing.T) {
	secret := mustHex(t, "5ec12e75ec12e75ec12e75ec12e75ec1")
	for _, typ := range []AVPType{AVPChallenge, AVPChallengeResponse, AVPRandomVector, AVPProxyAuthenChallenge, AVPProxyAuthenResponse} {
		for _, hidden := range []bool{false, true} {
			a := AVPBytes(typ, secret)
			a.Hidden = hidden
			s := a.String()
			if strings.Contains(s, "5ec1") || strings.Contains(strings.ToLower(s), "5e c1") {
				t.Errorf("%v leaks its value: %s", typ, s)
			}
			if !strings.Contains(s, "<16 bytes>") {
				t.Errorf("%v: %s does not give the length", typ, s)
			}
		}
	}
}
