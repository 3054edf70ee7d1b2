package ike

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

func TestVendorIDs(t *testing.T) {
	sum := func(s string) []byte { h := md5.Sum([]byte(s)); return h[:] }
	for name, c := range map[string]struct{ got, want []byte }{
		"RFC 3947":    {vidRFC3947, sum("RFC 3947")},
		"draft-02\\n": {vidDraft02n, sum("draft-ietf-ipsec-nat-t-ike-02\n")},
		"draft-02":    {vidDraft02, sum("draft-ietf-ipsec-nat-t-ike-02")},
		"draft-03":    {vidDraft03, sum("draft-ietf-ipsec-nat-t-ike-03")},
		// RFC 3706 section 5.3: 12 fixed bytes, then major 1, minor 0.
		"DPD": {vidDPD, append(mustHex("afcad71368a1f1c96b8696fc7757"), 1, 0)},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: %x, want %x", name, c.got, c.want)
		}
	}
	if !bytes.Equal(mustHex("00ff7fa0"), []byte{0, 0xff, 0x7f, 0xa0}) {
		t.Error("mustHex")
	}
}

func TestMODPPrimes(t *testing.T) {
	bits := map[Group]int{MODP1024: 1024, MODP1536: 1536, MODP2048: 2048, MODP3072: 3072, MODP4096: 4096}
	if len(modpPrimes) != len(bits) {
		t.Fatalf("%d primes, want %d", len(modpPrimes), len(bits))
	}
	for g, n := range bits {
		t.Run(g.String(), func(t *testing.T) {
			t.Parallel()
			h := strings.ReplaceAll(modpPrimes[g], " ", "")
			if !strings.HasPrefix(h, "FFFFFFFFFFFFFFFF") || !strings.HasSuffix(h, "FFFFFFFFFFFFFFFF") {
				t.Errorf("prime does not start and end with 64 one bits")
			}
			p, err := primeOf(g)
			if err != nil {
				t.Fatal(err)
			}
			if p.BitLen() != n || len(h) != n/4 {
				t.Fatalf("%d bits (%d hex digits), want %d", p.BitLen(), len(h), n)
			}
			if !p.ProbablyPrime(20) {
				t.Fatal("p is not prime")
			}
			q := new(big.Int).Rsh(p, 1) // (p-1)/2 for odd p
			if !q.ProbablyPrime(20) {
				t.Fatal("(p-1)/2 is not prime: not a safe prime")
			}
		})
	}
	if _, err := primeOf(Group(22)); !errors.Is(err, errGroup) {
		t.Errorf("group 22: %v", err)
	}
	if _, err := newDH(Group(1), rand.Reader); !errors.Is(err, errGroup) {
		t.Errorf("newDH(group 1): %v", err)
	}
}

