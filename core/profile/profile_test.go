package profile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/ike"
)

func validProfile() Profile {
	p := NewProfile("work")
	p.Server, p.User = "vpn.example.com", "alice"
	return p
}

func TestProfileDefaults(t *testing.T) {
	p := NewProfile("x")
	if !p.IPsec || !p.FullTunnel || !p.Reconnect || p.DNS != DNSFromServer || p.MTU != 0 || p.L2TPPort != 0 {
		t.Errorf("defaults: %+v", p)
	}
	if !reflect.DeepEqual(p.Auth, []string{"mschapv2"}) {
		t.Errorf("auth default %v, want MS-CHAPv2 only", p.Auth)
	}
	p.Auth[0] = "changed"
	if DefaultAuth[0] != "mschapv2" {
		t.Error("NewProfile shares DefaultAuth's array")
	}
	if got := (&p).EffectiveKeepalive(); got != 5*time.Second {
		t.Errorf("keepalive default %v", got)
	}
}

func TestProfileValidate(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name  string
		edit  func(p *Profile)
		field string // "" valid
	}{
		{"valid", func(p *Profile) {}, ""},
		{"name empty", func(p *Profile) { p.Name = "" }, "name"},
		{"name slash", func(p *Profile) { p.Name = "a/b" }, "name"},
		{"name dotdot", func(p *Profile) { p.Name = ".." }, "name"},
		{"name leading dot", func(p *Profile) { p.Name = ".hidden" }, "name"},
		{"name trailing space", func(p *Profile) { p.Name = "work " }, "name"},
		{"name too long", func(p *Profile) { p.Name = long }, "name"},
		{"name 64", func(p *Profile) { p.Name = long[:64] }, ""},
		{"name unicode", func(p *Profile) { p.Name = "Büro" }, "name"},
		{"name windows device", func(p *Profile) { p.Name = "con" }, "name"},
		{"name with spaces dots parens", func(p *Profile) { p.Name = "Office v2.1 (Paris)_x-y" }, ""},
		{"server empty", func(p *Profile) { p.Server = "" }, "server"},
		{"server ipv4", func(p *Profile) { p.Server = "203.0.113.9" }, ""},
		{"server bad ipv4", func(p *Profile) { p.Server = "10.0.0.300" }, "server"},
		{"server scheme", func(p *Profile) { p.Server = "https://vpn.example.com" }, "server"},
		{"server port", func(p *Profile) { p.Server = "vpn.example.com:1701" }, "server"},
		{"server ipv4 port", func(p *Profile) { p.Server = "10.0.0.1:500" }, "server"},
		{"server ipv6", func(p *Profile) { p.Server = "2001:db8::1" }, "server"},
		{"server space", func(p *Profile) { p.Server = "vpn example" }, "server"},
		{"server path", func(p *Profile) { p.Server = "vpn.example.com/x" }, "server"},
		{"server trailing dot", func(p *Profile) { p.Server = "vpn.example.com." }, ""},
		{"user empty", func(p *Profile) { p.User = "" }, "user"},
		{"aggressive with a group", func(p *Profile) { p.Aggressive, p.Group = true, "vpn-users" }, ""},
		{"aggressive key id", func(p *Profile) { p.Aggressive, p.Group, p.GroupType = true, "Sales Group", GroupKeyID }, ""},
		{"aggressive without a group", func(p *Profile) { p.Aggressive = true }, "group"},
		{"aggressive group with a newline", func(p *Profile) { p.Aggressive, p.Group = true, "a\nb" }, "group"},
		{"aggressive group with a trailing space", func(p *Profile) { p.Aggressive, p.Group = true, "g " }, "group"},
		{"aggressive group too long", func(p *Profile) { p.Aggressive, p.Group = true, strings.Repeat("g", 256) }, "group"},
		{"aggressive without IPsec", func(p *Profile) { p.Aggressive, p.Group, p.IPsec = true, "g", false }, "aggressive"},
		{"group type unknown", func(p *Profile) { p.GroupType = "dn" }, "group_type"},
		{"group without aggressive is kept", func(p *Profile) { p.Group = "g" }, ""},
		{"user domain", func(p *Profile) { p.User = `CORP\alice` }, ""},
		{"user control", func(p *Profile) { p.User = "al\nice" }, "user"},
		{"user too long", func(p *Profile) { p.User = strings.Repeat("u", 256) }, "user"},
		{"ike ok", func(p *Profile) { p.IKE = "aes256-sha256-modp2048,aes128-sha1-modp2048" }, ""},
		{"ike garbage", func(p *Profile) { p.IKE = "chacha-poly" }, "ike"},
		{"mode proxy", func(p *Profile) { p.Mode = ModeProxy }, ""},
		{"kill switch full tunnel", func(p *Profile) { p.KillSwitch = true }, ""},
		{"kill switch split tunnel", func(p *Profile) { p.KillSwitch, p.FullTunnel, p.Routes = true, false, []string{"10.0.0.0/8"} }, "kill_switch"},
		{"kill switch proxy mode", func(p *Profile) { p.KillSwitch, p.Mode = true, ModeProxy }, "kill_switch"},
		{"ipv6 tun mode", func(p *Profile) { p.IPv6 = true }, ""},
		{"ipv6 proxy mode", func(p *Profile) { p.IPv6, p.Mode = true, ModeProxy }, "ipv6"},
		{"ipv6 dns server with ipv6", func(p *Profile) {
			p.IPv6, p.DNS, p.DNSServers = true, DNSCustom, []string{"10.0.0.53", "2001:db8::53"}
		}, ""},
		{"ipv6 dns server without ipv6", func(p *Profile) { p.DNS, p.DNSServers = DNSCustom, []string{"2001:db8::53"} }, "dns_servers"},
		{"link-local dns server", func(p *Profile) { p.IPv6, p.DNS, p.DNSServers = true, DNSCustom, []string{"fe80::1"} }, "dns_servers"},
		{"mode unset (an older app's JSON)", func(p *Profile) { p.Mode = "" }, ""},
		{"mode unknown", func(p *Profile) { p.Mode = "socks" }, "mode"},
		{"proxy ipv6 loopback", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "[::1]:8080" }, ""},
		{"proxy other loopback", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "127.0.0.2:1080" }, ""},
		{"proxy not loopback", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "0.0.0.0:1080" }, "proxy"},
		{"proxy lan address", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "192.168.1.5:1080" }, "proxy"},
		{"proxy no port", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "127.0.0.1" }, "proxy"},
		{"proxy port 0", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "127.0.0.1:0" }, "proxy"},
		{"proxy name", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "localhost:1080" }, "proxy"},
		{"proxy unset in proxy mode: the default", func(p *Profile) { p.Mode, p.Proxy = ModeProxy, "" }, ""},
		{"proxy mode needs no route", func(p *Profile) { p.Mode, p.FullTunnel, p.Routes = ModeProxy, false, nil }, ""},
		{"ike legacy without flag", func(p *Profile) { p.IKE = "3des-sha1-modp1024" }, "ike"},
		{"ike legacy with flag", func(p *Profile) { p.IKE, p.LegacyCrypto = "3des-sha1-modp1024", true }, ""},
		{"esp ok", func(p *Profile) { p.ESP = "aes128gcm16,aes256-sha1" }, ""},
		{"esp legacy without flag", func(p *Profile) { p.ESP = "3des-sha1" }, "esp"},
		{"esp legacy with flag", func(p *Profile) { p.ESP, p.LegacyCrypto = "3des-sha1", true }, ""},
		{"esp garbage", func(p *Profile) { p.ESP = "aes128-sha3" }, "esp"},
		{"auth empty", func(p *Profile) { p.Auth = nil }, "auth"},
		{"auth pap only", func(p *Profile) { p.Auth = []string{"pap"} }, ""},
		{"auth unknown", func(p *Profile) { p.Auth = []string{"eap"} }, "auth"},
		{"auth twice", func(p *Profile) { p.Auth = []string{"pap", "pap"} }, "auth"},
		{"mtu 575", func(p *Profile) { p.MTU = 575 }, "mtu"},
		{"mtu 576", func(p *Profile) { p.MTU = 576 }, ""},
		{"mtu 1500", func(p *Profile) { p.MTU = 1500 }, ""},
		{"mtu 1501", func(p *Profile) { p.MTU = 1501 }, "mtu"},
		{"mtu negative", func(p *Profile) { p.MTU = -1 }, "mtu"},
		{"routes ok", func(p *Profile) { p.Routes = []string{"10.0.0.0/8", "192.168.1.5/32"} }, ""},
		{"route no prefix", func(p *Profile) { p.Routes = []string{"10.0.0.1"} }, "routes"},
		{"route host bits", func(p *Profile) { p.Routes = []string{"10.0.0.1/8"} }, "routes"},
		{"route ipv6", func(p *Profile) { p.Routes = []string{"2001:db8::/32"} }, "routes"},
		{"split without routes", func(p *Profile) { p.FullTunnel = false }, "routes"},
		{"split classful", func(p *Profile) { p.FullTunnel, p.ClassfulRoute = false, true }, ""},
		{"split with route", func(p *Profile) { p.FullTunnel, p.Routes = false, []string{"10.1.0.0/16"} }, ""},
		{"dns none", func(p *Profile) { p.DNS = DNSNone }, ""},
		{"dns empty", func(p *Profile) { p.DNS = "" }, "dns"},
		{"dns bogus", func(p *Profile) { p.DNS = "google" }, "dns"},
		{"dns custom without servers", func(p *Profile) { p.DNS = DNSCustom }, "dns_servers"},
		{"dns custom", func(p *Profile) { p.DNS, p.DNSServers = DNSCustom, []string{"10.0.0.53"} }, ""},
		{"dns custom bad server", func(p *Profile) { p.DNS, p.DNSServers = DNSCustom, []string{"dns.example"} }, "dns_servers"},
		{"dns custom ipv6 server", func(p *Profile) { p.DNS, p.DNSServers = DNSCustom, []string{"2001:db8::53"} }, "dns_servers"},
		{"domains ok", func(p *Profile) { p.Domains = []string{"corp.example.com", "lab."} }, ""},
		{"domains bad", func(p *Profile) { p.Domains = []string{"not a domain"} }, "domains"},
		{"keepalive 30s", func(p *Profile) { p.Keepalive = Duration(30 * time.Second) }, ""},
		{"keepalive tiny", func(p *Profile) { p.Keepalive = Duration(time.Millisecond) }, "keepalive"},
		{"keepalive negative", func(p *Profile) { p.Keepalive = Duration(-time.Second) }, "keepalive"},
		{"keepalive huge", func(p *Profile) { p.Keepalive = Duration(2 * time.Hour) }, "keepalive"},
		{"port 1701 with ipsec", func(p *Profile) { p.L2TPPort = 1701 }, ""},
		{"port other with ipsec", func(p *Profile) { p.L2TPPort = 5000 }, "l2tp_port"},
		{"port other without ipsec", func(p *Profile) { p.IPsec, p.L2TPPort = false, 5000 }, ""},
		{"port too big", func(p *Profile) { p.IPsec, p.L2TPPort = false, 65536 }, "l2tp_port"},
		{"port negative", func(p *Profile) { p.IPsec, p.L2TPPort = false, -1 }, "l2tp_port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validProfile()
			tt.edit(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ves ValidationErrors
			if !errors.As(err, &ves) {
				t.Fatalf("want ValidationErrors on %s, got %T %v", tt.field, err, err)
			}
			if ves.For(tt.field) == "" {
				t.Fatalf("want an error on %s, got %v", tt.field, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field == "" || ve.Msg == "" {
				t.Errorf("errors.As *ValidationError: %v", ve)
			}
		})
	}
}

