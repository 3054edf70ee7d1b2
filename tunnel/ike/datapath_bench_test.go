package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"log/slog"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/esp"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// The data path benchmarks time what one 1400-byte IP packet costs on
// its way out (PPP + L2TP + inner UDP + ESP headers written in place, ESP
// sealed) and back in (ESP opened, inner UDP, L2TP and PPP headers
// parsed), without the socket; BenchmarkBareCrypto times only the cipher
// and MAC work on the same number of bytes, in the same run.

const (
	benchPayload  = 1400
	benchHeadroom = 128 // tunnel.Headroom (package tunnel is above this one)
)

// The bench buffers have the room of tunnel's (a compile error otherwise).
const _ uint = benchHeadroom - (ppp.FrameHeaderLen + l2tp.DataHeaderLen + l2tp.TransportHeadroom)

type benchSuite struct {
	name   string
	suite  esp.Suite
	keyLen int
}

var benchSuites = []benchSuite{
	{"AES128-CBC-SHA1", esp.AESCBC_HMACSHA1, 16},
	{"AES256-CBC-SHA1", esp.AESCBC_HMACSHA1, 32},
	{"AES128-CBC-SHA256", esp.AESCBC_HMACSHA256, 16},
	{"AES256-CBC-SHA256", esp.AESCBC_HMACSHA256, 32},
	{"AES128-GCM16", esp.AESGCM16, 16},
	{"AES256-GCM16", esp.AESGCM16, 32},
	{"3DES-CBC-SHA1", esp.TDESCBC_HMACSHA1, 24},
}

func benchKeymat(s benchSuite) []byte {
	km := make([]byte, s.suite.KeyMaterialLen(s.keyLen))
	for i := range km {
		km[i] = byte(i*7 + 1)
	}
	return km
}

// loopConn is a Conn whose outbound and inbound SAs share keys, so what
// it seals it can open.
func loopConn(tb testing.TB, s benchSuite) *Conn {
	km := benchKeymat(s)
	out, err := esp.NewSA(0x80001000, s.suite, km)
	if err != nil {
		tb.Fatal(err)
	}
	in, err := esp.NewSA(0x80001000, s.suite, km)
	if err != nil {
		tb.Fatal(err)
	}
	c := &Conn{cfg: Config{L2TPPort: 1701}, log: slog.New(slog.DiscardHandler), rekeyCh: make(chan struct{}, 1)}
	c.out.Store(out)
	c.in.Store(&inbound{cur: in})
	return c
}

// frame writes the PPP and L2TP data headers in front of the IP packet at
// buf[benchHeadroom:] and returns the L2TP offset.
func frame(buf []byte) int {
	ppp.PutFrameHeader(buf[benchHeadroom-ppp.FrameHeaderLen:], ppp.ProtoIPv4)
	off := benchHeadroom - ppp.FrameHeaderLen - l2tp.DataHeaderLen
	l2tp.PutDataHeader(buf[off:], 1, 1)
	return off
}

// roundTrip is one packet out and back; it returns the IP packet bounds.
func roundTrip(tb testing.TB, c *Conn, buf []byte) (int, int) {
	var tmp *[]byte
	start, stop, b, err := c.encap(buf[:benchHeadroom+benchPayload], frame(buf), &tmp)
	if err != nil || tmp != nil {
		tb.Fatalf("encap: %v (copied: %v)", err, tmp != nil)
	}
	off, n, err := c.decap(b[start:], stop-start)
	if err != nil {
		tb.Fatalf("decap: %v", err)
	}
	pkt := b[start+off : start+off+n]
	_, hoff, end, err := l2tp.ParseHeader(pkt)
	if err != nil {
		tb.Fatalf("l2tp: %v", err)
	}
	proto, ip, err := ppp.ParseFrame(pkt[hoff:end])
	if err != nil || proto != ppp.ProtoIPv4 {
		tb.Fatalf("ppp: %v %v", proto, err)
	}
	first := start + off + end - len(ip)
	return first, start + off + end
}

func TestDataPathRoundTrip(t *testing.T) {
	for _, s := range benchSuites {
		c := loopConn(t, s)
		buf := make([]byte, 2048)
		for i := range buf[benchHeadroom : benchHeadroom+benchPayload] {
			buf[benchHeadroom+i] = byte(i)
		}
		want := append([]byte(nil), buf[benchHeadroom:benchHeadroom+benchPayload]...)
		for i := 0; i < 3; i++ {
			first, last := roundTrip(t, c, buf)
			if first != benchHeadroom || string(buf[first:last]) != string(want) {
				t.Fatalf("%s: packet came back at [%d:%d], want [%d:%d] and the same bytes", s.name, first, last, benchHeadroom, benchHeadroom+benchPayload)
			}
		}
		if raceEnabled {
			continue // the race detector allocates
		}
		if a := testing.AllocsPerRun(100, func() { roundTrip(t, c, buf) }); a != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", s.name, a)
		}
	}
}

