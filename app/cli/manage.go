package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/platform"
	"golang.org/x/term"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// configDir is where profiles live: $CORRIDOR_CONFIG_DIR or the user's
// config directory.
func configDir() (string, error) {
	if d := os.Getenv("CORRIDOR_CONFIG_DIR"); d != "" {
		return d, nil
	}
	return profile.DefaultConfigDir()
}

func socketPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if s := os.Getenv("CORRIDOR_SOCKET"); s != "" {
		return s
	}
	return daemon.DefaultSocket
}

// openService opens the profile store with the OS keychain and the
// daemon client.
func openService(socket string) (*core.Service, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	st, err := profile.OpenStore(dir, profile.NewKeyring())
	if err != nil {
		return nil, err
	}
	return core.NewService(st, engines(socket)), nil
}

// engines is where sessions run: TUN profiles in the root helper (on
// socket), proxy-mode profiles in the user's own session runner.
func engines(socket string) *core.Split { return daemon.NewSplit(socketPath(socket)) }

const profileHelp = `Usage:
  corridor profile add NAME --server HOST --user NAME [--password-file F | --ask-password] [--psk-file F | --ask-psk] [flags]
  corridor profile edit NAME [--rename NEW] [flags]      change only the flags given
  corridor profile list
  corridor profile show NAME
  corridor profile rm NAME
  corridor profile import FILE                           .nmconnection or .mobileconfig
  corridor profile export NAME [-o FILE]                 without secrets

Profiles live in the config directory (profiles/NAME.toml); passwords,
pre-shared keys and L2TP secrets go to the OS keychain, never to a file;
with --ask-password / --ask-psk they are stored nowhere and typed at each
connect. Secret files may be "-" (standard input).

Flags of add and edit:
`

// profileFlags are the profile settings as flags.
type profileFlags struct {
	fs                             *flag.FlagSet
	server, user, ike, esp, auth   string
	dns, keepalive                 string
	pskFile, passwordFile, l2tpSec string
	noIPsec, legacy, full, classfl bool
	noReconnect, killSwitch        bool
	ipv6                           bool
	askPassword, askPSK            bool
	mtu, l2tpPort                  int
	routes, domains                stringList
	rename                         string
	mode, proxy                    string
	aggressive                     bool
	group, groupType               string
	certFile, keyFile, caFile      string
	serverID                       string
	p12File, p12PassFile           string
	keyPassFile                    string
}

