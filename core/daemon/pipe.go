package daemon

import (
	"context"
	"net"
	"strings"

	"github.com/corridorvpn/corridor/core"
)

// The helper's transport on Windows: the same protocol over the named
// pipe PipeName instead of a unix socket. This file holds what can be
// checked anywhere: the pipe's security descriptor, the rule that turns
// a client's token into a core.Caller, the pipe's owner check and the
// accept loop (ServePipe), which learns who a client is through
// pipeCaller, a function variable that the tests replace with a fake.
// The Windows system calls are in pipe_windows.go.
//
// Status: compiled for windows (amd64, arm64) and tested on Linux with a
// fake identity; it has never served a client on Windows. Under Wine
// (DESIGN.md §8) go-winio's Accept and first read never complete, so it
// could not be run there either.

// PipeName is the named pipe the privileged helper serves on Windows.
const PipeName = `\\.\pipe\corridor`

// pipeUserAccess is what interactive users may do with the pipe: read
// and write it (FILE_GENERIC_READ 0x120089 | FILE_GENERIC_WRITE 0x120116)
// less FILE_APPEND_DATA (0x4), which on a pipe is FILE_CREATE_PIPE_INSTANCE:
// with it a user could create server instances of \\.\pipe\corridor of
// their own and receive other users' connections, secrets included.
// Clients open the pipe asking for exactly this (pipe_windows.go), as
// GENERIC_WRITE would ask for FILE_APPEND_DATA too and be refused.
const pipeUserAccess = 0x12019b

// PipeSDDL is the pipe's security descriptor (SDDL): a protected DACL
// (P: no inherited entries) that lets SYSTEM (SY) and Administrators
// (BA; an elevated token's) do everything, and interactive users (IU:
// console and remote desktop logons, not services or network logons) read
// and write (pipeUserAccess). Nobody else may open it, and go-winio
// creates the pipe with FILE_PIPE_REJECT_REMOTE_CLIENTS, so nothing
// reaches it over the network. It names no owner: the creating token's
// default owner (SYSTEM's or the Administrators') is what clients check
// (pipeOwnerTrusted).
const PipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;IU)"

// Well-known SIDs.
const (
	sidSystem         = "S-1-5-18"     // NT AUTHORITY\SYSTEM: services such as the helper
	sidAdministrators = "S-1-5-32-544" // BUILTIN\Administrators
)

// seGroupEnabled is SE_GROUP_ENABLED in a token's group attributes: a
// group that counts for access checks. An administrator's unelevated
// (UAC-filtered) token lists Administrators as deny-only, without it.
const seGroupEnabled = 0x00000004

// tokenGroup is one group of a token (SID_AND_ATTRIBUTES).
type tokenGroup struct {
	SID        string
	Attributes uint32
}

// callerOfToken is the core.Caller of a pipe client whose token has the
// user user and the groups groups: known by its SID, an admin when it is
// SYSTEM or has Administrators enabled (an elevated administrator). An
// administrator's unelevated process is an ordinary user, as sudo-less
// root-group members are on unix.
func callerOfToken(user string, groups []tokenGroup) core.Caller {
	c := core.Caller{SID: user, Admin: user == sidSystem}
	for _, g := range groups {
		if g.SID == sidAdministrators && g.Attributes&seGroupEnabled != 0 {
			c.Admin = true
		}
	}
	return c
}

// pipeOwnerTrusted: whether a pipe owned by owner (a SID) can be the
// helper's. A pipe made by the helper (SYSTEM, or an elevated
// administrator running corridor daemon in a console) is owned by
// SYSTEM or Administrators; an unprivileged process that created
// \\.\pipe\corridor first to catch the secrets of an Up cannot give its
// pipe either owner.
func pipeOwnerTrusted(owner string) bool {
	return owner == sidSystem || owner == sidAdministrators
}

// isPipePath: whether path names a named pipe (\\.\pipe\NAME, or
// \\?\pipe\NAME) rather than a unix socket.
func isPipePath(path string) bool {
	p := strings.ToLower(strings.ReplaceAll(path, "/", `\`))
	return strings.HasPrefix(p, `\\.\pipe\`) || strings.HasPrefix(p, `\\?\pipe\`)
}

// pipeCaller tells who the client at the other end of a pipe connection
// is: pipeCallerOS (pipe_windows.go: the client process's token), or a
// fake in tests.
var pipeCaller = pipeCallerOS

// ServePipe is Serve for the Windows named pipe (ListenPipe): it accepts
// connections until ctx ends or the listener is closed, and serves each
// as the core.Caller that pipeCaller finds (a user known by SID; SYSTEM
// and elevated administrators are admins). The pipe's DACL (PipeSDDL)
// decides who may connect at all, so there is no group check here; a
// client whose identity cannot be read is refused.
func (s *Server) ServePipe(ctx context.Context) error {
	return s.serve(ctx, func(c net.Conn) (core.Caller, *core.ErrorInfo) {
		caller, err := pipeCaller(c)
		if err != nil {
			s.logger().Warn("daemon: refused a client whose identity could not be read", "err", err)
			return core.Caller{}, &core.ErrorInfo{Class: core.ClassUsage,
				Msg: "not allowed to use the Corridor helper (who you are could not be read from the pipe)"}
		}
		return caller, nil
	})
}

// usePipeListener makes s serve ln with ServePipe (tests; ListenPipe
// on Windows).
func (s *Server) usePipeListener(ln net.Listener) {
	if s.Log == nil {
		s.Log = s.logger()
	}
	s.gid = -1
	s.ln = ln
}
