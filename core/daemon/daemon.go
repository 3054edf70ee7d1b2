// Package daemon is the privileged helper's side of Corridor and the
// client that talks to it: a unix socket server that runs a core.Engine
// (the session manager) for the users it allows, checked with the
// kernel's peer credentials, and Client, the core.Engine of a front end
// that runs as the user. It builds on core; core does not import it.
package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// DefaultSocket, where the privileged helper listens, is per system:
// socket_default.go, socket_darwin.go.

// ProtocolVersion is the version of the daemon protocol this build
// speaks. 1 was the protocol before the hello exchange; 2 opens every
// connection with hello and adds hint keys to errors. Client and helper
// must speak the same version.
const ProtocolVersion = 2

// The daemon protocol: one JSON object per line. A request names a
// method and carries params; the reply carries the same id and a result
// or an error (a core.ErrorInfo, its class as text). Every connection
// opens with "hello": the client sends its version ({"version": 2}), the
// helper answers with its own and serves the connection only when the
// two are the same. "subscribe" turns the connection into a stream of
// events that ends when the client closes it.
type request struct {
	ID     int             `json:"id"`
	Method string          `json:"method"` // hello, up, down, status, subscribe, ping
	Params json.RawMessage `json:"params,omitempty"`
}

// hello is the params and the result of the hello method.
type hello struct {
	Version int `json:"version"`
}

type response struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *core.ErrorInfo `json:"error,omitempty"`
	Event  *core.Event     `json:"event,omitempty"`
}

// Server serves an Engine on a unix socket to the users it allows.
type Server struct {
	Engine core.Engine
	Log    *slog.Logger
	// Allow decides whether a peer (uid, gid) may use the daemon; nil:
	// root and members of the socket's group (checked per connection
	// with the kernel's peer credentials).
	Allow func(uid, gid uint32) bool

	ln   net.Listener
	wg   sync.WaitGroup
	gid  int
	path string      // the socket Listen created, or ""
	made os.FileInfo // and what it was then
}

// Listen creates the socket at path: mode 0660 owned by root and group
// (when group names an existing group; otherwise 0600, root only).
func (s *Server) Listen(path, group string) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := removeStale(path); err != nil {
		return err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("daemon: socket: %w", err)
	}
	// Close must not unlink the path: a second daemon that lost the race
	// for it would otherwise delete the socket of the first. The daemon
	// command removes it on shutdown when it created it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	s.gid = -1
	mode := os.FileMode(0o600)
	if gid, ok := s.lookupGroup(group); ok {
		if err := os.Chown(path, 0, gid); err == nil {
			s.gid, mode = gid, 0o660
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return err
	}
	s.ln = ln
	s.path = path
	s.made, _ = os.Lstat(path)
	return nil
}

// RemoveSocket removes the socket Listen created, once Serve has
// returned, unless it is no longer ours: a newer helper's socket at the
// same path (another file, or one that answers: inode numbers are
// reused) stays.
func (s *Server) RemoveSocket() {
	if s.made == nil {
		return
	}
	fi, err := os.Lstat(s.path)
	if err != nil || !os.SameFile(fi, s.made) {
		return
	}
	if c, err := net.DialTimeout("unix", s.path, 2*time.Second); err == nil {
		c.Close()
		return
	}
	os.Remove(s.path)
}

// ErrRunning is the error of Listen when another helper answers on the
// socket path.
var ErrRunning = errors.New("another Corridor helper is already running")

// removeStale removes what is at path when it is the socket of a
// daemon that is gone (a crash leaves it behind). A socket that answers
// belongs to a running daemon: that is ErrRunning, and path stays.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("daemon: socket: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("daemon: %s exists and is not a socket; remove it or choose another --socket", path)
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w on %s (stop it first: sudo systemctl stop corridor.service corridor.socket)", ErrRunning, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("daemon: removing the stale socket %s: %w", path, err)
	}
	return nil
}

// UseListener serves on ln, a socket someone else created (systemd's
// socket activation: corridor.socket sets its owner and mode). Members
// of group may connect, besides root, as with Listen.
func (s *Server) UseListener(ln net.Listener, group string) {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.gid = -1
	if gid, ok := s.lookupGroup(group); ok {
		s.gid = gid
	}
	s.ln = ln
}

