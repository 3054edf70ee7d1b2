// Package guitest is an in-memory stand-in for core.Service that satisfies
// gui.Backend, for the desktop UI's tests and for running the window
// without a helper. Profiles and secrets live in maps; the event stream
// is fed by the test with Send; every call is recorded.
package guitest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/core/profile"
)

// SaveCall is one SaveProfile call.
type SaveCall struct {
	Profile profile.Profile
	Secrets map[profile.SecretKind]string
}

// Backend is the fake. The zero value is not usable; call New.
type Backend struct {
	mu         sync.Mutex
	profiles   map[string]profile.Profile
	secrets    map[string]map[profile.SecretKind]string
	statuses   []core.Status
	pingErr    error
	connectErr error
	secretErr  error
	calls      []string
	saves      []SaveCall
	sub        chan core.Event
	subCtx     context.Context
	gate       chan struct{} // Connect waits on it when set
}

// New returns an empty fake whose Ping answers.
func New() *Backend {
	return &Backend{profiles: map[string]profile.Profile{}, secrets: map[string]map[profile.SecretKind]string{}}
}

// AddProfile stores a profile and its secrets (no validation).
func (b *Backend) AddProfile(p profile.Profile, secrets map[profile.SecretKind]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.profiles[p.Name] = p
	b.secrets[p.Name] = map[profile.SecretKind]string{}
	for k, v := range secrets {
		b.secrets[p.Name][k] = v
	}
}

// SetPingError makes Ping (and Subscribe) fail with err; nil: they work.
func (b *Backend) SetPingError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pingErr = err
}

// SetConnectError makes Connect fail with err.
func (b *Backend) SetConnectError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connectErr = err
}

// SetSecretError makes Secret fail with err (a locked keychain).
func (b *Backend) SetSecretError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.secretErr = err
}

// SetStatuses sets what Status returns.
func (b *Backend) SetStatuses(sts ...core.Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.statuses = append([]core.Status(nil), sts...)
}

// Send delivers an event to the subscriber, waiting up to five seconds
// for one to subscribe.
func (b *Backend) Send(ev core.Event) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		ch, ctx := b.sub, b.subCtx
		b.mu.Unlock()
		if ch != nil {
			if ev.Time.IsZero() {
				ev.Time = time.Now()
			}
			select {
			case ch <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(deadline)):
				return errors.New("guitest: the subscriber does not read events")
			}
		}
		if time.Now().After(deadline) {
			return errors.New("guitest: nobody subscribed")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// EndStream closes the current event stream, as when the helper exits.
func (b *Backend) EndStream() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sub != nil {
		close(b.sub)
		b.sub = nil
	}
}

// Calls returns the calls so far: "connect NAME", "disconnect NAME",
// "save NAME", "rename OLD NEW", "remove NAME", "import FILE",
// "export NAME", "subscribe", "status", "ping".
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

// Called reports whether call was made.
func (b *Backend) Called(call string) bool {
	for _, c := range b.Calls() {
		if c == call {
			return true
		}
	}
	return false
}

// WaitCall waits up to d for call to be made.
func (b *Backend) WaitCall(call string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b.Called(call) {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return b.Called(call)
}

// Saves returns the SaveProfile calls.
func (b *Backend) Saves() []SaveCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]SaveCall(nil), b.saves...)
}

func (b *Backend) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

