package platform

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Command is one OS command: the program and its arguments, and an optional
// script for its standard input (macOS scutil reads one). It is also the
// shape of an undo action in the journal.
type Command struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin,omitempty"`
	// stderrToo makes Run return what the command wrote to its standard
	// error, then its standard output: pfctl -E prints its token on
	// stderr. Never journaled (no undo needs it).
	stderrToo bool
}

func cmd(args ...string) Command { return Command{Args: args} }

// String is the command line, for logs and errors (the stdin script is left
// out).
func (c Command) String() string { return strings.Join(c.Args, " ") }

// Runner runs OS commands: everything the TUN and the Router do to the
// system around the device goes through one, so that tests can substitute a
// recorder and assert the exact commands (the approach of tailscale's
// osrouter commandRunner).
type Runner interface {
	// Run runs c, waits for it and returns what it wrote to its standard
	// output. A command that ran and failed returns a *CommandError, which
	// says which command failed and why (its exit code and what it
	// printed).
	Run(c Command) (stdout []byte, err error)
}

// CommandError is a command that failed.
type CommandError struct {
	Args []string
	// ExitCode is the command's exit status, or -1 when it did not start
	// or was killed by a signal.
	ExitCode int
	// Output is what it wrote to stderr and then stdout (some tools, such
	// as netsh, report failures on stdout), trimmed.
	Output string
	// Err is the cause (an *exec.ExitError for a command that ran).
	Err error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("platform: %s: %v: %s", strings.Join(e.Args, " "), e.Err, e.Output)
}

func (e *CommandError) Unwrap() error { return e.Err }

// program is the base name of the command's program, without ".exe".
func (e *CommandError) program() string {
	if len(e.Args) == 0 {
		return ""
	}
	p := e.Args[0]
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return strings.TrimSuffix(strings.ToLower(p), ".exe")
}

// ExecRunner is the Runner that executes commands.
//
// Every command runs with LC_ALL=C and LANG=C (and without LANGUAGE): a
// failure is told apart by its exit code where the tool has distinct ones,
// and otherwise by the words of strerror(3), which only the C locale fixes
// (the approach of tailscale's osrouter runner). Windows tools ignore these
// variables and answer in the language of the system; see isExists.
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run executes c and waits for it.
func (ExecRunner) Run(c Command) ([]byte, error) {
	if len(c.Args) == 0 {
		return nil, errors.New("platform: empty command")
	}
	ec := exec.Command(c.Args[0], c.Args[1:]...)
	ec.Env = commandEnv(os.Environ())
	if c.Stdin != "" {
		ec.Stdin = strings.NewReader(c.Stdin)
	}
	var out, errOut bytes.Buffer
	ec.Stdout = &out
	ec.Stderr = &errOut
	if err := ec.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return out.Bytes(), &CommandError{
			Args:     c.Args,
			ExitCode: code,
			Output:   strings.TrimSpace(errOut.String() + "\n" + out.String()),
			Err:      err,
		}
	}
	if c.stderrToo {
		return append(errOut.Bytes(), out.Bytes()...), nil
	}
	return out.Bytes(), nil
}

// commandEnv is environ with the locale forced to C.
func commandEnv(environ []string) []string {
	env := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// Failures are classified per tool. iproute2 exits with 2 when the kernel
// refused a request (RTNETLINK) and with 1 for its own errors ("Cannot find
// device"); which refusal it was is only in strerror's words, English under
// LC_ALL=C. The other tools have no distinct exit codes for these cases.
var (
	existsWords = map[string][]string{
		"ip":    {"File exists"},           // EEXIST, exit 2
		"route": {"File exists"},           // macOS: EEXIST from the routing socket
		"netsh": {"object already exists"}, // English Windows only
	}
	goneWords = map[string][]string{
		"ip":         {"No such process", "No such device"}, // ESRCH, ENODEV, exit 2
		"resolvectl": {"No such device", "not found", "not known", "No such file"},
		"route":      {"not in table"},
		"nft":        {"No such file or directory"}, // a table that is gone
		"scutil":     {"No such key"},
		"pfctl":      {"does not exist"}, // an anchor that is gone (unverified wording)
		"netsh":      {"Element not found", "cannot find the file specified"},
		"powershell": {"cannot find the file specified", "not found"},
		"reg":        {"unable to find the specified registry key", "Unable to find the specified registry key", "cannot find the file specified"}, // an NRPT rule that is gone (nrpt.go); Windows, Wine, winNetRunner
	}
)

// failed returns the CommandError of a command that ran and exited with
// a failure status, and its program.
func failed(err error) (*CommandError, string) {
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode <= 0 {
		return nil, ""
	}
	return ce, ce.program()
}

func saysAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// isExists reports whether an add failed because the thing already exists
// (a route someone else added).
//
// netsh answers in the system's language, which no variable changes: on a
// Windows that is not in English an existing route is not recognised and
// the change fails.
func isExists(err error) bool {
	ce, prog := failed(err)
	if ce == nil || prog == "ip" && ce.ExitCode != 2 {
		return false
	}
	return saysAny(ce.Output, existsWords[prog])
}

// isGone reports whether a removal failed because what it removes no
// longer exists: the kernel drops a device's routes with the device, and
// resolved forgets a link that went away.
func isGone(err error) bool {
	ce, prog := failed(err)
	if ce == nil {
		return false
	}
	if isNoIPv6(err) {
		// No IPv6 in the kernel: no IPv6 route either.
		return true
	}
	if prog == "pfctl" && len(ce.Args) > 1 && ce.Args[1] == "-X" {
		// A pf reference that cannot be released (released already, or
		// pf restarted) holds no block: the anchor's flush lifted it.
		// Failing here would keep the journal, and Recover, failing.
		return true
	}
	if prog == "ipconfig" {
		// ipconfig /flushdns after an NRPT rule went (nrpt.go): a cache
		// that cannot be flushed (the DNS Client stopped) holds nothing
		// to undo, and the rule is gone either way.
		return true
	}
	if prog == "ip" && ce.ExitCode != 2 {
		// ip's own errors: only a missing device means gone.
		return ce.ExitCode == 1 && strings.HasPrefix(ce.Output, "Cannot find device")
	}
	return saysAny(ce.Output, goneWords[prog])
}

// noIPv6Words is strerror(EAFNOSUPPORT), what "ip -6" says on a kernel
// booted with ipv6.disable=1.
const noIPv6Words = "Address family not supported"

// noIPv6WinWords is what winNetRunner says when the interface of an IPv6
// route has no IPv6 (winNoIPv6Error).
const noIPv6WinWords = "IPv6 is not enabled on the interface"

// isNoIPv6 reports whether an "ip -6" command failed because the kernel
// has no IPv6, or a "netsh interface ipv6" one run by winNetRunner because
// the interface has none.
func isNoIPv6(err error) bool {
	ce, prog := failed(err)
	if ce == nil {
		return false
	}
	switch prog {
	case "ip":
		return slices.Contains(ce.Args, "-6") && strings.Contains(ce.Output, noIPv6Words)
	case "netsh":
		return len(ce.Args) > 2 && ce.Args[2] == "ipv6" && strings.Contains(ce.Output, noIPv6WinWords)
	}
	return false
}
