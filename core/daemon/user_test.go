package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// userRunner serves a Manager of fakeStack on a ListenUser socket at
// path until stop is called.
func userRunner(t *testing.T, path string) (stop func()) {
	t.Helper()
	m := core.NewManager(fakeStack{})
	srv := &Server{Engine: m}
	if err := srv.ListenUser(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			m.Close(cctx)
			ccancel()
			srv.RemoveSocket()
		})
	}
	t.Cleanup(stop)
	return stop
}

func proxyUp(name string) core.UpRequest {
	p := profile.NewProfile(name)
	p.Server, p.User, p.Mode = "vpn.example.com", "alice", profile.ModeProxy
	return core.UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "psk"}}
}

// TestListenUserPrivateDir: the runner's directory is made 0700, the
// socket 0600; a directory open to others is refused.
func TestListenUserPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	userRunner(t, filepath.Join(dir, "user.sock"))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "user.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	err := (&Server{Engine: core.NewManager(fakeStack{})}).ListenUser(filepath.Join(open, "user.sock"))
	if err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Errorf("ListenUser in a 0777 directory: %v", err)
	}
}

// TestUserClientStartsRunner: Up with no runner spawns one (Spawn) and
// connects through it; Status and Down without a runner are empty and
// quiet; Subscribe follows the runner across its start and brings a
// late follower up to date.
func TestUserClientStartsRunner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "user.sock")
	var stop func()
	spawned := 0
	u := &UserClient{Client: Client{Socket: path}, Retry: 20 * time.Millisecond, StartWait: 5 * time.Second,
		Spawn: func() error { spawned++; stop = userRunner(t, path); return nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if u.Running(ctx) {
		t.Fatal("Running with no runner")
	}
	if sts, err := u.Status(ctx); err != nil || len(sts) != 0 {
		t.Errorf("Status with no runner: %v %v", sts, err)
	}
	if err := u.Down(ctx, ""); err != nil {
		t.Errorf("Down all with no runner: %v", err)
	}
	if err := u.Down(ctx, "socks"); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Errorf("Down socks with no runner: %v", err)
	}
	events, err := u.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe with no runner: %v", err)
	}

	if err := u.Up(ctx, proxyUp("socks")); err != nil {
		t.Fatalf("Up: %v", err)
	}
	if spawned != 1 || !u.Running(ctx) {
		t.Fatalf("spawned %d, running %v", spawned, u.Running(ctx))
	}
	// The follower joined after the session was up: it hears of it.
	waitEventState(t, events, "socks", core.StateConnected)
	if sts, err := u.Status(ctx); err != nil || len(sts) != 1 || sts[0].State != core.StateConnected {
		t.Errorf("Status: %+v %v", sts, err)
	}
	if err := u.Start(ctx); err != nil || spawned != 1 {
		t.Errorf("Start with a runner: %v, spawned %d", err, spawned)
	}
	if err := u.Down(ctx, "socks"); err != nil {
		t.Errorf("Down: %v", err)
	}
	waitEventState(t, events, "socks", core.StateIdle)

	// The runner ends; the stream stays open and follows the next one.
	stop()
	if u.Running(ctx) {
		t.Fatal("Running after the runner stopped")
	}
	if err := u.Up(ctx, proxyUp("socks")); err != nil || spawned != 2 {
		t.Fatalf("second Up: %v, spawned %d", err, spawned)
	}
	waitEventState(t, events, "socks", core.StateConnected)
	cancel()
	for range events {
	}
}

// TestUserClientNoSpawn: without Spawn, Up says in plain words that the
// runner is not running.
func TestUserClientNoSpawn(t *testing.T) {
	u := &UserClient{Client: Client{Socket: filepath.Join(t.TempDir(), "user.sock")}}
	err := u.Up(context.Background(), proxyUp("socks"))
	var ce *core.Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "session runner of proxy-mode profiles is not running") {
		t.Errorf("Up: %v", err)
	}
}

func waitEventState(t *testing.T, events <-chan core.Event, name string, want core.State) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("events ended before %s was %s", name, want)
			}
			seen = append(seen, string(ev.Kind)+" "+ev.Status.Profile+" "+string(ev.Status.State)+" "+ev.Line)
			if ev.Kind == core.EventState && ev.Status.Profile == name && ev.Status.State == want {
				return
			}
		case <-timeout:
			t.Fatalf("%s not %s within 10 s; events: %q", name, want, seen)
		}
	}
}