func newProfileFlags(name string, env Env) *profileFlags {
	f := &profileFlags{fs: flag.NewFlagSet("profile "+name, flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.server, "server", "", "VPN server `HOST` name or IPv4 address")
	fs.StringVar(&f.user, "user", "", "PPP user `NAME`")
	fs.StringVar(&f.passwordFile, "password-file", "", "store the password read from `FILE` in the keychain")
	fs.StringVar(&f.pskFile, "psk-file", "", "store the IPsec pre-shared key read from `FILE` in the keychain")
	fs.BoolVar(&f.askPassword, "ask-password", false, "ask for the password at every connect instead of keeping it in the keychain (=false: keep it again)")
	fs.BoolVar(&f.askPSK, "ask-psk", false, "ask for the pre-shared key at every connect instead of keeping it in the keychain")
	fs.BoolVar(&f.noIPsec, "no-ipsec", false, "plain L2TP without IPsec")
	fs.StringVar(&f.ike, "ike", "", "phase-1 `PROPOSALS` (strongSwan notation; empty: defaults)")
	fs.StringVar(&f.esp, "esp", "", "phase-2 `PROPOSALS` (empty: defaults)")
	fs.BoolVar(&f.legacy, "legacy-crypto", false, "allow 3DES, MD5 and MODP1024/1536")
	fs.BoolVar(&f.aggressive, "aggressive", false, "IKE Aggressive Mode with --group as the identity (=false: Main Mode again). LESS SECURE: anyone\nwho knows the group name can get a hash of the pre-shared key and guess the key offline")
	fs.StringVar(&f.group, "group", "", "the group `NAME` of Aggressive Mode")
	fs.StringVar(&f.groupType, "group-type", "", "how the group name is sent: `TYPE` fqdn (default) or keyid (Cisco-style gateways)")
	fs.StringVar(&f.certFile, "cert", "", "authenticate IPsec with this computer's certificate (PEM `FILE`, optionally followed by its\nchain) instead of a pre-shared key; its key comes with --key (\"none\": back to the pre-shared key)")
	fs.StringVar(&f.keyFile, "key", "", "store the certificate's RSA private key (PEM `FILE`, not encrypted) in the keychain")
	f.certFlags()
	fs.StringVar(&f.caFile, "ca", "", "the CA certificates (PEM `FILE`) that may sign the server's certificate (\"none\": the system's)")
	fs.StringVar(&f.serverID, "server-id", "", "the identity the server's certificate must prove: a DN, host name or address (`ID`; \"\": the server)")
	fs.StringVar(&f.auth, "auth", "", "allowed PPP `METHODS`, preferred first: mschapv2,pap,chap,none (default: mschapv2 only; pap sends the password readable to anyone holding the pre-shared key)")
	fs.IntVar(&f.mtu, "mtu", 0, "device `MTU` (0: automatic)")
	fs.BoolVar(&f.full, "full-tunnel", false, "send all traffic through the VPN")
	fs.Var(&f.routes, "route", "route `CIDR` through the VPN (split tunnel; repeatable)")
	fs.BoolVar(&f.classfl, "classful-route", false, "also route the assigned address's classful network")
	fs.StringVar(&f.dns, "dns", "", "`server` (from the VPN), none, or comma-separated addresses")
	fs.Var(&f.domains, "domain", "DNS search `DOMAIN` (repeatable)")
	fs.StringVar(&f.keepalive, "keepalive", "", "PPP keepalive `INTERVAL` (e.g. 10s)")
	fs.BoolVar(&f.noReconnect, "no-reconnect", false, "do not reconnect after a drop")
	fs.BoolVar(&f.killSwitch, "kill-switch", false, "full tunnel: when the connection drops by itself, block all other traffic until it is back\nor you disconnect (=false: turn it off)")
	fs.BoolVar(&f.ipv6, "ipv6", false, "EXPERIMENTAL: IPv6 inside the tunnel (TUN mode): set up the IPv6 addresses, routes and DNS\nthe server offers; a full tunnel sends all IPv6 through the VPN when the server offers a default\nroute, and blocks IPv6 outside it otherwise (=false: IPv4 only)")
	fs.IntVar(&f.l2tpPort, "l2tp-port", 0, "L2TP source `PORT` without IPsec (0: ephemeral)")
	fs.StringVar(&f.l2tpSec, "l2tp-secret-file", "", "store an L2TP tunnel secret read from `FILE` (\"none\": remove it)")
	fs.StringVar(&f.mode, "mode", "", "`tun` (a network device, set up by the helper) or proxy (no admin rights: a local\nSOCKS5/HTTP proxy into the VPN, run in your own session)")
	fs.StringVar(&f.proxy, "proxy", "", "proxy mode's loopback `[ADDR:]PORT` (default "+profile.DefaultProxy+"); implies --mode proxy")
	if name == "edit" {
		fs.StringVar(&f.rename, "rename", "", "rename the profile to `NEW` (its secrets move with it)")
	}
	fs.Usage = func() { fmt.Fprint(fs.Output(), profileHelp); fs.PrintDefaults() }
	return f
}

// apply copies the flags that were given onto p and returns the secrets
// to store.
func (f *profileFlags) apply(p *profile.Profile, stdin io.Reader) (map[profile.SecretKind]string, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["server"] {
		p.Server = f.server
	}
	if set["user"] {
		p.User = f.user
	}
	if set["no-ipsec"] {
		p.IPsec = !f.noIPsec
	}
	if set["ike"] {
		p.IKE = f.ike
	}
	if set["esp"] {
		p.ESP = f.esp
	}
	if set["legacy-crypto"] {
		p.LegacyCrypto = f.legacy
	}
	if set["aggressive"] {
		p.Aggressive = f.aggressive
	}
	if set["group"] {
		p.Group = f.group
	}
	if set["group-type"] {
		p.GroupType = f.groupType
	}
	if set["auth"] {
		p.Auth = strings.Split(f.auth, ",")
	}
	if set["mtu"] {
		p.MTU = f.mtu
	}
	if set["full-tunnel"] {
		p.FullTunnel = f.full
	}
	if set["route"] {
		p.Routes = f.routes
	}
	if set["classful-route"] {
		p.ClassfulRoute = f.classfl
	}
	if set["dns"] {
		switch f.dns {
		case "server", "none":
			p.DNS, p.DNSServers = f.dns, nil
		default:
			p.DNS, p.DNSServers = "custom", strings.Split(f.dns, ",")
		}
	}
	if set["domain"] {
		p.Domains = f.domains
	}
	if set["keepalive"] {
		d, err := time.ParseDuration(f.keepalive)
		if err != nil {
			return nil, fmt.Errorf("--keepalive: %v", err)
		}
		p.Keepalive = profile.Duration(d)
	}
	if set["no-reconnect"] {
		p.Reconnect = !f.noReconnect
	}
	if set["kill-switch"] {
		p.KillSwitch = f.killSwitch
	}
	if set["ipv6"] {
		p.IPv6 = f.ipv6
	}
	if set["l2tp-port"] {
		p.L2TPPort = f.l2tpPort
	}
	if set["ask-password"] {
		p.AskPassword = f.askPassword
	}
	if set["proxy"] {
		p.Proxy = f.proxy
		if !strings.Contains(f.proxy, ":") {
			p.Proxy = "127.0.0.1:" + f.proxy // a bare port, as corridor connect --proxy
		}
		if !set["mode"] {
			p.Mode = profile.ModeProxy
		}
	}
	if set["mode"] {
		p.Mode = f.mode
	}
	if set["ask-psk"] {
		p.AskPSK = f.askPSK
	}
	if p.AskPassword && f.passwordFile != "" {
		return nil, errors.New("--password-file and --ask-password exclude each other: a password asked for at each connect is never stored")
	}
	if p.AskPSK && f.pskFile != "" {
		return nil, errors.New("--psk-file and --ask-psk exclude each other: a pre-shared key asked for at each connect is never stored")
	}
	secrets := map[profile.SecretKind]string{}
	stdinUsed := false
	readOnce := func(file string) (string, error) {
		if file == "-" {
			if stdinUsed {
				return "", errors.New("only one secret can come from standard input")
			}
			stdinUsed = true
		}
		return readSecret(file, stdin)
	}
	read := func(file string, kind profile.SecretKind) error {
		v, err := readOnce(file)
		if err != nil {
			return fmt.Errorf("%s file: %v", kind, err)
		}
		secrets[kind] = v
		return nil
	}
	if f.passwordFile != "" {
		if err := read(f.passwordFile, profile.SecretPassword); err != nil {
			return nil, err
		}
	}
	if f.pskFile != "" {
		if err := read(f.pskFile, profile.SecretPSK); err != nil {
			return nil, err
		}
	}
	if err := f.applyCert(p, secrets, readOnce); err != nil {
		return nil, err
	}
	if f.l2tpSec == "none" {
		p.L2TPSecret = false
	} else if f.l2tpSec != "" {
		if err := read(f.l2tpSec, profile.SecretL2TP); err != nil {
			return nil, err
		}
		p.L2TPSecret = true
	}
	return secrets, nil
}

func profileCmd(args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, profileHelp)
		return ExitUsage
	}
	sub, args := args[0], args[1:]
	if helpArg([]string{sub}) || (helpArg(args) && profileSubFlags(sub, env) != nil) {
		// Help needs no profile store (nor keychain).
		if fs := profileSubFlags(sub, env); fs != nil {
			code, _ := parseFlags(fs, []string{"-h"}, env)
			return code
		}
		f := newProfileFlags("add", env)
		f.fs.SetOutput(env.Stdout)
		f.fs.Usage()
		return ExitOK
	}
	svc, err := openService("")
	if err != nil {
		return fail(env.Stderr, err)
	}
	st := svc.Store()
	bad := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "corridor profile %s: "+format+"\n", append([]any{sub}, a...)...)
		return ExitUsage
	}
	switch sub {
	case "add", "edit":
		f := newProfileFlags(sub, env)
		name, rest := splitName(args)
		if code, ok := parseFlags(f.fs, rest, env); !ok {
			return code
		}
		if name == "" || f.fs.NArg() != 0 {
			return bad("expected the profile NAME first and flags after it")
		}
		var p profile.Profile
		if sub == "add" {
			if _, err := st.Get(name); err == nil {
				return bad("profile %q exists; use corridor profile edit", name)
			}
			p = profile.NewProfile(name)
		} else if p, err = st.Get(name); err != nil {
			return fail(env.Stderr, err)
		}
		secrets, err := f.apply(&p, env.Stdin)
		if err != nil {
			return bad("%v", err)
		}
		if sub == "add" {
			if secrets[profile.SecretPassword] == "" && !p.AskPassword {
				return bad("--password-file is required (the password goes to the keychain), or --ask-password to type it at each connect")
			}
			if p.UsesCert() && secrets[profile.SecretCertKey] == "" {
				return bad("--cert needs --key: the certificate's private key goes to the keychain")
			}
			if p.IPsec && !p.UsesCert() && secrets[profile.SecretPSK] == "" && !p.AskPSK {
				return bad("--psk-file is required for L2TP/IPsec (or pass --no-ipsec, or --ask-psk to type it at each connect)")
			}
		}
		if err := p.Validate(); err != nil {
			return bad("%v", err)
		}
		if p.Aggressive && p.IPsec && f.fs.Lookup("aggressive").Value.String() == "true" {
			fmt.Fprintln(env.Stderr, "corridor: warning: "+profile.AggressiveWarning)
		}
		if err := svc.SaveProfile(p, secrets); err != nil {
			return fail(env.Stderr, err)
		}
		if f.certFile == "none" {
			// Back to the pre-shared key: the certificate's key leaves the keychain.
			if err := st.Secrets().Delete(p.Name, profile.SecretCertKey); err != nil {
				return fail(env.Stderr, err)
			}
		}
		if f.rename != "" {
			if err := svc.RenameProfile(name, f.rename); err != nil {
				return fail(env.Stderr, err)
			}
			name = f.rename
		}
		fmt.Fprintf(env.Stdout, "profile %q saved", name)
		if len(secrets) > 0 {
			var kinds []string
			for k := range secrets {
				kinds = append(kinds, string(k))
			}
			sort.Strings(kinds)
			fmt.Fprintf(env.Stdout, " (%s stored in the keychain)", strings.Join(kinds, ", "))
		}
		fmt.Fprintln(env.Stdout)
		return ExitOK
	case "list":
		fs := profileSubFlags(sub, env)
		if code, ok := parseFlags(fs, args, env); !ok {
			return code
		}
		if fs.NArg() != 0 {
			return bad("takes no arguments")
		}
		names := fs.Lookup("names").Value.String() == "true"
		ps, errs := st.List()
		for _, p := range ps {
			if names {
				fmt.Fprintln(env.Stdout, p.Name)
				continue
			}
			mode := "L2TP/IPsec"
			if !p.IPsec {
				mode = "L2TP"
			}
			fmt.Fprintf(env.Stdout, "%-20s %-24s %-12s %s\n", p.Name, p.Server, p.User, mode)
		}
		for _, e := range errs {
			fmt.Fprintf(env.Stderr, "corridor: %v\n", e)
		}
		if len(errs) > 0 {
			return ExitUsage
		}
		return ExitOK
	case "show", "export":
		fs := profileSubFlags(sub, env)
		name, rest := splitName(args)
		if code, ok := parseFlags(fs, rest, env); !ok {
			return code
		}
		if name == "" || fs.NArg() != 0 {
			return bad("expected a profile NAME")
		}
		out := new(string)
		if o := fs.Lookup("o"); o != nil {
			*out = o.Value.String()
		}
		p, err := st.Get(name)
		if err != nil {
			return fail(env.Stderr, err)
		}
		data := profile.ExportProfile(p)
		if sub == "show" {
			env.Stdout.Write(data)
			for _, k := range []profile.SecretKind{profile.SecretPassword, profile.SecretPSK, profile.SecretL2TP} {
				if p.Asks(k) {
					fmt.Fprintf(env.Stdout, "# %s: asked at each connect, never stored\n", k)
					continue
				}
				// Only what a connect of p uses is looked up: a machine
				// without a keychain shows no error for a secret the
				// profile does not have.
				if (k == profile.SecretL2TP && !p.L2TPSecret) || (k == profile.SecretPSK && !p.IPsec) {
					fmt.Fprintf(env.Stdout, "# %s: not used by this profile\n", k)
					continue
				}
				_, err := st.Secrets().Get(name, k)
				state := "stored in the keychain"
				if errors.Is(err, profile.ErrNoSecret) {
					state = "not stored"
				} else if err != nil {
					state = "keychain error: " + err.Error()
				}
				fmt.Fprintf(env.Stdout, "# %s: %s\n", k, state)
			}
			return ExitOK
		}
		if *out == "" {
			env.Stdout.Write(data)
			return ExitOK
		}
		if err := os.WriteFile(*out, data, 0o600); err != nil {
			return fail(env.Stderr, err)
		}
		return ExitOK
	case "rm":
		name, rest := splitName(args)
		if code, ok := parseFlags(profileSubFlags(sub, env), rest, env); !ok {
			return code
		}
		if name == "" || len(rest) != 0 {
			return bad("expected a profile NAME")
		}
		if err := svc.RemoveProfile(args[0]); err != nil {
			return fail(env.Stderr, err)
		}
		fmt.Fprintf(env.Stdout, "profile %q removed with its secrets\n", args[0])
		return ExitOK
	case "import":
		fs := profileSubFlags(sub, env)
		if code, ok := parseFlags(fs, args, env); !ok {
			return code
		}
		if args = fs.Args(); len(args) != 1 {
			return bad("expected a FILE (.nmconnection or .mobileconfig)")
		}
		data, err := os.ReadFile(args[0])
		if err != nil {
			return fail(env.Stderr, err)
		}
		var ims []profile.Imported
		if strings.HasSuffix(args[0], ".mobileconfig") {
			ims, err = profile.ImportMobileconfig(data)
		} else {
			var im profile.Imported
			im, err = profile.ImportNMConnection(data)
			ims = []profile.Imported{im}
		}
		if err != nil {
			return bad("%v", err)
		}
		if err := openImportedCerts(ims, fs, env.Stdin); err != nil {
			return bad("%v", err)
		}
		for _, im := range ims {
			p, err := st.Import(im)
			if err != nil {
				return fail(env.Stderr, err)
			}
			fmt.Fprintf(env.Stdout, "imported profile %q (%s, user %s; %d secrets to the keychain)\n", p.Name, p.Server, p.User, len(im.Secrets))
			for _, w := range im.Warnings {
				fmt.Fprintf(env.Stderr, "corridor: warning: %s: %s\n", p.Name, w)
			}
		}
		return ExitOK
	}
	return bad("unknown subcommand (add, edit, list, show, rm, import, export)")
}

