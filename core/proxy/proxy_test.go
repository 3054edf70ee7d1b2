package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeTunnel stands in for the tunnel's stack: 10.0.0.5:7 is an echo
// service, 10.0.0.5:80 an HTTP server, 10.0.0.5:81 refuses, 10.0.0.9 is
// unreachable; intranet.example is 10.0.0.5 in its DNS.
type fakeTunnel struct {
	t       *testing.T
	echo    net.Listener
	web     *httptest.Server
	dials   atomic.Int64
	lookups sync.Map // names looked up
}

func newFakeTunnel(t *testing.T) *fakeTunnel {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Plain reads and writes: io.Copy between TCP connections
			// splices through pipes that stay open in a pool until a
			// GC, which would look like a descriptor leak below.
			go func() {
				io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 4096))
				c.Close()
			}()
		}
	}()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var hop []string
		for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "X-Hop", "Te"} {
			if r.Header.Get(h) != "" {
				hop = append(hop, h)
			}
		}
		fmt.Fprintf(w, "%s %s host=%s hop=%v body=", r.Method, r.URL.RequestURI(), r.Host, hop)
		io.Copy(w, r.Body)
	}))
	f := &fakeTunnel{t: t, echo: l, web: web}
	t.Cleanup(func() { l.Close(); web.Close() })
	return f
}

func (f *fakeTunnel) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	f.dials.Add(1)
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		f.t.Errorf("Dial got %q: the proxy must resolve names itself, through the tunnel", address)
		return nil, err
	}
	refuse := func(e syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: e}
	}
	switch {
	case ap == netip.MustParseAddrPort("10.0.0.5:7"):
		return (&net.Dialer{}).DialContext(ctx, "tcp", f.echo.Addr().String())
	case ap == netip.MustParseAddrPort("10.0.0.5:80"):
		return (&net.Dialer{}).DialContext(ctx, "tcp", f.web.Listener.Addr().String())
	case ap.Addr() == netip.MustParseAddr("10.0.0.9"):
		return nil, refuse(syscall.EHOSTUNREACH)
	case ap.Addr() == netip.MustParseAddr("10.0.0.8"): // never answers
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: ctx.Err()}
	}
	return nil, refuse(syscall.ECONNREFUSED)
}

func (f *fakeTunnel) Lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.lookups.Store(host, true)
	switch host {
	case "intranet.example":
		return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil
	case "slow.example":
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// startProxy serves a proxy on a loopback port and returns its address.
func startProxy(t *testing.T, f *fakeTunnel) (string, *Server) {
	t.Helper()
	l, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Dial: f.Dial, Lookup: f.Lookup, HandshakeTimeout: 5 * time.Second})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String(), s
}

func dialProxy(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// socksConnect greets and sends a CONNECT request; it returns the reply.
func socksConnect(t *testing.T, c net.Conn, req []byte) []byte {
	t.Helper()
	c.Write([]byte{5, 1, 0})
	if g := readN(t, c, 2); !bytes.Equal(g, []byte{5, 0}) {
		t.Fatalf("greeting reply % x, want 05 00", g)
	}
	c.Write(req)
	return readN(t, c, 10)
}

func connectIPv4(ip string, port uint16) []byte {
	a := netip.MustParseAddr(ip).As4()
	return append([]byte{5, 1, 0, 1, a[0], a[1], a[2], a[3]}, byte(port>>8), byte(port))
}

func connectName(name string, port uint16) []byte {
	b := append([]byte{5, 1, 0, 3, byte(len(name))}, name...)
	return append(b, byte(port>>8), byte(port))
}

func expectEcho(t *testing.T, c net.Conn) {
	t.Helper()
	c.Write([]byte("ping through the tunnel"))
	if b := readN(t, c, 23); string(b) != "ping through the tunnel" {
		t.Fatalf("echo %q", b)
	}
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 0 {
		t.Fatalf("want the proxy to close without a reply; got % x, %v", b, err)
	}
}

func TestSOCKS5Greeting(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)

	c := dialProxy(t, addr)
	c.Write([]byte{5, 2, 2, 0}) // user/password and no-auth: no-auth is picked
	if g := readN(t, c, 2); !bytes.Equal(g, []byte{5, 0}) {
		t.Errorf("reply % x, want 05 00", g)
	}

	c = dialProxy(t, addr)
	c.Write([]byte{5, 1, 2}) // user/password only
	if g := readN(t, c, 2); !bytes.Equal(g, []byte{5, 0xFF}) {
		t.Errorf("reply % x, want 05 ff (no acceptable methods)", g)
	}
	expectClosed(t, c)
}

