// Command benchpeer is the fast benchmark peer of build/bench-e2e.sh: the
// server side of L2TP/IPsec for one client, with a data plane that is not
// the bottleneck. It is a bench tool only, never part of the shipped
// binary, and shares the tunnel packages with the client, so it is no
// independent interoperability check (SoftEther and the other servers
// stay that).
//
// What it does, in the order a connection meets it:
//
//	IKE (UDP 500, then 4500)  ike.Responder: Main Mode PSK, Quick Mode,
//	                          RFC 3947 NAT-T, R-U-THERE; -esp picks the
//	                          one ESP suite it accepts
//	L2TP control, PPP         l2tptest.Server over its in-memory
//	  (LCP, MS-CHAPv2, IPCP)  transport: the peer only carries its
//	                          datagrams in and out of ESP
//	IPv4 data                 the peer's own fast path, both directions,
//	                          between UDP 4500 and a TUN device of its own
//	IPv6 data (-ipv6-ra)      the same fast path: packets to a global
//	                          address go to the TUN (which holds the
//	                          prefix's ::1, the router's address), those
//	                          to multicast and link-local addresses
//	                          (router solicitations, DHCPv6) to the
//	                          l2tptest server, which answers them
//
// The two data directions, one goroutine each, batched on both sides and
// without allocations per packet:
//
//	client -> TUN   recvmmsg (mmsg.go: 128 datagrams into 64 KiB
//	                buffers); NAT keepalives dropped, IKE to
//	                the Responder; esp.SA.Open in place; inner UDP, L2TP
//	                data header, PPP IPv4 frame parsed where they lie;
//	                the IPv4 packets written with one tun.Device.Write
//	                (wireguard-go's, with virtio-net offloads: it
//	                coalesces TCP segments into super-packets, GRO, using
//	                the room behind each packet in its 64 KiB buffer).
//	                IPv6 (with -ipv6-ra) likewise, but for multicast and
//	                link-local destinations.
//	                Anything else (L2TP control, LCP, IPCP, auth) is
//	                copied to the l2tptest server.
//	TUN -> client   tun.Device.Read (TSO super-packets split into MTU-sized
//	                segments, up to 128 per read), each at offset 64: the
//	                PPP header, L2TP data header and inner UDP header
//	                written in front in place, esp.SA.Seal in place, the
//	                batch sent with sendmmsg (mmsg.go).
//	l2tptest -> client  one goroutine: each datagram of the server sealed
//	                and sent on its own (control traffic, a few per second).
//
// Usage (root, in the server's network namespace):
//
//	benchpeer -listen 10.231.0.1 -psk-file F -user U -password-file F \
//	  -esp gcm|cbc -tun cbepeer0 -mtu 1400 -local 10.233.0.1 -client 10.233.0.2 [-dns 10.233.0.53]
//	  [-ipv6-ra 2001:db8:1::/64 [-dhcpv6 2001:db8:1::100] [-ipv6-dns 2001:db8::53]
//	   [-ipv6-route 2001:db8:77::/48] [-ipv6-domain corp.example]]
//
// With -ipv6-ra the TUN also gets PREFIX::1/64 (2001:db8:1::1 above), the
// router's address inside the tunnel, and IPv6 is forwarded both ways.
//
// It prints "ready" when it listens and "esp: ..." when the SA pair is up;
// on SIGINT/SIGTERM it prints its counters to stderr and exits. With
// -ipv6-ra, SIGUSR1 withdraws the default route (an advertisement with
// router lifetime 0) and SIGUSR2 advertises it again (readvertise).
//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

const (
	batchSize = conn.IdealBatchSize
	// rxBufSize: a whole datagram, and room behind each IPv4 packet for
	// the TUN's GRO to coalesce the following segments into it.
	rxBufSize = 65536
	// tunOffset is the room the TUN's Write needs in front of a packet
	// (its virtio-net header, 10 bytes), rounded up.
	tunOffset = 16
	// txOffset is where the TUN reader puts each packet: room for the ESP
	// header and IV, inner UDP, L2TP data and PPP headers in front.
	txOffset  = 64
	txBufSize = 2048
	// udpHeaderLen is the inner UDP header of L2TP in transport mode.
	udpHeaderLen = 8
	// ipv6HeaderLen is the fixed IPv6 header (RFC 8200 section 3).
	ipv6HeaderLen = 40
	ipProtoUDP    = 17
	l2tpPort      = 1701
)

