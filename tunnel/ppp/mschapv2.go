package ppp

import (
	"crypto/des"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"

	// MD4 is broken, but RFC 2759 (NtPasswordHash) requires it.
	"golang.org/x/crypto/md4" //lint:ignore SA1019 required by RFC 2759
)

// MS-CHAPv2 (RFC 2759). Section numbers in this file refer to RFC 2759.
//
// User names. The Name field of the Response carries the name exactly as
// the user typed it, "DOMAIN\user" included (section 4 gives
// "BIGCO\johndoe" as its example of a Name with a domain prefix). The
// hashes use only the account part.
// Section 4: "When computing the NT-Response field contents, only the user
// name is used, without any associated Windows NT domain name. This is true
// regardless of whether a Windows NT domain name is present in the Name
// field". Section 8.2, in ChallengeHash: "Only the user name (as presented
// by the peer and excluding any prepended domain name) is used as input to
// SHAUpdate()". ChallengeHash therefore strips the domain itself, so every
// function here takes the name as typed.

// NTPasswordHash returns the MD4 digest of the password encoded as
// UTF-16LE without a terminating zero (section 8.3, NtPasswordHash). Bytes
// of password that are not valid UTF-8 are encoded as U+FFFD.
func NTPasswordHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return md4Sum(b)
}