func TestDH(t *testing.T) {
	for _, g := range []Group{MODP1024, MODP2048, MODP4096} {
		a, err := newDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		n := (a.p.BitLen() + 7) / 8
		if len(a.pub) != n || len(b.pub) != n {
			t.Fatalf("%v: public values of %d and %d bytes, want %d", g, len(a.pub), len(b.pub), n)
		}
		s1, err1 := a.shared(b.pub)
		s2, err2 := b.shared(a.pub)
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || len(s1) != n {
			t.Fatalf("%v: shared secrets differ or fail: %v %v", g, err1, err2)
		}
		pad := func(x *big.Int) []byte { return x.FillBytes(make([]byte, n)) }
		one := big.NewInt(1)
		pm1 := new(big.Int).Sub(a.p, one)
		for name, v := range map[string][]byte{
			"0":          make([]byte, n),
			"1":          pad(one),
			"p-1":        pad(pm1),
			"p":          pad(a.p),
			"all ones":   bytes.Repeat([]byte{0xff}, n),
			"long":       append([]byte{0}, b.pub...),
			"empty":      nil,
			"1 unpadded": {1},
		} {
			if _, err := a.shared(v); err == nil {
				t.Errorf("%v: shared accepted %s", g, name)
			}
		}
		// 2 padded is a valid (if weak) generator value: accepted.
		if _, err := a.shared(pad(big.NewInt(2))); err != nil {
			t.Errorf("%v: shared(2): %v", g, err)
		}
		// A value sent without its leading zeros (SoftEther) is the same
		// number as padded: the same secret.
		short := b.pub[1:]
		s3, err3 := a.shared(short)
		s4, err4 := a.shared(pad(new(big.Int).SetBytes(short)))
		if err3 != nil || err4 != nil || !bytes.Equal(s3, s4) {
			t.Errorf("%v: an unpadded value and its padded form: %v %v, same %v", g, err3, err4, bytes.Equal(s3, s4))
		}
	}
	// A deterministic exponent: the public value is 2^x mod p.
	x := bytes.Repeat([]byte{0x01}, 64)
	k, err := newDH(MODP2048, bytes.NewReader(x))
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Exp(big.NewInt(2), new(big.Int).SetBytes(x), k.p)
	if new(big.Int).SetBytes(k.pub).Cmp(want) != 0 {
		t.Error("public value is not 2^x mod p")
	}
	if _, err := newDH(MODP2048, bytes.NewReader(x[:10])); err == nil {
		t.Error("newDH with a short random source succeeded")
	}
}

