package cli

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"

	"github.com/corridorvpn/corridor/core/daemon"
	"github.com/corridorvpn/corridor/platform"
)

// The side effects of corridor daemon install|uninstall on macOS. Compiled
// (GOOS=darwin) but never run: no Mac was at hand. The steps themselves
// are daemon_install.go's, tested on Linux with a fake host.

// macHost is the real launchdHost.
func macHost() launchdHost {
	return launchdHost{
		runner: platform.ExecRunner{},
		euid:   os.Geteuid,
		executable: func() (string, error) {
			exe, err := os.Executable()
			if err != nil {
				return "", err
			}
			return filepath.EvalSymlinks(exe)
		},
		owner: func(path string) (uint32, fs.FileMode, error) {
			fi, err := os.Lstat(path)
			if err != nil {
				return 0, 0, err
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return 0, 0, errors.New("no owner in the file's status")
			}
			return st.Uid, fi.Mode(), nil
		},
		groupExists: func(name string) bool {
			// Directory Services through libc, with or without cgo.
			_, err := user.LookupGroup(name)
			return err == nil
		},
		mkdirAll: func(path string, perm fs.FileMode) error {
			if err := os.MkdirAll(path, perm); err != nil {
				return err
			}
			if err := os.Chmod(path, perm); err != nil { // not narrowed by the umask
				return err
			}
			return os.Chown(path, 0, 0) // root:wheel
		},
		writeFile: func(path string, data []byte, perm fs.FileMode) error {
			if err := platform.WriteFileAtomic(path, data, perm); err != nil {
				return err
			}
			return os.Chown(path, 0, 0) // root:wheel; launchd ignores a plist writable by others
		},
		remove: os.Remove,
	}
}

func daemonService(sub, group string, env Env) int {
	var err error
	if sub == "install" {
		err = launchdInstall(macHost(), daemon.DefaultSocket, group, env.Stdout)
	} else {
		err = launchdUninstall(macHost(), env.Stdout)
	}
	if err != nil {
		return fail(env.Stderr, err)
	}
	return ExitOK
}