func TestProfileValidateCollectsAll(t *testing.T) {
	p := Profile{Name: "bad/name", MTU: 9000, DNS: "x", Auth: []string{"pap"}, FullTunnel: true}
	err := p.Validate()
	var ves ValidationErrors
	if !errors.As(err, &ves) {
		t.Fatal(err)
	}
	for _, f := range []string{"name", "server", "user", "mtu", "dns"} {
		if ves.For(f) == "" {
			t.Errorf("no error for %s in %v", f, ves)
		}
	}
	if !strings.HasPrefix(err.Error(), "invalid profile: name: ") {
		t.Errorf("text: %v", err)
	}
}

func TestProfileDurationText(t *testing.T) {
	p := validProfile()
	p.Keepalive = Duration(90 * time.Second)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"keepalive":"1m30s"`) {
		t.Errorf("json: %s", b)
	}
	var q Profile
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("json round trip:\n%+v\n%+v", p, q)
	}
	if err := json.Unmarshal([]byte(`{"keepalive":"soon"}`), &q); err == nil {
		t.Error("bad duration accepted")
	}
	// The struct tags also work with the TOML library directly.
	var buf strings.Builder
	if err := toml.NewEncoder(&buf).Encode(p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `keepalive = "1m30s"`) {
		t.Errorf("toml: %s", buf.String())
	}
	var r Profile
	if _, err := toml.Decode(buf.String(), &r); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, r) {
		t.Errorf("toml round trip:\n%+v\n%+v", p, r)
	}
}

func TestProfileTOMLRoundTrip(t *testing.T) {
	p := validProfile()
	p.User = `CORP\alice "the admin" é`
	p.IKE, p.ESP, p.LegacyCrypto = "aes256-sha1-modp2048,3des-sha1-modp1024", "aes128-sha1", true
	p.Auth = []string{"pap"}
	p.MTU = 1400
	p.FullTunnel, p.Routes, p.ClassfulRoute = false, []string{"10.0.0.0/8", "172.16.0.0/12"}, true
	p.DNS, p.DNSServers, p.Domains = DNSCustom, []string{"10.0.0.53", "2001:db8::53"}, []string{"corp.example.com"}
	p.IPv6 = true
	p.Keepalive, p.Reconnect = Duration(30*time.Second), false
	p.IPsec, p.L2TPPort, p.L2TPSecret = false, 1701, true
	p.Group, p.GroupType = "Sales \"EU\"", GroupKeyID // kept while aggressive is off
	data := encodeProfile(p, profileHeader)
	q, fatal, warnings := decodeProfile(data, "work", true)
	if len(fatal) > 0 || len(warnings) > 0 {
		t.Fatalf("decode: %v %v\n%s", fatal, warnings, data)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip:\n%+v\n%+v\n%s", p, q, data)
	}
	// Every key is documented by a comment line above it.
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, " = "); ok && !strings.HasPrefix(l, "#") {
			if i == 0 || !strings.HasPrefix(lines[i-1], "# ") {
				t.Errorf("key %s has no comment", k)
			}
		}
	}
}

func FuzzTOMLQuote(f *testing.F) {
	for _, s := range []string{"", `a"b\c`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "é漢字", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if _, err := toml.Decode("k = "+tomlQuote(s), &m); err != nil {
			t.Fatalf("%q -> %s: %v", s, tomlQuote(s), err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); m["k"] != want {
			t.Fatalf("%q -> %q", want, m["k"])
		}
	})
}

