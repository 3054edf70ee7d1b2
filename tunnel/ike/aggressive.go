package ike

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Aggressive Mode with a pre-shared key (RFC 2409 5, 5.4) and NAT-T
// (RFC 3947 3, 4), for gateways that name the client's group by the
// identity it sends (Cisco-, Fortinet- and SonicWall-style "group
// name"). Offered only when Config.Aggressive asks for it: its second
// message carries HASH_R, a keyed hash of the pre-shared key, to anyone
// who sends a first message with a known identity, which lets them guess
// the key offline (the ike-scan attack). Main Mode does not.
//
//	Initiator                        Responder
//	AM1  HDR, SA, KE, Ni, IDii, VIDs -->
//	                               <-- AM2  HDR, SA, KE, Nr, IDir, HASH_R, VIDs, NAT-D, NAT-D
//	AM3  HDR*, HASH_I, NAT-D, NAT-D -->   (to UDP 4500)
//
// RFC 2409 5.4 draws AM3 in the clear, and 5 says it "MAY NOT be sent
// under protection of the ISAKMP SA" (it need not be); RFC 2408 4.8 and
// RFC 3947 4 draw it encrypted ("HDR*"), and racoon and strongSwan send
// it so. It is encrypted here, with the phase-1 IV of RFC 2409 appendix B
// (a hash of g^xi | g^xr), and its last cipher block seeds the Quick
// Mode IVs; charon 5.9.8 takes it (build/e2e TestCharonAggressive).

// Identification types of a group name (RFC 2407 4.6.2.1).
const (
	IDKeyID = 11 // ID_KEY_ID: an opaque byte string, as Cisco-style gateways expect
)

// ErrAggressiveRefused: the server refused our Aggressive Mode message 1
// with a notification (unauthenticated) such as AUTHENTICATION-FAILED or
// INVALID-ID-INFORMATION: it does not know the group name, or does not
// allow Aggressive Mode.
var ErrAggressiveRefused = errors.New("ike: the server refused our group name or aggressive mode")

// groupID is the IDii of Aggressive Mode: the group name as an FQDN or
// KEY_ID identity (RFC 2407 4.6.2).
func groupID(cfg *Config) (ID, error) {
	typ := cfg.GroupIDType
	switch typ {
	case 0:
		typ = IDFQDN
	case IDFQDN, IDKeyID:
	default:
		return ID{}, fmt.Errorf("ike: group ID type %d: want FQDN (%d) or KEY_ID (%d)", typ, IDFQDN, IDKeyID)
	}
	if cfg.GroupID == "" {
		return ID{}, errors.New("ike: aggressive mode needs a group name")
	}
	if len(cfg.GroupID) > 255 {
		return ID{}, errors.New("ike: group name longer than 255 bytes")
	}
	return ID{Type: typ, Data: []byte(cfg.GroupID)}, nil
}

// GroupIDTypeName is the word for a group ID type: "fqdn" or "keyid".
func GroupIDTypeName(t uint8) string {
	if t == IDKeyID {
		return "keyid"
	}
	return "fqdn"
}

// ParseGroupIDType reads "fqdn" (or "") and "keyid" (or "key_id").
func ParseGroupIDType(s string) (uint8, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "fqdn":
		return IDFQDN, nil
	case "keyid", "key_id", "key-id":
		return IDKeyID, nil
	}
	return 0, fmt.Errorf("%q is not a group ID type (fqdn or keyid)", s)
}

// aggressiveOffer is the phase-1 offer of Aggressive Mode: AM1 carries
// our Diffie-Hellman half, so the group "cannot be negotiated" (RFC 2409
// 5): the group of the preferred suite, with every suite of that group.
func aggressiveOffer(ss []IKESuite) []IKESuite {
	var out []IKESuite
	for _, s := range ss {
		if s.Group == ss[0].Group {
			out = append(out, s)
		}
	}
	return out
}

