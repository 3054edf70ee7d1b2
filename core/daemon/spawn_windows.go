package daemon

import "syscall"

// detached: a process of its own group, without a console window.
// Compiled, not run.
func detached() *syscall.SysProcAttr {
	const createNewProcessGroup, createNoWindow = 0x00000200, 0x08000000
	return &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | createNoWindow}
}
