package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// serveHTTP handles one proxy request: CONNECT opens a tunnel (for
// HTTPS), an absolute http:// URI is forwarded, anything else is a 400.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		s.serveConnect(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		s.log.Debug("proxy: http request without an absolute http:// URI", "method", r.Method)
		plain(w, http.StatusBadRequest, "this is a proxy: send absolute http:// URIs, or CONNECT for HTTPS")
		return
	}
	target := r.URL.Host
	if r.URL.Port() == "" {
		target = net.JoinHostPort(r.URL.Hostname(), "80")
	}
	rp := &httputil.ReverseProxy{
		// Rewrite (not Director): no X-Forwarded-* headers are added;
		// ReverseProxy removes the hop-by-hop headers (Connection,
		// Proxy-Connection, Keep-Alive, Proxy-Authorization, TE, Upgrade
		// unless asked, ...) both ways.
		// The outgoing request is already the incoming one's absolute
		// URL and Host.
		Rewrite:   func(*httputil.ProxyRequest) {},
		Transport: s.tr,
		ErrorLog:  nil,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f := classify(target, err)
			s.log.Debug("proxy: http request failed", "method", r.Method, "target", target, "status", f.status, "why", f.msg, "err", err)
			plain(w, f.status, f.msg)
		},
	}
	s.log.Debug("proxy: http request", "method", r.Method, "target", target)
	rp.ServeHTTP(w, r)
}

// serveConnect answers CONNECT host:port (RFC 9110 9.3.6) and relays.
func (s *Server) serveConnect(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	if _, port, err := net.SplitHostPort(target); err != nil || port == "" {
		plain(w, http.StatusBadRequest, "CONNECT needs host:port")
		return
	}
	up, err := s.dial(r.Context(), "tcp", target)
	if err != nil {
		f := classify(target, err)
		s.log.Debug("proxy: http connect failed", "target", target, "status", f.status, "why", f.msg, "err", err)
		plain(w, f.status, f.msg)
		return
	}
	if !s.track(up, true) {
		up.Close()
		plain(w, http.StatusServiceUnavailable, "the proxy is shutting down")
		return
	}
	defer s.track(up, false)
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		plain(w, http.StatusInternalServerError, "cannot take over the connection")
		return
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		up.Close()
		return
	}
	s.log.Debug("proxy: http connect", "target", target)
	// Bytes the client sent after its request (a TLS ClientHello) may sit
	// in net/http's buffer.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := up.Write(b); err != nil {
			c.Close()
			up.Close()
			return
		}
	}
	relay(c, up)
}

// plain writes a short plain-text error.
func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	io.WriteString(w, "corridor proxy: "+msg+"\n")
}
