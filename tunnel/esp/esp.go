package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"sync"
	"sync/atomic"
)

// An ESP packet (RFC 4303 section 2), as carried in UDP (RFC 3948 2.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ----
//	|               Security Parameters Index (SPI)                 | ^Int.
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |Cov-
//	|                      Sequence Number                          | |ered
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ | ----
//	|                    IV (8 or 16 bytes)                         | |   ^
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |   |
//	|                    Payload Data (variable)                    | |   |
//	~                                                               ~ |   |
//	+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |Con|
//	|               |     Padding (0-255 bytes)                     | |fid|
//	+-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ |ent|
//	|                               |  Pad Length   | Next Header   | v  v
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ------
//	|         Integrity Check Value (ICV, 12 or 16 bytes)           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The IV is not encrypted; for AES-GCM it is not integrity covered either,
// but enters the nonce. The ICV of AES-GCM is the GCM tag.

const (
	spiOffset = 0
	seqOffset = 4
	// HeaderLen is the length of the ESP header: SPI and sequence number.
	HeaderLen = 8
	// trailerLen is the pad length and next header bytes.
	trailerLen = 2
)

// Header is a view of the ESP header at the start of a packet.
type Header []byte

// SPI returns the Security Parameters Index.
func (h Header) SPI() uint32 { return binary.BigEndian.Uint32(h[spiOffset:]) }

// Seq returns the sequence number.
func (h Header) Seq() uint32 { return binary.BigEndian.Uint32(h[seqOffset:]) }

// Encode writes spi and seq.
func (h Header) Encode(spi, seq uint32) {
	_ = h[HeaderLen-1]
	binary.BigEndian.PutUint32(h[spiOffset:], spi)
	binary.BigEndian.PutUint32(h[seqOffset:], seq)
}

// Errors returned by Seal, Open and NewSA.
var (
	ErrShort        = errors.New("esp: packet too short")
	ErrLength       = errors.New("esp: ciphertext not a multiple of the cipher's block size") // RFC 4303 2.4
	ErrNoRoom       = errors.New("esp: no room around the payload for the ESP header and trailer")
	ErrAuth         = errors.New("esp: integrity check failed")
	ErrReplay       = errors.New("esp: replayed or too old sequence number")
	ErrPadding      = errors.New("esp: bad padding")
	ErrSeqExhausted = errors.New("esp: sequence number space exhausted, the SA must be rekeyed")
	ErrSPI          = errors.New("esp: packet is for another SPI")
	ErrKeyLength    = errors.New("esp: bad keying material length")
	ErrSuite        = errors.New("esp: unknown suite")
)

// padPattern holds the default padding contents, 1, 2, 3, ... (RFC 4303 2.4).
var padPattern = func() (p [255]byte) {
	for i := range p {
		p[i] = byte(i + 1)
	}
	return p
}()

// cbcMode is a CBC BlockMode whose IV can be reset; crypto/cipher's
// encrypters and decrypters are. Keeping one per scratch instead of making
// one per packet is what keeps the CBC path free of allocations.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// scratch is the mutable state of one Seal or Open in progress.
type scratch struct {
	mode  cbcMode   // CBC suites
	mac   hash.Hash // CBC suites: HMAC, keyed; Reset returns to the keyed state
	sum   [32]byte  // HMAC output before truncation
	nonce [12]byte  // GCM: salt, then the IV of the packet at hand
}

// SA is one direction of one security association. An outbound SA Seals
// and an inbound one Opens; nothing stops one SA doing both (tests do) but
// IKE never negotiates that.
//
// Seal is safe for concurrent use by several goroutines. Open is not: it
// must be called from one goroutine per SA (or be serialized by the
// caller), as it owns the anti-replay window. Seal and Open may run
// concurrently with each other.
type SA struct {
	spi    uint32
	suite  Suite
	p      *params
	head   int // HeaderLen + IV
	tail   int // maximum bytes after the payload
	block  cipher.Block
	ivGen  cipher.Block // CBC suites: IV generator, AES under a random key
	aead   cipher.AEAD
	salt   [gcmSaltLen]byte
	macKey []byte
	pool   sync.Pool // *scratch for Seal
	rxPool sync.Pool // *scratch for Unseal

	_   [64]byte // keep seq, written by every Seal, off the read-only fields' cache lines
	seq atomic.Uint64
	_   [56]byte

	rx  *scratch // Open's
	win window
}