func (s *Server) lookupGroup(group string) (int, bool) {
	if group == "" {
		return 0, false
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		s.logger().Warn("daemon: socket group not found; only root may connect", "group", group)
		return 0, false
	}
	gid, err := strconv.Atoi(g.Gid)
	return gid, err == nil
}

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) allowed(uid, gid uint32) bool {
	if s.Allow != nil {
		return s.Allow(uid, gid)
	}
	if uid == 0 || (s.gid >= 0 && gid == uint32(s.gid)) {
		return true
	}
	if s.gid < 0 {
		return false
	}
	u, err := user.LookupId(strconv.Itoa(int(uid)))
	if err != nil {
		return false
	}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if g == strconv.Itoa(s.gid) {
			return true
		}
	}
	return false
}

// Serve accepts connections until ctx ends or the listener is closed.
func (s *Server) Serve(ctx context.Context) error {
	return s.serve(ctx, func(c net.Conn) (core.Caller, *core.ErrorInfo) {
		uid, gid, err := PeerCred(c)
		if err != nil || !s.allowed(uid, gid) {
			s.logger().Warn("daemon: refused a client", "uid", uid, "gid", gid, "err", err)
			return core.Caller{}, &core.ErrorInfo{Class: core.ClassUsage,
				Msg: "not allowed to use the Corridor helper", Hint: "add your user to the corridor group"}
		}
		// The session manager gives each session to the user who
		// started it (core.Caller); root may act on every one.
		return core.Caller{UID: uid, Admin: uid == 0}, nil
	})
}

// serve accepts connections until ctx ends or the listener is closed and
// serves each as the caller identify finds; a client it refuses gets the
// error and is closed.
func (s *Server) serve(ctx context.Context, identify func(net.Conn) (core.Caller, *core.ErrorInfo)) error {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		caller, refused := identify(c)
		if refused != nil {
			json.NewEncoder(c).Encode(response{Error: refused})
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.Handle(core.WithCaller(ctx, caller), c)
		}()
	}
}

func errInfo(err error) *core.ErrorInfo { return core.AsError(err).Info() }

// versionError is what the side that notices different protocol
// versions says. helper and app are the versions of each side.
func versionError(helper, app int) *core.Error {
	e := &core.Error{Class: core.ClassLocal, Err: fmt.Errorf("%w: helper %d, app %d", ErrProtocolVersion, helper, app)}
	if helper < app {
		e.Msg = fmt.Sprintf("the Corridor helper is older than this app (protocol %d, app needs %d): restart or update the helper", helper, app)
		e.Hint = "restart it: sudo systemctl restart corridor"
	} else {
		e.Msg = fmt.Sprintf("the Corridor helper is newer than this app (protocol %d, app needs %d): update the app, or restart the helper of this version", helper, app)
		e.Hint = "use the corridor binary the helper runs, or update this one"
	}
	return e
}

// MaxRequestLine bounds one request line (a JSON object and its newline):
// a profile and its secrets take a few KiB.
const MaxRequestLine = 64 << 10

// strictUnmarshal decodes a request's params; a type mismatch or trailing
// data is an error, and then nothing is done. (json.Unmarshal, not a
// Decoder: a Decoder copies the input, secrets included, into a buffer
// of its own that nobody could wipe.)
func strictUnmarshal(data []byte, v any) error {
	if len(data) == 0 {
		return errors.New("no params")
	}
	return json.Unmarshal(data, v)
}

// jsonWords says what is wrong with a request without echoing its
// content (it may hold secrets).
func jsonWords(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON (at byte %d)", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type (%s, want %s)", te.Field, te.Value, te.Type)
	}
	return "malformed"
}

// ErrProtocolVersion: the app and the helper speak different versions of
// the protocol (the *core.Error that wraps it says which is older).
var ErrProtocolVersion = errors.New("daemon: the app and the helper speak different protocol versions")

