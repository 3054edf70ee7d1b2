package core

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
)

// recEngine records calls and answers from its fields.
type recEngine struct {
	mu      sync.Mutex
	calls   []string
	sts     []Status
	err     error // of every call
	running bool
	events  chan Event // Subscribe's stream (closed by the test)
}

func (e *recEngine) rec(s string) { e.mu.Lock(); e.calls = append(e.calls, s); e.mu.Unlock() }
func (e *recEngine) Calls() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}
func (e *recEngine) Up(_ context.Context, req UpRequest) error {
	e.rec("up " + req.Profile.Name)
	return e.err
}
func (e *recEngine) Down(_ context.Context, n string) error { e.rec("down " + n); return e.err }
func (e *recEngine) Status(context.Context) ([]Status, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.sts, nil
}
func (e *recEngine) Subscribe(ctx context.Context) (<-chan Event, error) {
	if e.err != nil {
		return nil, e.err
	}
	out := make(chan Event)
	go func() {
		defer close(out)
		for {
			select {
			case ev, ok := <-e.events:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
func (e *recEngine) Running(context.Context) bool { return e.running }
func (e *recEngine) Start(context.Context) error  { e.rec("start"); return nil }

var errHelperAway = errors.New("the helper is not running")

func upReq(name, mode string) UpRequest {
	p := profile.NewProfile(name)
	p.Mode = mode
	return UpRequest{Profile: p}
}

func TestSplitRoutesByMode(t *testing.T) {
	sys, usr := &recEngine{}, &recEngine{running: true}
	s := &Split{System: sys, User: usr}
	ctx := context.Background()
	s.Up(ctx, upReq("office", profile.ModeTUN))
	s.Up(ctx, upReq("socks", profile.ModeProxy))
	s.Up(ctx, upReq("old", "")) // an older app's profile: TUN
	if got := sys.Calls(); !reflect.DeepEqual(got, []string{"up office", "up old"}) {
		t.Errorf("helper got %v", got)
	}
	if got := usr.Calls(); !reflect.DeepEqual(got, []string{"up socks"}) {
		t.Errorf("user runner got %v", got)
	}
	// Down by name goes where the session is.
	usr.sts = []Status{{Profile: "socks", State: StateConnected}}
	s.Down(ctx, "socks")
	s.Down(ctx, "office")
	if got := usr.Calls(); got[len(got)-1] != "down socks" {
		t.Errorf("user runner got %v", got)
	}
	if got := sys.Calls(); got[len(got)-1] != "down office" {
		t.Errorf("helper got %v", got)
	}
}

func TestSplitStatusWithoutHelper(t *testing.T) {
	ctx := context.Background()
	sys := &recEngine{sts: []Status{{Profile: "office"}}}
	usr := &recEngine{running: true, sts: []Status{{Profile: "a-socks"}}}
	s := &Split{System: sys, User: usr}
	sts, err := s.Status(ctx)
	if err != nil || len(sts) != 2 || sts[0].Profile != "a-socks" || sts[1].Profile != "office" {
		t.Errorf("both: %+v %v", sts, err)
	}
	sys.err = errHelperAway
	if sts, err := s.Status(ctx); err != nil || len(sts) != 1 || sts[0].Profile != "a-socks" {
		t.Errorf("helper away, a user session: %+v %v", sts, err)
	}
	usr.sts = nil
	if _, err := s.Status(ctx); !errors.Is(err, errHelperAway) {
		t.Errorf("helper away, no user session: %v, want the helper's error", err)
	}
	// Down of everything with the helper away takes the user's down.
	usr.sts = []Status{{Profile: "a-socks"}}
	if err := s.Down(ctx, ""); err != nil || !slices.Contains(usr.Calls(), "down ") {
		t.Errorf("down all: %v, user runner got %v", err, usr.Calls())
	}
	usr.running = false
	if err := s.Down(ctx, ""); !errors.Is(err, errHelperAway) {
		t.Errorf("down all with neither: %v", err)
	}
}

func TestSplitSubscribeMerges(t *testing.T) {
	sys := &recEngine{events: make(chan Event)}
	usr := &recEngine{events: make(chan Event), running: true}
	s := &Split{System: sys, User: usr}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := s.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sys.events <- Event{Line: "from the helper"}
	if ev := <-ch; ev.Line != "from the helper" {
		t.Errorf("got %q", ev.Line)
	}
	usr.events <- Event{Line: "from the runner"}
	if ev := <-ch; ev.Line != "from the runner" {
		t.Errorf("got %q", ev.Line)
	}
	// The helper's stream ends: so does the merged one (a front end
	// notices that the helper went away).
	close(sys.events)
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("an event after the helper's stream ended")
		}
	case <-ctx.Done():
		t.Fatal("the merged stream did not end with the helper's")
	}

	// Helper away: the runner's stream alone; neither: the helper's error.
	sys.err = errHelperAway
	if _, err := s.Subscribe(ctx); err != nil {
		t.Errorf("helper away, runner running: %v", err)
	}
	usr.running = false
	if _, err := s.Subscribe(ctx); !errors.Is(err, errHelperAway) {
		t.Errorf("neither: %v", err)
	}
}

func TestEngineForAndPrepare(t *testing.T) {
	sys, usr := &recEngine{}, &recEngine{}
	s := &Split{System: sys, User: usr}
	px := upReq("socks", profile.ModeProxy).Profile
	if EngineFor(s, px) != UserEngine(usr) || EngineFor(s, upReq("o", profile.ModeTUN).Profile) != Engine(sys) {
		t.Error("EngineFor picks the wrong half")
	}
	if EngineFor(sys, px) != Engine(sys) {
		t.Error("EngineFor of a plain engine")
	}
	svc := NewService(nil, s)
	svc.Prepare(context.Background(), px)
	svc.Prepare(context.Background(), upReq("o", profile.ModeTUN).Profile)
	if got := usr.Calls(); !reflect.DeepEqual(got, []string{"start"}) {
		t.Errorf("Prepare: user runner got %v", got)
	}
	if svc.UserEngine() != UserEngine(usr) || NewService(nil, sys).UserEngine() != nil {
		t.Error("Service.UserEngine")
	}
}
