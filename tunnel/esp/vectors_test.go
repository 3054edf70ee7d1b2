package esp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
)

// Known-answer tests. Every expected value comes from outside this package:
// RFC 3602 section 4 (AES-CBC, and ESP packets using it), the ESP test
// cases of draft-mcgrew-gcm-test-01 (AES-GCM per RFC 4106), RFC 2202
// (HMAC-SHA1, HMAC-MD5), RFC 4231 (HMAC-SHA256) and RFC 4868 2.7.2.1
// (HMAC-SHA256 with the 32-byte keys ESP uses).

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAuthKey is an HMAC-SHA1 key for vectors that only specify a cipher key.
var testAuthKey = bytes.Repeat([]byte{0x5a}, 20)

func cat(b ...[]byte) []byte { return bytes.Join(b, nil) }

// RFC 3602 section 4, cases 1-4: the AES-CBC step of Seal with a given IV.
func TestRFC3602AESCBC(t *testing.T) {
	cases := []struct{ key, iv, pt, ct string }{
		{"06a9214036b8a15b512e03d534120006", "3dafba429d9eb430b422da802c9fac41",
			hex.EncodeToString([]byte("Single block msg")),
			"e353779c1079aeb82708942dbe77181a"},
		{"c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"},
		{"6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
			hex.EncodeToString([]byte("This is a 48-byte message (exactly 3 AES blocks)")),
			"d0a02b3836451753d493665d33f0e886 2dea54cdb293abc7506939276772f8d5 021c19216bad525c8579695d83ba2684"},
		{"56e47a38c5598974bc46903dba290349", "8ce82eefbea0da3c44699ed7db51b7d9",
			"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf b0b1b2b3b4b5b6b7b8b9babbbcbdbebf c0c1c2c3c4c5c6c7c8c9cacbcccdcecf d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
			"c30e32ffedc0774e6aff6af0869f71aa 0f3af07a9a31a9c684db207eb0ef8e4e 35907aa632c3ffdf868bb7b29d3d46ad 83ce9f9a102ee99d49a53e87f4c3da55"},
	}
	for i, c := range cases {
		sa, err := NewSA(1, AESCBC_HMACSHA1, cat(unhex(t, c.key), testAuthKey))
		if err != nil {
			t.Fatal(err)
		}
		data := unhex(t, c.pt)
		sc := sa.pool.Get().(*scratch)
		sa.cbcEncrypt(sc, unhex(t, c.iv), data)
		if want := unhex(t, c.ct); !bytes.Equal(data, want) {
			t.Errorf("case %d: got %x, want %x", i+1, data, want)
		}
	}
}

// RFC 3602 section 4, cases 5-8: ESP packets with AES-CBC (the RFC gives
// them without ICV; ours is checked against crypto/hmac).
var rfc3602ESP = []struct {
	key      string
	spi, seq uint32
	iv       string
	payload  string
	nh       byte
	packet   string // SPI to the end of the ciphertext
}{
	{"90d382b410eeba7ad938c46cec1a82bf", 0x4321, 1, "e96e8c08ab465763fd098d45dd3ff893",
		"08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637", 1,
		"0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6"},
	{"90d382b410eeba7ad938c46cec1a82bf", 0x4321, 8, "69d08df7d203329db093fc4924e5bd80",
		"0800b5e8a80a0500a69c083d0b660e00777777777777777777777777", 1,
		"000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109689bb379d2d750c0d915dca346a89f75"},
	{"0123456789abcdef0123456789abcdef", 0x8765, 2, "f4e765244f6407adf13dc1380f673f37",
		"45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637", 4,
		"0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0ea1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"},
	{"0123456789abcdef0123456789abcdef", 0x8765, 5, "85d47224b5f3dd5d2101d4ea8dffab22",
		"45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 4,
		"000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb13892"},
}

func TestRFC3602ESP(t *testing.T) {
	for i, c := range rfc3602ESP {
		keymat := cat(unhex(t, c.key), testAuthKey)
		payload, want := unhex(t, c.payload), unhex(t, c.packet)
		mac := hmac.New(sha1.New, testAuthKey)
		mac.Write(want)
		icv := mac.Sum(nil)[:12]

		// Outbound: Seal's framing and protection with the RFC's IV.
		sa, err := NewSA(c.spi, AESCBC_HMACSHA1, keymat)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		start, off := 16, 16+sa.head
		Header(buf[start:]).Encode(c.spi, c.seq)
		copy(buf[start+HeaderLen:], unhex(t, c.iv))
		end := off + copy(buf[off:], payload)
		sc := sa.pool.Get().(*scratch)
		stop := sa.protect(sc, buf, start, sa.trailer(buf, off, end, c.nh))
		if got := buf[start:stop]; !bytes.Equal(got, cat(want, icv)) {
			t.Errorf("case %d: sealed\n%x\nwant\n%x", i+5, got, cat(want, icv))
		}

		// Inbound: Open through the API.
		rx, err := NewSA(c.spi, AESCBC_HMACSHA1, keymat)
		if err != nil {
			t.Fatal(err)
		}
		pkt := cat(want, icv)
		o, e, nh, err := rx.Open(pkt, 0, len(pkt))
		if err != nil {
			t.Fatalf("case %d: Open: %v", i+5, err)
		}
		if !bytes.Equal(pkt[o:e], payload) || nh != c.nh {
			t.Errorf("case %d: opened %x nh %d, want %x nh %d", i+5, pkt[o:e], nh, payload, c.nh)
		}
	}
}

