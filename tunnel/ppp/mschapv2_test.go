package ppp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// authHex decodes a hexadecimal string that may contain spaces, as the
// RFCs print their vectors.
func authHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad test hex %q: %v", s, err)
	}
	return b
}

func authHex16(t *testing.T, s string) [16]byte {
	t.Helper()
	var a [16]byte
	if b := authHex(t, s); len(b) != 16 {
		t.Fatalf("test hex %q is %d octets, want 16", s, len(b))
	} else {
		copy(a[:], b)
	}
	return a
}

// The vectors of RFC 2759 section 9.2 ("Hash Example").
const (
	rfcUser          = "User"
	rfcPassword      = "clientPass"
	rfcPasswordUTF16 = "63 00 6C 00 69 00 65 00 6E 00 74 00 50 00 61 00 73 00 73 00"
	rfcAuthChallenge = "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28"
	rfcPeerChallenge = "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E"
	rfcChallenge     = "D0 2E 43 86 BC E9 12 26"
	rfcPasswordHash  = "44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE"
	rfcNTResponse    = "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF"
	rfcPwHashHash    = "41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F"
	rfcAuthResponse  = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
)

func rfcNT(t *testing.T) [24]byte {
	var nt [24]byte
	copy(nt[:], authHex(t, rfcNTResponse))
	return nt
}

func TestRFC2759HashExample(t *testing.T) {
	auth := authHex16(t, rfcAuthChallenge)
	peer := authHex16(t, rfcPeerChallenge)

	if got, want := NTPasswordHash(rfcPassword), md4Sum(authHex(t, rfcPasswordUTF16)); got != want {
		t.Errorf("NTPasswordHash does not hash the UTF-16LE password of section 9.2: %X vs %X", got, want)
	}
	ph := NTPasswordHash(rfcPassword)
	if !bytes.Equal(ph[:], authHex(t, rfcPasswordHash)) {
		t.Errorf("NTPasswordHash = %X, want %s", ph, rfcPasswordHash)
	}
	if phh := md4Sum(ph[:]); !bytes.Equal(phh[:], authHex(t, rfcPwHashHash)) {
		t.Errorf("PasswordHashHash = %X, want %s", phh, rfcPwHashHash)
	}
	if ch := ChallengeHash(peer, auth, rfcUser); !bytes.Equal(ch[:], authHex(t, rfcChallenge)) {
		t.Errorf("ChallengeHash = %X, want %s", ch, rfcChallenge)
	}
	nt := GenerateNTResponse(auth, peer, rfcUser, rfcPassword)
	if nt != rfcNT(t) {
		t.Errorf("GenerateNTResponse = %X, want %s", nt, rfcNTResponse)
	}
	if got := GenerateAuthenticatorResponse(rfcPassword, nt, peer, auth, rfcUser); got != rfcAuthResponse {
		t.Errorf("GenerateAuthenticatorResponse = %q, want %q", got, rfcAuthResponse)
	}
}

// TestRFC2759DESKeyExample checks the key expansion against RFC 2759
// section 9.3 ("Example of DES Key Generation", password "MyPw").
func TestRFC2759DESKeyExample(t *testing.T) {
	ph := NTPasswordHash("MyPw")
	if !bytes.Equal(ph[:], authHex(t, "FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")) {
		t.Fatalf("NTPasswordHash(MyPw) = %X", ph)
	}
	for i, want := range []string{"FD 0B 5B 5E 7F 6E 34 D9", "0E 6E 79 67 37 EA 08 FE"} {
		if k := desKey(ph[7*i : 7*i+7]); !bytes.Equal(k[:], authHex(t, want)) {
			t.Errorf("DES key %d from %X = %X, want %s", i+1, ph[7*i:7*i+7], k, want)
		}
	}
}

func TestDESKeyParity(t *testing.T) {
	for _, raw := range [][]byte{make([]byte, 7), bytes.Repeat([]byte{0xff}, 7), {1, 2, 3, 4, 5, 6, 7}} {
		k := desKey(raw)
		var v uint64
		for i, o := range k {
			ones := 0
			for b := o; b != 0; b &= b - 1 {
				ones++
			}
			if ones%2 != 1 {
				t.Errorf("desKey(%X)[%d] = %08b has even parity", raw, i, o)
			}
			v = v<<7 | uint64(o>>1)
		}
		var back [8]byte
		for i := range 7 {
			back[i] = byte(v >> (48 - 8*i))
		}
		if !bytes.Equal(back[:7], raw) {
			t.Errorf("desKey(%X) lost key bits: %X", raw, back[:7])
		}
	}
}