// hm is an HMAC written out independently of prf.
func hm(h func() hash.Hash, key []byte, data ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func TestDeriveP1(t *testing.T) {
	psk := []byte("pre-shared key")
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	gxy := bytes.Repeat([]byte{3}, 256)
	ci, cr := [8]byte{4, 4, 4, 4, 4, 4, 4, 4}, [8]byte{5, 5, 5, 5, 5, 5, 5, 5}
	for _, c := range []struct {
		s      IKESuite
		h      func() hash.Hash
		expand bool
	}{
		{IKESuite{CipherAESCBC, 32, HashSHA1, MODP2048}, sha1.New, true},      // 20 < 32
		{IKESuite{Cipher3DES, 24, HashSHA1, MODP1024}, sha1.New, true},        // 20 < 24
		{IKESuite{Cipher3DES, 24, HashMD5, MODP1024}, md5.New, true},          // 16 < 24
		{IKESuite{CipherAESCBC, 32, HashMD5, MODP1024}, md5.New, true},        // 16 < 32: K1|K2 exactly
		{IKESuite{CipherAESCBC, 16, HashSHA1, MODP2048}, sha1.New, false},     // prefix
		{IKESuite{CipherAESCBC, 32, HashSHA256, MODP2048}, sha256.New, false}, // exactly
		{IKESuite{CipherAESCBC, 16, HashSHA384, MODP2048}, sha512.New384, false},
		{IKESuite{CipherAESCBC, 32, HashSHA512, MODP2048}, sha512.New, false},
	} {
		k := deriveP1(c.s, psk, ni, nr, gxy, ci, cr)
		// RFC 2409 5 and 5.4, written out.
		skeyid := hm(c.h, psk, ni, nr)
		d := hm(c.h, skeyid, gxy, ci[:], cr[:], []byte{0})
		a := hm(c.h, skeyid, d, gxy, ci[:], cr[:], []byte{1})
		e := hm(c.h, skeyid, a, gxy, ci[:], cr[:], []byte{2})
		if !bytes.Equal(k.skeyid, skeyid) || !bytes.Equal(k.d, d) || !bytes.Equal(k.a, a) || !bytes.Equal(k.e, e) {
			t.Fatalf("%v: SKEYID chain differs", c.s)
		}
		var want []byte
		if c.expand {
			// Appendix B: Ka = K1 | K2 | K3, K1 = prf(SKEYID_e, 0),
			// K2 = prf(SKEYID_e, K1), K3 = prf(SKEYID_e, K2).
			k1 := hm(c.h, e, []byte{0})
			k2 := hm(c.h, e, k1)
			k3 := hm(c.h, e, k2)
			want = append(append(append([]byte(nil), k1...), k2...), k3...)[:c.s.KeyLen]
		} else {
			want = e[:c.s.KeyLen]
		}
		if len(k.encKey) != c.s.KeyLen || !bytes.Equal(k.encKey, want) {
			t.Errorf("%v: key %x, want %x", c.s, k.encKey, want)
		}
		if _, err := blockCipher(c.s.Cipher, k.encKey); err != nil {
			t.Errorf("%v: %v", c.s, err)
		}
	}
}

func TestKeymat(t *testing.T) {
	skeyidD := bytes.Repeat([]byte{7}, 20)
	spi := []byte{0x81, 2, 3, 4}
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, gxy := range [][]byte{nil, bytes.Repeat([]byte{9}, 256)} {
		// RFC 2409 5.5: K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
		// K2 = prf(SKEYID_d, K1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), ...
		k1 := hm(sha1.New, skeyidD, gxy, []byte{protoESP}, spi, ni, nr)
		k2 := hm(sha1.New, skeyidD, k1, gxy, []byte{protoESP}, spi, ni, nr)
		k3 := hm(sha1.New, skeyidD, k2, gxy, []byte{protoESP}, spi, ni, nr)
		all := append(append(append([]byte(nil), k1...), k2...), k3...)
		for _, n := range []int{1, 20, 21, 36, 52, 60} {
			got := keymat(HashSHA1, skeyidD, gxy, protoESP, spi, ni, nr, n)
			if len(got) != n || !bytes.Equal(got, all[:n]) {
				t.Errorf("pfs %v n %d: %x, want %x", gxy != nil, n, got, all[:n])
			}
		}
	}
	// Each direction has its own SPI and so its own keys.
	a := keymat(HashSHA256, skeyidD, nil, protoESP, []byte{0x81, 0, 0, 1}, ni, nr, 36)
	b := keymat(HashSHA256, skeyidD, nil, protoESP, []byte{0x81, 0, 0, 2}, ni, nr, 36)
	if bytes.Equal(a, b) {
		t.Error("keying material does not depend on the SPI")
	}
	if len(keymat(HashSHA1, skeyidD, nil, protoESP, spi, ni, nr, 0)) != 0 {
		t.Error("keymat(0) not empty")
	}
}

func TestPRFDigestNATD(t *testing.T) {
	key := []byte("key")
	if !bytes.Equal(prf(HashSHA256, key, []byte("a"), []byte("bc")), hm(sha256.New, key, []byte("abc"))) {
		t.Error("prf is not HMAC of the concatenation")
	}
	d := sha1.Sum([]byte("abc"))
	if !bytes.Equal(digest(HashSHA1, []byte("ab"), []byte("c")), d[:]) {
		t.Error("digest")
	}
	ci, cr := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, [8]byte{8, 7, 6, 5, 4, 3, 2, 1}
	ap := netip.MustParseAddrPort("192.0.2.1:4500")
	want := sha256.Sum256(append(append(append(ci[:], cr[:]...), 192, 0, 2, 1), 0x11, 0x94))
	if !bytes.Equal(natdHash(HashSHA256, ci, cr, ap), want[:]) {
		t.Error("natdHash is not HASH(CKY-I | CKY-R | IP | Port)")
	}
	for _, h := range []Hash{HashMD5, HashSHA1, HashSHA256, HashSHA384, HashSHA512} {
		if h.New() == nil || strings.HasPrefix(h.String(), "hash-") {
			t.Errorf("hash %d", h)
		}
	}
	if Hash(9).New() != nil || Hash(9).String() != "hash-9" {
		t.Error("unknown hash")
	}
}

func TestEncryptDecrypt(t *testing.T) {
	for _, c := range []struct {
		c   Cipher
		key []byte
	}{
		{CipherAESCBC, bytes.Repeat([]byte{1}, 16)},
		{CipherAESCBC, bytes.Repeat([]byte{1}, 32)},
		{Cipher3DES, []byte("0123456789abcdefghijklmn")},
	} {
		b, err := blockCipher(c.c, c.key)
		if err != nil {
			t.Fatal(err)
		}
		bs := b.BlockSize()
		iv := bytes.Repeat([]byte{0x5a}, bs)
		for n := 0; n <= 3*bs+1; n++ {
			plain := bytes.Repeat([]byte{byte(n)}, n)
			ct := encrypt(b, iv, plain)
			if len(ct)%bs != 0 || len(ct) <= n || len(ct) > n+bs {
				t.Fatalf("%v: %d bytes -> %d", c.c, n, len(ct))
			}
			got, err := decrypt(b, iv, ct)
			if err != nil || len(got) != len(ct) || !bytes.Equal(got[:n], plain) {
				t.Fatalf("%v: round trip of %d bytes: %v", c.c, n, err)
			}
			if int(got[len(got)-1]) != len(ct)-n-1 {
				t.Fatalf("%v: pad length byte %d for %d bytes of padding", c.c, got[len(got)-1], len(ct)-n)
			}
			if !bytes.Equal(lastBlock(ct, bs), ct[len(ct)-bs:]) {
				t.Fatal("lastBlock")
			}
		}
		for _, n := range []int{0, 1, bs - 1, bs + 1} {
			if _, err := decrypt(b, iv, make([]byte, n)); !errors.Is(err, errCiphertext) {
				t.Errorf("%v: decrypt of %d bytes: %v", c.c, n, err)
			}
		}
	}
	if _, err := blockCipher(Cipher(1), make([]byte, 8)); err == nil {
		t.Error("DES accepted")
	}
	if _, err := blockCipher(CipherAESCBC, make([]byte, 20)); err == nil {
		t.Error("AES with a 20-byte key accepted")
	}
}

func TestParseSuites(t *testing.T) {
	ike, err := ParseIKE(Notations(DefaultIKE), false)
	if err != nil || len(ike) != len(DefaultIKE) {
		t.Fatalf("ParseIKE(defaults): %v, %v", ike, err)
	}
	for i := range ike {
		if ike[i] != DefaultIKE[i] {
			t.Errorf("IKE %d: %v, want %v", i, ike[i], DefaultIKE[i])
		}
	}
	es, err := ParseESP(Notations(DefaultESP), false)
	if err != nil || len(es) != len(DefaultESP) {
		t.Fatalf("ParseESP(defaults): %v, %v", es, err)
	}
	for i := range es {
		if es[i] != DefaultESP[i] {
			t.Errorf("ESP %d: %v, want %v", i, es[i], DefaultESP[i])
		}
	}
	if got := Notations(DefaultIKE); got != "aes256-sha256-modp2048,aes128-sha256-modp2048,aes256-sha1-modp2048,aes128-sha1-modp2048" {
		t.Errorf("IKE notations %q", got)
	}
	if got := Notations(DefaultESP); got != "aes128gcm16,aes256gcm16,aes128-sha256,aes256-sha256,aes128-sha1,aes256-sha1" {
		t.Errorf("ESP notations %q", got)
	}
	// Legacy suites round trip only with the switch.
	if _, err := ParseIKE(Notations(LegacyIKE), false); !errors.Is(err, ErrLegacy) {
		t.Errorf("legacy IKE without the switch: %v", err)
	}
	if got, err := ParseIKE(Notations(LegacyIKE), true); err != nil || len(got) != len(LegacyIKE) || got[3] != LegacyIKE[3] {
		t.Errorf("legacy IKE with the switch: %v, %v", got, err)
	}
	if got, err := ParseESP(Notations(LegacyESP), true); err != nil || len(got) != len(LegacyESP) || got[0] != LegacyESP[0] {
		t.Errorf("legacy ESP with the switch: %v, %v", got, err)
	}
	for _, item := range []string{"3des-sha1-modp2048", "aes128-md5-modp2048", "aes128-sha1-modp1024", "aes128-sha1-modp1536"} {
		if _, err := ParseIKE(item, false); !errors.Is(err, ErrLegacy) || !strings.Contains(err.Error(), item) {
			t.Errorf("ParseIKE(%q): %v", item, err)
		}
		if _, err := ParseIKE(item, true); err != nil {
			t.Errorf("ParseIKE(%q, legacy): %v", item, err)
		}
	}
	for _, item := range []string{"3des-sha1", "3des-md5", "aes128-md5", "aes128-sha1-modp1024", "aes128gcm16-modp1536"} {
		if _, err := ParseESP(item, false); !errors.Is(err, ErrLegacy) || !strings.Contains(err.Error(), item) {
			t.Errorf("ParseESP(%q): %v", item, err)
		}
		if _, err := ParseESP(item, true); err != nil {
			t.Errorf("ParseESP(%q, legacy): %v", item, err)
		}
	}
	// Unknown names: the error names the item and the part.
	for _, c := range []struct{ list, part string }{
		{"aes256-sha256", "aes256-sha256"},
		{"blowfish-sha1-modp2048", "blowfish"},
		{"aes128-sha3-modp2048", "sha3"},
		{"aes128-sha1-ecp256", "ecp256"},
		{"aes128-sha1-modp2048,aes-bad-modp2048", "bad"},
		{"", `""`},
	} {
		_, err := ParseIKE(c.list, true)
		if err == nil || !strings.Contains(err.Error(), c.part) {
			t.Errorf("ParseIKE(%q): %v", c.list, err)
		}
	}
	for _, c := range []struct{ list, part string }{
		{"chacha20poly1305", "chacha20poly1305"},
		{"des-sha1", "des"},
		{"aes128-sha512", "sha512"},
		{"aes128-xcbc", "xcbc"},
		{"3desgcm16", "3desgcm16"},
		{"aes128-sha1-modp2048-x", "aes128-sha1-modp2048-x"},
		{"modp2048", "modp2048"},
		{"", `""`},
	} {
		_, err := ParseESP(c.list, true)
		if err == nil || !strings.Contains(err.Error(), c.part) {
			t.Errorf("ParseESP(%q): %v", c.list, err)
		}
	}
	// Named examples.
	for _, c := range []struct {
		in   string
		want ESPSuite
	}{
		{"aes128gcm16", ESPSuite{Suite: esp.AESGCM16, KeyLen: 16}},
		{"AES256GCM16", ESPSuite{Suite: esp.AESGCM16, KeyLen: 32}},
		{"aes256-sha1", ESPSuite{Suite: esp.AESCBC_HMACSHA1, KeyLen: 32}},
		{"aes128-sha256", ESPSuite{Suite: esp.AESCBC_HMACSHA256, KeyLen: 16}},
		{"aes-sha2_256", ESPSuite{Suite: esp.AESCBC_HMACSHA256, KeyLen: 16}},
		{"aes256-sha256-modp2048", ESPSuite{Suite: esp.AESCBC_HMACSHA256, KeyLen: 32, PFS: MODP2048}},
		{" aes192-sha1 ", ESPSuite{Suite: esp.AESCBC_HMACSHA1, KeyLen: 24}},
	} {
		got, err := ParseESP(c.in, false)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("ParseESP(%q) = %v, %v", c.in, got, err)
		}
	}
	if got, err := ParseIKE("aes256-sha256-modp2048, 3DES-MD5-MODP1024", true); err != nil || len(got) != 2 ||
		got[0] != (IKESuite{CipherAESCBC, 32, HashSHA256, MODP2048}) || got[1] != (IKESuite{Cipher3DES, 24, HashMD5, MODP1024}) {
		t.Errorf("ParseIKE list: %v, %v", got, err)
	}
	// Strings.
	if s := (IKESuite{CipherAESCBC, 16, HashSHA1, MODP3072}).String(); s != "AES-CBC-128/SHA1/MODP3072" {
		t.Errorf("IKESuite.String %q", s)
	}
	if s := (IKESuite{Cipher3DES, 24, HashMD5, MODP1024}).Notation(); s != "3des-md5-modp1024" {
		t.Errorf("IKESuite.Notation %q", s)
	}
	if s := (ESPSuite{Suite: esp.AESCBC_HMACSHA256, KeyLen: 16, PFS: MODP4096}).Notation(); s != "aes128-sha256-modp4096" {
		t.Errorf("ESPSuite.Notation %q", s)
	}
	if Group(99).String() != "group-99" {
		t.Error("unknown group")
	}
}

