package ipv6

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Protocol numbers and message types this package handles.
const (
	headerLen   = 40 // the fixed IPv6 header, RFC 8200 section 3
	protoUDP    = 17
	protoICMPv6 = 58

	icmpRouterSolicitation  = 133 // RFC 4861 4.1
	icmpRouterAdvertisement = 134 // RFC 4861 4.2

	// DHCPv6 UDP ports, RFC 8415 section 7.2.
	dhcpClientPort = 546
	dhcpServerPort = 547
)

var (
	// AllRouters is the link-scope all-routers multicast address that
	// router solicitations go to (RFC 4861 6.3.7, RFC 4291 2.7.1).
	AllRouters = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x02})
	// AllDHCP is All_DHCP_Relay_Agents_and_Servers, where DHCPv6 clients
	// send (RFC 8415 section 7.1).
	AllDHCP = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 13: 0x01, 15: 0x02})
)

// IsControl reports, from the fixed header alone, whether the IPv6 packet
// pkt is one the Client wants to see: an ICMPv6 Router Advertisement or a
// UDP datagram to the DHCPv6 client port. It reads a few bytes and
// allocates nothing, so the data path can ask it of every packet.
// Packets whose ICMPv6 or UDP header follows extension headers are not
// recognised (routers send neither with any).
func IsControl(pkt []byte) bool {
	if len(pkt) < headerLen+8 || pkt[0]>>4 != 6 {
		return false
	}
	switch pkt[6] {
	case protoICMPv6:
		return pkt[headerLen] == icmpRouterAdvertisement
	case protoUDP:
		return binary.BigEndian.Uint16(pkt[headerLen+2:]) == dhcpClientPort
	}
	return false
}

// Checksum is the Internet checksum (RFC 1071) of an upper-layer payload
// over the IPv6 pseudo-header of RFC 8200 section 8.1: source,
// destination, upper-layer length and next header. For a payload whose
// checksum field holds the right value the result is 0.
func Checksum(src, dst netip.Addr, next byte, payload []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var sum uint64
	for i := 0; i < 16; i += 2 {
		sum += uint64(binary.BigEndian.Uint16(s[i:])) + uint64(binary.BigEndian.Uint16(d[i:]))
	}
	sum += uint64(len(payload)>>16) + uint64(len(payload)&0xffff) + uint64(next)
	n := len(payload) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint64(binary.BigEndian.Uint16(payload[i:]))
	}
	if len(payload)&1 == 1 {
		sum += uint64(payload[n]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// BuildPacket returns an IPv6 packet from src to dst with hop limit hop
// carrying payload as next header next (ICMPv6 or UDP, whose checksum
// field it fills in: offset 2 for ICMPv6, 6 for UDP).
func BuildPacket(src, dst netip.Addr, next, hop byte, payload []byte) []byte {
	pkt := make([]byte, headerLen+len(payload))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(payload)))
	pkt[6], pkt[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(pkt[8:], s[:])
	copy(pkt[24:], d[:])
	p := pkt[headerLen:]
	copy(p, payload)
	off := 2
	if next == protoUDP {
		off = 6
	}
	if len(p) >= off+2 {
		p[off], p[off+1] = 0, 0
		c := Checksum(src, dst, next, p)
		if next == protoUDP && c == 0 {
			c = 0xffff // RFC 768 / RFC 8200 8.1: a zero UDP checksum is sent as all ones
		}
		binary.BigEndian.PutUint16(p[off:], c)
	}
	return pkt
}

// header is the part of an inbound packet's fixed header we use.
type header struct {
	src, dst netip.Addr
	next     byte
	hop      byte
	payload  []byte
}

var errNotIPv6 = errors.New("not an IPv6 packet")

// parseHeader checks the fixed header of pkt (RFC 8200 section 3): the
// version, and a payload length that fits in pkt (bytes beyond it are
// link padding and ignored).
func parseHeader(pkt []byte) (header, error) {
	if len(pkt) < headerLen || pkt[0]>>4 != 6 {
		return header{}, errNotIPv6
	}
	n := int(binary.BigEndian.Uint16(pkt[4:]))
	if headerLen+n > len(pkt) {
		return header{}, errors.New("IPv6 payload length beyond the packet")
	}
	return header{
		src:     netip.AddrFrom16([16]byte(pkt[8:24])),
		dst:     netip.AddrFrom16([16]byte(pkt[24:40])),
		next:    pkt[6],
		hop:     pkt[7],
		payload: pkt[headerLen : headerLen+n],
	}, nil
}

// RouterSolicitation returns the router solicitation we send from src
// (RFC 4861 4.1, 6.3.7): to all routers, hop limit 255, no options (a
// PPP link has no link-layer address to put in a Source Link-Layer
// Address option, RFC 4861 4.6.1 "link layers that have addresses").
func RouterSolicitation(src netip.Addr) []byte {
	body := make([]byte, 8) // type, code, checksum, reserved
	body[0] = icmpRouterSolicitation
	return BuildPacket(src, AllRouters, protoICMPv6, 255, body)
}

// udpPacket returns a UDP datagram from src:sport to dst:dport in an
// IPv6 packet with hop limit hop.
func udpPacket(src, dst netip.Addr, sport, dport uint16, hop byte, data []byte) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	return BuildPacket(src, dst, protoUDP, hop, u)
}
