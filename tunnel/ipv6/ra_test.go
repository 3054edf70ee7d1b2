package ipv6

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	xipv6 "golang.org/x/net/ipv6"
)

var (
	raSrc = netip.MustParseAddr("fe80::200:5eff:fe00:1")
	raDst = netip.MustParseAddr("ff02::1")
)

// raBody is a router advertisement assembled by hand from RFC 4861 4.2,
// 4.6.2, 4.6.4, RFC 4191 2.3 and RFC 8106 5.1, 5.2; its checksum
// (zero here) is filled in by x/net/icmp in raVector.
const raBody = `
	86 00 0000                              | type 134, code 0, checksum
	40 c0 0708                              | cur hop limit 64, M and O, router lifetime 1800 s
	00000000 00000000                       | reachable time, retrans timer
	03 04 40 c0 00278d00 00093a80 00000000  | prefix information: /64, L and A, valid 30 d, preferred 7 d
	20010db8 00010002 00000000 00000000     |   2001:db8:1:2::
	05 01 0000 000005dc                     | MTU 1500
	18 02 30 08 00000e10                    | route information: /48, preference high, lifetime 3600 s
	20010db8 00ff0000                       |   2001:db8:ff::
	19 03 0000 00000e10                     | RDNSS, lifetime 3600 s
	20010db8 00000000 00000000 00000053     |   2001:db8::53
	1f 03 0000 00000e10                     | DNSSL, lifetime 3600 s
	07 6578616d706c65 03 636f6d 00          |   example.com
	000000                                  |   padding to 24 octets
	fe 01 0000 00000000                     | an unknown option (type 254): skipped`

// raVector returns the IPv6 packet carrying body from raSrc to raDst,
// hop limit 255, its checksum computed by x/net/icmp.
func raVector(t testing.TB, body []byte) []byte {
	t.Helper()
	x := xnetChecksum(t, raSrc, raDst, xipv6.ICMPTypeRouterAdvertisement, body)
	pkt := make([]byte, 40, 40+len(x))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(x)))
	pkt[6], pkt[7] = 58, 255
	copy(pkt[8:], raSrc.AsSlice())
	copy(pkt[24:], raDst.AsSlice())
	return append(pkt, x...)
}

func TestParseRAVector(t *testing.T) {
	pkt := raVector(t, unhex(t, raBody))
	ra, err := ParseRA(pkt)
	if err != nil {
		t.Fatal(err)
	}
	want := RA{
		Source: raSrc, CurHopLimit: 64, Managed: true, Other: true, RouterLifetime: 1800, MTU: 1500,
		Prefixes: []PrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8:1:2::/64"), OnLink: true, Autonomous: true, Valid: 2592000, Preferred: 604800}},
		Routes:   []RouteInfo{{Prefix: netip.MustParsePrefix("2001:db8:ff::/48"), Preference: 1, Lifetime: 3600}},
		RDNSS:    []RDNSS{{Lifetime: 3600, Servers: []netip.Addr{netip.MustParseAddr("2001:db8::53")}}},
		DNSSL:    []DNSSL{{Lifetime: 3600, Domains: []string{"example.com"}}},
	}
	if !reflect.DeepEqual(ra, want) {
		t.Errorf("ParseRA\n got %+v\nwant %+v", ra, want)
	}
	// Our checksum agrees with x/net's.
	if c := Checksum(raSrc, raDst, protoICMPv6, pkt[40:]); c != 0 {
		t.Errorf("our checksum over x/net's packet: %#x, want 0", c)
	}
	// Link padding after the payload is ignored.
	if _, err := ParseRA(append(pkt, 0, 0, 0, 0)); err != nil {
		t.Errorf("with link padding: %v", err)
	}
}

// TestParseRAInvalid: each check of RFC 4861 6.1.2, on the vector with
// one thing wrong.
func TestParseRAInvalid(t *testing.T) {
	good := func() []byte { return raVector(t, unhex(t, raBody)) }
	// resum recomputes the checksum after a change to the ICMP part.
	resum := func(p []byte) []byte {
		p[42], p[43] = 0, 0
		binary.BigEndian.PutUint16(p[42:], Checksum(netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40])), protoICMPv6, p[40:]))
		return p
	}
	cases := []struct {
		name string
		pkt  func() []byte
		err  error
	}{
		{"hop limit 64", func() []byte { p := good(); p[7] = 64; return p }, ErrRAHopLimit},
		{"hop limit 254", func() []byte { p := good(); p[7] = 254; return p }, ErrRAHopLimit},
		{"global source", func() []byte {
			p := good()
			copy(p[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
			return resum(p)
		}, ErrRASource},
		{"unspecified source", func() []byte {
			p := good()
			copy(p[8:], make([]byte, 16))
			return resum(p)
		}, ErrRASource},
		{"bad checksum", func() []byte { p := good(); p[43] ^= 1; return p }, ErrRAChecksum},
		{"payload changed after checksum", func() []byte { p := good(); p[46] ^= 0x80; return p }, ErrRAChecksum},
		{"code 1", func() []byte { p := good(); p[41] = 1; return resum(p) }, ErrRACode},
		{"ICMP length 15", func() []byte {
			p := good()[:40+15]
			binary.BigEndian.PutUint16(p[4:], 15)
			return resum(p)
		}, ErrRAShort},
		{"option length 0", func() []byte {
			p := good()
			p[40+16+32+1] = 0 // the MTU option
			return resum(p)
		}, ErrRAOptionLength},
		{"last option length 0", func() []byte {
			p := good()
			p[len(p)-7] = 0
			return resum(p)
		}, ErrRAOptionLength},
		{"option past the end", func() []byte {
			p := good()
			p[len(p)-7] = 2
			return resum(p)
		}, ErrRAOptionBeyond},
		{"odd octet at the end", func() []byte {
			p := append(good(), 0)
			binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
			return resum(p)
		}, ErrRAOptionBeyond},
		{"not ICMPv6", func() []byte { p := good(); p[6] = 17; return p }, ErrNotRA},
		{"a solicitation", func() []byte { p := good(); p[40] = 133; return resum(p) }, ErrNotRA},
		{"payload length beyond packet", func() []byte {
			p := good()
			binary.BigEndian.PutUint16(p[4:], uint16(len(p)))
			return p
		}, nil},
		{"IPv4", func() []byte { p := good(); p[0] = 0x45; return p }, errNotIPv6},
	}
	for _, c := range cases {
		_, err := ParseRA(c.pkt())
		if err == nil || (c.err != nil && !errors.Is(err, c.err)) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
		}
	}
}

