package l2tptest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// RA is the router advertisement (RFC 4861 4.2) the server sends:
// Config.RA answers router solicitations with it, Server.SendRA sends it
// unsolicited. Nothing has a default: a zero lifetime is sent as zero
// (a withdrawal).
type RA struct {
	Managed, Other bool   // the M and O flags
	RouterLifetime uint16 // seconds; 0: not a default router
	Prefixes       []RAPrefix
	// Routes become Route Information options (RFC 4191 2.3) with
	// RouteLifetime.
	Routes        []netip.Prefix
	RouteLifetime uint32
	// RDNSS and DNSSL options (RFC 8106 5.1, 5.2) with DNSLifetime.
	RDNSS       []netip.Addr
	DNSSL       []string
	DNSLifetime uint32
	// HopLimit of the IPv6 packet; 0 means 255 (the only valid one,
	// RFC 4861 6.1.2: others test the client's check).
	HopLimit byte
}

// RAPrefix is a Prefix Information option (RFC 4861 4.6.2).
type RAPrefix struct {
	Prefix             netip.Prefix
	OnLink, Autonomous bool
	Valid, Preferred   uint32
}

// DHCPv6 scripts the server's DHCPv6 answers.
type DHCPv6 struct {
	// Addr is the IA_NA address handed out (RFC 8415 21.6) with
	// lifetimes 3600 (preferred) and 7200 s (valid); invalid: every
	// IA_NA gets status NoAddrsAvail.
	Addr netip.Addr
	// DNS and Domains: options 23 and 24 (RFC 3646) in every Advertise
	// and Reply.
	DNS     []netip.Addr
	Domains []string
	// T1 and T2 of the IA_NA (RFC 8415 21.4), in seconds; 0 means 1800
	// and 2880.
	T1, T2 uint32
}

// serverDUID is the server's DUID-LL (RFC 8415 11.4), Ethernet
// 02:00:5e:00:00:01.
var serverDUID = []byte{0, 3, 0, 1, 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}

// SendRA sends ra unsolicited, to all nodes, to the client of every
// session whose IPV6CP is open, and returns how many that was.
func (s *Server) SendRA(ra RA) (int, error) {
	n := 0
	err := s.do(func() {
		for _, t := range s.tunnels {
			for _, se := range t.sessions {
				if se.ppp.ipv6Open() {
					se.ppp.sendRA(&ra)
					n++
				}
			}
		}
	})
	return n, err
}

// serverLL is the server's link-local address.
func (p *pppServer) serverLL() netip.Addr { return ppp.LinkLocal(p.cfg.IPv6IID) }

// ipv6Control handles a router solicitation or a DHCPv6 message to port
// 547 from the client, and reports whether pkt was one.
func (p *pppServer) ipv6Control(pkt []byte) bool {
	if len(pkt) < 48 || pkt[0]>>4 != 6 {
		return false
	}
	src, dst := netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
	plen := int(binary.BigEndian.Uint16(pkt[4:]))
	bad := func(why string) bool {
		p.event(EventBadIPv6Control, why, func(st *Stats) { st.BadIPv6Control++ })
		return true
	}
	switch {
	case pkt[6] == 58 && pkt[40] == 133:
		// RFC 4861 6.1.1: hop limit 255, checksum, code 0, 8 octets.
		body := pkt[40:]
		if 40+plen != len(pkt) || plen < 8 {
			return bad("RS length")
		}
		if pkt[7] != 255 || body[1] != 0 {
			return bad("RS hop limit or code")
		}
		if sum16(src, dst, 58, body) != 0xffff {
			return bad("RS checksum")
		}
		if dst != netip.MustParseAddr("ff02::2") {
			return bad("RS destination " + dst.String())
		}
		p.event(EventRS, src.String(), func(st *Stats) { st.RSIn++ })
		if p.cfg.RA != nil {
			p.sendRA(p.cfg.RA)
		}
		return true
	case pkt[6] == 17 && binary.BigEndian.Uint16(pkt[42:]) == 547:
		u := pkt[40:]
		if 40+plen != len(pkt) || int(binary.BigEndian.Uint16(u[4:])) != plen || plen < 12 {
			return bad("DHCPv6 UDP length")
		}
		if binary.BigEndian.Uint16(u[6:]) == 0 || sum16(src, dst, 17, u) != 0xffff {
			return bad("DHCPv6 UDP checksum")
		}
		if binary.BigEndian.Uint16(u) != 546 || dst != netip.MustParseAddr("ff02::1:2") {
			return bad("DHCPv6 ports or destination")
		}
		p.dhcpv6(src, u[8:])
		return true
	}
	return false
}