// counters are read at exit.
type counters struct {
	espIn, espBad, ipToTUN, toLNS, tunWriteErr atomic.Uint64
	ipFromTUN, espOut, sendErr, noSession      atomic.Uint64
	ikeIn, keepalives                          atomic.Uint64
	ip6ToTUN, ip6FromTUN                       atomic.Uint64 // of ipToTUN and ipFromTUN
}

type peer struct {
	tun   tun.Device
	natt  *net.UDPConn
	mc    *mmsgConn
	resp  *ike.Responder
	lns   l2tp.Transport
	child atomic.Pointer[ike.Child]
	dst   atomic.Pointer[netip.AddrPort] // the client's NAT-T address
	ids   atomic.Uint32                  // the client's tunnel ID << 16 | session ID; 0 until known
	ikeMu sync.Mutex                     // one IKE message at a time across both sockets
	v6    bool                           // forward IPv6 (-ipv6-ra)
	c     counters
	logf  func(format string, a ...any)
}

func main() {
	listen := flag.String("listen", "", "IPv4 address to bind UDP 500 and 4500 on (required)")
	pskFile := flag.String("psk-file", "", "file with the IPsec pre-shared key (required)")
	user := flag.String("user", "bench", "PPP user name accepted")
	pwFile := flag.String("password-file", "", "file with the PPP password (required)")
	espName := flag.String("esp", "gcm", "the ESP suite accepted: gcm (AES-128-GCM-16) or cbc (AES-128-CBC/HMAC-SHA1-96)")
	auth := flag.String("auth", l2tptest.AuthMSCHAPv2, "PPP authentication asked for: mschapv2, pap, chap-md5")
	tunName := flag.String("tun", "cbepeer0", "TUN device name")
	mtu := flag.Int("mtu", 1400, "TUN device MTU")
	localIP := flag.String("local", "10.233.0.1", "the peer's address inside the tunnel (IPCP, the TUN's local address)")
	clientIP := flag.String("client", "10.233.0.2", "the address IPCP assigns the client (the TUN's peer address)")
	dns4 := flag.String("dns", "", "an IPv4 DNS server IPCP hands out (RFC 1877); none without it")
	verbose := flag.Bool("v", false, "log IKE errors and events")
	ipv6RA := flag.String("ipv6-ra", "", "negotiate IPV6CP and answer router solicitations with an advertisement of this /64 prefix (flags A and L, router lifetime 1800 s); the TUN gets the prefix's ::1/64 and IPv6 data is forwarded")
	dhcpv6 := flag.String("dhcpv6", "", "with -ipv6-ra: set the advertisement's M flag and answer DHCPv6 with this IA_NA address")
	ipv6DNS := flag.String("ipv6-dns", "", "with -ipv6-ra: a DNS server for the advertisement's RDNSS option and DHCPv6")
	ipv6Routes := flag.String("ipv6-route", "", "with -ipv6-ra: comma-separated IPv6 prefixes for the advertisement's Route Information options (RFC 4191), lifetime 1800 s")
	ipv6Domains := flag.String("ipv6-domain", "", "with -ipv6-ra: comma-separated search domains for the advertisement's DNSSL option (RFC 8106) and DHCPv6")
	flag.Parse()

	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "benchpeer: "+format+"\n", a...)
		os.Exit(1)
	}
	la, err := netip.ParseAddr(*listen)
	if err != nil || !la.Is4() {
		fail("-listen: want an IPv4 address, got %q", *listen)
	}
	local, err1 := netip.ParseAddr(*localIP)
	client, err2 := netip.ParseAddr(*clientIP)
	if err1 != nil || err2 != nil || !local.Is4() || !client.Is4() {
		fail("-local, -client: want IPv4 addresses")
	}
	readSecret := func(name, what string) string {
		if name == "" {
			fail("%s is required", what)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			fail("%s: %v", what, err)
		}
		return strings.TrimRight(string(b), "\r\n")
	}
	psk := readSecret(*pskFile, "-psk-file")
	password := readSecret(*pwFile, "-password-file")
	var suite ike.ESPSuite
	switch *espName {
	case "gcm":
		suite = ike.ESPSuite{Suite: esp.AESGCM16, KeyLen: 16}
	case "cbc":
		suite = ike.ESPSuite{Suite: esp.AESCBC_HMACSHA1, KeyLen: 16}
	default:
		fail("-esp: want gcm or cbc, got %q", *espName)
	}

	p := &peer{logf: func(string, ...any) {}}
	if *verbose {
		p.logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, "benchpeer: "+format+"\n", a...) }
	}
	p.resp = &ike.Responder{PSK: []byte(psk), ESP: []ike.ESPSuite{suite}, Local: la}

	scfg := l2tptest.Config{User: *user, Password: password, Auth: *auth,
		Address: client, PeerAddress: local, HostName: "benchpeer"}
	if *dns4 != "" {
		a, err := netip.ParseAddr(*dns4)
		if err != nil || !a.Is4() {
			fail("-dns: want an IPv4 address, got %q", *dns4)
		}
		scfg.DNS = []netip.Addr{a}
	}
	router6, err := ipv6Config(&scfg, *ipv6RA, *dhcpv6, *ipv6DNS)
	if err == nil {
		err = ipv6Extras(&scfg, *ipv6Routes, *ipv6Domains)
	}
	if err != nil {
		fail("%v", err)
	}
	p.v6 = router6.IsValid()

	dev, err := tun.CreateTUN(*tunName, *mtu)
	if err != nil {
		fail("TUN %s: %v", *tunName, err)
	}
	p.tun = dev
	name, _ := dev.Name()
	cmds := [][]string{{"addr", "add", local.String(), "peer", client.String() + "/32", "dev", name}}
	if p.v6 {
		// The router's address, and the prefix routed to the TUN; no
		// link-local address of the kernel's own (no router
		// solicitations or MLD reports of its own into the tunnel).
		cmds = append(cmds, []string{"link", "set", name, "addrgenmode", "none"},
			[]string{"-6", "addr", "add", router6.String(), "dev", name, "nodad"})
	} else {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
	}
	cmds = append(cmds, []string{"link", "set", name, "up"})
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			fail("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}

	if scfg.DHCPv6 != nil {
		// Each DHCPv6 message from the client, a line (tests read them:
		// "dhcpv6: Release 2001:db8:6::100" at disconnect).
		scfg.OnEvent = func(e l2tptest.Event) {
			if e.Kind == l2tptest.EventDHCPv6 {
				fmt.Fprintf(os.Stderr, "benchpeer: dhcpv6: %s\n", e.Detail)
			}
		}
	}
	srv := l2tptest.NewServer(scfg)
	p.lns = srv.Transport()

	ikeConn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(la, 500)))
	if err != nil {
		fail("UDP 500: %v", err)
	}
	p.natt, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(la, 4500)))
	if err != nil {
		fail("UDP 4500: %v", err)
	}
	bigBuffers(p.natt, 8<<20)
	if p.mc, err = newMmsgConn(p.natt, batchSize); err != nil {
		fail("UDP 4500: %v", err)
	}

	go p.serveIKE(ikeConn)
	go p.fromClient()
	go p.fromTUN()
	go p.fromLNS()
	fmt.Printf("ready: IKE on %v:500 and :4500, ESP %v, TUN %s (MTU %d, BatchSize %d)\n", la, suite, name, *mtu, dev.BatchSize())

	if scfg.RA != nil {
		go readvertise(srv, *scfg.RA)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c := &p.c
	fmt.Fprintf(os.Stderr, "benchpeer: in: esp %d (bad %d) ip->tun %d (IPv6 %d; write errors %d) ->lns %d; out: ip<-tun %d (IPv6 %d) esp %d (send errors %d, before the session %d); ike %d keepalives %d\n",
		c.espIn.Load(), c.espBad.Load(), c.ipToTUN.Load(), c.ip6ToTUN.Load(), c.tunWriteErr.Load(), c.toLNS.Load(),
		c.ipFromTUN.Load(), c.ip6FromTUN.Load(), c.espOut.Load(), c.sendErr.Load(), c.noSession.Load(), c.ikeIn.Load(), c.keepalives.Load())
	ikeConn.Close()
	p.natt.Close()
	dev.Close()
	p.lns.Close()
	srv.Close()
}