// Handle serves one connection that Serve has admitted (it checks the
// peer first) until the client closes it or ctx ends, and closes it.
func (s *Server) Handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-cctx.Done()
		c.Close()
	}()
	rd := bufio.NewReaderSize(c, MaxRequestLine)
	enc := json.NewEncoder(c)
	greeted := false
	for {
		// ReadSlice returns the line inside rd's own buffer, which holds
		// at most MaxRequestLine bytes: a longer line is refused without
		// growing memory, and the bytes of an up request (its secrets)
		// are overwritten once decoded.
		line, err := rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.logger().Warn("daemon: refused a request line over the limit", "limit", MaxRequestLine)
			enc.Encode(response{Error: &core.ErrorInfo{Class: core.ClassUsage,
				Msg: fmt.Sprintf("request too long (over %d KiB)", MaxRequestLine>>10)}})
			return
		}
		if err != nil {
			return
		}
		var req request
		err = json.Unmarshal(line, &req)
		clear(line)
		if err != nil {
			enc.Encode(response{Error: &core.ErrorInfo{Class: core.ClassUsage, Msg: "bad request: " + jsonWords(err)}})
			return
		}
		resp := response{ID: req.ID}
		if !greeted && req.Method != "hello" {
			// A client of protocol 1, which knew no hello (it shows Msg).
			resp.Error = &core.ErrorInfo{Class: core.ClassLocal,
				Msg:  fmt.Sprintf("this app is older than the Corridor helper (protocol 1, helper needs %d): update the app", ProtocolVersion),
				Hint: "use the corridor binary the helper runs, or restart the helper of this app's version"}
			s.logger().Warn("daemon: refused a client of protocol 1")
			enc.Encode(resp)
			return
		}
		switch req.Method {
		case "hello":
			var h hello
			if err := json.Unmarshal(req.Params, &h); err != nil {
				resp.Error = &core.ErrorInfo{Class: core.ClassUsage, Msg: "bad hello: " + jsonWords(err)}
				enc.Encode(resp)
				return
			}
			resp.Result, _ = json.Marshal(hello{Version: ProtocolVersion})
			if h.Version != ProtocolVersion {
				// The client says what is wrong, knowing both versions.
				s.logger().Warn("daemon: refused a client of another protocol version", "version", h.Version)
				enc.Encode(resp)
				return
			}
			greeted = true
		case "ping":
			resp.Result = json.RawMessage(`"pong"`)
		case "up":
			var up core.UpRequest
			err := strictUnmarshal(req.Params, &up)
			clear(req.Params)
			if err != nil {
				core.WipeSecrets(up.Secrets)
				resp.Error = &core.ErrorInfo{Class: core.ClassUsage, Msg: "bad up request: " + jsonWords(err)}
				break
			}
			s.logger().Info("daemon: up", "profile", up.Profile.Name, "server", up.Profile.Server)
			if err := s.Engine.Up(cctx, up); err != nil {
				resp.Error = errInfo(err)
			}
			// The engine keeps a copy for the session; these are ours.
			core.WipeSecrets(up.Secrets)
		case "down":
			// Today an unparsable name became "" (every session):
			// anything but a JSON string, or nothing, is refused.
			var name string
			if len(req.Params) > 0 && string(req.Params) != "null" {
				if err := json.Unmarshal(req.Params, &name); err != nil {
					resp.Error = &core.ErrorInfo{Class: core.ClassUsage, Msg: "bad down request: the profile must be a string"}
					break
				}
			}
			s.logger().Info("daemon: down", "profile", name)
			dctx, dcancel := context.WithTimeout(cctx, 20*time.Second)
			if err := s.Engine.Down(dctx, name); err != nil {
				resp.Error = errInfo(err)
			}
			dcancel()
		case "status":
			st, err := s.Engine.Status(cctx)
			if err != nil {
				resp.Error = errInfo(err)
			} else {
				resp.Result, _ = json.Marshal(st)
			}
		case "subscribe":
			ch, err := s.Engine.Subscribe(cctx)
			if err != nil {
				enc.Encode(response{ID: req.ID, Error: errInfo(err)})
				return
			}
			enc.Encode(response{ID: req.ID, Result: json.RawMessage(`"ok"`)})
			// The client only reads from now on; its close ends us.
			go func() {
				rd.ReadBytes('\n')
				cancel()
			}()
			for ev := range ch {
				if err := enc.Encode(response{ID: req.ID, Event: &ev}); err != nil {
					return
				}
			}
			return
		default:
			resp.Error = &core.ErrorInfo{Class: core.ClassUsage, Msg: "unknown method " + strconv.Quote(req.Method)}
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

// Client is the core.Engine of a front end that runs as the user: it
// talks to the privileged helper over its socket.
type Client struct {
	Socket string
}

// ErrNoDaemon: nothing listens on the helper's socket.
var ErrNoDaemon = errors.New("daemon: the Corridor helper (corridor daemon) is not running")

func (d *Client) dial(ctx context.Context) (net.Conn, error) {
	c, err := dialHelper(ctx, d.socket()) // a unix socket; on Windows the named pipe (pipe_windows.go)
	if errors.Is(err, os.ErrPermission) {
		// The socket or pipe admits only some users (Linux: root and the corridor group, mode 0660).
		return nil, &core.Error{Class: core.ClassUsage, Err: err,
			Msg:  "not allowed to use the Corridor helper (" + d.socket() + ")",
			Hint: accessHint}
	}
	if err != nil {
		return nil, &core.Error{Class: core.ClassLocal, Err: fmt.Errorf("%w: %v", ErrNoDaemon, err),
			Msg:  "the Corridor helper is not running (no socket at " + d.socket() + ")",
			Hint: startHint}
	}
	return c, nil
}

func (d *Client) socket() string {
	if d.Socket == "" {
		return DefaultSocket
	}
	return d.Socket
}

// helloTimeout bounds the hello exchange when ctx has no deadline.
const helloTimeout = 10 * time.Second

// open dials the helper and says hello; the connection it returns speaks
// ProtocolVersion, and dec reads from it.
func (d *Client) open(ctx context.Context) (_ net.Conn, dec *json.Decoder, err error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	dec, err = sayHello(ctx, c)
	return c, dec, err
}

// sayHello speaks the hello exchange on c.
func sayHello(ctx context.Context, c net.Conn) (*json.Decoder, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(helloTimeout)
	}
	c.SetDeadline(dl)
	dec := json.NewDecoder(bufio.NewReader(c))
	p, _ := json.Marshal(hello{Version: ProtocolVersion})
	if err := json.NewEncoder(c).Encode(request{ID: 1, Method: "hello", Params: p}); err != nil {
		// A helper that refuses a client writes why and closes without
		// reading: the write may then fail (EPIPE) with the reason
		// waiting to be read.
		var resp response
		if derr := dec.Decode(&resp); derr == nil && resp.Error != nil {
			return nil, resp.Error.Err()
		}
		return nil, fmt.Errorf("daemon: helper: %w", err)
	}
	var resp response
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("daemon: helper: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.Msg == `unknown method "hello"` {
			return nil, versionError(1, ProtocolVersion) // the helper predates hello
		}
		return nil, resp.Error.Err()
	}
	var h hello
	if err := json.Unmarshal(resp.Result, &h); err != nil {
		return nil, fmt.Errorf("daemon: helper: hello: %w", err)
	}
	if h.Version != ProtocolVersion {
		return nil, versionError(h.Version, ProtocolVersion)
	}
	if _, ok := ctx.Deadline(); !ok {
		c.SetDeadline(time.Time{})
	}
	return dec, nil
}