func TestNotifyTypeWords(t *testing.T) {
	for _, c := range []struct {
		t           NotifyType
		name, words string
		isErr       bool
	}{
		{14, "NO-PROPOSAL-CHOSEN", "accepted none", true},
		{18, "INVALID-ID-INFORMATION", "identity", true},
		{23, "INVALID-HASH-INFORMATION", "pre-shared key", true},
		{24, "AUTHENTICATION-FAILED", "pre-shared key", true},
		{36136, "R-U-THERE", "dead peer", false},
		{999, "NOTIFY-999", "the server reported error 999", true},
		{40000, "NOTIFY-40000", "the server sent status 40000", false},
	} {
		if c.t.String() != c.name || !strings.Contains(c.t.Words(), c.words) || c.t.IsError() != c.isErr {
			t.Errorf("%d: %q %q %v", uint16(c.t), c.t.String(), c.t.Words(), c.t.IsError())
		}
	}
	if NotifyType(0).IsError() {
		t.Error("type 0 is an error")
	}
	e := &NotifyError{Phase: "phase 2", Type: NotifyNoProposalChosen, Offer: "aes128gcm16,aes256-sha1"}
	s := e.Error()
	for _, w := range []string{"phase 2", "NO-PROPOSAL-CHOSEN", "accepted none", "we offered aes128gcm16,aes256-sha1"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
	if s := (&NotifyError{Phase: "phase 1", Type: NotifyAuthenticationFailed}).Error(); strings.Contains(s, "offered") {
		t.Errorf("no offer, yet %q", s)
	}
}

func TestTransforms(t *testing.T) {
	// Phase 1: every suite encodes to a transform that matches it.
	all := append(append([]IKESuite(nil), DefaultIKE...), LegacyIKE...)
	for i, s := range all {
		tr := p1Transform(i+1, s, time.Hour)
		if got, err := matchP1(tr, all); err != nil || got != s {
			t.Errorf("matchP1(%v) = %v, %v", s, got, err)
		}
		if d, ok := lifeOf(tr, p1AttrLifeType, p1AttrLifeDur); !ok || d != time.Hour {
			t.Errorf("%v: life %v %v", s, d, ok)
		}
		if _, err := matchP1(tr, nil); !errors.Is(err, ErrProposal2) {
			t.Errorf("matchP1 with no offer: %v", err)
		}
	}
	tr := p1Transform(1, DefaultIKE[0], time.Hour)
	for i := range tr.Attrs {
		if tr.Attrs[i].Type == p1AttrAuth {
			tr.Attrs[i].Value = 3 // RSA signatures
		}
	}
	if _, err := matchP1(tr, DefaultIKE); !errors.Is(err, ErrProposal2) || !strings.Contains(err.Error(), "authentication") {
		t.Errorf("RSA auth: %v", err)
	}
	// AES key length must match.
	tr = p1Transform(1, IKESuite{CipherAESCBC, 24, HashSHA256, MODP2048}, time.Hour)
	if _, err := matchP1(tr, DefaultIKE); !errors.Is(err, ErrProposal2) {
		t.Errorf("AES-192 matched: %v", err)
	}
	// Phase 2, both NAT-T flavours.
	es := append(append([]ESPSuite(nil), DefaultESP...), LegacyESP...)
	for _, n := range []natt{{rfc: true}, {draft: true}} {
		for i, s := range es {
			tr := p2Transform(i+1, s, n, 30*time.Minute)
			if v, _ := tr.Attr(p2AttrEncap); v != n.encapTransport() {
				t.Errorf("%v: encapsulation %d", s, v)
			}
			if got, err := matchP2(tr, es, n); err != nil || got != s {
				t.Errorf("%v %v: matchP2 = %v, %v", n, s, got, err)
			}
			if d, ok := lifeOf(tr, p2AttrLifeType, p2AttrLifeDur); !ok || d != 30*time.Minute {
				t.Errorf("%v: life %v", s, d)
			}
			other := natt{rfc: !n.rfc, draft: n.rfc}
			if _, err := matchP2(tr, es, other); !errors.Is(err, ErrProposal2) {
				t.Errorf("%v: matched with the other encapsulation mode", s)
			}
		}
	}
	// With PFS (all proposals share the group, checkPFS).
	pfs := []ESPSuite{{Suite: esp.AESCBC_HMACSHA1, KeyLen: 16, PFS: MODP2048}, {Suite: esp.AESGCM16, KeyLen: 32, PFS: MODP2048}}
	for i, s := range pfs {
		tr := p2Transform(i+1, s, natt{rfc: true}, time.Hour)
		if v, _ := tr.Attr(p2AttrGroup); v != uint64(MODP2048) {
			t.Errorf("%v: group attribute %d", s, v)
		}
		if got, err := matchP2(tr, pfs, natt{rfc: true}); err != nil || got != s {
			t.Errorf("PFS %v: matchP2 = %v, %v", s, got, err)
		}
	}
	if checkPFS(pfs) != nil || checkPFS(append(pfs, DefaultESP[0])) == nil {
		t.Error("checkPFS")
	}
	if natt.String(natt{rfc: true}) != "RFC 3947" || (natt{draft: true}).String() != "draft" ||
		(natt{draft: true}).natdType() != PayloadNATDDraft || (natt{rfc: true}).natoaType() != PayloadNATOA {
		t.Error("natt helpers")
	}
	// lifeOf needs seconds and a non-zero duration.
	if _, ok := lifeOf(Transform{Attrs: []Attr{{Type: 1, Value: 2}, {Type: 2, Value: 100}}}, 1, 2); ok {
		t.Error("kilobytes read as a lifetime")
	}
	if _, ok := lifeOf(Transform{Attrs: []Attr{{Type: 1, Value: 1}, {Type: 2, Value: 0}}}, 1, 2); ok {
		t.Error("zero lifetime accepted")
	}
	// RESPONDER-LIFETIME data.
	var b []byte
	b = appendAttr(b, Attr{Type: p2AttrLifeType, Value: lifeSeconds})
	b = appendAttr(b, Attr{Type: p2AttrLifeDur, Value: 100000})
	if d, ok := responderLifetime(b); !ok || d != 24*time.Hour { // 27.8 h, clamped
		t.Errorf("responderLifetime = %v %v", d, ok)
	}
	if _, ok := responderLifetime(b[:3]); ok {
		t.Error("responderLifetime of junk")
	}
}

func TestRekeyAt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct{ life, early time.Duration }{
		{time.Hour, 5 * time.Minute},
		{8 * time.Hour, 5 * time.Minute},
		{20 * time.Minute, 2 * time.Minute},
		{3 * time.Second, 300 * time.Millisecond},
	} {
		if got := rekeyAt(t0, c.life); !got.Equal(t0.Add(c.life - c.early)) {
			t.Errorf("rekeyAt(%v) = %v after birth", c.life, got.Sub(t0))
		}
	}
}

