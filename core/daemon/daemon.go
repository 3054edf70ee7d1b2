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

// DefaultSocket is where the privileged helper listens.
const DefaultSocket = "/run/corridor/corridor.sock"

// The daemon protocol: one JSON object per line. A request names a
// method and carries params; the reply carries the same id and a result
// or an error. "subscribe" turns the connection into a stream of events
// that ends when the client closes it.
type request struct {
	ID     int             `json:"id"`
	Method string          `json:"method"` // up, down, status, subscribe, ping
	Params json.RawMessage `json:"params,omitempty"`
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

	ln  net.Listener
	wg  sync.WaitGroup
	gid int
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
	os.Remove(path) // a stale socket of a crashed daemon
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("daemon: socket: %w", err)
	}
	s.gid = -1
	mode := os.FileMode(0o600)
	if group != "" {
		if g, err := user.LookupGroup(group); err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			if err := os.Chown(path, 0, gid); err == nil {
				s.gid, mode = gid, 0o660
			}
		} else {
			s.logger().Warn("daemon: socket group not found; only root may connect", "group", group)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return err
	}
	s.ln = ln
	return nil
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
		uid, gid, err := PeerCred(c)
		if err != nil || !s.allowed(uid, gid) {
			s.logger().Warn("daemon: refused a client", "uid", uid, "gid", gid, "err", err)
			json.NewEncoder(c).Encode(response{Error: &core.ErrorInfo{Class: core.ClassUsage.String(),
				Msg: "not allowed to use the Corridor helper", Hint: "add your user to the corridor group"}})
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.Handle(ctx, c)
		}()
	}
}

func errInfo(err error) *core.ErrorInfo {
	e := core.AsError(err)
	return &core.ErrorInfo{Class: e.Class.String(), Msg: e.Msg, Hint: e.Hint}
}

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
	rd := bufio.NewReaderSize(c, 64<<10)
	enc := json.NewEncoder(c)
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			enc.Encode(response{Error: &core.ErrorInfo{Class: core.ClassUsage.String(), Msg: "bad request"}})
			return
		}
		resp := response{ID: req.ID}
		switch req.Method {
		case "ping":
			resp.Result = json.RawMessage(`"pong"`)
		case "up":
			var up core.UpRequest
			if err := json.Unmarshal(req.Params, &up); err != nil {
				resp.Error = &core.ErrorInfo{Class: core.ClassUsage.String(), Msg: "bad up request"}
				break
			}
			s.logger().Info("daemon: up", "profile", up.Profile.Name, "server", up.Profile.Server)
			if err := s.Engine.Up(cctx, up); err != nil {
				resp.Error = errInfo(err)
			}
		case "down":
			var name string
			json.Unmarshal(req.Params, &name)
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
			resp.Error = &core.ErrorInfo{Class: core.ClassUsage.String(), Msg: "unknown method " + strconv.Quote(req.Method)}
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
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", d.socket())
	if err != nil {
		return nil, &core.Error{Class: core.ClassLocal, Err: fmt.Errorf("%w: %v", ErrNoDaemon, err),
			Msg:  "the Corridor helper is not running (no socket at " + d.socket() + ")",
			Hint: "start it: sudo systemctl start corridor (or: sudo corridor daemon)"}
	}
	return c, nil
}

func (d *Client) socket() string {
	if d.Socket == "" {
		return DefaultSocket
	}
	return d.Socket
}

func (d *Client) call(ctx context.Context, method string, params, result any) error {
	c, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	p, _ := json.Marshal(params)
	if err := json.NewEncoder(c).Encode(request{ID: 1, Method: method, Params: p}); err != nil {
		return err
	}
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("daemon: helper: %w", err)
	}
	if resp.Error != nil {
		return errorFromInfo(resp.Error)
	}
	if result != nil {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}

func errorFromInfo(i *core.ErrorInfo) *core.Error {
	e := &core.Error{Class: core.ClassInternal, Msg: i.Msg, Hint: i.Hint}
	for c := core.ClassInternal; c <= core.ClassLocal; c++ {
		if c.String() == i.Class {
			e.Class = c
		}
	}
	return e
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
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(c).Encode(request{ID: 1, Method: "subscribe"}); err != nil {
		c.Close()
		return nil, err
	}
	dec := json.NewDecoder(bufio.NewReader(c))
	var first response
	if err := dec.Decode(&first); err != nil || first.Error != nil {
		c.Close()
		if first.Error != nil {
			return nil, errorFromInfo(first.Error)
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
