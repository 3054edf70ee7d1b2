package profile

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// The profile file format: TOML (https://toml.io), one profile per file,
// every key at the top level. profileHeader is written at the top of every
// file and is the format's user-facing documentation; each key is preceded
// by a comment that says what it means.

const profileHeader = `# Corridor VPN profile.
#
# Format: TOML (https://toml.io), one profile per file in the "profiles"
# folder of Corridor's configuration folder. The file name (without .toml)
# is the profile's name. Keys left out take their defaults; strings are in
# double quotes; durations are strings such as "10s" or "1m30s".
# Corridor rewrites this file when the profile is saved from the app, so
# comments you add are not kept.
#
# No secret is ever stored here: the IPsec pre-shared key, the password and
# the L2TP tunnel secret live in the OS keychain (service "corridor",
# accounts "<profile>/psk", "<profile>/password", "<profile>/l2tp-secret"),
# or, with ask_password / ask_psk, nowhere: they are typed at each connect.
`

const exportHeader = `# Corridor VPN profile, exported.
#
# Secrets are NOT included: the IPsec pre-shared key, the password and the
# L2TP tunnel secret stay in the keychain of the machine it came from.
# Import this file in Corridor (corridor import FILE, or Import in the app)
# and enter them there. Format: TOML (https://toml.io), documented below.
`

// profileKey describes one key of the file: its comment, how to write it
// and how to read it.
type profileKey struct {
	name    string
	comment string
	get     func(p *Profile) any // string, bool, int or []string
	set     func(p *Profile, v any) error
}