func TestSOCKS5ConnectIPv4(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	c := dialProxy(t, addr)
	if r := socksConnect(t, c, connectIPv4("10.0.0.5", 7)); r[1] != repSucceeded || r[3] != atypIPv4 {
		t.Fatalf("reply % x", r)
	}
	expectEcho(t, c)
	if _, ok := f.lookups.Load("10.0.0.5"); ok {
		t.Error("an address was looked up")
	}
}

func TestSOCKS5ConnectDomain(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	c := dialProxy(t, addr)
	if r := socksConnect(t, c, connectName("intranet.example", 7)); r[1] != repSucceeded {
		t.Fatalf("reply % x", r)
	}
	expectEcho(t, c)
	if _, ok := f.lookups.Load("intranet.example"); !ok {
		t.Error("the name was not resolved through the tunnel's resolver")
	}
}

func TestSOCKS5Errors(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	for _, tc := range []struct {
		name string
		req  []byte
		rep  byte
	}{
		{"refused", connectIPv4("10.0.0.5", 81), repConnRefused},
		{"unreachable", connectIPv4("10.0.0.9", 80), repHostUnreachable},
		{"name not found", connectName("missing.example", 80), repHostUnreachable},
		{"dns timeout", connectName("slow.example", 80), repHostUnreachable},
		{"bind", []byte{5, 2, 0, 1, 10, 0, 0, 5, 0, 80}, repCmdNotSupported},
		{"udp associate", []byte{5, 3, 0, 1, 10, 0, 0, 5, 0, 80}, repCmdNotSupported},
		{"ipv6", append([]byte{5, 1, 0, 4}, make([]byte, 18)...), repAddrTypeNotSupport},
		{"unknown address type", []byte{5, 1, 0, 9, 1, 2, 3, 4, 0, 80}, repAddrTypeNotSupport},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialProxy(t, addr)
			r := socksConnect(t, c, tc.req)
			if r[0] != 5 || r[1] != tc.rep {
				t.Errorf("reply % x, want REP %#x", r, tc.rep)
			}
			expectClosed(t, c)
		})
	}
}

func TestSOCKS5Truncated(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	for _, tc := range []struct {
		name     string
		send     []byte
		greeted  bool // the greeting was complete: 05 00 comes back first
		wantDial bool
	}{
		{"version only", []byte{5}, false, false},
		{"methods cut", []byte{5, 3, 0}, false, false},
		{"request header cut", []byte{5, 1, 0, 5, 1}, true, false},
		{"ipv4 cut", []byte{5, 1, 0, 5, 1, 0, 1, 10, 0}, true, false},
		{"port cut", []byte{5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 5, 0}, true, false},
		{"name cut", append([]byte{5, 1, 0, 5, 1, 0, 3, 16}, "intranet"...), true, false},
		{"empty name", []byte{5, 1, 0, 5, 1, 0, 3, 0, 0, 80}, true, false},
		{"wrong request version", []byte{5, 1, 0, 4, 1, 0, 1, 10, 0, 0, 5, 0, 80}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.dials.Load()
			c := dialProxy(t, addr)
			c.Write(tc.send)
			c.(*net.TCPConn).CloseWrite()
			if tc.greeted {
				if g := readN(t, c, 2); !bytes.Equal(g, []byte{5, 0}) {
					t.Fatalf("greeting reply % x", g)
				}
			}
			expectClosed(t, c)
			if f.dials.Load() != before {
				t.Error("a truncated request dialed")
			}
		})
	}
}

func TestNeitherProtocolIsClosed(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	held := dialProxy(t, addr) // a good client mid-session
	socksConnect(t, held, connectIPv4("10.0.0.5", 7))

	for _, first := range [][]byte{{0x16, 3, 1}, {4, 1, 0, 80}, {'g', 'e', 't'}, {0}} {
		c := dialProxy(t, addr)
		c.Write(first)
		expectClosed(t, c)
	}
	expectEcho(t, held)
}