// NewSA returns an SA of suite s with the given SPI, keyed with keymat laid
// out as Suite.KeyMaterialLen describes: the cipher key then the HMAC key
// (CBC suites) or the AES key then the 4-byte salt (AES-GCM). The cipher key
// length is deduced from len(keymat); other lengths are rejected with
// ErrKeyLength. SPI 0 is reserved (RFC 4303 2.1) and rejected with ErrSPI.
// NewSA keeps copies: the caller may wipe keymat afterwards.
func NewSA(spi uint32, s Suite, keymat []byte) (*SA, error) {
	encKeyLen, err := s.checkKeymat(keymat)
	if err != nil {
		return nil, err
	}
	if spi == 0 {
		return nil, fmt.Errorf("%w: SPI 0 is reserved", ErrSPI)
	}
	p := s.params()
	sa := &SA{spi: spi, suite: s, p: p}
	sa.head, sa.tail = s.Overhead()
	key := keymat[:encKeyLen]
	if p.tdes {
		sa.block, err = des.NewTripleDESCipher(key)
	} else {
		sa.block, err = aes.NewCipher(key)
	}
	if err != nil {
		return nil, err
	}
	if p.aead {
		if sa.aead, err = cipher.NewGCM(sa.block); err != nil {
			return nil, err
		}
		copy(sa.salt[:], keymat[encKeyLen:])
	} else {
		sa.macKey = bytes.Clone(keymat[encKeyLen:])
		// The IV generator's key: see writeIV.
		var k [16]byte
		rand.Read(k[:])
		sa.ivGen, err = aes.NewCipher(k[:])
		clear(k[:])
		if err != nil {
			return nil, err
		}
	}
	sa.pool.New = func() any { return sa.newScratch(true) }
	sa.rxPool.New = func() any { return sa.newScratch(false) }
	sa.rx = sa.newScratch(false)
	return sa, nil
}

func (sa *SA) newScratch(encrypt bool) *scratch {
	sc := new(scratch)
	copy(sc.nonce[:], sa.salt[:])
	if sa.p.aead {
		return sc
	}
	iv := make([]byte, sa.block.BlockSize())
	if encrypt {
		sc.mode = cipher.NewCBCEncrypter(sa.block, iv).(cbcMode)
	} else {
		sc.mode = cipher.NewCBCDecrypter(sa.block, iv).(cbcMode)
	}
	sc.mac = hmac.New(sa.p.newHash, sa.macKey)
	return sc
}

// Wipe overwrites with zeros the keying material the SA keeps in byte
// slices and arrays of its own: the HMAC key, the AES-GCM salt and the
// salt in Open's nonce. It must not run concurrently with Seal or Open,
// and the SA must not be used afterwards.
//
// What the standard library derived from the keys cannot be wiped and is
// left to the garbage collector: the key schedules inside the
// cipher.Block and cipher.AEAD, the HMAC states (which hold the key's
// inner and outer pads), and the pooled scratches of Seal with their
// HMAC states and nonces (sync.Pool cannot be walked).
func (sa *SA) Wipe() {
	clear(sa.macKey)
	clear(sa.salt[:])
	if sa.rx != nil {
		clear(sa.rx.nonce[:])
	}
}

// SPI returns the SA's Security Parameters Index.
func (sa *SA) SPI() uint32 { return sa.spi }

// Suite returns the SA's transform.
func (sa *SA) Suite() Suite { return sa.suite }

// SeqNumber reports the last sequence number Seal used (0 before the first
// packet), for rekey decisions: the SA is exhausted at math.MaxUint32.
func (sa *SA) SeqNumber() uint32 {
	return uint32(min(sa.seq.Load(), math.MaxUint32))
}

