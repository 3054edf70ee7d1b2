// Package profile holds what a Corridor user owns and edits, none of it
// privileged: profiles and their TOML form, the profile store, import and
// export (NetworkManager, Apple), and the keychain secrets. It imports
// nothing of core; core (the sessions) and core/daemon build on it.
package profile

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/ike"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// Profile is one VPN connection as the user configured it. It holds no
// secret: the pre-shared key, the password and the L2TP tunnel secret live
// in the OS keychain (see Secrets), keyed by the profile's name.
//
// The TOML keys are the file format (see Store, profile_toml.go); the JSON
// names are the same, for the local socket and the GUI, and are also the
// Field of a ValidationError.
type Profile struct {
	Name          string   `toml:"name" json:"name"`
	Server        string   `toml:"server" json:"server"` // host name or IPv4 address
	User          string   `toml:"user" json:"user"`
	IPsec         bool     `toml:"ipsec" json:"ipsec"`                 // default true for new profiles
	IKE           string   `toml:"ike,omitempty" json:"ike,omitempty"` // strongSwan notation list; "" = defaults
	ESP           string   `toml:"esp,omitempty" json:"esp,omitempty"`
	LegacyCrypto  bool     `toml:"legacy_crypto" json:"legacy_crypto"`
	Auth          []string `toml:"auth" json:"auth"` // "mschapv2","pap","chap","none", preferred first; default DefaultAuth
	MTU           int      `toml:"mtu" json:"mtu"`   // 0: automatic
	FullTunnel    bool     `toml:"full_tunnel" json:"full_tunnel"`
	Routes        []string `toml:"routes" json:"routes"` // CIDR prefixes for split tunnel
	ClassfulRoute bool     `toml:"classful_route" json:"classful_route"`
	DNS           string   `toml:"dns" json:"dns"` // "server" (default), "none", or "custom"
	DNSServers    []string `toml:"dns_servers" json:"dns_servers"`
	Domains       []string `toml:"domains" json:"domains"`
	Keepalive     Duration `toml:"keepalive" json:"keepalive"`       // LCP echo interval; 0 default (5s, 5 misses = dead)
	Reconnect     bool     `toml:"reconnect" json:"reconnect"`       // default true
	L2TPPort      int      `toml:"l2tp_port" json:"l2tp_port"`       // 0 ephemeral or 1701 (only without IPsec is a choice; with IPsec 1701 is used)
	L2TPSecret    bool     `toml:"l2tp_secret" json:"l2tp_secret"`   // a tunnel secret is stored in the keychain
	AskPassword   bool     `toml:"ask_password" json:"ask_password"` // the password is typed at each connect, never stored
	AskPSK        bool     `toml:"ask_psk" json:"ask_psk"`           // the pre-shared key is typed at each connect, never stored
	// Mode is how the tunnel reaches this machine's programs: ModeTUN (a
	// network device, routes and DNS, set up by the root helper) or
	// ModeProxy (no admin rights: a userspace network stack behind a
	// local SOCKS5/HTTP proxy on Proxy, run in the user's own process).
	Mode string `toml:"mode" json:"mode,omitempty"`
	// KillSwitch (full tunnel only): when the session drops by itself,
	// this machine's traffic stays blocked (but for the VPN server) until
	// it is back or the user disconnects.
	KillSwitch bool   `toml:"kill_switch" json:"kill_switch,omitempty"`
	Proxy      string `toml:"proxy" json:"proxy,omitempty"` // ModeProxy: the loopback ADDR:PORT the proxy listens on
	// IPv6 inside the tunnel (TUN mode only, experimental): IPV6CP is
	// negotiated next to IPCP, and the addresses, routes and DNS servers
	// the server offers over IPv6 are set up (core/ipv6.go).
	IPv6 bool `toml:"ipv6" json:"ipv6,omitempty"`

	// Aggressive (with IPsec) runs IKE Aggressive Mode instead of Main
	// Mode, with Group as the identity (see AggressiveWarning). GroupType
	// is how the name travels: GroupFQDN ("" too) or GroupKeyID.
	Aggressive bool   `toml:"aggressive" json:"aggressive,omitempty"`
	Group      string `toml:"group" json:"group,omitempty"`
	GroupType  string `toml:"group_type" json:"group_type,omitempty"`

	// Cert (with IPsec), when set, authenticates with a certificate
	// instead of the pre-shared key (IKE Main Mode with RSA signatures):
	// this computer's certificate in PEM, optionally followed by its
	// chain; its private key lives in the keychain (SecretCertKey). CA is
	// the PEM of the CAs that may sign the server's certificate ("": the
	// system's roots); ServerID the identity the server must prove ("":
	// the server as written). Certificates are public: they may sit in
	// the file.
	Cert     string `toml:"cert" json:"cert,omitempty"`
	CA       string `toml:"ca" json:"ca,omitempty"`
	ServerID string `toml:"server_id" json:"server_id,omitempty"`
}

