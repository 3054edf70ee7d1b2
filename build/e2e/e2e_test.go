// Package e2e runs the corridor binary against a real SoftEther VPN Server
// (Debian's package) in network namespaces the tests create. The tests need
// root; without it they skip.
package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
)

var corridorBin string

func TestMain(m *testing.M) {
	if os.Getenv("CORRIDOR_GREETER") != "" || os.Getenv("CORRIDOR_GREET_CLIENT") != "" {
		os.Exit(m.Run()) // a helper process of daemon_test.go: no build
	}
	if os.Geteuid() != 0 {
		fmt.Println("e2e: skipping: needs root (creates network namespaces, a SoftEther server and TUN devices)")
		os.Exit(m.Run()) // every test skips itself too
	}
	dir, err := os.MkdirTemp("", "corridor-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corridorBin = filepath.Join(dir, "corridor")
	// -tags nogui: no test here drives the desktop app, and the Fyne
	// build would cost minutes of CPU on a shared machine.
	build := exec.Command("go", "build", "-tags", "nogui", "-o", corridorBin, "github.com/corridorvpn/corridor")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server starts a fresh SoftEther server for one test (about 2-9 s); it is
// stopped and its namespaces removed when the test ends. Tests run one at a
// time (the Debian build mishandles concurrent raw-L2TP tunnels).
func server(t *testing.T) *softether.Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, runs SoftEther VPN Server and TUN devices")
	}
	return softether.Start(t)
}

// client is one corridor connect process in the client namespace.
type client struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder // stdout
	errb strings.Builder // stderr
	// stamped: each stdout line with the time since start it arrived.
	stamped []string
	lines   chan string
	waited  chan struct{}
	err     error
	start   time.Time
}

// startClient runs corridor connect over raw L2TP (--no-ipsec).
func startClient(t *testing.T, s *softether.Server, password string, extra ...string) *client {
	t.Helper()
	return startCorridor(t, s, password, "", extra...)
}

// startCorridor runs corridor connect; with a psk, over L2TP/IPsec.
func startCorridor(t *testing.T, s *softether.Server, password, psk string, extra ...string) *client {
	t.Helper()
	return startCorridorAt(t, s, s.Addr, password, psk, extra...)
}

// startCorridorAt is startCorridor to another address than the server's
// (a relay in front of it).
func startCorridorAt(t *testing.T, s *softether.Server, target, password, psk string, extra ...string) *client {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"connect", "--user", s.User, "--password-file", pw, "--ifname", "ctest0"}
	if psk == "" {
		args = append(args, "--no-ipsec")
	} else {
		pf := filepath.Join(t.TempDir(), "psk")
		if err := os.WriteFile(pf, []byte(psk+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--psk-file", pf)
	}
	args = append(append(args, extra...), target)
	return startCmd(t, s.Command(context.Background(), corridorBin, args...))
}

// startCmd starts cmd (a corridor process), collecting its stdout line by
// line (also on c.lines, with arrival times in c.stamped) and its stderr;
// the process is killed when the test ends, and its output logged if the
// test failed.
func startCmd(t *testing.T, cmd *exec.Cmd) *client {
	t.Helper()
	c := &client{t: t, cmd: cmd, lines: make(chan string, 64), waited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &c.mu, b: &c.errb}
	c.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.stamped = append(c.stamped, fmt.Sprintf("%6.2fs %s", time.Since(c.start).Seconds(), sc.Text()))
			c.mu.Unlock()
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		c.err = cmd.Wait()
		close(c.waited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.waited:
		default:
			cmd.Process.Kill()
			<-c.waited
		}
		if t.Failed() {
			t.Logf("corridor stdout:\n%s\ncorridor stderr:\n%s", c.stdout(), c.stderr())
		}
	})
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (c *client) stdout() string { c.mu.Lock(); defer c.mu.Unlock(); return c.out.String() }
func (c *client) stderr() string { c.mu.Lock(); defer c.mu.Unlock(); return c.errb.String() }

// waitConnected waits for the "connected:" line and returns it.
func (c *client) waitConnected(timeout time.Duration) string {
	c.t.Helper()
	line, code := c.waitConnectedOrExit(timeout)
	if line == "" {
		c.t.Fatalf("corridor exited before connecting: exit %d (%v)", code, c.err)
	}
	return line
}

// waitConnectedOrExit returns the "connected:" line, or "" and the exit
// code when corridor ended first.
func (c *client) waitConnectedOrExit(timeout time.Duration) (string, int) {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-c.lines:
			if strings.HasPrefix(l, "connected:") {
				return l, 0
			}
		case <-c.waited:
			code, _ := c.exit(time.Second)
			return "", code
		case <-deadline:
			c.t.Fatalf("neither connected nor ended within %v", timeout)
		}
	}
}

