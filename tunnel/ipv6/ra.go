package ipv6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Neighbor Discovery option types (RFC 4861 4.6, RFC 4191 2.3, RFC 8106 5).
const (
	optPrefixInfo = 3
	optMTU        = 5
	optRouteInfo  = 24
	optRDNSS      = 25
	optDNSSL      = 31
)

// Errors of ParseRA, one per validity check of RFC 4861 6.1.2 (and the
// framing it presumes).
var (
	ErrNotRA          = errors.New("not an ICMPv6 router advertisement")
	ErrRAHopLimit     = errors.New("router advertisement: IP hop limit is not 255 (RFC 4861 6.1.2)")
	ErrRASource       = errors.New("router advertisement: source is not a link-local address (RFC 4861 6.1.2)")
	ErrRAChecksum     = errors.New("router advertisement: bad ICMPv6 checksum (RFC 4861 6.1.2)")
	ErrRACode         = errors.New("router advertisement: ICMP code is not 0 (RFC 4861 6.1.2)")
	ErrRAShort        = errors.New("router advertisement: ICMP length below 16 octets (RFC 4861 6.1.2)")
	ErrRAOptionLength = errors.New("router advertisement: an option has length 0 (RFC 4861 6.1.2)")
	ErrRAOptionBeyond = errors.New("router advertisement: an option runs past the message (RFC 4861 4.6)")
)

// RA is a parsed router advertisement (RFC 4861 4.2) with the options
// this package uses. Options that fail their own checks are left out, as
// their RFCs ask (RFC 4861 4.6.2, RFC 4191 2.3, RFC 8106 5.3.1); unknown
// options are skipped (RFC 4861 4.2).
type RA struct {
	Source         netip.Addr
	CurHopLimit    uint8
	Managed, Other bool   // the M and O flags
	RouterLifetime uint16 // seconds; 0: not a default router
	MTU            uint32 // the MTU option, 0 if none
	Prefixes       []PrefixInfo
	Routes         []RouteInfo
	RDNSS          []RDNSS
	DNSSL          []DNSSL
}

// PrefixInfo is a Prefix Information option (RFC 4861 4.6.2).
type PrefixInfo struct {
	Prefix             netip.Prefix // masked to its length
	OnLink, Autonomous bool         // the L and A flags
	Valid, Preferred   uint32       // lifetimes in seconds; 0xffffffff is infinity
}

// RouteInfo is a Route Information option (RFC 4191 2.3).
type RouteInfo struct {
	Prefix     netip.Prefix
	Preference int8   // -1 low, 0 medium, 1 high
	Lifetime   uint32 // seconds
}

// RDNSS is a Recursive DNS Server option (RFC 8106 5.1).
type RDNSS struct {
	Lifetime uint32
	Servers  []netip.Addr
}

// DNSSL is a DNS Search List option (RFC 8106 5.2).
type DNSSL struct {
	Lifetime uint32
	Domains  []string
}

// ParseRA parses and validates the IPv6 packet pkt as a router
// advertisement. The checks of RFC 4861 6.1.2, each with its own error:
// IP hop limit 255, a link-local source, a valid ICMPv6 checksum, ICMP
// code 0, an ICMP length of at least 16 octets, and every option's length
// above 0 (and within the message). The ICMPv6 header must follow the
// fixed IPv6 header directly.
func ParseRA(pkt []byte) (RA, error) {
	h, err := parseHeader(pkt)
	if err != nil {
		return RA{}, err
	}
	p := h.payload
	if h.next != protoICMPv6 || len(p) < 1 || p[0] != icmpRouterAdvertisement {
		return RA{}, ErrNotRA
	}
	if h.hop != 255 {
		return RA{}, ErrRAHopLimit
	}
	if !h.src.IsLinkLocalUnicast() {
		return RA{}, ErrRASource
	}
	if len(p) < 16 {
		return RA{}, ErrRAShort
	}
	if Checksum(h.src, h.dst, protoICMPv6, p) != 0 {
		return RA{}, ErrRAChecksum
	}
	if p[1] != 0 {
		return RA{}, ErrRACode
	}
	ra := RA{
		Source:         h.src,
		CurHopLimit:    p[4],
		Managed:        p[5]&0x80 != 0,
		Other:          p[5]&0x40 != 0,
		RouterLifetime: binary.BigEndian.Uint16(p[6:]),
	}
	// Every option's length first (RFC 4861 6.1.2: any option of length
	// 0 makes the whole message invalid), then their contents.
	for o := p[16:]; len(o) > 0; {
		if len(o) < 2 {
			return RA{}, ErrRAOptionBeyond
		}
		n := int(o[1]) * 8
		if n == 0 {
			return RA{}, ErrRAOptionLength
		}
		if n > len(o) {
			return RA{}, ErrRAOptionBeyond
		}
		o = o[n:]
	}
	for o := p[16:]; len(o) > 0; {
		n := int(o[1]) * 8
		ra.option(o[0], o[:n])
		o = o[n:]
	}
	return ra, nil
}

