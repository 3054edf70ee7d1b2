package tunnel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/platform/platformtest"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// These tests run a whole Tunnel without privileges: the server is an
// l2tptest.Server reached in memory (or over loopback UDP), the device a
// platformtest.ChannelTUN.

const (
	testUser     = "alice"
	testPassword = "correct horse"
)

// testConfig is a Tunnel configuration with short timers.
func testConfig() Config {
	return Config{
		L2TP: l2tp.Config{
			HelloInterval: 30 * time.Second,
			CloseTimeout:  time.Second,
			Reliable:      l2tp.ReliableConfig{InitialTimeout: 500 * time.Millisecond, AckDelay: 5 * time.Millisecond},
		},
		PPP: ppp.Config{
			User:               testUser,
			Password:           testPassword,
			RestartInterval:    100 * time.Millisecond,
			MaxRestartInterval: 400 * time.Millisecond,
			EchoInterval:       -1,
			AuthTimeout:        1500 * time.Millisecond,
		},
	}
}

// testServerConfig accepts testUser with MS-CHAPv2 and hands out
// 10.99.0.2 with two DNS servers.
func testServerConfig() l2tptest.Config {
	return l2tptest.Config{
		User:            testUser,
		Password:        testPassword,
		DNS:             []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54")},
		RestartInterval: 300 * time.Millisecond,
	}
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is one Tunnel connected to one l2tptest.Server.
type harness struct {
	t   *testing.T
	srv *l2tptest.Server
	tun *Tunnel
	dev *platformtest.ChannelTUN

	mu     sync.Mutex
	stages []StageKind
}

// startTunnel starts a server with scfg and a Tunnel to it, in memory;
// edit adjusts the Tunnel's configuration. The protocol trace is logged
// when the test fails.
func startTunnel(t *testing.T, scfg l2tptest.Config, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, srv: l2tptest.NewServer(scfg), dev: platformtest.NewChannelTUN()}
	t.Cleanup(func() { h.srv.Close() })
	h.start(h.srv.Transport(), edit)
	return h
}

func (h *harness) start(tr l2tp.Transport, edit func(*Config)) {
	t := h.t
	var logs syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server events: %v", h.srv.Events())
			t.Logf("trace:\n%s", logs.String())
		}
	})
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.OnStage = func(s Stage) {
		h.mu.Lock()
		h.stages = append(h.stages, s.Kind)
		h.mu.Unlock()
	}
	if edit != nil {
		edit(&cfg)
	}
	h.tun = Start(context.Background(), tr, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.tun.Close(ctx)
		h.dev.Close()
	})
}

func (h *harness) waitUp(d time.Duration) (ppp.IPInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return h.tun.WaitUp(ctx)
}

func (h *harness) mustUp() ppp.IPInfo {
	h.t.Helper()
	info, err := h.waitUp(10 * time.Second)
	if err != nil {
		h.t.Fatalf("WaitUp: %v", err)
	}
	return info
}

func (h *harness) stageCount(k StageKind) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.stages {
		if s == k {
			n++
		}
	}
	return n
}

// waitDone waits for the tunnel to end and returns Err.
func (h *harness) waitDone(d time.Duration) error {
	h.t.Helper()
	select {
	case <-h.tun.Done():
		return h.tun.Err()
	case <-time.After(d):
		h.t.Fatalf("the tunnel did not end within %v", d)
		return nil
	}
}

// ipv4 returns an IPv4 packet from src to dst carrying payload, with a
// valid header checksum (protocol 253, RFC 3692 experimentation).
func ipv4(src, dst string, payload string) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	b[8] = 64
	b[9] = 253
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return append(b, payload...)
}

func recvPacket(t *testing.T, ch <-chan []byte, what string) []byte {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no packet %s", what)
		return nil
	}
}

// kinds returns the kinds of the events of interest, in order.
func kinds(evs []l2tptest.Event, of ...l2tptest.EventKind) []l2tptest.EventKind {
	var out []l2tptest.EventKind
	for _, e := range evs {
		if slices.Contains(of, e.Kind) {
			out = append(out, e.Kind)
		}
	}
	return out
}

