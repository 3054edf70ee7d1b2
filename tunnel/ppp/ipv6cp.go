package ppp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPV6CP configuration option types (RFC 5072 section 4).
const (
	ipv6cpOptIID         = 1 // Interface-Identifier, RFC 5072 4.1
	ipv6cpOptCompression = 2 // IPv6-Compression-Protocol, RFC 5072 4.2
	ipv6cpIIDLen         = 8
)

// IPv6Info is what IPV6CP negotiated: the two interface identifiers and
// the link-local addresses made of them (RFC 5072 section 5: fe80::/64
// followed by the identifier).
type IPv6Info struct {
	LocalIID uint64
	PeerIID  uint64     // 0 if the server sent no Interface-Identifier
	Local    netip.Addr // fe80::LocalIID
	Peer     netip.Addr // fe80::PeerIID; invalid when PeerIID is 0
}

func (i IPv6Info) String() string {
	s := i.Local.String()
	if i.Peer.IsValid() {
		s += " peer " + i.Peer.String()
	}
	return s
}

// LinkLocal is the IPv6 link-local address fe80::iid (RFC 5072 section 5,
// RFC 4291 2.5.6).
func LinkLocal(iid uint64) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	binary.BigEndian.PutUint64(a[8:], iid)
	return netip.AddrFrom16(a)
}

// ipv6cp is the IPv6 Control Protocol layer (RFC 5072). It negotiates
// only the Interface-Identifier; header compression is rejected.
type ipv6cp struct {
	link *Link

	local    uint64 // our identifier, never 0
	peer     uint64 // the peer's, as we acknowledged it
	seen     uint64 // the latest non-zero one the peer asked for
	naksRcvd int
	maxNaks  int
	buf      []byte
}

func newIPv6CP(l *Link) *ipv6cp {
	c := &ipv6cp{link: l, maxNaks: 10}
	c.local = c.randomIID(0)
	return c
}

// randomIID returns a random identifier that is neither 0 nor avoid.
// RFC 5072 4.1: with no IEEE identifier at hand, a random number is
// recommended, and its "u" (universal/local) bit MUST be zero.
func (c *ipv6cp) randomIID(avoid uint64) uint64 {
	var b [8]byte
	for range 64 {
		if _, err := c.link.cfg.Rand.Read(b[:]); err != nil {
			break
		}
		b[0] &^= 0x02 // the "u" bit (RFC 4291 appendix A)
		if v := binary.BigEndian.Uint64(b[:]); v != 0 && v != avoid {
			return v
		}
	}
	// A broken random source: any fixed non-zero value still works on a
	// point-to-point link as long as it differs from the peer's.
	v := uint64(0x5a5a5a5a5a5a5a5a) &^ (0x02 << 56)
	if v == avoid {
		v++
	}
	return v
}

func (c *ipv6cp) request(b []byte) []byte {
	return AppendOption(b, ipv6cpOptIID, binary.BigEndian.AppendUint64(nil, c.local))
}

// check classifies the peer's Configure-Request (RFC 1661 5.1-5.4, RFC
// 5072 4.1): an Interface-Identifier that is 0 or equal to ours gets a
// Configure-Nak suggesting a different, non-zero one (a Reject once
// Max-Failure Naks have gone unheeded, RFC 1661 4.6); header compression
// and unknown options are rejected.
func (c *ipv6cp) check(opts []Option, failuresLeft bool) (Code, []byte) {
	var rej, nak []byte
	peer := uint64(0)
	for _, o := range opts {
		if o.Type != ipv6cpOptIID || len(o.Data) != ipv6cpIIDLen {
			rej = AppendOption(rej, o.Type, o.Data)
			continue
		}
		iid := binary.BigEndian.Uint64(o.Data)
		if iid != 0 {
			c.seen = iid
		}
		if iid != 0 && iid != c.local {
			peer = iid
			continue
		}
		// RFC 5072 4.1: a zero identifier, or one equal to ours (a
		// collision), is Nak'd with a suggestion that differs from ours;
		// both zero would be Rejected, but ours is never zero.
		if !failuresLeft {
			rej = AppendOption(rej, o.Type, o.Data)
			continue
		}
		nak = AppendOption(nak, ipv6cpOptIID, binary.BigEndian.AppendUint64(nil, c.randomIID(c.local)))
	}
	if rej != nil {
		return CodeConfRej, rej
	}
	if nak != nil {
		return CodeConfNak, nak
	}
	c.peer = peer
	c.buf = c.buf[:0]
	for _, o := range opts {
		c.buf = AppendOption(c.buf, o.Type, o.Data)
	}
	return CodeConfAck, c.buf
}

func (c *ipv6cp) acked(opts []Option) {}

// nakked takes the identifier the peer suggests for us (RFC 5072 4.1)
// when it is usable: not zero and not the peer's own; otherwise we pick a
// new random one.
func (c *ipv6cp) nakked(opts []Option) {
	if c.naksRcvd++; c.naksRcvd > c.maxNaks {
		c.link.ipv6cpGiveUp(fmt.Errorf("ipv6cp: the server sent %d Configure-Naks without agreeing", c.naksRcvd))
		return
	}
	for _, o := range opts {
		if o.Type != ipv6cpOptIID {
			continue
		}
		if len(o.Data) == ipv6cpIIDLen {
			if s := binary.BigEndian.Uint64(o.Data); s != 0 && s != c.seen {
				c.local = s
				continue
			}
		}
		c.local = c.randomIID(c.seen)
	}
}

// rejected: without the Interface-Identifier there is no link-local
// address (RFC 5072 section 5), so IPV6CP ends; IPv4 is not affected.
func (c *ipv6cp) rejected(opts []Option) error {
	for _, o := range opts {
		if o.Type == ipv6cpOptIID {
			return fmt.Errorf("ipv6cp: the server rejected the Interface-Identifier option")
		}
	}
	return nil
}

func (c *ipv6cp) info() IPv6Info {
	info := IPv6Info{LocalIID: c.local, PeerIID: c.peer, Local: LinkLocal(c.local)}
	if c.peer != 0 {
		info.Peer = LinkLocal(c.peer)
	}
	return info
}

func (c *ipv6cp) up()                   { c.link.ipv6cpUp() }
func (c *ipv6cp) down()                 { c.link.ipv6cpDown() }
func (c *ipv6cp) finished(reason error) { c.link.ipv6cpFinished(reason) }
