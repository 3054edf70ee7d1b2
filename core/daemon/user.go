package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// The per-user session runner (corridor daemon --user) runs the sessions
// that need no privilege, proxy-mode profiles, as the user who asked,
// with the same protocol as the root helper. It listens on a socket in a
// directory only that user can enter, admits only that user (peer
// credentials), is started by the first Up that needs it and ends when
// it has had no session for a while.

// UserSocketEnv overrides UserSocket (tests, several runners).
const UserSocketEnv = "CORRIDOR_USER_SOCKET"

// UserSocket is where the calling user's session runner listens:
// $CORRIDOR_USER_SOCKET, else $XDG_RUNTIME_DIR/corridor/user.sock, else
// a corridor-UID directory in the temporary directory.
func UserSocket() string {
	if p := os.Getenv(UserSocketEnv); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "corridor", "user.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("corridor-%d", os.Getuid()), "user.sock")
}

// ListenUser creates the user runner's socket at path: its directory is
// made (mode 0700) or must already be this user's and closed to others,
// the socket is mode 0600, and only this user's processes are admitted
// (unless Allow says otherwise).
func (s *Server) ListenUser(path string) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("daemon: socket directory: %w", err)
	}
	if err := checkPrivateDir(dir); err != nil {
		return err
	}
	if err := removeStale(path); err != nil {
		return err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("daemon: socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	if s.Allow == nil {
		me := uint32(os.Getuid())
		s.Allow = func(uid, _ uint32) bool { return uid == me }
	}
	s.gid = -1
	s.ln, s.path = ln, path
	s.made, _ = os.Lstat(path)
	return nil
}

// UserClient is the core.UserEngine of the per-user session runner: a
// Client of its socket that starts the runner (Spawn) when an Up finds
// none, and follows its events across its starts and ends.
type UserClient struct {
	Client
	// Spawn starts the runner in the background (corridor daemon
	// --user); nil: Up fails when none runs.
	Spawn func() error
	// StartWait bounds waiting for a spawned runner to answer (0: 10 s).
	StartWait time.Duration
	// Retry is the pause between attempts to follow the runner's events
	// while it is not running (0: 500 ms).
	Retry time.Duration
}

var _ core.UserEngine = (*UserClient)(nil)

func noRunner(err error) bool { return errors.Is(err, ErrNoDaemon) }

// Running implements core.UserEngine.
func (u *UserClient) Running(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return u.Ping(pctx) == nil
}

// Up implements core.Engine, starting the runner first when none runs.
func (u *UserClient) Up(ctx context.Context, req core.UpRequest) error {
	err := u.Client.Up(ctx, req)
	if err == nil || !noRunner(err) || u.Spawn == nil {
		return u.explain(err)
	}
	if err := u.start(ctx); err != nil {
		return err
	}
	return u.Client.Up(ctx, req)
}

// explain rewords "helper not running" for the user's runner.
func (u *UserClient) explain(err error) error {
	if err != nil && noRunner(err) {
		return &core.Error{Class: core.ClassLocal, Err: err,
			Msg:  "the session runner of proxy-mode profiles is not running (no socket at " + u.socket() + ")",
			Hint: "corridor up NAME starts it; corridor daemon --user runs it in the foreground"}
	}
	return err
}

// Start implements core.UserEngine: it starts the runner unless one
// answers, and waits until it does.
func (u *UserClient) Start(ctx context.Context) error {
	if u.Running(ctx) {
		return nil
	}
	if u.Spawn == nil {
		return u.explain(ErrNoDaemon)
	}
	return u.start(ctx)
}

// start spawns the runner and waits until it answers.
func (u *UserClient) start(ctx context.Context) error {
	if err := u.Spawn(); err != nil {
		return &core.Error{Class: core.ClassLocal, Err: err, Msg: "could not start the session runner of proxy-mode profiles: " + err.Error()}
	}
	wait := u.StartWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := u.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return &core.Error{Class: core.ClassLocal, Err: err,
				Msg:  fmt.Sprintf("the session runner of proxy-mode profiles did not answer within %v of its start", wait),
				Hint: "its log is " + filepath.Join(filepath.Dir(u.socket()), "user.log")}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Status implements core.Engine: no runner, no sessions.
func (u *UserClient) Status(ctx context.Context) ([]core.Status, error) {
	st, err := u.Client.Status(ctx)
	if err != nil && noRunner(err) {
		return nil, nil
	}
	return st, err
}

// Down implements core.Engine.
func (u *UserClient) Down(ctx context.Context, profile string) error {
	err := u.Client.Down(ctx, profile)
	if err != nil && noRunner(err) {
		if profile == "" {
			return nil
		}
		return fmt.Errorf("core: no session for profile %q", profile)
	}
	return err
}

// Subscribe implements core.Engine: the runner's events, followed across
// its starts and ends until ctx ends (then the channel closes). It does
// not fail when no runner runs. The first attempt is made before it
// returns, so the caller's own Status call afterwards is current; when it
// (re)joins a runner later, it first sends an EventState with each
// session's current status, so that a follower that missed events (the
// runner started meanwhile) is current again.
func (u *UserClient) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	retry := u.Retry
	if retry == 0 {
		retry = 500 * time.Millisecond
	}
	out := make(chan core.Event, 64)
	send := func(ev core.Event) {
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	}
	ch, err := u.Client.Subscribe(ctx)
	go func() {
		defer close(out)
		for {
			if err == nil {
				for ev := range ch {
					send(ev)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			if ch, err = u.Client.Subscribe(ctx); err == nil {
				sts, _ := u.Client.Status(ctx)
				for _, st := range sts {
					send(core.Event{Time: time.Now(), Kind: core.EventState, Status: st})
				}
			}
		}
	}()
	return out, nil
}

// PackagedHelper is where the Linux packages install the helper, the
// nogui build of corridor.
const PackagedHelper = "/usr/libexec/corridor/corridor-helper"

// runnerExe is the program the user's runner runs: the packaged helper
// beside a packaged /usr/bin/corridor (a third of the desktop app's
// memory), else this executable.
func runnerExe() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if exe == "/usr/bin/corridor" {
		if fi, err := os.Stat(PackagedHelper); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return PackagedHelper, nil
		}
	}
	return exe, nil
}

// NewSplit is a front end's engine: the root helper on helperSocket for
// TUN profiles, and this user's session runner (UserSocket) for
// proxy-mode ones, started on demand from this executable (corridor
// daemon --user).
func NewSplit(helperSocket string) *core.Split {
	path := UserSocket()
	user := &UserClient{Client: Client{Socket: path}, Spawn: func() error {
		exe, err := runnerExe()
		if err != nil {
			return err
		}
		return SpawnUser(exe, path)
	}}
	return &core.Split{System: &Client{Socket: helperSocket}, User: user}
}
