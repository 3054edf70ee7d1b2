package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// corridor daemon install|uninstall on Windows: the privileged helper as
// the Windows service "Corridor", run by the service control manager as
// LocalSystem. This file holds the steps, which act on the machine only
// through a serviceManager (the real one in daemon_install_windows.go,
// over golang.org/x/sys/windows/svc/mgr; a fake in
// daemon_service_scm_test.go), so that they are tested on Linux.
//
// Status: compiled for windows (amd64, arm64) and tested on Linux with a
// fake service manager (the service's name, command line, start type,
// recovery, the order of the steps, the refusals). None of it has run on
// Windows: no service control manager has seen this service.

const (
	winServiceName    = "Corridor"
	winServiceDisplay = "Corridor VPN helper"
	winServiceDesc    = "Runs Corridor's L2TP/IPsec connections for the users of this computer: " +
		"the tunnel device, routes and DNS. The Corridor app and the corridor command talk to it " +
		`over the named pipe \\.\pipe\corridor.`
	// winStopTimeout is how long uninstall and a reinstall wait for the
	// helper to stop: it ends its sessions and restores routes and DNS
	// within 20 s first.
	winStopTimeout = 35 * time.Second
)

// winRestartDelays are the service's failure actions: restarted after
// each of its first three failures (launchd's KeepAlive, systemd's
// Restart=on-failure), the count reset after a day without one.
var (
	winRestartDelays = []time.Duration{5 * time.Second, 5 * time.Second, 30 * time.Second}
	winRestartReset  = 24 * time.Hour
)

// winStartType is a service's start type (mgr.StartAutomatic etc.:
// SERVICE_AUTO_START is 2).
type winStartType uint32

const winStartAutomatic winStartType = 2 // SERVICE_AUTO_START: at boot

// winState is a service's state (svc.State: SERVICE_STOPPED is 1, ...).
type winState uint32

const (
	winStopped      winState = 1
	winStartPending winState = 2
	winStopPending  winState = 3
	winRunning      winState = 4
)

func (s winState) String() string {
	switch s {
	case winStopped:
		return "stopped"
	case winStartPending:
		return "starting"
	case winStopPending:
		return "stopping"
	case winRunning:
		return "running"
	}
	return fmt.Sprintf("state %d", uint32(s))
}

// winServiceConfig is what install sets: the service runs Exe with Args
// (the adapter quotes them into the service's command line).
type winServiceConfig struct {
	DisplayName string
	Description string
	Exe         string
	Args        []string
	StartType   winStartType
}

// helperServiceConfig is the Corridor service: exe daemon, started at
// boot. The helper listens on the named pipe (daemon.DefaultSocket).
func helperServiceConfig(exe string) winServiceConfig {
	return winServiceConfig{DisplayName: winServiceDisplay, Description: winServiceDesc,
		Exe: exe, Args: []string{"daemon"}, StartType: winStartAutomatic}
}

// The adapter's errors for what the steps must tell apart.
var (
	errNoService         = errors.New("the service does not exist")            // ERROR_SERVICE_DOES_NOT_EXIST
	errServiceNotRunning = errors.New("the service is not running")            // ERROR_SERVICE_NOT_ACTIVE
	errServiceRunning    = errors.New("an instance of the service is running") // ERROR_SERVICE_ALREADY_RUNNING
)

// serviceManager is the service control manager as install and
// uninstall use it (mgr.Mgr). Errors that mean "access denied" satisfy
// errors.Is(err, fs.ErrPermission), as Windows' ERROR_ACCESS_DENIED does.
type serviceManager interface {
	// OpenService returns errNoService when there is none of that name.
	OpenService(name string) (managedService, error)
	CreateService(name string, c winServiceConfig) (managedService, error)
	// InstallEventSource registers name as a source of the Application
	// event log, where the helper logs as a service; one that exists is
	// no error. RemoveEventSource undoes it.
	InstallEventSource(name string) error
	RemoveEventSource(name string) error
	Close() error
}

// managedService is one installed service (mgr.Service).
type managedService interface {
	State() (winState, error)
	// Start: errServiceRunning when it runs already.
	Start() error
	// Stop asks it to stop (svc.Stop); errServiceNotRunning when it does
	// not run. It does not wait.
	Stop() error
	UpdateConfig(c winServiceConfig) error
	// SetRestartOnFailure sets the failure actions: a restart after each
	// delay in turn, the failure count reset after reset.
	SetRestartOnFailure(delays []time.Duration, reset time.Duration) error
	Delete() error
	Close() error
}

// winHost is everything install and uninstall use of the machine.
type winHost struct {
	connect func() (serviceManager, error)
	// executable is this program's absolute path, links resolved.
	executable func() (string, error)
	// programFiles is %ProgramFiles% (C:\Program Files), or "".
	programFiles string
	sleep        func(time.Duration)
	now          func() time.Time
}

// notAdmin is the refusal of a caller who may not change services.
func notAdmin(sub string) error {
	return &core.Error{Class: core.ClassUsage,
		Msg:  "corridor daemon " + sub + " changes the system's services and must run as an administrator",
		Hint: "open a terminal with \"Run as administrator\" and run corridor daemon " + sub + " there"}
}