// UsesCert reports whether p authenticates IPsec with a certificate
// (and so needs SecretCertKey instead of SecretPSK).
func (p *Profile) UsesCert() bool { return p.IPsec && p.Cert != "" }

// Group ID types of a profile (RFC 2407 4.6.2.1): how the group name of
// Aggressive Mode travels.
const (
	GroupFQDN  = "fqdn"  // ID_FQDN, the default
	GroupKeyID = "keyid" // ID_KEY_ID, as Cisco-style gateways expect
)

// AggressiveWarning is what the user is told about IKE Aggressive Mode.
const AggressiveWarning = "Aggressive Mode is less secure: anyone who knows the group name can ask the server for a hash of the pre-shared key and guess the key offline (RFC 2409 5, the ike-scan attack); use it only when the server requires it"

// Modes of a profile.
const (
	ModeTUN   = "tun"   // default: a TUN device through the root helper
	ModeProxy = "proxy" // a local SOCKS5/HTTP proxy, no admin rights
)

// DefaultProxy is where a proxy-mode profile's proxy listens by default.
const DefaultProxy = "127.0.0.1:1080"

// IsProxy reports whether p runs as a local proxy (ModeProxy).
func (p *Profile) IsProxy() bool { return p.Mode == ModeProxy }

// ProxyAddr is the address p's proxy listens on (DefaultProxy when unset).
func (p *Profile) ProxyAddr() string {
	if p.Proxy == "" {
		return DefaultProxy
	}
	return p.Proxy
}

// Asked lists the secrets p has typed at each connect instead of kept in
// the keychain (the PSK only with IPsec).
func (p *Profile) Asked() []SecretKind {
	var out []SecretKind
	if p.AskPassword {
		out = append(out, SecretPassword)
	}
	if p.AskPSK && p.IPsec {
		out = append(out, SecretPSK)
	}
	return out
}

// Asks reports whether p has the secret kind typed at each connect.
func (p *Profile) Asks(kind SecretKind) bool {
	switch kind {
	case SecretPassword:
		return p.AskPassword
	case SecretPSK:
		return p.AskPSK
	}
	return false
}

// DNS modes of a profile.
const (
	DNSFromServer = "server" // the addresses the server sends in IPCP (RFC 1877)
	DNSNone       = "none"   // leave the system's DNS alone
	DNSCustom     = "custom" // DNSServers
)

// DefaultAuth is the PPP authentication a new profile allows (and one
// whose file has no auth key): MS-CHAPv2 only. It proves that the server
// knows the password too. PAP would send the password readable to anyone
// holding the pre-shared key, CHAP-MD5 lets them try passwords offline,
// and "none" lets them pose as the server: a profile allows those only
// when it lists them.
var DefaultAuth = []string{"mschapv2"}

