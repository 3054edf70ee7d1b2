package ike

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// Vendor IDs (RFC 3947 section 3.1 and the drafts before it; RFC 3706).
var (
	vidRFC3947  = mustHex("4a131c81070358455c5728f20e95452f") // MD5("RFC 3947")
	vidDraft02n = mustHex("90cb80913ebb696e086381b5ec427b1f") // MD5("draft-ietf-ipsec-nat-t-ike-02\n")
	vidDraft02  = mustHex("cd60464335df21f87cfdb2fc68b6a448") // MD5("draft-ietf-ipsec-nat-t-ike-02")
	vidDraft03  = mustHex("7d9419a65310ca6f2c179d9215529d56") // MD5("draft-ietf-ipsec-nat-t-ike-03")
	vidDPD      = mustHex("afcad71368a1f1c96b8696fc77570100") // RFC 3706 section 5.3, version 1.0
)

// Errors of the exchanges that the session layer explains to the user.
var (
	// ErrNoAnswer: the server never answered Main Mode message 1.
	ErrNoAnswer = errors.New("ike: no answer from the server on UDP 500")
	// ErrPSK: the server answered Main Mode messages 1 and 3 but not 5,
	// which is what servers do when the pre-shared key differs.
	ErrPSK = errors.New("ike: the server stopped answering after our authentication (main mode message 5)")
	// ErrPeerAuth: the server's HASH_R did not verify.
	ErrPeerAuth = errors.New("ike: the server's proof of the pre-shared key does not match")
	// ErrQuickMode: the server did not answer Quick Mode.
	ErrQuickMode = errors.New("ike: the server did not answer quick mode")
	// ErrQuickModeAnswer: the server's authentic Quick Mode answer breaks
	// a rule (nonce size, reserved SPI, other IDs).
	ErrQuickModeAnswer = errors.New("ike: the server's quick mode answer breaks the protocol")
	// ErrNoNATT: the server sent no NAT-T vendor ID.
	ErrNoNATT = errors.New("ike: the server does not support NAT traversal (RFC 3947), which a userspace client needs")
	// ErrProposal: the server chose something we did not offer.
	ErrProposal2 = errors.New("ike: the server chose a proposal we did not offer")
	// ErrPeerDead: dead peer detection gave up.
	ErrPeerDead = errors.New("ike: the server stopped answering (dead peer detection)")
	// ErrPeerDeleted: the server deleted our security association.
	ErrPeerDeleted = errors.New("ike: the server closed the IPsec connection")
)

// nonceLen is the size of our nonces (RFC 2409 5: 8 to 256 bytes).
const nonceLen = 32

// Quick Mode and phase-1 attribute types (RFC 2409 appendix A, RFC 2407 4.5).
const (
	p1AttrEnc      = 1
	p1AttrHash     = 2
	p1AttrAuth     = 3
	p1AttrGroup    = 4
	p1AttrLifeType = 11
	p1AttrLifeDur  = 12
	p1AttrKeyLen   = 14
	authPSK        = 1
	authRSASig     = 3 // RSA signatures (RFC 2409 appendix A, 5.1)
	lifeSeconds    = 1

	p2AttrLifeType = 1
	p2AttrLifeDur  = 2
	p2AttrGroup    = 3
	p2AttrEncap    = 4
	p2AttrAuth     = 5
	p2AttrKeyLen   = 6

	espIDTDES  = 3
	espIDAES   = 12
	espIDGCM16 = 20

	encapUDPTransportRFC   = 4     // RFC 3947 5.1
	encapUDPTransportDraft = 61444 // draft-ietf-ipsec-nat-t-ike
)

// natt is the NAT-traversal flavour the server chose.
type natt struct {
	rfc   bool // RFC 3947; otherwise a draft
	draft bool
}

func (n natt) natdType() PayloadType {
	if n.rfc {
		return PayloadNATD
	}
	return PayloadNATDDraft
}

func (n natt) natoaType() PayloadType {
	if n.rfc {
		return PayloadNATOA
	}
	return PayloadNATOADraft
}

func (n natt) encapTransport() uint64 {
	if n.rfc {
		return encapUDPTransportRFC
	}
	return encapUDPTransportDraft
}

func (n natt) String() string {
	if n.rfc {
		return "RFC 3947"
	}
	return "draft"
}

// ikeSA is an established phase-1 security association.
type ikeSA struct {
	suite    IKESuite
	ci, cr   [8]byte
	keys     p1Keys
	block    cipher.Block
	lastIV   []byte // last CBC block of phase 1: seeds phase-2 IVs
	natt     natt
	dpd      bool
	natFound bool // a real NAT lies between us (not only our forced one)
	lifetime time.Duration
	born     time.Time
	retry    time.Time // after a failed renewal, not before this
	infoIDs  msgIDs    // message IDs of the informational exchanges seen
}

// childSA is an established ESP SA pair.
type childSA struct {
	suite    ESPSuite
	in, out  *esp.SA
	lifetime time.Duration
	born     time.Time
	retry    time.Time // after a failed rekey, not before this
}

