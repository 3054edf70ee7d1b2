package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.zx2c4.com/wireguard/tun"
)

// recorder is a Runner that records commands and fails those starting with
// one of the fail keys.
type recorder struct {
	mu   sync.Mutex
	cmds []string
	fail map[string]error
}

func (r *recorder) Run(name string, args ...string) error {
	cmd := name + " " + strings.Join(args, " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, cmd)
	for prefix, err := range r.fail {
		if strings.HasPrefix(cmd, prefix) {
			return fmt.Errorf("platform: %s: exit status 2: %w", cmd, err)
		}
	}
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cmds
	r.cmds = nil
	return c
}

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

func open(t *testing.T, cfg TUNConfig, fail map[string]error) (*TUN, *recorder, *fakeCreator, error) {
	t.Helper()
	r := &recorder{fail: fail}
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
			name: "extra routes",
			cfg: TUNConfig{Name: "corridor%d", MTU: 1400, Local: local, Peer: peer, Routes: []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"),
				netip.MustParsePrefix("172.16.5.0/24"),
				netip.MustParsePrefix("10.0.0.0/8"),      // duplicate
				netip.MustParsePrefix("192.168.30.1/32"), // the peer: the kernel adds it
				netip.MustParsePrefix("10.1.2.3/16"),     // not masked
			}},
			wantName: "corridor3",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor3",
				"ip link set dev corridor3 mtu 1400 up",
				"ip route add 10.0.0.0/8 dev corridor3",
				"ip route add 172.16.5.0/24 dev corridor3",
				"ip route add 10.1.0.0/16 dev corridor3",
			},
			wantClose: []string{
				"ip route del 10.1.0.0/16 dev corridor3",
				"ip route del 172.16.5.0/24 dev corridor3",
				"ip route del 10.0.0.0/8 dev corridor3",
			},
		},
		{
			name: "mapped addresses",
			cfg: TUNConfig{MTU: 1400, Local: netip.AddrFrom16(local.As16()), Peer: netip.AddrFrom16(peer.As16()),
				Routes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1")}},
			wantName: "corridor0",
			wantOpen: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
				"ip route add 0.0.0.0/1 dev corridor0",
			},
			wantClose: []string{"ip route del 0.0.0.0/1 dev corridor0"},
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
	routes := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.0.2.0/24"),
	}
	cause := errors.New("RTNETLINK answers: File exists")
	tests := []struct {
		name     string
		failOn   string
		wantCmds []string
	}{
		{
			name:   "route add",
			failOn: "ip route add 172.16.0.0/12",
			wantCmds: []string{
				"ip addr add 192.168.30.10 peer 192.168.30.1 dev corridor0",
				"ip link set dev corridor0 mtu 1400 up",
				"ip route add 10.0.0.0/8 dev corridor0",
				"ip route add 172.16.0.0/12 dev corridor0", // fails
				"ip route del 10.0.0.0/8 dev corridor0",    // undo
			},
		},
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
			cfg := TUNConfig{MTU: 1400, Local: local, Peer: peer, Routes: routes}
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

func TestOpenTUNUndoFailureReported(t *testing.T) {
	cfg := TUNConfig{MTU: 1400, Local: local, Peer: peer, Routes: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12")}}
	addErr := errors.New("RTNETLINK answers: File exists")
	delErr := errors.New("RTNETLINK answers: Operation not permitted")
	_, _, _, err := open(t, cfg, map[string]error{"ip route add 172.16": addErr, "ip route del": delErr})
	if !errors.Is(err, addErr) || !errors.Is(err, delErr) {
		t.Errorf("error %q should carry both the failure and the failed undo", err)
	}
}

func TestCloseIgnoresGoneRoutes(t *testing.T) {
	cfg := TUNConfig{MTU: 1400, Local: local, Peer: peer, Routes: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12")}}
	tn, r, _, err := open(t, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.fail = map[string]error{"ip route del 10.": errors.New("RTNETLINK answers: No such process")}
	if err := tn.Close(); err != nil {
		t.Errorf("Close: %v, want nil (a route already gone is fine)", err)
	}

	tn, r, fc, err := open(t, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	permErr := errors.New("RTNETLINK answers: Operation not permitted")
	r.fail = map[string]error{"ip route del 172.": permErr}
	if err := tn.Close(); !errors.Is(err, permErr) {
		t.Errorf("Close: %v, want the route deletion failure", err)
	}
	if fc.dev.closes != 1 {
		t.Errorf("device not closed after a failed route deletion")
	}
	wantCmds(t, "close", r.take()[2+2:], []string{
		"ip route del 172.16.0.0/12 dev corridor0",
		"ip route del 10.0.0.0/8 dev corridor0",
	})
	if err2 := tn.Close(); !errors.Is(err2, permErr) {
		t.Errorf("second Close: %v, want the first Close's error again", err2)
	}
}

func TestOpenTUNInvalidConfig(t *testing.T) {
	for _, cfg := range []TUNConfig{
		{MTU: 0, Local: local},
		{MTU: 70000, Local: local},
		{MTU: 1400},
		{MTU: 1400, Local: netip.IPv4Unspecified()},
		{MTU: 1400, Local: local, Peer: netip.MustParseAddr("2001:db8::1")},
		{MTU: 1400, Local: local, Routes: []netip.Prefix{{}}},
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
	r := &recorder{}
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

func TestExecRunnerError(t *testing.T) {
	err := ExecRunner{}.Run("sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2")
	if err == nil {
		t.Fatal("want error")
	}
	want := "platform: sh -c echo 'RTNETLINK answers: File exists' >&2; exit 2: exit status 2: RTNETLINK answers: File exists"
	if err.Error() != want {
		t.Errorf("error:\n got  %q\n want %q", err, want)
	}
	if err := (ExecRunner{}).Run("true"); err != nil {
		t.Errorf("true: %v", err)
	}
}