// The ESP test cases of draft-mcgrew-gcm-test-01 section 4 without
// extended sequence numbers (8-byte AAD = SPI || seq). The plaintext there
// includes the ESP trailer. Key lengths 128, 256, 192 and 128 bits; the last
// case has an empty payload and sequence number 2^32-1.
var gcmESP = []struct {
	key, salt string
	spi, seq  uint32
	iv        string
	plaintext string // payload, padding, pad length, next header
	ct, tag   string
}{
	{"feffe9928665731c6d6a8f9467308308", "cafebabe", 0x0000a5f8, 0x0000000a, "facedbaddecaf888",
		"4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d001000001000000000000037369700963796265726369747902646b00000100010001",
		"deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
		"83b70d3aa8bc6ee4c309e9d85a41ad4a"},
	{"abbccddef00112233445566778899aababbccddef00112233445566778899aab", "11223344", 0x4a2cbfe3, 0x00000002, "0102030405060708",
		"4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b40101040201020201",
		"ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99def842d8e",
		"b335f4eecfdbf831824b4c4915956c96"},
	{"feffe9928665731c6d6a8f9467308308feffe9928665731c", "cafebabe", 0x0000a5f8, 0x0000000a, "facedbaddecaf888",
		"45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
		"a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0315b27452144cc77",
		"95457b9652037f5318027b5b4cd7a636"},
	{"7d773d00c144c525ac619d18c84a3f47", "d9664267", 0x335467ae, 0xffffffff, "43457e9182443bc6",
		"01020201",
		"437f866b",
		"cb3f699fe9b0822bac961c4504bef270"},
}

func TestGCMESPVectors(t *testing.T) {
	for i, c := range gcmESP {
		keymat := cat(unhex(t, c.key), unhex(t, c.salt))
		pt := unhex(t, c.plaintext)
		padLen := int(pt[len(pt)-2])
		payload, nextHeader := pt[:len(pt)-2-padLen], pt[len(pt)-1]
		var hdr [HeaderLen]byte
		Header(hdr[:]).Encode(c.spi, c.seq)
		want := cat(hdr[:], unhex(t, c.iv), unhex(t, c.ct), unhex(t, c.tag))

		sa, err := NewSA(c.spi, AESGCM16, keymat)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		start := 16
		copy(buf[start:], want[:sa.head]) // header and the vector's IV
		off := start + sa.head
		end := off + copy(buf[off:], payload)
		sc := sa.pool.Get().(*scratch)
		stop := sa.protect(sc, buf, start, sa.trailer(buf, off, end, nextHeader))
		if got := buf[start:stop]; !bytes.Equal(got, want) {
			t.Errorf("case %d: sealed\n%x\nwant\n%x", i, got, want)
		}

		rx, err := NewSA(c.spi, AESGCM16, keymat)
		if err != nil {
			t.Fatal(err)
		}
		pkt := bytes.Clone(want)
		o, e, nh, err := rx.Open(pkt, 0, len(pkt))
		if err != nil {
			t.Fatalf("case %d: Open: %v", i, err)
		}
		if !bytes.Equal(pkt[o:e], payload) || nh != nextHeader {
			t.Errorf("case %d: opened %x nh %d, want %x nh %d", i, pkt[o:e], nh, payload, nextHeader)
		}
	}
}

// The GCM IV a Seal writes is the sequence counter (RFC 4106 3.1).
func TestGCMIVIsCounter(t *testing.T) {
	sa := mustSA(t, AESGCM16, 16)
	buf := make([]byte, 128)
	for want := uint64(1); want <= 3; want++ {
		start, _, err := sa.Seal(buf, 32, 40, 17)
		if err != nil {
			t.Fatal(err)
		}
		iv := buf[start+HeaderLen : start+HeaderLen+8]
		if got := uint64(iv[6])<<8 | uint64(iv[7]); got != want || !bytes.Equal(iv[:6], make([]byte, 6)) {
			t.Errorf("IV %x, want counter %d", iv, want)
		}
	}
}

