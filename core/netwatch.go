package core

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// NetWatch tells the Manager about network changes, so that a session
// whose path to the server changed, or whose network came back, is
// reconnected at once instead of after its keepalives give up (up to
// 30 s) and a backoff. The daemon uses platform.WatchNetwork and
// platform.PathTo; tests inject fakes.
type NetWatch struct {
	// Changes reports "something changed; look again" until ctx ends.
	Changes func(ctx context.Context) (<-chan struct{}, error)
	// PathTo describes the route to an address ("" : none).
	PathTo func(netip.Addr) (string, error)
	// Settle is how long changes are gathered before looking (0: 300 ms):
	// a link coming up brings its address and routes a moment later.
	Settle time.Duration
}

// WithNetWatch makes the Manager follow network changes (see NetWatch).
func WithNetWatch(w NetWatch) ManagerOption { return func(m *Manager) { m.net = w } }

// followNetwork looks at every session after each (settled) change.
func (m *Manager) followNetwork(ctx context.Context, ch <-chan struct{}) {
	defer close(m.netDone)
	settle := m.net.Settle
	if settle == 0 {
		settle = 300 * time.Millisecond
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
		}
		// Gather what comes with it.
		t := time.NewTimer(settle)
	gather:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case _, ok := <-ch:
				if !ok {
					t.Stop()
					return
				}
			case <-t.C:
				break gather
			}
		}
		m.networkChanged()
	}
}

// networkChanged decides, for each session whose server is known, what a
// change of the path to it means:
//   - connected, and the path is now another one (not none): the session
//     cannot carry on (its packets leave from elsewhere): reconnect now;
//   - waiting to reconnect, and there is a path that differs from the one
//     when the wait began (the network came back): try now;
//   - connecting with no answer yet, and the path differs from the one
//     when the attempt began: start the attempt over on the new path.
//
// A path that disappears changes nothing by itself: a short outage may
// leave the session alive, and the keepalives judge that.
func (m *Manager) networkChanged() {
	type check struct {
		s      *msession
		server netip.Addr
		iface  string
	}
	m.mu.Lock()
	var checks []check
	for _, s := range m.sessions {
		if s.server.IsValid() {
			checks = append(checks, check{s, s.server, s.iface})
		}
	}
	m.mu.Unlock()
	for _, c := range checks {
		path, err := m.net.PathTo(c.server)
		if err != nil {
			continue
		}
		if c.iface != "" && (path == "dev "+c.iface || strings.HasPrefix(path, "dev "+c.iface+" ")) {
			// The way to the server now leads into the session's own
			// device (a full tunnel whose host route to the server went
			// with the link): the network is gone, not changed.
			path = ""
		}
		s := c.s
		m.mu.Lock()
		st := s.status.State
		kick := false
		switch {
		case st == StateConnected && path != "" && s.path != "" && path != s.path:
			s.netWhy = fmt.Sprintf("the network changed (the way to the server was %s, is now %s)", s.path, path)
			kick = true
		case st == StateReconnecting && path != "" && path != s.waitPath:
			kick = true
		case s.attemptCancel != nil && noAnswerYet(st, s.req.Profile.IPsec) && path != "" && path != s.attemptPath:
			s.restarted = true
			s.attemptCancel()
		}
		m.mu.Unlock()
		if kick {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		m.log.Debug("manager: network changed", "profile", s.req.Profile.Name, "state", st, "path", path)
	}
}

// noAnswerYet: a connect in state st has heard nothing from the server
// yet (IKE main mode, or L2TP's first reply without IPsec).
func noAnswerYet(st State, ipsec bool) bool {
	switch st {
	case StateResolving, StateIKEPhase1:
		return true
	case StateL2TPTunnel:
		return !ipsec
	}
	return false
}

// pathTo is NetWatch.PathTo, or "" without one.
func (m *Manager) pathTo(server netip.Addr) string {
	if m.net.PathTo == nil || !server.IsValid() {
		return ""
	}
	p, err := m.net.PathTo(server)
	if err != nil {
		return ""
	}
	return p
}

// noteServer records a connected session's server, its device and the
// path to the server.
func (m *Manager) noteServer(s *msession, info LinkInfo) {
	a, err := netip.ParseAddr(info.Server)
	if err != nil {
		return
	}
	path := m.pathTo(a)
	m.mu.Lock()
	s.server, s.iface, s.path, s.netWhy = a, info.Interface, path, ""
	m.mu.Unlock()
}

// beginAttempt records a connect attempt's cancel and the path it starts on.
func (m *Manager) beginAttempt(s *msession, cancel context.CancelFunc) {
	m.mu.Lock()
	server := s.server
	m.mu.Unlock()
	path := m.pathTo(server)
	m.mu.Lock()
	s.attemptCancel, s.attemptPath, s.restarted = cancel, path, false
	m.mu.Unlock()
}

// endAttempt forgets the attempt and says whether a network change
// cancelled it.
func (m *Manager) endAttempt(s *msession) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := s.restarted
	s.attemptCancel, s.restarted = nil, false
	return r
}

// beginWait records the path when a wait to reconnect begins.
func (m *Manager) beginWait(s *msession) {
	m.mu.Lock()
	server := s.server
	m.mu.Unlock()
	path := m.pathTo(server)
	m.mu.Lock()
	s.waitPath = path
	m.mu.Unlock()
}

// drainKick forgets a wake-up meant for an earlier phase.
func drainKick(s *msession) {
	select {
	case <-s.kick:
	default:
	}
}
