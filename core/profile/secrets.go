package profile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// SecretKind names one of a profile's secrets.
type SecretKind string

// The secrets a profile may have.
const (
	SecretPSK      SecretKind = "psk"         // IPsec pre-shared key
	SecretPassword SecretKind = "password"    // PPP password
	SecretL2TP     SecretKind = "l2tp-secret" // L2TP tunnel secret (RFC 2661 5.1.1)
	SecretCertKey  SecretKind = "cert-key"    // private key of the profile's certificate, PEM
)

// SecretKinds lists every kind, for moving or deleting all of a profile's
// secrets.
var SecretKinds = []SecretKind{SecretPSK, SecretPassword, SecretL2TP, SecretCertKey}

func (k SecretKind) valid() bool {
	return k == SecretPSK || k == SecretPassword || k == SecretL2TP || k == SecretCertKey
}

// Secrets stores the secrets of profiles. Implementations never put a
// secret's value in an error.
type Secrets interface {
	Get(profile string, kind SecretKind) (string, error) // ErrNoSecret when absent
	Set(profile string, kind SecretKind, value string) error
	Delete(profile string, kind SecretKind) error // absent is not an error
}

var (
	// ErrNoSecret: the keychain holds no such secret.
	ErrNoSecret = errors.New("no such secret in the keychain")

	// ErrNoKeychain: there is no usable OS keychain. Corridor then refuses
	// to store secrets rather than fall back to files.
	ErrNoKeychain = errors.New("no OS keychain is available (Secret Service / Keychain / Credential Manager): " +
		"Corridor does not store secrets in files; start a keyring (e.g. gnome-keyring, KeePassXC with Secret Service) " +
		"and unlock it, or type the secrets when you connect")

	// ErrSecretTooLong: the keychain refused the value for its size.
	ErrSecretTooLong = errors.New("the secret is too long for the OS keychain")
)

// KeyringService is the service name of Corridor's keychain entries; the
// account (user) of an entry is "<profile>/<kind>".
const KeyringService = "corridor"

// keyringTimeout bounds one keychain call: a Secret Service that waits on
// an unlock prompt nobody answers must not hang the caller forever.
const keyringTimeout = 2 * time.Minute

// NewKeyring returns the Secrets of the OS keychain (github.com/zalando/go-keyring:
// Secret Service on Linux and BSD, Keychain on macOS, Credential Manager
// on Windows): service "corridor", account "<profile>/<kind>". When the
// keychain is unavailable, errors wrap ErrNoKeychain.
func NewKeyring() Secrets { return &keyringSecrets{timeout: keyringTimeout} }

type keyringSecrets struct {
	timeout time.Duration
}

func keyringAccount(profile string, kind SecretKind) string { return profile + "/" + string(kind) }

func checkSecretKey(profile string, kind SecretKind) error {
	if msg := checkProfileName(profile); msg != "" {
		return fmt.Errorf("keychain: profile name %q: %s", profile, msg)
	}
	if !kind.valid() {
		return fmt.Errorf("keychain: unknown secret kind %q (psk, password, l2tp-secret, cert-key)", kind)
	}
	return nil
}

// call runs f with the timeout.
func (k *keyringSecrets) call(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(k.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("the keychain did not answer within %v (is it waiting for an unlock prompt?)", k.timeout)
	}
}

func (k *keyringSecrets) Get(profile string, kind SecretKind) (string, error) {
	if err := checkSecretKey(profile, kind); err != nil {
		return "", err
	}
	var v string
	err := k.call(func() error {
		var err error
		v, err = keyring.Get(KeyringService, keyringAccount(profile, kind))
		return err
	})
	if err != nil {
		return "", keyringError("read", profile, kind, err, "")
	}
	return v, nil
}