// bigBuffers raises the socket's buffers past the sysctl limits (root):
// bursts of a batch must not overflow them.
func bigBuffers(c *net.UDPConn, n int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, n)
	})
}

func (p *peer) serveIKE(c *net.UDPConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.handleIKE(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), false, c)
	}
}

// handleIKE passes one IKE message to the Responder and sends its answers
// from socket c; a new SA pair replaces the old one.
func (p *peer) handleIKE(msg []byte, from netip.AddrPort, floated bool, c *net.UDPConn) {
	p.ikeMu.Lock()
	defer p.ikeMu.Unlock()
	p.c.ikeIn.Add(1)
	replies, ch, err := p.resp.Handle(msg, from, floated)
	if err != nil {
		p.logf("ike: %v", err)
	}
	for _, m := range replies {
		if floated {
			m = append(make([]byte, 4), m...) // non-ESP marker (RFC 3948 2.2)
		}
		c.WriteToUDPAddrPort(m, from)
	}
	if ch != nil {
		dst := ch.Client
		p.dst.Store(&dst)
		p.child.Store(ch)
		fmt.Printf("esp: %v in %08x out %08x client %v\n", ch.Suite, ch.In.SPI(), ch.Out.SPI(), ch.Client)
	}
}

// fromClient is the client -> TUN direction (and IKE on port 4500).
func (p *peer) fromClient() {
	bufs := make([][]byte, batchSize)
	for i := range bufs {
		bufs[i] = make([]byte, rxBufSize)
	}
	sizes := make([]int, batchSize)
	from := make([]netip.AddrPort, batchSize)
	out := make([][]byte, 0, batchSize)
	for {
		n, err := p.mc.ReadBatch(bufs, sizes, from)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ch := p.child.Load()
		out = out[:0]
		for i := range n {
			buf := bufs[i]
			b := buf[:sizes[i]]
			switch {
			case len(b) == 1 && b[0] == 0xff:
				p.c.keepalives.Add(1) // RFC 3948 2.3
				continue
			case len(b) >= 4 && b[0]|b[1]|b[2]|b[3] == 0:
				p.handleIKE(b[4:], from[i], true, p.natt)
				ch = p.child.Load() // QM3 and the first ESP may share a batch
				continue
			}
			p.c.espIn.Add(1)
			if ch == nil {
				p.c.espBad.Add(1)
				continue
			}
			if spi, ok := esp.PeekSPI(b); !ok || spi != ch.In.SPI() {
				p.c.espBad.Add(1)
				continue
			}
			off, end, next, err := ch.In.Open(b, 0, len(b))
			if err != nil || next != ipProtoUDP || end-off < udpHeaderLen {
				p.c.espBad.Add(1)
				continue
			}
			l := b[off+udpHeaderLen : end] // the L2TP datagram
			h, hoff, hend, err := l2tp.ParseHeader(l)
			if err != nil {
				p.c.espBad.Add(1)
				continue
			}
			if !h.Control {
				proto, pkt, err := ppp.ParseFrame(l[hoff:hend])
				v6 := err == nil && p.v6 && proto == ppp.ProtoIPv6 && forward6(pkt)
				if err == nil && (proto == ppp.ProtoIPv4 && len(pkt) >= 20 || v6) {
					ipEnd := off + udpHeaderLen + hend
					ipStart := ipEnd - len(pkt)
					out = append(out, buf[ipStart-tunOffset:ipEnd])
					if v6 {
						p.c.ip6ToTUN.Add(1)
					}
					continue
				}
			}
			p.c.toLNS.Add(1)
			p.lns.WritePacket(l[:hend], 0) // copies
		}
		if len(out) > 0 {
			p.c.ipToTUN.Add(uint64(len(out)))
			if _, err := p.tun.Write(out, tunOffset); err != nil {
				p.c.tunWriteErr.Add(1)
			}
		}
	}
}

