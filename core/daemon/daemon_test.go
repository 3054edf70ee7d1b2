package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// fakeHelper answers every connection's first request with reply, as a
// helper of another protocol version would.
func fakeHelper(t *testing.T, reply string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helper.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadBytes('\n')
			c.Write([]byte(reply + "\n"))
			c.Close()
		}
	}()
	return path
}

func TestHelperOlderThanApp(t *testing.T) {
	// What a helper of protocol 1 answers to hello.
	sock := fakeHelper(t, `{"id":1,"error":{"class":"usage","msg":"unknown method \"hello\""}}`)
	err := (&Client{Socket: sock}).Ping(context.Background())
	var ce *core.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *core.Error", err)
	}
	const want = "the Corridor helper is older than this app (protocol 1, app needs 2): restart or update the helper"
	if ce.Msg != want || ce.Class != core.ClassLocal || !errors.Is(err, ErrProtocolVersion) {
		t.Errorf("got %q (class %v), want %q", ce.Msg, ce.Class, want)
	}
}

func TestHelperNewerThanApp(t *testing.T) {
	sock := fakeHelper(t, `{"id":1,"result":{"version":3}}`)
	_, err := (&Client{Socket: sock}).Subscribe(context.Background())
	var ce *core.Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrProtocolVersion) ||
		!strings.HasPrefix(ce.Msg, "the Corridor helper is newer than this app (protocol 3, app needs 2)") {
		t.Fatalf("got %v", err)
	}
}

type fakeEngine struct{ upErr error }

func (e *fakeEngine) Up(context.Context, core.UpRequest) error { return e.upErr }
func (e *fakeEngine) Down(context.Context, string) error       { return nil }
func (e *fakeEngine) Status(context.Context) ([]core.Status, error) {
	return []core.Status{{Profile: "office", State: core.StateConnected}}, nil
}
func (e *fakeEngine) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event, 1)
	ch <- core.Event{Kind: core.EventState, Status: core.Status{Profile: "office", State: core.StateConnected}}
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func startServer(t *testing.T, eng core.Engine) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are only implemented on Linux")
	}
	path := filepath.Join(t.TempDir(), "corridor.sock")
	s := &Server{Engine: eng, Allow: func(uint32, uint32) bool { return true }}
	if err := s.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func TestServerAndClient(t *testing.T) {
	upErr := &core.Error{Class: core.ClassNoAnswer, Msg: "no answer", Hint: "probe it",
		HintKey: core.HintProbe, HintArg: "10.0.0.1", Err: errors.New("cause")}
	sock := startServer(t, &fakeEngine{upErr: upErr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := &Client{Socket: sock}
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	st, err := cl.Status(ctx)
	if err != nil || len(st) != 1 || st[0].State != core.StateConnected {
		t.Fatalf("Status: %v, %v", st, err)
	}
	// The error crosses the socket with its class, hint and hint key.
	err = cl.Up(ctx, core.UpRequest{})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.ClassNoAnswer || ce.Msg != "no answer" || ce.Hint != "probe it" ||
		ce.HintKey != core.HintProbe || ce.HintArg != "10.0.0.1" {
		t.Fatalf("Up: %#v", err)
	}
	ch, err := cl.Subscribe(ctx)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if ev := <-ch; ev.Status.Profile != "office" || ev.Kind != core.EventState {
		t.Errorf("event %+v", ev)
	}
}

func TestServerRefusesClientWithoutHello(t *testing.T) {
	sock := startServer(t, &fakeEngine{})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// What a client of protocol 1 sends.
	if _, err := c.Write([]byte(`{"id":1,"method":"ping"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	const want = "this app is older than the Corridor helper (protocol 1, helper needs 2): update the app"
	if resp.Error == nil || resp.Error.Msg != want {
		t.Fatalf("got %+v, want %q", resp.Error, want)
	}
}

// TestHelloAfterRefusal: a helper that refuses a client writes why and
// closes before the client's hello; the hello's write then fails (broken
// pipe) and the client still reports the helper's reason, not the
// write's error (seen as a flaky TestServePipeCallers).
func TestHelloAfterRefusal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "helper.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		json.NewEncoder(c).Encode(response{Error: &core.ErrorInfo{Class: core.ClassUsage, Msg: "not allowed to use the Corridor helper"}})
		c.Close()
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-done // the helper has refused and closed: the hello's write fails
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = sayHello(ctx, c)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.ClassUsage || !strings.Contains(ce.Msg, "not allowed to use the Corridor helper") {
		t.Fatalf("sayHello: %v, want the helper's refusal", err)
	}
}