func BenchmarkDataPath(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(s.name, func(b *testing.B) {
			c := loopConn(b, s)
			buf := make([]byte, 2048)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				roundTrip(b, c, buf)
			}
		})
	}
}

// BenchmarkDataPathSealParallel seals on every core, as the device
// reader and the L2TP control path may; opening stays on one goroutine
// per SA (the anti-replay window).
func BenchmarkDataPathSealParallel(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(s.name, func(b *testing.B) {
			c := loopConn(b, s)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 2048)
				var tmp *[]byte
				for pb.Next() {
					if _, _, _, err := c.encap(buf[:benchHeadroom+benchPayload], frame(buf), &tmp); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// bare does the cipher and MAC work of one packet out and back on the
// same bytes as ESP would, with nothing else.
type bare struct {
	enc, dec cipher.BlockMode
	ivSet    func(cipher.BlockMode, []byte)
	mac      hash.Hash
	icv      int
	aead     cipher.AEAD
	sum      [64]byte
}

func newBare(tb testing.TB, s benchSuite) *bare {
	km := benchKeymat(s)
	x := &bare{}
	if s.suite == esp.AESGCM16 {
		blk, _ := aes.NewCipher(km[:s.keyLen])
		a, err := cipher.NewGCM(blk)
		if err != nil {
			tb.Fatal(err)
		}
		x.aead = a
		return x
	}
	var blk cipher.Block
	var err error
	if s.suite == esp.TDESCBC_HMACSHA1 {
		blk, err = des.NewTripleDESCipher(km[:24])
	} else {
		blk, err = aes.NewCipher(km[:s.keyLen])
	}
	if err != nil {
		tb.Fatal(err)
	}
	iv := make([]byte, blk.BlockSize())
	x.enc, x.dec = cipher.NewCBCEncrypter(blk, iv), cipher.NewCBCDecrypter(blk, iv)
	authKey := km[s.keyLen:]
	switch s.suite {
	case esp.AESCBC_HMACSHA256:
		x.mac, x.icv = hmac.New(sha256.New, authKey), 16
	case esp.AESCBC_HMACMD5:
		x.mac, x.icv = hmac.New(md5.New, authKey), 12
	default:
		x.mac, x.icv = hmac.New(sha1.New, authKey), 12
	}
	return x
}

type ivSetter interface{ SetIV([]byte) }

// run encrypts and authenticates buf[hdr:hdr+n] (hdr bytes of SPI,
// sequence and IV are authenticated too), then verifies and decrypts.
func (x *bare) run(buf []byte, hdr, n int) {
	if x.aead != nil {
		nonce := buf[:12]
		ct := x.aead.Seal(buf[hdr:hdr], nonce, buf[hdr:hdr+n], buf[:8])
		if _, err := x.aead.Open(ct[:0], nonce, ct, buf[:8]); err != nil {
			panic(err)
		}
		return
	}
	iv := buf[8:hdr]
	x.enc.(ivSetter).SetIV(iv)
	x.enc.CryptBlocks(buf[hdr:hdr+n], buf[hdr:hdr+n])
	x.mac.Reset()
	x.mac.Write(buf[:hdr+n])
	copy(buf[hdr+n:], x.mac.Sum(x.sum[:0])[:x.icv])
	x.mac.Reset()
	x.mac.Write(buf[:hdr+n])
	if subtle.ConstantTimeCompare(x.mac.Sum(x.sum[:0])[:x.icv], buf[hdr+n:hdr+n+x.icv]) != 1 {
		panic("icv")
	}
	x.dec.(ivSetter).SetIV(iv)
	x.dec.CryptBlocks(buf[hdr:hdr+n], buf[hdr:hdr+n])
}

// BenchmarkBareCrypto: the ESP plaintext of a 1400-byte IP packet is
// 1400 + PPP 4 + L2TP 6 + UDP 8 + trailer 2 = 1420 bytes, padded to the
// cipher block (1424 for AES-CBC and 3DES; GCM needs 4-byte alignment).
func BenchmarkBareCrypto(b *testing.B) {
	for _, s := range benchSuites {
		b.Run(s.name, func(b *testing.B) {
			x := newBare(b, s)
			head, _ := s.suite.Overhead()
			n := 1420
			if s.suite != esp.AESGCM16 {
				bs := 16
				if s.suite == esp.TDESCBC_HMACSHA1 {
					bs = 8
				}
				n = (n + bs - 1) / bs * bs
			}
			buf := make([]byte, 2048)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				x.run(buf, head, n)
			}
		})
	}
}