// aggressiveMode runs the three messages of Aggressive Mode with a
// pre-shared key (RFC 2409 5.4) plus NAT-T (RFC 3947 3, 4). It is what
// mainMode runs when Config.Aggressive is set.
func (c *Conn) aggressiveMode(ctx context.Context) (*ikeSA, error) {
	cfg := &c.cfg
	idi, err := groupID(cfg)
	if err != nil {
		return nil, err
	}
	offered := aggressiveOffer(cfg.IKE)
	sa := &ikeSA{lifetime: cfg.IKELifetime}
	ck, err := random(cfg.Rand, 8)
	if err != nil {
		return nil, err
	}
	copy(sa.ci[:], ck)
	offer := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoISAKMP}}}
	for i, s := range offered {
		offer.Proposals[0].Transforms = append(offer.Proposals[0].Transforms, p1Transform(i+1, s, cfg.IKELifetime))
	}
	saBody := offer.Append(nil)
	dh, err := newDH(offered[0].Group, cfg.Rand)
	if err != nil {
		return nil, err
	}
	ni, err := random(cfg.Rand, nonceLen)
	if err != nil {
		return nil, err
	}
	idiBody := idi.Append(nil)
	am1 := (&Message{ICookie: sa.ci, Exchange: ExchangeAggressive, Payloads: []Payload{
		{PayloadSA, saBody}, {PayloadKE, dh.pub}, {PayloadNonce, ni}, {PayloadID, idiBody},
		{PayloadVendorID, vidRFC3947}, {PayloadVendorID, vidDraft03},
		{PayloadVendorID, vidDraft02n}, {PayloadVendorID, vidDraft02},
		{PayloadVendorID, vidDPD},
	}}).Marshal()
	serverAP := netip.AddrPortFrom(c.server, uint16(c.port.Load()))
	c.log.Debug("ike send", "msg", "AM1", "offer", Notations(offered), "id", idi, "idtype", GroupIDTypeName(idi.Type))

	// Message 2 holds the server's whole side; only HASH_R proves it
	// knows the key. Until one verifies, whatever comes is dropped and
	// kept as the diagnosis for when the retransmissions run out.
	var (
		am2raw, gxr []byte
		am2         *Message
		v           mm2
		idr         ID
		notice      error
		badHashR    int
	)
	err = c.roundTrip(ctx, "aggressive mode 1", am1, nil, func(b []byte) (verdict, error) {
		h, _, err := ParseHeader(b)
		if err != nil {
			return dropped, fmt.Errorf("aggressive mode msg 2: %w", err)
		}
		if h.ICookie() != sa.ci {
			return notMine, nil
		}
		if h.Flags()&FlagEncryption != 0 {
			return notMine, nil
		}
		m, err := ParseClear(b)
		if err != nil {
			return dropped, fmt.Errorf("aggressive mode msg 2: %w", err)
		}
		if m.Exchange == ExchangeInformational {
			if n, ok := errorNotify(m.Payloads); ok {
				notice = &NotifyError{Phase: "phase 1", Type: n.Type, Offer: Notations(offered)}
				return dropped, notice
			}
			return notMine, nil
		}
		if m.Exchange != ExchangeAggressive {
			return notMine, nil
		}
		mv, err := checkP1Choice(m, offered, authPSK)
		if err != nil {
			notice = fmt.Errorf("ike: aggressive mode msg 2: %w", err)
			return dropped, notice
		}
		ke, okKE := m.Find(PayloadKE)
		n, okN := m.Find(PayloadNonce)
		id, okID := m.Find(PayloadID)
		hashR, okH := m.Find(PayloadHash)
		switch {
		case !okKE || !okN || !okID || !okH:
			notice = fmt.Errorf("ike: aggressive mode msg 2: %w: want KE, nonce, ID and HASH (RFC 2409 5.4), got %v", ErrPayload, m.Types())
			return dropped, notice
		case len(n.Body) < 8 || len(n.Body) > 256:
			// RFC 2409 5: nonces of 8 to 256 bytes.
			notice = errors.New("ike: aggressive mode msg 2: bad nonce (RFC 2409 5: 8 to 256 bytes)")
			return dropped, notice
		}
		rid, err := ParseID(id.Body)
		if err != nil {
			notice = fmt.Errorf("ike: aggressive mode msg 2: %w", err)
			return dropped, notice
		}
		gxy, err := dh.shared(ke.Body)
		if err != nil {
			notice = fmt.Errorf("ike: aggressive mode msg 2: %w", err)
			return dropped, notice
		}
		cr := h.RCookie()
		keys := deriveP1(mv.suite, cfg.PSK, ni, n.Body, gxy, sa.ci, cr)
		clear(gxy)
		// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
		// (RFC 2409 5): IDir_b is the ID payload's body as it came.
		want := prf(mv.suite.Hash, keys.skeyid, ke.Body, dh.pub, cr[:], sa.ci[:], saBody, id.Body)
		if !hmac.Equal(hashR.Body, want) {
			badHashR++
			(&ikeSA{keys: keys}).wipe()
			return dropped, errors.New("aggressive mode msg 2: HASH_R does not verify")
		}
		if len(ke.Body) < len(dh.pub) {
			c.log.Debug("ike: the server's public value came without its leading zero bytes (RFC 2409 5 wants them)",
				"bytes", len(ke.Body), "want", len(dh.pub))
		}
		sa.cr, sa.keys = cr, keys
		am2, am2raw, v, idr, gxr = m, b, mv, rid, ke.Body
		return answered, nil
	})
	if err == errTimeout {
		return nil, c.aggressiveTimeout(notice, badHashR, offered, idi)
	}
	if err != nil {
		return nil, err
	}
	c.log.Debug("ike recv", "msg", "AM2", "payloads", am2.Types(), "id", idr)
	sa.suite, sa.natt, sa.dpd = v.suite, v.natt, v.dpd
	if v.life != 0 {
		sa.lifetime = min(v.life, cfg.IKELifetime)
	}
	if sa.block, err = blockCipher(sa.suite.Cipher, sa.keys.encKey); err != nil {
		return nil, err
	}
	// NAT detection (RFC 3947 3.2), as in Main Mode message 4.
	nt := sa.natt.natdType()
	c.detectNAT(sa, am2.All(nt), serverAP)

	// Message 3, encrypted, to port 4500 (RFC 3947 4: the initiator
	// floats with the message that carries HASH_I).
	natdLocal := natdHash(sa.suite.Hash, sa.ci, sa.cr, c.local)
	if !cfg.NoForceEncaps {
		// As in Main Mode: a NAT-D of nothing real, so the server sees a
		// NAT in front of us and encapsulates ESP in UDP.
		if natdLocal, err = random(cfg.Rand, len(natdLocal)); err != nil {
			return nil, err
		}
	}
	// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b) (RFC 2409 5).
	hashI := prf(sa.suite.Hash, sa.keys.skeyid, dh.pub, gxr, sa.ci[:], sa.cr[:], saBody, idiBody)
	iv := digest(sa.suite.Hash, dh.pub, gxr)[:sa.block.BlockSize()]
	am3, am3last := sa.seal(ExchangeAggressive, 0, iv, []Payload{
		{PayloadHash, hashI},
		{nt, natdHash(sa.suite.Hash, sa.ci, sa.cr, serverAP)}, {nt, natdLocal},
		{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyInitialContact, SPI: append(sa.ci[:], sa.cr[:]...)}.Append(nil)},
	})
	sa.lastIV = am3last
	c.port.Store(uint32(c.nattPort))
	if err := c.send(am3); err != nil {
		return nil, fmt.Errorf("ike: aggressive mode msg 3: %w", err)
	}
	c.log.Debug("ike send", "msg", "AM3")
	// AM3 has no answer. If it is lost the server repeats AM2: answer
	// it again (until Quick Mode replaces this table).
	c.replies = map[string][]byte{string(am2raw): am3}
	if err := c.settle(ctx, amSettle, am2raw, am3); err != nil {
		return nil, err
	}
	sa.born = c.cfg.now()
	return sa, nil
}

