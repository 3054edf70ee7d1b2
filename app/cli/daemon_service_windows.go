package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/platform"
)

// corridor daemon on Windows: the privileged helper serves the named
// pipe (daemon.ListenPipe, ServePipe), as the service "Corridor" under
// the service control manager (corridor daemon install) or, run by hand
// from an elevated terminal, until Ctrl-C. --user (the per-user runner)
// goes to daemonCmd as elsewhere.
//
// Compiled (GOOS=windows, amd64 and arm64), never run on Windows; under
// Wine the pipe does not complete a read. The control loop
// (runAsService) is tested on Linux with fake requests.

func daemonRun(args []string, env Env) int {
	if wantsUserRunner(args) {
		return daemonCmd(args, env)
	}
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	pipe := fs.String("socket", "", "serve on the named pipe `PIPE` (default "+daemon.DefaultSocket+")")
	journal := fs.String("journal", "", "journal `DIR` of OS changes (default: the platform's)")
	verbose := fs.Bool("v", false, "log protocol traces")
	netwatch := fs.Bool("network-watch", true, "reconnect at once when the path to a server changes or the network comes back")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return usageError(env, "daemon", "unexpected argument %q", fs.Arg(0))
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	path := socketPath(*pipe)
	inService, err := svc.IsWindowsService()
	if err != nil {
		return fail(env.Stderr, fmt.Errorf("daemon: is this a service: %w", err))
	}
	if !inService {
		log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
		ctx, cancel := signalContext()
		defer cancel()
		if err := runPipeHelper(ctx, path, *journal, *netwatch, log, func() {}); err != nil {
			return fail(env.Stderr, err)
		}
		return ExitOK
	}
	// A service has no console: it logs to the Application event log
	// under the source that install registered.
	out := env.Stderr
	if el, err := eventlog.Open(winServiceName); err == nil {
		defer el.Close()
		out = eventLogWriter{el}
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	h := &helperService{log: log, run: func(ctx context.Context, ready func()) error {
		return runPipeHelper(ctx, path, *journal, *netwatch, log, ready)
	}}
	if err := svc.Run(winServiceName, h); err != nil {
		log.Error("daemon: the service control manager", "err", err)
		return ExitLocal
	}
	if h.err != nil {
		return ExitLocal
	}
	return ExitOK
}

// runPipeHelper is the helper's life on Windows: recover what a crashed
// predecessor left, serve the pipe until ctx ends, then end the sessions
// (routes and DNS restored) within 20 s.
func runPipeHelper(ctx context.Context, pipe, journal string, netwatch bool, log *slog.Logger, ready func()) error {
	var ropts []platform.RouterOption
	if journal != "" {
		ropts = append(ropts, platform.WithJournalDir(journal))
	}
	if err := platform.Recover(ropts...); err != nil {
		log.Warn("daemon: recovering the journal of an earlier run", "err", err)
	}
	m := core.NewManager(&core.RealStack{RouterOptions: ropts}, managerOptions(log, netwatch)...)
	srv := &daemon.Server{Engine: m, Log: log}
	if err := srv.ListenPipe(pipe); err != nil {
		return err
	}
	log.Info("daemon: listening", "pipe", pipe, "pid", os.Getpid())
	ready()
	err := srv.ServePipe(ctx)
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	m.Close(cctx)
	log.Info("daemon: stopped")
	return err
}

// helperService is the svc.Handler of the Corridor service.
type helperService struct {
	run func(ctx context.Context, ready func()) error
	log *slog.Logger
	err error
}

// Execute serves until Stop or Shutdown (runAsService), then returns;
// svc reports the service stopped. An error (the pipe could not be made)
// is the service-specific exit code 1, a failure for the recovery actions
// install set.
func (h *helperService) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	cmds := make(chan svcCmd)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			var c svc.ChangeRequest
			select {
			case c = <-r:
			case <-done:
				return
			}
			var cmd svcCmd
			switch c.Cmd {
			case svc.Interrogate:
				cmd = svcInterrogate
			case svc.Stop:
				cmd = svcStop
			case svc.Shutdown:
				cmd = svcShutdown
			default:
				continue
			}
			select {
			case cmds <- cmd:
			case <-done:
				return
			}
		}
	}()
	status := func(st winState) {
		ss := svc.Status{State: svc.State(st)}
		switch st {
		case winRunning:
			ss.Accepts = svc.AcceptStop | svc.AcceptShutdown
		case winStartPending:
			ss.WaitHint = 10000
		case winStopPending:
			ss.WaitHint = 30000 // the sessions end within 20 s
		}
		s <- ss
	}
	h.err = runAsService(cmds, status, h.run)
	if h.err != nil {
		h.log.Error("daemon: the helper ended", "err", h.err)
		return true, 1
	}
	return false, 0
}

// eventLogWriter writes each line of slog's text handler as one event of
// the Application log, its type by the line's level.
type eventLogWriter struct{ l *eventlog.Log }

func (w eventLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\r\n")
	var err error
	switch logLineLevel(msg) {
	case slog.LevelError:
		err = w.l.Error(1, msg)
	case slog.LevelWarn:
		err = w.l.Warning(1, msg)
	default:
		err = w.l.Info(1, msg)
	}
	return len(p), err
}
