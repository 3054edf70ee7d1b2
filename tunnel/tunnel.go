package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corridorvpn/corridor/tunnel/ipv6"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// The outbound data path, a batch of IP packets from the TUN device to
// the UDP socket (RoutineReadFromDevice; byte offsets in each packet's
// BufSize buffer, for a packet of n bytes), every header written in place:
//
//	Device.Read (batched: the     IPv4 packet    buf[128 : 128+n]
//	  Linux device splits TSO
//	  super-packets, up to 128)
//	sendPackets                   PPP header     buf[124 : 128]   ff 03 00 21
//	                                             (00 57 for IPv6, once
//	                                             IPV6CP is open)
//	l2tp Conn.SendDataBatch       L2TP header    buf[118 : 124]
//	Transport.WritePackets (l2tp.BatchWriter), or WritePacket one by one:
//	  UDPTransport (no IPsec)     socket write   buf[118 : 128+n] each
//	  ike.Conn (ESP in UDP,       inner UDP      buf[110 : 118]
//	    RFC 3948; send.go)        ESP header, IV buf[86 : 110]    AES-CBC;
//	                                             buf[94 : 110]    AES-GCM, 3DES
//	                              padding, pad length, next header, ICV:
//	                                             buf[128+n : 128+n+t], t <= 33
//	                              numbered in order, sealed (in parallel
//	                              with 4+ cores), sent in order: sendmmsg with UDP GSO
//	                              runs of buf[86 : 128+n+t] to port 4500
//	the kernel                    UDP (8) and IPv4 (20) in front
//
// The inbound data path, datagrams from the UDP socket to the TUN device,
// on the L2TP receiving goroutine (offsets in each datagram's buffer, for
// an L2TP data header without options):
//
//	Transport.ReadPackets         recvmmsg (ike.Conn; one ReadPacket
//	  (l2tp.BatchReader)          otherwise)      buf[0 : m] each
//	  UDPTransport                L2TP at        buf[0 :]
//	  ike.Conn (receive.go)       ESP opened in place (in parallel with
//	                              4+ cores, the replay window in order):
//	                              header and IV
//	                              buf[0 : 24] (AES-CBC; [0 : 16] AES-GCM,
//	                              3DES), inner UDP buf[24 : 32], L2TP at
//	                              buf[32 :]; IKE and keepalives drop out
//	l2tp dispatch, each           L2TP header (6), our session: PPP frame
//	                              at L2TP+6 to onData
//	onData, each                  PPP header (4): an IPv4 packet (or
//	                              IPv6 once IPV6CP is open) at L2TP+10
//	                              is queued in place; other protocols go
//	                              to the PPP control goroutine
//	flushRx (l2tp OnDataEnd)      the queued packets to Device.Write in one
//	                              batch, each at a common offset (the
//	                              headers before it are the device's
//	                              headroom); the Linux device coalesces a
//	                              TCP stream's segments (GRO) into the
//	                              spare room of the first one's 64 KiB
//	                              buffer

// Device is what the tunnel needs from a TUN device: wireguard-go's
// tun.Device batch interface. bufs[i][offset:] holds packet i.
type Device interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
}

const (
	// Headroom is reserved in front of every outbound packet for the
	// headers written in place: PPP (4), L2TP (6) and the transport's
	// (l2tp.TransportHeadroom: an inner UDP header and the longest ESP
	// header and IV, 32), minHeadroom = 42 in all. It is rounded up to
	// 128, which keeps the IP header 16-byte aligned and leaves room for
	// whatever else a device puts in front of a packet.
	Headroom = 128
	// Tailroom is left behind every outbound packet for the transport's
	// trailer: l2tp.TransportTailroom, the longest ESP padding, trailer
	// and ICV.
	Tailroom = l2tp.TransportTailroom
	// BufSize is the size of a data path buffer: headroom, a packet of up
	// to MaxMTU bytes, and tailroom.
	BufSize = 2048
	// MaxMTU is the largest device MTU the buffers allow.
	MaxMTU = 1500
)

// minHeadroom is what the headers in front of an outbound packet take.
const minHeadroom = ppp.FrameHeaderLen + l2tp.DataHeaderLen + l2tp.TransportHeadroom