// PlainL2TPWarning is what the user is told about a connection without
// IPsec: nothing protects it (Corridor negotiates no PPP encryption).
const PlainL2TPWarning = "without IPsec, the password and all traffic cross the network unencrypted (PPP encryption is not negotiated): anyone on the path can read them"

// DefaultKeepalive is the LCP echo interval of a profile whose Keepalive
// is 0, and of corridor connect.
const DefaultKeepalive = 5 * time.Second

// DefaultKeepaliveFailures unanswered LCP echoes in a row end a session:
// with DefaultKeepalive a dead link is noticed within about 30 s (with
// IPsec, dead peer detection notices it first).
const DefaultKeepaliveFailures = 5

// DefaultL2TPPort is the L2TP UDP port (RFC 2661 8.1).
const DefaultL2TPPort = 1701

// MaxProfileName is the longest profile name, in bytes.
const MaxProfileName = 64

// Duration is a time.Duration written as "10s", "1m30s" in TOML and JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as time.Duration.String does ("10s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a time.ParseDuration string; "" is 0.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like \"10s\" or \"1m30s\")", s)
	}
	*d = Duration(v)
	return nil
}

// NewProfile returns a profile named name with every default filled in:
// IPsec on, default proposals, DefaultAuth (MS-CHAPv2 only), automatic MTU, full tunnel, DNS from the server,
// default keepalive, reconnect on, ephemeral L2TP source port, TUN mode
// (with DefaultProxy ready for proxy mode).
func NewProfile(name string) Profile {
	return Profile{
		Name:       name,
		IPsec:      true,
		Auth:       append([]string(nil), DefaultAuth...),
		FullTunnel: true,
		Routes:     []string{},
		DNS:        DNSFromServer,
		DNSServers: []string{},
		Domains:    []string{},
		Reconnect:  true,
		Mode:       ModeTUN,
		Proxy:      DefaultProxy,
	}
}

// ValidationError is a problem with one field of a profile. Field is the
// field's JSON (and TOML) name, so a GUI can show Msg next to it.
type ValidationError struct {
	Field string `json:"field"`
	Msg   string `json:"msg"`
}

func (e ValidationError) Error() string { return e.Field + ": " + e.Msg }

// ValidationErrors is every problem Validate found, in field order.
type ValidationErrors []ValidationError

func (es ValidationErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return "invalid profile: " + strings.Join(s, "; ")
}

// Unwrap gives errors.As access to each *ValidationError.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}

// For returns the message for field, or "" when the field is fine.
func (es ValidationErrors) For(field string) string {
	for _, e := range es {
		if e.Field == field {
			return e.Msg
		}
	}
	return ""
}

