//go:build !windows

package daemon

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivateDir: dir is a directory of this user that no one else may
// enter or write (another user's socket placed there first would be
// trusted with the secrets of an Up).
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("daemon: socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("daemon: %s is not a directory", dir)
	case !ok || st.Uid != uint32(os.Getuid()):
		return fmt.Errorf("daemon: the socket directory %s belongs to another user", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("daemon: the socket directory %s is open to other users (mode %v); it must be 0700", dir, fi.Mode().Perm())
	}
	return nil
}
