package platform

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/tun"
)

// These tests run on every system: they check the macOS TUN's commands
// with a fake utun device and a fake Runner. Nothing here touches a Mac.

// utunFake is a tun.Device standing in for a macOS utun device: the
// "kernel" names it utun4 when asked for "utun".
type utunFake struct {
	name      string
	events    chan tun.Event
	closeOnce sync.Once
	closes    int
	nameErr   error
}

func (d *utunFake) File() *os.File { return nil }
func (d *utunFake) Read([][]byte, []int, int) (int, error) {
	return 0, errors.New("utunFake: no packets")
}
func (d *utunFake) Write(bufs [][]byte, _ int) (int, error) { return len(bufs), nil }
func (d *utunFake) MTU() (int, error)                       { return 1500, nil }
func (d *utunFake) Name() (string, error)                   { return d.name, d.nameErr }
func (d *utunFake) Events() <-chan tun.Event                { return d.events }
func (d *utunFake) BatchSize() int                          { return 1 }
func (d *utunFake) Close() error {
	d.closes++
	d.closeOnce.Do(func() { close(d.events) })
	return nil
}

type utunCreator struct {
	dev                *utunFake
	gotName            string
	gotMTU             int
	createErr, nameErr error
}

func (c *utunCreator) create(name string, mtu int) (tun.Device, error) {
	c.gotName, c.gotMTU = name, mtu
	if c.createErr != nil {
		return nil, c.createErr
	}
	n := name
	if n == "utun" {
		n = "utun4"
	}
	c.dev = &utunFake{name: n, events: make(chan tun.Event, 1), nameErr: c.nameErr}
	c.dev.events <- tun.EventUp
	return c.dev, nil
}

var (
	utunLocal = netip.MustParseAddr("192.168.30.10")
	utunPeer  = netip.MustParseAddr("192.168.30.1")
)

func wantUtunCmds(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s commands:\n got  %q\n want %q", what, got, want)
	}
}

func openUtun(t *testing.T, cfg TUNConfig, r *fakeRunner, c *utunCreator) (*TUN, error) {
	t.Helper()
	o := buildOptions([]Option{WithRunner(r), withCreate(c.create), WithLogger(testLogger(t))})
	return openDarwinTUN(cfg, o)
}

func TestDarwinTUNName(t *testing.T) {
	for _, tt := range []struct {
		requested, want string
		ignored         bool
	}{
		{"", "utun", false},
		{"utun", "utun", false},
		{"utun7", "utun7", false},
		{"utun12", "utun12", false},
		{"corridor0", "utun", true}, // the helper's names (core.RealStack)
		{"corridor%d", "utun", true},
		{"utun-1", "utun", true},
		{"utunx", "utun", true},
		{"utun 3", "utun", true},
	} {
		got, ignored := darwinTUNName(tt.requested)
		if got != tt.want || ignored != tt.ignored {
			t.Errorf("darwinTUNName(%q) = %q, %v; want %q, %v", tt.requested, got, ignored, tt.want, tt.ignored)
		}
	}
}