// profileSubs are profile's subcommands.
var profileSubs = []string{"add", "edit", "list", "show", "rm", "import", "export"}

// profileSubFlags is the flag set of profile SUB, nil for an unknown SUB.
// Flags whose values the command reads are declared here (for --help and
// the completions) and looked up by name where they are used.
func profileSubFlags(sub string, env Env) *flag.FlagSet {
	var fs *flag.FlagSet
	switch sub {
	case "add", "edit":
		return newProfileFlags(sub, env).fs
	case "list":
		fs = newFlagSet("profile list", "Usage: corridor profile list [--names]\n\nLists the saved profiles: name, server, user, mode.\n")
		fs.Bool("names", false, "print only the names, one a line (for scripts and shell completion)")
	case "show":
		fs = newFlagSet("profile show", "Usage: corridor profile show NAME\n\nPrints the profile as its file holds it, and which secrets the keychain holds.\n")
	case "export":
		fs = newFlagSet("profile export", "Usage: corridor profile export NAME [-o FILE]\n\nPrints the profile without its secrets, to share or back up.\n")
		fs.String("o", "", "write to `FILE` instead of standard output")
	case "rm":
		fs = newFlagSet("profile rm", "Usage: corridor profile rm NAME\n\nRemoves the profile and its secrets in the keychain.\n")
	case "import":
		fs = newFlagSet("profile import", "Usage: corridor profile import [--p12-password-file FILE] FILE\n\nImports a NetworkManager .nmconnection or an Apple .mobileconfig file; its secrets go to the keychain.\n")
		importCertFlags(fs)
	default:
		return nil
	}
	fs.SetOutput(env.Stderr)
	return fs
}