// Validate checks every field and returns nil or a ValidationErrors.
func (p *Profile) Validate() error {
	var es ValidationErrors
	bad := func(field, format string, args ...any) {
		es = append(es, ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if msg := checkProfileName(p.Name); msg != "" {
		bad("name", "%s", msg)
	}
	if msg := checkServer(p.Server); msg != "" {
		bad("server", "%s", msg)
	}
	switch {
	case p.User == "":
		bad("user", "enter the user name")
	case len(p.User) > 255:
		// PAP's Peer-ID and CHAP's Name travel with a one-octet length
		// (RFC 1334 2.2.1).
		bad("user", "too long (at most 255 bytes)")
	case !utf8.ValidString(p.User) || strings.IndexFunc(p.User, unicode.IsControl) >= 0:
		bad("user", "contains control characters or invalid UTF-8")
	}
	if p.IKE != "" {
		if _, err := ike.ParseIKE(p.IKE, p.LegacyCrypto); err != nil {
			bad("ike", "%s", proposalMsg(err))
		}
	}
	if p.ESP != "" {
		if _, err := ike.ParseESP(p.ESP, p.LegacyCrypto); err != nil {
			bad("esp", "%s", proposalMsg(err))
		}
	}
	if p.Aggressive {
		if !p.IPsec {
			bad("aggressive", "Aggressive Mode is a way of starting IPsec: turn IPsec on, or Aggressive Mode off")
		}
		if msg := checkGroup(p.Group); msg != "" {
			bad("group", "%s", msg)
		}
	}
	if _, err := ike.ParseGroupIDType(p.GroupType); err != nil {
		bad("group_type", "%v", err)
	}
	if p.Cert != "" {
		switch {
		case !p.IPsec:
			bad("cert", "a certificate authenticates IPsec: turn IPsec on, or remove the certificate")
		case p.Aggressive:
			bad("cert", "certificates work with Main Mode only: turn Aggressive Mode off")
		}
		if _, err := ParseCertsPEM([]byte(p.Cert)); err != nil {
			bad("cert", "%v", err)
		}
	}
	if p.CA != "" {
		if _, err := ParseCertsPEM([]byte(p.CA)); err != nil {
			bad("ca", "%v", err)
		}
	}
	if p.Cert == "" && (p.CA != "" || p.ServerID != "") {
		bad("cert", "the CA and the server identity go with a certificate")
	}
	if strings.IndexFunc(p.ServerID, unicode.IsControl) >= 0 || len(p.ServerID) > 1024 {
		bad("server_id", "contains control characters or is too long")
	}
	if len(p.Auth) == 0 {
		bad("auth", "allow at least one authentication method (mschapv2, pap, chap, none)")
	} else if _, err := ppp.ParseAuthMethods(strings.Join(p.Auth, ",")); err != nil {
		bad("auth", "%v", err)
	}
	if p.MTU != 0 && (p.MTU < 576 || p.MTU > 1500) {
		bad("mtu", "must be 0 (automatic) or between 576 and 1500")
	}
	for _, r := range p.Routes {
		if msg := checkRoute(r); msg != "" {
			bad("routes", "%s", msg)
		}
	}
	switch p.Mode {
	case "", ModeTUN, ModeProxy:
	default:
		bad("mode", "%q is not a mode (tun or proxy)", p.Mode)
	}
	if p.Proxy != "" || p.IsProxy() {
		if msg := checkProxy(p.ProxyAddr()); msg != "" {
			bad("proxy", "%s", msg)
		}
	}
	if p.KillSwitch && (!p.FullTunnel || p.IsProxy()) {
		bad("kill_switch", "the kill switch needs a full tunnel (all traffic through the VPN) in TUN mode")
	}
	// A proxy-mode profile sets no route: what goes through the VPN is
	// what programs send to the proxy.
	if !p.IsProxy() && !p.FullTunnel && len(p.Routes) == 0 && !p.ClassfulRoute {
		bad("routes", "a split tunnel needs at least one route (or the classful route); otherwise nothing goes through the VPN")
	}
	switch p.DNS {
	case DNSFromServer, DNSNone:
	case DNSCustom:
		if len(p.DNSServers) == 0 {
			bad("dns_servers", "custom DNS needs at least one server address")
		}
	case "":
		bad("dns", "choose where DNS comes from: server, none or custom")
	default:
		bad("dns", "%q is not a DNS mode (server, none or custom)", p.DNS)
	}
	if p.IPv6 && p.IsProxy() {
		bad("ipv6", "IPv6 inside the tunnel needs TUN mode: the proxy's network stack carries IPv4 only")
	}
	for _, s := range p.DNSServers {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.Is6() && a.IsLinkLocalUnicast():
			bad("dns_servers", "%q is not an IPv4 or IPv6 address of a DNS server", s)
		case a.Is6() && !a.Is4In6() && !p.IPv6:
			bad("dns_servers", "%q is an IPv6 address: it needs IPv6 inside the tunnel (ipv6 = true)", s)
		}
	}
	for _, d := range p.Domains {
		if !validHostName(strings.TrimSuffix(d, ".")) {
			bad("domains", "%q is not a domain name", d)
		}
	}
	switch k := time.Duration(p.Keepalive); {
	case k == 0:
	case k < time.Second:
		bad("keepalive", "must be 0 (default, %v) or at least 1s", DefaultKeepalive)
	case k > time.Hour:
		bad("keepalive", "must be at most 1h")
	}
	switch {
	case p.L2TPPort < 0 || p.L2TPPort > 65535:
		bad("l2tp_port", "must be 0 (any free port) or a port number 1..65535")
	case p.IPsec && p.L2TPPort != 0 && p.L2TPPort != DefaultL2TPPort:
		bad("l2tp_port", "with IPsec the L2TP source port is always %d: set 0 or %d", DefaultL2TPPort, DefaultL2TPPort)
	}
	if len(es) == 0 {
		return nil
	}
	return es
}

// checkGroup checks the group name of Aggressive Mode: the data of an
// ID payload (RFC 2407 4.6.2), here at most 255 bytes of printable UTF-8.
func checkGroup(g string) string {
	switch {
	case g == "":
		return "enter the group name your administrator gave: Aggressive Mode sends it as this computer's identity"
	case len(g) > 255:
		return "too long (at most 255 bytes)"
	case !utf8.ValidString(g) || strings.IndexFunc(g, unicode.IsControl) >= 0:
		return "contains control characters or invalid UTF-8"
	case strings.TrimSpace(g) != g:
		return "starts or ends with a space"
	}
	return ""
}

// checkProxy checks a profile's proxy address: a loopback ADDR:PORT. The
// proxy asks for no password, so a saved profile never listens where
// other computers can reach it (corridor connect --proxy-allow-remote is
// the one-off way to do that).
func checkProxy(s string) string {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not ADDR:PORT (e.g. %s)", s, DefaultProxy)
	}
	if ap.Port() == 0 {
		return "the port must be 1..65535"
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Sprintf("%v is not a loopback address: the proxy asks for no password, so it listens only on this computer (127.0.0.1 or ::1)", ap.Addr())
	}
	return ""
}