// Headroom and BufSize suffice (a compile error otherwise).
const (
	_ uint = Headroom - minHeadroom
	_ uint = BufSize - (Headroom + MaxMTU + Tailroom)
)

// Stage names a step of bringing the tunnel up, for progress lines.
type Stage struct {
	Kind       StageKind
	Auth       ppp.AuthMethod // StageAuth
	IP         ppp.IPInfo     // StageIPCP
	IPv6       ppp.IPv6Info   // StageIPv6CP
	IPv6Config ipv6.Config    // StageIPv6Config
	Detail     string         // StageL2TPTunnel: the server's host name
}

// StageKind enumerates stages in the order they happen.
type StageKind uint8

// Stages reported through Config.OnStage.
const (
	StageL2TPTunnel StageKind = iota + 1
	StageL2TPSession
	StageLCP
	StageAuth
	StageIPCP
	// StageAuthRetry: the server did not answer our authentication (a
	// lost CHAP Success, which SoftEther never repeats); the tunnel
	// opens a new L2TP session and starts PPP over.
	StageAuthRetry
	// StageIPv6CP: IPV6CP opened (ppp.Config.IPv6); reported after or
	// before StageIPCP, whichever NCP opens first.
	StageIPv6CP
	// StageIPv6Config: the server's router advertisement (and DHCPv6, when
	// it asks for it) gave global addresses, routes or DNS servers
	// (package ipv6); reported again whenever that configuration changes.
	StageIPv6Config
)

func (s Stage) String() string {
	switch s.Kind {
	case StageL2TPTunnel:
		return "l2tp tunnel up"
	case StageL2TPSession:
		return "l2tp session up"
	case StageLCP:
		return "ppp lcp opened"
	case StageAuth:
		return fmt.Sprintf("ppp auth ok (%v)", s.Auth)
	case StageIPCP:
		return "ipcp: " + s.IP.String()
	case StageIPv6CP:
		return "ipv6cp: " + s.IPv6.String()
	case StageIPv6Config:
		return "ipv6: " + s.IPv6Config.String()
	case StageAuthRetry:
		if s.Detail != "" {
			return "ppp: " + s.Detail + "; trying again in a new l2tp session"
		}
		return "ppp: no answer to our authentication; trying again in a new l2tp session"
	}
	return fmt.Sprintf("stage %d", s.Kind)
}

// Config configures a Tunnel. OnData and OnEvent of L2TP are set by the
// Tunnel; leave them nil.
type Config struct {
	L2TP    l2tp.Config
	PPP     ppp.Config
	OnStage func(Stage) // called from protocol goroutines; must not block
	Logger  *slog.Logger
	// IPv6 tunes the IPv6 autoconfiguration that runs once IPV6CP opens
	// (PPP.IPv6; package ipv6): router solicitation, SLAAC, DHCPv6. The
	// zero value means the RFC timings.
	IPv6 ipv6.Options
}

// Stats are the tunnel's data counters. The first six count both
// families; the IPv6 ones are the IPv6 part of them.
type Stats struct {
	TxPackets, TxBytes, RxPackets, RxBytes uint64
	TxDropped, RxDropped                   uint64

	TxPackets6, TxBytes6, RxPackets6, RxBytes6 uint64
}

// Tunnel is one L2TP session carrying one PPP link.
type Tunnel struct {
	cfg  Config
	tr   l2tp.Transport
	conn *l2tp.Conn
	link atomic.Pointer[ppp.Link] // the current PPP link; replaced on an auth retry
	log  *slog.Logger

	dev     atomic.Pointer[deviceBox]
	rx      rxQueue // owned by the L2TP receiving goroutine
	stats   struct{ txP, txB, rxP, rxB, txD, rxD, txP6, txB6, rxP6, rxB6 atomic.Uint64 }
	done    chan struct{}
	err     error
	linkUp  chan struct{} // closed when a link's IPCP first opens
	upOnce  sync.Once
	closing atomic.Bool
	linkRun atomic.Bool

	// The data path's view of the control plane, fixed at Start.
	sendData  func(buf []byte, off int) error              // l2tp Conn.SendData
	sendBatch func(bufs [][]byte, offs []int) (int, error) // l2tp Conn.SendDataBatch
	ipv4Open  func() bool                                  // ppp Link.IPv4Open
	ipv6Open  func() bool                                  // ppp Link.IPv6Open
	input     func(ppp.Protocol, []byte)                   // ppp Link.Input
	attached  sync.Once

	// v6 configures IPv6 once IPV6CP is open: started on each
	// EventIPv6CPUp, stopped when the tunnel ends or IPV6CP opens again.
	v6     atomic.Pointer[ipv6.Client]
	v6Mu   sync.Mutex // serialises replacing v6 with stopping it at the end
	v6Done bool
}

