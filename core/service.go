package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/corridorvpn/corridor/core/profile"
)

// Service is the one API of every front end (CLI, desktop app): profiles
// with their secrets on the user's side, sessions in an Engine (the
// privileged helper, or in process). Its messages are plain structs.
type Service struct {
	store  *profile.Store
	engine Engine
	// readCertFile reads the certificate files an import names (tests:
	// files of another computer); nil: this computer's.
	readCertFile func(string) ([]byte, error)
}

// NewService joins a profile store and a session engine.
func NewService(store *profile.Store, engine Engine) *Service {
	return &Service{store: store, engine: engine}
}

// Store returns the profile store.
func (s *Service) Store() *profile.Store { return s.store }

// Engine returns the session engine.
func (s *Service) Engine() Engine { return s.engine }

// Profiles lists the saved profiles; problems with single files come
// back as errors without hiding the others.
func (s *Service) Profiles() ([]profile.Profile, []error) { return s.store.List() }

// SaveProfile adds or updates p and stores the secrets given (empty
// values are left as they are). The secrets p asks for at each connect
// (Profile.Asked) are never stored, and a stored one is deleted; with
// nothing to store, no keychain is needed. A profile that goes from a
// certificate back to the pre-shared key loses the certificate's private
// key from the keychain (like corridor profile edit --cert none).
func (s *Service) SaveProfile(p profile.Profile, secrets map[profile.SecretKind]string) error {
	old, oldErr := s.store.Get(p.Name)
	if err := s.store.Save(p); err != nil {
		return err
	}
	if err := s.store.ForgetAsked(p); err != nil {
		return err
	}
	if oldErr == nil && old.UsesCert() && !p.UsesCert() {
		if err := s.store.Secrets().Delete(p.Name, profile.SecretCertKey); err != nil {
			return err
		}
	}
	for k, v := range secrets {
		if v == "" || p.Asks(k) {
			continue
		}
		if err := s.store.Secrets().Set(p.Name, k, v); err != nil {
			return err
		}
	}
	return nil
}

// RenameProfile renames a profile and moves its secrets.
func (s *Service) RenameProfile(old, new string) error { return s.store.Rename(old, new) }

// RemoveProfile deletes a profile and its secrets.
func (s *Service) RemoveProfile(name string) error { return s.store.Delete(name) }

// Secrets reads what a connection of p needs from the keychain, except
// the secrets p asks for at each connect (Profile.Asked).
func (s *Service) Secrets(p profile.Profile) (map[profile.SecretKind]string, error) {
	return s.secrets(p, nil)
}

// secrets reads from the keychain what a connection of p needs and typed
// does not hold, leaving out the kinds p asks for.
func (s *Service) secrets(p profile.Profile, typed map[profile.SecretKind]string) (map[profile.SecretKind]string, error) {
	kinds := []profile.SecretKind{profile.SecretPassword}
	switch {
	case p.UsesCert():
		kinds = append(kinds, profile.SecretCertKey)
	case p.IPsec:
		kinds = append(kinds, profile.SecretPSK)
	}
	if p.L2TPSecret {
		kinds = append(kinds, profile.SecretL2TP)
	}
	out := map[profile.SecretKind]string{}
	for _, k := range kinds {
		if typed[k] != "" || p.Asks(k) {
			continue
		}
		v, err := s.store.Secrets().Get(p.Name, k)
		if errors.Is(err, profile.ErrNoSecret) {
			return nil, &Error{Class: ClassUsage, Err: err, Msg: fmt.Sprintf("no %s stored for profile %q", secretWords(k), p.Name),
				Hint: "store it for the profile: secrets are kept in the system keychain", HintKey: StoreHint(k), HintArg: p.Name}
		}
		if err != nil {
			return nil, &Error{Class: ClassLocal, Err: err, Msg: "could not read the keychain: " + err.Error(),
				Hint: "unlock your keyring (Secret Service) and try again"}
		}
		out[k] = v
	}
	return out, nil
}

func secretWords(k profile.SecretKind) string {
	switch k {
	case profile.SecretPSK:
		return "pre-shared key"
	case profile.SecretL2TP:
		return "L2TP tunnel secret"
	case profile.SecretCertKey:
		return "certificate private key"
	}
	return "password"
}