func TestHTTPConnect(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)

	c := dialProxy(t, addr)
	// The first application bytes ride in the same packet as the request.
	fmt.Fprintf(c, "CONNECT intranet.example:7 HTTP/1.1\r\nHost: intranet.example:7\r\n\r\nearly")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(br, b); err != nil || string(b) != "early" {
		t.Fatalf("early bytes %q %v", b, err)
	}
	c.Write([]byte("more"))
	if _, err := io.ReadFull(br, b[:4]); err != nil || string(b[:4]) != "more" {
		t.Fatalf("echo %q %v", b[:4], err)
	}

	for _, tc := range []struct {
		target string
		status int
		body   string
	}{
		{"10.0.0.5:81", http.StatusBadGateway, "refused"},
		{"missing.example:443", http.StatusBadGateway, "not found"},
		{"slow.example:443", http.StatusGatewayTimeout, "did not answer"},
		{"10.0.0.9:443", http.StatusBadGateway, "unreachable"},
		{"intranet.example", http.StatusBadRequest, "host:port"},
	} {
		c := dialProxy(t, addr)
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", tc.target, tc.target)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("CONNECT %s: %d %q, want %d with %q", tc.target, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestHTTPAbsoluteURI(t *testing.T) {
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	pu, _ := url.Parse("http://" + addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	req, _ := http.NewRequest("POST", "http://intranet.example/path?q=1", strings.NewReader("payload"))
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "POST /path?q=1 host=intranet.example hop=[] body=payload"; string(body) != want {
		t.Errorf("got %q, want %q", body, want)
	}

	resp, err = client.Get("http://10.0.0.5/by-ip")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "GET /by-ip host=10.0.0.5") {
		t.Errorf("by IP: %q", body)
	}

	for _, tc := range []struct {
		url    string
		status int
		body   string
	}{
		{"http://missing.example/", http.StatusBadGateway, "missing.example was not found"},
		{"http://10.0.0.5:81/", http.StatusBadGateway, "refused"},
		{"http://slow.example/", http.StatusGatewayTimeout, "did not answer"},
	} {
		resp, err := client.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tc.url, resp.StatusCode, body, tc.status, tc.body)
		}
	}

	// An origin-form request is not a proxy request.
	c := dialProxy(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("origin-form: %v %v", resp, err)
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		remote bool
		want   string
		err    string
	}{
		{"1080", false, "127.0.0.1:1080", ""},
		{"127.0.0.2:8080", false, "127.0.0.2:8080", ""},
		{"localhost:1080", false, "127.0.0.1:1080", ""},
		{"[::1]:1080", false, "[::1]:1080", ""},
		{"0.0.0.0:1080", false, "", "other computers can reach"},
		{"192.168.1.5:1080", false, "", "--proxy-allow-remote"},
		{"0.0.0.0:1080", true, "0.0.0.0:1080", ""},
		{"proxy.example:1080", false, "", "give an IP address"},
		{"0", false, "", "bad proxy port"},
		{"70000", false, "", "bad proxy port"},
		{"abc", false, "", "bad proxy port"},
		{"1.2.3.4:", false, "", "bad proxy port"},
		{"::1:80", false, "", "bad proxy address"},
	} {
		got, err := ParseAddr(tc.spec, tc.remote)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAddr(%q, %v) = %v, %v; want error with %q", tc.spec, tc.remote, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseAddr(%q, %v) = %v, %v; want %s", tc.spec, tc.remote, got, err, tc.want)
		}
	}
}

func TestListenErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(netip.MustParseAddrPort(l.Addr().String()))
	var le *ListenError
	if !errors.As(err, &le) || !strings.Contains(le.Msg, "already in use") {
		t.Errorf("port in use: %v", err)
	}
	_, err = Listen(netip.MustParseAddrPort("192.0.2.1:1080")) // TEST-NET-1: no machine has it
	if !errors.As(err, &le) || !strings.Contains(le.Msg, "not an address of this computer") {
		t.Errorf("foreign address: %v", err)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// 200 clients at once, half SOCKS5 and half HTTP CONNECT, each relaying
// through the fake tunnel: after they close, the proxy's goroutines and
// file descriptors are back to where they were.
func TestManyConnectionsLeakNothing(t *testing.T) {
	// No GC during the test: a connection nobody closed would otherwise be
	// closed by its finalizer and hide the leak.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	f := newFakeTunnel(t)
	addr, _ := startProxy(t, f)
	// Warm up: the listener's and net/http's own goroutines exist from now.
	c := dialProxy(t, addr)
	socksConnect(t, c, connectIPv4("10.0.0.5", 7))
	expectEcho(t, c)
	c.Close()
	time.Sleep(100 * time.Millisecond)

	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	conns := make([]net.Conn, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			c.SetDeadline(time.Now().Add(20 * time.Second))
			var br io.Reader = c
			if i%2 == 0 {
				c.Write([]byte{5, 1, 0})
				c.Write(connectName("intranet.example", 7))
				r := make([]byte, 12)
				if _, err := io.ReadFull(c, r); err != nil || r[3] != repSucceeded {
					errs <- fmt.Errorf("socks %d: % x %v", i, r, err)
					return
				}
			} else {
				fmt.Fprintf(c, "CONNECT 10.0.0.5:7 HTTP/1.1\r\nHost: 10.0.0.5:7\r\n\r\n")
				b := bufio.NewReader(c)
				resp, err := http.ReadResponse(b, &http.Request{Method: http.MethodConnect})
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("connect %d: %v", i, err)
					return
				}
				br = b
			}
			msg := fmt.Sprintf("client %03d", i)
			c.Write([]byte(msg))
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
				errs <- fmt.Errorf("echo %d: %q %v", i, got, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if g := runtime.NumGoroutine(); g < baseG+2*n {
		t.Errorf("only %d goroutines with %d relays open (baseline %d): were connections cut short?", g, n, baseG)
	}
	// Half close from our side, half by the far side going away is the
	// same code path (relay closes both); close ours.
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openFDs(t)
		if g <= baseG+2 && fd <= baseFD+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after closing %d clients: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				n, g, baseG, fd, baseFD, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close ends every open relay and Serve returns.
func TestCloseEndsRelays(t *testing.T) {
	f := newFakeTunnel(t)
	l, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Dial: f.Dial, Lookup: f.Lookup})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dialProxy(t, l.Addr().String())
	socksConnect(t, c, connectIPv4("10.0.0.5", 7))
	h := dialProxy(t, l.Addr().String())
	fmt.Fprintf(h, "CONNECT 10.0.0.5:7 HTTP/1.1\r\nHost: 10.0.0.5:7\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(h), nil); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	expectClosed(t, c)
	expectClosed(t, h)
}

// A dial that outlasts the handshake timeout still gets its reply: 4 for
// SOCKS5, 504 for HTTP.
func TestSlowDialStillAnswers(t *testing.T) {
	f := newFakeTunnel(t)
	l, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Dial: f.Dial, Lookup: f.Lookup, HandshakeTimeout: 100 * time.Millisecond, DialTimeout: 400 * time.Millisecond})
	go s.Serve(l)
	defer s.Close()
	c := dialProxy(t, l.Addr().String())
	if r := socksConnect(t, c, connectIPv4("10.0.0.8", 80)); r[1] != repHostUnreachable {
		t.Errorf("reply % x, want REP 4", r)
	}
	h := dialProxy(t, l.Addr().String())
	fmt.Fprintf(h, "CONNECT 10.0.0.8:443 HTTP/1.1\r\nHost: 10.0.0.8:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(h), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "did not answer") {
		t.Errorf("CONNECT to a silent host: %d %q", resp.StatusCode, body)
	}
}

// Close does not wait for dials in progress to time out.
func TestCloseCancelsDials(t *testing.T) {
	f := newFakeTunnel(t)
	l, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Dial: f.Dial, Lookup: f.Lookup, DialTimeout: time.Minute})
	go s.Serve(l)
	c := dialProxy(t, l.Addr().String())
	c.Write([]byte{5, 1, 0})
	readN(t, c, 2)
	before := f.dials.Load()
	c.Write(connectIPv4("10.0.0.8", 80)) // never answers
	for f.dials.Load() == before {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a dial pending", d)
	}
}