// testIKESA is an ikeSA with fixed keys, for sealing tests.
func testIKESA(t *testing.T, s IKESuite) *ikeSA {
	t.Helper()
	sa := &ikeSA{suite: s, ci: [8]byte{1}, cr: [8]byte{2}}
	sa.keys = deriveP1(s, []byte("k"), []byte("nonce-i-nonce-i"), []byte("nonce-r-nonce-r"), bytes.Repeat([]byte{3}, 256), sa.ci, sa.cr)
	var err error
	if sa.block, err = blockCipher(s.Cipher, sa.keys.encKey); err != nil {
		t.Fatal(err)
	}
	sa.lastIV = bytes.Repeat([]byte{0x42}, sa.block.BlockSize())
	return sa
}

func TestIKESASealOpen(t *testing.T) {
	for _, s := range []IKESuite{DefaultIKE[0], LegacyIKE[3]} {
		sa := testIKESA(t, s)
		const mid = 0x12345679
		var mb [4]byte
		binary.BigEndian.PutUint32(mb[:], mid)
		iv := sa.p2IV(mid)
		if want := digest(s.Hash, sa.lastIV, mb[:])[:sa.block.BlockSize()]; !bytes.Equal(iv, want) {
			t.Fatalf("p2IV %x, want %x", iv, want)
		}
		ps := sa.hashed(mb[:], []Payload{{PayloadNotify, Notify{Type: NotifyRUThere, Data: []byte{0, 0, 0, 1}}.Append(nil)}})
		if ps[0].Type != PayloadHash || len(ps) != 2 {
			t.Fatalf("hashed: %v", ps)
		}
		msg, last := sa.seal(ExchangeInformational, mid, iv, ps)
		h, body, err := ParseHeader(msg)
		if err != nil || h.Flags()&FlagEncryption == 0 || h.MessageID() != mid || h.NextPayload() != PayloadHash {
			t.Fatalf("sealed header: %v", err)
		}
		if !bytes.Equal(last, body[len(body)-sa.block.BlockSize():]) {
			t.Fatal("seal's last block is not the message's")
		}
		got, plain, last2, err := sa.open(h, body, iv)
		if err != nil || len(got) != 2 || !bytes.Equal(last2, last) {
			t.Fatalf("open: %v %v", got, err)
		}
		if err := sa.checkHash(got, plain, mb[:]); err != nil {
			t.Fatalf("checkHash: %v", err)
		}
		// Another message ID, another prefix: the hash fails.
		if err := sa.checkHash(got, plain, []byte{0, 0, 0, 1}); err == nil {
			t.Fatal("checkHash accepted a wrong prefix")
		}
		if err := sa.checkHash(got[1:], plain[4+len(got[0].Body):], mb[:]); err == nil {
			t.Fatal("checkHash accepted a message without HASH")
		}
		// Tampering with a ciphertext byte of the first block garbles
		// the whole chain: open or checkHash fails.
		bad := append([]byte(nil), msg...)
		bad[HeaderLen+5] ^= 1
		h2, body2, _ := ParseHeader(bad)
		if got, plain, _, err := sa.open(h2, body2, iv); err == nil && sa.checkHash(got, plain, mb[:]) == nil {
			t.Fatal("tampered message verified")
		}
		// A wrong IV is the same as a wrong key for the first block.
		if got, plain, _, err := sa.open(h, body, make([]byte, len(iv))); err == nil && sa.checkHash(got, plain, mb[:]) == nil {
			t.Fatal("opened with a wrong IV")
		}
		if _, _, _, err := sa.open(h, body[:len(body)-1], iv); err == nil {
			t.Fatal("opened a body that is not whole blocks")
		}
	}
}