// fromTUN is the TUN -> client direction.
func (p *peer) fromTUN() {
	bs := p.tun.BatchSize()
	bufs := make([][]byte, bs)
	sizes := make([]int, bs)
	for i := range bufs {
		bufs[i] = make([]byte, txBufSize)
	}
	pkts := make([][]byte, bs)
	for {
		n, err := p.tun.Read(bufs, sizes, txOffset)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		ch, dst, ids := p.child.Load(), p.dst.Load(), p.ids.Load()
		if ch == nil || ids == 0 {
			p.c.noSession.Add(uint64(n))
			continue
		}
		tid, sid := uint16(ids>>16), uint16(ids)
		k := 0
		for i := range n {
			b, end := bufs[i], txOffset+sizes[i]
			proto := ppp.ProtoIPv4
			switch {
			case sizes[i] >= 20 && b[txOffset]>>4 == 4:
			case p.v6 && sizes[i] >= ipv6HeaderLen && b[txOffset]>>4 == 6:
				proto = ppp.ProtoIPv6
				p.c.ip6FromTUN.Add(1)
			default:
				continue
			}
			// PPP frame, L2TP data header, inner UDP header, in front.
			start := txOffset - ppp.FrameHeaderLen - l2tp.DataHeaderLen - udpHeaderLen
			u := b[start:]
			binary.BigEndian.PutUint16(u[0:], l2tpPort)
			binary.BigEndian.PutUint16(u[2:], l2tpPort)
			binary.BigEndian.PutUint16(u[4:], uint16(end-start))
			u[6], u[7] = 0, 0
			l2tp.PutDataHeader(u[udpHeaderLen:], tid, sid)
			ppp.PutFrameHeader(u[udpHeaderLen+l2tp.DataHeaderLen:], proto)
			s, e, err := ch.Out.Seal(b[:end], start, end, ipProtoUDP)
			if err != nil {
				p.c.sendErr.Add(1)
				continue
			}
			pkts[k] = b[s:e]
			k++
		}
		p.c.ipFromTUN.Add(uint64(n))
		if err := p.mc.WriteBatch(pkts[:k], *dst); err != nil {
			p.c.sendErr.Add(1)
		}
		p.c.espOut.Add(uint64(k))
	}
}