// amSettle is how long Quick Mode waits after AM3. A server that handles
// datagrams on several threads may take QM1 before AM3 if both arrive at
// once, and drop it: charon 5.9.8 logs "ignoring QUICK_MODE request while
// phase 1 is incomplete", which costs a retransmission (0.5 s).
const amSettle = 20 * time.Millisecond

// settle waits d after AM3, answering a repeated AM2 with AM3 again and
// handing anything else to unsolicited.
func (c *Conn) settle(ctx context.Context, d time.Duration, am2, am3 []byte) error {
	deadline := c.cfg.now().Add(d)
	for {
		b, err := c.recv(ctx, deadline)
		switch {
		case err == errTimeout:
			return nil
		case err != nil:
			return err
		case bytes.Equal(b, am2):
			c.log.Debug("ike: peer repeated AM2; resending AM3")
			c.send(am3)
		default:
			c.unsolicited(b)
		}
	}
}

// aggressiveTimeout is the diagnosis when Aggressive Mode message 1 got
// no answer that verified.
func (c *Conn) aggressiveTimeout(notice error, badHashR int, offered []IKESuite, idi ID) error {
	cfg := &c.cfg
	wait := total(cfg.Retransmit)
	var ne *NotifyError
	switch {
	case badHashR > 0:
		// The server answered with a proof of a key that is not ours:
		// a wrong pre-shared key (or a group whose key differs).
		return fmt.Errorf("ike: aggressive mode msg 2: %w (%d answers in %v, none verified)", ErrPeerAuth, badHashR, wait)
	case errors.As(notice, &ne) && ne.Type != NotifyNoProposalChosen:
		return fmt.Errorf("%w (group %s %s): %w (unauthenticated, and no other answer to aggressive mode message 1 in %v)",
			ErrAggressiveRefused, GroupIDTypeName(idi.Type), idi, notice, wait)
	case notice != nil:
		return fmt.Errorf("%w (unauthenticated, and no other answer to aggressive mode message 1 in %v)", notice, wait)
	}
	return fmt.Errorf("%w (aggressive mode message 1 sent %d times over %v; offered %s; group %s %s)",
		ErrNoAnswer, len(cfg.Retransmit), wait, Notations(offered), GroupIDTypeName(idi.Type), idi)
}