// sum16 is the one's complement sum (not complemented) of the IPv6
// pseudo-header (RFC 8200 8.1) and b: 0xffff for a packet whose checksum
// is right. Written apart from package ipv6's, so each checks the other.
func sum16(src, dst netip.Addr, next byte, b []byte) uint16 {
	var words []byte
	words = append(words, src.AsSlice()...)
	words = append(words, dst.AsSlice()...)
	words = binary.BigEndian.AppendUint32(words, uint32(len(b)))
	words = append(words, 0, 0, 0, next)
	words = append(words, b...)
	if len(words)%2 == 1 {
		words = append(words, 0)
	}
	var sum uint32
	for i := 0; i < len(words); i += 2 {
		sum += uint32(words[i])<<8 | uint32(words[i+1])
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return uint16(sum)
}

// packet6 builds an IPv6 packet with the ICMPv6 (checksum at 2) or UDP
// (at 6) payload b, its checksum filled in.
func packet6(src, dst netip.Addr, next, hop byte, b []byte) []byte {
	pkt := make([]byte, 40, 40+len(b))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(b)))
	pkt[6], pkt[7] = next, hop
	copy(pkt[8:], src.AsSlice())
	copy(pkt[24:], dst.AsSlice())
	pkt = append(pkt, b...)
	off := 42
	if next == 17 {
		off = 46
	}
	pkt[off], pkt[off+1] = 0, 0
	c := ^sum16(src, dst, next, pkt[40:])
	if c == 0 && next == 17 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[off:], c)
	return pkt
}

// sendRA sends ra to all nodes (RFC 4861 6.2.6 allows it for a
// solicited one too).
func (p *pppServer) sendRA(ra *RA) {
	b := make([]byte, 16)
	b[0] = 134
	b[4] = 64 // Cur Hop Limit
	if ra.Managed {
		b[5] |= 0x80
	}
	if ra.Other {
		b[5] |= 0x40
	}
	binary.BigEndian.PutUint16(b[6:], ra.RouterLifetime)
	for _, pi := range ra.Prefixes {
		o := make([]byte, 32)
		o[0], o[1], o[2] = 3, 4, byte(pi.Prefix.Bits())
		if pi.OnLink {
			o[3] |= 0x80
		}
		if pi.Autonomous {
			o[3] |= 0x40
		}
		binary.BigEndian.PutUint32(o[4:], pi.Valid)
		binary.BigEndian.PutUint32(o[8:], pi.Preferred)
		copy(o[16:], pi.Prefix.Addr().AsSlice())
		b = append(b, o...)
	}
	for _, r := range ra.Routes {
		// RFC 4191 2.3: the shortest length that holds the prefix.
		n := 1
		switch {
		case r.Bits() > 64:
			n = 3
		case r.Bits() > 0:
			n = 2
		}
		o := make([]byte, 8*n)
		o[0], o[1], o[2] = 24, byte(n), byte(r.Bits())
		binary.BigEndian.PutUint32(o[4:], ra.RouteLifetime)
		a := r.Addr().As16()
		copy(o[8:], a[:8*n-8])
		b = append(b, o...)
	}
	if len(ra.RDNSS) > 0 {
		o := []byte{25, byte(1 + 2*len(ra.RDNSS)), 0, 0}
		o = binary.BigEndian.AppendUint32(o, ra.DNSLifetime)
		for _, a := range ra.RDNSS {
			o = append(o, a.AsSlice()...)
		}
		b = append(b, o...)
	}
	if len(ra.DNSSL) > 0 {
		o := []byte{31, 0, 0, 0}
		o = binary.BigEndian.AppendUint32(o, ra.DNSLifetime)
		for _, d := range ra.DNSSL {
			o = appendDNSName(o, d)
		}
		for len(o)%8 != 0 {
			o = append(o, 0)
		}
		o[1] = byte(len(o) / 8)
		b = append(b, o...)
	}
	hop := ra.HopLimit
	if hop == 0 {
		hop = 255
	}
	p.se.sendIPv6Control(packet6(p.serverLL(), netip.MustParseAddr("ff02::1"), 58, hop, b))
	p.se.t.s.count(func(st *Stats) { st.RAOut++ })
}

func appendDNSName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

var dhcpTypeNames = map[byte]string{1: "Solicit", 2: "Advertise", 3: "Request", 4: "Confirm",
	5: "Renew", 6: "Rebind", 7: "Reply", 8: "Release", 9: "Decline", 11: "Information-Request"}

