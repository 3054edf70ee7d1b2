package platform

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// rtMsg is a routing socket message of macOS as the kernel writes it: a
// 92-byte rt_msghdr (or the first bytes of another header) with msglen,
// version, type and, for route messages, flags at offset 8.
func rtMsg(version, typ byte, flags uint32) []byte {
	m := make([]byte, 92)
	binary.LittleEndian.PutUint16(m, uint16(len(m)))
	m[2], m[3] = version, typ
	binary.LittleEndian.PutUint32(m[8:], flags)
	return m
}

// TestDarwinRouteMsgsChange: interface, address and route changes count;
// neighbour entries, per-host clones, lookups, other versions and
// malformed input do not. Hand-made messages: no Mac has sent these.
func TestDarwinRouteMsgsChange(t *testing.T) {
	const rtfUp, rtfGateway, rtfStatic = 0x1, 0x2, 0x800
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"route added", rtMsg(5, darwinRTMAdd, rtfUp|rtfGateway|rtfStatic), true},
		{"route deleted", rtMsg(5, darwinRTMDelete, rtfUp|rtfGateway), true},
		{"route changed", rtMsg(5, darwinRTMChange, rtfUp), true},
		{"address added", rtMsg(5, darwinRTMNewAddr, 0), true},
		{"address removed", rtMsg(5, darwinRTMDelAddr, 0), true},
		{"interface state", rtMsg(5, darwinRTMIfInfo, 0), true},
		{"interface state 2", rtMsg(5, darwinRTMIfInfo2, 0), true},
		{"ARP entry", rtMsg(5, darwinRTMAdd, rtfUp|darwinRTFLLInfo), false},
		{"per-host clone", rtMsg(5, darwinRTMDelete, rtfUp|darwinRTFWasClone), false},
		{"lookup (RTM_GET)", rtMsg(5, 0x4, rtfUp), false},
		{"miss (RTM_MISS)", rtMsg(5, 0x7, 0), false},
		{"other version", rtMsg(4, darwinRTMAdd, rtfUp), false},
		{"msglen beyond the read", rtMsg(5, darwinRTMAdd, rtfUp)[:40], false},
		{"msglen zero", make([]byte, 92), false},
		{"route message too short", func() []byte {
			m := rtMsg(5, darwinRTMAdd, rtfUp)[:8]
			binary.LittleEndian.PutUint16(m, 8)
			return m
		}(), false},
		{"empty", nil, false},
		{"clone, then an address", slices.Concat(rtMsg(5, darwinRTMAdd, darwinRTFWasClone), rtMsg(5, darwinRTMNewAddr, 0)), true},
	} {
		if got := darwinRouteMsgsChange(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDarwinPathTo: the path from route -n get, "" when nothing covers
// the address; fake runner only.
func TestDarwinPathTo(t *testing.T) {
	r := &fakeRunner{outputs: map[string]string{
		"route -n get 203.0.113.5": darwinGetViaGW,
		"route -n get 192.168.1.7": darwinGetDirect,
	}}
	for dst, want := range map[string]string{"203.0.113.5": "dev en0 via 192.168.1.1", "192.168.1.7": "dev en0"} {
		if got, err := darwinPathTo(r, netip.MustParseAddr(dst)); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", dst, got, err, want)
		}
	}
	r.setFail(map[string]error{"route -n get 198.51.100.9": exitErr(1, "route: writing to routing socket: not in table")})
	if got, err := darwinPathTo(r, otherServer); err != nil || got != "" {
		t.Errorf("no route: %q, %v", got, err)
	}
	r.setFail(map[string]error{"route -n get": exitErr(1, "route: socket: Operation not permitted")})
	if _, err := darwinPathTo(r, otherServer); err == nil {
		t.Error("a failing route -n get gave no error")
	}
	if _, err := darwinPathTo(r, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("IPv6 accepted")
	}
}

// TestWindowsPathTo: the path from Find-NetRoute, "" when it finds none;
// fake runner only.
func TestWindowsPathTo(t *testing.T) {
	r := &fakeRunner{outputs: map[string]string{
		winFind("203.0.113.5"):  winGetViaGW,
		winFind("192.0.2.7"):    winGetDirect,
		winFind("198.51.100.9"): "\xef\xbb\xbf\r\n",
	}}
	for dst, want := range map[string]string{"203.0.113.5": "dev Ethernet via 192.168.1.1", "192.0.2.7": "dev Wi-Fi", "198.51.100.9": ""} {
		if got, err := windowsPathTo(r, netip.MustParseAddr(dst)); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", dst, got, err, want)
		}
	}
	r.outputs[winFind("203.0.113.5")] = "Find-NetRoute : The term 'Find-NetRoute' is not recognized"
	if _, err := windowsPathTo(r, server); err == nil || !strings.Contains(err.Error(), "Find-NetRoute") {
		t.Errorf("garbage: %v", err)
	}
}

// TestWinNotifyChange: IPv4 changes count; IPv6 ones and the initial
// notification do not.
func TestWinNotifyChange(t *testing.T) {
	for _, tc := range []struct {
		typ    uint32
		family uint16
		want   bool
	}{
		{0, 2, true}, {1, 2, true}, {2, 2, true}, {3, 2, false}, {1, 23, false}, {2, 23, false},
	} {
		if got := winNotifyChange(tc.typ, tc.family); got != tc.want {
			t.Errorf("type %d family %d: %v, want %v", tc.typ, tc.family, got, tc.want)
		}
	}
}