// fromLNS carries the l2tptest server's datagrams (L2TP control, PPP
// negotiation and echoes) to the client, and learns the client's tunnel
// and session IDs from the first data message.
func (p *peer) fromLNS() {
	buf := make([]byte, txBufSize)
	const hr = txOffset
	for {
		_, n, err := p.lns.ReadPacket(buf[hr : txBufSize-64])
		if err != nil {
			return
		}
		l := buf[hr : hr+n]
		if h, _, _, err := l2tp.ParseHeader(l); err == nil && !h.Control && h.SessionID != 0 {
			p.ids.Store(uint32(h.TunnelID)<<16 | uint32(h.SessionID))
		}
		ch, dst := p.child.Load(), p.dst.Load()
		if ch == nil {
			continue
		}
		start := hr - udpHeaderLen
		u := buf[start:hr]
		binary.BigEndian.PutUint16(u[0:], l2tpPort)
		binary.BigEndian.PutUint16(u[2:], l2tpPort)
		binary.BigEndian.PutUint16(u[4:], uint16(udpHeaderLen+n))
		u[6], u[7] = 0, 0
		s, e, err := ch.Out.Seal(buf[:hr+n], start, hr+n, ipProtoUDP)
		if err != nil {
			continue
		}
		if _, err := p.natt.WriteToUDPAddrPort(buf[s:e], *dst); err != nil {
			p.c.sendErr.Add(1)
		}
	}
}

// readvertise sends unsolicited router advertisements (RFC 4861 6.2.4) to
// the client on signals, for tests of a changing offer: SIGUSR1 withdraws
// the default route (router lifetime 0, RFC 4861 6.3.4: no longer a
// default router; the prefixes stay), SIGUSR2 advertises ra again. Each
// prints "ra: ..." on stdout once sent.
func readvertise(srv *l2tptest.Server, ra l2tptest.RA) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	for s := range sig {
		send := ra
		if s == syscall.SIGUSR1 {
			send.RouterLifetime = 0
		}
		n, err := srv.SendRA(send)
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchpeer: router advertisement: %v\n", err)
			continue
		}
		fmt.Printf("ra: router lifetime %d sent to %d sessions\n", send.RouterLifetime, n)
	}
}