// Set stores value; an empty value deletes the secret.
func (k *keyringSecrets) Set(profile string, kind SecretKind, value string) error {
	if err := checkSecretKey(profile, kind); err != nil {
		return err
	}
	if value == "" {
		return k.Delete(profile, kind)
	}
	err := k.call(func() error { return keyring.Set(KeyringService, keyringAccount(profile, kind), value) })
	if err != nil {
		return keyringError("store", profile, kind, err, value)
	}
	return nil
}

func (k *keyringSecrets) Delete(profile string, kind SecretKind) error {
	if err := checkSecretKey(profile, kind); err != nil {
		return err
	}
	err := k.call(func() error { return keyring.Delete(KeyringService, keyringAccount(profile, kind)) })
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return keyringError("delete", profile, kind, err, "")
	}
	return nil
}

// keyringError maps a go-keyring error: not found is ErrNoSecret, a value
// too large ErrSecretTooLong, anything else means the keychain cannot be
// used (no D-Bus session, no Secret Service, locked, unsupported OS) and
// wraps ErrNoKeychain. value is scrubbed from the cause's text in case a
// backend ever echoed it.
func keyringError(op, profile string, kind SecretKind, err error, value string) error {
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("%w: %s of profile %q", ErrNoSecret, kind, profile)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("could not %s the %s of profile %q: %w", op, kind, profile, ErrSecretTooLong)
	}
	cause := err.Error()
	if value != "" && strings.Contains(cause, value) {
		cause = strings.ReplaceAll(cause, value, "[redacted]")
	}
	return fmt.Errorf("could not %s the %s of profile %q: %w (%s)", op, kind, profile, ErrNoKeychain, cause)
}

// moveSecrets copies every secret of from to to (deleting stale entries
// at to of kinds from lacks). commit then deletes from's; rollback undoes
// the copy. Names that differ only in case may be one entry in a keychain
// that ignores case (Windows Credential Manager), so for those commit
// writes the values again after the deletion, and rollback restores them.
func moveSecrets(sec Secrets, from, to string) (commit func() error, rollback func(), err error) {
	vals, err := readSecrets(sec, from)
	if err != nil {
		return nil, nil, err
	}
	undo, err := writeSecrets(sec, to, vals)
	if err != nil {
		return nil, nil, err
	}
	sameEntry := strings.EqualFold(from, to)
	commit = func() error {
		if err := deleteSecrets(sec, from); err != nil {
			return err
		}
		if sameEntry {
			_, err := writeSecrets(sec, to, vals)
			return err
		}
		return nil
	}
	rollback = func() {
		undo()
		if sameEntry {
			writeSecrets(sec, from, vals)
		}
	}
	return commit, rollback, nil
}

// readSecrets returns every secret of profile that exists.
func readSecrets(sec Secrets, profile string) (map[SecretKind]string, error) {
	vals := map[SecretKind]string{}
	for _, k := range SecretKinds {
		v, err := sec.Get(profile, k)
		switch {
		case errors.Is(err, ErrNoSecret):
		case err != nil:
			return nil, err
		default:
			vals[k] = v
		}
	}
	return vals, nil
}

// writeSecrets makes profile's secrets exactly vals: the kinds in vals are
// set, the others deleted. rollback deletes them all again.
func writeSecrets(sec Secrets, profile string, vals map[SecretKind]string) (rollback func(), err error) {
	rollback = func() {
		for _, k := range SecretKinds {
			sec.Delete(profile, k)
		}
	}
	for _, k := range SecretKinds {
		if v := vals[k]; v != "" {
			err = sec.Set(profile, k, v)
		} else {
			err = sec.Delete(profile, k)
		}
		if err != nil {
			rollback()
			return nil, err
		}
	}
	return rollback, nil
}

// deleteSecrets deletes every secret of profile.
func deleteSecrets(sec Secrets, profile string) error {
	var errs []error
	for _, k := range SecretKinds {
		if err := sec.Delete(profile, k); err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrNoKeychain) {
				break
			}
		}
	}
	return errors.Join(errs...)
}
