package esp

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

var allSuites = []Suite{AESCBC_HMACSHA1, AESCBC_HMACSHA256, AESGCM16, TDESCBC_HMACSHA1, AESCBC_HMACMD5, TDESCBC_HMACMD5}

// testKeymat returns deterministic keying material for s.
func testKeymat(s Suite, encKeyLen int) []byte {
	k := make([]byte, s.KeyMaterialLen(encKeyLen))
	for i := range k {
		k[i] = byte(i*7 + int(s))
	}
	return k
}

const testSPI = 0xc0ffee01

func mustSA(t testing.TB, s Suite, encKeyLen int) *SA {
	t.Helper()
	sa, err := NewSA(testSPI, s, testKeymat(s, encKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return sa
}

// pair returns an outbound and an inbound SA with the same keys.
func pair(t testing.TB, s Suite, encKeyLen int) (tx, rx *SA) {
	return mustSA(t, s, encKeyLen), mustSA(t, s, encKeyLen)
}

type config struct {
	suite     Suite
	encKeyLen int
}

func (c config) String() string { return c.suite.Name(c.encKeyLen) }

func allConfigs() []config {
	var cs []config
	for _, s := range allSuites {
		for _, l := range s.EncKeyLens() {
			cs = append(cs, config{s, l})
		}
	}
	return cs
}

func TestSuiteInfo(t *testing.T) {
	cases := []struct {
		s               Suite
		name            string // Name(largest key)
		str             string
		authKey         int
		keyLens         []int
		keymat          int // KeyMaterialLen(largest key)
		head, maxTail   int
		ivLen, icv      int
		smallestKeyName string
	}{
		{AESCBC_HMACSHA1, "AES-CBC-256/HMAC-SHA1-96", "AES-CBC/HMAC-SHA1-96", 20, []int{16, 24, 32}, 52, 24, 29, 16, 12, "AES-CBC-128/HMAC-SHA1-96"},
		{AESCBC_HMACSHA256, "AES-CBC-256/HMAC-SHA2-256-128", "AES-CBC/HMAC-SHA2-256-128", 32, []int{16, 24, 32}, 64, 24, 33, 16, 16, "AES-CBC-128/HMAC-SHA2-256-128"},
		{AESGCM16, "AES-GCM-16-256", "AES-GCM-16", 0, []int{16, 24, 32}, 36, 16, 21, 8, 16, "AES-GCM-16-128"},
		{TDESCBC_HMACSHA1, "3DES-CBC/HMAC-SHA1-96", "3DES-CBC/HMAC-SHA1-96", 20, []int{24}, 44, 16, 21, 8, 12, "3DES-CBC/HMAC-SHA1-96"},
		{AESCBC_HMACMD5, "AES-CBC-256/HMAC-MD5-96", "AES-CBC/HMAC-MD5-96", 16, []int{16, 24, 32}, 48, 24, 29, 16, 12, "AES-CBC-128/HMAC-MD5-96"},
		{TDESCBC_HMACMD5, "3DES-CBC/HMAC-MD5-96", "3DES-CBC/HMAC-MD5-96", 16, []int{24}, 40, 16, 21, 8, 12, "3DES-CBC/HMAC-MD5-96"},
	}
	for _, c := range cases {
		big := c.keyLens[len(c.keyLens)-1]
		if got := c.s.Name(big); got != c.name {
			t.Errorf("%d.Name(%d) = %q, want %q", c.s, big, got, c.name)
		}
		if got := c.s.Name(c.keyLens[0]); got != c.smallestKeyName {
			t.Errorf("%d.Name(%d) = %q, want %q", c.s, c.keyLens[0], got, c.smallestKeyName)
		}
		if got := c.s.String(); got != c.str {
			t.Errorf("%d.String() = %q, want %q", c.s, got, c.str)
		}
		if got := c.s.AuthKeyLen(); got != c.authKey {
			t.Errorf("%v.AuthKeyLen() = %d, want %d", c.s, got, c.authKey)
		}
		if got := c.s.EncKeyLens(); !slices.Equal(got, c.keyLens) {
			t.Errorf("%v.EncKeyLens() = %v, want %v", c.s, got, c.keyLens)
		}
		if got := c.s.KeyMaterialLen(big); got != c.keymat {
			t.Errorf("%v.KeyMaterialLen(%d) = %d, want %d", c.s, big, got, c.keymat)
		}
		if got := c.s.KeyMaterialLen(20); got != 0 {
			t.Errorf("%v.KeyMaterialLen(20) = %d, want 0", c.s, got)
		}
		if h, m := c.s.Overhead(); h != c.head || m != c.maxTail {
			t.Errorf("%v.Overhead() = %d, %d, want %d, %d", c.s, h, m, c.head, c.maxTail)
		}
		if p := c.s.params(); p.ivLen != c.ivLen || p.icvLen != c.icv {
			t.Errorf("%v: iv %d icv %d, want %d %d", c.s, p.ivLen, p.icvLen, c.ivLen, c.icv)
		}
	}
	// The caller must not be able to change the table through EncKeyLens.
	AESGCM16.EncKeyLens()[0] = 99
	if AESGCM16.EncKeyLens()[0] != 16 {
		t.Error("EncKeyLens returned the shared slice")
	}
	for _, s := range []Suite{0, 7, 255} {
		if s.String() != fmt.Sprintf("Suite(%d)", s) || s.AuthKeyLen() != 0 || s.EncKeyLens() != nil || s.KeyMaterialLen(16) != 0 {
			t.Errorf("unknown suite %d: %q", s, s)
		}
		if h, m := s.Overhead(); h != 0 || m != 0 {
			t.Errorf("unknown suite %d: Overhead %d %d", s, h, m)
		}
	}
}

func TestNewSAErrors(t *testing.T) {
	for _, s := range allSuites {
		for _, l := range s.EncKeyLens() {
			n := s.KeyMaterialLen(l)
			if _, err := NewSA(1, s, make([]byte, n)); err != nil {
				t.Errorf("%v with %d bytes: %v", s, n, err)
			}
		}
		for _, n := range []int{0, 1, 16, 20, 33, 100} {
			if slices.ContainsFunc(s.EncKeyLens(), func(l int) bool { return s.KeyMaterialLen(l) == n }) {
				continue
			}
			if _, err := NewSA(1, s, make([]byte, n)); !errors.Is(err, ErrKeyLength) {
				t.Errorf("%v with %d bytes of keymat: err %v, want ErrKeyLength", s, n, err)
			}
		}
		if _, err := NewSA(0, s, testKeymat(s, s.EncKeyLens()[0])); !errors.Is(err, ErrSPI) {
			t.Errorf("%v with SPI 0: err %v, want ErrSPI", s, err)
		}
	}
	if _, err := NewSA(1, 0, make([]byte, 36)); !errors.Is(err, ErrSuite) {
		t.Errorf("suite 0: %v", err)
	}
	if _, err := NewSA(1, 42, make([]byte, 36)); !errors.Is(err, ErrSuite) {
		t.Errorf("suite 42: %v", err)
	}
	_, err := NewSA(1, AESCBC_HMACSHA1, make([]byte, 40))
	t.Logf("message: %v", err)
	sa := mustSA(t, AESCBC_HMACSHA256, 32)
	if sa.SPI() != testSPI || sa.Suite() != AESCBC_HMACSHA256 || sa.SeqNumber() != 0 {
		t.Errorf("SA accessors: %x %v %d", sa.SPI(), sa.Suite(), sa.SeqNumber())
	}
}

// NewSA keeps copies of the keys.
func TestNewSACopiesKeys(t *testing.T) {
	for _, s := range allSuites {
		k := testKeymat(s, s.EncKeyLens()[0])
		tx, err := NewSA(testSPI, s, k)
		if err != nil {
			t.Fatal(err)
		}
		clear(k)
		rx := mustSA(t, s, s.EncKeyLens()[0])
		buf := make([]byte, 256)
		copy(buf[64:], "payload")
		start, stop, err := tx.Seal(buf, 64, 71, 17)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := rx.Open(buf, start, stop); err != nil {
			t.Errorf("%v: Open after the caller wiped the keys: %v", s, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	lens := make([]int, 0, 302)
	for n := range 301 {
		lens = append(lens, n)
	}
	lens = append(lens, 1400)
	for _, c := range allConfigs() {
		t.Run(c.String(), func(t *testing.T) {
			tx, rx := pair(t, c.suite, c.encKeyLen)
			p := c.suite.params()
			head, maxTail := c.suite.Overhead()
			buf := make([]byte, 2048)
			for i, n := range lens {
				off := 100 + i%7 // any alignment of the payload in the buffer
				end := off + n
				want := make([]byte, n)
				for j := range want {
					want[j] = byte(j*31 + n)
				}
				copy(buf[off:], want)
				nh := byte(i)
				start, stop, err := tx.Seal(buf[:end], off, end, nh)
				if err != nil {
					t.Fatalf("len %d: Seal: %v", n, err)
				}
				ctLen := stop - start - head - p.icvLen
				if start != off-head || ctLen%p.align != 0 || ctLen < n+2 || ctLen > n+2+p.align-1 || stop-end > maxTail {
					t.Fatalf("len %d: packet [%d,%d) for payload [%d,%d)", n, start, stop, off, end)
				}
				h := Header(buf[start:])
				if h.SPI() != testSPI || h.Seq() != uint32(i+1) || tx.SeqNumber() != uint32(i+1) {
					t.Fatalf("len %d: header spi %x seq %d", n, h.SPI(), h.Seq())
				}
				if n >= 16 && bytes.Contains(buf[start:stop], want[:16]) {
					t.Fatalf("len %d: plaintext visible in the packet", n)
				}
				if spi, ok := PeekSPI(buf[start:stop]); !ok || spi != testSPI {
					t.Fatalf("PeekSPI = %x, %v", spi, ok)
				}
				o, e, gotNH, err := rx.Open(buf, start, stop)
				if err != nil {
					t.Fatalf("len %d: Open: %v", n, err)
				}
				if o != off || e != end || gotNH != nh || !bytes.Equal(buf[o:e], want) {
					t.Fatalf("len %d: opened [%d,%d) nh %d %x", n, o, e, gotNH, buf[o:e])
				}
			}
		})
	}
}

// Two packets with the same payload get different IVs and ciphertexts.
func TestIVsDiffer(t *testing.T) {
	for _, s := range allSuites {
		sa := mustSA(t, s, s.EncKeyLens()[0])
		head, _ := s.Overhead()
		seen := map[string]bool{}
		for range 100 {
			buf := make([]byte, 128)
			start, _, err := sa.Seal(buf, 40, 72, 17)
			if err != nil {
				t.Fatal(err)
			}
			iv := string(buf[start+HeaderLen : start+head])
			if seen[iv] {
				t.Fatalf("%v: IV %x repeated", s, iv)
			}
			seen[iv] = true
		}
	}
}

func sealOne(t testing.TB, tx *SA, payload string) []byte {
	t.Helper()
	buf := make([]byte, 64+len(payload)+64)
	copy(buf[64:], payload)
	start, stop, err := tx.Seal(buf, 64, 64+len(payload), 17)
	if err != nil {
		t.Fatal(err)
	}
	return buf[start:stop]
}

func TestTamper(t *testing.T) {
	for _, c := range allConfigs() {
		tx, rx := pair(t, c.suite, c.encKeyLen)
		pkt := sealOne(t, tx, "UDP header + L2TP + PPP + IP")
		for i := range pkt {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(pkt)
				bad[i] ^= bit
				want := ErrAuth
				switch {
				case i < 4:
					want = ErrSPI
				case Header(bad).Seq() == 0: // never sent: rejected before the ICV
					want = ErrReplay
				}
				if _, _, _, err := rx.Open(bad, 0, len(bad)); err != want {
					t.Fatalf("%v: byte %d ^%#x: err %v, want %v", c, i, bit, err, want)
				}
			}
		}
		// Truncated and extended packets fail too.
		for _, bad := range [][]byte{bytes.Clone(pkt[:len(pkt)-1]), bytes.Clone(pkt[:len(pkt)-4]), append(bytes.Clone(pkt), 0, 0, 0, 0), append(bytes.Clone(pkt), make([]byte, 16)...)} {
			if _, _, _, err := rx.Open(bad, 0, len(bad)); err == nil {
				t.Fatalf("%v: %d-byte packet from a %d-byte one accepted", c, len(bad), len(pkt))
			}
		}
		// None of the failures moved the window.
		if _, _, _, err := rx.Open(pkt, 0, len(pkt)); err != nil {
			t.Fatalf("%v: genuine packet after tampered ones: %v", c, err)
		}
	}
}

func TestWrongKey(t *testing.T) {
	for _, s := range allSuites {
		tx := mustSA(t, s, s.EncKeyLens()[0])
		k := testKeymat(s, s.EncKeyLens()[0])
		k[len(k)-1] ^= 1 // the integrity key, or the GCM salt
		rx, err := NewSA(testSPI, s, k)
		if err != nil {
			t.Fatal(err)
		}
		pkt := sealOne(t, tx, "hello")
		if _, _, _, err := rx.Open(pkt, 0, len(pkt)); err != ErrAuth {
			t.Errorf("%v: err %v, want ErrAuth", s, err)
		}
	}
}

func TestWrongSPI(t *testing.T) {
	tx := mustSA(t, AESGCM16, 16)
	rx, err := NewSA(testSPI+1, AESGCM16, testKeymat(AESGCM16, 16))
	if err != nil {
		t.Fatal(err)
	}
	pkt := sealOne(t, tx, "x")
	if _, _, _, err := rx.Open(pkt, 0, len(pkt)); err != ErrSPI {
		t.Errorf("err %v, want ErrSPI", err)
	}
}

func TestShortAndMisaligned(t *testing.T) {
	for _, c := range allConfigs() {
		_, rx := pair(t, c.suite, c.encKeyLen)
		p := c.suite.params()
		head, _ := c.suite.Overhead()
		hdr := make([]byte, HeaderLen)
		Header(hdr).Encode(testSPI, 1)
		for n := 0; n <= head+p.icvLen+2*p.align; n++ {
			pkt := make([]byte, n)
			copy(pkt, hdr)
			_, _, _, err := rx.Open(pkt, 0, n)
			ctLen := n - head - p.icvLen
			var want error
			switch {
			case n < HeaderLen:
				want = ErrShort
			case ctLen < 2:
				want = ErrShort
			case ctLen%p.align != 0:
				want = ErrLength
			default:
				want = ErrAuth
			}
			if err != want {
				t.Fatalf("%v: %d-byte packet: err %v, want %v", c, n, err, want)
			}
		}
	}
}

func TestReplay(t *testing.T) {
	for _, c := range allConfigs() {
		tx, rx := pair(t, c.suite, c.encKeyLen)
		pkt := sealOne(t, tx, "once")
		if _, _, _, err := rx.Open(bytes.Clone(pkt), 0, len(pkt)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := rx.Open(bytes.Clone(pkt), 0, len(pkt)); err != ErrReplay {
			t.Errorf("%v: replay: err %v, want ErrReplay", c, err)
		}
	}
}

// Packets sealed in order and opened out of order, as the network may
// deliver them: within the window each is accepted once.
func TestReplayWindowSA(t *testing.T) {
	tx, rx := pair(t, AESCBC_HMACSHA1, 16)
	const n = 3000
	pkts := make([][]byte, n+1) // by sequence number
	for i := 1; i <= n; i++ {
		pkts[i] = sealOne(t, tx, "p")
	}
	open := func(seq int) error {
		p := bytes.Clone(pkts[seq])
		_, _, _, err := rx.Open(p, 0, len(p))
		return err
	}
	mustOpen := func(seq int, want error) {
		t.Helper()
		if err := open(seq); err != want {
			t.Fatalf("seq %d: err %v, want %v", seq, err, want)
		}
	}
	mustOpen(2000, nil)
	mustOpen(2000-1023, nil) // the oldest in the window
	mustOpen(2000-1024, ErrReplay)
	mustOpen(1, ErrReplay)
	mustOpen(1500, nil)
	mustOpen(1500, ErrReplay)
	mustOpen(1999, nil)
	mustOpen(2001, nil)
	mustOpen(2000, ErrReplay)
	mustOpen(2999, nil) // a jump
	mustOpen(2001, ErrReplay)
	mustOpen(2999-1023, nil)
	mustOpen(2999-1024, ErrReplay)
	mustOpen(3000, nil)

	// An authentic packet far ahead: big jumps are fine.
	tx.seq.Store(1_000_000)
	far := sealOne(t, tx, "far")
	if _, _, _, err := rx.Open(far, 0, len(far)); err != nil {
		t.Fatalf("jump to 1000001: %v", err)
	}
	mustOpen(3000, ErrReplay)
}

// A packet that fails the ICV check must not move the window: otherwise a
// forged packet with a high sequence number would lock out genuine ones.
func TestReplayWindowNotMovedByForgery(t *testing.T) {
	for _, s := range allSuites {
		tx, rx := pair(t, s, s.EncKeyLens()[0])
		pkts := make([][]byte, 6)
		for i := 1; i <= 5; i++ {
			pkts[i] = sealOne(t, tx, "genuine")
		}
		// A forgery claiming sequence number 5000, and a tampered copy of 5.
		forged := bytes.Clone(pkts[5])
		Header(forged).Encode(testSPI, 5000)
		tampered := bytes.Clone(pkts[5])
		tampered[len(tampered)-1] ^= 1
		for _, p := range [][]byte{forged, tampered} {
			if _, _, _, err := rx.Open(p, 0, len(p)); err != ErrAuth {
				t.Fatalf("%v: forgery: %v", s, err)
			}
		}
		for _, i := range []int{5, 1, 2, 4, 3} {
			if _, _, _, err := rx.Open(pkts[i], 0, len(pkts[i])); err != nil {
				t.Fatalf("%v: seq %d after forgeries: %v", s, i, err)
			}
		}
	}
}

// The window against a plain model of RFC 4303 3.4.3.
func TestReplayWindowModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var w window
		seen := map[uint32]bool{}
		var top uint32
		for range 20000 {
			var seq uint32
			switch k := r.IntN(10); {
			case k < 6 && top > 0: // near the edge of the window
				seq = top - uint32(r.IntN(ReplayWindow+64)) + 16
			case k < 9:
				seq = top + uint32(r.IntN(200))
			default:
				seq = top + uint32(r.IntN(100000)) // jump
			}
			if round == 0 && r.IntN(100) == 0 {
				seq = math.MaxUint32 - uint32(r.IntN(3))
			}
			want := seq != 0 && !seen[seq] && (seq > top || top-seq < ReplayWindow)
			if got := w.check(seq); got != want {
				t.Fatalf("round %d: check(%d) with top %d = %v, want %v", round, seq, top, got, want)
			}
			if want && r.IntN(8) != 0 { // some accepted packets fail the ICV
				w.update(seq)
				seen[seq] = true
				top = max(top, seq)
			}
			if w.top != top {
				t.Fatalf("top %d, want %d", w.top, top)
			}
		}
	}
}

// sealWithTrailer builds an authentic packet whose trailer is written by
// fix instead of trailer: a sender with broken padding.
func sealWithTrailer(t *testing.T, sa *SA, payloadLen int, fix func(tr []byte)) []byte {
	t.Helper()
	buf := make([]byte, 1024)
	off := 64
	start := off - sa.head
	sa.writeIV(buf[start:off], 1)
	Header(buf[start:]).Encode(sa.spi, 1)
	end := off + payloadLen
	ctEnd := sa.trailer(buf, off, end, 17)
	fix(buf[end:ctEnd])
	sc := sa.pool.Get().(*scratch)
	stop := sa.protect(sc, buf, start, ctEnd)
	return buf[start:stop]
}

func TestPadding(t *testing.T) {
	for _, c := range allConfigs() {
		tx := mustSA(t, c.suite, c.encKeyLen)
		align := c.suite.params().align
		open := func(pkt []byte) error {
			rx := mustSA(t, c.suite, c.encKeyLen)
			_, _, _, err := rx.Open(pkt, 0, len(pkt))
			return err
		}
		// 1 byte of payload: the padding is align-3 bytes long.
		padLen := align - 3
		badByte := sealWithTrailer(t, tx, 1, func(tr []byte) { tr[0] = 0 })
		if err := open(badByte); err != ErrPadding {
			t.Errorf("%v: pad byte 0: err %v, want ErrPadding", c, err)
		}
		badLast := sealWithTrailer(t, tx, 1, func(tr []byte) { tr[padLen-1]++ })
		if err := open(badLast); err != ErrPadding {
			t.Errorf("%v: last pad byte wrong: err %v, want ErrPadding", c, err)
		}
		tooLong := sealWithTrailer(t, tx, 1, func(tr []byte) { tr[padLen] = byte(padLen + 2) })
		if err := open(tooLong); err != ErrPadding {
			t.Errorf("%v: pad length past the payload: err %v, want ErrPadding", c, err)
		}
		huge := sealWithTrailer(t, tx, 1, func(tr []byte) { tr[padLen] = 255 })
		if err := open(huge); err != ErrPadding {
			t.Errorf("%v: pad length 255: err %v, want ErrPadding", c, err)
		}
		good := sealWithTrailer(t, tx, 1, func([]byte) {})
		if err := open(good); err != nil {
			t.Errorf("%v: untouched trailer: %v", c, err)
		}
	}
}

// A sender may pad with more than the minimum (RFC 4303 2.4, e.g. for
// traffic flow confidentiality): here 255 bytes, the most the pad length
// can say.
func TestMaximalPaddingAccepted(t *testing.T) {
	for _, c := range allConfigs() {
		tx, rx := pair(t, c.suite, c.encKeyLen)
		align := c.suite.params().align
		buf := make([]byte, 1024)
		off := 64
		start := off - tx.head
		tx.writeIV(buf[start:off], 1)
		Header(buf[start:]).Encode(tx.spi, 1)
		// payload + 255 + 2 must be aligned.
		payloadLen := -(255 + 2) & (align - 1)
		end := off + payloadLen
		copy(buf[off:end], "abcdefghijklmnopqrstuvwxyz")
		copy(buf[end:], padPattern[:255])
		buf[end+255] = 255
		buf[end+256] = 4
		stop := tx.protect(tx.pool.Get().(*scratch), buf, start, end+257)
		o, e, nh, err := rx.Open(buf, start, stop)
		if err != nil || o != off || e != end || nh != 4 {
			t.Errorf("%v: 255 bytes of padding: [%d,%d) nh %d err %v", c, o, e, nh, err)
		}
	}
}

func TestNoRoom(t *testing.T) {
	for _, s := range allSuites {
		sa := mustSA(t, s, s.EncKeyLens()[0])
		head, maxTail := s.Overhead()
		buf := make([]byte, 256)
		end := 100
		if _, _, err := sa.Seal(buf, head-1, end, 17); err != ErrNoRoom {
			t.Errorf("%v: off = head-1: %v", s, err)
		}
		if _, _, err := sa.Seal(buf[:end:end+maxTail-1], head, end, 17); err != ErrNoRoom {
			t.Errorf("%v: tail room maxTail-1: %v", s, err)
		}
		if sa.SeqNumber() != 0 {
			t.Errorf("%v: ErrNoRoom used up sequence number %d", s, sa.SeqNumber())
		}
		// Exactly enough room, with len(buf) == end: Seal grows into cap.
		start, stop, err := sa.Seal(buf[:end:end+maxTail], head, end, 17)
		if err != nil || start != 0 || stop > end+maxTail {
			t.Errorf("%v: exact room: [%d,%d) %v", s, start, stop, err)
		}
	}
}

func TestSealBoundsPanic(t *testing.T) {
	sa := mustSA(t, AESGCM16, 16)
	for _, b := range [][2]int{{50, 40}, {-1, 10}, {40, 300}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Seal(off %d, end %d) did not panic", b[0], b[1])
				}
			}()
			sa.Seal(make([]byte, 256), b[0], b[1], 17)
		}()
	}
}

