package profile

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A GLib key file (the syntax of NetworkManager's .nmconnection files,
// GLib's "Desktop Entry"-like format): "[group]" lines, "key=value" lines,
// "#" comments. Values are strings with the escapes \s \n \t \r \\; lists
// are values separated by ';', with \; for a literal ';'. Keys with a
// locale, key[de]=..., are other-language variants and are skipped.

type keyFile struct {
	groups map[string]map[string]kfValue
}

type kfValue struct {
	raw  string
	line int
}

// parseKeyFile reads the syntax. Like GLib, a later key of the same name
// in a group wins, and a group that appears twice is merged.
func parseKeyFile(data []byte) (*keyFile, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("line %d: not valid UTF-8 text", firstInvalidUTF8Line(data))
	}
	kf := &keyFile{groups: map[string]map[string]kfValue{}}
	var group map[string]kfValue
	text := strings.TrimPrefix(string(data), "\ufeff")
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "" || trimmed[0] == '#':
			continue
		case trimmed[0] == '[':
			end := strings.IndexByte(trimmed, ']')
			if end < 0 || strings.TrimRight(trimmed[end+1:], " \t") != "" {
				return nil, fmt.Errorf("line %d: a group header must be [name]", n)
			}
			name := trimmed[1:end]
			if name == "" || strings.ContainsAny(name, "[]") {
				return nil, fmt.Errorf("line %d: invalid group name %q", n, name)
			}
			if kf.groups[name] == nil {
				kf.groups[name] = map[string]kfValue{}
			}
			group = kf.groups[name]
		default:
			eq := strings.IndexByte(trimmed, '=')
			if eq < 0 {
				return nil, fmt.Errorf("line %d: neither [group], key=value nor # comment", n)
			}
			key := strings.TrimRight(trimmed[:eq], " \t")
			if key == "" {
				return nil, fmt.Errorf("line %d: a key is missing before '='", n)
			}
			if group == nil {
				return nil, fmt.Errorf("line %d: key %q comes before any [group]", n, key)
			}
			if strings.HasSuffix(key, "]") && strings.Contains(key, "[") {
				continue // a translation
			}
			group[key] = kfValue{raw: strings.TrimLeft(trimmed[eq+1:], " \t"), line: n}
		}
	}
	return kf, nil
}

func (kf *keyFile) has(group, key string) bool {
	_, ok := kf.groups[group][key]
	return ok
}

// str returns the unescaped string value ("" when absent).
func (kf *keyFile) str(group, key string) (string, error) {
	v, ok := kf.groups[group][key]
	if !ok {
		return "", nil
	}
	s, err := kfUnescape(v.raw, false)
	if err != nil {
		return "", fmt.Errorf("line %d: %s: %w", v.line, key, err)
	}
	return s, nil
}

// list returns the unescaped elements of a ';'-separated list value.
func (kf *keyFile) list(group, key string) ([]string, error) {
	v, ok := kf.groups[group][key]
	if !ok {
		return nil, nil
	}
	var out []string
	var cur strings.Builder
	raw := v.raw
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\\' && i+1 < len(raw):
			cur.WriteByte(c)
			cur.WriteByte(raw[i+1])
			i++
		case c == ';':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String()) // GLib: a trailing ';' ends the list
	}
	for i, e := range out {
		s, err := kfUnescape(e, true)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", v.line, key, err)
		}
		out[i] = s
	}
	return out, nil
}

// boolean reads a GLib boolean (true/false, 1/0) or an NM VPN data flag
// (yes/no); absent is def.
func (kf *keyFile) boolean(group, key string, def bool) (bool, error) {
	v, ok := kf.groups[group][key]
	if !ok {
		return def, nil
	}
	s, err := kfUnescape(v.raw, false)
	if err != nil {
		return def, fmt.Errorf("line %d: %s: %w", v.line, key, err)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off", "":
		return false, nil
	}
	return def, fmt.Errorf("line %d: %s: %q is not yes/no or true/false", v.line, key, s)
}

