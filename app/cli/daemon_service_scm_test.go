package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// These tests check corridor daemon install|uninstall (Windows) on any
// system, with a fake service control manager: the service's name,
// command line, start type and recovery, the order of the steps, and the
// refusals. No service control manager was involved.

const testWinExe = `C:\Program Files\Corridor\corridor.exe`

// fakeSCM is a service control manager that records every call in log.
type fakeSCM struct {
	log      []string
	services map[string]*fakeWinService
	denied   bool             // connect: access denied (not an administrator)
	fail     map[string]error // by call, e.g. "start", "delete"
	// stopsAfter is how many State calls a stopping service takes to stop
	// (-1: never).
	stopsAfter int
	clock      time.Time
}

type fakeWinService struct {
	m       *fakeSCM
	name    string
	cfg     winServiceConfig
	state   winState
	pending int
	restart []time.Duration
	reset   time.Duration
	deleted bool
}

func newFakeSCM() *fakeSCM {
	return &fakeSCM{services: map[string]*fakeWinService{}, fail: map[string]error{}, clock: time.Unix(1e9, 0)}
}

func (f *fakeSCM) call(format string, a ...any) error {
	c := fmt.Sprintf(format, a...)
	f.log = append(f.log, c)
	return f.fail[strings.Fields(c)[0]]
}

func (f *fakeSCM) OpenService(name string) (managedService, error) {
	if err := f.call("open %s", name); err != nil {
		return nil, err
	}
	s, ok := f.services[name]
	if !ok || s.deleted {
		return nil, errNoService
	}
	return s, nil
}

func (f *fakeSCM) CreateService(name string, c winServiceConfig) (managedService, error) {
	if err := f.call("create %s", name); err != nil {
		return nil, err
	}
	s := &fakeWinService{m: f, name: name, cfg: c, state: winStopped}
	f.services[name] = s
	return s, nil
}

func (f *fakeSCM) InstallEventSource(name string) error {
	return f.call("eventsource-install %s", name)
}
func (f *fakeSCM) RemoveEventSource(name string) error { return f.call("eventsource-remove %s", name) }
func (f *fakeSCM) Close() error                        { f.log = append(f.log, "close-scm"); return nil }

func (s *fakeWinService) State() (winState, error) {
	if s.state == winStopPending {
		if s.pending == 0 {
			s.state = winStopped
		} else if s.pending > 0 {
			s.pending--
		}
	}
	return s.state, nil
}

func (s *fakeWinService) Start() error {
	if err := s.m.call("start %s", s.name); err != nil {
		return err
	}
	if s.state == winRunning {
		return errServiceRunning
	}
	s.state = winRunning
	return nil
}

func (s *fakeWinService) Stop() error {
	if err := s.m.call("stop %s", s.name); err != nil {
		return err
	}
	if s.state != winRunning {
		return errServiceNotRunning
	}
	s.state, s.pending = winStopPending, s.m.stopsAfter
	return nil
}

func (s *fakeWinService) UpdateConfig(c winServiceConfig) error {
	if err := s.m.call("update %s", s.name); err != nil {
		return err
	}
	s.cfg = c
	return nil
}

func (s *fakeWinService) SetRestartOnFailure(delays []time.Duration, reset time.Duration) error {
	if err := s.m.call("recovery %s", s.name); err != nil {
		return err
	}
	s.restart, s.reset = delays, reset
	return nil
}

func (s *fakeWinService) Delete() error {
	if err := s.m.call("delete %s", s.name); err != nil {
		return err
	}
	s.deleted = true
	return nil
}

func (s *fakeWinService) Close() error { s.m.log = append(s.m.log, "close "+s.name); return nil }

func (f *fakeSCM) host(exe string) winHost {
	return winHost{
		connect: func() (serviceManager, error) {
			if f.denied {
				return nil, fmt.Errorf("OpenSCManager: %w", fs.ErrPermission)
			}
			return f, nil
		},
		executable:   func() (string, error) { return exe, nil },
		programFiles: `C:\Program Files`,
		sleep:        func(d time.Duration) { f.clock = f.clock.Add(d) },
		now:          func() time.Time { return f.clock },
	}
}