// splitName takes a leading NAME argument off args.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func upCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	socket := fs.String("socket", "", "the helper's `SOCKET` (default "+daemon.DefaultSocket+")")
	wait := fs.Duration("wait", 90*time.Second, "how long to wait for connected (0: do not wait)")
	passwordFile := fs.String("password-file", "", "read the password for this connect from `FILE` (\"-\": standard input) instead of asking or the keychain")
	pskFile := fs.String("psk-file", "", "read the pre-shared key for this connect from `FILE` (\"-\": standard input)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: corridor up NAME [--socket PATH] [--wait D] [--password-file F] [--psk-file F]\n\nConnects the saved profile NAME through the helper and waits until it is up.\nA profile that asks for its password (or PSK) at each connect prompts for it\non the terminal, without echo; scripts pass --password-file - instead.\nExit codes as for corridor connect.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	name, rest := splitName(args)
	if code, ok := parseFlags(fs, rest, env); !ok {
		return code
	}
	if name == "" || fs.NArg() != 0 {
		return usageError(env, "up", "expected one profile NAME, then flags")
	}
	if *passwordFile == "-" && *pskFile == "-" {
		return usageError(env, "up", "only one secret can come from standard input")
	}
	svc, err := openService(*socket)
	if err != nil {
		return fail(env.Stderr, err)
	}
	p, err := svc.Profile(name)
	if err != nil {
		return fail(env.Stderr, err)
	}
	typed, code, ok := typedSecrets(p, *passwordFile, *pskFile, env)
	if !ok {
		return code
	}
	ctx, cancel := signalContext()
	defer cancel()
	// A proxy-mode profile runs in this user's session runner: it is
	// started now, so that the events below cover the whole connect.
	if err := svc.Prepare(ctx, p); err != nil {
		return fail(env.Stderr, err)
	}
	var events <-chan core.Event
	if *wait > 0 {
		if events, err = svc.Subscribe(ctx); err != nil {
			return fail(env.Stderr, err)
		}
	}
	if err := svc.ConnectWith(ctx, name, typed); err != nil {
		return fail(env.Stderr, err)
	}
	if *wait == 0 {
		fmt.Fprintf(env.Stdout, "%s: connecting\n", name)
		return ExitOK
	}
	timeout := time.After(*wait)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				fmt.Fprintln(env.Stderr, "corridor: lost the connection to the helper")
				return ExitInternal
			}
			if ev.Status.Profile != name {
				continue
			}
			switch {
			case ev.Kind == core.EventProgress || (ev.Kind == core.EventState && ev.Line != ""):
				fmt.Fprintf(env.Stdout, "%s: %s\n", name, ev.Line)
			}
			if ev.Kind != core.EventState {
				continue
			}
			switch ev.Status.State {
			case core.StateConnected:
				st := ev.Status
				where := "interface " + st.Interface
				if st.Proxy != "" {
					where = "proxy " + st.Proxy
				}
				dns := strings.Join(st.DNS, ",")
				if dns == "" {
					dns = "none"
				}
				fmt.Fprintf(env.Stdout, "connected: %s %s address %s dns %s (%s)\n", name, where,
					st.Address, dns, suites(st.IKE, st.ESP))
				if st.Proxy != "" {
					fmt.Fprintf(env.Stdout, "use it: ALL_PROXY=socks5h://%s (or http_proxy/https_proxy=http://%s, or a browser's SOCKS5 proxy setting)\n", st.Proxy, st.Proxy)
				}
				return ExitOK
			case core.StateFailed, core.StateIdle:
				if e := ev.Status.Error; e != nil {
					fmt.Fprintf(env.Stderr, "corridor: %s\n", e.Msg)
					if h := hint(e.HintKey, e.HintArg, e.Hint); h != "" {
						fmt.Fprintf(env.Stderr, "hint: %s\n", h)
					}
					return classExit[e.Class]
				}
				return ExitProtocol
			}
		case <-timeout:
			fmt.Fprintf(env.Stderr, "corridor: %s is not connected after %v; it keeps trying (corridor status)\n", name, *wait)
			return ExitNoAnswer
		case <-ctx.Done():
			return ExitOK
		}
	}
}