// Seal turns buf[off:end] (plaintext, e.g. an 8-byte UDP header + L2TP) into
// an ESP packet in place: it writes the ESP header and IV into
// buf[off-head:off], pads, appends pad length, nextHeader and the ICV after
// end (within cap(buf)), and returns the packet bounds [start, stop).
// head and maxTail are what Suite.Overhead reports.
//
// It returns ErrNoRoom if off < head or cap(buf) < end+maxTail (the caller
// then copies into a bigger buffer), and ErrSeqExhausted once the 32-bit
// sequence number would wrap (RFC 4303 3.3.3: the SA must be rekeyed).
// Bounds outside 0 <= off <= end <= cap(buf) panic, like a slice expression.
//
// Seal is safe for concurrent use and allocates nothing: each call draws
// its sequence number atomically and works with a scratch from a pool.
func (sa *SA) Seal(buf []byte, off, end int, nextHeader byte) (start, stop int, err error) {
	if off < 0 || end < off || end > cap(buf) {
		panic("esp: Seal: payload bounds out of range")
	}
	if off < sa.head || cap(buf)-end < sa.tail {
		return 0, 0, ErrNoRoom
	}
	n := sa.seq.Add(1)
	if n > math.MaxUint32 {
		return 0, 0, ErrSeqExhausted
	}
	return sa.sealAt(buf, off, end, nextHeader, n)
}

// Reserve draws n consecutive sequence numbers and returns the first, for
// SealAt: a batch numbered in order and sealed in parallel (the packets
// then go out in the order of their numbers). It returns ErrSeqExhausted
// when the numbers would pass 2^32-1 (RFC 4303 3.3.3); the SA must then
// be rekeyed.
func (sa *SA) Reserve(n int) (first uint64, err error) {
	if n <= 0 {
		panic("esp: Reserve: n must be positive")
	}
	last := sa.seq.Add(uint64(n))
	if last > math.MaxUint32 {
		return 0, ErrSeqExhausted
	}
	return last - uint64(n) + 1, nil
}

// SealAt is Seal with a sequence number drawn by Reserve: each number of a
// reservation must be used once. It is safe for concurrent use.
func (sa *SA) SealAt(buf []byte, off, end int, nextHeader byte, seq uint64) (start, stop int, err error) {
	if off < 0 || end < off || end > cap(buf) {
		panic("esp: SealAt: payload bounds out of range")
	}
	if off < sa.head || cap(buf)-end < sa.tail {
		return 0, 0, ErrNoRoom
	}
	if seq == 0 || seq > sa.seq.Load() {
		panic("esp: SealAt: sequence number not reserved")
	}
	return sa.sealAt(buf, off, end, nextHeader, seq)
}

// sealAt seals with sequence number n; the bounds and room are checked.
func (sa *SA) sealAt(buf []byte, off, end int, nextHeader byte, n uint64) (start, stop int, err error) {
	buf = buf[:cap(buf)]
	sc := sa.pool.Get().(*scratch)
	start = off - sa.head
	sa.writeIV(buf[start:off], n)
	Header(buf[start:]).Encode(sa.spi, uint32(n))
	ctEnd := sa.trailer(buf, off, end, nextHeader)
	stop = sa.protect(sc, buf, start, ctEnd)
	sa.pool.Put(sc)
	return start, stop, nil
}

// writeIV writes the IV for the packet with sequence number n at the end of
// hdr, the header and IV room in front of the payload.
//
// AES-GCM takes the 64-bit sequence counter as its explicit IV: RFC 4106
// 3.1 requires only uniqueness under a key, and suggests a counter.
//
// CBC needs an IV nobody can predict (RFC 3602 2.3), and reading
// crypto/rand for every packet is a system call's worth of cost. Instead
// each SA draws a random 128-bit key at creation and the IV is the AES
// encryption under it of the block n || 0^64, the "encrypted nonce" method
// of NIST SP 800-38A appendix C. The inputs never repeat within an SA (n
// increases) and AES is a pseudorandom permutation, so to anyone without the
// key, which never leaves this process, the IVs are indistinguishable from
// random: none can be predicted from the ones already on the wire. 3DES
// takes the last 8 bytes of the block; any part of a pseudorandom block is
// pseudorandom.
func (sa *SA) writeIV(hdr []byte, n uint64) {
	if sa.p.aead {
		binary.BigEndian.PutUint64(hdr[len(hdr)-8:], n)
		return
	}
	// For AES-CBC the block is exactly the IV; for 3DES-CBC it spans the
	// ESP header too, which Seal writes afterwards.
	b := hdr[len(hdr)-aes.BlockSize:]
	binary.BigEndian.PutUint64(b, n)
	binary.BigEndian.PutUint64(b[8:], 0)
	sa.ivGen.Encrypt(b, b)
}