// dhcpv6 answers one client message m from src (RFC 8415 18.3).
func (p *pppServer) dhcpv6(src netip.Addr, m []byte) {
	if len(m) < 4 {
		p.event(EventBadIPv6Control, "DHCPv6 message too short", func(st *Stats) { st.BadIPv6Control++ })
		return
	}
	opts := map[uint16][]byte{}
	if !dhcpWalk(m[4:], func(code uint16, v []byte) {
		if _, dup := opts[code]; !dup {
			opts[code] = v
		}
	}) {
		p.event(EventBadIPv6Control, "DHCPv6 option past the end", func(st *Stats) { st.BadIPv6Control++ })
		return
	}
	name := dhcpTypeNames[m[0]]
	if name == "" {
		name = fmt.Sprint(m[0])
	}
	// RFC 8415 16: every client message here carries Client Identifier
	// and Elapsed Time; Request a Server Identifier too.
	cid, hasCID := opts[1]
	_, hasElapsed := opts[8]
	if !hasCID || !hasElapsed || len(cid) < 2 {
		p.event(EventBadIPv6Control, name+" without Client Identifier or Elapsed Time", func(st *Stats) { st.BadIPv6Control++ })
		return
	}
	detail := name
	if m[0] == 8 { // Release: which addresses (RFC 8415 18.2.7)
		detail += " " + strings.Join(iaAddrs(opts[3]), ",")
	}
	p.event(EventDHCPv6, detail, func(st *Stats) { st.DHCPv6In++ })
	d := p.cfg.DHCPv6
	if d == nil {
		return
	}
	var reply byte
	switch m[0] {
	case 1:
		reply = 2
	case 3, 5: // Request, Renew
		if sid, ok := opts[2]; !ok || string(sid) != string(serverDUID) {
			return // RFC 8415 16.4, 16.6: not for this server
		}
		reply = 7
	case 6, 11: // Rebind, Information-Request
		reply = 7
	case 8: // Release: a Reply with Success, nothing else (RFC 8415 18.3.7)
		if sid, ok := opts[2]; !ok || string(sid) != string(serverDUID) {
			return
		}
		r := []byte{7, m[1], m[2], m[3]}
		r = dhcpOpt(r, 1, cid)
		r = dhcpOpt(r, 2, serverDUID)
		r = dhcpOpt(r, 13, append([]byte{0, 0}, "released"...))
		p.sendDHCPv6(src, r)
		return
	default:
		return
	}
	r := []byte{reply, m[1], m[2], m[3]}
	r = dhcpOpt(r, 1, cid)
	r = dhcpOpt(r, 2, serverDUID)
	if ia, ok := opts[3]; ok && m[0] != 11 && len(ia) >= 12 {
		v := append([]byte(nil), ia[:4]...) // IAID
		t1, t2 := d.T1, d.T2
		if t1 == 0 {
			t1 = 1800
		}
		if t2 == 0 {
			t2 = 2880
		}
		v = binary.BigEndian.AppendUint32(v, t1)
		v = binary.BigEndian.AppendUint32(v, t2)
		if d.Addr.IsValid() {
			a := d.Addr.AsSlice()
			a = binary.BigEndian.AppendUint32(a, 3600)
			a = binary.BigEndian.AppendUint32(a, 7200)
			v = dhcpOpt(v, 5, a)
		} else {
			v = dhcpOpt(v, 13, append([]byte{0, 2}, "no addresses"...)) // NoAddrsAvail
		}
		r = dhcpOpt(r, 3, v)
	}
	if len(d.DNS) > 0 {
		var v []byte
		for _, a := range d.DNS {
			v = append(v, a.AsSlice()...)
		}
		r = dhcpOpt(r, 23, v)
	}
	if len(d.Domains) > 0 {
		var v []byte
		for _, n := range d.Domains {
			v = appendDNSName(v, n)
		}
		r = dhcpOpt(r, 24, v)
	}
	p.sendDHCPv6(src, r)
}

// sendDHCPv6 sends the server message r to the client at dst.
func (p *pppServer) sendDHCPv6(dst netip.Addr, r []byte) {
	u := make([]byte, 8, 8+len(r))
	binary.BigEndian.PutUint16(u, 547)
	binary.BigEndian.PutUint16(u[2:], 546)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(r)))
	u = append(u, r...)
	p.se.sendIPv6Control(packet6(p.serverLL(), dst, 17, 255, u))
	p.se.t.s.count(func(st *Stats) { st.DHCPv6Out++ })
}

// iaAddrs lists the IA Address options (5) of an IA_NA option's value.
func iaAddrs(ia []byte) []string {
	var out []string
	if len(ia) >= 12 {
		dhcpWalk(ia[12:], func(code uint16, v []byte) {
			if code == 5 && len(v) >= 24 {
				out = append(out, netip.AddrFrom16([16]byte(v[:16])).String())
			}
		})
	}
	return out
}

// dhcpWalk calls f with each DHCPv6 option of b (RFC 8415 21.1) and
// reports whether every one fits in b; it stops at one that does not.
func dhcpWalk(b []byte, f func(code uint16, v []byte)) bool {
	for len(b) > 0 {
		if len(b) < 4 || 4+int(binary.BigEndian.Uint16(b[2:])) > len(b) {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		f(binary.BigEndian.Uint16(b), b[4:4+n])
		b = b[4+n:]
	}
	return true
}

func dhcpOpt(b []byte, code uint16, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}