// typedSecrets gathers the secrets of one connect of p: those read from
// the files given, and those p asks for (Profile.Asked), typed on the
// terminal without echo. Without a terminal on standard input and
// without a file, that is a usage error. The values are not kept.
func typedSecrets(p profile.Profile, passwordFile, pskFile string, env Env) (map[profile.SecretKind]string, int, bool) {
	typed := map[profile.SecretKind]string{}
	files := map[profile.SecretKind]string{profile.SecretPassword: passwordFile, profile.SecretPSK: pskFile}
	for _, k := range []profile.SecretKind{profile.SecretPassword, profile.SecretPSK} {
		if files[k] == "" {
			continue
		}
		v, err := readSecret(files[k], env.Stdin)
		if err != nil {
			return nil, usageError(env, "up", "%s file: %v", k, err), false
		}
		typed[k] = v
	}
	for _, k := range p.Asked() {
		if typed[k] != "" {
			continue
		}
		words, flagName := "password", "--password-file"
		if k == profile.SecretPSK {
			words, flagName = "pre-shared key", "--psk-file"
		}
		fd, isTerm := terminalFd(env.Stdin)
		if !isTerm {
			return nil, usageError(env, "up", "profile %q asks for its %s at each connect, and standard input is not a terminal to type it on: pass %s FILE (or - to read it from standard input)", p.Name, words, flagName), false
		}
		fmt.Fprintf(env.Stderr, "%s of %s (%s): ", capitalize(words), p.Name, p.User)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return nil, fail(env.Stderr, fmt.Errorf("could not read the %s from the terminal: %w", words, err)), false
		}
		if len(b) == 0 {
			return nil, usageError(env, "up", "no %s typed", words), false
		}
		typed[k] = string(b)
	}
	return typed, ExitOK, true
}

