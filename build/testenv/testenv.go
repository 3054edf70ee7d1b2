// Package testenv starts the desktop session services that end-to-end
// tests share: a private D-Bus session bus and gnome-keyring's Secret
// Service, unlocked with a throwaway password, so tests never touch a real
// user's keyring.
package testenv

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// SessionBus starts dbus-daemon --session with env and returns its
// address; the bus is stopped when the test ends (gnome-keyring started on
// it exits with it).
func SessionBus(tb testing.TB, env []string) string {
	tb.Helper()
	d := exec.Command("dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1")
	d.Env = env
	out, err := d.Output()
	if err != nil {
		tb.Fatalf("dbus-daemon: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		tb.Fatalf("dbus-daemon printed %q", out)
	}
	if pid, err := strconv.Atoi(f[1]); err == nil && pid > 1 {
		tb.Cleanup(func() { syscall.Kill(pid, syscall.SIGTERM) })
	}
	return f[0]
}

// Keyring starts gnome-keyring-daemon's Secret Service on the bus named in
// env (DBUS_SESSION_BUS_ADDRESS), unlocked (without --unlock it would want
// a prompter), and returns the variables it prints for its clients.
func Keyring(tb testing.TB, env []string) []string {
	tb.Helper()
	gk := exec.Command("gnome-keyring-daemon", "--daemonize", "--unlock", "--components=secrets")
	gk.Env = env
	gk.Stdin = strings.NewReader("keyring-pass")
	out, err := gk.Output()
	if err != nil {
		tb.Fatalf("gnome-keyring-daemon: %v", err)
	}
	var vars []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			vars = append(vars, l)
		}
	}
	return vars
}