var profileKeys = []profileKey{
	{"name", "Profile name (informational: the file name is what counts).",
		func(p *Profile) any { return p.Name }, setString(func(p *Profile) *string { return &p.Name })},
	{"server", "Server host name or IPv4 address, without scheme or port.",
		func(p *Profile) any { return p.Server }, setString(func(p *Profile) *string { return &p.Server })},
	{"user", `User name for PPP authentication (some servers want DOMAIN\user or user@hub).`,
		func(p *Profile) any { return p.User }, setString(func(p *Profile) *string { return &p.User })},
	{"ipsec", "true: L2TP inside IPsec with a pre-shared key (L2TP/IPsec). false: plain L2TP, NOT encrypted.",
		func(p *Profile) any { return p.IPsec }, setBool(func(p *Profile) *bool { return &p.IPsec })},
	{"ike", "IPsec phase 1 proposals, strongSwan notation, comma-separated, preferred first;\n\"\" offers Corridor's defaults. Example: \"aes256-sha256-modp2048,aes128-sha1-modp2048\".",
		func(p *Profile) any { return p.IKE }, setString(func(p *Profile) *string { return &p.IKE })},
	{"esp", "IPsec phase 2 (ESP) proposals, same notation; \"\" offers the defaults.\nExample: \"aes128gcm16,aes256-sha1,aes128-sha1\".",
		func(p *Profile) any { return p.ESP }, setString(func(p *Profile) *string { return &p.ESP })},
	{"legacy_crypto", "true also allows weak algorithms old servers need (3DES, MD5, MODP1024/1536).",
		func(p *Profile) any { return p.LegacyCrypto }, setBool(func(p *Profile) *bool { return &p.LegacyCrypto })},
	{"aggressive", "true: IKE Aggressive Mode with the group name below as this computer's identity, for\ngateways that want it (Cisco-, Fortinet-, SonicWall-style). LESS SECURE: anyone who knows\nthe group name can ask the server for a hash of the pre-shared key and guess the key\noffline (RFC 2409 5). false: Main Mode.",
		func(p *Profile) any { return p.Aggressive }, setBool(func(p *Profile) *bool { return &p.Aggressive })},
	{"group", "Group name, sent as the IKE identity when aggressive = true.",
		func(p *Profile) any { return p.Group }, setString(func(p *Profile) *string { return &p.Group })},
	{"group_type", "How the group name is sent: \"fqdn\" (\"\" too) as an FQDN identity, \"keyid\" as a KEY_ID\n(what Cisco-style gateways expect).",
		func(p *Profile) any { return p.GroupType }, setString(func(p *Profile) *string { return &p.GroupType })},
	{"cert", "This computer's certificate (PEM, optionally followed by its chain): IPsec then authenticates\nwith it instead of the pre-shared key (Main Mode, RSA signatures); its private key is in\nthe keychain (account \"<profile>/cert-key\"). \"\": the pre-shared key.",
		func(p *Profile) any { return p.Cert }, setString(func(p *Profile) *string { return &p.Cert })},
	{"ca", "With cert: the CA certificates (PEM) that may sign the server's certificate; \"\": the system's.",
		func(p *Profile) any { return p.CA }, setString(func(p *Profile) *string { return &p.CA })},
	{"server_id", "With cert: the identity the server's certificate must prove: a DN such as\n\"CN=vpn.example.com\", a host name or an address; \"\": the server above.",
		func(p *Profile) any { return p.ServerID }, setString(func(p *Profile) *string { return &p.ServerID })},
	{"auth", "PPP authentication methods allowed, preferred first: \"mschapv2\", \"pap\", \"chap\", \"none\";\nleft out: [\"mschapv2\"]. \"pap\" sends the password readable to anyone holding the\npre-shared key; \"none\" lets anyone holding it pose as the server.",
		func(p *Profile) any { return p.Auth }, setStrings(func(p *Profile) *[]string { return &p.Auth })},
	{"mtu", "Tunnel MTU: 0 computes it from the link MTU and the IPsec/L2TP/PPP overhead; else 576..1500.",
		func(p *Profile) any { return p.MTU }, setInt(func(p *Profile) *int { return &p.MTU })},
	{"full_tunnel", "true: all traffic goes through the VPN. false: only the routes below (split tunnel).",
		func(p *Profile) any { return p.FullTunnel }, setBool(func(p *Profile) *bool { return &p.FullTunnel })},
	{"routes", "IPv4 prefixes sent through the VPN, e.g. [\"10.0.0.0/8\", \"192.168.50.0/24\"].",
		func(p *Profile) any { return p.Routes }, setStrings(func(p *Profile) *[]string { return &p.Routes })},
	{"classful_route", "true also routes the classful network of the address the server assigns (as Windows does).",
		func(p *Profile) any { return p.ClassfulRoute }, setBool(func(p *Profile) *bool { return &p.ClassfulRoute })},
	{"dns", "DNS: \"server\" uses the servers the VPN announces, \"none\" leaves DNS alone,\n\"custom\" uses dns_servers.",
		func(p *Profile) any { return p.DNS }, setString(func(p *Profile) *string { return &p.DNS })},
	{"dns_servers", "Addresses of the DNS servers for dns = \"custom\" (IPv6 ones need ipv6 = true).",
		func(p *Profile) any { return p.DNSServers }, setStrings(func(p *Profile) *[]string { return &p.DNSServers })},
	{"domains", "Search domains resolved through the VPN's DNS, e.g. [\"corp.example.com\"].",
		func(p *Profile) any { return p.Domains }, setStrings(func(p *Profile) *[]string { return &p.Domains })},
	{"keepalive", "Interval of PPP keepalives (LCP echo); \"0s\" uses the default, 5s (five missed = the link is dead).",
		func(p *Profile) any { return p.Keepalive.String() }, setDuration(func(p *Profile) *Duration { return &p.Keepalive })},
	{"reconnect", "true: reconnect by itself when the connection drops.",
		func(p *Profile) any { return p.Reconnect }, setBool(func(p *Profile) *bool { return &p.Reconnect })},
	{"l2tp_port", "L2TP source port: 0 picks a free one, 1701 is the standard port.\nWith IPsec, 1701 is always used.",
		func(p *Profile) any { return p.L2TPPort }, setInt(func(p *Profile) *int { return &p.L2TPPort })},
	{"l2tp_secret", "true: authenticate the L2TP tunnel with a secret kept in the keychain (rarely needed).",
		func(p *Profile) any { return p.L2TPSecret }, setBool(func(p *Profile) *bool { return &p.L2TPSecret })},
	{"ask_password", "true: ask for the password at every connect instead of keeping it in the keychain.",
		func(p *Profile) any { return p.AskPassword }, setBool(func(p *Profile) *bool { return &p.AskPassword })},
	{"ask_psk", "true: ask for the IPsec pre-shared key at every connect instead of keeping it in the keychain.",
		func(p *Profile) any { return p.AskPSK }, setBool(func(p *Profile) *bool { return &p.AskPSK })},
	{"kill_switch", "true (full tunnel only): when the connection drops by itself, block all traffic but the VPN\nserver's until it is back or you disconnect, so nothing leaves unprotected.",
		func(p *Profile) any { return p.KillSwitch }, setBool(func(p *Profile) *bool { return &p.KillSwitch })},
	{"ipv6", "true (experimental, TUN mode only): IPv6 inside the tunnel. The addresses, routes and DNS servers\nthe server offers over IPv6 are set up; a full tunnel sends all IPv6 through the VPN when the\nserver offers a default route, and blocks IPv6 outside it otherwise.",
		func(p *Profile) any { return p.IPv6 }, setBool(func(p *Profile) *bool { return &p.IPv6 })},
	{"mode", "\"tun\": a network device with routes and DNS, set up by the Corridor helper (needs it\ninstalled). \"proxy\": no admin rights; programs reach the VPN through a local SOCKS5/HTTP\nproxy on the address below (routes, full_tunnel and DNS settings then do not apply).",
		func(p *Profile) any { return p.Mode }, setString(func(p *Profile) *string { return &p.Mode })},
	{"proxy", "Where the proxy of mode = \"proxy\" listens: a loopback ADDR:PORT.",
		func(p *Profile) any { return p.Proxy }, setString(func(p *Profile) *string { return &p.Proxy })},
}

