package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// The side effects of corridor daemon install|uninstall on Windows: the
// serviceManager of daemon_service_scm.go over the service control
// manager (golang.org/x/sys/windows/svc/mgr) and the event log registry.
// Compiled (GOOS=windows, amd64 and arm64) but never run: no Windows was
// at hand, and Wine's service manager was not tried. The steps are tested
// on Linux with a fake (daemon_service_scm_test.go).

// winHostReal is the real winHost.
func winHostReal() winHost {
	return winHost{
		connect: func() (serviceManager, error) {
			m, err := mgr.Connect() // SC_MANAGER_ALL_ACCESS: administrators only
			if err != nil {
				return nil, err // ERROR_ACCESS_DENIED is fs.ErrPermission
			}
			return scm{m}, nil
		},
		executable: func() (string, error) {
			exe, err := os.Executable()
			if err != nil {
				return "", err
			}
			return filepath.EvalSymlinks(exe)
		},
		programFiles: os.Getenv("ProgramFiles"),
		sleep:        time.Sleep,
		now:          time.Now,
	}
}

// scm is the serviceManager of the machine.
type scm struct{ m *mgr.Mgr }

func (s scm) OpenService(name string) (managedService, error) {
	sv, err := s.m.OpenService(name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		return nil, errNoService
	}
	if err != nil {
		return nil, err
	}
	return service{sv}, nil
}

func (s scm) CreateService(name string, c winServiceConfig) (managedService, error) {
	sv, err := s.m.CreateService(name, c.Exe, mgr.Config{
		ServiceType:  windows.SERVICE_WIN32_OWN_PROCESS,
		StartType:    uint32(c.StartType),
		ErrorControl: mgr.ErrorNormal,
		DisplayName:  c.DisplayName,
		Description:  c.Description,
		// ServiceStartName "": LocalSystem.
	}, c.Args...)
	if err != nil {
		return nil, err
	}
	return service{sv}, nil
}

func (s scm) InstallEventSource(name string) error {
	err := eventlog.InstallAsEventCreate(name, eventlog.Error|eventlog.Warning|eventlog.Info)
	if err != nil && strings.HasSuffix(err.Error(), "registry key already exists") {
		return nil // a reinstall
	}
	return err
}

func (s scm) RemoveEventSource(name string) error { return eventlog.Remove(name) }
func (s scm) Close() error                        { return s.m.Disconnect() }

// service is a managedService of the machine.
type service struct{ s *mgr.Service }

func (s service) State() (winState, error) {
	st, err := s.s.Query()
	return winState(st.State), err
}

func (s service) Start() error {
	err := s.s.Start()
	if errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return errServiceRunning
	}
	return err
}

func (s service) Stop() error {
	_, err := s.s.Control(svc.Stop)
	if errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return errServiceNotRunning
	}
	return err
}

// UpdateConfig keeps what install does not set and replaces the rest;
// the command line is quoted as CreateService quotes it.
func (s service) UpdateConfig(c winServiceConfig) error {
	cur, err := s.s.Config()
	if err != nil {
		return err
	}
	line := syscall.EscapeArg(c.Exe)
	for _, a := range c.Args {
		line += " " + syscall.EscapeArg(a)
	}
	cur.BinaryPathName = line
	cur.ServiceType = windows.SERVICE_WIN32_OWN_PROCESS
	cur.StartType = uint32(c.StartType)
	cur.ErrorControl = mgr.ErrorNormal
	cur.DisplayName = c.DisplayName
	cur.Description = c.Description
	cur.ServiceStartName = "LocalSystem"
	cur.Password = ""
	return s.s.UpdateConfig(cur)
}

func (s service) SetRestartOnFailure(delays []time.Duration, reset time.Duration) error {
	var actions []mgr.RecoveryAction
	for _, d := range delays {
		actions = append(actions, mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d})
	}
	if err := s.s.SetRecoveryActions(actions, uint32(reset/time.Second)); err != nil {
		return err
	}
	// Also when the helper stops with an error of its own (exit code 1:
	// the pipe could not be made), not only when it crashes.
	return s.s.SetRecoveryActionsOnNonCrashFailures(true)
}

func (s service) Delete() error { return s.s.Delete() }
func (s service) Close() error  { return s.s.Close() }

// daemonService is corridor daemon install|uninstall on Windows. The
// --group flag (for macOS's launchd) means nothing here: the pipe's ACL
// (daemon.PipeSDDL) admits interactive users.
func daemonService(sub, _ string, env Env) int {
	var err error
	if sub == "install" {
		err = winInstall(winHostReal(), env.Stdout)
	} else {
		err = winUninstall(winHostReal(), env.Stdout)
	}
	if err != nil {
		return fail(env.Stderr, err)
	}
	return ExitOK
}
