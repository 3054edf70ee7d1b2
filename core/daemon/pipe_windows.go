package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/corridorvpn/corridor/core"
)

// The Windows system calls of the named-pipe transport (pipe.go has the
// rules and the accept loop). Compiled for windows only, never run on
// Windows: under Wine go-winio's Accept and first read do not complete.

// ListenPipe creates the helper's named pipe name (PipeName) with the
// security descriptor PipeSDDL, for ServePipe. go-winio creates the first
// instance with FILE_CREATE, so it fails when the name is taken: by a
// running helper (ErrRunning) or by another program.
func (s *Server) ListenPipe(name string) error {
	ln, err := winio.ListenPipe(name, &winio.PipeConfig{
		SecurityDescriptor: PipeSDDL,
		InputBufferSize:    MaxRequestLine,
		OutputBufferSize:   MaxRequestLine,
	})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if c, derr := dialHelper(ctx, name); derr == nil {
			c.Close()
			return fmt.Errorf("%w on %s (stop it first: sc.exe stop Corridor)", ErrRunning, name)
		}
		return fmt.Errorf("daemon: pipe %s: %w", name, err)
	}
	s.usePipeListener(ln)
	return nil
}

// pipeCallerOS reads who the client of a pipe connection is: the
// client's process (GetNamedPipeClientProcessId), its token, the token's
// user SID and groups (callerOfToken decides). The process id is read
// when the connection is accepted, while the client holds it open; the
// client cannot let us impersonate it (go-winio dials with the anonymous
// impersonation level), hence the process and not the thread's token.
func pipeCallerOS(c net.Conn) (core.Caller, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return core.Caller{}, errors.New("not a named pipe")
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(windows.Handle(f.Fd()), &pid); err != nil {
		return core.Caller{}, fmt.Errorf("the pipe client's process: %w", err)
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return core.Caller{}, fmt.Errorf("opening the pipe client's process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return core.Caller{}, fmt.Errorf("the token of process %d: %w", pid, err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return core.Caller{}, fmt.Errorf("the user of process %d: %w", pid, err)
	}
	gs, err := tok.GetTokenGroups()
	if err != nil {
		return core.Caller{}, fmt.Errorf("the groups of process %d: %w", pid, err)
	}
	var groups []tokenGroup
	for _, g := range gs.AllGroups() {
		groups = append(groups, tokenGroup{SID: g.Sid.String(), Attributes: g.Attributes})
	}
	return callerOfToken(u.User.Sid.String(), groups), nil
}

// dialHelper connects to the helper at path: a named pipe (isPipePath),
// opened with pipeUserAccess and only when its owner is SYSTEM or
// Administrators (pipeOwnerTrusted), or else a unix socket (the per-user
// runner's; Windows 10 has AF_UNIX).
func dialHelper(ctx context.Context, path string) (net.Conn, error) {
	if !isPipePath(path) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	c, err := winio.DialPipeAccess(ctx, path, pipeUserAccess)
	if err != nil {
		return nil, err
	}
	if err := checkPipeOwner(c, path); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkPipeOwner refuses a pipe that an unprivileged program created.
func checkPipeOwner(c net.Conn, path string) error {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return errors.New("not a named pipe")
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("daemon: the owner of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("daemon: %s has no owner: %v", path, err)
	}
	if sid := owner.String(); !pipeOwnerTrusted(sid) {
		return &core.Error{Class: core.ClassLocal, Err: fmt.Errorf("daemon: %s is owned by %s", path, sid),
			Msg:  "the pipe " + path + " is not the Corridor helper's (owned by " + sid + ", not SYSTEM or Administrators): another program holds its name",
			Hint: "restart the helper (sc.exe stop Corridor, then sc.exe start Corridor) and find the program that created the pipe"}
	}
	return nil
}
