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

// Certificate authentication for corridor connect and profile add/edit
// (--cert, --key, --key-password-file, --p12, --p12-password-file, --ca,
// --server-id): PEM and PKCS#12 files read here, checked in ike.Dial. The
// private key's bytes and the passwords never reach a log, an error or the
// command line (passwords come from files or standard input, read once).

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
// PKCS#8 "PRIVATE KEY"; "ENCRYPTED PRIVATE KEY" with the passphrase
// readPass returns, asked only when the key is encrypted). warn gets
// advice when the file is readable by others.
func readPEMKey(name string, readPass func() (string, error), warn func(string)) (*rsa.PrivateKey, error) {
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
	if !profile.KeyEncrypted(b) {
		k, err := profile.ParseKeyPEM(b)
		if err != nil {
			return nil, err
		}
		return k.(*rsa.PrivateKey), nil
	}
	if readPass == nil {
		_, err := profile.ParseKeyPEM(b) // the error that names --key-password-file
		return nil, err
	}
	pw, err := readPass()
	if err != nil {
		return nil, fmt.Errorf("key password file: %v", err)
	}
	return profile.ParseEncryptedKeyPEM(b, pw)
}

// readP12 opens a PKCS#12 file with the password readPass returns (read
// once, kept nowhere).
func readP12(name string, readPass func() (string, error)) (*profile.PKCS12, error) {
	b, err := readBounded(name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	pw, err := readPass()
	if err != nil {
		return nil, fmt.Errorf("PKCS#12 password file: %v", err)
	}
	return profile.ParsePKCS12(b, pw)
}

// certFlags declares corridor connect's --p12, --p12-password-file and
// --key-password-file (--cert, --key, --ca and --server-id are declared
// with the other flags).
func certFlags(fs *flag.FlagSet, f *connectFlags) {
	fs.StringVar(&f.keyPassFile, "key-password-file", "", "with --key: read the passphrase of an encrypted key (PKCS#8 ENCRYPTED PRIVATE KEY) from `FILE`\n(\"-\": standard input)")
	fs.StringVar(&f.p12File, "p12", "", "authenticate with a certificate and its RSA key from a PKCS#12 `FILE` (.p12, .pfx) instead of\n--cert and --key; with --p12-password-file")
	fs.StringVar(&f.p12PassFile, "p12-password-file", "", "with --p12: read the PKCS#12 file's password from `FILE` (\"-\": standard input)")
}

// usesCert: certificate authentication was asked for.
func (f *connectFlags) usesCert() bool { return f.certFile != "" || f.p12File != "" }

// certUsage says what is wrong with the certificate flags of corridor
// connect together ("": nothing).
func (f *connectFlags) certUsage() string {
	cert := f.usesCert()
	stdin := 0
	for _, s := range []string{f.passwordFile, f.p12PassFile, f.keyPassFile, f.secretFile} {
		if s == "-" {
			stdin++
		}
	}
	switch {
	case f.noIPsec && (cert || f.keyFile != "" || f.caFile != "" || f.serverID != "" || f.p12PassFile != "" || f.keyPassFile != ""):
		return "--cert, --key, --p12, --ca and --server-id need IPsec; drop --no-ipsec"
	case f.p12File != "" && (f.certFile != "" || f.keyFile != "" || f.keyPassFile != ""):
		return "--p12 holds the certificate and its key: drop --cert, --key and --key-password-file"
	case (f.p12File == "") != (f.p12PassFile == ""):
		return "--p12 and --p12-password-file go together: the PKCS#12 file and the file with its password"
	case f.certFile != "" && f.pskFile != "":
		return "--cert and --psk-file exclude each other: the certificate authenticates instead of a pre-shared key"
	case f.p12File != "" && f.pskFile != "":
		return "--p12 and --psk-file exclude each other: the certificate authenticates instead of a pre-shared key"
	case (f.certFile == "") != (f.keyFile == ""):
		return "--cert and --key go together: the certificate and its private key"
	case f.keyPassFile != "" && f.keyFile == "":
		return "--key-password-file goes with --key (an encrypted private key)"
	case !cert && (f.caFile != "" || f.serverID != ""):
		return "--ca and --server-id go with --cert or --p12"
	case cert && f.aggressive:
		return "--cert and --p12 work with Main Mode only; drop --aggressive"
	case stdin > 1:
		return "only one of --password-file, --p12-password-file, --key-password-file and --l2tp-secret-file can be standard input"
	}
	return ""
}

func readBounded(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, maxPEM))
}