// option adds the option opt (its type, length and data) to ra when it
// passes its own checks.
func (ra *RA) option(typ byte, opt []byte) {
	switch typ {
	case optPrefixInfo:
		// RFC 4861 4.6.2: length 4; a prefix length above 128 is invalid.
		if len(opt) != 32 || opt[2] > 128 {
			return
		}
		pfx := netip.PrefixFrom(netip.AddrFrom16([16]byte(opt[16:32])), int(opt[2])).Masked()
		ra.Prefixes = append(ra.Prefixes, PrefixInfo{
			Prefix:     pfx,
			OnLink:     opt[3]&0x80 != 0,
			Autonomous: opt[3]&0x40 != 0,
			Valid:      binary.BigEndian.Uint32(opt[4:]),
			Preferred:  binary.BigEndian.Uint32(opt[8:]),
		})
	case optMTU:
		if len(opt) == 8 {
			ra.MTU = binary.BigEndian.Uint32(opt[4:])
		}
	case optRouteInfo:
		// RFC 4191 2.3: length 1, 2 or 3, enough for the prefix length
		// (1 for 0, 2 up to 64, 3 up to 128); the reserved preference
		// 10 makes the option ignored.
		plen := int(opt[2])
		if len(opt) > 24 || plen > 128 || (plen > 64 && len(opt) < 24) || (plen > 0 && len(opt) < 16) {
			return
		}
		var a [16]byte
		copy(a[:], opt[8:])
		pref := int8(0)
		switch (opt[3] >> 3) & 3 {
		case 1:
			pref = 1
		case 3:
			pref = -1
		case 2:
			return
		}
		ra.Routes = append(ra.Routes, RouteInfo{
			Prefix:     netip.PrefixFrom(netip.AddrFrom16(a), plen).Masked(),
			Preference: pref,
			Lifetime:   binary.BigEndian.Uint32(opt[4:]),
		})
	case optRDNSS:
		// RFC 8106 5.1: length 3 or more and odd (whole addresses);
		// 5.3.1: otherwise the option is ignored.
		if len(opt) < 24 || (len(opt)-8)%16 != 0 {
			return
		}
		r := RDNSS{Lifetime: binary.BigEndian.Uint32(opt[4:])}
		for a := opt[8:]; len(a) >= 16; a = a[16:] {
			addr := netip.AddrFrom16([16]byte(a[:16]))
			if addr.IsUnspecified() || addr.IsMulticast() {
				continue
			}
			r.Servers = append(r.Servers, addr)
		}
		ra.RDNSS = append(ra.RDNSS, r)
	case optDNSSL:
		// RFC 8106 5.2: length 2 or more; domain names as in RFC 1035
		// 3.1 without compression, padded with zero octets.
		if len(opt) < 16 {
			return
		}
		names, ok := parseNames(opt[8:], true)
		if !ok {
			return // RFC 8106 5.3.1: a malformed list is ignored
		}
		ra.DNSSL = append(ra.DNSSL, DNSSL{Lifetime: binary.BigEndian.Uint32(opt[4:]), Domains: names})
	}
}

// parseNames reads a list of uncompressed domain names in DNS wire format
// (RFC 1035 3.1; RFC 8106 5.2, RFC 8415 21.15 with RFC 1035 3.1). With
// padded, a zero octet where a name would start ends the list (the
// padding of a DNSSL option). Names are returned in lower case, without
// the root's trailing dot.
func parseNames(b []byte, padded bool) ([]string, bool) {
	var names []string
	for len(b) > 0 {
		if b[0] == 0 {
			if padded {
				for _, c := range b {
					if c != 0 {
						return nil, false
					}
				}
				break
			}
			b = b[1:] // the root name alone: nothing to search
			continue
		}
		var name strings.Builder
		for {
			if len(b) == 0 {
				return nil, false // a name without its terminating root label
			}
			l := int(b[0])
			if l == 0 {
				b = b[1:]
				break
			}
			if l > 63 || 1+l > len(b) {
				return nil, false
			}
			if name.Len() > 0 {
				name.WriteByte('.')
			}
			for _, c := range b[1 : 1+l] {
				if !validLabelByte(c) {
					return nil, false
				}
			}
			name.WriteString(strings.ToLower(string(b[1 : 1+l])))
			b = b[1+l:]
		}
		if name.Len() > 253 {
			return nil, false
		}
		names = append(names, name.String())
	}
	return names, true
}

// validLabelByte: letters, digits, '-' and '_' only: the names end up in
// resolver configuration, where a space, dot or control character would
// change its meaning.
func validLabelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// appendName appends name in DNS wire format (RFC 1035 3.1).
func appendName(b []byte, name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			if l == "" || len(l) > 63 {
				return b, fmt.Errorf("bad domain name %q", name)
			}
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0), nil
}
