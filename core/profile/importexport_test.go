package profile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"howett.net/plist"
)

func readTestdata(t *testing.T, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyFileEscapes(t *testing.T) {
	tests := []struct {
		raw  string
		str  string
		list []string
		err  bool // as a string
	}{
		{raw: `plain`, str: "plain", list: []string{"plain"}},
		{raw: `\sleading space`, str: " leading space", list: []string{" leading space"}},
		{raw: `trailing space `, str: "trailing space ", list: []string{"trailing space "}},
		{raw: `a\nb\tc\rd`, str: "a\nb\tc\rd", list: []string{"a\nb\tc\rd"}},
		{raw: `back\\slash`, str: `back\slash`, list: []string{`back\slash`}},
		{raw: `DOM\\user`, str: `DOM\user`, list: []string{`DOM\user`}},
		{raw: `a;b;`, str: "a;b;", list: []string{"a", "b"}},
		{raw: `a;b`, str: "a;b", list: []string{"a", "b"}},
		{raw: `a\;b;c`, err: true, list: []string{"a;b", "c"}},
		{raw: `a\\;b`, str: `a\;b`, list: []string{`a\`, "b"}},
		{raw: `;`, str: ";", list: []string{""}},
		{raw: ``, str: "", list: nil},
		{raw: `bad\q`, err: true},
		{raw: `lone\`, err: true},
	}
	for _, tt := range tests {
		kf, err := parseKeyFile([]byte("[g]\nk=" + tt.raw + "\n"))
		if err != nil {
			t.Fatalf("%q: %v", tt.raw, err)
		}
		s, err := kf.str("g", "k")
		if tt.err != (err != nil) || (!tt.err && s != tt.str) {
			t.Errorf("str(%q) = %q, %v; want %q, err %v", tt.raw, s, err, tt.str, tt.err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "line 2: k: ") {
			t.Errorf("error without line: %v", err)
		}
		if tt.list == nil && tt.err {
			if _, err := kf.list("g", "k"); err == nil {
				t.Errorf("list(%q): no error", tt.raw)
			}
			continue
		}
		l, err := kf.list("g", "k")
		if err != nil || !reflect.DeepEqual(l, tt.list) {
			t.Errorf("list(%q) = %q, %v; want %q", tt.raw, l, err, tt.list)
		}
	}
}

func TestKeyFileSyntax(t *testing.T) {
	kf, err := parseKeyFile([]byte("\ufeff# comment\n\n  [a]\nk = v \n k2=\tx\nk[de]=übersetzt\n[b]\nk=1\n[a]\nk3=z\nk=again\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ g, k, want string }{{"a", "k", "again"}, {"a", "k2", "x"}, {"a", "k3", "z"}, {"b", "k", "1"}, {"a", "k[de]", ""}} {
		if got, _ := kf.str(c.g, c.k); got != c.want {
			t.Errorf("[%s] %s = %q, want %q", c.g, c.k, got, c.want)
		}
	}
	for _, bad := range []struct {
		text, want string
	}{
		{"k=v\n", "line 1: key \"k\" comes before any [group]"},
		{"[a]\njust words\n", "line 2: neither"},
		{"[a]\n=v\n", "line 2: a key is missing"},
		{"[a\n", "line 1: a group header"},
		{"[a]\nk=\xff\n", "line 2: not valid UTF-8"},
	} {
		if _, err := parseKeyFile([]byte(bad.text)); err == nil || !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.text, err, bad.want)
		}
	}
}

func TestImportNMConnectionFull(t *testing.T) {
	im, err := ImportNMConnection(readTestdata(t, "nm", "office.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	want := NewProfile("Buro VPN Paris")
	want.Server, want.User = "vpn.example.com", `CORP\alice`
	want.IPsec, want.LegacyCrypto = true, true
	want.IKE, want.ESP = "aes256-sha1-modp2048,3des-sha1-modp1024", "aes128-sha1,3des-sha1"
	want.Auth = []string{"mschapv2", "pap"}
	want.MTU = 1400
	want.Keepalive = Duration(30 * time.Second)
	want.FullTunnel = false
	want.Routes = []string{"10.43.0.0/16", "192.168.50.0/24", "172.16.5.9/32"}
	want.DNS, want.DNSServers = DNSCustom, []string{"10.43.22.56", "10.31.104.16"}
	want.Domains = []string{"corp.example.com", "lab.example.com"}
	if !reflect.DeepEqual(im.Profile, want) {
		t.Errorf("profile\n got %+v\nwant %+v", im.Profile, want)
	}
	wantSec := map[SecretKind]string{SecretPassword: " p@ss\\word;x\tz", SecretPSK: "shared secret"}
	if !reflect.DeepEqual(im.Secrets, wantSec) {
		t.Errorf("secrets %q", im.Secrets)
	}
	if err := im.Profile.Validate(); err != nil {
		t.Error(err)
	}
	if !strings.Contains(strings.Join(im.Warnings, "\n"), `renamed "Büro VPN: Paris" to "Buro VPN Paris"`) {
		t.Errorf("warnings %q", im.Warnings)
	}
}

func TestImportNMConnectionPlainL2TP(t *testing.T) {
	im, err := ImportNMConnection(readTestdata(t, "nm", "plain-l2tp.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	want := NewProfile("Home")
	want.Server, want.User, want.IPsec = "203.0.113.7", "bob", false
	want.Auth = []string{"mschapv2", "chap"}
	want.L2TPPort = 1701
	if !reflect.DeepEqual(im.Profile, want) {
		t.Errorf("profile\n got %+v\nwant %+v", im.Profile, want)
	}
	if !strings.Contains(strings.Join(im.Warnings, "\n"), PlainL2TPWarning) {
		t.Errorf("IPsec off, no warning: %q", im.Warnings)
	}
	if !reflect.DeepEqual(im.Secrets, map[SecretKind]string{SecretPassword: "hunter2"}) {
		t.Errorf("secrets %q", im.Secrets)
	}
}

func TestImportNMConnectionOldPSK(t *testing.T) {
	im, err := ImportNMConnection(readTestdata(t, "nm", "old-psk.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	p := im.Profile
	if p.Name != "Legacy Office" || p.Server != "198.51.100.20" || !p.IPsec || !p.LegacyCrypto ||
		p.IKE != "3des-sha1-modp1024" || p.ESP != "aes128-sha1,aes128-sha2_256" || p.L2TPPort != 0 || p.DNS != DNSNone {
		t.Errorf("profile %+v", p)
	}
	if !reflect.DeepEqual(p.Auth, []string{"mschapv2"}) {
		t.Errorf("a file that refuses no method: auth %q, want Corridor's default (MS-CHAPv2 only)", p.Auth)
	}
	if strings.Contains(strings.Join(im.Warnings, "\n"), PlainL2TPWarning) {
		t.Errorf("IPsec on, yet warned: %q", im.Warnings)
	}
	if im.Secrets[SecretPSK] != "legacy psk" || len(im.Secrets) != 1 {
		t.Errorf("secrets %q", im.Secrets)
	}
	if !strings.Contains(strings.Join(im.Warnings, "\n"), `left out the ESP proposal "blowfish-sha1"`) {
		t.Errorf("warnings %q", im.Warnings)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestImportNMConnectionRejects(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[connection]\nid=x\ntype=vpn\n[vpn]\nservice-type=org.freedesktop.NetworkManager.openvpn\n", "not a NetworkManager-l2tp connection (service-type org.freedesktop.NetworkManager.openvpn"},
		{"[connection]\nid=x\ntype=wifi\n[vpn]\n", "type=wifi"},
		{"[connection]\nid=x\n", "no [connection] and [vpn]"},
		{"[connection]\nid=x\ntype=vpn\n[vpn]\nservice-type=org.freedesktop.NetworkManager.l2tp\nipsec-enabled=yes\nmachine-auth-type=xauth\n", `authenticates IPsec with "xauth"`},
		{"[connection]\nid=x\ntype=vpn\n[vpn]\nservice-type=org.freedesktop.NetworkManager.l2tp\nrefuse-pap=yes\nrefuse-chap=yes\nrefuse-mschapv2=yes\n", "EAP"},
		{"[connection]\nid=x\ntype=vpn\n[vpn]\nservice-type=org.freedesktop.NetworkManager.l2tp\ngateway=a\n\n[vpn-secrets]\npassword=bad\\escape\n", "line 9: password: invalid escape"},
		{"[connection]\nid=x\ntype=vpn\n[vpn]\nservice-type=org.freedesktop.NetworkManager.l2tp\nipsec-enabled=maybe\n", "line 6: ipsec-enabled"},
		{"not a keyfile", "line 1: neither"},
	}
	for _, tt := range tests {
		_, err := ImportNMConnection([]byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\n got %v\nwant %q", tt.text, err, tt.want)
		}
	}
}

func TestImportNMPSKEncoding(t *testing.T) {
	for in, want := range map[string]string{"0sc2hhcmVkIHNlY3JldA==": "shared secret", "plain": "plain", "0s": "0s", "0s!!!": "0s!!!"} {
		if got := decodeNMPSK(in); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func wantAppleProfiles() []Imported {
	office := NewProfile("Example Office (L2TP)")
	office.Server, office.User = "l2tp.example.org", "dave@DEFAULT"
	office.DNS, office.DNSServers, office.Domains = DNSCustom, []string{"10.8.0.53"}, []string{"office.example.org"}
	lab := NewProfile("Lab")
	lab.Server, lab.User = "192.0.2.44", "erin"
	lab.FullTunnel, lab.ClassfulRoute = false, true
	return []Imported{
		{Profile: office, Secrets: map[SecretKind]string{SecretPSK: "apple psk", SecretPassword: `s3cr<t & "quoted"`}},
		{Profile: lab, Secrets: map[SecretKind]string{SecretPSK: "string psk"}},
	}
}

func checkApple(t *testing.T, got []Imported) {
	t.Helper()
	want := wantAppleProfiles()
	if len(got) != len(want) {
		t.Fatalf("%d profiles: %+v", len(got), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i].Profile, want[i].Profile) {
			t.Errorf("profile %d\n got %+v\nwant %+v", i, got[i].Profile, want[i].Profile)
		}
		if !reflect.DeepEqual(got[i].Secrets, want[i].Secrets) {
			t.Errorf("secrets %d: %q", i, got[i].Secrets)
		}
		if err := got[i].Profile.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestImportMobileconfigXML(t *testing.T) {
	ims, err := ImportMobileconfig(readTestdata(t, "apple", "l2tp.mobileconfig"))
	if err != nil {
		t.Fatal(err)
	}
	checkApple(t, ims)
}

func TestImportMobileconfigBinary(t *testing.T) {
	var v any
	if _, err := plist.Unmarshal(readTestdata(t, "apple", "l2tp.mobileconfig"), &v); err != nil {
		t.Fatal(err)
	}
	bin, err := plist.Marshal(v, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(bin), "bplist00") {
		t.Fatal("not a binary plist")
	}
	ims, err := ImportMobileconfig(bin)
	if err != nil {
		t.Fatal(err)
	}
	checkApple(t, ims)
	// ImportFile recognises it without an extension.
	ims, err = ImportFile("download", bin)
	if err != nil {
		t.Fatal(err)
	}
	checkApple(t, ims)
}

func TestImportMobileconfigSigned(t *testing.T) {
	xml := readTestdata(t, "apple", "l2tp.mobileconfig")
	// The shape of a CMS SignedData envelope: DER header, OIDs, the XML as
	// content, then certificates and the signature.
	signed := append([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x04, 0x82, 0x10, 0x00}, xml...)
	signed = append(signed, 0x00, 0x00, 0xa0, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef, '<', '/', 'x')
	ims, err := ImportFile("office.mobileconfig", signed)
	if err != nil {
		t.Fatal(err)
	}
	checkApple(t, ims)
}

func TestImportMobileconfigRejects(t *testing.T) {
	onlyIKEv2 := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadContent</key><array>
<dict><key>PayloadType</key><string>com.apple.vpn.managed</string><key>VPNType</key><string>IKEv2</string></dict>
</array><key>PayloadType</key><string>Configuration</string></dict></plist>`
	hybridL2TP := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadContent</key><array>
<dict><key>PayloadType</key><string>com.apple.vpn.managed</string><key>VPNType</key><string>L2TP</string>
<key>PPP</key><dict><key>CommRemoteAddress</key><string>vpn.example.com</string></dict>
<key>IPSec</key><dict><key>AuthenticationMethod</key><string>Hybrid</string></dict></dict>
</array></dict></plist>`
	for text, want := range map[string]string{
		onlyIKEv2:      "no L2TP VPN, only: IKEv2",
		hybridL2TP:     `authenticates IPsec with "Hybrid"`,
		"hello":        "not an Apple configuration profile",
		"\x30\x82junk": "signed configuration profile",
		`<?xml version="1.0"?><plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string></dict></plist>`: "no VPN payload",
	} {
		_, err := ImportMobileconfig([]byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestExportReimport(t *testing.T) {
	p := NewProfile("Office (Paris)")
	p.Server, p.User = "vpn.example.com", `CORP\alice`
	p.IKE, p.ESP, p.LegacyCrypto = "aes256-sha256-modp2048", "aes128gcm16,3des-sha1", true
	p.Auth = []string{"mschapv2"}
	p.MTU, p.FullTunnel, p.Routes = 1380, false, []string{"10.0.0.0/8"}
	p.DNS, p.DNSServers, p.Domains = DNSCustom, []string{"10.0.0.53", "10.0.0.54"}, []string{"corp.example.com"}
	p.Keepalive, p.Reconnect, p.L2TPSecret = Duration(20*time.Second), false, true
	out := ExportProfile(p)
	if !strings.Contains(string(out), "Secrets are NOT included") {
		t.Errorf("no note on secrets:\n%s", out)
	}
	im, err := ImportProfile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(im.Profile, p) || len(im.Secrets) != 0 || len(im.Warnings) != 0 {
		t.Errorf("re-import\n got %+v\nwant %+v\n%q", im.Profile, p, im.Warnings)
	}
	ims, err := ImportFile("shared.toml", out)
	if err != nil || len(ims) != 1 || !reflect.DeepEqual(ims[0].Profile, p) {
		t.Errorf("ImportFile: %+v %v", ims, err)
	}
	// A hand-written file without a name takes the file's.
	ims, err = ImportFile("My VPN.toml", []byte("server = \"vpn.example.com\"\nuser = \"bob\"\n"))
	if err != nil || ims[0].Profile.Name != "My VPN" {
		t.Errorf("unnamed: %+v %v", ims, err)
	}
	if _, err := ImportProfile([]byte("server = 1\n")); err == nil || !strings.Contains(err.Error(), "line 1: server: want a string") {
		t.Errorf("bad import: %v", err)
	}
}

func TestImportFileByContent(t *testing.T) {
	ims, err := ImportFile("download", readTestdata(t, "nm", "plain-l2tp.nmconnection"))
	if err != nil || len(ims) != 1 || ims[0].Profile.Name != "Home" {
		t.Errorf("nm: %+v %v", ims, err)
	}
	ims, err = ImportFile("download", readTestdata(t, "apple", "l2tp.mobileconfig"))
	if err != nil {
		t.Fatal(err)
	}
	checkApple(t, ims)
}

// TestImportSecretsGoToKeychain imports through a store: the secrets land
// in the keychain under the new profile's name, never in its file.
func TestImportSecretsGoToKeychain(t *testing.T) {
	s := newTestStore(t)
	im, err := ImportNMConnection(readTestdata(t, "nm", "office.nmconnection"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Import(im)
	if err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, s.Secrets(), p.Name); !reflect.DeepEqual(got, im.Secrets) {
		t.Errorf("keychain %q", got)
	}
	data, _ := os.ReadFile(s.path(p.Name))
	for _, v := range im.Secrets {
		if strings.Contains(string(data), v) || strings.Contains(string(data), strings.TrimSpace(v)) {
			t.Errorf("secret in the profile file:\n%s", data)
		}
	}
	if got, err := s.Get(p.Name); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("Get %+v %v", got, err)
	}
}

func TestSanitizeProfileName(t *testing.T) {
	for in, want := range map[string]string{
		"Büro VPN: Paris":       "Buro VPN Paris",
		"Straße/Süd":            "Strasse Sud",
		"  ..hidden.. ":         "hidden",
		"漢字":                    "",
		"VPN 漢字 (Tokyo)":        "VPN (Tokyo)",
		"con":                   "VPN con",
		strings.Repeat("a", 80): strings.Repeat("a", 64),
		"ok name_1.2-3":         "ok name_1.2-3",
	} {
		got := sanitizeProfileName(in)
		if got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
		if got != "" && checkProfileName(got) != "" {
			t.Errorf("%q -> invalid %q", in, got)
		}
	}
}

func TestImportProposals(t *testing.T) {
	tests := []struct {
		in     string
		phase1 bool
		out    string
		legacy bool
		warns  int
	}{
		{"aes256-sha1-modp2048!", true, "aes256-sha1-modp2048", false, 0},
		{"aes128-sha2;modp2048, aes256-sha2_512;dh14", true, "aes128-sha256-modp2048,aes256-sha2_512-modp2048", false, 0},
		{"3des-sha1-modp1024", true, "3des-sha1-modp1024", true, 0},
		{"aes-sha1;dh2", true, "aes-sha1-modp1024", true, 0},
		{"chacha20poly1305-prfsha256-curve25519", true, "", false, 2},
		{"aes128gcm16,aes128-sha1!", false, "aes128gcm16,aes128-sha1", false, 0},
		{"aes_gcm-null,aes128-sha1", false, "aes128-sha1", false, 1},
	}
	for _, tt := range tests {
		out, legacy, warns := importProposals(tt.in, tt.phase1)
		if out != tt.out || legacy != tt.legacy || len(warns) != tt.warns {
			t.Errorf("%q: %q %v %q", tt.in, out, legacy, warns)
		}
	}
}

func FuzzImportNMConnection(f *testing.F) {
	for _, n := range []string{"office.nmconnection", "plain-l2tp.nmconnection", "old-psk.nmconnection"} {
		b, err := os.ReadFile(filepath.Join("testdata", "nm", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := ImportNMConnection(data)
		if err != nil {
			return
		}
		// What it accepts, Store.Import can save or explains why not.
		im.Profile.Validate()
		ExportProfile(im.Profile)
	})
}
