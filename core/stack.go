package core

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/ipv6"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// RealStack is the Stack that brings sessions up for real: the userspace
// protocol stack (Connect), then routes and DNS through a platform
// Router. It needs root (TUN, routes).
type RealStack struct {
	// IfName names devices; "" picks corridor0, corridor1, ...
	IfName string
	// RouterOptions are passed to platform.NewRouter (tests inject a
	// runner and a journal directory).
	RouterOptions []platform.RouterOption
	// TUNOptions are passed to platform.OpenTUN.
	TUNOptions []platform.Option

	mu    sync.Mutex
	used  map[string]bool
	links map[*realLink]bool // connected, for retryDNS
}

// ConnectConfigFor turns a profile and its secrets into a ConnectConfig:
// the one place the defaults of a connection are filled in, for saved
// profiles and for corridor connect alike. The LCP keepalive is the
// profile's interval (default 5 s) with profile.DefaultKeepaliveFailures
// misses in a row, so a dead link is noticed within about 30 s.
func ConnectConfigFor(p profile.Profile, secrets map[profile.SecretKind]string) (ConnectConfig, error) {
	cfg := ConnectConfig{Server: p.Server, User: p.User, Password: secrets[profile.SecretPassword], MTU: p.MTU,
		EchoInterval: p.EffectiveKeepalive(), EchoFailures: profile.DefaultKeepaliveFailures, LocalPort: p.L2TPPort,
		IPv6: p.IPv6}
	if cfg.Password == "" {
		return cfg, &Error{Class: ClassUsage, Msg: fmt.Sprintf("no password for profile %q", p.Name),
			Hint: "store it for the profile: secrets are kept in the system keychain", HintKey: HintStorePassword, HintArg: p.Name}
	}
	if len(p.Auth) > 0 {
		m, err := ppp.ParseAuthMethods(strings.Join(p.Auth, ","))
		if err != nil {
			return cfg, &Error{Class: ClassUsage, Msg: "profile auth methods: " + err.Error(), Err: err}
		}
		cfg.Auth = m
	}
	if p.L2TPSecret {
		s := secrets[profile.SecretL2TP]
		if s == "" {
			return cfg, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q uses an L2TP tunnel secret but none is stored", p.Name)}
		}
		cfg.TunnelSecret = []byte(s)
	}
	var ca *CertAuth
	if p.UsesCert() {
		var err error
		if ca, err = certAuthFor(p, secrets); err != nil {
			return cfg, err
		}
	}
	return ipsecFor(p, secrets, cfg, ca)
}

// certAuthFor reads a profile's certificate, CAs and private key (from
// secrets: the keychain's copy).
func certAuthFor(p profile.Profile, secrets map[profile.SecretKind]string) (*CertAuth, error) {
	certs, err := profile.ParseCertsPEM([]byte(p.Cert))
	if err != nil {
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q certificate: %v", p.Name, err), Err: err}
	}
	pemKey := secrets[profile.SecretCertKey]
	if pemKey == "" {
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("no private key for the certificate of profile %q", p.Name),
			Hint: "store it for the profile (corridor profile edit NAME --key FILE): keys are kept in the system keychain"}
	}
	key, err := profile.ParseKeyPEM([]byte(pemKey))
	if err != nil {
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q private key: %v", p.Name, err), Err: err}
	}
	ca := &CertAuth{Cert: certs, Key: key, ServerID: p.ServerID}
	if p.CA != "" {
		if ca.CA, err = profile.ParseCertsPEM([]byte(p.CA)); err != nil {
			return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q CA certificates: %v", p.Name, err), Err: err}
		}
	}
	return ca, nil
}

// ConnectConfigForCert is ConnectConfigFor with certificate
// authentication instead of a pre-shared key (corridor connect --cert).
func ConnectConfigForCert(p profile.Profile, secrets map[profile.SecretKind]string, ca *CertAuth) (ConnectConfig, error) {
	cfg, err := ConnectConfigFor(withoutIPsec(p), secrets)
	if err != nil || !p.IPsec {
		return cfg, err
	}
	return ipsecFor(p, secrets, cfg, ca)
}

func withoutIPsec(p profile.Profile) profile.Profile {
	p.IPsec = false
	return p
}