// exit waits for the process to end and returns its exit code.
func (c *client) exit(timeout time.Duration) (int, time.Duration) {
	c.t.Helper()
	select {
	case <-c.waited:
	case <-time.After(timeout):
		c.t.Fatalf("corridor still running after %v", timeout)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode(), time.Since(c.start)
	}
	if c.err != nil {
		c.t.Fatalf("wait: %v", c.err)
	}
	return 0, time.Since(c.start)
}

func (c *client) terminate() int {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	code, _ := c.exit(15 * time.Second)
	return code
}

var pingReceived = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// ping pings the SecureNAT gateway through the tunnel, returns replies.
func ping(t *testing.T, s *softether.Server, count int) int {
	t.Helper()
	return pingIf(t, s, "ctest0", count)
}

// pingIf pings 192.168.30.1 out of device ifname.
func pingIf(t *testing.T, s *softether.Server, ifname string, count int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+5)*time.Second)
	defer cancel()
	out, _ := s.Command(ctx, "ping", "-c", strconv.Itoa(count), "-i", "0.3", "-W", "2", "-I", ifname, "192.168.30.1").CombinedOutput()
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping output not understood:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[2]))
	return n
}

func deviceExists(s *softether.Server) bool {
	return s.Command(context.Background(), "ip", "link", "show", "ctest0").Run() == nil
}

func connectPingDisconnect(t *testing.T, auth, wantStage string) {
	s := server(t)
	c := startClient(t, s, s.Password, "--auth", auth, "-v")
	line := c.waitConnected(30 * time.Second)
	t.Logf("%s (%v after start)", line, time.Since(c.start).Round(time.Millisecond))
	for _, want := range []string{"l2tp tunnel up", "ppp lcp opened", wantStage, "ipcp: 192.168.30."} {
		if !strings.Contains(c.stdout(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, c.stdout())
		}
	}
	if !regexp.MustCompile(`^connected: interface ctest0 address 192\.168\.30\.\d+ peer \S+ dns 192\.168\.30\.1 `).MatchString(line) {
		t.Errorf("connected line: %q", line)
	}
	if got := ping(t, s, 5); got != 5 {
		t.Errorf("ping through the tunnel: %d of 5 replies", got)
	}
	logBefore, _ := s.Log()
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\nstderr:\n%s", code, c.stderr())
	}
	if !strings.Contains(c.stdout(), "disconnected:") {
		t.Errorf("no disconnected: line:\n%s", c.stdout())
	}
	if deviceExists(s) {
		t.Errorf("device ctest0 still exists after exit")
	}
	// SoftEther logs a clean end of the PPP session: after our LCP
	// Terminate, or after our CDN/StopCCN if it processes those first.
	clean := regexp.MustCompile(`The PPP session is disconnected (by the VPN Client's disconnecting request|because the upper-layer protocol "L2TP" has been disconnected)`)
	var logAfter string
	for i := 0; i < 30; i++ {
		logAfter, _ = s.Log()
		if len(clean.FindAllString(logAfter, -1)) > len(clean.FindAllString(logBefore, -1)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(clean.FindAllString(logAfter, -1)) <= len(clean.FindAllString(logBefore, -1)) {
		t.Errorf("server log shows no clean PPP disconnect (%v)", clean)
	}
}

func TestMSCHAPv2PingAndDisconnect(t *testing.T) {
	connectPingDisconnect(t, "mschapv2", "ppp auth ok (MS-CHAPv2)")
}

func TestPAPPingAndDisconnect(t *testing.T) {
	connectPingDisconnect(t, "pap", "ppp auth ok (PAP)")
}

func wrongPassword(t *testing.T, auth, wantMsg string) {
	s := server(t)
	c := startClient(t, s, "not-"+s.Password, "--auth", auth, "-v")
	code, took := c.exit(20 * time.Second)
	t.Logf("exit %d after %v; stderr:\n%s", code, took.Round(time.Millisecond), c.stderr())
	if code != 3 {
		t.Errorf("exit code = %d, want 3 (authentication)", code)
	}
	if took > 15*time.Second {
		t.Errorf("took %v, want at most 15s", took)
	}
	if !strings.Contains(c.stderr(), wantMsg) {
		t.Errorf("stderr lacks %q", wantMsg)
	}
	if !strings.Contains(c.stderr(), "hint: ") {
		t.Errorf("stderr has no hint")
	}
	if strings.Contains(c.stderr(), s.Password) {
		t.Errorf("stderr contains the password")
	}
	if deviceExists(s) {
		t.Errorf("device ctest0 exists after a failed connect")
	}
}

func TestWrongPasswordMSCHAPv2(t *testing.T) {
	wrongPassword(t, "mschapv2", `authentication failed: the server rejected user "alice" (MS-CHAPv2 E=691`)
}

func TestWrongPasswordPAP(t *testing.T) {
	wrongPassword(t, "pap", `authentication failed: the server rejected user "alice" (PAP`)
}

// TestHoldSession keeps a session for 60 s: the server's LCP echoes must be
// answered (it drops a silent session after 20 s) and ping must still work.
func TestHoldSession(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a session for 60 s")
	}
	s := server(t)
	c := startClient(t, s, s.Password, "-v", "--keepalive", "3s")
	c.waitConnected(30 * time.Second)
	hold := 60 * time.Second
	select {
	case <-c.waited:
		t.Fatalf("corridor exited while holding: %v\n%s", c.err, c.stderr())
	case <-time.After(hold):
	}
	replies := strings.Count(c.stderr(), `msg="ppp send" proto=LCP code=Echo-Reply`)
	requests := strings.Count(c.stderr(), `msg="ppp recv" proto=LCP code=Echo-Request`)
	t.Logf("held %v: server sent %d LCP echo requests, we replied %d", hold, requests, replies)
	// SoftEther sends its first Echo-Request before LCP is open; RFC 1661
	// 5.8 answers echoes only in the Opened state, so that one goes unanswered.
	if requests < 8 || replies < requests-1 {
		t.Errorf("echo requests %d, replies %d: want >= 8 (every ~5 s) and all answered once LCP is open", requests, replies)
	}
	// Our own keepalive, every 3 s (--keepalive 3s): about 20 in 60 s.
	ourRequests := strings.Count(c.stderr(), `msg="ppp send" proto=LCP code=Echo-Request`)
	ourReplies := strings.Count(c.stderr(), `msg="ppp recv" proto=LCP code=Echo-Reply`)
	t.Logf("our keepalive: %d echo requests sent, %d replies received", ourRequests, ourReplies)
	if ourReplies < 15 || ourReplies < ourRequests-1 {
		t.Errorf("our own keepalive: %d echo replies to %d requests in %v, want >= 15 and all but the last answered", ourReplies, ourRequests, hold)
	}
	if got := ping(t, s, 5); got != 5 {
		t.Errorf("ping after %v: %d of 5", hold, got)
	}
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code = %d", code)
	}
}

