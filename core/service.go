package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/corridorvpn/corridor/core/profile"
)

// Service is the one API of every front end (CLI, desktop app): profiles
// with their secrets on the user's side, sessions in an Engine (the
// privileged helper, or in process). Its messages are plain structs.
type Service struct {
	store  *profile.Store
	engine Engine
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
// nothing to store, no keychain is needed.
func (s *Service) SaveProfile(p profile.Profile, secrets map[profile.SecretKind]string) error {
	if err := s.store.Save(p); err != nil {
		return err
	}
	if err := s.store.ForgetAsked(p); err != nil {
		return err
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

// Import reads a .nmconnection, .mobileconfig or exported .toml file and
// saves its profiles (secrets to the keychain); it returns what it saved.
func (s *Service) Import(filename string, data []byte) ([]profile.Profile, error) {
	ims, err := profile.ImportFile(filename, data)
	if err != nil {
		return nil, err
	}
	var out []profile.Profile
	for _, im := range ims {
		p, err := s.store.Import(im)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
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