// winAbs: whether p is an absolute Windows path (C:\... or \\server\...).
// Not filepath.IsAbs: the steps are tested on Linux.
func winAbs(p string) bool {
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		c := p[0] | 0x20
		return c >= 'a' && c <= 'z'
	}
	return strings.HasPrefix(p, `\\`)
}

// winUnder: whether path is dir or inside it (case-insensitive, as
// Windows paths are).
func winUnder(path, dir string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimRight(strings.ReplaceAll(s, "/", `\`), `\`)) }
	p, d := norm(path), norm(dir)
	return d != "" && (p == d || strings.HasPrefix(p, d+`\`))
}

func scmConnect(h winHost, sub string) (serviceManager, error) {
	m, err := h.connect()
	if errors.Is(err, fs.ErrPermission) {
		return nil, notAdmin(sub)
	}
	if err != nil {
		return nil, localError("connecting to the service control manager", err)
	}
	return m, nil
}

// stopAndWait stops s and waits until it has stopped, at most
// winStopTimeout.
func stopAndWait(h winHost, s managedService) error {
	if err := s.Stop(); err != nil && !errors.Is(err, errServiceNotRunning) {
		return err
	}
	deadline := h.now().Add(winStopTimeout)
	for {
		st, err := s.State()
		if err != nil {
			return err
		}
		if st == winStopped {
			return nil
		}
		if h.now().After(deadline) {
			return fmt.Errorf("still %s after %v", st, winStopTimeout)
		}
		h.sleep(250 * time.Millisecond)
	}
}

// winInstall creates the Corridor service (or updates it: stopped
// first, then given this executable) and starts it: the helper then runs
// at once and at every boot, as LocalSystem.
func winInstall(h winHost, w io.Writer) error {
	exe, err := h.executable()
	if err != nil {
		return localError("finding this program's path", err)
	}
	if !winAbs(exe) {
		return localError("finding this program's path", fmt.Errorf("%q is not absolute", exe))
	}
	m, err := scmConnect(h, "install")
	if err != nil {
		return err
	}
	defer m.Close()
	cfg := helperServiceConfig(exe)
	s, err := m.OpenService(winServiceName)
	switch {
	case err == nil:
		if err := stopAndWait(h, s); err != nil {
			s.Close()
			return localError("stopping the installed helper", err)
		}
		if err := s.UpdateConfig(cfg); err != nil {
			s.Close()
			return localError("updating the service "+winServiceName, err)
		}
	case errors.Is(err, errNoService):
		if s, err = m.CreateService(winServiceName, cfg); err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return notAdmin("install")
			}
			return localError("creating the service "+winServiceName, err)
		}
	case errors.Is(err, fs.ErrPermission):
		return notAdmin("install")
	default:
		return localError("opening the service "+winServiceName, err)
	}
	defer s.Close()
	if err := s.SetRestartOnFailure(winRestartDelays, winRestartReset); err != nil {
		return localError("setting the service's restart on failure", err)
	}
	if err := m.InstallEventSource(winServiceName); err != nil {
		return localError("registering the event log source "+winServiceName, err)
	}
	if err := s.Start(); err != nil && !errors.Is(err, errServiceRunning) {
		return localError("starting the service "+winServiceName, err)
	}
	fmt.Fprintf(w, "installed the Corridor helper as the Windows service %s (%s), started at boot\n", winServiceName, winServiceDisplay)
	fmt.Fprintf(w, "it runs %q %s as LocalSystem, listens on %s and logs to the Application event log (source %s)\n",
		exe, strings.Join(cfg.Args, " "), `\\.\pipe\corridor`, winServiceName)
	if !winUnder(exe, h.programFiles) {
		fmt.Fprintf(w, "warning: the service runs %s as LocalSystem at every boot: keep it where only administrators can write,\n"+
			"e.g. copy it to %s\\Corridor\\ and run corridor daemon install from there\n", exe, orDefault(h.programFiles, `C:\Program Files`))
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// winUninstall stops the service (the helper ends its sessions and
// restores routes and DNS first) and deletes it, and its event log
// source; the events stay in the log.
func winUninstall(h winHost, w io.Writer) error {
	m, err := scmConnect(h, "uninstall")
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.OpenService(winServiceName)
	if errors.Is(err, errNoService) {
		m.RemoveEventSource(winServiceName) // a half-done uninstall's; none is fine
		fmt.Fprintf(w, "the Corridor helper is not installed (no service %s)\n", winServiceName)
		return nil
	}
	if errors.Is(err, fs.ErrPermission) {
		return notAdmin("uninstall")
	}
	if err != nil {
		return localError("opening the service "+winServiceName, err)
	}
	defer s.Close()
	if err := stopAndWait(h, s); err != nil {
		// Still running, maybe: keep the service, so that a helper does
		// not run on without one.
		return localError("stopping the helper", err)
	}
	if err := s.Delete(); err != nil {
		return localError("deleting the service "+winServiceName, err)
	}
	if err := m.RemoveEventSource(winServiceName); err != nil {
		fmt.Fprintf(w, "note: the event log source %s stays: %v\n", winServiceName, err)
	}
	fmt.Fprintf(w, "uninstalled the Corridor helper (service %s); its events stay in the Application event log\n", winServiceName)
	return nil
}
