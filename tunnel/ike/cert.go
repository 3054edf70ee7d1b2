package ike

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Main Mode authenticated with RSA signatures (RFC 2409 5.1):
//
//	Initiator                        Responder
//	MM1  HDR, SA, VIDs -->
//	                               <-- MM2  HDR, SA, VIDs
//	MM3  HDR, KE, Ni, NAT-D, NAT-D, [CERTREQ] -->
//	                               <-- MM4  HDR, KE, Nr, NAT-D, NAT-D, [CERTREQ]
//	MM5  HDR*, IDii, [CERT], SIG_I -->
//	                               <-- MM6  HDR*, IDir, [CERT], SIG_R
//
// SKEYID = prf(Ni_b | Nr_b, g^xy); HASH_I and HASH_R are those of the
// pre-shared-key method, and SIG_I/SIG_R are RSA PKCS#1 v1.5 signatures of
// them *without* a DigestInfo (the hash is signed as it is): what
// strongSwan does for IKEv1 (its SIGN_RSA_EMSA_PKCS1_NULL scheme), and
// racoon, Windows and Libreswan with it. Our identity is ID_DER_ASN1_DN,
// the subject of our certificate.
//
// The server's certificate is checked in this order, each failure its own
// error: it sent one; its chain leads to a CA we trust (Config.CA, or the
// system's roots) and every certificate is within its validity period;
// it is for the server we mean (Config.ServerID, by default the host
// name or address we connect to, against its subject alternative names;
// or a DN against its subject); its ID payload is in the certificate;
// its signature verifies with the certificate's key.

// Identification type of a distinguished name (RFC 2407 4.6.2.1).
const IDDERASN1DN = 9

// Certificate encodings of CERT and CERTREQ payloads (RFC 2408 3.9).
const certX509Sig = 4 // X.509 Certificate - Signature

// Errors of certificate authentication, in plain words.
var (
	// ErrCertConfig: the client's own certificate or key is unusable.
	ErrCertConfig = errors.New("ike: our certificate or private key cannot be used")
	// ErrServerNoCert: the server proved nothing with a certificate.
	ErrServerNoCert = errors.New("ike: the server sent no certificate")
	// ErrServerCertUntrusted: its chain does not lead to a CA we trust.
	ErrServerCertUntrusted = errors.New("ike: the server's certificate is not signed by a CA we trust")
	// ErrServerCertExpired: a certificate of its chain is outside its
	// validity period (expired or not yet valid).
	ErrServerCertExpired = errors.New("ike: the server's certificate has expired or is not yet valid")
	// ErrServerCertInvalid: its certificate is broken in another way.
	ErrServerCertInvalid = errors.New("ike: the server's certificate is not valid")
	// ErrServerIdentity: the certificate is for another server.
	ErrServerIdentity = errors.New("ike: the server's certificate is for another server")
	// ErrServerSignature: the server's SIG_R does not verify with the key
	// of its certificate (it does not hold the certificate's key).
	ErrServerSignature = errors.New("ike: the server's signature does not verify with its certificate")
	// ErrCertRefused: the server did not answer our certificate
	// authentication (main mode message 5): it does not trust our
	// certificate, or our identity is not one it accepts.
	ErrCertRefused = errors.New("ike: the server stopped answering after our certificate authentication (main mode message 5)")
)

// certMode reports whether the configuration authenticates with a
// certificate rather than a pre-shared key.
func (c *Config) certMode() bool { return len(c.Cert) > 0 || c.Key != nil }