// terminalFd returns the descriptor of r when it is a terminal.
func terminalFd(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok || f == nil {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// suites is "IKE, ESP", or "no IPsec" for plain L2TP.
func suites(ike, esp string) string {
	if ike == "" && esp == "" {
		return "no IPsec"
	}
	return ike + ", " + esp
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func downCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	socket := fs.String("socket", "", "the helper's `SOCKET`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: corridor down [NAME] [--socket PATH]\n\nDisconnects the session of profile NAME, or all of them without NAME.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	name, rest := splitName(args)
	if code, ok := parseFlags(fs, rest, env); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(env, "down", "expected at most one profile NAME, then flags")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := engines(*socket)
	if err := d.Down(ctx, name); err != nil {
		return fail(env.Stderr, err)
	}
	if name == "" {
		name = "all sessions"
	}
	fmt.Fprintf(env.Stdout, "disconnected: %s\n", name)
	return ExitOK
}

func statusCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	socket := fs.String("socket", "", "the helper's `SOCKET`")
	asJSON := fs.Bool("json", false, "print JSON: {\"version\": 1, \"sessions\": [...]} (stable, see README)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: corridor status [--json] [--socket PATH]\n\nEvery session: the helper's and this user's proxy-mode ones; state, address, counters.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(env, "status", "takes no arguments")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := engines(*socket)
	st, err := d.Status(ctx)
	if *asJSON {
		// The stable shape (README): a versioned object; an error in it
		// has its code beside the words (and goes to stderr as words too).
		rep := core.StatusReport{Version: core.StatusReportVersion, Sessions: st}
		if rep.Sessions == nil {
			rep.Sessions = []core.Status{}
		}
		if err != nil {
			rep.Error = core.AsError(err).Info()
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	}
	if err != nil {
		return fail(env.Stderr, err)
	}
	if *asJSON {
		return ExitOK
	}
	if len(st) == 0 {
		fmt.Fprintln(env.Stdout, "no sessions")
	}
	for _, s := range st {
		fmt.Fprintf(env.Stdout, "%s: %s", s.Profile, s.State.Words())
		if s.State == core.StateConnected {
			on := s.Interface
			if s.Proxy != "" {
				on = "proxy " + s.Proxy
			}
			addr := s.Address
			if len(s.IPv6) > 0 {
				addr += " and " + strings.Join(s.IPv6, ", ")
			}
			fmt.Fprintf(env.Stdout, " for %v: %s on %s via %s; in %d B (%.0f B/s), out %d B (%.0f B/s)",
				time.Since(s.Connected).Round(time.Second), addr, on, s.Server,
				s.Stats.RxBytes, s.Stats.RxRate, s.Stats.TxBytes, s.Stats.TxRate)
			if s.Stats.RxPackets6+s.Stats.TxPackets6 > 0 {
				fmt.Fprintf(env.Stdout, ", of which IPv6 in %d B, out %d B", s.Stats.RxBytes6, s.Stats.TxBytes6)
			}
		}
		if s.Error != nil {
			fmt.Fprintf(env.Stdout, " (%s)", s.Error.Msg)
		}
		fmt.Fprintln(env.Stdout)
		if s.DNSNote != "" && s.State == core.StateConnected {
			fmt.Fprintf(env.Stdout, "  note: %s\n", s.DNSNote)
		}
	}
	return ExitOK
}

func watchCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	socket := fs.String("socket", "", "the helper's `SOCKET`")
	asJSON := fs.Bool("json", false, "one JSON event per line")
	stats := fs.Bool("stats", false, "also print statistics events")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: corridor watch [--json] [--stats] [--socket PATH]\n\nPrints the sessions' events (the helper's and this user's proxy-mode ones) as they happen, until Ctrl-C.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, env); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(env, "watch", "takes no arguments")
	}
	ctx, cancel := signalContext()
	defer cancel()
	d := engines(*socket)
	ch, err := d.Subscribe(ctx)
	if err != nil {
		return fail(env.Stderr, err)
	}
	enc := json.NewEncoder(env.Stdout)
	for ev := range ch {
		if ev.Kind == core.EventStats && !*stats {
			continue
		}
		if *asJSON {
			enc.Encode(ev)
			continue
		}
		line := ev.Line
		if ev.Kind == core.EventState && line == "" {
			line = ev.Status.State.Words()
		}
		fmt.Fprintf(env.Stdout, "%s %s %s: %s\n", ev.Time.Format("15:04:05.000"), ev.Status.Profile, ev.Kind, line)
	}
	return ExitOK
}

func daemonCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	socket := fs.String("socket", "", "listen on `SOCKET` (default "+daemon.DefaultSocket+")")
	group := fs.String("group", "corridor", "users of `GROUP` may use the helper (besides root)")
	journal := fs.String("journal", "", "journal `DIR` of OS changes (default: the platform's)")
	verbose := fs.Bool("v", false, "log protocol traces")
	user := fs.Bool("user", false, "run this user's proxy-mode sessions instead (no root: started by corridor up on demand;\nSOCKET defaults to "+daemon.UserSocket()+")")
	netwatch := fs.Bool("network-watch", true, "reconnect at once when the path to a server changes or the network comes back\n(false: only keepalives and dead peer detection notice)")
	idleDefault := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("CORRIDOR_USER_IDLE_EXIT")); err == nil {
		idleDefault = d // the runner corridor up starts has no flags of the user's
	}
	idle := fs.Duration("idle-exit", idleDefault, "with --user: exit after `D` without a session (0: never; default $CORRIDOR_USER_IDLE_EXIT or 60s)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	if *user {
		path := *socket
		if path == "" {
			path = daemon.UserSocket()
		}
		return userDaemon(path, *idle, managerOptions(log, *netwatch), log, env)
	}
	var ropts []platform.RouterOption
	if *journal != "" {
		ropts = append(ropts, platform.WithJournalDir(*journal))
	}
	// Undo what a crashed predecessor left: routes, DNS.
	if err := platform.Recover(ropts...); err != nil {
		log.Warn("daemon: recovering the journal of an earlier run", "err", err)
	}
	m := core.NewManager(&core.RealStack{RouterOptions: ropts}, managerOptions(log, *netwatch)...)
	srv := &daemon.Server{Engine: m, Log: log}
	// Started by corridor.socket, systemd hands over the listening socket
	// (LISTEN_FDS); otherwise the helper creates it.
	lns, err := activation.Listeners()
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("daemon: the sockets systemd passed: %w", err))
	}
	path := socketPath(*socket)
	if len(lns) > 0 && lns[0] != nil {
		for _, extra := range lns[1:] {
			if extra != nil {
				extra.Close()
			}
		}
		srv.UseListener(lns[0], *group)
		log.Info("daemon: listening on the socket systemd passed", "socket", lns[0].Addr().String(), "pid", os.Getpid())
	} else {
		if err := srv.Listen(path, *group); err != nil {
			return fail(env.Stderr, err)
		}
		log.Info("daemon: listening", "socket", path, "pid", os.Getpid())
	}
	ctx, cancel := signalContext()
	defer cancel()
	// Type=notify: systemd counts the helper as started from here.
	sdnotify.SdNotify(false, sdnotify.SdNotifyReady)
	err = srv.Serve(ctx)
	// Before ending the sessions (restoring routes and DNS takes a moment).
	sdnotify.SdNotify(false, sdnotify.SdNotifyStopping)
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	m.Close(cctx)
	srv.RemoveSocket() // not systemd's: that one outlives the helper
	log.Info("daemon: stopped")
	if err != nil {
		return fail(env.Stderr, err)
	}
	return ExitOK
}