// checkP1Choice reads the server's choice in Main Mode or Aggressive Mode
// message 2: one transform of our offer (RFC 2408 4.2) and the NAT-T and
// DPD vendor IDs; auth is the authentication method we offered.
func checkP1Choice(m *Message, offered []IKESuite, auth uint64) (mm2, error) {
	var v mm2
	p, ok := m.Find(PayloadSA)
	if !ok {
		return v, errors.New("no SA payload")
	}
	chosen, err := ParseSA(p.Body)
	if err != nil {
		return v, err
	}
	if len(chosen.Proposals) != 1 || len(chosen.Proposals[0].Transforms) != 1 {
		return v, fmt.Errorf("%w: want one transform", ErrProposal2)
	}
	t := chosen.Proposals[0].Transforms[0]
	if v.suite, err = matchP1Auth(t, offered, auth); err != nil {
		return v, err
	}
	v.life, _ = lifeOf(t, p1AttrLifeType, p1AttrLifeDur)
	switch {
	case hasVID(m, vidRFC3947):
		v.natt = natt{rfc: true}
	case hasVID(m, vidDraft02n), hasVID(m, vidDraft02), hasVID(m, vidDraft03):
		v.natt = natt{draft: true}
	default:
		return v, ErrNoNATT
	}
	v.dpd = hasVID(m, vidDPD)
	return v, nil
}