// trailer pads the payload buf[off:end] with 1, 2, 3, ... so that payload,
// padding and the two trailer bytes fill whole cipher blocks (4-byte words
// for AES-GCM, RFC 4303 2.4), appends the pad length and next header, and
// returns where the plaintext to encrypt ends.
func (sa *SA) trailer(buf []byte, off, end int, nextHeader byte) (ctEnd int) {
	padLen := -(end - off + trailerLen) & (sa.p.align - 1)
	t := buf[end : end+padLen+trailerLen]
	copy(t, padPattern[:padLen])
	t[padLen] = byte(padLen)
	t[padLen+1] = nextHeader
	return end + padLen + trailerLen
}

// protect encrypts buf[start+head:ctEnd], the payload and trailer, in place
// and appends the ICV. The ESP header and IV are already at
// buf[start:start+head]. It returns the end of the packet.
func (sa *SA) protect(sc *scratch, buf []byte, start, ctEnd int) (stop int) {
	off := start + sa.head
	if sa.p.aead {
		// RFC 4106 4 and 5: nonce = salt || IV, AAD = SPI || seq.
		copy(sc.nonce[gcmSaltLen:], buf[off-8:off])
		sa.aead.Seal(buf[off:off], sc.nonce[:], buf[off:ctEnd], buf[start:start+HeaderLen])
		return ctEnd + sa.p.icvLen
	}
	sa.cbcEncrypt(sc, buf[start+HeaderLen:off], buf[off:ctEnd])
	// RFC 4303 3.3.4: encrypt, then compute the ICV over the ESP packet
	// from the SPI to the end of the ciphertext.
	return ctEnd + copy(buf[ctEnd:], sa.icv(sc, buf[start:ctEnd]))
}

// cbcEncrypt encrypts data in place in CBC mode with the given IV.
func (sa *SA) cbcEncrypt(sc *scratch, iv, data []byte) {
	sc.mode.SetIV(iv)
	sc.mode.CryptBlocks(data, data)
}

// icv returns the truncated HMAC of data, in sc.
func (sa *SA) icv(sc *scratch, data []byte) []byte {
	return truncatedMAC(sc.mac, &sc.sum, data, sa.p.icvLen)
}

// truncatedMAC returns the first n bytes of the HMAC h of data (RFC 2104 5,
// RFC 2404 2, RFC 4868 2.3), computed into sum.
func truncatedMAC(h hash.Hash, sum *[32]byte, data []byte, n int) []byte {
	h.Reset()
	h.Write(data)
	return h.Sum(sum[:0])[:n]
}

// Open verifies and decrypts the ESP packet buf[start:stop] in place and
// returns the plaintext bounds and next header. In order (RFC 4303 3.4):
// it checks the SPI, the length and alignment, the anti-replay window (a
// 1024-packet window, 3.4.3), then the ICV, in constant time and before
// decrypting anything for the CBC suites (AES-GCM verifies as it decrypts),
// and only then moves the window; then it decrypts and checks that the
// padding is 1, 2, 3, ... (2.4).
//
// A next header of 59 marks a dummy packet (2.6), to be dropped by the
// caller. On error the contents of buf[start:stop] are unspecified (GCM
// wipes the plaintext of a packet that fails the ICV check).
//
// Open must be called from one goroutine per SA; it allocates nothing.
// Bounds outside 0 <= start <= stop <= cap(buf) panic.
func (sa *SA) Open(buf []byte, start, stop int) (off, end int, nextHeader byte, err error) {
	seq, err := sa.precheck(buf[start:stop])
	if err != nil {
		return 0, 0, 0, err
	}
	if !sa.win.check(seq) {
		return 0, 0, 0, ErrReplay
	}
	return sa.open(sa.rx, buf, start, stop, func() { sa.win.update(seq) })
}

// A batch opened in parallel splits Open in three (RFC 4303 3.4.3 still
// holds: no packet moves the window before its ICV is verified):
//
//	Fresh    in order, one goroutine: is the number new? (a cheap drop
//	         before any cryptography)
//	Unseal   in parallel: the ICV, decryption and padding of each packet
//	Accept   in order, one goroutine: the window moves for each verified
//	         packet, and a number seen twice in the batch is refused the
//	         second time

