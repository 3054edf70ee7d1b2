package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/corridorvpn/corridor/platform"
)

// ErrNoProfile: no profile of that name.
var ErrNoProfile = errors.New("no such profile")

// ProfileFileError is a problem with one profile file. File is the path
// relative to the store's folder ("profiles/work.toml"), Path the full
// one; Line is 0 when the problem is not at one line.
type ProfileFileError struct {
	File string
	Path string
	Line int
	Key  string
	Err  error
}

func (e *ProfileFileError) Error() string {
	s := e.Err.Error()
	if e.Key != "" {
		s = e.Key + ": " + s
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, s)
	}
	return e.File + ": " + s
}

func (e *ProfileFileError) Unwrap() error { return e.Err }

// Store keeps profiles as files, one per profile, in dir/profiles/<name>.toml
// (so that a malformed file loses nothing else), and their secrets in a
// Secrets. Files are written atomically with mode 0600; the folders are
// 0700. A Store is safe for concurrent use; separate processes see each
// other's writes whole or not at all.
type Store struct {
	dir string
	sec Secrets

	mu sync.Mutex
	// writeFile is the file system step tests make fail.
	writeFile func(path string, data []byte, perm os.FileMode) error
}

// DefaultConfigDir is os.UserConfigDir()/corridor: ~/.config/corridor on
// Linux, ~/Library/Application Support/corridor on macOS,
// %AppData%\corridor on Windows.
func DefaultConfigDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration folder for Corridor: %w", err)
	}
	return filepath.Join(d, "corridor"), nil
}

// OpenStore opens (creating it, mode 0700) the store in dir. sec nil means
// NewKeyring().
func OpenStore(dir string, sec Secrets) (*Store, error) {
	if sec == nil {
		sec = NewKeyring()
	}
	s := &Store{dir: dir, sec: sec, writeFile: platform.WriteFileAtomic}
	for _, d := range []string{dir, s.profilesDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("could not create the profile folder: %w", err)
		}
		// MkdirAll keeps an existing folder's mode; profiles say whom the
		// user connects to, which is nobody else's business.
		if runtime.GOOS != "windows" {
			if err := os.Chmod(d, 0o700); err != nil {
				return nil, fmt.Errorf("could not restrict the profile folder to its owner: %w", err)
			}
		}
	}
	return s, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// Secrets is where the store keeps profile secrets.
func (s *Store) Secrets() Secrets { return s.sec }

func (s *Store) profilesDir() string { return filepath.Join(s.dir, "profiles") }

func (s *Store) path(name string) string { return filepath.Join(s.profilesDir(), name+".toml") }

func relFile(name string) string { return "profiles/" + name + ".toml" }

// List returns every readable, valid profile sorted by name, and one error
// per problem (*ProfileFileError, naming the file and line). A broken file
// is left out, and only it; a key this version does not know is reported
// but its profile is listed.
func (s *Store) List() ([]Profile, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names, err := s.names()
	if err != nil {
		return nil, []error{err}
	}
	var (
		out  []Profile
		errs []error
	)
	for _, name := range names {
		p, fatal, warnings := s.load(name)
		errs = append(errs, fatal...)
		errs = append(errs, warnings...)
		if len(fatal) == 0 {
			out = append(out, p)
		}
	}
	return out, errs
}

// names lists the profile files, sorted case-insensitively. A file whose
// name is no valid profile name is reported as an error.
func (s *Store) names() ([]string, error) {
	ents, err := os.ReadDir(s.profilesDir())
	if err != nil {
		return nil, fmt.Errorf("could not read the profile folder: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".toml") {
			continue // temp files of a write in progress start with a dot
		}
		names = append(names, strings.TrimSuffix(n, ".toml"))
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := strings.ToLower(names[i]), strings.ToLower(names[j])
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	return names, nil
}

// load reads one profile file.
func (s *Store) load(name string) (Profile, []error, []error) {
	fileErr := func(e error) error {
		fe := &ProfileFileError{File: relFile(name), Path: s.path(name), Err: e}
		var le *LineError
		if errors.As(e, &le) {
			fe.Line, fe.Key, fe.Err = le.Line, le.Key, le.Err
		}
		return fe
	}
	if msg := checkProfileName(name); msg != "" {
		return Profile{}, []error{fileErr(fmt.Errorf("the file name is not a valid profile name (%s): rename the file", msg))}, nil
	}
	data, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return Profile{}, []error{fmt.Errorf("%w: %q", ErrNoProfile, name)}, nil
	}
	if err != nil {
		return Profile{}, []error{fileErr(err)}, nil
	}
	p, fatal, warnings := decodeProfile(data, name, true)
	for i := range fatal {
		fatal[i] = fileErr(fatal[i])
	}
	for i := range warnings {
		warnings[i] = fileErr(warnings[i])
	}
	return p, fatal, warnings
}

