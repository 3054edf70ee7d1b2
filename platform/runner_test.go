package platform

import (
	"errors"
	"testing"
)

// TestClassifyFailures: failures are told apart by exit code where the
// tool has distinct ones (ip: 2 for a refusal of the kernel, 1 for its own
// errors), and by strerror's words in the C locale otherwise.
func TestClassifyFailures(t *testing.T) {
	ce := func(code int, out string, args ...string) error {
		return &CommandError{Args: args, ExitCode: code, Output: out, Err: errors.New("exit status")}
	}
	tests := []struct {
		name         string
		err          error
		exists, gone bool
	}{
		{"ip add of an existing route", ce(2, "RTNETLINK answers: File exists", "ip", "-4", "route", "add", "10.0.0.0/8", "dev", "x"), true, false},
		{"ip del of a missing route", ce(2, "RTNETLINK answers: No such process", "ip", "-4", "route", "del", "10.0.0.0/8", "dev", "x"), false, true},
		{"ip del on a gone device (kernel)", ce(2, "RTNETLINK answers: No such device", "ip", "-4", "route", "del"), false, true},
		{"ip del on a gone device (ip)", ce(1, `Cannot find device "x"`, "ip", "-4", "route", "del"), false, true},
		{"ip: not permitted", ce(2, "RTNETLINK answers: Operation not permitted", "ip", "-4", "route", "add"), false, false},
		{"ip: the words without the exit code", ce(1, "File exists No such process", "ip", "-4", "route", "add"), false, false},
		{"full path to ip", ce(2, "RTNETLINK answers: File exists", "/sbin/ip", "route", "add"), true, false},
		{"a command that did not start", ce(-1, "File exists", "ip", "route", "add"), false, false},
		{"not a command error", errors.New("RTNETLINK answers: File exists"), false, false},
		{"words of another tool", ce(1, "No such key", "ip", "route", "del"), false, false},
		{"macOS route exists", ce(1, "route: writing to routing socket: File exists", "route", "-n", "add"), true, false},
		{"macOS route gone", ce(1, "route: writing to routing socket: not in table", "route", "-n", "delete"), false, true},
		{"scutil", ce(1, "No such key", "scutil"), false, true},
		{"netsh exists", ce(1, "The object already exists.", "netsh.exe", "interface", "ipv4", "add", "route"), true, false},
		{"netsh gone", ce(1, "Element not found.", "netsh", "interface", "ipv4", "delete", "route"), false, true},
		{"resolvectl gone", ce(1, `Failed to resolve interface "corridor0": No such device`, "resolvectl", "revert", "corridor0"), false, true},
	}
	for _, tc := range tests {
		if got := isExists(tc.err); got != tc.exists {
			t.Errorf("%s: isExists = %v, want %v", tc.name, got, tc.exists)
		}
		if got := isGone(tc.err); got != tc.gone {
			t.Errorf("%s: isGone = %v, want %v", tc.name, got, tc.gone)
		}
	}
}
