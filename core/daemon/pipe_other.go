//go:build !windows

package daemon

import (
	"context"
	"errors"
	"net"

	"github.com/corridorvpn/corridor/core"
)

// pipeCallerOS: there are no named pipes here; tests set pipeCaller.
func pipeCallerOS(net.Conn) (core.Caller, error) {
	return core.Caller{}, errors.New("named pipes are Windows only")
}

// dialHelper connects to the helper's unix socket at path
// (pipe_windows.go: a named pipe on Windows).
func dialHelper(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
