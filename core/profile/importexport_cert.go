package profile

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// ImportedCert is the certificate authentication (IKEv1 Main Mode with
// RSA signatures, RFC 2409 §5.1) an imported file asks for but could not
// carry over by itself: a PKCS#12 payload whose password the file does not
// hold (Apple), or certificate and key files on the computer the
// connection came from (NetworkManager's machine-cert, machine-key,
// machine-ca). Imported.OpenCert completes it; until then the imported
// profile has no certificate, and Imported.Warnings says, in plain words,
// what is missing and how to give it.
type ImportedCert struct {
	// From is what the file calls the certificate, for messages.
	From string
	// P12 is a PKCS#12 file's content (an Apple payload), P12File the
	// path of one (NetworkManager: machine-cert and machine-key both
	// naming a .p12/.pfx file).
	P12     []byte
	P12File string
	// CertFile and KeyFile are NetworkManager's machine-cert and
	// machine-key (PEM or DER certificate; PEM key, maybe encrypted).
	CertFile, KeyFile string
	// CA is PEM CA certificates the file held itself (Apple root
	// payloads); CAFile NetworkManager's machine-ca.
	CA     string
	CAFile string
	// ServerID is the identity the server must prove, from the file.
	ServerID string
	// Password is the PKCS#12 or key password the file held ("": none;
	// OpenCert's argument then). Never saved.
	Password string
	// warning is the entry of Imported.Warnings about this certificate,
	// removed once it is opened.
	warning string
}

// NeedsPassword reports whether opening the certificate needs a password
// the file did not hold (a PKCS#12 file always has one; a key file may).
func (c *ImportedCert) NeedsPassword() bool {
	return c != nil && c.Password == "" && (c.P12 != nil || c.P12File != "")
}