// integer reads a whole number; absent is 0, ok false.
func (kf *keyFile) integer(group, key string) (int, bool, error) {
	v, ok := kf.groups[group][key]
	if !ok {
		return 0, false, nil
	}
	s, err := kfUnescape(v.raw, false)
	if err != nil {
		return 0, false, fmt.Errorf("line %d: %s: %w", v.line, key, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, false, fmt.Errorf("line %d: %s: %q is not a whole number", v.line, key, s)
	}
	return n, true, nil
}

// kfUnescape undoes GLib's escapes: \s space, \n newline, \t tab, \r
// carriage return, \\ backslash, and in a list element \; semicolon. Any
// other escape is an error, as in GLib.
func kfUnescape(s string, inList bool) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", errors.New(`the value ends with a lone backslash (write \\ for a backslash)`)
		}
		i++
		switch s[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		case ';':
			if !inList {
				return "", errors.New(`invalid escape \; outside a list`)
			}
			b.WriteByte(';')
		default:
			return "", fmt.Errorf(`invalid escape \%c (GLib knows \s \n \t \r \\ and \; in lists)`, s[i])
		}
	}
	return b.String(), nil
}

// NMServiceL2TP is the VPN service type of NetworkManager-l2tp.
const NMServiceL2TP = "org.freedesktop.NetworkManager.l2tp"

// nmAuth are the methods a NetworkManager L2TP connection can refuse
// (refuse-METHOD) that Corridor supports, in Corridor's order of preference.
var nmAuth = []string{"mschapv2", "pap", "chap"}