func TestProfileDecodeDefaults(t *testing.T) {
	// A minimal hand-written file: everything else takes the defaults.
	p, fatal, warnings := decodeProfile([]byte("server = \"vpn.example.com\"\nuser = \"alice\"\n"), "mini", true)
	if len(fatal)+len(warnings) > 0 {
		t.Fatal(fatal, warnings)
	}
	want := NewProfile("mini")
	want.Server, want.User = "vpn.example.com", "alice"
	if !reflect.DeepEqual(p, want) {
		t.Errorf("\n%+v\n%+v", p, want)
	}
}

func TestProfileDecodeErrorsNameLines(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		key        string
		fatal      bool
	}{
		{"syntax", "server = \"a\"\nuser = \"b\"\nmtu = = 3\n", 3, "", true},
		{"unterminated string", "server = \"a\nuser = \"b\"\n", 1, "", true},
		{"wrong type", "server = \"vpn.example.com\"\nuser = \"b\"\n\nmtu = \"big\"\n", 4, "mtu", true},
		{"bad list element", "server = \"vpn.example.com\"\nuser = \"b\"\nroutes = [1]\n", 3, "routes", true},
		{"bad duration", "server = \"vpn.example.com\"\nuser = \"b\"\nkeepalive = \"soon\"\n", 3, "keepalive", true},
		{"invalid value", "server = \"vpn.example.com\"\n# c\nuser = \"b\"\nmtu = 9000\n", 4, "mtu", true},
		{"missing user", "server = \"vpn.example.com\"\n", 0, "user", true},
		{"unknown key", "server = \"vpn.example.com\"\nuser = \"b\"\nmtuu = 1400\n", 3, "mtuu", false},
		{"table", "server = \"vpn.example.com\"\nuser = \"b\"\n[extra]\nx = 1\n", 3, "extra", false},
		{"not utf8", "server = \"vpn.example.com\"\nuser = \"\xff\"\n", 2, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fatal, warnings := decodeProfile([]byte(tt.text), "w", true)
			errs := warnings
			if tt.fatal {
				errs = fatal
			} else if len(fatal) > 0 {
				t.Fatalf("unexpected fatal %v", fatal)
			}
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			var le *LineError
			if !errors.As(errs[0], &le) {
				t.Fatalf("%T", errs[0])
			}
			if le.Line != tt.line || le.Key != tt.key {
				t.Errorf("got line %d key %q (%v), want line %d key %q", le.Line, le.Key, le, tt.line, tt.key)
			}
		})
	}
}