func TestDomainIsStrippedFromHashes(t *testing.T) {
	auth := authHex16(t, rfcAuthChallenge)
	peer := authHex16(t, rfcPeerChallenge)
	for _, name := range []string{`CORP\User`, `corp.example\User`, `\User`, `A\B\User`} {
		if ChallengeHash(peer, auth, name) != ChallengeHash(peer, auth, rfcUser) {
			t.Errorf("ChallengeHash(%q) differs from the bare user's", name)
		}
		nt := GenerateNTResponse(auth, peer, name, rfcPassword)
		if nt != rfcNT(t) {
			t.Errorf("GenerateNTResponse(%q) = %X, want the RFC's %s", name, nt, rfcNTResponse)
		}
		if got := GenerateAuthenticatorResponse(rfcPassword, nt, peer, auth, name); got != rfcAuthResponse {
			t.Errorf("GenerateAuthenticatorResponse(%q) = %q", name, got)
		}
		if !CheckAuthenticatorResponse(rfcAuthResponse, rfcPassword, nt, peer, auth, name) {
			t.Errorf("CheckAuthenticatorResponse with name %q refused the RFC response", name)
		}
	}
	// The user name is hashed as is otherwise: case and "@realm" matter.
	if ChallengeHash(peer, auth, "user") == ChallengeHash(peer, auth, rfcUser) {
		t.Error("ChallengeHash ignores case")
	}
	if ChallengeHash(peer, auth, "User@corp") == ChallengeHash(peer, auth, rfcUser) {
		t.Error("ChallengeHash strips a UPN suffix")
	}
}