type deviceBox struct{ Device }

// Start begins bringing up a tunnel over tr. It returns at once; WaitUp
// blocks until IPCP is open. The Tunnel owns tr and closes it when done.
func Start(ctx context.Context, tr l2tp.Transport, cfg Config) *Tunnel {
	t := &Tunnel{cfg: cfg, tr: tr, log: cfg.Logger, done: make(chan struct{}), linkUp: make(chan struct{})}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	lc := cfg.L2TP
	lc.OnData = t.onData
	lc.OnDataEnd = t.flushRx
	lc.OnEvent = t.onL2TPEvent
	if lc.Logger == nil {
		lc.Logger = t.log
	}
	pc := cfg.PPP
	if pc.Logger == nil {
		pc.Logger = t.log
	}
	t.conn = l2tp.NewConn(tr, lc)
	t.cfg.PPP = pc
	t.link.Store(ppp.NewLink(t.pppConfig(0), t.sendControl, t.onPPPEvent))
	t.sendData = t.conn.SendData
	t.sendBatch = t.conn.SendDataBatch
	t.ipv4Open = func() bool { return t.link.Load().IPv4Open() }
	t.ipv6Open = func() bool { return t.link.Load().IPv6Open() }
	t.input = func(p ppp.Protocol, b []byte) { t.link.Load().Input(p, b) }
	go t.run(ctx)
	return t
}

func (t *Tunnel) stage(s Stage) {
	if t.cfg.OnStage != nil {
		t.cfg.OnStage(s)
	}
}

func (t *Tunnel) onL2TPEvent(e l2tp.Event) {
	switch e.Kind {
	case l2tp.EventTunnelUp:
		t.stage(Stage{Kind: StageL2TPTunnel, Detail: e.PeerHost})
	case l2tp.EventSessionUp:
		t.stage(Stage{Kind: StageL2TPSession})
	}
}

func (t *Tunnel) onPPPEvent(e ppp.Event) {
	switch e.Kind {
	case ppp.EventLCPUp:
		t.stage(Stage{Kind: StageLCP})
	case ppp.EventAuthOK:
		t.stage(Stage{Kind: StageAuth, Auth: e.Auth})
	case ppp.EventIPCPUp:
		t.stage(Stage{Kind: StageIPCP, IP: e.IP})
	case ppp.EventIPv6CPUp:
		t.stage(Stage{Kind: StageIPv6CP, IPv6: e.IPv6})
		t.startIPv6(e.IPv6)
	}
}

// startIPv6 starts IPv6 autoconfiguration (package ipv6) on a link whose
// IPV6CP just opened with info, replacing the client of an earlier
// opening (a renegotiation, or the link of an auth retry). Its router
// solicitations and DHCPv6 messages go out through sendIPv6; what it
// learns is reported as StageIPv6Config. The new client starts from
// nothing: when the old one had reported a configuration, an empty one
// is reported first, so the consumer takes the old addresses, routes and
// DNS away (core: an empty offer leaves IPv6 blocked outside the tunnel)
// until the new link's advertisement brings them back. The old client is
// stopped (no report after Stop returns) before that report, and the new
// one installed after it, so the empty report cannot overtake one of the
// new client's.
func (t *Tunnel) startIPv6(info ppp.IPv6Info) {
	t.v6Mu.Lock()
	defer t.v6Mu.Unlock()
	if t.v6Done {
		return
	}
	if old := t.v6.Load(); old != nil {
		old.Stop()
		if !old.Config().Equal(ipv6.Config{}) {
			t.stage(Stage{Kind: StageIPv6Config})
		}
	}
	c := ipv6.NewClient(info.LocalIID, t.sendIPv6, func(cfg ipv6.Config) {
		t.stage(Stage{Kind: StageIPv6Config, IPv6Config: cfg})
	}, t.cfg.IPv6, t.log)
	t.v6.Store(c)
	c.Start()
}