// The golden commands: one ifconfig per device.
func TestDarwinTUNPlan(t *testing.T) {
	for _, tt := range []struct {
		name string
		dev  string
		cfg  TUNConfig
		want []string
	}{
		{"local peer mtu", "utun4", TUNConfig{MTU: 1400, Local: utunLocal, Peer: utunPeer},
			[]string{"ifconfig utun4 inet 192.168.30.10 192.168.30.1 netmask 255.255.255.255 mtu 1400 up"}},
		{"no peer: its own destination", "utun0", TUNConfig{MTU: 1280, Local: utunLocal},
			[]string{"ifconfig utun0 inet 192.168.30.10 192.168.30.10 netmask 255.255.255.255 mtu 1280 up"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := darwinTUNPlan(tt.dev, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range plan {
				got = append(got, c.String())
				if c.Stdin != "" {
					t.Errorf("%s: unexpected stdin %q", c, c.Stdin)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
	if _, err := darwinTUNPlan("utun4; rm", TUNConfig{MTU: 1400, Local: utunLocal}); err == nil || !strings.Contains(err.Error(), "invalid macOS interface name") {
		t.Errorf("a bad name: err = %v", err)
	}
	if _, err := darwinTUNPlan("utun4", TUNConfig{MTU: 1400, Local: netip.MustParseAddr("fd00::2")}); err == nil || !strings.Contains(err.Error(), "not supported on macOS") {
		t.Errorf("IPv6: err = %v", err)
	}
}

func TestOpenDarwinTUNCommands(t *testing.T) {
	for _, tt := range []struct {
		name              string
		cfg               TUNConfig
		wantAsk, wantName string
		want              []string
	}{
		{"kernel picks", TUNConfig{MTU: 1400, Local: utunLocal, Peer: utunPeer}, "utun", "utun4",
			[]string{"ifconfig utun4 inet 192.168.30.10 192.168.30.1 netmask 255.255.255.255 mtu 1400 up"}},
		{"helper's name ignored", TUNConfig{Name: "corridor0", MTU: 1400, Local: utunLocal, Peer: utunPeer}, "utun", "utun4",
			[]string{"ifconfig utun4 inet 192.168.30.10 192.168.30.1 netmask 255.255.255.255 mtu 1400 up"}},
		{"utunN asked for", TUNConfig{Name: "utun9", MTU: 1380, Local: utunLocal}, "utun9", "utun9",
			[]string{"ifconfig utun9 inet 192.168.30.10 192.168.30.10 netmask 255.255.255.255 mtu 1380 up"}},
		{"unspecified peer, mapped local", TUNConfig{MTU: 1400, Local: netip.AddrFrom16(utunLocal.As16()), Peer: netip.IPv4Unspecified()}, "utun", "utun4",
			[]string{"ifconfig utun4 inet 192.168.30.10 192.168.30.10 netmask 255.255.255.255 mtu 1400 up"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, c := &fakeRunner{}, &utunCreator{}
			tn, err := openUtun(t, tt.cfg, r, c)
			if err != nil {
				t.Fatalf("openDarwinTUN: %v", err)
			}
			if c.gotName != tt.wantAsk || c.gotMTU != tt.cfg.MTU {
				t.Errorf("created as %q MTU %d, want %q MTU %d", c.gotName, c.gotMTU, tt.wantAsk, tt.cfg.MTU)
			}
			if tn.Name() != tt.wantName {
				t.Errorf("Name() = %q, want %q", tn.Name(), tt.wantName)
			}
			wantUtunCmds(t, "open", r.take(), tt.want)
			if err := tn.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := tn.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			// Closing the utun descriptor removes the interface: no command.
			wantUtunCmds(t, "close", r.take(), nil)
			if c.dev.closes != 1 {
				t.Errorf("device closed %d times, want 1", c.dev.closes)
			}
		})
	}
}

func TestOpenDarwinTUNFailures(t *testing.T) {
	cfg := TUNConfig{MTU: 1400, Local: utunLocal, Peer: utunPeer}

	// ifconfig fails: the device is closed (removed) and the error says
	// which command failed.
	r := &fakeRunner{fail: map[string]error{"ifconfig": exitErr(1, "ifconfig: ioctl (SIOCAIFADDR): File exists")}}
	c := &utunCreator{}
	if tn, err := openUtun(t, cfg, r, c); tn != nil || err == nil || !strings.Contains(err.Error(), "ifconfig utun4 inet") {
		t.Errorf("ifconfig failing: %v, %v", tn, err)
	}
	if c.dev.closes != 1 {
		t.Errorf("device closed %d times after a failed ifconfig, want 1", c.dev.closes)
	}

	// The device cannot be created (not root): nothing runs.
	r, c = &fakeRunner{}, &utunCreator{createErr: errors.New("operation not permitted")}
	if _, err := openUtun(t, cfg, r, c); err == nil || !strings.Contains(err.Error(), `creating TUN "utun"`) {
		t.Errorf("create failing: %v", err)
	}
	wantUtunCmds(t, "create failing", r.take(), nil)

	// Its name cannot be read: closed, nothing runs.
	r, c = &fakeRunner{}, &utunCreator{nameErr: errors.New("GetSockoptString: bad file descriptor")}
	if _, err := openUtun(t, cfg, r, c); err == nil || !strings.Contains(err.Error(), "reading TUN name") {
		t.Errorf("name failing: %v", err)
	}
	wantUtunCmds(t, "name failing", r.take(), nil)
	if c.dev.closes != 1 {
		t.Errorf("device closed %d times after a failed Name, want 1", c.dev.closes)
	}

	// Bad configurations are refused before a device exists.
	for _, bad := range []TUNConfig{
		{MTU: 1400, Local: netip.MustParseAddr("fd00::2")},
		{MTU: 20, Local: utunLocal},
		{MTU: 1400},
	} {
		r, c = &fakeRunner{}, &utunCreator{}
		if _, err := openUtun(t, bad, r, c); err == nil || c.gotName != "" {
			t.Errorf("%+v: err %v, device asked for %q", bad, err, c.gotName)
		}
		wantUtunCmds(t, "bad config", r.take(), nil)
	}
}
