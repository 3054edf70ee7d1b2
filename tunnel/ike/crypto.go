package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"

	"filippo.io/bigmod"
)

// dhKey is our half of a MODP Diffie-Hellman exchange (RFC 2409 6). The
// exponentiations with the private exponent x run in constant time
// (filippo.io/bigmod, the standalone form of the Go standard library's
// constant-time modular arithmetic): their timing tells nothing about x.
type dhKey struct {
	p   *big.Int
	x   *big.Int
	pub []byte // g^x padded to the prime's length (RFC 2409 5: KE data)
}

var errGroup = errors.New("ike: unsupported Diffie-Hellman group")

func primeOf(g Group) (*big.Int, error) {
	h, ok := modpPrimes[g]
	if !ok {
		return nil, errGroup
	}
	p, _ := new(big.Int).SetString(strings.ReplaceAll(h, " ", ""), 16)
	return p, nil
}

// moduli caches the bigmod form of each prime in use (its Montgomery
// constants take a while to compute).
var moduli sync.Map // string(p.Bytes()) -> *bigmod.Modulus

func modulusOf(p *big.Int) (*bigmod.Modulus, error) {
	key := string(p.Bytes())
	if m, ok := moduli.Load(key); ok {
		return m.(*bigmod.Modulus), nil
	}
	m, err := bigmod.NewModulus(p.Bytes())
	if err != nil {
		return nil, err
	}
	moduli.Store(key, m)
	return m, nil
}

// dhExpLen is the private exponent's length: twice the group's strength
// is enough; 512 bits covers MODP4096's ~150-bit strength generously and
// keeps g^x fast (RFC 3526 section 8).
const dhExpLen = 64

// modExp returns base^x mod p, padded to p's length, in constant time in x.
func modExp(base []byte, x *big.Int, p *big.Int) ([]byte, error) {
	m, err := modulusOf(p)
	if err != nil {
		return nil, err
	}
	b, err := bigmod.NewNat().SetBytes(base, m)
	if err != nil {
		return nil, err
	}
	e := x.FillBytes(make([]byte, max(dhExpLen, (x.BitLen()+7)/8)))
	z := bigmod.NewNat().Exp(b, e, m).Bytes(m)
	clear(e)
	return z, nil
}

func newDH(g Group, rnd io.Reader) (*dhKey, error) {
	p, err := primeOf(g)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, dhExpLen)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return nil, fmt.Errorf("ike: random exponent: %w", err)
	}
	x := new(big.Int).SetBytes(buf)
	clear(buf)
	pub, err := modExp([]byte{2}, x, p)
	if err != nil {
		return nil, err
	}
	return &dhKey{p: p, x: x, pub: pub}, nil
}

