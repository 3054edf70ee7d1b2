package ike

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// ResponderCert makes a Responder (a peer for tests and benchmarks, see
// Responder) answer Main Mode with RSA signatures (RFC 2409 §5.1) instead
// of a pre-shared key: it accepts the RSA-signature authentication method
// only, derives SKEYID = prf(Ni_b | Nr_b, g^xy), checks the initiator's
// SIG_I with the key of its CERT (and its chain against ClientCA when
// given), and answers with IDir (ID_DER_ASN1_DN of its certificate), CERT
// and SIG_R. Signatures are PKCS#1 v1.5 over the bare hash, without a
// DigestInfo, as the initiator makes them.
type ResponderCert struct {
	Chain    []*x509.Certificate // ours, leaf first
	Key      *rsa.PrivateKey
	ClientCA []*x509.Certificate // roots the client's certificate must lead to; nil: not checked
	// OnClient, when set, is told of each initiator whose SIG_I
	// verified: its identity and its certificates (leaf first).
	OnClient func(id ID, chain []*x509.Certificate)
}

// p1Match is matchP1 for the authentication method the Responder uses.
func (r *Responder) p1Match(t Transform, accept []IKESuite) (IKESuite, error) {
	if r.Cert != nil {
		return matchP1Auth(t, accept, authRSASig)
	}
	return matchP1(t, accept)
}

// p1Keys derives the phase-1 keys for the Responder's method (RFC 2409 §5).
func (r *Responder) p1Keys(s IKESuite, ni, nr, gxy []byte, ci, cr [8]byte) p1Keys {
	if r.Cert != nil {
		return deriveP1Sig(s, ni, nr, gxy, ci, cr)
	}
	return deriveP1(s, r.PSK, ni, nr, gxy, ci, cr)
}

// certMM5 checks MM5 of certificate authentication (IDii, CERT, SIG_I)
// and answers MM6 (IDir, CERT, SIG_R).
func (r *Responder) certMM5(s *respSession, msg, body []byte, ps []Payload) ([][]byte, *Child, error) {
	sa := s.sa
	var idi, sig []byte
	var chain []*x509.Certificate
	for _, p := range ps {
		switch p.Type {
		case PayloadID:
			idi = p.Body
		case PayloadSig:
			sig = p.Body
		case PayloadCert:
			if len(p.Body) > 1 && p.Body[0] == certX509Sig {
				c, err := x509.ParseCertificate(p.Body[1:])
				if err != nil {
					return nil, nil, fmt.Errorf("%w: MM5: a certificate does not parse: %v", errResponder, err)
				}
				chain = append(chain, c)
			}
		}
	}
	if idi == nil || sig == nil || len(chain) == 0 {
		return nil, nil, fmt.Errorf("%w: MM5 without ID, SIG or CERT", errResponder)
	}
	pub, ok := chain[0].PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: MM5: not an RSA certificate", errResponder)
	}
	// HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
	hashI := prf(sa.suite.Hash, sa.keys.skeyid, s.gxi, s.gxr, sa.ci[:], sa.cr[:], s.saiBody, idi)
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), hashI, sig); err != nil {
		return nil, nil, fmt.Errorf("%w: SIG_I does not verify with the client's certificate", errResponder)
	}
	if r.Cert.ClientCA != nil {
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, c := range r.Cert.ClientCA {
			roots.AddCert(c)
		}
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, nil, fmt.Errorf("%w: the client's certificate: %v", errResponder, err)
		}
	}
	if r.Cert.OnClient != nil {
		id, _ := ParseID(append([]byte(nil), idi...))
		r.Cert.OnClient(id, chain)
	}
	idr := ID{Type: IDDERASN1DN, Data: r.Cert.Chain[0].RawSubject}.Append(nil)
	// HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
	hashR := prf(sa.suite.Hash, sa.keys.skeyid, s.gxr, s.gxi, sa.cr[:], sa.ci[:], s.saiBody, idr)
	rd := r.Rand
	if rd == nil {
		rd = rand.Reader
	}
	sigR, err := rsa.SignPKCS1v15(rd, r.Cert.Key, crypto.Hash(0), hashR)
	if err != nil {
		return nil, nil, err
	}
	out := append([]Payload{{PayloadID, idr}}, certPayloads(r.Cert.Chain)...)
	out = append(out, Payload{PayloadSig, sigR})
	bs := sa.block.BlockSize()
	// Appendix B: MM6 continues the CBC chain of MM5.
	s.mm6, sa.lastIV = sa.seal(ExchangeMain, 0, lastBlock(body, bs), out)
	s.mm5 = msg
	s.established = true
	return [][]byte{s.mm6}, nil, nil
}
