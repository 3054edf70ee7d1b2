package cli

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
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
	return profile.ParseCertsPEM(b)
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
	return profile.ParseKeyPEM(b)
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

// applyCert copies --cert, --key, --ca and --server-id of profile
// add/edit onto p; the key goes to secrets (the keychain), checked
// against the certificate.
func (f *profileFlags) applyCert(p *profile.Profile, secrets map[profile.SecretKind]string) error {
	switch f.certFile {
	case "":
	case "none":
		p.Cert, p.CA, p.ServerID = "", "", ""
	default:
		b, err := readBounded(f.certFile)
		if err != nil {
			return fmt.Errorf("--cert %s: %w", f.certFile, err)
		}
		if _, err := profile.ParseCertsPEM(b); err != nil {
			return fmt.Errorf("--cert %s: %w", f.certFile, err)
		}
		p.Cert = string(b)
	}
	if f.keyFile != "" {
		if p.Cert == "" {
			return fmt.Errorf("--key goes with a certificate (--cert FILE)")
		}
		b, err := readBounded(f.keyFile)
		if err != nil {
			return fmt.Errorf("--key %s: %w", f.keyFile, err)
		}
		key, err := profile.ParseKeyPEM(b)
		if err != nil {
			clear(b)
			return fmt.Errorf("--key %s: %w", f.keyFile, err)
		}
		certs, _ := profile.ParseCertsPEM([]byte(p.Cert))
		if pub, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(key.Public()) {
			clear(b)
			return fmt.Errorf("--key %s is not the key of the profile's certificate (%q)", f.keyFile, certs[0].Subject.String())
		}
		secrets[profile.SecretCertKey] = string(b)
		clear(b)
	}
	switch f.caFile {
	case "":
	case "none":
		p.CA = ""
	default:
		b, err := readBounded(f.caFile)
		if err != nil {
			return fmt.Errorf("--ca %s: %w", f.caFile, err)
		}
		if _, err := profile.ParseCertsPEM(b); err != nil {
			return fmt.Errorf("--ca %s: %w", f.caFile, err)
		}
		p.CA = string(b)
	}
	f.fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "server-id" {
			p.ServerID = f.serverID
		}
	})
	return nil
}
