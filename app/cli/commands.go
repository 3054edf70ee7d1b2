package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// command is one entry of the command table: what corridor --help lists,
// what the shell completions offer, and what the tests walk.
type command struct {
	name string
	run  func(args []string, env Env) int
	subs []string // subcommands (profile add, ...), offered by completion
	// nameArg: the first argument is a profile name (completion offers
	// the saved ones).
	nameArg bool
}

// commands lists every command of corridor. Main's dispatch, the shell
// completions and the --help tests use it, so they cannot disagree.
var commands []command

func init() {
	commands = []command{
		{name: "connect", run: connect},
		{name: "probe", run: probeCmd},
		{name: "profile", run: profileCmd, subs: profileSubs},
		{name: "up", run: upCmd, nameArg: true},
		{name: "down", run: downCmd, nameArg: true},
		{name: "status", run: statusCmd},
		{name: "watch", run: watchCmd},
		{name: "daemon", run: daemonHelpFirst},
		{name: "completion", run: completionCmd, subs: completionShells},
		{name: "version", run: versionCmd},
		{name: "help", run: helpCmd},
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// helpArg says whether args ask for help: -h, -help or --help before a
// "--".
func helpArg(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// daemonHelpFirst runs corridor daemon, or its install and uninstall
// subcommands (macOS); asked for help, it shows the
// daemon's flags on standard output and exits 0 (daemonCmd itself treats
// -h as a usage error on stderr).
func daemonHelpFirst(args []string, env Env) int {
	if len(args) > 0 && (args[0] == "install" || args[0] == "uninstall") {
		return daemonServiceCmd(args[0], args[1:], env) // daemon_install.go
	}
	if helpArg(args) {
		daemonCmd([]string{"-h"}, Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Signals: env.Signals})
		fmt.Fprint(env.Stdout, daemonServiceHelp)
		return ExitOK
	}
	return daemonRun(args, env) // daemonCmd; on Windows daemon_service_windows.go
}

// helpCmd: corridor help [COMMAND [SUB]].
func helpCmd(args []string, env Env) int {
	if len(args) == 0 || helpArg(args[:1]) {
		usage(env.Stdout)
		return ExitOK
	}
	if lookup(args[0]) == nil || args[0] == "help" {
		fmt.Fprintf(env.Stderr, "corridor help: unknown command %q\n", args[0])
		usage(env.Stderr)
		return ExitUsage
	}
	return Run(append(append([]string(nil), args...), "--help"), env)
}

// newFlagSet is a command's flag set: errors are returned, not fatal, and
// -h prints header and the flags (see parseFlags for where).
func newFlagSet(name, header string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), header)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args with fs. Asked for help (-h, --help), it prints
// the usage on standard output and returns ExitOK; on a bad flag, the
// error and the usage go to standard error with ExitUsage. ok is true
// when the command should go on.
func parseFlags(fs *flag.FlagSet, args []string, env Env) (code int, ok bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(env.Stderr)
	switch {
	case err == nil:
		return ExitOK, true
	case errors.Is(err, flag.ErrHelp):
		io.Copy(env.Stdout, &buf)
		return ExitOK, false
	default:
		io.Copy(env.Stderr, &buf)
		return ExitUsage, false
	}
}

// usageError reports a bad command line on standard error: ExitUsage.
func usageError(env Env, cmd, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "corridor %s: %s\n", cmd, fmt.Sprintf(format, a...))
	fmt.Fprintf(env.Stderr, "run \"corridor %s --help\" for usage\n", cmd)
	return ExitUsage
}
