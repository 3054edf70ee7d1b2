// Package proxy is the local proxy of `corridor connect --proxy`: one
// listening port that speaks both SOCKS5 (RFC 1928) and HTTP proxying
// (RFC 9110 9.3.6 CONNECT, and absolute-URI requests for plain HTTP), and
// opens every connection through the tunnel's userspace network stack.
// The first byte of a client's stream tells the protocols apart: 0x05 is
// a SOCKS5 greeting, an ASCII capital letter the start of an HTTP method;
// anything else is closed.
//
// Names (SOCKS5 domain names, HTTP hosts) are resolved only through
// Config.Lookup, i.e. with the DNS servers the VPN server assigned, so
// internal names work and never leak to the machine's resolver;
// Config.Dial is only ever given IP:port.
//
// Library or own code: the SOCKS5 server is our own (about 150 lines:
// no-auth method, CONNECT with IPv4 and domain names, proper reply codes
// for everything else) with its own tests; a SOCKS5 library would add a
// dependency for less than that, and RFC 1928 is small and stable. For
// HTTP, github.com/elazarl/goproxy fits a custom dialer (Tr.DialContext,
// ConnectDial), but it speaks no SOCKS5, and what it adds over the
// standard library (MITM of TLS with generated certificates, request and
// response filters) is what a VPN's proxy must not do. The HTTP side is
// net/http's server with httputil.ReverseProxy for plain-HTTP requests
// (which removes the hop-by-hop headers of RFC 9110 7.6.1), so parsing,
// keep-alive and chunking are the standard library's.
//
// Every connection's goroutines end when either side closes: a client or
// server that only half-closes (shutdown of its sending side) ends the
// relay both ways, so no goroutine waits on a peer that went quiet.
// Close ends them all.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultAddr is the listen address when only a port is given.
var DefaultAddr = netip.MustParseAddr("127.0.0.1")

// Config is what the proxy needs from the tunnel.
type Config struct {
	// Dial opens a connection to address, an IP:port, through the tunnel.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Lookup resolves a name through the tunnel's DNS.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Logger gets a Debug line per request and per failure; nil: none.
	Logger *slog.Logger
	// DialTimeout bounds resolving and connecting (0: 30 s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds a client's greeting and request (0: 30 s).
	HandshakeTimeout time.Duration
}

// Server serves SOCKS5 and HTTP proxy clients on one listener.
type Server struct {
	cfg  Config
	log  *slog.Logger
	http *http.Server
	hl   *chanListener
	tr   *http.Transport
	// ctx ends with Close: dials in progress give up then.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	listeners []net.Listener
	closed    bool
	wg        sync.WaitGroup
}