// p1IV is the IV of the first message of an exchange with message ID
// mid (RFC 2409 appendix B): hash(last phase-1 CBC block | M-ID).
func (s *ikeSA) p2IV(mid uint32) []byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], mid)
	return digest(s.suite.Hash, s.lastIV, m[:])[:s.block.BlockSize()]
}

// seal builds an encrypted message from payloads; it returns the datagram
// and the last cipher block (the next IV of this exchange).
func (s *ikeSA) seal(ex ExchangeType, mid uint32, iv []byte, ps []Payload) ([]byte, []byte) {
	m := &Message{ICookie: s.ci, RCookie: s.cr, Exchange: ex, Flags: FlagEncryption, MessageID: mid, Payloads: ps}
	plain := AppendPayloads(nil, ps)
	ct := encrypt(s.block, iv, plain)
	b := appendHeader(make([]byte, 0, HeaderLen+len(ct)), m)
	b = append(b, ct...)
	Header(b).setLength(len(b))
	return b, lastBlock(ct, s.block.BlockSize())
}

// open decrypts an encrypted message body with iv; it returns the
// payloads, the plaintext of the payload chain (without padding) and the
// last cipher block.
func (s *ikeSA) open(h Header, body, iv []byte) ([]Payload, []byte, []byte, error) {
	plain, err := decrypt(s.block, iv, body)
	if err != nil {
		return nil, nil, nil, err
	}
	ps, rest, err := ParsePayloads(h.NextPayload(), plain)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (after decryption: a wrong pre-shared key garbles it)", err)
	}
	return ps, plain[:len(plain)-rest], lastBlock(body, s.block.BlockSize()), nil
}

// hashed builds HASH | ps where HASH = prf(SKEYID_a, prefix | ps...)
// (RFC 2409 5.5 HASH(1)/HASH(2), 5.7 informational).
func (s *ikeSA) hashed(prefix []byte, ps []Payload) []Payload {
	rest := AppendPayloads(nil, ps)
	h := prf(s.suite.Hash, s.keys.a, prefix, rest)
	return append([]Payload{{Type: PayloadHash, Body: h}}, ps...)
}

// checkHash verifies that the first payload of plain is a HASH equal to
// prf(SKEYID_a, prefix | the payloads after it).
func (s *ikeSA) checkHash(ps []Payload, plain, prefix []byte) error {
	if len(ps) == 0 || ps[0].Type != PayloadHash {
		return errors.New("ike: message does not start with HASH (RFC 2409 5.5)")
	}
	rest := plain[4+len(ps[0].Body):]
	if !hmac.Equal(ps[0].Body, prf(s.suite.Hash, s.keys.a, prefix, rest)) {
		return errors.New("ike: HASH of the message does not verify")
	}
	return nil
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func random(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("ike: random: %w", err)
	}
	return b, nil
}

// p1Transform encodes an IKE suite as a phase-1 transform.
func p1Transform(num int, s IKESuite, life time.Duration) Transform {
	t := Transform{Num: uint8(num), ID: transformKeyIKE}
	t.Attrs = append(t.Attrs, Attr{Type: p1AttrEnc, Value: uint64(s.Cipher)})
	if s.Cipher == CipherAESCBC {
		t.Attrs = append(t.Attrs, Attr{Type: p1AttrKeyLen, Value: uint64(s.KeyLen * 8)})
	}
	t.Attrs = append(t.Attrs,
		Attr{Type: p1AttrHash, Value: uint64(s.Hash)},
		Attr{Type: p1AttrAuth, Value: authPSK},
		Attr{Type: p1AttrGroup, Value: uint64(s.Group)},
		Attr{Type: p1AttrLifeType, Value: lifeSeconds},
		Attr{Type: p1AttrLifeDur, Value: uint64(life / time.Second)})
	return t
}

// withAuth returns t with its authentication method set to auth.
func withAuth(t Transform, auth uint64) Transform {
	t.Attrs = append([]Attr(nil), t.Attrs...)
	for i := range t.Attrs {
		if t.Attrs[i].Type == p1AttrAuth {
			t.Attrs[i].Value = auth
		}
	}
	return t
}

// matchP1 finds which of our suites the server's chosen transform is.
func matchP1(t Transform, offer []IKESuite) (IKESuite, error) {
	return matchP1Auth(t, offer, authPSK)
}

// matchP1Auth is matchP1 for the authentication method want.
func matchP1Auth(t Transform, offer []IKESuite, want uint64) (IKESuite, error) {
	enc, _ := t.Attr(p1AttrEnc)
	h, _ := t.Attr(p1AttrHash)
	g, _ := t.Attr(p1AttrGroup)
	kl, _ := t.Attr(p1AttrKeyLen)
	if auth, _ := t.Attr(p1AttrAuth); auth != want {
		return IKESuite{}, fmt.Errorf("%w: authentication method %d", ErrProposal2, auth)
	}
	for _, s := range offer {
		if uint64(s.Cipher) == enc && uint64(s.Hash) == h && uint64(s.Group) == g &&
			(s.Cipher != CipherAESCBC || kl == uint64(s.KeyLen*8)) {
			return s, nil
		}
	}
	return IKESuite{}, fmt.Errorf("%w: cipher %d/%d bits, hash %d, group %d", ErrProposal2, enc, kl, h, g)
}