// stopIPv6 stops IPv6 autoconfiguration for good (the tunnel ended).
func (t *Tunnel) stopIPv6() {
	t.v6Mu.Lock()
	defer t.v6Mu.Unlock()
	t.v6Done = true
	if c := t.v6.Swap(nil); c != nil {
		c.Stop()
	}
}

// IPv6Config is the IPv6 configuration last reported as
// StageIPv6Config: zero before any, and once the tunnel has ended.
func (t *Tunnel) IPv6Config() ipv6.Config {
	if c := t.v6.Load(); c != nil {
		return c.Config()
	}
	return ipv6.Config{}
}

// sendIPv6 sends an IPv6 packet of our own (a router solicitation or
// DHCPv6 message) while IPV6CP is open. Like PPP control packets, these
// are not counted in Stats, which count the device's packets.
func (t *Tunnel) sendIPv6(pkt []byte) error {
	if !t.ipv6Open() {
		return errors.New("tunnel: ipv6cp is not open")
	}
	return t.sendControl(ppp.ProtoIPv6, pkt)
}

// linkDrain is how long a PPP link may go on handling what it already
// received once the L2TP side has ended.
const linkDrain = 100 * time.Millisecond

// maxSessionRestarts bounds how often a link whose authentication went
// unanswered is started over in a new L2TP session.
const maxSessionRestarts = 3

// MaxSessionRestarts is how often a tunnel starts over in a new L2TP
// session when the server does not answer its authentication before it
// gives up with ppp.ErrAuthNoAnswer (for messages that say so).
const MaxSessionRestarts = maxSessionRestarts

// run supervises the two control goroutines: L2TP first, PPP once the
// session is up. Whichever ends first takes the other down. A PPP link
// whose authentication the server never answered (ppp.ErrAuthNoAnswer: a
// lost CHAP Success is not repeated, RFC 1994 4.2 leaves it to the peer)
// is started over in a new L2TP session of the same tunnel; the new link
// authenticates from scratch, MS-CHAPv2's authenticator response included.
func (t *Tunnel) run(ctx context.Context) {
	defer close(t.done)
	defer t.tr.Close()
	defer t.stopIPv6()
	connErr := make(chan error, 1)
	go func() { connErr <- t.conn.Run(ctx) }()
	select {
	case <-t.conn.Established():
	case err := <-connErr:
		t.err = err
		return
	}
	t.linkRun.Store(true)
	for restarts := 0; ; restarts++ {
		link := t.link.Load()
		if t.closing.Load() {
			link.Close() // Close may have missed a link swapped in meanwhile
		}
		linkCtx, cancelLink := context.WithCancel(ctx)
		linkErr := make(chan error, 1)
		go func() { linkErr <- link.Run(linkCtx) }()
		go t.watchUp(link)
		select {
		case err := <-linkErr:
			cancelLink()
			startOver := errors.Is(err, ppp.ErrAuthNoAnswer) || errors.Is(err, ppp.ErrStalled)
			if startOver && restarts < maxSessionRestarts && !t.closing.Load() {
				t.log.Info("no answer to our authentication; starting a new l2tp session", "err", err, "restart", restarts+1)
				why := "no answer to our authentication"
				if errors.Is(err, ppp.ErrStalled) {
					why = "the server stopped short in link setup (a lost packet it resends only after seconds)"
				}
				t.stage(Stage{Kind: StageAuthRetry, Detail: why})
				// The new link takes the input first: the server's first
				// LCP Configure-Request follows its ICRP at once and
				// would otherwise reach the finished link.
				t.link.Store(ppp.NewLink(t.pppConfig(restarts+1), t.sendControl, t.onPPPEvent))
				up := t.conn.NewSession()
				select {
				case <-up:
					continue
				case cerr := <-connErr:
					t.err = err
					if cerr != nil {
						t.err = fmt.Errorf("%w (then: %v)", err, cerr)
					}
					return
				}
			}
			// PPP ended (local close, auth failure, dead peer): close the
			// session and tunnel politely, then report PPP's reason. A
			// dead peer, or one that stopped answering our
			// authentication, gets CDN and StopCCN once, without waiting.
			if errors.Is(err, ppp.ErrEchoTimeout) || startOver {
				t.conn.Abandon()
			} else {
				t.conn.Close()
			}
			cerr := <-connErr
			t.err = err
			if t.closing.Load() {
				t.err = nil // a local Close: whatever PPP was doing does not matter
			} else if err == nil {
				t.err = cerr
			}
		case err := <-connErr:
			// A CHAP Failure the server sent just before its CDN may still
			// be queued for the link: let it finish that first, briefly.
			select {
			case <-linkErr:
			case <-time.After(linkDrain):
				cancelLink()
				<-linkErr
			}
			cancelLink()
			t.err = err
			if aerr := link.AuthFailure(); aerr != nil {
				t.err = aerr // the server ended the session over a bad password
			}
		}
		return
	}
}