// Connect brings the named profile up: its secrets go from the keychain
// to the engine for this connection only. A profile that asks for a
// secret at each connect needs ConnectWith.
func (s *Service) Connect(ctx context.Context, name string) error {
	return s.ConnectWith(ctx, name, nil)
}

// ConnectWith is Connect with secrets the user typed for this connect
// (those the profile asks for, Profile.Asked): they go to the engine
// with the keychain's and are neither stored nor logged. A typed value
// is used instead of a stored one.
func (s *Service) ConnectWith(ctx context.Context, name string, typed map[profile.SecretKind]string) error {
	p, err := s.store.Get(name)
	if err != nil {
		return err
	}
	for _, k := range p.Asked() {
		if typed[k] == "" {
			return &Error{Class: ClassUsage, Err: profile.ErrNoSecret,
				Msg:  fmt.Sprintf("profile %q asks for its %s at each connect, and none was typed", p.Name, secretWords(k)),
				Hint: "type it when you connect (corridor up asks on a terminal; scripts pass --password-file or --psk-file)"}
		}
	}
	sec, err := s.secrets(p, typed)
	if err != nil {
		return err
	}
	for k, v := range typed {
		if v != "" {
			sec[k] = v
		}
	}
	return s.engine.Up(ctx, UpRequest{Profile: p, Secrets: sec})
}

// Disconnect ends the named session ("" : all).
func (s *Service) Disconnect(ctx context.Context, name string) error {
	return s.engine.Down(ctx, name)
}

// Prepare readies the engine that runs p's sessions: for a proxy-mode
// profile, the user's session runner is started (if it is not running),
// so that a Subscribe made after it sees the whole connect.
func (s *Service) Prepare(ctx context.Context, p profile.Profile) error {
	if sp, ok := s.engine.(*Split); ok && p.IsProxy() {
		return sp.User.Start(ctx)
	}
	return nil
}

// UserEngine is the engine of this user's own sessions (proxy mode)
// when they run apart from the helper's (the engine is a *Split), else
// nil. A front end follows it while the helper is away.
func (s *Service) UserEngine() UserEngine {
	if sp, ok := s.engine.(*Split); ok {
		return sp.User
	}
	return nil
}

// Status reports every session.
func (s *Service) Status(ctx context.Context) ([]Status, error) { return s.engine.Status(ctx) }

// Subscribe streams session events until ctx ends.
func (s *Service) Subscribe(ctx context.Context) (<-chan Event, error) {
	return s.engine.Subscribe(ctx)
}

// Profile returns one saved profile.
func (s *Service) Profile(name string) (profile.Profile, error) { return s.store.Get(name) }

// Secret reads one stored secret of a profile (for an editor's
// show-password field); ErrNoSecret when none is stored.
func (s *Service) Secret(profile string, kind profile.SecretKind) (string, error) {
	return s.store.Secrets().Get(profile, kind)
}

// ImportOptions are the user's answers for an import whose certificate
// needs them (see Service.Import).
type ImportOptions struct {
	// Password opens the certificates the file protects with a password
	// it does not hold (a PKCS#12 payload, an encrypted key file): typed
	// for this import, used once, never stored or logged.
	Password string
	// SkipCert imports the profiles without those certificates (the
	// user has no password); their warnings say how to add them later.
	SkipCert bool
}

// ImportedProfile is one profile an import saved, with what the user
// should know about it (fields left out, a certificate not carried over),
// in plain words without secrets.
type ImportedProfile struct {
	Profile  profile.Profile
	Warnings []string
}

// ImportPasswordError is Import's answer when a certificate in the file
// needs a password (Wrong false: none was given) or the one given does
// not open it (Wrong true). Nothing was saved: ask the user, then import
// again with ImportOptions.Password, or with SkipCert.
type ImportPasswordError struct {
	// Certs names the certificates (file or payload), for the question.
	Certs []string
	Wrong bool
}

func (e *ImportPasswordError) Error() string {
	if e.Wrong {
		return fmt.Sprintf("the password does not open the certificate %s", strings.Join(e.Certs, ", "))
	}
	return fmt.Sprintf("the certificate %s is protected by a password the file does not hold", strings.Join(e.Certs, ", "))
}