// Files are the files on this computer that OpenCert reads.
func (c *ImportedCert) Files() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, f := range []string{c.P12File, c.CertFile, c.KeyFile, c.CAFile} {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ErrPasswordNeeded is what Imported.OpenCert returns (wrapped) when the
// certificate is protected by a password (a PKCS#12 file, an encrypted
// key) that neither the imported file nor the caller gave: ask the user
// and call it again. A password given that does not open it is
// ErrWrongPassword instead.
var ErrPasswordNeeded = errors.New("the certificate needs its password")

// needPassword is an OpenCert error that is ErrPasswordNeeded.
type needPassword struct{ msg string }

func (e *needPassword) Error() string        { return e.msg }
func (e *needPassword) Is(target error) bool { return target == ErrPasswordNeeded }

// Name is what a message calls the certificate: the file or payload it
// comes from.
func (c *ImportedCert) Name() string {
	if c == nil {
		return ""
	}
	for _, s := range []string{c.P12File, c.CertFile} {
		if s != "" {
			return s
		}
	}
	return c.From
}

// SkipCert gives up the pending certificate (im.Cert): the profile is
// kept without it, and its pending warning is replaced by why, which says
// how to add it later. Without a pending certificate it does nothing.
func (im *Imported) SkipCert(why string) {
	c := im.Cert
	if c == nil {
		return
	}
	if i := slices.Index(im.Warnings, c.warning); i >= 0 {
		im.Warnings = slices.Delete(im.Warnings, i, i+1)
	}
	im.Warnings = append(im.Warnings, why)
	im.Cert = nil
}

// pend records c as still to be opened, with the warning that says why.
func (im *Imported) pend(c *ImportedCert, why string) {
	c.warning = why
	im.Cert = c
	im.Warnings = append(im.Warnings, why)
}

// OpenCert opens the certificate an import left pending (im.Cert): with
// password (or the one the file held), reading files with readFile
// (os.ReadFile; nil when the file referred to none). On success the
// profile gets the certificate, its chain, the CAs and the server
// identity, the key goes to im.Secrets (SecretCertKey, decrypted), and the
// pending warning goes away. Errors are plain words without the password
// or key material. Without a pending certificate it does nothing.
func (im *Imported) OpenCert(readFile func(string) ([]byte, error), password string) error {
	c := im.Cert
	if c == nil {
		return nil
	}
	if password == "" {
		password = c.Password
	}
	read := func(what, name string) ([]byte, error) {
		if readFile == nil {
			return nil, fmt.Errorf("%s %s: no file can be read here", what, name)
		}
		b, err := readFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s %s (from the imported file): %w", what, name, err)
		}
		if len(b) > maxPKCS12 {
			return nil, fmt.Errorf("%s %s: too large for a certificate or key file", what, name)
		}
		return b, nil
	}
	var key *rsa.PrivateKey
	var certs []*x509.Certificate
	switch {
	case c.P12 != nil || c.P12File != "":
		data, what := c.P12, c.From
		if data == nil {
			var err error
			if data, err = read("the PKCS#12 file", c.P12File); err != nil {
				return err
			}
			what = c.P12File
		}
		p, err := ParsePKCS12(data, password)
		if c.P12 == nil {
			clear(data) // read here; c.P12 stays for another try
		}
		if errors.Is(err, ErrWrongPassword) && password == "" {
			return &needPassword{fmt.Sprintf("the certificate %s is a PKCS#12 file protected by a password the imported file does not hold: give its password", what)}
		}
		if err != nil {
			return fmt.Errorf("the certificate %s: %w", what, err)
		}
		key, certs = p.Key, p.Certs
	default:
		b, err := read("the certificate file", c.CertFile)
		if err != nil {
			return err
		}
		if certs, err = parseCertsPEMOrDER(b); err != nil {
			if len(b) > 0 && b[0] == 0x30 && (c.KeyFile == "" || c.KeyFile == c.CertFile) {
				// A PKCS#12 file under another name.
				c2 := *c
				c2.P12File, c2.CertFile, c2.KeyFile = c.CertFile, "", ""
				im.Cert = &c2
				inner := func(name string) ([]byte, error) {
					if name == c.CertFile {
						return b, nil
					}
					return readFile(name)
				}
				if err := im.OpenCert(inner, password); err != nil {
					im.Cert = c
					return err
				}
				return nil
			}
			return fmt.Errorf("the certificate file %s: %w", c.CertFile, err)
		}
		if c.KeyFile == "" {
			return fmt.Errorf("the certificate %s comes without its private key (machine-key): give the key file", c.CertFile)
		}
		kb, err := read("the private key file", c.KeyFile)
		if err != nil {
			return err
		}
		switch {
		case KeyEncrypted(kb) && password == "":
			err = &needPassword{fmt.Sprintf("the private key file %s is encrypted with a passphrase the imported file does not hold: give its passphrase", c.KeyFile)}
		case KeyEncrypted(kb):
			key, err = ParseEncryptedKeyPEM(kb, password)
		default:
			var s any
			if s, err = ParseKeyPEM(kb); err == nil {
				key = s.(*rsa.PrivateKey)
			}
		}
		clear(kb)
		if err != nil {
			if strings.HasPrefix(err.Error(), "the private key file") {
				return err
			}
			return fmt.Errorf("the private key file %s: %w", c.KeyFile, err)
		}
		if pub, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
			return fmt.Errorf("the private key file %s is not the key of the certificate %s (%q)", c.KeyFile, c.CertFile, certs[0].Subject.String())
		}
	}
	ca := c.CA
	if c.CAFile != "" {
		b, err := read("the CA file", c.CAFile)
		if err != nil {
			return err
		}
		cas, err := parseCertsPEMOrDER(b)
		if err != nil {
			return fmt.Errorf("the CA file %s: %w", c.CAFile, err)
		}
		ca += CertsPEM(cas)
	}
	im.Profile.Cert, im.Profile.CA, im.Profile.ServerID = CertsPEM(certs), ca, c.ServerID
	if im.Secrets == nil {
		im.Secrets = map[SecretKind]string{}
	}
	im.Secrets[SecretCertKey] = KeyPEM(key)
	delete(im.Secrets, SecretPSK)
	if i := slices.Index(im.Warnings, c.warning); i >= 0 {
		im.Warnings = slices.Delete(im.Warnings, i, i+1)
	}
	im.Cert = nil
	return nil
}

// parseCertsPEMOrDER reads PEM certificates, or one or more DER ones
// back to back (a .der or .cer file).
func parseCertsPEMOrDER(b []byte) ([]*x509.Certificate, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		return ParseCertsPEM(b)
	}
	certs, err := x509.ParseCertificates(b)
	if err != nil || len(certs) == 0 {
		return nil, errors.New("neither PEM (-----BEGIN CERTIFICATE-----) nor DER certificates")
	}
	return certs, nil
}

// isP12Name: a file name NetworkManager-l2tp treats as PKCS#12.
func isP12Name(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".p12", ".pfx":
		return true
	}
	return false
}