// forward6 reports whether an IPv6 packet from the client goes to the TUN:
// one to a global address. Those to multicast addresses (router
// solicitations to ff02::2, DHCPv6 to ff02::1:2, RFC 8415 section 7.1) and
// to link-local ones go to the l2tptest server, which answers the
// autoconfiguration and drops the rest.
func forward6(pkt []byte) bool {
	if len(pkt) < ipv6HeaderLen || pkt[0]>>4 != 6 {
		return false
	}
	dst := netip.AddrFrom16([16]byte(pkt[24:40]))
	return !dst.IsMulticast() && !dst.IsLinkLocalUnicast() && !dst.IsUnspecified() && !dst.IsLoopback()
}

// ipv6Config sets up the l2tptest server's IPV6CP, router advertisement
// and DHCPv6 from the -ipv6-ra, -dhcpv6 and -ipv6-dns flags, and returns
// the router's address for the TUN: the prefix's ::1/64 (invalid without
// -ipv6-ra). The l2tptest server answers router solicitations and DHCPv6;
// the rest of IPv6 takes the fast path to and from the TUN (forward6).
func ipv6Config(c *l2tptest.Config, prefix, dhcpAddr, dns string) (netip.Prefix, error) {
	if prefix == "" {
		if dhcpAddr != "" || dns != "" {
			return netip.Prefix{}, errors.New("-dhcpv6 and -ipv6-dns need -ipv6-ra")
		}
		return netip.Prefix{}, nil
	}
	pfx, err := netip.ParsePrefix(prefix)
	if err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() || pfx.Bits() != 64 {
		return netip.Prefix{}, fmt.Errorf("-ipv6-ra %q: want an IPv6 /64 prefix", prefix)
	}
	router := netip.PrefixFrom(pfx.Masked().Addr().Next(), 64)
	c.IPv6 = true
	c.RA = &l2tptest.RA{RouterLifetime: 1800,
		Prefixes: []l2tptest.RAPrefix{{Prefix: pfx.Masked(), OnLink: true, Autonomous: true, Valid: 86400, Preferred: 14400}}}
	var servers []netip.Addr
	if dns != "" {
		a, err := netip.ParseAddr(dns)
		if err != nil || !a.Is6() {
			return netip.Prefix{}, fmt.Errorf("-ipv6-dns %q: want an IPv6 address", dns)
		}
		servers = []netip.Addr{a}
		c.RA.RDNSS, c.RA.DNSLifetime = servers, 1800
	}
	if dhcpAddr != "" {
		a, err := netip.ParseAddr(dhcpAddr)
		if err != nil || !a.Is6() {
			return netip.Prefix{}, fmt.Errorf("-dhcpv6 %q: want an IPv6 address", dhcpAddr)
		}
		if a == router.Addr() {
			return netip.Prefix{}, fmt.Errorf("-dhcpv6 %q: that is the router's own address (the prefix's ::1)", dhcpAddr)
		}
		c.RA.Managed = true
		c.DHCPv6 = &l2tptest.DHCPv6{Addr: a, DNS: servers}
	}
	return router, nil
}

// ipv6Extras adds the -ipv6-route and -ipv6-domain flags to the
// advertisement (and the domains to DHCPv6) that ipv6Config set up.
func ipv6Extras(c *l2tptest.Config, routes, domains string) error {
	if routes == "" && domains == "" {
		return nil
	}
	if c.RA == nil {
		return errors.New("-ipv6-route and -ipv6-domain need -ipv6-ra")
	}
	for _, r := range strings.Split(routes, ",") {
		if r == "" {
			continue
		}
		p, err := netip.ParsePrefix(r)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("-ipv6-route %q: want IPv6 prefixes", r)
		}
		c.RA.Routes = append(c.RA.Routes, p.Masked())
		c.RA.RouteLifetime = 1800
	}
	for _, d := range strings.Split(domains, ",") {
		if d == "" {
			continue
		}
		c.RA.DNSSL = append(c.RA.DNSSL, d)
		c.RA.DNSLifetime = 1800
		if c.DHCPv6 != nil {
			c.DHCPv6.Domains = append(c.DHCPv6.Domains, d)
		}
	}
	return nil
}