func setString(f func(*Profile) *string) func(*Profile, any) error {
	return func(p *Profile, v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string in double quotes, not %s", tomlTypeName(v))
		}
		*f(p) = s
		return nil
	}
}

func setBool(f func(*Profile) *bool) func(*Profile, any) error {
	return func(p *Profile, v any) error {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, not %s", tomlTypeName(v))
		}
		*f(p) = b
		return nil
	}
}

func setInt(f func(*Profile) *int) func(*Profile, any) error {
	return func(p *Profile, v any) error {
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want a whole number, not %s", tomlTypeName(v))
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("%d is out of range", n)
		}
		*f(p) = int(n)
		return nil
	}
}

func setStrings(f func(*Profile) *[]string) func(*Profile, any) error {
	return func(p *Profile, v any) error {
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want a list of strings such as [\"a\", \"b\"], not %s", tomlTypeName(v))
		}
		out := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a list of strings, but an element is %s", tomlTypeName(e))
			}
			out = append(out, s)
		}
		*f(p) = out
		return nil
	}
}

func setDuration(f func(*Profile) *Duration) func(*Profile, any) error {
	return func(p *Profile, v any) error {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a duration string such as \"10s\", not %s", tomlTypeName(v))
		}
		return f(p).UnmarshalText([]byte(s))
	}
}

