package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/tunnel"
)

// Stack brings one session up for the Manager: the real one drives the
// userspace protocol stack and the OS (stack.go); tests use a fake.
// progress receives each completed step, from any goroutine.
type Stack interface {
	Up(ctx context.Context, req UpRequest, log *slog.Logger, progress func(Stage)) (Link, error)
}

// Blocker is a Stack that can keep a dropped full tunnel's traffic
// blocked (the profile's kill switch) until the session is back: Block
// puts the block in place for the session that was on device iface,
// letting server through; unblock lifts it.
type Blocker interface {
	Block(server netip.Addr, iface string) (unblock func() error, err error)
}

// Link is a connected session as the Manager sees it.
type Link interface {
	Info() LinkInfo
	Stats() tunnel.Stats
	Done() <-chan struct{}
	Err() error                      // why it ended by itself (an *Error), or nil
	Close(ctx context.Context) error // disconnect and undo every OS change; idempotent
}

// LinkInfo describes a connected session.
type LinkInfo struct {
	Server, Interface, Address, Peer string
	DNS                              []string
	DNSNote                          string   // why DNS is not in use ("" when it is): Status.DNSNote
	IPv6                             []string // global IPv6 addresses on the device (ADDR/LEN), once the server offered them
	MTU                              int
	IKE, ESP                         string
	Proxy                            string // proxy mode: where the SOCKS5/HTTP proxy listens
}

// Clock is the Manager's time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ManagerOption adjusts a Manager.
type ManagerOption func(*Manager)

// WithClock replaces the wall clock (tests).
func WithClock(c Clock) ManagerOption { return func(m *Manager) { m.clock = c } }

// WithLogger sets where the manager logs, besides the event stream.
func WithManagerLogger(l *slog.Logger) ManagerOption { return func(m *Manager) { m.log = l } }

// WithStatsInterval sets how often statistics events are sent (default 1 s).
func WithStatsInterval(d time.Duration) ManagerOption { return func(m *Manager) { m.statsEvery = d } }

// Reconnect backoff: the first retry after a drop comes quickly, later
// ones wait longer, never more than maxBackoff, and go on until the user
// disconnects (so the session comes back when the network does).
const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
)

// Manager runs sessions, one goroutine per profile owning its state. It
// is the in-process Engine; the daemon serves one over a socket.
type Manager struct {
	stack      Stack
	clock      Clock
	log        *slog.Logger
	statsEvery time.Duration

	net      NetWatch
	stopNet  context.CancelFunc
	netDone  chan struct{}
	mu       sync.Mutex
	sessions map[string]*msession
	subs     map[chan Event]*Caller // subscriber -> who it is (nil: unrestricted)
	closed   bool
}

type msession struct {
	owner  *Caller // who started it; nil: in process
	req    UpRequest
	cancel context.CancelFunc
	done   chan struct{}
	status Status // guarded by Manager.mu
	link   Link   // guarded by Manager.mu; nil unless connected
	prev   tunnel.Stats
	prevAt time.Time

	// Network changes (NetWatch), guarded by Manager.mu: the server's
	// address of the last connect, the path to it when the session
	// connected, when the current wait began and when the current
	// attempt began; kick wakes the session's goroutine; netWhy says why.
	server        netip.Addr
	iface         string
	path          string
	waitPath      string
	attemptPath   string
	attemptCancel context.CancelFunc
	restarted     bool // the attempt was cancelled by a network change
	kick          chan struct{}
	netWhy        string
	unblock       func() error   // the kill switch's, while it blocks; run goroutine only
	addrs         []netip.Addr   // the tunnel's addresses while connected (multi.go), guarded by Manager.mu
	addrs6        []netip.Prefix // its IPv6 addresses and routes in force (multi.go: checkIPv6), guarded by Manager.mu
	routes6       []netip.Prefix
}