// TestWinInstall: a first install creates the service Corridor running
// "EXE daemon", started at boot, restarted on failure, with its event log
// source, and starts it.
func TestWinInstall(t *testing.T) {
	f := newFakeSCM()
	var out bytes.Buffer
	if err := winInstall(f.host(testWinExe), &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"open Corridor", "create Corridor", "recovery Corridor", "eventsource-install Corridor", "start Corridor", "close Corridor", "close-scm"}
	if !reflect.DeepEqual(f.log, want) {
		t.Errorf("calls %q, want %q", f.log, want)
	}
	s := f.services["Corridor"]
	wantCfg := winServiceConfig{DisplayName: "Corridor VPN helper", Description: winServiceDesc,
		Exe: testWinExe, Args: []string{"daemon"}, StartType: winStartAutomatic}
	if !reflect.DeepEqual(s.cfg, wantCfg) {
		t.Errorf("config %+v, want %+v", s.cfg, wantCfg)
	}
	if s.cfg.StartType != 2 { // SERVICE_AUTO_START
		t.Errorf("start type %d, want 2 (automatic)", s.cfg.StartType)
	}
	if !reflect.DeepEqual(s.restart, []time.Duration{5 * time.Second, 5 * time.Second, 30 * time.Second}) || s.reset != 24*time.Hour {
		t.Errorf("restart on failure %v, reset %v", s.restart, s.reset)
	}
	if s.state != winRunning {
		t.Errorf("service %s after install, want running", s.state)
	}
	if !strings.Contains(out.String(), `installed the Corridor helper as the Windows service Corridor`) ||
		!strings.Contains(out.String(), `"C:\\Program Files\\Corridor\\corridor.exe" daemon`) ||
		strings.Contains(out.String(), "warning") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestWinReinstall: a second install stops the running helper, waits for
// it, points the service at this executable and starts it again.
func TestWinReinstall(t *testing.T) {
	f := newFakeSCM()
	f.services["Corridor"] = &fakeWinService{m: f, name: "Corridor", state: winRunning,
		cfg: winServiceConfig{Exe: `C:\old\corridor.exe`, Args: []string{"daemon"}}}
	f.stopsAfter = 3
	if err := winInstall(f.host(testWinExe), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"open Corridor", "stop Corridor", "update Corridor", "recovery Corridor", "eventsource-install Corridor", "start Corridor", "close Corridor", "close-scm"}
	if !reflect.DeepEqual(f.log, want) {
		t.Errorf("calls %q, want %q", f.log, want)
	}
	if s := f.services["Corridor"]; s.cfg.Exe != testWinExe || s.cfg.StartType != winStartAutomatic || s.state != winRunning {
		t.Errorf("service after reinstall: %+v", s)
	}
}

// TestWinInstallRefusals: not an administrator; a relative path; a
// helper that does not stop is not reconfigured; a program outside
// Program Files is installed with a warning.
func TestWinInstallRefusals(t *testing.T) {
	f := newFakeSCM()
	f.denied = true
	err := winInstall(f.host(testWinExe), &bytes.Buffer{})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.ClassUsage || !strings.Contains(ce.Msg, "must run as an administrator") ||
		!strings.Contains(ce.Hint, "Run as administrator") {
		t.Errorf("not an administrator: %v", err)
	}
	if err := winUninstall(f.host(testWinExe), &bytes.Buffer{}); !errors.As(err, &ce) || ce.Class != core.ClassUsage {
		t.Errorf("uninstall, not an administrator: %v", err)
	}

	f = newFakeSCM()
	if err := winInstall(f.host(`corridor.exe`), &bytes.Buffer{}); err == nil || len(f.log) != 0 {
		t.Errorf("a relative path: %v, calls %q", err, f.log)
	}

	f = newFakeSCM()
	f.services["Corridor"] = &fakeWinService{m: f, name: "Corridor", state: winRunning}
	f.stopsAfter = -1
	if err := winInstall(f.host(testWinExe), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "still stopping") {
		t.Errorf("a helper that does not stop: %v", err)
	}
	for _, c := range f.log {
		if strings.HasPrefix(c, "update") || strings.HasPrefix(c, "start") {
			t.Errorf("went on to %q", c)
		}
	}

	f = newFakeSCM()
	var out bytes.Buffer
	if err := winInstall(f.host(`C:\Users\alice\Downloads\corridor.exe`), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `warning: the service runs C:\Users\alice\Downloads\corridor.exe as LocalSystem`) {
		t.Errorf("no warning for a program in the user's downloads:\n%s", out.String())
	}
}

// TestWinUninstall: stop (waiting for the helper to end its sessions),
// delete, remove the event source; not installed is no error; a helper
// that does not stop keeps its service.
func TestWinUninstall(t *testing.T) {
	f := newFakeSCM()
	f.services["Corridor"] = &fakeWinService{m: f, name: "Corridor", state: winRunning}
	f.stopsAfter = 2
	var out bytes.Buffer
	if err := winUninstall(f.host(testWinExe), &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"open Corridor", "stop Corridor", "delete Corridor", "eventsource-remove Corridor", "close Corridor", "close-scm"}
	if !reflect.DeepEqual(f.log, want) {
		t.Errorf("calls %q, want %q", f.log, want)
	}
	if !f.services["Corridor"].deleted || !strings.Contains(out.String(), "uninstalled the Corridor helper (service Corridor)") {
		t.Errorf("not deleted, or output %q", out.String())
	}

	// Installed but stopped: stop says not running, and that is fine.
	f = newFakeSCM()
	f.services["Corridor"] = &fakeWinService{m: f, name: "Corridor", state: winStopped}
	if err := winUninstall(f.host(testWinExe), &bytes.Buffer{}); err != nil || !f.services["Corridor"].deleted {
		t.Errorf("a stopped service: %v", err)
	}

	f = newFakeSCM()
	out.Reset()
	if err := winUninstall(f.host(testWinExe), &out); err != nil || !strings.Contains(out.String(), "not installed") {
		t.Errorf("nothing installed: %v, %q", err, out.String())
	}

	f = newFakeSCM()
	f.services["Corridor"] = &fakeWinService{m: f, name: "Corridor", state: winRunning}
	f.stopsAfter = -1
	if err := winUninstall(f.host(testWinExe), &bytes.Buffer{}); err == nil || f.services["Corridor"].deleted {
		t.Errorf("a helper that does not stop: %v, deleted %v", err, f.services["Corridor"].deleted)
	}
}

func TestWinPaths(t *testing.T) {
	for p, want := range map[string]bool{`C:\x\corridor.exe`: true, `d:/x`: true, `\\server\share\c.exe`: true,
		`corridor.exe`: false, `\x\corridor.exe`: false, `C:x`: false, `/usr/bin/corridor`: false} {
		if winAbs(p) != want {
			t.Errorf("winAbs(%q) = %v", p, !want)
		}
	}
	for _, tc := range []struct {
		p, d string
		want bool
	}{
		{`C:\Program Files\Corridor\corridor.exe`, `C:\Program Files`, true},
		{`c:\program files\corridor\corridor.exe`, `C:\Program Files\`, true},
		{`C:\Program Files (x86)\corridor.exe`, `C:\Program Files`, false},
		{`C:\Program Filesx\corridor.exe`, `C:\Program Files`, false},
		{`C:\corridor.exe`, ``, false},
	} {
		if winUnder(tc.p, tc.d) != tc.want {
			t.Errorf("winUnder(%q, %q) = %v", tc.p, tc.d, !tc.want)
		}
	}
}
