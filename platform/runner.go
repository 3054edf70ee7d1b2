package platform

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// ExecRunner is the Runner that executes commands. A failure's error names
// the command and carries what it wrote to stderr, so a user sees why.
type ExecRunner struct{}

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