// Get reads the profile name. A file with problems returns them joined
// (each a *ProfileFileError); an absent one ErrNoProfile.
func (s *Store) Get(name string) (Profile, error) {
	if msg := checkProfileName(name); msg != "" {
		return Profile{}, fmt.Errorf("%w: %q (%s)", ErrNoProfile, name, msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, fatal, _ := s.load(name)
	if len(fatal) > 0 {
		return Profile{}, errors.Join(fatal...)
	}
	return p, nil
}

// Save validates p and writes it, replacing the profile of the same name.
// Its secrets are not touched (see Secrets).
func (s *Store) Save(p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkFree(p.Name, p.Name); err != nil {
		return err
	}
	return s.write(p)
}

// ForgetAsked deletes the keychain entries of the secrets p has typed at
// each connect (Profile.Asked), so none is left behind when a profile
// switches to asking. Without a keychain there is nothing to delete: that
// is not an error, so a machine without one can keep such profiles.
func (s *Store) ForgetAsked(p Profile) error {
	for _, k := range p.Asked() {
		if err := s.sec.Delete(p.Name, k); err != nil && !errors.Is(err, ErrNoKeychain) {
			return err
		}
	}
	return nil
}

// checkFree fails when a profile other than self has name, or one whose
// name differs only in case (those are one file on macOS and Windows).
func (s *Store) checkFree(name, self string) error {
	names, err := s.names()
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == self || !strings.EqualFold(n, name) {
			continue
		}
		msg := fmt.Sprintf("a profile named %q already exists", n)
		if n != name {
			msg += " (names that differ only in case are the same file on some systems)"
		}
		return ValidationErrors{{Field: "name", Msg: msg}}
	}
	return nil
}

// write stores p atomically (platform.WriteFileAtomic: a temp file in the
// same folder, flushed, renamed over the old file, the folder flushed). A
// failure at any step leaves the old file as it was and no temp file.
func (s *Store) write(p Profile) error {
	if err := s.writeFile(s.path(p.Name), encodeProfile(p, profileHeader), 0o600); err != nil {
		return fmt.Errorf("could not save profile %q: %w", p.Name, err)
	}
	return nil
}

// syncDir flushes a folder's entries so a rename survives a crash. Windows
// cannot open folders for this; NTFS journals renames itself.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Rename renames a profile: its file and its secrets. The new name must be
// free. The secrets are copied first, then the file is moved, then the old
// secrets are deleted, so a failure part way keeps everything under the
// old name.
func (s *Store) Rename(old, new string) error {
	if old == new {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, fatal, _ := s.load(old)
	if len(fatal) > 0 {
		return errors.Join(fatal...)
	}
	p.Name = new
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.checkFree(new, old); err != nil {
		return err
	}
	commit, rollback, err := moveSecrets(s.sec, old, new)
	if err != nil {
		return fmt.Errorf("could not move the secrets of profile %q: %w", old, err)
	}
	oldInfo, _ := os.Stat(s.path(old))
	if err := s.write(p); err != nil {
		rollback()
		return err
	}
	// On a case-insensitive file system a rename that changes only case
	// has just replaced the old file itself.
	if newInfo, err := os.Stat(s.path(new)); err != nil || oldInfo == nil || !os.SameFile(oldInfo, newInfo) {
		if err := os.Remove(s.path(old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.Remove(s.path(new))
			rollback()
			return fmt.Errorf("could not rename profile %q: %w", old, err)
		}
		syncDir(s.profilesDir())
	}
	if err := commit(); err != nil {
		return fmt.Errorf("renamed profile %q to %q, but its secrets under the old name could not be deleted: %w", old, new, err)
	}
	return nil
}

// Delete removes a profile: its secrets first, then its file. If the
// keychain cannot be reached the profile is kept, so that its secrets are
// not orphaned for a later profile of the same name to find.
func (s *Store) Delete(name string) error {
	if msg := checkProfileName(name); msg != "" {
		return fmt.Errorf("%w: %q (%s)", ErrNoProfile, name, msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(name)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrNoProfile, name)
	}
	if err := deleteSecrets(s.sec, name); err != nil {
		return fmt.Errorf("could not delete the secrets of profile %q, so the profile is kept: %w", name, err)
	}
	if err := os.Remove(s.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("could not delete profile %q: %w", name, err)
	}
	syncDir(s.profilesDir())
	return nil
}

// Import saves an imported profile under a free name (its own, else
// "name (2)", "name (3)" ...) and stores its secrets, replacing any stale
// ones under that name. It returns the profile as saved. With secrets to
// store and no keychain, nothing is saved and the error wraps
// ErrNoKeychain.
func (s *Store) Import(im Imported) (Profile, error) {
	p := im.Profile
	if checkProfileName(p.Name) != "" {
		p.Name = sanitizeProfileName(p.Name)
	}
	vals := map[SecretKind]string{}
	for k, v := range im.Secrets {
		if !k.valid() {
			return Profile{}, fmt.Errorf("import: unknown secret kind %q", k)
		}
		if v != "" {
			vals[k] = v
		}
	}
	if vals[SecretL2TP] != "" {
		p.L2TPSecret = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, err := s.freeName(p.Name)
	if err != nil {
		return Profile{}, err
	}
	p.Name = name
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	rollback, err := writeSecrets(s.sec, p.Name, vals)
	if err != nil {
		return Profile{}, fmt.Errorf("could not store the secrets of the imported profile %q: %w", p.Name, err)
	}
	if err := s.write(p); err != nil {
		rollback()
		return Profile{}, err
	}
	return p, nil
}

// freeName returns base, or "base (N)" with the smallest N from 2 that no
// profile uses (compared without case), shortened to fit MaxProfileName.
func (s *Store) freeName(base string) (string, error) {
	names, err := s.names()
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, n := range names {
		taken[strings.ToLower(n)] = true
	}
	if base == "" {
		base = "Imported VPN"
	}
	if !taken[strings.ToLower(base)] {
		return base, nil
	}
	for i := 2; ; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		b := base
		if len(b)+len(suffix) > MaxProfileName {
			b = strings.TrimRight(b[:MaxProfileName-len(suffix)], " .")
		}
		if n := b + suffix; !taken[strings.ToLower(n)] {
			return n, nil
		}
	}
}