// managerOptions are the session manager's options of both daemons.
func managerOptions(log *slog.Logger, netwatch bool) []core.ManagerOption {
	opts := []core.ManagerOption{core.WithManagerLogger(log)}
	if netwatch {
		opts = append(opts, core.WithNetWatch(core.NetWatch{Changes: platform.WatchNetwork, PathTo: platform.PathTo}))
	}
	return opts
}

// userDaemon runs this user's session runner: proxy-mode sessions
// (core.ProxyStack) served on the user's socket to this user only. It
// needs no privilege and changes nothing on the machine. It ends on
// SIGINT/SIGTERM, or after idle without a session.
func userDaemon(path string, idle time.Duration, opts []core.ManagerOption, log *slog.Logger, env Env) int {
	m := core.NewManager(&core.ProxyStack{}, opts...)
	srv := &daemon.Server{Engine: m, Log: log}
	if err := srv.ListenUser(path); err != nil {
		if errors.Is(err, daemon.ErrRunning) {
			// Two commands started one at once: the other one serves.
			log.Info("daemon: this user's session runner is already running", "socket", path)
			return ExitOK
		}
		return fail(env.Stderr, err)
	}
	log.Info("daemon: this user's session runner is listening", "socket", path, "pid", os.Getpid())
	ctx, cancel := signalContext()
	defer cancel()
	if idle > 0 {
		go exitWhenIdle(ctx, cancel, m, idle, log)
	}
	err := srv.Serve(ctx)
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	m.Close(cctx)
	srv.RemoveSocket()
	log.Info("daemon: stopped")
	if err != nil {
		return fail(env.Stderr, err)
	}
	return ExitOK
}

// exitWhenIdle cancels once m has had no live session (connecting,
// connected or waiting to reconnect) for idle.
func exitWhenIdle(ctx context.Context, cancel context.CancelFunc, m *core.Manager, idle time.Duration, log *slog.Logger) {
	tick := min(idle/4, time.Second)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(tick):
		}
		sts, _ := m.Status(ctx)
		for _, st := range sts {
			if st.State != core.StateIdle && st.State != core.StateFailed {
				last = time.Now()
			}
		}
		if time.Since(last) >= idle {
			log.Info("daemon: no session for a while; the session runner ends", "idle", idle)
			cancel()
			return
		}
	}
}
