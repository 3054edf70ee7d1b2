package ppp

import (
	"fmt"
	"net/netip"
)

// IPCP configuration option types (RFC 1332 section 3, RFC 1877 section 1).
const (
	ipcpOptAddresses   = 1 // deprecated, RFC 1332 3.1
	ipcpOptCompression = 2
	ipcpOptAddress     = 3
	ipcpOptDNS1        = 129
	ipcpOptDNS2        = 131
)

// IPInfo is what IPCP negotiated.
type IPInfo struct {
	Local netip.Addr   // our address, assigned by the server
	Peer  netip.Addr   // the server's address; invalid if it sent none or 0.0.0.0
	DNS   []netip.Addr // primary then secondary, those the server gave
}

func (i IPInfo) String() string {
	s := i.Local.String()
	if len(i.DNS) > 0 {
		s += " dns"
		for _, d := range i.DNS {
			s += " " + d.String()
		}
	}
	return s
}

// ipcp is the IP Control Protocol layer (RFC 1332).
type ipcp struct {
	link *Link

	addr     netip.Addr
	dns      [2]netip.Addr
	wantDNS  [2]bool
	peer     netip.Addr
	naksRcvd int
	maxNaks  int
	buf      []byte
}

var zero4 = netip.AddrFrom4([4]byte{})

func newIPCP(l *Link, wantDNS bool) *ipcp {
	return &ipcp{link: l, addr: zero4, dns: [2]netip.Addr{zero4, zero4},
		wantDNS: [2]bool{wantDNS, wantDNS}, maxNaks: 10}
}

func dnsOpt(i int) byte {
	if i == 0 {
		return ipcpOptDNS1
	}
	return ipcpOptDNS2
}

func (c *ipcp) request(b []byte) []byte {
	a := c.addr.As4()
	b = AppendOption(b, ipcpOptAddress, a[:])
	for i := range c.dns {
		if c.wantDNS[i] {
			d := c.dns[i].As4()
			b = AppendOption(b, dnsOpt(i), d[:])
		}
	}
	return b
}

func (c *ipcp) check(opts []Option, failuresLeft bool) (Code, []byte) {
	var rej []byte
	peer := netip.Addr{}
	for _, o := range opts {
		if o.Type == ipcpOptAddress && len(o.Data) == 4 {
			// The server's own address. 0.0.0.0 would ask us to assign
			// one, which a client cannot; acknowledge and treat it as
			// unknown.
			if a := netip.AddrFrom4([4]byte(o.Data)); a != zero4 {
				peer = a
			}
			continue
		}
		// IP-Compression-Protocol (VJ), IP-Addresses, DNS requests aimed
		// at us and anything unknown: rejected (RFC 1332 3, RFC 1661 5.4).
		rej = AppendOption(rej, o.Type, o.Data)
	}
	if rej != nil {
		return CodeConfRej, rej
	}
	c.peer = peer
	c.buf = c.buf[:0]
	for _, o := range opts {
		c.buf = AppendOption(c.buf, o.Type, o.Data)
	}
	return CodeConfAck, c.buf
}

func (c *ipcp) acked(opts []Option) {
	// The Ack repeats our request, so addr and dns already hold the values.
}

func (c *ipcp) nakked(opts []Option) {
	if c.naksRcvd++; c.naksRcvd > c.maxNaks {
		c.link.fail(fmt.Errorf("ipcp: the server sent %d Configure-Naks without agreeing: %w", c.naksRcvd, ErrProtocol))
		return
	}
	for _, o := range opts {
		if len(o.Data) != 4 {
			continue
		}
		a := netip.AddrFrom4([4]byte(o.Data))
		switch o.Type {
		case ipcpOptAddress:
			c.addr = a
		case ipcpOptDNS1:
			c.dns[0] = a
		case ipcpOptDNS2:
			c.dns[1] = a
		}
	}
}

func (c *ipcp) rejected(opts []Option) error {
	for _, o := range opts {
		switch o.Type {
		case ipcpOptAddress:
			return fmt.Errorf("ipcp: the server refused to assign an IPv4 address: %w", ErrProtocol)
		case ipcpOptDNS1:
			c.wantDNS[0] = false // RFC 1877: the server has no DNS to give
		case ipcpOptDNS2:
			c.wantDNS[1] = false
		}
	}
	return nil
}

func (c *ipcp) info() IPInfo {
	info := IPInfo{Local: c.addr, Peer: c.peer}
	for i := range c.dns {
		if !c.wantDNS[i] || c.dns[i] == zero4 {
			continue
		}
		if why := unusableAddr(c.dns[i]); why != "" {
			// RFC 1877 1.1: the server's value is only a hint; one no host
			// can reach is dropped, not fatal.
			c.link.log.Debug("ipcp: dropping unusable DNS server", "addr", c.dns[i], "why", why)
			continue
		}
		info.DNS = append(info.DNS, c.dns[i])
	}
	return info
}

// unusableAddr says why a is no address for a host on the link, or "".
// RFC 6890 2.2.2 (special-purpose IPv4 addresses): 0.0.0.0/8 "this
// network" is a source only during start-up, 127.0.0.0/8 is loopback,
// 169.254.0.0/16 link-local (RFC 3927), 255.255.255.255 limited broadcast;
// 224.0.0.0/4 is multicast (RFC 5771).
func unusableAddr(a netip.Addr) string {
	switch {
	case a == zero4:
		return "an unspecified address"
	case a.Is4() && a.As4()[0] == 0:
		return "an unspecified (\"this network\") address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsMulticast():
		return "a multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	}
	return ""
}

// up checks the final addresses (RFC 1332 3.3: ours as the server
// assigned it, the server's own as it gave it) before the link carries
// IPv4. An absent server address (or 0.0.0.0, which asks us for one) is
// left unknown, as before.
func (c *ipcp) up() {
	if c.addr == zero4 {
		c.link.fail(fmt.Errorf("ipcp: the server acknowledged address 0.0.0.0 and assigned none, an unspecified address: %w",
			ErrBadAddress))
		return
	}
	if why := unusableAddr(c.addr); why != "" {
		c.link.fail(fmt.Errorf("ipcp: the server assigned %v, %s: %w", c.addr, why, ErrBadAddress))
		return
	}
	if c.peer.IsValid() {
		if why := unusableAddr(c.peer); why != "" {
			c.link.fail(fmt.Errorf("ipcp: the server gave %v as its own address, %s: %w", c.peer, why, ErrBadAddress))
			return
		}
	}
	c.link.ipcpUp()
}
func (c *ipcp) down() { c.link.ipcpDown() }
func (c *ipcp) finished(reason error) {
	if reason == nil {
		reason = fmt.Errorf("ipcp: negotiation ended: %w", ErrProtocol)
	}
	c.link.fail(reason)
}