// checkCertConfig checks our own certificate and key before any packet.
func checkCertConfig(cfg *Config) error {
	if len(cfg.Cert) == 0 || cfg.Key == nil {
		return fmt.Errorf("%w: need both a certificate and its private key", ErrCertConfig)
	}
	if len(cfg.PSK) != 0 {
		return fmt.Errorf("%w: a pre-shared key and a certificate at once", ErrCertConfig)
	}
	if cfg.Aggressive {
		return fmt.Errorf("%w: certificates are for main mode only here, not aggressive mode", ErrCertConfig)
	}
	pub, ok := cfg.Key.Public().(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: the private key is not an RSA key (only RSA signatures, RFC 2409 5.1)", ErrCertConfig)
	}
	leaf, ok := cfg.Cert[0].PublicKey.(*rsa.PublicKey)
	if !ok || !leaf.Equal(pub) {
		return fmt.Errorf("%w: the private key does not belong to the certificate %q", ErrCertConfig, cfg.Cert[0].Subject)
	}
	return nil
}

// ourCertID is our identity with a certificate: its subject as
// ID_DER_ASN1_DN (RFC 2407 4.6.2.1).
func ourCertID(cfg *Config) ID {
	return ID{Type: IDDERASN1DN, Data: cfg.Cert[0].RawSubject}
}

// certReqs are the CERTREQ payloads of MM3: one per CA we trust (its
// subject names the authority, RFC 2408 3.10), or one that names none
// when the system's roots decide.
func certReqs(cfg *Config) []Payload {
	if len(cfg.CA) == 0 {
		return []Payload{{PayloadCertReq, []byte{certX509Sig}}}
	}
	var ps []Payload
	for _, ca := range cfg.CA {
		ps = append(ps, Payload{PayloadCertReq, append([]byte{certX509Sig}, ca.RawSubject...)})
	}
	return ps
}

// certPayloads are our CERT payloads: the leaf, then its chain.
func certPayloads(certs []*x509.Certificate) []Payload {
	var ps []Payload
	for _, c := range certs {
		ps = append(ps, Payload{PayloadCert, append([]byte{certX509Sig}, c.Raw...)})
	}
	return ps
}

// signHash signs an IKEv1 HASH_I or HASH_R: PKCS#1 v1.5 without a
// DigestInfo (crypto.Hash(0) tells crypto/rsa to sign the bytes as they
// are).
func signHash(key crypto.Signer, rnd io.Reader, hash []byte) ([]byte, error) {
	return key.Sign(rnd, hash, crypto.Hash(0))
}

// verifyHashSig verifies SIG over HASH with the RSA key of cert.
func verifyHashSig(cert *x509.Certificate, hash, sig []byte) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: its key is not an RSA key", ErrServerSignature)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.Hash(0), hash, sig); err != nil {
		return ErrServerSignature
	}
	return nil
}

// peerCert is what MM6 carried besides the hash: the certificates and
// the signature.
type peerCert struct {
	certs [][]byte // CERT bodies without the encoding byte
	sig   []byte
}

// checkServerCert runs the checks of the server's certificate (see the
// top of this file) and its signature of hashR. serverName is what the
// user connects to when Config.ServerID is empty.
func checkServerCert(cfg *Config, pc peerCert, idr ID, hashR []byte, serverName string) (*x509.Certificate, error) {
	if len(pc.certs) == 0 {
		return nil, fmt.Errorf("%w (no CERT payload in main mode message 6; we cannot check who it is)", ErrServerNoCert)
	}
	var certs []*x509.Certificate
	for i, der := range pc.certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d does not parse: %v", ErrServerCertInvalid, i+1, err)
		}
		certs = append(certs, c)
	}
	// The leaf is the one whose key signed: the first, as servers send
	// it (RFC 4945 3.3.1 wants the end-entity first too).
	leaf := certs[0]
	opts := x509.VerifyOptions{
		Intermediates: x509.NewCertPool(),
		CurrentTime:   cfg.now(),
		// IPsec certificates often carry no extended key usage, or the
		// IPsec ones; RFC 4945 5.1.3.12 says not to insist on any.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	trust := "the system's CAs"
	if len(cfg.CA) > 0 {
		opts.Roots = x509.NewCertPool()
		for _, ca := range cfg.CA {
			opts.Roots.AddCert(ca)
		}
		trust = "the CA file given"
	}
	if _, err := leaf.Verify(opts); err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			return nil, fmt.Errorf("%w: %s (valid from %s until %s; now %s)", ErrServerCertExpired,
				describeCert(inv.Cert), inv.Cert.NotBefore.UTC().Format(time.RFC3339),
				inv.Cert.NotAfter.UTC().Format(time.RFC3339), cfg.now().UTC().Format(time.RFC3339))
		case errors.As(err, &ua):
			return nil, fmt.Errorf("%w: %s, issued by %q, does not lead to %s", ErrServerCertUntrusted,
				describeCert(leaf), leaf.Issuer.String(), trust)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrServerCertInvalid, describeCert(leaf), err)
	}
	want := cfg.ServerID
	if want == "" {
		want = serverName
	}
	if err := matchIdentity(leaf, want); err != nil {
		return nil, err
	}
	if err := idInCert(leaf, idr); err != nil {
		return nil, err
	}
	if err := verifyHashSig(leaf, hashR, pc.sig); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, describeCert(leaf))
	}
	return leaf, nil
}

