package profile

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/youmark/pkcs8"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// PKCS#12 (.p12, .pfx) files and passphrase-protected PEM keys, read once
// at import: the private key then goes to the keychain in clear PEM
// (SecretCertKey), the certificates into the profile; the passwords are
// never kept. IKEv1 signs with RSA only (RFC 2409 §5.1 with the RSA
// signature method of RFC 2409 Appendix A), so any other key type is
// refused here, in plain words.

// ErrWrongPassword is returned when a PKCS#12 file's or an encrypted
// key's password does not open it.
var ErrWrongPassword = errors.New("the password does not open it (wrong password?)")

// maxPKCS12 bounds the size of a PKCS#12 file Corridor reads.
const maxPKCS12 = 1 << 20

// PKCS12 is what a PKCS#12 file holds, once opened.
type PKCS12 struct {
	Key *rsa.PrivateKey
	// Certs is the certificate of Key first, then the rest of the chain
	// as the file had it.
	Certs []*x509.Certificate
}

// ParsePKCS12 opens a PKCS#12 file (RFC 7292) with its password: the
// modern kind (PBES2 with AES, PBKDF2, as OpenSSL 3 writes) and the legacy
// one (3DES, RC2). It needs exactly one RSA private key and its
// certificate; other certificates are the chain. Its errors never hold
// key material or the password.
func ParsePKCS12(data []byte, password string) (*PKCS12, error) {
	if len(data) > maxPKCS12 {
		return nil, fmt.Errorf("too large for a PKCS#12 file (%d bytes; at most %d)", len(data), maxPKCS12)
	}
	if len(data) == 0 || data[0] != 0x30 {
		if strings.Contains(string(data[:min(len(data), 4096)]), "-----BEGIN") {
			return nil, errors.New("a PEM file, not a PKCS#12 file: use --cert and --key for PEM files")
		}
		return nil, errors.New("not a PKCS#12 file (.p12 or .pfx, binary DER)")
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		var ni pkcs12.NotImplementedError
		switch {
		case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
			return nil, ErrWrongPassword
		case strings.Contains(err.Error(), "private key missing"):
			return nil, errors.New("it holds no private key, only certificates: export the certificate together with its private key")
		case strings.Contains(err.Error(), "certificate missing"):
			return nil, errors.New("it holds no certificate: export the certificate together with its private key")
		case errors.As(err, &ni):
			return nil, fmt.Errorf("a kind of PKCS#12 file Corridor cannot read (%s): export it again as PEM files (openssl pkcs12 -in FILE -nodes) and use those", strings.TrimPrefix(err.Error(), "pkcs12: "))
		case strings.Contains(err.Error(), "error reading P12 data"):
			return nil, errors.New("not a PKCS#12 file, or a damaged one")
		}
		return nil, fmt.Errorf("cannot open it: %s", strings.TrimPrefix(err.Error(), "pkcs12: "))
	}
	rk, err := rsaOnly(key)
	if err != nil {
		return nil, err
	}
	// The key's certificate first: files do not always keep that order.
	all := append([]*x509.Certificate{leaf}, chain...)
	for i, c := range all {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rk.PublicKey) {
			all[0], all[i] = all[i], all[0]
			return &PKCS12{Key: rk, Certs: all}, nil
		}
	}
	return nil, errors.New("none of its certificates belongs to its private key")
}

// rsaOnly keeps an RSA key and names any other kind in plain words.
func rsaOnly(key any) (*rsa.PrivateKey, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, errors.New("an EC key: only RSA keys are supported (IKEv1 RSA signatures, RFC 2409 §5.1)")
	case ed25519.PrivateKey:
		return nil, errors.New("an Ed25519 key: only RSA keys are supported (IKEv1 RSA signatures, RFC 2409 §5.1)")
	}
	return nil, errors.New("not an RSA key: only RSA keys are supported (IKEv1 RSA signatures, RFC 2409 §5.1)")
}

// KeyPEM is the PEM form (PKCS#8 "PRIVATE KEY", not encrypted) in which
// the keychain keeps a certificate's key (SecretCertKey); ParseKeyPEM
// reads it back.
func KeyPEM(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		// An *rsa.PrivateKey always marshals; keep the error plain anyway.
		return ""
	}
	defer clear(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// CertsPEM is certs as PEM CERTIFICATE blocks, in order: how a profile
// keeps them.
func CertsPEM(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

// KeyEncrypted reports whether PEM data holds a private key under a
// passphrase (PKCS#8 "ENCRYPTED PRIVATE KEY", or a legacy
// "Proc-Type: 4,ENCRYPTED" block), so that the caller asks for it.
func KeyEncrypted(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		switch blk.Type {
		case "ENCRYPTED PRIVATE KEY":
			return true
		case "RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY":
			_, enc := blk.Headers["DEK-Info"]
			return enc
		}
	}
}

// ParseEncryptedKeyPEM reads an RSA private key from PEM data with its
// passphrase: PKCS#8 "ENCRYPTED PRIVATE KEY" (PBES2 with PBKDF2 or
// scrypt, RFC 8018 §6.2, as OpenSSL writes by default). An unencrypted key
// is read as ParseKeyPEM does (the password unused). Legacy OpenSSL
// encryption ("Proc-Type: 4,ENCRYPTED", an MD5-based key derivation) is
// refused with the command that converts it. Errors never hold key
// material or the password.
func ParseEncryptedKeyPEM(b []byte, password string) (*rsa.PrivateKey, error) {
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("no PEM private key (-----BEGIN ENCRYPTED PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----) in it")
		}
		switch blk.Type {
		case "ENCRYPTED PRIVATE KEY":
			key, _, err := pkcs8.ParsePrivateKey(blk.Bytes, []byte(password))
			clear(blk.Bytes)
			if err != nil {
				msg := err.Error()
				switch {
				case strings.Contains(msg, "incorrect password"):
					return nil, ErrWrongPassword
				case strings.Contains(msg, "only PBES2"), strings.Contains(msg, "unsupported"), strings.Contains(msg, "only PKCS #5"):
					return nil, errors.New("the key is encrypted with a scheme Corridor cannot read: convert it (openssl pkcs8 -topk8 -v2 aes256 -in KEY -out NEW)")
				}
				return nil, errors.New("the encrypted key is damaged (it does not decode)")
			}
			return rsaOnly(key)
		case "RSA PRIVATE KEY", "PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, errors.New("the key uses OpenSSL's legacy encryption (Proc-Type: 4,ENCRYPTED), which Corridor does not read: convert it (openssl pkcs8 -topk8 -v2 aes256 -in KEY -out NEW)")
			}
			s, err := ParseKeyPEM(b)
			if err != nil {
				return nil, err
			}
			return s.(*rsa.PrivateKey), nil
		case "EC PRIVATE KEY":
			return nil, errors.New("an EC key: only RSA keys are supported (IKEv1 RSA signatures, RFC 2409 §5.1)")
		}
	}
}