func TestAutoMTU(t *testing.T) {
	aesSHA1 := ike.ESPSuite{Suite: esp.AESCBC_HMACSHA1, KeyLen: 16}
	gcm := ike.ESPSuite{Suite: esp.AESGCM16, KeyLen: 16}
	tdes := ike.ESPSuite{Suite: esp.TDESCBC_HMACSHA1, KeyLen: 24}
	tests := []struct {
		link  int
		ipsec bool
		suite ike.ESPSuite
		want  int
	}{
		{1500, false, ike.ESPSuite{}, 1500 - 20 - 8 - 6 - 4},
		// 20 IP + 8 UDP + 8 ESP + 16 IV + 1424 (8 UDP + 6 L2TP + 4 PPP +
		// 1404 + 0 pad + 2) + 12 ICV = 1500.
		{1500, true, aesSHA1, 1404},
		// GCM: 20 + 8 + 8 + 8 IV + (18 + P + pad + 2 ≡ 0 mod 4) + 16.
		{1500, true, gcm, 1420},
		{1500, true, tdes, 1420},
	}
	for _, tt := range tests {
		got := AutoMTU(tt.link, tt.ipsec, tt.suite)
		if got != tt.want {
			t.Errorf("AutoMTU(%d, %v, %v) = %d, want %d", tt.link, tt.ipsec, tt.suite, got, tt.want)
		}
		if !tt.ipsec {
			continue
		}
		// Exact: one more byte no longer fits in the link.
		head, _ := tt.suite.Suite.Overhead()
		align := espAlign(tt.suite.Suite)
		_, maxTail := tt.suite.Suite.Overhead()
		icv := maxTail - (align - 1) - 2
		outer := func(p int) int {
			enc := 8 + 6 + 4 + p + 2
			enc = (enc + align - 1) / align * align
			return 20 + 8 + head + enc + icv
		}
		if outer(got) > tt.link || outer(got+1) <= tt.link {
			t.Errorf("%v: %d gives %d, %d gives %d on a %d link", tt.suite, got, outer(got), got+1, outer(got+1), tt.link)
		}
	}
	// Unknown suite: the smallest of every suite Corridor may negotiate.
	if got := AutoMTU(1500, true, ike.ESPSuite{}); got != 1404 {
		t.Errorf("worst case %d", got)
	}
	p := validProfile()
	if got := p.TunnelMTU(1500, aesSHA1); got != 1404 {
		t.Errorf("TunnelMTU auto %d", got)
	}
	p.MTU = 1280
	if got := p.TunnelMTU(1500, aesSHA1); got != 1280 {
		t.Errorf("TunnelMTU set %d", got)
	}
}