// Profiles implements gui.Backend.
func (b *Backend) Profiles() ([]profile.Profile, []error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]profile.Profile, 0, len(b.profiles))
	for _, p := range b.profiles {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Profile implements gui.Backend.
func (b *Backend) Profile(name string) (profile.Profile, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.profiles[name]
	if !ok {
		return p, fmt.Errorf("no profile %q", name)
	}
	return p, nil
}

// SaveProfile implements gui.Backend: it validates like the store and
// keeps the non-empty secrets.
func (b *Backend) SaveProfile(p profile.Profile, secrets map[profile.SecretKind]string) error {
	b.record("save %s", p.Name)
	cp := map[profile.SecretKind]string{}
	for k, v := range secrets {
		cp[k] = v
	}
	b.mu.Lock()
	b.saves = append(b.saves, SaveCall{Profile: p, Secrets: cp})
	b.mu.Unlock()
	if err := p.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.profiles[p.Name] = p
	if b.secrets[p.Name] == nil {
		b.secrets[p.Name] = map[profile.SecretKind]string{}
	}
	for k, v := range secrets {
		if v != "" {
			b.secrets[p.Name][k] = v
		}
	}
	return nil
}

// RenameProfile implements gui.Backend.
func (b *Backend) RenameProfile(old, new string) error {
	b.record("rename %s %s", old, new)
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.profiles[old]
	if !ok {
		return fmt.Errorf("no profile %q", old)
	}
	if _, taken := b.profiles[new]; taken {
		return fmt.Errorf("a profile %q exists", new)
	}
	delete(b.profiles, old)
	p.Name = new
	b.profiles[new] = p
	b.secrets[new] = b.secrets[old]
	delete(b.secrets, old)
	return nil
}

// RemoveProfile implements gui.Backend.
func (b *Backend) RemoveProfile(name string) error {
	b.record("remove %s", name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.profiles[name]; !ok {
		return fmt.Errorf("no profile %q", name)
	}
	delete(b.profiles, name)
	delete(b.secrets, name)
	return nil
}

// Secret implements gui.Backend.
func (b *Backend) Secret(name string, kind profile.SecretKind) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.secretErr != nil {
		return "", b.secretErr
	}
	v, ok := b.secrets[name][kind]
	if !ok || v == "" {
		return "", profile.ErrNoSecret
	}
	return v, nil
}

// Import implements gui.Backend with profile.ImportFile. It opens no
// certificate (the real one is core.Service.Import): the profiles come
// with the importer's warnings.
func (b *Backend) Import(filename string, data []byte, _ core.ImportOptions) ([]core.ImportedProfile, error) {
	b.record("import %s", filename)
	ims, err := profile.ImportFile(filename, data)
	if err != nil {
		return nil, err
	}
	var out []core.ImportedProfile
	for _, im := range ims {
		p := im.Profile
		b.mu.Lock()
		base := p.Name
		for n := 2; b.profiles[p.Name].Name != ""; n++ {
			p.Name = fmt.Sprintf("%s (%d)", base, n)
		}
		b.profiles[p.Name] = p
		b.secrets[p.Name] = im.Secrets
		b.mu.Unlock()
		out = append(out, core.ImportedProfile{Profile: p, Warnings: im.Warnings})
	}
	return out, nil
}

// Export implements gui.Backend with profile.ExportProfile.
func (b *Backend) Export(name string) ([]byte, error) {
	b.record("export %s", name)
	p, err := b.Profile(name)
	if err != nil {
		return nil, err
	}
	return profile.ExportProfile(p), nil
}

// BlockConnect makes Connect wait until release is called (a keychain
// prompt, a slow helper).
func (b *Backend) BlockConnect() (release func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	gate := make(chan struct{})
	b.gate = gate
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// Connect implements gui.Backend: it records the call only (the test
// sends the events).
func (b *Backend) Connect(ctx context.Context, name string) error {
	return b.ConnectWith(ctx, name, nil)
}

// ConnectWith implements gui.Backend: as Connect, and the kinds of the
// typed secrets are recorded (never their values).
func (b *Backend) ConnectWith(ctx context.Context, name string, typed map[profile.SecretKind]string) error {
	b.record("connect %s", name)
	var kinds []string
	for k := range typed {
		kinds = append(kinds, string(k))
	}
	if len(kinds) > 0 {
		sort.Strings(kinds)
		b.record("connect %s typed %s", name, strings.Join(kinds, ","))
	}
	b.mu.Lock()
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.record("connect %s returned", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connectErr
}

// Disconnect implements gui.Backend: it records the call only.
func (b *Backend) Disconnect(_ context.Context, name string) error {
	b.record("disconnect %s", name)
	return nil
}

// Status implements gui.Backend.
func (b *Backend) Status(context.Context) ([]core.Status, error) {
	b.record("status")
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pingErr != nil {
		return nil, b.pingErr
	}
	return append([]core.Status(nil), b.statuses...), nil
}

// Subscribe implements gui.Backend: the stream carries what Send sends
// until ctx ends or EndStream.
func (b *Backend) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	b.record("subscribe")
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pingErr != nil {
		return nil, b.pingErr
	}
	ch := make(chan core.Event)
	b.sub, b.subCtx = ch, ctx
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.sub == ch {
			close(ch)
			b.sub = nil
		}
	}()
	return ch, nil
}

// Ping implements gui.Backend.
func (b *Backend) Ping(context.Context) error {
	b.record("ping")
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pingErr
}

// HelperDown is the error Ping returns when the helper is not running,
// as daemon.Client words it.
func HelperDown() error {
	return &core.Error{Class: core.ClassLocal, Err: daemon.ErrNoDaemon,
		Msg:  "the Corridor helper is not running (no socket at " + daemon.DefaultSocket + ")",
		Hint: "start it: sudo systemctl start corridor (or: sudo corridor daemon)"}
}