// ImportNMConnection reads a NetworkManager-l2tp connection (a keyfile
// from /etc/NetworkManager/system-connections/NAME.nmconnection, or what
// `nmcli connection export` writes): [connection] id; [vpn] gateway, user,
// domain, ipsec-enabled, machine-auth-type (psk, or tls: see nmCert),
// ipsec-ike/ike, ipsec-esp/esp, refuse-*, mtu,
// lcp-echo-interval, ephemeral-port; [vpn-secrets] password and ipsec-psk
// (an ipsec-psk in [vpn], as older versions wrote it, too; "0s" + base64
// as NetworkManager-l2tp encodes it); [ipv4] never-default, routes,
// route1..., dns, ignore-auto-dns, dns-search. The secrets come back in
// Imported.Secrets, never in the Profile.
func ImportNMConnection(data []byte) (Imported, error) {
	kf, err := parseKeyFile(data)
	if err != nil {
		return Imported{}, fmt.Errorf("not a valid NetworkManager keyfile: %w", err)
	}
	im := Imported{Secrets: map[SecretKind]string{}}
	var errs []error
	str := func(g, k string) string {
		s, err := kf.str(g, k)
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	flag := func(g, k string, def bool) bool {
		b, err := kf.boolean(g, k, def)
		if err != nil {
			errs = append(errs, err)
		}
		return b
	}
	list := func(g, k string) []string {
		l, err := kf.list(g, k)
		if err != nil {
			errs = append(errs, err)
		}
		return l
	}
	warn := func(format string, args ...any) { im.Warnings = append(im.Warnings, fmt.Sprintf(format, args...)) }

	if kf.groups["connection"] == nil || kf.groups["vpn"] == nil {
		return Imported{}, errors.New("not a NetworkManager VPN connection: no [connection] and [vpn] groups")
	}
	if t := str("connection", "type"); t != "" && t != "vpn" {
		return Imported{}, fmt.Errorf("not a NetworkManager VPN connection (type=%s)", t)
	}
	if st := str("vpn", "service-type"); st != NMServiceL2TP {
		if st == "" {
			st = "none"
		}
		return Imported{}, fmt.Errorf("not a NetworkManager-l2tp connection (service-type %s, want %s)", st, NMServiceL2TP)
	}
	id := str("connection", "id")
	p := NewProfile(sanitizeProfileName(id))
	if p.Name == "" {
		p.Name = "Imported VPN"
	}
	if p.Name != id && id != "" {
		warn("renamed %q to %q: profile names use letters A-Z, digits, space and . _ - ( )", id, p.Name)
	}

	// [vpn]
	p.Server = strings.TrimSpace(str("vpn", "gateway"))
	p.User = str("vpn", "user")
	if d := str("vpn", "domain"); d != "" && p.User != "" && !strings.ContainsAny(p.User, `\@`) {
		p.User = d + `\` + p.User
	}
	if t := str("vpn", "user-auth-type"); t != "" && t != "password" {
		return Imported{}, fmt.Errorf("this connection authenticates the user with %q; Corridor supports only a user name and password", t)
	}
	p.IPsec = flag("vpn", "ipsec-enabled", false)
	var cert *ImportedCert
	if p.IPsec {
		switch t := str("vpn", "machine-auth-type"); t {
		case "", "psk":
		case "tls":
			cert = nmCert(str)
		default:
			return Imported{}, fmt.Errorf("this connection authenticates IPsec with %q; Corridor supports a pre-shared key (psk) or a certificate (tls)", t)
		}
	}
	for _, keys := range [][2]string{{"ipsec-ike", "ike"}, {"ipsec-esp", "esp"}} {
		key := keys[0]
		if !kf.has("vpn", key) {
			key = keys[1]
		}
		v := strings.TrimSpace(str("vpn", key))
		if v == "" {
			continue
		}
		list, legacy, w := importProposals(v, keys[1] == "ike")
		im.Warnings = append(im.Warnings, w...)
		if legacy {
			p.LegacyCrypto = true
		}
		if keys[1] == "ike" {
			p.IKE = list
		} else {
			p.ESP = list
		}
	}
	// NetworkManager allows every method its file does not refuse. A file
	// that refuses none of MS-CHAPv2, PAP and CHAP made no choice: it gets
	// Corridor's safe default. One that refuses some keeps the others, as
	// it chose.
	var auth []string
	chose := false
	for _, m := range nmAuth {
		if flag("vpn", "refuse-"+m, false) {
			chose = true
		} else {
			auth = append(auth, m)
		}
	}
	if len(auth) == 0 {
		return Imported{}, errors.New("this connection refuses MS-CHAPv2, PAP and CHAP, leaving only methods Corridor does not support (EAP, MS-CHAP v1)")
	}
	if !chose {
		auth = append([]string(nil), DefaultAuth...)
	}
	p.Auth = auth
	if !p.IPsec {
		warn("%s", PlainL2TPWarning)
	}
	if flag("vpn", "require-mppe", false) || flag("vpn", "require-mppe-128", false) || flag("vpn", "require-mppe-40", false) {
		warn("MPPE encryption inside PPP is not supported and was left out (IPsec encrypts the tunnel)")
	}
	if n, ok, err := kf.integer("vpn", "mtu"); err != nil {
		errs = append(errs, err)
	} else if ok {
		if n >= 576 && n <= 1500 {
			p.MTU = n
		} else {
			warn("MTU %d is outside 576..1500: the MTU is computed automatically instead", n)
		}
	}
	if n, ok, err := kf.integer("vpn", "lcp-echo-interval"); err != nil {
		errs = append(errs, err)
	} else if ok && n > 0 && n <= 3600 {
		p.Keepalive = Duration(time.Duration(n) * time.Second)
	}
	switch {
	case flag("vpn", "ephemeral-port", false):
		p.L2TPPort = 0
	case !p.IPsec:
		p.L2TPPort = DefaultL2TPPort // NetworkManager-l2tp's default source port
	}

	// Secrets: [vpn-secrets], or an ipsec-psk kept in [vpn] by older versions.
	if pw := str("vpn-secrets", "password"); pw != "" {
		im.Secrets[SecretPassword] = pw
	}
	psk := str("vpn-secrets", "ipsec-psk")
	if psk == "" {
		psk = str("vpn", "ipsec-psk")
	}
	if psk != "" {
		im.Secrets[SecretPSK] = decodeNMPSK(psk)
	}

	// [ipv4] (NetworkManager also accepts the alias [ip4]).
	ip4 := "ipv4"
	if kf.groups[ip4] == nil && kf.groups["ip4"] != nil {
		ip4 = "ip4"
	}
	p.FullTunnel = !flag(ip4, "never-default", false)
	for _, r := range nmRoutes(kf, ip4, list, &errs) {
		if msg := checkRoute(r); msg != "" {
			warn("left out route %s", msg)
			continue
		}
		p.Routes = append(p.Routes, r)
	}
	if !p.FullTunnel && len(p.Routes) == 0 {
		p.ClassfulRoute = true
		warn("split tunnel without routes: the classful network of the VPN address is routed, as NetworkManager does")
	}
	dns := list(ip4, "dns")
	ignoreAuto := flag(ip4, "ignore-auto-dns", false)
	for _, d := range dns {
		if a, err := netip.ParseAddr(strings.TrimSpace(d)); err == nil && a.Is4() {
			p.DNSServers = append(p.DNSServers, a.String())
		} else {
			warn("left out DNS server %q: not an IPv4 address", d)
		}
	}
	switch {
	case len(p.DNSServers) > 0:
		p.DNS = DNSCustom
		if !ignoreAuto {
			warn("NetworkManager used these DNS servers besides the VPN's; Corridor uses only these (set DNS to \"server\" to use the VPN's)")
		}
	case ignoreAuto:
		p.DNS = DNSNone
	}
	for _, d := range list(ip4, "dns-search") {
		d = strings.TrimPrefix(strings.TrimSpace(d), "~")
		if d == "" {
			continue
		}
		if validHostName(strings.TrimSuffix(d, ".")) {
			p.Domains = append(p.Domains, d)
		} else {
			warn("left out search domain %q", d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Imported{}, fmt.Errorf("NetworkManager keyfile: %w", err)
	}
	im.Profile = p
	if cert != nil {
		delete(im.Secrets, SecretPSK)
		if cert.CertFile == "" && cert.P12File == "" {
			warn("IPsec authenticates with a certificate, but the connection names no certificate file (machine-cert): give it with corridor profile edit %q --cert FILE --key FILE (or --p12 FILE --p12-password-file FILE)", p.Name)
		} else {
			im.pend(cert, fmt.Sprintf("IPsec authenticates with a certificate in files of the computer this connection came from (%s): they are read when the import runs there; otherwise copy them here and give them with corridor profile edit %q --cert FILE --key FILE [--ca FILE] (or --p12 FILE --p12-password-file FILE)", strings.Join(cert.Files(), ", "), p.Name))
		}
	}
	return im, nil
}

// nmCert reads NetworkManager-l2tp's certificate keys (its
// nm-service-defines.h): machine-cert, machine-key and machine-ca (paths;
// a .p12/.pfx machine-cert holds the key too), machine-certpass (the
// PKCS#12 or key password, in [vpn-secrets] when saved) and
// ipsec-remote-id (or the older ipsec-gateway-id: the server's identity,
// Libreswan notation, "@" before a host name).
func nmCert(str func(g, k string) string) *ImportedCert {
	path := func(k string) string {
		v := strings.TrimSpace(str("vpn", k))
		return strings.TrimPrefix(v, "file://")
	}
	c := &ImportedCert{From: "machine-cert", CertFile: path("machine-cert"), KeyFile: path("machine-key"), CAFile: path("machine-ca")}
	if isP12Name(c.CertFile) && (c.KeyFile == "" || c.KeyFile == c.CertFile) {
		c.P12File, c.CertFile, c.KeyFile = c.CertFile, "", ""
	}
	c.Password = str("vpn-secrets", "machine-certpass")
	if c.Password == "" {
		c.Password = str("vpn", "machine-certpass")
	}
	id := strings.TrimSpace(str("vpn", "ipsec-remote-id"))
	if id == "" {
		id = strings.TrimSpace(str("vpn", "ipsec-gateway-id"))
	}
	c.ServerID = strings.TrimPrefix(id, "@")
	return c
}

// nmRoutes collects [ipv4] routes: route1=DEST/PREFIX[,GATEWAY[,METRIC]]
// (today's keyfile), routes1=... (older), and routes=a;b (lists some
// tools write, "DEST via GW" included). A destination without a prefix is
// one host.
func nmRoutes(kf *keyFile, group string, list func(g, k string) []string, errs *[]error) []string {
	type numbered struct {
		n    int
		dest string
	}
	var rs []numbered
	for key := range kf.groups[group] {
		var num string
		switch {
		case strings.HasPrefix(key, "routes"):
			num = key[len("routes"):]
		case strings.HasPrefix(key, "route"):
			num = key[len("route"):]
		default:
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			continue // route-metric, route1_options, routes ...
		}
		s, err := kf.str(group, key)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		rs = append(rs, numbered{n, s})
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].n < rs[j-1].n; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if i := strings.IndexAny(s, ", \t"); i >= 0 {
			s = s[:i] // gateway, metric, "via GW"
		}
		if s == "" {
			return
		}
		if !strings.Contains(s, "/") {
			s += "/32"
		}
		out = append(out, s)
	}
	for _, r := range rs {
		add(r.dest)
	}
	for _, r := range list(group, "routes") {
		add(r)
	}
	return out
}

// decodeNMPSK undoes NetworkManager-l2tp's PSK encoding: "0s" followed by
// base64 (Libreswan's notation for a binary secret), used when the PSK is
// stored in the connection's data. Anything else is the PSK itself.
func decodeNMPSK(s string) string {
	if rest, ok := strings.CutPrefix(s, "0s"); ok && rest != "" {
		if b, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return string(b)
		}
	}
	return s
}