// New returns a Server; Serve starts it.
func New(cfg Config) *Server {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, conns: map[net.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.hl = newChanListener()
	s.tr = &http.Transport{
		Proxy:                 nil, // never the environment's proxy
		DialContext:           s.dial,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0,
		ForceAttemptHTTP2:     false,
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s
}

// ListenError is a listen address that cannot be used, in plain words.
type ListenError struct {
	Msg string
	Err error
}

func (e *ListenError) Error() string { return e.Msg }
func (e *ListenError) Unwrap() error { return e.Err }

// ParseAddr reads "[ADDR:]PORT": a bare port listens on DefaultAddr;
// "localhost" means 127.0.0.1. An address that is not loopback is refused
// unless allowRemote, since the proxy asks for no password.
func ParseAddr(spec string, allowRemote bool) (netip.AddrPort, error) {
	host, portStr := "", spec
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		h, p, err := net.SplitHostPort(spec)
		if err != nil {
			return netip.AddrPort{}, &ListenError{Msg: fmt.Sprintf("bad proxy address %q: write PORT or ADDR:PORT ([ADDR]:PORT for IPv6)", spec), Err: err}
		}
		host, portStr = h, p
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, &ListenError{Msg: fmt.Sprintf("bad proxy port %q: want a number from 1 to 65535", portStr)}
	}
	addr := DefaultAddr
	switch host {
	case "":
	case "localhost":
		addr = netip.MustParseAddr("127.0.0.1")
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, &ListenError{Msg: fmt.Sprintf("bad proxy address %q: give an IP address (names are not resolved)", host)}
		}
		addr = a.Unmap()
	}
	if !addr.IsLoopback() && !allowRemote {
		return netip.AddrPort{}, &ListenError{Msg: fmt.Sprintf("the proxy would listen on %v, which other computers can reach, and it asks for no password; "+
			"listen on 127.0.0.1, or add --proxy-allow-remote if you mean it", addr)}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Listen binds the proxy's TCP port, with plain-words errors for a port
// in use and an address that is not this machine's.
func Listen(ap netip.AddrPort) (net.Listener, error) {
	l, err := net.Listen("tcp", ap.String())
	if err == nil {
		return l, nil
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, &ListenError{Msg: fmt.Sprintf("port %d is already in use on %v: choose another port", ap.Port(), ap.Addr()), Err: err}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, &ListenError{Msg: fmt.Sprintf("%v is not an address of this computer: the proxy can only listen on one of its own", ap.Addr()), Err: err}
	case errors.Is(err, syscall.EACCES):
		return nil, &ListenError{Msg: fmt.Sprintf("not allowed to listen on port %d: ports below 1024 need admin rights; choose a higher one", ap.Port()), Err: err}
	}
	return nil, &ListenError{Msg: fmt.Sprintf("could not listen on %v: %v", ap, err), Err: err}
}

// Serve accepts clients on l until Close (it then returns nil) or until
// l fails.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	// Every wg.Add happens under mu while not closed: never after Close's
	// Wait began.
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.http.Serve(s.hl)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				s.log.Debug("proxy: accept", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// track adds (or removes) a connection from the set Close closes; it
// reports false when the server is already closed.
func (s *Server) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// Close stops accepting, closes every client and upstream connection and
// waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	conns, listeners := s.conns, s.listeners
	s.conns = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for _, l := range listeners {
		l.Close()
	}
	for c := range conns {
		c.Close()
	}
	s.hl.Close()
	s.http.Close()
	s.wg.Wait()
	s.tr.CloseIdleConnections()
	return nil
}

// serveConn reads the first byte and hands the client on.
func (s *Server) serveConn(c net.Conn) {
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		s.track(c, false)
		c.Close()
		return
	}
	bc := &bufConn{Conn: c, r: br}
	switch b := first[0]; {
	case b == socksVersion:
		defer s.track(c, false)
		defer c.Close()
		s.serveSOCKS(bc)
	case b >= 'A' && b <= 'Z':
		// net/http owns it from here; it closes it, and track forgets it
		// on its state hook below.
		c.SetDeadline(time.Time{})
		s.hl.deliver(&trackedConn{bufConn: bc, s: s})
	default:
		s.log.Debug("proxy: a client spoke neither SOCKS5 nor HTTP; closed", "client", c.RemoteAddr().String(), "first_byte", fmt.Sprintf("%#02x", b))
		s.track(c, false)
		c.Close()
	}
}

// dial resolves host through the tunnel's DNS (never the machine's) and
// connects to the first address that answers.
func (s *Server) dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a.Unmap()}
	} else {
		addrs, err = s.cfg.Lookup(ctx, host)
		if err != nil {
			return nil, &lookupError{host: host, err: err}
		}
		if len(addrs) == 0 {
			return nil, &lookupError{host: host, err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		}
	}
	var first error
	for _, a := range addrs {
		c, err := s.cfg.Dial(ctx, "tcp", net.JoinHostPort(a.String(), portStr))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil && !errors.Is(first, syscall.ECONNREFUSED) && !errors.Is(first, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%w: %w", first, context.DeadlineExceeded)
	}
	return nil, first
}

// lookupError is a name that could not be resolved through the tunnel.
type lookupError struct {
	host string
	err  error
}

func (e *lookupError) Error() string { return "resolving " + e.host + ": " + e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

// failure is how a failed dial is reported to each kind of client.
type failure struct {
	socks  byte   // SOCKS5 REP code (RFC 1928 6)
	status int    // HTTP status
	msg    string // plain words, for the HTTP body and the log
}

// classify maps a dial error to the replies.
func classify(target string, err error) failure {
	var le *lookupError
	if errors.As(err, &le) {
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			return failure{repHostUnreachable, http.StatusBadGateway, fmt.Sprintf("the name %s was not found by the VPN's DNS", le.host)}
		case errors.As(err, &de) && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
			return failure{repHostUnreachable, http.StatusGatewayTimeout, fmt.Sprintf("the VPN's DNS did not answer for %s", le.host)}
		case errors.As(err, &de) && de.UnwrapErr != nil:
			return failure{repHostUnreachable, http.StatusBadGateway, fmt.Sprintf("cannot resolve %s: %v", le.host, de.UnwrapErr)}
		}
		return failure{repHostUnreachable, http.StatusBadGateway, fmt.Sprintf("cannot resolve %s through the VPN", le.host)}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return failure{repConnRefused, http.StatusBadGateway, fmt.Sprintf("%s refused the connection", target)}
	case errors.Is(err, syscall.ENETUNREACH):
		return failure{repNetUnreachable, http.StatusBadGateway, fmt.Sprintf("no route to the network of %s through the VPN", target)}
	case errors.Is(err, syscall.EHOSTUNREACH):
		return failure{repHostUnreachable, http.StatusBadGateway, fmt.Sprintf("%s is unreachable through the VPN", target)}
	case errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return failure{repHostUnreachable, http.StatusGatewayTimeout, fmt.Sprintf("%s did not answer", target)}
	}
	return failure{repGeneralFailure, http.StatusBadGateway, fmt.Sprintf("could not connect to %s", target)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// relay copies both ways until either side ends, then closes both, so
// neither goroutine outlives the other side's close.
func relay(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// bufConn is a connection whose first bytes were peeked into r.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// trackedConn forgets itself from the server's set when net/http closes
// it.
type trackedConn struct {
	*bufConn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.s.track(c.bufConn.Conn, false) })
	return c.bufConn.Close()
}

// chanListener hands the HTTP clients to net/http's server.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }
