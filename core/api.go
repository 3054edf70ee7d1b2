package core

import (
	"context"
	"encoding/json"
	"time"

	"github.com/corridorvpn/corridor/core/profile"
)

// State is where a session is in its life (the session state machine of
// the service). The order of the constants is the order of a connect.
type State string

// Session states.
const (
	StateIdle          State = "idle"
	StateResolving     State = "resolving"
	StateIKEPhase1     State = "ike-phase1"
	StateIKEPhase2     State = "ike-phase2"
	StateL2TPTunnel    State = "l2tp-tunnel"
	StateL2TPSession   State = "l2tp-session"
	StatePPPLCP        State = "ppp-lcp"
	StatePPPAuth       State = "ppp-auth"
	StatePPPIPCP       State = "ppp-ipcp"
	StateConfiguringOS State = "configuring-os"
	StateConnected     State = "connected"
	StateDisconnecting State = "disconnecting"
	StateReconnecting  State = "reconnecting" // waiting before the next attempt
	StateFailed        State = "failed"       // gave up; Status.Error says why
)

// ConnectStates lists the states of a connect in order, for progress
// displays (the GUI shows them as a list).
var ConnectStates = []State{StateResolving, StateIKEPhase1, StateIKEPhase2, StateL2TPTunnel, StateL2TPSession,
	StatePPPLCP, StatePPPAuth, StatePPPIPCP, StateConfiguringOS, StateConnected}

// Words is the state for a person.
func (s State) Words() string {
	switch s {
	case StateIdle:
		return "disconnected"
	case StateResolving:
		return "looking up the server"
	case StateIKEPhase1:
		return "IKE: authenticating with the pre-shared key"
	case StateIKEPhase2:
		return "IPsec: setting up encryption"
	case StateL2TPTunnel:
		return "L2TP: opening the tunnel"
	case StateL2TPSession:
		return "L2TP: opening the session"
	case StatePPPLCP:
		return "PPP: negotiating the link"
	case StatePPPAuth:
		return "PPP: signing in"
	case StatePPPIPCP:
		return "PPP: getting an address"
	case StateConfiguringOS:
		return "setting up routes and DNS"
	case StateConnected:
		return "connected"
	case StateDisconnecting:
		return "disconnecting"
	case StateReconnecting:
		return "reconnecting"
	case StateFailed:
		return "failed"
	}
	return string(s)
}

// Connecting reports whether s is one of the steps of a connect.
func (s State) Connecting() bool {
	for _, c := range ConnectStates[:len(ConnectStates)-1] {
		if s == c {
			return true
		}
	}
	return false
}

// ErrorInfo is an *Error as plain data (Error.Info, ErrorInfo.Err).
type ErrorInfo struct {
	Class Class `json:"class"` // as text: "authentication"
	// Code is the failure as a stable machine-readable word beside the
	// words of Msg (see Codes); empty (an older helper's) reads as the
	// class's code, and is written so.
	Code    string  `json:"code"`
	Msg     string  `json:"msg"`
	Hint    string  `json:"hint,omitempty"`
	HintKey HintKey `json:"hint_key,omitempty"`
	HintArg string  `json:"hint_arg,omitempty"`
}

// MarshalJSON writes i with its Code, the class's when i has none.
func (i ErrorInfo) MarshalJSON() ([]byte, error) {
	type plain ErrorInfo
	if i.Code == "" {
		i.Code = codeOf(i.Class, i.HintKey)
	}
	return json.Marshal(plain(i))
}

// StatusReportVersion is the version of StatusReport's shape.
const StatusReportVersion = 1

// StatusReport is what corridor status --json prints: a stable,
// versioned shape (README: "Machine-readable output"). Fields may be
// added within a version; none is removed or changes meaning.
type StatusReport struct {
	Version  int        `json:"version"`
	Sessions []Status   `json:"sessions"`        // never null
	Error    *ErrorInfo `json:"error,omitempty"` // the helper could not be asked
}

