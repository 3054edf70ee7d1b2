package ppp

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// LCP configuration option types (RFC 1661 section 6).
const (
	lcpOptMRU      = 1
	lcpOptACCM     = 2 // RFC 1662 7.1: meaningless inside L2TP
	lcpOptAuth     = 3
	lcpOptQuality  = 4
	lcpOptMagic    = 5
	lcpOptPFC      = 7
	lcpOptACFC     = 8
	defaultMRU     = 1500
	minAcceptedMRU = 576 // we do not shrink below what IPv4 guarantees
)

// AuthMethod is an authentication protocol the client can answer.
type AuthMethod uint8

// Authentication methods, in no particular order; a Config lists the
// allowed ones in the user's order of preference.
const (
	AuthNone AuthMethod = iota
	AuthPAP
	AuthCHAPMD5
	AuthMSCHAPv2
)

func (m AuthMethod) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthPAP:
		return "PAP"
	case AuthCHAPMD5:
		return "CHAP-MD5"
	case AuthMSCHAPv2:
		return "MS-CHAPv2"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// ParseAuthMethods parses a comma-separated list such as "mschapv2,pap,chap".
// "none" allows a server that asks for no authentication at all.
func ParseAuthMethods(s string) ([]AuthMethod, error) {
	var out []AuthMethod
	for _, f := range strings.Split(s, ",") {
		var m AuthMethod
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "mschapv2", "ms-chapv2", "mschap-v2":
			m = AuthMSCHAPv2
		case "pap":
			m = AuthPAP
		case "chap", "chap-md5", "md5":
			m = AuthCHAPMD5
		case "none":
			m = AuthNone
		default:
			return nil, fmt.Errorf("unknown authentication method %q (known: mschapv2, pap, chap, none)", strings.TrimSpace(f))
		}
		for _, o := range out {
			if o == m {
				return nil, fmt.Errorf("authentication method %v listed twice", m)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// authOption returns the Data of the Authentication-Protocol option
// (RFC 1661 6.2; RFC 1994 for CHAP's algorithm octet) asking for m.
func authOption(m AuthMethod) []byte {
	switch m {
	case AuthPAP:
		return []byte{0xc0, 0x23}
	case AuthCHAPMD5:
		return []byte{0xc2, 0x23, CHAPAlgMD5}
	case AuthMSCHAPv2:
		return []byte{0xc2, 0x23, CHAPAlgMSv2}
	}
	return nil
}

// authFromOption maps an Authentication-Protocol option to a method, or
// AuthNone with a description of what the peer asked for.
func authFromOption(data []byte) (AuthMethod, string) {
	if len(data) < 2 {
		return AuthNone, "malformed"
	}
	p := Protocol(binary.BigEndian.Uint16(data))
	switch {
	case p == ProtoPAP && len(data) == 2:
		return AuthPAP, "PAP"
	case p == ProtoCHAP && len(data) == 3 && data[2] == CHAPAlgMD5:
		return AuthCHAPMD5, "CHAP-MD5"
	case p == ProtoCHAP && len(data) == 3 && data[2] == CHAPAlgMSv2:
		return AuthMSCHAPv2, "MS-CHAPv2"
	case p == ProtoCHAP && len(data) == 3 && data[2] == 0x80:
		return AuthNone, "MS-CHAPv1"
	case p == ProtoEAP:
		return AuthNone, "EAP"
	}
	return AuthNone, fmt.Sprintf("%v % x", p, data[2:])
}

// lcp is the Link Control Protocol layer (RFC 1661 section 6).
type lcp struct {
	link *Link

	mru       int    // MRU we request; 0: do not request (peer rejected it)
	wantMagic bool   // we request a Magic-Number
	magic     uint32 // our magic number, 0 when not negotiated
	peerMRU   int
	peerMagic uint32
	auth      AuthMethod // what the peer's acked request makes us do
	// lastRefused is the auth method (in words) of the peer's latest
	// Configure-Request when we refused it, "" when we accepted it.
	lastRefused string
	buf         []byte
}

func (c *lcp) request(b []byte) []byte {
	if c.mru != 0 && c.mru != defaultMRU {
		b = AppendOption(b, lcpOptMRU, binary.BigEndian.AppendUint16(nil, uint16(c.mru)))
	}
	if c.wantMagic {
		if c.magic == 0 {
			c.magic = c.link.random32()
		}
		b = AppendOption(b, lcpOptMagic, binary.BigEndian.AppendUint32(nil, c.magic))
	}
	return b
}

// check enforces RFC 1661 5.1-5.4: reject what we do not recognise or do
// not do; Nak values we cannot accept, suggesting ours; Ack otherwise.
// An Authentication-Protocol we do not allow (or none, when the profile
// requires one) is Nak'd towards our preferred method; once Max-Failure
// Naks have not made the peer converge (RFC 1661 4.6), the link ends with
// an *AuthRefusedError and check returns code 0: no reply.
func (c *lcp) check(opts []Option, failuresLeft bool) (Code, []byte) {
	var rej, nak []byte
	peerMRU, peerMagic, auth := defaultMRU, uint32(0), AuthNone
	suggest := authOption(c.link.preferredAuth())
	authSeen, refusedNow, giveUp := false, "", false
	for _, o := range opts {
		switch o.Type {
		case lcpOptMRU:
			if len(o.Data) != 2 {
				rej = AppendOption(rej, o.Type, o.Data)
				continue
			}
			peerMRU = int(binary.BigEndian.Uint16(o.Data))
			if peerMRU < minAcceptedMRU && failuresLeft {
				// A smaller MRU would make the device MTU useless; suggest
				// the least every IPv4 host must handle (RFC 791).
				nak = AppendOption(nak, o.Type, binary.BigEndian.AppendUint16(nil, minAcceptedMRU))
			}
		case lcpOptAuth:
			authSeen = true
			m, name := authFromOption(o.Data)
			if m != AuthNone && c.link.allowed(m) {
				auth = m
				continue
			}
			refusedNow = name
			switch {
			case failuresLeft && suggest != nil:
				nak = AppendOption(nak, lcpOptAuth, suggest)
			case c.link.allowed(AuthNone):
				// Nothing to suggest, or RFC 1661 4.6 Max-Failure: Nak
				// turns into Reject; the peer may go on without
				// authentication, which the profile allows.
				rej = AppendOption(rej, o.Type, o.Data)
			default:
				giveUp = true
			}
		case lcpOptMagic:
			if len(o.Data) != 4 {
				rej = AppendOption(rej, o.Type, o.Data)
				continue
			}
			peerMagic = binary.BigEndian.Uint32(o.Data)
			if peerMagic != 0 && peerMagic == c.magic {
				// RFC 1661 6.4: our own number came back (a looped link or
				// a coincidence): Nak with another one for the peer. Our
				// own stays as requested, so echoes carry what was agreed.
				nak = AppendOption(nak, o.Type, binary.BigEndian.AppendUint32(nil, c.link.random32()))
			}
		default:
			// ACCM, PFC, ACFC and anything else: not done over L2TP here.
			rej = AppendOption(rej, o.Type, o.Data)
		}
	}
	if !authSeen && !c.link.allowed(AuthNone) {
		// No Authentication-Protocol option: the peer would not
		// authenticate us at all. RFC 1661 5.3: an option we want may be
		// appended to a Configure-Nak to prompt the peer to include it.
		refusedNow = authNoneWords
		if failuresLeft && suggest != nil {
			nak = AppendOption(nak, lcpOptAuth, suggest)
		} else {
			giveUp = true
		}
	}
	c.lastRefused = refusedNow
	if giveUp {
		c.link.refuseAuth(refusedNow)
		return 0, nil
	}
	switch {
	case rej != nil:
		return CodeConfRej, rej
	case nak != nil:
		return CodeConfNak, nak
	}
	c.peerMRU, c.peerMagic, c.auth = peerMRU, peerMagic, auth
	c.buf = c.buf[:0]
	for _, o := range opts {
		c.buf = AppendOption(c.buf, o.Type, o.Data)
	}
	return CodeConfAck, c.buf
}

// authNoneWords is a peer's request for no authentication, in words.
const authNoneWords = "no authentication"

func (c *lcp) acked([]Option) {}

func (c *lcp) nakked(opts []Option) {
	for _, o := range opts {
		switch o.Type {
		case lcpOptMRU:
			if len(o.Data) == 2 {
				if v := int(binary.BigEndian.Uint16(o.Data)); v >= minAcceptedMRU && v <= defaultMRU {
					c.mru = v
				}
			}
		case lcpOptMagic:
			c.magic = c.link.random32()
		}
	}
}

func (c *lcp) rejected(opts []Option) error {
	for _, o := range opts {
		switch o.Type {
		case lcpOptMRU:
			c.mru = 0
		case lcpOptMagic: // SoftEther rejects it; echoes then carry 0
			c.wantMagic, c.magic = false, 0
		}
	}
	return nil
}

func (c *lcp) up()                   { c.link.lcpUp() }
func (c *lcp) down()                 { c.link.lcpDown() }
func (c *lcp) finished(reason error) { c.link.lcpFinished(reason) }