// md4Sum returns the MD4 digest of b.
func md4Sum(b []byte) [16]byte {
	h := md4.New()
	h.Write(b)
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// ChallengeHash returns the first 8 octets of SHA-1(peerChallenge ||
// authChallenge || user name) (section 8.2). user may carry a
// "DOMAIN\" prefix; it is removed first (see the file comment).
func ChallengeHash(peerChallenge, authChallenge [16]byte, user string) [8]byte {
	_, user = SplitDomainUser(user)
	h := sha1.New()
	h.Write(peerChallenge[:])
	h.Write(authChallenge[:])
	h.Write([]byte(user))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var out [8]byte
	copy(out[:], sum[:8])
	return out
}

// GenerateNTResponse computes the 24-octet NT-Response (section 8.1) for
// the user name as typed (a domain prefix is ignored, see the file comment).
func GenerateNTResponse(authChallenge, peerChallenge [16]byte, user, password string) [24]byte {
	return challengeResponse(ChallengeHash(peerChallenge, authChallenge, user), NTPasswordHash(password))
}

// challengeResponse encrypts challenge with DES under three keys cut from
// the password hash padded with zeros to 21 octets (section 8.5).
func challengeResponse(challenge [8]byte, passwordHash [16]byte) [24]byte {
	var z [21]byte
	copy(z[:], passwordHash[:])
	var out [24]byte
	for i := 0; i < 3; i++ {
		key := desKey(z[7*i : 7*i+7])
		c, err := des.NewCipher(key[:])
		if err != nil { // cannot happen: the key is 8 octets
			panic(err)
		}
		c.Encrypt(out[8*i:8*i+8], challenge[:])
	}
	return out
}

// desKey spreads 7 octets (56 key bits) over 8, seven bits to an octet in
// the high bits, and sets the low bit of each for odd parity (section 8.6,
// DesEncrypt, with the worked example of section 9.3). crypto/des ignores
// the parity bits; they are set so the keys match the RFC's example.
func desKey(k []byte) [8]byte {
	var v uint64
	for _, b := range k[:7] {
		v = v<<8 | uint64(b)
	}
	var out [8]byte
	for i := range out {
		o := byte(v>>(49-7*i)) << 1
		if bits.OnesCount8(o)%2 == 0 {
			o |= 1
		}
		out[i] = o
	}
	return out
}

// The "magic" constants of section 8.7, whose octets spell these phrases.
const (
	authMagic1 = "Magic server to client signing constant"   // 39 octets
	authMagic2 = "Pad to make it do more than one iteration" // 41 octets
)

// authenticatorDigest is the 20-octet digest that the Authenticator
// Response encodes (section 8.7).
func authenticatorDigest(password string, ntResponse [24]byte, peerChallenge, authChallenge [16]byte, user string) [sha1.Size]byte {
	pwHash := NTPasswordHash(password)
	pwHashHash := md4Sum(pwHash[:])

	h := sha1.New()
	h.Write(pwHashHash[:])
	h.Write(ntResponse[:])
	h.Write([]byte(authMagic1))
	var digest [sha1.Size]byte
	h.Sum(digest[:0])

	challenge := ChallengeHash(peerChallenge, authChallenge, user)
	h.Reset()
	h.Write(digest[:])
	h.Write(challenge[:])
	h.Write([]byte(authMagic2))
	h.Sum(digest[:0])
	return digest
}

// GenerateAuthenticatorResponse returns the Authenticator Response the
// server must send, "S=" followed by 40 upper-case hexadecimal digits
// (section 8.7). user is the name as typed; a domain prefix is ignored.
func GenerateAuthenticatorResponse(password string, ntResponse [24]byte, peerChallenge, authChallenge [16]byte, user string) string {
	d := authenticatorDigest(password, ntResponse, peerChallenge, authChallenge, user)
	return "S=" + strings.ToUpper(hex.EncodeToString(d[:]))
}

// CheckAuthenticatorResponse reports whether got, the Message of a CHAP
// Success packet, carries the Authenticator Response expected for these
// inputs (sections 5 and 8.8). got must start with "S=" and 40 hexadecimal
// digits in either case; they may be followed by " M=<message>" (section
// 5), by nothing (SoftEther and others send S= alone), or by trailing
// spaces or NULs. The digests are compared in constant time.
func CheckAuthenticatorResponse(got string, password string, ntResponse [24]byte, peerChallenge, authChallenge [16]byte, user string) bool {
	const hexLen = 2 * sha1.Size
	if !strings.HasPrefix(got, "S=") || len(got) < 2+hexLen {
		return false
	}
	rest := got[2+hexLen:]
	if !strings.HasPrefix(rest, " M=") && strings.TrimRight(rest, " \x00") != "" {
		return false
	}
	var gotDigest [sha1.Size]byte
	if _, err := hex.Decode(gotDigest[:], []byte(got[2:2+hexLen])); err != nil {
		return false
	}
	want := authenticatorDigest(password, ntResponse, peerChallenge, authChallenge, user)
	return subtle.ConstantTimeCompare(gotDigest[:], want[:]) == 1
}

// MSCHAPv2ResponseLen is the size of the MS-CHAPv2 Response value.
const MSCHAPv2ResponseLen = 49

// MSCHAPv2Response builds the 49-octet Value of an MS-CHAPv2 Response
// packet (section 4): the 16-octet Peer-Challenge, 8 reserved zero octets,
// the 24-octet NT-Response and a Flags octet of zero.
func MSCHAPv2Response(peerChallenge [16]byte, ntResponse [24]byte) [MSCHAPv2ResponseLen]byte {
	var v [MSCHAPv2ResponseLen]byte
	copy(v[0:16], peerChallenge[:])
	copy(v[24:48], ntResponse[:])
	return v
}

// MS-CHAPv2 Failure error codes (section 6).
const (
	MSCHAPErrRestrictedLogonHours = 646
	MSCHAPErrAccountDisabled      = 647
	MSCHAPErrPasswordExpired      = 648
	MSCHAPErrNoDialinPermission   = 649
	MSCHAPErrAuthenticationFailed = 691
	MSCHAPErrChangingPassword     = 709
)

// MSCHAPv2Failure is a decoded Failure message,
// "E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv M=<msg>"
// (section 6).
type MSCHAPv2Failure struct {
	Code      int    // E=, a decimal error code such as 691
	Retry     bool   // R=1: the server allows another attempt
	Challenge []byte // C=, the 16-octet challenge for a retry; nil if absent
	Version   int    // V=, the password-change protocol version; 0 if absent
	Message   string // M=, free text; everything after "M=" to the end
}

// ParseMSCHAPv2Failure decodes the Message of an MS-CHAPv2 Failure packet.
// E= is required; R=, C=, V= and M= are optional, since servers differ
// (SoftEther sends "E=691 R=0 C=... V=3" with no M=). Fields are separated
// by spaces and may come in any order; M= comes last and takes the rest of
// the string, spaces included. Unknown fields are skipped. A repeated
// field, a value that does not parse (E and V decimal, R 0 or 1, C exactly
// 32 hexadecimal digits) or a token without "=" is an error wrapping
// ErrMalformed. Trailing NULs are ignored.
func ParseMSCHAPv2Failure(msg string) (MSCHAPv2Failure, error) {
	var f MSCHAPv2Failure
	var seen [4]bool // E, R, C, V
	s := strings.TrimRight(msg, "\x00")
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if strings.HasPrefix(s, "M=") {
			f.Message = s[2:]
			break
		}
		tok := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			tok, s = s[:i], s[i:]
		} else {
			s = ""
		}
		key, val, ok := strings.Cut(tok, "=")
		if !ok || key == "" {
			return MSCHAPv2Failure{}, fmt.Errorf("MS-CHAPv2 failure: field %q has no key=value: %w", tok, ErrMalformed)
		}
		slot := strings.Index("ERCV", key)
		if len(key) != 1 || slot < 0 {
			continue // a field this parser does not know
		}
		if seen[slot] {
			return MSCHAPv2Failure{}, fmt.Errorf("MS-CHAPv2 failure: %s= given twice: %w", key, ErrMalformed)
		}
		seen[slot] = true
		var err error
		switch key {
		case "E":
			f.Code, err = parseDecimal(val)
		case "R":
			switch val {
			case "0":
			case "1":
				f.Retry = true
			default:
				err = fmt.Errorf("not 0 or 1")
			}
		case "C":
			if len(val) != 32 {
				err = fmt.Errorf("%d digits, want 32", len(val))
			} else {
				f.Challenge, err = hex.DecodeString(val)
			}
		case "V":
			f.Version, err = parseDecimal(val)
		}
		if err != nil {
			return MSCHAPv2Failure{}, fmt.Errorf("MS-CHAPv2 failure: bad %s=%q (%v): %w", key, val, err, ErrMalformed)
		}
	}
	if !seen[0] {
		return MSCHAPv2Failure{}, fmt.Errorf("MS-CHAPv2 failure: no E= error code in %q: %w", msg, ErrMalformed)
	}
	return f, nil
}