// NewManager returns a Manager driving stack.
func NewManager(stack Stack, opts ...ManagerOption) *Manager {
	m := &Manager{stack: stack, clock: realClock{}, statsEvery: time.Second,
		sessions: map[string]*msession{}, subs: map[chan Event]*Caller{}}
	for _, o := range opts {
		o(m)
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.net.Changes != nil && m.net.PathTo != nil {
		ctx, cancel := context.WithCancel(context.Background())
		if ch, err := m.net.Changes(ctx); err == nil {
			m.stopNet, m.netDone = cancel, make(chan struct{})
			go m.followNetwork(ctx, ch)
		} else {
			cancel()
			m.log.Info("manager: no network change notifications; dead links are noticed by keepalives", "err", err)
		}
	}
	return m
}

// ErrBusy: the profile already has a session.
var ErrBusy = errors.New("core: the profile is already connected or connecting")

// Up starts a session for req.Profile and returns at once; progress and
// the outcome arrive as events and in Status.
func (m *Manager) Up(ctx context.Context, req UpRequest) error {
	if err := req.Profile.Validate(); err != nil {
		return &Error{Class: ClassUsage, Msg: fmt.Sprintf("profile %q is not valid: %v", req.Profile.Name, err), Err: err}
	}
	name := req.Profile.Name
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("core: the manager is shut down")
	}
	if s, ok := m.sessions[name]; ok {
		select {
		case <-s.done:
		default:
			return fmt.Errorf("%w: %s (%s)", ErrBusy, name, s.status.State.Words())
		}
	}
	if e := m.conflictLocked(req.Profile, callerFrom(ctx)); e != nil {
		return e
	}
	// The session keeps its own copy of the secrets, wiped when it ends.
	req.Secrets = cloneSecrets(req.Secrets)
	sctx, cancel := context.WithCancel(context.Background())
	s := &msession{owner: callerFrom(ctx), req: req, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
		status: Status{Profile: name, State: StateIdle, Since: m.clock.Now()}}
	m.sessions[name] = s
	if note := m.sharedDomainsLocked(req.Profile); note != "" {
		m.emitLocked(s, Event{Time: m.clock.Now(), Kind: EventProgress, Status: s.status, Line: note})
	}
	go m.run(sctx, s)
	return nil
}

// Down disconnects profile ("" : all the caller may take down) and waits
// until it is down or ctx ends. A session another user started is left
// alone: named, it is refused.
func (m *Manager) Down(ctx context.Context, profile string) error {
	c := callerFrom(ctx)
	m.mu.Lock()
	var targets []*msession
	for name, s := range m.sessions {
		if profile != "" && name != profile {
			continue
		}
		if !mayControl(c, s.owner) {
			if profile != "" {
				m.mu.Unlock()
				return &Error{Class: ClassUsage, Err: ErrNotOwner,
					Msg: fmt.Sprintf("the session of profile %q belongs to another user: only they (or root) can disconnect it", profile)}
			}
			continue
		}
		targets = append(targets, s)
	}
	m.mu.Unlock()
	if profile != "" && len(targets) == 0 {
		return fmt.Errorf("core: no session for profile %q", profile)
	}
	for _, s := range targets {
		s.cancel()
	}
	for _, s := range targets {
		select {
		case <-s.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}

// setLive takes from info what can change while connected: the IPv6
// addresses and DNS servers the server offers after the connect, and
// whether the DNS is in use.
func (st *Status) setLive(info LinkInfo) {
	st.IPv6, st.DNS, st.DNSNote = info.IPv6, info.DNS, info.DNSNote
}

// ErrNotOwner: the session belongs to another user.
var ErrNotOwner = errors.New("core: the session belongs to another user")

// Status reports every session, with fresh counters; of another user's
// sessions only that they exist and their state.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	c := callerFrom(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.sessions))
	for _, s := range m.sessions {
		st := s.status
		if s.link != nil {
			st.Stats = statsOf(s.link.Stats(), st.Stats)
			st.setLive(s.link.Info())
		}
		if !mayControl(c, s.owner) {
			st = redacted(st)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}

// Subscribe streams events until ctx ends. A subscriber that does not
// keep up loses events rather than stalling sessions. Of another user's
// sessions it gets only state changes, without details or log lines.
func (m *Manager) Subscribe(ctx context.Context) (<-chan Event, error) {
	ch := make(chan Event, 256)
	m.mu.Lock()
	m.subs[ch] = callerFrom(ctx)
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.subs, ch)
		close(ch)
		m.mu.Unlock()
	}()
	return ch, nil
}

// Close disconnects everything and stops the manager.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	err := m.Down(ctx, "")
	if m.stopNet != nil {
		m.stopNet()
		<-m.netDone
	}
	return err
}