func TestSeqExhausted(t *testing.T) {
	for _, s := range allSuites {
		tx, rx := pair(t, s, s.EncKeyLens()[0])
		tx.seq.Store(math.MaxUint32 - 1)
		last := sealOne(t, tx, "last")
		if h := Header(last); h.Seq() != math.MaxUint32 {
			t.Errorf("%v: last seq %d", s, h.Seq())
		}
		if _, _, _, err := rx.Open(last, 0, len(last)); err != nil {
			t.Errorf("%v: open seq 2^32-1: %v", s, err)
		}
		buf := make([]byte, 128)
		for range 3 {
			if _, _, err := tx.Seal(buf, 32, 40, 17); err != ErrSeqExhausted {
				t.Errorf("%v: err %v, want ErrSeqExhausted", s, err)
			}
		}
		if tx.SeqNumber() != math.MaxUint32 {
			t.Errorf("%v: SeqNumber %d", s, tx.SeqNumber())
		}
	}
}

func TestConcurrentSeal(t *testing.T) {
	for _, s := range []Suite{AESCBC_HMACSHA1, AESGCM16, TDESCBC_HMACMD5} {
		tx, rx := pair(t, s, s.EncKeyLens()[0])
		const workers, each = 4, 500
		pkts := make([][]byte, workers*each+1)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					p := sealOne(t, tx, fmt.Sprintf("worker %d packet %d", w, i))
					seq := Header(p).Seq()
					mu.Lock()
					if seq == 0 || int(seq) >= len(pkts) || pkts[seq] != nil {
						t.Errorf("%v: duplicate or stray sequence number %d", s, seq)
					} else {
						pkts[seq] = p
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for seq := 1; seq < len(pkts); seq++ {
			if _, _, _, err := rx.Open(pkts[seq], 0, len(pkts[seq])); err != nil {
				t.Fatalf("%v: seq %d: %v", s, seq, err)
			}
		}
		if tx.SeqNumber() != workers*each {
			t.Errorf("SeqNumber %d", tx.SeqNumber())
		}
	}
}

func TestAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation")
	}
	for _, c := range allConfigs() {
		tx, rx := pair(t, c.suite, c.encKeyLen)
		buf := make([]byte, 2048)
		const off, n = 128, 1400
		var start, stop int
		var err error
		if a := testing.AllocsPerRun(200, func() {
			start, stop, err = tx.Seal(buf, off, off+n, 17)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err = rx.Open(buf, start, stop); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocations per Seal+Open", c, a)
		}
		if a := testing.AllocsPerRun(200, func() {
			if _, _, err = tx.Seal(buf, off, off+n, 17); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocations per Seal", c, a)
		}
		// Open alone: every packet is a replay after the first, so feed
		// it fresh ones sealed outside the measurement.
		pkts := make([][]byte, 202)
		for i := range pkts {
			pkts[i] = sealOne(t, tx, string(make([]byte, n)))
		}
		i := 0
		if a := testing.AllocsPerRun(200, func() {
			p := pkts[i]
			i++
			if _, _, _, err = rx.Open(p, 0, len(p)); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocations per Open", c, a)
		}
	}
}

func TestPeekSPI(t *testing.T) {
	for _, c := range []struct {
		pkt []byte
		spi uint32
		ok  bool
	}{
		{nil, 0, false},
		{[]byte{0xff}, 0, false}, // NAT keepalive
		{[]byte{1, 2, 3, 4, 0, 0, 0}, 0, false},
		{[]byte{0, 0, 0, 0, 1, 2, 3, 4, 5, 6}, 0, false}, // non-ESP marker: IKE
		{[]byte{1, 2, 3, 4, 0, 0, 0, 1}, 0x01020304, true},
	} {
		if spi, ok := PeekSPI(c.pkt); spi != c.spi || ok != c.ok {
			t.Errorf("PeekSPI(%x) = %x, %v", c.pkt, spi, ok)
		}
	}
}

func TestHeader(t *testing.T) {
	b := make([]byte, HeaderLen)
	Header(b).Encode(0xdeadbeef, 0x01020304)
	if !bytes.Equal(b, []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}) {
		t.Errorf("%x", b)
	}
	if h := Header(b); h.SPI() != 0xdeadbeef || h.Seq() != 0x01020304 {
		t.Errorf("SPI %x Seq %x", h.SPI(), h.Seq())
	}
}

// MaxHeadLen and MaxTailLen bound every suite's Overhead, and are reached.
func TestMaxOverhead(t *testing.T) {
	var maxHead, maxTail int
	for s := Suite(1); int(s) < len(suites); s++ {
		p := s.params()
		if p.ivLen > MaxIVLen || p.icvLen > MaxICVLen || p.align > maxAlign {
			t.Errorf("%v: IV %d, ICV %d, alignment %d beyond MaxIVLen %d, MaxICVLen %d, maxAlign %d",
				s, p.ivLen, p.icvLen, p.align, MaxIVLen, MaxICVLen, maxAlign)
		}
		head, tail := s.Overhead()
		maxHead, maxTail = max(maxHead, head), max(maxTail, tail)
	}
	if maxHead != MaxHeadLen || maxTail != MaxTailLen {
		t.Errorf("largest Overhead %d, %d; MaxHeadLen, MaxTailLen = %d, %d", maxHead, maxTail, MaxHeadLen, MaxTailLen)
	}
}

// Wipe zeroes the key copies the SA holds in byte slices and arrays.
func TestWipe(t *testing.T) {
	for _, c := range allConfigs() {
		tx, rx := pair(t, c.suite, c.encKeyLen)
		buf := make([]byte, 256)
		start, stop, err := tx.Seal(buf, 64, 71, 17)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := rx.Open(buf, start, stop); err != nil {
			t.Fatal(err)
		}
		for _, sa := range []*SA{tx, rx} {
			sa.Wipe()
			sa.Wipe() // twice is fine
			if len(sa.macKey) != c.suite.AuthKeyLen() {
				t.Errorf("%v: HMAC key of %d bytes after Wipe, want %d", c, len(sa.macKey), c.suite.AuthKeyLen())
			}
			if slices.ContainsFunc(sa.macKey, func(b byte) bool { return b != 0 }) || sa.salt != [gcmSaltLen]byte{} ||
				sa.rx.nonce != [12]byte{} {
				t.Errorf("%v: after Wipe: HMAC key % x, salt % x, Open's nonce % x", c, sa.macKey, sa.salt, sa.rx.nonce)
			}
		}
	}
}
