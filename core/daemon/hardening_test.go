package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel"
)

// rawSession dials sock, says hello and returns a line reader/writer.
func rawSession(t *testing.T, sock string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	fmt.Fprintf(c, `{"id":1,"method":"hello","params":{"version":%d}}`+"\n", ProtocolVersion)
	if _, err := rd.ReadBytes('\n'); err != nil {
		t.Fatalf("hello: %v", err)
	}
	return c, rd
}

func readResp(t *testing.T, rd *bufio.Reader) response {
	t.Helper()
	line, err := rd.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var r response
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("response %q: %v", line, err)
	}
	return r
}

// countingEngine records the calls that reach it.
type countingEngine struct {
	fakeEngine
	mu    sync.Mutex
	downs []string
}

func (e *countingEngine) Down(_ context.Context, p string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.downs = append(e.downs, p)
	return nil
}

// TestServerRefusesLongLine: a request line over MaxRequestLine is refused
// and the connection closed, without reading on (a 300 MiB line took the
// helper to 623 MiB before).
func TestServerRefusesLongLine(t *testing.T) {
	sock := startServer(t, &fakeEngine{})
	c, rd := rawSession(t, sock)
	go func() {
		junk := bytes.Repeat([]byte("a"), 16<<10)
		for i := 0; i < 64; i++ { // up to 1 MiB, no newline
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	r := readResp(t, rd)
	if r.Error == nil || r.Error.Class != core.ClassUsage || !strings.Contains(r.Error.Msg, "request too long") {
		t.Fatalf("response %+v, want a usage error saying the request is too long", r)
	}
	if _, err := rd.ReadBytes('\n'); err == nil {
		t.Error("the connection stayed open after an overlong line")
	}
	// A line just under the limit is read (and refused as bad JSON, not
	// as too long).
	c2, rd2 := rawSession(t, sock)
	line := append(bytes.Repeat([]byte("x"), MaxRequestLine-1), '\n')
	go c2.Write(line)
	if r := readResp(t, rd2); r.Error == nil || strings.Contains(r.Error.Msg, "too long") {
		t.Errorf("a %d-byte line: %+v, want bad request", len(line), r.Error)
	}
}

// TestServerMalformedRequests: wrong parameter types get a usage error
// and change nothing; before, a down with unparsable params became
// Down("") and disconnected every session.
func TestServerMalformedRequests(t *testing.T) {
	eng := &countingEngine{}
	sock := startServer(t, eng)
	c, rd := rawSession(t, sock)
	for _, req := range []string{
		`{"id":2,"method":"down","params":5}`,
		`{"id":3,"method":"down","params":{"profile":"office"}}`,
		`{"id":4,"method":"down","params":["office"]}`,
		`{"id":5,"method":"up","params":"office"}`,
		`{"id":6,"method":"up","params":{"profile":{"name":7}}}`,
		`{"id":7,"method":"up"}`,
	} {
		fmt.Fprintln(c, req)
		r := readResp(t, rd)
		if r.Error == nil || r.Error.Class != core.ClassUsage {
			t.Errorf("%s: %+v, want a usage error", req, r)
		}
	}
	fmt.Fprintln(c, `{"id":8,"method":"down","params":"office"}`)
	if r := readResp(t, rd); r.Error != nil {
		t.Errorf("a good down: %+v", r.Error)
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.downs) != 1 || eng.downs[0] != "office" {
		t.Errorf("engine saw downs %q, want only [office]", eng.downs)
	}
}

// fakeStack connects at once and holds the request (secrets included)
// while the link is up, as a real session does.
type fakeStack struct{}

type fakeLink struct {
	req  core.UpRequest
	done chan struct{}
	once sync.Once
}

func (fakeStack) Up(_ context.Context, req core.UpRequest, _ *slog.Logger, progress func(core.Stage)) (core.Link, error) {
	return &fakeLink{req: req, done: make(chan struct{})}, nil
}
func (l *fakeLink) Info() core.LinkInfo         { return core.LinkInfo{Interface: "fake0"} }
func (l *fakeLink) Stats() tunnel.Stats         { return tunnel.Stats{} }
func (l *fakeLink) Done() <-chan struct{}       { return l.done }
func (l *fakeLink) Err() error                  { return nil }
func (l *fakeLink) Close(context.Context) error { l.once.Do(func() { close(l.done) }); return nil }

// TestSecretHelperProcess is the helper process of TestSecretsLeaveMemory:
// a real Server and Manager (with a fake stack) on the socket it is given.
func TestSecretHelperProcess(t *testing.T) {
	sock := os.Getenv("CORRIDOR_SECRET_HELPER")
	if sock == "" {
		t.Skip("helper process of TestSecretsLeaveMemory")
	}
	m := core.NewManager(fakeStack{})
	s := &Server{Engine: m, Allow: func(uint32, uint32) bool { return true }}
	if err := s.Listen(sock, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		// Ends when the parent closes our stdin.
		os.Stdin.Read(make([]byte, 1))
		cancel()
	}()
	s.Serve(ctx)
}

// TestSecretsLeaveMemory: after down, no byte of the session's password
// or pre-shared key is left anywhere in the helper's memory (a scan of
// /proc/PID/mem of a real helper process); before down they are found,
// which shows the scan sees them.
func TestSecretsLeaveMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/mem")
	}
	sock := filepath.Join(t.TempDir(), "h.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CORRIDOR_SECRET_HELPER="+sock)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}()
	cl := &Client{Socket: sock}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; ; i++ {
		if cl.Ping(ctx) == nil {
			break
		}
		if i == 100 {
			t.Fatal("helper process did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	secret := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		return "SECRET-" + hex.EncodeToString(b)
	}
	pw, psk := secret(), secret()
	p := profile.NewProfile("office")
	p.Server, p.User, p.FullTunnel = "192.0.2.1", "alice", true
	if err := cl.Up(ctx, core.UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{
		profile.SecretPassword: pw, profile.SecretPSK: psk}}); err != nil {
		t.Fatalf("up: %v", err)
	}
	waitState(t, cl, core.StateConnected)
	pid := cmd.Process.Pid
	if n := countInMemory(t, pid, pw) + countInMemory(t, pid, psk); n == 0 {
		t.Fatal("while connected, the scan finds no copy of the secrets: the scan is broken")
	}
	if err := cl.Down(ctx, "office"); err != nil {
		t.Fatalf("down: %v", err)
	}
	waitState(t, cl, core.StateIdle)
	if n := countInMemory(t, pid, pw); n > 0 {
		t.Errorf("after down the password is still in the helper's memory (%d copies)", n)
	}
	if n := countInMemory(t, pid, psk); n > 0 {
		t.Errorf("after down the pre-shared key is still in the helper's memory (%d copies)", n)
	}
}

func waitState(t *testing.T, cl *Client, want core.State) {
	t.Helper()
	for i := 0; i < 200; i++ {
		st, err := cl.Status(context.Background())
		if err == nil && len(st) == 1 && st[0].State == want {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("session never reached %s", want)
}

// countInMemory counts occurrences of s in the readable, writable
// mappings of process pid.
func countInMemory(t *testing.T, pid int, s string) int {
	t.Helper()
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		t.Skipf("cannot read the helper's memory: %v", err)
	}
	defer mem.Close()
	n := 0
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
			continue
		}
		var lo, hi uint64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err != nil || hi-lo > 1<<30 {
			continue
		}
		buf := make([]byte, hi-lo)
		k, _ := mem.ReadAt(buf, int64(lo))
		n += bytes.Count(buf[:k], []byte(s))
	}
	return n
}