// emitLocked sends ev, an event of session s, to every subscriber
// entitled to it; m.mu must be held.
func (m *Manager) emitLocked(s *msession, ev Event) {
	var other *Event
	for ch, c := range m.subs {
		e := &ev
		if !mayControl(c, s.owner) {
			if ev.Kind != EventState {
				continue
			}
			if other == nil {
				other = &Event{Time: ev.Time, Kind: EventState, Status: redacted(ev.Status)}
			}
			e = other
		}
		select {
		case ch <- *e:
		default:
		}
	}
}

// setState moves s to state st; detail and mutate adjust the status.
func (m *Manager) setState(s *msession, st State, detail string, mutate func(*Status)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	changed := s.status.State != st
	if changed {
		s.status.State, s.status.Since = st, now
	}
	if detail != "" {
		s.status.Detail = detail
	}
	if mutate != nil {
		mutate(&s.status)
	}
	kind := EventProgress
	if changed {
		kind = EventState
	}
	m.emitLocked(s, Event{Time: now, Kind: kind, Status: s.status, Line: detail})
}

func (m *Manager) logEvent(s *msession, level slog.Level, line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.emitLocked(s, Event{Time: m.clock.Now(), Kind: EventLog, Status: s.status, Line: line, Level: level.String()})
}

// run owns one session's state machine: connect, hold, notice the end,
// reconnect with backoff when the profile allows it.
func (m *Manager) run(ctx context.Context, s *msession) {
	defer close(s.done)
	// The session has ended for good (down, or failed and not retrying):
	// its secrets leave the helper's memory. Reconnects before this
	// point still have them; a new up brings them again.
	defer WipeSecrets(s.req.Secrets)
	// However the session ends for good, a kill switch's block goes.
	defer m.liftBlock(s)
	log := slog.New(&eventHandler{m: m, s: s, level: slog.LevelInfo})
	backoff := firstBackoff
	attempt := 0
	triedAgain := false // a first connect that failed in PPP was tried once more
	var lastErr *ErrorInfo
	for {
		m.setState(s, StateResolving, "", func(st *Status) {
			st.Attempt, st.NextTry, st.Error = attempt, time.Time{}, lastErr
		})
		reached := StateResolving
		actx, acancel := context.WithCancel(ctx)
		m.beginAttempt(s, acancel)
		link, err := m.stack.Up(withIPv6Check(withAddrCheck(actx, m.checkAddrs(s)), m.checkIPv6(s)), s.req, log, func(stg Stage) {
			if stg.Next != "" {
				reached = stg.Next
				m.setState(s, stg.Next, stg.Detail, nil)
			} else {
				m.setState(s, s.currentState(m), stg.Detail, nil)
			}
		})
		restarted := m.endAttempt(s)
		acancel()
		if err != nil {
			m.mu.Lock()
			s.addrs, s.routes6, s.addrs6 = nil, nil, nil // claimed by a check before the attempt failed
			m.mu.Unlock()
			if ctx.Err() != nil {
				m.setState(s, StateIdle, "cancelled", nil)
				return
			}
			if restarted {
				// The network changed under an attempt that had no answer
				// yet: start over on the new path at once.
				m.logEvent(s, slog.LevelInfo, "the network changed during the connect: starting over")
				continue
			}
			e := asError(err)
			lastErr = e.Info()
			if attempt > 0 && s.req.Profile.Reconnect && retryable(e) {
				attempt++
				if !m.wait(ctx, s, &attempt, &backoff, lastErr) {
					return
				}
				continue
			}
			if attempt == 0 && !triedAgain && s.req.Profile.Reconnect && answeredThenLost(e, reached) {
				triedAgain = true
				one, d := 1, firstBackoff
				if !m.wait(ctx, s, &one, &d, lastErr) {
					return
				}
				continue
			}
			m.setState(s, StateFailed, e.Msg, func(st *Status) { st.Error = lastErr })
			return
		}
		info := link.Info()
		if e := m.noteAddrs(s, info); e != nil {
			// A stack that did not run the check before the device
			// opened: the session cannot stay beside the other.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			link.Close(cctx)
			cancel()
			m.setState(s, StateFailed, e.Msg, func(st *Status) { st.Error = e.Info() })
			return
		}
		now := m.clock.Now()
		m.liftBlock(s) // the tunnel carries the traffic again
		m.noteServer(s, info)
		m.mu.Lock()
		s.link, s.prev, s.prevAt = link, tunnel.Stats{}, now
		m.mu.Unlock()
		m.setState(s, StateConnected, "connected", func(st *Status) {
			st.Connected, st.Error, st.Attempt = now, nil, attempt
			st.Server, st.Interface, st.Address, st.Peer = info.Server, info.Interface, info.Address, info.Peer
			st.MTU, st.IKE, st.ESP, st.Proxy = info.MTU, info.IKE, info.ESP, info.Proxy
			st.setLive(info)
		})
		backoff, attempt, lastErr = firstBackoff, 0, nil
		dropped, why := m.hold(ctx, s, link)
		m.mu.Lock()
		s.link, s.addrs, s.routes6, s.addrs6 = nil, nil, nil, nil
		m.mu.Unlock()
		if !dropped {
			return
		}
		e := asError(link.Err())
		if why != nil {
			e = why
		}
		lastErr = e.Info()
		if why != nil && s.req.Profile.Reconnect {
			// The path to the server changed: the old session cannot
			// carry on; connect again now, not after a backoff.
			attempt = 1
			m.setState(s, StateReconnecting, "reconnecting now: "+why.Msg, func(st *Status) {
				st.Error, st.Attempt, st.NextTry = lastErr, attempt, m.clock.Now()
			})
			continue
		}
		if !s.req.Profile.Reconnect || !retryable(e) {
			m.setState(s, StateFailed, e.Msg, func(st *Status) { st.Error = lastErr })
			return
		}
		attempt = 1
		if !m.wait(ctx, s, &attempt, &backoff, lastErr) {
			return
		}
	}
}