func proposalMsg(err error) string {
	s := err.Error()
	if strings.Contains(s, ike.ErrLegacy.Error()) {
		return s + " (legacy_crypto)"
	}
	return s
}

// checkProfileName returns what is wrong with a profile name, or "". Names
// are file names on every OS, so they keep to a portable set.
func checkProfileName(name string) string {
	switch {
	case name == "":
		return "enter a name"
	case len(name) > MaxProfileName:
		return fmt.Sprintf("too long (at most %d characters)", MaxProfileName)
	}
	for _, r := range name {
		if !nameRune(r) {
			return fmt.Sprintf("%q is not allowed in a name: use letters A-Z, digits, space and . _ - ( )", r)
		}
	}
	switch {
	case name[0] == '.' || name[0] == ' ':
		return "must not start with a dot or a space"
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return "must not end with a dot or a space"
	}
	base, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch strings.TrimSpace(base) {
	case "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return "is a reserved device name on Windows"
	}
	return ""
}

func nameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune(" ._-()", r)
}

// checkServer accepts a host name or an IPv4 address, nothing around it.
func checkServer(s string) string {
	switch {
	case s == "":
		return "enter the server's host name or IPv4 address"
	case strings.Contains(s, "://"):
		return "write only the host name or address, without a scheme such as https://"
	case strings.ContainsAny(s, " \t"):
		return "must not contain spaces"
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if a.Unmap().Is4() && !strings.Contains(s, ":") {
			return ""
		}
		return "IPv6 servers are not supported yet: use an IPv4 address or a host name"
	}
	if strings.Contains(s, ":") {
		return "write the server without a port: with IPsec the ports are 500/4500, and L2TP uses 1701"
	}
	if strings.Contains(s, "/") {
		return "write only the host name or address, without a path"
	}
	if !validHostName(strings.TrimSuffix(s, ".")) {
		return fmt.Sprintf("%q is neither an IPv4 address nor a host name", s)
	}
	if looksNumeric(s) {
		return fmt.Sprintf("%q is not a valid IPv4 address", s)
	}
	return ""
}

