package l2tptest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// client is a bare l2tp.Conn carrying a ppp.Link, wired as tunnel.Tunnel
// wires them.
type client struct {
	conn    *l2tp.Conn
	link    *ppp.Link
	ipv4    chan []byte
	connErr chan error
	linkErr chan error
}

func dial(t *testing.T, tr l2tp.Transport, pc ppp.Config) *client {
	t.Helper()
	c := &client{ipv4: make(chan []byte, 16), connErr: make(chan error, 1), linkErr: make(chan error, 1)}
	pc.RestartInterval = 100 * time.Millisecond
	pc.EchoInterval = -1
	c.link = ppp.NewLink(pc, func(proto ppp.Protocol, pkt []byte) error {
		buf := make([]byte, 64+len(pkt))
		copy(buf[64:], pkt)
		ppp.PutFrameHeader(buf[64-ppp.FrameHeaderLen:], proto)
		return c.conn.SendData(buf, 64-ppp.FrameHeaderLen)
	}, nil)
	c.conn = l2tp.NewConn(tr, l2tp.Config{
		CloseTimeout: time.Second,
		OnData: func(buf []byte, off, end int) {
			proto, pkt, err := ppp.ParseFrame(buf[off:end])
			switch {
			case err != nil:
			case proto == ppp.ProtoIPv4:
				c.ipv4 <- append([]byte(nil), pkt...)
			default:
				c.link.Input(proto, pkt)
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { c.connErr <- c.conn.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-c.connErr
		tr.Close()
	})
	select {
	case <-c.conn.Established():
	case err := <-c.connErr:
		t.Fatalf("l2tp: %v", err)
	}
	go func() { c.linkErr <- c.link.Run(ctx) }()
	return c
}

func (c *client) waitUp(t *testing.T) ppp.IPInfo {
	t.Helper()
	select {
	case <-c.link.Up():
		return c.link.Info()
	case err := <-c.linkErr:
		t.Fatalf("ppp: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("ppp: not up after 5s")
	}
	return ppp.IPInfo{}
}

func (c *client) sendIPv4(pkt []byte) error {
	buf := make([]byte, 64+len(pkt))
	copy(buf[64:], pkt)
	ppp.PutFrameHeader(buf[64-ppp.FrameHeaderLen:], ppp.ProtoIPv4)
	return c.conn.SendData(buf, 64-ppp.FrameHeaderLen)
}

// close ends the link and the connection gracefully.
func (c *client) close(t *testing.T) {
	t.Helper()
	c.link.Close()
	if err := <-c.linkErr; err != nil {
		t.Errorf("ppp Run = %v", err)
	}
	c.conn.Close()
	if err := <-c.connErr; err != nil {
		t.Errorf("l2tp Run = %v", err)
	}
	c.connErr <- nil // for the cleanup
}

func testPacket() []byte {
	p := make([]byte, 28)
	p[0] = 0x45
	p[3] = 28
	copy(p[12:], []byte{10, 99, 0, 2, 192, 0, 2, 1})
	copy(p[20:], "payload!")
	return p
}

func checkSession(t *testing.T, s *Server, c *client, wantAuth string) {
	t.Helper()
	info := c.waitUp(t)
	if info.Local != netip.MustParseAddr("10.99.0.2") || info.Peer != netip.MustParseAddr("10.99.0.1") {
		t.Errorf("IPCP gave %+v", info)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.WaitEvent(ctx, EventIPCPUp); err != nil {
		t.Fatal(err)
	}
	if wantAuth != AuthNone {
		if e, _ := s.WaitEvent(ctx, EventAuthOK); e.Detail != wantAuth {
			t.Errorf("authenticated with %q, want %q", e.Detail, wantAuth)
		}
	}
	pkt := testPacket()
	if err := c.sendIPv4(pkt); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-s.Packets():
		if string(got) != string(pkt) {
			t.Errorf("server got % x", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet at the server")
	}
	select {
	case got := <-c.ipv4:
		if string(got[12:16]) != string(pkt[16:20]) || string(got[16:20]) != string(pkt[12:16]) || string(got[20:]) != "payload!" {
			t.Errorf("echo % x", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
	c.close(t)
	var got []EventKind
	for _, e := range s.Events() {
		got = append(got, e.Kind)
	}
	want := []EventKind{EventTunnelUp, EventSessionUp, EventLCPUp, EventAuthOK, EventIPCPUp, EventLCPTerminate, EventCDN, EventStopCCN}
	if wantAuth == AuthNone {
		want = append(want[:3], want[4:]...)
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", s.Events(), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", s.Events(), want)
		}
	}
	if st := s.Stats(); st.Tunnels != 1 || st.Sessions != 1 || st.CDNs != 1 || st.StopCCNs != 1 || st.IPv4In != 1 || st.IPv4Out != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerInMemory(t *testing.T) {
	for _, tc := range []struct {
		auth   string
		client []ppp.AuthMethod
	}{
		{AuthMSCHAPv2, []ppp.AuthMethod{ppp.AuthMSCHAPv2}},
		{AuthCHAPMD5, []ppp.AuthMethod{ppp.AuthCHAPMD5}},
		{AuthPAP, []ppp.AuthMethod{ppp.AuthPAP}},
		{AuthNone, []ppp.AuthMethod{ppp.AuthNone}},
	} {
		t.Run(tc.auth, func(t *testing.T) {
			s := NewServer(Config{User: "u", Password: "p", Auth: tc.auth, EchoIPv4: true})
			defer s.Close()
			c := dial(t, s.Transport(), ppp.Config{User: "u", Password: "p", Auth: tc.client})
			checkSession(t, s, c, tc.auth)
		})
	}
}

// udpTransport is a connected UDP socket as an l2tp.Transport.
type udpTransport struct{ c *net.UDPConn }

func (u udpTransport) ReadPacket(b []byte) (int, int, error) {
	n, err := u.c.Read(b)
	return 0, n, err
}
func (u udpTransport) WritePacket(b []byte, off int) error { _, err := u.c.Write(b[off:]); return err }
func (u udpTransport) Close() error                        { return u.c.Close() }

func TestServerUDP(t *testing.T) {
	s := NewServer(Config{User: "u", Password: "p", EchoIPv4: true})
	defer s.Close()
	addr, err := s.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, udpTransport{uc}, ppp.Config{User: "u", Password: "p"})
	checkSession(t, s, c, AuthMSCHAPv2)
}

func TestServerWrongPassword(t *testing.T) {
	s := NewServer(Config{User: "u", Password: "p"})
	defer s.Close()
	c := dial(t, s.Transport(), ppp.Config{User: "u", Password: "wrong"})
	var ae *ppp.AuthError
	select {
	case err := <-c.linkErr:
		if !errors.As(err, &ae) {
			t.Fatalf("ppp Run = %v, want an AuthError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ppp did not end")
	}
	if st := s.Stats(); st.AuthFailed != 1 || st.AuthOK != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerStopCCN(t *testing.T) {
	s := NewServer(Config{User: "u", Password: "p"})
	defer s.Close()
	c := dial(t, s.Transport(), ppp.Config{User: "u", Password: "p"})
	c.waitUp(t)
	if n, err := s.StopCCN(6, 0, "bye"); n != 1 || err != nil {
		t.Fatalf("StopCCN = %d, %v", n, err)
	}
	select {
	case err := <-c.connErr:
		var pc *l2tp.PeerClosedError
		if !errors.As(err, &pc) || pc.Msg != l2tp.MsgStopCCN || pc.Message != "bye" {
			t.Fatalf("l2tp Run = %v", err)
		}
		c.connErr <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("l2tp did not end")
	}
	if n, _ := s.StopCCN(1, 0, ""); n != 0 {
		t.Errorf("%d tunnels left after StopCCN", n)
	}
}