func TestSplitDomainUser(t *testing.T) {
	for _, c := range []struct{ in, domain, user string }{
		{`CORP\alice`, "CORP", "alice"},
		{"alice", "", "alice"},
		{"", "", ""},
		{`\alice`, "", "alice"},
		{`CORP\`, "CORP", ""},
		{`A\B\alice`, `A\B`, "alice"},
		{"alice@corp.example", "", "alice@corp.example"},
	} {
		d, u := SplitDomainUser(c.in)
		if d != c.domain || u != c.user {
			t.Errorf("SplitDomainUser(%q) = (%q, %q), want (%q, %q)", c.in, d, u, c.domain, c.user)
		}
	}
}

func TestNTPasswordHashUnicode(t *testing.T) {
	// "é" is U+00E9, UTF-16LE E9 00; "😀" is U+1F600, surrogates 3D D8 00 DE.
	if got, want := NTPasswordHash("é😀"), md4Sum([]byte{0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde}); got != want {
		t.Errorf("NTPasswordHash(é😀) = %X, want %X", got, want)
	}
	if got, want := NTPasswordHash(""), md4Sum(nil); got != want {
		t.Errorf("NTPasswordHash(\"\") = %X, want %X", got, want)
	}
}

func TestCheckAuthenticatorResponse(t *testing.T) {
	auth := authHex16(t, rfcAuthChallenge)
	peer := authHex16(t, rfcPeerChallenge)
	nt := rfcNT(t)
	hexDigits := rfcAuthResponse[2:]
	flipped := []byte(rfcAuthResponse)
	flipped[len(flipped)-1] ^= 0x01 // '6' -> '7': one bit of the digest
	for _, c := range []struct {
		name string
		msg  string
		ok   bool
	}{
		{"upper", rfcAuthResponse, true},
		{"lower", "S=" + strings.ToLower(hexDigits), true},
		{"mixed", "S=" + strings.ToLower(hexDigits[:20]) + hexDigits[20:], true},
		{"with M=", rfcAuthResponse + " M=Access granted", true},
		{"with empty M=", rfcAuthResponse + " M=", true},
		{"trailing space", rfcAuthResponse + " ", true},
		{"trailing NUL", rfcAuthResponse + "\x00", true},
		{"one bit changed", string(flipped), false},
		{"39 digits", rfcAuthResponse[:len(rfcAuthResponse)-1], false},
		{"41 digits", rfcAuthResponse + "0", false},
		{"M= without space", rfcAuthResponse + "M=hi", false},
		{"junk after", rfcAuthResponse + " X=1", false},
		{"no S=", hexDigits, false},
		{"lower s=", "s=" + hexDigits, false},
		{"leading space", " " + rfcAuthResponse, false},
		{"non-hex", "S=" + strings.Repeat("G", 40), false},
		{"empty", "", false},
		{"S= only", "S=", false},
	} {
		if got := CheckAuthenticatorResponse(c.msg, rfcPassword, nt, peer, auth, rfcUser); got != c.ok {
			t.Errorf("%s: CheckAuthenticatorResponse(%q) = %v, want %v", c.name, c.msg, got, c.ok)
		}
	}
	if CheckAuthenticatorResponse(rfcAuthResponse, "otherPass", nt, peer, auth, rfcUser) {
		t.Error("accepted the response with the wrong password")
	}
	if CheckAuthenticatorResponse(rfcAuthResponse, rfcPassword, nt, auth, peer, rfcUser) {
		t.Error("accepted the response with the challenges swapped")
	}
	if CheckAuthenticatorResponse(rfcAuthResponse, rfcPassword, nt, peer, auth, "Other") {
		t.Error("accepted the response for another user")
	}
}

func TestMSCHAPv2Response(t *testing.T) {
	peer := authHex16(t, rfcPeerChallenge)
	nt := rfcNT(t)
	v := MSCHAPv2Response(peer, nt)
	want := append(append(append(authHex(t, rfcPeerChallenge), make([]byte, 8)...), nt[:]...), 0)
	if !bytes.Equal(v[:], want) {
		t.Errorf("MSCHAPv2Response =\n%X, want\n%X", v, want)
	}
}

// TestMSCHAPv2Exchange runs a client's side of a whole MS-CHAPv2 exchange
// through the packet codecs, with the RFC 2759 section 9.2 values.
func TestMSCHAPv2Exchange(t *testing.T) {
	auth := authHex16(t, rfcAuthChallenge)
	peer := authHex16(t, rfcPeerChallenge)
	chal := []byte{CHAPChallenge, 0x11, 0, 0, 16}
	chal = append(append(chal, auth[:]...), "vpn-server"...)
	chal[3] = byte(len(chal))
	c, err := ParseCHAPChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 0x11 || c.Name != "vpn-server" || !bytes.Equal(c.Value, auth[:]) {
		t.Fatalf("parsed challenge %+v", c)
	}
	var ac [16]byte
	copy(ac[:], c.Value)
	const typed = `CORP\User`
	nt := GenerateNTResponse(ac, peer, typed, rfcPassword)
	val := MSCHAPv2Response(peer, nt)
	resp := AppendCHAPResponse(nil, c.ID, val[:], typed)
	if len(resp) != 4+1+49+len(typed) || resp[4] != 49 || string(resp[54:]) != typed {
		t.Fatalf("response packet % X", resp)
	}
	if !bytes.Equal(resp[5+24:5+48], authHex(t, rfcNTResponse)) {
		t.Errorf("NT-Response in packet = %X", resp[5+24:5+48])
	}
	success := append([]byte{CHAPSuccess, 0x11, 0, 0}, rfcAuthResponse+" M=Welcome"...)
	success[3] = byte(len(success))
	code, id, msg, err := ParseCHAPStatus(success)
	if err != nil || code != CHAPSuccess || id != 0x11 {
		t.Fatalf("ParseCHAPStatus = %d %d %q %v", code, id, msg, err)
	}
	if !CheckAuthenticatorResponse(msg, rfcPassword, nt, peer, ac, typed) {
		t.Errorf("authenticator response %q refused", msg)
	}
}

func TestParseMSCHAPv2Failure(t *testing.T) {
	chal := authHex(t, "00112233445566778899AABBCCDDEEFF")
	for _, c := range []struct {
		name string
		msg  string
		want MSCHAPv2Failure
	}{
		{"SoftEther", "E=691 R=0 C=00112233445566778899AABBCCDDEEFF V=3",
			MSCHAPv2Failure{Code: 691, Challenge: chal, Version: 3}},
		{"with M=", "E=691 R=1 C=00112233445566778899aabbccddeeff V=3 M=Authentication failure",
			MSCHAPv2Failure{Code: 691, Retry: true, Challenge: chal, Version: 3, Message: "Authentication failure"}},
		{"M= keeps spaces and =", "E=648 R=0 V=3 M=  password expired; see X=Y ",
			MSCHAPv2Failure{Code: 648, Version: 3, Message: "  password expired; see X=Y "}},
		{"E only", "E=649", MSCHAPv2Failure{Code: 649}},
		{"any order", "V=3 C=00112233445566778899AABBCCDDEEFF R=1 E=709",
			MSCHAPv2Failure{Code: 709, Retry: true, Challenge: chal, Version: 3}},
		{"extra spaces and NUL", "  E=646  R=0 \x00\x00", MSCHAPv2Failure{Code: 646}},
		{"unknown field skipped", "E=691 X=whatever R=0", MSCHAPv2Failure{Code: 691}},
		{"10-digit code", "E=0000000691", MSCHAPv2Failure{Code: 691}},
		{"empty M=", "E=691 M=", MSCHAPv2Failure{Code: 691}},
	} {
		got, err := ParseMSCHAPv2Failure(c.msg)
		if err != nil {
			t.Errorf("%s: ParseMSCHAPv2Failure(%q): %v", c.name, c.msg, err)
			continue
		}
		if got.Code != c.want.Code || got.Retry != c.want.Retry || got.Version != c.want.Version ||
			got.Message != c.want.Message || !bytes.Equal(got.Challenge, c.want.Challenge) ||
			(got.Challenge == nil) != (c.want.Challenge == nil) {
			t.Errorf("%s: ParseMSCHAPv2Failure(%q) = %+v, want %+v", c.name, c.msg, got, c.want)
		}
	}
}

func TestParseMSCHAPv2FailureRejects(t *testing.T) {
	for _, msg := range []string{
		"",
		"   ",
		"\x00",
		"hello world",
		"Authentication failed",
		"M=no code here",
		"R=1 C=00112233445566778899AABBCCDDEEFF V=3",
		"E=",
		"E=abc",
		"E=-1",
		"E=+691",
		"E=6 91",
		"E=99999999999",
		"E=691 R=2",
		"E=691 R=",
		"E=691 R=yes",
		"E=691 C=0011",
		"E=691 C=00112233445566778899AABBCCDDEEF",
		"E=691 C=00112233445566778899AABBCCDDEEFF00",
		"E=691 C=ZZ112233445566778899AABBCCDDEEFF",
		"E=691 V=three",
		"E=691 E=691",
		"E=691 R=0 R=0",
		"E=691 =x",
		"E=691 garbage",
		"E691",
	} {
		f, err := ParseMSCHAPv2Failure(msg)
		if err == nil {
			t.Errorf("ParseMSCHAPv2Failure(%q) = %+v, want an error", msg, f)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseMSCHAPv2Failure(%q) error %v does not wrap ErrMalformed", msg, err)
		}
	}
}

func TestMSCHAPv2FailureDescribe(t *testing.T) {
	for _, c := range []struct {
		f    MSCHAPv2Failure
		want string
	}{
		{MSCHAPv2Failure{Code: 646}, "logon hours"},
		{MSCHAPv2Failure{Code: 647}, "disabled"},
		{MSCHAPv2Failure{Code: 648}, "expired"},
		{MSCHAPv2Failure{Code: 649}, "dial in"},
		{MSCHAPv2Failure{Code: 691}, "wrong user name or password"},
		{MSCHAPv2Failure{Code: 709}, "changing the password"},
		{MSCHAPv2Failure{Code: 1234}, "MS-CHAPv2 error 1234"},
		{MSCHAPv2Failure{Code: 691, Message: "bad\nline"}, `(server says "bad\nline")`},
	} {
		if got := c.f.Describe(); !strings.Contains(got, c.want) {
			t.Errorf("Describe(%+v) = %q, want it to contain %q", c.f, got, c.want)
		}
	}
	if d := (MSCHAPv2Failure{Code: 691}).Describe(); strings.Contains(d, "server says") {
		t.Errorf("Describe without a message = %q", d)
	}
}
