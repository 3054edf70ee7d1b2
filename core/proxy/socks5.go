package proxy

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// RFC 1928 constants.
const (
	socksVersion = 0x05

	methodNoAuth       = 0x00 // 3: NO AUTHENTICATION REQUIRED
	methodNoAcceptable = 0xFF // 3: NO ACCEPTABLE METHODS

	cmdConnect = 0x01 // 4: CONNECT (BIND 0x02 and UDP ASSOCIATE 0x03 are refused)

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	// 6: reply field.
	repSucceeded          = 0x00
	repGeneralFailure     = 0x01
	repNetUnreachable     = 0x03
	repHostUnreachable    = 0x04
	repConnRefused        = 0x05
	repCmdNotSupported    = 0x07
	repAddrTypeNotSupport = 0x08
)

// serveSOCKS runs one SOCKS5 client (RFC 1928): method negotiation (only
// "no authentication"), one request, then the relay. A truncated or
// malformed message closes the connection without a reply.
func (s *Server) serveSOCKS(c net.Conn) {
	client := c.RemoteAddr().String()
	// 3: VER, NMETHODS, METHODS.
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != socksVersion {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return
	}
	ok := false
	for _, m := range methods {
		ok = ok || m == methodNoAuth
	}
	if !ok {
		c.Write([]byte{socksVersion, methodNoAcceptable})
		s.log.Debug("proxy: socks5 client offers no method without a password; refused", "client", client)
		return
	}
	if _, err := c.Write([]byte{socksVersion, methodNoAuth}); err != nil {
		return
	}

	// 4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || req[0] != socksVersion {
		return
	}
	var host string
	switch req[3] {
	case atypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(c, a[:]); err != nil {
			return
		}
		host = netip.AddrFrom4(a).String()
	case atypDomain:
		var n [1]byte
		if _, err := io.ReadFull(c, n[:]); err != nil || n[0] == 0 {
			return
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(c, name); err != nil {
			return
		}
		host = string(name)
	case atypIPv6:
		// The tunnel carries IPv4 only (IPCP).
		s.socksReply(c, repAddrTypeNotSupport, nil)
		s.log.Debug("proxy: socks5 IPv6 destination refused: the VPN carries IPv4 only", "client", client)
		return
	default:
		s.socksReply(c, repAddrTypeNotSupport, nil)
		return
	}
	var p [2]byte
	if _, err := io.ReadFull(c, p[:]); err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(p[:]))))
	// The request is in: from here the dial's own timeout bounds the
	// wait, and the reply must go out even after a dial that took longer
	// than the handshake may.
	c.SetDeadline(time.Time{})
	if req[1] != cmdConnect {
		s.socksReply(c, repCmdNotSupported, nil)
		s.log.Debug("proxy: socks5 command not supported", "client", client, "cmd", req[1])
		return
	}

	up, err := s.dial(s.ctx, "tcp", target)
	if err != nil {
		f := classify(target, err)
		s.socksReply(c, f.socks, nil)
		s.log.Debug("proxy: socks5 connect failed", "target", target, "reply", f.socks, "why", f.msg, "err", err)
		return
	}
	if !s.track(up, true) {
		up.Close()
		return
	}
	defer s.track(up, false)
	if err := s.socksReply(c, repSucceeded, up.LocalAddr()); err != nil {
		up.Close()
		return
	}
	s.log.Debug("proxy: socks5 connect", "target", target)
	relay(c, up)
}

// socksReply writes a reply (RFC 1928 6) with BND.ADDR/BND.PORT from
// bound, or 0.0.0.0:0.
func (s *Server) socksReply(c net.Conn, rep byte, bound net.Addr) error {
	b := []byte{socksVersion, rep, 0, atypIPv4, 0, 0, 0, 0, 0, 0}
	if ta, ok := bound.(*net.TCPAddr); ok {
		if ap := ta.AddrPort(); ap.Addr().Unmap().Is4() {
			a := ap.Addr().Unmap().As4()
			copy(b[4:8], a[:])
			binary.BigEndian.PutUint16(b[8:], ap.Port())
		}
	}
	_, err := c.Write(b)
	return err
}