// Bounds of a lifetime the server sets: a huge one must not overflow a
// Duration (a negative lifetime rekeys on every tick), a tiny one must
// not make us rekey all the time.
const (
	minLife = time.Minute
	maxLife = 24 * time.Hour
)

// lifeOf reads the lifetime in seconds among attributes, clamped to
// [minLife, maxLife]. RFC 2407 4.5: a Life Duration counts in the unit of
// the Life Type before it (seconds or kilobytes); its value may be basic
// or variable, of any length. 0 has no meaning and is ignored.
func lifeOf(t Transform, typeAttr, durAttr uint16) (time.Duration, bool) {
	var unit uint64
	for _, a := range t.Attrs {
		switch a.Type {
		case typeAttr:
			unit = a.Value
		case durAttr:
			if unit != lifeSeconds {
				continue
			}
			if s := attrUint(a); s != 0 {
				return time.Duration(min(max(s, uint64(minLife/time.Second)), uint64(maxLife/time.Second))) * time.Second, true
			}
		}
	}
	return 0, false
}

// attrUint is the value of a, saturated at the largest uint64 when a
// variable value needs more than 8 bytes.
func attrUint(a Attr) uint64 {
	if a.Var == nil {
		return a.Value
	}
	b := bytes.TrimLeft(a.Var, "\x00")
	if len(b) > 8 {
		return math.MaxUint64
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// p2Transform encodes an ESP suite as a phase-2 transform.
func p2Transform(num int, s ESPSuite, n natt, life time.Duration) Transform {
	t := Transform{Num: uint8(num)}
	switch s.Suite {
	case esp.AESGCM16:
		t.ID = espIDGCM16
	case esp.TDESCBC_HMACSHA1, esp.TDESCBC_HMACMD5:
		t.ID = espIDTDES
	default:
		t.ID = espIDAES
	}
	t.Attrs = append(t.Attrs,
		Attr{Type: p2AttrLifeType, Value: lifeSeconds},
		Attr{Type: p2AttrLifeDur, Value: uint64(life / time.Second)},
		Attr{Type: p2AttrEncap, Value: n.encapTransport()})
	switch s.Suite {
	case esp.AESCBC_HMACSHA1, esp.TDESCBC_HMACSHA1:
		t.Attrs = append(t.Attrs, Attr{Type: p2AttrAuth, Value: 2})
	case esp.AESCBC_HMACSHA256:
		t.Attrs = append(t.Attrs, Attr{Type: p2AttrAuth, Value: 5})
	case esp.AESCBC_HMACMD5, esp.TDESCBC_HMACMD5:
		t.Attrs = append(t.Attrs, Attr{Type: p2AttrAuth, Value: 1})
	}
	if t.ID != espIDTDES {
		t.Attrs = append(t.Attrs, Attr{Type: p2AttrKeyLen, Value: uint64(s.KeyLen * 8)})
	}
	if s.PFS != 0 {
		t.Attrs = append(t.Attrs, Attr{Type: p2AttrGroup, Value: uint64(s.PFS)})
	}
	return t
}

// matchP2 finds which of our ESP suites the server's transform is.
func matchP2(t Transform, offer []ESPSuite, n natt) (ESPSuite, error) {
	for i, s := range offer {
		want := p2Transform(i+1, s, n, 0)
		if want.ID != t.ID {
			continue
		}
		ok := true
		for _, a := range want.Attrs {
			if a.Type == p2AttrLifeDur || a.Type == p2AttrLifeType {
				continue
			}
			if v, found := t.Attr(a.Type); !found || v != a.Value {
				ok = false
				break
			}
		}
		if ok {
			return s, nil
		}
	}
	return ESPSuite{}, fmt.Errorf("%w: ESP transform %d %v", ErrProposal2, t.ID, t.Attrs)
}

// natdHash is a NAT-D payload body (RFC 3947 3.2):
// HASH(CKY-I | CKY-R | IP | Port).
func natdHash(h Hash, ci, cr [8]byte, ap netip.AddrPort) []byte {
	a := ap.Addr().As4()
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], ap.Port())
	return digest(h, ci[:], cr[:], a[:], p[:])
}

func hasVID(m *Message, vid []byte) bool {
	for _, p := range m.All(PayloadVendorID) {
		if bytes.Equal(p.Body, vid) {
			return true
		}
	}
	return false
}

// errorNotify returns the first error notification of ps.
func errorNotify(ps []Payload) (Notify, bool) {
	for _, p := range ps {
		if p.Type != PayloadNotify {
			continue
		}
		if n, err := ParseNotify(p.Body); err == nil && n.Type.IsError() {
			return n, true
		}
	}
	return Notify{}, false
}

// ctxErr turns a context error into what the user should read.
func ctxErr(ctx context.Context, stage string) error {
	return fmt.Errorf("ike: %s: %w", stage, context.Cause(ctx))
}
