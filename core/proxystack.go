package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/core/proxy"
	"github.com/corridorvpn/corridor/tunnel"
)

// ProxyStack is the Stack of proxy-mode profiles (profile.ModeProxy): the
// userspace protocol stack onto a userspace network stack, served to
// this machine's programs by a SOCKS5/HTTP proxy on the profile's
// loopback address. It needs no privilege: no device, route or DNS
// change, so it runs in the user's own process (corridor daemon --user).
type ProxyStack struct {
	// Listen opens the proxy's listener (tests: nil is proxy.Listen).
	Listen func(netip.AddrPort) (net.Listener, error)
}

// Up implements Stack. The proxy's port is taken first, before anything
// is sent to the server: a port in use fails the connect at once, as a
// local problem.
func (ps *ProxyStack) Up(ctx context.Context, req UpRequest, log *slog.Logger, progress func(Stage)) (Link, error) {
	p := req.Profile
	if !p.IsProxy() {
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q is not a proxy-mode profile", p.Name),
			Hint: "this session runner only runs profiles with mode = \"proxy\""}
	}
	cfg, err := ConnectConfigFor(p, req.Secrets)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(p.ProxyAddr())
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q: the proxy address %q is not a loopback ADDR:PORT", p.Name, p.ProxyAddr())}
	}
	listen := ps.Listen
	if listen == nil {
		listen = proxy.Listen
	}
	ln, err := listen(ap)
	if err != nil {
		var le *proxy.ListenError
		msg := err.Error()
		if errors.As(err, &le) {
			msg = le.Msg
		}
		return nil, &Error{Class: ClassLocal, Err: err, Msg: "the proxy cannot listen: " + msg,
			Hint: fmt.Sprintf("choose another proxy port for the profile (corridor profile edit %s --proxy 127.0.0.1:PORT)", p.Name)}
	}
	cfg.Userspace, cfg.Logger, cfg.OnStage = true, log, progress
	sess, err := Connect(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ns := sess.Netstack()
	srv := proxy.New(proxy.Config{Dial: ns.DialContext, Lookup: ns.LookupHost, Logger: log})
	l := &proxyLink{sess: sess, srv: srv, addr: ln.Addr().String(), served: make(chan struct{})}
	go func() {
		defer close(l.served)
		if err := srv.Serve(ln); err != nil {
			log.Warn("proxy: stopped serving", "err", err)
		}
	}()
	progress(Stage{Name: "proxy", Detail: "proxy: socks5 and http on " + l.addr})
	return l, nil
}

// proxyLink is a connected proxy-mode session.
type proxyLink struct {
	sess   *Session
	srv    *proxy.Server
	addr   string
	served chan struct{}
	once   sync.Once
	err    error
}

func (l *proxyLink) Info() LinkInfo {
	li := sessionInfo(l.sess)
	li.Proxy = l.addr
	return li
}

func (l *proxyLink) Stats() tunnel.Stats   { return l.sess.Stats() }
func (l *proxyLink) Done() <-chan struct{} { return l.sess.Done() }
func (l *proxyLink) Err() error            { return l.sess.Err() }

// Close ends the proxy's connections and stops listening first, then
// disconnects.
func (l *proxyLink) Close(ctx context.Context) error {
	l.once.Do(func() {
		l.srv.Close()
		select {
		case <-l.served:
		case <-time.After(5 * time.Second):
		}
		l.err = l.sess.Close(ctx)
	})
	return l.err
}