// pppConfig is the configuration of the link started after restarts new
// sessions: it may end early on a stall (ppp.Config.RestartOnStall) only
// while another restart is left, so the last link waits for the server as
// long as RFC 1661 says.
func (t *Tunnel) pppConfig(restarts int) ppp.Config {
	c := t.cfg.PPP
	c.RestartOnStall = restarts < maxSessionRestarts
	return c
}

// watchUp closes t.linkUp when link's IPCP opens, or returns when the
// tunnel ends.
func (t *Tunnel) watchUp(link *ppp.Link) {
	select {
	case <-link.Up():
		t.upOnce.Do(func() { close(t.linkUp) })
	case <-t.done:
	}
}

// WaitUp blocks until IPCP is open and returns what it negotiated, or the
// reason the tunnel failed.
func (t *Tunnel) WaitUp(ctx context.Context) (ppp.IPInfo, error) {
	select {
	case <-t.linkUp:
		return t.link.Load().Info(), nil
	case <-t.done:
		if t.err == nil {
			return ppp.IPInfo{}, errors.New("tunnel: closed before it came up")
		}
		return ppp.IPInfo{}, t.err
	case <-ctx.Done():
		return ppp.IPInfo{}, ctx.Err()
	}
}

// IPv6Open reports whether IPV6CP is open (ppp.Config.IPv6), and
// IPv6Info what it negotiated: IPv6 packets then flow both ways.
func (t *Tunnel) IPv6Open() bool { return t.link.Load().IPv6Open() }

// IPv6Info is what IPV6CP last negotiated; see IPv6Open.
func (t *Tunnel) IPv6Info() ppp.IPv6Info { return t.link.Load().IPv6Info() }

// PeerMRU is the largest IP packet the server accepts (its LCP MRU).
func (t *Tunnel) PeerMRU() int { return t.link.Load().PeerMRU() }

// Done is closed when the tunnel has ended; Err then tells why (nil after
// a local Close).
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err is the reason the tunnel ended; valid after Done is closed.
func (t *Tunnel) Err() error { return t.err }

// Close tears the tunnel down gracefully (LCP Terminate, CDN, StopCCN) and
// waits until it is down or ctx ends.
func (t *Tunnel) Close(ctx context.Context) error {
	// PPP first (LCP Terminate): when it ends, run closes the L2TP session
	// and tunnel (CDN, StopCCN). Before PPP runs, L2TP closes directly.
	t.closing.Store(true)
	// A DHCPv6 lease goes back first, while IPV6CP still carries it
	// (RFC 8415 18.2.7; sent once, not waited for).
	if c := t.v6.Load(); c != nil {
		c.Release()
	}
	t.link.Load().Close()
	if !t.linkRun.Load() {
		t.conn.Close()
	}
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		t.tr.Close()
		return ctx.Err()
	}
}

// Stats returns the data counters.
func (t *Tunnel) Stats() Stats {
	return Stats{TxPackets: t.stats.txP.Load(), TxBytes: t.stats.txB.Load(),
		RxPackets: t.stats.rxP.Load(), RxBytes: t.stats.rxB.Load(),
		TxDropped: t.stats.txD.Load(), RxDropped: t.stats.rxD.Load(),
		TxPackets6: t.stats.txP6.Load(), TxBytes6: t.stats.txB6.Load(),
		RxPackets6: t.stats.rxP6.Load(), RxBytes6: t.stats.rxB6.Load()}
}

// sendControl sends a PPP control packet (from the PPP goroutine).
func (t *Tunnel) sendControl(proto ppp.Protocol, pkt []byte) error {
	buf := make([]byte, Headroom+len(pkt), Headroom+len(pkt)+Tailroom)
	copy(buf[Headroom:], pkt)
	ppp.PutFrameHeader(buf[Headroom-ppp.FrameHeaderLen:], proto)
	return t.conn.SendData(buf, Headroom-ppp.FrameHeaderLen)
}

// rxQueue holds the IP packets of one read from the transport (a batch
// from a batching transport) until l2tp's OnDataEnd hands them to the
// device in one Write.
type rxQueue struct {
	bufs   [][]byte // packet i at bufs[i][offs[i]:]
	offs   []int
	write  [][]byte // what Write gets: bufs[i] cut to a common offset
	bytes  uint64
	n6     uint64 // of which IPv6: packets and bytes
	bytes6 uint64
}

// onData handles one inbound PPP frame, buf[off:end], on the L2TP
// receiving goroutine: an IPv4 packet, or an IPv6 one while IPV6CP is
// open, is queued for flushRx in place; anything else goes to PPP (which
// drops IPv6 before IPV6CP opens and Protocol-Rejects it without
// ppp.Config.IPv6).
func (t *Tunnel) onData(buf []byte, off, end int) {
	proto, payload, err := ppp.ParseFrame(buf[off:end])
	if err != nil {
		t.stats.rxD.Add(1)
		return
	}
	q := &t.rx
	switch {
	case proto == ppp.ProtoIPv4:
		if t.dev.Load() == nil || !t.ipv4Open() || len(payload) == 0 {
			t.stats.rxD.Add(1)
			return
		}
	case proto == ppp.ProtoIPv6 && t.ipv6Open():
		// Router advertisements and DHCPv6 answers are the IPv6
		// autoconfiguration's, not the device's (ipv6.Client.Input says
		// why); the check reads two or three bytes of the header.
		if ipv6.IsControl(payload) {
			if c := t.v6.Load(); c != nil && c.Input(payload) {
				return
			}
		}
		if t.dev.Load() == nil || len(payload) == 0 {
			t.stats.rxD.Add(1)
			return
		}
		q.n6++
		q.bytes6 += uint64(len(payload))
	default:
		t.input(proto, payload)
		return
	}
	q.bufs = append(q.bufs, buf[:end])
	q.offs = append(q.offs, end-len(payload))
	q.bytes += uint64(len(payload))
}

// flushRx writes the queued packets to the device in one batch (l2tp's
// OnDataEnd, on the receiving goroutine). The device takes one offset for
// the batch, so each buffer is cut to put its packet at the smallest
// offset of the batch: the headers in front of each are the device's
// headroom (at least 30 bytes: ESP, inner UDP, L2TP and PPP headers).
func (t *Tunnel) flushRx() {
	q := &t.rx
	n := len(q.bufs)
	if n == 0 {
		return
	}
	off := q.offs[0]
	for _, o := range q.offs[1:] {
		off = min(off, o)
	}
	q.write = q.write[:0]
	for i, b := range q.bufs {
		q.write = append(q.write, b[q.offs[i]-off:])
	}
	box := t.dev.Load()
	if _, err := box.Write(q.write, off); err != nil {
		t.stats.rxD.Add(uint64(n))
	} else {
		t.stats.rxP.Add(uint64(n))
		t.stats.rxB.Add(q.bytes)
		if q.n6 > 0 {
			t.stats.rxP6.Add(q.n6)
			t.stats.rxB6.Add(q.bytes6)
		}
	}
	clear(q.write)
	clear(q.bufs)
	q.bufs, q.offs, q.write, q.bytes, q.n6, q.bytes6 = q.bufs[:0], q.offs[:0], q.write[:0], 0, 0, 0
}

