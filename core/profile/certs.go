package profile

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseCertsPEM reads every CERTIFICATE block of PEM data, in order.
func ParseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
	}
	return out, nil
}

// errEncryptedKey: a private key under a passphrase.
var errEncryptedKey = errors.New("the key is encrypted with a passphrase: give the passphrase in a file with --key-password-file FILE (read once; the keychain then keeps the key)")

// ParseKeyPEM reads an RSA private key from PEM data (PKCS#1 "RSA PRIVATE
// KEY" or PKCS#8 "PRIVATE KEY", unencrypted). Its errors never hold key
// material.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) in it")
		}
		var key any
		var err error
		switch blk.Type {
		case "RSA PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, errEncryptedKey
			}
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errEncryptedKey
		case "EC PRIVATE KEY":
			return nil, errors.New("an EC key: only RSA keys are supported (IKEv1 RSA signatures)")
		default:
			continue
		}
		clear(blk.Bytes)
		if err != nil {
			return nil, errors.New("the private key does not parse")
		}
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key: only RSA keys are supported (IKEv1 RSA signatures)")
		}
		return k, nil
	}
}
