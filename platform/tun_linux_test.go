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

// fakeDevice is a tun.Device that needs no privileges.
type fakeDevice struct {
	name      string
	mtu       int
	events    chan tun.Event
	done      chan struct{}
	closeOnce sync.Once
	closes    int
}

func (d *fakeDevice) File() *os.File { return nil }
func (d *fakeDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	<-d.done
	return 0, errors.New("fake: file already closed")
}
func (d *fakeDevice) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.done:
		return 0, errors.New("fake: file already closed")
	default:
	}
	n := 0
	for _, b := range bufs {
		n += len(b) - offset
	}
	return n, nil // bytes, as wireguard-go's Linux device does
}
func (d *fakeDevice) MTU() (int, error)        { return d.mtu, nil }
func (d *fakeDevice) Name() (string, error)    { return d.name, nil }
func (d *fakeDevice) Events() <-chan tun.Event { return d.events }
func (d *fakeDevice) BatchSize() int           { return 1 }
func (d *fakeDevice) Close() error {
	d.closes++
	d.closeOnce.Do(func() { close(d.done); close(d.events) })
	return nil
}

type fakeCreator struct {
	dev       *fakeDevice
	gotName   string
	gotMTU    int
	calls     int
	createErr error
}

func (f *fakeCreator) create(name string, mtu int) (tun.Device, error) {
	f.calls++
	f.gotName, f.gotMTU = name, mtu
	if f.createErr != nil {
		return nil, f.createErr
	}
	f.dev = &fakeDevice{
		name:   strings.ReplaceAll(name, "%d", "3"),
		mtu:    mtu,
		events: make(chan tun.Event, 1),
		done:   make(chan struct{}),
	}
	f.dev.events <- tun.EventUp
	return f.dev, nil
}

var (
	local = netip.MustParseAddr("192.168.30.10")
	peer  = netip.MustParseAddr("192.168.30.1")
)

func open(t *testing.T, cfg TUNConfig, fail map[string]error) (*TUN, *fakeRunner, *fakeCreator, error) {
	t.Helper()
	r := &fakeRunner{fail: fail}
	fc := &fakeCreator{}
	tn, err := OpenTUN(cfg, WithRunner(r), withCreate(fc.create))
	return tn, r, fc, err
}

func wantCmds(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s commands:\n got  %q\n want %q", what, got, want)
	}
}

func TestOpenTUNCommands(t *testing.T) {
	tests := []struct {
		name      string
		cfg       TUNConfig
		wantName  string
		wantOpen  []string
		wantClose []string
	}{
		{
			name:     "local peer mtu",
			cfg:      TUNConfig{MTU: 1400, Local: local, Peer: peer},
			wantName: "corridor0",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
			},
		},
		{
			name:     "no peer",
			cfg:      TUNConfig{Name: "vpn7", MTU: 1280, Local: local},
			wantName: "vpn7",
			wantOpen: []string{
				"ip addr add 192.168.30.10/32 dev vpn7",
				"ip link set dev vpn7 mtu 1280 up",
			},
		},
		{
			name:     "unspecified peer means none",
			cfg:      TUNConfig{MTU: 1400, Local: local, Peer: netip.IPv4Unspecified()},
			wantName: "corridor0",
			wantOpen: []string{
				"ip addr add 192.168.30.10/32 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
			},
		},
		{
			name:     "kernel-numbered name",
			cfg:      TUNConfig{Name: "corridor%d", MTU: 1400, Local: local, Peer: peer},
			wantName: "corridor3",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor3",
				"ip link set dev corridor3 mtu 1400 up",
			},
		},
		{
			name:     "ipv6: no link-local of the kernel's own",
			cfg:      TUNConfig{MTU: 1400, Local: local, Peer: peer, IPv6: true},
			wantName: "corridor0",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 addrgenmode none",
				"sysctl -q -w net/ipv6/conf/corridor0/accept_ra=0",
				"ip link set dev corridor0 mtu 1400 up",
			},
		},
		{
			name:     "mapped addresses",
			cfg:      TUNConfig{MTU: 1400, Local: netip.AddrFrom16(local.As16()), Peer: netip.AddrFrom16(peer.As16())},
			wantName: "corridor0",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn, r, fc, err := open(t, tt.cfg, nil)
			if err != nil {
				t.Fatalf("OpenTUN: %v", err)
			}
			if fc.gotMTU != tt.cfg.MTU {
				t.Errorf("created with MTU %d, want %d", fc.gotMTU, tt.cfg.MTU)
			}
			if tn.Name() != tt.wantName {
				t.Errorf("Name() = %q, want %q", tn.Name(), tt.wantName)
			}
			wantCmds(t, "open", r.take(), tt.wantOpen)
			if err := tn.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			wantCmds(t, "close", r.take(), tt.wantClose)
			if fc.dev.closes != 1 {
				t.Errorf("device closed %d times, want 1", fc.dev.closes)
			}
			// Close twice is harmless: nothing more runs.
			if err := tn.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			wantCmds(t, "second close", r.take(), nil)
			if fc.dev.closes != 1 {
				t.Errorf("device closed %d times after second Close, want 1", fc.dev.closes)
			}
		})
	}
}