// Stats are a session's counters and rates.
type Stats struct {
	TxBytes   uint64  `json:"tx_bytes"`
	RxBytes   uint64  `json:"rx_bytes"`
	TxPackets uint64  `json:"tx_packets"`
	RxPackets uint64  `json:"rx_packets"`
	TxRate    float64 `json:"tx_rate"` // bytes per second, over the last sample
	RxRate    float64 `json:"rx_rate"`
	// The IPv6 part of the counters above (IPv6 inside the tunnel).
	TxBytes6   uint64 `json:"tx_bytes6,omitempty"`
	RxBytes6   uint64 `json:"rx_bytes6,omitempty"`
	TxPackets6 uint64 `json:"tx_packets6,omitempty"`
	RxPackets6 uint64 `json:"rx_packets6,omitempty"`
}

// Status is the state of one profile's session.
type Status struct {
	Profile   string     `json:"profile"`
	State     State      `json:"state"`
	Detail    string     `json:"detail,omitempty"` // the last progress line
	Since     time.Time  `json:"since"`            // entered State
	Connected time.Time  `json:"connected,omitzero"`
	Error     *ErrorInfo `json:"error,omitempty"`   // why it failed or dropped
	Attempt   int        `json:"attempt,omitempty"` // reconnect attempt, 0 the first connect
	NextTry   time.Time  `json:"next_try,omitzero"` // when Reconnecting
	// OtherUser: the session belongs to another user; only its
	// existence and state are shown.
	OtherUser bool `json:"other_user,omitempty"`

	Server    string   `json:"server,omitempty"` // the address connected to
	Interface string   `json:"interface,omitempty"`
	Address   string   `json:"address,omitempty"`
	Peer      string   `json:"peer,omitempty"`
	DNS       []string `json:"dns,omitempty"`
	// DNSNote: why the DNS servers above are not in use, in plain words
	// (Linux with resolv.conf: another tunnel holds the file); "" while
	// they are. It goes when they take over (the holder disconnected).
	DNSNote string `json:"dns_note,omitempty"`
	// IPv6: the global IPv6 addresses of the device (ADDR/LEN), once the
	// server offered them (IPv6 inside the tunnel).
	IPv6 []string `json:"ipv6,omitempty"`
	MTU  int      `json:"mtu,omitempty"`
	IKE  string   `json:"ike,omitempty"` // negotiated suites
	ESP  string   `json:"esp,omitempty"`
	// Proxy: a proxy-mode session's SOCKS5/HTTP proxy address
	// (ADDR:PORT), where programs reach the VPN.
	Proxy string `json:"proxy,omitempty"`
	Stats Stats  `json:"stats"`
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventState    EventKind = "state"    // Status.State changed
	EventProgress EventKind = "progress" // a progress line (Line), state unchanged
	EventStats    EventKind = "stats"    // periodic statistics while connected
	EventLog      EventKind = "log"      // a log line (Line, Level)
)

// Event is one item of the service's event stream.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"kind"`
	Status Status    `json:"status"`
	Line   string    `json:"line,omitempty"`
	Level  string    `json:"level,omitempty"`
}

// UpRequest asks an Engine to bring a profile up. The secrets travel with
// it, read by the user-side process from the user's keychain; the engine
// keeps them only for this connection (and its reconnects).
type UpRequest struct {
	Profile profile.Profile               `json:"profile"`
	Secrets map[profile.SecretKind]string `json:"secrets"`
}

// Engine runs sessions: in process (Manager, needs root) or in the
// privileged daemon (DaemonClient). The messages are plain data so both
// look the same to a front end.
type Engine interface {
	Up(ctx context.Context, req UpRequest) error
	Down(ctx context.Context, profile string) error // "" : every session
	Status(ctx context.Context) ([]Status, error)
	// Subscribe streams events until ctx ends; the channel is then closed.
	Subscribe(ctx context.Context) (<-chan Event, error)
}
