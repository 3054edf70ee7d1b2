package ike

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// Cipher is a phase-1 encryption algorithm (RFC 2409 appendix A).
type Cipher uint8

// Phase-1 ciphers. DES is never offered.
const (
	Cipher3DES   Cipher = 5
	CipherAESCBC Cipher = 7
)

// Hash is a phase-1 hash algorithm (RFC 2409 appendix A, RFC 4868).
type Hash uint8

// Phase-1 hashes.
const (
	HashMD5    Hash = 1
	HashSHA1   Hash = 2
	HashSHA256 Hash = 4
	HashSHA384 Hash = 5
	HashSHA512 Hash = 6
)

func (h Hash) New() func() hash.Hash {
	switch h {
	case HashMD5:
		return md5.New
	case HashSHA1:
		return sha1.New
	case HashSHA256:
		return sha256.New
	case HashSHA384:
		return sha512.New384
	case HashSHA512:
		return sha512.New
	}
	return nil
}

func (h Hash) String() string {
	switch h {
	case HashMD5:
		return "MD5"
	case HashSHA1:
		return "SHA1"
	case HashSHA256:
		return "SHA2-256"
	case HashSHA384:
		return "SHA2-384"
	case HashSHA512:
		return "SHA2-512"
	}
	return fmt.Sprintf("hash-%d", uint8(h))
}

// Group is a Diffie-Hellman group (RFC 2409 6, RFC 3526).
type Group uint16

// MODP groups.
const (
	MODP1024 Group = 2
	MODP1536 Group = 5
	MODP2048 Group = 14
	MODP3072 Group = 15
	MODP4096 Group = 16
)

func (g Group) String() string {
	switch g {
	case MODP1024:
		return "MODP1024"
	case MODP1536:
		return "MODP1536"
	case MODP2048:
		return "MODP2048"
	case MODP3072:
		return "MODP3072"
	case MODP4096:
		return "MODP4096"
	}
	return fmt.Sprintf("group-%d", uint16(g))
}

// IKESuite is one phase-1 proposal: cipher, key length, hash, group.
type IKESuite struct {
	Cipher Cipher
	KeyLen int // bytes; 16, 24 or 32 for AES, 24 for 3DES
	Hash   Hash
	Group  Group
}

func (s IKESuite) String() string {
	c := "3DES"
	if s.Cipher == CipherAESCBC {
		c = fmt.Sprintf("AES-CBC-%d", s.KeyLen*8)
	}
	return fmt.Sprintf("%s/%v/%v", c, s.Hash, s.Group)
}

// Notation is the strongSwan-style name, e.g. aes256-sha256-modp2048.
func (s IKESuite) Notation() string {
	c := "3des"
	if s.Cipher == CipherAESCBC {
		c = fmt.Sprintf("aes%d", s.KeyLen*8)
	}
	return c + "-" + hashNotation[s.Hash] + "-" + strings.ToLower(s.Group.String())
}

// Legacy reports whether s uses an algorithm only legacy profiles may
// offer: 3DES, MD5, or a group below 2048 bits.
func (s IKESuite) Legacy() bool {
	return s.Cipher == Cipher3DES || s.Hash == HashMD5 || s.Group < MODP2048
}

// ESPSuite is one phase-2 proposal.
type ESPSuite struct {
	Suite  esp.Suite
	KeyLen int   // cipher key bytes
	PFS    Group // 0: no PFS
}

func (s ESPSuite) String() string { return s.Suite.Name(s.KeyLen) }