// block puts the profile's kill switch in place for a full tunnel that
// dropped by itself and will reconnect (stack permitting).
func (m *Manager) block(s *msession) {
	p := s.req.Profile
	b, ok := m.stack.(Blocker)
	if !ok || !p.KillSwitch || !p.FullTunnel || !p.Reconnect || s.unblock != nil {
		return
	}
	m.mu.Lock()
	server, iface := s.server, s.iface
	m.mu.Unlock()
	if !server.IsValid() {
		return
	}
	unblock, err := b.Block(server, iface)
	if err != nil {
		m.logEvent(s, slog.LevelError, "kill switch: could not block traffic: "+err.Error())
		return
	}
	s.unblock = unblock
	m.logEvent(s, slog.LevelWarn, "kill switch: traffic is blocked until the session is back or you disconnect")
}

// liftBlock lifts the kill switch's block, if one is in place.
func (m *Manager) liftBlock(s *msession) {
	if s.unblock == nil {
		return
	}
	if err := s.unblock(); err != nil {
		m.logEvent(s, slog.LevelError, "kill switch: could not lift the block: "+err.Error())
		return
	}
	s.unblock = nil
	m.logEvent(s, slog.LevelInfo, "kill switch: block lifted")
}

func (s *msession) currentState(m *Manager) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return s.status.State
}

