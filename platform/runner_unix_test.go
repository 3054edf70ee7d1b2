//go:build unix

package platform

import (
	"strings"
	"testing"
)

func TestExecRunnerOutputAndInput(t *testing.T) {
	r := ExecRunner{}
	out, err := r.Output("sh", "-c", "echo '203.0.113.5 via 192.0.2.1 dev eth0'; echo noise >&2")
	if err != nil || string(out) != "203.0.113.5 via 192.0.2.1 dev eth0\n" {
		t.Errorf("Output = %q, %v; want stdout only", out, err)
	}
	_, err = r.Output("sh", "-c", "echo 'Element not found.'; echo 'RTNETLINK answers: Network is unreachable' >&2; exit 2")
	if err == nil || !strings.Contains(err.Error(), "Network is unreachable") || !strings.Contains(err.Error(), "Element not found.") ||
		!strings.HasPrefix(err.Error(), "platform: sh -c ") {
		t.Errorf("Output error = %v; want the command, its stderr and stdout", err)
	}
	if err := r.RunInput("remove X\nquit\n", "sh", "-c", `read a b; [ "$a $b" = "remove X" ] && read q && [ "$q" = quit ]`); err != nil {
		t.Errorf("RunInput: %v", err)
	}
	if err := r.RunInput("x\n", "sh", "-c", "cat >/dev/null; echo 'No such key' >&2; exit 1"); err == nil || !strings.Contains(err.Error(), "No such key") {
		t.Errorf("RunInput error = %v", err)
	}
}
