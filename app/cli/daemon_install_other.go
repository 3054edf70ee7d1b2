//go:build !darwin && !windows

package cli

import (
	"fmt"
	"runtime"
)

// daemonService: there is no launchd here; say what to use instead.
func daemonService(sub, _ string, env Env) int {
	fmt.Fprint(env.Stderr, unsupportedDaemonService(runtime.GOOS, sub))
	return ExitUsage
}