func TestOpenTUNFailureUndoes(t *testing.T) {
	cause := errors.New("RTNETLINK answers: File exists")
	tests := []struct {
		name     string
		failOn   string
		wantCmds []string
	}{
		{
			name:     "addr add",
			failOn:   "ip addr add",
			wantCmds: []string{"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0"},
		},
		{
			name:   "link up",
			failOn: "ip link set",
			wantCmds: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := TUNConfig{MTU: 1400, Local: local, Peer: peer}
			tn, r, fc, err := open(t, cfg, map[string]error{tt.failOn: cause})
			if err == nil {
				tn.Close()
				t.Fatal("OpenTUN succeeded, want error")
			}
			if tn != nil {
				t.Errorf("OpenTUN returned a device with its error")
			}
			if !errors.Is(err, cause) || !strings.Contains(err.Error(), tt.failOn) {
				t.Errorf("error %q does not carry the failed command and its cause", err)
			}
			wantCmds(t, "open", r.take(), tt.wantCmds)
			if fc.dev.closes != 1 {
				t.Errorf("device closed %d times, want 1", fc.dev.closes)
			}
		})
	}
}

func TestOpenTUNInvalidConfig(t *testing.T) {
	for _, cfg := range []TUNConfig{
		{MTU: 0, Local: local},
		{MTU: 70000, Local: local},
		{MTU: 1400},
		{MTU: 1400, Local: netip.IPv4Unspecified()},
		{MTU: 1400, Local: local, Peer: netip.MustParseAddr("2001:db8::1")},
	} {
		tn, r, fc, err := open(t, cfg, nil)
		if err == nil {
			tn.Close()
			t.Errorf("OpenTUN(%+v) succeeded, want error", cfg)
			continue
		}
		if fc.calls != 0 || len(r.take()) != 0 {
			t.Errorf("OpenTUN(%+v) acted before rejecting the config", cfg)
		}
		if !strings.HasPrefix(err.Error(), "platform: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

func TestOpenTUNCreateFails(t *testing.T) {
	r := &fakeRunner{}
	fc := &fakeCreator{createErr: errors.New("device or resource busy")}
	_, err := OpenTUN(TUNConfig{MTU: 1400, Local: local}, WithRunner(r), withCreate(fc.create))
	if err == nil || !errors.Is(err, fc.createErr) || !strings.Contains(err.Error(), `"corridor0"`) {
		t.Errorf("err = %v, want the create error naming the device", err)
	}
	wantCmds(t, "open", r.take(), nil)
}

func TestReadWriteAfterClose(t *testing.T) {
	tn, _, _, err := open(t, TUNConfig{MTU: 1400, Local: local, Peer: peer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := tn.Write([][]byte{buf, buf}, MinWriteOffset); n != 2 || err != nil {
		t.Errorf("Write = %d, %v; want 2 packets", n, err)
	}
	done := make(chan error)
	go func() {
		_, err := tn.Read([][]byte{buf}, make([]int, 1), 0)
		done <- err
	}()
	tn.Close()
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("blocked Read after Close: %v, want os.ErrClosed", err)
	}
	if _, err := tn.Write([][]byte{buf}, MinWriteOffset); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
}

// TestOpenTUNIPv6NoSysctl: turning off the kernel's own router
// solicitations (accept_ra 0) is best effort: a machine without sysctl
// still gets its device, up, with IPv6.
func TestOpenTUNIPv6NoSysctl(t *testing.T) {
	tn, r, _, err := open(t, TUNConfig{MTU: 1400, Local: local, Peer: peer, IPv6: true},
		map[string]error{"sysctl": errors.New(`exec: "sysctl": executable file not found in $PATH`)})
	if err != nil {
		t.Fatalf("OpenTUN: %v", err)
	}
	defer tn.Close()
	wantCmds(t, "open", r.take(), []string{
		"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
		"ip link set dev corridor0 addrgenmode none",
		"sysctl -q -w net/ipv6/conf/corridor0/accept_ra=0",
		"ip link set dev corridor0 mtu 1400 up",
	})
}