// describeCert names a certificate for an error: its subject and its
// alternative names.
func describeCert(c *x509.Certificate) string {
	s := fmt.Sprintf("certificate %q", c.Subject.String())
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) > 0 {
		s += " for " + strings.Join(names, ", ")
	} else {
		s += " (no alternative names)"
	}
	return s
}

// matchIdentity checks that leaf is for want: a DN (it has an "=")
// against the subject, else a host name or an address against the
// subject alternative names (no fallback to the common name, as in TLS).
func matchIdentity(leaf *x509.Certificate, want string) error {
	if strings.Contains(want, "=") {
		if !sameDN(leaf.Subject.String(), want) {
			return fmt.Errorf("%w: we want %q, its subject is %q", ErrServerIdentity, want, leaf.Subject.String())
		}
		return nil
	}
	if err := leaf.VerifyHostname(want); err != nil {
		return fmt.Errorf("%w: we want %s, it is the %s", ErrServerIdentity, want, describeCert(leaf))
	}
	return nil
}

// sameDN compares two DNs as strings, in either order of their RDNs
// (OpenSSL and strongSwan write C=..., CN=...; Go writes CN=...,C=...),
// ignoring spaces around the separators and the case of attribute names.
func sameDN(a, b string) bool {
	norm := func(s string) []string {
		var out []string
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '/' }) {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				return nil
			}
			out = append(out, strings.ToUpper(strings.TrimSpace(k))+"="+strings.TrimSpace(v))
		}
		slices.Sort(out)
		return out
	}
	na, nb := norm(a), norm(b)
	return na != nil && slices.Equal(na, nb)
}

// idInCert checks that the server's ID payload names what its
// certificate names (RFC 4945 3.1: the ID must be in the certificate).
func idInCert(leaf *x509.Certificate, idr ID) error {
	bad := func(what string) error {
		return fmt.Errorf("%w: its ID payload %s is not in its %s", ErrServerIdentity, what, describeCert(leaf))
	}
	switch idr.Type {
	case IDDERASN1DN:
		if bytes.Equal(idr.Data, leaf.RawSubject) {
			return nil
		}
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(idr.Data, &rdn); err != nil || len(rest) != 0 {
			return bad("(a DN that does not parse)")
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		if !sameDN(n.String(), leaf.Subject.String()) {
			return bad(fmt.Sprintf("%q", n.String()))
		}
	case IDFQDN:
		if leaf.VerifyHostname(string(idr.Data)) != nil {
			return bad(fmt.Sprintf("%q", idr.Data))
		}
	case IDIPv4Addr:
		if len(idr.Data) != 4 {
			return bad("(a broken address)")
		}
		a := netip.AddrFrom4([4]byte(idr.Data))
		if leaf.VerifyHostname(a.String()) != nil {
			return bad(a.String())
		}
	default:
		return bad(fmt.Sprintf("of type %d", idr.Type))
	}
	return nil
}
