//go:build unix

package platform

import (
	"errors"
	"strings"
	"testing"
)

func TestExecRunnerOutputAndInput(t *testing.T) {
	r := ExecRunner{}
	out, err := r.Run(cmd("sh", "-c", "echo '203.0.113.5 via 192.0.2.1 dev eth0'; echo noise >&2"))
	if err != nil || string(out) != "203.0.113.5 via 192.0.2.1 dev eth0\n" {
		t.Errorf("Run = %q, %v; want stdout only", out, err)
	}
	// pfctl -E prints its token on stderr: stderrToo returns it first.
	out, err = r.Run(Command{Args: []string{"sh", "-c", "echo 'Token : 42' >&2; echo out"}, stderrToo: true})
	if err != nil || string(out) != "Token : 42\nout\n" {
		t.Errorf("Run with stderrToo = %q, %v; want stderr then stdout", out, err)
	}
	_, err = r.Run(cmd("sh", "-c", "echo 'Element not found.'; echo 'RTNETLINK answers: Network is unreachable' >&2; exit 2"))
	if err == nil || !strings.Contains(err.Error(), "Network is unreachable") || !strings.Contains(err.Error(), "Element not found.") ||
		!strings.HasPrefix(err.Error(), "platform: sh -c ") {
		t.Errorf("Run error = %v; want the command, its stderr and stdout", err)
	}
	if _, err := r.Run(Command{Args: []string{"sh", "-c", `read a b; [ "$a $b" = "remove X" ] && read q && [ "$q" = quit ]`}, Stdin: "remove X\nquit\n"}); err != nil {
		t.Errorf("Run with stdin: %v", err)
	}
	if _, err := r.Run(Command{Args: []string{"sh", "-c", "cat >/dev/null; echo 'No such key' >&2; exit 1"}, Stdin: "x\n"}); err == nil || !strings.Contains(err.Error(), "No such key") {
		t.Errorf("Run with stdin, error = %v", err)
	}
}

func TestExecRunnerError(t *testing.T) {
	_, err := ExecRunner{}.Run(cmd("sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2"))
	if err == nil {
		t.Fatal("want error")
	}
	want := "platform: sh -c echo 'RTNETLINK answers: File exists' >&2; exit 2: exit status 2: RTNETLINK answers: File exists"
	if err.Error() != want {
		t.Errorf("error:\n got  %q\n want %q", err, want)
	}
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 2 || ce.Output != "RTNETLINK answers: File exists" {
		t.Errorf("error %#v, want a *CommandError with exit code 2 and the output", err)
	}
	if _, err := (ExecRunner{}).Run(cmd("true")); err != nil {
		t.Errorf("true: %v", err)
	}
	_, err = ExecRunner{}.Run(cmd("/nonexistent/corridor-test-program"))
	if !errors.As(err, &ce) || ce.ExitCode != -1 {
		t.Errorf("missing program: %v, want a *CommandError with exit code -1", err)
	}
}

// TestExecRunnerCLocale: whatever the locale of the process, the commands
// run in the C locale, so that the words their failures are told by are
// English.
func TestExecRunnerCLocale(t *testing.T) {
	t.Setenv("LANG", "de_DE.UTF-8")
	t.Setenv("LC_ALL", "de_DE.UTF-8")
	t.Setenv("LC_MESSAGES", "de_DE.UTF-8")
	t.Setenv("LANGUAGE", "de_DE:de")
	out, err := ExecRunner{}.Run(cmd("sh", "-c", `echo "LC_ALL=$LC_ALL LANG=$LANG LC_MESSAGES=${LC_MESSAGES-unset} LANGUAGE=${LANGUAGE-unset}"`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "LC_ALL=C LANG=C LC_MESSAGES=unset LANGUAGE=unset"; got != want {
		t.Errorf("the command saw %q, want %q", got, want)
	}
}