// TestNoServer: nothing listens: the client explains it and exits 4.
func TestNoServer(t *testing.T) {
	s := server(t)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("x\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 10.x.x.2 is the client's own veth address: no L2TP there, so the
	// kernel answers with ICMP port unreachable.
	self := strings.TrimSuffix(s.Addr, ".1") + ".2"
	cmd := s.Command(ctx, corridorBin, "connect", "--no-ipsec", "--user", "u", "--password-file", pw, self)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	t.Logf("exit after %v:\n%s", took.Round(time.Millisecond), out)
	// Three port unreachables (the first SCCRQ and two retransmissions,
	// 1 s and 2 s later) are enough to know: well under the ~31 s that
	// retransmissions alone would take.
	if took > 10*time.Second {
		t.Errorf("took %v to give up on a closed port, want under 10 s", took)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("want exit code 4, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "nothing answers L2TP at "+self) {
		t.Errorf("output:\n%s", out)
	}
}

// TestKeepaliveDeadServer: the server freezes (SIGSTOP) under a raw L2TP
// session; our LCP keepalive (--keepalive 2s --keepalive-failures 3) ends
// the connection with the "no answer" exit code and the plain-words
// reason, and the device is gone.
func TestKeepaliveDeadServer(t *testing.T) {
	s := server(t)
	c := startClient(t, s, s.Password, "--keepalive", "2s", "--keepalive-failures", "3")
	c.waitConnected(30 * time.Second)
	if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	defer syscall.Kill(s.PID, syscall.SIGCONT)
	code, _ := c.exit(30 * time.Second)
	took := time.Since(frozen)
	t.Logf("exit %d %v after the server froze; stderr:\n%s", code, took.Round(100*time.Millisecond), c.stderr())
	if code != 4 {
		t.Errorf("exit code = %d, want 4 (no answer)", code)
	}
	// Three unanswered echoes 2 s apart, then the fourth tick: 6-8 s after
	// the freeze; the dead server's LCP Terminate, CDN and StopCCN are
	// sent once, not waited for.
	if took > 10*time.Second {
		t.Errorf("took %v to notice and exit, want under 10 s", took)
	}
	if !strings.Contains(c.stderr(), "stopped answering keepalives") {
		t.Errorf("stderr lacks the reason")
	}
	if deviceExists(s) {
		t.Errorf("device ctest0 still exists")
	}
}
