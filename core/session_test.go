package core

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

func TestCheckAddresses(t *testing.T) {
	a := netip.MustParseAddr
	gws := []netip.Addr{a("192.168.1.1")}
	lan := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("172.17.0.0/16")}
	cases := []struct {
		info        ppp.IPInfo
		gws         []netip.Addr
		errMsg      string
		note        string
		wantNoError bool
	}{
		{ppp.IPInfo{Local: a("10.0.0.2"), Peer: a("192.168.1.1")}, gws,
			"the server gave its own address as 192.168.1.1, which is your default gateway", "", false},
		{ppp.IPInfo{Local: a("192.168.1.1"), Peer: a("10.0.0.1")}, gws,
			"the server assigned you 192.168.1.1, which is your default gateway's address", "", false},
		{ppp.IPInfo{Local: a("192.168.1.10"), Peer: a("192.168.1.20")}, gws,
			"", "the tunnel address 192.168.1.10 is inside your local network 192.168.1.0/24", true},
		{ppp.IPInfo{Local: a("10.0.0.2"), Peer: a("10.0.0.1")}, gws, "", "", true},
		{ppp.IPInfo{Local: a("10.0.0.2")}, gws, "", "", true}, // no peer address
		// DefaultGateways failed: nothing to check against.
		{ppp.IPInfo{Local: a("10.0.0.2"), Peer: a("192.168.1.1")}, nil, "", "", true},
	}
	for _, c := range cases {
		e, note := checkAddresses(c.info, c.gws, lan)
		if c.wantNoError {
			if e != nil {
				t.Errorf("%+v: refused: %v", c.info, e)
			}
		} else if e == nil || e.Class != ClassProtocol || !strings.Contains(e.Msg, c.errMsg) || e.Hint == "" || e.Err == nil {
			t.Errorf("%+v: got %+v, want a protocol error saying %q", c.info, e, c.errMsg)
		}
		if note != c.note {
			t.Errorf("%+v: note %q, want %q", c.info, note, c.note)
		}
	}
}

// stubRouting makes Connect see gws as the default gateways and lan as
// the local networks.
func stubRouting(t *testing.T, gws []netip.Addr, gwErr error, lan []netip.Prefix) {
	oldGW, oldLAN := defaultGateways, localPrefixes
	t.Cleanup(func() { defaultGateways, localPrefixes = oldGW, oldLAN })
	defaultGateways = func() ([]netip.Addr, error) { return gws, gwErr }
	localPrefixes = func() ([]netip.Prefix, error) { return lan, nil }
}

// A server that gives its own address as our default gateway is refused
// after PPP comes up and before any device opens; the tunnel is closed.
// No root needed: nothing gets as far as the TUN device.
func TestConnectRefusesGatewayPeer(t *testing.T) {
	gw := netip.MustParseAddr("192.168.77.1")
	stubRouting(t, []netip.Addr{gw}, nil, nil)
	srv := l2tptest.NewServer(l2tptest.Config{User: "u", Password: "pw", PeerAddress: gw, Address: netip.MustParseAddr("10.99.0.2")})
	defer srv.Close()
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const ifname = "corrgwtest0"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := Connect(ctx, ConnectConfig{Server: addr.String(), User: "u", Password: "pw", IfName: ifname})
	if sess != nil {
		sess.Close(context.Background())
		t.Fatal("connected")
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Class != ClassProtocol ||
		!strings.Contains(ce.Msg, "the server gave its own address as 192.168.77.1, which is your default gateway") {
		t.Fatalf("err %#v, want the gateway refusal", err)
	}
	if strings.Contains(ce.Msg+ce.Hint, "pw") {
		t.Error("the password shows")
	}
	if _, err := net.InterfaceByName(ifname); err == nil {
		t.Errorf("device %s exists", ifname)
	}
	if st := srv.Stats(); st.IPCPUp != 1 || st.LCPTerminates+st.CDNs+st.StopCCNs == 0 {
		t.Errorf("server stats %+v: want IPCP up once, then the tunnel closed", st)
	}
}

// An unknown routing table (DefaultGateways failed) skips the gateway
// check; an address inside a local network is logged, not refused.
func TestVetAddresses(t *testing.T) {
	a := netip.MustParseAddr
	info := ppp.IPInfo{Local: a("10.99.0.2"), Peer: a("10.99.0.1")}
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	stubRouting(t, []netip.Addr{a("10.99.0.1")}, errors.New("no routing table"), []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")})
	if e := vetAddresses(info, logger); e != nil {
		t.Errorf("unreadable routing table: refused: %v", e)
	}
	if !strings.Contains(log.String(), "the tunnel address 10.99.0.2 is inside your local network 10.99.0.0/24") || !strings.Contains(log.String(), "level=INFO") {
		t.Errorf("log lacks the LAN note:\n%s", log.String())
	}
	stubRouting(t, []netip.Addr{a("10.99.0.1")}, nil, nil)
	if e := vetAddresses(info, nil); e == nil || e.Class != ClassProtocol {
		t.Errorf("gateway peer: %v", e)
	}
}

// Userspace mode needs no privileges: the session comes up on a
// userspace network stack, opens no device, and closes cleanly.
func TestConnectUserspace(t *testing.T) {
	stubRouting(t, nil, nil, nil)
	srv := l2tptest.NewServer(l2tptest.Config{User: "u", Password: "pw", Address: netip.MustParseAddr("10.99.0.2"),
		PeerAddress: netip.MustParseAddr("10.99.0.1")})
	defer srv.Close()
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stages []string
	sess, err := Connect(ctx, ConnectConfig{Server: addr.String(), User: "u", Password: "pw", Userspace: true,
		IfName: "must-not-be-used0", OnStage: func(s Stage) { stages = append(stages, s.Detail) }})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Interface() != platform.NetstackName || sess.Netstack() == nil {
		t.Errorf("interface %q netstack %v", sess.Interface(), sess.Netstack())
	}
	if last := stages[len(stages)-1]; !strings.Contains(last, "userspace network stack") {
		t.Errorf("last stage %q", last)
	}
	if _, err := net.InterfaceByName("must-not-be-used0"); err == nil {
		t.Error("a device was created")
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sess.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Close")
	}
	if st := srv.Stats(); st.IPCPUp != 1 || st.LCPTerminates+st.CDNs+st.StopCCNs == 0 {
		t.Errorf("server stats %+v", st)
	}
}