func tomlTypeName(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "a number"
	case float64:
		return "a decimal number"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// encodeProfile writes p as a documented TOML file under header.
func encodeProfile(p Profile, header string) []byte {
	var b strings.Builder
	b.WriteString(header)
	for _, k := range profileKeys {
		b.WriteString("\n")
		for _, line := range strings.Split(k.comment, "\n") {
			b.WriteString("# " + line + "\n")
		}
		b.WriteString(k.name + " = ")
		switch v := k.get(&p).(type) {
		case string:
			b.WriteString(tomlQuote(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case int:
			b.WriteString(strconv.Itoa(v))
		case []string:
			b.WriteString("[")
			for i, s := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(tomlQuote(s))
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// tomlQuote writes s as a TOML basic string (TOML 1.0 "String"): quote,
// backslash and control characters escaped, everything else as is.
// Invalid UTF-8 cannot be written in TOML; it becomes U+FFFD.
func tomlQuote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// LineError is a problem at one line of a file (Line 0: the file as a
// whole). Key is the TOML key concerned, if any.
type LineError struct {
	Line int
	Key  string
	Err  error
}

func (e *LineError) Error() string {
	s := e.Err.Error()
	if e.Key != "" {
		s = e.Key + ": " + s
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, s)
	}
	return s
}

func (e *LineError) Unwrap() error { return e.Err }

// errUnknownKey marks a key this version does not know: reported, but the
// profile is still usable.
var errUnknownKey = errors.New("unknown key (ignored)")

// decodeProfile reads a profile file over the defaults of NewProfile(name).
// A profile file's name is its profile's name: with fromFile, name wins
// over the name key; else name is only the default. fatal lists what makes the file unusable (syntax, wrong types, invalid
// values: then the Profile is not to be used); warnings lists what was
// ignored. Every error is a *LineError.
func decodeProfile(data []byte, name string, fromFile bool) (p Profile, fatal, warnings []error) {
	p = NewProfile(name)
	if !utf8.Valid(data) {
		return p, []error{&LineError{Line: firstInvalidUTF8Line(data), Err: errors.New("the file is not valid UTF-8 text")}}, nil
	}
	text := string(data)
	var m map[string]any
	if _, err := toml.Decode(text, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return p, []error{&LineError{Line: pe.Position.Line, Err: errors.New(pe.Message)}}, nil
		}
		return p, []error{&LineError{Err: err}}, nil
	}
	known := make(map[string]bool, len(profileKeys))
	for _, k := range profileKeys {
		known[k.name] = true
		v, ok := m[k.name]
		if !ok {
			continue
		}
		if err := k.set(&p, v); err != nil {
			fatal = append(fatal, &LineError{Line: keyLine(text, k.name), Key: k.name, Err: err})
		}
	}
	for key := range m {
		if !known[key] {
			warnings = append(warnings, &LineError{Line: keyLine(text, key), Key: key, Err: errUnknownKey})
		}
	}
	if fromFile && p.Name != name {
		warnings = append(warnings, &LineError{Line: keyLine(text, "name"), Key: "name",
			Err: fmt.Errorf("the file name makes this profile %q; the name %q here is ignored", name, p.Name)})
		p.Name = name
	}
	sortLineErrors(warnings)
	if len(fatal) > 0 {
		return p, fatal, warnings
	}
	if err := p.Validate(); err != nil {
		for _, ve := range err.(ValidationErrors) {
			fatal = append(fatal, &LineError{Line: keyLine(text, ve.Field), Key: ve.Field, Err: errors.New(ve.Msg)})
		}
	}
	return p, fatal, warnings
}

// keyLine finds the line where key is set at the top level, or 0: a line
// that starts with the key (bare or quoted) and '=', or a '.' of a dotted
// key, or a [key] / [[key]] table header.
func keyLine(text, key string) int {
	k := `(` + regexp.QuoteMeta(key) + `|"` + regexp.QuoteMeta(key) + `"|'` + regexp.QuoteMeta(key) + `')`
	re := regexp.MustCompile(`^[ \t]*(` + k + `[ \t]*[=.]|\[\[?[ \t]*` + k + `[ \t]*[\].])`)
	for i, line := range strings.Split(text, "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

func firstInvalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n == 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[n:]
	}
	return 0
}

func sortLineErrors(es []error) {
	line := func(e error) int {
		var le *LineError
		if errors.As(e, &le) {
			return le.Line
		}
		return 0
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && line(es[j]) < line(es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}