// parseDecimal parses an unsigned decimal number that fits in 31 bits.
func parseDecimal(s string) (int, error) {
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// Describe returns the error in plain words for the codes of section 6,
// followed by the server's M= text, quoted, when there is one.
func (f MSCHAPv2Failure) Describe() string {
	var d string
	switch f.Code {
	case MSCHAPErrRestrictedLogonHours:
		d = "the account may not log on at this time (restricted logon hours)"
	case MSCHAPErrAccountDisabled:
		d = "the account is disabled"
	case MSCHAPErrPasswordExpired:
		d = "the password has expired"
	case MSCHAPErrNoDialinPermission:
		d = "the account has no permission to dial in"
	case MSCHAPErrAuthenticationFailed:
		d = "authentication failed: wrong user name or password"
	case MSCHAPErrChangingPassword:
		d = "error changing the password"
	default:
		d = fmt.Sprintf("MS-CHAPv2 error %d", f.Code)
	}
	if f.Message != "" {
		d += fmt.Sprintf(" (server says %q)", f.Message)
	}
	return d
}

// SplitDomainUser splits a Windows "DOMAIN\user" name at its last
// backslash: "CORP\alice" gives ("CORP", "alice") and "alice" gives
// ("", "alice"). Neither NetBIOS domain names nor account names may contain
// a backslash, so the last one is the separator, and splitting a bare
// account name again changes nothing.
func SplitDomainUser(name string) (domain, user string) {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}
