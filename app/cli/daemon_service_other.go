//go:build !windows

package cli

// daemonRun is corridor daemon: daemonCmd (manage.go) everywhere but on
// Windows, where daemon_service_windows.go serves the named pipe and
// runs under the service control manager.
func daemonRun(args []string, env Env) int { return daemonCmd(args, env) }