func FuzzDecodeProfile(f *testing.F) {
	p := validProfile()
	p.Routes, p.FullTunnel = []string{"10.0.0.0/8"}, false
	f.Add(encodeProfile(p, profileHeader))
	f.Add([]byte("server = \"a\"\nuser = \"b\"\nmtu = = 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, fatal, _ := decodeProfile(data, "fuzz", true)
		if len(fatal) > 0 {
			return
		}
		// A profile that decodes cleanly survives a save and a reload.
		q, fatal, warnings := decodeProfile(encodeProfile(p, profileHeader), "fuzz", true)
		if len(fatal)+len(warnings) > 0 || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-encode: %v %v\n%+v\n%+v", fatal, warnings, p, q)
		}
	})
}

// A profile file without an auth key allows MS-CHAPv2 only; one that
// lists PAP keeps it; "none" is a method a profile may list.
func TestProfileFileAuthDefault(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"no-auth.toml", []string{"mschapv2"}},
		{"pap.toml", []string{"mschapv2", "pap"}},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "profile", c.file))
		if err != nil {
			t.Fatal(err)
		}
		p, fatal, warnings := decodeProfile(data, "x", true)
		if len(fatal)+len(warnings) > 0 || !reflect.DeepEqual(p.Auth, c.want) {
			t.Errorf("%s: auth %q (%v %v), want %q", c.file, p.Auth, fatal, warnings, c.want)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", c.file, err)
		}
	}
	p := validProfile()
	p.Auth = []string{"none"}
	if err := p.Validate(); err != nil {
		t.Errorf("auth none: %v", err)
	}
}

