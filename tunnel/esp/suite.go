package esp

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"
	"strconv"
)

// Suite identifies an ESP transform: cipher + integrity.
type Suite uint8

// Suites.
const (
	AESCBC_HMACSHA1   Suite = iota + 1 // AES-CBC (RFC 3602) + HMAC-SHA1-96 (RFC 2404)
	AESCBC_HMACSHA256                  // AES-CBC + HMAC-SHA2-256-128 (RFC 4868: 128-bit truncation)
	AESGCM16                           // AES-GCM with 16-byte ICV (RFC 4106), key = AES key || 4-byte salt
	TDESCBC_HMACSHA1                   // 3DES-CBC (RFC 2451) + HMAC-SHA1-96, legacy
	AESCBC_HMACMD5                     // AES-CBC + HMAC-MD5-96 (RFC 2403), legacy
	TDESCBC_HMACMD5                    // 3DES-CBC + HMAC-MD5-96, legacy
)

// gcmSaltLen is the salt at the end of the keying material of an AES-GCM
// SA (RFC 4106 8.1), the first 4 bytes of every nonce.
const gcmSaltLen = 4

var (
	aesKeyLens  = []int{16, 24, 32}
	tdesKeyLens = []int{24}
)

// params describes a suite to the data path.
type params struct {
	cipher     string // name of the cipher, without key length
	integ      string // name of the integrity algorithm
	ivLen      int    // explicit IV in each packet
	align      int    // payload+padding+2 is a multiple of this
	icvLen     int    // bytes of ICV after the ciphertext
	authKeyLen int    // HMAC key length, 0 for GCM
	keyLens    []int  // allowed cipher key lengths
	newHash    func() hash.Hash
	aead       bool
	tdes       bool
}

var suites = [...]params{
	AESCBC_HMACSHA1: {
		cipher: "AES-CBC", integ: "HMAC-SHA1-96", ivLen: 16, align: 16, icvLen: 12,
		authKeyLen: sha1.Size, keyLens: aesKeyLens, newHash: sha1.New,
	},
	AESCBC_HMACSHA256: {
		cipher: "AES-CBC", integ: "HMAC-SHA2-256-128", ivLen: 16, align: 16, icvLen: 16,
		authKeyLen: sha256.Size, keyLens: aesKeyLens, newHash: sha256.New,
	},
	AESGCM16: {
		cipher: "AES-GCM-16", ivLen: 8, align: 4, icvLen: 16,
		keyLens: aesKeyLens, aead: true,
	},
	TDESCBC_HMACSHA1: {
		cipher: "3DES-CBC", integ: "HMAC-SHA1-96", ivLen: 8, align: 8, icvLen: 12,
		authKeyLen: sha1.Size, keyLens: tdesKeyLens, newHash: sha1.New, tdes: true,
	},
	AESCBC_HMACMD5: {
		cipher: "AES-CBC", integ: "HMAC-MD5-96", ivLen: 16, align: 16, icvLen: 12,
		authKeyLen: md5.Size, keyLens: aesKeyLens, newHash: md5.New,
	},
	TDESCBC_HMACMD5: {
		cipher: "3DES-CBC", integ: "HMAC-MD5-96", ivLen: 8, align: 8, icvLen: 12,
		authKeyLen: md5.Size, keyLens: tdesKeyLens, newHash: md5.New, tdes: true,
	},
}

// params returns the description of s, or nil for an unknown suite.
func (s Suite) params() *params {
	if s == 0 || int(s) >= len(suites) {
		return nil
	}
	return &suites[s]
}

// validKeyLen reports whether encKeyLen is a cipher key length of s.
func (s Suite) validKeyLen(encKeyLen int) bool {
	p := s.params()
	return p != nil && slices.Contains(p.keyLens, encKeyLen)
}

// String names the suite without the key length, e.g. "AES-CBC/HMAC-SHA1-96".
func (s Suite) String() string { return s.Name(0) }