// validHostName checks the syntax of a DNS name (RFC 1123 2.1, with "_"
// tolerated as internal zones use it): labels of letters, digits, '-'
// and '_', 1..63 bytes, 253 in all.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// looksNumeric reports a dotted string of digits only: a mistyped address
// such as 10.0.0.300, not a host name.
func looksNumeric(s string) bool {
	return strings.Trim(s, "0123456789.") == ""
}

func checkRoute(r string) string {
	pfx, err := netip.ParsePrefix(strings.TrimSpace(r))
	if err != nil {
		if a, err := netip.ParseAddr(r); err == nil && a.Is4() {
			return fmt.Sprintf("%q needs a prefix length: %s/32 for one host", r, r)
		}
		return fmt.Sprintf("%q is not an IPv4 prefix such as 10.0.0.0/8", r)
	}
	if !pfx.Addr().Is4() {
		return fmt.Sprintf("%q: only IPv4 routes are supported", r)
	}
	if pfx != pfx.Masked() {
		return fmt.Sprintf("%q has host bits set: did you mean %v?", r, pfx.Masked())
	}
	return ""
}

// EffectiveKeepalive is the LCP echo interval to use.
func (p *Profile) EffectiveKeepalive() time.Duration {
	if p.Keepalive == 0 {
		return DefaultKeepalive
	}
	return time.Duration(p.Keepalive)
}

// TunnelMTU is the MTU for the tunnel device: the profile's MTU when set,
// else AutoMTU for a link of linkMTU bytes with the negotiated ESP suite
// (ignored without IPsec; the zero ESPSuite means "not negotiated yet"
// and assumes the largest overhead of any suite Corridor offers). The
// caller still bounds it by the MRU the server announces.
func (p *Profile) TunnelMTU(linkMTU int, suite ike.ESPSuite) int {
	if p.MTU != 0 {
		return p.MTU
	}
	return AutoMTU(linkMTU, p.IPsec, suite)
}

// AutoMTU is the largest IPv4 packet the tunnel carries on a link of
// linkMTU bytes without fragmenting the outer packet.
//
// Raw L2TP: IPv4 20 + UDP 8 + L2TP data header + PPP header.
// L2TP/IPsec (UDP-encapsulated ESP transport mode, RFC 3948): IPv4 20 +
// UDP 8 + ESP header and IV, then the encrypted inner UDP 8 + L2TP + PPP
// + payload + 2 trailer bytes padded to the cipher's alignment
// (RFC 4303 2.4), then the ICV. The padding makes the overhead depend on
// the payload size, so the answer is exact rather than the worst case.
func AutoMTU(linkMTU int, ipsec bool, suite ike.ESPSuite) int {
	inner := l2tp.DataHeaderLen + ppp.FrameHeaderLen
	if !ipsec {
		return linkMTU - 20 - 8 - inner
	}
	if suite.Suite == 0 {
		best := linkMTU
		for _, s := range append(append([]ike.ESPSuite(nil), ike.DefaultESP...), ike.LegacyESP...) {
			best = min(best, AutoMTU(linkMTU, true, s))
		}
		return best
	}
	head, maxTail := suite.Suite.Overhead()
	align := espAlign(suite.Suite)
	icv := maxTail - (align - 1) - 2
	avail := linkMTU - 20 - 8 - head - icv
	return avail/align*align - 2 - 8 - inner
}

// espAlign is the alignment of ESP's encrypted part: the cipher's block
// size for CBC (RFC 3602 2.4: 16 for AES, RFC 2451: 8 for 3DES), 4 for
// AES-GCM (RFC 4106 3: ESP's own 4-byte alignment).
func espAlign(s esp.Suite) int {
	switch s {
	case esp.AESGCM16:
		return 4
	case esp.TDESCBC_HMACSHA1, esp.TDESCBC_HMACMD5:
		return 8
	}
	return 16
}