// hold keeps a connected session, sending statistics, until the user
// disconnects (false) or the link drops (true). why is set when the
// Manager ended the link itself because the path to the server changed.
func (m *Manager) hold(ctx context.Context, s *msession, link Link) (dropped bool, why *Error) {
	drainKick(s)
	for {
		select {
		case <-s.kick:
			m.mu.Lock()
			reason := s.netWhy
			m.mu.Unlock()
			if reason == "" {
				continue
			}
			m.block(s)
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			link.Close(cctx) // the old path may be gone: do not wait long
			cancel()
			return true, &Error{Class: ClassNoAnswer, Msg: reason}
		case <-ctx.Done():
			m.setState(s, StateDisconnecting, "disconnecting", nil)
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			link.Close(cctx)
			cancel()
			m.setState(s, StateIdle, "disconnected", func(st *Status) { st.Stats = statsOf(link.Stats(), st.Stats) })
			return false, nil
		case <-link.Done():
			m.block(s) // before the routes go, so nothing leaves in between
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			link.Close(cctx) // undo routes and DNS of the dead link
			cancel()
			return true, nil
		case <-m.clock.After(m.statsEvery):
			m.mu.Lock()
			now := m.clock.Now()
			cur := link.Stats()
			st := statsOf(cur, Stats{})
			// What changes while connected (setLive), refreshed with the counters.
			s.status.setLive(link.Info())
			if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
				st.TxRate = float64(cur.TxBytes-s.prev.TxBytes) / dt
				st.RxRate = float64(cur.RxBytes-s.prev.RxBytes) / dt
			}
			s.prev, s.prevAt = cur, now
			s.status.Stats = st
			m.emitLocked(s, Event{Time: now, Kind: EventStats, Status: s.status})
			m.mu.Unlock()
		}
	}
}

// wait is the Reconnecting state: it returns false if the user gave up.
func (m *Manager) wait(ctx context.Context, s *msession, attempt *int, backoff *time.Duration, why *ErrorInfo) bool {
	d := *backoff
	next := m.clock.Now().Add(d)
	drainKick(s)
	m.beginWait(s)
	m.setState(s, StateReconnecting, fmt.Sprintf("reconnecting in %v (attempt %d): %s", d, *attempt, why.Msg), func(st *Status) {
		st.Error, st.Attempt, st.NextTry = why, *attempt, next
	})
	select {
	case <-ctx.Done():
		m.setState(s, StateIdle, "cancelled", nil)
		return false
	case <-m.clock.After(d):
	case <-s.kick:
		// The network came back or changed: try now. The backoff does
		// not grow: this attempt is the network's, not the server's.
		m.logEvent(s, slog.LevelInfo, "the network changed: trying again now")
		return true
	}
	*backoff = min(2*d, maxBackoff)
	return true
}

// answeredThenLost: a first connect that got as far as PPP and then
// stopped hearing from the server lost a packet the protocol cannot send
// again (SoftEther does not repeat a lost CHAP Success, whatever RFC 1994
// 4.1 says), not the server: it is worth one more try at once, as the user
// would do. A server that never answered fails the first connect at once.
func answeredThenLost(e *Error, reached State) bool {
	return e.Class == ClassNoAnswer && slices.Index(ConnectStates, reached) >= slices.Index(ConnectStates, StatePPPLCP)
}

// retryable: failures a later attempt may not repeat. Wrong credentials
// or a bad profile will.
func retryable(e *Error) bool {
	switch e.Class {
	case ClassNoAnswer, ClassProtocol, ClassLocal, ClassInternal:
		return true
	}
	return false
}

// asError is AsError, and a link that ended without saying why.
func asError(err error) *Error {
	if err == nil {
		return &Error{Class: ClassProtocol, Msg: "the connection ended"}
	}
	return AsError(err)
}

func statsOf(t tunnel.Stats, prev Stats) Stats {
	return Stats{TxBytes: t.TxBytes, RxBytes: t.RxBytes, TxPackets: t.TxPackets, RxPackets: t.RxPackets,
		TxRate: prev.TxRate, RxRate: prev.RxRate,
		TxBytes6: t.TxBytes6, RxBytes6: t.RxBytes6, TxPackets6: t.TxPackets6, RxPackets6: t.RxPackets6}
}

// eventHandler turns a session's log records into EventLog events.
type eventHandler struct {
	m     *Manager
	s     *msession
	level slog.Level
	attrs []slog.Attr
}

func (h *eventHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	for _, a := range h.attrs {
		line += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	h.m.logEvent(h.s, r.Level, line)
	return nil
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &n
}

func (h *eventHandler) WithGroup(string) slog.Handler { return h }