// Is makes errors.Is(err, profile.ErrWrongPassword) or
// profile.ErrPasswordNeeded true as fits.
func (e *ImportPasswordError) Is(target error) bool {
	if e.Wrong {
		return target == profile.ErrWrongPassword
	}
	return target == profile.ErrPasswordNeeded
}

// maxCertFile bounds what an import reads of a certificate or key file
// the imported file names.
const maxCertFile = 1 << 20

// readCertFile reads a certificate or key file named by an imported file
// (NetworkManager's machine-cert, machine-key, machine-ca).
func readCertFile(name string) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, maxCertFile+1))
}

// Import reads a .nmconnection, .mobileconfig or exported .toml file and
// saves its profiles, their secrets to the keychain. It runs in the
// user's process: files, keys and passwords never go to the helper.
//
// A certificate the file asks for (IKEv1 RSA signatures, RFC 2409 §5.1)
// is opened here like corridor profile import does: a PKCS#12 payload
// with its password, NetworkManager's certificate and key files on this
// computer; the key goes to the keychain (SecretCertKey), the certificate
// into the profile. One protected by a password neither the file nor
// opt.Password holds makes Import save nothing and return an
// *ImportPasswordError (one password for the whole file), unless
// opt.SkipCert. A certificate that cannot be opened otherwise (a file
// missing here) leaves the profile without it, and its warning says why
// and how to add it later.
func (s *Service) Import(filename string, data []byte, opt ImportOptions) ([]ImportedProfile, error) {
	ims, err := profile.ImportFile(filename, data)
	if err != nil {
		return nil, err
	}
	read := s.readCertFile
	if read == nil {
		read = readCertFile
	}
	var need, wrong []string
	for i := range ims {
		im := &ims[i]
		if im.Cert == nil {
			continue
		}
		name := im.Cert.Name()
		// First with what the file holds (maybe no password at all).
		err := im.OpenCert(read, "")
		if protected(err) && opt.Password != "" {
			err = im.OpenCert(read, opt.Password)
			if errors.Is(err, profile.ErrWrongPassword) {
				if !opt.SkipCert {
					wrong = appendNew(wrong, name)
					continue
				}
			}
		}
		switch {
		case err == nil:
		case protected(err) && !opt.SkipCert:
			need = appendNew(need, name)
		case protected(err):
			why := "it needs its password, which was not given"
			if opt.Password != "" {
				why = "the password given does not open it"
			}
			im.SkipCert(fmt.Sprintf("the certificate %s was not imported (%s): the profile has no certificate until you add it: Edit, Certificate (or corridor profile edit %q --p12 FILE --p12-password-file FILE)", name, why, im.Profile.Name))
		default:
			im.SkipCert(fmt.Sprintf("the certificate was not imported: %v; the profile has no certificate until you add it: Edit, Certificate (or corridor profile edit %q --cert FILE --key FILE, or --p12 FILE --p12-password-file FILE)", err, im.Profile.Name))
		}
	}
	if len(wrong) > 0 {
		return nil, &ImportPasswordError{Certs: wrong, Wrong: true}
	}
	if len(need) > 0 {
		return nil, &ImportPasswordError{Certs: need}
	}
	var out []ImportedProfile
	for _, im := range ims {
		p, err := s.store.Import(im)
		if err != nil {
			return out, err
		}
		out = append(out, ImportedProfile{Profile: p, Warnings: im.Warnings})
	}
	return out, nil
}

// protected: OpenCert needs a password it was not given, or the file's
// own does not open the certificate.
func protected(err error) bool {
	return errors.Is(err, profile.ErrPasswordNeeded) || errors.Is(err, profile.ErrWrongPassword)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Export returns a profile as TOML, without secrets.
func (s *Service) Export(name string) ([]byte, error) {
	p, err := s.store.Get(name)
	if err != nil {
		return nil, err
	}
	return profile.ExportProfile(p), nil
}

// Ping checks that the engine answers (the helper is running).
func (s *Service) Ping(ctx context.Context) error {
	if p, ok := s.engine.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	_, err := s.engine.Status(ctx)
	return err
}