// loadCertAuth reads the files of --cert and --key (or --p12), and
// --ca; the passwords are read from their files once and kept nowhere.
func loadCertAuth(f *connectFlags, stdin io.Reader, warn func(string)) (*core.CertAuth, error) {
	var ca *core.CertAuth
	if f.p12File != "" {
		p, err := readP12(f.p12File, func() (string, error) { return readSecret(f.p12PassFile, stdin) })
		if err != nil {
			return nil, fmt.Errorf("--p12 %s: %w", f.p12File, err)
		}
		ca = &core.CertAuth{Cert: p.Certs, Key: p.Key, ServerID: f.serverID}
	} else {
		certs, err := readPEMCerts(f.certFile)
		if err != nil {
			return nil, fmt.Errorf("--cert %s: %w", f.certFile, err)
		}
		var readPass func() (string, error)
		if f.keyPassFile != "" {
			readPass = func() (string, error) { return readSecret(f.keyPassFile, stdin) }
		}
		key, err := readPEMKey(f.keyFile, readPass, warn)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", f.keyFile, err)
		}
		if pub, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(key.Public()) {
			return nil, fmt.Errorf("--key %s is not the key of the first certificate of --cert %s (%q)", f.keyFile, f.certFile, certs[0].Subject.String())
		}
		ca = &core.CertAuth{Cert: certs, Key: key, ServerID: f.serverID}
	}
	if f.caFile != "" {
		var err error
		if ca.CA, err = readPEMCerts(f.caFile); err != nil {
			return nil, fmt.Errorf("--ca %s: %w", f.caFile, err)
		}
	}
	return ca, nil
}

// certFlags declares profile add/edit's --p12, --p12-password-file and
// --key-password-file.
func (f *profileFlags) certFlags() {
	f.fs.StringVar(&f.p12File, "p12", "", "authenticate IPsec with this computer's certificate from a PKCS#12 `FILE` (.p12, .pfx): its\ncertificate and chain go into the profile, its RSA key into the keychain; with --p12-password-file")
	f.fs.StringVar(&f.p12PassFile, "p12-password-file", "", "with --p12: read the PKCS#12 file's password from `FILE` (\"-\": standard input); used once, never stored")
	f.fs.StringVar(&f.keyPassFile, "key-password-file", "", "with --key: read the passphrase of an encrypted key from `FILE`; used once: the keychain keeps the key")
}

// applyCert copies --cert, --key, --ca and --server-id of profile
// add/edit onto p; the key goes to secrets (the keychain), checked
// against the certificate.
func (f *profileFlags) applyCert(p *profile.Profile, secrets map[profile.SecretKind]string, readOnce func(file string) (string, error)) error {
	switch {
	case f.p12File != "" && (f.certFile != "" || f.keyFile != "" || f.keyPassFile != ""):
		return fmt.Errorf("--p12 holds the certificate and its key: drop --cert, --key and --key-password-file")
	case (f.p12File == "") != (f.p12PassFile == ""):
		return fmt.Errorf("--p12 and --p12-password-file go together: the PKCS#12 file and the file with its password")
	case f.keyPassFile != "" && f.keyFile == "":
		return fmt.Errorf("--key-password-file goes with --key (an encrypted private key)")
	}
	if f.p12File != "" {
		p12, err := readP12(f.p12File, func() (string, error) { return readOnce(f.p12PassFile) })
		if err != nil {
			return fmt.Errorf("--p12 %s: %w", f.p12File, err)
		}
		p.Cert = profile.CertsPEM(p12.Certs)
		secrets[profile.SecretCertKey] = profile.KeyPEM(p12.Key)
	}
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
		var key crypto.Signer
		if profile.KeyEncrypted(b) && f.keyPassFile != "" {
			var pw string
			if pw, err = readOnce(f.keyPassFile); err != nil {
				clear(b)
				return fmt.Errorf("--key-password-file: %v", err)
			}
			var k *rsa.PrivateKey
			if k, err = profile.ParseEncryptedKeyPEM(b, pw); err == nil {
				key = k
				clear(b)
				b = []byte(profile.KeyPEM(k)) // the keychain keeps it decrypted, as a plain key
			}
		} else {
			key, err = profile.ParseKeyPEM(b)
		}
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

// importCertFlags declares profile import's --p12-password-file.
func importCertFlags(fs *flag.FlagSet) {
	fs.String("p12-password-file", "", "read the password of the imported certificate (a PKCS#12 payload of a .mobileconfig,\nNetworkManager's machine-cert .p12 or encrypted machine-key) from `FILE` (\"-\": standard input); used once, never stored")
}

// openImportedCerts opens the certificates an import left pending (see
// profile.ImportedCert): the files a NetworkManager connection names are
// read on this computer, the password comes from --p12-password-file
// (read once) or the imported file. What fails stays with the profile as a
// warning: it is imported without its certificate.
func openImportedCerts(ims []profile.Imported, fs *flag.FlagSet, stdin io.Reader) error {
	var password string
	pending := false
	for _, im := range ims {
		pending = pending || im.Cert != nil
	}
	if file := fs.Lookup("p12-password-file").Value.String(); file != "" {
		if !pending {
			return fmt.Errorf("--p12-password-file: the imported file has no certificate that needs a password")
		}
		var err error
		if password, err = readSecret(file, stdin); err != nil {
			return fmt.Errorf("--p12-password-file: %v", err)
		}
	}
	for i := range ims {
		im := &ims[i]
		if im.Cert == nil {
			continue
		}
		if err := im.OpenCert(readBounded, password); err != nil {
			im.Warnings = append(im.Warnings, "the certificate was not imported: "+err.Error())
		}
	}
	return nil
}