// TestProfileFileGolden keeps testdata/profile/example.toml, the format as
// a person sees it, in step with the code. CORRIDOR_UPDATE_GOLDEN=1
// rewrites it.
func TestProfileFileGolden(t *testing.T) {
	p := NewProfile("example")
	p.Server, p.User = "vpn.example.com", `CORP\alice`
	p.ESP = "aes128gcm16,aes256-sha1"
	p.FullTunnel, p.Routes = false, []string{"10.0.0.0/8", "192.168.50.0/24"}
	p.Domains = []string{"corp.example.com"}
	p.Keepalive = Duration(30 * time.Second)
	got := encodeProfile(p, profileHeader)
	path := filepath.Join("testdata", "profile", "example.toml")
	if os.Getenv("CORRIDOR_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the profile format changed; check and update %s with CORRIDOR_UPDATE_GOLDEN=1:\n%s", path, got)
	}
	q, fatal, warnings := decodeProfile(want, "example", true)
	if len(fatal)+len(warnings) > 0 || !reflect.DeepEqual(p, q) {
		t.Errorf("golden file does not decode to the profile: %v %v", fatal, warnings)
	}
}

// An Aggressive Mode profile survives its file, and its file says so.
func TestProfileAggressiveFile(t *testing.T) {
	p := validProfile()
	p.Aggressive, p.Group, p.GroupType = true, "vpn-users", GroupKeyID
	data := encodeProfile(p, profileHeader)
	for _, want := range []string{"aggressive = true\n", "group = \"vpn-users\"\n", "group_type = \"keyid\"\n", "LESS SECURE"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the file lacks %q", want)
		}
	}
	q, fatal, warnings := decodeProfile(data, "work", true)
	if len(fatal)+len(warnings) > 0 || !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %v %v\n%+v\n%+v", fatal, warnings, p, q)
	}
	// A file without the keys (older Corridor) reads as Main Mode.
	q, fatal, _ = decodeProfile([]byte("server = \"vpn.example.com\"\nuser = \"alice\"\n"), "old", true)
	if len(fatal) > 0 || q.Aggressive || q.Group != "" || q.GroupType != "" {
		t.Errorf("old file: %v %+v", fatal, q)
	}
}
