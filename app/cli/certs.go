package cli

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/corridorvpn/corridor/core"
)

// Certificate authentication for corridor connect (--cert, --key, --ca,
// --server-id): PEM files read here, checked in ike.Dial. The private
// key's bytes never reach a log, an error or the command line.

// maxPEM bounds what is read of a certificate or key file.
const maxPEM = 1 << 20

// readPEMCerts reads every CERTIFICATE block of a PEM file, in order.
func readPEMCerts(name string) ([]*x509.Certificate, error) {
	b, err := readBounded(name)
	if err != nil {
		return nil, err
	}
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

// readPEMKey reads an RSA private key (PKCS#1 "RSA PRIVATE KEY" or
// PKCS#8 "PRIVATE KEY", unencrypted). warn gets advice when the file is
// readable by others.
func readPEMKey(name string, warn func(string)) (crypto.Signer, error) {
	if runtime.GOOS != "windows" {
		if st, err := os.Stat(name); err == nil && st.Mode().Perm()&0o077 != 0 {
			warn(fmt.Sprintf("the private key file %s can be read by other users of this computer (mode %v): chmod 600 it", name, st.Mode().Perm()))
		}
	}
	b, err := readBounded(name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----) in it")
		}
		var key any
		switch blk.Type {
		case "RSA PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, errors.New("the key is encrypted with a passphrase, which is not supported yet: decrypt it (openssl pkey -in KEY -out PLAIN) into a file only you can read")
			}
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key is encrypted with a passphrase, which is not supported yet: decrypt it (openssl pkey -in KEY -out PLAIN) into a file only you can read")
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

func readBounded(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, maxPEM))
}

// loadCertAuth reads the files of --cert, --key and --ca.
func loadCertAuth(f *connectFlags, warn func(string)) (*core.CertAuth, error) {
	certs, err := readPEMCerts(f.certFile)
	if err != nil {
		return nil, fmt.Errorf("--cert %s: %w", f.certFile, err)
	}
	key, err := readPEMKey(f.keyFile, warn)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", f.keyFile, err)
	}
	if pub, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("--key %s is not the key of the first certificate of --cert %s (%q)", f.keyFile, f.certFile, certs[0].Subject.String())
	}
	ca := &core.CertAuth{Cert: certs, Key: key, ServerID: f.serverID}
	if f.caFile != "" {
		if ca.CA, err = readPEMCerts(f.caFile); err != nil {
			return nil, fmt.Errorf("--ca %s: %w", f.caFile, err)
		}
	}
	return ca, nil
}