// shared computes g^xy from the peer's KE data, padded to the prime's
// length (RFC 2409 5: g^xy in SKEYID derivation keeps leading zeros).
//
// RFC 2409 5 also says a KE payload MUST be as long as the group's prime,
// with leading zeros. SoftEther sends its public value without them (an
// OpenSSL BN_bn2bin), so one connect in 256 got a 255-byte MODP2048
// value: a shorter value is read as the same number (and hashed as it was
// sent, as its sender does); a longer one is refused.
func (k *dhKey) shared(peer []byte) ([]byte, error) {
	n := (k.p.BitLen() + 7) / 8
	if len(peer) == 0 || len(peer) > n {
		return nil, fmt.Errorf("ike: peer's public value has %d bytes, want %d", len(peer), n)
	}
	y := new(big.Int).SetBytes(peer)
	// Reject 0, 1 and p-1 and anything not below p: small-subgroup values.
	pm1 := new(big.Int).Sub(k.p, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(pm1) >= 0 {
		return nil, errors.New("ike: peer's public value is out of range")
	}
	return modExp(peer, k.x, k.p)
}

// prf is the negotiated PRF: HMAC with the phase-1 hash (RFC 2409 4).
func prf(h Hash, key []byte, data ...[]byte) []byte {
	m := hmac.New(h.New(), key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// digest hashes data with h (IVs, NAT-D).
func digest(h Hash, data ...[]byte) []byte {
	m := h.New()()
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// p1Keys is the keying material of an IKE SA (RFC 2409 5, appendix B).
type p1Keys struct {
	skeyid, d, a, e []byte
	encKey          []byte
}

// deriveP1 computes the keys of a pre-shared-key IKE SA.
func deriveP1(s IKESuite, psk, ni, nr, gxy []byte, ci, cr [8]byte) p1Keys {
	// RFC 2409 5: for pre-shared keys SKEYID = prf(pre-shared-key, Ni_b | Nr_b).
	return deriveP1From(s, prf(s.Hash, psk, ni, nr), gxy, ci, cr)
}

// deriveP1Sig computes the keys of an IKE SA authenticated with
// signatures: RFC 2409 5 (5.1): SKEYID = prf(Ni_b | Nr_b, g^xy).
func deriveP1Sig(s IKESuite, ni, nr, gxy []byte, ci, cr [8]byte) p1Keys {
	key := append(append([]byte(nil), ni...), nr...)
	return deriveP1From(s, prf(s.Hash, key, gxy), gxy, ci, cr)
}

// deriveP1From derives SKEYID_d, _a, _e and the cipher key from SKEYID
// (RFC 2409 5, appendix B).
func deriveP1From(s IKESuite, skeyid, gxy []byte, ci, cr [8]byte) p1Keys {
	var k p1Keys
	k.skeyid = skeyid
	k.d = prf(s.Hash, k.skeyid, gxy, ci[:], cr[:], []byte{0})
	k.a = prf(s.Hash, k.skeyid, k.d, gxy, ci[:], cr[:], []byte{1})
	k.e = prf(s.Hash, k.skeyid, k.a, gxy, ci[:], cr[:], []byte{2})
	// Appendix B: when SKEYID_e is shorter than the cipher key, expand it
	// with Ka = K1 | K2 | ..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1).
	if len(k.e) >= s.KeyLen {
		k.encKey = k.e[:s.KeyLen]
	} else {
		var ka []byte
		kn := prf(s.Hash, k.e, []byte{0})
		for {
			ka = append(ka, kn...)
			if len(ka) >= s.KeyLen {
				break
			}
			kn = prf(s.Hash, k.e, kn)
		}
		k.encKey = ka[:s.KeyLen]
	}
	return k
}

// keymat derives n bytes of phase-2 keying material for one SA
// (RFC 2409 5.5): KEYMAT = K1 | K2 | ..., K1 = prf(SKEYID_d, [g(qm)^xy |]
// protocol | SPI | Ni_b | Nr_b), Kn = prf(SKEYID_d, Kn-1 | the same).
func keymat(h Hash, skeyidD, gxy []byte, proto byte, spi, ni, nr []byte, n int) []byte {
	var out, prev []byte
	for len(out) < n {
		prev = prf(h, skeyidD, prev, gxy, []byte{proto}, spi, ni, nr)
		out = append(out, prev...)
	}
	return out[:n]
}

// blockCipher returns the phase-1 cipher keyed with key.
func blockCipher(c Cipher, key []byte) (cipher.Block, error) {
	switch c {
	case CipherAESCBC:
		return aes.NewCipher(key)
	case Cipher3DES:
		return des.NewTripleDESCipher(key)
	}
	return nil, fmt.Errorf("ike: cipher %d not supported", c)
}

// encrypt pads plain to the block size and encrypts it in CBC mode with
// iv (RFC 2409 appendix B). The padding's last byte is its length, as
// most implementations expect; RFC 2408 3.1 leaves the content open.
func encrypt(b cipher.Block, iv, plain []byte) []byte {
	bs := b.BlockSize()
	padLen := bs - len(plain)%bs
	out := make([]byte, len(plain)+padLen)
	copy(out, plain)
	out[len(out)-1] = byte(padLen - 1)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, out)
	return out
}

var errCiphertext = errors.New("ike: encrypted body is not a whole number of blocks")

// decrypt decrypts body in CBC mode with iv into a new slice.
func decrypt(b cipher.Block, iv, body []byte) ([]byte, error) {
	if len(body) == 0 || len(body)%b.BlockSize() != 0 {
		return nil, errCiphertext
	}
	out := make([]byte, len(body))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, body)
	return out, nil
}

// lastBlock returns a copy of the last cipher block of ct.
func lastBlock(ct []byte, bs int) []byte {
	return append([]byte(nil), ct[len(ct)-bs:]...)
}