// Attach connects dev to the tunnel: packets the server sends are written
// to it, and RoutineReadFromDevice (started here) forwards what the OS
// sends into the tunnel. It returns at once; the routine ends when dev
// returns an error from Read (close the device after the tunnel).
func (t *Tunnel) Attach(dev Device) {
	t.attached.Do(func() {
		t.dev.Store(&deviceBox{dev})
		go t.RoutineReadFromDevice(dev)
	})
}

// maxDeviceFailures consecutive failed device reads end the tunnel.
const maxDeviceFailures = 100

// RoutineReadFromDevice reads batches of packets from dev and sends the
// IPv4 (and, while IPV6CP is open, IPv6) packets of each batch through the tunnel in one batch, headers
// written in place.
func (t *Tunnel) RoutineReadFromDevice(dev Device) {
	n := max(dev.BatchSize(), 1)
	bufs := make([][]byte, n)
	sizes := make([]int, n)
	for i := range bufs {
		bufs[i] = make([]byte, BufSize)
	}
	out := make([][]byte, 0, n)
	offs := make([]int, 0, n)
	failures := 0
	for {
		count, err := dev.Read(bufs, sizes, Headroom)
		out, offs = t.sendPackets(bufs[:count], sizes[:count], out[:0], offs[:0])
		if err == nil {
			failures = 0
			continue
		}
		select {
		case <-t.done:
			return
		default:
		}
		if errors.Is(err, os.ErrClosed) {
			return
		}
		// A read can fail for one packet (wireguard-go's tun returns
		// ErrTooManySegments for a super-packet it cannot split) and work
		// for the next. A device that keeps failing is gone: end the
		// tunnel rather than leave it up with no way out.
		t.log.Debug("device read", "err", err)
		if failures++; failures >= maxDeviceFailures {
			t.log.Error("device keeps failing; closing the tunnel", "err", err)
			t.link.Load().Close()
			return
		}
	}
}

// sendPackets encapsulates the packets at bufs[i][Headroom:Headroom+sizes[i]]
// and sends them as one batch; out and offs are its scratch, returned
// for the next batch.
func (t *Tunnel) sendPackets(bufs [][]byte, sizes []int, out [][]byte, offs []int) ([][]byte, []int) {
	if len(bufs) == 0 {
		return out, offs
	}
	// IPv4 goes once IPCP is open, IPv6 once IPV6CP is; anything else
	// has nowhere to go.
	open4, open6 := t.ipv4Open(), t.ipv6Open()
	var bytes, n6, bytes6 uint64
	for i, buf := range bufs {
		size := sizes[i]
		proto := ppp.ProtoIPv4
		switch v := buf[Headroom] >> 4; {
		case size == 0:
			t.stats.txD.Add(1)
			continue
		case v == 4 && open4:
		case v == 6 && open6:
			proto = ppp.ProtoIPv6
			n6++
			bytes6 += uint64(size)
		default:
			t.stats.txD.Add(1)
			continue
		}
		off := Headroom - ppp.FrameHeaderLen
		ppp.PutFrameHeader(buf[off:], proto)
		out = append(out, buf[:Headroom+size])
		offs = append(offs, off)
		bytes += uint64(size)
	}
	if len(out) == 0 {
		return out, offs
	}
	sent, err := t.sendBatch(out, offs)
	if err != nil {
		t.stats.txD.Add(uint64(len(out) - sent))
		for _, b := range out[sent:] {
			bytes -= uint64(len(b) - Headroom)
			if b[Headroom]>>4 == 6 {
				n6--
				bytes6 -= uint64(len(b) - Headroom)
			}
		}
	}
	t.stats.txP.Add(uint64(sent))
	t.stats.txB.Add(bytes)
	if n6 > 0 {
		t.stats.txP6.Add(n6)
		t.stats.txB6.Add(bytes6)
	}
	clear(out)
	return out, offs
}
