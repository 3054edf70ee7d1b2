package platform

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// CmdRunner is the Runner the Router needs: besides running a command it
// reads one's output (finding the original route to the VPN server) and feeds
// one a script on stdin (macOS scutil). Tests substitute a recorder.
type CmdRunner interface {
	Runner
	// Output runs name with args and returns what it wrote to stdout. A
	// failure's error names the command and carries its stderr.
	Output(name string, args ...string) ([]byte, error)
	// RunInput runs name with args, feeding it stdin.
	RunInput(stdin string, name string, args ...string) error
}

// ExecRunner is the Runner that executes commands. A failure's error names
// the command and carries what it wrote to stderr, so a user sees why.
type ExecRunner struct{}

var _ CmdRunner = ExecRunner{}

// Run executes name with args and waits for it.
func (ExecRunner) Run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("platform: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Output executes name with args and returns its standard output.
func (ExecRunner) Output(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		// Some tools (netsh) report failures on stdout: keep both.
		msg := strings.TrimSpace(errOut.String() + "\n" + out.String())
		return out.Bytes(), fmt.Errorf("platform: %s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), nil
}

// RunInput executes name with args, writing stdin to its standard input.
func (ExecRunner) RunInput(stdin string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("platform: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