type macVector struct {
	key, data, mac string // hex; mac possibly already truncated
}

func repeatHex(b byte, n int) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, n)) }
func strHex(s string) string         { return hex.EncodeToString([]byte(s)) }

var (
	key01to19  = "0102030405060708090a0b0c0d0e0f10111213141516171819"
	keyJefe    = strHex("Jefe")
	dataJefe   = strHex("what do ya want for nothing?")
	dataLarge1 = strHex("Test Using Larger Than Block-Size Key - Hash Key First")
	dataLarge2 = strHex("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data")
)

// RFC 2202 section 3.
var hmacSHA1Vectors = []macVector{
	{repeatHex(0x0b, 20), strHex("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
	{keyJefe, dataJefe, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{repeatHex(0xaa, 20), repeatHex(0xdd, 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
	{key01to19, repeatHex(0xcd, 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
	{repeatHex(0x0c, 20), strHex("Test With Truncation"), "4c1a03424b55e07fe7f27be1"}, // HMAC-SHA1-96 (digest-96)
	{repeatHex(0xaa, 80), dataLarge1, "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
	{repeatHex(0xaa, 80), dataLarge2, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
}

// RFC 2202 section 2.
var hmacMD5Vectors = []macVector{
	{repeatHex(0x0b, 16), strHex("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
	{keyJefe, dataJefe, "750c783e6ab0b503eaa86e310a5db738"},
	{repeatHex(0xaa, 16), repeatHex(0xdd, 50), "56be34521d144c88dbb8c733f0e8b3f6"},
	{key01to19, repeatHex(0xcd, 50), "697eaf0aca3a3aea3a75164746ffaa79"},
	{repeatHex(0x0c, 16), strHex("Test With Truncation"), "56461ef2342edc00f9bab995"}, // HMAC-MD5-96
	{repeatHex(0xaa, 80), dataLarge1, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
	{repeatHex(0xaa, 80), dataLarge2, "6f630fad67cda0ee1fb1f562db3aa53e"},
}

// RFC 4231 section 4 (cases 1-6), then RFC 4868 2.7.2.1 (32-byte keys).
var hmacSHA256Vectors = []macVector{
	{repeatHex(0x0b, 20), strHex("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{keyJefe, dataJefe, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{repeatHex(0xaa, 20), repeatHex(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{key01to19, repeatHex(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{repeatHex(0x0c, 20), strHex("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"}, // 128-bit truncation
	{repeatHex(0xaa, 131), dataLarge1, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},

	{repeatHex(0x0b, 32), strHex("Hi There"), "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
	{strings.Repeat(keyJefe, 8), dataJefe, "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6"},
	{repeatHex(0xaa, 32), repeatHex(0xdd, 50), "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0"},
	{key01to19 + "1a1b1c1d1e1f20", repeatHex(0xcd, 50), "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f"},
}

// TestHMACVectors checks the truncated-ICV computation: through an SA where
// the vector's key has the length ESP uses (which also checks that the
// integrity key is taken from after the cipher key), and through the
// truncation helper with the suite's hash for any other key length.
func TestHMACVectors(t *testing.T) {
	for _, g := range []struct {
		suite   Suite
		vectors []macVector
	}{
		{AESCBC_HMACSHA1, hmacSHA1Vectors},
		{AESCBC_HMACMD5, hmacMD5Vectors},
		{AESCBC_HMACSHA256, hmacSHA256Vectors},
		{TDESCBC_HMACSHA1, hmacSHA1Vectors},
		{TDESCBC_HMACMD5, hmacMD5Vectors},
	} {
		p := g.suite.params()
		for i, v := range g.vectors {
			key, data, full := unhex(t, v.key), unhex(t, v.data), unhex(t, v.mac)
			n := min(len(full), p.icvLen)
			want := full[:n]
			var sum [32]byte
			got := truncatedMAC(hmac.New(p.newHash, key), &sum, data, p.icvLen)
			if !bytes.Equal(got[:n], want) || len(got) != p.icvLen {
				t.Errorf("%v vector %d: got %x, want %x", g.suite, i, got, want)
			}
			if len(key) != p.authKeyLen {
				continue
			}
			encKey := bytes.Repeat([]byte{0x42}, p.keyLens[len(p.keyLens)-1])
			sa, err := NewSA(7, g.suite, cat(encKey, key))
			if err != nil {
				t.Fatal(err)
			}
			if got := sa.icv(sa.rx, data); !bytes.Equal(got[:n], want) || len(got) != p.icvLen {
				t.Errorf("%v vector %d via SA: got %x, want %x", g.suite, i, got, want)
			}
		}
	}
}
