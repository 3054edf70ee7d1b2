//go:build !windows

package daemon

import "syscall"

// detached: a new session, away from the terminal's signals.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
