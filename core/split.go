package core

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/corridorvpn/corridor/core/profile"
)

// UserEngine runs the sessions that need no privilege (proxy-mode
// profiles) in the user's own process space: core/daemon's UserClient,
// which starts the per-user session runner on demand.
type UserEngine interface {
	Engine
	// Running reports whether the runner answers now (it is started by
	// the first Up and ends when it has had no session for a while).
	Running(ctx context.Context) bool
	// Start starts the runner unless it runs, and waits until it
	// answers (a front end that follows a connect's events subscribes
	// after it).
	Start(ctx context.Context) error
}

// Split is the Engine of a front end: proxy-mode profiles
// (profile.ModeProxy) run in User, the others in System (the root
// helper). Status, Subscribe and Down see both, so a front end shows and
// controls every session alike; with no helper running, the user's own
// sessions still work.
type Split struct {
	System Engine
	User   UserEngine
}

// EngineFor is the engine that runs p's sessions: e itself, or the
// right half of a *Split.
func EngineFor(e Engine, p profile.Profile) Engine {
	s, ok := e.(*Split)
	if !ok {
		return e
	}
	if p.IsProxy() {
		return s.User
	}
	return s.System
}

// Up implements Engine.
func (s *Split) Up(ctx context.Context, req UpRequest) error {
	return EngineFor(s, req.Profile).Up(ctx, req)
}

// Ping asks the helper (the user's runner needs no asking: it is started
// when needed).
func (s *Split) Ping(ctx context.Context) error {
	if p, ok := s.System.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	_, err := s.System.Status(ctx)
	return err
}

// Status implements Engine: the sessions of both, by profile name. When
// the helper cannot be asked, the user's sessions are still reported if
// there are any; otherwise the helper's error is.
func (s *Split) Status(ctx context.Context) ([]Status, error) {
	sys, sysErr := s.System.Status(ctx)
	usr, usrErr := s.User.Status(ctx)
	if usrErr != nil {
		usr = nil
	}
	if sysErr != nil {
		if len(usr) == 0 {
			return nil, sysErr
		}
		sys = nil
	}
	out := append(append([]Status(nil), sys...), usr...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}

// Down implements Engine. A named session is taken down where it runs;
// "" takes down every session of both.
func (s *Split) Down(ctx context.Context, name string) error {
	if name == "" {
		var usrErr error
		running := s.User.Running(ctx)
		if running {
			usrErr = s.User.Down(ctx, "")
		}
		sysErr := s.System.Down(ctx, "")
		if sysErr != nil && running && usrErr == nil {
			return nil // the helper is away; the user's sessions are down
		}
		return errors.Join(sysErr, usrErr)
	}
	if sts, err := s.User.Status(ctx); err == nil {
		for _, st := range sts {
			if st.Profile == name {
				return s.User.Down(ctx, name)
			}
		}
	}
	return s.System.Down(ctx, name)
}

// Subscribe implements Engine: the events of both, merged. The user's
// half is followed even while its runner is not running (it starts on
// the next Up). The stream ends when the helper's does (the helper went
// away: a front end notices as before) or ctx ends. Without the helper,
// the stream carries the user's events when its runner is running, and
// ends with them; with neither, it is the helper's error.
func (s *Split) Subscribe(ctx context.Context) (<-chan Event, error) {
	sys, sysErr := s.System.Subscribe(ctx)
	if sysErr != nil && !s.User.Running(ctx) {
		return nil, sysErr
	}
	uctx, ucancel := context.WithCancel(ctx)
	usr, err := s.User.Subscribe(uctx)
	if err != nil {
		ucancel()
		if sysErr != nil {
			return nil, sysErr
		}
		return sys, nil
	}
	out := make(chan Event, 64)
	var wg sync.WaitGroup
	forward := func(ch <-chan Event) {
		defer wg.Done()
		for ev := range ch {
			select {
			case out <- ev:
			case <-uctx.Done():
			}
		}
	}
	wg.Add(1)
	go forward(usr)
	if sys != nil {
		wg.Add(1)
		go func() {
			forward(sys)
			ucancel() // the helper's stream ended: so does the merged one
		}()
	}
	go func() {
		wg.Wait()
		ucancel()
		close(out)
	}()
	return out, nil
}