// ipsecFor fills in the IPsec part of cfg: with the profile's pre-shared
// key, or with ca.
func ipsecFor(p profile.Profile, secrets map[profile.SecretKind]string, cfg ConnectConfig, ca *CertAuth) (ConnectConfig, error) {
	if p.IPsec {
		ic := &IPsecConfig{Cert: ca}
		if ca == nil {
			psk := secrets[profile.SecretPSK]
			if psk == "" {
				return cfg, &Error{Class: ClassUsage, Msg: fmt.Sprintf("no pre-shared key for profile %q", p.Name),
					Hint: "store it for the profile: secrets are kept in the system keychain", HintKey: HintStorePSK, HintArg: p.Name}
			}
			ic.PSK = []byte(psk)
		}
		var err error
		if p.Aggressive {
			ic.Aggressive, ic.GroupID = true, p.Group
			if ic.GroupIDType, err = ike.ParseGroupIDType(p.GroupType); err != nil {
				return cfg, &Error{Class: ClassUsage, Msg: "profile group type: " + err.Error(), Err: err}
			}
		}
		if p.IKE != "" {
			if ic.IKE, err = ike.ParseIKE(p.IKE, p.LegacyCrypto); err != nil {
				return cfg, &Error{Class: ClassUsage, Msg: "profile IKE proposals: " + err.Error(), Err: err}
			}
		} else if p.LegacyCrypto {
			ic.IKE = append(append([]ike.IKESuite(nil), ike.DefaultIKE...), ike.LegacyIKE...)
		}
		if p.ESP != "" {
			if ic.ESP, err = ike.ParseESP(p.ESP, p.LegacyCrypto); err != nil {
				return cfg, &Error{Class: ClassUsage, Msg: "profile ESP proposals: " + err.Error(), Err: err}
			}
		} else if p.LegacyCrypto {
			ic.ESP = append(append([]ike.ESPSuite(nil), ike.DefaultESP...), ike.LegacyESP...)
		}
		cfg.IPsec = ic
	}
	return cfg, nil
}

// NetConfigFor is what a profile wants from the OS once connected.
func NetConfigFor(p profile.Profile, s *Session) (*platform.NetConfig, error) {
	info := s.Info()
	nc := &platform.NetConfig{Interface: s.Interface(), Local: info.Local, Server: s.Server(),
		FullTunnel: p.FullTunnel, ClassfulRoute: p.ClassfulRoute, Domains: p.Domains}
	for _, r := range p.Routes {
		pfx, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile route %q: %v", r, err)}
		}
		nc.Routes = append(nc.Routes, pfx.Masked())
	}
	switch p.DNS {
	case "none":
	case "custom":
		for _, d := range p.DNSServers {
			a, err := netip.ParseAddr(d)
			if err != nil {
				return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile DNS server %q: %v", d, err)}
			}
			nc.DNS = append(nc.DNS, a)
		}
	default: // "server"
		nc.DNS = info.DNS
	}
	return nc, nil
}

func (r *RealStack) ifname() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.IfName != "" {
		return r.IfName
	}
	if r.used == nil {
		r.used = map[string]bool{}
	}
	for i := 0; ; i++ {
		n := fmt.Sprintf("corridor%d", i)
		if r.used[n] {
			continue
		}
		// A device of that name that is not ours (corridor connect in
		// another process, beside the helper) is left to its owner.
		if i < 64 && interfaceExists(n) {
			continue
		}
		r.used[n] = true
		return n
	}
}

// interfaceExists reports whether this machine has a network device
// named name; tests replace it.
var interfaceExists = func(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func (r *RealStack) release(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.used, name)
}