func (d *Client) call(ctx context.Context, method string, params, result any) error {
	c, dec, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	p, _ := json.Marshal(params)
	if err := json.NewEncoder(c).Encode(request{ID: 2, Method: method, Params: p}); err != nil {
		return err
	}
	var resp response
	if err := dec.Decode(&resp); err != nil {
		return fmt.Errorf("daemon: helper: %w", err)
	}
	if resp.Error != nil {
		return resp.Error.Err()
	}
	if result != nil {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}

// Ping checks that the helper answers.
func (d *Client) Ping(ctx context.Context) error { return d.call(ctx, "ping", nil, nil) }

// Up implements Engine.
func (d *Client) Up(ctx context.Context, req core.UpRequest) error {
	return d.call(ctx, "up", req, nil)
}

// Down implements Engine.
func (d *Client) Down(ctx context.Context, profile string) error {
	return d.call(ctx, "down", profile, nil)
}

// Status implements Engine.
func (d *Client) Status(ctx context.Context) ([]core.Status, error) {
	var st []core.Status
	err := d.call(ctx, "status", nil, &st)
	return st, err
}

// Subscribe implements Engine.
func (d *Client) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	c, dec, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(c).Encode(request{ID: 2, Method: "subscribe"}); err != nil {
		c.Close()
		return nil, err
	}
	var first response
	if err := dec.Decode(&first); err != nil || first.Error != nil {
		c.Close()
		if first.Error != nil {
			return nil, first.Error.Err()
		}
		return nil, fmt.Errorf("daemon: helper: %w", err)
	}
	ch := make(chan core.Event, 64)
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	go func() {
		defer close(ch)
		for {
			var r response
			if err := dec.Decode(&r); err != nil {
				return
			}
			if r.Event != nil {
				select {
				case ch <- *r.Event:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch, nil
}