// TestParseRAOptionChecks: options failing their own RFC's checks are
// left out, the advertisement stays valid.
func TestParseRAOptionChecks(t *testing.T) {
	hdr := "86 00 0000 40 00 0000 00000000 00000000"
	cases := []struct {
		name string
		opts string
		want RA
	}{
		{"prefix length 129", "03 04 81 c0 00000e10 00000e10 00000000 20010db8000000000000000000000000", RA{}},
		{"prefix option of length 3", "03 03 40 c0 00000e10 00000e10 00000000 20010db8 00000000", RA{}},
		{"prefix masked", "03 04 30 80 00000e10 00000708 00000000 20010db8 00010002 00000000 00000001",
			RA{Prefixes: []PrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), OnLink: true, Valid: 3600, Preferred: 1800}}}},
		{"route /0 in length 1", "18 01 00 18 00000e10", RA{Routes: []RouteInfo{{Prefix: netip.MustParsePrefix("::/0"), Preference: -1, Lifetime: 3600}}}},
		{"route /65 in length 2", "18 02 41 00 00000e10 20010db8 00000000", RA{}},
		{"route /64 in length 1", "18 01 40 00 00000e10", RA{}},
		{"route reserved preference", "18 02 20 10 00000e10 20010db8 00000000", RA{}},
		{"route /128 in length 3", "18 03 80 00 00000e10 20010db8 00000000 00000000 00000001",
			RA{Routes: []RouteInfo{{Prefix: netip.MustParsePrefix("2001:db8::1/128"), Lifetime: 3600}}}},
		{"RDNSS of length 2", "19 02 0000 00000e10 20010db8 00000000", RA{}},
		{"RDNSS of length 4", "19 04 0000 00000e10 20010db8 00000000 00000000 00000053 00000000 00000000", RA{}},
		{"RDNSS two servers", "19 05 0000 ffffffff 20010db8000000000000000000000053 20010db8000000000000000000000054",
			RA{RDNSS: []RDNSS{{Lifetime: 0xffffffff, Servers: []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")}}}}},
		{"DNSSL label past the end", "1f 02 0000 00000e10 09 6578616d 706c65", RA{}},
		{"DNSSL junk after padding", "1f 02 0000 00000e10 01 61 00 00 00 00 07 00", RA{}},
		{"DNSSL label with a space", "1f 02 0000 00000e10 03 612062 00 000000", RA{}},
		{"DNSSL two names, upper case", "1f 03 0000 00000e10 01 41 00 03 622d63 01 64 00 0000 00000000",
			RA{DNSSL: []DNSSL{{Lifetime: 3600, Domains: []string{"a", "b-c.d"}}}}},
	}
	for _, c := range cases {
		ra, err := ParseRA(raVector(t, unhex(t, hdr+c.opts)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		c.want.Source, c.want.CurHopLimit = raSrc, 64
		if !reflect.DeepEqual(ra, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, ra, c.want)
		}
	}
}

// FuzzParseRA: no input panics; what parses passed every check.
func FuzzParseRA(f *testing.F) {
	f.Add(raVector(f, unhex(f, raBody)))
	f.Add(raVector(f, unhex(f, "86 00 0000 40 00 0000 00000000 00000000")))
	f.Add(raVector(f, unhex(f, "86 00 0000 40 00 0000 00000000 00000000 1f 02 0000 00000e10 01 61 00 00 00 00 00 00")))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// Fix the checksum half the time so the fuzzer gets past it.
		if len(pkt) >= 44 && pkt[len(pkt)-1]&1 == 0 {
			h, err := parseHeader(pkt)
			if err == nil && len(h.payload) >= 4 {
				h.payload[2], h.payload[3] = 0, 0
				binary.BigEndian.PutUint16(h.payload[2:], Checksum(h.src, h.dst, protoICMPv6, h.payload))
			}
		}
		ra, err := ParseRA(pkt)
		if err != nil {
			return
		}
		if pkt[7] != 255 || !ra.Source.IsLinkLocalUnicast() {
			t.Fatalf("accepted hop limit %d source %v", pkt[7], ra.Source)
		}
		for _, p := range ra.Prefixes {
			if p.Prefix != p.Prefix.Masked() {
				t.Fatalf("unmasked prefix %v", p.Prefix)
			}
		}
		c := NewClient(1, func([]byte) error { return nil }, nil, Options{}, nil)
		c.mu.Lock()
		c.handleRA(ra)
		cfg := c.config()
		c.mu.Unlock()
		c.Stop()
		for _, a := range cfg.Addrs {
			if a.Bits() != 64 && a.Bits() != 128 {
				t.Fatalf("address %v", a)
			}
		}
	})
}