// Notation is the strongSwan-style name, e.g. aes128-sha1 or aes128gcm16.
func (s ESPSuite) Notation() string {
	var n string
	switch s.Suite {
	case esp.AESGCM16:
		n = fmt.Sprintf("aes%dgcm16", s.KeyLen*8)
	case esp.AESCBC_HMACSHA1:
		n = fmt.Sprintf("aes%d-sha1", s.KeyLen*8)
	case esp.AESCBC_HMACSHA256:
		n = fmt.Sprintf("aes%d-sha256", s.KeyLen*8)
	case esp.AESCBC_HMACMD5:
		n = fmt.Sprintf("aes%d-md5", s.KeyLen*8)
	case esp.TDESCBC_HMACSHA1:
		n = "3des-sha1"
	case esp.TDESCBC_HMACMD5:
		n = "3des-md5"
	}
	if s.PFS != 0 {
		n += "-" + strings.ToLower(s.PFS.String())
	}
	return n
}

// Legacy reports whether s needs the legacy-crypto switch.
func (s ESPSuite) Legacy() bool {
	return s.Suite == esp.TDESCBC_HMACSHA1 || s.Suite == esp.TDESCBC_HMACMD5 ||
		s.Suite == esp.AESCBC_HMACMD5 || (s.PFS != 0 && s.PFS < MODP2048)
}

// DefaultIKE is offered when a profile names no phase-1 proposals:
// today's servers accept at least one of these.
var DefaultIKE = []IKESuite{
	{CipherAESCBC, 32, HashSHA256, MODP2048},
	{CipherAESCBC, 16, HashSHA256, MODP2048},
	{CipherAESCBC, 32, HashSHA1, MODP2048},
	{CipherAESCBC, 16, HashSHA1, MODP2048},
}

// LegacyIKE is appended to DefaultIKE when a profile enables legacy crypto.
var LegacyIKE = []IKESuite{
	{CipherAESCBC, 32, HashSHA1, MODP1536},
	{CipherAESCBC, 16, HashSHA1, MODP1024},
	{Cipher3DES, 24, HashSHA1, MODP1024},
	{Cipher3DES, 24, HashMD5, MODP1024},
}

// DefaultESP is offered when a profile names no phase-2 proposals.
var DefaultESP = []ESPSuite{
	{Suite: esp.AESGCM16, KeyLen: 16},
	{Suite: esp.AESGCM16, KeyLen: 32},
	{Suite: esp.AESCBC_HMACSHA256, KeyLen: 16},
	{Suite: esp.AESCBC_HMACSHA256, KeyLen: 32},
	{Suite: esp.AESCBC_HMACSHA1, KeyLen: 16},
	{Suite: esp.AESCBC_HMACSHA1, KeyLen: 32},
}

// LegacyESP is appended to DefaultESP when a profile enables legacy crypto.
var LegacyESP = []ESPSuite{
	{Suite: esp.TDESCBC_HMACSHA1, KeyLen: 24},
	{Suite: esp.AESCBC_HMACMD5, KeyLen: 16},
	{Suite: esp.TDESCBC_HMACMD5, KeyLen: 24},
}

var hashNotation = map[Hash]string{HashMD5: "md5", HashSHA1: "sha1", HashSHA256: "sha256", HashSHA384: "sha384", HashSHA512: "sha512"}

var hashByName = map[string]Hash{
	"md5": HashMD5, "sha1": HashSHA1, "sha": HashSHA1, "sha256": HashSHA256, "sha2_256": HashSHA256,
	"sha384": HashSHA384, "sha2_384": HashSHA384, "sha512": HashSHA512, "sha2_512": HashSHA512,
}

var groupByName = map[string]Group{
	"modp1024": MODP1024, "modp1536": MODP1536, "modp2048": MODP2048, "modp3072": MODP3072, "modp4096": MODP4096,
}

// ErrLegacy is returned for a legacy suite named without the legacy switch.
var ErrLegacy = errors.New("legacy algorithm: enable legacy crypto to offer it")

func parseCipher(s string) (Cipher, int, bool) {
	switch s {
	case "aes", "aes128":
		return CipherAESCBC, 16, true
	case "aes192":
		return CipherAESCBC, 24, true
	case "aes256":
		return CipherAESCBC, 32, true
	case "3des":
		return Cipher3DES, 24, true
	}
	return 0, 0, false
}