// Up implements Stack.
func (r *RealStack) Up(ctx context.Context, req UpRequest, log *slog.Logger, progress func(Stage)) (Link, error) {
	if req.Profile.IsProxy() {
		// Its own user's session runner runs it, with no privilege.
		return nil, &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q is a proxy-mode profile: it runs in your own session, not in the helper", req.Profile.Name),
			Hint: "update the app that sent it, or connect it with corridor up " + req.Profile.Name}
	}
	cfg, err := ConnectConfigFor(req.Profile, req.Secrets)
	if err != nil {
		return nil, err
	}
	name := r.ifname()
	cfg.IfName, cfg.Logger, cfg.OnStage, cfg.TUNOptions = name, log, progress, r.TUNOptions
	cfg.CheckAddrs = addrCheckFrom(ctx)
	sess, err := Connect(ctx, cfg)
	if err != nil {
		r.release(name)
		return nil, err
	}
	nc, err := NetConfigFor(req.Profile, sess)
	if err == nil {
		var rt platform.Router
		rt, err = platform.NewRouter(append([]platform.RouterOption{routerWarnings(log)}, r.RouterOptions...)...)
		if err == nil {
			if err = rt.Set(nc); err == nil {
				words, held := routesWords(nc), ""
				if n, ok := rt.(dnsNoter); ok && n.DNSNote() != "" {
					// Another tunnel holds resolv.conf (platform/resolvconf.go).
					held = r.dnsHeldWords(req.Profile.Name)
					log.Warn(n.DNSNote())
					words = routesWords(&platform.NetConfig{FullTunnel: nc.FullTunnel, Routes: nc.Routes}) + "; " + n.DNSNote()
				}
				progress(Stage{Name: "os", Detail: words})
				if held != "" {
					progress(Stage{Name: "dns", Detail: "dns: " + held})
				}
				l := &realLink{stack: r, sess: sess, router: rt, nc: nc, base: nc, log: log, name: name, profile: req.Profile,
					check6: ipv6CheckFrom(ctx)}
				r.mu.Lock()
				if r.links == nil {
					r.links = map[*realLink]bool{}
				}
				r.links[l] = true
				r.mu.Unlock()
				if cfg.IPv6 {
					sess.watchIPv6(l.applyIPv6)
				}
				return l, nil
			}
			rt.Close()
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess.Close(cctx)
	r.release(name)
	if _, ok := err.(*Error); ok {
		return nil, err
	}
	return nil, &Error{Class: ClassLocal, Msg: "could not set up routes and DNS: " + err.Error(),
		Hint: "the helper needs root; the journal in /var/lib/corridor undoes partial changes", Err: err}
}

// Block implements Blocker: the platform's kill switch, journaled with
// the routes.
func (r *RealStack) Block(server netip.Addr, iface string) (func() error, error) {
	k, err := platform.NewKillSwitch(iface, r.RouterOptions...)
	if err != nil {
		return nil, err
	}
	if err := k.Block(server); err != nil {
		return nil, err
	}
	return k.Unblock, nil
}

func routesWords(nc *platform.NetConfig) string {
	var parts []string
	if nc.FullTunnel {
		parts = append(parts, "all traffic through the tunnel")
	} else if len(nc.Routes) > 0 {
		parts = append(parts, fmt.Sprintf("%d routes through the tunnel", len(nc.Routes)))
	} else {
		parts = append(parts, "only the server's network through the tunnel")
	}
	if len(nc.DNS) > 0 {
		parts = append(parts, fmt.Sprintf("DNS %v", nc.DNS))
	}
	return "os: " + strings.Join(parts, ", ")
}

// dnsNoter is a platform Router that says when the DNS it was asked for
// is not in force.
type dnsNoter interface{ DNSNote() string }

type realLink struct {
	stack   *RealStack
	sess    *Session
	router  platform.Router
	nc      *platform.NetConfig // in force: base and the IPv6 offer; guarded by mu
	base    *platform.NetConfig // the profile's, before any IPv6 offer
	check6  IPv6Check           // the Manager's check of IPv6 routes (multi.go)
	log     *slog.Logger
	name    string
	profile profile.Profile
	once    sync.Once
	err     error

	mu     sync.Mutex // orders retryDNS and applyIPv6 against Close
	closed bool

	v6mu   sync.Mutex // guards addrs6 and dns6
	addrs6 []string   // the IPv6 addresses in force on the device
	dns6   []string   // the IPv6 DNS servers in force (the server's offer)
}

func (l *realLink) Info() LinkInfo {
	li := sessionInfo(l.sess)
	l.v6mu.Lock()
	li.IPv6 = slices.Clone(l.addrs6)
	for _, d := range l.dns6 {
		if !slices.Contains(li.DNS, d) {
			li.DNS = append(li.DNS, d)
		}
	}
	l.v6mu.Unlock()
	li.DNSNote = l.dnsNote()
	return li
}

// dnsNote says why the link's DNS is not in use (another tunnel holds
// resolv.conf), or "" while it is.
func (l *realLink) dnsNote() string {
	if n, ok := l.router.(dnsNoter); !ok || l.stack == nil || n.DNSNote() == "" {
		return ""
	}
	return l.stack.dnsHeldWords(l.profile.Name)
}

// applyIPv6 converges the Router to the profile's configuration with the
// IPv6 offer c (ipv6.go), on the session's IPv6 goroutine. A failure is
// logged: IPv4 goes on as it was.
func (l *realLink) applyIPv6(c ipv6.Config) {
	// The check takes the Manager's lock: it runs before l.mu is taken,
	// so that this goroutine never holds one lock while waiting for the
	// other.
	nc, notes := withIPv6(l.base, l.profile, c, l.check6)
	for _, n := range notes {
		l.log.Warn("ipv6: " + n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if err := l.router.Set(nc); err != nil {
		l.log.Warn(fmt.Sprintf("ipv6: could not set up IPv6 on %s: %v (IPv4 goes on as before)", nc.Interface, err))
		return
	}
	l.nc = nc
	addrs := make([]string, 0, len(nc.Addrs6))
	for _, a := range nc.Addrs6 {
		addrs = append(addrs, a.String())
	}
	var dns6 []string
	for _, d := range nc.DNS {
		if d.Is6() {
			dns6 = append(dns6, d.String())
		}
	}
	l.v6mu.Lock()
	l.addrs6, l.dns6 = addrs, dns6
	l.v6mu.Unlock()
	l.log.Info(fmt.Sprintf("ipv6: %s on %s", ipv6Summary(nc, c), nc.Interface))
}

// sessionInfo describes a connected session.
func sessionInfo(s *Session) LinkInfo {
	info := s.Info()
	li := LinkInfo{Server: s.Server().String(), Interface: s.Interface(), Address: info.Local.String(), MTU: s.MTU()}
	if info.Peer.IsValid() {
		li.Peer = info.Peer.String()
	}
	for _, d := range info.DNS {
		li.DNS = append(li.DNS, d.String())
	}
	li.IKE, li.ESP = s.Suites()
	return li
}

func (l *realLink) Stats() tunnel.Stats   { return l.sess.Stats() }
func (l *realLink) Done() <-chan struct{} { return l.sess.Done() }
func (l *realLink) Err() error            { return l.sess.Err() }

// Close undoes routes and DNS first (they point at the device), then
// disconnects.
func (l *realLink) Close(ctx context.Context) error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		rerr := l.router.Close()
		l.mu.Unlock()
		serr := l.sess.Close(ctx)
		l.stack.release(l.name)
		if rerr != nil {
			l.err = rerr
		} else {
			l.err = serr
		}
		l.stack.retryDNS(l)
	})
	return l.err
}

// retryDNS gives the other connected tunnels whose DNS was not applied
// (another tunnel held resolv.conf, platform/resolvconf.go) another try,
// now that gone has gone.
func (r *RealStack) retryDNS(gone *realLink) {
	r.mu.Lock()
	delete(r.links, gone)
	var others []*realLink
	for l := range r.links {
		others = append(others, l)
	}
	r.mu.Unlock()
	for _, l := range others {
		l.retryDNS()
	}
}

// retryDNS sets the link's configuration again when its DNS is not in
// force; only what was skipped is planned again.
func (l *realLink) retryDNS() {
	n, ok := l.router.(dnsNoter)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || n.DNSNote() == "" {
		return
	}
	if err := l.router.Set(l.nc); err != nil {
		l.log.Warn("could not apply this tunnel's DNS after another tunnel went: " + err.Error())
		return
	}
	if n.DNSNote() == "" {
		l.log.Info(fmt.Sprintf("DNS for profile %q now in use (%v): the tunnel that held resolv.conf has gone", l.profile.Name, l.nc.DNS))
	}
}