// Name names the suite with a cipher key of encKeyLen bytes:
// "AES-CBC-256/HMAC-SHA2-256-128", "AES-GCM-16-128", "3DES-CBC/HMAC-SHA1-96".
// The key length is left out when it is not one of EncKeyLens (0, say).
func (s Suite) Name(encKeyLen int) string {
	p := s.params()
	if p == nil {
		return "Suite(" + strconv.Itoa(int(s)) + ")"
	}
	n := p.cipher
	if !p.tdes && s.validKeyLen(encKeyLen) {
		n += "-" + strconv.Itoa(encKeyLen*8)
	}
	if p.integ != "" {
		n += "/" + p.integ
	}
	return n
}

// AuthKeyLen is the length of the HMAC key: 20 for SHA1, 32 for SHA2-256,
// 16 for MD5 (RFC 2404 3, RFC 4868 2.1.1, RFC 2403 3), 0 for AES-GCM.
func (s Suite) AuthKeyLen() int {
	if p := s.params(); p != nil {
		return p.authKeyLen
	}
	return 0
}

// EncKeyLens returns the allowed cipher key lengths in bytes: 16, 24, 32
// for AES (AES-GCM's salt not included: see KeyMaterialLen), 24 for 3DES.
// It returns nil for an unknown suite.
func (s Suite) EncKeyLens() []int {
	if p := s.params(); p != nil {
		return slices.Clone(p.keyLens)
	}
	return nil
}

// KeyMaterialLen is how many bytes of keying material IKE must derive for an
// SA of this suite with a cipher key of encKeyLen bytes. For the CBC suites
// that is the encryption key followed by the integrity key (RFC 2409 5.5,
// RFC 7296 2.17); for AES-GCM the key followed by a 4-byte salt (RFC 4106
// 8.1). It is 0 when encKeyLen is not one of EncKeyLens.
func (s Suite) KeyMaterialLen(encKeyLen int) int {
	if !s.validKeyLen(encKeyLen) {
		return 0
	}
	if s.params().aead {
		return encKeyLen + gcmSaltLen
	}
	return encKeyLen + s.AuthKeyLen()
}

// Overhead reports what ESP adds around a payload: head bytes in front
// (SPI, sequence number and IV: 8 + 16 for AES-CBC, 8 + 8 for 3DES-CBC and
// AES-GCM) and at most maxTail bytes after it (padding to the cipher's
// alignment, pad length, next header and ICV). Both are 0 for an unknown
// suite.
func (s Suite) Overhead() (head, maxTail int) {
	p := s.params()
	if p == nil {
		return 0, 0
	}
	return HeaderLen + p.ivLen, p.align - 1 + trailerLen + p.icvLen
}

// The most any suite adds around a payload, for buffers sized once for
// every suite (Overhead reports what one suite adds). A test checks them
// against every suite.
const (
	// MaxIVLen is the longest explicit IV: AES-CBC's 16 bytes (RFC 3602 3).
	MaxIVLen = 16
	// MaxICVLen is the longest ICV: HMAC-SHA2-256-128 (RFC 4868 2.3) and
	// the AES-GCM tag (RFC 4106 6) are 16 bytes.
	MaxICVLen = 16
	// MaxHeadLen is the most Seal writes in front of a payload: the ESP
	// header and the longest IV.
	MaxHeadLen = HeaderLen + MaxIVLen
	// MaxTailLen is the most Seal writes after a payload: padding to the
	// widest alignment (up to 15 bytes for AES's 16-byte block, RFC 4303
	// 2.4), pad length and next header, and the longest ICV.
	MaxTailLen = maxAlign - 1 + trailerLen + MaxICVLen

	maxAlign = 16 // the AES block
)

func (s Suite) checkKeymat(keymat []byte) (encKeyLen int, err error) {
	p := s.params()
	if p == nil {
		return 0, fmt.Errorf("%w: %d", ErrSuite, s)
	}
	extra := p.authKeyLen
	if p.aead {
		extra = gcmSaltLen
	}
	encKeyLen = len(keymat) - extra
	if !s.validKeyLen(encKeyLen) {
		want := make([]int, len(p.keyLens))
		for i, l := range p.keyLens {
			want[i] = s.KeyMaterialLen(l)
		}
		return 0, fmt.Errorf("%w: %v takes %v bytes of keying material, not %d",
			ErrKeyLength, s, want, len(keymat))
	}
	return encKeyLen, nil
}