// TestTunnelConnect brings a tunnel up, passes a packet each way through
// the ChannelTUN, and closes it: LCP Terminate, CDN and StopCCN reach the
// server in that order, and Err is nil.
func TestTunnelConnect(t *testing.T) {
	scfg := testServerConfig()
	scfg.EchoIPv4 = true
	h := startTunnel(t, scfg, nil)
	info := h.mustUp()
	want := ppp.IPInfo{Local: netip.MustParseAddr("10.99.0.2"), Peer: netip.MustParseAddr("10.99.0.1"), DNS: scfg.DNS}
	if info.Local != want.Local || info.Peer != want.Peer || !slices.Equal(info.DNS, want.DNS) {
		t.Fatalf("WaitUp = %+v, want %+v", info, want)
	}
	if n := h.stageCount(StageAuth); n != 1 {
		t.Errorf("StageAuth reported %d times, want 1", n)
	}
	h.tun.Attach(h.dev)

	// Out: device -> tunnel -> server (which echoes it back).
	out := ipv4("10.99.0.2", "192.0.2.7", "to the server")
	h.dev.Inbound <- out
	if got := recvPacket(t, h.srv.Packets(), "at the server"); !bytes.Equal(got, out) {
		t.Fatalf("server got % x, want % x", got, out)
	}
	if got, want := recvPacket(t, h.dev.Outbound, "echoed to the device"), ipv4("192.0.2.7", "10.99.0.2", "to the server"); !bytes.Equal(got, want) {
		t.Fatalf("device got echo % x, want % x", got, want)
	}
	// In: server -> tunnel -> device.
	in := ipv4("192.0.2.9", "10.99.0.2", "from the server")
	if n, err := h.srv.SendIP(in); n != 1 || err != nil {
		t.Fatalf("SendIP = %d, %v", n, err)
	}
	if got := recvPacket(t, h.dev.Outbound, "from the server at the device"); !bytes.Equal(got, in) {
		t.Fatalf("device got % x, want % x", got, in)
	}
	// The sending goroutine counts a packet after handing it on: the
	// server may have answered before.
	deadline := time.Now().Add(5 * time.Second)
	st := h.tun.Stats()
	for (st.TxPackets != 1 || st.RxPackets != 2) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		st = h.tun.Stats()
	}
	if st.TxPackets != 1 || st.RxPackets != 2 || st.TxDropped+st.RxDropped != 0 {
		t.Errorf("Stats = %+v, want 1 packet sent, 2 received, none dropped", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.tun.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	t.Logf("Close took %v", time.Since(start))
	select {
	case <-h.tun.Done():
	default:
		t.Fatal("Done not closed after Close returned")
	}
	if err := h.tun.Err(); err != nil {
		t.Errorf("Err = %v, want nil", err)
	}
	got := kinds(h.srv.Events(), l2tptest.EventLCPTerminate, l2tptest.EventCDN, l2tptest.EventStopCCN)
	if wantK := []l2tptest.EventKind{l2tptest.EventLCPTerminate, l2tptest.EventCDN, l2tptest.EventStopCCN}; !slices.Equal(got, wantK) {
		t.Errorf("the server saw %v, want %v", got, wantK)
	}
	if s := h.srv.Stats(); s.Tunnels != 1 || s.Sessions != 1 {
		t.Errorf("server stats %+v, want 1 tunnel, 1 session", s)
	}
}

// TestTunnelConnectUDP is TestTunnelConnect's connect and close over
// loopback UDP with the real UDPTransport.
func TestTunnelConnectUDP(t *testing.T) {
	srv := l2tptest.NewServer(testServerConfig())
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := DialUDP(context.Background(), addr.String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, dev: platformtest.NewChannelTUN()}
	h.start(tr, nil)
	if info := h.mustUp(); info.Local != netip.MustParseAddr("10.99.0.2") {
		t.Fatalf("WaitUp = %v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tun.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	got := kinds(srv.Events(), l2tptest.EventLCPTerminate, l2tptest.EventCDN, l2tptest.EventStopCCN)
	if wantK := []l2tptest.EventKind{l2tptest.EventLCPTerminate, l2tptest.EventCDN, l2tptest.EventStopCCN}; !slices.Equal(got, wantK) {
		t.Errorf("the server saw %v, want %v", got, wantK)
	}
}

// TestTunnelAuthRetry: a server that drops CHAP Successes (and, like
// SoftEther, never repeats them) gets a new L2TP session per lost Success,
// each authenticating from scratch with the MS-CHAPv2 authenticator
// response checked, until the tunnel's restarts run out.
func TestTunnelAuthRetry(t *testing.T) {
	for _, drops := range []int{1, 2} {
		t.Run(fmt.Sprintf("drop%d", drops), func(t *testing.T) {
			scfg := testServerConfig()
			scfg.DropSuccesses = drops
			start := time.Now()
			h := startTunnel(t, scfg, nil)
			info := h.mustUp()
			took := time.Since(start)
			t.Logf("up after %v: %v", took, info)
			if took > 8*time.Second {
				t.Errorf("connecting took %v", took)
			}
			s := h.srv.Stats()
			if s.Sessions != drops+1 || s.SuccessesDropped != drops || s.AuthOK != drops+1 || s.Tunnels != 1 {
				t.Errorf("server stats %+v, want %d sessions in 1 tunnel, %d Successes dropped, %d good logins", s, drops+1, drops, drops+1)
			}
			if s.CDNs != drops {
				t.Errorf("the server got %d CDNs, want %d (one per abandoned session)", s.CDNs, drops)
			}
			if n := h.stageCount(StageAuthRetry); n != drops {
				t.Errorf("StageAuthRetry reported %d times, want %d", n, drops)
			}
			if n := h.stageCount(StageL2TPTunnel); n != 1 {
				t.Errorf("StageL2TPTunnel reported %d times, want 1", n)
			}
		})
	}
	t.Run("bad authenticator after a retry", func(t *testing.T) {
		// The retry checks the new session's authenticator response: a
		// server that cannot prove it knows the password is refused.
		scfg := testServerConfig()
		scfg.DropSuccesses = 1
		scfg.BadAuthenticator = true
		h := startTunnel(t, scfg, nil)
		_, err := h.waitUp(10 * time.Second)
		if !errors.Is(err, ppp.ErrMutualAuth) {
			t.Fatalf("WaitUp = %v, want ppp.ErrMutualAuth", err)
		}
		if s := h.srv.Stats(); s.Sessions != 2 {
			t.Errorf("server saw %d sessions, want 2", s.Sessions)
		}
	})
	t.Run("never answered", func(t *testing.T) {
		scfg := testServerConfig()
		scfg.DropSuccesses = 10
		start := time.Now()
		h := startTunnel(t, scfg, nil)
		_, err := h.waitUp(20 * time.Second)
		t.Logf("WaitUp after %v: %v", time.Since(start), err)
		if !errors.Is(err, ppp.ErrAuthNoAnswer) {
			t.Fatalf("WaitUp = %v, want ppp.ErrAuthNoAnswer", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "did not answer our authentication") || strings.Contains(msg, "closed the session") {
			t.Errorf("error text %q: want it to say the server did not answer our authentication", msg)
		}
		if s := h.srv.Stats(); s.Sessions != maxSessionRestarts+1 {
			t.Errorf("server saw %d sessions, want %d", s.Sessions, maxSessionRestarts+1)
		}
		if n := h.stageCount(StageAuthRetry); n != maxSessionRestarts {
			t.Errorf("StageAuthRetry reported %d times, want %d", n, maxSessionRestarts)
		}
	})
}

// TestTunnelShutdown: which error Err reports when both layers end.
func TestTunnelShutdown(t *testing.T) {
	t.Run("StopCCN mid-session", func(t *testing.T) {
		h := startTunnel(t, testServerConfig(), nil)
		h.mustUp()
		if n, err := h.srv.StopCCN(6, 0, "shutting down"); n != 1 || err != nil {
			t.Fatalf("StopCCN = %d, %v", n, err)
		}
		err := h.waitDone(5 * time.Second)
		var pc *l2tp.PeerClosedError
		if !errors.As(err, &pc) || pc.Msg != l2tp.MsgStopCCN || pc.Result != 6 {
			t.Fatalf("Err = %v, want an l2tp.PeerClosedError for StopCCN result 6", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		// The server answers with a CHAP Failure and, 50 ms later, a CDN
		// while our LCP Terminate-Request waits for its Ack; the password
		// error wins over the session's end.
		scfg := testServerConfig()
		scfg.CDNOnAuthFailure = true
		scfg.CDNDelay = 50 * time.Millisecond
		h := startTunnel(t, scfg, func(c *Config) { c.PPP.Password = "wrong" })
		_, err := h.waitUp(10 * time.Second)
		var ae *ppp.AuthError
		if !errors.As(err, &ae) || ae.Method != ppp.AuthMSCHAPv2 {
			t.Fatalf("WaitUp = %v, want a ppp.AuthError for MS-CHAPv2", err)
		}
		var pc *l2tp.PeerClosedError
		if errors.As(err, &pc) {
			t.Errorf("WaitUp = %v: the session's end should not be reported", err)
		}
		if s := h.srv.Stats(); s.AuthFailed != 1 {
			t.Errorf("server stats %+v, want 1 failed login", s)
		}
		if _, err := h.srv.WaitEvent(context.Background(), l2tptest.EventSentCDN); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("close during authentication", func(t *testing.T) {
		// The server never answers our Response: the client waits in
		// CHAP (resending it) when it is closed.
		scfg := testServerConfig()
		scfg.HoldAuth = true
		h := startTunnel(t, scfg, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := h.srv.WaitEvent(ctx, l2tptest.EventAuthOK); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := h.tun.Close(ctx)
		took := time.Since(start)
		t.Logf("Close took %v: %v", took, err)
		if took > time.Second {
			t.Errorf("Close took %v", took)
		}
		if err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
		if _, err := h.waitUp(time.Second); err == nil {
			t.Error("WaitUp succeeded after Close")
		}
	})
}

// TestTunnelAuthRefused: a server asking for PAP when the profile allows
// only MS-CHAPv2 (the default) is refused without the password being
// sent; with PAP allowed it connects.
func TestTunnelAuthRefused(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		scfg := testServerConfig()
		scfg.Auth = l2tptest.AuthPAP
		scfg.InsistAuth = true
		h := startTunnel(t, scfg, nil)
		_, err := h.waitUp(10 * time.Second)
		var re *ppp.AuthRefusedError
		if !errors.As(err, &re) || re.Wanted != "PAP" {
			t.Fatalf("WaitUp = %v, want a ppp.AuthRefusedError naming PAP", err)
		}
		if s := h.srv.Stats(); s.AuthOK+s.AuthFailed != 0 {
			t.Errorf("server stats %+v: credentials were sent", s)
		}
	})
	t.Run("pap allowed", func(t *testing.T) {
		scfg := testServerConfig()
		scfg.Auth = l2tptest.AuthPAP
		scfg.InsistAuth = true
		h := startTunnel(t, scfg, func(c *Config) { c.PPP.Auth = []ppp.AuthMethod{ppp.AuthPAP} })
		h.mustUp()
		if e, _ := h.srv.WaitEvent(context.Background(), l2tptest.EventAuthOK); e.Detail != l2tptest.AuthPAP {
			t.Errorf("server authenticated with %q, want pap", e.Detail)
		}
	})
	t.Run("server moves on", func(t *testing.T) {
		// A server that takes the client's Nak switches to MS-CHAPv2.
		scfg := testServerConfig()
		scfg.Auth = l2tptest.AuthPAP
		h := startTunnel(t, scfg, nil)
		h.mustUp()
		if e, _ := h.srv.WaitEvent(context.Background(), l2tptest.EventAuthOK); e.Detail != l2tptest.AuthMSCHAPv2 {
			t.Errorf("server authenticated with %q, want mschapv2", e.Detail)
		}
	})
}

// TestTunnelBadAddress: IPCP handing out an address no host can use ends
// the tunnel with ppp.ErrBadAddress.
func TestTunnelBadAddress(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "0.0.0.0"} {
		t.Run(a, func(t *testing.T) {
			scfg := testServerConfig()
			scfg.Address = netip.MustParseAddr(a)
			h := startTunnel(t, scfg, nil)
			_, err := h.waitUp(10 * time.Second)
			if !errors.Is(err, ppp.ErrBadAddress) {
				t.Fatalf("WaitUp = %v, want ppp.ErrBadAddress", err)
			}
		})
	}
}

// TestTunnelAuthRetryFirstRequest: after an auth retry, the server's first
// LCP Configure-Request in the new session must reach the new PPP link.
// A server whose restart timer is long (RFC 1661 4.6 suggests 3 s) would
// otherwise hold up every retry by that much.
//
// Known bug: run stores the new Link only after Conn.NewSession's channel
// closes, and the server's Configure-Request, sent as soon as it has the
// ICCN, can arrive first and go to the old, finished Link. Storing the new
// Link before calling NewSession fixes it (tried). Remove the Skip with
// the fix.
func TestTunnelAuthRetryFirstRequest(t *testing.T) {
	scfg := testServerConfig()
	scfg.DropSuccesses = 1
	scfg.RestartInterval = 5 * time.Second
	start := time.Now()
	h := startTunnel(t, scfg, nil)
	if _, err := h.waitUp(3 * time.Second); err != nil {
		t.Fatalf("WaitUp after %v: %v", time.Since(start), err)
	}
	t.Logf("up after %v", time.Since(start))
}

// TestTunnelAuthFailureThenCDN: a server that sends its CHAP Failure and
// its CDN back to back. The Failure arrives first and is queued for the
// PPP link, but when the L2TP side ends first run cancels the link before
// it has read the Failure, and Err is the CDN's PeerClosedError instead of
// the AuthError (10 of 300 runs with -race, 0 of 300 without). Link.Run could
// handle what is already queued before returning for a cancelled context,
// or run could let the link drain its input before asking AuthFailure.
// Remove the Skip with the fix.
func TestTunnelAuthFailureThenCDN(t *testing.T) {
	scfg := testServerConfig()
	scfg.CDNOnAuthFailure = true
	h := startTunnel(t, scfg, func(c *Config) { c.PPP.Password = "wrong" })
	_, err := h.waitUp(10 * time.Second)
	var ae *ppp.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("WaitUp = %v, want a ppp.AuthError", err)
	}
}

// dropFirst wraps a transport and drops the first inbound PPP frame of
// proto whose first byte (the code) is code: a server packet lost on the
// way.
type dropFirst struct {
	l2tp.Transport
	proto   ppp.Protocol
	code    byte
	mu      sync.Mutex
	dropped int
}

func (d *dropFirst) ReadPacket(buf []byte) (int, int, error) {
	for {
		off, n, err := d.Transport.ReadPacket(buf)
		if err != nil {
			return off, n, err
		}
		pkt := buf[off : off+n]
		if h, hoff, end, err := l2tp.ParseHeader(pkt); err == nil && !h.Control {
			if proto, payload, err := ppp.ParseFrame(pkt[hoff:end]); err == nil && proto == d.proto && len(payload) > 0 && payload[0] == d.code {
				d.mu.Lock()
				drop := d.dropped == 0
				if drop {
					d.dropped++
				}
				d.mu.Unlock()
				if drop {
					continue
				}
			}
		}
		return off, n, nil
	}
}

// TestTunnelStallStartsOver: a server that resends its lost packets only
// on a 3 s restart timer (SoftEther, pppd) used to cost those 3 s for a
// lost LCP Configure-Request or CHAP Challenge. Now the link notices the
// silence after StallWait (1 s) and the tunnel starts over in a new L2TP
// session, which costs a round trip.
func TestTunnelStallStartsOver(t *testing.T) {
	for _, c := range []struct {
		name  string
		proto ppp.Protocol
		code  byte
	}{
		{"lcp-request", ppp.ProtoLCP, byte(ppp.CodeConfReq)},
		{"chap-challenge", ppp.ProtoCHAP, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			scfg := testServerConfig()
			scfg.RestartInterval = 3 * time.Second
			srv := l2tptest.NewServer(scfg)
			defer srv.Close()
			h := &harness{t: t, srv: srv, dev: platformtest.NewChannelTUN()}
			tr := &dropFirst{Transport: srv.Transport(), proto: c.proto, code: c.code}
			start := time.Now()
			h.start(tr, nil)
			h.mustUp()
			took := time.Since(start)
			t.Logf("up after %v", took)
			tr.mu.Lock()
			dropped := tr.dropped
			tr.mu.Unlock()
			if dropped != 1 {
				t.Fatalf("dropped %d packets, want 1", dropped)
			}
			if took > 2500*time.Millisecond {
				t.Errorf("up after %v, want well under the server's 3 s restart timer", took)
			}
			if n := h.stageCount(StageAuthRetry); n != 1 {
				t.Errorf("%d restarts, want 1", n)
			}
			if s := srv.Stats(); s.Sessions != 2 || s.Tunnels != 1 {
				t.Errorf("server stats %+v, want 2 sessions in 1 tunnel", s)
			}
		})
	}
}

// ipv6Packet returns an IPv6 packet from src to dst carrying payload after a
// No Next Header (59) header.
func ipv6Packet(src, dst string, payload string) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = 59
	b[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// waitIPv6 waits until the tunnel's IPV6CP is open.
func (h *harness) waitIPv6() {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !h.tun.IPv6Open() {
		if time.Now().After(deadline) {
			h.t.Fatal("IPV6CP did not open")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTunnelIPv6: with ppp.Config.IPv6, IPV6CP opens next to IPCP against
// a server that offers it, and IPv6 packets pass both ways through the
// device, counted in the IPv6 statistics as well as the totals.
func TestTunnelIPv6(t *testing.T) {
	scfg := testServerConfig()
	scfg.IPv6, scfg.EchoIPv6, scfg.EchoIPv4 = true, true, true
	h := startTunnel(t, scfg, func(c *Config) { c.PPP.IPv6 = true })
	h.mustUp()
	h.waitIPv6()
	info := h.tun.IPv6Info()
	if info.PeerIID != 0x0200_5eff_fe00_0001 || info.Peer != netip.MustParseAddr("fe80::200:5eff:fe00:1") {
		t.Errorf("IPv6Info %+v: want the server's identifier", info)
	}
	if !info.Local.IsLinkLocalUnicast() || info.LocalIID == 0 || info.LocalIID == info.PeerIID {
		t.Errorf("IPv6Info %+v: want a link-local address of our own", info)
	}
	ev, err := h.srv.WaitEvent(context.Background(), l2tptest.EventIPv6CPUp)
	if err != nil || ev.Detail != info.Local.String() {
		t.Errorf("server IPv6CPUp %v %v, want %v", ev, err, info.Local)
	}
	if h.stageCount(StageIPv6CP) != 1 {
		t.Errorf("StageIPv6CP reported %d times", h.stageCount(StageIPv6CP))
	}
	h.tun.Attach(h.dev)

	src, dst := info.Local.String(), info.Peer.String()
	out := ipv6Packet(src, dst, "to the server over IPv6")
	h.dev.Inbound <- out
	if got := recvPacket(t, h.srv.Packets(), "at the server"); !bytes.Equal(got, out) {
		t.Fatalf("server got % x, want % x", got, out)
	}
	if got, want := recvPacket(t, h.dev.Outbound, "echoed to the device"), ipv6Packet(dst, src, "to the server over IPv6"); !bytes.Equal(got, want) {
		t.Fatalf("device got echo % x, want % x", got, want)
	}
	in := ipv6Packet("2001:db8::1", src, "from the server")
	if n, err := h.srv.SendIP(in); n != 1 || err != nil {
		t.Fatalf("SendIP = %d, %v", n, err)
	}
	if got := recvPacket(t, h.dev.Outbound, "from the server at the device"); !bytes.Equal(got, in) {
		t.Fatalf("device got % x, want % x", got, in)
	}
	// IPv4 still works next to it.
	out4 := ipv4("10.99.0.2", "192.0.2.7", "v4")
	h.dev.Inbound <- out4
	recvPacket(t, h.srv.Packets(), "IPv4 at the server")
	recvPacket(t, h.dev.Outbound, "IPv4 echo at the device")

	deadline := time.Now().Add(5 * time.Second)
	st := h.tun.Stats()
	for (st.TxPackets != 2 || st.RxPackets != 3) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		st = h.tun.Stats()
	}
	n6in, n6out := uint64(len(out)), uint64(len(out)+len(in))
	if st.TxPackets != 2 || st.RxPackets != 3 || st.TxPackets6 != 1 || st.RxPackets6 != 2 ||
		st.TxBytes6 != n6in || st.RxBytes6 != n6out || st.TxBytes != n6in+uint64(len(out4)) || st.TxDropped+st.RxDropped != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if s := h.srv.Stats(); s.IPv6In != 1 || s.IPv6Out != 2 || s.IPv6CPUp != 1 {
		t.Errorf("server stats %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.tun.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if h.tun.IPv6Open() {
		t.Error("IPv6Open after Close")
	}
}

// TestTunnelIPv6Nak: the server Naks our identifier with a suggestion,
// which the tunnel takes (RFC 5072 4.1).
func TestTunnelIPv6Nak(t *testing.T) {
	scfg := testServerConfig()
	scfg.IPv6, scfg.IPv6NakIID = true, 0x1234
	h := startTunnel(t, scfg, func(c *Config) { c.PPP.IPv6 = true })
	h.mustUp()
	h.waitIPv6()
	if info := h.tun.IPv6Info(); info.LocalIID != 0x1234 || info.Local != netip.MustParseAddr("fe80::1234") {
		t.Errorf("IPv6Info %+v, want the suggested identifier", info)
	}
}

// TestTunnelIPv6NotOffered: a server without IPV6CP Protocol-Rejects it;
// the tunnel stays up with IPv4 only and drops IPv6 from the device.
func TestTunnelIPv6NotOffered(t *testing.T) {
	scfg := testServerConfig()
	scfg.EchoIPv4 = true
	h := startTunnel(t, scfg, func(c *Config) { c.PPP.IPv6 = true })
	h.mustUp()
	h.tun.Attach(h.dev)
	h.dev.Inbound <- ipv6Packet("fe80::1", "fe80::2", "nowhere to go")
	out4 := ipv4("10.99.0.2", "192.0.2.7", "v4")
	h.dev.Inbound <- out4
	if got := recvPacket(t, h.srv.Packets(), "IPv4 at the server"); !bytes.Equal(got, out4) {
		t.Fatalf("server got % x", got)
	}
	recvPacket(t, h.dev.Outbound, "IPv4 echo at the device")
	if h.tun.IPv6Open() {
		t.Error("IPv6Open against a server without IPV6CP")
	}
	if st := h.tun.Stats(); st.TxDropped != 1 || st.TxPackets6 != 0 {
		t.Errorf("Stats = %+v, want the IPv6 packet dropped", st)
	}
	if s := h.srv.Stats(); s.IPv6CPUp != 0 || s.IPv6In != 0 {
		t.Errorf("server stats %+v", s)
	}
}
