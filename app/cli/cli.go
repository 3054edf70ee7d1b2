// Package cli is Corridor's command-line front end. It is a client of core
// like the desktop app will be.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/core/proxy"
	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// Exit codes of corridor connect, one per failure class. They are part of
// the command's stable interface: scripts rely on them.
const (
	ExitOK       = 0
	ExitInternal = 1 // unexpected failure
	ExitUsage    = 2 // bad command line or unreadable input file
	ExitAuth     = 3 // the server rejected the credentials
	ExitNoAnswer = 4 // no answer from the server, or it stopped answering
	ExitProtocol = 5 // the server broke off the connection or the protocol
	ExitLocal    = 6 // this machine could not set up the device or socket
)

var classExit = map[core.Class]int{
	core.ClassInternal: ExitInternal, core.ClassUsage: ExitUsage, core.ClassAuth: ExitAuth,
	core.ClassNoAnswer: ExitNoAnswer, core.ClassProtocol: ExitProtocol, core.ClassLocal: ExitLocal,
}

// Env is what the commands use of the process; tests substitute it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Signals delivers SIGINT/SIGTERM; nil means the process's own.
	Signals <-chan os.Signal
}

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(args []string) int {
	return Run(args, Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// Run is Main with an explicit environment.
func Run(args []string, env Env) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(env.Stdout)
		return ExitOK
	case "--version", "-version":
		printVersion(env.Stdout)
		return ExitOK
	}
	if c := lookup(args[0]); c != nil {
		return c.run(args[1:], env)
	}
	fmt.Fprintf(env.Stderr, "corridor: unknown command %q\n", args[0])
	usage(env.Stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Corridor: an L2TP/IPsec VPN client with the whole stack in userspace.

Usage:
  corridor connect [flags] SERVER[:PORT]   bring a tunnel up in the foreground
  corridor connect --proxy PORT [flags] SERVER   the same without admin rights: a local SOCKS5/HTTP proxy into the VPN
  corridor probe [--wait D] SERVER         list the IKE proposals a server answers (no credentials)
  corridor profile add|edit|list|show|rm|import|export ...   saved profiles (secrets in the keychain)
  corridor up NAME                         connect a saved profile through the helper
  corridor down [NAME]                     disconnect (all sessions without NAME)
  corridor status [--json]                 sessions, addresses, counters
  corridor watch [--json] [--stats]        events as they happen
  corridor daemon [--socket P] [--group G] the privileged helper (root): TUN, routes, DNS
  corridor completion bash|zsh|fish        a shell completion script
  corridor version                         version, commit and Go version (also --version)
  corridor help [COMMAND]

Every command takes --help (its flags); "corridor connect --help" also
lists the exit codes.
`)
}

const connectHelp = `Usage: corridor connect --psk-file FILE --user NAME --password-file FILE [flags] SERVER
       corridor connect --cert FILE --key FILE [--ca FILE] [--server-id ID] --user NAME --password-file FILE [flags] SERVER
       corridor connect --p12 FILE --p12-password-file FILE [--ca FILE] [--server-id ID] --user NAME --password-file FILE [flags] SERVER
       corridor connect --no-ipsec --user NAME --password-file FILE [flags] SERVER[:PORT]

Brings up L2TP/IPsec to SERVER: IKEv1 with a pre-shared key (or a
certificate: --cert and --key, or --p12; the server's checked against --ca), ESP in UDP
(NAT-T, port 4500), then L2TP and PPP; with --no-ipsec, plain L2TP (UDP
port 1701 unless given). It configures a TUN device with the address the server assigns, and stays in
the foreground until SIGINT or SIGTERM, then disconnects cleanly.
Secrets are read from files (or standard input with "-"), never from the
command line or the environment.

With --proxy [ADDR:]PORT it needs no admin rights: instead of a TUN device
it runs a userspace network stack and serves a SOCKS5 and HTTP proxy on
ADDR:PORT (default address 127.0.0.1) through which applications reach the
VPN; names given to the proxy are resolved by the VPN's DNS servers. No
device, route or DNS setting on the machine changes. Point applications at
it with ALL_PROXY=socks5h://127.0.0.1:PORT, curl --socks5-hostname
127.0.0.1:PORT, http_proxy=http://127.0.0.1:PORT, or a browser's proxy
settings.

Flags:
`

const exitHelp = `
Exit codes:
  0  disconnected cleanly after SIGINT/SIGTERM
  1  unexpected internal error
  2  bad usage (flags, unreadable password file)
  3  authentication failed (the server rejected the user or password, or
     insists on a sign-in method --auth does not allow, e.g. PAP)
  4  no answer from the server, or it stopped answering (also to our sign-in)
  5  the server ended the connection or broke the protocol (or assigned an
     unusable address, or gave its own address as your default gateway)
  6  local failure (TUN device, socket; usually missing root rights; with
     --proxy: the port is in use, or the address is not this computer's or
     not loopback without --proxy-allow-remote)
`

type connectFlags struct {
	noIPsec      bool
	user         string
	passwordFile string
	auth         string
	ifname       string
	mtu          int
	verbose      bool
	localPort    int
	secretFile   string
	pskFile      string
	ikeList      string
	espList      string
	legacy       bool
	espLifetime  time.Duration
	ikeLifetime  time.Duration
	keepalive    time.Duration
	kaFailures   int
	proxy        string
	proxyRemote  bool
	aggressive   bool
	group        string
	groupType    string
	ipv6         bool
	certFile     string
	keyFile      string
	caFile       string
	serverID     string
	p12File      string
	p12PassFile  string
	keyPassFile  string
	// certAuth is what --cert, --key and --ca hold, once read.
	certAuth *core.CertAuth
}

// newConnectFlags declares corridor connect's flags.
func newConnectFlags(out io.Writer) (*flag.FlagSet, *connectFlags) {
	var f connectFlags
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&f.noIPsec, "no-ipsec", false, "plain L2TP without IPsec: NOT encrypted, the password and all traffic cross the network readable (a warning says so)")
	fs.StringVar(&f.pskFile, "psk-file", "", "read the IPsec pre-shared key from `FILE` (\"-\": standard input)")
	fs.StringVar(&f.certFile, "cert", "", "authenticate with a certificate instead of a pre-shared key: `FILE` holds it in PEM,\noptionally followed by its chain (IKE Main Mode with RSA signatures); with --key")
	fs.StringVar(&f.keyFile, "key", "", "with --cert: the certificate's RSA private key, a PEM `FILE` only you can read (PKCS#1 or PKCS#8, not encrypted)")
	certFlags(fs, &f)
	fs.StringVar(&f.caFile, "ca", "", "with --cert or --p12: the CA certificates (PEM `FILE`) that may sign the server's certificate (default: the system's)")
	fs.StringVar(&f.serverID, "server-id", "", "with --cert or --p12: the identity the server's certificate must prove: a DN such as CN=vpn.example.com,\na host name or an address (`ID`; default: SERVER, matched against the certificate's alternative names)")
	fs.StringVar(&f.ikeList, "ike", "", "phase-1 `PROPOSALS`, e.g. aes256-sha256-modp2048,aes128-sha1-modp2048 (default: "+ike.Notations(ike.DefaultIKE)+")")
	fs.StringVar(&f.espList, "esp", "", "phase-2 `PROPOSALS`, e.g. aes128gcm16,aes256-sha1,aes128-sha256 (default: "+ike.Notations(ike.DefaultESP)+")")
	fs.BoolVar(&f.legacy, "legacy-crypto", false, "also allow 3DES, MD5 and MODP1024/1536 (old servers; weaker)")
	fs.BoolVar(&f.aggressive, "aggressive", false, "IKE Aggressive Mode with --group as this computer's identity, for gateways that want it\n(Cisco-, Fortinet-, SonicWall-style). LESS SECURE: anyone who knows the group name can get a hash of\nthe pre-shared key from the server and guess the key offline (a warning says so)")
	fs.StringVar(&f.group, "group", "", "with --aggressive: the group `NAME`, sent as an FQDN identity")
	fs.StringVar(&f.groupType, "group-type", "", "with --aggressive: send the group name as `TYPE` fqdn (default) or keyid (a KEY_ID,\nas Cisco-style gateways expect)")
	fs.DurationVar(&f.espLifetime, "esp-lifetime", 0, "proposed ESP SA `LIFETIME` (default 1h); rekeyed before it runs out")
	fs.DurationVar(&f.ikeLifetime, "ike-lifetime", 0, "proposed IKE SA `LIFETIME` (default 8h); renewed before it runs out")
	fs.StringVar(&f.user, "user", "", "PPP user `NAME` (DOMAIN\\user and user@hub are passed as typed)")
	fs.StringVar(&f.passwordFile, "password-file", "", "read the password from `FILE` (\"-\": standard input)")
	fs.StringVar(&f.auth, "auth", strings.Join(profile.DefaultAuth, ","), "allowed PPP authentication `METHODS`, preferred first: mschapv2, pap, chap, none.\nThe default, MS-CHAPv2 only, is the one that proves the server knows the password too; a server that\ninsists on another method is refused before the password is sent (exit code 3). pap sends the password\nreadable to anyone holding the pre-shared key (to anyone on the path with --no-ipsec: PAP over plain\nL2TP takes both --no-ipsec and --auth pap); none lets the server skip authentication (a warning says so)")
	fs.StringVar(&f.ifname, "ifname", "", "TUN device `NAME` (default corridor0)")
	fs.IntVar(&f.mtu, "mtu", 0, "device MTU `N` (default: 1500 minus the tunnel overhead, capped by the server's MRU)")
	fs.BoolVar(&f.verbose, "v", false, "print a protocol trace (every control message, decoded; never secrets) to stderr")
	fs.IntVar(&f.localPort, "local-port", 0, "L2TP source `PORT` (default: ephemeral)")
	fs.DurationVar(&f.keepalive, "keepalive", profile.DefaultKeepalive, "send an LCP Echo-Request every `INTERVAL` (0: none; the server's echoes are answered either way); as for a saved profile")
	fs.IntVar(&f.kaFailures, "keepalive-failures", profile.DefaultKeepaliveFailures, "disconnect after `N` unanswered LCP echoes in a row (with the default interval: a dead link is noticed within about 30 s)")
	fs.StringVar(&f.secretFile, "l2tp-secret-file", "", "read an L2TP tunnel secret from `FILE` (enables tunnel authentication)")
	fs.StringVar(&f.proxy, "proxy", "", "no admin rights needed: serve a SOCKS5 and HTTP proxy into the VPN on `[ADDR:]PORT` (default address 127.0.0.1)\ninstead of setting up a TUN device, routes and DNS")
	fs.BoolVar(&f.ipv6, "ipv6", false, "EXPERIMENTAL: also negotiate IPv6 inside the tunnel (IPV6CP, RFC 5072) and carry IPv6 packets;\nthe device gets its link-local address, and what the server offers over IPv6 (addresses, routes,\nDNS) is printed; like the IPv4 routes and DNS, corridor connect sets none of it up: a profile with\nipv6 = true does (corridor up)")
	fs.BoolVar(&f.proxyRemote, "proxy-allow-remote", false, "let --proxy listen on an address other computers can reach (the proxy asks for no password)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), connectHelp)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), exitHelp)
	}
	return fs, &f
}

// config makes a profile of the flags and turns it into a connection the
// same way, with the same defaults, as a saved profile
// (core.ConnectConfigFor); what a profile does not hold (no keepalive at
// all, the misses allowed, SA lifetimes) is applied on top.
func (f *connectFlags) config(server string, secrets map[profile.SecretKind]string) (core.ConnectConfig, error) {
	p := profile.NewProfile(server)
	p.Server, p.User, p.IPsec, p.IKE, p.ESP, p.LegacyCrypto = server, f.user, !f.noIPsec, f.ikeList, f.espList, f.legacy
	p.Auth, p.MTU, p.Keepalive, p.L2TPPort = strings.Split(f.auth, ","), f.mtu, profile.Duration(f.keepalive), f.localPort
	p.L2TPSecret = secrets[profile.SecretL2TP] != ""
	p.Aggressive, p.Group, p.GroupType = f.aggressive, f.group, f.groupType
	var cfg core.ConnectConfig
	var err error
	if f.certAuth != nil {
		cfg, err = core.ConnectConfigForCert(p, secrets, f.certAuth)
	} else {
		cfg, err = core.ConnectConfigFor(p, secrets)
	}
	if err != nil {
		return cfg, err
	}
	if f.keepalive == 0 {
		cfg.EchoInterval = -1 // --keepalive 0: none (ppp.Config: negative turns our echoes off)
	}
	cfg.EchoFailures = f.kaFailures
	if cfg.IPsec != nil {
		cfg.IPsec.ESPLifetime, cfg.IPsec.IKELifetime = f.espLifetime, f.ikeLifetime
	}
	cfg.IfName = f.ifname
	cfg.IPv6 = f.ipv6
	return cfg, nil
}

// warnings are what the flags weaken, in plain words, for stderr before
// connecting.
func (f *connectFlags) warnings() []string {
	var w []string
	if f.noIPsec {
		w = append(w, "--no-ipsec: "+profile.PlainL2TPWarning)
	}
	if f.aggressive && !f.noIPsec {
		w = append(w, "--aggressive: "+profile.AggressiveWarning)
	}
	if !f.noIPsec && f.legacy {
		w = append(w, "legacy crypto enabled (3DES, MD5, MODP1024/1536 may be negotiated); ask your administrator to move the server to stronger settings")
	}
	methods, _ := ppp.ParseAuthMethods(f.auth)
	for _, m := range methods {
		switch {
		case m == ppp.AuthNone && f.noIPsec:
			w = append(w, "--auth none: the server will not check who you are and you cannot tell it is the real server; anyone on the network path can pose as it")
		case m == ppp.AuthNone:
			w = append(w, "--auth none: the server will not check who you are and you cannot tell it is the real server; anyone with the pre-shared key can pose as it")
		}
	}
	return w
}

func connect(args []string, env Env) int {
	fs, f := newConnectFlags(env.Stderr)
	// Accept flags before and after the server argument.
	var pos []string
	for {
		if code, ok := parseFlags(fs, args, env); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "corridor connect: "+format+"\n", a...)
		fmt.Fprintln(env.Stderr, `run "corridor connect --help" for usage`)
		return ExitUsage
	}
	switch {
	case len(pos) != 1:
		return bad("expected exactly one SERVER argument, got %d", len(pos))
	case f.certUsage() != "":
		return bad("%s", f.certUsage())
	case !f.noIPsec && f.pskFile == "" && !f.usesCert():
		return bad("--psk-file (or --cert with --key, or --p12) is required for L2TP/IPsec (use - for standard input), or pass --no-ipsec for plain L2TP")
	case f.noIPsec && (f.pskFile != "" || f.ikeList != "" || f.espList != "" || f.aggressive):
		return bad("--psk-file, --ike, --esp and --aggressive need IPsec; drop --no-ipsec")
	case f.aggressive && f.group == "":
		return bad("--aggressive needs --group NAME: Aggressive Mode sends the group name as this computer's identity")
	case !f.aggressive && (f.group != "" || f.groupType != ""):
		return bad("--group and --group-type go with --aggressive")
	case f.user == "":
		return bad("--user is required")
	case f.passwordFile == "":
		return bad("--password-file is required (use - for standard input)")
	case f.mtu != 0 && (f.mtu < 576 || f.mtu > tunnel.MaxMTU):
		return bad("--mtu must be between 576 and %d", tunnel.MaxMTU)
	case f.localPort < 0 || f.localPort > 65535:
		return bad("--local-port must be between 0 and 65535")
	case f.keepalive < 0 || (f.keepalive > 0 && f.keepalive < time.Second):
		return bad("--keepalive must be 0 (off) or at least 1s")
	case f.kaFailures < 1 || f.kaFailures > 100:
		return bad("--keepalive-failures must be between 1 and 100")
	case f.proxy != "" && f.ifname != "":
		return bad("--ifname names a TUN device; --proxy uses none")
	case f.proxy == "" && f.proxyRemote:
		return bad("--proxy-allow-remote goes with --proxy")
	case f.proxy != "" && f.ipv6:
		return bad("--ipv6 needs a TUN device: the network stack of --proxy carries IPv4 only")
	}
	// The proxy's port is taken before anything is read or sent: a port
	// in use fails here, not after the tunnel is up.
	var proxyLn net.Listener
	if f.proxy != "" {
		ap, err := proxy.ParseAddr(f.proxy, f.proxyRemote)
		if err == nil {
			proxyLn, err = proxy.Listen(ap)
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "corridor: %v\n", err)
			return ExitLocal
		}
		defer proxyLn.Close()
	}
	if _, err := ppp.ParseAuthMethods(f.auth); err != nil {
		return bad("--auth: %v", err)
	}
	password, err := readSecret(f.passwordFile, env.Stdin)
	if err != nil {
		return bad("password file: %v", err)
	}
	secrets := map[profile.SecretKind]string{profile.SecretPassword: password}
	if f.secretFile != "" {
		s, err := readSecret(f.secretFile, env.Stdin)
		if err != nil {
			return bad("L2TP secret file: %v", err)
		}
		secrets[profile.SecretL2TP] = s
	}
	if !f.noIPsec && f.usesCert() {
		ca, err := loadCertAuth(f, env.Stdin, func(w string) { fmt.Fprintln(env.Stderr, "corridor: warning: "+w) })
		if err != nil {
			return bad("%v", err)
		}
		f.certAuth = ca
	}
	if !f.noIPsec {
		if f.pskFile == f.passwordFile && f.pskFile == "-" {
			return bad("only one of --psk-file and --password-file can be standard input")
		}
		if f.certAuth == nil {
			psk, err := readSecret(f.pskFile, env.Stdin)
			if err != nil {
				return bad("pre-shared key file: %v", err)
			}
			secrets[profile.SecretPSK] = psk
		}
		if f.aggressive {
			p := profile.Profile{IPsec: true, Aggressive: true, Group: f.group, GroupType: f.groupType}
			var es profile.ValidationErrors
			if errors.As(p.Validate(), &es) {
				for _, field := range []string{"group", "group_type"} {
					if msg := es.For(field); msg != "" {
						return bad("--%s: %s", strings.ReplaceAll(field, "_", "-"), msg)
					}
				}
			}
		}
		if f.ikeList != "" {
			if _, err := ike.ParseIKE(f.ikeList, f.legacy); err != nil {
				return bad("--ike: %v", err)
			}
		}
		if f.espList != "" {
			if _, err := ike.ParseESP(f.espList, f.legacy); err != nil {
				return bad("--esp: %v", err)
			}
		}
	}
	cfg, err := f.config(pos[0], secrets)
	if err != nil {
		return fail(env.Stderr, err)
	}
	cfg.Userspace = proxyLn != nil
	for _, w := range f.warnings() {
		fmt.Fprintln(env.Stderr, "corridor: warning: "+w)
	}

	var logger *slog.Logger
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sigs := env.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs: // Ctrl-C while connecting: give up
			cancel()
		case <-ctx.Done():
		}
	}()
	out := &lineWriter{w: env.Stdout}
	start := time.Now()
	cfg.Logger = logger
	cfg.OnStage = func(s core.Stage) {
		if s.Name == "ipsec" || s.Name == "l2tp" || s.Name == "ppp" {
			out.println(s.Detail)
		}
	}
	sess, err := core.Connect(ctx, cfg)
	if err != nil {
		return fail(env.Stderr, err)
	}
	cancel() // stop the connect-phase signal watcher
	stopProxy := func() {}
	if proxyLn != nil {
		ns := sess.Netstack()
		srv := proxy.New(proxy.Config{Dial: ns.DialContext, Lookup: ns.LookupHost, Logger: logger})
		go func() {
			if err := srv.Serve(proxyLn); err != nil {
				fmt.Fprintf(env.Stderr, "corridor: the proxy stopped: %v\n", err)
			}
		}()
		stopProxy = func() { srv.Close() }
		defer stopProxy()
		out.println("proxy: socks5 and http on " + proxyLn.Addr().String())
	}
	info := sess.Info()
	dns := "none"
	if len(info.DNS) > 0 {
		parts := make([]string, len(info.DNS))
		for i, d := range info.DNS {
			parts[i] = d.String()
		}
		dns = strings.Join(parts, ",")
	}
	out.println(fmt.Sprintf("connected: interface %s address %s peer %s dns %s mtu %d (%.2fs)",
		sess.Interface(), info.Local, peerString(info), dns, sess.MTU(), time.Since(start).Seconds()))

	select {
	case s := <-sigs:
		out.println(fmt.Sprintf("disconnecting (%v)", s))
		stopProxy() // the proxy's connections end first, then the tunnel
		closeCtx, cancelClose := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelClose()
		sess.Close(closeCtx)
		st := sess.Stats()
		out.println(fmt.Sprintf("disconnected: sent %d packets (%d bytes), received %d packets (%d bytes)",
			st.TxPackets, st.TxBytes, st.RxPackets, st.RxBytes))
		return ExitOK
	case <-sess.Done():
		if err := sess.Err(); err != nil {
			return fail(env.Stderr, err)
		}
		fmt.Fprintln(env.Stderr, "corridor: the connection ended")
		return ExitProtocol
	}
}

func peerString(info ppp.IPInfo) string {
	if info.Peer.IsValid() {
		return info.Peer.String()
	}
	return "none"
}

func fail(w io.Writer, err error) int {
	var ce *core.Error
	if !errors.As(err, &ce) {
		fmt.Fprintf(w, "corridor: %v\n", err)
		return ExitInternal
	}
	fmt.Fprintf(w, "corridor: %s\n", ce.Msg)
	if h := hint(ce.HintKey, ce.HintArg, ce.Hint); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
	return classExit[ce.Class]
}

// readSecret reads a secret from a file or, for "-", standard input. Only
// the first line counts; a trailing newline is not part of the secret.
func readSecret(name string, stdin io.Reader) (string, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		fh, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		r = fh
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty")
	}
	return line, nil
}

// lineWriter prints whole lines; stages arrive from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}

const probeHelp = `Usage: corridor probe [--wait DURATION] SERVER

Sends one IKEv1 Main Mode first message per proposal family to SERVER
(UDP 500), the way ike-scan does, and lists which families the server
answers. No credentials are needed and no tunnel is made: use it to fix a
proposal mismatch without a packet capture. Families marked legacy need
--legacy-crypto with corridor connect; DES, ECP and GCM families are only
probed, never negotiated.

Exit codes: 0 the server accepted at least one family, 2 bad usage,
4 no answer to any family.

Flags:
`

func probeCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	wait := fs.Duration("wait", 2*time.Second, "how long to wait for answers (`DURATION`)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), probeHelp); fs.PrintDefaults() }
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() != 1 || *wait <= 0 {
		fmt.Fprintln(env.Stderr, "corridor probe: expected one SERVER argument and a positive --wait")
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait+10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", fs.Arg(0))
	if err != nil || len(addrs) == 0 {
		fmt.Fprintf(env.Stderr, "corridor probe: could not resolve %q\n", fs.Arg(0))
		return ExitNoAnswer
	}
	server := addrs[0].Unmap()
	fmt.Fprintf(env.Stdout, "probing %v: IKEv1 main mode, %d proposal families, %v\n", server, len(ike.ProbeFamilies), *wait)
	res, err := ike.Probe(ctx, server, ike.ProbeFamilies, *wait)
	if err != nil {
		fmt.Fprintf(env.Stderr, "corridor probe: %v\n", err)
		return ExitLocal
	}
	accepted := 0
	natt, dpd := "", false
	for _, r := range res {
		state := "no answer"
		switch {
		case r.Accepted:
			state = "accepted"
			accepted++
			natt, dpd = r.NATT, dpd || r.DPD
		case r.Refused != 0:
			state = "refused (" + r.Refused.String() + ")"
		}
		note := ""
		if suites, err := ike.ParseIKE(r.Family.Name, true); err == nil {
			if suites[0].Legacy() {
				note = "legacy: needs --legacy-crypto"
			}
		} else {
			note = "probe only: Corridor does not negotiate it"
		}
		fmt.Fprintf(env.Stdout, "  %-10s %-28s %s\n", state, r.Family.Name, note)
	}
	if accepted == 0 {
		fmt.Fprintln(env.Stdout, "the server answered none: it is unreachable, filtered, not an IKEv1 server, or refuses every family silently")
		return ExitNoAnswer
	}
	if natt == "" {
		natt = "none (Corridor needs it)"
	}
	fmt.Fprintf(env.Stdout, "the server accepts %d of %d families; NAT traversal: %s; dead peer detection: %v\n", accepted, len(res), natt, dpd)
	return ExitOK
}
