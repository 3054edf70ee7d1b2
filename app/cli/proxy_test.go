package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
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

func proxyServer(t *testing.T) (*l2tptest.Server, string, string) {
	t.Helper()
	srv := l2tptest.NewServer(l2tptest.Config{User: "u", Password: "pw-Xy9q"})
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("pw-Xy9q\n"), 0o600)
	return srv, addr.String(), pw
}

// A proxy address that cannot be used fails with exit code 6 in plain
// words before anything reaches the server.
func TestConnectProxyAddressErrors(t *testing.T) {
	srv, server, pw := proxyServer(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	for _, c := range []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"port in use", []string{"--proxy", busyPort}, ExitLocal, "port " + busyPort + " is already in use"},
		{"not loopback", []string{"--proxy", "0.0.0.0:" + busyPort}, ExitLocal, "--proxy-allow-remote"},
		{"not this computer's", []string{"--proxy", "192.0.2.1:1080", "--proxy-allow-remote"}, ExitLocal, "not an address of this computer"},
		{"bad port", []string{"--proxy", "99999"}, ExitLocal, "bad proxy port"},
		{"ifname", []string{"--proxy", "1080", "--ifname", "x0"}, ExitUsage, "--proxy uses none"},
		{"allow-remote alone", []string{"--proxy-allow-remote"}, ExitUsage, "goes with --proxy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"connect", "--no-ipsec", "--user", "u", "--password-file", pw}, c.extra...)
			code, stdout, stderr := run(t, "", append(args, server)...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, stderr, c.code, c.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q: a stage started", stdout)
			}
		})
	}
	if st := srv.Stats(); st.Tunnels != 0 {
		t.Errorf("the server saw %d tunnels", st.Tunnels)
	}
}

// corridor connect --proxy needs no privileges: stage lines, the proxy
// line, connected on the userspace stack, a proxy that answers, and a
// clean disconnect on SIGINT.
func TestConnectProxyUserspace(t *testing.T) {
	srv, server, pw := proxyServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := l.Addr().String()
	_, port, _ := net.SplitHostPort(proxyAddr)
	l.Close()

	var stdout, stderr syncBuffer
	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- Run([]string{"connect", "--no-ipsec", "--user", "u", "--password-file", pw, "--proxy", port, server},
			Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Signals: sigs})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "connected:") {
		select {
		case code := <-done:
			t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected:\n%s%s", stdout.String(), stderr.String())
		}
	}
	out := stdout.String()
	pi, ci := strings.Index(out, "proxy: socks5 and http on "+proxyAddr+"\n"), strings.Index(out, "connected: interface userspace address 10.99.0.2")
	if pi < 0 || ci < pi || !strings.Contains(out, "ppp auth ok") {
		t.Errorf("stdout:\n%s", out)
	}

	// SOCKS5 greeting on the port.
	c, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte{5, 1, 0})
	g := make([]byte, 2)
	if _, err := io.ReadFull(c, g); err != nil || g[0] != 5 || g[1] != 0 {
		t.Errorf("greeting % x %v", g, err)
	}
	c.Close()

	// The server assigned no DNS: a name cannot be resolved, in plain words.
	h, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(h, "CONNECT intranet.example:443 HTTP/1.1\r\nHost: intranet.example:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(h), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	h.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "assigned no DNS server") {
		t.Errorf("CONNECT by name without DNS: %d %q", resp.StatusCode, body)
	}

	sigs <- syscall.SIGINT
	select {
	case code := <-done:
		if code != ExitOK || !strings.Contains(stdout.String(), "disconnected:") {
			t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGINT")
	}
	if strings.Contains(stdout.String()+stderr.String(), "pw-Xy9q") {
		t.Error("the password shows")
	}
	if st := srv.Stats(); st.IPCPUp != 1 || st.LCPTerminates+st.CDNs+st.StopCCNs == 0 {
		t.Errorf("server stats %+v", st)
	}
	if c, err := net.DialTimeout("tcp", proxyAddr, time.Second); err == nil {
		c.Close()
		t.Error("the proxy still listens after disconnecting")
	}
}
