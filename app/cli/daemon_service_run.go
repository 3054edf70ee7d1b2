package cli

import (
	"context"
	"log/slog"
	"strings"
)

// corridor daemon under the Windows service control manager: the
// control loop (runAsService) and small rules, kept free of Windows
// types so that they are tested on Linux; daemon_service_windows.go
// adapts golang.org/x/sys/windows/svc to them. Status: compiled for
// windows and tested on Linux with fake control requests; never run
// under a real service control manager.

// svcCmd is a control request of the service manager as runAsService
// sees it (svc.Interrogate, svc.Stop, svc.Shutdown).
type svcCmd int

const (
	svcInterrogate svcCmd = iota
	svcStop
	svcShutdown
)

// runAsService runs the helper, run, under a service manager: it
// reports start-pending, running once run calls ready, and stop-pending
// when asked to stop or shut down, which cancels run's context. It
// returns run's error when run has ended (by itself, or after the
// request), having ended its sessions; the caller reports stopped.
// Interrogate repeats the state last reported.
func runAsService(cmds <-chan svcCmd, status func(winState), run func(ctx context.Context, ready func()) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := winStartPending
	status(state)
	readyc := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once bool
		done <- run(ctx, func() {
			if !once {
				once = true
				close(readyc)
			}
		})
	}()
	for {
		select {
		case <-readyc:
			readyc = nil
			if state == winStartPending {
				state = winRunning
				status(state)
			}
		case err := <-done:
			return err
		case c := <-cmds:
			switch c {
			case svcInterrogate:
				status(state)
			case svcStop, svcShutdown:
				if state != winStopPending {
					state = winStopPending
					status(state)
					cancel()
				}
			}
		}
	}
}

// wantsUserRunner: whether corridor daemon's args ask for the per-user
// session runner (--user), which Windows runs as elsewhere (daemonCmd).
func wantsUserRunner(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		f := strings.TrimLeft(a, "-")
		if f == "user" || f == "user=true" || f == "user=1" {
			return true
		}
	}
	return false
}

// logLineLevel is the level of a line of slog's text handler, for the
// Windows event log's event types.
func logLineLevel(line string) slog.Level {
	switch {
	case strings.Contains(line, " level=ERROR"):
		return slog.LevelError
	case strings.Contains(line, " level=WARN"):
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