// Fresh reports the sequence number of the ESP packet pkt and whether the
// anti-replay window would take it. Like Open, it runs on one goroutine
// per SA (the same as Accept).
func (sa *SA) Fresh(pkt []byte) (seq uint32, err error) {
	seq, err = sa.precheck(pkt)
	if err == nil && !sa.win.check(seq) {
		err = ErrReplay
	}
	return seq, err
}

// Unseal verifies and decrypts the packet buf[start:stop] like Open, but
// neither checks nor moves the anti-replay window: the caller does both
// with Fresh and Accept. It is safe for concurrent use and allocates
// nothing.
func (sa *SA) Unseal(buf []byte, start, stop int) (off, end int, nextHeader byte, err error) {
	if _, err := sa.precheck(buf[start:stop]); err != nil {
		return 0, 0, 0, err
	}
	sc := sa.rxPool.Get().(*scratch)
	defer sa.rxPool.Put(sc)
	return sa.open(sc, buf, start, stop, nil)
}

// Accept records seq, the number of a packet Unseal verified, in the
// anti-replay window. It reports false, changing nothing, when the window
// no longer takes seq: it was accepted meanwhile (the same packet twice in
// one batch) or the window has moved past it. Such a packet is dropped.
func (sa *SA) Accept(seq uint32) bool {
	if !sa.win.check(seq) {
		return false
	}
	sa.win.update(seq)
	return true
}

// precheck checks what Open checks before the window: the SPI, the
// length and the alignment of pkt, and returns its sequence number.
func (sa *SA) precheck(pkt []byte) (uint32, error) {
	if len(pkt) < HeaderLen {
		return 0, ErrShort
	}
	h := Header(pkt)
	if h.SPI() != sa.spi {
		return 0, ErrSPI
	}
	ctLen := len(pkt) - sa.head - sa.p.icvLen
	if ctLen < trailerLen {
		return 0, ErrShort
	}
	if ctLen&(sa.p.align-1) != 0 {
		return 0, ErrLength
	}
	return h.Seq(), nil
}

// open verifies and decrypts buf[start:stop], which precheck passed, with
// the scratch sc; verified runs once the ICV is (before decryption for CBC).
func (sa *SA) open(sc *scratch, buf []byte, start, stop int, verified func()) (off, end int, nextHeader byte, err error) {
	pkt := buf[start:stop]
	ctLen := len(pkt) - sa.head - sa.p.icvLen
	ct := pkt[sa.head : sa.head+ctLen]
	if sa.p.aead {
		copy(sc.nonce[gcmSaltLen:], pkt[HeaderLen:sa.head])
		if _, err := sa.aead.Open(ct[:0], sc.nonce[:], pkt[sa.head:], pkt[:HeaderLen]); err != nil {
			return 0, 0, 0, ErrAuth
		}
		if verified != nil {
			verified()
		}
	} else {
		icvAt := sa.head + ctLen
		if subtle.ConstantTimeCompare(sa.icv(sc, pkt[:icvAt]), pkt[icvAt:]) != 1 {
			return 0, 0, 0, ErrAuth
		}
		if verified != nil {
			verified()
		}
		sc.mode.SetIV(pkt[HeaderLen:sa.head])
		sc.mode.CryptBlocks(ct, ct)
	}
	padLen := int(ct[ctLen-2])
	if padLen > ctLen-trailerLen || !bytes.Equal(ct[ctLen-trailerLen-padLen:ctLen-trailerLen], padPattern[:padLen]) {
		return 0, 0, 0, ErrPadding
	}
	off = start + sa.head
	return off, off + ctLen - trailerLen - padLen, ct[ctLen-1], nil
}

// PeekSPI returns the SPI of an ESP packet (its first 4 bytes), for SA
// lookup. It reports false for a datagram too short to be ESP (a NAT
// keepalive, RFC 3948 2.3) and for SPI 0, which on port 4500 is the
// non-ESP marker in front of an IKE message (RFC 3948 2.2).
func PeekSPI(pkt []byte) (uint32, bool) {
	if len(pkt) < HeaderLen {
		return 0, false
	}
	spi := Header(pkt).SPI()
	return spi, spi != 0
}