// ParseIKE parses a comma-separated list of phase-1 proposals in the
// strongSwan notation: aes256-sha256-modp2048,3des-sha1-modp1024.
func ParseIKE(list string, legacy bool) ([]IKESuite, error) {
	var out []IKESuite
	for _, item := range strings.Split(list, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		parts := strings.Split(item, "-")
		if len(parts) != 3 {
			return nil, fmt.Errorf("ike proposal %q: want cipher-hash-group, e.g. aes256-sha256-modp2048", item)
		}
		c, kl, ok := parseCipher(parts[0])
		if !ok {
			return nil, fmt.Errorf("ike proposal %q: unknown cipher %q (aes128, aes192, aes256, 3des)", item, parts[0])
		}
		h, ok := hashByName[parts[1]]
		if !ok {
			return nil, fmt.Errorf("ike proposal %q: unknown hash %q (sha256, sha384, sha512, sha1, md5)", item, parts[1])
		}
		g, ok := groupByName[parts[2]]
		if !ok {
			return nil, fmt.Errorf("ike proposal %q: unknown group %q (modp2048, modp3072, modp4096, modp1536, modp1024)", item, parts[2])
		}
		s := IKESuite{c, kl, h, g}
		if s.Legacy() && !legacy {
			return nil, fmt.Errorf("ike proposal %q: %w", item, ErrLegacy)
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseESP parses a comma-separated list of phase-2 proposals in the
// strongSwan notation: aes128gcm16,aes256-sha1,aes128-sha256[-modp2048].
func ParseESP(list string, legacy bool) ([]ESPSuite, error) {
	var out []ESPSuite
	for _, item := range strings.Split(list, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		parts := strings.Split(item, "-")
		var s ESPSuite
		if g, ok := groupByName[parts[len(parts)-1]]; ok && len(parts) > 1 {
			s.PFS = g
			parts = parts[:len(parts)-1]
		}
		switch {
		case len(parts) == 1 && strings.HasSuffix(parts[0], "gcm16"):
			c, kl, ok := parseCipher(strings.TrimSuffix(parts[0], "gcm16"))
			if !ok || c != CipherAESCBC {
				return nil, fmt.Errorf("esp proposal %q: unknown cipher", item)
			}
			s.Suite, s.KeyLen = esp.AESGCM16, kl
		case len(parts) == 2:
			c, kl, ok := parseCipher(parts[0])
			if !ok {
				return nil, fmt.Errorf("esp proposal %q: unknown cipher %q (aes128, aes256, aes128gcm16, 3des)", item, parts[0])
			}
			h, ok := hashByName[parts[1]]
			s.KeyLen = kl
			switch {
			case ok && c == CipherAESCBC && h == HashSHA1:
				s.Suite = esp.AESCBC_HMACSHA1
			case ok && c == CipherAESCBC && h == HashSHA256:
				s.Suite = esp.AESCBC_HMACSHA256
			case ok && c == CipherAESCBC && h == HashMD5:
				s.Suite = esp.AESCBC_HMACMD5
			case ok && c == Cipher3DES && h == HashSHA1:
				s.Suite = esp.TDESCBC_HMACSHA1
			case ok && c == Cipher3DES && h == HashMD5:
				s.Suite = esp.TDESCBC_HMACMD5
			default:
				return nil, fmt.Errorf("esp proposal %q: unsupported integrity %q (sha1, sha256, md5)", item, parts[1])
			}
		default:
			return nil, fmt.Errorf("esp proposal %q: want cipher-integrity or aesNNNgcm16, e.g. aes128-sha1", item)
		}
		if s.Legacy() && !legacy {
			return nil, fmt.Errorf("esp proposal %q: %w", item, ErrLegacy)
		}
		out = append(out, s)
	}
	return out, nil
}

// Notations joins suites in the strongSwan notation, comma-separated.
func Notations[T interface{ Notation() string }](ss []T) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Notation())
	}
	return strings.Join(n, ",")
}
